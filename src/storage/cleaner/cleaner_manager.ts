/**
 * The log cleaner of a process (Kafka's LogCleaner and LogCleanerManager, one cleaner thread):
 * logs register and unregister; while started, it cleans the dirtiest compacting log that is due
 * (cleanable.ts: dirty ratio above min.cleanable.dirty.ratio, or a dirty record older than
 * max.compaction.lag.ms), one log at a time, one clean after another, and waits
 * log.cleaner.backoff.ms on its clock when none is due. One offset map
 * (log.cleaner.dedupe.buffer.size) serves every clean; it is allocated at the first one.
 *
 * A clean that fails (damage met: CORRUPT_LOG; a storage failure) is logged and its log marked
 * uncleanable (Kafka's uncleanable partitions): skipped from then on until it registers again
 * (a reopen); {@link CleanerManager.cleanNow} still tries it.
 *
 * Storage layer only: the broker registers its compacting logs, shows {@link CleanerManager.stats}
 * in /metrics and calls cleanNow for an admin request.
 */
import { type Clock, systemClock, type Timer } from "../../clock.ts";
import { SluiceError } from "../../errors.ts";
import {
  CLEANER_BACKOFF_MS_DEFAULT,
  CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT,
  CLEANER_IO_BYTES_PER_SECOND_DEFAULT,
  CLEANER_PRODUCER_EXPIRATION_MS_DEFAULT,
} from "../../limits.ts";
import { consoleLogger, type Logger } from "../../logger.ts";
import type { PartitionLog } from "../partition_log.ts";
import { isDue } from "./cleanable.ts";
import { addCounters, type CleanCounters, newCounters } from "./clean_env.ts";
import type { CleanResult } from "./log_compaction.ts";
import { OffsetMap } from "./offset_map.ts";
import type { SwapHook } from "./segment_swap.ts";
import { yieldToEventLoop } from "./throttler.ts";

export interface CleanerManagerOptions {
  clock?: Clock;
  logger?: Logger;
  /** log.cleaner.dedupe.buffer.size (CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT). */
  dedupeBufferBytes?: number;
  /** log.cleaner.io.max.bytes.per.second (unlimited by default). */
  ioBytesPerSecond?: number;
  /** log.cleaner.backoff.ms (CLEANER_BACKOFF_MS_DEFAULT). */
  backoffMs?: number;
  /** producer.id.expiration.ms as the cleaner applies it (clean_env.ts). */
  producerExpirationMs?: number;
  /** Crash tests: called at each step of every clean (segment_swap.ts). */
  hook?: SwapHook;
}

/** One log's cleaner figures, for /metrics. */
export interface LogCleanerStats {
  /** Dirty bytes over closed bytes now (cleanable.ts). */
  dirtyRatio: number;
  cleanableBytes: number;
  /** Cleans that finished (aborted ones not counted). */
  runs: number;
  /** When the last clean ended (the clock's ms), -1 before the first. */
  lastRunMs: number;
  lastDurationMs: number;
  /** Bytes of the segments the last clean rewrote, before and after. */
  lastBytesBefore: number;
  lastBytesAfter: number;
  /** Bytes all cleans removed. */
  bytesReclaimedTotal: number;
  /** Counters summed over every clean (batchesKeptWhole: codecs it cannot decode). */
  totals: CleanCounters;
  /** The last clean failed; the cleaner skips the log until it registers again. */
  uncleanable: boolean;
  lastError: string | undefined;
}

interface Entry {
  stats: LogCleanerStats;
}

export class CleanerManager {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #options: CleanerManagerOptions;
  readonly #logs = new Map<PartitionLog, Entry>();
  #map: OffsetMap | undefined;
  #timer: Timer | undefined;
  #started = false;
  /** The clean running now (any log), so that cleans never overlap. */
  #current: Promise<unknown> | undefined;
  #currentLog: PartitionLog | undefined;

  constructor(options: CleanerManagerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? consoleLogger;
    this.#options = options;
  }

  /** Logs registered. */
  get size(): number {
    return this.#logs.size;
  }

  /** Adds a log (again: its uncleanable mark and figures start over). */
  register(log: PartitionLog): void {
    this.#logs.set(log, { stats: newStats() });
  }

  /** Removes a log, aborting its clean if one runs (the log stays usable). */
  async unregister(log: PartitionLog): Promise<void> {
    this.#logs.delete(log);
    if (this.#currentLog === log) {
      await log.compaction.pause();
      log.compaction.resume();
    }
  }

  /** Starts cleaning due logs, one after another. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#schedule(0);
  }

  /** Stops: no new clean starts, the running one is aborted; resolves once it has ended. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    const log = this.#currentLog;
    if (log !== undefined) {
      await log.compaction.pause();
      log.compaction.resume();
    }
    while (this.#current !== undefined) await this.#current.catch(() => {});
  }

  /**
   * Cleans `log` now, whatever its dirty ratio (for tests and an admin request), after the clean
   * running now, if any. Rejects as the clean does (and marks the log uncleanable).
   */
  async cleanNow(log: PartitionLog): Promise<CleanResult> {
    while (this.#current !== undefined) await this.#current.catch(() => {});
    return this.#run(log);
  }

  /** The figures of a registered log; undefined for another. */
  stats(log: PartitionLog): LogCleanerStats | undefined {
    const entry = this.#logs.get(log);
    if (entry === undefined) return undefined;
    if (log.state !== "offline") {
      try {
        const range = log.compaction.range();
        entry.stats.dirtyRatio = range.dirtyRatio;
        entry.stats.cleanableBytes = range.cleanableBytes;
      } catch {
        // a closed log keeps its last figures
      }
    }
    return { ...entry.stats, totals: { ...entry.stats.totals } };
  }

  /** The registered compacting log most due for a clean, or undefined. */
  filthiest(): PartitionLog | undefined {
    let best: PartitionLog | undefined;
    let bestRatio = -1;
    const nowMs = this.#clock.nowMs();
    for (const [log, entry] of this.#logs) {
      if (!log.config.compact || entry.stats.uncleanable || log.state !== "online") continue;
      if (log.compaction.paused) continue;
      const range = log.compaction.range(nowMs);
      if (!isDue(range, log.config)) continue;
      if (range.dirtyRatio > bestRatio) {
        best = log;
        bestRatio = range.dirtyRatio;
      }
    }
    return best;
  }

  #schedule(delayMs: number): void {
    if (!this.#started) return;
    this.#timer?.cancel();
    if (delayMs === 0) {
      this.#timer = undefined;
      yieldToEventLoop().then(() => this.#tick());
      return;
    }
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#tick();
    }, delayMs);
  }

  async #tick(): Promise<void> {
    if (!this.#started || this.#current !== undefined) return;
    const log = this.filthiest();
    if (log === undefined) {
      this.#schedule(this.#options.backoffMs ?? CLEANER_BACKOFF_MS_DEFAULT);
      return;
    }
    try {
      await this.#run(log);
    } catch {
      // logged and counted by #run
    }
    this.#schedule(0);
  }

  async #run(log: PartitionLog): Promise<CleanResult> {
    this.#map ??= new OffsetMap(
      this.#options.dedupeBufferBytes ?? CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT,
    );
    const run = log.compaction.clean({
      map: this.#map,
      ioBytesPerSecond: this.#options.ioBytesPerSecond ?? CLEANER_IO_BYTES_PER_SECOND_DEFAULT,
      producerExpirationMs: this.#options.producerExpirationMs ??
        CLEANER_PRODUCER_EXPIRATION_MS_DEFAULT,
      hook: this.#options.hook,
    });
    this.#current = run;
    this.#currentLog = log;
    const entry = this.#logs.get(log);
    try {
      const result = await run;
      if (result.cleaned && entry !== undefined) {
        const s = entry.stats;
        s.runs++;
        s.lastRunMs = this.#clock.nowMs();
        s.lastDurationMs = result.durationMs;
        s.lastBytesBefore = result.bytesBefore;
        s.lastBytesAfter = result.bytesAfter;
        s.bytesReclaimedTotal += Math.max(0, result.bytesBefore - result.bytesAfter);
        addCounters(s.totals, result.counters);
        s.lastError = undefined;
      }
      if (result.cleaned) {
        this.#logger.info("log cleaned", {
          dir: log.dir,
          durationMs: result.durationMs,
          bytesBefore: result.bytesBefore,
          bytesAfter: result.bytesAfter,
          firstDirtyOffset: result.firstDirtyOffset,
          batchesKeptWhole: result.counters.batchesKeptWhole,
        });
      }
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (entry !== undefined) {
        entry.stats.uncleanable = true;
        entry.stats.lastError = message;
      }
      this.#logger.error("log cleaning failed; the log is not cleaned until it is reopened", {
        dir: log.dir,
        error: message,
        code: err instanceof SluiceError ? err.code : null,
      });
      throw err;
    } finally {
      this.#current = undefined;
      this.#currentLog = undefined;
    }
  }
}

function newStats(): LogCleanerStats {
  return {
    dirtyRatio: 0,
    cleanableBytes: 0,
    runs: 0,
    lastRunMs: -1,
    lastDurationMs: 0,
    lastBytesBefore: 0,
    lastBytesAfter: 0,
    bytesReclaimedTotal: 0,
    totals: newCounters(),
    uncleanable: false,
    lastError: undefined,
  };
}
