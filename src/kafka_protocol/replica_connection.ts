/**
 * One follower's connection to one leader's Kafka listener, as a Kafka client: what
 * replica_client.ts sends its Fetch and OffsetForLeaderEpoch over. Kafka's own follower does the
 * same with a NetworkClient per fetcher thread (ReplicaFetcherBlockingSend): one connection, one
 * request at a time, a fresh connection after any failure.
 *
 * Setup, on the first call and after any failure, within REPLICA_CONNECT_TIMEOUT_MS:
 * - TCP connect (src/runtime/tcp_client.ts);
 * - ApiVersions v3 (KIP-511): the leader's version range per API, from which each call takes the
 *   highest version both sides know. A leader that has no v3 answers UNSUPPORTED_VERSION at v0
 *   with its own range, and is asked again at the highest version it has;
 * - with credentials, SASL/PLAIN: SaslHandshake v1 "PLAIN", then SaslAuthenticate with
 *   `NUL username NUL password` (RFC 4616). A refusal is UNAUTHENTICATED naming the broker.
 *
 * Framing (Kafka's protocol guide), both ways: int32 size, then the frame. A request frame is the
 * request header (v1, v2 for a flexible body: api key, api version, correlation id, client id)
 * and the body; a response frame is the response header (correlation id; v1 adds tagged fields)
 * and the body. A response is read straight into a buffer of its announced size (refused past
 * REPLICA_RESPONSE_BYTES_MAX) and decoded there: its `records` fields stay views of that buffer.
 * Correlation ids count up per connection; an answer with another id is a broken connection.
 *
 * One request in flight: a call waits in FIFO order (at most REPLICA_QUEUED_CALLS_MAX waiting)
 * for the one before it to end. A request has REPLICA_REQUEST_TIMEOUT_MS plus its own wait (a
 * Fetch's max_wait_ms) to be answered; a timeout, an abort, a reset or a bad answer closes the
 * connection (a late answer would be read as the next one's) and rejects CLUSTER_UNAVAILABLE with
 * the broker and a `reason` (connect, closed, timeout, aborted, bad_answer, unsupported_version,
 * client_closed); a refused login is UNAUTHENTICATED (reason sasl), a call past the queue's bound
 * TOO_MANY_REQUESTS (reason queue_full). A reused connection that turns out closed before any
 * byte of the answer (the leader restarted, or closed it as idle) is replaced and the request sent
 * once more: the requests sent here are reads, safe to repeat.
 */
import type { BrokerEndpoint } from "../cluster/replica_transport.ts";
import { SluiceError } from "../errors.ts";
import { REPLICA_QUEUED_CALLS_MAX } from "../limits.ts";
import {
  connectTcp,
  isConnectionRefused,
  type TcpClientConnection,
  type TlsClientOptions,
} from "../runtime/tcp_client.ts";
import { decode, decodePrefix, encode, inRange, type MessageSchema, type Struct } from "./codec.ts";
import { KafkaError, kafkaErrorName } from "./error_codes.ts";
import { API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE } from "./messages/api_versions.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  RESPONSE_HEADER,
  responseHeaderVersion,
} from "./messages/request_header.ts";
import {
  SASL_AUTHENTICATE_REQUEST,
  SASL_AUTHENTICATE_RESPONSE,
  SASL_HANDSHAKE_REQUEST,
  SASL_HANDSHAKE_RESPONSE,
} from "./messages/sasl.ts";

/** Why a whole request failed: the `reason` detail of its error. */
export type ReplicaFailureReason =
  | "connect"
  | "closed"
  | "timeout"
  | "aborted"
  | "bad_answer"
  | "unsupported_version"
  | "client_closed";

export interface ReplicaConnectionOptions {
  clientId: string;
  sasl: { username: string; password: string } | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  responseBytesMax: number;
  tls?: TlsClientOptions;
}

/** ApiVersions is asked at v3, the first with the client's software name (KIP-511). */
const API_VERSIONS_VERSION = 3;
const SOFTWARE_NAME = "sluice-replica";
const SOFTWARE_VERSION = "0.1.0";
/** Past any version Kafka has given an API. */
const VERSION_MAX = 100;
/** The smallest response frame: a correlation id. */
const RESPONSE_FRAME_MIN = 4;

const ourMax = new Map<MessageSchema, number>();

/** The highest version of `schema` this codec has. */
function ourMaxVersion(schema: MessageSchema): number {
  let max = ourMax.get(schema);
  if (max !== undefined) return max;
  max = -1;
  for (let v = 0; v <= VERSION_MAX; v++) if (inRange(schema.validVersions, v)) max = v;
  ourMax.set(schema, max);
  return max;
}

/** The connection was lost (EOF, reset, failed write); `answered`: a byte of the answer came. */
class ConnectionLost extends Error {
  constructor(readonly answered: boolean, options?: ErrorOptions) {
    super("connection lost", options);
  }
}

/** A setup step or a request was cut short by its timer, its signal or close(). */
class Interrupted extends Error {
  constructor(readonly reason: "timeout" | "aborted" | "client_closed") {
    super(reason);
  }
}

/** Fills `into` from `conn`; `progress` counts the bytes of one answer read so far. */
async function readFully(
  conn: TcpClientConnection,
  into: Uint8Array,
  progress: { bytes: number },
): Promise<void> {
  let at = 0;
  while (at < into.length) {
    let n: number | null;
    try {
      n = await conn.read(into.subarray(at));
    } catch (err) {
      throw new ConnectionLost(progress.bytes > 0, { cause: err });
    }
    if (n === null) throw new ConnectionLost(progress.bytes > 0);
    at += n;
    progress.bytes += n;
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class ReplicaConnection {
  readonly endpoint: BrokerEndpoint;
  readonly #options: ReplicaConnectionOptions;
  #conn: TcpClientConnection | undefined;
  /** The leader's [min, max] version per API key, from this connection's ApiVersions. */
  #versions = new Map<number, readonly [number, number]>();
  /** Answers read on this connection: a connection that answered before may have gone stale. */
  #answered = 0;
  #correlationId = 0;
  /** Set while a request (or setup) runs, to cut it short: its connection is closed at once. */
  #interrupt: ((reason: "timeout" | "aborted" | "client_closed") => void) | undefined;
  #busy = false;
  readonly #waiting: Waiter[] = [];
  #closed = false;
  readonly #sizePrefix = new Uint8Array(4);

  constructor(endpoint: BrokerEndpoint, options: ReplicaConnectionOptions) {
    this.endpoint = endpoint;
    this.#options = options;
  }

  /**
   * Sends one request and returns the decoded answer, at the highest version of `request` both
   * sides have (at least `minVersion`), after the calls queued before it. `waitMs` is how long
   * the leader may hold it (a Fetch's max_wait_ms), added to the request timeout.
   */
  async call(
    request: MessageSchema,
    response: MessageSchema,
    minVersion: number,
    body: Struct,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ version: number; body: Struct }> {
    await this.#acquire(signal);
    try {
      for (let attempt = 0;; attempt++) {
        const reused = this.#conn !== undefined && this.#answered > 0;
        try {
          const conn = this.#conn ?? await this.#open(signal);
          const version = this.#version(request, minVersion);
          const timeoutMs = this.#options.requestTimeoutMs + Math.max(0, waitMs);
          const answer = await this.#exchange(conn, request, version, body, timeoutMs, signal);
          return { version, body: this.#decode(answer, response, version) };
        } catch (err) {
          this.#drop();
          if (attempt === 0 && reused && err instanceof ConnectionLost && !err.answered) continue;
          throw this.#typed(err);
        }
      }
    } finally {
      this.#release();
    }
  }

  /** Closes the connection; the call in flight and every waiting one reject (client_closed). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#interrupt?.("client_closed");
    this.#drop();
    for (const w of this.#waiting.splice(0)) {
      w.signal?.removeEventListener("abort", w.onAbort);
      w.reject(this.#failure("client_closed", "the replica client is closed"));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Turns: one call at a time, FIFO.

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) {
      return Promise.reject(this.#failure("client_closed", "the replica client is closed"));
    }
    if (signal?.aborted) return Promise.reject(this.#failure("aborted", "aborted", signal.reason));
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    if (this.#waiting.length >= REPLICA_QUEUED_CALLS_MAX) {
      return Promise.reject(
        new SluiceError(
          "TOO_MANY_REQUESTS",
          `${this.#name()}: ${REPLICA_QUEUED_CALLS_MAX} calls already wait for this connection`,
          this.#details("queue_full"),
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiting.indexOf(waiter);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(
            this.#failure("aborted", "aborted while waiting for the connection", signal!.reason),
          );
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) {
      this.#busy = false;
      return;
    }
    next.signal?.removeEventListener("abort", next.onAbort);
    next.resolve();
  }

  // -------------------------------------------------------------------------------------------
  // Setup: connect, ApiVersions, SASL.

  async #open(signal: AbortSignal | undefined): Promise<TcpClientConnection> {
    const { host, port } = this.endpoint;
    const setupMs = this.#options.connectTimeoutMs;
    const deadline = performance.now() + setupMs;
    let conn: TcpClientConnection;
    const attempt = new AbortController();
    const timer = setTimeout(() => attempt.abort(new Interrupted("timeout")), setupMs);
    const onAbort = () => attempt.abort(new Interrupted("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#interrupt = (reason) => attempt.abort(new Interrupted(reason));
    try {
      conn = await connectTcp(host, port, attempt.signal, this.#options.tls);
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      const failure = this.#failure(
        "connect",
        `cannot connect: ${(err as Error)?.message ?? err}`,
        err,
        isConnectionRefused(err),
      );
      throw failure;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#interrupt = undefined;
    }
    if (this.#closed) {
      conn.close();
      throw new Interrupted("client_closed");
    }
    this.#conn = conn;
    this.#answered = 0;
    this.#correlationId = 0;
    const left = () => Math.max(1, deadline - performance.now());
    await this.#negotiate(conn, left(), signal);
    if (this.#options.sasl !== undefined) await this.#authenticate(conn, left(), signal);
    return conn;
  }

  async #negotiate(conn: TcpClientConnection, timeoutMs: number, signal?: AbortSignal) {
    const ask = async (version: number) => {
      const frame = await this.#exchange(
        conn,
        API_VERSIONS_REQUEST,
        version,
        {
          clientSoftwareName: SOFTWARE_NAME,
          clientSoftwareVersion: SOFTWARE_VERSION,
        },
        timeoutMs,
        signal,
      );
      // error_code leads the body in every version; UNSUPPORTED_VERSION is answered at v0.
      const at = responseHeaderVersion(API_VERSIONS_RESPONSE, version) === 0 ? 4 : 5;
      const errorCode = frame.length >= at + 2
        ? new DataView(frame.buffer, frame.byteOffset).getInt16(at)
        : -1;
      const bodyVersion = errorCode === KafkaError.UNSUPPORTED_VERSION ? 0 : version;
      return { errorCode, body: this.#decode(frame, API_VERSIONS_RESPONSE, bodyVersion) };
    };
    let answer = await ask(API_VERSIONS_VERSION);
    if (answer.errorCode === KafkaError.UNSUPPORTED_VERSION) {
      const theirs = (answer.body.apiKeys as Struct[]).find((k) =>
        k.apiKey === API_VERSIONS_REQUEST.apiKey
      );
      const max = Math.min(API_VERSIONS_VERSION, (theirs?.maxVersion as number | undefined) ?? 0);
      answer = await ask(max);
    }
    if (answer.errorCode !== KafkaError.NONE) {
      throw this.#failure("bad_answer", `ApiVersions answered ${kafkaErrorName(answer.errorCode)}`);
    }
    this.#versions = new Map();
    for (const k of answer.body.apiKeys as Struct[]) {
      this.#versions.set(k.apiKey as number, [k.minVersion as number, k.maxVersion as number]);
    }
  }

  async #authenticate(conn: TcpClientConnection, timeoutMs: number, signal?: AbortSignal) {
    const { username, password } = this.#options.sasl!;
    // v1: the login travels in SaslAuthenticate (v0 would send it as a bare frame).
    const handshakeVersion = this.#version(SASL_HANDSHAKE_REQUEST, 1);
    const handshake = this.#decode(
      await this.#exchange(
        conn,
        SASL_HANDSHAKE_REQUEST,
        handshakeVersion,
        { mechanism: "PLAIN" },
        timeoutMs,
        signal,
      ),
      SASL_HANDSHAKE_RESPONSE,
      handshakeVersion,
    );
    if (handshake.errorCode !== KafkaError.NONE) {
      throw this.#refused(`SaslHandshake PLAIN: ${kafkaErrorName(handshake.errorCode as number)}`);
    }
    const version = this.#version(SASL_AUTHENTICATE_REQUEST, 0);
    const authBytes = new TextEncoder().encode(`\0${username}\0${password}`);
    const answer = this.#decode(
      await this.#exchange(
        conn,
        SASL_AUTHENTICATE_REQUEST,
        version,
        { authBytes },
        timeoutMs,
        signal,
      ),
      SASL_AUTHENTICATE_RESPONSE,
      version,
    );
    if (answer.errorCode !== KafkaError.NONE) {
      const message = answer.errorMessage as string | null;
      throw this.#refused(
        `SASL/PLAIN as ${username}: ${kafkaErrorName(answer.errorCode as number)}` +
          (message === null ? "" : ` (${message})`),
      );
    }
  }

  #refused(what: string): SluiceError {
    return new SluiceError("UNAUTHENTICATED", `${this.#name()}: ${what}`, this.#details("sasl"));
  }

  /** The highest version of `schema` both sides have, at least `min`. */
  #version(schema: MessageSchema, min: number): number {
    const theirs = this.#versions.get(schema.apiKey!);
    const ours = ourMaxVersion(schema);
    const version = theirs === undefined ? -1 : Math.min(ours, theirs[1]);
    if (theirs === undefined || version < Math.max(min, theirs[0])) {
      const range = theirs === undefined ? "none" : `${theirs[0]}-${theirs[1]}`;
      throw this.#failure(
        "unsupported_version",
        `${schema.name.replace(/Request$/, "")}: the broker serves versions ${range}, ` +
          `this client needs ${min}-${ours}`,
      );
    }
    return version;
  }

  // -------------------------------------------------------------------------------------------
  // One request, one answer.

  /** Sends one request frame and reads its answer's frame (header and body, no size prefix). */
  async #exchange(
    conn: TcpClientConnection,
    schema: MessageSchema,
    version: number,
    body: Struct,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    let cut: Interrupted | undefined;
    const interrupt = (reason: "timeout" | "aborted" | "client_closed") => {
      cut ??= new Interrupted(reason);
      conn.close();
    };
    if (this.#closed) throw new Interrupted("client_closed");
    if (signal?.aborted) throw new Interrupted("aborted");
    const timer = setTimeout(() => interrupt("timeout"), timeoutMs);
    const onAbort = () => interrupt("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#interrupt = interrupt;
    const correlationId = this.#correlationId = (this.#correlationId + 1) | 0;
    try {
      try {
        await conn.write(this.#frame(schema, version, body, correlationId));
      } catch (err) {
        throw new ConnectionLost(false, { cause: err });
      }
      const frame = await this.#readFrame(conn);
      const got = new DataView(frame.buffer, frame.byteOffset).getInt32(0);
      if (got !== correlationId) {
        throw this.#failure(
          "bad_answer",
          `answer for correlation id ${got}, expected ${correlationId}`,
        );
      }
      this.#answered++;
      return frame;
    } catch (err) {
      throw cut ?? err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#interrupt = undefined;
    }
  }

  /** One size-prefixed request frame in one buffer (requests are small: one write). */
  #frame(schema: MessageSchema, version: number, body: Struct, correlationId: number): Uint8Array {
    const header = encode(REQUEST_HEADER, requestHeaderVersion(schema, version), {
      requestApiKey: schema.apiKey!,
      requestApiVersion: version,
      correlationId,
      clientId: this.#options.clientId,
    });
    const payload = encode(schema, version, body);
    const frame = new Uint8Array(4 + header.length + payload.length);
    new DataView(frame.buffer).setInt32(0, header.length + payload.length);
    frame.set(header, 4);
    frame.set(payload, 4 + header.length);
    return frame;
  }

  /** The next answer frame, read into a buffer of its own size. */
  async #readFrame(conn: TcpClientConnection): Promise<Uint8Array> {
    const progress = { bytes: 0 };
    const prefix = this.#sizePrefix;
    await readFully(conn, prefix, progress);
    const size = new DataView(prefix.buffer).getInt32(0);
    if (size < RESPONSE_FRAME_MIN || size > this.#options.responseBytesMax) {
      throw this.#failure(
        "bad_answer",
        `answer of ${size} bytes (at most ${this.#options.responseBytesMax})`,
      );
    }
    const frame = new Uint8Array(size);
    await readFully(conn, frame, progress);
    return frame;
  }

  /** The body of an answer frame, at `version`; bytes that are not that answer are bad_answer. */
  #decode(frame: Uint8Array, response: MessageSchema, version: number): Struct {
    try {
      const header = decodePrefix(RESPONSE_HEADER, responseHeaderVersion(response, version), frame);
      return decode(response, version, frame.subarray(header.position));
    } catch (err) {
      throw this.#failure(
        "bad_answer",
        `${response.name} v${version}: ${(err as Error).message}`,
        err,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Failures.

  #drop(): void {
    this.#conn?.close();
    this.#conn = undefined;
  }

  #name(): string {
    const { nodeId, host, port } = this.endpoint;
    return `broker ${nodeId} at ${host}:${port}`;
  }

  #details(reason: string, refused = false) {
    const { nodeId, host, port } = this.endpoint;
    return { broker: nodeId, host, port, reason, refused };
  }

  /** `refused`: nothing listens at the broker's address (its process is gone): details.refused. */
  #failure(
    reason: ReplicaFailureReason,
    what: string,
    cause?: unknown,
    refused = false,
  ): SluiceError {
    return new SluiceError(
      "CLUSTER_UNAVAILABLE",
      `${this.#name()}: ${what}`,
      this.#details(reason, refused),
      cause === undefined ? undefined : { cause },
    );
  }

  /** A failure of a call as the SluiceError it rejects with (a bug's error stays as it is). */
  #typed(err: unknown): unknown {
    if (err instanceof SluiceError) return err;
    if (err instanceof Interrupted) {
      const what = err.reason === "timeout"
        ? "no answer in time"
        : err.reason === "aborted"
        ? "aborted"
        : "the replica client is closed";
      return this.#failure(err.reason, what);
    }
    if (err instanceof ConnectionLost) {
      const cause = err.cause as Error | undefined;
      return this.#failure(
        "closed",
        `connection lost${err.answered ? " mid-answer" : ""}${cause ? `: ${cause.message}` : ""}`,
        cause,
      );
    }
    return err;
  }
}
