/**
 * The Kafka listener: size-prefixed request frames in, size-prefixed response frames out, over
 * TCP (src/runtime/tcp.ts), optionally TLS.
 *
 * Per connection, frames are cut from the byte stream as they arrive (frame_reader.ts: as views of
 * the received chunks, or read in place, copied only when neither can be) and served one at a time in
 * arrival order, as Kafka does, so responses leave in request order and a connection's produce
 * requests append in the order they were sent. Reading ahead is bounded (KAFKA_QUEUED_REQUESTS_MAX
 * frames or KAFKA_FRAME_BYTES_MAX bytes waiting, then the socket is paused until they are
 * served), and so is a frame (KAFKA_FRAME_BYTES_MAX).
 *
 * Memory held for clients is bounded across connections too (src/byte_budget.ts):
 * - requests: a frame's bytes are reserved from KAFKA_QUEUED_REQUEST_BYTES_MAX when its size
 *   prefix arrives, and given back once it is served; a connection whose next frame does not fit
 *   is not read until another frame is served (Kafka's queued.max.request.bytes).
 * - responses: every response frame holds its bytes in KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX from
 *   when it is built until the socket has taken each chunk (or the connection closes). A Fetch
 *   reserves before it reads (context.responseBytes) and reads no more than it got, past one
 *   batch. A connection serves its next request only once its socket has taken its previous
 *   responses down to RESPONSE_AHEAD_BYTES (small answers go on at once), so a client that never
 *   reads holds at most that and one response; after `idleMs` with nothing taken it is closed
 *   ("idle"), which gives that back.
 *
 * With `tls` (a PEM certificate and key) the listener speaks TLS (Kafka's SSL, or SASL_SSL with
 * `auth`): everything below sees the decrypted bytes; a failed handshake (a plaintext client, a
 * client that does not trust the certificate) closes that socket alone and is logged at info.
 *
 * With `auth` (SASL_PLAINTEXT, or SASL_SSL with `tls`), a connection must authenticate with
 * SASL/PLAIN first (handlers/sasl.ts): until then only ApiVersions, SaslHandshake and
 * SaslAuthenticate are served and any other request closes it ("unauthenticated"). The connection
 * keeps its principal for the handlers' ACL checks (acl.ts); after a token reload (SIGHUP) the
 * login is checked again at the next request, with the new rights, and a removed token closes the
 * connection. After SaslHandshake v0 the next frame is the raw PLAIN message: answered with an
 * empty size-prefixed frame, or a close on failure.
 *
 * A malformed frame, an unknown API key, an unsupported version (except ApiVersions, which answers
 * UNSUPPORTED_VERSION with the supported ranges, as the protocol asks) or an oversize frame closes
 * that connection with a logged reason once the requests before it are answered and their answers
 * handed to the socket (which ends after writing them, as Kafka's does); nothing else is affected.
 * A handler's unexpected error is logged and closes the connection too: the client reconnects and
 * retries, which is how Kafka clients recover from a broken connection.
 */
import { ByteBudget, ByteLease, wakeInOrder } from "../byte_budget.ts";
import { isSluiceError } from "../errors.ts";
import type { Authenticator } from "../security/tokens.ts";
import {
  KAFKA_CONNECTION_IDLE_MS,
  KAFKA_CONNECTIONS_MAX,
  KAFKA_FRAME_BYTES_MAX,
  KAFKA_QUEUED_REQUEST_BYTES_MAX,
  KAFKA_QUEUED_REQUESTS_MAX,
  KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX,
  KAFKA_UNAUTHENTICATED_FRAME_BYTES_MAX,
} from "../limits.ts";
import type { Logger } from "../logger.ts";
import { ConnectionGate } from "../runtime/accept.ts";
import {
  listenTcp,
  type TcpConnection,
  type TcpServer,
  type TcpTlsOptions,
} from "../runtime/tcp.ts";
import {
  decodePrefix,
  encode,
  encodeChunks,
  inRange,
  KafkaCodecError,
  type Struct,
} from "./codec.ts";
import { KafkaError } from "./error_codes.ts";
import { FrameReader } from "./frame_reader.ts";
import { intoRoom } from "./frame_room.ts";
import { API_VERSIONS_RESPONSE } from "./messages/api_versions.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  RESPONSE_HEADER,
  responseHeaderVersion,
} from "./messages/request_header.ts";
import type { Api, ApiRegistry, RequestContext, ResponseReservation, SaslSession } from "./apis.ts";
import { CloseConnection, principalFor, rawPlainLogin } from "./session_auth.ts";
import { type CloseReason, KafkaMetrics } from "./metrics.ts";

export interface KafkaServerOptions {
  hostname: string;
  port: number;
  apis: ApiRegistry;
  logger: Logger;
  frameBytesMax?: number;
  queuedRequestsMax?: number;
  /** Open connections (KAFKA_CONNECTIONS_MAX); one more is closed at accept (runtime/accept.ts). */
  connectionsMax?: number;
  /** Open connections from one client address (default: all of connectionsMax). */
  connectionsPerAddressMax?: number;
  /** Closes a connection silent this long with nothing in flight (KAFKA_CONNECTION_IDLE_MS). */
  idleMs?: number;
  /** Response bytes not yet taken by sockets, all connections (KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX). */
  responseBytesMax?: number;
  /** Request bytes received and not yet served, all connections (KAFKA_QUEUED_REQUEST_BYTES_MAX). */
  queuedRequestBytesMax?: number;
  /** Where request counts and closes are counted (rendered into /metrics). */
  metrics?: KafkaMetrics;
  /** Called with the listener's bound port before any connection is served (Metadata's port). */
  onListening?: (hostname: string, port: number) => void;
  /** Requires SASL/PLAIN authentication with these tokens (the registry must have the SASL APIs). */
  auth?: Authenticator;
  /** PEM certificate chain and private key: the listener speaks TLS. */
  tls?: TcpTlsOptions;
}

export interface KafkaServer {
  readonly hostname: string;
  readonly port: number;
  readonly connections: number;
  /** Admission at accept: open connections per address, refusals by reason (for /metrics). */
  readonly gate: ConnectionGate;
  /** Response bytes not yet taken by the sockets, all connections. */
  readonly responseBytesInFlight: number;
  /** Request frame bytes reserved (received or being received) and not yet served. */
  readonly requestBytesQueued: number;
  /** Stops accepting, closes every connection. */
  close(): Promise<void>;
}

const API_VERSIONS_KEY = 18;
/** How long a connection closed after a SASL failure response may take to read it. */
const LINGER_MS = 2_000;
/**
 * Response bytes a connection may have handed to its socket, not yet taken, and still serve its
 * next request without waiting for them. Small answers (produce acknowledgements, the fetches of a
 * consumer that keeps up) never wait: on Deno a write resolves a turn of the event loop after the
 * kernel took it, and each of a producer's pipelined requests (5 in flight) would wait that turn.
 */
const RESPONSE_AHEAD_BYTES = 64 * 1024;

/** What every connection shares: the memory budgets, and who waits for request memory. */
interface Shared {
  readonly responses: ByteBudget;
  readonly requests: ByteBudget;
  /** Connections not read until their next frame's bytes fit in `requests` (FIFO). */
  readonly waitingForRequestBytes: Set<Connection>;
}

type ResolvedOptions = Required<
  Omit<
    KafkaServerOptions,
    "onListening" | "auth" | "tls" | "responseBytesMax" | "queuedRequestBytesMax"
  >
>;

class Connection {
  readonly #conn: TcpConnection;
  readonly #options: ResolvedOptions;
  readonly #shared: Shared;
  readonly #auth: Authenticator | undefined;
  readonly #sasl: SaslSession = {
    mechanism: null,
    rawNext: false,
    principal: undefined,
    credential: undefined,
    generation: 0,
    closeAfterResponse: null,
  };
  #linger: ReturnType<typeof setTimeout> | undefined;
  /** Received bytes not yet cut into frames. */
  readonly #bytes: FrameReader;
  /** Size of the frame being received, once its prefix is in. */
  #frameSize = -1;
  /** The frame being received has its bytes reserved in the shared request budget. */
  #frameReserved = false;
  readonly #queue: Uint8Array[] = [];
  /** Bytes of the frames in #queue. */
  #queuedBytes = 0;
  /** This connection's part of the request budget: queued frames and the one being received. */
  readonly #requestBytes: ByteLease;
  /** This connection's part of the response budget: responses not yet taken by the socket. */
  readonly #responseBytes: ByteLease;
  /** Of #responseBytes: what the request being served reserved (context.responseBytes). */
  #reserved = 0;
  /** In `shared.waitingForRequestBytes`: not read until its frame's bytes fit. */
  #waitingForBytes = false;
  #paused = false;
  #serving = false;
  /** A handler is running (a long poll or a JoinGroup may legitimately be quiet that long). */
  #handling = false;
  #closed = false;
  /**
   * A bad frame was found while cutting (its size): nothing more is read, the frames queued
   * before it are still answered, then the connection closes, as Kafka, which reads a
   * connection's next request only after answering the last, answers every request before it.
   */
  #closeWhenServed: CloseConnection | null = null;
  readonly #client: { host: string; id: string | null };
  /** Socket write callback: a chunk was taken, and its buffer is no longer held for it. */
  readonly #taken = (chunk: Uint8Array) => this.#responseBytes.release(chunk.buffer.byteLength);
  /** What handlers see as context.responseBytes. */
  readonly #responseReservation: ResponseReservation = {
    reserve: (want: number): number => {
      this.#responseBytes.release(this.#reserved);
      this.#reserved = this.#closed ? 0 : this.#responseBytes.takeUpTo(want);
      return this.#reserved;
    },
    mayOverdraw: (): boolean => this.#responseBytes.budget.mayOverdraw,
  };

  constructor(
    conn: TcpConnection,
    options: ResolvedOptions,
    shared: Shared,
    auth: Authenticator | undefined,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#shared = shared;
    this.#auth = auth;
    this.#bytes = new FrameReader(conn.readInto?.bind(conn));
    this.#requestBytes = new ByteLease(shared.requests);
    this.#responseBytes = new ByteLease(shared.responses);
    // As Kafka shows a member's host (Java's InetAddress text): "/127.0.0.1".
    this.#client = { host: `/${conn.remoteHost}`, id: null };
    options.metrics.connections++;
  }

  onData(bytes: Uint8Array): void {
    if (this.#closed || this.#closeWhenServed !== null) return;
    const frame = this.#bytes.push(bytes);
    if (frame !== null) this.#queueFrame(frame);
    this.#receive();
  }

  #queueFrame(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#queuedBytes += this.#frameSize;
    this.#frameSize = -1;
    this.#frameReserved = false;
  }

  /** Cuts what can be cut, pauses or resumes reading, starts serving; closes on a bad frame. */
  #receive(): void {
    if (this.#closeWhenServed !== null) return;
    try {
      this.#cutFrames();
    } catch (err) {
      if (!(err instanceof CloseConnection)) {
        this.close(String(err), "server_error");
        return;
      }
      this.#closeWhenServed = err;
      this.#bytes.clear();
      this.#paused = true;
      this.#conn.pause();
      if (this.#serving) return;
      if (this.#queue.length > 0) void this.#serve();
      else this.close(err.message, err.kind, true);
      return;
    }
    this.#updatePause();
    if (!this.#serving && this.#queue.length > 0) void this.#serve();
  }

  /**
   * Request bytes were given back (FIFO over the waiting connections): true when this one got
   * its frame's bytes (or is gone) and left the wait list, false when it must wait on.
   */
  retry(): boolean {
    const waiting = this.#shared.waitingForRequestBytes;
    if (this.#closed) {
      waiting.delete(this);
      return true;
    }
    if (!this.#requestBytes.tryTake(this.#frameSize)) return false;
    waiting.delete(this);
    this.#frameReserved = true;
    this.#waitingForBytes = false;
    this.#receive();
    return true;
  }

  #cutFrames(): void {
    if (this.#bytes.assembling) return;
    for (;;) {
      if (this.#frameSize < 0) {
        if (this.#bytes.pendingBytes < 4) return;
        const size = this.#bytes.takeSize();
        // Before a SASL login a frame is small (Kafka's sasl.server.max.receive.size): an
        // unauthenticated peer cannot make the server buffer 100 MiB.
        const max = this.#auth !== undefined && this.#sasl.principal === undefined
          ? Math.min(KAFKA_UNAUTHENTICATED_FRAME_BYTES_MAX, this.#options.frameBytesMax)
          : this.#options.frameBytesMax;
        if (size < 8 || size > max) {
          throw new CloseConnection(
            "frame_size",
            `request frame of ${size} bytes (valid: 8 to ${max})`,
          );
        }
        this.#frameSize = size;
      }
      if (!this.#frameReserved) {
        if (this.#waitingForBytes) return;
        // Behind any connection already waiting (FIFO: a large frame is not overtaken forever).
        const waiting = this.#shared.waitingForRequestBytes;
        if (waiting.size > 0 || !this.#requestBytes.tryTake(this.#frameSize)) {
          this.#waitingForBytes = true;
          this.#shared.waitingForRequestBytes.add(this);
          return;
        }
        this.#frameReserved = true;
      }
      if (this.#bytes.pendingBytes < this.#frameSize) {
        this.#bytes.readInPlace(this.#frameSize);
        return;
      }
      this.#queueFrame(this.#bytes.take(this.#frameSize));
      if (this.#overQueued()) return;
    }
  }

  /** Read-ahead past its bounds: frames, or bytes (one maximal frame's worth). */
  #overQueued(): boolean {
    return this.#queue.length >= this.#options.queuedRequestsMax ||
      this.#queuedBytes >= this.#options.frameBytesMax;
  }

  /** Reads from the socket only while read-ahead has room and no frame waits for bytes. */
  #updatePause(): void {
    const pause = this.#overQueued() || this.#waitingForBytes;
    if (pause === this.#paused || this.#closed) return;
    this.#paused = pause;
    if (pause) this.#conn.pause();
    else this.#conn.resume();
  }

  async #serve(): Promise<void> {
    this.#serving = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const frame = this.#queue.shift()!;
        this.#queuedBytes -= frame.length;
        // Read-ahead has room again: cut what was held back, read on.
        this.#receive();
        let response: Uint8Array[] | null;
        this.#handling = true;
        try {
          response = await this.#handle(frame);
        } finally {
          this.#handling = false;
          // Served: the frame's bytes go back (a connection waiting for them may read on).
          this.#requestBytes.release(frame.length);
        }
        // From here until the socket takes it, the response holds exactly the buffers its chunks
        // keep alive (a read's buffer may pass its bytes by part of a batch and 4 KiB).
        const reserved = this.#reserved;
        this.#reserved = 0;
        if (response === null || this.#closed) this.#responseBytes.release(reserved);
        else {
          let size = 0;
          for (const c of response) size += c.buffer.byteLength;
          if (size > reserved) this.#responseBytes.force(size - reserved);
          else this.#responseBytes.release(reserved - size);
          const written = this.#conn.write(response, this.#taken);
          if (this.#responseBytes.held > RESPONSE_AHEAD_BYTES) await written;
        }
        const after = this.#sasl.closeAfterResponse;
        if (after !== null) this.close(after.reason, after.kind, true);
      }
      const bad = this.#closeWhenServed;
      if (bad !== null) this.close(bad.message, bad.kind, true);
    } catch (err) {
      // Answers already handed to the socket still reach the client (linger).
      if (err instanceof CloseConnection) this.close(err.message, err.kind, true);
      else {
        this.#options.logger.error("kafka request failed", {
          client: this.#conn.remote,
          clientId: this.#client.id,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        });
        this.close("internal error (logged above)", "server_error");
      }
    } finally {
      this.#serving = false;
    }
  }

  /** Serves one frame; returns the response frame's chunks, or null when none is sent. */
  async #handle(frame: Uint8Array): Promise<Uint8Array[] | null> {
    if (this.#sasl.rawNext) return rawPlainLogin(this.#auth!, this.#sasl, frame);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const apiKey = view.getInt16(0);
    const version = view.getInt16(2);
    const correlationId = view.getInt32(4);
    const api = this.#options.apis.get(apiKey);
    if (api === undefined) throw new CloseConnection("unknown_api", `unknown API key ${apiKey}`);
    const principal = principalFor(this.#auth, this.#sasl, api);
    if (!inRange(api.versions, version)) {
      if (apiKey === API_VERSIONS_KEY) return this.#unsupportedApiVersions(correlationId);
      throw new CloseConnection(
        "unsupported_version",
        `${api.name} v${version} is not supported (supported: ${api.versions})`,
      );
    }
    let header: Struct;
    let body: Struct;
    try {
      const h = decodePrefix(REQUEST_HEADER, requestHeaderVersion(api.request, version), frame, 0);
      header = h.value;
      const b = decodePrefix(api.request, version, frame, h.position);
      body = b.value;
      // Bytes after the body are ignored, as Kafka's AbstractRequest.parseRequest ignores them
      // (librdkafka 2.1+ leaves 3 in a Metadata v9+ request for all topics), and counted.
      if (b.position !== frame.length) this.#options.metrics.trailingBytes(api.name);
    } catch (err) {
      if (err instanceof KafkaCodecError) {
        throw new CloseConnection("malformed", `malformed ${api.name} v${version}: ${err.message}`);
      }
      throw err;
    }
    this.#client.id = header.clientId as string | null;
    const context: RequestContext = {
      apiVersion: version,
      clientId: this.#client.id,
      clientHost: this.#client.host,
      remote: this.#conn.remote,
      principal,
      sasl: this.#sasl,
      responseBytes: this.#responseReservation,
    };
    let response: Struct | null;
    const started = performance.now();
    try {
      response = await api.handle(body, context) as Struct | null;
      this.#options.metrics.observe(api.name, (performance.now() - started) / 1e3);
    } catch (err) {
      // A typed error the handler did not map (a closed log during shutdown, say): the client
      // sees a broken connection and retries elsewhere or later.
      if (isSluiceError(err)) {
        throw new CloseConnection("server_error", `${api.name}: ${err.code}: ${err.message}`);
      }
      throw err;
    }
    if (response === null) return null;
    return this.#frame(api, version, correlationId, response);
  }

  #frame(api: Api, version: number, correlationId: number, body: Struct): Uint8Array[] {
    const header = encode(RESPONSE_HEADER, responseHeaderVersion(api.response, version), {
      correlationId,
    });
    const chunks = encodeChunks(api.response, version, body);
    let size = header.length;
    for (const c of chunks) size += c.length;
    const prefix = new Uint8Array(4 + header.length);
    new DataView(prefix.buffer).setInt32(0, size);
    prefix.set(header, 4);
    // A Fetch answer's framing goes into the room around its records: one write, no copy.
    return intoRoom([prefix, ...chunks]);
  }

  /**
   * ApiVersions at a version we do not have: answered at v0 with error 35 and, as Kafka (KIP-511),
   * only ApiVersions' own range, which is what the client needs to ask again.
   */
  #unsupportedApiVersions(correlationId: number): Uint8Array[] {
    const body = {
      errorCode: KafkaError.UNSUPPORTED_VERSION,
      apiKeys: this.#options.apis.supportedRanges().filter((r) => r.apiKey === API_VERSIONS_KEY),
    };
    const api = this.#options.apis.get(API_VERSIONS_KEY)!;
    return this.#frame({ ...api, response: API_VERSIONS_RESPONSE }, 0, correlationId, body);
  }

  /** `linger`: let the client read what was written (the socket ends, then is destroyed). */
  close(reason: string | null, kind?: CloseReason, linger = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.metrics.connections--;
    if (kind !== undefined) this.#options.metrics.closed(kind);
    if (reason !== null) {
      this.#options.logger.warn("closing kafka connection", {
        client: this.#conn.remote,
        clientId: this.#client.id,
        reason,
      });
    }
    this.#queue.length = 0;
    this.#bytes.clear();
    // Whatever this connection held goes back now; write callbacks that come later give back
    // nothing twice (the leases are empty).
    this.#shared.waitingForRequestBytes.delete(this);
    this.#reserved = 0;
    this.#responseBytes.releaseAll();
    this.#requestBytes.releaseAll();
    if (linger) {
      this.#conn.close(false);
      this.#linger = setTimeout(() => this.#conn.close(true), LINGER_MS);
    } else this.#conn.close(true);
  }

  /**
   * The socket was silent for `idleMs`: closed unless a handler runs (a long poll or a JoinGroup
   * may legitimately be quiet that long) or requests wait for one. A response the client has not
   * taken any of for that long closes it too (as Kafka's connections.max.idle.ms does), which
   * gives its bytes back to the budget.
   */
  idle(idleMs: number): void {
    if (this.#handling || this.#waitingForBytes) return;
    if (this.#serving) {
      this.close(`a response was not read for ${idleMs} ms`, "idle");
      return;
    }
    if (this.#queue.length > 0) return;
    this.close(`idle for ${idleMs} ms`, "idle");
  }

  /** The socket is gone: nothing left to do for it. */
  disposed(): void {
    this.close(null);
    if (this.#linger !== undefined) clearTimeout(this.#linger);
  }
}

export async function startKafkaServer(options: KafkaServerOptions): Promise<KafkaServer> {
  const resolved = {
    hostname: options.hostname,
    port: options.port,
    apis: options.apis,
    logger: options.logger,
    frameBytesMax: options.frameBytesMax ?? KAFKA_FRAME_BYTES_MAX,
    queuedRequestsMax: options.queuedRequestsMax ?? KAFKA_QUEUED_REQUESTS_MAX,
    connectionsMax: options.connectionsMax ?? KAFKA_CONNECTIONS_MAX,
    connectionsPerAddressMax: options.connectionsPerAddressMax ??
      options.connectionsMax ?? KAFKA_CONNECTIONS_MAX,
    idleMs: options.idleMs ?? KAFKA_CONNECTION_IDLE_MS,
    metrics: options.metrics ?? new KafkaMetrics(),
  };
  const shared: Shared = {
    responses: new ByteBudget(options.responseBytesMax ?? KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX),
    requests: new ByteBudget(options.queuedRequestBytesMax ?? KAFKA_QUEUED_REQUEST_BYTES_MAX),
    waitingForRequestBytes: new Set(),
  };
  shared.requests.onRelease = wakeInOrder(shared.waitingForRequestBytes);
  resolved.metrics.budgets = { responses: shared.responses, requests: shared.requests };
  const connections = new Map<TcpConnection, Connection>();
  // Connections over the bounds are closed at accept, before they reach onConnect.
  const gate = new ConnectionGate("kafka", {
    max: resolved.connectionsMax,
    perAddressMax: resolved.connectionsPerAddressMax,
  }, options.logger);
  const tcp: TcpServer = await listenTcp(options.hostname, options.port, {
    onConnect(conn) {
      connections.set(conn, new Connection(conn, resolved, shared, options.auth));
    },
    onData(conn, bytes) {
      connections.get(conn)?.onData(bytes);
    },
    onIdle(conn) {
      connections.get(conn)?.idle(resolved.idleMs);
    },
    onClose(conn) {
      connections.get(conn)?.disposed();
      connections.delete(conn);
    },
    onError(conn, err) {
      options.logger.warn("kafka connection error", { client: conn.remote, error: err.message });
    },
    onTlsError(remote, err) {
      options.logger.info("kafka TLS handshake failed", { client: remote, error: err.message });
      resolved.metrics.closed("tls_handshake");
    },
  }, { tls: options.tls, idleMs: resolved.idleMs, gate });
  options.onListening?.(tcp.hostname, tcp.port);
  return {
    hostname: tcp.hostname,
    port: tcp.port,
    gate,
    get connections() {
      return tcp.connections;
    },
    get responseBytesInFlight() {
      return shared.responses.used;
    },
    get requestBytesQueued() {
      return shared.requests.used;
    },
    close: () => tcp.close(),
  };
}
