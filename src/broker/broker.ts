/**
 * The broker: topics, partitioning, produce and fetch, on the storage layer. It knows nothing of
 * HTTP: fronts translate their wire into these calls and map its typed errors to their statuses.
 *
 * - produce(): records of one request are grouped per partition into one RecordBatch v2 each (LZ4
 *   when the topic's compression.type is lz4), every batch is encoded and size-checked before any
 *   is appended, and offsets come back in request order.
 * - appendBatches(): client-built batches appended as bytes (CRC checked, offsets patched in place).
 * - fetchMessages(): the one read path of both fronts (fetch_reader.ts): whole stored batches of
 *   several partitions up to the high watermark, within byte limits, waiting up to maxWaitMs for
 *   minBytes; fetch() is its one-partition form with earliest/latest offsets (HTTP, SSE).
 */
import { type Clock, systemClock } from "../clock.ts";
import { SluiceError } from "../errors.ts";
import { FETCH_WAIT_MS_MAX, LONG_POLLS_MAX } from "../limits.ts";
import { consoleLogger, type Logger } from "../logger.ts";
import { COMPRESSION_CODECS } from "../record/compression.ts";
import { encodeRecordBatch, type RecordInput } from "../record/record_batch.ts";
import { type DirLock, lockDataDir } from "../runtime/dir_lock.ts";
import type { EpochEndOffset } from "../storage/leader_epochs.ts";
import type { AppendResult } from "../storage/partition_log.ts";
import { sharedLogFiles } from "../storage/log_files.ts";
import type { ClusterNode } from "../cluster/cluster_node.ts";
import type { Replica } from "../cluster/replica_manager.ts";
import {
  BrokerReplication,
  type TopicCreateOptions,
  type WriteOptions,
} from "./broker_replication.ts";

export {
  ACKS_ALL_TIMEOUT_MS_DEFAULT,
  type TopicCreateOptions,
  type WriteOptions,
} from "./broker_replication.ts";
import {
  type FetchMessagesRequest,
  type FetchPartitionResult,
  FetchReader,
} from "./fetch_reader.ts";
import { FetchWaiters } from "./fetch_waiters.ts";
import { OffsetLookup } from "./offset_lookup.ts";
import { deleteRecords } from "./delete_records.ts";
import { appendWithProducerState } from "./producer_state.ts";
import { ProducerStates } from "./producer_states.ts";
import { GroupCoordinator } from "./groups/coordinator.ts";
import type { ConsumerGroupOptions } from "./groups/consumer_coordinator.ts";
import type { ClassicGroupOptions } from "./groups/classic/types.ts";
import { OffsetStore } from "./groups/offset_store.ts";
import { LOCAL_BOUNDS } from "./groups/http_members.ts";
import { RemoteReads } from "./remote_reads.ts";
import type { GroupStore } from "./groups/group_records.ts";
import { OFFSETS_TOPIC, ReplicatedOffsetStore } from "./groups/replicated_offsets.ts";
import { StickyPartitioner } from "./partitioner.ts";
import type { TopicConfig } from "./topic_config.ts";
import {
  checkPartitionCount,
  type RegistryOptions,
  type Topic,
  TopicRegistry,
} from "./topic_registry.ts";
import type {
  BatchAppendResult,
  FetchRequest,
  FetchResult,
  ProducedOffset,
  ProduceRecord,
} from "./broker_types.ts";

export type {
  BatchAppendResult,
  FetchRequest,
  FetchResult,
  OffsetSpec,
  ProducedOffset,
  ProduceRecord,
} from "./broker_types.ts";
/** A partition's figures for /metrics (PartitionLog.summary). */
export type { LogSummary } from "../storage/log_peek.ts";
import type { TopicOverrides } from "./topic_overrides.ts";

export interface BrokerOptions {
  dataDir: string;
  clock?: Clock;
  logger?: Logger;
  topicDefaults?: Readonly<TopicConfig>;
  /**
   * Server-level log settings (log.retention.check.interval.ms, the CRC check on read) and the
   * cleaner's (log.cleaner.*).
   */
  logSettings?: RegistryOptions["logSettings"];
  cleaner?: RegistryOptions["cleaner"];
  /** Topics one broker holds (TOPICS_MAX). */
  topicsMax?: number;
  /** Long polls waiting at once (LONG_POLLS_MAX). */
  longPollsMax?: number;
  /** Consumer groups with members at once (GROUPS_MAX). */
  groupsMax?: number;
  /** The consumer group protocol's session timeout and heartbeat interval (Kafka's defaults). */
  consumerGroups?: Partial<ConsumerGroupOptions>;
  /** Kafka's classic group protocol: bounds and the initial rebalance delay. */
  classicGroups?: Partial<ClassicGroupOptions>;
  random?: () => number;
  /**
   * A cluster's broker (src/cluster): it serves nothing until joinCluster(); then topics come from
   * etcd, writes and consumer reads only where this broker leads, the high watermark from the
   * in-sync replicas. False: one node, as ever.
   */
  replicated?: boolean;
}

export class Broker {
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  readonly #offsets: GroupStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly waiters: FetchWaiters;
  readonly #partitioner: StickyPartitioner;
  readonly #reader: FetchReader;
  readonly #lookup: OffsetLookup;
  readonly #lock: DirLock;
  /** One node's or a cluster's ways (broker_replication.ts). */
  readonly #replication: BrokerReplication;
  /** A cluster's reads of partitions led elsewhere (HTTP group members); set on joining. */
  #remote: RemoteReads | undefined;
  #closed = false;
  /** Shutting down: fetches return what is there instead of waiting. */
  #draining = false;

  private constructor(
    topics: TopicRegistry,
    clock: Clock,
    logger: Logger,
    waiters: FetchWaiters,
    partitioner: StickyPartitioner,
    lock: DirLock,
    offsets: GroupStore,
    options: BrokerOptions,
    replication: BrokerReplication,
  ) {
    this.#lock = lock;
    this.#replication = replication;
    this.#lookup = new OffsetLookup(topics, replication);
    this.#offsets = offsets;
    // HTTP members read through the broker's read path; in a cluster, the partitions led
    // elsewhere from their leaders (remote_reads.ts, set once the broker has joined).
    const read = (request: FetchMessagesRequest) =>
      this.#remote === undefined
        ? this.fetchMessages(request)
        : this.#remote.read(request, (r) => this.fetchMessages(r));
    this.groups = new GroupCoordinator(topics, offsets, read, clock, logger, {
      groupsMax: options.groupsMax,
      consumer: options.consumerGroups,
      classic: options.classicGroups,
      partitionBounds: {
        bounds: (topic, partition, log) => {
          const remote = this.#remote;
          return remote !== undefined && remote.isRemote(topic, partition)
            ? remote.bounds(topic, partition)
            : LOCAL_BOUNDS.bounds(topic, partition, log);
        },
        probe: (partitions) => this.#remote?.probe(partitions),
      },
    });
    this.topics = topics;
    this.clock = clock;
    this.logger = logger;
    this.waiters = waiters;
    this.#partitioner = partitioner;
    this.#producerStates = new ProducerStates(clock);
    this.#reader = new FetchReader({
      topics,
      waiters,
      logger,
      draining: () => this.#draining,
      roles: replication.roles(),
    });
  }

  static async open(options: BrokerOptions): Promise<Broker> {
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? consoleLogger;
    const waiters = new FetchWaiters(clock, options.longPollsMax ?? LONG_POLLS_MAX);
    const replication = new BrokerReplication(
      options.replicated === true,
      waiters,
      new FetchWaiters(clock, options.longPollsMax ?? LONG_POLLS_MAX),
      logger,
    );
    const lock = lockDataDir(options.dataDir);
    let topics: TopicRegistry;
    let offsets: GroupStore;
    const self: { broker?: Broker } = {};
    try {
      topics = await TopicRegistry.open(options.dataDir, {
        clock,
        logger,
        topicDefaults: options.topicDefaults,
        topicsMax: options.topicsMax,
        replicated: replication.replicated,
        logSettings: options.logSettings,
        cleaner: options.cleaner,
        onAppend: (topic, partition, result: AppendResult) => {
          topic.stats.recordsIn += result.records;
          topic.stats.bytesIn += result.bytes;
          replication.onAppend(topic, partition, result);
        },
      });
      replication.opened(topics);
      // A cluster's offsets live in the replicated __consumer_offsets topic, written through the
      // broker (acks=all) once it has joined.
      offsets = replication.replicated
        ? new ReplicatedOffsetStore({
          append: async (partition, batch) => {
            await self.broker!.appendBatches(OFFSETS_TOPIC, partition, batch, { acks: -1 });
          },
        }, () =>
          clock.nowMs(), logger)
        : await OffsetStore.open(options.dataDir, clock, logger);
    } catch (err) {
      lock.release();
      throw err;
    }
    const broker = new Broker(
      topics,
      clock,
      logger,
      waiters,
      new StickyPartitioner(options.random),
      lock,
      offsets,
      options,
      replication,
    );
    self.broker = broker;
    return broker;
  }

  /** The cluster this broker is part of; undefined on one node (and until joinCluster). */
  get cluster(): ClusterNode | undefined {
    return this.#replication.cluster;
  }

  /**
   * Joins the cluster (a broker opened `replicated`): replication over this broker's logs, and its
   * topics kept in line with etcd's. Until it resolves, partitions answer CLUSTER_UNAVAILABLE.
   */
  joinCluster(cluster: ClusterNode): Promise<void> {
    this.#remote = new RemoteReads(cluster, cluster.readTransport);
    return this.#replication.join(
      cluster,
      this.topics,
      (topic) => this.#partitioner.forget(topic.name),
      (topic, partition, log, leading) => {
        // Another leader wrote what this log holds: the producer state is rebuilt from it.
        if (leading) this.#producerStates.forget(log);
        if (topic !== OFFSETS_TOPIC) return;
        const store = this.#offsets as ReplicatedOffsetStore;
        if (leading) {
          store.loadPartition(partition, log);
          // Its HTTP groups come back with their members, as after a restart.
          this.groups.http.restore(store.storedGroupsOf(partition));
        } else store.unloadPartition(partition);
      },
    );
  }

  /** A cluster's broker (possibly still joining); false on one node. */
  get replicated(): boolean {
    return this.#replication.replicated;
  }

  /**
   * Whether this broker coordinates `group` now (its offsets partition's leader): always "yes"
   * on one node; "loading" while the partition is being read.
   */
  groupCoordination(group: string): "yes" | "loading" | "no" {
    if (!this.#replication.replicated) return "yes";
    return (this.#offsets as ReplicatedOffsetStore).coordinates(group);
  }

  /** A cluster's internal offsets topic, created on first need (broker_replication.ts). */
  ensureOffsetsTopic(): Promise<void> {
    return this.#replication.ensureOffsetsTopic(this.topics);
  }

  /** Segment-file descriptors open now, across every log of the process (a bounded LRU). */
  get logFilesOpen(): number {
    return sharedLogFiles().openCount;
  }

  /** Idempotent-producer state of every partition (made on a partition's first such batch). */
  readonly #producerStates: ProducerStates;

  /**
   * Creates a topic. In a cluster it is created in etcd (broker_replication.ts): `options` give
   * its replication factor or replica assignment.
   */
  async createTopic(
    name: unknown,
    partitions: unknown,
    config: unknown,
    options: TopicCreateOptions = {},
  ): Promise<Topic> {
    if (!this.#replication.replicated) return await this.topics.create(name, partitions, config);
    return await this.#replication.createTopic(this.topics, name, partitions, config, options);
  }

  async deleteTopic(name: unknown): Promise<void> {
    const topic = this.topics.get(name);
    if (this.#replication.replicated) return await this.#replication.deleteTopic(topic.name);
    await this.topics.delete(topic.name);
    for (const log of topic.logs) this.waiters.wakeAll(log);
    this.#partitioner.forget(topic.name);
  }

  /**
   * Sets a topic's config overrides to `change(the current ones)` (topic_overrides.ts), checked
   * first (INVALID_CONFIG: nothing changed) and applied to its running logs; in a cluster, in
   * etcd, and every broker applies them. `validateOnly`: checked against this broker's view.
   */
  async alterTopicConfig(
    name: unknown,
    change: (current: Readonly<TopicOverrides>) => Record<string, string>,
    options: { validateOnly?: boolean } = {},
  ): Promise<Topic> {
    const topic = this.topics.get(name);
    if (options.validateOnly === true || !this.#replication.replicated) {
      return await this.topics.alterConfig(topic.name, change, options);
    }
    return await this.#replication.alterTopicConfig(this.topics, topic.name, change);
  }

  /**
   * Grows a topic to `count` partitions (INVALID_PARTITIONS when not more); in a cluster the new
   * partitions' replicas are `options.replicas` (checked by the caller) or assigned.
   */
  async createPartitions(
    name: unknown,
    count: unknown,
    options: { replicas?: number[][]; validateOnly?: boolean } = {},
  ): Promise<Topic> {
    const topic = this.topics.get(name);
    if (options.validateOnly === true || !this.#replication.replicated) {
      return await this.topics.addPartitions(topic.name, count, options);
    }
    const total = checkPartitionCount(topic, count);
    return await this.#replication.createPartitions(
      this.topics,
      topic.name,
      total,
      options.replicas,
    );
  }

  /** Appends records, one batch per partition; offsets in request order. */
  async produce(
    topicName: unknown,
    records: readonly ProduceRecord[],
    options: WriteOptions = {},
  ): Promise<ProducedOffset[]> {
    const topic = this.topics.get(topicName);
    if (records.length === 0) throw new SluiceError("INVALID_REQUEST", "no records to produce");
    const partitions = topic.logs.length;
    const sticky = this.#partitioner.current(topic.name, partitions);
    const partitionOf = new Int32Array(records.length);
    const indexInBatch = new Int32Array(records.length);
    const groups = new Map<number, RecordInput[]>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const p = r.partition ?? StickyPartitioner.partitionOf(r.key ?? null, partitions, sticky);
      topic.partition(p); // PARTITION_NOT_FOUND before anything is written
      let group = groups.get(p);
      if (group === undefined) groups.set(p, group = []);
      partitionOf[i] = p;
      indexInBatch[i] = group.length;
      group.push(r);
    }
    // Encode and size-check every batch first: a refused request writes nothing.
    const nowMs = this.clock.nowMs();
    const compression = topic.config["compression.type"] === "lz4"
      ? COMPRESSION_CODECS.lz4
      : COMPRESSION_CODECS.none;
    const maxBytes = topic.config["max.message.bytes"];
    const batches = new Map<number, Uint8Array>();
    for (const [p, group] of groups) {
      const batch = encodeRecordBatch(group, { timestampMs: nowMs, compression });
      if (batch.length > maxBytes) {
        throw new SluiceError(
          "RECORD_TOO_LARGE",
          `the records for partition ${p} make a batch of ${batch.length} bytes, over ` +
            `max.message.bytes ${maxBytes}`,
          { partition: p, bytes: batch.length },
        );
      }
      batches.set(p, batch);
    }
    const replicas = new Map<number, Replica | undefined>();
    for (const p of batches.keys()) {
      replicas.set(p, this.#replication.checkWrite(topic, p, options));
    }
    const bases = new Map<number, number>();
    await Promise.all(
      [...batches].map(async ([p, batch]) => {
        const appended = await topic.partition(p).append(batch);
        bases.set(p, appended.baseOffset);
        await this.#replication.awaitCommit(replicas.get(p), appended.lastOffset, options);
      }),
    );
    if (groups.has(sticky)) this.#partitioner.next(topic.name, partitions);
    const offsets: ProducedOffset[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      offsets[i] = {
        partition: partitionOf[i],
        offset: bases.get(partitionOf[i])! + indexInBatch[i],
      };
    }
    return offsets;
  }

  /**
   * Appends client-built RecordBatch v2 bytes to one partition, as they are: the one write path
   * of both fronts. A batch from an idempotent producer goes through the partition's producer
   * state first (Kafka's rules): a retried batch is answered with the offsets it got the first
   * time (`duplicate`, nothing written), a sequence gap or a fenced epoch is a typed error
   * (OUT_OF_ORDER_SEQUENCE, INVALID_PRODUCER_EPOCH) and writes nothing.
   */
  async appendBatches(
    topicName: unknown,
    partition: number,
    bytes: Uint8Array,
    options: WriteOptions = {},
  ): Promise<BatchAppendResult> {
    const topic = this.topics.get(topicName);
    const log = topic.partition(partition);
    const replica = this.#replication.checkWrite(topic, partition, options);
    const outcome = await appendWithProducerState(
      () => this.#producerStates.forLog(log),
      log,
      bytes,
    );
    if (outcome.kind === "appended") {
      await this.#replication.awaitCommit(replica, outcome.result.lastOffset, options);
      return { ...outcome.result, duplicate: false };
    }
    if (outcome.kind === "duplicate") {
      const { baseOffset, lastOffset } = outcome;
      // A retry of a batch written before: answered once it is committed, as the first try was.
      await this.#replication.awaitCommit(replica, lastOffset, options);
      return { baseOffset, lastOffset, batches: 0, records: 0, bytes: 0, duplicate: true };
    }
    throw new SluiceError(outcome.code, outcome.message, { topic: topic.name, partition });
  }

  /** DeleteRecords: resolves to the partition's low watermark (see delete_records.ts). */
  async deleteRecords(t: unknown, p: number, offset: number, timeoutMs?: number): Promise<number> {
    return await deleteRecords(this.topics.get(t), p, offset, this.#replication, timeoutMs);
  }

  /**
   * The one read path of both fronts (Kafka's ReplicaManager.fetchMessages): per-partition
   * results in request order, each whole stored batches or a typed error. See fetch_reader.ts for
   * the bounds (high watermark, KIP-74's first batch, byte limits, the response budget) and the
   * long poll. maxWaitMs is capped at FETCH_WAIT_MS_MAX.
   */
  fetchMessages(request: FetchMessagesRequest): Promise<FetchPartitionResult[]> {
    const maxWaitMs = Math.min(Math.max(0, request.maxWaitMs), FETCH_WAIT_MS_MAX);
    return this.#reader.fetch(
      maxWaitMs === request.maxWaitMs ? request : { ...request, maxWaitMs },
    );
  }

  /**
   * Whole batches of one partition from `offset` (earliest and latest resolved first), up to
   * maxBytes (at least one batch). When fewer than minBytes (default 1) are there, waits up to
   * maxWaitMs for appends to bring them. Throws the partition's typed error; TOO_MANY_REQUESTS
   * when LONG_POLLS_MAX fetches already wait.
   */
  async fetch(topicName: unknown, partition: number, request: FetchRequest): Promise<FetchResult> {
    const topic = this.topics.get(topicName);
    const offset = this.#lookup.resolve(topic, partition, request.offset);
    const [result] = await this.fetchMessages({
      partitions: [{
        topic: topic.name,
        partition,
        fetchOffset: offset,
        partitionMaxBytes: request.maxBytes,
      }],
      maxBytes: request.maxBytes,
      minBytes: Math.max(1, request.minBytes ?? 1),
      maxWaitMs: request.maxWaitMs ?? 0,
      budget: request.budget,
      signal: request.signal,
      whenWaitersFull: "throw",
    });
    if (result.error !== undefined) throw result.error;
    return {
      bytes: result.records,
      offset,
      nextOffset: result.nextOffset,
      highWatermark: result.highWatermark,
      logStartOffset: result.logStartOffset,
    };
  }

  /** Kafka's ListOffsets: earliest, latest, or the first offset at or after a timestamp. */
  offsetFor(
    topicName: unknown,
    partition: number,
    timestamp: number | "earliest" | "latest",
  ): number | undefined {
    return this.#lookup.offsetFor(topicName, partition, timestamp);
  }

  /** See {@link OffsetLookup.recordAtTimestamp}. */
  recordAtTimestamp(
    topicName: unknown,
    partition: number,
    timestampMs: number,
  ): { offset: number; timestampMs: number } | undefined {
    return this.#lookup.recordAtTimestamp(topicName, partition, timestampMs);
  }

  /** See {@link OffsetLookup.recordWithMaxTimestamp}. */
  recordWithMaxTimestamp(
    topicName: unknown,
    partition: number,
  ): { offset: number; timestampMs: number } | undefined {
    return this.#lookup.recordWithMaxTimestamp(topicName, partition);
  }

  /** See {@link OffsetLookup.checkLeaderEpoch}. */
  checkLeaderEpoch(topicName: unknown, partition: number, currentLeaderEpoch: number): void {
    this.#lookup.checkLeaderEpoch(topicName, partition, currentLeaderEpoch);
  }

  /** The leader epoch `offset` was written in (the latest for the log end); -1 when none. */
  epochForOffset(topicName: unknown, partition: number, offset: number): number {
    return this.#lookup.epochForOffset(topicName, partition, offset);
  }

  /** See {@link OffsetLookup.endOffsetForEpoch}. */
  endOffsetForEpoch(
    topicName: unknown,
    partition: number,
    currentLeaderEpoch: number,
    leaderEpoch: number,
  ): EpochEndOffset {
    return this.#lookup.endOffsetForEpoch(topicName, partition, currentLeaderEpoch, leaderEpoch);
  }

  /** Committed offsets of every group, HTTP and Kafka protocol alike. */
  get offsets(): GroupStore {
    return this.#offsets;
  }

  /** Wakes every long poll and makes new fetches answer at once: the first step of shutdown. */
  stopWaiting(): void {
    this.#draining = true;
    this.waiters.wakeAll();
  }

  /** Wakes every long poll, then closes every log (flush and recovery checkpoints). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopWaiting();
    try {
      await this.#replication.close();
      await this.groups.close();
      await this.#offsets.close();
      await this.topics.close();
    } finally {
      this.#lock.release();
    }
  }
}
