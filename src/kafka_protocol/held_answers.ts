/**
 * Answers held back for a moment so that several leave in one socket write (server.ts). When an
 * answer is ready while its connection's next request is already queued (a producer keeps up to 5
 * requests in flight), the connection holds the answer, serves the next request, and writes both
 * together: one system call and one wake-up of the client for several answers. Measured at 500,000
 * records/s from a librdkafka producer: 40% of the answers were ready with the next request queued.
 *
 * An answer is never held past the current turn of the event loop: if the next request waits (a
 * long poll, replication for acks=all, an fsync), a 0 ms timer writes what is held. Only small
 * answers are held (HOLD_BYTES_MAX together, HOLD_ANSWERS_MAX of them); order is kept, since held
 * answers always go out before any later one.
 */

/** Bytes of held answers at most: larger answers (record batches) are written at once. */
export const HOLD_BYTES_MAX = 16 * 1024;
/** Answers held at most. */
export const HOLD_ANSWERS_MAX = 32;

export class HeldAnswers {
  readonly #write: (chunks: Uint8Array[]) => Promise<void>;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #answers = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `write` hands chunks to the socket, in order (the connection's write). */
  constructor(write: (chunks: Uint8Array[]) => Promise<void>) {
    this.#write = write;
  }

  get size(): number {
    return this.#answers;
  }

  /**
   * Holds `answer` (its chunks) if it is small enough and there is room: true when held (the
   * caller must not write it), false when it must be written now (flush(answer)).
   */
  tryHold(answer: readonly Uint8Array[]): boolean {
    let bytes = 0;
    for (const c of answer) bytes += c.length;
    if (this.#answers >= HOLD_ANSWERS_MAX || this.#bytes + bytes > HOLD_BYTES_MAX) return false;
    for (const c of answer) this.#chunks.push(c);
    this.#bytes += bytes;
    this.#answers++;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, 0);
    return true;
  }

  /** Writes what is held and then `last` (if any) in one write; resolves as that write does. */
  flush(last?: readonly Uint8Array[]): Promise<void> {
    const chunks = this.take();
    if (last !== undefined) { for (const c of last) chunks.push(c); }
    return chunks.length === 0 ? Promise.resolve() : this.#write(chunks);
  }

  /** What is held, no longer held (a closing connection decides what becomes of it). */
  take(): Uint8Array[] {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    this.#answers = 0;
    return chunks;
  }
}
