/**
 * DeleteRecords on one partition's log (PartitionLog.deleteRecordsBefore), with the semantics of
 * Kafka's UnifiedLog.maybeIncrementLogStartOffset and deleteLogStartOffsetBreachedSegments (our
 * own code):
 *
 * - The log start offset moves up to `offset`, never down (an offset at or below it changes
 *   nothing), and may lie inside a segment. From the call on, reads below it are
 *   OFFSET_OUT_OF_RANGE (log_reads.ts), ListOffsets' earliest and Fetch's logStartOffset report it,
 *   and the leader-epoch cache forgets what lies before it (truncateFromStart). An offset above the
 *   high watermark is OFFSET_OUT_OF_RANGE, as Kafka's: the log start never passes what the
 *   in-sync replicas all have (a follower asks for no more than its own high watermark).
 * - Durable before the promise resolves: every byte appended before the call is fsynced and a
 *   recovery checkpoint carrying the new log start is written (log_loader.ts), so an open after a
 *   crash that followed the answer starts the log there too. Kafka writes its
 *   log-start-offset-checkpoint on a timer instead; an answer here is a promise kept.
 * - Then the whole segments that end at or before the new start are deleted, oldest first, after
 *   the checkpoint (a crash between the two leaves them to the next open, which deletes them).
 *   The active segment is never deleted as such: when every record it holds is below the new
 *   start, a new empty segment is rolled first, as Kafka's deleteSegments rolls before it deletes
 *   every segment, so that the bytes go now rather than after the next roll. A segment an fsync
 *   holds at that moment stays until the next retention run or open deletes it (retention.ts).
 *
 * Calls run one after another (each a roll, a checkpoint, a deletion); the log start itself moves
 * at the call, so readers see it at once, as Kafka's do. When making it durable fails, the promise
 * rejects typed and the log keeps the new start in memory (an fsync failure also leaves the log
 * read-only until it is reopened: log_flusher.ts); the next checkpoint writes it. A truncation
 * waits for a DeleteRecords in progress (log_truncation.ts), so no checkpoint here names a
 * position a truncation has cut.
 */
import { SluiceError } from "../errors.ts";
import type { LogRetention } from "./retention.ts";
import type { Segment } from "./segment.ts";
import { storageFailure } from "./storage_errors.ts";

/**
 * Checkpoint writes tried before falling back to one at the log start: each fails only when
 * retention deleted the recovery point's segment between the point and the write.
 */
const CHECKPOINT_ATTEMPTS = 3;
/** Deletion rounds for the segments below the new start (an fsync may hold one for a round). */
const DELETION_ATTEMPTS = 3;

/** What a DeleteRecords asks of its log. */
export interface LogStartHost {
  /** Throws why the log takes no writes now (closed or closing, offline, read-only). */
  ensureWritable(): void;
  logStartOffset(): number;
  highWatermark(): number;
  /** Moves the log start up to `offset` (and cuts the epoch cache); false when it is not above. */
  raise(offset: number): boolean;
  /** Rolls a new, empty active segment at the log end; throws typed when it cannot. */
  roll(): void;
}

export class LogStartMover {
  /** The last call queued; settles, never rejects. */
  #tail: Promise<void> | undefined;

  constructor(readonly retention: LogRetention, readonly host: LogStartHost) {}

  /** A DeleteRecords in progress, if any (a truncation and close wait for it). */
  get running(): Promise<void> | undefined {
    return this.#tail;
  }

  get #segments(): readonly Segment[] {
    return this.retention.segments;
  }

  /** See the module comment. Resolves to the log start offset once it is durable. */
  deleteRecordsBefore(offset: number): Promise<number> {
    try {
      this.host.ensureWritable();
      const highWatermark = this.host.highWatermark();
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > highWatermark) {
        throw new SluiceError(
          "OFFSET_OUT_OF_RANGE",
          `cannot delete the records before offset ${offset}: not an offset between 0 and the ` +
            `high watermark ${highWatermark}`,
          { offset, highWatermark, logStartOffset: this.host.logStartOffset() },
        );
      }
      // Already there: answered once an earlier call that moved it this far is durable.
      if (!this.host.raise(offset)) {
        return (this.#tail ?? Promise.resolve()).then(() => this.host.logStartOffset());
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const run = (this.#tail ?? Promise.resolve()).then(() => this.#apply());
    const tail = run.then(() => {}, () => {});
    this.#tail = tail;
    void tail.then(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
    return run;
  }

  /** Deletes the segments wholly below the log start (at open); returns how many. */
  async deleteBelowStart(why: string): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < DELETION_ATTEMPTS && this.#wholeSegmentsBelowStart() > 0; i++) {
      deleted += await this.retention.deleteBefore(this.host.logStartOffset(), why);
    }
    return deleted;
  }

  #wholeSegmentsBelowStart(): number {
    const start = this.host.logStartOffset();
    const segments = this.#segments;
    let count = 0;
    while (count < segments.length - 1 && segments[count].nextOffset <= start) count++;
    return count;
  }

  async #apply(): Promise<number> {
    this.host.ensureWritable();
    const start = this.host.logStartOffset();
    const segments = this.#segments;
    const active = segments[segments.length - 1];
    if (active.nextOffset <= start && active.sizeBytes > 0) {
      try {
        this.host.roll();
      } catch (err) {
        // The records are gone for readers all the same; the segment goes after a later roll.
        this.retention.logger.warn("no new segment rolled for DeleteRecords", {
          dir: this.retention.dir,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    await this.#persist();
    const deleted = await this.deleteBelowStart("deleteRecords");
    this.retention.logger.info("log start offset moved", {
      dir: this.retention.dir,
      logStartOffset: start,
      deletedSegments: deleted,
    });
    return this.host.logStartOffset();
  }

  /** fsyncs what was appended and writes a recovery checkpoint, which carries the log start. */
  async #persist(): Promise<void> {
    const flusher = this.retention.flusher;
    try {
      for (let attempt = 1;; attempt++) {
        const point = flusher.recoveryPointNow();
        await flusher.flush();
        if (flusher.writeCheckpoint(point)) return;
        if (attempt < CHECKPOINT_ATTEMPTS) continue;
        // One at the first segment's start vouches for nothing but what rides on it (the next
        // open re-validates every segment), and it carries the log start.
        const base = this.#segments[0].baseOffset;
        flusher.writeCheckpoint({
          offset: base,
          segment: base,
          position: 0,
          maxTimestampMs: -1,
          offsetOfMaxTimestamp: base,
        });
        return;
      }
    } catch (err) {
      throw storageFailure(err, `writing the log start offset of ${this.retention.dir}`, {
        dir: this.retention.dir,
      });
    }
  }
}
