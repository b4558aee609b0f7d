/**
 * `cleaner-checkpoint`, one per partition directory (Kafka keeps one cleaner-offset-checkpoint
 * per log directory for all its partitions): JSON written by tmp + fsync + rename + directory
 * fsync,
 *
 *   {"version":1,"firstDirtyOffset":F,"compactedBelow":C}
 *
 * - `firstDirtyOffset`: where the next clean's dirty part starts; every record below it was
 *   deduplicated against the later ones (Kafka's cleaner offset checkpoint). Moves only when a
 *   clean ends, to where its offset map reached.
 * - `compactedBelow`: every segment whose base offset is below it may have been rewritten by the
 *   cleaner, and may so have gaps between its batches (base offsets still increase) and batches
 *   holding fewer records than their offsets span. Segments at or above it never were: there the
 *   loader and reads keep requiring contiguous offsets, the check that finds a damaged base offset
 *   (the CRC does not cover it). Raised right after each cleaned segment's swap is committed, and
 *   by the loader when it completes a swap a crash interrupted, so that a rewritten segment is
 *   never loaded as a never-cleaned one.
 *
 * No file: the log was never cleaned. A file that cannot be read: nothing is known, so every
 * segment is taken as possibly compacted (gaps allowed, never truncated for one) and the next
 * clean starts from the log start; a warning says so.
 */
import type { Logger } from "../../logger.ts";
import { joinPath, readWholeFile, writeFileAtomic } from "../../runtime/fs.ts";

export const CLEANER_CHECKPOINT_FILE = "cleaner-checkpoint";

export interface CleanerCheckpoint {
  firstDirtyOffset: number;
  compactedBelow: number;
}

/** What a log that was never cleaned has. */
export const NEVER_CLEANED: Readonly<CleanerCheckpoint> = Object.freeze({
  firstDirtyOffset: 0,
  compactedBelow: 0,
});

export function readCleanerCheckpoint(dir: string, logger: Logger): CleanerCheckpoint {
  const path = joinPath(dir, CLEANER_CHECKPOINT_FILE);
  const bytes = readWholeFile(path);
  if (bytes === undefined) return { ...NEVER_CLEANED };
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (
      v?.version === 1 && Number.isSafeInteger(v.firstDirtyOffset) && v.firstDirtyOffset >= 0 &&
      Number.isSafeInteger(v.compactedBelow) && v.compactedBelow >= 0
    ) {
      return { firstDirtyOffset: v.firstDirtyOffset, compactedBelow: v.compactedBelow };
    }
  } catch {
    // reported below
  }
  logger.warn(
    "unreadable cleaner checkpoint; every segment may be compacted, the next clean starts over",
    { file: path },
  );
  return { firstDirtyOffset: 0, compactedBelow: Number.MAX_SAFE_INTEGER };
}

export function writeCleanerCheckpoint(dir: string, checkpoint: CleanerCheckpoint): void {
  const text = JSON.stringify({
    version: 1,
    firstDirtyOffset: checkpoint.firstDirtyOffset,
    compactedBelow: checkpoint.compactedBelow,
  });
  writeFileAtomic(joinPath(dir, CLEANER_CHECKPOINT_FILE), new TextEncoder().encode(text), dir);
}
