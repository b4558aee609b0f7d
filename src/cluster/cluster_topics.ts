/**
 * Topic creation and deletion in a cluster: one etcd transaction each, written by whichever
 * broker took the request (any broker may), so that etcd orders racing requests and every broker
 * then learns the result through its watch.
 *
 * - create: the replicas of each partition are assigned over the live brokers (assignment.ts) and
 *   the topic key (its id, configs and assignment) written only if it is absent: of two creates of
 *   one name, one wins and the other gets TOPIC_EXISTS. Then each partition's first state (leader:
 *   the preferred replica, epoch 0, ISR: all replicas) is written only if absent and only while
 *   the topic key is the one created, PARTITION_STATES_PER_TXN per transaction (etcd bounds a
 *   transaction's operations: --max-txn-ops, 128 by default). A creator that dies half-way leaves
 *   the rest to the controller, which completes missing partition states the same way
 *   (writeMissingPartitionStates). The broker answers once its own view holds every partition.
 * - delete: the topic key and its partition keys go in one transaction, only if the topic is the
 *   one that was read (its create revision), so a delete never removes a topic created again
 *   meanwhile. Each replica then closes and removes its logs.
 * - alterConfig and addPartitions (AlterConfigs, CreatePartitions): the topic key rewritten only
 *   if nobody wrote it since it was read (its mod revision; re-read and retried up to
 *   TOPIC_UPDATE_ATTEMPTS times), so two changes never lose one another. New partitions get their
 *   first states as a new topic's do. Every broker applies the change as its watch brings it
 *   (src/broker/cluster_sync.ts).
 */
import { SluiceError } from "../errors.ts";
import { assignReplicas } from "./assignment.ts";
import {
  type ClusterKeys,
  encodeRecord,
  type PartitionState,
  type TopicRecord,
} from "./cluster_state.ts";
import { absent, type EtcdClient, type EtcdCompare, type EtcdOp } from "./etcd.ts";
import type { ClusterMetadata } from "./metadata.ts";

export interface NewClusterTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string | number>;
  /** A given assignment (CreateTopics' manual one) in place of assignReplicas. */
  replicas?: number[][];
}

/** Tries of a topic update whose compare failed (another writer came first) before giving up. */
export const TOPIC_UPDATE_ATTEMPTS = 5;

export class ClusterTopics {
  constructor(
    readonly etcd: EtcdClient,
    readonly keys: ClusterKeys,
    readonly metadata: ClusterMetadata,
    readonly nowMs: () => number,
    readonly random: () => number = Math.random,
  ) {}

  /** The topic's replica assignment; INVALID_REPLICATION_FACTOR when the brokers are too few. */
  assign(partitions: number, replicationFactor: number): number[][] {
    return assignReplicas(
      this.metadata.liveBrokerIds(),
      partitions,
      replicationFactor,
      this.random,
    );
  }

  /** Creates the topic in etcd; resolves with its record once this broker's view holds it. */
  async create(topic: NewClusterTopic): Promise<TopicRecord> {
    const replicas = topic.replicas ?? this.assign(topic.partitions, topic.replicationFactor);
    const record: TopicRecord = {
      name: topic.name,
      id: crypto.randomUUID(),
      config: topic.config,
      replicas,
      createdMs: this.nowMs(),
    };
    const key = this.keys.topic(topic.name);
    const created = await this.etcd.txn(
      [absent(key)],
      [{ op: "put", key, value: encodeRecord(record) }],
    );
    if (!created.succeeded) {
      throw new SluiceError("TOPIC_EXISTS", `topic ${topic.name} already exists`, {
        topic: topic.name,
      });
    }
    // The topic's create revision is the transaction's: what the partition writes compare.
    const revision = await writeMissingPartitionStates(
      this.etcd,
      this.keys,
      record,
      created.revision,
      new Set(),
    );
    await this.metadata.waitForRevision(Math.max(created.revision, revision));
    return record;
  }

  /**
   * Rewrites the topic's record with `change` applied to the one read, only if nobody wrote it
   * since (compare on its mod revision; re-read and retried up to TOPIC_UPDATE_ATTEMPTS times).
   * `change` may throw (bad input: nothing written). Resolves with the record written, once this
   * broker's view holds it, plus the revision of any writes `after` made.
   */
  async #update(
    name: string,
    change: (current: TopicRecord) => TopicRecord,
    after: (record: TopicRecord, createRevision: number, before: TopicRecord) => Promise<number> =
      () => Promise.resolve(0),
  ): Promise<TopicRecord> {
    for (let attempt = 1;; attempt++) {
      const current = this.metadata.topics.get(name);
      if (current === undefined) {
        throw new SluiceError("TOPIC_NOT_FOUND", `topic ${name} does not exist`, { topic: name });
      }
      const record = change(current.value);
      const key = this.keys.topic(name);
      const result = await this.etcd.txn(
        [{ key, target: "mod", cmp: "=", value: current.modRevision }],
        [{ op: "put", key, value: encodeRecord(record) }],
      );
      if (result.succeeded) {
        const more = await after(record, current.createRevision, current.value);
        await this.metadata.waitForRevision(Math.max(result.revision, more));
        return record;
      }
      if (attempt >= TOPIC_UPDATE_ATTEMPTS) {
        throw new SluiceError(
          "CLUSTER_UNAVAILABLE",
          `topic ${name} kept changing under this update (${attempt} tries); try again`,
          { topic: name },
        );
      }
      // Another writer came first: wait for the view to hold what it wrote, then re-read.
      const seen = await this.etcd.get(key);
      await this.metadata.waitForRevision(seen?.modRevision ?? this.metadata.revision);
    }
  }

  /** Sets the topic's configs to `change(current configs)` (AlterConfigs, any broker). */
  async alterConfig(
    name: string,
    change: (current: Readonly<Record<string, string | number>>) => Record<string, string>,
  ): Promise<TopicRecord> {
    return await this.#update(name, (current) => ({ ...current, config: change(current.config) }));
  }

  /**
   * Grows the topic to `count` partitions (CreatePartitions): the new ones' replicas are
   * `replicas` (checked by the caller) or assigned over the live brokers with the topic's
   * replication factor; their first states are written as a new topic's are.
   */
  async addPartitions(
    name: string,
    count: number,
    replicas?: number[][],
  ): Promise<TopicRecord> {
    return await this.#update(
      name,
      (current) => {
        const now = current.replicas.length;
        if (count <= now) {
          throw new SluiceError(
            "INVALID_PARTITIONS",
            count === now
              ? `Topic already has ${now} partition(s).`
              : `The topic ${name} currently has ${now} partition(s); ${count} would not be an increase.`,
          );
        }
        const added = replicas ?? this.assign(count - now, current.replicas[0].length);
        return { ...current, replicas: [...current.replicas, ...added] };
      },
      (record, createRevision, before) => {
        const existing = new Set(before.replicas.map((_, p) => p));
        return writeMissingPartitionStates(this.etcd, this.keys, record, createRevision, existing);
      },
    );
  }

  /** Deletes the topic from etcd; TOPIC_NOT_FOUND when it is not there. */
  async delete(name: string): Promise<void> {
    const current = this.metadata.topics.get(name);
    if (current === undefined) {
      throw new SluiceError("TOPIC_NOT_FOUND", `topic ${name} does not exist`, { topic: name });
    }
    const result = await this.etcd.txn(
      [{ key: this.keys.topic(name), target: "create", cmp: "=", value: current.createRevision }],
      [
        { op: "delete", key: this.keys.topic(name) },
        { op: "delete", key: this.keys.partitionsOf(name), prefix: true },
      ],
    );
    if (!result.succeeded) {
      throw new SluiceError("TOPIC_NOT_FOUND", `topic ${name} does not exist`, { topic: name });
    }
    await this.metadata.waitForRevision(result.revision);
  }
}

/** Partition states written per etcd transaction (a compare and a put each: under 128). */
export const PARTITION_STATES_PER_TXN = 60;

/**
 * Writes the first state of every partition of `topic` that `existing` does not name, each only
 * if absent and only while the topic key's create revision is `topicRevision` (a topic deleted,
 * or deleted and created again, meanwhile gets none). Returns the revision of the last write (0
 * when there was none).
 */
export async function writeMissingPartitionStates(
  etcd: EtcdClient,
  keys: ClusterKeys,
  topic: TopicRecord,
  topicRevision: number,
  existing: ReadonlySet<number>,
): Promise<number> {
  /** One transaction for `partitions`: its revision, or 0 when a compare failed. */
  const write = async (partitions: readonly number[]): Promise<number> => {
    const compare: EtcdCompare[] = [
      { key: keys.topic(topic.name), target: "create", cmp: "=", value: topicRevision },
    ];
    const puts: EtcdOp[] = [];
    for (const p of partitions) {
      const r = topic.replicas[p];
      const state: PartitionState = {
        leader: r[0],
        leaderEpoch: 0,
        replicas: r,
        isr: r,
        partitionEpoch: 0,
      };
      compare.push(absent(keys.partition(topic.name, p)));
      puts.push({ op: "put", key: keys.partition(topic.name, p), value: encodeRecord(state) });
    }
    const result = await etcd.txn(compare, puts);
    return result.succeeded ? result.revision : 0;
  };
  const missing: number[] = [];
  topic.replicas.forEach((_, p) => {
    if (!existing.has(p)) missing.push(p);
  });
  let revision = 0;
  for (let i = 0; i < missing.length; i += PARTITION_STATES_PER_TXN) {
    const chunk = missing.slice(i, i + PARTITION_STATES_PER_TXN);
    let written = await write(chunk);
    // Failed: the topic is gone (each one fails too), or another writer (the controller) wrote
    // some of these first: the others one by one.
    if (written === 0 && chunk.length > 1) {
      for (const p of chunk) written = Math.max(written, await write([p]));
    }
    revision = Math.max(revision, written);
  }
  return revision;
}
