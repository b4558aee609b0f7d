/**
 * Connection admission, shared by the HTTP and the Kafka listener: a {@link ConnectionGate} counts
 * a listener's open connections, in total and per client address, and refuses one over either
 * bound (ConnectionLimits, src/limits.ts); {@link acceptLoop} is the accept loop of a Deno
 * listener that asks the gate about every connection and survives running out of descriptors.
 *
 * Why an accept loop of our own: on Deno 2.9, EMFILE in Deno.serve's accept loop rejects a
 * promise nobody can catch and ends the process, and node:net's server stops accepting for good
 * (silently). Deno.listen's accept() rejects with the error instead, so the loop here can answer:
 * with a spare descriptor held in reserve it closes the reserve, accepts the waiting connection,
 * closes it at once (a refusal the client sees, not a hang), and takes the reserve back; without
 * one it waits (ACCEPT_BACKOFF_MS_MIN, doubling to ACCEPT_BACKOFF_MS_MAX) and tries again. Either
 * way serving resumes as soon as descriptors free up.
 *
 * Refusals are counted by reason and logged at most once per CONNECTION_REFUSAL_LOG_INTERVAL_MS
 * (with the number left unlogged), so a flood cannot fill the log.
 */
import {
  ACCEPT_BACKOFF_MS_MAX,
  ACCEPT_BACKOFF_MS_MIN,
  CONNECTION_REFUSAL_LOG_INTERVAL_MS,
  type ConnectionLimits,
} from "../limits.ts";
import type { Logger } from "../logger.ts";

export const REFUSAL_REASONS = [
  /** The listener has its maximum of open connections. */
  "listener_limit",
  /** The client's address has its maximum of open connections on this listener. */
  "address_limit",
  /** accept() failed for want of descriptors (EMFILE, ENFILE). */
  "descriptors",
  /** accept() failed otherwise (a connection aborted before it was accepted, ...). */
  "accept_error",
] as const;
export type RefusalReason = typeof REFUSAL_REASONS[number];

/** A listener's open connections and refusals, for /metrics. */
export interface ConnectionStats {
  listener: string;
  open: number;
  limits: ConnectionLimits;
  refused: ReadonlyMap<RefusalReason, number>;
}

export class ConnectionGate {
  readonly listener: string;
  readonly limits: ConnectionLimits;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  #open = 0;
  /** Open connections per client address; every entry is >= 1, so there are at most `max`. */
  readonly #byAddress = new Map<string, number>();
  readonly #refused = new Map<RefusalReason, number>(REFUSAL_REASONS.map((r) => [r, 0]));
  #lastLogAt = -Infinity;
  #unlogged = 0;

  constructor(
    listener: string,
    limits: ConnectionLimits,
    logger?: Logger,
    now: () => number = () => performance.now(),
  ) {
    this.listener = listener;
    this.limits = limits;
    this.#logger = logger;
    this.#now = now;
  }

  get open(): number {
    return this.#open;
  }

  /** Counts a connection from `address` in, or returns why it is refused (and counts that). */
  admit(address: string): RefusalReason | null {
    if (this.#open >= this.limits.max) {
      this.refused("listener_limit", `${this.limits.max} connections are open`, address);
      return "listener_limit";
    }
    const n = this.#byAddress.get(address) ?? 0;
    if (n >= this.limits.perAddressMax) {
      this.refused(
        "address_limit",
        `${this.limits.perAddressMax} connections from this address are open`,
        address,
      );
      return "address_limit";
    }
    this.#byAddress.set(address, n + 1);
    this.#open++;
    return null;
  }

  /** An admitted connection from `address` has closed. */
  release(address: string): void {
    const n = this.#byAddress.get(address);
    if (n === undefined) return;
    if (n <= 1) this.#byAddress.delete(address);
    else this.#byAddress.set(address, n - 1);
    this.#open--;
  }

  /** Counts a refusal; logs it unless one was logged less than the interval ago. */
  refused(reason: RefusalReason, detail: string, address?: string): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
    const now = this.#now();
    if (now - this.#lastLogAt < CONNECTION_REFUSAL_LOG_INTERVAL_MS) {
      this.#unlogged++;
      return;
    }
    this.#logger?.warn("refusing connections", {
      listener: this.listener,
      reason,
      detail,
      client: address,
      open: this.#open,
      max: this.limits.max,
      perAddressMax: this.limits.perAddressMax,
      refusedUnloggedSinceLast: this.#unlogged,
    });
    this.#lastLogAt = now;
    this.#unlogged = 0;
  }

  stats(): ConnectionStats {
    return {
      listener: this.listener,
      open: this.#open,
      limits: this.limits,
      refused: this.#refused,
    };
  }
}

/** True for EMFILE (this process) and ENFILE (the whole system): out of descriptors. */
export function isDescriptorExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "EMFILE" || code === "ENFILE") return true;
  return /\(os error (23|24)\)/.test(String(err));
}

/** One descriptor held back so that a connection can still be refused when EMFILE strikes. */
class SpareDescriptor {
  #file: Deno.FsFile | undefined;

  constructor() {
    this.take();
  }

  /** Opens the spare again (when it is not held); false when that fails (still no descriptor). */
  take(): boolean {
    if (this.#file !== undefined) return true;
    try {
      this.#file = Deno.openSync("/dev/null", { read: true });
      return true;
    } catch {
      return false;
    }
  }

  /** Frees the spare's descriptor for one accept; false when none is held. */
  release(): boolean {
    if (this.#file === undefined) return false;
    try {
      this.#file.close();
    } catch { /* already closed */ }
    this.#file = undefined;
    return true;
  }
}

export interface AcceptLoop {
  /** Resolves when the loop has ended (the listener was closed, or stop() was called). */
  readonly done: Promise<void>;
  /** Ends the loop and closes the listener; connections already handed over are not touched. */
  stop(): void;
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * Accepts connections on `listener` until it is closed: each one the gate admits goes to
 * `onAccepted` (which must call `gate.release(address)` once it is closed); one the gate refuses
 * goes to `onRefused` (default: closed at once). Accept errors never end the loop.
 */
export function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  gate: ConnectionGate,
  onAccepted: (conn: C, address: string) => void,
  onRefused: (conn: C, reason: RefusalReason) => void = closeQuietly,
): AcceptLoop {
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const spare = new SpareDescriptor();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });
  const done = (async () => {
    let backoff = 0;
    while (!stopped) {
      let conn: C;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stopped || err instanceof Deno.errors.BadResource) break;
        if (isDescriptorExhaustion(err)) {
          if (spare.release()) {
            // Refuse the waiting connection with the spare's descriptor instead of leaving it
            // hanging in the backlog; then take the spare back.
            try {
              const refused = await listener.accept();
              closeQuietly(refused);
              gate.refused("descriptors", String(err));
              spare.take();
              continue;
            } catch (again) {
              spare.take();
              if (stopped || again instanceof Deno.errors.BadResource) break;
            }
          }
          gate.refused("descriptors", String(err));
        } else gate.refused("accept_error", String(err));
        backoff = Math.min(Math.max(backoff * 2, ACCEPT_BACKOFF_MS_MIN), ACCEPT_BACKOFF_MS_MAX);
        await pause(backoff);
        continue;
      }
      backoff = 0;
      spare.take();
      const address = (conn.remoteAddr as Deno.NetAddr).hostname ?? "unknown";
      const refusal = gate.admit(address);
      if (refusal !== null) onRefused(conn, refusal);
      else onAccepted(conn, address);
    }
    spare.release();
  })();
  return {
    done,
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      wake?.();
      closeQuietly(listener);
    },
  };
}
