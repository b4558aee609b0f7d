/**
 * The cleaner's pacing: it yields to the event loop between slices of work, and keeps its I/O
 * under log.cleaner.io.max.bytes.per.second (Kafka's Throttler: bytes counted over periods of
 * about 300 ms; when a period runs ahead of the rate, a pause of what it is ahead).
 *
 * Slices adapt to the loop's load: CLEANER_SLICE_MS while nothing else runs, CLEANER_BUSY_SLICE_MS
 * (and reads of CLEANER_BUSY_SLICE_BYTES, so that a slice overruns by less) for
 * CLEANER_BUSY_MEMORY_MS after a yield during which other work ran (the yield took longer than
 * YIELD_IDLE_MS). After a slice, while other work is waiting, the cleaner yields until that work
 * has had (1 - CLEANER_BUSY_SHARE) / CLEANER_BUSY_SHARE times the slice's time, so that a slice
 * stretched by synchronous I/O (a segment write, the swap's fsyncs) is paid back. A clean alone on
 * the loop so loses under 1% to yields, and one that shares it with appends leaves them about
 * 1 - CLEANER_BUSY_SHARE of it.
 */
import type { Clock } from "../../clock.ts";
import {
  CLEANER_BUSY_MEMORY_MS,
  CLEANER_BUSY_SHARE,
  CLEANER_BUSY_SLICE_BYTES,
  CLEANER_BUSY_SLICE_MS,
  CLEANER_SLICE_BYTES,
  CLEANER_SLICE_MS,
} from "../../limits.ts";

/** The period over which the rate is measured (Kafka's Throttler.checkIntervalMs). */
const THROTTLE_PERIOD_MS = 300;
/** A yield that took longer than this ran other work (an idle one takes about 0.03 ms). */
const YIELD_IDLE_MS = 0.25;

/**
 * Lets the event loop run what is waiting before going on, and waits a little: a setTimeout(0),
 * clamped to a few ms once nested. For loops that wait on something (an fsync in flight, the next
 * tick), where a busy turn of the loop would only burn CPU.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Lets the event loop run what is waiting (I/O callbacks, due timers, requests) and goes on at
 * once: a setImmediate, which runs after the loop's timers and I/O poll of this turn, in Deno and
 * Bun alike (about 0.03 ms when nothing waits, where a nested setTimeout(0) takes 1-4 ms).
 */
export function yieldSlice(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Throttler {
  #periodStartMs: number;
  #bytes = 0;
  /** When the work since the last yield started (performance.now()). */
  #sliceStartMs = performance.now();
  /** Until when slices stay short: a yield ran other work (performance.now()). */
  #busyUntilMs = -Infinity;
  /** Time spent paused so far, for the stats. */
  pausedMs = 0;
  /** Yields, and those during which other work ran, for the stats and tests. */
  yields = 0;
  busyYields = 0;

  constructor(readonly clock: Clock, readonly bytesPerSecond: number) {
    this.#periodStartMs = clock.nowMs();
  }

  /** The slice now: short while the loop has had other work lately (module comment). */
  get sliceMs(): number {
    return performance.now() < this.#busyUntilMs ? CLEANER_BUSY_SLICE_MS : CLEANER_SLICE_MS;
  }

  /** Bytes of log to read at once now: fewer while slices are short. */
  get windowBytes(): number {
    return performance.now() < this.#busyUntilMs ? CLEANER_BUSY_SLICE_BYTES : CLEANER_SLICE_BYTES;
  }

  /**
   * Between two windows of work: yields to the event loop once a slice's time of work has run
   * since the last yield (or pause), and counts `bytes` of I/O against the rate; undefined when
   * the work goes straight on.
   */
  pace(bytes: number): Promise<void> | undefined {
    const pause = this.maybeThrottle(bytes);
    const now = performance.now();
    if (pause !== undefined) {
      this.#sliceStartMs = now;
      return pause;
    }
    const workedMs = now - this.#sliceStartMs;
    if (workedMs < this.sliceMs) return undefined;
    return this.#yield(workedMs);
  }

  /**
   * Yields until the other work waiting has had its share: as long as each yield finds some (it
   * takes longer than YIELD_IDLE_MS), until it has run (1 - CLEANER_BUSY_SHARE) / CLEANER_BUSY_SHARE
   * times the `workedMs` the cleaner just held the loop for (a slice, and any synchronous I/O in
   * it: a write, an fsync of the swap). A yield that finds nothing waiting ends it at once.
   */
  async #yield(workedMs: number): Promise<void> {
    const owedMs = (workedMs * (1 - CLEANER_BUSY_SHARE)) / CLEANER_BUSY_SHARE;
    let othersMs = 0;
    for (;;) {
      const start = performance.now();
      await yieldSlice();
      const now = performance.now();
      this.yields++;
      this.#sliceStartMs = now;
      if (now - start <= YIELD_IDLE_MS) return;
      this.busyYields++;
      this.#busyUntilMs = now + CLEANER_BUSY_MEMORY_MS;
      othersMs += now - start;
      if (othersMs >= owedMs) return;
    }
  }

  /** Counts `bytes` of I/O; resolves at once, or after the pause that brings the rate back. */
  maybeThrottle(bytes: number): Promise<void> | undefined {
    if (!Number.isFinite(this.bytesPerSecond)) return undefined;
    this.#bytes += bytes;
    const now = this.clock.nowMs();
    const elapsedMs = now - this.#periodStartMs;
    if (elapsedMs < THROTTLE_PERIOD_MS && this.#bytes < this.bytesPerSecond) return undefined;
    const dueMs = (this.#bytes / this.bytesPerSecond) * 1000;
    this.#periodStartMs = now;
    this.#bytes = 0;
    const pauseMs = Math.round(dueMs - elapsedMs);
    if (pauseMs <= 0) return undefined;
    this.pausedMs += pauseMs;
    return new Promise((resolve) => this.clock.setTimer(resolve, pauseMs));
  }
}
