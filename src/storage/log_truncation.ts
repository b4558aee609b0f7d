/**
 * A follower's truncation of a partition's log (PartitionLog.truncateTo and
 * truncateFullyAndStartAt), with the semantics of Kafka's UnifiedLog.truncateTo,
 * truncateFullyAndStartAt and LogSegment.truncateTo (our own code):
 *
 * - {@link LogTruncation.truncateTo}(offset) removes every batch at or after `offset`, and the
 *   batch that holds `offset` with them (the cut is at a batch start, as Kafka's is; a follower
 *   truncates at batch boundaries anyway, the ends OffsetForLeaderEpoch answers). Segments starting
 *   after `offset` are deleted, the last first, so that a crash midway leaves a prefix of the log;
 *   the segment holding `offset` is cut (.log, .index, .timeindex). The new log end is where the
 *   batches left end; Kafka sets its log end to `offset` even when the cut fell below it, but here
 *   offsets are contiguous and the log end is the next batch's base offset. Nothing happens to the
 *   files when `offset` is at or past the log end; the epoch cache still drops entries starting
 *   there (an epoch this node began as leader without writing in it), as Kafka's does. Below the
 *   log start it is truncateFullyAndStartAt(offset).
 * - {@link LogTruncation.truncateFullyAndStartAt}(offset): every segment deleted but the first,
 *   which is emptied, then replaced by a new empty segment at `offset` (created before the old one
 *   is deleted: a crash in between leaves two empty segments, and the loader removes the later as
 *   a stray). For a follower that fell below the leader's log start.
 *
 * Durable before the promise resolves: the cut files fdatasynced (with every unflushed byte before
 * the cut), the directory fsynced after deletions, the index files persisted and fsynced, and the
 * recovery checkpoint rewritten at the new end with the cut epoch cache and high watermark. The
 * checkpoint matters as much as the data: an old one could name a position past the cut that the
 * next appends happen to fill with a batch boundary at the same offset, and the next open would
 * then take its leader epochs for the truncated tail's.
 *
 * One truncation at a time (another one meanwhile is refused, TOO_MANY_REQUESTS); it first waits
 * until no timed retention run, no DeleteRecords (log_start.ts) and no flush round is running, so
 * that none holds a recovery point from before the cut (it would write a checkpoint past the new
 * end) and no fsync holds a deleted segment's descriptor. Flush rounds kept going by a stream of appends under
 * flush.policy always would delay it; on a follower the appends are the replica fetcher's, which
 * awaits each before its next and awaits the truncation before it appends at the new end. Appends
 * are not held back: one that races the truncation has its batches refused or cut. A file-system failure midway leaves disk and memory perhaps apart: the log
 * refuses writes until it is reopened, and the open's recovery reads what is on disk.
 */
import type { Clock } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { syncDir } from "../runtime/fs.ts";
import type { LogConfig } from "./log_config.ts";
import type { LogFiles } from "./log_files.ts";
import type { LogFlusher } from "./log_flusher.ts";
import type { ReplicaState } from "./replica_state.ts";
import type { LogRetention } from "./retention.ts";
import { Segment, storageFailure } from "./segment.ts";

/** What a truncation asks of its log. */
export interface TruncationHost {
  /** Throws why the log takes no writes now (closed or closing, offline, read-only). */
  ensureWritable(): void;
  /** A file-system failure midway: the log refuses writes until it is reopened. */
  failWrites(failure: SluiceError): void;
  /**
   * A DeleteRecords of the log in progress, if any (log_start.ts): its recovery point must not
   * predate the cut, so a truncation waits for it as for a flush round.
   */
  busy?(): Promise<unknown> | undefined;
}

export class LogTruncation {
  #running: Promise<void> | undefined;
  readonly dir: string;
  readonly config: LogConfig;
  /** The log's segment list, the same array: truncation changes it in place. */
  readonly segments: Segment[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly flusher: LogFlusher;

  /**
   * The log's retention (whose runs a truncation waits out) gives the log's directory, config,
   * segment list, clock, logger and flusher; `replica` learns where the log now ends.
   */
  constructor(
    readonly retention: LogRetention,
    readonly files: LogFiles,
    readonly replica: ReplicaState,
    readonly host: TruncationHost,
  ) {
    this.dir = retention.dir;
    this.config = retention.config;
    this.segments = retention.segments;
    this.clock = retention.clock;
    this.logger = retention.logger;
    this.flusher = retention.flusher;
  }

  /** The truncation in progress, if any (settles, never rejects; close waits for it). */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  get #end(): number {
    return this.segments[this.segments.length - 1].nextOffset;
  }

  /** See the module comment. Resolves to the new log end. */
  truncateTo(offset: number): Promise<number> {
    return this.#exclusive(offset, async () => {
      const before = this.#end;
      if (offset >= before) {
        this.replica.cutTo(before);
        return before;
      }
      if (offset < this.segments[0].baseOffset) {
        await this.#startAt(offset);
        return offset;
      }
      let deleted = 0;
      try {
        deleted = this.#removeSegmentsAfter(offset);
        this.segments[this.segments.length - 1].truncateTo(offset, this.clock.nowMs());
      } catch (err) {
        throw this.#failed(err, `truncating the log in ${this.dir} to offset ${offset}`);
      } finally {
        this.replica.cutTo(this.#end);
      }
      this.logger.info("truncated log", {
        dir: this.dir,
        offset,
        logEndOffset: this.#end,
        droppedOffsets: before - this.#end,
        deletedSegments: deleted,
      });
      await this.#makeDurable(deleted > 0, `truncating the log in ${this.dir}`);
      return this.#end;
    });
  }

  /** See the module comment. */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.#exclusive(offset, () => this.#startAt(offset));
  }

  async #startAt(offset: number): Promise<void> {
    const before = { start: this.segments[0].baseOffset, end: this.#end };
    try {
      this.#removeSegmentsAfter(-1);
      const first = this.segments[0];
      const nowMs = this.clock.nowMs();
      first.truncateTo(first.baseOffset, nowMs);
      if (first.baseOffset !== offset) {
        const fresh = Segment.create(this.dir, offset, this.config, nowMs, this.files);
        syncDir(this.dir);
        this.segments[0] = fresh;
        first.delete();
      }
    } catch (err) {
      this.replica.cutTo(this.#end);
      throw this.#failed(err, `emptying the log in ${this.dir} to start at offset ${offset}`);
    }
    this.replica.restartedAt(offset);
    this.logger.info("emptied log", {
      dir: this.dir,
      logStartOffset: offset,
      droppedFrom: before.start,
      droppedTo: before.end,
    });
    await this.#makeDurable(true, `emptying the log in ${this.dir}`);
  }

  /**
   * Deletes the segments that start after `offset` (all but the first for -1), the last first:
   * a crash midway leaves a prefix of the log. Returns how many.
   */
  #removeSegmentsAfter(offset: number): number {
    let deleted = 0;
    while (
      this.segments.length > 1 && this.segments[this.segments.length - 1].baseOffset > offset
    ) {
      const doomed = this.segments.pop()!;
      deleted++;
      // A descriptor with an fsync in flight closes when the fsync ends (log_files.ts).
      doomed.delete();
      this.logger.info("deleted segment", {
        why: "truncation",
        file: doomed.logPath,
        baseOffset: doomed.baseOffset,
        sizeBytes: doomed.sizeBytes,
      });
    }
    return deleted;
  }

  /** fsyncs what the cut changed and rewrites the recovery checkpoint at the new end. */
  async #makeDurable(deleted: boolean, what: string): Promise<void> {
    const point = this.flusher.recoveryPointNow();
    try {
      if (deleted) syncDir(this.dir);
      await this.flusher.syncDirty();
      if (!this.flusher.writeCheckpoint(point)) {
        // Retention deleted the point's segment meanwhile (a roll made it deletable). The old
        // checkpoint must still go: one at the log start vouches for nothing but the epochs.
        const base = this.segments[0].baseOffset;
        this.flusher.writeCheckpoint({
          offset: base,
          segment: base,
          position: 0,
          maxTimestampMs: -1,
          offsetOfMaxTimestamp: base,
        });
      }
    } catch (err) {
      throw this.#failed(err, what);
    }
  }

  #failed(err: unknown, what: string): SluiceError {
    const failure = storageFailure(err, what, { dir: this.dir });
    this.host.failWrites(failure);
    return failure;
  }

  /**
   * Runs `op` alone, once no retention run or flush round is running, if the log is writable (now
   * and then) and `offset` is one.
   */
  #exclusive<T>(offset: number, op: () => Promise<T>): Promise<T> {
    try {
      this.host.ensureWritable();
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new SluiceError("INVALID_REQUEST", `cannot truncate to ${offset}: not an offset`);
      }
      if (this.#running !== undefined) {
        throw new SluiceError("TOO_MANY_REQUESTS", `a truncation of ${this.dir} is running`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    // Cleared before the caller's continuation runs, so a truncation right after it is not refused.
    const run = this.#whenIdle()
      .then(() => {
        this.host.ensureWritable();
        return op();
      })
      .finally(() => {
        this.#running = undefined;
      });
    this.#running = run.then(() => {}, () => {});
    return run;
  }

  /**
   * Resolves once no timed retention run, no flush round and no DeleteRecords is running at the
   * same moment (each wait lets the others start again, hence the loop). The caller then cuts
   * synchronously.
   */
  async #whenIdle(): Promise<void> {
    for (;;) {
      const busy = this.retention.running ?? this.flusher.running ?? this.host.busy?.();
      if (busy === undefined) return;
      await busy.then(() => {}, () => {});
    }
  }
}
