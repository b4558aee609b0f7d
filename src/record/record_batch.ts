/**
 * Kafka RecordBatch v2 (magic 2), byte for byte as Kafka writes it on disk and on the wire.
 *
 * ```
 * offset  size  field                  notes
 *      0     8  baseOffset    int64    patched by the log on append; not covered by the CRC
 *      8     4  batchLength   int32    bytes after this field: a batch is 12 + batchLength long
 *     12     4  partitionLeaderEpoch int32
 *     16     1  magic         int8     2
 *     17     4  crc           uint32   CRC-32C of bytes 21..end
 *     21     2  attributes    int16    bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
 *     23     4  lastOffsetDelta int32  recordsCount - 1 for every batch a producer writes
 *     27     8  baseTimestamp int64
 *     35     8  maxTimestamp  int64
 *     43     8  producerId    int64    -1 without an idempotent producer
 *     51     2  producerEpoch int16
 *     53     4  baseSequence  int32
 *     57     4  recordsCount  int32
 *     61     .  records                compressed as one block when the codec is not none
 * ```
 * All integers big-endian. A record: length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
 * headersCount varint, then per header keyLength varint, key (UTF-8), valueLength varint, value.
 *
 * Hot-path helpers read header fields straight from a DataView; nothing here allocates per record
 * except {@link decodeRecordBatch}, which is for the fronts that must show records.
 */
import { SluiceError } from "../errors.ts";
import { BATCH_BYTES_MAX, HEADERS_PER_RECORD_MAX, RECORDS_PER_BATCH_MAX } from "../limits.ts";
import { crc32c } from "./crc32c.ts";
import {
  ByteCursor,
  readVarint,
  readVarlong,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
} from "./varint.ts";
import { compress, type CompressionCodec, decompress } from "./compression.ts";

export const MAGIC_V2 = 2;
/** baseOffset + batchLength: the bytes before what batchLength counts. */
export const LOG_OVERHEAD = 12;
export const BATCH_HEADER_BYTES = 61;

export const BASE_OFFSET_AT = 0;
export const BATCH_LENGTH_AT = 8;
export const PARTITION_LEADER_EPOCH_AT = 12;
export const MAGIC_AT = 16;
export const CRC_AT = 17;
export const ATTRIBUTES_AT = 21;
export const LAST_OFFSET_DELTA_AT = 23;
export const BASE_TIMESTAMP_AT = 27;
export const MAX_TIMESTAMP_AT = 35;
export const PRODUCER_ID_AT = 43;
export const PRODUCER_EPOCH_AT = 51;
export const BASE_SEQUENCE_AT = 53;
export const RECORDS_COUNT_AT = 57;

const COMPRESSION_MASK = 0x07;
/** The smallest encoding of one record: seven one-byte fields. */
const RECORD_BYTES_MIN = 7;
/** Attributes bit 3: LogAppendTime, every record takes the batch's maxTimestamp. */
export const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

const TWO_32 = 0x1_0000_0000;

/** Reads an int64 as a number; exact within ±2^53, which offsets and timestamps stay inside. */
export function readInt64(dv: DataView, at: number): number {
  return dv.getInt32(at) * TWO_32 + dv.getUint32(at + 4);
}

export function writeInt64(dv: DataView, at: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  dv.setInt32(at, hi);
  dv.setUint32(at + 4, value - hi * TWO_32);
}

/** A DataView over exactly the bytes of `bytes` (which may be a view into a larger buffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Total bytes of the batch at `pos` (12 + batchLength), read from its header without checks. */
export function batchSizeAt(dv: DataView, pos: number): number {
  return LOG_OVERHEAD + dv.getInt32(pos + BATCH_LENGTH_AT);
}

export function baseOffsetAt(dv: DataView, pos: number): number {
  return readInt64(dv, pos + BASE_OFFSET_AT);
}

export function lastOffsetDeltaAt(dv: DataView, pos: number): number {
  return dv.getInt32(pos + LAST_OFFSET_DELTA_AT);
}

export function maxTimestampAt(dv: DataView, pos: number): number {
  return readInt64(dv, pos + MAX_TIMESTAMP_AT);
}

export function recordsCountAt(dv: DataView, pos: number): number {
  return dv.getInt32(pos + RECORDS_COUNT_AT);
}

export function compressionAt(dv: DataView, pos: number): number {
  return dv.getInt16(pos + ATTRIBUTES_AT) & COMPRESSION_MASK;
}

/**
 * Why a batch failed its check; `tooLarge` separates a size-limit refusal from corruption, and
 * `invalid` marks counts Kafka refuses as an invalid record rather than a corrupt one.
 */
export interface BatchProblem {
  reason: string;
  tooLarge: boolean;
  invalid?: boolean;
}

/** {@link checkBatch} verifies the CRC-32C of the batch's bytes. */
export const CHECK_CRC = 1;
/**
 * {@link checkBatch} requires recordsCount = lastOffsetDelta + 1 >= 1, which every producer's
 * batch satisfies; the log relies on it to keep offsets contiguous.
 */
export const CHECK_COUNTS = 2;

/**
 * Checks the batch at `pos` in `bytes[..end)`: header bounds, length, magic, codec id, and per
 * `checks` (CHECK_CRC | CHECK_COUNTS) CRC-32C and counts. Returns the batch's total size, or a
 * problem. Allocates nothing on success, so appends and reads can call it for every batch.
 *
 * In Kafka's order for a client's batch (UnifiedLog.analyzeAndValidateRecords, then
 * LogValidator.validateBatch): a CRC that does not match is found before counts that do not add
 * up, which are `invalid` (Kafka's INVALID_RECORD) rather than corrupt.
 */
export function checkBatch(
  bytes: Uint8Array,
  dv: DataView,
  pos: number,
  end: number,
  maxBatchBytes: number,
  checks: number,
): number | BatchProblem {
  if (end - pos < BATCH_HEADER_BYTES) {
    return { reason: `${end - pos} bytes left, a batch header needs 61`, tooLarge: false };
  }
  const batchLength = dv.getInt32(pos + BATCH_LENGTH_AT);
  const size = LOG_OVERHEAD + batchLength;
  if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD) {
    return { reason: `batchLength ${batchLength} is shorter than a header`, tooLarge: false };
  }
  if (size > end - pos) {
    return {
      reason: `batch of ${size} bytes runs past the end (${end - pos} left)`,
      tooLarge: false,
    };
  }
  if (size > Math.min(maxBatchBytes, BATCH_BYTES_MAX)) {
    return {
      reason: `batch of ${size} bytes exceeds the limit of ${
        Math.min(maxBatchBytes, BATCH_BYTES_MAX)
      }`,
      tooLarge: true,
    };
  }
  const magic = dv.getInt8(pos + MAGIC_AT);
  if (magic !== MAGIC_V2) return { reason: `magic ${magic}, only 2 is supported`, tooLarge: false };
  const codec = dv.getInt16(pos + ATTRIBUTES_AT) & COMPRESSION_MASK;
  if (codec > 4) return { reason: `compression codec id ${codec} is not defined`, tooLarge: false };
  if ((checks & CHECK_CRC) !== 0) {
    const stored = dv.getUint32(pos + CRC_AT);
    const actual = crc32c(bytes.subarray(pos + ATTRIBUTES_AT, pos + size));
    if (stored !== actual) {
      return {
        reason: `CRC-32C mismatch: stored ${hex32(stored)}, computed ${hex32(actual)}`,
        tooLarge: false,
      };
    }
  }
  const count = dv.getInt32(pos + RECORDS_COUNT_AT);
  const lastOffsetDelta = dv.getInt32(pos + LAST_OFFSET_DELTA_AT);
  if (count < 0 || count > RECORDS_PER_BATCH_MAX || lastOffsetDelta < 0) {
    return {
      reason: `recordsCount ${count}, lastOffsetDelta ${lastOffsetDelta}`,
      tooLarge: false,
      invalid: true,
    };
  }
  if ((checks & CHECK_COUNTS) !== 0) {
    if (count < 1 || lastOffsetDelta !== count - 1) {
      return {
        reason: `recordsCount ${count} with lastOffsetDelta ${lastOffsetDelta} (want count - 1)`,
        tooLarge: false,
        invalid: true,
      };
    }
    // An uncompressed record takes at least 7 bytes (length, attributes, timestamp and offset
    // deltas, key and value lengths, header count): a small batch cannot claim millions of
    // records and move the log end by as many offsets.
    if (codec === 0 && count * RECORD_BYTES_MIN > size - BATCH_HEADER_BYTES) {
      return {
        reason: `recordsCount ${count} cannot fit in ${size - BATCH_HEADER_BYTES} bytes of records`,
        tooLarge: false,
        invalid: true,
      };
    }
  }
  return size;
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** Throws the typed error for a problem found in input from a client. */
export function throwBatchProblem(problem: BatchProblem, position: number): never {
  throw new SluiceError(
    problem.tooLarge ? "RECORD_TOO_LARGE" : problem.invalid ? "INVALID_RECORD" : "CORRUPT_BATCH",
    `batch at byte ${position}: ${problem.reason}`,
    { position },
  );
}

// ---------------------------------------------------------------------------------------------
// Records: encode and decode (the fronts' path, not the log's).

export interface RecordHeader {
  key: string;
  value: Uint8Array | null;
}

/**
 * A record to encode. A missing timestamp takes the batch's `timestampMs`. Key and value may be
 * strings, written as UTF-8 straight into the batch (no intermediate buffer per record).
 */
export interface RecordInput {
  key?: Uint8Array | string | null;
  value: Uint8Array | string | null;
  headers?: readonly RecordHeader[];
  timestamp?: number;
}

/** A decoded record; key and value are views into the (decompressed) batch bytes. */
export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: RecordHeader[];
}

export interface BatchOptions {
  /** Default 0: the log assigns real offsets on append. */
  baseOffset?: number;
  compression?: CompressionCodec;
  /** Timestamp for records that carry none (CreateTime); pass the clock's now. */
  timestampMs: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
}

export interface DecodedBatch {
  baseOffset: number;
  lastOffsetDelta: number;
  partitionLeaderEpoch: number;
  attributes: number;
  compression: number;
  /** 0 CreateTime, 1 LogAppendTime. */
  timestampType: 0 | 1;
  isTransactional: boolean;
  isControl: boolean;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  crc: number;
  sizeBytes: number;
  records: DecodedRecord[];
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

type Field = Uint8Array | string | null | undefined;

/** Encoded length of a key or value, -1 for null. */
function fieldLength(f: Field): number {
  if (f == null) return -1;
  return typeof f === "string" ? utf8Length(f) : f.length;
}

function bytesFieldSize(b: Uint8Array | null | undefined): number {
  return b == null ? 1 : varintSize(b.length) + b.length;
}

/** ASCII strings up to this long are copied by a loop: cheaper than a view plus encodeInto. */
const ASCII_LOOP_MAX = 256;

/** Writes a length-prefixed key or value whose encoded length is `length` (-1 = null). */
function writeField(out: Uint8Array, pos: number, f: Field, length: number): number {
  pos = writeVarint(out, pos, length);
  if (length <= 0 || f == null) return pos;
  if (typeof f !== "string") {
    out.set(f, pos);
  } else if (length === f.length && length <= ASCII_LOOP_MAX) {
    for (let i = 0; i < length; i++) out[pos + i] = f.charCodeAt(i);
  } else {
    utf8Encoder.encodeInto(f, out.subarray(pos, pos + length));
  }
  return pos + length;
}

function writeBytesField(out: Uint8Array, pos: number, b: Uint8Array | null | undefined): number {
  return writeField(out, pos, b, b == null ? -1 : b.length);
}

function recordBodySize(
  r: RecordInput,
  tsDelta: number,
  offsetDelta: number,
  keyLength: number,
  valueLength: number,
): number {
  let size = 1 + varlongSize(tsDelta) + varintSize(offsetDelta) +
    varintSize(keyLength) + Math.max(0, keyLength) +
    varintSize(valueLength) + Math.max(0, valueLength);
  const headers = r.headers ?? [];
  size += varintSize(headers.length);
  for (const h of headers) {
    const hkLength = utf8Length(h.key);
    size += varintSize(hkLength) + hkLength + bytesFieldSize(h.value);
  }
  return size;
}

/**
 * Encodes records as one RecordBatch v2. The records section is sized first and written into one
 * buffer; with compression it is then compressed and framed by the header.
 */
export function encodeRecordBatch(
  records: readonly RecordInput[],
  options: BatchOptions,
): Uint8Array {
  if (records.length === 0) {
    throw new SluiceError("INVALID_REQUEST", "a batch needs at least one record");
  }
  if (records.length > RECORDS_PER_BATCH_MAX) {
    throw new SluiceError(
      "INVALID_REQUEST",
      `a batch holds at most ${RECORDS_PER_BATCH_MAX} records`,
    );
  }
  const baseTimestamp = records[0].timestamp ?? options.timestampMs;
  let maxTimestamp = baseTimestamp;
  let recordsBytes = 0;
  // Sizes from the sizing pass, reused by the writing pass: three arrays per batch, none per record.
  const bodySizes = new Int32Array(records.length);
  const keyLengths = new Int32Array(records.length);
  const valueLengths = new Int32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const ts = r.timestamp ?? options.timestampMs;
    if (ts > maxTimestamp) maxTimestamp = ts;
    if ((r.headers?.length ?? 0) > HEADERS_PER_RECORD_MAX) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `a record has at most ${HEADERS_PER_RECORD_MAX} headers`,
      );
    }
    keyLengths[i] = fieldLength(r.key);
    valueLengths[i] = fieldLength(r.value);
    const body = recordBodySize(r, ts - baseTimestamp, i, keyLengths[i], valueLengths[i]);
    bodySizes[i] = body;
    recordsBytes += varintSize(body) + body;
  }

  const codec = options.compression ?? 0;
  const plain = new Uint8Array(codec === 0 ? BATCH_HEADER_BYTES + recordsBytes : recordsBytes);
  let pos = codec === 0 ? BATCH_HEADER_BYTES : 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const tsDelta = (r.timestamp ?? options.timestampMs) - baseTimestamp;
    pos = writeVarint(plain, pos, bodySizes[i]);
    plain[pos++] = 0; // record attributes: unused in v2
    pos = writeVarlong(plain, pos, tsDelta);
    pos = writeVarint(plain, pos, i);
    pos = writeField(plain, pos, r.key, keyLengths[i]);
    pos = writeField(plain, pos, r.value, valueLengths[i]);
    const headers = r.headers ?? [];
    pos = writeVarint(plain, pos, headers.length);
    for (const h of headers) {
      pos = writeVarint(plain, pos, utf8Length(h.key));
      pos += utf8Encoder.encodeInto(h.key, plain.subarray(pos)).written;
      pos = writeBytesField(plain, pos, h.value);
    }
  }

  let batch: Uint8Array;
  if (codec === 0) {
    batch = plain;
  } else {
    const packed = compress(codec, plain);
    batch = new Uint8Array(BATCH_HEADER_BYTES + packed.length);
    batch.set(packed, BATCH_HEADER_BYTES);
  }
  const dv = viewOf(batch);
  writeInt64(dv, BASE_OFFSET_AT, options.baseOffset ?? 0);
  dv.setInt32(BATCH_LENGTH_AT, batch.length - LOG_OVERHEAD);
  dv.setInt32(PARTITION_LEADER_EPOCH_AT, options.partitionLeaderEpoch ?? -1);
  dv.setInt8(MAGIC_AT, MAGIC_V2);
  dv.setInt16(ATTRIBUTES_AT, codec | (options.isTransactional ? TRANSACTIONAL_BIT : 0));
  dv.setInt32(LAST_OFFSET_DELTA_AT, records.length - 1);
  writeInt64(dv, BASE_TIMESTAMP_AT, baseTimestamp);
  writeInt64(dv, MAX_TIMESTAMP_AT, maxTimestamp);
  writeInt64(dv, PRODUCER_ID_AT, options.producerId ?? -1);
  dv.setInt16(PRODUCER_EPOCH_AT, options.producerEpoch ?? -1);
  dv.setInt32(BASE_SEQUENCE_AT, options.baseSequence ?? -1);
  dv.setInt32(RECORDS_COUNT_AT, records.length);
  dv.setUint32(CRC_AT, crc32c(batch.subarray(ATTRIBUTES_AT)));
  return batch;
}

function readBytesField(c: ByteCursor): Uint8Array | null {
  const length = readVarint(c);
  if (length < 0) return null;
  if (c.pos + length > c.end) {
    throw new SluiceError("CORRUPT_BATCH", `a field of ${length} bytes runs past its record`);
  }
  const out = c.bytes.subarray(c.pos, c.pos + length);
  c.pos += length;
  return out;
}

/**
 * Decodes the one batch that starts at byte 0 of `bytes` into records, decompressing if needed.
 * The batch is checked first (length, magic, CRC unless `verifyCrc` is false).
 */
export function decodeRecordBatch(bytes: Uint8Array, verifyCrc = true): DecodedBatch {
  const dv = viewOf(bytes);
  const checked = checkBatch(
    bytes,
    dv,
    0,
    bytes.length,
    BATCH_BYTES_MAX,
    verifyCrc ? CHECK_CRC : 0,
  );
  if (typeof checked !== "number") throwBatchProblem(checked, 0);
  const size = checked;
  const attributes = dv.getInt16(ATTRIBUTES_AT);
  const codec = attributes & COMPRESSION_MASK;
  const baseOffset = readInt64(dv, BASE_OFFSET_AT);
  const baseTimestamp = readInt64(dv, BASE_TIMESTAMP_AT);
  const maxTimestamp = readInt64(dv, MAX_TIMESTAMP_AT);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_BIT) !== 0;
  const count = dv.getInt32(RECORDS_COUNT_AT);

  const section = decompress(codec, bytes.subarray(BATCH_HEADER_BYTES, size));
  const c = new ByteCursor(section);
  // Grown per record, not preallocated: recordsCount is untrusted (a 122-byte batch can claim 8M).
  const records: DecodedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const length = readVarint(c);
    const recordEnd = c.pos + length;
    if (length < 0 || recordEnd > section.length) {
      throw new SluiceError("CORRUPT_BATCH", `record ${i} of length ${length} runs past its batch`);
    }
    const inner = new ByteCursor(section, c.pos, recordEnd);
    inner.pos++; // record attributes
    const tsDelta = readVarlong(inner);
    const offsetDelta = readVarint(inner);
    const key = readBytesField(inner);
    const value = readBytesField(inner);
    const headerCount = readVarint(inner);
    if (headerCount < 0 || headerCount > HEADERS_PER_RECORD_MAX) {
      throw new SluiceError("CORRUPT_BATCH", `record ${i} claims ${headerCount} headers`);
    }
    const headers: RecordHeader[] = new Array(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const hk = readBytesField(inner);
      if (hk === null) throw new SluiceError("CORRUPT_BATCH", `record ${i} has a null header key`);
      headers[h] = { key: utf8Decoder.decode(hk), value: readBytesField(inner) };
    }
    if (inner.pos !== recordEnd) {
      throw new SluiceError(
        "CORRUPT_BATCH",
        `record ${i} has ${recordEnd - inner.pos} stray bytes`,
      );
    }
    records.push({
      offset: baseOffset + offsetDelta,
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + tsDelta,
      key,
      value,
      headers,
    });
    c.pos = recordEnd;
  }
  if (c.pos !== section.length) {
    throw new SluiceError("CORRUPT_BATCH", `${section.length - c.pos} bytes after the last record`);
  }
  return {
    baseOffset,
    lastOffsetDelta: dv.getInt32(LAST_OFFSET_DELTA_AT),
    partitionLeaderEpoch: dv.getInt32(PARTITION_LEADER_EPOCH_AT),
    attributes,
    compression: codec,
    timestampType: logAppendTime ? 1 : 0,
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
    baseTimestamp,
    maxTimestamp,
    producerId: readInt64(dv, PRODUCER_ID_AT),
    producerEpoch: dv.getInt16(PRODUCER_EPOCH_AT),
    baseSequence: dv.getInt32(BASE_SEQUENCE_AT),
    crc: dv.getUint32(CRC_AT),
    sizeBytes: size,
    records,
  };
}

/** Decodes every batch of a range of whole batches (what a log read returns). */
export function decodeBatches(bytes: Uint8Array, verifyCrc = true): DecodedBatch[] {
  const dv = viewOf(bytes);
  const out: DecodedBatch[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < LOG_OVERHEAD) {
      throw new SluiceError("CORRUPT_BATCH", `${bytes.length - pos} stray bytes at ${pos}`);
    }
    const size = batchSizeAt(dv, pos);
    if (size < BATCH_HEADER_BYTES || pos + size > bytes.length) {
      throw new SluiceError("CORRUPT_BATCH", `batch at byte ${pos} has a bad length ${size}`, {
        position: pos,
      });
    }
    out.push(decodeRecordBatch(bytes.subarray(pos, pos + size), verifyCrc));
    pos += size;
  }
  return out;
}

/** UTF-8 bytes of a string (a convenience for callers building records). */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
