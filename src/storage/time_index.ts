/**
 * Sparse time index of one segment: `<baseOffset>.timeindex`.
 *
 * Entry: 12 bytes, big-endian (Kafka's layout): timestamp i64, relativeOffset u32. An entry
 * (T, O) says: the largest timestamp among the batches up to and including the batch holding
 * offset O is T. Entries are added at offset-index points when the segment's max timestamp grew,
 * and once more when the segment is rolled, so timestamps and offsets both strictly increase.
 * Crash policy as the offset index: entries past the recovery checkpoint are rebuilt from the log.
 */
import { assert } from "../errors.ts";
import { readInt64, writeInt64 } from "../record/record_batch.ts";
import { IndexBuffer, type OpenIndexFile } from "./index_buffer.ts";

export const TIME_INDEX_ENTRY_BYTES = 12;

export class TimeIndex extends IndexBuffer {
  constructor(
    path: string,
    readonly baseOffset: number,
    maxEntries: number,
    image?: Uint8Array,
    open?: OpenIndexFile,
  ) {
    super(path, TIME_INDEX_ENTRY_BYTES, maxEntries, image, open);
  }

  timestampAt(i: number): number {
    return readInt64(this.dv, i * TIME_INDEX_ENTRY_BYTES);
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.dv.getUint32(i * TIME_INDEX_ENTRY_BYTES + 8);
  }

  /** Timestamp of the last entry, or -1 when empty. */
  get lastTimestamp(): number {
    return this.entries === 0 ? -1 : this.timestampAt(this.entries - 1);
  }

  get lastOffset(): number {
    return this.entries === 0 ? this.baseOffset : this.offsetAt(this.entries - 1);
  }

  /** Appends (timestamp, offset) when it moves the index forward; otherwise does nothing. */
  maybeAppend(timestamp: number, offset: number): void {
    if (this.isFull) return;
    const n = this.entries;
    if (n > 0 && (timestamp <= this.lastTimestamp || offset <= this.lastOffset)) return;
    const relative = offset - this.baseOffset;
    assert(relative >= 0 && relative <= 0xffff_ffff, `relative offset ${relative} out of u32`);
    const at = this.reserveEntry();
    writeInt64(this.dv, at, timestamp);
    this.dv.setUint32(at + 8, relative);
  }

  /**
   * Offset of the last entry whose timestamp is < `timestamp`: every record up to and including
   * that entry's batch is older than `timestamp`, so a search for the first record at or after
   * `timestamp` may start at that batch. Undefined when no entry qualifies (start at the segment).
   */
  lookupBefore(timestamp: number): number | undefined {
    const count = this.countPrefix((i) => this.timestampAt(i) < timestamp);
    return count === 0 ? undefined : this.offsetAt(count - 1);
  }

  /** Drops entries whose offset is >= `offset`. */
  truncateToOffset(offset: number): void {
    this.truncateEntries(this.countPrefix((i) => this.offsetAt(i) < offset));
  }

  sanityCheck(nextOffset: number): string | undefined {
    if (this.trailingBytes !== 0) return `${this.trailingBytes} bytes after the last whole entry`;
    for (let i = 0; i < this.entries; i++) {
      if (this.offsetAt(i) >= nextOffset) return `entry ${i} points past the segment's end`;
      if (
        i > 0 && (this.timestampAt(i) <= this.timestampAt(i - 1) ||
          this.offsetAt(i) <= this.offsetAt(i - 1))
      ) {
        return `entry ${i} does not increase`;
      }
    }
    return undefined;
  }
}
