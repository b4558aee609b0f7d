/**
 * A loopback TCP proxy for tests that need a connection to fail while the server behind it stays
 * up: `cut()` closes every open connection and closes each new one at once until `heal()`, so a
 * client is disconnected for exactly as long as the test says, while the test itself writes to
 * the server directly. Not a test file itself.
 */

export interface TcpProxy {
  /** "http://127.0.0.1:PORT": the proxy's address, for clients that should go through it. */
  endpoint: string;
  /** How many connections were accepted and passed on (not counting those refused while cut). */
  readonly passed: number;
  cut(): void;
  heal(): void;
  /** Stops listening, closes every connection and waits for all of it to end. */
  close(): Promise<void>;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Copies `from` to `to` until either ends; then closes both. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      for (let at = 0; at < n;) at += await to.write(buf.subarray(at, n));
    }
  } catch {
    // one side was closed (a cut, or the peer went away)
  } finally {
    closeQuietly(from);
    closeQuietly(to);
  }
}

/** Listens on a free loopback port and passes each connection on to 127.0.0.1:`targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let isCut = false;
  let passed = 0;

  const serve = async (conn: Deno.Conn) => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      closeQuietly(conn);
      return;
    }
    if (isCut) {
      closeQuietly(conn);
      closeQuietly(upstream);
      return;
    }
    passed++;
    open.add(conn);
    open.add(upstream);
    await Promise.all([pump(conn, upstream), pump(upstream, conn)]);
    open.delete(conn);
    open.delete(upstream);
  };

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (isCut) {
        closeQuietly(conn);
        continue;
      }
      const p = serve(conn);
      pumps.add(p);
      p.finally(() => pumps.delete(p));
    }
  })();

  return {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get passed() {
      return passed;
    },
    cut() {
      isCut = true;
      for (const conn of open) closeQuietly(conn);
    },
    heal() {
      isCut = false;
    },
    async close() {
      isCut = true;
      listener.close();
      for (const conn of open) closeQuietly(conn);
      await accepting;
      await Promise.all([...pumps]);
    },
  };
}
