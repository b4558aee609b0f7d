/**
 * One log's compaction, for PartitionLog (as LogRetention and LogFlusher are): its cleaner
 * checkpoint, how dirty it is, and running one clean (Kafka's Cleaner.doClean for one log). The
 * process-wide scheduling (which log, when, with which offset map) is cleaner_manager.ts.
 *
 * A clean, in slices with yields between them (clean_env.ts's pace), while appends go on:
 *  1. The cleanable range (cleanable.ts) from the checkpoint's firstDirtyOffset.
 *  2. The offset map over the dirty part (map_pass.ts), the other headers walked for producers.
 *  3. The segments from the log start to the one holding the map's last offset, in groups
 *     (cleanable.ts); each group filtered into a `.cleaned` segment (group_filter.ts), then, once
 *     the recovery checkpoint is past the group (so that the next open trusts or re-validates the
 *     new segment, never mistakes it for the old ones), swapped in (segment_swap.ts) in one
 *     synchronous step that also replaces the group in the log's segment list. A group that
 *     changed meanwhile (retention deleted a segment of it) ends the clean, its files removed.
 *  4. The checkpoint's firstDirtyOffset moves to the end of what the map covered.
 *
 * One clean at a time per log; {@link LogCompaction.pause} (close, truncation) aborts the one
 * running, waits for it, and keeps new ones from starting until resumed. An aborted clean leaves
 * nothing: its `.cleaned` files are removed; a clean that fails before a swap's commit point
 * likewise; a failure after it (a rename or unlink refused) leaves the log read-only, the swap to
 * be completed by the next open.
 */
import type { Clock } from "../../clock.ts";
import type { SluiceError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { LogConfig } from "../log_config.ts";
import type { LogFiles } from "../log_files.ts";
import type { LogFlusher } from "../log_flusher.ts";
import { syncDirAsync } from "../../runtime/fs.ts";
import { readRecoveryPoint } from "../log_loader.ts";
import type { LogRetention } from "../retention.ts";
import { type Segment, storageFailure } from "../segment.ts";
import { WindowBuffer } from "./batch_windows.ts";
import { type CleanableRange, cleanableRange, groupSegments } from "./cleanable.ts";
import {
  checkGoing,
  CleanAborted,
  type CleanCounters,
  type CleanEnv,
  isAbort,
  newCounters,
  ProducerTracker,
} from "./clean_env.ts";
import { type CleanerCheckpoint, writeCleanerCheckpoint } from "./cleaner_checkpoint.ts";
import { cleanGroup, FilterScratch, type WrittenGroup } from "./group_filter.ts";
import { buildOffsetMap, walkUnmapped } from "./map_pass.ts";
import type { OffsetMap } from "./offset_map.ts";
import {
  abandonSwap,
  commitSwap,
  finishSwap,
  removeRetired,
  type SwapHook,
  uncommitSwap,
} from "./segment_swap.ts";
import { Throttler, yieldToEventLoop } from "./throttler.ts";

/** A group whose cleaned segment is written, not yet swapped in. */
interface PendingGroup {
  group: Segment[];
  written: WrittenGroup;
}

/** What the clean asks of its log. */
export interface CompactionHost {
  logStartOffset(): number;
  highWatermark(): number;
  /** Why the log takes no writes now (closing, closed, offline, read-only), if so. */
  unwritable(): SluiceError | undefined;
  /** A failure after a swap's commit point: the log refuses writes until reopened. */
  failWrites(failure: SluiceError): void;
}

/** What the manager lends a clean. */
export interface CleanResources {
  map: OffsetMap;
  /** log.cleaner.io.max.bytes.per.second (Infinity: unlimited). */
  ioBytesPerSecond: number;
  producerExpirationMs: number;
  /** Crash tests: called at each step of the clean (segment_swap.ts). */
  hook?: SwapHook;
}

/** What one clean did. */
export interface CleanResult {
  /** False when there was nothing to clean or the clean was aborted. */
  cleaned: boolean;
  aborted: boolean;
  /** The range it started from. */
  range: CleanableRange;
  /** Where the dirty part starts now (the end of what the map covered). */
  firstDirtyOffset: number;
  /** Bytes of the segments rewritten, and of what replaced them. */
  bytesBefore: number;
  bytesAfter: number;
  counters: CleanCounters;
  startMs: number;
  durationMs: number;
  /** Share of the offset map's slots used. */
  mapUtilization: number;
}

export class LogCompaction {
  #checkpoint: CleanerCheckpoint;
  #running: Promise<CleanResult> | undefined;
  #paused = 0;
  #abort = false;
  /** Removals of retired files that the running clean started (at most one per group). */
  #removing: Promise<void>[] = [];

  readonly dir: string;
  readonly config: LogConfig;
  /** The log's segment list, the same array: a swap replaces segments in it. */
  readonly segments: Segment[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly flusher: LogFlusher;

  /**
   * The log's retention gives its directory, config, segment list, clock, logger and flusher (as
   * for LogTruncation); `checkpoint` is what the loader read (log_loader.ts).
   */
  constructor(
    retention: LogRetention,
    readonly files: LogFiles,
    checkpoint: CleanerCheckpoint,
    readonly host: CompactionHost,
  ) {
    this.dir = retention.dir;
    this.config = retention.config;
    this.segments = retention.segments;
    this.clock = retention.clock;
    this.logger = retention.logger;
    this.flusher = retention.flusher;
    this.#checkpoint = { ...checkpoint };
  }

  /** The cleaner checkpoint as it is now (a copy). */
  get checkpoint(): CleanerCheckpoint {
    return { ...this.#checkpoint };
  }

  /** The clean running now, if any. */
  get running(): Promise<CleanResult> | undefined {
    return this.#running;
  }

  get paused(): boolean {
    return this.#paused > 0;
  }

  /** How dirty the log is now (cleanable.ts). */
  range(nowMs: number = this.clock.nowMs()): CleanableRange {
    return cleanableRange(
      this.segments,
      this.config,
      this.#checkpoint.firstDirtyOffset,
      this.host.logStartOffset(),
      this.host.highWatermark(),
      nowMs,
    );
  }

  /**
   * Aborts the running clean and keeps new ones from starting until {@link resume}; resolves
   * once no clean runs. Pauses nest.
   */
  async pause(): Promise<void> {
    this.#paused++;
    this.#abort = true;
    while (this.#running !== undefined) await this.#running.catch(() => {});
  }

  resume(): void {
    if (this.#paused > 0) this.#paused--;
  }

  /**
   * Runs `op` (a truncation) with cleaning paused, a running clean aborted first (Kafka's
   * abortAndPauseCleaning), and then brings the checkpoint down to the new log end. With no clean
   * running, `op` starts in this call, synchronously, as if called directly.
   */
  whilePaused<T>(op: () => Promise<T>): Promise<T> {
    const idle = this.#running === undefined;
    const paused = this.pause();
    const run = idle ? op() : paused.then(op);
    // On a side chain: the caller gets `run` itself, settling exactly when the truncation does.
    const done = () => {
      if (this.segments.length > 0) {
        this.truncated(this.segments[this.segments.length - 1].nextOffset);
      }
      this.resume();
    };
    run.then(done, done);
    return run;
  }

  /**
   * A follower is about to append a compacted leader's batches, with gaps between them, to
   * `active`: the segment allows gaps from now on (Segment.compacted), and the cleaner checkpoint's
   * compactedBelow says so on disk before the bytes are written, so that recovery allows them too.
   * Throws a typed storage failure (nothing appended then).
   */
  allowGaps(active: Segment): void {
    if (active.compacted) return;
    const c = { ...this.#checkpoint };
    c.compactedBelow = Math.max(c.compactedBelow, active.baseOffset + 1);
    try {
      writeCleanerCheckpoint(this.dir, c);
    } catch (err) {
      throw storageFailure(err, `marking ${active.logPath} as holding gaps`, { dir: this.dir });
    }
    this.#checkpoint = c;
    active.compacted = true;
  }

  /**
   * The log was truncated (or emptied) to end at `logEndOffset`: the checkpoint's offsets come
   * down to it (Kafka's maybeTruncateCheckpoint), so that segments written from there on are held
   * to contiguous offsets again.
   */
  truncated(logEndOffset: number): void {
    const c = this.#checkpoint;
    if (c.firstDirtyOffset <= logEndOffset && c.compactedBelow <= logEndOffset) return;
    c.firstDirtyOffset = Math.min(c.firstDirtyOffset, logEndOffset);
    c.compactedBelow = Math.min(c.compactedBelow, logEndOffset);
    try {
      writeCleanerCheckpoint(this.dir, c);
    } catch (err) {
      this.logger.warn("cleaner checkpoint not written after a truncation", {
        dir: this.dir,
        error: String(err),
      });
    }
  }

  /**
   * Runs one clean (see the module comment), or joins the one running. Resolves with what it did
   * (cleaned false: nothing to do, paused, or aborted); rejects with a typed error when it failed
   * (CORRUPT_LOG for damage met: the log is not cleaned past it; a storage failure).
   */
  clean(resources: CleanResources): Promise<CleanResult> {
    if (this.#running !== undefined) return this.#running;
    const run = this.#clean(resources).finally(() => {
      this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #clean(resources: CleanResources): Promise<CleanResult> {
    // Started from a microtask of its own, so #running is set before any work.
    await Promise.resolve();
    const startMs = this.clock.nowMs();
    const range = this.range(startMs);
    const counters = newCounters();
    const result: CleanResult = {
      cleaned: false,
      aborted: false,
      range,
      firstDirtyOffset: range.firstDirtyOffset,
      bytesBefore: 0,
      bytesAfter: 0,
      counters,
      startMs,
      durationMs: 0,
      mapUtilization: 0,
    };
    if (this.#paused > 0 || this.host.unwritable() !== undefined) {
      result.aborted = this.#paused > 0;
      return result;
    }
    this.#abort = false;
    const env: CleanEnv = {
      dir: this.dir,
      segments: this.segments,
      config: this.config,
      map: resources.map,
      throttler: new Throttler(this.clock, resources.ioBytesPerSecond),
      nowMs: startMs,
      producerExpirationMs: resources.producerExpirationMs,
      counters,
      producers: new ProducerTracker(),
      hook: resources.hook,
      buffer: new WindowBuffer(),
      verified: new Set(),
      aborted: () => this.#abort || this.host.unwritable() !== undefined,
    };
    try {
      if (range.reset) this.#checkpoint.firstDirtyOffset = range.firstDirtyOffset;
      const stop = await buildOffsetMap(env, range.firstDirtyOffset, range.firstUncleanableOffset);
      await walkUnmapped(env, stop);
      const endOffset = env.map.latestOffset + 1;
      result.mapUtilization = env.map.utilization;
      const scratch = new FilterScratch();
      const groups = groupSegments(this.segments, this.config, endOffset);
      // Raised once, by the first swap, to cover every group: one checkpoint write per clean.
      const compactedBelow = groups.length === 0 ? 0 : groups[groups.length - 1].at(-1)!.nextOffset;
      // A group is swapped in (its fsyncs, its commit's) while the next one is filtered; one
      // swap at a time, in order.
      let swapping: Promise<void> | undefined;
      let pending: PendingGroup | undefined;
      try {
        for (const group of groups) {
          pending = { group, written: await cleanGroup(env, group, this.files, scratch) };
          if (swapping !== undefined) await swapping;
          swapping = this.#swapWritten(env, pending, compactedBelow, result);
          swapping.catch(() => {}); // observed by the next await of it
          pending = undefined;
        }
        if (swapping !== undefined) await swapping;
      } catch (err) {
        await swapping?.catch(() => {});
        if (pending !== undefined) await this.#abandonWritten(pending.written);
        throw err;
      }
      // The old files are gone, or going (removed by the next open), when the clean resolves.
      await this.#removed();
      this.#checkpoint.firstDirtyOffset = Math.max(this.#checkpoint.firstDirtyOffset, endOffset);
      writeCleanerCheckpoint(this.dir, this.#checkpoint);
      resources.hook?.("done");
      result.firstDirtyOffset = this.#checkpoint.firstDirtyOffset;
      result.cleaned = true;
    } catch (err) {
      await this.#removed();
      if (!isAbort(err)) throw err;
      result.aborted = true;
      this.logger.info("clean aborted", { dir: this.dir, reason: String(err) });
    } finally {
      result.durationMs = this.clock.nowMs() - startMs;
    }
    return result;
  }

  /** Swaps a written group in once its files are synced, and counts it. */
  async #swapWritten(
    env: CleanEnv,
    { group, written }: PendingGroup,
    compactedBelow: number,
    result: CleanResult,
  ): Promise<void> {
    const before = group.reduce((n, s) => n + s.sizeBytes, 0);
    await written.synced;
    const swapped = await this.#swap(env, group, written.cleaned, compactedBelow);
    result.bytesBefore += before;
    result.bytesAfter += swapped.sizeBytes;
    result.counters.segmentsReplaced += group.length;
    result.counters.segmentsWritten++;
  }

  /** Removes a written group's files once its fsyncs end (a failed sync removed them already). */
  async #abandonWritten(written: WrittenGroup): Promise<void> {
    try {
      await written.synced;
    } catch {
      return;
    }
    try {
      abandonSwap(this.dir, written.cleaned.baseOffset);
    } catch (err) {
      this.logger.warn("cleaned files not removed; the next open removes them", {
        dir: this.dir,
        error: String(err),
      });
    }
  }

  /**
   * Puts `cleaned` in place of `group` (segment_swap.ts): once the recovery checkpoint is past the
   * group and no fsync holds one of its segments, the commit's renames; its directory fsync in the
   * thread pool; then, the group still whole, the rest in one synchronous step. Removes the
   * cleaned files when it does not commit, takes the commit back when the group changed meanwhile
   * (both: CleanAborted).
   */
  async #swap(
    env: CleanEnv,
    group: readonly Segment[],
    cleaned: Segment,
    compactedBelow: number,
  ): Promise<Segment> {
    const progress = { committed: false };
    let swapped: { segment: Segment; retired: string[] };
    let at: number;
    try {
      await this.#recoveryPointPast(cleaned.nextOffset);
      await this.#syncsDone(group);
      checkGoing(env);
      if (this.#groupAt(group) < 0) {
        throw new CleanAborted("the segments being cleaned changed meanwhile");
      }
      commitSwap(this.dir, cleaned, this.#checkpoint, compactedBelow, env.hook, progress);
      await syncDirAsync(this.dir);
      env.hook?.("committed");
      // Committed: finished now, or at the next open. Close waits for the clean; retention may
      // have deleted the oldest segments meanwhile.
      await this.#syncsDone(group);
      at = this.#groupAt(group);
      if (at < 0) {
        uncommitSwap(this.dir, cleaned.baseOffset);
        throw new CleanAborted("the segments being cleaned changed while the swap committed");
      }
      swapped = finishSwap(this.dir, cleaned, group, this.files, env.hook);
    } catch (err) {
      if (!progress.committed) {
        try {
          abandonSwap(this.dir, cleaned.baseOffset);
        } catch (cleanupErr) {
          this.logger.warn("cleaned files not removed; the next open removes them", {
            dir: this.dir,
            error: String(cleanupErr),
          });
        }
        throw err;
      }
      if (err instanceof CleanAborted) throw err; // taken back: the old segments stand
      const failure = storageFailure(
        err,
        `swapping cleaned segment ${cleaned.logPath} in; the next open completes it`,
        { dir: this.dir },
      );
      this.host.failWrites(failure);
      throw failure;
    }
    this.segments.splice(at, group.length, swapped.segment);
    // Freed, and the renames made durable, in the thread pool while the next group is filtered.
    this.#removing.push(
      removeRetired(swapped.retired).catch((err) => {
        this.logger.warn("replaced segment files not removed; the next open removes them", {
          dir: this.dir,
          error: String(err),
        });
      }),
      syncDirAsync(this.dir).catch((err) => {
        // The renames may not survive a power loss: the next open completes the swap again.
        this.logger.warn("directory not fsynced after a swap", {
          dir: this.dir,
          error: String(err),
        });
      }),
    );
    this.logger.info("cleaned segments swapped in", {
      dir: this.dir,
      file: swapped.segment.logPath,
      replacedSegments: group.length,
      sizeBytes: swapped.segment.sizeBytes,
    });
    return swapped.segment;
  }

  /** Waits until no fsync holds a segment of `group`. */
  async #syncsDone(group: readonly Segment[]): Promise<void> {
    while (group.some((s) => s.syncsInFlight > 0)) {
      await (this.flusher.running ?? yieldToEventLoop());
    }
  }

  /** Where `group` stands in the segment list, whole and not the last segment; -1 when not. */
  #groupAt(group: readonly Segment[]): number {
    const at = this.segments.indexOf(group[0]);
    const intact = at >= 0 && at + group.length < this.segments.length &&
      group.every((s, i) => this.segments[at + i] === s);
    return intact ? at : -1;
  }

  /** Waits for the removal of the files this clean's swaps retired (it never rejects). */
  async #removed(): Promise<void> {
    const removing = this.#removing;
    this.#removing = [];
    await Promise.all(removing);
  }

  /**
   * Makes the recovery checkpoint name a segment at or past `offset` (the active one): flushes
   * and writes one when the one on disk names a segment below it, which the swap may replace.
   */
  async #recoveryPointPast(offset: number): Promise<void> {
    const onDisk = readRecoveryPoint(this.dir, this.logger);
    if (onDisk !== undefined && onDisk.segment >= offset) return;
    const point = this.flusher.recoveryPointNow();
    await this.flusher.flush();
    if (!this.flusher.writeCheckpoint(point)) {
      throw new CleanAborted("the recovery checkpoint's segment left the log");
    }
  }
}
