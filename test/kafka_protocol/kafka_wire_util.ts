/**
 * Shared by the Kafka protocol tests: the versions of a table, request frames built by our tables
 * and by kafkajs's own encoder (to compare byte for byte), kafkajs's response decoders run on our
 * bytes, and one request/response round trip over a socket. Not a test file itself.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SizePrefixedFrames } from "../../scripts/size_prefixed_frames.ts";
import kafkajsRequest from "kafkajs/src/protocol/request.js";
import {
  decode,
  encode,
  inRange,
  KafkaCodecError,
  type MessageSchema,
  normalize,
  type Struct,
} from "../../src/kafka_protocol/codec.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  RESPONSE_HEADER,
  responseHeaderVersion,
} from "../../src/kafka_protocol/messages/request_header.ts";

/** The correlation id and client id both frame builders use, so their bytes can match. */
export const CORRELATION_ID = 1234;
export const CLIENT_ID = "kafkajs-peer";

/** Every version `schema` describes. */
export function versionsOf(schema: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = 0; v < 100; v++) if (inRange(schema.validVersions, v)) out.push(v);
  return out;
}

/**
 * `value` at `version` encodes, decodes to itself (normalized: fields the version lacks at their
 * defaults), encodes again to the same bytes, and every proper prefix of the bytes is a
 * KafkaCodecError.
 */
export function assertRoundTrip(schema: MessageSchema, version: number, value: Struct): void {
  const bytes = encode(schema, version, value);
  const decoded = decode(schema, version, bytes);
  assert.deepEqual(decoded, normalize(schema, version, value));
  assert.deepEqual(encode(schema, version, decoded), bytes);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(
      () => decode(schema, version, bytes.subarray(0, n)),
      (err: unknown) => err instanceof KafkaCodecError,
      `a ${n}-byte prefix of ${bytes.length}`,
    );
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A size-prefixed request frame as a broker receives it: int32 size, header, body. */
export function ourRequestFrame(
  body: MessageSchema,
  apiVersion: number,
  value: Struct,
  clientId = CLIENT_ID,
  correlationId = CORRELATION_ID,
): Uint8Array {
  const header = encode(REQUEST_HEADER, requestHeaderVersion(body, apiVersion), {
    requestApiKey: body.apiKey!,
    requestApiVersion: apiVersion,
    correlationId,
    clientId,
  });
  const payload = concat(header, encode(body, apiVersion, value));
  const size = new Uint8Array(4);
  new DataView(size.buffer).setInt32(0, payload.length);
  return concat(size, payload);
}

/** The same frame as kafkajs's own encoder writes it for one of its request objects. */
export async function kafkajsFrame(request: unknown, clientId = CLIENT_ID): Promise<Uint8Array> {
  // deno-lint-ignore no-explicit-any
  const encoder = await (kafkajsRequest as any)({
    correlationId: CORRELATION_ID,
    clientId,
    request,
  });
  return new Uint8Array(encoder.buffer);
}

// deno-lint-ignore no-explicit-any
type KafkajsResponseModule = { decode(raw: Buffer): Promise<any>; parse(data: any): Promise<any> };

/** Decodes our bytes with kafkajs's decoder only (its parse throws on error codes). */
// deno-lint-ignore no-explicit-any
export async function kafkajsDecode(module: unknown, bytes: Uint8Array): Promise<any> {
  return await (module as KafkajsResponseModule).decode(Buffer.from(bytes));
}

/** Decodes our bytes with kafkajs's decoder and parser. */
// deno-lint-ignore no-explicit-any
export async function kafkajsRead(module: unknown, bytes: Uint8Array): Promise<any> {
  const m = module as KafkajsResponseModule;
  return await m.parse(await m.decode(Buffer.from(bytes)));
}

/** A response frame without its size prefix: the correlation id and the decoded body. */
export function parseResponse(
  frame: Uint8Array,
  response: MessageSchema,
  version: number,
): { correlationId: number; body: Struct } {
  const hv = responseHeaderVersion(response, version);
  const headerBytes = hv === 0 ? 4 : 5; // v1 adds an empty tagged-field section
  const header = decode(RESPONSE_HEADER, hv, frame.subarray(0, headerBytes));
  return {
    correlationId: header.correlationId as number,
    body: decode(response, version, frame.subarray(headerBytes)),
  };
}

/** One request on a fresh connection to 127.0.0.1:`port`, framed and read back with our tables. */
export async function callOnce(
  port: number,
  request: MessageSchema,
  response: MessageSchema,
  version: number,
  body: Struct,
  clientId = CLIENT_ID,
): Promise<Struct> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const frame = ourRequestFrame(request, version, body, clientId);
    let at = 0;
    while (at < frame.length) at += await conn.write(frame.subarray(at));
    const frames = new SizePrefixedFrames();
    for (;;) {
      const frame = frames.take();
      if (frame !== undefined) {
        const answer = parseResponse(frame, response, version);
        assert.equal(answer.correlationId, CORRELATION_ID);
        return answer.body;
      }
      const chunk = new Uint8Array(65536);
      const n = await conn.read(chunk);
      assert.ok(n !== null, `${request.name} v${version}: connection closed`);
      frames.push(chunk.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/** A raw Kafka client on one socket: sends frames, reads size-prefixed responses in order. */
export class RawClient {
  readonly #frames = new SizePrefixedFrames();
  #correlation = 0;
  /** Set while a readFrame runs: two readers on one socket would split each other's frames. */
  #reading = false;
  private constructor(readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  frame(schema: MessageSchema, version: number, body: Struct, correlationId?: number): Uint8Array {
    return ourRequestFrame(
      schema,
      version,
      body,
      CLIENT_ID,
      correlationId ?? ++this.#correlation,
    );
  }

  async send(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** The next response frame, or null when the server closed the connection. */
  async readFrame(): Promise<Uint8Array | null> {
    if (this.#reading) throw new Error("RawClient: one reader at a time (use one client per task)");
    this.#reading = true;
    try {
      return await this.#readFrame();
    } finally {
      this.#reading = false;
    }
  }

  async #readFrame(): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.#frames.take();
      if (frame !== undefined) return frame;
      const chunk = new Uint8Array(65536);
      const n = await this.conn.read(chunk);
      if (n === null) return null;
      this.#frames.push(chunk.subarray(0, n));
    }
  }

  /** Decodes a response frame: correlation id and body. */
  static parse = parseResponse;

  async call(
    request: MessageSchema,
    response: MessageSchema,
    version: number,
    body: Struct,
  ): Promise<Struct> {
    await this.send(this.frame(request, version, body));
    const frame = await this.readFrame();
    assert.ok(frame !== null, `${request.name} v${version}: connection closed`);
    return RawClient.parse(frame, response, version).body;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
