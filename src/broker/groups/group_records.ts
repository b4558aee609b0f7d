/**
 * Committed offsets and stored group memberships as records, and the state they add up to: the
 * one record format of the local offset store (offset_store.ts, one node) and of the replicated
 * one (replicated_offsets.ts, a cluster's `__consumer_offsets`).
 *
 * ```
 * key   ["o", group, topic, partition]   value {"offset": N, "ms": T} | null (a tombstone)
 * key   ["g", group]                     value StoredGroup | null
 * ```
 * Keys and values are JSON in UTF-8; a null value deletes the key (Kafka's tombstones).
 */
import type { RecordInput } from "../../record/record_batch.ts";

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
}

export interface StoredMember {
  memberId: string;
  topics: string[];
  sessionTimeoutMs: number;
  autoOffsetReset: "earliest" | "latest";
}

export interface StoredGroup {
  generation: number;
  assignor: string;
  members: StoredMember[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
export const isName = (v: unknown): v is string => typeof v === "string" && v.length > 0;
/** "" is a group id too: Kafka takes commits and fetches for it (simple consumers without one). */
export const isGroupId = (v: unknown): v is string => typeof v === "string";

/** A stored group as written by saveGroup; anything else (damage, a foreign file) is refused. */
export function isStoredGroup(v: unknown): v is StoredGroup {
  const g = v as StoredGroup;
  return typeof g === "object" && g !== null && isInt(g.generation) &&
    typeof g.assignor === "string" && Array.isArray(g.members) &&
    g.members.every((m) =>
      typeof m === "object" && m !== null && isName(m.memberId) && Array.isArray(m.topics) &&
      m.topics.every(isName) && isInt(m.sessionTimeoutMs) &&
      (m.autoOffsetReset === "earliest" || m.autoOffsetReset === "latest")
    );
}

export function offsetRecord(
  group: string,
  topic: string,
  partition: number,
  value: { offset: number; ms: number } | null,
): RecordInput {
  return {
    key: encoder.encode(JSON.stringify(["o", group, topic, partition])),
    value: value === null ? null : encoder.encode(JSON.stringify(value)),
  };
}

export function groupRecord(group: string, meta: StoredGroup | null): RecordInput {
  return {
    key: encoder.encode(JSON.stringify(["g", group])),
    value: meta === null ? null : encoder.encode(JSON.stringify(meta)),
  };
}

/** The groups' offsets and memberships that a sequence of records adds up to. */
export class GroupState {
  /** group -> "topic\0partition" -> {offset, ms} */
  readonly offsets: Map<string, Map<string, { offset: number; ms: number }>> = new Map();
  readonly groups: Map<string, StoredGroup> = new Map();

  /** Applies one record: key ["o", group, topic, partition] or ["g", group]; null deletes. */
  apply(keyBytes: Uint8Array, valueBytes: Uint8Array | null): void {
    const key = JSON.parse(decoder.decode(keyBytes));
    const value = valueBytes === null ? null : JSON.parse(decoder.decode(valueBytes));
    if (!Array.isArray(key) || !isGroupId(key[1])) throw new Error("bad key");
    if (key[0] === "o") {
      if (!isName(key[2]) || !isInt(key[3]) || key[3] < 0) throw new Error("bad offset key");
      if (value === null) this.deleteOffset(key[1], `${key[2]}\0${key[3]}`);
      else if (isInt(value?.offset) && typeof value.ms === "number") {
        this.setOffset(key[1], key[2], key[3], value.offset, value.ms);
      } else throw new Error("bad offset value");
    } else if (key[0] === "g") {
      if (value === null) this.groups.delete(key[1]);
      else if (isStoredGroup(value)) this.groups.set(key[1], value);
      else throw new Error("bad group value");
    }
  }

  setOffset(group: string, topic: string, partition: number, offset: number, ms: number): void {
    let map = this.offsets.get(group);
    if (map === undefined) this.offsets.set(group, map = new Map());
    map.set(`${topic}\0${partition}`, { offset, ms });
  }

  deleteOffset(group: string, key: string): void {
    const map = this.offsets.get(group);
    map?.delete(key);
    if (map?.size === 0) this.offsets.delete(group);
  }

  committed(group: string, topic: string, partition: number): number | undefined {
    return this.offsets.get(group)?.get(`${topic}\0${partition}`)?.offset;
  }

  offsetsOf(group: string): OffsetCommit[] {
    const out: OffsetCommit[] = [];
    for (const [key, v] of this.offsets.get(group) ?? []) {
      const [topic, partition] = key.split("\0");
      out.push({ topic, partition: Number(partition), offset: v.offset });
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  hasOffsets(group: string): boolean {
    return (this.offsets.get(group)?.size ?? 0) > 0;
  }

  clear(): void {
    this.offsets.clear();
    this.groups.clear();
  }
}

/** What the group coordinator needs of an offset store, local or replicated. */
export interface GroupStore {
  committed(group: string, topic: string, partition: number): number | undefined;
  offsetsOf(group: string): OffsetCommit[];
  hasOffsets(group: string): boolean;
  storedGroups(): [string, StoredGroup][];
  groupsWithOffsets(): string[];
  commit(group: string, commits: readonly OffsetCommit[]): Promise<void>;
  saveGroup(group: string, meta: StoredGroup | null): Promise<void>;
  deleteGroup(group: string): Promise<boolean>;
  deleteOffsets(
    group: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<number>;
  close(): Promise<void>;
}
