/**
 * The parts a PartitionLog is made of, wired together: its flusher (fsyncs and recovery
 * checkpoints), retention, truncation, log-start mover (DeleteRecords), reads, appender and
 * compaction. Each part asks its log what it needs through the one {@link LogPartsHost}, whose
 * closures PartitionLog writes over its private state (partition_log.ts).
 */
import type { Clock } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type CleanerCheckpoint, NEVER_CLEANED } from "./cleaner/cleaner_checkpoint.ts";
import { LogCompaction } from "./cleaner/log_compaction.ts";
import { LogAppender } from "./log_append.ts";
import type { LogConfig } from "./log_config.ts";
import type { DamageList } from "./log_damage.ts";
import type { LogFiles } from "./log_files.ts";
import { LogFlusher } from "./log_flusher.ts";
import { LogReads } from "./log_reads.ts";
import { LogStartMover } from "./log_start.ts";
import { LogTruncation } from "./log_truncation.ts";
import type { AppendResult } from "./log_types.ts";
import type { ReplicaState } from "./replica_state.ts";
import { LogRetention } from "./retention.ts";
import type { Segment } from "./segment.ts";

/** What the parts ask of their log. */
export interface LogPartsHost {
  /** Why the log serves nothing (offline) or refuses writes (read-only), if so. */
  failure(): SluiceError | undefined;
  /** An fsync failed: the log refuses writes from now on (the flusher logs it). */
  fsyncFailed(failure: SluiceError): void;
  /** A failure after which the log refuses writes until reopened (logged once). */
  readOnly(failure: SluiceError): void;
  closing(): boolean;
  closed(): boolean;
  offline(): boolean;
  /** Loads a lazy log (log_lazy.ts). */
  load(): void;
  ensureWritable(): void;
  ensureReadable(): void;
  logStartOffset(): number;
  highWatermark(): number;
  appended(result: AppendResult): void;
}

/** The log's own things the parts share. */
export interface LogShared {
  dir: string;
  config: LogConfig;
  /** The log's segment list, the one array every part changes in place. */
  segments: Segment[];
  clock: Clock;
  logger: Logger;
  files: LogFiles;
  replica: ReplicaState;
  damage: DamageList;
}

/** The parts; also what log_lifecycle.ts's open and close steps take (LifecycleParts, CloseParts). */
export class LogParts {
  readonly dir: string;
  readonly logger: Logger;
  readonly flusher: LogFlusher;
  readonly retention: LogRetention;
  readonly truncation: LogTruncation;
  readonly logStart: LogStartMover;
  readonly reads: LogReads;
  readonly appender: LogAppender;
  /** Replaced when a load reads the cleaner checkpoint ({@link LogParts.newCompaction}). */
  compaction: LogCompaction;

  constructor(readonly state: LogShared, readonly host: LogPartsHost) {
    const { dir, config, segments, clock, logger, files, replica } = state;
    this.dir = dir;
    this.logger = logger;
    this.flusher = new LogFlusher(dir, config, segments, clock, logger, {
      failure: () => host.failure(),
      failWrites: (failure) => host.fsyncFailed(failure),
      closing: () => host.closing(),
      closed: () => host.closed(),
      leaderEpochs: () => replica.epochs.entries,
      highWatermark: () => host.highWatermark(),
      logStartOffset: () => host.logStartOffset(),
    });
    this.retention = new LogRetention(
      dir,
      config,
      segments,
      clock,
      logger,
      this.flusher,
      () => host.closing() || host.closed() || host.offline(),
      () => replica.epochs.truncateFromStart(host.logStartOffset()),
      () => host.logStartOffset(),
      () => host.load(),
    );
    this.truncation = new LogTruncation(this.retention, files, replica, {
      ensureWritable: () => host.ensureWritable(),
      failWrites: (failure) => host.readOnly(failure),
      busy: () => this.logStart.running,
    });
    this.logStart = new LogStartMover(this.retention, {
      ensureWritable: () => host.ensureWritable(),
      logStartOffset: () => host.logStartOffset(),
      highWatermark: () => host.highWatermark(),
      raise: (offset) => replica.raiseLogStartOffset(offset, segments[0].baseOffset),
      roll: () => this.appender.roll(clock.nowMs()),
    });
    this.reads = new LogReads(segments, config, state.damage, logger, {
      ensureReadable: () => host.ensureReadable(),
      logStartOffset: () => host.logStartOffset(),
    });
    this.compaction = this.newCompaction(NEVER_CLEANED);
    this.appender = new LogAppender(segments, replica, this.flusher, files, {
      ensureWritable: () => host.ensureWritable(),
      compaction: () => this.compaction,
      appended: (result) => host.appended(result),
    });
  }

  /** The log's compaction from `checkpoint` (a load's cleaner checkpoint). */
  newCompaction(checkpoint: CleanerCheckpoint): LogCompaction {
    const host = this.host;
    return new LogCompaction(this.retention, this.state.files, checkpoint, {
      logStartOffset: () => host.logStartOffset(),
      highWatermark: () => host.highWatermark(),
      unwritable: () =>
        host.failure() ?? (host.closing() ? closedError(this.state.dir) : undefined),
      failWrites: (failure) => host.readOnly(failure),
    });
  }
}

/** LOG_CLOSED for the log in `dir`. */
export function closedError(dir: string): SluiceError {
  return new SluiceError("LOG_CLOSED", `log ${dir} is closed`);
}
