/**
 * Putting a cleaned segment in place of the segments it replaces, crash-safe (Kafka's
 * replaceSegments and its completion at load, our own code). A cleaned segment is named after the
 * first segment it replaces (base offset `s`) and ends where the last one ends (`e`: the cleaner
 * always keeps the last batch of what it cleans, emptied if need be, so the offsets it covers are
 * readable from its own batches). It replaces every segment whose base offset is in [s, e).
 *
 * Steps ({@link SwapStep} names each, for the crash tests' hook):
 *  1. `cleaned`: `<s>.log.cleaned`, `.index.cleaned`, `.timeindex.cleaned` written and fsynced
 *     (the cleaner does this).
 *  2. `checkpointed`: the cleaner checkpoint's compactedBelow raised to at least `e` (the clean
 *     raises it once, before its first swap, to the end of its last group), so that from now on
 *     the segments of [s, e) may have gaps, whichever set of them the next open finds.
 *  3. `indexes-renamed`: `.index.cleaned` and `.timeindex.cleaned` renamed to `.swap`.
 *  4. `committed`: `<s>.log.cleaned` renamed to `<s>.log.swap`, directory fsynced (in the
 *     runtime's thread pool: the event loop goes on meanwhile, the log still reading the old
 *     segments, which the swap then checks are still all there). The commit point: before it the
 *     old segments stand (a `.cleaned` file is deleted at open), after it the new one does (a
 *     `.swap` is completed at open).
 *  5. `old-deleted` (once per segment): each replaced segment, the last first, closed and its
 *     files renamed to `<name>.deleted` (Kafka's suffix for files to delete). A rename to a new
 *     name frees nothing; the caller removes the `.deleted` files off the event loop
 *     ({@link removeRetired}): unlinking a 16 MiB file (or renaming over it) frees its pages and
 *     blocks, several ms on the loop per segment otherwise.
 *  6. `renamed`: the `.swap` files renamed to the first segment's plain names (free now); the
 *     directory is fsynced afterwards, off the event loop.
 * The log's segment list changes in the same synchronous step as 5 and 6: reads see the old
 * segments or the new one, never a mix, and no descriptor of an old segment is opened by path
 * once its path names the new file. Should the replaced segments change while step 4's fsync runs
 * (retention deleting the oldest), the swap is taken back ({@link uncommitSwap}) instead.
 *
 * At open ({@link completeInterruptedSwaps}): every `.cleaned` file is deleted (a clean that
 * never committed), `.swap` index files without a `.log.swap` too (a crash between steps 3 and 4);
 * a `<s>.log.swap` is re-validated whole (CRC, increasing offsets), the old segments of
 * [s, e) still under plain names deleted and the `.swap` files renamed, as steps 5 and 6 do.
 * `.deleted` files are only ever written after a commit, so the loader removes any it finds
 * (log_loader.ts).
 */
import type { Logger } from "../../logger.ts";
import {
  joinPath,
  listDir,
  pathExists,
  removeFile,
  removeFilesAsync,
  renamePath,
  syncDir,
} from "../../runtime/fs.ts";
import type { LogFiles } from "../log_files.ts";
import {
  CLEANED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  Segment,
  segmentFileStem,
  type SegmentSettings,
  SWAP_SUFFIX,
  TIME_INDEX_SUFFIX,
} from "../segment.ts";
import { recover } from "../segment_recovery.ts";
import type { LogDamage } from "../storage_errors.ts";
import { type CleanerCheckpoint, writeCleanerCheckpoint } from "./cleaner_checkpoint.ts";

/** The steps of a clean and a swap, in order (see the module comment; `done` ends the clean). */
export const SWAP_STEPS = [
  "writing",
  "cleaned",
  "checkpointed",
  "indexes-renamed",
  "committed",
  "old-deleted",
  "renamed",
  "done",
] as const;
export type SwapStep = typeof SWAP_STEPS[number];

/** Called at each step; a crash test's child kills itself there. Synchronous by design. */
export type SwapHook = (step: SwapStep) => void;

const SUFFIXES = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] as const;

/**
 * Steps 2 to 4 for `cleaned` (step 1 done: written, fsynced, closed) up to the commit point's
 * rename: raises `checkpoint.compactedBelow` to at least `compactedBelow` (at least `cleaned`'s
 * end) and writes it when it moves, renames the indexes and then the log to `.swap`. The caller
 * makes the commit durable (a directory fsync, off the event loop: {@link syncDirAsync}) before
 * {@link finishSwap}; while it waits, the old segments stand under their names, the log reads
 * them, and a crash leaves the swap to the next open. Throws the file system's error, with
 * `progress.committed` telling which side of the commit it came from: before, nothing changed but
 * the cleaned files (the caller removes them: {@link abandonSwap}); after, the next open completes
 * the swap.
 */
export function commitSwap(
  dir: string,
  cleaned: Segment,
  checkpoint: CleanerCheckpoint,
  compactedBelow: number,
  hook: SwapHook | undefined,
  progress: { committed: boolean },
): void {
  const stem = joinPath(dir, segmentFileStem(cleaned.baseOffset));
  const below = Math.max(compactedBelow, cleaned.nextOffset);
  if (checkpoint.compactedBelow < below) {
    checkpoint.compactedBelow = below;
    writeCleanerCheckpoint(dir, checkpoint);
  }
  hook?.("checkpointed");
  renamePath(stem + INDEX_SUFFIX + CLEANED_SUFFIX, stem + INDEX_SUFFIX + SWAP_SUFFIX);
  renamePath(stem + TIME_INDEX_SUFFIX + CLEANED_SUFFIX, stem + TIME_INDEX_SUFFIX + SWAP_SUFFIX);
  hook?.("indexes-renamed");
  renamePath(stem + LOG_SUFFIX + CLEANED_SUFFIX, stem + LOG_SUFFIX + SWAP_SUFFIX);
  progress.committed = true;
}

/**
 * Steps 5 and 6, in one synchronous step, once the commit is durable: the replaced segments (the
 * old ones, ascending; the first shares `cleaned`'s base offset) closed and renamed `.deleted`,
 * the last first, then the `.swap` files renamed to the plain names. Returns the new segment under
 * them and the paths of the old files, for {@link removeRetired}. The caller fsyncs the directory
 * afterwards, off the event loop (the next open completes a swap whose renames a power loss
 * undid). Throws the file system's error; the next open completes the swap then.
 */
export function finishSwap(
  dir: string,
  cleaned: Segment,
  replaced: readonly Segment[],
  files: LogFiles,
  hook: SwapHook | undefined,
): { segment: Segment; retired: string[] } {
  const stem = joinPath(dir, segmentFileStem(cleaned.baseOffset));
  const retired: string[] = [];
  for (let i = replaced.length - 1; i >= 0; i--) {
    retired.push(...replaced[i].retire());
    hook?.("old-deleted");
  }
  for (const suffix of SUFFIXES) renamePath(stem + suffix + SWAP_SUFFIX, stem + suffix);
  hook?.("renamed");
  return { segment: Segment.renamed(dir, cleaned, files), retired };
}

/**
 * Takes back a commit whose swap can no longer finish (the segments it replaces changed while its
 * directory fsync ran): `<s>.log.swap` removed first (uncommitted from then on; a `.swap` index
 * without it is removed at open), then the `.swap` indexes. The old segments stand.
 */
export function uncommitSwap(dir: string, baseOffset: number): void {
  const stem = joinPath(dir, segmentFileStem(baseOffset));
  removeFile(stem + LOG_SUFFIX + SWAP_SUFFIX);
  removeFile(stem + INDEX_SUFFIX + SWAP_SUFFIX);
  removeFile(stem + TIME_INDEX_SUFFIX + SWAP_SUFFIX);
}

/**
 * Removes retired (`.deleted`) files off the event loop, in the runtime's thread pool; resolves
 * when they are gone, or rejects with the file system's error (the next open removes them).
 */
export function removeRetired(paths: readonly string[]): Promise<void> {
  return removeFilesAsync(paths);
}

/**
 * Removes what a swap that never committed left: `<s>.log.cleaned` and the indexes, `.cleaned`
 * or already `.swap`.
 */
export function abandonSwap(dir: string, baseOffset: number): void {
  const stem = joinPath(dir, segmentFileStem(baseOffset));
  for (const suffix of SUFFIXES) removeFile(stem + suffix + CLEANED_SUFFIX);
  removeFile(stem + INDEX_SUFFIX + SWAP_SUFFIX);
  removeFile(stem + TIME_INDEX_SUFFIX + SWAP_SUFFIX);
}

const SWAP_LOG = /^(\d{20})\.log\.swap$/;

/**
 * At open, before the segments are listed: see the module comment. Returns the damage found in
 * a `.swap` segment (then already truncated, as recovery truncates a torn tail) and whether the
 * checkpoint was raised and written.
 */
export function completeInterruptedSwaps(
  dir: string,
  settings: SegmentSettings,
  nowMs: number,
  logger: Logger,
  files: LogFiles,
  checkpoint: CleanerCheckpoint,
): LogDamage[] {
  const damage: LogDamage[] = [];
  const names = listDir(dir);
  const swaps: number[] = [];
  for (const name of names) {
    if (name.endsWith(CLEANED_SUFFIX)) {
      logger.info("removing a segment file of an unfinished clean", { file: joinPath(dir, name) });
      removeFile(joinPath(dir, name));
      continue;
    }
    const m = SWAP_LOG.exec(name);
    if (m !== null && Number.isSafeInteger(Number(m[1]))) swaps.push(Number(m[1]));
  }
  for (const name of names) {
    if (!name.endsWith(SWAP_SUFFIX) || SWAP_LOG.test(name)) continue;
    const stem = name.slice(0, 20);
    if (!names.includes(stem + LOG_SUFFIX + SWAP_SUFFIX)) {
      logger.info("removing an index of an uncommitted swap", { file: joinPath(dir, name) });
      removeFile(joinPath(dir, name));
    }
  }
  swaps.sort((a, b) => a - b);
  for (const base of swaps) {
    damage.push(...completeSwap(dir, base, names, settings, nowMs, logger, files, checkpoint));
  }
  if (swaps.length > 0) syncDir(dir);
  return damage;
}

function completeSwap(
  dir: string,
  base: number,
  names: readonly string[],
  settings: SegmentSettings,
  nowMs: number,
  logger: Logger,
  files: LogFiles,
  checkpoint: CleanerCheckpoint,
): LogDamage[] {
  const swap = Segment.open(dir, base, settings, nowMs, files, SWAP_SUFFIX);
  swap.compacted = true;
  let end: number;
  let damage: LogDamage[];
  try {
    const result = recover(swap, 0, base, -1, base, logger);
    end = swap.nextOffset;
    damage = result.damage;
    if (result.truncated) {
      damage.push({
        file: swap.logPath,
        position: swap.sizeBytes,
        reason: "a committed cleaned segment failed its check and was truncated",
      });
    }
  } finally {
    swap.close();
  }
  const stem = joinPath(dir, segmentFileStem(base));
  if (checkpoint.compactedBelow < end) {
    checkpoint.compactedBelow = end;
    writeCleanerCheckpoint(dir, checkpoint);
  }
  // The replaced segments: every other one whose base offset is in (base, end), the last first.
  const olds = names
    .map((n) => /^(\d{20})\.log$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((b) => b > base && b < end)
    .sort((a, b) => b - a);
  for (const old of olds) {
    const oldStem = joinPath(dir, segmentFileStem(old));
    for (const suffix of SUFFIXES) removeFile(oldStem + suffix);
  }
  for (const suffix of SUFFIXES) {
    if (pathExists(stem + suffix + SWAP_SUFFIX)) {
      renamePath(stem + suffix + SWAP_SUFFIX, stem + suffix);
    }
  }
  logger.warn("completed a swap of cleaned segments that a crash interrupted", {
    file: stem + LOG_SUFFIX,
    replacedSegments: olds.length + 1,
    endOffset: end,
  });
  return damage;
}
