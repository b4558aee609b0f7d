/**
 * The log of one partition: an ordered list of segments, the last one active.
 *
 * - `append(bytes)` takes one or more RecordBatch v2 batches, checks each (bounds, magic, counts,
 *   CRC-32C), patches their baseOffsets in place (the CRC does not cover them) and writes the bytes
 *   as they are, in one write. Nothing is written when any batch fails its check.
 * - `read(offset, maxBytes)` returns whole batches as one byte range, never decoded.
 * - Durability per `flushPolicy` (see log_config.ts); under `always`, one fsync covers every append
 *   waiting when it starts (group commit). A recovery checkpoint lets the next open skip
 *   re-validating what was flushed (log_loader.ts). Both: log_flusher.ts.
 * - Retention deletes whole expired segments, never the active one (retention.ts).
 * - DeleteRecords moves the log start offset up, perhaps inside a segment, durably, and deletes
 *   the whole segments below it (log_start.ts).
 * - Leader epochs: each batch is stamped with the log's leader epoch, and the epoch cache
 *   (leader_epochs.ts, persisted in each recovery checkpoint) knows where each epoch starts: cut
 *   with the log's tail at recovery and with its start at retention, completed from the batches
 *   recovery re-validates, rebuilt from all of them when the checkpoint has none.
 * - A follower appends its leader's batches as they are (`appendReplicated`) and cuts its log where
 *   it diverges (log_truncation.ts). The high watermark persists in the recovery checkpoint.
 * - Reads across segments: log_reads.ts; the append's checks: append_rules.ts.
 * - Compaction (cleanup.policy compact): appends refuse records without a key; the cleaner
 *   (cleaner/log_compaction.ts, run by cleaner/cleaner_manager.ts) rewrites closed segments,
 *   keeping each key's latest record. Close and truncation pause it first.
 *
 * Single-threaded by design: every method runs to completion on the event loop except the fsync
 * waits, so appends are ordered by call and reads always see whole batches.
 *
 * States (online, read-only, offline) and damage reports: see {@link LogState} in log_types.ts.
 */
import { type Clock, systemClock } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import { RETENTION_AFTER_CONFIG_CHANGE_MS } from "../limits.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { removeTree } from "../runtime/fs.ts";
import { DamageList, type LogDamage } from "./log_damage.ts";
import { type LogConfig, resolveLogConfig } from "./log_config.ts";
import { type LogFiles, sharedLogFiles } from "./log_files.ts";
import { flushForClose, settleLoaded } from "./log_lifecycle.ts";
import { type EpochEndOffset, type EpochEntry, openLeaderEpochs } from "./leader_epochs.ts";
import { type LoadResult, loadSegments } from "./log_loader.ts";
import { firstRetentionDelayMs, loadLazily } from "./log_lazy.ts";
import { type LogSummary, peekLog } from "./log_peek.ts";
import type { TimedOffset } from "./log_reads.ts";
import { closedError, LogParts } from "./log_parts.ts";
import { ReplicaState } from "./replica_state.ts";
import type { LogCompaction } from "./cleaner/log_compaction.ts";
import type { Segment } from "./segment.ts";
import { offlineError } from "./storage_errors.ts";
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

export class PartitionLog {
  readonly dir: string;
  /** The leader epoch, the epoch cache (empty when offline), the high watermark. */
  readonly #replica = new ReplicaState();
  readonly config: LogConfig;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onAppend: ((log: PartitionLog, result: AppendResult) => void) | undefined;
  readonly #segments: Segment[];
  readonly #files: LogFiles;
  readonly #damage = new DamageList();
  /** Set for a log made by offline(): every read and write throws it. */
  #offline: SluiceError | undefined;
  /** Flusher, retention, truncation, log start, reads, appender, compaction: log_parts.ts. */
  readonly #parts: LogParts;
  /** A lazy log's options until its first use loads it (log_lazy.ts); `fresh`: a new dir. */
  #pending: { options: PartitionLogOptions; fresh: boolean } | undefined;
  /** summary() of a lazy log not used yet (null: its files need a load); nothing changes it. */
  #peeked: LogSummary | null | undefined;
  /**
   * Why the log refuses writes (read-only): after an fsync failure the page cache state is
   * unknown; after an open that could not write what recovery needed, the disk is full.
   */
  #failure: SluiceError | undefined;
  #closing = false;
  #closed = false;

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
    this.#parts = new LogParts({
      dir,
      config,
      segments,
      clock: this.#clock,
      logger: this.#logger,
      files: this.#files,
      replica: this.#replica,
      damage: this.#damage,
    }, {
      failure: () => this.#offline ?? this.#failure,
      fsyncFailed: (failure) => {
        this.#failure = failure;
      },
      readOnly: (failure) => this.#readOnly(failure),
      closing: () => this.#closing,
      closed: () => this.#closed,
      offline: () => this.#offline !== undefined,
      load: () => this.#load(),
      ensureWritable: () => this.#ensureWritable(),
      ensureReadable: () => this.#ensureReadable(),
      logStartOffset: () => this.logStartOffset,
      highWatermark: () => this.highWatermark,
      appended: (result) => this.#onAppend?.(this, result),
    });
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
    const log = new PartitionLog(dir, config, [], options);
    log.#opened(loaded, options.leaderEpoch);
    await log.#settle(loaded);
    log.#parts.retention.schedule();
    return log;
  }

  /**
   * A log whose files are read at its first use (any read, write, offset or state, retention,
   * the cleaner), not now: log_lazy.ts. A load that fails then leaves it offline, as openOrOffline.
   */
  static lazy(dir: string, options: PartitionLogOptions = {}, fresh = false): PartitionLog {
    const log = new PartitionLog(dir, resolveLogConfig(options.config), [], options);
    log.#pending = { options, fresh };
    log.#parts.retention.schedule(firstRetentionDelayMs(dir, log.config.retentionCheckIntervalMs));
    return log;
  }

  /** False for a lazy log not used yet (nothing of it read). */
  get loaded(): boolean {
    return this.#pending === undefined;
  }

  /** True for a new log not used yet (its offsets are 0, it holds nothing); loads any other. */
  #unread(): boolean {
    if (this.#pending?.fresh === true && !this.#closed) return true;
    this.#load();
    return false;
  }

  /** Loads a lazy log now (synchronously); its flush of what recovery read runs after. */
  #load(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#peeked = undefined;
    const { options, fresh } = pending;
    // Closed before any use, it serves nothing now.
    const loaded = this.#closed
      ? closedError(this.dir)
      : loadLazily(this.dir, this.config, this.#clock, this.#logger, this.#files, fresh);
    if (loaded instanceof SluiceError) {
      this.#offline = loaded;
      return;
    }
    this.#opened(loaded, options.leaderEpoch);
    this.#settle(loaded).catch((err) => {
      this.#offline = offlineError(this.dir, err);
      for (const s of this.#segments) s.close();
    });
  }

  /** What a load found, taken in (the synchronous part of open). */
  #opened(loaded: LoadResult, leaderEpoch = 0): void {
    this.#segments.push(...loaded.segments);
    if (loaded.fresh) this.#parts.appender.unborn = loaded.segments[0];
    this.#parts.compaction = this.#parts.newCompaction(loaded.cleanerCheckpoint);
    for (const d of loaded.damage) this.#damage.add(d);
    if (loaded.readOnly !== undefined) this.#readOnly(loaded.readOnly);
    const epochs = openLeaderEpochs({
      dir: this.dir,
      checkpointed: loaded.leaderEpochs,
      segments: loaded.segments,
      recovered: loaded.recovered,
      recoveredFrom: loaded.recoveredFrom,
      logStartOffset: loaded.logStartOffset,
      logEndOffset: this.logEndOffset,
      leaderEpoch,
      logger: this.#logger,
    });
    this.#replica.opened(epochs, loaded.highWatermark, loaded.logStartOffset);
    // A new log's close writes no checkpoint while nothing changed (LogFlusher.writeCheckpoint).
    const fresh = loaded.fresh
      ? this.#parts.flusher.textFor(this.#parts.flusher.recoveryPointNow())
      : "";
    this.#parts.flusher.checkpointText = loaded.checkpointText ?? (fresh || undefined);
  }

  /** See {@link settleLoaded} (log_lifecycle.ts). */
  #settle(loaded: LoadResult): Promise<void> {
    return settleLoaded(
      this.#parts,
      loaded,
      () => this.#failure !== undefined,
      (failure) => this.#readOnly(failure),
    );
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

  /**
   * The partition's leader epoch: stamped into appended batches (RecordBatch v2's
   * partitionLeaderEpoch, which the CRC does not cover), what clients' epochs are checked against.
   */
  get leaderEpoch(): number {
    this.#load();
    return this.#replica.leaderEpoch;
  }

  /**
   * This replica leads from now on in `epoch` (>= the current one): its appends are stamped with
   * it, and the epoch starts at the log end (on disk from the next recovery checkpoint on; a crash
   * before it finds the epoch again in the batches recovery re-validates).
   */
  becomeLeader(epoch: number): void {
    this.#ensureWritable();
    this.#replica.becomeLeader(epoch, this.logEndOffset);
  }

  /** Follows from now on in `epoch` (>= the current one; replica_state.ts), starting no epoch. */
  becomeFollower(epoch: number): void {
    this.#ensureWritable();
    this.#replica.becomeFollower(epoch);
  }

  /** The cache's entries (epoch, start offset), ascending. */
  leaderEpochs(): readonly EpochEntry[] {
    this.#ensureReadable();
    return this.#replica.epochs.entries;
  }

  /** OffsetForLeaderEpoch: where `epoch` ends (see LeaderEpochCache.endOffsetFor). */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    this.#ensureReadable();
    return this.#replica.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /** The epoch `offset` was written in (-1 when none is known). */
  epochForOffset(offset: number): number {
    this.#ensureReadable();
    return this.#replica.epochs.epochForOffset(offset);
  }

  /** Offsets below it are committed: replica_state.ts; at open, highWatermarkOf (log_loader.ts). */
  get highWatermark(): number {
    if (this.#unread()) return 0;
    return this.#replica.highWatermark(this.logStartOffset, this.logEndOffset);
  }

  /**
   * Sets the high watermark clamped to the log and returns it (Kafka's updateHighWatermark). In
   * memory; the next recovery checkpoint writes it.
   */
  updateHighWatermark(offset: number): number {
    this.#ensureReadable();
    return this.#replica.updateHighWatermark(offset, this.logStartOffset, this.logEndOffset);
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
    this.#unread();
    if (this.#offline !== undefined) return "offline";
    return this.#failure !== undefined ? "read-only" : "online";
  }

  /** Why the log is offline or read-only; undefined while online. */
  get failure(): SluiceError | undefined {
    this.#unread();
    return this.#offline ?? this.#failure;
  }

  /** Damage found at open or by reads since (at most LOG_DAMAGE_ENTRIES_MAX, the first found). */
  get damage(): readonly LogDamage[] {
    this.#unread();
    return this.#damage.entries;
  }

  /** Distinct damage found, including entries beyond the list's bound. */
  get damageCount(): number {
    this.#unread();
    return this.#damage.count;
  }

  get #active(): Segment {
    this.#load();
    return this.#segments[this.#segments.length - 1];
  }

  /** First offset a reader may see (0 when offline); inside a segment after DeleteRecords. */
  get logStartOffset(): number {
    if (this.#unread()) return 0;
    return this.#offline === undefined
      ? this.#replica.logStartOffset(this.#segments[0].baseOffset)
      : 0;
  }

  /** Offset the next appended record gets (exclusive end of the log; 0 when offline). */
  get logEndOffset(): number {
    if (this.#unread()) return 0;
    return this.#offline === undefined ? this.#active.nextOffset : 0;
  }

  get sizeBytes(): number {
    if (this.#unread()) return 0;
    let total = 0;
    for (const s of this.#segments) total += s.sizeBytes;
    return total;
  }

  /** Its cleaner checkpoint, dirty ratio and cleans, for cleaner/cleaner_manager.ts. */
  get compaction(): LogCompaction {
    this.#load();
    return this.#parts.compaction;
  }

  /** Group-commit rounds run so far (each fsyncs every dirty segment once). */
  get fsyncRounds(): number {
    return this.#parts.flusher.rounds;
  }

  /**
   * Its figures for /metrics: read from its directory (log_peek.ts) for a lazy log not used yet,
   * which stays unloaded; the log's own otherwise.
   */
  summary(): LogSummary {
    if (this.#pending !== undefined && !this.#pending.fresh && !this.#closed) {
      this.#peeked ??= peekLog(this.dir) ?? null;
      if (this.#peeked !== null) return this.#peeked;
    }
    const { logStartOffset, logEndOffset, sizeBytes, state, damageCount } = this;
    const segments = this.segments().length;
    return { logStartOffset, logEndOffset, sizeBytes, segments, state, damageCount };
  }

  segments(): SegmentInfo[] {
    this.#load();
    return this.#segments.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.sizeBytes,
      maxTimestampMs: s.maxTimestampMs,
    }));
  }

  #ensureWritable(): void {
    this.#load();
    if (this.#offline !== undefined) throw this.#offline;
    if (this.#closing || this.#closed) throw closedError(this.dir);
    if (this.#failure !== undefined) throw this.#failure;
  }

  #ensureReadable(): void {
    this.#load();
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
      return this.#parts.appender.append(batches, false);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A follower's append of its leader's batches as they are: append_rules.ts; else as append. */
  appendReplicated(batches: Uint8Array): Promise<AppendResult> {
    try {
      return this.#parts.appender.append(batches, true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Applies a changed config to the running log (a topic's AlterConfigs): checked first
   * (INVALID_CONFIG, nothing changed), then copied into the log's config object, which the
   * flusher, retention and the segments share, so each sees it from its next use (segment.bytes
   * at the next roll, retention at its next run, and so on). When a retention rule changed,
   * retention runs within RETENTION_AFTER_CONFIG_CHANGE_MS rather than at its next check.
   */
  updateConfig(next: Partial<LogConfig>): void {
    const resolved = resolveLogConfig({ ...this.config, ...next });
    const before = this.config;
    const retentionChanged = resolved.retentionMs !== before.retentionMs ||
      resolved.retentionBytes !== before.retentionBytes ||
      resolved.retentionCheckIntervalMs !== before.retentionCheckIntervalMs;
    Object.assign(this.config, resolved);
    if (retentionChanged && this.#offline === undefined && !this.#closing && !this.#closed) {
      this.#parts.retention.reschedule(RETENTION_AFTER_CONFIG_CHANGE_MS);
    }
  }

  /** Resolves once every byte appended before the call is on disk (fdatasync; group commit). */
  flush(): Promise<void> {
    this.#load();
    return this.#parts.flusher.flush();
  }

  /** Flushes everything and writes a recovery checkpoint at the log end. */
  async checkpoint(): Promise<void> {
    this.#ensureWritable();
    if (this.#parts.appender.bare) this.#parts.appender.birth(); // a checkpoint names a segment that exists
    const point = this.#parts.flusher.recoveryPointNow();
    await this.flush();
    this.#parts.flusher.checkpointText = undefined; // written even when unchanged
    this.#parts.flusher.writeCheckpoint(point);
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
   *
   * The bytes are the caller's to keep (fresh memory), unless it lends `into`, a buffer it is done
   * with: they are then a view of it when they fit (maxBytes + index.interval.bytes do, but for a
   * larger first batch), which the next read lent it overwrites (read_buffer.ts).
   */
  read(
    offset: number,
    maxBytes: number = READ_BYTES_DEFAULT,
    upTo?: number,
    into?: Uint8Array,
  ): ReadResult | undefined {
    return this.#parts.reads.read(offset, maxBytes, upTo, into);
  }

  /**
   * The first offset whose record timestamp is >= `timestampMs` (Kafka's ListOffsets by time), or
   * undefined when no record is that new. Decodes exactly one batch.
   */
  offsetForTimestamp(timestampMs: number): number | undefined {
    return this.#parts.reads.recordAtTimestamp(timestampMs)?.offset;
  }

  /** The record with the largest timestamp (ListOffsets' max-timestamp spec), or undefined. */
  recordWithMaxTimestamp(): TimedOffset | undefined {
    return this.#parts.reads.recordWithMaxTimestamp();
  }

  /** The first record at or after `timestampMs`: its offset and its own timestamp. */
  recordAtTimestamp(timestampMs: number): TimedOffset | undefined {
    return this.#parts.reads.recordAtTimestamp(timestampMs);
  }

  /**
   * Deletes the oldest segments that retention.ms or retention.bytes expire (never the active
   * one); logStartOffset moves to the first remaining segment. Returns how many were deleted.
   * Waits for a running flush first: a descriptor with an fsync in flight must stay open.
   */
  deleteExpiredSegments(nowMs: number = this.#clock.nowMs()): Promise<number> {
    return this.#parts.retention.deleteExpired(nowMs);
  }

  /**
   * Deletes the whole segments that end at or before `offset` (never the active one), as Kafka's
   * DeleteRecords does at segment granularity: for internal logs whose content a snapshot covers.
   */
  deleteSegmentsBefore(offset: number): Promise<number> {
    return this.#parts.retention.deleteBefore(offset);
  }

  /**
   * DeleteRecords: moves the log start up to `offset` (at most the high watermark), durably, and
   * deletes the whole segments below it; resolves to the log start offset (log_start.ts).
   */
  deleteRecordsBefore(offset: number): Promise<number> {
    return this.#parts.logStart.deleteRecordsBefore(offset);
  }

  /**
   * Removes every batch at or after `offset` (the one holding it too), durably; resolves to the new
   * log end. Epoch cache and high watermark follow. See log_truncation.ts.
   */
  truncateTo(offset: number): Promise<number> {
    return this.compaction.whilePaused(() => this.#parts.truncation.truncateTo(offset));
  }

  /** Empties the log to start at `offset`, durably (log_truncation.ts): below a leader's start. */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.compaction.whilePaused(() =>
      this.#parts.truncation.truncateFullyAndStartAt(offset)
    );
  }

  /** Flushes, writes the checkpoint that makes the next open fast, and closes every file. */
  async close(): Promise<void> {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#parts.flusher.cancelTimer();
    this.#parts.retention.cancel();
    if (this.#pending !== undefined) this.#closed = true; // never loaded: nothing to write
    if (this.#closed) return;
    try {
      const writable = () => this.#failure === undefined && this.#offline === undefined;
      await flushForClose(this.#parts, writable);
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
