/**
 * The broker's side of replication: what changes when the broker is one of a cluster's
 * (src/cluster), kept out of broker.ts so that it reads the same on one node.
 *
 * - One node: every append is committed at once (the high watermark follows the log end) and
 *   wakes the consumers waiting on that log.
 * - A cluster's broker (opened `replicated`, then join()): it serves nothing until it has joined
 *   (CLUSTER_UNAVAILABLE). Then writes and consumer reads go only to partitions it leads
 *   (checkWrite, roles()), acks=all waits for the in-sync replicas (awaitCommit), appends wake the
 *   followers' fetches (replicaWaiters) and high-watermark moves wake the consumers; topics are
 *   created and deleted in etcd and followed locally (cluster_sync.ts). A partition that this
 *   broker starts to lead gets its idempotent-producer state rebuilt from the log: what it holds
 *   was written by another leader.
 */
import type { ClusterNode } from "../cluster/cluster_node.ts";
import type { Replica, ReplicaManager } from "../cluster/replica_manager.ts";
import { isSluiceError, SluiceError } from "../errors.ts";
import {
  OFFSETS_BATCH_BYTES_MAX,
  OFFSETS_TOPIC,
  OFFSETS_TOPIC_PARTITIONS,
  OFFSETS_TOPIC_REPLICATION_FACTOR,
  OFFSETS_TOPIC_SEGMENT_BYTES,
} from "./groups/replicated_offsets.ts";
import type { Logger } from "../logger.ts";
import type { AppendResult, PartitionLog } from "../storage/partition_log.ts";
import { ClusterSync } from "./cluster_sync.ts";
import type { FetchRoles } from "./fetch_reader.ts";
import type { FetchWaiters } from "./fetch_waiters.ts";
import type { Topic, TopicRegistry } from "./topic_registry.ts";

/** How a write is acknowledged (Kafka's acks): 1 the leader has it, -1 every in-sync replica. */
export interface WriteOptions {
  /** 1 (default) or -1 (all); 0 is the front's to handle (no answer), the broker treats it as 1. */
  acks?: number;
  /** How long acks=all waits for the in-sync replicas (Kafka's produce timeout). */
  timeoutMs?: number;
}

/** Kafka's request.timeout.ms default: what acks=all waits when the request names no timeout. */
export const ACKS_ALL_TIMEOUT_MS_DEFAULT = 30_000;

export interface TopicCreateOptions {
  replicationFactor?: number;
  /** A given assignment (CreateTopics' manual one). */
  replicas?: number[][];
}

export class BrokerReplication {
  #cluster: ClusterNode | undefined;
  #sync: ClusterSync | undefined;

  constructor(
    /** A cluster's broker (--node-id and --etcd); false on one node. */
    readonly replicated: boolean,
    /** Consumers' long polls, woken by the high watermark. */
    readonly waiters: FetchWaiters,
    /** Followers' long polls, woken by appends. */
    readonly replicaWaiters: FetchWaiters,
    readonly logger: Logger,
  ) {}

  get cluster(): ClusterNode | undefined {
    return this.#cluster;
  }

  /** The topic registry's append listener, for replication's part. */
  onAppend(topic: Topic, partition: number, result: AppendResult): void {
    const log = topic.logs[partition];
    if (!this.replicated) {
      // One node: what is appended is committed.
      log.updateHighWatermark(result.lastOffset + 1);
      this.waiters.notify(log, result.bytes);
      return;
    }
    this.replicaWaiters.notify(log, result.bytes);
    const replicas = this.#cluster?.replicas;
    const replica = replicas?.replica(topic.name, partition);
    if (replica !== undefined) replicas!.afterAppend(replica);
  }

  /** After the registry opened: on one node every log's high watermark is its end. */
  opened(topics: TopicRegistry): void {
    if (this.replicated) return;
    for (const t of topics.list()) {
      for (const log of t.logs) {
        // A log not read yet (after a clean shutdown) opens with its checkpoint's high watermark,
        // which a single node's close wrote at the log end: reading it now would open every log.
        if (!log.loaded) continue;
        if (log.state !== "offline") log.updateHighWatermark(log.logEndOffset);
      }
    }
  }

  /** The replica manager; CLUSTER_UNAVAILABLE while a cluster's broker has not joined yet. */
  replicas(): ReplicaManager {
    const cluster = this.#cluster;
    if (cluster === undefined) {
      throw new SluiceError("CLUSTER_UNAVAILABLE", "this broker is still joining its cluster");
    }
    return cluster.replicas;
  }

  #joined(): ClusterNode {
    this.replicas();
    return this.#cluster!;
  }

  /** The read path's leadership checks; undefined on one node. */
  roles(): FetchRoles | undefined {
    if (!this.replicated) return undefined;
    return {
      checkConsumer: (topic, partition) => {
        try {
          this.replicas().leaderReplica(topic, partition);
          return undefined;
        } catch (err) {
          return err as SluiceError;
        }
      },
      onFollowerFetch: (topic, partition, replicaId, fetchOffset, logStartOffset) => {
        try {
          return this.replicas().onFollowerFetch(
            topic,
            partition,
            replicaId,
            fetchOffset,
            logStartOffset,
          );
        } catch (err) {
          return err as SluiceError;
        }
      },
      replicaWaiters: this.replicaWaiters,
    };
  }

  /** Throws unless this broker leads the partition (a cluster's; nothing on one node). */
  checkLeader(topic: Topic, partition: number): void {
    if (this.replicated) this.replicas().leaderReplica(topic.name, partition);
  }

  /**
   * Before a write: this broker must lead the partition, and for acks=all the ISR must be at
   * least min.insync.replicas. Undefined on one node.
   */
  checkWrite(topic: Topic, partition: number, options: WriteOptions): Replica | undefined {
    if (!this.replicated) return undefined;
    return this.replicas().checkWrite(topic.name, partition, options.acks === -1);
  }

  /** acks=all in a cluster: waits until every in-sync replica has the offsets up to `lastOffset`. */
  awaitCommit(
    replica: Replica | undefined,
    lastOffset: number,
    options: WriteOptions,
  ): Promise<void> {
    if (replica === undefined || options.acks !== -1) return Promise.resolve();
    return this.replicas().awaitCommit(
      replica,
      lastOffset + 1,
      options.timeoutMs ?? ACKS_ALL_TIMEOUT_MS_DEFAULT,
    );
  }

  /**
   * Joins the cluster: replication over the registry's logs, and its topics kept in line with
   * etcd's. `onTopicDeleted` wakes what waits on a topic removed here; `onLeadership` is told of a
   * partition this broker starts or stops leading.
   */
  async join(
    cluster: ClusterNode,
    topics: TopicRegistry,
    onTopicDeleted: (topic: Topic) => void,
    onLeadership: (topic: string, partition: number, log: PartitionLog, leading: boolean) => void,
  ): Promise<void> {
    if (!this.replicated || this.#cluster !== undefined) {
      throw new SluiceError("INTERNAL", "join: not a cluster's broker, or joined already");
    }
    await cluster.attachLogs(
      { log: (topic, partition) => topics.find(topic)?.logs[partition] },
      // A consumer may see more: wake what waits on the high watermark.
      (log) => this.waiters.notify(log, Number.MAX_SAFE_INTEGER),
      onLeadership,
    );
    this.#sync = new ClusterSync(topics, cluster, this.logger, (topic) => {
      for (const log of topic.logs) {
        this.waiters.wakeAll(log);
        this.replicaWaiters.wakeAll(log);
      }
      onTopicDeleted(topic);
    });
    this.#cluster = cluster;
    await this.#sync.start();
  }

  /**
   * Creates a topic in etcd (checked as one node checks it first, by `validate`), with its
   * replicas assigned over the live brokers (`replicationFactor`, the cluster's default when
   * absent; or a given `replicas` assignment); resolves with the local topic once its logs exist.
   */
  async createTopic(
    topics: TopicRegistry,
    name: unknown,
    partitions: unknown,
    config: unknown,
    options: TopicCreateOptions,
  ): Promise<Topic> {
    const cluster = this.#joined();
    const valid = topics.validateNew(name, partitions, config);
    const record = await cluster.topics.create({
      name: valid.name,
      partitions: valid.partitions,
      replicationFactor: options.replicationFactor ?? cluster.settings.defaultReplicationFactor,
      config: typeof config === "object" && config !== null
        ? config as Record<string, string | number>
        : {},
      replicas: options.replicas,
    });
    await this.#sync!.settled();
    const topic = topics.find(valid.name);
    if (topic === undefined || topic.meta.id !== record.id) {
      throw new SluiceError(
        "TOPIC_NOT_FOUND",
        `topic ${valid.name} was created in the cluster but is gone already`,
        { topic: valid.name },
      );
    }
    return topic;
  }

  /**
   * A cluster's internal offsets topic, created on first need (Kafka creates it on the first
   * FindCoordinator): OFFSETS_TOPIC_PARTITIONS partitions, replication factor
   * OFFSETS_TOPIC_REPLICATION_FACTOR or the live brokers if fewer, kept forever.
   */
  async ensureOffsetsTopic(topics: TopicRegistry): Promise<void> {
    const cluster = this.#cluster;
    if (cluster === undefined || cluster.metadata.topics.has(OFFSETS_TOPIC)) return;
    try {
      await this.createTopic(topics, OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, {
        // Kafka's: compacted (each group's latest offsets and membership kept, tombstones
        // dropped after delete.retention.ms), segments of offsets.topic.segment.bytes.
        "cleanup.policy": "compact",
        "segment.bytes": OFFSETS_TOPIC_SEGMENT_BYTES,
        "max.message.bytes": OFFSETS_BATCH_BYTES_MAX,
      }, {
        replicationFactor: Math.min(
          OFFSETS_TOPIC_REPLICATION_FACTOR,
          cluster.metadata.liveBrokerIds().length,
        ),
      });
    } catch (err) {
      if (!isSluiceError(err, "TOPIC_EXISTS")) throw err;
    }
  }

  /**
   * Sets a topic's configs in etcd to `change(the ones there)`, checked as one node checks them
   * (INVALID_CONFIG: nothing written); resolves with the local topic once its logs run with them.
   */
  async alterTopicConfig(
    topics: TopicRegistry,
    name: string,
    change: (current: Readonly<Record<string, string>>) => Record<string, string>,
  ): Promise<Topic> {
    await this.#joined().topics.alterConfig(
      name,
      (current) => topics.checkOverrides(change(topics.checkOverrides(current))),
    );
    await this.#sync!.settled();
    return topics.get(name);
  }

  /**
   * Grows a topic to `count` partitions in etcd (`replicas`: the new ones' assignment, checked by
   * the caller; else assigned over the live brokers); resolves once this broker has their logs.
   */
  async createPartitions(
    topics: TopicRegistry,
    name: string,
    count: number,
    replicas?: number[][],
  ): Promise<Topic> {
    await this.#joined().topics.addPartitions(name, count, replicas);
    await this.#sync!.settled();
    return topics.get(name);
  }

  /** Deletes a topic from etcd; resolves once this broker's logs of it are gone. */
  async deleteTopic(name: string): Promise<void> {
    await this.#joined().topics.delete(name);
    await this.#sync!.settled();
  }

  async close(): Promise<void> {
    await this.#sync?.close();
  }
}
