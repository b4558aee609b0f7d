/**
 * Committed offsets and group metadata, durable, as Kafka keeps them in __consumer_offsets:
 *
 * ```
 * <dataDir>/groups/log/        a PartitionLog (flush.policy always, 16 MiB segments) of records
 *                              key   ["o", group, topic, partition]  value {"offset","ms"} | null
 *                              key   ["g", group]                     value group metadata | null
 * <dataDir>/groups/snapshot.json  {"version":1,"offset":N,"offsets":[...],"groups":[...]}
 * <dataDir>/groups/snapshot.prev.json  the snapshot before it (a fallback)
 * ```
 * A commit request is one RecordBatch (atomic: a torn batch fails its CRC and is dropped whole on
 * recovery) and resolves after its fsync. At start the snapshot is loaded and only the log after
 * it is replayed; every SNAPSHOT_EVERY_RECORDS records a new snapshot is written and the segments
 * the previous one covers are deleted, so start-up time stays bounded however many commits were
 * made, and a damaged snapshot falls back to the previous one without losing a commit. A null value
 * is a tombstone: `deleteGroup` and `deleteOffsets` write them, and replay and snapshots drop the key.
 */
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import { decodeBatches, encodeRecordBatch, type RecordInput } from "../../record/record_batch.ts";
import {
  joinPath,
  makeDir,
  pathExists,
  readWholeFile,
  renamePath,
  writeFileAtomic,
} from "../../runtime/fs.ts";
import { PartitionLog } from "../../storage/partition_log.ts";
import {
  groupRecord,
  GroupState,
  type GroupStore,
  isGroupId,
  isInt,
  isName,
  isStoredGroup,
  type OffsetCommit,
  offsetRecord,
  type StoredGroup,
} from "./group_records.ts";

/** Records between snapshots: bounds replay at start to this many (~a few MiB). */
export const SNAPSHOT_EVERY_RECORDS = 20_000;
const SEGMENT_BYTES = 16 * 1024 * 1024;
const SNAPSHOT_FILE = "snapshot.json";
const PREVIOUS_SNAPSHOT_FILE = "snapshot.prev.json";

export type { OffsetCommit, StoredGroup, StoredMember } from "./group_records.ts";

interface Snapshot {
  version: 1;
  offset: number;
  offsets: [string, string, number, number, number][];
  groups: [string, StoredGroup][];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One `offsets` row of a snapshot: [group, topic, partition, offset, ms]. */
function isOffsetRow(v: unknown): v is Snapshot["offsets"][number] {
  return Array.isArray(v) && v.length === 5 && isGroupId(v[0]) && isName(v[1]) && isInt(v[2]) &&
    v[2] >= 0 && isInt(v[3]) && typeof v[4] === "number";
}

/** Checks a parsed snapshot's whole shape before any of it is used; throws what is wrong. */
function checkSnapshot(snap: unknown): Snapshot {
  const s = snap as Snapshot;
  if (typeof s !== "object" || s === null || s.version !== 1 || !isInt(s.offset) || s.offset < 0) {
    throw new Error("bad header");
  }
  if (!Array.isArray(s.offsets) || !Array.isArray(s.groups)) throw new Error("bad sections");
  const badRow = s.offsets.findIndex((row) => !isOffsetRow(row));
  if (badRow >= 0) {
    throw new Error(`offsets[${badRow}] is not [group, topic, partition, offset, ms]`);
  }
  const badGroup = s.groups.findIndex((e) =>
    !Array.isArray(e) || e.length !== 2 || !isGroupId(e[0]) || !isStoredGroup(e[1])
  );
  if (badGroup >= 0) throw new Error(`groups[${badGroup}] is not a stored group`);
  return s;
}

export class OffsetStore implements GroupStore {
  readonly #state = new GroupState();
  /** group -> "topic\0partition" -> {offset, ms} */
  readonly #offsets = this.#state.offsets;
  readonly #groups = this.#state.groups;
  readonly #log: PartitionLog;
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #recordsSinceSnapshot = 0;
  /** Memory reflects every log record below this offset. */
  #appliedThrough = 0;
  /** The log offset snapshot.json covers. */
  #snapshotOffset = 0;
  #snapshotting: Promise<void> | undefined;

  private constructor(dir: string, log: PartitionLog, clock: Clock, logger: Logger) {
    this.#dir = dir;
    this.#log = log;
    this.#clock = clock;
    this.#logger = logger;
  }

  static async open(dataDir: string, clock: Clock, logger: Logger): Promise<OffsetStore> {
    const dir = joinPath(dataDir, "groups");
    makeDir(dir);
    const log = await PartitionLog.open(joinPath(dir, "log"), {
      config: {
        flushPolicy: "always",
        segmentBytes: SEGMENT_BYTES,
        // One commit request is one batch: 10,000 offsets with 249-character names is ~5.7 MB,
        // over a topic's default max.message.bytes (1 MiB).
        maxMessageBytes: SEGMENT_BYTES,
        retentionMs: -1,
        retentionBytes: -1,
      },
      clock,
      logger,
    });
    const store = new OffsetStore(dir, log, clock, logger);
    const from = store.#loadSnapshot();
    store.#replay(Math.max(from, log.logStartOffset));
    return store;
  }

  /**
   * Loads snapshot.json, or, when it is unreadable, the previous one (snapshot.prev.json): the log
   * keeps every segment after the previous snapshot, so replaying from it loses nothing. Returns
   * the log offset to replay from.
   */
  #loadSnapshot(): number {
    for (const name of [SNAPSHOT_FILE, PREVIOUS_SNAPSHOT_FILE]) {
      const path = joinPath(this.#dir, name);
      const bytes = readWholeFile(path);
      if (bytes === undefined) continue;
      try {
        const snap = checkSnapshot(JSON.parse(decoder.decode(bytes)));
        for (const [group, topic, partition, offset, ms] of snap.offsets) {
          this.#setOffset(group, topic, partition, offset, ms);
        }
        for (const [group, meta] of snap.groups) this.#groups.set(group, meta);
        this.#snapshotOffset = snap.offset;
        return snap.offset;
      } catch (err) {
        this.#logger.error("unreadable offsets snapshot; trying the previous one", {
          file: path,
          error: String(err),
        });
        this.#state.clear();
      }
    }
    if (this.#log.logStartOffset > 0) {
      this.#logger.error("no readable offsets snapshot; replaying what the log still holds", {
        dir: this.#dir,
        logStartOffset: this.#log.logStartOffset,
      });
    }
    return 0;
  }

  #replay(from: number): void {
    let offset = from;
    for (let reads = 0; offset < this.#log.logEndOffset; reads++) {
      const read = this.#log.read(offset, 4 * 1024 * 1024);
      if (read === undefined) break;
      for (const batch of decodeBatches(read.bytes, false)) {
        for (const r of batch.records) {
          if (r.offset < offset || r.key === null) continue;
          try {
            this.#apply(r.key, r.value);
          } catch (err) {
            // A record this store did not write (or damage the CRC missed) is skipped, not fatal.
            this.#logger.error("skipping an unreadable group-log record", {
              dir: this.#dir,
              offset: r.offset,
              error: String(err),
            });
          }
          this.#recordsSinceSnapshot++;
        }
      }
      offset = read.nextOffset;
    }
    this.#appliedThrough = offset;
  }

  #apply(keyBytes: Uint8Array, valueBytes: Uint8Array | null): void {
    this.#state.apply(keyBytes, valueBytes);
  }

  #setOffset(group: string, topic: string, partition: number, offset: number, ms: number): void {
    this.#state.setOffset(group, topic, partition, offset, ms);
  }

  #deleteOffset(group: string, key: string): void {
    this.#state.deleteOffset(group, key);
  }

  committed(group: string, topic: string, partition: number): number | undefined {
    return this.#state.committed(group, topic, partition);
  }

  offsetsOf(group: string): OffsetCommit[] {
    return this.#state.offsetsOf(group);
  }

  hasOffsets(group: string): boolean {
    return this.#state.hasOffsets(group);
  }

  storedGroups(): [string, StoredGroup][] {
    return [...this.#groups];
  }

  /** Every group with at least one committed offset. */
  groupsWithOffsets(): string[] {
    return [...this.#offsets.keys()];
  }

  /** Makes the commits of one request durable together (one batch, one fsync), then visible. */
  async commit(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    if (commits.length === 0) return;
    const ms = this.#clock.nowMs();
    await this.#append(
      commits.map((c) => offsetRecord(group, c.topic, c.partition, { offset: c.offset, ms })),
      () => {
        for (const c of commits) this.#setOffset(group, c.topic, c.partition, c.offset, ms);
      },
    );
  }

  /** Stores a group's membership (null removes it). */
  async saveGroup(group: string, meta: StoredGroup | null): Promise<void> {
    await this.#append([groupRecord(group, meta)], () => {
      if (meta === null) this.#groups.delete(group);
      else this.#groups.set(group, meta);
    });
  }

  /**
   * Forgets a group: its committed offsets and its stored membership, as one batch of tombstones
   * (atomic, durable when it resolves, replayed and snapshotted like any record). False when the
   * group had neither. The caller makes sure the group has no members; a commit or membership
   * change requested after this call is appended after the tombstones and stays.
   */
  async deleteGroup(group: string): Promise<boolean> {
    const keys = [...(this.#offsets.get(group)?.keys() ?? [])];
    const stored = this.#groups.has(group);
    if (keys.length === 0 && !stored) return false;
    const records: RecordInput[] = keys.map((k) => {
      const [topic, partition] = k.split("\0");
      return offsetRecord(group, topic, Number(partition), null);
    });
    if (stored) records.push(groupRecord(group, null));
    await this.#append(records, () => {
      for (const k of keys) this.#deleteOffset(group, k);
      if (stored) this.#groups.delete(group);
    });
    return true;
  }

  /**
   * Forgets some of a group's committed offsets (OffsetDelete): one batch of tombstones for those
   * of `partitions` it has (atomic, durable when it resolves, replayed and snapshotted like
   * deleteGroup's). Partitions without an offset are skipped; returns how many were deleted. The
   * group's stored membership stays. The caller makes sure no member consumes them.
   */
  async deleteOffsets(
    group: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<number> {
    const map = this.#offsets.get(group);
    const keys = new Map<string, { topic: string; partition: number }>();
    for (const p of partitions) {
      const k = `${p.topic}\0${p.partition}`;
      if (map?.has(k)) keys.set(k, p);
    }
    if (keys.size === 0) return 0;
    const records: RecordInput[] = [...keys.values()].map((p) =>
      offsetRecord(group, p.topic, p.partition, null)
    );
    await this.#append(records, () => {
      for (const k of keys.keys()) this.#deleteOffset(group, k);
    });
    return keys.size;
  }

  /**
   * Appends and waits for the fsync, then applies the change to memory. Appends resolve in call
   * order, so memory always reflects a prefix of the log, up to #appliedThrough: the offset a
   * snapshot may claim to cover.
   */
  async #append(records: RecordInput[], apply: () => void): Promise<void> {
    const result = await this.#log.append(
      encodeRecordBatch(records, { timestampMs: this.#clock.nowMs() }),
    );
    apply();
    this.#appliedThrough = Math.max(this.#appliedThrough, result.lastOffset + 1);
    this.#recordsSinceSnapshot += records.length;
    this.#maybeSnapshot();
  }

  #maybeSnapshot(): void {
    if (this.#recordsSinceSnapshot < SNAPSHOT_EVERY_RECORDS || this.#snapshotting) return;
    this.#snapshotting = this.snapshot()
      .catch((err) => this.#logger.error("offsets snapshot failed", { error: String(err) }))
      .finally(() => {
        this.#snapshotting = undefined;
      });
  }

  /**
   * Writes the whole state with the log offset it covers. The previous snapshot is kept as
   * snapshot.prev.json, and only the segments before *it* are deleted: should the new file ever be
   * unreadable, the previous one plus the log still hold every commit.
   */
  async snapshot(): Promise<void> {
    const covered = this.#appliedThrough;
    const snap: Snapshot = {
      version: 1,
      offset: covered,
      offsets: [],
      groups: [...this.#groups],
    };
    for (const [group, map] of this.#offsets) {
      for (const [key, v] of map) {
        const [topic, partition] = key.split("\0");
        snap.offsets.push([group, topic, Number(partition), v.offset, v.ms]);
      }
    }
    const current = joinPath(this.#dir, SNAPSHOT_FILE);
    if (pathExists(current)) renamePath(current, joinPath(this.#dir, PREVIOUS_SNAPSHOT_FILE));
    writeFileAtomic(current, encoder.encode(JSON.stringify(snap)), this.#dir);
    const previous = this.#snapshotOffset;
    this.#snapshotOffset = covered;
    this.#recordsSinceSnapshot = 0;
    await this.#log.deleteSegmentsBefore(previous);
  }

  get logSegments(): number {
    return this.#log.segments().length;
  }

  /**
   * Writes a last snapshot and closes the log. A snapshot that cannot be written (a full disk) is
   * reported, not fatal: the log still holds every commit since the previous one.
   */
  async close(): Promise<void> {
    if (this.#snapshotting) await this.#snapshotting;
    try {
      await this.snapshot();
    } catch (err) {
      this.#logger.warn("offsets snapshot not written on close; the log keeps every commit", {
        dir: this.#dir,
        error: String(err),
      });
    }
    await this.#log.close();
  }
}
