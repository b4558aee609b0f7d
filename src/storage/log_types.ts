/** The types PartitionLog takes and returns (re-exported by partition_log.ts). */
import type { Clock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { LogConfig } from "./log_config.ts";
import type { LogFiles } from "./log_files.ts";
import type { PartitionLog } from "./partition_log.ts";

/**
 * A log's state (`PartitionLog.state`), for the layers above:
 * - `online`: reads and appends.
 * - `read-only`: reads are served; appends, flush and checkpoint fail with `failure` (typed). Set
 *   when open could not write what recovery needs (a full disk: INSUFFICIENT_STORAGE naming the
 *   file) or after an fsync failed (STORAGE_ERROR). It lasts until the log is reopened (restart).
 * - `offline`: made by `PartitionLog.offline` (or `PartitionLog.openOrOffline` when open threw):
 *   every read and write fails with STORAGE_ERROR (`details.offline` true), so the rest of the
 *   topic stays up. logStartOffset and logEndOffset read 0, segments() is empty.
 *
 * Damage (`PartitionLog.damage`): open never throws for what the files contain (log_loader.ts);
 * what it, or a later read, finds damaged is logged and listed as {file, position, reason}. A
 * read that reaches a damaged batch fails with CORRUPT_LOG naming file and position; a read inside
 * a gap of missing offsets answers the first batch after it (as Kafka consumers expect over a
 * compacted hole). A read below the log end never answers nothing.
 */
export type LogState = "online" | "read-only" | "offline";

export interface PartitionLogOptions {
  config?: Partial<LogConfig>;
  clock?: Clock;
  logger?: Logger;
  /** Called after every append, once its bytes are readable (wakes long-polling fetchers). */
  onAppend?: (log: PartitionLog, result: AppendResult) => void;
  /** The descriptor cache for its segment files; the process's shared one by default. */
  logFiles?: LogFiles;
  /** The leader epoch to append in (default 0; the epoch cache's latest when that is larger). */
  leaderEpoch?: number;
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
  /** The bound the read stopped at: the log end when it was made, or `upTo` when lower. */
  highWatermark: number;
  logStartOffset: number;
}

export interface SegmentInfo {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  maxTimestampMs: number;
}

export { READ_BYTES_DEFAULT } from "../limits.ts";
