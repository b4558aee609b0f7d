/** Small builders for the OpenAPI descriptions the routes register. */
import type { z } from "@hono/zod-openapi";
import { ErrorResponse } from "./schemas.ts";

export function jsonResponse(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** Every route may answer with API.md's error shape. */
export const errorResponses = {
  default: jsonResponse(ErrorResponse, "an error: {error: {code, message}}"),
};
