/**
 * The topic journal: what makes a topic's create (and delete) durable with one fdatasync, so that
 * creating a topic costs about one disk flush and no directory fsync on the answer's path.
 *
 * A create appends a record to `<dataDir>/topics.journal` and is answered once the fdatasync that
 * covers it ends (group commit: a round's one fdatasync covers every record appended before it
 * began, the way the log flusher shares a flush between appends; rounds run off the event loop,
 * one at a time). Meanwhile it makes the topic's directory, its partition directories and
 * topic.json without any fsync (topic.json under a temporary name, renamed once the record is
 * durable): after a crash the journal's record makes them again. This is Kafka's order (KRaft: the
 * create is durable in the metadata log, each broker makes the partition directories after), on
 * one node: the journal is a short redo log of topic metadata, and topic.json the checkpointed
 * state it is applied to. Measured (bench/topics_bench.ts create, 1,000 one after another): one
 * fdatasync a create, 0.25 ms on a quiet disk here, up to 3 ms when the disk is shared and busy.
 *
 * Layout: records one after another, each
 *
 * ```
 * u32 BE  length of the payload
 * u32 BE  CRC-32C of the payload
 * bytes   the payload: UTF-8 JSON, one of
 *         {"op":"create","name","partitions","config"(the overrides),"createdMs","id"}
 *         {"op":"delete","name","id","keep"?}   keep: moved to orphaned/ rather than removed
 * ```
 *
 * The file grows by TOPIC_JOURNAL_GROW_BYTES of zeros ahead of its records, so that a round's
 * fdatasync writes the record's block alone, not the file's size too (measured here: 264 against
 * 346 us). A crash can tear only the last record (no record is appended to a file whose last
 * round failed): reading stops at the first record of length 0, short, or failing its CRC.
 *
 * Checkpoints: once the journal holds TOPIC_JOURNAL_RECORDS_MAX records it is renamed
 * `topics.journal.old`, a new one started, and, off the event loop, every topic created in the old
 * one has its topic.json and directory fsynced, then `topics/`, and the old file is removed. A
 * clean close does the same for the current journal and removes it. The registry's open applies
 * whatever journal it finds (topic_journal_replay.ts) before it reads topics/, then starts empty.
 * A delete appends its record before its directory leaves topics/, and a create or delete of a
 * name starts only after the last one of that name ended (the registry serializes them), so a
 * checkpoint waits for the operations of the names its journal holds before it drops it.
 */
import { TOPIC_JOURNAL_RECORDS_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";
import { crc32c } from "../record/crc32c.ts";
import {
  closeFile,
  type FileHandle,
  fileSize,
  joinPath,
  openReadWrite,
  pathExists,
  removeFile,
  renamePath,
  syncData,
  syncDataNow,
  syncDir,
  syncDirAsync,
  syncPathAsync,
  writeAt,
} from "../runtime/fs.ts";
import { storageFailure } from "../storage/segment.ts";
import type { TopicOverrides } from "./topic_overrides.ts";

export const TOPIC_JOURNAL_FILE = "topics.journal";
export const TOPIC_JOURNAL_OLD_FILE = "topics.journal.old";
const HEADER_BYTES = 8;
/** Zeros written ahead of the records at a time (about a thousand creates' records). */
export const TOPIC_JOURNAL_GROW_BYTES = 256 * 1024;
/** A record's largest payload: a create's JSON, overrides and all, stays far below it. */
const RECORD_BYTES_MAX = 1 << 20;

export type JournalRecord =
  | {
    op: "create";
    name: string;
    partitions: number;
    config: TopicOverrides;
    createdMs: number;
    id: string;
  }
  | { op: "delete"; name: string; id: string; keep?: boolean };

export function encodeJournalRecord(record: JournalRecord): Uint8Array {
  const payload = new TextEncoder().encode(JSON.stringify(record));
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  view.setUint32(4, crc32c(payload));
  out.set(payload, HEADER_BYTES);
  return out;
}

function isRecord(raw: unknown): raw is JournalRecord {
  const r = raw as Record<string, unknown> | null;
  if (typeof r?.name !== "string" || typeof r.id !== "string") return false;
  if (r.op === "delete") return true;
  return r.op === "create" && Number.isInteger(r.partitions) && typeof r.config === "object" &&
    r.config !== null;
}

/** The records of `bytes` up to the first torn or damaged one, and the bytes they take. */
export function decodeJournal(bytes: Uint8Array): { records: JournalRecord[]; validBytes: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: JournalRecord[] = [];
  let pos = 0;
  while (pos + HEADER_BYTES <= bytes.length) {
    const length = view.getUint32(pos);
    const end = pos + HEADER_BYTES + length;
    if (length === 0 || length > RECORD_BYTES_MAX || end > bytes.length) break;
    const payload = bytes.subarray(pos + HEADER_BYTES, end);
    if (crc32c(payload) !== view.getUint32(pos + 4)) break;
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      break;
    }
    if (!isRecord(raw)) break;
    records.push(raw);
    pos = end;
  }
  return { records, validBytes: pos };
}

export interface TopicJournalOptions {
  dataDir: string;
  topicsDir: string;
  logger: Logger;
  /** Records before a checkpoint (TOPIC_JOURNAL_RECORDS_MAX). */
  recordsMax?: number;
  /** Settles when the running create or delete of `name` (if any) has ended. */
  settled: (name: string) => Promise<void> | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class TopicJournal {
  /** Opened at the first record (a start finds none: no descriptor, no fsync until a create). */
  #file: FileHandle | undefined;
  #size = 0;
  /** Bytes of the file written so far: records, then zeros. */
  #allocated = 0;
  #records = 0;
  /** Names the current file holds a record of, and the ids of those it creates. */
  #names = new Map<string, string | undefined>();
  #waiters: Waiter[] = [];
  /** The file is new: its entry in the data dir is not durable yet (the next round's work). */
  #entryUnsynced = false;
  /** A round's fdatasync is running. */
  #syncing = false;
  /** A failed fdatasync or checkpoint: nothing more is appended (its outcome is unknown). */
  #failed: Error | undefined;
  #checkpoint: Promise<void> | undefined;
  readonly #options: TopicJournalOptions;
  readonly #path: string;
  readonly #oldPath: string;

  private constructor(options: TopicJournalOptions) {
    this.#options = options;
    this.#path = joinPath(options.dataDir, TOPIC_JOURNAL_FILE);
    this.#oldPath = joinPath(options.dataDir, TOPIC_JOURNAL_OLD_FILE);
    // A journal file the open applied is zeroed now; a new one is made at the first record.
    if (pathExists(this.#path)) this.#file = this.#startFile();
  }

  /** A new, empty journal (the registry's open applied and removed any before). */
  static open(options: TopicJournalOptions): TopicJournal {
    return new TopicJournal(options);
  }

  /**
   * Opens the journal empty: a file there (applied by the open) is zeroed in place, keeping its
   * space; a new one is created (its entry in the data dir fsynced by the first round).
   */
  #startFile(): FileHandle {
    const existed = pathExists(this.#path);
    const file = openReadWrite(this.#path);
    try {
      if (!existed) {
        // Its entry in the data dir: fsynced by the first round, off the event loop.
        this.#entryUnsynced = true;
        return file;
      }
      const size = fileSize(file);
      // Whole: records written later must not run into an older record left after them.
      for (let at = 0; at < size; at += TOPIC_JOURNAL_GROW_BYTES) {
        writeAt(file, new Uint8Array(Math.min(TOPIC_JOURNAL_GROW_BYTES, size - at)), at);
      }
      syncDataNow(file);
      this.#allocated = size;
      return file;
    } catch (err) {
      closeFile(file);
      throw err;
    }
  }

  /**
   * Appends `record`; resolves once it is on disk (the round's fdatasync covering it). Throws
   * KAFKA_STORAGE_ERROR (or INSUFFICIENT_STORAGE) when it could not be written.
   */
  write(record: JournalRecord): Promise<void> {
    if (this.#failed !== undefined) {
      return Promise.reject(
        storageFailure(this.#failed, "writing the topic journal", { file: this.#path }),
      );
    }
    const bytes = encodeJournalRecord(record);
    try {
      this.#file ??= this.#startFile();
      while (this.#size + bytes.length > this.#allocated) {
        writeAt(this.#file!, new Uint8Array(TOPIC_JOURNAL_GROW_BYTES), this.#allocated);
        this.#allocated += TOPIC_JOURNAL_GROW_BYTES;
      }
      writeAt(this.#file!, bytes, this.#size);
    } catch (err) {
      // Nothing of this record counts: the next one overwrites whatever part was written.
      return Promise.reject(storageFailure(err, "writing the topic journal", { file: this.#path }));
    }
    this.#size += bytes.length;
    this.#records++;
    this.#names.set(record.name, record.op === "create" ? record.id : undefined);
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (!this.#syncing) void this.#rounds();
    });
  }

  /**
   * fdatasync rounds, one at a time, until no record waits: each covers every record appended
   * before it began. It runs off the event loop, so a create makes its files meanwhile.
   */
  async #rounds(): Promise<void> {
    this.#syncing = true;
    while (this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      try {
        if (this.#entryUnsynced) {
          await syncDirAsync(this.#options.dataDir);
          this.#entryUnsynced = false;
        }
        await syncData(this.#file!);
      } catch (err) {
        this.#failed = err as Error;
        this.#syncing = false;
        this.#options.logger.error("topic journal fdatasync failed; topics cannot change", {
          error: String(err),
        });
        const failure = storageFailure(err, "syncing the topic journal", { file: this.#path });
        for (const w of [...waiters, ...this.#waiters]) w.reject(failure);
        this.#waiters = [];
        return;
      }
      for (const w of waiters) w.resolve();
    }
    this.#syncing = false;
    const max = this.#options.recordsMax ?? TOPIC_JOURNAL_RECORDS_MAX;
    if (this.#records >= max && this.#checkpoint === undefined) this.#startCheckpoint();
  }

  /** Moves the current file aside, starts a new one, and checkpoints the old one's topics. */
  #startCheckpoint(): void {
    const names = this.#names;
    try {
      closeFile(this.#file!);
      renamePath(this.#path, this.#oldPath);
      this.#file = this.#startFile();
    } catch (err) {
      this.#failed = err as Error;
      this.#options.logger.error("topic journal could not start a new file", {
        error: String(err),
      });
      return;
    }
    this.#size = 0;
    this.#allocated = 0;
    this.#records = 0;
    this.#names = new Map();
    this.#checkpoint = this.#settle(names).then(() => {
      removeFile(this.#oldPath);
      syncDir(this.#options.dataDir);
    }).catch((err) => {
      // The old file stays for the next open to apply; no more records until then.
      this.#failed = err as Error;
      this.#options.logger.error("topic journal checkpoint failed", { error: String(err) });
    }).finally(() => this.#checkpoint = undefined);
  }

  /**
   * Makes durable what the records of `names` describe: waits for their running operations, then
   * fsyncs each created topic's topic.json and directory, then topics/, off the event loop.
   */
  async #settle(names: Map<string, string | undefined>): Promise<void> {
    await Promise.all([...names.keys()].map((name) => this.#options.settled(name)));
    const { topicsDir } = this.#options;
    for (const [name, id] of names) {
      if (id === undefined) continue; // a delete: durable when it ended (its rename fsynced)
      const dir = joinPath(topicsDir, name);
      // Gone since (deleted): nothing to keep.
      if (await syncPathAsync(joinPath(dir, "topic.json"))) await syncDirAsync(dir);
    }
    await syncDirAsync(topicsDir);
  }

  /**
   * A clean close: once a running checkpoint ends, the current file's topics are made durable
   * and the journal removed (the next open starts from topics/ alone).
   */
  async close(): Promise<void> {
    await this.#checkpoint;
    if (this.#file === undefined) return; // nothing written since the open
    closeFile(this.#file);
    this.#file = undefined;
    if (this.#failed !== undefined) return; // left for the next open to apply
    await this.#settle(this.#names);
    removeFile(this.#path);
    syncDir(this.#options.dataDir);
  }
}

/** The journal files of `dataDir`, oldest first. */
export function journalFiles(dataDir: string): string[] {
  return [TOPIC_JOURNAL_OLD_FILE, TOPIC_JOURNAL_FILE]
    .map((name) => joinPath(dataDir, name))
    .filter((path) => pathExists(path));
}
