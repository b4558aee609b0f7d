/**
 * Outgoing TCP connections (a follower's to its leaders' Kafka listeners,
 * src/kafka_protocol/replica_client.ts): on Deno, Deno.connect; elsewhere (Bun) node:net. The
 * listener side is tcp.ts.
 *
 * Reads are pulled, not pushed: `read(into)` fills the caller's buffer, so a caller that knows how
 * long its next frame is reads it straight into that frame's own buffer. On Deno the socket's bytes
 * land there with no copy in between; on node:net they arrive as chunks and are copied once, and
 * at most READ_AHEAD_BYTES are held before the socket is paused (back-pressure).
 *
 * Writes go out in order, one at a time; `write` resolves once the kernel has taken the bytes.
 * `close` is immediate: a read in progress then ends with null, a write in progress rejects.
 * TCP_NODELAY is set: requests are small and a follower waits for each answer.
 * TLS (a cluster whose Kafka listeners are TLS): `tls.caCerts` are trusted besides the runtime's
 * roots; the name checked is the host connected to (an IP address is checked against the
 * certificate's IP subject alternative names). Deno: a TCP connection upgraded with Deno.startTls;
 * elsewhere node:tls.
 */
// Types only: node:net and node:tls serve Bun alone and load there on first use (lazy_module.ts).
import type * as net from "node:net";
import type * as nodeTlsTypes from "node:tls";
import { loadModule } from "./lazy_module.ts";
import { runtimeName } from "./serve.ts";

/** node:net: bytes received but not yet read that pause the socket until a read takes them. */
const READ_AHEAD_BYTES = 256 * 1024;

export interface TcpClientConnection {
  /** "host:port" of the peer, for logs. */
  readonly remote: string;
  /**
   * Reads at most `into.length` bytes into `into` (at least one); resolves with how many, or null
   * once the peer has closed (or this side did). Rejects on a socket error. One read at a time.
   */
  read(into: Uint8Array): Promise<number | null>;
  /** Writes `bytes` whole; resolves once the socket has taken them. One write at a time. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection at once (unsent bytes are dropped). Idempotent. */
  close(): void;
}

/**
 * Connects to `host:port`. `signal` abandons the attempt while it is in progress (the rejection is
 * the signal's reason); it has no effect on the connection once made. Rejects with the runtime's
 * error when the connection is refused or the name does not resolve.
 */
export function connectTcp(
  host: string,
  port: number,
  signal?: AbortSignal,
  tls?: TlsClientOptions,
): Promise<TcpClientConnection> {
  signal?.throwIfAborted();
  return runtimeName() === "deno"
    ? connectDeno(host, port, signal, tls)
    : connectNode(host, port, signal, tls);
}

/** TLS for an outgoing connection. */
export interface TlsClientOptions {
  /** PEM certificates trusted besides the runtime's roots (a cluster's own, self-signed). */
  caCerts: readonly string[];
}

/**
 * Whether a connect failed because nothing listens there: the peer answered with a reset
 * (ECONNREFUSED), as a host answers for a port whose process has died, unlike a timeout or an
 * unreachable network.
 */
export function isConnectionRefused(err: unknown): boolean {
  if (typeof Deno !== "undefined" && err instanceof Deno.errors.ConnectionRefused) return true;
  const e = err as { code?: unknown; name?: unknown } | null;
  return e?.code === "ECONNREFUSED" || e?.name === "ConnectionRefused";
}

// ---------------------------------------------------------------------------------------------
// Deno

class DenoTcpClientConnection implements TcpClientConnection {
  readonly remote: string;
  readonly #conn: Deno.Conn;
  #closed = false;

  constructor(conn: Deno.Conn, remote: string) {
    this.#conn = conn;
    this.remote = remote;
  }

  async read(into: Uint8Array): Promise<number | null> {
    if (this.#closed) return null;
    try {
      return await this.#conn.read(into);
    } catch (err) {
      // A read cut short by close() is the end of the stream, not an error.
      if (this.#closed) return null;
      throw err;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

async function connectDeno(
  host: string,
  port: number,
  signal: AbortSignal | undefined,
  tls: TlsClientOptions | undefined,
): Promise<TcpClientConnection> {
  // Deno.connect's own signal would also close the connection later: a private controller is
  // linked to the caller's signal for the attempt only.
  const attempt = new AbortController();
  const abort = () => attempt.abort(signal?.reason);
  signal?.addEventListener("abort", abort, { once: true });
  try {
    const conn = await Deno.connect({ hostname: host, port, signal: attempt.signal });
    if (signal?.aborted) {
      conn.close();
      throw signal.reason;
    }
    conn.setNoDelay(true);
    if (tls === undefined) return new DenoTcpClientConnection(conn, `${host}:${port}`);
    const secured = Deno.startTls(conn, { hostname: host, caCerts: [...tls.caCerts] });
    const onAbort = () => secured.then((c) => c.close(), () => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const tlsConn = await secured;
      await tlsConn.handshake();
      if (signal?.aborted) {
        tlsConn.close();
        throw signal.reason;
      }
      return new DenoTcpClientConnection(tlsConn, `${host}:${port}`);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

// ---------------------------------------------------------------------------------------------
// node:net (Bun)

class NodeTcpClientConnection implements TcpClientConnection {
  readonly remote: string;
  readonly #socket: net.Socket;
  /** Received chunks not yet read; the first from `#head`. */
  readonly #chunks: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: net.Socket, remote: string) {
    this.#socket = socket;
    this.remote = remote;
    socket.on("data", (data: Uint8Array) => {
      this.#chunks.push(data);
      this.#queued += data.length;
      if (this.#queued >= READ_AHEAD_BYTES) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error = err;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(into: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let n = 0;
    while (n < into.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(into.length - n, chunk.length - this.#head);
      into.set(chunk.subarray(this.#head, this.#head + take), n);
      n += take;
      this.#head += take;
      if (this.#head === chunk.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#queued -= n;
    if (this.#queued < READ_AHEAD_BYTES && !this.#ended) this.#socket.resume();
    return n;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#socket.destroyed) {
      return Promise.reject(this.#error ?? new Error(`connection to ${this.remote} is closed`));
    }
    return new Promise<void>((resolve, reject) => {
      this.#socket.write(bytes, (err?: Error | null) => err ? reject(err) : resolve());
    });
  }

  close(): void {
    this.#ended = true;
    this.#socket.destroy();
    this.#notify();
  }
}

function connectNode(
  host: string,
  port: number,
  signal: AbortSignal | undefined,
  tls: TlsClientOptions | undefined,
): Promise<TcpClientConnection> {
  const nodeNet = loadModule<typeof net>("node:net");
  return new Promise((resolve, reject) => {
    const nodeTls = tls === undefined ? undefined : loadModule<typeof nodeTlsTypes>("node:tls");
    const socket: net.Socket = tls === undefined || nodeTls === undefined
      ? nodeNet.connect({ host, port, noDelay: true })
      : nodeTls.connect({
        host,
        port,
        ca: [...nodeTls.rootCertificates, ...tls.caCerts],
        // SNI takes host names only; an IP address is checked against the certificate's SANs.
        ...(nodeNet.isIP(host) === 0 ? { servername: host } : {}),
      });
    if (tls !== undefined) socket.setNoDelay(true);
    const connected = tls === undefined ? "connect" : "secureConnect";
    const done = () => {
      socket.off(connected, onConnect);
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onConnect = () => {
      done();
      resolve(new NodeTcpClientConnection(socket, `${host}:${port}`));
    };
    const onError = (err: Error) => {
      done();
      socket.destroy();
      reject(err);
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(signal!.reason);
    };
    socket.once(connected, onConnect);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
