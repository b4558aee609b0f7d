/**
 * Sparse offset index of one segment: `<baseOffset>.index`.
 *
 * Entry: 8 bytes, big-endian (Kafka's layout): relativeOffset u32 (offset - segment baseOffset),
 * position u32 (byte position of the batch that starts with that offset in the .log file).
 * One entry per `index.interval.bytes` of log: the segment decides when. Entries strictly increase
 * in both fields. Crash policy: entries past the recovery checkpoint are dropped and rebuilt from
 * the log; a file that fails {@link OffsetIndex.sanityCheck} is rebuilt whole.
 */
import { assert } from "../errors.ts";
import { IndexBuffer, type OpenIndexFile } from "./index_buffer.ts";

export const OFFSET_INDEX_ENTRY_BYTES = 8;

export class OffsetIndex extends IndexBuffer {
  /** The offset of the entry the last {@link lookup} found (the base offset when none). */
  lookedUpOffset: number;

  constructor(
    path: string,
    readonly baseOffset: number,
    maxEntries: number,
    image?: Uint8Array,
    open?: OpenIndexFile,
  ) {
    super(path, OFFSET_INDEX_ENTRY_BYTES, maxEntries, image, open);
    this.lookedUpOffset = baseOffset;
  }

  relativeOffsetAt(i: number): number {
    return this.dv.getUint32(i * OFFSET_INDEX_ENTRY_BYTES);
  }

  positionAt(i: number): number {
    return this.dv.getUint32(i * OFFSET_INDEX_ENTRY_BYTES + 4);
  }

  /** Offset of the last entry, or the segment's base offset when empty. */
  get lastOffset(): number {
    return this.baseOffset + (this.entries === 0 ? 0 : this.relativeOffsetAt(this.entries - 1));
  }

  /** Position of the last entry, or 0 (the segment's start) when empty. */
  get lastPosition(): number {
    return this.entries === 0 ? 0 : this.positionAt(this.entries - 1);
  }

  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    assert(relative >= 0 && relative <= 0xffff_ffff, `relative offset ${relative} out of u32`);
    const n = this.entries;
    assert(
      n === 0 || (relative > this.relativeOffsetAt(n - 1) && position > this.positionAt(n - 1)),
      `index entries must increase: ${offset}@${position} after entry ${n - 1}`,
    );
    const at = this.reserveEntry();
    this.dv.setUint32(at, relative);
    this.dv.setUint32(at + 4, position);
  }

  /**
   * Position of the largest entry whose offset is <= `offset`: a batch boundary from which a
   * forward scan of batch headers reaches `offset`. An empty index, or a target below the first
   * entry, returns 0: the segment's first batch.
   */
  lookup(offset: number): number {
    const relative = offset - this.baseOffset;
    const count = this.countPrefix((i) => this.relativeOffsetAt(i) <= relative);
    this.lookedUpOffset = this.baseOffset + (count === 0 ? 0 : this.relativeOffsetAt(count - 1));
    return count === 0 ? 0 : this.positionAt(count - 1);
  }

  /** The last entry at or before byte `position`, as [offset, position]; [base, 0] when none. */
  entryAtOrBefore(position: number): [number, number] {
    const count = this.countPrefix((i) => this.positionAt(i) <= position);
    if (count === 0) return [this.baseOffset, 0];
    return [this.baseOffset + this.relativeOffsetAt(count - 1), this.positionAt(count - 1)];
  }

  /** Drops entries whose position is >= `position` (their batches are being re-scanned). */
  truncateToPosition(position: number): void {
    this.truncateEntries(this.countPrefix((i) => this.positionAt(i) < position));
  }

  /** Why the loaded entries cannot be trusted for a log of `logBytes`, or undefined. */
  sanityCheck(logBytes: number): string | undefined {
    if (this.trailingBytes !== 0) return `${this.trailingBytes} bytes after the last whole entry`;
    for (let i = 0; i < this.entries; i++) {
      const position = this.positionAt(i);
      if (position >= logBytes) return `entry ${i} points at ${position}, past the log's end`;
      if (
        i > 0 && (this.relativeOffsetAt(i) <= this.relativeOffsetAt(i - 1) ||
          position <= this.positionAt(i - 1))
      ) {
        return `entry ${i} does not increase`;
      }
    }
    return undefined;
  }
}
