/**
 * The records of one batch as columns: one walk of its records section (record_cursor.ts's
 * RecordCursor, which reads the fields straight from the bytes) fills typed arrays with each
 * record's start and end, offset and timestamp deltas, and where its key and value are. The log
 * cleaner walks a batch once this way and then works on whole columns: it digests all the keys it
 * looks up before probing its offset map (src/storage/cleaner/offset_map.ts), which is what lets
 * the probes' cache misses overlap.
 *
 * The arrays are reused from batch to batch and grow by doubling as records are read (never from
 * the header's recordsCount alone, which a damaged batch may overstate); nothing allocates per
 * record.
 */
import { RecordCursor } from "./record_cursor.ts";

const INITIAL_RECORDS = 256;

export class RecordSpans {
  /** Records walked. Fields of record i are at index i of each array. */
  count = 0;
  /** Where the record starts (its length varint), and its exclusive end. */
  start = new Int32Array(INITIAL_RECORDS);
  end = new Int32Array(INITIAL_RECORDS);
  offsetDelta = new Int32Array(INITIAL_RECORDS);
  timestampDelta = new Float64Array(INITIAL_RECORDS);
  keyStart = new Int32Array(INITIAL_RECORDS);
  /** -1 for a null key. */
  keyLength = new Int32Array(INITIAL_RECORDS);
  /** -1 for a null value: a tombstone. */
  valueLength = new Int32Array(INITIAL_RECORDS);
  /** Scratch for callers: indices of records (the keys to look up, the records kept). */
  picks = new Int32Array(INITIAL_RECORDS);
  readonly cursor = new RecordCursor();

  /**
   * Walks the `count` records of `bytes[start..end)` (a batch's records section, decompressed).
   * Throws CORRUPT_BATCH as RecordCursor.next does: a record that runs past the section or is
   * malformed, fewer records than `count`, or bytes after the last one.
   */
  walk(bytes: Uint8Array, start: number, end: number, count: number): void {
    const cursor = this.cursor;
    cursor.reset(bytes, start, end, count);
    let n = 0;
    while (cursor.next()) {
      if (n === this.start.length) this.#grow();
      this.start[n] = cursor.start;
      this.end[n] = cursor.recordEnd;
      this.offsetDelta[n] = cursor.offsetDelta;
      this.timestampDelta[n] = cursor.timestampDelta;
      this.keyStart[n] = cursor.keyStart;
      this.keyLength[n] = cursor.keyLength;
      this.valueLength[n] = cursor.valueLength;
      n++;
    }
    this.count = n;
  }

  #grow(): void {
    const size = this.start.length * 2;
    this.start = grown(this.start, size);
    this.end = grown(this.end, size);
    this.offsetDelta = grown(this.offsetDelta, size);
    this.keyStart = grown(this.keyStart, size);
    this.keyLength = grown(this.keyLength, size);
    this.valueLength = grown(this.valueLength, size);
    this.picks = new Int32Array(size);
    const t = new Float64Array(size);
    t.set(this.timestampDelta);
    this.timestampDelta = t;
  }
}

function grown(a: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
