/**
 * Which segments retention deletes: a prefix of the oldest, never the active (last) one.
 * - Time: a segment whose newest record (its max timestamp; the file's mtime when no batch carries
 *   a timestamp) is older than `retention.ms` is expired; deletion stops at the first that is not,
 *   as Kafka's does, so the log stays contiguous.
 * - Size: while the log without its oldest segment is still at least `retention.bytes`, the
 *   oldest goes.
 * Both yield a prefix; the longer prefix is deleted. -1 disables either rule.
 */

export interface RetainedSegment {
  readonly sizeBytes: number;
  /** Newest record timestamp in the segment, or -1 when none carries one. */
  readonly maxTimestampMs: number;
  /** Fallback age when maxTimestampMs is -1. */
  lastModifiedMs(): number;
}

export interface RetentionRules {
  retentionMs: number;
  retentionBytes: number;
}

/** How many of the oldest segments to delete (0 .. segments.length - 1). */
export function expiredSegmentCount(
  segments: readonly RetainedSegment[],
  rules: RetentionRules,
  nowMs: number,
): number {
  const candidates = segments.length - 1; // the active segment stays
  let byTime = 0;
  if (rules.retentionMs >= 0) {
    while (byTime < candidates) {
      const s = segments[byTime];
      const newestMs = s.maxTimestampMs >= 0 ? s.maxTimestampMs : s.lastModifiedMs();
      if (nowMs - newestMs <= rules.retentionMs) break;
      byTime++;
    }
  }
  let bySize = 0;
  if (rules.retentionBytes >= 0) {
    let total = 0;
    for (const s of segments) total += s.sizeBytes;
    while (bySize < candidates && total - segments[bySize].sizeBytes >= rules.retentionBytes) {
      total -= segments[bySize].sizeBytes;
      bySize++;
    }
  }
  return Math.max(byTime, bySize);
}
