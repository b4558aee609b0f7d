/**
 * The HTTP listener: the one server call that differs between runtimes. Each takes a fetch handler
 * (Request -> Response), so the Hono app runs unchanged on either.
 *
 * On Deno the listener is ours: Deno.listen (Deno.listenTls for HTTPS, offering h2 and http/1.1
 * as Deno.serve does) with the accept loop of accept.ts, so every connection passes the
 * ConnectionGate (per-listener and per-address bounds) and running out of descriptors is a
 * refusal, not the end of the process. Each admitted connection is served by Deno's own HTTP
 * engine (hyper, the one under Deno.serve) through `serveHttpOnConnection`, which Deno 2.x keeps
 * under `Deno[Deno.internal]`: the same per-request path as Deno.serve (measured: no loss), where
 * node:http on Deno served 30-50% fewer requests. Where that hook is missing (another Deno),
 * Deno.serve is used as before and the bounds are not enforced (logged at startup).
 *
 * A refused plain-HTTP connection gets `refusal(reason)`'s bytes (a 429 with Retry-After) in one
 * write and is closed (while more than HTTP_REFUSAL_ANSWERS_MAX are being answered, it is just
 * closed); a refused TLS connection is closed. Closing a connection with a request
 * still unread may reset it, so a client can see a reset instead of the 429: a best effort.
 *
 * On Bun, Bun.serve keeps accepting through EMFILE (uSockets) but exposes no connection hook: the
 * bounds are not enforced there (`bounded` is false).
 */
import { acceptLoop, ConnectionGate, type RefusalReason } from "./accept.ts";
import { type ConnectionLimits, HTTP_REFUSAL_ANSWERS_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";

export interface RunningServer {
  hostname: string;
  port: number;
  /** Stops accepting connections and resolves once in-flight requests have finished. */
  shutdown(): Promise<void>;
  /** Open connections and refusals; `bounded` false when this runtime cannot enforce them. */
  readonly gate: ConnectionGate;
  readonly bounded: boolean;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
  onError: (err: unknown) => void;
  /** PEM certificate chain and private key: serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
  /** Connection bounds (ConnectionLimits); default: no bound worth the name. */
  limits?: ConnectionLimits;
  /** Where refusals are logged (rate-limited). */
  logger?: Logger;
  /** Bytes sent on a refused plain-HTTP connection before it is closed (an HTTP response). */
  refusal?: (reason: RefusalReason) => Uint8Array;
}

const UNBOUNDED: ConnectionLimits = {
  max: Number.MAX_SAFE_INTEGER,
  perAddressMax: Number.MAX_SAFE_INTEGER,
};

interface BunServer {
  port: number;
  hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request) => Response | Promise<Response>;
    error: (err: unknown) => Response;
    /** Seconds a connection may stay silent; long polls wait up to 30 s, SSE sends a keep-alive every 15 s. */
    idleTimeout: number;
    maxRequestBodySize: number;
    tls?: { cert: string; key: string };
  }): BunServer;
}

/** The runtime this process runs on. */
export function runtimeName(): "deno" | "bun" | "other" {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "other";
}

/** One connection served by Deno's HTTP engine (what serveHttpOnConnection returns). */
interface ConnectionServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: (request: Request) => Response | Promise<Response>,
  onError: (err: unknown) => Response,
  onListen: (scheme: string) => void,
) => ConnectionServer;

/** Deno's per-connection HTTP server, when this Deno has it (2.x: Deno[Deno.internal]). */
function serveOnConnectionHook(): ServeOnConnection | undefined {
  const deno = Deno as unknown as { internal?: symbol } & Record<symbol, unknown>;
  if (typeof deno.internal !== "symbol") return undefined;
  const internals = deno[deno.internal] as { serveHttpOnConnection?: unknown } | undefined;
  const hook = internals?.serveHttpOnConnection;
  return typeof hook === "function" && hook.length === 5 ? hook as ServeOnConnection : undefined;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

function serveDeno(
  options: ServeOptions,
  gate: ConnectionGate,
  serveOnConnection: ServeOnConnection,
): RunningServer {
  const listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: ["h2", "http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const servers = new Set<ConnectionServer>();
  const onError = (err: unknown) => {
    options.onError(err);
    return new Response("internal error", { status: 500 });
  };
  let answering = 0;
  const refuse = (conn: Deno.Conn, reason: RefusalReason) => {
    const bytes = options.tls === undefined && answering < HTTP_REFUSAL_ANSWERS_MAX
      ? options.refusal?.(reason)
      : undefined;
    if (bytes === undefined) return closeQuietly(conn);
    answering++;
    conn.write(bytes).catch(() => {}).finally(() => {
      answering--;
      closeQuietly(conn);
    });
  };
  const loop = acceptLoop(listener, gate, (conn, address) => {
    let server: ConnectionServer;
    try {
      if (options.tls === undefined) (conn as Deno.TcpConn).setNoDelay(true);
      server = serveOnConnection(conn, undefined, options.fetch, onError, () => {});
    } catch (err) {
      gate.release(address);
      closeQuietly(conn);
      options.onError(err);
      return;
    }
    servers.add(server);
    // A connection's end (a reset included) is not an error worth a log line per connection.
    server.finished.catch(() => {}).finally(() => {
      servers.delete(server);
      gate.release(address);
    });
  }, refuse);
  let stopping: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    gate,
    bounded: true,
    shutdown() {
      stopping ??= (async () => {
        loop.stop();
        await loop.done;
        await Promise.all([...servers].map((s) => s.shutdown().catch(() => {})));
      })();
      return stopping;
    },
  };
}

export function serve(options: ServeOptions): Promise<RunningServer> {
  const gate = new ConnectionGate("http", options.limits ?? UNBOUNDED, options.logger);
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun !== undefined) {
    const server = bun.serve({
      hostname: options.hostname,
      port: options.port,
      fetch: options.fetch,
      error: (err) => {
        options.onError(err);
        return new Response("internal error", { status: 500 });
      },
      idleTimeout: 120,
      // Bodies are bounded by the app's own limit, with its own 413 answer.
      maxRequestBodySize: 2 ** 31 - 1,
      ...(options.tls ? { tls: options.tls } : {}),
    });
    return Promise.resolve({
      hostname: server.hostname,
      port: server.port,
      gate,
      bounded: false,
      shutdown: () => server.stop(false),
    });
  }
  const serveOnConnection = serveOnConnectionHook();
  if (serveOnConnection !== undefined) {
    try {
      return Promise.resolve(serveDeno(options, gate, serveOnConnection));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
        onError: (err) => {
          options.onError(err);
          return new Response("internal error", { status: 500 });
        },
        onListen: (addr) => {
          resolve({
            hostname: addr.hostname,
            port: addr.port,
            gate,
            bounded: false,
            shutdown: () => server.shutdown(),
          });
        },
      }, options.fetch);
      // Without the per-connection hook, an accept error (EMFILE) ends Deno.serve's loop with a
      // rejection that would end the process: report it instead.
      server.finished.catch((err) => options.onError(err));
    } catch (err) {
      reject(err);
    }
  });
}
