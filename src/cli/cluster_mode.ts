/**
 * `serve` in cluster mode (--node-id and --etcd): after the listeners are bound, join the cluster
 * (src/cluster/cluster_node.ts) with the Kafka front's replica client as the followers' transport,
 * and hand the cluster to the broker. Start-up errors end the process with a clear message:
 * exit 2 when the node id is in use by a live broker (a configuration error, as a bad flag),
 * exit 1 when etcd cannot be reached (within ETCD_REQUEST_TIMEOUT_MS) or anything else fails.
 */
import type { Broker } from "../broker/broker.ts";
import { ClusterNode } from "../cluster/cluster_node.ts";
import { isSluiceError } from "../errors.ts";
import { KafkaReplicaClient } from "../kafka_protocol/replica_client.ts";
import type { KafkaListener } from "../kafka_protocol/listener.ts";
import type { Logger } from "../logger.ts";
import type { TlsClientOptions } from "../runtime/tcp_client.ts";
import { exitProcess } from "../runtime/process.ts";

export interface ClusterModeConfig {
  nodeId?: number;
  etcd?: string;
  etcdPrefix?: string;
  advertisedHost?: string;
  kafkaAdvertisedHost?: string;
  defaultReplicationFactor: number;
  minInsyncReplicas: number;
  brokerSessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  leaderImbalanceCheckIntervalMs: number;
  /** SASL/PLAIN credentials of the followers' connections (with --auth). */
  interBrokerUser?: string;
  interBrokerPassword?: string;
}

export async function joinClusterOrExit(
  broker: Broker,
  config: ClusterModeConfig,
  context: {
    kafka: KafkaListener;
    httpUrl: string;
    /** The Kafka listeners are TLS: what to trust in the other brokers' certificates. */
    tls?: TlsClientOptions;
    logger: Logger;
    /** Closes the listeners and the broker before an exit. */
    stop: () => Promise<void>;
  },
): Promise<ClusterNode> {
  const { kafka, logger } = context;
  const transport = new KafkaReplicaClient({
    clientId: `sluice-replica-${config.nodeId}`,
    username: config.interBrokerUser,
    password: config.interBrokerPassword,
    tls: context.tls,
  });
  const readTransport = new KafkaReplicaClient({
    clientId: `sluice-reader-${config.nodeId}`,
    username: config.interBrokerUser,
    password: config.interBrokerPassword,
    tls: context.tls,
  });
  let cluster: ClusterNode;
  try {
    cluster = await ClusterNode.join({
      settings: {
        nodeId: config.nodeId!,
        etcdEndpoint: config.etcd!,
        etcdPrefix: config.etcdPrefix,
        advertised: {
          host: config.kafkaAdvertisedHost ?? config.advertisedHost ?? kafka.advertisedHost,
          kafkaPort: kafka.port,
          httpUrl: context.httpUrl,
        },
        sessionTimeoutMs: config.brokerSessionTimeoutMs,
        replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
        defaultReplicationFactor: config.defaultReplicationFactor,
        minInsyncReplicas: config.minInsyncReplicas,
        leaderImbalanceCheckIntervalMs: config.leaderImbalanceCheckIntervalMs,
      },
      transport,
      readTransport,
      logger,
      nowMs: () => broker.clock.nowMs(),
      onFenced: (err) => {
        logger.error("this broker's node id was taken while it was out of the cluster; stopping", {
          error: err.message,
        });
        void context.stop().finally(() => exitProcess(1));
      },
    });
  } catch (err) {
    await transport.close();
    await readTransport.close();
    await context.stop();
    const message = err instanceof Error ? err.message : String(err);
    if (isSluiceError(err, "BROKER_ID_IN_USE")) {
      console.error(`sluice: ${message}`);
      exitProcess(2);
    }
    console.error(
      isSluiceError(err, "CLUSTER_UNAVAILABLE")
        ? `sluice: cannot join the cluster: etcd at ${config.etcd} did not answer (${message})`
        : `sluice: cannot join the cluster: ${message}`,
    );
    exitProcess(1);
  }
  // Every broker of the cluster answers Metadata with the cluster's one id (librdkafka warns of
  // a client "connected to multiple clusters" otherwise).
  kafka.setClusterId(cluster.clusterId);
  try {
    await broker.joinCluster(cluster);
  } catch (err) {
    await cluster.close().catch(() => {});
    await context.stop();
    console.error(`sluice: cannot join the cluster: ${(err as Error).message}`);
    exitProcess(1);
  }
  return cluster;
}
