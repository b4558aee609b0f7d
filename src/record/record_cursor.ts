/**
 * Walking the records of one batch without decoding them into objects: the fields a compacting
 * log needs (offset delta, timestamp delta, where the key and value are and whether they are
 * null) are read straight from the bytes into the cursor's own fields, so a walk over a million
 * records allocates nothing (record_batch.ts's decodeRecordBatch, for the fronts, allocates per
 * record). The record layout is in record_batch.ts's module comment.
 *
 * Used by the append of a compacting log (every record must have a key: {@link checkRecordKeys})
 * and by the log cleaner (src/storage/cleaner/), which maps keys and filters records.
 */
import { SluiceError } from "../errors.ts";
import { decompress } from "./compression.ts";
import {
  ATTRIBUTES_AT,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  compressionAt,
  recordsCountAt,
} from "./record_batch.ts";
import { readVarint, readVarlong } from "./varint.ts";

/** Attributes bit 5: a control batch (transaction markers); clients may not write one. */
export const CONTROL_ATTRIBUTE = 0x20;

/** Whether the batch whose header is at `dv[pos]` is a control batch. */
export function isControlAt(dv: DataView, pos: number): boolean {
  return (dv.getInt16(pos + ATTRIBUTES_AT) & CONTROL_ATTRIBUTE) !== 0;
}

/**
 * A position in one batch's records section (decompressed), reading one record at a time. After
 * {@link next} returns true the fields describe that record; positions are into `bytes`.
 * Structurally a ByteCursor (bytes, pos, end), so varint.ts reads through it directly.
 */
export class RecordCursor {
  bytes: Uint8Array = new Uint8Array(0);
  pos = 0;
  end = 0;
  /** Records left to read, from the batch's recordsCount. */
  remaining = 0;
  /** Where the record starts (its length varint). */
  start = 0;
  /** Where its body starts (after the length varint): the attributes byte. */
  bodyStart = 0;
  /** Where the timestamp delta ends (the offset delta starts). */
  timestampDeltaEnd = 0;
  /** Exclusive end of the record. */
  recordEnd = 0;
  timestampDelta = 0;
  offsetDelta = 0;
  keyStart = 0;
  /** -1 for a null key. */
  keyLength = -1;
  /** -1 for a null value: a tombstone. */
  valueLength = -1;
  /** Where the value starts (after its length varint); its headers follow it. */
  valueStart = 0;

  /** Starts a walk over `count` records in `bytes[start..end)`. */
  reset(bytes: Uint8Array, start: number, end: number, count: number): void {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.remaining = count;
  }

  /**
   * Reads the next record's fields; false after the last one, when the records must end exactly
   * at the section's end. Throws CORRUPT_BATCH for a record that runs past it or is malformed.
   */
  next(): boolean {
    if (this.remaining === 0) {
      if (this.pos !== this.end) {
        throw new SluiceError(
          "CORRUPT_BATCH",
          `${this.end - this.pos} bytes after the last record of the batch`,
        );
      }
      return false;
    }
    this.remaining--;
    const sectionEnd = this.end;
    this.start = this.pos;
    const length = readVarint(this);
    this.bodyStart = this.pos;
    this.recordEnd = this.pos + length;
    if (length < 1 || this.recordEnd > sectionEnd) {
      throw new SluiceError("CORRUPT_BATCH", `record of length ${length} runs past its batch`);
    }
    // Fields are read against the record's own end, then the walk goes on from it.
    this.end = this.recordEnd;
    try {
      this.pos++; // attributes: unused in v2
      this.timestampDelta = readVarlong(this);
      this.timestampDeltaEnd = this.pos;
      this.offsetDelta = readVarint(this);
      this.keyLength = readVarint(this);
      this.keyStart = this.pos;
      if (this.keyLength > 0) this.pos += this.keyLength;
      if (this.keyLength < -1 || this.pos > this.recordEnd) {
        throw new SluiceError(
          "CORRUPT_BATCH",
          `a key of ${this.keyLength} bytes runs past its record`,
        );
      }
      this.valueLength = readVarint(this);
      this.valueStart = this.pos;
      if (this.valueLength < -1 || this.pos + Math.max(0, this.valueLength) > this.recordEnd) {
        throw new SluiceError(
          "CORRUPT_BATCH",
          `a value of ${this.valueLength} bytes runs past its record`,
        );
      }
    } finally {
      this.end = sectionEnd;
    }
    this.pos = this.recordEnd;
    return true;
  }
}

/**
 * The records section of the batch at `bytes[pos..pos+size)`: the bytes after its header as they
 * are, or decompressed (a new buffer) for gzip and LZ4. Throws UNSUPPORTED_COMPRESSION for a codec
 * Sluice cannot decode (snappy, zstd) and CORRUPT_BATCH for data that does not decompress.
 */
export function recordsSection(bytes: Uint8Array, dv: DataView, pos: number, size: number): {
  section: Uint8Array;
  start: number;
  end: number;
} {
  const codec = compressionAt(dv, pos);
  if (codec === 0) return { section: bytes, start: pos + BATCH_HEADER_BYTES, end: pos + size };
  const section = decompress(codec, bytes.subarray(pos + BATCH_HEADER_BYTES, pos + size));
  return { section, start: 0, end: section.length };
}

/**
 * A compacting log's rule for appends (Kafka's LogValidator): every record of every batch in
 * `bytes` (checked by checkAppendBatches first) must have a key; INVALID_RECORD otherwise, as
 * Kafka's "Compacted topic cannot accept message without key". Compressed batches are
 * decompressed to look; a codec Sluice cannot decode is UNSUPPORTED_COMPRESSION, since the rule
 * cannot be checked (nor the log later cleaned). Allocates one cursor per call, and for
 * compressed batches their decompressed bytes; nothing per record.
 */
export function checkRecordKeys(bytes: Uint8Array, dv: DataView, length: number): void {
  const cursor = new RecordCursor();
  for (let pos = 0; pos < length; pos += batchSizeAt(dv, pos)) {
    if (isControlAt(dv, pos)) continue;
    const size = batchSizeAt(dv, pos);
    const { section, start, end } = recordsSection(bytes, dv, pos, size);
    cursor.reset(section, start, end, recordsCountAt(dv, pos));
    while (cursor.next()) {
      if (cursor.keyLength < 0) {
        throw new SluiceError(
          "INVALID_RECORD",
          "Compacted topic cannot accept message without key",
          { position: pos },
        );
      }
    }
  }
}
