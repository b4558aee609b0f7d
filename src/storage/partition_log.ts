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
 *
 * States (online, read-only, offline) and damage reports: see {@link LogState} in log_types.ts.
 */
import { type Clock, systemClock, type Timer } from "../clock.ts";
import { assert, SluiceError } from "../errors.ts";
import { PENDING_FLUSH_WAITERS_MAX, READ_BYTES_MAX } from "../limits.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { viewOf } from "../record/record_batch.ts";
import { isNoSpace, modifiedMs, removeTree, syncDir } from "../runtime/fs.ts";
import { DamageList, type LogDamage } from "./log_damage.ts";
import { type LogConfig, resolveLogConfig } from "./log_config.ts";
import { type LogFiles, sharedLogFiles } from "./log_files.ts";
import { loadSegments, type RecoveryPoint, writeRecoveryPoint } from "./log_loader.ts";
import { expiredSegmentCount } from "./retention.ts";
import { Segment, storageFailure } from "./segment.ts";
import { offlineError } from "./storage_errors.ts";

import { type AppendTally, assignOffsets, checkAppendBatches, shouldRoll } from "./append_rules.ts";
import { findRecordAtTimestamp, readSegments } from "./log_reads.ts";
import {
  type AppendResult,
  type LogState,
  type PartitionLogOptions,
  READ_BYTES_DEFAULT,
  type ReadResult,
  type SegmentInfo,
} from "./log_types.ts";

export type { LogDamage } from "./log_damage.ts";
export type {
  AppendResult,
  LogState,
  PartitionLogOptions,
  ReadResult,
  SegmentInfo,
} from "./log_types.ts";
export { READ_BYTES_DEFAULT } from "./log_types.ts";

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class PartitionLog {
  readonly dir: string;
  readonly config: LogConfig;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onAppend: ((log: PartitionLog, result: AppendResult) => void) | undefined;
  readonly #segments: Segment[];
  readonly #files: LogFiles;
  readonly #damage = new DamageList();
  /** Set for a log made by offline(): every read and write throws it. */
  #offline: SluiceError | undefined;
  #waiters: Waiter[] = [];
  /** The append check's tally, reused (appends run one at a time). */
  readonly #tally: AppendTally = { batches: 0, records: 0, maxTimestampMs: -1 };
  #flushLoop: Promise<void> | undefined;
  #flushTimer: Timer | undefined;
  #retentionTimer: Timer | undefined;
  #retentionRun: Promise<number> | undefined;
  #lastCheckpointMs: number;
  #checkpointDue = false;
  /**
   * Why the log refuses writes (read-only): after an fsync failure the page cache state is
   * unknown; after an open that could not write what recovery needed, the disk is full.
   */
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
    this.#files = options.logFiles ?? sharedLogFiles();
    this.#lastCheckpointMs = this.#clock.nowMs();
  }

  /**
   * Opens (or creates) the log in `dir`, recovering it if it was not closed cleanly. Never throws
   * for damaged data (see `damage`) nor for a full disk (the log opens read-only); throws a typed
   * error (naming the file) when the file system fails otherwise (EACCES, EIO, EMFILE:
   * TOO_MANY_OPEN_FILES), leaving no descriptor open.
   */
  static async open(dir: string, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const config = resolveLogConfig(options.config);
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? consoleLogger;
    const files = options.logFiles ?? sharedLogFiles();
    const loaded = loadSegments(dir, config, clock.nowMs(), logger, files);
    const log = new PartitionLog(dir, config, loaded.segments, { ...options, logFiles: files });
    for (const d of loaded.damage) log.#damage.add(d);
    if (loaded.readOnly !== undefined) log.#readOnly(loaded.readOnly);
    // What recovery validated may still be only in the page cache (the process died, the OS did
    // not): flush it and move the checkpoint to the end, so the next open does not redo the work.
    if (loaded.recovered.length > 0 && log.#failure === undefined) {
      for (const s of loaded.recovered) s.dirty = true;
      try {
        await log.#syncDirty();
        log.#writeCheckpoint(log.#recoveryPointNow());
      } catch (err) {
        const failure = storageFailure(err, `recovering the log in ${dir}`, { dir });
        if (failure.code !== "INSUFFICIENT_STORAGE" && !isNoSpace(err)) {
          for (const s of loaded.segments) s.close();
          throw failure;
        }
        log.#readOnly(failure);
      }
    }
    log.#scheduleRetention();
    return log;
  }

  /**
   * A log that serves nothing: every read and write fails with STORAGE_ERROR naming `dir` and
   * `cause` (details.offline true). For a partition whose open failed, so that its topic stays up.
   */
  static offline(dir: string, cause: unknown, options: PartitionLogOptions = {}): PartitionLog {
    const log = new PartitionLog(dir, resolveLogConfig(options.config), [], options);
    log.#offline = offlineError(dir, cause);
    return log;
  }

  /**
   * open(), or, when it throws, an offline() log for the same dir (the failure logged as an
   * error). Never throws except for an invalid config (INVALID_CONFIG).
   */
  static async openOrOffline(
    dir: string,
    options: PartitionLogOptions = {},
  ): Promise<PartitionLog> {
    resolveLogConfig(options.config);
    try {
      return await PartitionLog.open(dir, options);
    } catch (err) {
      const log = PartitionLog.offline(dir, err, options);
      (options.logger ?? consoleLogger).error("partition log could not be opened; it is offline", {
        dir,
        error: log.#offline!.message,
        code: (err as { code?: unknown })?.code as string | undefined,
      });
      return log;
    }
  }

  #readOnly(failure: SluiceError): void {
    if (this.#failure !== undefined) return;
    this.#failure = failure;
    this.#logger.error("log is read-only until it is reopened", {
      dir: this.dir,
      code: failure.code,
      error: failure.message,
      file: (failure.details?.file as string | undefined) ?? null,
    });
  }

  /** online, read-only or offline: see {@link LogState}. */
  get state(): LogState {
    if (this.#offline !== undefined) return "offline";
    return this.#failure !== undefined ? "read-only" : "online";
  }

  /** Why the log is offline or read-only; undefined while online. */
  get failure(): SluiceError | undefined {
    return this.#offline ?? this.#failure;
  }

  /** Damage found at open or by reads since (at most LOG_DAMAGE_ENTRIES_MAX, the first found). */
  get damage(): readonly LogDamage[] {
    return this.#damage.entries;
  }

  /** Distinct damage found, including entries beyond the list's bound. */
  get damageCount(): number {
    return this.#damage.count;
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1];
  }

  /** First offset still in the log (0 when offline). */
  get logStartOffset(): number {
    return this.#offline === undefined ? this.#segments[0].baseOffset : 0;
  }

  /** Offset the next appended record gets (exclusive end of the log; 0 when offline). */
  get logEndOffset(): number {
    return this.#offline === undefined ? this.#active.nextOffset : 0;
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
    if (this.#offline !== undefined) throw this.#offline;
    if (this.#closing || this.#closed) {
      throw new SluiceError("LOG_CLOSED", `log ${this.dir} is closed`);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  #ensureReadable(): void {
    if (this.#offline !== undefined) throw this.#offline;
    if (this.#closed) throw new SluiceError("LOG_CLOSED", `log ${this.dir} is closed`);
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
    const tally = this.#tally;
    checkAppendBatches(batches, dv, this.config.maxMessageBytes, tally);
    const records = tally.records;

    if (this.config.flushPolicy === "always" && this.#waiters.length >= PENDING_FLUSH_WAITERS_MAX) {
      // Refuse before writing: an append that fails after its write would be retried as a duplicate.
      throw new SluiceError(
        "TOO_MANY_REQUESTS",
        `${PENDING_FLUSH_WAITERS_MAX} appends wait for fsync`,
      );
    }
    const nowMs = this.#clock.nowMs();
    const baseOffset = this.logEndOffset;
    const last = baseOffset + records - 1;
    if (shouldRoll(this.#active, this.config, length, last, tally.maxTimestampMs, nowMs)) {
      this.#roll(nowMs);
    }
    const next = assignOffsets(dv, length, baseOffset);
    this.#active.append(batches, dv, next);
    const result: AppendResult = {
      baseOffset,
      lastOffset: next - 1,
      batches: tally.batches,
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

  #roll(nowMs: number): void {
    const old = this.#active;
    old.onBecomeInactive();
    let segment: Segment;
    try {
      old.persistIndexes(false);
      segment = Segment.create(this.dir, this.logEndOffset, this.config, nowMs, this.#files);
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
    if (this.#offline !== undefined) return Promise.reject(this.#offline);
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
   *
   * `upTo` bounds what the reader may see (exclusive; the log end when absent or beyond it): no
   * batch starting at or past it is returned, and a read from there answers undefined, as at the
   * log end. The broker passes its high watermark; it is at a batch boundary, as every log end
   * a replica reports is, so the batch holding an offset below it ends below it too.
   */
  read(
    offset: number,
    maxBytes: number = READ_BYTES_DEFAULT,
    upTo?: number,
  ): ReadResult | undefined {
    this.#ensureReadable();
    const logEndOffset = this.logEndOffset;
    if (!Number.isSafeInteger(offset) || offset < this.logStartOffset || offset > logEndOffset) {
      throw new SluiceError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${offset} is outside [${this.logStartOffset}, ${logEndOffset}]`,
        { offset, logStartOffset: this.logStartOffset, logEndOffset },
      );
    }
    const end = upTo === undefined || upTo > logEndOffset ? logEndOffset : upTo;
    if (offset >= end) return undefined;
    const limit = Math.max(1, Math.min(Math.floor(maxBytes) || 1, READ_BYTES_MAX));
    let r;
    try {
      r = readSegments(this.#segments, offset, limit, this.config.verifyCrcOnRead, end);
    } catch (err) {
      this.#noteCorruption(err);
      throw err;
    }
    // Past a gap of missing offsets the first batch may start at or past the bound.
    if (r.firstOffset >= end) return undefined;
    return {
      bytes: r.bytes,
      firstOffset: r.firstOffset,
      nextOffset: r.nextOffset,
      highWatermark: end,
      logStartOffset: this.logStartOffset,
    };
  }

  /** A CORRUPT_LOG a read met joins `damage` (and is logged once per file and position). */
  #noteCorruption(err: unknown): void {
    if (!(err instanceof SluiceError) || err.code !== "CORRUPT_LOG") return;
    const file = err.details?.file;
    const position = err.details?.position;
    if (typeof file !== "string" || typeof position !== "number") return;
    if (this.#damage.add({ file, position, reason: err.message })) {
      this.#logger.error("a read reached a corrupt batch", { file, position, error: err.message });
    }
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
    this.#ensureReadable();
    try {
      return findRecordAtTimestamp(
        this.#segments,
        timestampMs,
        this.logStartOffset,
        this.config.verifyCrcOnRead,
      );
    } catch (err) {
      this.#noteCorruption(err);
      throw err;
    }
  }

  /**
   * Deletes the oldest segments that retention.ms or retention.bytes expire (never the active
   * one); logStartOffset moves to the first remaining segment. Returns how many were deleted.
   * Waits for a running flush first: a descriptor with an fsync in flight must stay open.
   */
  async deleteExpiredSegments(nowMs: number = this.#clock.nowMs()): Promise<number> {
    if (this.#flushLoop !== undefined) await this.#flushLoop;
    if (this.#closed || this.#closing || this.#offline !== undefined) return 0;
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
    if (this.#closed || this.#closing || this.#offline !== undefined) return 0;
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
    if (this.#offline !== undefined) return;
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
      if (this.#failure === undefined && this.#offline === undefined) {
        const point = this.#recoveryPointNow();
        try {
          await this.#syncDirty();
        } catch (err) {
          throw storageFailure(err, `flushing the log in ${this.dir} on close`, { dir: this.dir });
        }
        try {
          this.#writeCheckpoint(point);
        } catch (err) {
          // The data is flushed; without the checkpoint the next open only re-validates more.
          this.#logger.warn("recovery checkpoint not written on close", {
            dir: this.dir,
            error: String(err),
          });
        }
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
