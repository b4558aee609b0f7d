/**
 * Which part of a log a clean may touch, and how dirty it is (Kafka's
 * LogCleanerManager.cleanableOffsets, calculateCleanableBytes and maxCompactionDelay, and
 * Cleaner.groupSegmentsBySize, our own code over Sluice's segment list).
 *
 * - The dirty part starts at the cleaner checkpoint's firstDirtyOffset (the log start when the
 *   checkpoint is below it or past the log end) and ends at the first uncleanable offset: the
 *   lowest of the active segment's base (never cleaned), the high watermark (a replica never
 *   cleans what is not committed) and, with min.compaction.lag.ms, the base of the first dirty
 *   segment whose newest record is younger than the lag. Rounded down to a segment start.
 * - Dirty ratio: bytes of the segments in the dirty part over bytes of every segment below its
 *   end. A log is due when the ratio is above min.cleanable.dirty.ratio, or when its oldest dirty
 *   segment's first batch is older than max.compaction.lag.ms (and it has dirty bytes).
 * - Groups: the segments a clean rewrites, from the log's first to the one holding the last
 *   offset mapped, cut into runs that each become one segment: at most segment.bytes of log and
 *   segment.index.bytes of each index, offsets spanning less than 2^31. A run never starts or ends
 *   with an empty segment (the cleaned segment is named after its first and ends where its last
 *   batch ends).
 */
import type { LogConfig } from "../log_config.ts";
import type { Segment } from "../segment.ts";

export interface CleanableRange {
  /** Where the dirty part starts. */
  firstDirtyOffset: number;
  /** The firstDirtyOffset the checkpoint holds was not valid for the log (reset). */
  reset: boolean;
  /** Where the dirty part ends (a segment's base offset; >= firstDirtyOffset). */
  firstUncleanableOffset: number;
  /** Bytes of the segments below the dirty part. */
  cleanBytes: number;
  /** Bytes of the segments in the dirty part. */
  cleanableBytes: number;
  /** cleanableBytes / (cleanBytes + cleanableBytes); 0 for an empty log. */
  dirtyRatio: number;
  /** How far past max.compaction.lag.ms the oldest dirty segment is (0: not past). */
  compactionDelayMs: number;
}

/** Index of the segment holding `offset` (the last one whose base is at or below it). */
function indexOf(segments: readonly Segment[], offset: number): number {
  let i = 0;
  while (i + 1 < segments.length && segments[i + 1].baseOffset <= offset) i++;
  return i;
}

export function cleanableRange(
  segments: readonly Segment[],
  config: LogConfig,
  checkpointFirstDirty: number,
  logStartOffset: number,
  highWatermark: number,
  nowMs: number,
): CleanableRange {
  const active = segments[segments.length - 1];
  const logEndOffset = active.nextOffset;
  let firstDirty = checkpointFirstDirty;
  let reset = false;
  if (firstDirty < logStartOffset || firstDirty > logEndOffset) {
    firstDirty = logStartOffset;
    reset = true;
  }
  let uncleanable = Math.min(active.baseOffset, highWatermark);
  const lagMs = config.minCompactionLagMs;
  if (lagMs > 0) {
    for (let i = indexOf(segments, firstDirty); i < segments.length - 1; i++) {
      if (segments[i].maxTimestampMs > nowMs - lagMs) {
        uncleanable = Math.min(uncleanable, segments[i].baseOffset);
        break;
      }
    }
  }
  uncleanable = Math.max(firstDirty, uncleanable);
  // Rounded down to the start of the segment holding it (Kafka's calculateCleanableBytes).
  const firstUncleanableOffset = Math.max(
    firstDirty,
    segments[Math.min(indexOf(segments, uncleanable), segments.length - 1)].baseOffset,
  );
  let cleanBytes = 0;
  let cleanableBytes = 0;
  let oldestDirtyMs = Infinity;
  for (const s of segments) {
    const end = s === active ? logEndOffset : s.nextOffset;
    if (s.baseOffset >= firstUncleanableOffset) break;
    if (end <= firstDirty) {
      cleanBytes += s.sizeBytes;
    } else {
      cleanableBytes += s.sizeBytes;
      if (s.firstBatchTimestampMs > 0) {
        oldestDirtyMs = Math.min(oldestDirtyMs, s.firstBatchTimestampMs);
      }
    }
  }
  const total = cleanBytes + cleanableBytes;
  const cleanUntilMs = nowMs - config.maxCompactionLagMs;
  return {
    firstDirtyOffset: firstDirty,
    reset,
    firstUncleanableOffset,
    cleanBytes,
    cleanableBytes,
    dirtyRatio: total === 0 ? 0 : cleanableBytes / total,
    compactionDelayMs: oldestDirtyMs < cleanUntilMs ? cleanUntilMs - oldestDirtyMs : 0,
  };
}

/** Whether a log with this range is due for a clean (see the module comment). */
export function isDue(range: CleanableRange, config: LogConfig): boolean {
  if (range.cleanableBytes === 0) return false;
  return range.compactionDelayMs > 0 || range.dirtyRatio > config.minCleanableDirtyRatio;
}

/** Bytes of the offset and time index entries a segment holds now. */
function indexBytes(s: Segment): { offsets: number; times: number } {
  return { offsets: s.index.entries * 8, times: s.timeIndex.entries * 12 };
}

/**
 * The groups of segments a clean rewrites: from segments[0] through the segment holding
 * `endOffset - 1` (the last offset mapped), never the active one. See the module comment.
 */
export function groupSegments(
  segments: readonly Segment[],
  config: LogConfig,
  endOffset: number,
): Segment[][] {
  const candidates: Segment[] = [];
  for (let i = 0; i < segments.length - 1 && segments[i].baseOffset < endOffset; i++) {
    candidates.push(segments[i]);
  }
  const groups: Segment[][] = [];
  let i = 0;
  while (i < candidates.length) {
    if (candidates[i].isEmpty) {
      i++;
      continue;
    }
    const group = [candidates[i]];
    let logBytes = candidates[i].sizeBytes;
    let { offsets, times } = indexBytes(candidates[i]);
    i++;
    while (i < candidates.length) {
      const next = candidates[i];
      const more = indexBytes(next);
      // The last offset `next` may hold: up to where the segment after it starts.
      const last = segments[segments.indexOf(next) + 1].baseOffset - 1;
      if (
        logBytes + next.sizeBytes > config.segmentBytes ||
        offsets + more.offsets > config.segmentIndexBytes ||
        times + more.times > config.segmentIndexBytes ||
        last - group[0].baseOffset > 0x7fff_ffff
      ) {
        break;
      }
      group.push(next);
      logBytes += next.sizeBytes;
      offsets += more.offsets;
      times += more.times;
      i++;
    }
    while (group.length > 1 && group[group.length - 1].isEmpty) group.pop();
    groups.push(group);
  }
  return groups;
}
