/**
 * Opens a partition directory: finds its segments, reads the recovery checkpoint and decides, per
 * segment, what can be trusted.
 *
 * `recovery-checkpoint` (JSON, written by tmp + fsync + rename): `{"version":1,"offset",
 * "segment","position","maxTimestampMs","offsetOfMaxTimestamp","leaderEpochs","highWatermark",
 * "logStartOffset"}`.
 * It promises that every log byte before `position` in segment `segment` (and every earlier
 * segment) was fsynced, and that their index entries were written and fsynced. `leaderEpochs` is
 * the partition's leader-epoch cache when it was written, `[[epoch, startOffset], ...]` ascending
 * (Kafka keeps the same pairs in a file of its own, leader-epoch-checkpoint; here they ride on the
 * write the recovery checkpoint makes anyway, so they are exactly as durable as what it vouches
 * for: see leader_epochs.ts). `highWatermark` is the partition's high watermark when it was
 * written (Kafka's replication-offset-checkpoint, one file per log dir there); see
 * {@link highWatermarkOf} for what an open makes of it, and of its absence. `logStartOffset` is
 * the first offset readers may see when it was written (Kafka's log-start-offset-checkpoint): it
 * may lie inside the first segment, after DeleteRecords (log_start.ts), which writes a checkpoint
 * before it answers; an open takes the larger of it and the first segment's base, at most the log
 * end. These fields came later than the rest and an old file lacks them (then the log starts at
 * its first segment), so the version stayed 1: an older Sluice reads a newer file (it ignores
 * fields it does not know) and a newer one reads an older file. So on open:
 * - segments before the checkpoint's are trusted: their indexes are sanity-checked (rebuilt from
 *   batch headers when missing or damaged) and only the bytes after the last index entry are
 *   scanned, headers only;
 * - the checkpoint's segment is re-validated from `position` on, and every later segment whole:
 *   length, magic, CRC-32C and contiguous offsets for every batch, indexes rebuilt; the first bad
 *   batch truncates its segment (a torn write never acknowledged under flush.policy always), and
 *   the segments after a truncation are deleted, since offsets must stay contiguous.
 * Without a checkpoint (first open after a crash) every segment is re-validated.
 *
 * Nothing in the data makes open throw. What cannot be trusted is reported (logged with file and
 * position, and returned as `damage` for `PartitionLog.damage`) and served around, never guessed:
 * - a checkpoint that does not match its segment (segment missing, position not a batch boundary
 *   or past the end, offset not where the batches before it end) is ignored with a warning, and
 *   every segment re-validated as if there were none;
 * - a segment whose name is not an offset (more than 2^53) is left alone on disk and not loaded;
 * - an empty segment whose name is not where the previous segment ends is a stray (it holds no
 *   batch, so removing it loses nothing) and is removed; a last one would otherwise move the log
 *   end (and the next append's offset) to its name;
 * - offsets missing between two segments (one deleted or emptied) are a gap, reported at the
 *   later segment; reads inside a gap answer the first batch after it, as over a compacted hole;
 * - a segment that runs past the next one's base is reported as an overlap.
 * A full disk (ENOSPC, EDQUOT) while creating a new log's directory leaves the log read-only; its
 * first segment's files come with its first append (log_lazy.ts), which a full disk refuses.
 *
 * Compaction (src/storage/cleaner/): before the segments are listed, what an interrupted clean
 * left is settled (segment_swap.ts: `.cleaned` files deleted, a committed `.swap` completed), and
 * the segments below the cleaner checkpoint's compactedBelow are marked compacted: gaps between
 * their batches' offsets are allowed there, and only there (cleaner_checkpoint.ts).
 */
import type { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  isNoSpace,
  joinPath,
  listDir,
  makeDir,
  parentDir,
  pathExists,
  readWholeFile,
  removeFile,
  syncDir,
  writeFileAtomic,
} from "../runtime/fs.ts";
import type { LogFiles } from "./log_files.ts";
import {
  DELETED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  Segment,
  segmentFileStem,
  type SegmentSettings,
  TIME_INDEX_SUFFIX,
} from "./segment.ts";
import { checkpointProblem, loadTrusted, recover } from "./segment_recovery.ts";
import { type EpochEntry, parseLeaderEpochs } from "./leader_epochs.ts";
import {
  type CleanerCheckpoint,
  NEVER_CLEANED,
  readCleanerCheckpoint,
} from "./cleaner/cleaner_checkpoint.ts";
import { completeInterruptedSwaps } from "./cleaner/segment_swap.ts";
import { type LogDamage, storageFailure } from "./storage_errors.ts";

export const CHECKPOINT_FILE = "recovery-checkpoint";

export interface RecoveryPoint {
  /** Every offset below this is flushed. */
  offset: number;
  /** Base offset of the segment that holds `offset` (or ends at it). */
  segment: number;
  /** Byte position of `offset` in that segment. */
  position: number;
  /** Max timestamp of that segment's batches before `position`, -1 for none. */
  maxTimestampMs: number;
  offsetOfMaxTimestamp: number;
}

/** What the checkpoint file holds: the recovery point, the leader epochs, the high watermark. */
export interface Checkpoint extends RecoveryPoint {
  /** Undefined when the file has none (written before epochs were kept) or a bad list. */
  leaderEpochs: EpochEntry[] | undefined;
  /**
   * Undefined when the file has no such field: written before the high watermark was kept, by a
   * single node. NaN when the field is there but not an offset.
   */
  highWatermark: number | undefined;
  /** Undefined when the file has no such field (written before it was kept) or a bad one. */
  logStartOffset: number | undefined;
  /** The file's text as read: a checkpoint that would write the same text need not be written. */
  text: string;
}

/** The checkpoint file's text for these values (what writeRecoveryPoint writes). */
export function recoveryPointText(
  point: RecoveryPoint,
  leaderEpochs: readonly EpochEntry[],
  highWatermark: number,
  logStartOffset: number,
): string {
  return JSON.stringify({
    version: 1,
    ...point,
    leaderEpochs: leaderEpochs.map((e) => [e.epoch, e.startOffset]),
    highWatermark,
    logStartOffset,
  });
}

/** Writes `text` (recoveryPointText) as the checkpoint: tmp + fsync + rename + directory fsync. */
export function writeRecoveryPoint(dir: string, text: string): void {
  writeFileAtomic(joinPath(dir, CHECKPOINT_FILE), new TextEncoder().encode(text), dir);
}

export function readRecoveryPoint(dir: string, logger: Logger): Checkpoint | undefined {
  const path = joinPath(dir, CHECKPOINT_FILE);
  const bytes = readWholeFile(path);
  if (bytes === undefined) return undefined;
  try {
    const text = new TextDecoder().decode(bytes);
    const v = JSON.parse(text);
    const fields = ["offset", "segment", "position", "maxTimestampMs", "offsetOfMaxTimestamp"];
    if (v?.version === 1 && fields.every((f) => Number.isSafeInteger(v[f]))) {
      if (v.offset >= v.segment && v.position >= 0) {
        return {
          offset: v.offset,
          segment: v.segment,
          position: v.position,
          maxTimestampMs: v.maxTimestampMs,
          offsetOfMaxTimestamp: v.offsetOfMaxTimestamp,
          leaderEpochs: epochList(v.leaderEpochs),
          highWatermark: v.highWatermark === undefined
            ? undefined
            : Number.isSafeInteger(v.highWatermark) && v.highWatermark >= 0
            ? v.highWatermark
            : NaN,
          logStartOffset: Number.isSafeInteger(v.logStartOffset) && v.logStartOffset >= 0
            ? v.logStartOffset
            : undefined,
          text,
        };
      }
    }
  } catch {
    // reported below
  }
  logger.warn("unreadable recovery checkpoint; re-validating every segment", { file: path });
  return undefined;
}

/** The checkpoint's `leaderEpochs`, or undefined when absent or not a valid list. */
function epochList(value: unknown): EpochEntry[] | undefined {
  if (value === undefined) return undefined;
  const parsed = parseLeaderEpochs(value);
  return typeof parsed === "string" ? undefined : parsed;
}

/**
 * The high watermark a log opens with, before it is clamped to [log start, log end]:
 * - the checkpoint's `highWatermark`, also when the checkpoint is ignored for not matching the log
 *   (the high watermark is a fact about what the replicas agreed on, not about these files; the
 *   clamp to the log end covers a tail lost since);
 * - the log end (Infinity here) for a checkpoint without the field: only a single node wrote those,
 *   and a single node's high watermark is its log end (it is its own whole ISR, every append
 *   committed once written), which its broker served to consumers as the high watermark. Starting
 *   such a log at 0 would take back from its consumers records they have already read;
 * - the log start (0 here) without a readable checkpoint (a crash before the first one), or with a
 *   field that is not an offset: nothing says what was committed, and Kafka starts a log whose
 *   replication-offset-checkpoint has no entry at 0 too. Exposing less is safe; the leader's next
 *   answer (or, on a leader, the ISR's progress) moves it up.
 */
function highWatermarkOf(checkpoint: Checkpoint | undefined, logger: Logger, dir: string): number {
  if (checkpoint === undefined) return 0;
  if (checkpoint.highWatermark === undefined) return Infinity;
  if (Number.isNaN(checkpoint.highWatermark)) {
    logger.warn("recovery checkpoint has a bad high watermark; starting it at the log start", {
      file: joinPath(dir, CHECKPOINT_FILE),
    });
    return 0;
  }
  return checkpoint.highWatermark;
}

const SEGMENT_NAME = /^(\d{20})\.log$/;

/**
 * Base offsets of the segments in `dir`, ascending; stray tmp files and orphan indexes removed;
 * names that are not a safe integer reported into `damage` and skipped.
 */
function listSegments(dir: string, logger: Logger, damage: LogDamage[]): number[] {
  const names = listDir(dir);
  const bases = new Set<number>();
  const stems = new Set<string>();
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    stems.add(m[1]);
    const base = Number(m[1]);
    if (Number.isSafeInteger(base)) {
      bases.add(base);
      continue;
    }
    const file = joinPath(dir, name);
    const reason = `segment name ${m[1]} is not an offset (above 2^53); file left as it is`;
    logger.error("ignoring a segment file whose name is not an offset", { file, reason });
    damage.push({ file, position: 0, reason });
  }
  for (const name of names) {
    // A segment retired by a committed swap, not yet removed when the process stopped.
    if (name.endsWith(".tmp") || name.endsWith(DELETED_SUFFIX)) {
      removeFile(joinPath(dir, name));
      continue;
    }
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      if (!name.endsWith(suffix)) continue;
      const stem = name.slice(0, -suffix.length);
      if (/^\d{20}$/.test(stem) && !stems.has(stem)) {
        logger.warn("removing an index without its log", { file: joinPath(dir, name) });
        removeFile(joinPath(dir, name));
      }
    }
  }
  return [...bases].sort((a, b) => a - b);
}

export interface LoadResult {
  segments: Segment[];
  /** A new log (no segment file found): its one segment has no files yet. */
  fresh: boolean;
  /** Segments that were re-validated (from the checkpoint's position on, in its segment). */
  recovered: Segment[];
  /**
   * Recovery read bytes the checkpoint does not vouch for, or cut a tail: they may not be on disk
   * yet, so the opened log flushes them and moves the checkpoint. False after a clean close: the
   * checkpoint's position is its segment's end and nothing follows it.
   */
  unflushed: boolean;
  /** The text of the checkpoint the load trusted (undefined without one). */
  checkpointText: string | undefined;
  /** What was found damaged (already logged). */
  damage: LogDamage[];
  /** Set when the log must not take appends: a file it needed could not be written. */
  readOnly: SluiceError | undefined;
  /**
   * The leader epochs of the recovery checkpoint the load trusted; undefined without one (or
   * with one that has none): then the epochs come from the batches.
   */
  leaderEpochs: EpochEntry[] | undefined;
  /** Where in the first recovered segment re-validation started from the checkpoint (bytes). */
  recoveredFrom: number;
  /** The high watermark, clamped to the loaded log's [start, end] (see highWatermarkOf). */
  highWatermark: number;
  /**
   * The log start offset: the checkpoint's (also when the checkpoint is ignored for not matching
   * the log, as the high watermark), at least the first segment's base, at most the log end.
   */
  logStartOffset: number;
  /** The cleaner checkpoint (raised if a swap was completed); never cleaned without one. */
  cleanerCheckpoint: CleanerCheckpoint;
}

/**
 * What an empty directory holds: a new log, its first segment without files (its first append
 * creates them: log_lazy.ts), so a partition never written costs its directory alone.
 */
export function freshLoad(
  dir: string,
  settings: SegmentSettings,
  nowMs: number,
  files: LogFiles,
): LoadResult {
  return {
    segments: [Segment.detached(dir, 0, settings, nowMs, files)],
    fresh: true,
    recovered: [],
    unflushed: false,
    checkpointText: undefined,
    damage: [],
    readOnly: undefined,
    leaderEpochs: [],
    recoveredFrom: 0,
    highWatermark: 0,
    logStartOffset: 0,
    cleanerCheckpoint: { ...NEVER_CLEANED },
  };
}

/**
 * Opens every segment of `dir` (a new log in an empty dir: {@link freshLoad}). Throws only for the file
 * system's own failures (typed, naming the file), never for what the files contain; on a throw
 * nothing stays open.
 */
export function loadSegments(
  dir: string,
  settings: SegmentSettings,
  nowMs: number,
  logger: Logger,
  files: LogFiles,
): LoadResult {
  const damage: LogDamage[] = [];
  const opened: Segment[] = [];
  try {
    return load(dir, settings, nowMs, logger, files, damage, opened);
  } catch (err) {
    for (const s of opened) s.close();
    throw storageFailure(err, `opening the log in ${dir}`, { dir });
  }
}

function load(
  dir: string,
  settings: SegmentSettings,
  nowMs: number,
  logger: Logger,
  files: LogFiles,
  damage: LogDamage[],
  opened: Segment[],
): LoadResult {
  let bases: number[];
  let cleanerCheckpoint: CleanerCheckpoint;
  try {
    if (!pathExists(dir)) {
      // A new log's directory, durable in its parent before anything is written in it.
      makeDir(dir);
      syncDir(parentDir(dir));
    }
    cleanerCheckpoint = readCleanerCheckpoint(dir, logger);
    damage.push(
      ...completeInterruptedSwaps(dir, settings, nowMs, logger, files, cleanerCheckpoint),
    );
    bases = listSegments(dir, logger, damage);
    if (bases.length === 0) return { ...freshLoad(dir, settings, nowMs, files), damage };
  } catch (err) {
    if (!isNoSpace(err) && !isNoSpace((err as { cause?: unknown })?.cause)) throw err;
    // A new partition on a full disk: an empty log that serves reads (of nothing) until restart.
    for (const s of opened.splice(0)) s.close();
    const readOnly = storageFailure(err, `creating the log in ${dir}`, { dir });
    logger.error("no space to create the log; it is read-only until restart", {
      dir,
      error: readOnly.message,
    });
    const first = Segment.detached(dir, 0, settings, nowMs, files);
    opened.push(first);
    return {
      segments: [first],
      fresh: false,
      recovered: [],
      unflushed: false,
      checkpointText: undefined,
      damage,
      readOnly,
      leaderEpochs: [],
      recoveredFrom: 0,
      highWatermark: 0,
      logStartOffset: 0,
      cleanerCheckpoint: { ...NEVER_CLEANED },
    };
  }
  const all = bases.map((base) => Segment.open(dir, base, settings, nowMs, files));
  opened.push(...all);
  for (const s of all) s.compacted = s.baseOffset < cleanerCheckpoint.compactedBelow;
  const checkpoint = readRecoveryPoint(dir, logger);
  const point = checkedRecoveryPoint(dir, checkpoint, all, logger, damage);
  const segments: Segment[] = [];
  const recovered: Segment[] = [];
  let readOnly: SluiceError | undefined;
  let truncated = false;
  for (let i = 0; i < all.length; i++) {
    const segment = all[i];
    const base = segment.baseOffset;
    if (truncated) {
      logger.warn("deleting a segment after a truncated one", { file: segment.logPath });
      segment.delete();
      continue;
    }
    segments.push(segment);
    if (point !== undefined && base < point.segment && i + 1 < all.length) {
      damage.push(...loadTrusted(segment, logger, all[i + 1].baseOffset));
      continue;
    }
    recovered.push(segment);
    const result = point !== undefined && base === point.segment
      ? recover(
        segment,
        point.position,
        point.offset,
        point.maxTimestampMs,
        point.offsetOfMaxTimestamp,
        logger,
      )
      : recover(segment, 0, base, -1, base, logger);
    truncated = result.truncated;
    damage.push(...result.damage);
    readOnly ??= result.writeFailure;
  }
  checkContinuity(segments, recovered, logger, damage);
  // A rebuilt time index of a closed segment gets the final entry a roll would have added.
  for (let i = 0; i < segments.length - 1; i++) segments[i].onBecomeInactive();
  const logEndOffset = segments[segments.length - 1].nextOffset;
  const logStartOffset = Math.max(
    segments[0].baseOffset,
    Math.min(checkpoint?.logStartOffset ?? 0, logEndOffset),
  );
  const highWatermark = Math.max(
    logStartOffset,
    Math.min(highWatermarkOf(checkpoint, logger, dir), logEndOffset),
  );
  // Only the checkpoint's own segment, read to the checkpoint's position and no further, is as
  // flushed as it was: anything else recovery read may still be in the page cache alone.
  const unflushed = truncated ||
    recovered.some((s) =>
      point === undefined || s.baseOffset !== point.segment || s.sizeBytes !== point.position
    );
  return {
    segments,
    fresh: false,
    recovered,
    unflushed,
    checkpointText: point?.text,
    damage,
    readOnly,
    leaderEpochs: point?.leaderEpochs,
    // The checkpoint's segment is the first recovered one; its bytes before this are vouched for.
    recoveredFrom: point !== undefined && recovered[0]?.baseOffset === point.segment
      ? point.position
      : 0,
    highWatermark,
    logStartOffset,
    cleanerCheckpoint,
  };
}

/** The recovery checkpoint when it matches the log; otherwise undefined, with a warning. */
function checkedRecoveryPoint(
  dir: string,
  point: Checkpoint | undefined,
  segments: Segment[],
  logger: Logger,
  damage: LogDamage[],
): Checkpoint | undefined {
  if (point === undefined) return undefined;
  const segment = segments.find((s) => s.baseOffset === point.segment);
  const problem = segment === undefined
    ? `its segment ${segmentFileStem(point.segment)}${LOG_SUFFIX} does not exist`
    : checkpointProblem(segment, point.offset, point.position);
  if (problem === undefined) return point;
  const file = joinPath(dir, CHECKPOINT_FILE);
  logger.warn(
    "recovery checkpoint does not match the log; ignoring it, re-validating every segment",
    {
      file,
      position: point.position,
      reason: problem,
    },
  );
  damage.push({ file, position: point.position, reason: `checkpoint ignored: ${problem}` });
  return undefined;
}

/**
 * Segment N must end where segment N+1 begins. An empty segment that does not is a stray and is
 * removed (from `segments`, `recovered` and the disk); otherwise a gap or an overlap is reported.
 */
function checkContinuity(
  segments: Segment[],
  recovered: Segment[],
  logger: Logger,
  damage: LogDamage[],
): void {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1];
    const s = segments[i];
    if (s.baseOffset === prev.nextOffset) continue;
    if (s.isEmpty) {
      const reason =
        `empty segment named ${s.baseOffset}, but ${prev.logPath} ends at offset ${prev.nextOffset}: a stray file, removed`;
      logger.error("removing a stray empty segment", { file: s.logPath, reason });
      damage.push({ file: s.logPath, position: 0, reason });
      s.delete();
      segments.splice(i, 1);
      const r = recovered.indexOf(s);
      if (r >= 0) recovered.splice(r, 1);
      i--;
      continue;
    }
    const reason = s.baseOffset > prev.nextOffset
      ? `offsets ${prev.nextOffset}..${
        s.baseOffset - 1
      } are missing: ${prev.logPath} ends at offset ${prev.nextOffset}`
      : `overlaps ${prev.logPath}, which runs to offset ${prev.nextOffset}`;
    logger.error("segments are not contiguous; serving around the gap", {
      file: s.logPath,
      position: 0,
      reason,
    });
    damage.push({ file: s.logPath, position: 0, reason });
  }
}
