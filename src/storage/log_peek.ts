/**
 * What /metrics shows of a partition, read from its directory without loading the log: for a lazy
 * log not used yet (log_lazy.ts), whose checkpoint a clean shutdown wrote at its end. A first
 * scrape after a start with thousands of partitions would otherwise load every one of them
 * (segments listed and indexed, checkpoints parsed into the log's state): the start's laziness
 * undone by the first Prometheus poll.
 *
 * The directory's listing and the recovery checkpoint give the figures when the checkpoint vouches
 * for the whole log: it names the last segment at that file's length. Anything else (no
 * checkpoint, a tail it does not cover, a `.cleaned`/`.swap`/`.deleted` file, a listing error)
 * answers undefined: the caller loads the log, which sorts it out as at any first use.
 */
import { silentLogger } from "../logger.ts";
import { joinPath, listDir, sizeOfPath } from "../runtime/fs.ts";
import { readRecoveryPoint } from "./log_loader.ts";
import type { LogState } from "./log_types.ts";
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  LOG_SUFFIX,
  segmentFileStem,
  SWAP_SUFFIX,
} from "./segment.ts";

/** A partition's figures for /metrics (as PartitionLog's getters of a loaded log give them). */
export interface LogSummary {
  logStartOffset: number;
  logEndOffset: number;
  /** Bytes of its segments' .log files. */
  sizeBytes: number;
  /** Segments, the active one (possibly without files yet) included. */
  segments: number;
  state: LogState;
  damageCount: number;
}

const SEGMENT_NAME = /^(\d{20})\.log$/;

/** The figures of the log in `dir` from its files, or undefined when a load must decide. */
export function peekLog(dir: string): LogSummary | undefined {
  let names: string[];
  try {
    names = listDir(dir);
  } catch {
    return undefined;
  }
  const bases: number[] = [];
  for (const name of names) {
    if (
      name.endsWith(CLEANED_SUFFIX) || name.endsWith(SWAP_SUFFIX) || name.endsWith(DELETED_SUFFIX)
    ) {
      return undefined;
    }
    const m = SEGMENT_NAME.exec(name);
    if (m !== null) bases.push(Number(m[1]));
  }
  // A partition never written: one segment without files, offsets 0 (a load reads nothing).
  if (bases.length === 0) return names.length === 0 ? emptyLog() : undefined;
  if (!bases.every(Number.isSafeInteger)) return undefined;
  bases.sort((a, b) => a - b);
  const point = readRecoveryPoint(dir, silentLogger);
  const last = bases[bases.length - 1];
  if (point === undefined || point.segment !== last) return undefined;
  let sizeBytes = 0;
  let lastSize = 0;
  for (const base of bases) {
    const size = sizeOfPath(joinPath(dir, segmentFileStem(base) + LOG_SUFFIX));
    if (size === undefined) return undefined;
    sizeBytes += size;
    lastSize = size;
  }
  if (point.position !== lastSize) return undefined;
  // As a load computes them (log_loader.ts).
  const logEndOffset = point.offset;
  return {
    logStartOffset: Math.max(bases[0], Math.min(point.logStartOffset ?? 0, logEndOffset)),
    logEndOffset,
    sizeBytes,
    segments: bases.length,
    state: "online",
    damageCount: 0,
  };
}

function emptyLog(): LogSummary {
  return {
    logStartOffset: 0,
    logEndOffset: 0,
    sizeBytes: 0,
    segments: 1,
    state: "online",
    damageCount: 0,
  };
}
