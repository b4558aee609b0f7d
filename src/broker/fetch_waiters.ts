/**
 * Long-poll fetches waiting for data, woken by the append itself (no polling loop). A waiter asks
 * for `minBytes` more bytes at a partition; every append to that partition adds its size, and the
 * waiter resolves once enough arrived, at its deadline, when its client goes away, or at shutdown.
 * The number of waiters is bounded (LONG_POLLS_MAX): one more is refused with TOO_MANY_REQUESTS.
 */
import type { Clock, Timer } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import type { PartitionLog } from "../storage/partition_log.ts";

interface Waiter {
  missingBytes: number;
  timer: Timer | undefined;
  done: () => void;
  finished: boolean;
}

export class FetchWaiters {
  readonly #byLog = new Map<PartitionLog, Set<Waiter>>();
  /** Every waiter, including those watching no log (an idle group member). */
  readonly #all = new Set<Waiter>();
  #count = 0;

  constructor(readonly clock: Clock, readonly max: number) {}

  /** Waiting fetches right now (the `sluice_open_long_polls` gauge). */
  get open(): number {
    return this.#count;
  }

  /**
   * Resolves when `minBytes` more bytes were appended to `logs` (one log, or any of several: a
   * group member waits on all its partitions), after `maxWaitMs`, when `signal` aborts, or at
   * {@link FetchWaiters.wakeAll}. Never rejects once it started waiting.
   */
  wait(
    logs: PartitionLog | readonly PartitionLog[],
    minBytes: number,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.#count >= this.max) {
      return Promise.reject(
        new SluiceError("TOO_MANY_REQUESTS", `${this.max} fetches are already waiting for data`),
      );
    }
    if (signal?.aborted) return Promise.resolve();
    const watched: readonly PartitionLog[] = Array.isArray(logs) ? logs : [logs as PartitionLog];
    return new Promise<void>((resolve) => {
      const onAbort = () => waiter.done();
      const waiter: Waiter = {
        missingBytes: Math.max(1, minBytes),
        timer: undefined,
        done: () => {
          if (waiter.finished) return;
          waiter.finished = true;
          this.#count--;
          for (const log of watched) {
            const set = this.#byLog.get(log);
            set?.delete(waiter);
            if (set?.size === 0) this.#byLog.delete(log);
          }
          this.#all.delete(waiter);
          waiter.timer?.cancel();
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        finished: false,
      };
      for (const log of watched) {
        let set = this.#byLog.get(log);
        if (set === undefined) this.#byLog.set(log, set = new Set());
        set.add(waiter);
      }
      this.#all.add(waiter);
      this.#count++;
      waiter.timer = this.clock.setTimer(waiter.done, maxWaitMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Called on every append: wakes the waiters of `log` that now have enough bytes. */
  notify(log: PartitionLog, appendedBytes: number): void {
    const waiters = this.#byLog.get(log);
    if (waiters === undefined) return;
    for (const w of [...waiters]) {
      w.missingBytes -= appendedBytes;
      if (w.missingBytes <= 0) w.done();
    }
  }

  /** Wakes every waiter of `log` (its topic was deleted), or every waiter (shutdown). */
  wakeAll(log?: PartitionLog): void {
    const waiters = log === undefined ? [...this.#all] : [...(this.#byLog.get(log) ?? [])];
    for (const w of waiters) w.done();
  }
}
