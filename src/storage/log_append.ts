/**
 * The write path of one partition's log (PartitionLog.append and appendReplicated): the batches
 * checked (append_rules.ts), the active segment rolled when due, offsets assigned (or a leader's
 * kept), one write, the append listener told, and the promise the flush policy asks for. Also the
 * roll itself, and a new log's first segment files, created by its first write (log_lazy.ts).
 *
 * An append of CRC_OVERLAP_BYTES_MIN or more (the kernel loaded) has everything but its CRCs
 * checked first; the CRCs are checked on a helper thread (record/batch_crc_overlap.ts) while the
 * event loop writes the bytes, and the append is counted, indexed, told and acknowledged only
 * after both ended. A mismatch cuts the file back to where the append began (segment.ts) and is
 * refused as the check-first path refuses it. Its first baseOffset and batchLength are written
 * last, once the CRCs matched: a crash before then leaves a zero length at the old log end, which
 * recovery cuts with all that follows. Such an append is at least 512 KiB, so its bytes live
 * outside the collector's heap and stay put while the helper reads them.
 *
 * Allocation-free per record: the check reports into a tally reused by every append (appends run
 * one at a time on the event loop).
 */
import type { Clock } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import { BATCH_BYTES_MAX, CRC_OVERLAP_BYTES_MIN, PENDING_FLUSH_WAITERS_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";
import { type NativeBatchCheck, overlappedBatchCheck } from "../record/batch_crc_overlap.ts";
import { CHECK_COUNTS, CHECK_CRC, viewOf } from "../record/record_batch.ts";
import { checkRecordKeys } from "../record/record_cursor.ts";
import { syncDir } from "../runtime/fs.ts";
import {
  type AppendTally,
  assignOffsets,
  checkAppendBatches,
  checkReplicatedOffsets,
  learnEpochs,
  type ReplicatedOffsets,
  shouldRoll,
} from "./append_rules.ts";
import type { LogCompaction } from "./cleaner/log_compaction.ts";
import type { LogConfig } from "./log_config.ts";
import type { LogFiles } from "./log_files.ts";
import type { LogFlusher } from "./log_flusher.ts";
import { createSegmentFiles } from "./log_lazy.ts";
import type { AppendResult } from "./log_types.ts";
import type { ReplicaState } from "./replica_state.ts";
import { Segment, storageFailure } from "./segment.ts";

/** What the write path asks of its log. */
export interface AppendHost {
  /** Throws why the log takes no write now (offline, closed, read-only); loads a lazy log. */
  ensureWritable(): void;
  /** The log's cleaning state (replaced when a lazy log loads). */
  compaction(): LogCompaction;
  /** Tells the log's append listener. */
  appended(result: AppendResult): void;
}

/** An append's CRC check under way on the helper thread. */
interface BesideCheck {
  overlap: NativeBatchCheck;
  bytes: Uint8Array;
  maxBatch: number;
  checks: number;
}

export class LogAppender {
  readonly #tally: AppendTally = { batches: 0, records: 0, maxTimestampMs: -1 };
  readonly #replicatedOffsets: ReplicatedOffsets = { next: 0, gaps: false };
  /** The append whose CRCs the helper thread checks while it is written (at most one). */
  #beside: BesideCheck | undefined;
  /** The first segment of a new log while it has no files: its first write creates them. */
  unborn: Segment | undefined;

  readonly dir: string;
  readonly config: LogConfig;
  readonly clock: Clock;
  readonly logger: Logger;

  constructor(
    /** The log's segment list, the same array: a roll pushes onto it. */
    readonly segments: Segment[],
    readonly replica: ReplicaState,
    /** The log's flusher; its dir, config, clock and logger are the log's. */
    readonly flusher: LogFlusher,
    readonly files: LogFiles,
    readonly host: AppendHost,
  ) {
    this.dir = flusher.dir;
    this.config = flusher.config;
    this.clock = flusher.clock;
    this.logger = flusher.logger;
  }

  /**
   * Ends the CRC check that ran beside the write (segment.ts calls it after the write): undefined
   * when every CRC matched, else the append's refusal, found again on this thread so that it is
   * the one the check-first path gives (CORRUPT_BATCH naming the batch and both CRCs).
   */
  readonly #joinBeside = (): SluiceError | undefined => {
    const job = this.#beside!;
    this.#beside = undefined;
    const at = job.overlap.join();
    if (at === -1) return undefined;
    try {
      checkAppendBatches(job.bytes, viewOf(job.bytes), job.maxBatch, this.#tally, job.checks);
    } catch (err) {
      if (err instanceof SluiceError) return err;
      throw err;
    }
    return new SluiceError(
      "INTERNAL",
      `the CRC check beside the write answered ${at}, the check on the event loop found no fault`,
      { position: at },
    );
  };

  get #active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  /** See PartitionLog.append; `replicated`: a follower's append of its leader's batches. */
  append(batches: Uint8Array, replicated: boolean): Promise<AppendResult> {
    this.host.ensureWritable();
    const length = batches.length;
    if (length === 0) throw new SluiceError("INVALID_REQUEST", "append of zero bytes");
    if (length > this.config.segmentBytes) {
      throw new SluiceError(
        "RECORD_TOO_LARGE",
        `append of ${length} bytes exceeds segment.bytes ${this.config.segmentBytes}`,
      );
    }
    const dv = viewOf(batches);
    // Check every batch before writing any: a rejected append writes nothing. A large append's
    // CRCs are checked beside its write instead, and a mismatch cuts the write back (below).
    const tally = this.#tally;
    // A follower does not refuse what its leader took (Kafka's ignoreRecordSize): it would stall.
    const maxBatch = replicated ? BATCH_BYTES_MAX : this.config.maxMessageBytes;
    // A compacted leader's batches may hold fewer records than their offsets span: CRC only.
    const checks = replicated ? CHECK_CRC : CHECK_CRC | CHECK_COUNTS;
    const overlap = length >= CRC_OVERLAP_BYTES_MIN ? overlappedBatchCheck() : null;
    const baseOffset = this.#active.nextOffset;
    const offsets = this.#replicatedOffsets;
    try {
      checkAppendBatches(
        batches,
        dv,
        maxBatch,
        tally,
        overlap === null ? checks : checks & ~CHECK_CRC,
      );
      // A compacted topic cannot take a record without a key (Kafka's LogValidator); a follower
      // takes what its leader took.
      if (this.config.compact && !replicated) checkRecordKeys(batches, dv, length);
      if (replicated) checkReplicatedOffsets(dv, length, baseOffset, offsets);
      if (
        this.config.flushPolicy === "always" &&
        this.flusher.waiting >= PENDING_FLUSH_WAITERS_MAX
      ) {
        // Refuse before writing: an append failing after its write would be retried as a duplicate.
        throw new SluiceError(
          "TOO_MANY_REQUESTS",
          `${PENDING_FLUSH_WAITERS_MAX} appends wait for fsync`,
        );
      }
    } catch (err) {
      // The CRCs not checked yet: a bad one is what the append reports, as without the overlap.
      if (overlap !== null) checkAppendBatches(batches, dv, maxBatch, tally, checks);
      throw err;
    }
    const records = tally.records;
    const nowMs = this.clock.nowMs();
    const next = replicated ? offsets.next : baseOffset + records;
    const roll = shouldRoll(
      this.#active,
      this.config,
      length,
      next - 1,
      tally.maxTimestampMs,
      nowMs,
    );
    // What changes files before the write (a new log's files, a roll, a compaction mark) waits for
    // the CRCs, as does an append the helper thread did not take: a refusal leaves no trace.
    if (overlap !== null) {
      if (
        this.unborn === undefined && !roll && !(replicated && offsets.gaps) &&
        overlap.start(batches)
      ) {
        this.#beside = { overlap, bytes: batches, maxBatch, checks };
      } else {
        checkAppendBatches(batches, dv, maxBatch, tally, checks);
      }
    }
    try {
      if (this.unborn !== undefined) this.birth();
      if (roll) this.roll(nowMs);
      // The segment that takes a compacted leader's gaps allows them, durably before the bytes.
      if (replicated && offsets.gaps) this.host.compaction().allowGaps(this.#active);
      // Stamps bytes the CRC does not cover: safe while the helper reads the batches.
      if (!replicated) assignOffsets(dv, length, baseOffset, this.replica.leaderEpoch);
      const afterWrite = this.#beside === undefined ? undefined : this.#joinBeside;
      this.#active.append(batches, dv, next, afterWrite);
    } finally {
      // Ended by the segment after its write; here only if something threw before it.
      if (this.#beside !== undefined) this.#joinBeside();
    }
    if (replicated) learnEpochs(dv, length, this.replica.epochs);
    const result: AppendResult = {
      baseOffset,
      lastOffset: next - 1,
      batches: tally.batches,
      records,
      bytes: length,
    };
    try {
      this.host.appended(result);
    } catch (err) {
      this.logger.error("append listener failed", { dir: this.dir, error: String(err) });
    }

    switch (this.config.flushPolicy) {
      case "always":
        return this.flusher.flush().then(() => result);
      case "interval":
        this.flusher.flushLater();
        return Promise.resolve(result);
      case "none":
        return Promise.resolve(result);
    }
  }

  /** Starts a new active segment at the log end (its files created, the directory fsynced). */
  roll(nowMs: number): void {
    if (this.unborn !== undefined) this.birth();
    const old = this.#active;
    old.onBecomeInactive();
    let segment: Segment;
    try {
      old.persistIndexes(false);
      segment = Segment.create(this.dir, old.nextOffset, this.config, nowMs, this.files);
    } catch (err) {
      // Nothing was appended yet: the append is refused whole, typed (507 on a full disk).
      throw storageFailure(err, `rolling a segment in ${this.dir}`, { dir: this.dir });
    }
    this.segments.push(segment);
    syncDir(this.dir);
    this.logger.info("rolled segment", { dir: this.dir, baseOffset: segment.baseOffset });
    // As Kafka does, flush the finished segment in the background so the recovery checkpoint can
    // move past it, whatever the flush policy.
    this.flusher.rolled();
  }

  /** A new log's first segment is still its only one, without files. */
  get bare(): boolean {
    return this.unborn !== undefined && this.segments[0] === this.unborn;
  }

  /** Creates the files of a new log's first segment (log_lazy.ts); a failure refuses the write. */
  birth(): void {
    const segment = this.unborn!;
    this.unborn = undefined;
    if (this.segments[0] !== segment) return; // truncated or emptied since: files made then
    try {
      createSegmentFiles(segment, this.dir);
    } catch (err) {
      this.unborn = segment;
      throw err;
    }
  }
}
