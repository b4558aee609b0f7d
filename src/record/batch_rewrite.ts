/**
 * Rewriting a batch with fewer records, as Kafka's log cleaner does (MemoryRecords.filterTo):
 * the batch keeps its base offset, its lastOffsetDelta (so the producer's last sequence is still
 * baseSequence + lastOffsetDelta), producer id, epoch, base sequence, leader epoch, timestamp type
 * and codec; recordsCount becomes the records kept. A cleaned batch may so hold fewer records
 * than its offsets span (the offsets of the records dropped are gaps), or none at all.
 *
 * The delete horizon (Kafka's KIP-534): attributes bit 6 set means baseTimestamp is the time
 * after which the batch's tombstones (and transaction markers) may be removed; every record's
 * timestampDelta is then relative to it (negative, usually), so record timestamps read as
 * baseTimestamp + timestampDelta, as always. Setting the horizon rewrites the records' timestamp
 * deltas; otherwise the records kept are copied byte for byte (their deltas stay relative to the
 * original baseTimestamp, which stays: Kafka moves it to the first record kept, which changes no
 * timestamp).
 *
 * An empty batch (Kafka's writeEmptyHeader) is a 61-byte header with recordsCount 0, codec none,
 * baseTimestamp -1 and the original maxTimestamp: what the cleaner keeps of a batch whose records
 * all went when the batch must stay (a producer's last, or the last of a cleaned range).
 */
import { compress, type CompressionCodec } from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import {
  ATTRIBUTES_AT,
  BASE_TIMESTAMP_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  compressionAt,
  CRC_AT,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_AT,
  maxTimestampAt,
  readInt64,
  RECORDS_COUNT_AT,
  viewOf,
  writeInt64,
} from "./record_batch.ts";
import type { RecordCursor } from "./record_cursor.ts";
import { varintSize, varlongSize, writeVarint, writeVarlong } from "./varint.ts";

/** Attributes bit 6: baseTimestamp is the batch's delete horizon (KIP-534). */
export const DELETE_HORIZON_ATTRIBUTE = 0x40;
/** Attributes bit 3: LogAppendTime, every record's timestamp is the batch's maxTimestamp. */
const LOG_APPEND_TIME_ATTRIBUTE = 0x08;
const CODEC_MASK = 0x07;

/** The batch's delete horizon (ms), or -1 when it has none. */
export function deleteHorizonAt(dv: DataView, pos: number): number {
  if ((dv.getInt16(pos + ATTRIBUTES_AT) & DELETE_HORIZON_ATTRIBUTE) === 0) return -1;
  return readInt64(dv, pos + BASE_TIMESTAMP_AT);
}

/** A byte array written at its end and grown by doubling; reused from batch to batch. */
export class GrowableBytes {
  bytes: Uint8Array;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.bytes = new Uint8Array(initialBytes);
  }

  /** Makes room for `more` bytes past `length`; returns the array (which may be a new one). */
  reserve(more: number): Uint8Array {
    const need = this.length + more;
    if (need > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    return this.bytes;
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written so far (a view: valid until the next write). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

/** What {@link writeFilteredBatch} needs to know of the records kept. */
export interface KeptRecords {
  /** Start positions (in the records section) of the records kept, in order. */
  starts: Int32Array;
  count: number;
  /** Largest timestamp among them (CreateTime batches' new maxTimestamp). */
  maxTimestampMs: number;
}

/**
 * Appends to `out` the batch whose header is at `src[pos]` rebuilt with only `kept`'s records of
 * its records section `section` (decompressed when the batch is compressed), compressed again with
 * the batch's codec. `horizonMs` >= 0 sets the delete horizon (the batch has none yet): the kept
 * records' timestamp deltas are rewritten against it. `cursor` is scratch. Returns the new batch's
 * size. Compressed batches cost one compression (a new buffer); nothing else allocates per batch
 * beyond `out` and `plain` growing.
 */
export function writeFilteredBatch(
  out: GrowableBytes,
  plain: GrowableBytes,
  src: Uint8Array,
  pos: number,
  section: Uint8Array,
  kept: KeptRecords,
  horizonMs: number,
  cursor: RecordCursor,
): number {
  const dv = viewOf(src);
  const codec = compressionAt(dv, pos) as CompressionCodec;
  const attributes = dv.getInt16(pos + ATTRIBUTES_AT);
  const baseTimestamp = readInt64(dv, pos + BASE_TIMESTAMP_AT);
  // The records: straight after the header when uncompressed, else into `plain` to compress.
  const target = codec === 0 ? out : plain;
  const headerAt = out.length;
  if (codec === 0) {
    out.reserve(BATCH_HEADER_BYTES);
    out.length += BATCH_HEADER_BYTES;
  } else {
    plain.clear();
  }
  for (let i = 0; i < kept.count; i++) {
    cursor.reset(section, kept.starts[i], section.length, 1);
    cursor.next();
    if (horizonMs < 0) {
      const length = cursor.recordEnd - cursor.start;
      target.reserve(length).set(section.subarray(cursor.start, cursor.recordEnd), target.length);
      target.length += length;
      continue;
    }
    const delta = baseTimestamp + cursor.timestampDelta - horizonMs;
    const rest = cursor.recordEnd - cursor.timestampDeltaEnd;
    const bodyLength = 1 + varlongSize(delta) + rest;
    const bytes = target.reserve(varintSize(bodyLength) + bodyLength);
    let at = writeVarint(bytes, target.length, bodyLength);
    bytes[at++] = section[cursor.bodyStart];
    at = writeVarlong(bytes, at, delta);
    bytes.set(section.subarray(cursor.timestampDeltaEnd, cursor.recordEnd), at);
    target.length = at + rest;
  }
  if (codec !== 0) {
    const packed = compress(codec, plain.view());
    out.reserve(BATCH_HEADER_BYTES + packed.length);
    out.length += BATCH_HEADER_BYTES;
    out.append(packed);
  }
  const size = out.length - headerAt;
  const o = out.bytes;
  o.set(src.subarray(pos, pos + BATCH_HEADER_BYTES), headerAt);
  const odv = viewOf(o);
  odv.setInt32(headerAt + BATCH_LENGTH_AT, size - LOG_OVERHEAD);
  odv.setInt32(headerAt + RECORDS_COUNT_AT, kept.count);
  if ((attributes & LOG_APPEND_TIME_ATTRIBUTE) === 0 && kept.count > 0) {
    writeInt64(odv, headerAt + MAX_TIMESTAMP_AT, kept.maxTimestampMs);
  }
  if (horizonMs >= 0) {
    odv.setInt16(headerAt + ATTRIBUTES_AT, attributes | DELETE_HORIZON_ATTRIBUTE);
    writeInt64(odv, headerAt + BASE_TIMESTAMP_AT, horizonMs);
  }
  odv.setUint32(headerAt + CRC_AT, crc32c(o.subarray(headerAt + ATTRIBUTES_AT, headerAt + size)));
  return size;
}

/**
 * Appends to `out` the empty batch that stands for the batch at `src[pos]` (see the module
 * comment): its offsets, producer fields, leader epoch, timestamp type, transactional and control
 * bits and maxTimestamp; no records, codec none, no delete horizon.
 */
export function writeEmptyBatch(out: GrowableBytes, src: Uint8Array, pos: number): void {
  const dv = viewOf(src);
  const at = out.length;
  const o = out.reserve(BATCH_HEADER_BYTES);
  o.set(src.subarray(pos, pos + BATCH_HEADER_BYTES), at);
  out.length += BATCH_HEADER_BYTES;
  const odv = viewOf(o);
  const attributes = dv.getInt16(pos + ATTRIBUTES_AT) & ~(CODEC_MASK | DELETE_HORIZON_ATTRIBUTE);
  odv.setInt32(at + BATCH_LENGTH_AT, BATCH_HEADER_BYTES - LOG_OVERHEAD);
  odv.setInt16(at + ATTRIBUTES_AT, attributes);
  writeInt64(odv, at + BASE_TIMESTAMP_AT, -1);
  writeInt64(odv, at + MAX_TIMESTAMP_AT, maxTimestampAt(dv, pos));
  odv.setInt32(at + RECORDS_COUNT_AT, 0);
  odv.setUint32(at + CRC_AT, crc32c(o.subarray(at + ATTRIBUTES_AT, at + BATCH_HEADER_BYTES)));
}
