/**
 * ApiVersions, Metadata, FindCoordinator, CreateTopics and InitProducerId: what a client asks
 * before it produces or consumes. On one node Sluice is node 0, leader of every partition and
 * coordinator of every group; in a cluster the brokers, leaders and ISRs come from etcd
 * (../cluster_view.ts) and CreateTopics assigns replicas over the live brokers.
 */
import {
  initProducerId,
  PRODUCER_EPOCH_INITIAL,
  refuseTransactionalId,
} from "../../broker/producer_ids.ts";
import type { Topic } from "../../broker/topic_registry.ts";
import { isSluiceError } from "../../errors.ts";
import { denied, may, mayAny } from "../acl.ts";
import type { ApiRegistry, Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import { type KafkaContext, NODE_ID } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode } from "../errors.ts";
import { topicIdOf } from "../topic_ids.ts";
import { OFFSETS_TOPIC } from "../../broker/groups/replicated_offsets.ts";
import {
  controllerId,
  groupCoordinator,
  liveBrokers,
  partitionsMetadata,
} from "../cluster_view.ts";
import { createdTopicConfigs } from "./configs.ts";
import {
  AUTHORIZED_OPERATIONS_UNKNOWN,
  clusterOperations,
  topicOperations,
} from "../authorized_operations.ts";

const ZERO_UUID = new Uint8Array(16);

/** A random version-4 UUID, as Kafka's Uuid.randomUuid(). */
function randomTopicId(): Uint8Array {
  const id = crypto.getRandomValues(new Uint8Array(16));
  id[6] = (id[6] & 0x0f) | 0x40;
  id[8] = (id[8] & 0x3f) | 0x80;
  return id;
}

/** KIP-511's rule for ApiVersions v3's client_software_name and _version. */
const CLIENT_SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function apiVersionsHandler(apis: ApiRegistry): Handler {
  return (body, context) => {
    if (
      context.apiVersion >= 3 &&
      (!CLIENT_SOFTWARE.test(body.clientSoftwareName as string) ||
        !CLIENT_SOFTWARE.test(body.clientSoftwareVersion as string))
    ) {
      // As Kafka: INVALID_REQUEST and no API keys (the connection stays open).
      return Promise.resolve({
        errorCode: KafkaError.INVALID_REQUEST,
        apiKeys: [],
        throttleTimeMs: 0,
      });
    }
    return Promise.resolve({
      errorCode: KafkaError.NONE,
      apiKeys: apis.supportedRanges(),
      throttleTimeMs: 0,
    });
  };
}

/** The topic, creating it when auto-creation is on and allowed; undefined when it is missing. */
export async function topicOrCreate(
  ctx: KafkaContext,
  name: string,
  allowCreate: boolean,
): Promise<Topic | undefined> {
  try {
    return ctx.broker.topics.get(name);
  } catch (err) {
    if (!isSluiceError(err, "TOPIC_NOT_FOUND") || !allowCreate || !ctx.settings.autoCreateTopics) {
      throw err;
    }
  }
  try {
    const topic = await ctx.broker.createTopic(name, ctx.settings.defaultPartitions, {});
    ctx.logger.info("auto-created topic", {
      topic: name,
      partitions: ctx.settings.defaultPartitions,
    });
    return topic;
  } catch (err) {
    if (isSluiceError(err, "TOPIC_EXISTS")) return ctx.broker.topics.get(name); // a racing create
    throw err;
  }
}

function topicMetadata(
  ctx: KafkaContext,
  topic: Topic,
  topicAuthorizedOperations: number,
): Struct {
  return {
    errorCode: KafkaError.NONE,
    name: topic.name,
    topicId: topicIdOf(topic),
    // A cluster's group offsets topic, as Kafka marks it.
    isInternal: topic.name === OFFSETS_TOPIC,
    partitions: partitionsMetadata(ctx.broker, topic),
    topicAuthorizedOperations,
  };
}

export function metadataHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const apiVersion = context.apiVersion;
    const requested = body.topics as { name: string | null }[] | null;
    const all = requested === null || (apiVersion === 0 && requested.length === 0);
    const allowCreate = body.allowAutoTopicCreation as boolean;
    const askedTopicOps = body.includeTopicAuthorizedOperations === true;
    const topics: Struct[] = [];
    if (all) {
      for (const topic of ctx.broker.topics.list()) {
        if (mayAny(context, "topic", topic.name)) {
          topics.push(
            topicMetadata(ctx, topic, topicOperations(context, topic.name, askedTopicOps)),
          );
        }
      }
    } else {
      for (const { name } of requested) {
        if (name === null) continue; // lookups by topic id are not supported (v10+ by name only)
        try {
          if (!mayAny(context, "topic", name)) {
            topics.push({
              errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
              name,
              topicId: ZERO_UUID,
              isInternal: false,
              partitions: [],
              topicAuthorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
            });
            continue;
          }
          const mayCreate = may(context, "topic", name, "write") ||
            may(context, "topic", name, "admin");
          const topic = await topicOrCreate(ctx, name, allowCreate && mayCreate);
          topics.push(topicMetadata(ctx, topic!, topicOperations(context, name, askedTopicOps)));
        } catch (err) {
          topics.push({
            errorCode: kafkaErrorCode(err),
            name,
            topicId: ZERO_UUID,
            isInternal: false,
            partitions: [],
            topicAuthorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
          });
        }
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: liveBrokers(ctx),
      clusterId: ctx.settings.clusterId,
      controllerId: controllerId(ctx.broker),
      topics,
      clusterAuthorizedOperations: clusterOperations(
        context,
        body.includeClusterAuthorizedOperations === true,
      ),
    };
  };
}

/** Key types of FindCoordinator: 0 group, 1 transaction. */
const KEY_TYPE_GROUP = 0;

/** FindCoordinator key types: 0 group, 1 transaction, 2 share group (Kafka's CoordinatorType). */
const KNOWN_KEY_TYPES: ReadonlySet<number> = new Set([0, 1, 2]);

export function findCoordinatorHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    // A cluster keeps group offsets in its internal topic: made on the first FindCoordinator.
    if (body.keyType === KEY_TYPE_GROUP && ctx.broker.cluster !== undefined) {
      try {
        await ctx.broker.ensureOffsetsTopic();
      } catch (err) {
        ctx.logger.warn("the offsets topic could not be created yet", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    const keyType = body.keyType as number;
    const answer = (key: string) => {
      const ok = keyType === KEY_TYPE_GROUP;
      if (!KNOWN_KEY_TYPES.has(keyType)) {
        // Kafka's FindCoordinatorRequest refuses a coordinator type it does not know.
        return {
          key,
          nodeId: -1,
          host: "",
          port: -1,
          errorCode: KafkaError.INVALID_REQUEST,
          errorMessage: `unknown coordinator type ${keyType}`,
        };
      }
      if (ok && !may(context, "group", key, "read")) {
        return {
          key,
          nodeId: -1,
          host: "",
          port: -1,
          errorCode: KafkaError.GROUP_AUTHORIZATION_FAILED,
          errorMessage: denied(context, "group", key, "read"),
        };
      }
      const coordinator = ok ? groupCoordinator(ctx, key) : undefined;
      return {
        key,
        nodeId: coordinator?.nodeId ?? -1,
        host: coordinator?.host ?? "",
        port: coordinator?.port ?? -1,
        errorCode: coordinator !== undefined
          ? KafkaError.NONE
          : KafkaError.COORDINATOR_NOT_AVAILABLE,
        errorMessage: ok
          ? (coordinator === undefined ? "the group's coordinator is not available yet" : null)
          : "transactions are not supported",
      };
    };
    const keys = (body.coordinatorKeys as string[] | undefined) ?? [];
    const single = answer(body.key as string);
    return {
      throttleTimeMs: 0,
      errorCode: single.errorCode,
      errorMessage: single.errorMessage,
      nodeId: single.nodeId,
      host: single.host,
      port: single.port,
      coordinators: keys.map(answer),
    };
  };
}

/**
 * A CreateTopics manual assignment, checked as Kafka's controller checks one: numPartitions and
 * replicationFactor both -1, partition indexes 0..n-1 each once, every partition with the same
 * number of distinct, registered brokers (`registered`: node 0 alone on one node, so the one
 * assignment that passes there gives each partition [0]; the live brokers in a cluster). Null when
 * it passes.
 */
function checkManualAssignment(
  assignments: readonly { partitionIndex: number; brokerIds: number[] }[],
  numPartitions: number,
  replicationFactor: number,
  registered: readonly number[],
): { code: number; message: string } | null {
  if (numPartitions !== -1) {
    return {
      code: KafkaError.INVALID_REQUEST,
      message: "A manual partition assignment was specified, but numPartitions was not set to -1.",
    };
  }
  if (replicationFactor !== -1) {
    return {
      code: KafkaError.INVALID_REQUEST,
      message:
        "A manual partition assignment was specified, but replicationFactor was not set to -1.",
    };
  }
  const bad = (message: string) => ({ code: KafkaError.INVALID_REPLICA_ASSIGNMENT, message });
  const seen = new Set<number>();
  for (const a of assignments) {
    if (
      a.partitionIndex < 0 || a.partitionIndex >= assignments.length || seen.has(a.partitionIndex)
    ) {
      return bad(`partition indexes must be 0..${assignments.length - 1}, each once`);
    }
    seen.add(a.partitionIndex);
    if (a.brokerIds.length === 0) {
      return bad(`partition ${a.partitionIndex} has an empty replica list`);
    }
    if (new Set(a.brokerIds).size !== a.brokerIds.length) {
      return bad(`partition ${a.partitionIndex} names a broker twice`);
    }
    const unknown = a.brokerIds.find((id) => !registered.includes(id));
    if (unknown !== undefined) {
      return bad(
        `The manual partition assignment includes broker ${unknown}, but no such broker is ` +
          `registered (this cluster is node${registered.length > 1 ? "s" : ""} ` +
          `${registered.join(", ")}).`,
      );
    }
    if (a.brokerIds.length !== assignments[0].brokerIds.length) {
      return bad(
        "All partitions in the manual partition assignment must have the same number of replicas.",
      );
    }
  }
  return null;
}

export function createTopicsHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const validateOnly = body.validateOnly as boolean;
    const out: Struct[] = [];
    // A name given twice: one answer, INVALID_REQUEST, and nothing created (Kafka's check).
    const counts = new Map<string, number>();
    for (const t of body.topics as Struct[]) {
      counts.set(t.name as string, (counts.get(t.name as string) ?? 0) + 1);
    }
    const answeredTwice = new Set<string>();
    for (const t of body.topics as Struct[]) {
      const name = t.name as string;
      if ((counts.get(name) ?? 0) > 1) {
        if (answeredTwice.has(name)) continue;
        answeredTwice.add(name);
        out.push({
          name,
          topicId: ZERO_UUID,
          errorCode: KafkaError.INVALID_REQUEST,
          errorMessage: "Found multiple entries for this topic.",
          numPartitions: -1,
          replicationFactor: -1,
          configs: [],
        });
        continue;
      }
      const replicationFactor = t.replicationFactor as number;
      let partitions = t.numPartitions as number;
      const cluster = ctx.broker.cluster;
      const result = (errorCode: number, errorMessage: string | null, n = -1, rf = 1) => ({
        name,
        topicId: ZERO_UUID,
        errorCode,
        errorMessage,
        numPartitions: n,
        replicationFactor: n === -1 ? -1 : rf,
        configs: [],
      });
      if (!may(context, "topic", name, "admin")) {
        out.push(result(
          KafkaError.TOPIC_AUTHORIZATION_FAILED,
          denied(context, "topic", name, "admin"),
        ));
        continue;
      }
      const assignments = t.assignments as { partitionIndex: number; brokerIds: number[] }[];
      if (assignments.length > 0) {
        // Kafka's checks of a manual assignment (the controller's), against this one node.
        const refused = checkManualAssignment(
          assignments,
          partitions,
          replicationFactor,
          cluster === undefined ? [NODE_ID] : cluster.metadata.liveBrokerIds(),
        );
        if (refused !== null) {
          out.push(result(refused.code, refused.message));
          continue;
        }
        partitions = assignments.length;
      } else if (cluster !== undefined) {
        if (replicationFactor === 0 || replicationFactor < -1) {
          out.push(result(
            KafkaError.INVALID_REPLICATION_FACTOR,
            "Replication factor must be larger than 0, or -1 to use the default value.",
          ));
          continue;
        }
      } else if (replicationFactor !== -1 && replicationFactor !== 1) {
        out.push(result(
          KafkaError.INVALID_REPLICATION_FACTOR,
          `replication factor ${replicationFactor}: this broker is a single node (use 1 or -1)`,
        ));
        continue;
      }
      if (partitions === -1) partitions = ctx.settings.defaultPartitions;
      else if (partitions < 1) {
        out.push(result(
          KafkaError.INVALID_PARTITIONS,
          "Number of partitions was set to an invalid non-positive value.",
        ));
        continue;
      }
      const config: Record<string, string> = {};
      for (const c of t.configs as { name: string; value: string | null }[]) {
        if (c.value !== null) config[c.name] = c.value;
      }
      try {
        if (validateOnly) {
          try {
            ctx.broker.topics.get(name);
            out.push(result(KafkaError.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`));
            continue;
          } catch (err) {
            if (!isSluiceError(err, "TOPIC_NOT_FOUND")) throw err;
          }
          // Everything creating it would check, nothing written.
          const valid = ctx.broker.topics.validateNew(name, partitions, config);
          out.push({
            ...result(KafkaError.NONE, null, partitions),
            // Kafka's controller draws the id before it checks validateOnly: a fresh one.
            topicId: randomTopicId(),
            configs: createdTopicConfigs(valid.config, valid.overrides),
          });
          continue;
        }
        const sorted = [...assignments].sort((a, b) => a.partitionIndex - b.partitionIndex);
        const topic = await ctx.broker.createTopic(name, partitions, config, {
          replicationFactor: replicationFactor === -1 ? undefined : replicationFactor,
          replicas: assignments.length > 0 ? sorted.map((a) => a.brokerIds) : undefined,
        });
        const rf = cluster?.metadata.topics.get(name)?.value.replicas[0]?.length ?? 1;
        out.push({
          ...result(KafkaError.NONE, null, topic.logs.length, rf),
          topicId: topicIdOf(topic),
          configs: createdTopicConfigs(topic.config, topic.meta.overrides),
        });
      } catch (err) {
        out.push(result(kafkaErrorCode(err), err instanceof Error ? err.message : String(err)));
      }
    }
    return { throttleTimeMs: 0, topics: out };
  };
}

export function initProducerIdHandler(ctx: KafkaContext): Handler {
  // Transactional ids are refused (no transaction coordinator); a producer re-initialising
  // itself (v3+: its current id and epoch) gets a new id, always safe without transactions. In a
  // cluster the ids come from blocks reserved in etcd, unique across the brokers.
  return async (body) => {
    try {
      const transactionalId = body.transactionalId as string | null;
      const cluster = ctx.broker.cluster;
      if (cluster === undefined) {
        const r = initProducerId(ctx.producerIds, transactionalId);
        return { throttleTimeMs: 0, errorCode: KafkaError.NONE, ...r };
      }
      refuseTransactionalId(transactionalId);
      return {
        throttleTimeMs: 0,
        errorCode: KafkaError.NONE,
        producerId: await cluster.producerIds.allocate(),
        producerEpoch: PRODUCER_EPOCH_INITIAL,
      };
    } catch (err) {
      // Refused (a transactional id) or the mark could not be written: no id handed out.
      return {
        throttleTimeMs: 0,
        errorCode: kafkaErrorCode(err),
        producerId: -1n,
        producerEpoch: -1,
      };
    }
  };
}
