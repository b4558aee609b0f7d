/**
 * Committed offsets and group memberships in a cluster, as Kafka keeps them: in a replicated
 * internal topic, `__consumer_offsets` (OFFSETS_TOPIC_PARTITIONS partitions, Kafka's
 * offsets.topic.num.partitions), the records of group_records.ts. A group lives in partition
 * `abs(javaHashCode(groupId)) % partitions` (Kafka's GroupCoordinator.partitionFor, so Kafka's
 * tools would name the same partition), and its coordinator is that partition's leader.
 *
 * - Leading an offsets partition (loadPartition, on the leadership's start): its whole log is
 *   replayed into the partition's GroupState; until that ends its groups answer
 *   COORDINATOR_LOAD_IN_PROGRESS. Losing it (unloadPartition): the state is dropped and its groups
 *   answer NOT_COORDINATOR, so clients find the new coordinator (FindCoordinator).
 * - A write (commit, membership, deletes) is one batch appended to the group's partition with
 *   acks=all, and applied to memory only once every in-sync replica has it: a new coordinator,
 *   elected from the ISR, replays every acknowledged commit.
 * - Reads answer from memory; a group this broker does not coordinate has nothing here.
 *
 * The topic is compacted (cleanup.policy compact, as Kafka's): the cleaner keeps each key's latest
 * record (a group's latest offset per partition, its latest membership) and drops tombstones
 * after delete.retention.ms, so the log, and a new coordinator's replay, stay in proportion to the
 * live groups rather than to every commit ever made. (A one-node broker keeps its groups in
 * offset_store.ts instead, with snapshots: a local log no replica has to agree with.)
 */
import { SluiceError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { decodeBatches, encodeRecordBatch, type RecordInput } from "../../record/record_batch.ts";
import type { PartitionLog } from "../../storage/partition_log.ts";
import {
  groupRecord,
  GroupState,
  type GroupState as GroupStateType,
  type GroupStore,
  type OffsetCommit,
  offsetRecord,
  type StoredGroup,
} from "./group_records.ts";

/** Kafka's internal offsets topic, and its partition count (offsets.topic.num.partitions). */
export const OFFSETS_TOPIC = "__consumer_offsets";
export const OFFSETS_TOPIC_PARTITIONS = 50;
/** Kafka's offsets.topic.replication.factor (fewer when the cluster has fewer brokers). */
export const OFFSETS_TOPIC_REPLICATION_FACTOR = 3;
/**
 * The offsets topic's max.message.bytes: one commit request is one batch, and 10,000 offsets with
 * 249-character names make ~5.7 MB (the local store allows its segment size, 16 MiB, too).
 */
export const OFFSETS_BATCH_BYTES_MAX = 16 * 1024 * 1024;
/** Kafka's offsets.topic.segment.bytes: smaller segments than a topic's, so cleaning starts early. */
export const OFFSETS_TOPIC_SEGMENT_BYTES = 100 * 1024 * 1024;
/** Bytes read per step while replaying a partition's log. */
const REPLAY_READ_BYTES = 4 * 1024 * 1024;

/** Java's String.hashCode (UTF-16 code units), as Kafka's partitionFor uses it. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The offsets partition of a group (Kafka's Utils.abs(groupId.hashCode) % partitions). */
export function offsetsPartitionFor(group: string, partitions = OFFSETS_TOPIC_PARTITIONS): number {
  const h = javaStringHash(group);
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0, any other negative to its absolute value.
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

/** How the store reaches its topic (the broker, which knows the partitions and their roles). */
export interface OffsetsTopicAccess {
  /** Appends a batch to the partition with acks=all; throws its typed error. */
  append(partition: number, batch: Uint8Array): Promise<void>;
}

export class ReplicatedOffsetStore implements GroupStore {
  /** Offsets partitions this broker coordinates, loaded. */
  readonly #loaded = new Map<number, GroupState>();
  /** Offsets partitions being loaded. */
  readonly #loading = new Set<number>();
  readonly #access: OffsetsTopicAccess;
  readonly #nowMs: () => number;
  readonly #logger: Logger;

  constructor(access: OffsetsTopicAccess, nowMs: () => number, logger: Logger) {
    this.#access = access;
    this.#nowMs = nowMs;
    this.#logger = logger;
  }

  /** Whether this broker coordinates `group` now: "yes", "loading" or "no". */
  coordinates(group: string): "yes" | "loading" | "no" {
    const p = offsetsPartitionFor(group);
    if (this.#loaded.has(p)) return "yes";
    return this.#loading.has(p) ? "loading" : "no";
  }

  /** The group's state, for a write: NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS otherwise. */
  #stateFor(group: string): { partition: number; state: GroupStateType } {
    const partition = offsetsPartitionFor(group);
    const state = this.#loaded.get(partition);
    if (state !== undefined) return { partition, state };
    throw this.#loading.has(partition)
      ? new SluiceError(
        "COORDINATOR_LOAD_IN_PROGRESS",
        `group ${JSON.stringify(group)}'s offsets are still being loaded on this broker`,
        { group, partition },
      )
      : new SluiceError(
        "NOT_COORDINATOR",
        `this broker does not coordinate group ${JSON.stringify(group)} (${OFFSETS_TOPIC}-` +
          `${partition} is led elsewhere)`,
        { group, partition },
      );
  }

  #read(group: string): GroupStateType | undefined {
    return this.#loaded.get(offsetsPartitionFor(group));
  }

  committed(group: string, topic: string, partition: number): number | undefined {
    return this.#read(group)?.committed(group, topic, partition);
  }

  offsetsOf(group: string): OffsetCommit[] {
    return this.#read(group)?.offsetsOf(group) ?? [];
  }

  hasOffsets(group: string): boolean {
    return this.#read(group)?.hasOffsets(group) ?? false;
  }

  storedGroups(): [string, StoredGroup][] {
    const out: [string, StoredGroup][] = [];
    for (const state of this.#loaded.values()) out.push(...state.groups);
    return out;
  }

  /** The stored groups of one loaded offsets partition. */
  storedGroupsOf(partition: number): [string, StoredGroup][] {
    return [...(this.#loaded.get(partition)?.groups ?? [])];
  }

  groupsWithOffsets(): string[] {
    const out: string[] = [];
    for (const state of this.#loaded.values()) out.push(...state.offsets.keys());
    return out;
  }

  /**
   * Appends the records to the group's partition (acks=all) and, once committed and only if this
   * broker still coordinates the group from the same load, applies them to memory.
   */
  async #write(group: string, records: RecordInput[], apply: (s: GroupStateType) => void) {
    const { partition, state } = this.#stateFor(group);
    const batch = encodeRecordBatch(records, { timestampMs: this.#nowMs() });
    try {
      await this.#access.append(partition, batch);
    } catch (err) {
      if (
        err instanceof SluiceError &&
        (err.code === "NOT_LEADER_OR_FOLLOWER" || err.code === "LEADER_NOT_AVAILABLE")
      ) {
        throw new SluiceError("NOT_COORDINATOR", err.message, { group, partition });
      }
      throw err;
    }
    if (this.#loaded.get(partition) === state) apply(state);
  }

  async commit(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    if (commits.length === 0) return;
    const ms = this.#nowMs();
    await this.#write(
      group,
      commits.map((c) => offsetRecord(group, c.topic, c.partition, { offset: c.offset, ms })),
      (s) => {
        for (const c of commits) s.setOffset(group, c.topic, c.partition, c.offset, ms);
      },
    );
  }

  async saveGroup(group: string, meta: StoredGroup | null): Promise<void> {
    await this.#write(group, [groupRecord(group, meta)], (s) => {
      if (meta === null) s.groups.delete(group);
      else s.groups.set(group, meta);
    });
  }

  async deleteGroup(group: string): Promise<boolean> {
    const { state } = this.#stateFor(group);
    const keys = [...(state.offsets.get(group)?.keys() ?? [])];
    const stored = state.groups.has(group);
    if (keys.length === 0 && !stored) return false;
    const records = keys.map((k) => {
      const [topic, partition] = k.split("\0");
      return offsetRecord(group, topic, Number(partition), null);
    });
    if (stored) records.push(groupRecord(group, null));
    await this.#write(group, records, (s) => {
      for (const k of keys) s.deleteOffset(group, k);
      if (stored) s.groups.delete(group);
    });
    return true;
  }

  async deleteOffsets(
    group: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<number> {
    const { state } = this.#stateFor(group);
    const map = state.offsets.get(group);
    const keys = new Map<string, { topic: string; partition: number }>();
    for (const p of partitions) {
      const k = `${p.topic}\0${p.partition}`;
      if (map?.has(k)) keys.set(k, p);
    }
    if (keys.size === 0) return 0;
    await this.#write(
      group,
      [...keys.values()].map((p) => offsetRecord(group, p.topic, p.partition, null)),
      (s) => {
        for (const k of keys.keys()) s.deleteOffset(group, k);
      },
    );
    return keys.size;
  }

  /**
   * This broker now leads offsets partition `partition`: replays its log (everything it holds:
   * the leader's log is the partition's) into a fresh state, then coordinates its groups.
   */
  loadPartition(partition: number, log: PartitionLog): void {
    this.#loaded.delete(partition);
    this.#loading.add(partition);
    const state = new GroupState();
    let offset = log.logStartOffset;
    let records = 0;
    try {
      while (offset < log.logEndOffset) {
        const read = log.read(offset, REPLAY_READ_BYTES);
        if (read === undefined) break;
        for (const batch of decodeBatches(read.bytes, false)) {
          for (const r of batch.records) {
            if (r.offset < offset || r.key === null) continue;
            try {
              state.apply(r.key, r.value);
              records++;
            } catch (err) {
              this.#logger.error("skipping an unreadable offsets record", {
                partition,
                offset: r.offset,
                error: String(err),
              });
            }
          }
        }
        offset = read.nextOffset;
      }
    } catch (err) {
      this.#loading.delete(partition);
      this.#logger.error("offsets partition could not be loaded; its groups stay unserved", {
        partition,
        error: String(err),
      });
      return;
    }
    this.#loading.delete(partition);
    this.#loaded.set(partition, state);
    this.#logger.info("coordinating the groups of an offsets partition", {
      partition,
      records,
      groups: state.groups.size,
      groupsWithOffsets: state.offsets.size,
    });
  }

  /** This broker no longer leads offsets partition `partition`: its groups are not served here. */
  unloadPartition(partition: number): void {
    this.#loading.delete(partition);
    if (this.#loaded.delete(partition)) {
      this.#logger.info("no longer coordinating an offsets partition's groups", { partition });
    }
  }

  close(): Promise<void> {
    this.#loaded.clear();
    return Promise.resolve();
  }
}
