/**
 * What one replica of a partition knows besides its log's bytes (Kafka keeps the same in
 * Partition and UnifiedLog): the partition's leader epoch, the epoch cache (where each epoch
 * starts, leader_epochs.ts), the high watermark and the log start offset. PartitionLog owns one,
 * checks its own state (writable, readable) before it calls in, and writes the cache, the high
 * watermark and the log start offset with every recovery checkpoint (log_loader.ts).
 *
 * - Leader epoch: the partition's, as the controller set it (becomeLeader, becomeFollower); never
 *   goes back. A leader stamps it into the batches it appends and starts it in the cache at the
 *   log end; a follower starts nothing (the leader's batches bring their epochs). Clients' epochs
 *   are checked against it (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH).
 * - High watermark: offsets below it are committed. Kept as set; read clamped to the log's
 *   [start, end], since retention moves the start and truncation the end.
 * - Log start offset: the first offset a reader may see. Kept as set (by DeleteRecords, a
 *   follower's leader, truncation) and read as the larger of it and the first segment's base, since
 *   retention deletes whole segments without setting it (Kafka's logStartOffset, which both move).
 *   It may lie inside a segment; only DeleteRecords and retention move it up, only truncation down
 *   (never below what the log holds: it is cut to the log end).
 */
import { SluiceError } from "../errors.ts";
import { LeaderEpochCache } from "./leader_epochs.ts";

export class ReplicaState {
  #leaderEpoch = 0;
  #epochs = new LeaderEpochCache();
  #highWatermark = 0;
  #logStartOffset = 0;

  /** The partition's leader epoch (0 on a single node). */
  get leaderEpoch(): number {
    return this.#leaderEpoch;
  }

  /** The epoch cache; replaced whole by {@link opened} and {@link restartedAt}. */
  get epochs(): LeaderEpochCache {
    return this.#epochs;
  }

  /**
   * At open: the cache built from the checkpoint and the batches (cut at the log start, which a
   * cache rebuilt from every batch may predate), the checkpoint's watermark and log start offset.
   */
  opened(epochs: LeaderEpochCache, highWatermark: number, logStartOffset: number): void {
    epochs.truncateFromStart(logStartOffset);
    this.#epochs = epochs;
    this.#leaderEpoch = epochs.latestEpoch;
    this.#highWatermark = highWatermark;
    this.#logStartOffset = logStartOffset;
  }

  /** The log start offset of a log whose first segment starts at `firstBaseOffset`. */
  logStartOffset(firstBaseOffset: number): number {
    return Math.max(this.#logStartOffset, firstBaseOffset);
  }

  /**
   * Moves the log start offset up to `offset` (never down) and cuts the epoch cache at it; the
   * caller checked `offset` against the high watermark. Returns whether it moved.
   */
  raiseLogStartOffset(offset: number, firstBaseOffset: number): boolean {
    if (offset <= this.logStartOffset(firstBaseOffset)) return false;
    this.#logStartOffset = offset;
    this.#epochs.truncateFromStart(offset);
    return true;
  }

  /** Leads in `epoch` from now on; the epoch starts at `logEndOffset` in the cache. */
  becomeLeader(epoch: number, logEndOffset: number): void {
    this.#checkSuccessor(epoch);
    this.#leaderEpoch = epoch;
    this.#epochs.assign(epoch, logEndOffset);
  }

  /** Follows in `epoch` from now on; the cache is left to the leader's batches. */
  becomeFollower(epoch: number): void {
    this.#checkSuccessor(epoch);
    this.#leaderEpoch = epoch;
  }

  /** An epoch never goes back; the same one again is allowed (a role change within it). */
  #checkSuccessor(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < this.#leaderEpoch || epoch > 0x7fffffff) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `leader epoch ${epoch} is not a valid successor of ${this.#leaderEpoch}`,
      );
    }
  }

  /** The high watermark of a log spanning [logStartOffset, logEndOffset). */
  highWatermark(logStartOffset: number, logEndOffset: number): number {
    return Math.max(logStartOffset, Math.min(this.#highWatermark, logEndOffset));
  }

  /** Sets the high watermark, clamped to the log; returns it. */
  updateHighWatermark(offset: number, logStartOffset: number, logEndOffset: number): number {
    if (!Number.isSafeInteger(offset)) {
      throw new SluiceError("INVALID_REQUEST", `high watermark ${offset} is not an offset`);
    }
    this.#highWatermark = Math.max(logStartOffset, Math.min(offset, logEndOffset));
    return this.#highWatermark;
  }

  /**
   * The log ends at `endOffset` now (a truncation, or one that changed nothing): the cache drops
   * the entries starting at or past it, the high watermark and the log start offset come down to
   * it (Kafka's truncateTo sets the log start to min(target, log start)).
   */
  cutTo(endOffset: number): void {
    this.#epochs.truncateFromEnd(endOffset);
    this.#highWatermark = Math.min(this.#highWatermark, endOffset);
    this.#logStartOffset = Math.min(this.#logStartOffset, endOffset);
  }

  /**
   * The log was emptied to start at `offset`: no epoch is known, nothing below it uncommitted, and
   * it is the log start.
   */
  restartedAt(offset: number): void {
    this.#epochs = new LeaderEpochCache();
    this.#highWatermark = offset;
    this.#logStartOffset = offset;
  }
}
