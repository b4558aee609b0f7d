/**
 * Per-log settings, named after Kafka's topic configs (in comments), with their defaults from
 * limits.ts. The broker validates user input with zod at its edge; this check guards library use.
 */
import { SluiceError } from "../errors.ts";
import {
  BATCH_BYTES_MAX,
  DELETE_RETENTION_MS_DEFAULT,
  FLUSH_MS_DEFAULT,
  INDEX_INTERVAL_BYTES_DEFAULT,
  MAX_COMPACTION_LAG_MS_DEFAULT,
  MAX_MESSAGE_BYTES_DEFAULT,
  MIN_CLEANABLE_DIRTY_RATIO_DEFAULT,
  MIN_COMPACTION_LAG_MS_DEFAULT,
  RECOVERY_CHECKPOINT_INTERVAL_MS_DEFAULT,
  RETENTION_BYTES_DEFAULT,
  RETENTION_CHECK_INTERVAL_MS_DEFAULT,
  RETENTION_MS_DEFAULT,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  SEGMENT_INDEX_BYTES_DEFAULT,
  SEGMENT_MS_DEFAULT,
} from "../limits.ts";

export const FLUSH_POLICIES = ["none", "interval", "always"] as const;
/**
 * - `none`: writes go to the page cache; the OS flushes them (Kafka's default). A process crash
 *   loses nothing; a power loss can lose what the OS had not yet written.
 * - `interval`: an fsync at most `flush.ms` after each write; a power loss can lose up to that long.
 * - `always`: an append resolves only after an fsync that covers it (group commit).
 */
export type FlushPolicy = typeof FLUSH_POLICIES[number];

export interface LogConfig {
  /** segment.bytes */
  segmentBytes: number;
  /** segment.ms */
  segmentMs: number;
  /** index.interval.bytes */
  indexIntervalBytes: number;
  /** segment.index.bytes */
  segmentIndexBytes: number;
  /** retention.ms; -1 keeps segments forever */
  retentionMs: number;
  /** retention.bytes; -1 sets no size cap */
  retentionBytes: number;
  /** log.retention.check.interval.ms */
  retentionCheckIntervalMs: number;
  /** max.message.bytes: the largest batch accepted */
  maxMessageBytes: number;
  /** flush.policy */
  flushPolicy: FlushPolicy;
  /** flush.ms, for flush.policy interval */
  flushMs: number;
  /** How often the recovery checkpoint may be rewritten while appends flow. */
  checkpointIntervalMs: number;
  /**
   * Check every batch's CRC-32C again when it is read (corruption is reported as CORRUPT_LOG, not
   * served). Off by default, as Kafka's broker: a batch's CRC was checked when it was appended and
   * is checked again by recovery for every batch not yet flushed when the log was opened; the
   * consumer checks it too (Kafka's clients do). On, a read of a bit flipped on disk since then
   * fails instead of being served. The serve command's `--log-verify-crc-on-read true`.
   */
  verifyCrcOnRead: boolean;
  /**
   * cleanup.policy contains `compact`: the cleaner keeps the latest record of each key
   * (src/storage/cleaner/), and appends refuse a record without a key (INVALID_RECORD).
   */
  compact: boolean;
  /**
   * cleanup.policy contains `delete`: retention.ms and retention.bytes delete old segments. A log
   * whose policy is `compact` alone keeps its segments whatever their age and size.
   */
  delete: boolean;
  /** delete.retention.ms: how long a tombstone stays readable after the clean that first kept it */
  deleteRetentionMs: number;
  /** min.compaction.lag.ms: a segment whose newest record is younger is not cleaned yet */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a log whose oldest dirty record is older is cleaned at once */
  maxCompactionLagMs: number;
  /** min.cleanable.dirty.ratio: the dirty share of a log's closed bytes that makes it cleanable */
  minCleanableDirtyRatio: number;
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: SEGMENT_BYTES_DEFAULT,
  segmentMs: SEGMENT_MS_DEFAULT,
  indexIntervalBytes: INDEX_INTERVAL_BYTES_DEFAULT,
  segmentIndexBytes: SEGMENT_INDEX_BYTES_DEFAULT,
  retentionMs: RETENTION_MS_DEFAULT,
  retentionBytes: RETENTION_BYTES_DEFAULT,
  retentionCheckIntervalMs: RETENTION_CHECK_INTERVAL_MS_DEFAULT,
  maxMessageBytes: MAX_MESSAGE_BYTES_DEFAULT,
  flushPolicy: "none",
  flushMs: FLUSH_MS_DEFAULT,
  checkpointIntervalMs: RECOVERY_CHECKPOINT_INTERVAL_MS_DEFAULT,
  verifyCrcOnRead: false,
  compact: false,
  delete: true,
  deleteRetentionMs: DELETE_RETENTION_MS_DEFAULT,
  minCompactionLagMs: MIN_COMPACTION_LAG_MS_DEFAULT,
  maxCompactionLagMs: MAX_COMPACTION_LAG_MS_DEFAULT,
  minCleanableDirtyRatio: MIN_CLEANABLE_DIRTY_RATIO_DEFAULT,
});

function invalid(key: string, value: unknown, want: string): SluiceError {
  return new SluiceError("INVALID_CONFIG", `${key} = ${value}: want ${want}`, { key });
}

function checkInt(key: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(key, value, `an integer in [${min}, ${max}]`);
  }
}

/** Defaults filled in and every value range-checked; throws INVALID_CONFIG. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const c: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  checkInt("segment.bytes", c.segmentBytes, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
  checkInt("segment.ms", c.segmentMs, 1, Number.MAX_SAFE_INTEGER);
  checkInt("index.interval.bytes", c.indexIntervalBytes, 0, SEGMENT_BYTES_MAX);
  checkInt("segment.index.bytes", c.segmentIndexBytes, 8, SEGMENT_BYTES_MAX);
  checkInt("retention.ms", c.retentionMs, -1, Number.MAX_SAFE_INTEGER);
  checkInt("retention.bytes", c.retentionBytes, -1, Number.MAX_SAFE_INTEGER);
  checkInt(
    "log.retention.check.interval.ms",
    c.retentionCheckIntervalMs,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  checkInt("max.message.bytes", c.maxMessageBytes, 61, BATCH_BYTES_MAX);
  checkInt("flush.ms", c.flushMs, 0, Number.MAX_SAFE_INTEGER);
  checkInt("checkpointIntervalMs", c.checkpointIntervalMs, 0, Number.MAX_SAFE_INTEGER);
  checkInt("delete.retention.ms", c.deleteRetentionMs, 0, Number.MAX_SAFE_INTEGER);
  checkInt("min.compaction.lag.ms", c.minCompactionLagMs, 0, Number.MAX_SAFE_INTEGER);
  checkInt("max.compaction.lag.ms", c.maxCompactionLagMs, 1, Number.MAX_SAFE_INTEGER);
  if (c.minCompactionLagMs > c.maxCompactionLagMs) {
    throw invalid(
      "min.compaction.lag.ms",
      c.minCompactionLagMs,
      `at most max.compaction.lag.ms (${c.maxCompactionLagMs})`,
    );
  }
  if (
    typeof c.minCleanableDirtyRatio !== "number" || !(c.minCleanableDirtyRatio >= 0) ||
    c.minCleanableDirtyRatio > 1
  ) {
    throw invalid("min.cleanable.dirty.ratio", c.minCleanableDirtyRatio, "a number in [0, 1]");
  }
  if (typeof c.verifyCrcOnRead !== "boolean") {
    throw invalid("verifyCrcOnRead", c.verifyCrcOnRead, "a boolean");
  }
  if (typeof c.compact !== "boolean" || typeof c.delete !== "boolean") {
    throw invalid("cleanup.policy", `compact ${c.compact}, delete ${c.delete}`, "two booleans");
  }
  if (!FLUSH_POLICIES.includes(c.flushPolicy)) {
    throw invalid("flush.policy", c.flushPolicy, FLUSH_POLICIES.join(" | "));
  }
  return c;
}
