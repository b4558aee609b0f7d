/**
 * What makes a partition cheap until it is used (PartitionLog.lazy, and a new log's first append):
 *
 * - A lazy log reads nothing at start: its directory is listed, its checkpoints read and its
 *   segments trusted or re-validated (log_loader.ts) at its first use: a read or write, its
 *   offsets, state or damage, a retention run, the cleaner. The topic registry opens logs lazily
 *   after a clean shutdown (topic_registry.ts), when every checkpoint vouches for its whole log,
 *   so a first use re-validates nothing. Descriptors are opened by reads and appends only, through
 *   the process's bounded LRU (log_files.ts).
 * - A lazy log's first retention run comes at a point of [1, 2) check intervals after start that
 *   its directory's name picks, not at one interval for all: thousands of partitions loaded by
 *   timers due at the same moment would hold up the event loop together.
 * - A new log (an empty directory) has one segment without files: its first append creates the
 *   `.log`, `.index` and `.timeindex` and fsyncs the directory, as a roll does, and the two above
 *   it once per parent (a new topic's directories are made without fsyncs:
 *   src/broker/topic_journal.ts), so a partition never written costs one directory, no fsync.
 */
import type { SluiceError } from "../errors.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import { parentDir, pathExists, syncDir } from "../runtime/fs.ts";
import type { LogConfig } from "./log_config.ts";
import type { LogFiles } from "./log_files.ts";
import { freshLoad, type LoadResult, loadSegments } from "./log_loader.ts";
import { type Segment, storageFailure } from "./segment.ts";
import { offlineError } from "./storage_errors.ts";

/**
 * Loads a lazy log's directory: what loadSegments finds, or the offline error (logged) when it
 * cannot be opened; `fresh`: the directory was made empty by this process, nothing is read. A missing directory is an error, never a new empty log: it was created with
 * its topic, so missing now means lost.
 */
export function loadLazily(
  dir: string,
  config: LogConfig,
  clock: Clock,
  logger: Logger,
  files: LogFiles,
  fresh: boolean,
): LoadResult | SluiceError {
  // A directory its topic's create just made holds nothing to read.
  if (fresh) return freshLoad(dir, config, clock.nowMs(), files);
  try {
    if (!pathExists(dir)) throw new Error(`directory ${dir} is missing`);
    return loadSegments(dir, config, clock.nowMs(), logger, files);
  } catch (err) {
    const offline = offlineError(dir, err);
    logger.error("partition log could not be opened; it is offline", {
      dir,
      error: offline.message,
      code: (err as { code?: unknown })?.code as string | undefined,
    });
    return offline;
  }
}

/** When a lazy log's first retention run comes: in [interval, 2 x interval), by `dir`. */
export function firstRetentionDelayMs(dir: string, intervalMs: number): number {
  let hash = 0x811c9dc5; // FNV-1a over the path's UTF-16 units
  for (let i = 0; i < dir.length; i++) hash = Math.imul(hash ^ dir.charCodeAt(i), 0x01000193);
  return intervalMs + ((hash >>> 0) % Math.max(1, intervalMs));
}

/**
 * Log directories' parents (a topic's directory) fsynced, with theirs, by a first append in this
 * process: the next first append under the same parent skips them (the parent's entries made
 * before that fsync are durable). A topic made again under the same path is forgotten first
 * (forgetSyncedParent). Bounded: past SYNCED_PARENTS_MAX it starts over (fsyncs again).
 */
const syncedParents = new Set<string>();
const SYNCED_PARENTS_MAX = 10_000;

/** `parent`'s next first append fsyncs it again (a new directory at the same path). */
export function forgetSyncedParent(parent: string): void {
  syncedParents.delete(parent);
}

/**
 * Creates the files of a segment that has none (a new log's first), empty, and fsyncs its
 * directory, and its parent and the parent's parent once per parent, so that they survive a power
 * loss once data is flushed: a new topic's directories were made without fsyncs (its journal
 * record is what made it durable: src/broker/topic_journal.ts). Throws a typed error
 * (INSUFFICIENT_STORAGE on a full disk) naming the file.
 */
export function createSegmentFiles(segment: Segment, dir: string): void {
  try {
    segment.truncateLog(0);
    segment.persistIndexes(false);
    syncDir(dir);
    const parent = parentDir(dir);
    if (!syncedParents.has(parent)) {
      syncDir(parent);
      syncDir(parentDir(parent));
      if (syncedParents.size >= SYNCED_PARENTS_MAX) syncedParents.clear();
      syncedParents.add(parent);
    }
  } catch (err) {
    throw storageFailure(err, `creating segment ${segment.logPath}`, { file: segment.logPath });
  }
}
