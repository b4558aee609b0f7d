/**
 * Time as a dependency: storage and broker code read time and set timers only through a Clock, so
 * tests drive timeouts, retention and flush intervals without sleeping.
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
  /** Calls `fn` once after `delayMs`. */
  setTimer(fn: () => void, delayMs: number): Timer;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(fn, delayMs) {
    const id = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(id) };
  },
};

/** A clock that moves only when told to; timers fire inside {@link ManualClock.advance}. */
export class ManualClock implements Clock {
  #nowMs: number;
  #timers: { atMs: number; fn: () => void; seq: number }[] = [];
  #seq = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  setTimer(fn: () => void, delayMs: number): Timer {
    const timer = { atMs: this.#nowMs + Math.max(0, delayMs), fn, seq: this.#seq++ };
    this.#timers.push(timer);
    return {
      cancel: () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
    };
  }

  /** Moves time forward, firing due timers in time order. */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.atMs <= targetMs)
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#nowMs = Math.max(this.#nowMs, due.atMs);
      due.fn();
    }
    this.#nowMs = targetMs;
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}
