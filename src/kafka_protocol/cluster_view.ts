/**
 * What the Kafka front tells clients about brokers and partitions, on one node and in a cluster:
 * the broker list (Metadata, DescribeCluster), the controller, and each partition's leader,
 * leader epoch, replicas and ISR. On one node this broker is node 0 and leads everything; in a
 * cluster the answers come from the broker's view of etcd (src/cluster/metadata.ts), the same on
 * every broker, so a client may connect to any of them.
 */
import type { Broker } from "../broker/broker.ts";
import type { Topic } from "../broker/topic_registry.ts";
import { NO_LEADER } from "../cluster/cluster_state.ts";
import { OFFSETS_TOPIC, offsetsPartitionFor } from "../broker/groups/replicated_offsets.ts";
import type { Struct } from "./codec.ts";
import { type KafkaContext, NODE_ID } from "./context.ts";
import { KafkaError } from "./error_codes.ts";

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** The live brokers, ascending by node id. */
export function liveBrokers(ctx: KafkaContext): BrokerEndpoint[] {
  const cluster = ctx.broker.cluster;
  if (cluster === undefined) {
    return [{
      nodeId: NODE_ID,
      host: ctx.settings.advertisedHost,
      port: ctx.settings.advertisedPort,
      rack: null,
    }];
  }
  // The live brokers, and any broker a partition state still names as leader although its
  // registration has gone (etcd expired a lease it could not renew): clients can still reach it.
  const ids = new Set(cluster.metadata.liveBrokerIds());
  for (const byPartition of cluster.metadata.partitions.values()) {
    for (const s of byPartition.values()) {
      if (s.value.leader !== NO_LEADER && cluster.metadata.lastKnownBrokers.has(s.value.leader)) {
        ids.add(s.value.leader);
      }
    }
  }
  return [...ids].sort((a, b) => a - b).map((id) => {
    const b = cluster.metadata.brokers.get(id)?.value ?? cluster.metadata.lastKnownBrokers.get(id)!;
    return { nodeId: b.nodeId, host: b.host, port: b.kafkaPort, rack: b.rack ?? null };
  });
}

/** The controller's node id (-1 while none is elected). */
export function controllerId(broker: Broker): number {
  const cluster = broker.cluster;
  if (cluster === undefined) return NODE_ID;
  return cluster.metadata.controller?.value.nodeId ?? -1;
}

/** This broker's node id. */
export function ownNodeId(broker: Broker): number {
  return broker.cluster?.nodeId ?? NODE_ID;
}

/** Metadata's partitions of a topic. */
export function partitionsMetadata(broker: Broker, topic: Topic): Struct[] {
  const cluster = broker.cluster;
  if (cluster === undefined) {
    // An offline partition (its log could not be opened) has no leader, as in Kafka when the
    // only replica's log dir failed: LEADER_NOT_AVAILABLE, and this node listed as offline.
    return topic.logs.map((log, p) =>
      log.state === "offline"
        ? {
          errorCode: KafkaError.LEADER_NOT_AVAILABLE,
          partitionIndex: p,
          leaderId: -1,
          leaderEpoch: 0,
          replicaNodes: [NODE_ID],
          isrNodes: [],
          offlineReplicas: [NODE_ID],
        }
        : {
          errorCode: KafkaError.NONE,
          partitionIndex: p,
          leaderId: NODE_ID,
          leaderEpoch: log.leaderEpoch,
          replicaNodes: [NODE_ID],
          isrNodes: [NODE_ID],
          offlineReplicas: [],
        }
    );
  }
  const live = cluster.metadata.brokers;
  return topic.logs.map((_, p) => {
    const state = cluster.metadata.partition(topic.name, p)?.value;
    if (state === undefined) {
      return {
        errorCode: KafkaError.LEADER_NOT_AVAILABLE,
        partitionIndex: p,
        leaderId: -1,
        leaderEpoch: -1,
        replicaNodes: [],
        isrNodes: [],
        offlineReplicas: [],
      };
    }
    return {
      // Kafka answers a leaderless partition with LEADER_NOT_AVAILABLE and its replicas.
      errorCode: state.leader === NO_LEADER ? KafkaError.LEADER_NOT_AVAILABLE : KafkaError.NONE,
      partitionIndex: p,
      leaderId: state.leader,
      leaderEpoch: state.leaderEpoch,
      replicaNodes: state.replicas,
      isrNodes: state.isr,
      offlineReplicas: state.replicas.filter((id) => !live.has(id)),
    };
  });
}

/**
 * The broker that coordinates a group: this one on one node; in a cluster the leader of the
 * group's `__consumer_offsets` partition (undefined while it has none, or the topic is still being
 * created).
 */
export function groupCoordinator(ctx: KafkaContext, groupId: string): BrokerEndpoint | undefined {
  const cluster = ctx.broker.cluster;
  if (cluster === undefined) return liveBrokers(ctx)[0];
  const state = cluster.metadata.partition(OFFSETS_TOPIC, offsetsPartitionFor(groupId))?.value;
  if (state === undefined || state.leader === NO_LEADER) return undefined;
  const b = cluster.metadata.brokers.get(state.leader)?.value;
  return b === undefined
    ? undefined
    : { nodeId: b.nodeId, host: b.host, port: b.kafkaPort, rack: b.rack ?? null };
}
