/**
 * Applying the topic journal at open (topic_journal.ts): what a crash left in it is redone on
 * topics/, durably, before the registry reads topics/; the journal then starts empty.
 *
 * The last record of each name decides (a name's creates and deletes ran one after another):
 *
 * - create: the topic's directory, its missing partition directories and topic.json are made
 *   from the record unless topic.json is there, readable and of the record's id (then it is the
 *   record's or newer: an alter or CreatePartitions after the create writes it durably); either
 *   way it, its directory and topics/ are fsynced. A partition directory missing there is made
 *   empty: it was never fsynced, so it held nothing flushed (a log's first append fsyncs its
 *   directory and their parents: log_lazy.ts). A directory there holding another topic id is
 *   moved to orphaned/ (kept for an operator), never served under the new id.
 * - delete: a directory still in topics/ holding the record's id (or no readable topic.json) is
 *   moved to deleted/, which the open removes, or orphaned/ for a delete that keeps it.
 */
import type { Logger } from "../logger.ts";
import {
  joinPath,
  makeDir,
  makeDirIn,
  pathExists,
  readWholeFile,
  removeFile,
  renamePath,
  syncDir,
  syncPath,
  writeFileAtomic,
} from "../runtime/fs.ts";
import {
  decodeJournal,
  journalFiles,
  type JournalRecord,
  TOPIC_JOURNAL_OLD_FILE,
} from "./topic_journal.ts";
import { topicFileBytes } from "./topic_files.ts";

/** topic.json's id and partition count, or undefined when missing or unreadable. */
function readTopicFile(dir: string): { id: string; partitions: number } | undefined {
  try {
    const bytes = readWholeFile(joinPath(dir, "topic.json"));
    if (bytes === undefined) return undefined;
    const raw = JSON.parse(new TextDecoder().decode(bytes));
    if (!Number.isInteger(raw?.partitions) || raw.partitions < 1) return undefined;
    return { id: String(raw.id ?? ""), partitions: raw.partitions };
  } catch {
    return undefined;
  }
}

/**
 * Applies the journal files of `dataDir` (the old one removed after); returns how many names it
 * applied.
 * `nowMs` names directories moved aside.
 */
export function replayTopicJournal(
  dataDir: string,
  topicsDir: string,
  logger: Logger,
  nowMs: number,
): number {
  const files = journalFiles(dataDir);
  if (files.length === 0) return 0;
  const last = new Map<string, JournalRecord>();
  for (const path of files) {
    const bytes = readWholeFile(path) ?? new Uint8Array();
    const { records, validBytes } = decodeJournal(bytes);
    if (bytes.subarray(validBytes).some((b) => b !== 0)) {
      logger.warn("topic journal ends in a torn record (a crash while it was written)", {
        path,
        validBytes,
        bytes: bytes.length,
      });
    }
    for (const record of records) last.set(record.name, record);
  }
  const moveAside = (dir: string, to: string, name: string, why: string) => {
    makeDir(to);
    const target = joinPath(to, `${name}-${nowMs}`);
    renamePath(dir, target);
    logger.warn(why, { from: dir, to: target });
  };
  for (const [name, record] of last) {
    const dir = joinPath(topicsDir, name);
    const found = pathExists(dir) ? readTopicFile(dir) : undefined;
    if (record.op === "delete") {
      if (!pathExists(dir) || (found !== undefined && found.id !== record.id)) continue;
      const to = joinPath(dataDir, record.keep === true ? "orphaned" : "deleted");
      moveAside(dir, to, name, "finished a topic delete from the topic journal");
      continue;
    }
    if (found !== undefined && found.id !== record.id) {
      const orphaned = joinPath(dataDir, "orphaned");
      moveAside(dir, orphaned, name, "moved aside a directory of another topic id");
    }
    const current = found?.id === record.id ? found : undefined;
    makeDir(dir);
    const partitions = current?.partitions ?? record.partitions;
    for (let p = 0; p < partitions; p++) makeDirIn(joinPath(dir, String(p)));
    if (current === undefined) {
      const meta = { ...record, overrides: record.config };
      writeFileAtomic(joinPath(dir, "topic.json"), topicFileBytes(meta), dir);
    } else {
      syncPath(joinPath(dir, "topic.json"));
      syncDir(dir);
    }
  }
  syncDir(topicsDir);
  // The current file stays, its space kept (a full disk must not get room from a restart): the
  // journal's open zeroes it.
  for (const path of files) if (path.endsWith(TOPIC_JOURNAL_OLD_FILE)) removeFile(path);
  syncDir(dataDir);
  logger.info("applied the topic journal", { topics: last.size });
  return last.size;
}
