/**
 * A small Kafka protocol client on one TCP connection, for bench/compaction/kafka_cleaner.ts:
 * requests framed with our own message tables (src/kafka_protocol), answers read back in order.
 * `send` writes a request and returns its answer's promise at once, so callers may pipeline
 * (Kafka answers a connection's requests in the order they came). Not a general client: no
 * metadata, no retries, no TLS.
 */
import { SizePrefixedFrames } from "../../scripts/size_prefixed_frames.ts";
import { decode, encode, type MessageSchema, type Struct } from "../../src/kafka_protocol/codec.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  responseHeaderVersion,
} from "../../src/kafka_protocol/messages/request_header.ts";

/** Bytes asked of the socket per read. */
const READ_CHUNK_BYTES = 1 << 20;
const CLIENT_ID = "sluice-compaction-bench";

interface Pending {
  schema: MessageSchema;
  version: number;
  resolve: (body: Struct) => void;
  reject: (err: Error) => void;
}

export class KafkaWire {
  readonly #frames = new SizePrefixedFrames();
  #correlation = 0;
  #pending: Pending[] = [];
  #reading = false;
  #writes: Promise<void> = Promise.resolve();
  private constructor(readonly conn: Deno.TcpConn) {}

  static async connect(port: number, hostname = "127.0.0.1"): Promise<KafkaWire> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new KafkaWire(conn);
  }

  /** Sends one request; resolves with the decoded answer body (the response schema's). */
  send(
    request: MessageSchema,
    response: MessageSchema,
    version: number,
    body: Struct,
  ): Promise<Struct> {
    const header = encode(REQUEST_HEADER, requestHeaderVersion(request, version), {
      requestApiKey: request.apiKey!,
      requestApiVersion: version,
      correlationId: ++this.#correlation,
      clientId: CLIENT_ID,
    });
    const payload = encode(request, version, body);
    const frame = new Uint8Array(4 + header.length + payload.length);
    new DataView(frame.buffer).setInt32(0, header.length + payload.length);
    frame.set(header, 4);
    frame.set(payload, 4 + header.length);
    const answer = new Promise<Struct>((resolve, reject) => {
      this.#pending.push({ schema: response, version, resolve, reject });
    });
    this.#writes = this.#writes.then(async () => {
      for (let at = 0; at < frame.length;) at += await this.conn.write(frame.subarray(at));
    });
    this.#writes.catch((err) => this.#fail(err as Error));
    if (!this.#reading) this.#readLoop();
    return answer;
  }

  #fail(err: Error): void {
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  async #readLoop(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#pending.length > 0) {
        const frame = await this.#readFrame();
        const p = this.#pending.shift()!;
        const hv = responseHeaderVersion(p.schema, p.version);
        const headerBytes = hv === 0 ? 4 : 5; // v1 adds an empty tagged-field section
        p.resolve(decode(p.schema, p.version, frame.subarray(headerBytes)));
      }
    } catch (err) {
      this.#fail(err as Error);
    } finally {
      this.#reading = false;
    }
  }

  async #readFrame(): Promise<Uint8Array> {
    for (;;) {
      const frame = this.#frames.take();
      if (frame !== undefined) return frame;
      const chunk = new Uint8Array(READ_CHUNK_BYTES);
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("Kafka closed the connection");
      this.#frames.push(chunk.subarray(0, n));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed already */ }
  }
}
