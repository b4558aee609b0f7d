/**
 * A TCP listener (the Kafka protocol's transport): on Deno, Deno's own sockets (tcp_deno.ts: the
 * node:net server on Deno 2.9 stops accepting for good after one EMFILE); elsewhere (Bun) node:net,
 * or node:tls when given a certificate and key. Every connection first passes the listener's
 * ConnectionGate (accept.ts: open connections in total and per client address); one refused is
 * closed at once and never reaches the handlers.
 * Everything above this file sees only {@link TcpConnection}: bytes in, chunks out, pause/resume
 * for back-pressure; with TLS a connection is handed over once its handshake is done, so the
 * bytes are the decrypted ones. A failed handshake (a plaintext client, say) closes that socket
 * alone and is reported to {@link TcpHandlers.onTlsError}.
 */
// Types only: node:net and node:tls serve Bun alone and load there on first use (lazy_module.ts):
// on Deno (Deno.listen, tcp_deno.ts) their polyfills are not part of a server's memory.
import type * as net from "node:net";
import type * as tls from "node:tls";
import { ConnectionGate } from "./accept.ts";
import { loadModule } from "./lazy_module.ts";
import { runtimeName } from "./serve.ts";
import { listenTcpDeno } from "./tcp_deno.ts";

export interface TcpConnection {
  /** "host:port" of the peer, for logs. */
  readonly remote: string;
  /** The peer's address alone (ClientHost in group membership). */
  readonly remoteHost: string;
  /**
   * Writes chunks in order; resolves when the socket can take more (drained below its high-water
   * mark). `onTaken(chunk)` is called once per chunk when the socket has taken it (written to
   * the kernel), or when the write failed or the socket was destroyed first.
   */
  write(chunks: readonly Uint8Array[], onTaken?: (chunk: Uint8Array) => void): Promise<void>;
  /**
   * Where the reads that start from now on put their bytes, instead of the runtime's own buffers,
   * until `target` is full (then back to those); each read is handed to onData as a view of
   * `target`, in order. `null` cancels. A read already in progress still delivers its own
   * buffer's bytes first. Absent where the runtime cannot read into a given buffer (node:net).
   */
  readInto?(target: Uint8Array | null): void;
  /** Stops reading from the socket (back-pressure) until {@link TcpConnection.resume}. */
  pause(): void;
  resume(): void;
  /** Closes the connection; pending writes are flushed first unless `now`. */
  close(now?: boolean): void;
}

export interface TcpHandlers {
  /** A connection is open (with TLS: its handshake is done); before any of its data. */
  onConnect?(conn: TcpConnection): void;
  onData(conn: TcpConnection, bytes: Uint8Array): void;
  /** Nothing was read or written for `idleMs` (fires again after the next activity). */
  onIdle?(conn: TcpConnection): void;
  onClose(conn: TcpConnection): void;
  onError?(conn: TcpConnection, err: Error): void;
  /** A TLS handshake failed (`remote` is "host:port"); that socket is already closed. */
  onTlsError?(remote: string, err: Error): void;
}

export interface TcpTlsOptions {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

export interface TcpServer {
  readonly hostname: string;
  readonly port: number;
  /** Open connections now. */
  readonly connections: number;
  /** Admission: open connections per address, refusals. */
  readonly gate: ConnectionGate;
  /** Stops accepting; closes every open connection; resolves when the listener is closed. */
  close(): Promise<void>;
}

/**
 * The peer of a socket. A TLS socket that has not finished its handshake may not know it yet on
 * Deno; the raw socket under it (`_parent`, as node:tls names it) does.
 */
function peer(socket: net.Socket): { host: string; port: number } {
  const parent = (socket as { _parent?: net.Socket })._parent;
  return {
    host: socket.remoteAddress ?? parent?.remoteAddress ?? "unknown",
    port: socket.remotePort ?? parent?.remotePort ?? 0,
  };
}

export function listenTcp(
  hostname: string,
  port: number,
  handlers: TcpHandlers,
  options: { tls?: TcpTlsOptions; idleMs?: number; gate?: ConnectionGate } = {},
): Promise<TcpServer> {
  const gate = options.gate ??
    new ConnectionGate("tcp", {
      max: Number.MAX_SAFE_INTEGER,
      perAddressMax: Number.MAX_SAFE_INTEGER,
    });
  if (runtimeName() === "deno") return listenTcpDeno(hostname, port, handlers, gate, options);
  /** Raw sockets the gate refused: destroyed at once, never handed to `handlers`. */
  const refused = new WeakSet<net.Socket>();
  /** Counts a raw socket in (or refuses it); false when refused. */
  const admit = (socket: net.Socket): boolean => {
    const address = peer(socket).host;
    if (gate.admit(address) !== null) {
      refused.add(socket);
      socket.destroy();
      return false;
    }
    socket.once("close", () => gate.release(address));
    return true;
  };
  /** The connections handed to `handlers` (with TLS, the secure sockets). */
  const sockets = new Set<net.Socket>();
  /** With TLS, the raw sockets under them, handshake done or not: destroyed on close. */
  const raw = new Set<net.Socket>();
  const onSocket = (socket: net.Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const { host: remoteHost, port: remotePort } = peer(socket);
    const conn: TcpConnection = {
      remote: `${remoteHost}:${remotePort}`,
      remoteHost,
      write(chunks, onTaken) {
        let ok = true;
        if (socket.destroyed) {
          for (const c of chunks) onTaken?.(c);
          return Promise.resolve();
        }
        if (chunks.length > 1) socket.cork();
        for (const c of chunks) {
          ok = onTaken === undefined ? socket.write(c) : socket.write(c, () => onTaken(c));
        }
        if (chunks.length > 1) socket.uncork();
        if (ok) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const done = () => {
            socket.off("drain", done);
            socket.off("close", done);
            resolve();
          };
          socket.on("drain", done);
          socket.on("close", done);
        });
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      close(now = false) {
        if (now) socket.destroy();
        else socket.end();
      },
    };
    if (options.idleMs !== undefined && options.idleMs > 0) {
      socket.setTimeout(options.idleMs);
      socket.on("timeout", () => handlers.onIdle?.(conn));
    }
    handlers.onConnect?.(conn);
    socket.on("data", (data: Uint8Array) => handlers.onData(conn, data));
    socket.on("error", (err: Error) => handlers.onError?.(conn, err));
    socket.on("close", () => {
      sockets.delete(socket);
      handlers.onClose(conn);
    });
  };
  let server: net.Server;
  if (options.tls === undefined) {
    server = loadModule<typeof net>("node:net").createServer({ noDelay: true }, (socket) => {
      if (admit(socket)) onSocket(socket);
    });
  } else {
    server = loadModule<typeof tls>("node:tls").createServer(
      { cert: options.tls.cert, key: options.tls.key },
      onSocket,
    );
    server.on("connection", (socket: net.Socket) => {
      if (!admit(socket)) return;
      raw.add(socket);
      socket.once("close", () => raw.delete(socket));
    });
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      const parent = (socket as { _parent?: net.Socket })._parent;
      if (parent !== undefined && refused.has(parent)) return;
      const { host, port } = peer(socket);
      const remote = `${host}:${port}`;
      socket.destroy();
      handlers.onTlsError?.(remote, err);
    });
  }
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: hostname, port }, () => {
      server.off("error", reject);
      const address = server.address() as net.AddressInfo;
      resolve({
        hostname,
        port: address.port,
        gate,
        get connections() {
          return sockets.size;
        },
        close() {
          return new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
            for (const s of raw) s.destroy();
          });
        },
      });
    });
  });
}
