/**
 * Reads across a log's segments (PartitionLog.read and the timestamp lookup), over the segment
 * list as it is at the call. Segments are few (one per segment.bytes), so a binary search finds
 * the one holding an offset; a read in a gap of missing offsets between two segments answers the
 * first batch after the gap (the gap was reported when the log was opened).
 */
import { decodeRecordBatch } from "../record/record_batch.ts";
import type { Segment, SegmentRead } from "./segment.ts";
import { corruptAt } from "./storage_errors.ts";

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
): SegmentRead {
  for (let i = segmentIndexFor(segments, offset); i < segments.length; i++) {
    const s = segments[i];
    const r = s.read(Math.max(offset, s.baseOffset), limit, verifyCrc, upTo);
    if (r !== undefined) return r;
  }
  const last = segments[segments.length - 1];
  throw corruptAt(last.logPath, last.sizeBytes, `no segment holds offset ${offset}`);
}

/** The first record at or after `timestampMs` at or above `logStartOffset`. */
export function findRecordAtTimestamp(
  segments: readonly Segment[],
  timestampMs: number,
  logStartOffset: number,
  verifyCrc: boolean,
): { offset: number; timestampMs: number } | undefined {
  for (const s of segments) {
    const bytes = s.findBatchByTimestamp(timestampMs);
    if (bytes === undefined) continue;
    const batch = decodeRecordBatch(bytes, verifyCrc);
    for (const r of batch.records) {
      if (r.timestamp >= timestampMs && r.offset >= logStartOffset) {
        return { offset: r.offset, timestampMs: r.timestamp };
      }
    }
  }
  return undefined;
}
