/**
 * A log's durability, for PartitionLog: fsync rounds, the flush policies' timing, and the
 * recovery checkpoint.
 *
 * - Group commit: {@link LogFlusher.flush} resolves once every byte appended before the call is on
 *   disk (fdatasync). Each round fsyncs every dirty segment once for every caller queued before it
 *   started, so under `always` one fsync covers every append waiting at that moment. Callers
 *   waiting at once are bounded (PENDING_FLUSH_WAITERS_MAX: TOO_MANY_REQUESTS past it).
 * - `interval`: {@link LogFlusher.flushLater} flushes once flush.ms has passed since the first
 *   append not yet flushed. After a roll the finished segment is flushed in the background,
 *   whatever the policy, so the checkpoint can move past it (as Kafka does).
 * - The recovery checkpoint (log_loader.ts) vouches for what was flushed and indexed: written
 *   after a round when a roll asked for it or checkpoint.interval.ms has passed, with the index
 *   entries it covers persisted first. It carries the leader epochs, the high watermark and the
 *   log start offset too.
 * - An fsync failure leaves the page cache's state unknown: the log refuses writes from then on
 *   (`host.failWrites`) until it is reopened, and every queued caller gets that failure.
 */
import type { Clock, Timer } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import { PENDING_FLUSH_WAITERS_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { LogConfig } from "./log_config.ts";
import { type RecoveryPoint, recoveryPointText, writeRecoveryPoint } from "./log_loader.ts";
import type { Segment } from "./segment.ts";
import type { EpochEntry } from "./leader_epochs.ts";

/** What the flusher asks of its log. */
export interface FlushHost {
  /** Why the log refuses writes (offline or read-only), if it does. */
  failure(): SluiceError | undefined;
  /** An fsync failed: the log refuses writes from now on. */
  failWrites(failure: SluiceError): void;
  closing(): boolean;
  closed(): boolean;
  /** The leader epochs, written with each recovery checkpoint. */
  leaderEpochs(): readonly EpochEntry[];
  /** The high watermark, written with each recovery checkpoint. */
  highWatermark(): number;
  /** The log start offset, written with each recovery checkpoint. */
  logStartOffset(): number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class LogFlusher {
  #waiters: Waiter[] = [];
  #loop: Promise<void> | undefined;
  #timer: Timer | undefined;
  #lastCheckpointMs: number;
  #checkpointDue = false;
  #rounds = 0;
  /** The text of the checkpoint file as last read or written (unknown: undefined). */
  checkpointText: string | undefined;

  constructor(
    readonly dir: string,
    readonly config: LogConfig,
    /** The log's segment list, the same array (rolls and deletions change it in place). */
    readonly segments: readonly Segment[],
    readonly clock: Clock,
    readonly logger: Logger,
    readonly host: FlushHost,
  ) {
    this.#lastCheckpointMs = clock.nowMs();
  }

  /** Group-commit rounds run so far (each fsyncs every dirty segment once). */
  get rounds(): number {
    return this.#rounds;
  }

  /** Callers waiting for an fsync now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** The rounds running now, if any (a descriptor with an fsync in flight must stay open). */
  get running(): Promise<void> | undefined {
    return this.#loop;
  }

  /** Resolves once every byte appended before the call is on disk (fdatasync). */
  flush(): Promise<void> {
    const failure = this.host.failure();
    if (failure !== undefined) return Promise.reject(failure);
    if (this.host.closed()) return Promise.resolve();
    if (this.#waiters.length >= PENDING_FLUSH_WAITERS_MAX) {
      return Promise.reject(
        new SluiceError("TOO_MANY_REQUESTS", `${PENDING_FLUSH_WAITERS_MAX} appends wait for fsync`),
      );
    }
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#loop === undefined) this.#loop = this.#runFlushes();
    return promise;
  }

  /** `interval`: a flush once flush.ms has passed, unless one is already set. */
  flushLater(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.clock.setTimer(() => {
      this.#timer = undefined;
      this.#background();
    }, this.config.flushMs);
  }

  /** A segment was rolled: flush it in the background and move the checkpoint past it. */
  rolled(): void {
    this.#checkpointDue = true;
    this.#background();
  }

  /** Cancels a pending `interval` flush (at close). */
  cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #background(): void {
    this.flush().catch((err) => {
      this.logger.error("background flush failed", { dir: this.dir, error: String(err) });
    });
  }

  /**
   * Group commit: each round fsyncs everything written so far for every waiter queued before it.
   * #loop is cleared in the same synchronous step in which the last round resolves its waiters,
   * so a flush() queued by a resumed waiter starts a new loop instead of joining a finished one.
   * (The loop awaits at least once, so #loop is set before it can end.)
   */
  async #runFlushes(): Promise<void> {
    try {
      while (this.#waiters.length > 0) {
        const waiters = this.#waiters;
        this.#waiters = [];
        const failure = this.host.failure();
        if (failure !== undefined) {
          for (const w of waiters) w.reject(failure);
          continue;
        }
        const point = this.recoveryPointNow();
        this.#rounds++;
        try {
          await this.syncDirty();
        } catch (err) {
          const failed = new SluiceError(
            "STORAGE_ERROR",
            `fsync failed in ${this.dir}; the log refuses writes until reopened: ${err}`,
            { dir: this.dir },
            { cause: err },
          );
          this.host.failWrites(failed);
          this.logger.error("fsync failed; log is offline for writes", {
            dir: this.dir,
            error: String(err),
          });
          for (const w of waiters) w.reject(failed);
          continue;
        }
        for (const w of waiters) w.resolve();
        const nowMs = this.clock.nowMs();
        if (
          !this.host.closing() &&
          (this.#checkpointDue ||
            nowMs - this.#lastCheckpointMs >= this.config.checkpointIntervalMs)
        ) {
          try {
            this.writeCheckpoint(point);
          } catch (err) {
            this.logger.warn("recovery checkpoint not written", {
              dir: this.dir,
              error: String(err),
            });
          }
        }
      }
    } finally {
      this.#loop = undefined;
    }
  }

  /** fdatasyncs every segment written since its last sync. */
  async syncDirty(): Promise<void> {
    const dirty = this.segments.filter((s) => s.dirty);
    if (dirty.length > 0) await Promise.all(dirty.map((s) => s.sync()));
  }

  /** The log end as a recovery point: what a checkpoint written after the next sync vouches for. */
  recoveryPointNow(): RecoveryPoint {
    const active = this.segments[this.segments.length - 1];
    return {
      offset: active.nextOffset,
      segment: active.baseOffset,
      position: active.sizeBytes,
      maxTimestampMs: active.maxTimestampMs,
      offsetOfMaxTimestamp: active.offsetOfMaxTimestamp,
    };
  }

  /** The checkpoint's text for `point` with the log's leader epochs, high watermark and start. */
  textFor(point: RecoveryPoint): string {
    return recoveryPointText(
      point,
      this.host.leaderEpochs(),
      this.host.highWatermark(),
      this.host.logStartOffset(),
    );
  }

  /**
   * Writes index entries (fsynced) and then the checkpoint that vouches for them; false (nothing
   * written) when the point's segment was deleted meanwhile.
   */
  writeCheckpoint(point: RecoveryPoint): boolean {
    if (!this.segments.some((s) => s.baseOffset === point.segment)) return false;
    for (const s of this.segments) {
      if (s.hasUnpersistedIndexes) s.persistIndexes(true);
    }
    const text = this.textFor(point);
    // The same text as the file holds (a log closed as it was opened): nothing to write.
    if (text !== this.checkpointText) writeRecoveryPoint(this.dir, text);
    this.checkpointText = text;
    this.#lastCheckpointMs = this.clock.nowMs();
    this.#checkpointDue = false;
    return true;
  }
}
