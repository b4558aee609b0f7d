/**
 * The cleaner's pacing: it yields to the event loop between slices of work (CLEANER_SLICE_MS),
 * and keeps its I/O
 * under log.cleaner.io.max.bytes.per.second (Kafka's Throttler: bytes counted over periods of
 * about 300 ms; when a period runs ahead of the rate, a pause of what it is ahead).
 */
import type { Clock } from "../../clock.ts";
import { CLEANER_SLICE_MS } from "../../limits.ts";

/** The period over which the rate is measured (Kafka's Throttler.checkIntervalMs). */
const THROTTLE_PERIOD_MS = 300;

/**
 * Lets the event loop run what is waiting (I/O callbacks, timers, requests) before going on: a
 * setTimeout(0), the one macrotask after which Deno runs due timers too (a MessageChannel
 * message is cheaper, but a loop of them left timers waiting hundreds of ms).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class Throttler {
  #periodStartMs: number;
  #bytes = 0;
  /** When the work since the last yield started (performance.now()). */
  #sliceStartMs = performance.now();
  /** Time spent paused so far, for the stats. */
  pausedMs = 0;

  constructor(readonly clock: Clock, readonly bytesPerSecond: number) {
    this.#periodStartMs = clock.nowMs();
  }

  /**
   * Between two windows of work: yields to the event loop once CLEANER_SLICE_MS of work has run
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
    if (now - this.#sliceStartMs < CLEANER_SLICE_MS) return undefined;
    this.#sliceStartMs = now;
    return yieldToEventLoop();
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
