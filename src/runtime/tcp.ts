/**
 * A TCP listener (the Kafka protocol's transport) on node:net, or on node:tls when given a
 * certificate and key, which Deno and Bun both implement, so the same code runs on either.
 * Everything above this file sees only {@link TcpConnection}: bytes in, chunks out, pause/resume
 * for back-pressure; with TLS a connection is handed over once its handshake is done, so the
 * bytes are the decrypted ones. A failed handshake (a plaintext client, say) closes that socket
 * alone and is reported to {@link TcpHandlers.onTlsError}.
 */
import * as net from "node:net";
import * as tls from "node:tls";

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
  options: { tls?: TcpTlsOptions; idleMs?: number } = {},
): Promise<TcpServer> {
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
  if (options.tls === undefined) server = net.createServer({ noDelay: true }, onSocket);
  else {
    server = tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onSocket);
    server.on("connection", (socket: net.Socket) => {
      raw.add(socket);
      socket.once("close", () => raw.delete(socket));
    });
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
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
