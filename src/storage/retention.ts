/**
 * Retention: which segments expire, and deleting them.
 *
 * Which segments retention deletes: a prefix of the oldest, never the active (last) one.
 * - Time: a segment whose newest record (its max timestamp; the file's mtime when no batch carries
 *   a timestamp) is older than `retention.ms` is expired; deletion stops at the first that is not,
 *   as Kafka's does, so the log stays contiguous.
 * - Size: while the log without its oldest segment is still at least `retention.bytes`, the
 *   oldest goes.
 * Both yield a prefix; the longer prefix is deleted. -1 disables either rule. Both apply only when
 * cleanup.policy contains `delete` (config.delete): a log whose policy is `compact` alone keeps
 * every segment, its cleaner removing what is superseded instead.
 *
 * {@link LogRetention} applies them to a PartitionLog's segments every
 * retention.check.interval.ms, and deletes whole segments below an offset on request. Each timed
 * run also deletes the segments wholly below the log start offset (Kafka's
 * deleteLogStartOffsetBreachedSegments), which DeleteRecords deletes itself but leaves when an
 * fsync holds one (log_start.ts).
 */
import type { Clock, Timer } from "../clock.ts";
import { assert } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { modifiedMs } from "../runtime/fs.ts";
import type { LogConfig } from "./log_config.ts";
import type { LogFlusher } from "./log_flusher.ts";
import type { Segment } from "./segment.ts";

export interface RetainedSegment {
  readonly sizeBytes: number;
  /** Newest record timestamp in the segment, or -1 when none carries one. */
  readonly maxTimestampMs: number;
  /** Fallback age when maxTimestampMs is -1. */
  lastModifiedMs(): number;
}

export interface RetentionRules {
  retentionMs: number;
  retentionBytes: number;
}

/** How many of the oldest segments to delete (0 .. segments.length - 1). */
export function expiredSegmentCount(
  segments: readonly RetainedSegment[],
  rules: RetentionRules,
  nowMs: number,
): number {
  const candidates = segments.length - 1; // the active segment stays
  let byTime = 0;
  if (rules.retentionMs >= 0) {
    while (byTime < candidates) {
      const s = segments[byTime];
      const newestMs = s.maxTimestampMs >= 0 ? s.maxTimestampMs : s.lastModifiedMs();
      if (nowMs - newestMs <= rules.retentionMs) break;
      byTime++;
    }
  }
  let bySize = 0;
  if (rules.retentionBytes >= 0) {
    let total = 0;
    for (const s of segments) total += s.sizeBytes;
    while (bySize < candidates && total - segments[bySize].sizeBytes >= rules.retentionBytes) {
      total -= segments[bySize].sizeBytes;
      bySize++;
    }
  }
  return Math.max(byTime, bySize);
}

/**
 * Deletes a log's oldest segments (never the active one): those retention expires, on a timer,
 * and those wholly below an offset. The log start moves to the first remaining segment.
 */
export class LogRetention {
  #timer: Timer | undefined;
  #run: Promise<number> | undefined;

  constructor(
    readonly dir: string,
    readonly config: LogConfig,
    /** The log's segment list, the same array: deletion splices it in place. */
    readonly segments: Segment[],
    readonly clock: Clock,
    readonly logger: Logger,
    readonly flusher: LogFlusher,
    /** True once the log closes (or when it is offline): nothing is deleted then. */
    readonly stopped: () => boolean,
    /** Called after segments were deleted (the log start moved). */
    readonly startMoved: () => void = () => {},
    /** The log's start offset (DeleteRecords may have set it inside a segment). */
    readonly logStart: () => number = () => 0,
    /** Called before a run looks at the segments: a lazy log loads them (log_lazy.ts). */
    readonly load: () => void = () => {},
  ) {}

  /** The timed run in progress, if any (close waits for it). */
  get running(): Promise<number> | undefined {
    return this.#run;
  }

  /** Starts the timer (in `delayMs`) when a rule is on; each run sets the next. */
  schedule(delayMs: number = this.config.retentionCheckIntervalMs): void {
    if (this.config.retentionMs < 0 && this.config.retentionBytes < 0) return;
    if (this.stopped()) return;
    this.#timer?.cancel();
    this.#timer = this.clock.setTimer(() => {
      this.#run = this.deleteExpired(this.clock.nowMs())
        .catch((err) => {
          this.logger.error("retention failed", { dir: this.dir, error: String(err) });
          return 0;
        })
        .finally(() => {
          this.#run = undefined;
          this.schedule();
        });
    }, delayMs);
  }

  /**
   * The rules changed (AlterConfigs): the next run comes in `delayMs` instead of at the next
   * check; a run in progress sets its next one itself when it ends.
   */
  reschedule(delayMs: number): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#run === undefined) this.schedule(delayMs);
  }

  cancel(): void {
    this.#timer?.cancel();
  }

  /**
   * Deletes the oldest segments that retention.ms or retention.bytes expire; returns how many.
   * Waits for a running flush first: a descriptor with an fsync in flight must stay open.
   */
  async deleteExpired(nowMs: number): Promise<number> {
    this.load();
    if (this.flusher.running !== undefined) await this.flusher.running;
    if (this.stopped() || !this.config.delete) return 0;
    const count = expiredSegmentCount(
      this.segments.map((s) => ({
        sizeBytes: s.sizeBytes,
        maxTimestampMs: s.maxTimestampMs,
        lastModifiedMs: () => modifiedMs(s.logPath),
      })),
      this.config,
      nowMs,
    );
    const below = this.#countBefore(this.logStart());
    return this.#deleteOldest(Math.max(count, below), count >= below ? "retention" : "logStart");
  }

  /** Deletes the whole segments that end at or before `offset`; returns how many. */
  async deleteBefore(offset: number, why = "deleteSegmentsBefore"): Promise<number> {
    this.load();
    if (this.flusher.running !== undefined) await this.flusher.running;
    if (this.stopped()) return 0;
    return this.#deleteOldest(this.#countBefore(offset), why);
  }

  /** How many of the oldest segments end at or before `offset`, never the active one. */
  #countBefore(offset: number): number {
    let count = 0;
    while (count < this.segments.length - 1 && this.segments[count].nextOffset <= offset) count++;
    return count;
  }

  #deleteOldest(count: number, why: string): number {
    // A flush that started since the caller's wait keeps its segments until the next call.
    for (let i = 0; i < count; i++) {
      if (this.segments[i].syncsInFlight > 0) count = i;
    }
    if (count === 0) return 0;
    const doomed = this.segments.splice(0, count);
    assert(this.segments.length > 0, "deletion keeps the active segment");
    for (const s of doomed) {
      s.delete();
      this.logger.info("deleted segment", {
        why,
        file: s.logPath,
        baseOffset: s.baseOffset,
        sizeBytes: s.sizeBytes,
      });
    }
    this.startMoved();
    return count;
  }
}
