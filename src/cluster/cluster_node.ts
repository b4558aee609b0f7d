/**
 * This broker's part in a cluster, put together: the etcd client, the metadata view, the
 * membership (registration under a lease), the controller election, topic creation and deletion,
 * the replica manager and the replica fetcher. The broker (one layer up) asks it "do I lead this
 * partition", "wait until this offset is committed", and learns from its view which topics exist;
 * storage learns only "truncate to" and "the high watermark is". The fronts never see etcd.
 *
 * Start-up order (start()): etcd reachable (else CLUSTER_UNAVAILABLE within
 * ETCD_REQUEST_TIMEOUT_MS, naming the endpoint), the metadata view loaded and watched, the broker
 * registered (BROKER_ID_IN_USE when its node id is live), then the replica manager may attach the
 * local logs (attachLogs) and the controller election starts. Shutdown (close()) runs it backwards:
 * the lease is revoked last but one, so that the controller moves the leaderships at once.
 */
import { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import { type BrokerRecord, ClusterKeys } from "./cluster_state.ts";
import { ClusterTopics } from "./cluster_topics.ts";
import { ClusterProducerIds } from "./producer_id_blocks.ts";
import { FailureDetector } from "./failure_detector.ts";
import { Controller } from "./controller.ts";
import { EtcdClient } from "./etcd.ts";
import { BrokerMembership } from "./membership.ts";
import { ClusterMetadata, type MetadataChange } from "./metadata.ts";
import { ReplicaFetcher } from "./replica_fetcher.ts";
import { type LocalLogs, ReplicaManager } from "./replica_manager.ts";
import type { ReplicaTransport } from "./replica_transport.ts";

export interface ClusterSettings {
  nodeId: number;
  etcdEndpoint: string;
  etcdPrefix?: string;
  /** What this broker registers: where clients and other brokers reach it. */
  advertised: { host: string; kafkaPort: number; httpUrl?: string; rack?: string | null };
  sessionTimeoutMs?: number;
  replicaLagTimeMaxMs?: number;
  /** Replicas of a topic created without a replication factor. */
  defaultReplicationFactor: number;
  /** The broker-wide min.insync.replicas (a topic's own config wins). */
  minInsyncReplicas: number;
  /** Preferred-leader election every this many ms; 0 off (controller.ts). */
  leaderImbalanceCheckIntervalMs?: number;
}

export interface ClusterNodeOptions {
  settings: ClusterSettings;
  /** The followers' connections to their leaders (the Kafka front's replica client). */
  transport: ReplicaTransport;
  /**
   * A second set of connections for the broker's own consumer reads of partitions led elsewhere
   * (HTTP group members): their long polls never wait in line with replication.
   */
  readTransport: ReplicaTransport;
  logger: Logger;
  nowMs: () => number;
  /** Called when this broker's node id was taken by another process: stop serving. */
  onFenced?: (error: Error) => void;
}

export class ClusterNode {
  readonly settings: ClusterSettings;
  readonly etcd: EtcdClient;
  readonly keys: ClusterKeys;
  readonly metadata: ClusterMetadata;
  readonly membership: BrokerMembership;
  readonly topics: ClusterTopics;
  /** The cluster's id, the same on every broker (Metadata's cluster_id). */
  readonly clusterId: string;
  /** InitProducerId's ids, unique across the cluster. */
  readonly producerIds: ClusterProducerIds;
  readonly #options: ClusterNodeOptions;
  #replicas: ReplicaManager | undefined;
  #fetcher: ReplicaFetcher | undefined;
  #controller: Controller | undefined;
  readonly #failures: FailureDetector;
  /** Wakes what waits on a log when its high watermark moves (the broker's fetch waiters). */
  #onHighWatermark: (log: PartitionLog) => void = () => {};

  private constructor(
    options: ClusterNodeOptions,
    etcd: EtcdClient,
    keys: ClusterKeys,
    metadata: ClusterMetadata,
    membership: BrokerMembership,
    clusterId: string,
  ) {
    this.clusterId = clusterId;
    this.#options = options;
    this.settings = options.settings;
    this.etcd = etcd;
    this.keys = keys;
    this.metadata = metadata;
    this.membership = membership;
    this.topics = new ClusterTopics(etcd, keys, metadata, options.nowMs);
    this.producerIds = new ClusterProducerIds(etcd, keys);
    this.#failures = new FailureDetector(
      options.settings.nodeId,
      etcd,
      metadata,
      options.logger,
      options.nowMs,
    );
  }

  /** Joins the cluster: see the module doc for the order and the errors. */
  static async join(options: ClusterNodeOptions): Promise<ClusterNode> {
    const s = options.settings;
    const etcd = new EtcdClient(s.etcdEndpoint);
    const keys = new ClusterKeys(s.etcdPrefix);
    const clusterId = await clusterIdOf(etcd, keys);
    const metadata = await ClusterMetadata.load(etcd, keys, options.logger);
    const record: BrokerRecord = {
      nodeId: s.nodeId,
      host: s.advertised.host,
      kafkaPort: s.advertised.kafkaPort,
      httpUrl: s.advertised.httpUrl,
      rack: s.advertised.rack ?? null,
      startedMs: options.nowMs(),
    };
    let membership: BrokerMembership;
    try {
      membership = await BrokerMembership.register(etcd, keys, record, {
        sessionTimeoutMs: s.sessionTimeoutMs,
        logger: options.logger,
        onFenced: options.onFenced,
        onRejoin: () => {},
      });
    } catch (err) {
      await metadata.close();
      throw err;
    }
    return new ClusterNode(options, etcd, keys, metadata, membership, clusterId);
  }

  get nodeId(): number {
    return this.settings.nodeId;
  }

  /** The replica manager; set by attachLogs. */
  get replicas(): ReplicaManager {
    if (this.#replicas === undefined) throw new Error("cluster logs are not attached yet");
    return this.#replicas;
  }

  /** Consumer reads from other leaders (see ClusterNodeOptions.readTransport). */
  get readTransport(): ReplicaTransport {
    return this.#options.readTransport;
  }

  get controller(): Controller | undefined {
    return this.#controller;
  }

  /** The topic's min.insync.replicas: its own config, else the broker's. */
  minInsyncReplicas(topic: string): number {
    const own = Number(this.metadata.topics.get(topic)?.value.config["min.insync.replicas"]);
    return Number.isInteger(own) && own > 0 ? own : this.settings.minInsyncReplicas;
  }

  /**
   * Starts replication over the broker's logs and the controller election. `onHighWatermark`
   * wakes the broker's fetch waiters; `onLeadership` is told of each partition this broker
   * starts (before its first write there) or stops leading.
   */
  async attachLogs(
    logs: LocalLogs,
    onHighWatermark: (log: PartitionLog) => void,
    onLeadership: (
      topic: string,
      partition: number,
      log: PartitionLog,
      leading: boolean,
    ) => void = () => {},
  ): Promise<void> {
    this.#onHighWatermark = onHighWatermark;
    const replicas = new ReplicaManager({
      nodeId: this.nodeId,
      etcd: this.etcd,
      keys: this.keys,
      metadata: this.metadata,
      logs,
      logger: this.#options.logger,
      nowMs: this.#options.nowMs,
      replicaLagTimeMaxMs: this.settings.replicaLagTimeMaxMs,
      minInsyncReplicas: (topic) => this.minInsyncReplicas(topic),
      onHighWatermark: (log) => this.#onHighWatermark(log),
      onLeadership,
    });
    const fetcher = new ReplicaFetcher({
      manager: replicas,
      metadata: this.metadata,
      transport: this.#options.transport,
      logger: this.#options.logger,
      nowMs: this.#options.nowMs,
      brokerEpoch: () => this.membership.epoch,
      onHighWatermark: (log) => this.#onHighWatermark(log),
      onLeaderRefused: (leader) => void this.#failures.refused(leader),
    });
    replicas.attachFetcher(fetcher);
    this.#replicas = replicas;
    this.#fetcher = fetcher;
    replicas.refreshAll();
    this.#controller = new Controller(this.etcd, this.keys, this.metadata, this.membership, {
      logger: this.#options.logger,
      nowMs: this.#options.nowMs,
      leaderImbalanceCheckIntervalMs: this.settings.leaderImbalanceCheckIntervalMs,
    });
    await this.#controller.start();
  }

  subscribe(listener: (change: MetadataChange) => void): () => void {
    return this.metadata.subscribe(listener);
  }

  /** Leaves the cluster: stops replicating and electing, then revokes the lease. */
  async close(): Promise<void> {
    await this.#controller?.close();
    await this.#fetcher?.close();
    await this.#replicas?.close();
    await this.membership.close();
    await this.metadata.close();
    await this.#options.transport.close();
    await this.#options.readTransport.close();
  }
}

/** The cluster's id from etcd, made (22 characters of base64url, as Kafka's) by the first broker. */
async function clusterIdOf(etcd: EtcdClient, keys: ClusterKeys): Promise<string> {
  const raw = crypto.getRandomValues(new Uint8Array(16));
  const made = btoa(String.fromCharCode(...raw)).replace(/=+$/, "").replace(/\+/g, "-")
    .replace(/\//g, "_");
  const written = await etcd.putIfRevision(keys.clusterId, made, 0);
  if (written.ok) return made;
  const id = new TextDecoder().decode(written.current?.value ?? new Uint8Array(0)).trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new SluiceError("INTERNAL", `etcd's ${keys.clusterId} is not a cluster id: ${id}`);
  }
  return id;
}
