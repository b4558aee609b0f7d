/**
 * The Kafka listener on a broker: the served APIs and their version ranges, the shared context,
 * and the TCP server. `startKafkaListener` is what `serve --kafka-port` runs; tests and embedders
 * call it on a Broker of their own.
 *
 * With `auth` the listener is SASL_PLAINTEXT: clients authenticate with SASL/PLAIN using the HTTP
 * tokens (username = token name, password = secret; server.ts, handlers/sasl.ts) and every request
 * is checked against the token's ACLs (acl.ts). Without it, PLAINTEXT with no checks: src/cli/serve.ts
 * keeps that on loopback unless told otherwise. With `tls` (PEM certificate and key) the port
 * speaks TLS: SSL, or SASL_SSL with `auth` (then PLAIN's secret is encrypted on the wire); without
 * it PLAIN sends the secret in clear text. No client certificates (mutual TLS).
 */
import {
  ALTER_CONFIGS_REQUEST,
  ALTER_CONFIGS_RESPONSE,
  INCREMENTAL_ALTER_CONFIGS_REQUEST,
  INCREMENTAL_ALTER_CONFIGS_RESPONSE,
} from "./messages/alter_configs.ts";
import {
  CREATE_PARTITIONS_REQUEST,
  CREATE_PARTITIONS_RESPONSE,
} from "./messages/create_partitions.ts";
import {
  alterConfigsHandlerOf,
  createPartitionsHandler,
  incrementalAlterConfigsHandler,
} from "./handlers/alter_topics.ts";
import { guardGroups } from "./coordinator_guard.ts";
import type { Broker } from "../broker/broker.ts";
import type { Authenticator } from "../security/tokens.ts";
import type { GroupDescription } from "../broker/groups/coordinator.ts";
import type { ConsumerGroupCoordinator } from "../broker/groups/consumer_coordinator.ts";
import type { ClassicGroupCoordinator } from "../broker/groups/classic/coordinator.ts";
import { ProducerIdAllocator } from "../broker/producer_ids.ts";
import type { ConnectionLimits } from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { ConnectionGate } from "../runtime/accept.ts";
import { joinPath, readWholeFile, writeFileAtomic } from "../runtime/fs.ts";
import { ApiRegistry } from "./apis.ts";
import {
  AUTO_CREATE_TOPICS_DEFAULT,
  DEFAULT_PARTITIONS_DEFAULT,
  type KafkaContext,
  type KafkaListenerSettings,
} from "./context.ts";
import {
  deleteGroupsHandler,
  deleteTopicsHandler,
  describeGroupsHandler,
  listGroupsHandler,
  offsetDeleteHandler,
} from "./handlers/admin.ts";
import { describeClusterHandler, describeConfigsHandler } from "./handlers/configs.ts";
import { deleteRecordsHandler } from "./handlers/delete_records.ts";
import {
  apiVersionsHandler,
  createTopicsHandler,
  findCoordinatorHandler,
  initProducerIdHandler,
  metadataHandler,
} from "./handlers/cluster.ts";
import {
  consumerGroupDescribeHandler,
  consumerGroupHeartbeatHandler,
} from "./handlers/consumer_groups.ts";
import { fetchHandler, listOffsetsHandler } from "./handlers/fetch.ts";
import { offsetForLeaderEpochHandler } from "./handlers/offset_for_leader_epoch.ts";
import {
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  syncGroupHandler,
} from "./handlers/groups.ts";
import { produceHandler } from "./handlers/produce.ts";
import { saslAuthenticateHandler, saslHandshakeHandler } from "./handlers/sasl.ts";
import { API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE } from "./messages/api_versions.ts";
import {
  CONSUMER_PROTOCOL_ASSIGNMENT,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
  readConsumerProtocol,
} from "./messages/consumer_protocol.ts";
import {
  CONSUMER_GROUP_DESCRIBE_REQUEST,
  CONSUMER_GROUP_DESCRIBE_RESPONSE,
} from "./messages/consumer_group_describe.ts";
import {
  CONSUMER_GROUP_HEARTBEAT_REQUEST,
  CONSUMER_GROUP_HEARTBEAT_RESPONSE,
} from "./messages/consumer_group_heartbeat.ts";
import { CREATE_TOPICS_REQUEST, CREATE_TOPICS_RESPONSE } from "./messages/create_topics.ts";
import { DELETE_GROUPS_REQUEST, DELETE_GROUPS_RESPONSE } from "./messages/delete_groups.ts";
import { DELETE_RECORDS_REQUEST, DELETE_RECORDS_RESPONSE } from "./messages/delete_records.ts";
import { DELETE_TOPICS_REQUEST, DELETE_TOPICS_RESPONSE } from "./messages/delete_topics.ts";
import {
  DESCRIBE_CLUSTER_REQUEST,
  DESCRIBE_CLUSTER_RESPONSE,
} from "./messages/describe_cluster.ts";
import {
  DESCRIBE_CONFIGS_REQUEST,
  DESCRIBE_CONFIGS_RESPONSE,
} from "./messages/describe_configs.ts";
import { DESCRIBE_GROUPS_REQUEST, DESCRIBE_GROUPS_RESPONSE } from "./messages/describe_groups.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "./messages/fetch.ts";
import {
  FIND_COORDINATOR_REQUEST,
  FIND_COORDINATOR_RESPONSE,
} from "./messages/find_coordinator.ts";
import { HEARTBEAT_REQUEST, HEARTBEAT_RESPONSE } from "./messages/heartbeat.ts";
import {
  INIT_PRODUCER_ID_REQUEST,
  INIT_PRODUCER_ID_RESPONSE,
} from "./messages/init_producer_id.ts";
import { JOIN_GROUP_REQUEST, JOIN_GROUP_RESPONSE } from "./messages/join_group.ts";
import { LEAVE_GROUP_REQUEST, LEAVE_GROUP_RESPONSE } from "./messages/leave_group.ts";
import { LIST_GROUPS_REQUEST, LIST_GROUPS_RESPONSE } from "./messages/list_groups.ts";
import { LIST_OFFSETS_REQUEST, LIST_OFFSETS_RESPONSE } from "./messages/list_offsets.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "./messages/metadata.ts";
import { OFFSET_COMMIT_REQUEST, OFFSET_COMMIT_RESPONSE } from "./messages/offset_commit.ts";
import { OFFSET_DELETE_REQUEST, OFFSET_DELETE_RESPONSE } from "./messages/offset_delete.ts";
import {
  OFFSET_FOR_LEADER_EPOCH_REQUEST,
  OFFSET_FOR_LEADER_EPOCH_RESPONSE,
} from "./messages/offset_for_leader_epoch.ts";
import { OFFSET_FETCH_REQUEST, OFFSET_FETCH_RESPONSE } from "./messages/offset_fetch.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "./messages/produce.ts";
import {
  SASL_AUTHENTICATE_REQUEST,
  SASL_AUTHENTICATE_RESPONSE,
  SASL_HANDSHAKE_REQUEST,
  SASL_HANDSHAKE_RESPONSE,
} from "./messages/sasl.ts";
import { SYNC_GROUP_REQUEST, SYNC_GROUP_RESPONSE } from "./messages/sync_group.ts";
import { FetchSessionCache } from "./fetch_sessions.ts";
import { KafkaMetrics } from "./metrics.ts";
import { type KafkaServer, startKafkaServer } from "./server.ts";

export interface KafkaListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Host clients are told to connect to; default `host` (or 127.0.0.1 for 0.0.0.0 / ::). */
  advertisedHost?: string;
  autoCreateTopics?: boolean;
  defaultPartitions?: number;
  logger: Logger;
  /** Requires SASL/PLAIN with these tokens and enforces their ACLs (SASL_PLAINTEXT / SASL_SSL). */
  auth?: Authenticator;
  /** PEM certificate chain and private key: the port speaks TLS (SSL / SASL_SSL). */
  tls?: { cert: string; key: string };
  /** Idle connections are closed after this long (KAFKA_CONNECTION_IDLE_MS). */
  idleMs?: number;
  /** Open connections, in total and from one address (src/limits.ts connectionLimits). */
  connectionLimits?: ConnectionLimits;
}

export interface KafkaListener {
  readonly host: string;
  readonly port: number;
  /** The host clients are told to connect to (Metadata). */
  readonly advertisedHost: string;
  /** Replaces the data dir's cluster id with a cluster's own (cluster mode, after joining). */
  setClusterId(id: string): void;
  readonly groups: ClassicGroupCoordinator;
  readonly consumerGroups: ConsumerGroupCoordinator;
  readonly metrics: KafkaMetrics;
  readonly connections: number;
  /** Admission at accept: open connections per address, refusals by reason. */
  readonly gate: ConnectionGate;
  close(): Promise<void>;
}

export { AUTO_CREATE_TOPICS_DEFAULT, DEFAULT_PARTITIONS_DEFAULT } from "./context.ts";

/** The cluster id of `dataDir`: made once (22 characters, like Kafka's) and kept in cluster_id. */
function clusterIdOf(dataDir: string): string {
  const path = joinPath(dataDir, "cluster_id");
  const stored = readWholeFile(path);
  if (stored !== undefined) {
    const id = new TextDecoder().decode(stored).trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  }
  const raw = crypto.getRandomValues(new Uint8Array(16));
  const id = btoa(String.fromCharCode(...raw)).replace(/=+$/, "").replace(/\+/g, "-")
    .replace(/\//g, "_");
  writeFileAtomic(path, new TextEncoder().encode(id + "\n"), dataDir);
  return id;
}

/**
 * A Kafka-protocol group as GET /v1/groups/{group} shows groups: members with the topics of their
 * subscription and the partitions of their assignment, read from the consumer protocol's bytes
 * (empty for another protocol type, or while the group rebalances). Undefined when not active.
 */
function describeKafkaGroup(
  groups: ClassicGroupCoordinator,
  id: string,
): GroupDescription | undefined {
  if (!groups.hasActiveGroup(id)) return undefined;
  const d = groups.describe(id);
  if (d.state === "Dead") return undefined;
  const partitions = (bytes: Uint8Array) => {
    const a = readConsumerProtocol(CONSUMER_PROTOCOL_ASSIGNMENT, bytes);
    const assigned = (a?.assignedPartitions ?? []) as { topic: string; partitions: number[] }[];
    return assigned.flatMap((t) =>
      t.partitions.map((partition) => ({ topic: t.topic, partition }))
    );
  };
  return {
    group: id,
    generation: Math.max(0, d.generationId),
    state: d.state,
    assignor: d.protocolName,
    protocol: "classic",
    members: d.members.map((m) => ({
      memberId: m.memberId,
      kind: "kafka" as const,
      topics: (readConsumerProtocol(CONSUMER_PROTOCOL_SUBSCRIPTION, m.metadata)?.topics ??
        []) as string[],
      assignment: partitions(m.assignment),
    })),
  };
}

function advertised(host: string): string {
  return host === "0.0.0.0" || host === "::" || host === "[::]" ? "127.0.0.1" : host;
}

/**
 * Every API the listener serves, with the versions it serves; SaslHandshake and SaslAuthenticate
 * only with `auth`.
 */
export function kafkaApis(ctx: KafkaContext, auth?: Authenticator): ApiRegistry {
  const apis = new ApiRegistry();
  if (auth !== undefined) {
    apis
      .add({
        key: 17,
        name: "SaslHandshake",
        versions: "0-1",
        request: SASL_HANDSHAKE_REQUEST,
        response: SASL_HANDSHAKE_RESPONSE,
        handle: saslHandshakeHandler(),
      })
      .add({
        key: 36,
        name: "SaslAuthenticate",
        versions: "0-2",
        request: SASL_AUTHENTICATE_REQUEST,
        response: SASL_AUTHENTICATE_RESPONSE,
        handle: saslAuthenticateHandler(auth),
      });
  }
  return apis
    .add({
      key: 0,
      name: "Produce",
      versions: "3-9",
      request: PRODUCE_REQUEST,
      response: PRODUCE_RESPONSE,
      handle: produceHandler(ctx),
    })
    .add({
      key: 1,
      name: "Fetch",
      versions: "4-12",
      request: FETCH_REQUEST,
      response: FETCH_RESPONSE,
      handle: fetchHandler(ctx),
    })
    .add({
      key: 2,
      name: "ListOffsets",
      versions: "1-11",
      request: LIST_OFFSETS_REQUEST,
      response: LIST_OFFSETS_RESPONSE,
      handle: listOffsetsHandler(ctx),
    })
    .add({
      key: 3,
      name: "Metadata",
      versions: "0-11",
      request: METADATA_REQUEST,
      response: METADATA_RESPONSE,
      handle: metadataHandler(ctx),
    })
    .add({
      key: 8,
      name: "OffsetCommit",
      versions: "2-9",
      request: OFFSET_COMMIT_REQUEST,
      response: OFFSET_COMMIT_RESPONSE,
      handle: guardGroups(ctx, "OffsetCommit", offsetCommitHandler(ctx)),
    })
    .add({
      key: 9,
      name: "OffsetFetch",
      versions: "1-9",
      request: OFFSET_FETCH_REQUEST,
      response: OFFSET_FETCH_RESPONSE,
      handle: guardGroups(ctx, "OffsetFetch", offsetFetchHandler(ctx)),
    })
    .add({
      key: 10,
      name: "FindCoordinator",
      versions: "0-4",
      request: FIND_COORDINATOR_REQUEST,
      response: FIND_COORDINATOR_RESPONSE,
      handle: findCoordinatorHandler(ctx),
    })
    .add({
      key: 11,
      name: "JoinGroup",
      versions: "0-7",
      request: JOIN_GROUP_REQUEST,
      response: JOIN_GROUP_RESPONSE,
      handle: guardGroups(ctx, "JoinGroup", joinGroupHandler(ctx)),
    })
    .add({
      key: 12,
      name: "Heartbeat",
      versions: "0-4",
      request: HEARTBEAT_REQUEST,
      response: HEARTBEAT_RESPONSE,
      handle: guardGroups(ctx, "Heartbeat", heartbeatHandler(ctx)),
    })
    .add({
      key: 13,
      name: "LeaveGroup",
      versions: "0-4",
      request: LEAVE_GROUP_REQUEST,
      response: LEAVE_GROUP_RESPONSE,
      handle: guardGroups(ctx, "LeaveGroup", leaveGroupHandler(ctx)),
    })
    .add({
      key: 14,
      name: "SyncGroup",
      versions: "0-5",
      request: SYNC_GROUP_REQUEST,
      response: SYNC_GROUP_RESPONSE,
      handle: guardGroups(ctx, "SyncGroup", syncGroupHandler(ctx)),
    })
    .add({
      key: 15,
      name: "DescribeGroups",
      versions: "0-5",
      request: DESCRIBE_GROUPS_REQUEST,
      response: DESCRIBE_GROUPS_RESPONSE,
      handle: guardGroups(ctx, "DescribeGroups", describeGroupsHandler(ctx)),
    })
    .add({
      key: 16,
      name: "ListGroups",
      versions: "0-5",
      request: LIST_GROUPS_REQUEST,
      response: LIST_GROUPS_RESPONSE,
      handle: listGroupsHandler(ctx),
    })
    .add({
      key: 18,
      name: "ApiVersions",
      versions: "0-3",
      request: API_VERSIONS_REQUEST,
      response: API_VERSIONS_RESPONSE,
      handle: apiVersionsHandler(apis),
    })
    .add({
      key: 19,
      name: "CreateTopics",
      versions: "0-7",
      request: CREATE_TOPICS_REQUEST,
      response: CREATE_TOPICS_RESPONSE,
      handle: createTopicsHandler(ctx),
    })
    .add({
      key: 20,
      name: "DeleteTopics",
      versions: "0-6",
      request: DELETE_TOPICS_REQUEST,
      response: DELETE_TOPICS_RESPONSE,
      handle: deleteTopicsHandler(ctx),
    })
    .add({
      key: 21,
      name: "DeleteRecords",
      versions: "0-2",
      request: DELETE_RECORDS_REQUEST,
      response: DELETE_RECORDS_RESPONSE,
      handle: deleteRecordsHandler(ctx),
    })
    .add({
      key: 33,
      name: "AlterConfigs",
      versions: "0-2",
      request: ALTER_CONFIGS_REQUEST,
      response: ALTER_CONFIGS_RESPONSE,
      handle: alterConfigsHandlerOf(ctx),
    })
    .add({
      key: 37,
      name: "CreatePartitions",
      versions: "0-3",
      request: CREATE_PARTITIONS_REQUEST,
      response: CREATE_PARTITIONS_RESPONSE,
      handle: createPartitionsHandler(ctx),
    })
    .add({
      key: 44,
      name: "IncrementalAlterConfigs",
      versions: "0-1",
      request: INCREMENTAL_ALTER_CONFIGS_REQUEST,
      response: INCREMENTAL_ALTER_CONFIGS_RESPONSE,
      handle: incrementalAlterConfigsHandler(ctx),
    })
    .add({
      key: 22,
      name: "InitProducerId",
      versions: "0-4",
      request: INIT_PRODUCER_ID_REQUEST,
      response: INIT_PRODUCER_ID_RESPONSE,
      handle: initProducerIdHandler(ctx),
    })
    .add({
      key: 23,
      name: "OffsetForLeaderEpoch",
      // Kafka 4 serves 2-4 (v0-1 removed by KIP-896) and its clients send those.
      versions: "2-4",
      request: OFFSET_FOR_LEADER_EPOCH_REQUEST,
      response: OFFSET_FOR_LEADER_EPOCH_RESPONSE,
      handle: offsetForLeaderEpochHandler(ctx),
    })
    .add({
      key: 32,
      name: "DescribeConfigs",
      versions: "0-4",
      request: DESCRIBE_CONFIGS_REQUEST,
      response: DESCRIBE_CONFIGS_RESPONSE,
      handle: describeConfigsHandler(ctx),
    })
    .add({
      key: 42,
      name: "DeleteGroups",
      versions: "0-2",
      request: DELETE_GROUPS_REQUEST,
      response: DELETE_GROUPS_RESPONSE,
      handle: guardGroups(ctx, "DeleteGroups", deleteGroupsHandler(ctx)),
    })
    .add({
      key: 47,
      name: "OffsetDelete",
      versions: "0",
      request: OFFSET_DELETE_REQUEST,
      response: OFFSET_DELETE_RESPONSE,
      handle: guardGroups(ctx, "OffsetDelete", offsetDeleteHandler(ctx)),
    })
    .add({
      key: 60,
      name: "DescribeCluster",
      versions: "0-1",
      request: DESCRIBE_CLUSTER_REQUEST,
      response: DESCRIBE_CLUSTER_RESPONSE,
      handle: describeClusterHandler(ctx),
    })
    .add({
      key: 68,
      name: "ConsumerGroupHeartbeat",
      versions: "0-1",
      request: CONSUMER_GROUP_HEARTBEAT_REQUEST,
      response: CONSUMER_GROUP_HEARTBEAT_RESPONSE,
      handle: guardGroups(ctx, "ConsumerGroupHeartbeat", consumerGroupHeartbeatHandler(ctx)),
    })
    .add({
      key: 69,
      name: "ConsumerGroupDescribe",
      versions: "0-1",
      request: CONSUMER_GROUP_DESCRIBE_REQUEST,
      response: CONSUMER_GROUP_DESCRIBE_RESPONSE,
      handle: guardGroups(ctx, "ConsumerGroupDescribe", consumerGroupDescribeHandler(ctx)),
    });
}

export async function startKafkaListener(
  broker: Broker,
  options: KafkaListenerOptions,
): Promise<KafkaListener> {
  const dataDir = broker.topics.dataDir;
  const settings: KafkaListenerSettings = {
    advertisedHost: options.advertisedHost ?? advertised(options.host),
    advertisedPort: options.port,
    clusterId: clusterIdOf(dataDir),
    autoCreateTopics: options.autoCreateTopics ?? AUTO_CREATE_TOPICS_DEFAULT,
    defaultPartitions: options.defaultPartitions ?? DEFAULT_PARTITIONS_DEFAULT,
  };
  // One coordinator for both protocols (the broker's); the Kafka front describes classic groups
  // to the HTTP API, reading their consumer-protocol bytes.
  const consumerGroups = broker.groups.consumer;
  const groups = broker.groups.classic;
  broker.groups.setClassicDescriber(describeKafkaGroup);
  const ctx: KafkaContext = {
    broker,
    groups,
    consumerGroups,
    producerIds: ProducerIdAllocator.open(dataDir),
    fetchSessions: new FetchSessionCache({ clock: broker.clock }),
    settings,
    logger: options.logger,
  };
  const metrics = new KafkaMetrics();
  metrics.fetchSessions = ctx.fetchSessions;
  let server: KafkaServer;
  try {
    server = await startKafkaServer({
      hostname: options.host,
      port: options.port,
      apis: kafkaApis(ctx, options.auth),
      logger: options.logger,
      metrics,
      auth: options.auth,
      tls: options.tls,
      idleMs: options.idleMs,
      connectionsMax: options.connectionLimits?.max,
      connectionsPerAddressMax: options.connectionLimits?.perAddressMax,
      onListening: (_host, port) => {
        settings.advertisedPort = port;
      },
    });
  } catch (err) {
    broker.groups.setClassicDescriber(() => undefined);
    throw err;
  }
  return {
    host: options.host,
    port: server.port,
    advertisedHost: settings.advertisedHost,
    setClusterId(id: string) {
      settings.clusterId = id;
    },
    groups,
    consumerGroups,
    metrics,
    gate: server.gate,
    get connections() {
      return server.connections;
    },
    async close() {
      await server.close();
      broker.groups.setClassicDescriber(() => undefined);
    },
  };
}
