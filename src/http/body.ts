/**
 * Reading requests at the edge: content type, JSON syntax and zod schema, each refused with its
 * own typed error (415, 400) before a handler sees the data. Body size is bounded by the
 * bodyLimit middleware in app.ts (413).
 */
import type { Context } from "hono";
import type { z } from "@hono/zod-openapi";
import { SluiceError } from "../errors.ts";

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function invalid(what: string, error: z.ZodError): SluiceError {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? issue.path.join(".") : what;
  return new SluiceError("INVALID_REQUEST", `${path}: ${issue.message}`);
}

/** Parses a JSON body against `schema`. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new SluiceError(
      "UNSUPPORTED_MEDIA_TYPE",
      `this route takes Content-Type application/json, not ${JSON.stringify(type)}`,
    );
  }
  let text: string;
  try {
    // fatal: a body that is not UTF-8 is refused, never silently turned into U+FFFD.
    text = utf8Strict.decode(await c.req.arrayBuffer());
  } catch {
    throw new SluiceError("INVALID_REQUEST", "the JSON body is not valid UTF-8");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SluiceError("INVALID_REQUEST", `malformed JSON body: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid("body", parsed.error);
  return parsed.data;
}

/** Parses the query string against `schema`. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalid("query", parsed.error);
  return parsed.data;
}

/** Parses path parameters against `schema`. */
export function readParams<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.param());
  if (!parsed.success) throw invalid("path", parsed.error);
  return parsed.data;
}
