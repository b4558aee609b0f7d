/**
 * The log of one partition: an ordered list of segments, the last one active.
 *
 * - `append(bytes)` takes one or more RecordBatch v2 batches, checks each (bounds, magic, counts,
 *   CRC-32C), patches their baseOffsets in place (the CRC does not cover them) and writes the bytes
 *   as they are, in one write. Nothing is written when any batch fails its check.
 * - `read(offset, maxBytes)` returns whole batches as one byte range, never decoded.
 * - Durability per `flushPolicy` (see log_config.ts); under `always`, one fsync covers every append
 *   waiting when it starts (group commit).
 * - A recovery checkpoint lets the next open skip re-validating what was flushed (log_loader.ts).
 * - Retention deletes whole expired segments, never the active one.
 *
 * Single-threaded by design: every method runs to completion on the event loop except the fsync
 * waits, so appends are ordered by call and reads always see whole batches.
 */
import { type Clock, systemClock, type Timer } from "../clock.ts";
import { assert, SluiceError } from "../errors.ts";
import { PENDING_FLUSH_WAITERS_MAX, READ_BYTES_MAX } from "../limits.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import {
  batchSizeAt,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  decodeRecordBatch,
  lastOffsetDeltaAt,
  maxTimestampAt,
  throwBatchProblem,
  viewOf,
  writeInt64,
} from "../record/record_batch.ts";
import { modifiedMs, removeTree, syncDir } from "../runtime/fs.ts";
import { type LogConfig, resolveLogConfig } from "./log_config.ts";
import { loadSegments, type RecoveryPoint, writeRecoveryPoint } from "./log_loader.ts";
import { expiredSegmentCount } from "./retention.ts";
import { Segment, storageFailure } from "./segment.ts";

export interface PartitionLogOptions {
  config?: Partial<LogConfig>;
  clock?: Clock;
  logger?: Logger;
  /** Called after every append, once its bytes are readable (wakes long-polling fetchers). */
  onAppend?: (log: PartitionLog, result: AppendResult) => void;
}

export interface AppendResult {
  baseOffset: number;
  /** Offset of the last record appended. */
  lastOffset: number;
  batches: number;
  records: number;
  bytes: number;
}

export interface ReadResult {
  /** Whole batches, exactly as appended. The first may start below the requested offset. */
  bytes: Uint8Array;
  firstOffset: number;
  /** The offset to read next. */
  nextOffset: number;
  /** The log end offset when the read was made (single node: the high watermark). */
  highWatermark: number;
  logStartOffset: number;
}

export interface SegmentInfo {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  maxTimestampMs: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Default maxBytes of a read: Kafka's max.partition.fetch.bytes. */
export const READ_BYTES_DEFAULT = 1024 * 1024;

export class PartitionLog {
  readonly dir: string;
  readonly config: LogConfig;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onAppend: ((log: PartitionLog, result: AppendResult) => void) | undefined;
  readonly #segments: Segment[];
  #waiters: Waiter[] = [];
  #flushLoop: Promise<void> | undefined;
  #flushTimer: Timer | undefined;
  #retentionTimer: Timer | undefined;
  #retentionRun: Promise<number> | undefined;
  #lastCheckpointMs: number;
  #checkpointDue = false;
  /** After an fsync failure the page cache state is unknown: the log refuses further writes. */
  #failure: SluiceError | undefined;
  #closing = false;
  #closed = false;
  #fsyncRounds = 0;

  private constructor(
    dir: string,
    config: LogConfig,
    segments: Segment[],
    options: PartitionLogOptions,
  ) {
    this.dir = dir;
    this.config = config;
    this.#segments = segments;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? consoleLogger;
    this.#onAppend = options.onAppend;
    this.#lastCheckpointMs = this.#clock.nowMs();
  }

  /** Opens (or creates) the log in `dir`, recovering it if it was not closed cleanly. */
  static async open(dir: string, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const config = resolveLogConfig(options.config);
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? consoleLogger;
    const { segments, recovered } = loadSegments(dir, config, clock.nowMs(), logger);
    const log = new PartitionLog(dir, config, segments, options);
    // What recovery validated may still be only in the page cache (the process died, the OS did
    // not): flush it and move the checkpoint to the end, so the next open does not redo the work.
    if (recovered.length > 0) {
      for (const s of recovered) s.dirty = true;
      await log.#syncDirty();
      log.#writeCheckpoint(log.#recoveryPointNow());
    }
    log.#scheduleRetention();
    return log;
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1];
  }

  /** First offset still in the log. */
  get logStartOffset(): number {
    return this.#segments[0].baseOffset;
  }

  /** Offset the next appended record gets (exclusive end of the log). */
  get logEndOffset(): number {
    return this.#active.nextOffset;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const s of this.#segments) total += s.sizeBytes;
    return total;
  }

  /** Group-commit rounds run so far (each fsyncs every dirty segment once). */
  get fsyncRounds(): number {
    return this.#fsyncRounds;
  }

  segments(): SegmentInfo[] {
    return this.#segments.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.sizeBytes,
      maxTimestampMs: s.maxTimestampMs,
    }));
  }

  #ensureWritable(): void {
    if (this.#closing || this.#closed) {
      throw new SluiceError("LOG_CLOSED", `log ${this.dir} is closed`);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Appends one or more RecordBatch v2 batches (back to back in `batches`), assigning offsets from
   * the log end. The caller hands over `batches`: its baseOffset fields are patched in place. The
   * promise resolves per the flush policy: under `always`, once an fsync covered the bytes.
   */
  append(batches: Uint8Array): Promise<AppendResult> {
    try {
      return this.#append(batches);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #append(batches: Uint8Array): Promise<AppendResult> {
    this.#ensureWritable();
    const length = batches.length;
    if (length === 0) throw new SluiceError("INVALID_REQUEST", "append of zero bytes");
    if (length > this.config.segmentBytes) {
      throw new SluiceError(
        "RECORD_TOO_LARGE",
        `append of ${length} bytes exceeds segment.bytes ${this.config.segmentBytes}`,
      );
    }
    const dv = viewOf(batches);
    // Check every batch before writing any: a rejected append writes nothing.
    let pos = 0;
    let batchCount = 0;
    let records = 0;
    let maxTimestampMs = -1;
    while (pos < length) {
      const checked = checkBatch(
        batches,
        dv,
        pos,
        length,
        this.config.maxMessageBytes,
        CHECK_CRC | CHECK_COUNTS,
      );
      if (typeof checked !== "number") throwBatchProblem(checked, pos);
      records += lastOffsetDeltaAt(dv, pos) + 1;
      maxTimestampMs = Math.max(maxTimestampMs, maxTimestampAt(dv, pos));
      batchCount++;
      pos += checked;
    }

    if (this.config.flushPolicy === "always" && this.#waiters.length >= PENDING_FLUSH_WAITERS_MAX) {
      // Refuse before writing: an append that fails after its write would be retried as a duplicate.
      throw new SluiceError(
        "TOO_MANY_REQUESTS",
        `${PENDING_FLUSH_WAITERS_MAX} appends wait for fsync`,
      );
    }
    const nowMs = this.#clock.nowMs();
    const baseOffset = this.logEndOffset;
    if (this.#shouldRoll(length, baseOffset + records - 1, maxTimestampMs, nowMs)) {
      this.#roll(nowMs);
    }
    // Offsets are assigned by patching each header's baseOffset, which the CRC does not cover.
    let next = baseOffset;
    for (pos = 0; pos < length; pos += batchSizeAt(dv, pos)) {
      writeInt64(dv, pos, next);
      next += lastOffsetDeltaAt(dv, pos) + 1;
    }
    this.#active.append(batches, dv, next);
    const result: AppendResult = {
      baseOffset,
      lastOffset: next - 1,
      batches: batchCount,
      records,
      bytes: length,
    };
    try {
      this.#onAppend?.(this, result);
    } catch (err) {
      this.#logger.error("append listener failed", { dir: this.dir, error: String(err) });
    }

    switch (this.config.flushPolicy) {
      case "always":
        return this.flush().then(() => result);
      case "interval":
        if (this.#flushTimer === undefined) {
          this.#flushTimer = this.#clock.setTimer(() => {
            this.#flushTimer = undefined;
            this.#backgroundFlush();
          }, this.config.flushMs);
        }
        return Promise.resolve(result);
      case "none":
        return Promise.resolve(result);
    }
  }

  #shouldRoll(length: number, lastOffset: number, maxTimestampMs: number, nowMs: number): boolean {
    const active = this.#active;
    if (active.isEmpty) return false;
    if (active.sizeBytes + length > this.config.segmentBytes) return true;
    if (active.isIndexFull) return true;
    if (lastOffset - active.baseOffset > 0xffff_ffff) return true; // relative offsets are u32
    // segment.ms as Kafka measures it: by record timestamps when both sides have one.
    const waitedMs = active.firstBatchTimestampMs >= 0 && maxTimestampMs >= 0
      ? maxTimestampMs - active.firstBatchTimestampMs
      : nowMs - active.createdMs;
    return waitedMs >= this.config.segmentMs;
  }

  #roll(nowMs: number): void {
    const old = this.#active;
    old.onBecomeInactive();
    let segment: Segment;
    try {
      old.persistIndexes(false);
      segment = Segment.create(this.dir, this.logEndOffset, this.config, nowMs);
    } catch (err) {
      // Nothing was appended yet: the append is refused whole, typed (507 on a full disk).
      throw storageFailure(err, `rolling a segment in ${this.dir}`, { dir: this.dir });
    }
    this.#segments.push(segment);
    syncDir(this.dir);
    this.#logger.info("rolled segment", { dir: this.dir, baseOffset: segment.baseOffset });
    // As Kafka does, flush the finished segment in the background so the recovery checkpoint can
    // move past it, whatever the flush policy.
    this.#checkpointDue = true;
    this.#backgroundFlush();
  }

  #backgroundFlush(): void {
    this.flush().catch((err) => {
      this.#logger.error("background flush failed", { dir: this.dir, error: String(err) });
    });
  }

  /** Resolves once every byte appended before the call is on disk (fdatasync). */
  flush(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.resolve();
    if (this.#waiters.length >= PENDING_FLUSH_WAITERS_MAX) {
      return Promise.reject(
        new SluiceError("TOO_MANY_REQUESTS", `${PENDING_FLUSH_WAITERS_MAX} appends wait for fsync`),
      );
    }
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#flushLoop === undefined) this.#flushLoop = this.#runFlushes();
    return promise;
  }

  /**
   * Group commit: each round fsyncs everything written so far for every waiter queued before it.
   * #flushLoop is cleared in the same synchronous step in which the last round resolves its
   * waiters, so a flush() queued by a resumed waiter starts a new loop instead of joining a
   * finished one. (The loop awaits at least once, so #flushLoop is set before it can end.)
   */
  async #runFlushes(): Promise<void> {
    try {
      while (this.#waiters.length > 0) {
        const waiters = this.#waiters;
        this.#waiters = [];
        if (this.#failure !== undefined) {
          for (const w of waiters) w.reject(this.#failure);
          continue;
        }
        const point = this.#recoveryPointNow();
        this.#fsyncRounds++;
        try {
          await this.#syncDirty();
        } catch (err) {
          this.#failure = new SluiceError(
            "STORAGE_ERROR",
            `fsync failed in ${this.dir}; the log refuses writes until reopened: ${err}`,
            { dir: this.dir },
            { cause: err },
          );
          this.#logger.error("fsync failed; log is offline for writes", {
            dir: this.dir,
            error: String(err),
          });
          for (const w of waiters) w.reject(this.#failure);
          continue;
        }
        for (const w of waiters) w.resolve();
        const nowMs = this.#clock.nowMs();
        if (
          !this.#closing &&
          (this.#checkpointDue ||
            nowMs - this.#lastCheckpointMs >= this.config.checkpointIntervalMs)
        ) {
          try {
            this.#writeCheckpoint(point);
          } catch (err) {
            this.#logger.warn("recovery checkpoint not written", {
              dir: this.dir,
              error: String(err),
            });
          }
        }
      }
    } finally {
      this.#flushLoop = undefined;
    }
  }

  async #syncDirty(): Promise<void> {
    const dirty = this.#segments.filter((s) => s.dirty);
    if (dirty.length > 0) await Promise.all(dirty.map((s) => s.sync()));
  }

  #recoveryPointNow(): RecoveryPoint {
    const active = this.#active;
    return {
      offset: active.nextOffset,
      segment: active.baseOffset,
      position: active.sizeBytes,
      maxTimestampMs: active.maxTimestampMs,
      offsetOfMaxTimestamp: active.offsetOfMaxTimestamp,
    };
  }

  /** Writes index entries (fsynced) and then the checkpoint that vouches for them. */
  #writeCheckpoint(point: RecoveryPoint): void {
    if (!this.#segments.some((s) => s.baseOffset === point.segment)) return; // deleted meanwhile
    for (const s of this.#segments) {
      if (s.hasUnpersistedIndexes) s.persistIndexes(true);
    }
    writeRecoveryPoint(this.dir, point);
    this.#lastCheckpointMs = this.#clock.nowMs();
    this.#checkpointDue = false;
  }

  /** Flushes everything and writes a recovery checkpoint at the log end. */
  async checkpoint(): Promise<void> {
    this.#ensureWritable();
    const point = this.#recoveryPointNow();
    await this.flush();
    this.#writeCheckpoint(point);
  }

  /**
   * Whole batches starting with the one that holds `offset`, up to `maxBytes` (but at least one
   * batch, however large), as one byte range. Undefined at the log end (no data yet); a typed
   * OFFSET_OUT_OF_RANGE error below the log start or past the end; CORRUPT_LOG when the stored
   * batch fails its check.
   */
  read(offset: number, maxBytes: number = READ_BYTES_DEFAULT): ReadResult | undefined {
    if (this.#closed) throw new SluiceError("LOG_CLOSED", `log ${this.dir} is closed`);
    const logEndOffset = this.logEndOffset;
    if (!Number.isSafeInteger(offset) || offset < this.logStartOffset || offset > logEndOffset) {
      throw new SluiceError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${offset} is outside [${this.logStartOffset}, ${logEndOffset}]`,
        { offset, logStartOffset: this.logStartOffset, logEndOffset },
      );
    }
    if (offset === logEndOffset) return undefined;
    const limit = Math.max(1, Math.min(Math.floor(maxBytes) || 1, READ_BYTES_MAX));
    // Segments are few (one per segment.bytes); the loop continues past a gap between segments.
    for (let i = this.#segmentIndexFor(offset); i < this.#segments.length; i++) {
      const s = this.#segments[i];
      const r = s.read(Math.max(offset, s.baseOffset), limit, this.config.verifyCrcOnRead);
      if (r !== undefined) {
        return {
          bytes: r.bytes,
          firstOffset: r.firstOffset,
          nextOffset: r.nextOffset,
          highWatermark: logEndOffset,
          logStartOffset: this.logStartOffset,
        };
      }
    }
    return undefined;
  }

  /** Index of the segment with the greatest baseOffset <= offset (binary search). */
  #segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#segments[mid].baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * The first offset whose record timestamp is >= `timestampMs` (Kafka's ListOffsets by time), or
   * undefined when no record is that new. Decodes exactly one batch.
   */
  offsetForTimestamp(timestampMs: number): number | undefined {
    return this.recordAtTimestamp(timestampMs)?.offset;
  }

  /** The first record at or after `timestampMs`: its offset and its own timestamp. */
  recordAtTimestamp(timestampMs: number): { offset: number; timestampMs: number } | undefined {
    if (this.#closed) throw new SluiceError("LOG_CLOSED", `log ${this.dir} is closed`);
    for (const s of this.#segments) {
      const bytes = s.findBatchByTimestamp(timestampMs);
      if (bytes === undefined) continue;
      const batch = decodeRecordBatch(bytes, this.config.verifyCrcOnRead);
      for (const r of batch.records) {
        if (r.timestamp >= timestampMs && r.offset >= this.logStartOffset) {
          return { offset: r.offset, timestampMs: r.timestamp };
        }
      }
    }
    return undefined;
  }

  /**
   * Deletes the oldest segments that retention.ms or retention.bytes expire (never the active
   * one); logStartOffset moves to the first remaining segment. Returns how many were deleted.
   * Waits for a running flush first: a descriptor with an fsync in flight must stay open.
   */
  async deleteExpiredSegments(nowMs: number = this.#clock.nowMs()): Promise<number> {
    if (this.#flushLoop !== undefined) await this.#flushLoop;
    if (this.#closed || this.#closing) return 0;
    const count = expiredSegmentCount(
      this.#segments.map((s) => ({
        sizeBytes: s.sizeBytes,
        maxTimestampMs: s.maxTimestampMs,
        lastModifiedMs: () => modifiedMs(s.logPath),
      })),
      this.config,
      nowMs,
    );
    return this.#deleteOldest(count, "retention");
  }

  /**
   * Deletes the whole segments that end at or before `offset` (never the active one), as Kafka's
   * DeleteRecords does at segment granularity: for internal logs whose content a snapshot covers.
   */
  async deleteSegmentsBefore(offset: number): Promise<number> {
    if (this.#flushLoop !== undefined) await this.#flushLoop;
    if (this.#closed || this.#closing) return 0;
    let count = 0;
    while (count < this.#segments.length - 1 && this.#segments[count].nextOffset <= offset) count++;
    return this.#deleteOldest(count, "deleteSegmentsBefore");
  }

  #deleteOldest(count: number, why: string): number {
    // A flush that started since the caller's wait keeps its segments until the next call.
    for (let i = 0; i < count; i++) {
      if (this.#segments[i].syncsInFlight > 0) count = i;
    }
    if (count === 0) return 0;
    const doomed = this.#segments.splice(0, count);
    assert(this.#segments.length > 0, "deletion keeps the active segment");
    for (const s of doomed) {
      s.delete();
      this.#logger.info("deleted segment", {
        why,
        file: s.logPath,
        baseOffset: s.baseOffset,
        sizeBytes: s.sizeBytes,
      });
    }
    return count;
  }

  #scheduleRetention(): void {
    if (this.config.retentionMs < 0 && this.config.retentionBytes < 0) return;
    this.#retentionTimer = this.#clock.setTimer(() => {
      this.#retentionRun = this.deleteExpiredSegments()
        .catch((err) => {
          this.#logger.error("retention failed", { dir: this.dir, error: String(err) });
          return 0;
        })
        .finally(() => {
          this.#retentionRun = undefined;
          if (!this.#closing && !this.#closed) this.#scheduleRetention();
        });
    }, this.config.retentionCheckIntervalMs);
  }

  /** Flushes, writes the checkpoint that makes the next open fast, and closes every file. */
  async close(): Promise<void> {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#flushTimer?.cancel();
    this.#retentionTimer?.cancel();
    try {
      if (this.#retentionRun !== undefined) await this.#retentionRun;
      while (this.#flushLoop !== undefined) await this.#flushLoop;
      if (this.#failure === undefined) {
        const point = this.#recoveryPointNow();
        await this.#syncDirty();
        this.#writeCheckpoint(point);
      }
    } finally {
      for (const s of this.#segments) s.close();
      this.#closed = true;
    }
  }

  /** Closes the log and removes its directory. */
  async delete(): Promise<void> {
    await this.close();
    removeTree(this.dir);
  }
}
