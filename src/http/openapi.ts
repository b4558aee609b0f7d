/**
 * Small builders for the OpenAPI descriptions the routes give. Each route module describes its
 * paths in a `describe…Routes(registry, schemas)` function that openapi_document.ts calls when the
 * document is first asked for (/openapi.json, /docs), not at start-up: see schema_loader.ts.
 */
import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { SchemaModule } from "./schema_loader.ts";

/** Where a route module registers its paths' descriptions. */
export type OpenApiRegistry = OpenAPIHono["openAPIRegistry"];

export function jsonResponse(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** Every route may answer with API.md's error shape. */
export function errorResponses(s: SchemaModule) {
  return { default: jsonResponse(s.ErrorResponse, "an error: {error: {code, message}}") };
}
