/**
 * A plain TCP listener (the Kafka protocol's transport) on node:net, which Deno and Bun both
 * implement, so the same code runs on either. Everything above this file sees only
 * {@link TcpConnection}: bytes in, chunks out, pause/resume for back-pressure.
 */
import * as net from "node:net";

export interface TcpConnection {
  /** "host:port" of the peer, for logs. */
  readonly remote: string;
  /** The peer's address alone (ClientHost in group membership). */
  readonly remoteHost: string;
  /** Writes chunks in order; resolves when the socket can take more (drained). */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /** Stops reading from the socket (back-pressure) until {@link TcpConnection.resume}. */
  pause(): void;
  resume(): void;
  /** Closes the connection; pending writes are flushed first unless `now`. */
  close(now?: boolean): void;
}

export interface TcpHandlers {
  onData(conn: TcpConnection, bytes: Uint8Array): void;
  onClose(conn: TcpConnection): void;
  onError?(conn: TcpConnection, err: Error): void;
}

export interface TcpServer {
  readonly hostname: string;
  readonly port: number;
  /** Open connections now. */
  readonly connections: number;
  /** Stops accepting; closes every open connection; resolves when the listener is closed. */
  close(): Promise<void>;
}

export function listenTcp(
  hostname: string,
  port: number,
  handlers: TcpHandlers,
): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const remoteHost = socket.remoteAddress ?? "unknown";
    const conn: TcpConnection = {
      remote: `${remoteHost}:${socket.remotePort ?? 0}`,
      remoteHost,
      write(chunks) {
        let ok = true;
        if (socket.destroyed) return Promise.resolve();
        if (chunks.length > 1) socket.cork();
        for (const c of chunks) ok = socket.write(c);
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
    socket.on("data", (data: Uint8Array) => handlers.onData(conn, data));
    socket.on("error", (err: Error) => handlers.onError?.(conn, err));
    socket.on("close", () => {
      sockets.delete(socket);
      handlers.onClose(conn);
    });
  });
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
          });
        },
      });
    });
  });
}
