/**
 * OffsetCommit and OffsetFetch for the classic group coordinator (coordinator.ts describes the
 * rules): commits are validated against the group's members and generation, then written to the
 * OffsetStore shared with the HTTP groups and KIP-848 consumer groups. The store keeps no commit
 * metadata, so this keeps it in memory, bounded (offsetMetadataMemoryBytes, oldest forgotten
 * first) and lost on restart; a fetch answers "" when it has none for the committed offset.
 */
import { isSluiceError } from "../../../errors.ts";
import type { GroupStore as OffsetStore, OffsetCommit } from "../group_records.ts";
import {
  CLASSIC_COMMIT_PARTITIONS_MAX,
  type ClassicGroupError,
  type ClassicOffsetCommitRequest,
  type ClassicOffsetCommitResult,
  type ClassicOffsetFetchResult,
} from "./types.ts";
import { touch } from "./rebalance.ts";
import { type CoordinatorState, validateMember, validOffsetGroupId } from "./state.ts";

const metadataKey = (group: string, topic: string, partition: number) =>
  `${group}\0${topic}\0${partition}`;

export class ClassicOffsets {
  readonly #state: CoordinatorState;
  readonly #store: OffsetStore;
  /** group\0topic\0partition -> the metadata committed with `offset`, oldest first. */
  readonly #metadata = new Map<string, { offset: number; metadata: string }>();
  #metadataBytes = 0;

  constructor(state: CoordinatorState, store: OffsetStore) {
    this.#state = state;
    this.#store = store;
  }

  /**
   * OffsetCommit: validated as Kafka does, then every valid partition of the request is written
   * with one OffsetStore.commit. Per-partition errors, in request order.
   */
  async commit(
    req: ClassicOffsetCommitRequest,
    /** The member was checked by another coordinator (a KIP-848 consumer group): write only. */
    memberChecked = false,
  ): Promise<ClassicOffsetCommitResult> {
    const all = (error: ClassicGroupError): ClassicOffsetCommitResult => ({
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, error })),
      })),
    });
    if (this.#state.closed) return all("COORDINATOR_NOT_AVAILABLE");
    if (!validOffsetGroupId(req.groupId)) return all("INVALID_GROUP_ID");
    let count = 0;
    for (const t of req.topics) count += t.partitions.length;
    if (count > CLASSIC_COMMIT_PARTITIONS_MAX) return all("INVALID_COMMIT_OFFSET_SIZE");
    const error = memberChecked ? "NONE" : this.#validateCommit(req);
    if (error !== "NONE") return all(error);

    const result = all("NONE");
    const commits: OffsetCommit[] = [];
    const committed: {
      ref: { error: ClassicGroupError };
      commit: OffsetCommit;
      metadata: string;
    }[] = [];
    req.topics.forEach((t, ti) => {
      t.partitions.forEach((p, pi) => {
        const ref = result.topics[ti].partitions[pi];
        const offset = Number(p.committedOffset);
        if (t.name === "" || !Number.isInteger(p.partitionIndex) || p.partitionIndex < 0) {
          ref.error = "UNKNOWN_TOPIC_OR_PARTITION";
        } else if (
          p.metadata !== null && p.metadata.length > this.#state.options.offsetMetadataMaxBytes
        ) {
          ref.error = "OFFSET_METADATA_TOO_LARGE";
        } else if (!Number.isSafeInteger(offset)) {
          // The store keeps offsets as safe integers (2^53 records is out of any log's reach).
          // Negative ones are kept as Kafka keeps them: kafkajs's resetOffsets commits -2
          // (earliest), and a client reading back a negative offset uses its reset policy.
          ref.error = "INVALID_COMMIT_OFFSET_SIZE";
        } else {
          const commit = { topic: t.name, partition: p.partitionIndex, offset };
          commits.push(commit);
          committed.push({ ref, commit, metadata: p.metadata ?? "" });
        }
      });
    });
    if (commits.length === 0) return result;
    try {
      await this.#store.commit(req.groupId, commits);
    } catch (err) {
      // A disk that said no: retriable for the client (Kafka answers storage failures with
      // NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE, so clients retry).
      const failure = isSluiceError(err) ? "COORDINATOR_NOT_AVAILABLE" : "UNKNOWN_SERVER_ERROR";
      this.#state.logger.error("kafka offset commit failed", {
        group: req.groupId,
        partitions: commits.length,
        error: String(err),
      });
      for (const c of committed) c.ref.error = failure;
      return result;
    }
    for (const c of committed) this.#remember(req.groupId, c.commit, c.metadata);
    return result;
  }

  /** Kafka's validateOffsetCommit plus the state rules of doCommitOffsets; counts as heartbeat. */
  #validateCommit(req: ClassicOffsetCommitRequest): ClassicGroupError {
    const group = this.#state.groups.get(req.groupId);
    const simple = req.generationId < 0 && req.memberId === "" && req.groupInstanceId === null;
    if (group === undefined) {
      // No group here: a simple commit, or a member of a group this coordinator forgot.
      if (req.generationId >= 0) return "ILLEGAL_GENERATION";
      if (!simple) return "UNKNOWN_MEMBER_ID";
      // HTTP members own the id: only they commit (as Kafka refuses non-members).
      return this.#state.isOtherProtocolGroup(req.groupId) ? "UNKNOWN_MEMBER_ID" : "NONE";
    }
    if (simple) {
      // A group with members takes commits from its members only.
      if (group.state !== "Empty" || this.#state.isOtherProtocolGroup(req.groupId)) {
        return "UNKNOWN_MEMBER_ID";
      }
      return "NONE";
    }
    const error = validateMember(this.#state, group, req.memberId, req.groupInstanceId);
    if (error !== "NONE") return error;
    if (req.generationId !== group.generationId) return "ILLEGAL_GENERATION";
    switch (group.state) {
      case "CompletingRebalance":
        // The member has its new generation but not its assignment yet.
        return "REBALANCE_IN_PROGRESS";
      case "Stable":
      case "PreparingRebalance":
        // Allowed while preparing: the member learns of the rebalance from its heartbeat.
        touch(this.#state, group, group.members.get(req.memberId)!);
        return "NONE";
      case "Empty":
        return "NONE";
    }
  }

  #remember(group: string, commit: OffsetCommit, metadata: string): void {
    const key = metadataKey(group, commit.topic, commit.partition);
    const old = this.#metadata.get(key);
    if (old !== undefined) {
      this.#metadata.delete(key);
      this.#metadataBytes -= key.length + old.metadata.length;
    }
    if (metadata === "") return;
    this.#metadata.set(key, { offset: commit.offset, metadata });
    this.#metadataBytes += key.length + metadata.length;
    for (const [k, v] of this.#metadata) {
      if (this.#metadataBytes <= this.#state.options.offsetMetadataMemoryBytes) break;
      this.#metadata.delete(k);
      this.#metadataBytes -= k.length + v.metadata.length;
    }
  }

  /**
   * OffsetFetch: committed offsets from the store whatever the group's state (-1n when none);
   * `topics` null means every partition the group has committed.
   */
  fetch(
    groupId: string,
    topics: { name: string; partitionIndexes: number[] }[] | null,
  ): ClassicOffsetFetchResult {
    if (this.#state.closed) return { error: "COORDINATOR_NOT_AVAILABLE", topics: [] };
    if (!validOffsetGroupId(groupId)) return { error: "INVALID_GROUP_ID", topics: [] };
    const wanted = topics ?? this.#committedTopics(groupId);
    return {
      error: "NONE",
      topics: wanted.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const offset = this.#store.committed(groupId, t.name, partitionIndex);
          const kept = this.#metadata.get(metadataKey(groupId, t.name, partitionIndex));
          return {
            partitionIndex,
            committedOffset: offset === undefined ? -1n : BigInt(offset),
            metadata: kept !== undefined && kept.offset === offset ? kept.metadata : "",
            error: "NONE",
          };
        }),
      })),
    };
  }

  #committedTopics(groupId: string): { name: string; partitionIndexes: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const o of this.#store.offsetsOf(groupId)) {
      let list = byTopic.get(o.topic);
      if (list === undefined) byTopic.set(o.topic, list = []);
      list.push(o.partition);
    }
    return [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  }

  /** Forgets the commit metadata (the coordinator closes). */
  clear(): void {
    this.#metadata.clear();
    this.#metadataBytes = 0;
  }
}
