/**
 * Reads across a log's segments (PartitionLog.read and the timestamp lookup), over the segment
 * list as it is at the call: the offset checked against the log's range and bound, then whole
 * batches. Segments are few (one per segment.bytes), so a binary search finds
 * the one holding an offset; a read in a gap of missing offsets between two segments answers the
 * first batch after the gap (the gap was reported when the log was opened).
 */
import { SluiceError } from "../errors.ts";
import { READ_BYTES_MAX } from "../limits.ts";
import {
  BATCH_HEADER_BYTES,
  batchSizeAt,
  decodeRecordBatch,
  maxTimestampAt,
  recordsCountAt,
  viewOf,
} from "../record/record_batch.ts";
import type { Logger } from "../logger.ts";
import type { DamageList } from "./log_damage.ts";
import type { LogConfig } from "./log_config.ts";
import type { ReadResult } from "./log_types.ts";
import type { Segment, SegmentRead } from "./segment.ts";
import { corruptAt } from "./storage_errors.ts";

/**
 * PartitionLog.read over an online log's (non-empty) segments: OFFSET_OUT_OF_RANGE outside
 * [log start, log end]; undefined from min(upTo, log end) on; else whole batches from the one
 * holding `offset`, at most maxBytes (clamped to 1..READ_BYTES_MAX) but at least one batch. The
 * log start may lie inside the first segment (DeleteRecords): a read from it answers the whole
 * batch that holds it, as Kafka's does; the reader skips the records before its offset. The bytes
 * are a view of `into` when it is large enough (see PartitionLog.read), else of fresh memory.
 */
export function readLog(
  segments: readonly Segment[],
  offset: number,
  maxBytes: number,
  upTo: number | undefined,
  verifyCrc: boolean,
  logStartOffset: number = segments[0].baseOffset,
  into?: Uint8Array,
): ReadResult | undefined {
  const logEndOffset = segments[segments.length - 1].nextOffset;
  if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > logEndOffset) {
    throw new SluiceError(
      "OFFSET_OUT_OF_RANGE",
      `offset ${offset} is outside [${logStartOffset}, ${logEndOffset}]`,
      { offset, logStartOffset, logEndOffset },
    );
  }
  const end = upTo === undefined || upTo > logEndOffset ? logEndOffset : upTo;
  if (offset >= end) return undefined;
  const limit = Math.max(1, Math.min(Math.floor(maxBytes) || 1, READ_BYTES_MAX));
  let r = readSegments(segments, offset, limit, verifyCrc, end, into);
  // Past a gap of missing offsets the first batch may start at or past the bound.
  if (r.firstOffset >= end) return undefined;
  r = withRecordsAfterEmptyBatches(segments, r, limit, verifyCrc, end);
  return {
    bytes: r.bytes,
    firstOffset: r.firstOffset,
    nextOffset: r.nextOffset,
    highWatermark: end,
    logStartOffset,
  };
}

/** Segments a read looks past for a record when what it found holds none (bounds the loop). */
const EMPTY_READ_SEGMENTS_MAX = 16;

/**
 * A read that found only batches without records (a compacted segment's emptied last batch, kept
 * for its offsets and producer state) goes on into the next segments, within `limit`, until it
 * finds one with records: a client would otherwise get nothing to consume and the same answer
 * again at the same offset (kafkajs waits so for ever). The batches are joined in one new buffer:
 * the rare case only (an emptied batch is 61 bytes), never the common one. The later reads get
 * fresh memory: `first` may be a view of the caller's buffer.
 */
function withRecordsAfterEmptyBatches(
  segments: readonly Segment[],
  first: SegmentRead,
  limit: number,
  verifyCrc: boolean,
  end: number,
): SegmentRead {
  if (hasRecords(first.bytes)) return first;
  const parts = [first.bytes];
  let size = first.bytes.length;
  let next = first.nextOffset;
  for (let i = 0; i < EMPTY_READ_SEGMENTS_MAX && next < end && size < limit; i++) {
    const more = readSegments(segments, next, limit - size, verifyCrc, end);
    if (more.firstOffset >= end || size + more.bytes.length > limit) break;
    parts.push(more.bytes);
    size += more.bytes.length;
    next = more.nextOffset;
    if (hasRecords(more.bytes)) break;
  }
  if (parts.length === 1) return first;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, firstOffset: first.firstOffset, nextOffset: next, position: first.position };
}

/** Whether a batch of `bytes` (whole batches) holds a record: its first one almost always. */
function hasRecords(bytes: Uint8Array): boolean {
  const dv = viewOf(bytes);
  for (let pos = 0; pos + BATCH_HEADER_BYTES <= bytes.length; pos += batchSizeAt(dv, pos)) {
    if (recordsCountAt(dv, pos) > 0) return true;
  }
  return false;
}

/** Index of the segment with the greatest baseOffset <= offset (binary search). */
export function segmentIndexFor(segments: readonly Segment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segments[mid].baseOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Whole batches from the one holding `offset` (which the caller checked is below the log end),
 * at most `limit` bytes but at least one batch, none after the first starting at or past `upTo`.
 * Never answers nothing: an offset no segment holds is CORRUPT_LOG.
 */
export function readSegments(
  segments: readonly Segment[],
  offset: number,
  limit: number,
  verifyCrc: boolean,
  upTo: number,
  into?: Uint8Array,
): SegmentRead {
  for (let i = segmentIndexFor(segments, offset); i < segments.length; i++) {
    const s = segments[i];
    const r = s.read(Math.max(offset, s.baseOffset), limit, verifyCrc, upTo, into);
    if (r !== undefined) return r;
  }
  const last = segments[segments.length - 1];
  throw corruptAt(last.logPath, last.sizeBytes, `no segment holds offset ${offset}`);
}

/**
 * The first record at or after `timestampMs` at or above `logStartOffset`. A batch whose
 * maxTimestamp reaches `timestampMs` but that holds no such record (one the cleaner emptied, or
 * below the log start) does not end the search: the next batches are looked at, as Kafka's
 * FileRecords.searchForTimestamp does.
 */
export function findRecordAtTimestamp(
  segments: readonly Segment[],
  timestampMs: number,
  logStartOffset: number,
  verifyCrc: boolean,
): { offset: number; timestampMs: number } | undefined {
  for (const s of segments) {
    for (
      let bytes = findBatchByTimestamp(s, timestampMs);
      bytes !== undefined;
      bytes = findBatchByTimestamp(s, timestampMs, s.foundPosition)
    ) {
      const batch = decodeRecordBatch(bytes, verifyCrc);
      for (const r of batch.records) {
        if (r.timestamp >= timestampMs && r.offset >= logStartOffset) {
          return { offset: r.offset, timestampMs: r.timestamp };
        }
      }
    }
  }
  return undefined;
}

/**
 * The record with the largest timestamp (the first such, in the first segment that reached it):
 * ListOffsets' max-timestamp spec (KIP-734), its offset and timestamp; undefined for a log with
 * no record (or none at or past logStartOffset).
 */
export function findRecordWithMaxTimestamp(
  segments: readonly Segment[],
  logStartOffset: number,
  verifyCrc: boolean,
): { offset: number; timestampMs: number } | undefined {
  let best: Segment | undefined;
  for (const s of segments) {
    if (s.maxTimestampMs >= 0 && (best === undefined || s.maxTimestampMs > best.maxTimestampMs)) {
      best = s;
    }
  }
  if (best === undefined) return undefined;
  const max = best.maxTimestampMs;
  for (
    let bytes = findBatchByTimestamp(best, max);
    bytes !== undefined;
    bytes = findBatchByTimestamp(best, max, best.foundPosition)
  ) {
    for (const r of decodeRecordBatch(bytes, verifyCrc).records) {
      if (r.timestamp === max && r.offset >= logStartOffset) {
        return { offset: r.offset, timestampMs: r.timestamp };
      }
    }
  }
  return undefined;
}

/** A record's offset and its own timestamp (ListOffsets by time). */
export interface TimedOffset {
  offset: number;
  timestampMs: number;
}

/**
 * PartitionLog's reads over its segment list (the same array, as it changes): each checks the log
 * is readable first, and damage a read meets is noted in the log's damage list before its error is
 * thrown on.
 */
export class LogReads {
  constructor(
    readonly segments: readonly Segment[],
    readonly config: Readonly<LogConfig>,
    readonly damage: DamageList,
    readonly logger: Logger,
    readonly host: { ensureReadable(): void; logStartOffset(): number },
  ) {}

  /** PartitionLog.read: see {@link readLog}. */
  read(
    offset: number,
    maxBytes: number,
    upTo: number | undefined,
    into?: Uint8Array,
  ): ReadResult | undefined {
    return this.#reading(() =>
      readLog(
        this.segments,
        offset,
        maxBytes,
        upTo,
        this.config.verifyCrcOnRead,
        this.host.logStartOffset(),
        into,
      )
    );
  }

  recordWithMaxTimestamp(): TimedOffset | undefined {
    return this.#reading(() =>
      findRecordWithMaxTimestamp(
        this.segments,
        this.host.logStartOffset(),
        this.config.verifyCrcOnRead,
      )
    );
  }

  recordAtTimestamp(timestampMs: number): TimedOffset | undefined {
    return this.#reading(() =>
      findRecordAtTimestamp(
        this.segments,
        timestampMs,
        this.host.logStartOffset(),
        this.config.verifyCrcOnRead,
      )
    );
  }

  #reading<T>(lookup: () => T): T {
    this.host.ensureReadable();
    try {
      return lookup();
    } catch (err) {
      this.damage.noteReadError(err, this.logger);
      throw err;
    }
  }
}

/**
 * The first batch whose maxTimestamp is >= `timestampMs` (its byte position in
 * the segment's `foundPosition`), or undefined if no batch here reaches `timestampMs`. The first record
 * offset whose timestamp is >= `timestampMs` is in it, unless the cleaner emptied it (an empty
 * batch keeps its maxTimestamp, as Kafka's does): then the caller asks again with `after`, the
 * position returned, and the search goes on from the next batch.
 */
export function findBatchByTimestamp(
  s: Segment,
  timestampMs: number,
  after = -1,
): Uint8Array | undefined {
  if (s.maxTimestampMs < timestampMs) return undefined;
  let position: number;
  if (after < 0) {
    const startOffset = s.timeIndex.lookupBefore(timestampMs) ?? s.baseOffset;
    position = s.index.lookup(startOffset);
  } else {
    const problem = s.headerProblem(after, s.sizeBytes);
    if (problem !== undefined) throw s.corrupt(after, problem);
    position = after + batchSizeAt(s.scratchView, 0);
  }
  while (position < s.sizeBytes) {
    const problem = s.headerProblem(position, s.sizeBytes);
    if (problem !== undefined) throw s.corrupt(position, problem);
    const size = batchSizeAt(s.scratchView, 0);
    if (maxTimestampAt(s.scratchView, 0) >= timestampMs) {
      s.foundPosition = position;
      return s.readBytes(position, size);
    }
    position += size;
  }
  return undefined;
}
