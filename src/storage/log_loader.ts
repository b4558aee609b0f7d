/**
 * Opens a partition directory: finds its segments, reads the recovery checkpoint and decides, per
 * segment, what can be trusted.
 *
 * `recovery-checkpoint` (JSON, written by tmp + fsync + rename): `{"version":1,"offset",
 * "segment","position","maxTimestampMs","offsetOfMaxTimestamp"}`. It promises that every log byte
 * before `position` in segment `segment` (and every earlier segment) was fsynced, and that their
 * index entries were written and fsynced. So on open:
 * - segments before the checkpoint's are trusted: their indexes are sanity-checked (rebuilt from
 *   batch headers when missing or damaged) and only the bytes after the last index entry are
 *   scanned, headers only;
 * - the checkpoint's segment is re-validated from `position` on, and every later segment whole:
 *   length, magic, CRC-32C and contiguous offsets for every batch, indexes rebuilt; the first bad
 *   batch truncates its segment (a torn write never acknowledged under flush.policy always), and
 *   the segments after a truncation are deleted, since offsets must stay contiguous.
 * Without a checkpoint (first open after a crash) every segment is re-validated.
 */
import type { Logger } from "../logger.ts";
import {
  joinPath,
  listDir,
  makeDir,
  parentDir,
  readWholeFile,
  removeFile,
  syncDir,
  writeFileAtomic,
} from "../runtime/fs.ts";
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  Segment,
  type SegmentSettings,
  TIME_INDEX_SUFFIX,
} from "./segment.ts";

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

export function writeRecoveryPoint(dir: string, point: RecoveryPoint): void {
  const text = JSON.stringify({ version: 1, ...point });
  writeFileAtomic(joinPath(dir, CHECKPOINT_FILE), new TextEncoder().encode(text), dir);
}

export function readRecoveryPoint(dir: string, logger: Logger): RecoveryPoint | undefined {
  const path = joinPath(dir, CHECKPOINT_FILE);
  const bytes = readWholeFile(path);
  if (bytes === undefined) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    const fields = ["offset", "segment", "position", "maxTimestampMs", "offsetOfMaxTimestamp"];
    if (v?.version === 1 && fields.every((f) => Number.isSafeInteger(v[f]))) {
      if (v.offset >= v.segment && v.position >= 0) {
        return {
          offset: v.offset,
          segment: v.segment,
          position: v.position,
          maxTimestampMs: v.maxTimestampMs,
          offsetOfMaxTimestamp: v.offsetOfMaxTimestamp,
        };
      }
    }
  } catch {
    // reported below
  }
  logger.warn("unreadable recovery checkpoint; re-validating every segment", { file: path });
  return undefined;
}

const SEGMENT_NAME = /^(\d{20})\.log$/;

/** Base offsets of the segments in `dir`, ascending; stray tmp files and orphan indexes removed. */
function listSegments(dir: string, logger: Logger): number[] {
  const names = listDir(dir);
  const bases = new Set<number>();
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (m) bases.add(Number(m[1]));
  }
  for (const name of names) {
    if (name.endsWith(".tmp")) {
      removeFile(joinPath(dir, name));
      continue;
    }
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      if (!name.endsWith(suffix)) continue;
      const stem = name.slice(0, -suffix.length);
      if (/^\d{20}$/.test(stem) && !bases.has(Number(stem))) {
        logger.warn("removing an index without its log", { file: joinPath(dir, name) });
        removeFile(joinPath(dir, name));
      }
    }
  }
  return [...bases].sort((a, b) => a - b);
}

export interface LoadResult {
  segments: Segment[];
  /** Segments that were re-validated (their bytes may not be on disk yet: flush them). */
  recovered: Segment[];
}

/** Opens every segment of `dir` (creating segment 0 in an empty dir). */
export function loadSegments(
  dir: string,
  settings: SegmentSettings,
  nowMs: number,
  logger: Logger,
): LoadResult {
  makeDir(dir);
  const bases = listSegments(dir, logger);
  if (bases.length === 0) {
    const first = Segment.create(dir, 0, settings, nowMs);
    // The new files and the partition dir itself must survive a power loss once data is flushed.
    syncDir(dir);
    syncDir(parentDir(dir));
    return { segments: [first], recovered: [] };
  }
  const point = readRecoveryPoint(dir, logger);
  const segments: Segment[] = [];
  const recovered: Segment[] = [];
  let truncated = false;
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i];
    if (truncated) {
      logger.warn("deleting a segment after a truncated one", {
        file: joinPath(dir, `${String(base).padStart(20, "0")}${LOG_SUFFIX}`),
      });
      Segment.open(dir, base, settings, nowMs).delete();
      continue;
    }
    const segment = Segment.open(dir, base, settings, nowMs);
    segments.push(segment);
    if (point !== undefined && base < point.segment && i + 1 < bases.length) {
      segment.loadTrusted(logger, bases[i + 1]);
      continue;
    }
    recovered.push(segment);
    truncated = point !== undefined && base === point.segment
      ? segment.recover(
        point.position,
        point.offset,
        point.maxTimestampMs,
        point.offsetOfMaxTimestamp,
        logger,
      )
      : segment.recover(0, base, -1, base, logger);
  }
  // A rebuilt time index of a closed segment gets the final entry a roll would have added.
  for (let i = 0; i < segments.length - 1; i++) segments[i].onBecomeInactive();
  return { segments, recovered };
}
