/**
 * The rules an append follows before it writes (PartitionLog.append): every batch checked,
 * offsets assigned by patching each header's baseOffset, and whether the active segment must roll
 * first. A follower's append (PartitionLog.appendReplicated) keeps the leader's offsets instead:
 * they must continue the log exactly, and the epochs they carry teach the epoch cache.
 * Allocation-free: the check reports into a caller-owned tally.
 */
import { SluiceError } from "../errors.ts";
import {
  baseOffsetAt,
  batchSizeAt,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  lastOffsetDeltaAt,
  maxTimestampAt,
  PARTITION_LEADER_EPOCH_AT,
  recordsCountAt,
  throwBatchProblem,
  writeInt64,
} from "../record/record_batch.ts";
import type { LeaderEpochCache } from "./leader_epochs.ts";
import type { LogConfig } from "./log_config.ts";
import type { Segment } from "./segment.ts";

/** What {@link checkAppendBatches} found. */
export interface AppendTally {
  batches: number;
  records: number;
  maxTimestampMs: number;
}

/**
 * Checks every batch of `bytes` (bounds, magic, counts, CRC-32C, at most `maxMessageBytes`
 * each) before any is written, so a rejected append writes nothing; throws CORRUPT_BATCH or
 * RECORD_TOO_LARGE for the first bad one.
 */
export function checkAppendBatches(
  bytes: Uint8Array,
  dv: DataView,
  maxMessageBytes: number,
  tally: AppendTally,
  checks: number = CHECK_CRC | CHECK_COUNTS,
): void {
  tally.batches = 0;
  tally.records = 0;
  tally.maxTimestampMs = -1;
  let pos = 0;
  while (pos < bytes.length) {
    const checked = checkBatch(
      bytes,
      dv,
      pos,
      bytes.length,
      maxMessageBytes,
      checks,
    );
    if (typeof checked !== "number") throwBatchProblem(checked, pos);
    tally.records += lastOffsetDeltaAt(dv, pos) + 1;
    tally.maxTimestampMs = Math.max(tally.maxTimestampMs, maxTimestampAt(dv, pos));
    tally.batches++;
    pos += checked;
  }
}

/** Patches the baseOffsets (which the CRC does not cover) from `baseOffset`; returns the next. */
export function assignOffsets(
  dv: DataView,
  length: number,
  baseOffset: number,
  leaderEpoch: number,
): number {
  let next = baseOffset;
  for (let pos = 0; pos < length; pos += batchSizeAt(dv, pos)) {
    writeInt64(dv, pos, next);
    // Not covered by the CRC (it starts at attributes): stamped in place, as Kafka's leader does.
    dv.setInt32(pos + PARTITION_LEADER_EPOCH_AT, leaderEpoch);
    next += lastOffsetDeltaAt(dv, pos) + 1;
  }
  return next;
}

/** What {@link checkReplicatedOffsets} found: where the batches end, and whether with gaps. */
export interface ReplicatedOffsets {
  next: number;
  /** Some offset of the batches' span holds no record: between batches, or inside one. */
  gaps: boolean;
}

/**
 * A follower's batches (checked by {@link checkAppendBatches}) keep the offsets the leader gave
 * them: each must start at or after the offset after the previous one's last (`logEndOffset` for
 * the first). Gaps are allowed, as Kafka's follower allows them: a compacted leader's log has
 * them, between batches (a batch the clean removed) and inside them (a batch holding fewer
 * records than its offsets span, or none), and the segment that takes either is marked compacted
 * first (PartitionLog: its reads and recovery then allow increasing gaps and short batches, never
 * overlaps; an unmarked segment's recovery would take a short batch for a torn write). Fills
 * `out`; throws OFFSET_OUT_OF_RANGE (details: `expectedOffset`, `baseOffset`, `position`, the
 * batch's byte position in the append) for the first batch that overlaps.
 */
export function checkReplicatedOffsets(
  dv: DataView,
  length: number,
  logEndOffset: number,
  out: ReplicatedOffsets,
): void {
  let next = logEndOffset;
  out.gaps = false;
  for (let pos = 0; pos < length; pos += batchSizeAt(dv, pos)) {
    const base = baseOffsetAt(dv, pos);
    if (base < next) {
      throw new SluiceError(
        "OFFSET_OUT_OF_RANGE",
        `replicated batch at offset ${base} overlaps what the log holds: the log continues at ` +
          `offset ${next}`,
        { expectedOffset: next, baseOffset: base, position: pos },
      );
    }
    const lastOffsetDelta = lastOffsetDeltaAt(dv, pos);
    if (base > next || recordsCountAt(dv, pos) !== lastOffsetDelta + 1) out.gaps = true;
    next = base + lastOffsetDelta + 1;
  }
  out.next = next;
}

/**
 * The epoch cache learns the epochs of a follower's batches (just written), as Kafka's follower
 * does (UnifiedLog.maybeAssignEpochStartOffset): each batch whose epoch differs from the cache's
 * latest starts that epoch at its base offset. Usually a newer epoch; an older one means the
 * cache's latest entry starts at the log end with nothing written in it (this node led that epoch
 * and appended nothing before losing the lead), and `assign` removes that entry. Batches without
 * an epoch (-1) teach nothing. Allocates only for an entry added.
 */
export function learnEpochs(dv: DataView, length: number, epochs: LeaderEpochCache): void {
  for (let pos = 0; pos < length; pos += batchSizeAt(dv, pos)) {
    const epoch = dv.getInt32(pos + PARTITION_LEADER_EPOCH_AT);
    if (epoch >= 0 && epoch !== epochs.latestEpoch) epochs.assign(epoch, baseOffsetAt(dv, pos));
  }
}

/** Whether `active` must roll before an append of `length` bytes ending at `lastOffset`. */
export function shouldRoll(
  active: Segment,
  config: LogConfig,
  length: number,
  lastOffset: number,
  maxTimestampMs: number,
  nowMs: number,
): boolean {
  if (active.isEmpty) return false;
  if (active.sizeBytes + length > config.segmentBytes) return true;
  if (active.isIndexFull) return true;
  if (lastOffset - active.baseOffset > 0xffff_ffff) return true; // relative offsets are u32
  // segment.ms as Kafka measures it: by record timestamps when both sides have one.
  const waitedMs = active.firstBatchTimestampMs >= 0 && maxTimestampMs >= 0
    ? maxTimestampMs - active.firstBatchTimestampMs
    : nowMs - active.createdMs;
  return waitedMs >= config.segmentMs;
}
