/**
 * The cleaner's sequential reads of one segment: windows of whole batches, each read with one
 * pread of about CLEANER_SLICE_BYTES (one batch alone when it is larger), checked before anyone
 * looks inside: header bounds, magic and (with `verifyCrc`) the CRC-32C, and base offsets as the
 * segment's kind requires (contiguous in a never-cleaned segment, increasing and below the
 * segment's end in a compacted one; cleaner_checkpoint.ts). The cleaner rewrites what it reads into
 * a compacted segment where offsets are no longer checked as strictly, so it must never carry a
 * damaged batch over: what fails a check is CORRUPT_LOG naming file and position, and the clean
 * stops (a `lenient` walk, for headers only, just ends there instead). A clean computes each
 * batch's CRC once: the filter pass skips it for the segments its map pass read whole
 * (clean_env.ts's `verified`).
 */
import { SluiceError } from "../../errors.ts";
import { BATCH_BYTES_MAX, CLEANER_SLICE_BYTES } from "../../limits.ts";
import {
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  CHECK_CRC,
  checkBatch,
  lastOffsetDeltaAt,
  viewOf,
} from "../../record/record_batch.ts";
import { readAt } from "../../runtime/fs.ts";
import type { Segment } from "../segment.ts";

/**
 * The bytes windows are read into, reused from window to window and pass to pass (one per clean):
 * a window's bytes are valid until the next window is read. Twice CLEANER_SLICE_BYTES at first
 * (room for a window's last batch, cut by the slice, to be read whole: see BatchWindows.next);
 * grows to the largest window, at most BATCH_BYTES_MAX + CLEANER_SLICE_BYTES.
 */
export class WindowBuffer {
  bytes = new Uint8Array(0);

  /** The first `length` bytes, grown to hold them. */
  take(length: number): Uint8Array {
    if (this.bytes.length < length) {
      this.bytes = new Uint8Array(Math.max(length, 2 * CLEANER_SLICE_BYTES));
    }
    return this.bytes.subarray(0, length);
  }
}

export class BatchWindows {
  /** The window just read: whole batches, from byte {@link windowPosition} of the segment. */
  bytes: Uint8Array = new Uint8Array(0);
  dv: DataView = viewOf(this.bytes);
  windowPosition = 0;
  /** Where the next window starts. */
  position: number;
  /** The offset the next batch must start at (or after, in a compacted segment). */
  expected: number;
  /** The walk ended early at damage (lenient walks only). */
  stoppedAt: number | undefined;
  readonly #end: number;

  /**
   * From `position` (a batch boundary, whose batch starts at `expected`) to `end` (a batch
   * boundary; by default the segment's size now: a segment still growing, the active one, is read
   * up to where it was at the start).
   */
  constructor(
    readonly segment: Segment,
    position: number,
    expected: number,
    readonly verifyCrc: boolean,
    readonly lenient = false,
    end = segment.sizeBytes,
    /** Bytes a window reads (one batch more when that is larger); pace() may change it. */
    public sliceBytes = CLEANER_SLICE_BYTES,
    /** Where windows are read (without one, each into a new array). */
    readonly buffer?: WindowBuffer,
  ) {
    this.position = position;
    this.expected = expected;
    this.#end = Math.min(end, segment.sizeBytes);
  }

  /** Reads the next window; false at the end (or, lenient, at damage). */
  next(): boolean {
    const segment = this.segment;
    const end = this.#end;
    if (this.position >= end || this.stoppedAt !== undefined) return false;
    let length = Math.min(end - this.position, this.sliceBytes);
    if (length < BATCH_HEADER_BYTES) {
      return this.#damage(this.position, "a batch header is cut short");
    }
    const problem = segment.headerProblem(this.position, end);
    if (problem !== undefined) return this.#damage(this.position, problem);
    const first = batchSizeAt(segment.scratchView, 0);
    if (first > length) length = first;
    if (length > BATCH_BYTES_MAX + CLEANER_SLICE_BYTES) {
      return this.#damage(this.position, `batch of ${first} bytes`);
    }
    let bytes = this.buffer === undefined
      ? segment.readBytes(this.position, length)
      : this.#readInto(this.buffer.take(length), 0);
    let dv = viewOf(bytes);
    let pos = 0;
    while (pos + BATCH_HEADER_BYTES <= bytes.length) {
      const size = batchSizeAt(dv, pos);
      if (size < BATCH_HEADER_BYTES) {
        return this.#damage(this.position + pos, `batch length ${size}`);
      }
      if (pos + size > bytes.length) {
        if (this.position + pos + size > end) {
          return this.#damage(this.position + pos, `batch length ${size} does not fit the segment`);
        }
        // The slice cut this batch: the rest of it is read on into the buffer when it fits there,
        // rather than the whole batch again by the next window.
        const whole = pos + size;
        if (this.buffer === undefined || this.buffer.bytes.length < whole) break;
        const got = bytes.length;
        bytes = this.#readInto(this.buffer.bytes.subarray(0, whole), got);
        dv = viewOf(bytes);
      }
      const checked = checkBatch(
        bytes,
        dv,
        pos,
        pos + size,
        BATCH_BYTES_MAX,
        this.verifyCrc ? CHECK_CRC : 0,
      );
      if (typeof checked !== "number") return this.#damage(this.position + pos, checked.reason);
      const base = baseOffsetAt(dv, pos);
      const ok = segment.compacted
        ? base >= this.expected && base < segment.nextOffset
        : base === this.expected;
      if (!ok) {
        return this.#damage(
          this.position + pos,
          `base offset ${base}, expected ${segment.compacted ? "at least " : ""}${this.expected}`,
        );
      }
      this.expected = base + lastOffsetDeltaAt(dv, pos) + 1;
      pos += size;
    }
    if (pos === 0) return this.#damage(this.position, "no whole batch where one starts");
    this.bytes = bytes.subarray(0, pos);
    this.dv = viewOf(this.bytes);
    this.windowPosition = this.position;
    this.position += pos;
    return true;
  }

  /**
   * Reads `into`'s bytes from `from` on (as Segment.readBytes, into the buffer), those before it
   * being the window's already; returns `into`.
   */
  #readInto(into: Uint8Array, from: number): Uint8Array {
    const want = into.length - from;
    const n = readAt(this.segment.file.handle(), into.subarray(from), this.position + from);
    if (n < want) {
      throw new SluiceError(
        "CORRUPT_LOG",
        `${this.segment.logPath} ends at ${this.position + from + n}, want ${into.length}`,
        { file: this.segment.logPath, position: this.position + from + n },
      );
    }
    return into;
  }

  #damage(position: number, reason: string): boolean {
    if (this.lenient) {
      this.stoppedAt = position;
      return false;
    }
    throw new SluiceError(
      "CORRUPT_LOG",
      `corrupt batch in ${this.segment.logPath} at byte ${position}: ${reason} (the cleaner stops)`,
      { file: this.segment.logPath, position },
    );
  }
}
