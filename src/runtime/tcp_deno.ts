/**
 * The TCP listener of tcp.ts on Deno's own sockets (Deno.listen, Deno.listenTls) instead of
 * node:net, whose server on Deno 2.9 stops accepting for good after one EMFILE. Accepting goes
 * through accept.ts (ConnectionGate bounds, descriptor exhaustion answered as a refusal); each
 * connection is a {@link TcpConnection} with the node:net path's behaviour:
 *
 * - reads: into a slab (4 KiB for a fresh connection, so idle ones cost little; 64 KiB once a
 *   read fills it) handed on as views, never copied; a new slab when less than a quarter is left.
 *   pause() stops reading after the read in progress. readInto(target) makes the next reads go
 *   into the caller's buffer instead, until it is full (a large Kafka frame lands where it is
 *   kept: no slab, no copy).
 * - writes: in order, one at a time; chunks under 16 KiB are gathered into one write (fewer
 *   calls), bigger ones (record batches) are written as they are. The promise resolves once the
 *   kernel has taken the bytes (back-pressure, as 'drain').
 * - close(false): pending writes first, then a FIN; reading goes on until the peer closes.
 * - idle: onIdle once `idleMs` passes without a byte either way (again after new activity).
 * - TLS: the handshake is done before onConnect, within TLS_HANDSHAKE_TIMEOUT_MS; a failure
 *   closes that connection alone and goes to onTlsError.
 */
import { TLS_HANDSHAKE_TIMEOUT_MS } from "../limits.ts";
import { acceptLoop, type ConnectionGate } from "./accept.ts";
import type { TcpConnection, TcpHandlers, TcpServer, TcpTlsOptions } from "./tcp.ts";

const SLAB_SMALL = 4 * 1024;
const SLAB_LARGE = 64 * 1024;
const GATHER_BELOW = 16 * 1024;

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

class DenoTcpConnection implements TcpConnection {
  readonly remote: string;
  readonly remoteHost: string;
  readonly #conn: Deno.Conn;
  readonly #handlers: TcpHandlers;
  #paused = false;
  #resumed: (() => void) | undefined;
  /** Where the next reads go instead of the slab (readInto), until it is full. */
  #target: Uint8Array | null = null;
  #closed = false;
  #ending = false;
  #writes: Promise<void> = Promise.resolve();
  /** performance.now() of the last byte either way, and whether onIdle fired since. */
  lastActivity = performance.now();
  idleFired = false;

  constructor(conn: Deno.Conn, handlers: TcpHandlers) {
    this.#conn = conn;
    this.#handlers = handlers;
    const peer = conn.remoteAddr as Deno.NetAddr;
    this.remoteHost = peer.hostname ?? "unknown";
    this.remote = `${this.remoteHost}:${peer.port ?? 0}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #active(): void {
    this.lastActivity = performance.now();
    this.idleFired = false;
  }

  /** Reads until the peer closes or an error; then disposes of the connection. */
  async run(onGone: () => void): Promise<void> {
    let slab = new Uint8Array(SLAB_SMALL);
    let at = 0;
    try {
      while (!this.#closed) {
        if (this.#paused) {
          await new Promise<void>((resolve) => this.#resumed = resolve);
          continue;
        }
        const target = this.#target;
        if (target !== null) {
          const n = await this.#conn.read(target);
          if (n === null || this.#closed) break;
          this.#active();
          if (this.#target === target) {
            this.#target = n === target.length ? null : target.subarray(n);
          }
          this.#handlers.onData(this, target.subarray(0, n));
          continue;
        }
        if (slab.length - at < slab.length / 4) {
          slab = new Uint8Array(slab.length);
          at = 0;
        }
        const n = await this.#conn.read(slab.subarray(at));
        if (n === null || this.#closed) break;
        this.#active();
        const chunk = slab.subarray(at, at + n);
        if (at === 0 && n === slab.length && slab.length < SLAB_LARGE) {
          slab = new Uint8Array(SLAB_LARGE);
          at = 0;
        } else at += n;
        this.#handlers.onData(this, chunk);
      }
    } catch (err) {
      if (!this.#closed && !(err instanceof Deno.errors.BadResource)) {
        this.#handlers.onError?.(this, err as Error);
      }
    } finally {
      this.#closed = true;
      closeQuietly(this.#conn);
      this.#resumed?.();
      onGone();
      this.#handlers.onClose(this);
    }
  }

  write(
    chunks: readonly Uint8Array[],
    onTaken?: (chunk: Uint8Array) => void,
  ): Promise<void> {
    if (this.#closed || this.#ending) {
      if (onTaken !== undefined) { for (const c of chunks) onTaken(c); }
      return Promise.resolve();
    }
    const next = this.#writes.then(() => this.#writeAll(chunks, onTaken));
    this.#writes = next.catch(() => {});
    return this.#writes;
  }

  /**
   * Writes `chunks` in order; `onTaken` is called for each chunk once the kernel has taken all
   * of it, and, after a failure or a close, for every chunk not reported yet (exactly once each).
   */
  async #writeAll(
    chunks: readonly Uint8Array[],
    onTaken: ((chunk: Uint8Array) => void) | undefined,
  ): Promise<void> {
    let gathered: Uint8Array[] = [];
    let gatheredBytes = 0;
    /** Chunks before this index have been reported to onTaken. */
    let reported = 0;
    const report = (upTo: number) => {
      if (onTaken !== undefined) { while (reported < upTo) onTaken(chunks[reported++]); }
      else reported = upTo;
    };
    const flush = async (upTo: number) => {
      if (gathered.length === 0) return;
      const one = gathered.length === 1 ? gathered[0] : new Uint8Array(gatheredBytes);
      if (gathered.length > 1) {
        let at = 0;
        for (const g of gathered) {
          one.set(g, at);
          at += g.length;
        }
      }
      gathered = [];
      gatheredBytes = 0;
      await this.#writeOne(one);
      report(upTo);
    };
    try {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        if (c.length >= GATHER_BELOW) {
          await flush(i);
          await this.#writeOne(c);
          report(i + 1);
        } else {
          gathered.push(c);
          gatheredBytes += c.length;
          if (gatheredBytes >= GATHER_BELOW) await flush(i + 1);
        }
      }
      await flush(chunks.length);
    } catch (err) {
      if (!this.#closed && !(err instanceof Deno.errors.BadResource)) {
        this.#handlers.onError?.(this, err as Error);
      }
      this.close(true);
    } finally {
      // Written, failed or closed: whatever was not reported holds nothing any more.
      report(chunks.length);
    }
  }

  async #writeOne(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length && !this.#closed) {
      at += await this.#conn.write(bytes.subarray(at));
      this.#active();
    }
  }

  readInto(target: Uint8Array | null): void {
    this.#target = target === null || target.length === 0 ? null : target;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const wake = this.#resumed;
    this.#resumed = undefined;
    wake?.();
  }

  close(now = false): void {
    if (this.#closed) return;
    if (now) {
      this.#closed = true;
      closeQuietly(this.#conn);
      this.resume();
      return;
    }
    if (this.#ending) return;
    this.#ending = true;
    void this.#writes.then(() => {
      if (this.#closed) return;
      this.#conn.closeWrite().catch(() => this.close(true));
    });
  }
}

async function handshake(conn: Deno.TlsConn): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      conn.handshake(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no TLS handshake within ${TLS_HANDSHAKE_TIMEOUT_MS} ms`)),
          TLS_HANDSHAKE_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// deno-lint-ignore require-await -- async so that a failed listen is a rejection, not a throw
export async function listenTcpDeno(
  hostname: string,
  port: number,
  handlers: TcpHandlers,
  gate: ConnectionGate,
  options: { tls?: TcpTlsOptions; idleMs?: number },
): Promise<TcpServer> {
  const listener = options.tls === undefined
    ? Deno.listen({ hostname, port })
    : Deno.listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key });
  const open = new Set<DenoTcpConnection>();
  /** Accepted, handshake not done yet (TLS): closed too on close(). */
  const handshaking = new Set<Deno.Conn>();
  const start = (conn: Deno.Conn, address: string) => {
    const c = new DenoTcpConnection(conn, handlers);
    open.add(c);
    handlers.onConnect?.(c);
    void c.run(() => {
      open.delete(c);
      gate.release(address);
    });
  };
  const loop = acceptLoop<Deno.Conn>(listener, gate, (conn, address) => {
    if (options.tls === undefined) {
      (conn as Deno.TcpConn).setNoDelay(true);
      start(conn, address);
      return;
    }
    handshaking.add(conn);
    handshake(conn as Deno.TlsConn).then(
      () => {
        handshaking.delete(conn);
        start(conn, address);
      },
      (err: Error) => {
        handshaking.delete(conn);
        closeQuietly(conn);
        gate.release(address);
        const peer = conn.remoteAddr as Deno.NetAddr;
        handlers.onTlsError?.(`${peer.hostname}:${peer.port}`, err);
      },
    );
  });
  let sweep: ReturnType<typeof setInterval> | undefined;
  const idleMs = options.idleMs ?? 0;
  if (idleMs > 0) {
    sweep = setInterval(() => {
      const now = performance.now();
      for (const c of open) {
        if (!c.idleFired && !c.closed && now - c.lastActivity >= idleMs) {
          c.idleFired = true;
          handlers.onIdle?.(c);
        }
      }
    }, Math.max(10, Math.min(1000, Math.floor(idleMs / 4))));
  }
  const addr = listener.addr as Deno.NetAddr;
  return {
    hostname,
    port: addr.port,
    gate,
    get connections() {
      return open.size;
    },
    async close() {
      clearInterval(sweep);
      loop.stop();
      await loop.done;
      for (const c of open) c.close(true);
      for (const c of handshaking) closeQuietly(c);
    },
  };
}
