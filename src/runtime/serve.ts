/**
 * An HTTP listener on Deno.serve or Bun.serve: the one server call that differs between runtimes.
 * Both take a fetch handler (Request -> Response), so the Hono app runs unchanged on either.
 */

export interface RunningServer {
  hostname: string;
  port: number;
  /** Stops accepting connections and resolves once in-flight requests have finished. */
  shutdown(): Promise<void>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
  onError: (err: unknown) => void;
  /** PEM certificate chain and private key: serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
}

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

export function serve(options: ServeOptions): Promise<RunningServer> {
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
      shutdown: () => server.stop(false),
    });
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
            shutdown: () => server.shutdown(),
          });
        },
      }, options.fetch);
    } catch (err) {
      reject(err);
    }
  });
}
