/**
 * The file work of a topic's create, CreatePartitions, delete and the registry's open and close,
 * done so that a big topic does not stall the server and a restart reads no partition:
 *
 * - A create's files (makeTopicFiles) are made after its topic journal record is durable
 *   (topic_journal.ts), without fsyncs: its directory, its partition directories and topic.json.
 *   The journal makes them again after a crash, and its checkpoint fsyncs them. A new partition
 *   is its directory alone (its segment files come with its first append, which fsyncs the
 *   directory and its parents: src/storage/log_lazy.ts).
 * - Partition directories are made, and a deleted topic's logs closed, PARTITION_DIRS_PER_SLICE at
 *   a time, the event loop serving other requests between slices.
 * - A deleted topic's directory, renamed out of topics/ (the durable step after its journal
 *   record), is removed off the event loop; the registry's close waits for removals still running.
 * - CreatePartitions' and an alter's topic.json is written tmp + fsync + rename + directory fsync
 *   (and topics/ fsynced: the topic's own entry may still be the journal's to make durable).
 * - `clean-shutdown` in the data dir says every log was closed with a checkpoint at its end (the
 *   registry's close writes it last; its open removes it, durably, before anything else). With it
 *   the registry opens every log lazily (PartitionLog.lazy): nothing of a partition is read before
 *   its first use. Without it (a crash) every log is opened, and recovered, at start.
 */
import { PARTITION_DIRS_PER_SLICE } from "../limits.ts";
import type { Logger } from "../logger.ts";
import {
  joinPath,
  makeDir,
  makeDirIn,
  parentDir,
  pathExists,
  removeFile,
  renamePath,
  syncDir,
  syncDirAsync,
  writeFileAtomic,
  writeFileAtomicAsync,
  writeFileNow,
} from "../runtime/fs.ts";
import type { TopicMeta } from "./topic.ts";
import { yieldToEventLoop } from "../storage/cleaner/throttler.ts";
import type { PartitionLog } from "../storage/partition_log.ts";

export const CLEAN_SHUTDOWN_FILE = "clean-shutdown";

/**
 * Makes `dir/<p>` for p in [from, to) in slices, yielding between them, not durably: the caller's
 * next durable write of topic.json (writeFileAtomic, which fsyncs `dir` after its rename), or the
 * topic journal's checkpoint, makes them durable too.
 */
export async function makePartitionDirs(dir: string, from: number, to: number): Promise<void> {
  for (let p = from; p < to; p++) {
    if (p > from && (p - from) % PARTITION_DIRS_PER_SLICE === 0) await yieldToEventLoop();
    makeDirIn(joinPath(dir, String(p)));
  }
}

/**
 * A new topic's directory `dir`, its partition directories and topic.json, made without fsyncs
 * while its topic journal record becomes durable (`durable`): topic.json is written under a
 * temporary name and renamed once it is, so a crash before leaves a directory without topic.json
 * (not served, moved aside by the next create of the name); after, the journal makes them again.
 */
export async function makeTopicFiles(
  dir: string,
  meta: TopicMeta,
  durable: Promise<void>,
): Promise<void> {
  makeDirIn(dir);
  await makePartitionDirs(dir, 0, meta.partitions);
  const path = joinPath(dir, "topic.json");
  writeFileNow(`${path}.tmp`, topicFileBytes(meta));
  await durable;
  renamePath(`${path}.tmp`, path);
}

/** Closes `logs` a slice at a time; failures are logged (a deleted topic's logs go anyway). */
export async function closeLogsInSlices(
  logs: readonly PartitionLog[],
  logger: Logger,
  topic: string,
): Promise<void> {
  for (let i = 0; i < logs.length; i += PARTITION_DIRS_PER_SLICE) {
    if (i > 0) await yieldToEventLoop();
    const slice = logs.slice(i, i + PARTITION_DIRS_PER_SLICE);
    const closed = await Promise.allSettled(slice.map((log) => log.close()));
    for (const result of closed) {
      if (result.status === "rejected") {
        logger.warn("closing a deleted topic's log failed", {
          topic,
          error: String(result.reason),
        });
      }
    }
  }
}

/** True when the last run closed cleanly; the mark is removed (durably) either way. */
export function takeCleanShutdown(dataDir: string): boolean {
  const path = joinPath(dataDir, CLEAN_SHUTDOWN_FILE);
  if (!pathExists(path)) return false;
  removeFile(path);
  syncDir(dataDir);
  return true;
}

/** Marks the data dir closed cleanly: every log was closed with its checkpoint written. */
export function markCleanShutdown(dataDir: string, nowMs: number): void {
  const text = JSON.stringify({ version: 1, closedMs: nowMs });
  writeFileAtomic(joinPath(dataDir, CLEAN_SHUTDOWN_FILE), new TextEncoder().encode(text), dataDir);
}

/** topic.json's current layout version (see the module doc). */
const TOPIC_FILE_VERSION = 2;

export function topicFileBytes(
  meta: Pick<TopicMeta, "name" | "partitions" | "overrides" | "createdMs" | "id">,
): Uint8Array {
  const file = {
    version: TOPIC_FILE_VERSION,
    name: meta.name,
    partitions: meta.partitions,
    config: meta.overrides,
    createdMs: meta.createdMs,
    id: meta.id,
  };
  return new TextEncoder().encode(JSON.stringify(file, null, 2));
}

/**
 * An altered topic's topic.json, written durably (tmp + fsync + rename + `dir` fsync), and
 * `topicsDir` fsynced: the topic's own entry may be the topic journal's still to make durable.
 */
export function rewriteTopicFile(dir: string, meta: TopicMeta, topicsDir: string): void {
  writeFileAtomic(joinPath(dir, "topic.json"), topicFileBytes(meta), dir);
  syncDir(topicsDir);
}

/**
 * Moves `dir` (a topic's directory) to `<dataDir>/orphaned/<name>`, durably (its parent fsynced):
 * kept for an operator, not served. Returns where it went.
 */
export function setAsideDir(dataDir: string, dir: string, name: string): string {
  const orphaned = joinPath(dataDir, "orphaned");
  makeDir(orphaned);
  const to = joinPath(orphaned, name);
  renamePath(dir, to);
  syncDir(parentDir(dir));
  return to;
}

/**
 * Writes a new topic's (or a grown topic's) topic.json into `dir`, durably, and fsyncs
 * `topicsDir` when given (the topic directory's own entry). A topic of more partitions than one
 * slice (PARTITION_DIRS_PER_SLICE) fsyncs off the event loop, which serves other requests
 * meanwhile; a smaller one inline, answered sooner (a thread-pool hop costs about as much as a
 * directory fsync on a quiet disk: 1,000 one-partition creates took 27% longer async).
 */
export async function writeTopicFile(
  dir: string,
  meta: TopicMeta,
  topicsDir?: string,
): Promise<void> {
  const path = joinPath(dir, "topic.json");
  if (meta.partitions <= PARTITION_DIRS_PER_SLICE) {
    writeFileAtomic(path, topicFileBytes(meta), dir);
    if (topicsDir !== undefined) syncDir(topicsDir);
    return;
  }
  await writeFileAtomicAsync(path, topicFileBytes(meta), dir);
  if (topicsDir !== undefined) await syncDirAsync(topicsDir);
}
