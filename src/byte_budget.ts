/**
 * A count of bytes held against a capacity: response bytes built but not yet taken by the
 * client's socket, request frames received but not yet served. The fronts (src/kafka_protocol,
 * src/http) share one per kind, so that what many connections hold together stays bounded, and
 * show `used` in /metrics.
 *
 * A budget never blocks: callers ask for what they want and get what is free
 * ({@link ByteBudget.takeUpTo}), all or nothing ({@link ByteBudget.tryTake}), or record bytes
 * they must hold anyway ({@link ByteBudget.force}: the one batch a fetch always returns, a
 * response's own encoding). Who waits for a release, and how, is the caller's business
 * ({@link ByteBudget.onRelease}).
 */
import { assert } from "./errors.ts";
import { BYTE_BUDGET_OVERDRAW_FACTOR } from "./limits.ts";

export class ByteBudget {
  #used = 0;
  /** Called after every release (the Kafka listener resumes connections waiting for memory). */
  onRelease: (() => void) | undefined;

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, `byte budget ${capacity} must be > 0`);
  }

  /** Bytes held now (may pass `capacity` by what was forced). */
  get used(): number {
    return this.#used;
  }

  /**
   * Whether a holder granted nothing may still force the one batch a fetch always returns: while
   * what is held stays under BYTE_BUDGET_OVERDRAW_FACTOR x capacity. Past that, fetches read
   * nothing until bytes come back, so what never-reading clients pin is bounded whatever their
   * number.
   */
  get mayOverdraw(): boolean {
    return this.#used < this.capacity * BYTE_BUDGET_OVERDRAW_FACTOR;
  }

  /** Bytes free now (0 once forced bytes pass the capacity). */
  get available(): number {
    return Math.max(0, this.capacity - this.#used);
  }

  /** Takes min(want, available); returns how many (0 when the budget is spent). */
  takeUpTo(want: number): number {
    const n = Math.max(0, Math.min(Math.floor(want), this.capacity - this.#used));
    this.#used += n;
    return n;
  }

  /**
   * Takes `n` when it fits, or when nothing is held at all (a single holder larger than the
   * budget may still proceed alone); false otherwise, and nothing is taken.
   */
  tryTake(n: number): boolean {
    if (this.#used > 0 && this.#used + n > this.capacity) return false;
    this.#used += n;
    return true;
  }

  /** Records `n` bytes held whatever is free. */
  force(n: number): void {
    assert(n >= 0, `forced ${n} bytes`);
    this.#used += n;
  }

  release(n: number): void {
    if (n <= 0) return;
    assert(n <= this.#used, `released ${n} bytes of a budget holding ${this.#used}`);
    this.#used -= n;
    this.onRelease?.();
  }
}

/**
 * What one holder (a connection, a response body) has taken from a budget, so that giving it all
 * back on close is exact and a late or repeated release gives back nothing twice.
 */
export class ByteLease {
  #held = 0;

  constructor(readonly budget: ByteBudget) {}

  get held(): number {
    return this.#held;
  }

  /** Takes up to `want` more bytes (what is free); returns how many. */
  takeUpTo(want: number): number {
    const n = this.budget.takeUpTo(want);
    this.#held += n;
    return n;
  }

  /** {@link ByteBudget.tryTake}, held by this lease when it succeeds. */
  tryTake(n: number): boolean {
    if (!this.budget.tryTake(n)) return false;
    this.#held += n;
    return true;
  }

  force(n: number): void {
    this.budget.force(n);
    this.#held += n;
  }

  /** Gives back `n` bytes, or all that is held when that is less. */
  release(n: number): void {
    const k = Math.min(n, this.#held);
    this.#held -= k;
    this.budget.release(k);
  }

  releaseAll(): void {
    this.release(this.#held);
  }
}

/** Wake passes per release at most; a release made meanwhile is picked up by the next pass. */
const WAKE_PASSES_MAX = 16;

/**
 * A budget's onRelease for holders waiting to take bytes: after bytes were given back, the
 * waiting holders retry in arrival order until one still does not fit (`retry` false).
 * Re-entrant releases (a woken holder may give bytes back at once) only ask for another pass.
 */
export function wakeInOrder<T extends { retry(): boolean }>(waiting: Set<T>): () => void {
  let waking = false;
  let again = false;
  return () => {
    if (waiting.size === 0) return;
    if (waking) {
      again = true;
      return;
    }
    waking = true;
    try {
      for (let pass = 0; pass < WAKE_PASSES_MAX && waiting.size > 0; pass++) {
        again = false;
        for (const w of waiting) if (!w.retry()) break;
        if (!again) break;
      }
    } finally {
      waking = false;
    }
  };
}
