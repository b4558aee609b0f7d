/**
 * The durable steps at the two ends of a partition log's life, for partition_log.ts:
 *
 * - after a load ({@link settleLoaded}): segments below a checkpointed log start are deleted (a
 *   crash before DeleteRecords deleted them), and what recovery validated, perhaps only in the page
 *   cache (the process died, the OS did not), is flushed and the checkpoint moved to the end, so
 *   the next open does not redo it;
 * - at close ({@link flushForClose}): every background job of the log (cleaner, truncation,
 *   retention, log start, flush) is waited for, then the dirty segments are fsynced and the
 *   recovery checkpoint written, which makes the next open fast.
 */
import type { Logger } from "../logger.ts";
import { isNoSpace } from "../runtime/fs.ts";
import type { SluiceError } from "../errors.ts";
import type { LogAppender } from "./log_append.ts";
import type { LogFlusher } from "./log_flusher.ts";
import type { LoadResult } from "./log_loader.ts";
import type { LogStartMover } from "./log_start.ts";
import type { LogTruncation } from "./log_truncation.ts";
import type { LogRetention } from "./retention.ts";
import type { LogCompaction } from "./cleaner/log_compaction.ts";
import { storageFailure } from "./segment.ts";

/** The parts of a log its open and close steps use. */
export interface LifecycleParts {
  dir: string;
  logger: Logger;
  flusher: LogFlusher;
  logStart: LogStartMover;
}

/**
 * Settles a loaded log (see the module's doc). A full disk leaves the log read-only (`readOnly`);
 * any other failure closes the loaded segments and throws a typed storage error.
 */
export async function settleLoaded(
  parts: LifecycleParts,
  loaded: LoadResult,
  failed: () => boolean,
  readOnly: (failure: SluiceError) => void,
): Promise<void> {
  const { dir, flusher } = parts;
  const deleted = await parts.logStart.deleteBelowStart("logStart");
  const unflushed = loaded.unflushed || deleted > 0;
  // A checkpoint without leader epochs (an older one) is written again with those read.
  const epochsRead = !loaded.fresh && loaded.leaderEpochs === undefined;
  if ((!unflushed && !epochsRead) || failed()) return;
  for (const s of unflushed ? loaded.recovered : []) s.dirty = true;
  try {
    await flusher.syncDirty();
    flusher.writeCheckpoint(flusher.recoveryPointNow());
  } catch (err) {
    const failure = storageFailure(err, `recovering the log in ${dir}`, { dir });
    if (failure.code !== "INSUFFICIENT_STORAGE" && !isNoSpace(err)) {
      for (const s of loaded.segments) s.close();
      throw failure;
    }
    readOnly(failure);
  }
}

/** What a close waits for before its flush. */
export interface CloseParts extends LifecycleParts {
  compaction: LogCompaction;
  truncation: LogTruncation;
  retention: LogRetention;
  appender: LogAppender;
}

/**
 * Waits for the log's background jobs, then flushes it and writes its recovery checkpoint, unless
 * it is not `writable` (read-only or offline) or holds no files. A failed flush throws a typed
 * storage error; a checkpoint not written is only logged (the data is flushed; without it the next
 * open re-validates more).
 */
export async function flushForClose(parts: CloseParts, writable: () => boolean): Promise<void> {
  const { dir, flusher, appender } = parts;
  await parts.compaction.pause();
  if (parts.truncation.running !== undefined) await parts.truncation.running;
  if (parts.retention.running !== undefined) await parts.retention.running;
  while (parts.logStart.running !== undefined) await parts.logStart.running;
  while (flusher.running !== undefined) await flusher.running;
  // A new log without files keeps none, unless its checkpoint changed (a leader epoch).
  const bare = appender.bare ? flusher.textFor(flusher.recoveryPointNow()) : "";
  if (bare !== "" && bare !== flusher.checkpointText) appender.birth();
  if (!writable() || appender.bare) return;
  const point = flusher.recoveryPointNow();
  try {
    await flusher.syncDirty();
  } catch (err) {
    throw storageFailure(err, `flushing the log in ${dir} on close`, { dir });
  }
  try {
    flusher.writeCheckpoint(point);
  } catch (err) {
    parts.logger.warn("recovery checkpoint not written on close", { dir, error: String(err) });
  }
}
