/**
 * The cleaner's pacing: it yields to the event loop between slices of work, and keeps its I/O
 * under log.cleaner.io.max.bytes.per.second (Kafka's Throttler: bytes counted over periods of
 * about 300 ms; when a period runs ahead of the rate, a pause of what it is ahead).
 */
import type { Clock } from "../../clock.ts";

/** The period over which the rate is measured (Kafka's Throttler.checkIntervalMs). */
const THROTTLE_PERIOD_MS = 300;

/** Lets the event loop run what is waiting (I/O callbacks, timers, requests) before going on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class Throttler {
  #periodStartMs: number;
  #bytes = 0;
  /** Time spent paused so far, for the stats. */
  pausedMs = 0;

  constructor(readonly clock: Clock, readonly bytesPerSecond: number) {
    this.#periodStartMs = clock.nowMs();
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
