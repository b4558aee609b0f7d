/**
 * Reading requests at the edge: content type, JSON syntax and zod schema, each refused with its
 * own typed error (415, 400) before a handler sees the data. Body size is bounded by the
 * bodyLimit middleware in app.ts (413). Also the other way: a response body that holds its bytes
 * in the fetch response budget until the client has taken them ({@link leasedBody}).
 */
import type { Context } from "hono";
import type { z } from "@hono/zod-openapi";
import type { FetchBudget } from "../broker/fetch_reader.ts";
import type { ByteLease } from "../byte_budget.ts";
import { SluiceError } from "../errors.ts";
import { runtimeName } from "../runtime/serve.ts";

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

const EMPTY = new Uint8Array(0);
const ON_BUN = runtimeName() === "bun";

function tooLarge(maxBytes: number): SluiceError {
  return new SluiceError("REQUEST_TOO_LARGE", `request bodies are limited to ${maxBytes} bytes`);
}

/**
 * The request's body as one Uint8Array of its own, at most `maxBytes` (413 REQUEST_TOO_LARGE past
 * it: from Content-Length before anything is read, else as soon as the bytes read pass it).
 *
 * No chunk list and no concatenated copy. A body with Content-Length that the runtime streams
 * from its socket (a byte stream: Deno's) is read straight into one buffer sized from it (plus a
 * little room to see the end): the runtime writes each chunk there, nothing is copied in
 * JavaScript (Deno's `Request.arrayBuffer()` reads a growing buffer of its own, a fresh one per
 * request). On Bun, a body with Content-Length is its native arrayBuffer(): one buffer. A body
 * handed over in chunks (without Content-Length) is returned as it is when it is one chunk, else
 * copied once into one buffer (doubling, bounded by `maxBytes`). A body some middleware already
 * read (auth peeks at some) comes from Hono's cache.
 *
 * With `buffers`, the buffer a byte stream is read into is taken from them: give the body back
 * (`buffers.give`) once nothing uses its bytes any more, and it serves a later request.
 */
export async function readBody(
  c: Context,
  maxBytes: number,
  buffers?: BodyBuffers,
): Promise<Uint8Array> {
  const raw = c.req.raw;
  const declared = contentLength(raw.headers);
  if (declared !== undefined && declared > maxBytes) throw tooLarge(maxBytes);
  if (raw.bodyUsed) return new Uint8Array(await c.req.arrayBuffer());
  // Bun reads a body of known length natively into one buffer; its stream would be one chunk
  // too, but a stream and a reader cost more there than that one call.
  if (declared !== undefined && ON_BUN) return new Uint8Array(await raw.arrayBuffer());
  const stream = raw.body;
  if (stream === null) return EMPTY;
  let byob: ReadableStreamBYOBReader | undefined;
  if (declared !== undefined) {
    try {
      byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: read its chunks.
    }
  }
  const reading = byob !== undefined
    ? readInto(byob, declared!, maxBytes, buffers)
    : readChunks(stream.getReader(), declared, maxBytes);
  return await reading;
}

/**
 * Room left past Content-Length in a body's buffer, so the read that finds the body's end has
 * room to read into (Deno 2.9 leaves a BYOB read of one byte pending while bytes remain).
 */
const BODY_END_ROOM_BYTES = 16;
/** New body buffers are a multiple of this, so bodies of about one size share buffers. */
const BODY_BUFFER_GRAIN_BYTES = 64 * 1024;

/**
 * Body buffers kept for reuse: at most `buffersMax` free ones, each of at most `bufferBytesMax`
 * (HTTP_BODY_BUFFERS_POOLED_MAX, HTTP_BODY_BUFFER_POOLED_BYTES_MAX). Only the buffers readBody
 * read a body into are taken back, once (a WeakSet of those lent), so a buffer some other code
 * may still hold is never reused.
 */
export class BodyBuffers {
  readonly #free: ArrayBuffer[] = [];
  readonly #lent = new WeakSet<ArrayBuffer>();

  constructor(readonly buffersMax: number, readonly bufferBytesMax: number) {}

  /** Free buffers held. */
  get size(): number {
    return this.#free.length;
  }

  /** A buffer of at least `bytes` bytes: a free one, else a new one. */
  take(bytes: number): ArrayBuffer {
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      const buffer = free[i];
      if (buffer.byteLength < bytes) continue;
      free[i] = free[free.length - 1];
      free.pop();
      return buffer;
    }
    const grains = Math.ceil(bytes / BODY_BUFFER_GRAIN_BYTES) * BODY_BUFFER_GRAIN_BYTES;
    return new ArrayBuffer(grains <= this.bufferBytesMax ? grains : bytes);
  }

  /** Marks the buffer `body` views as lent by readBody. */
  lend(body: Uint8Array): void {
    this.#lent.add(body.buffer as ArrayBuffer);
  }

  /** Takes back the buffer of a body readBody returned; anything else is left alone. */
  give(body: Uint8Array): void {
    const buffer = body.buffer as ArrayBuffer;
    if (!this.#lent.delete(buffer)) return;
    if (this.#free.length < this.buffersMax && buffer.byteLength <= this.bufferBytesMax) {
      this.#free.push(buffer);
    }
  }
}

/** Reads a body of `declared` bytes (Content-Length, at most maxBytes) into one buffer. */
async function readInto(
  reader: ReadableStreamBYOBReader,
  declared: number,
  maxBytes: number,
  buffers: BodyBuffers | undefined,
): Promise<Uint8Array> {
  const limit = declared + BODY_END_ROOM_BYTES;
  let buffer = buffers !== undefined ? buffers.take(limit) : new ArrayBuffer(limit);
  let size = 0;
  try {
    for (;;) {
      if (size > declared) {
        // The runtime's HTTP server keeps to Content-Length; this is a defence.
        throw size > maxBytes ? tooLarge(maxBytes) : new SluiceError(
          "INVALID_REQUEST",
          `the body is longer than its Content-Length ${declared}`,
        );
      }
      // The read transfers `buffer` to the stream and gives it back as value's buffer.
      const { done, value } = await reader.read(new Uint8Array(buffer, size, limit - size));
      if (value === undefined) throw new SluiceError("INVALID_REQUEST", "the body was cut off");
      buffer = value.buffer as ArrayBuffer;
      size += value.byteLength;
      if (done) break;
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
  // Not releaseLock(): the stream is closed, and a release makes a TypeError (a stack trace).
  const body = new Uint8Array(buffer, 0, size);
  buffers?.lend(body);
  return body;
}

async function readChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  declared: number | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  try {
    const first = await reader.read();
    if (first.done) return EMPTY;
    let bytes: Uint8Array = first.value;
    let size = bytes.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      const chunk = next.value;
      const want = size + chunk.length;
      if (want > maxBytes) throw tooLarge(maxBytes);
      if (want > bytes.length || bytes === first.value) {
        // The first chunk was not the whole body: from here on, one buffer of our own.
        const grown = new Uint8Array(
          declared !== undefined && declared >= want
            ? declared
            : Math.min(maxBytes, Math.max(want, bytes.length * 2)),
        );
        grown.set(bytes.subarray(0, size));
        bytes = grown;
      }
      bytes.set(chunk, size);
      size = want;
    }
    return size === bytes.length ? bytes : bytes.subarray(0, size);
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
}

/** Content-Length as a number, or undefined when absent, malformed or with Transfer-Encoding. */
function contentLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  if (value === null || headers.has("transfer-encoding")) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
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
  // Held from here until the client has taken it: the buffer the body keeps alive (a JSON body is
  // larger than the batches the fetch reserved for).
  const held = bytes.buffer.byteLength;
  if (held > lease.held) lease.force(held - lease.held);
  else lease.release(lease.held - held);
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

/**
 * The lease as the broker's fetch budget: each reserve gives back what the lease held and takes up
 * to `want` (0 before a wait: nothing is held while waiting). Granted nothing, the fetch still
 * reads its first batch (forced later) while the budget may be overdrawn, and is refused with 429
 * past that cap.
 */
export function leaseBudget(lease: ByteLease): FetchBudget {
  return {
    reserve(want: number): number {
      lease.releaseAll();
      if (want <= 0) return 0;
      const granted = lease.takeUpTo(want);
      if (granted > 0 || lease.budget.mayOverdraw) return granted;
      throw new SluiceError(
        "TOO_MANY_REQUESTS",
        "fetch responses not yet taken by their clients fill the server's response budget; retry",
      );
    },
    mayOverdraw: () => lease.budget.mayOverdraw,
  };
}
