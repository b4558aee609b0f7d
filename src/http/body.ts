/**
 * Reading requests at the edge: content type, JSON syntax and zod schema, each refused with its
 * own typed error (415, 400) before a handler sees the data. Body size is bounded by the
 * bodyLimit middleware in app.ts (413). Also the other way: a response body that holds its bytes
 * in the fetch response budget until the client has taken them ({@link leasedBody}).
 */
import type { Context } from "hono";
import type { z } from "@hono/zod-openapi";
import type { ByteLease } from "../byte_budget.ts";
import { SluiceError } from "../errors.ts";

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function invalid(what: string, error: z.ZodError): SluiceError {
  // An unknown field first: a typo ("vlaue") also leaves the field it meant missing.
  const issue = error.issues.find((i) => i.code === "unrecognized_keys") ?? error.issues[0];
  const path = issue.path.length > 0 ? issue.path.join(".") : what;
  const message = issue.code === "invalid_type" && issue.expected === "nonoptional"
    ? "required"
    : issue.code === "unrecognized_keys"
    ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${
      issue.keys.map((k) => JSON.stringify(k)).join(", ")
    }`
    : issue.message;
  return new SluiceError("INVALID_REQUEST", `${path}: ${message}`);
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

/** A leased body is handed to the server in chunks of this size (the server pulls each in turn). */
const BODY_CHUNK_BYTES = 256 * 1024;
/**
 * The last bytes of a leased body go out as a copy, in small chunks. When the lease is given back
 * (the server pulled past the end) the server may still hold its last chunk or two unwritten
 * (measured on Deno: ~100 KiB plus a chunk), and a chunk that is a view of the body would keep the
 * whole body's buffer alive outside the budget; a copy keeps that to these bytes.
 */
const BODY_TAIL_BYTES = 256 * 1024;
const BODY_TAIL_CHUNK_BYTES = 64 * 1024;

/**
 * A response body of `bytes` that holds `lease` until the client has taken it. Deno and Bun pull
 * a stream body one chunk at a time as the socket drains, so the pull after the last chunk gives
 * the lease back; a client that goes away cancels the stream, which gives it back too. A client
 * that never reads holds its lease (in the shared budget) until its connection closes.
 */
export function leasedBody(bytes: Uint8Array, lease: ByteLease): ReadableStream<Uint8Array> {
  const tailAt = bytes.length > BODY_TAIL_BYTES ? bytes.length - BODY_TAIL_BYTES : 0;
  let tail: Uint8Array | undefined;
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        lease.releaseAll();
        controller.close();
        return;
      }
      if (at < tailAt) {
        const end = Math.min(at + BODY_CHUNK_BYTES, tailAt);
        controller.enqueue(bytes.subarray(at, end));
        at = end;
        return;
      }
      tail ??= tailAt === 0 ? bytes : bytes.slice(tailAt);
      const from = at - tailAt;
      const end = Math.min(from + BODY_TAIL_CHUNK_BYTES, tail.length);
      controller.enqueue(tail.subarray(from, end));
      at = tailAt + end;
    },
    cancel() {
      lease.releaseAll();
    },
  }, { highWaterMark: 0 });
}
