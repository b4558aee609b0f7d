/**
 * A topic's life after its creation, over Kafka's wire: AlterConfigs, IncrementalAlterConfigs and
 * CreatePartitions (kafka-configs --alter, kafka-topics --alter --partitions, AdminClient's
 * alterConfigs / incrementalAlterConfigs / createPartitions, kafkajs alterConfigs and
 * createPartitions).
 *
 * AlterConfigs and IncrementalAlterConfigs, per resource, as Kafka's broker answers:
 * - first, whatever the resource: named twice in the request, INVALID_REQUEST for each; a key
 *   named twice or a null value (IncrementalAlterConfigs: other than with DELETE), INVALID_REQUEST
 *   (Kafka's broker checks these before rights, the type and the resource's existence);
 * - a TOPIC (2): `admin` right on it (TOPIC_AUTHORIZATION_FAILED); AlterConfigs replaces the
 *   topic's overrides whole, IncrementalAlterConfigs applies SET/DELETE/APPEND/SUBTRACT
 *   (src/broker/topic_overrides.ts); unknown keys and bad values are INVALID_CONFIG, and nothing
 *   changes; then the topic must exist (UNKNOWN_TOPIC_OR_PARTITION: Kafka's controller checks the
 *   configs first); validate_only checks and changes nothing. The change is persisted and applied
 *   to the running logs (in a cluster, written to etcd and applied by every broker) before the
 *   answer.
 * - a BROKER (4): this broker's id or "" (cluster-wide defaults): Sluice's broker settings are
 *   static (flags, environment, config file), so any change is INVALID_CONFIG; another id is
 *   INVALID_REQUEST; without `admin` on topic "*" CLUSTER_AUTHORIZATION_FAILED.
 * - any other type: INVALID_REQUEST.
 *
 * CreatePartitions, per topic: a topic named twice is INVALID_REQUEST, answered once; `admin`
 * right (TOPIC_AUTHORIZATION_FAILED), the topic must exist; the count must be above today's
 * (INVALID_PARTITIONS, with Kafka's messages); a manual assignment needs one replica list per new
 * partition, each as long as the topic's replication factor, of distinct registered brokers
 * (INVALID_REPLICA_ASSIGNMENT). Keyed records hash over the new count from then on, as in Kafka.
 */
import { may } from "../acl.ts";
import type { Handler, RequestContext } from "../apis.ts";
import { ownNodeId } from "../cluster_view.ts";
import type { Struct } from "../codec.ts";
import { type KafkaContext, NODE_ID } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode, kafkaErrorMessage } from "../errors.ts";
import { existingTopic, RESOURCE_BROKER, RESOURCE_TOPIC } from "./configs.ts";
import {
  applyConfigChanges,
  checkConfigNames,
  type ConfigChange,
  replaceOverrides,
  type TopicOverrides,
} from "../../broker/topic_overrides.ts";

interface AlterResource {
  resourceType: number;
  resourceName: string;
  configs: { name: string; value: string | null; configOperation?: number }[];
}

type Change = (current: Readonly<TopicOverrides>) => Record<string, string>;

function denied(context: RequestContext, what: string): string {
  return `principal "${context.principal?.name}" may not alter ${what}`;
}

/** One resource's answer. */
async function alterResource(
  ctx: KafkaContext,
  context: RequestContext,
  resource: AlterResource,
  change: Change,
  validateOnly: boolean,
): Promise<[number, string | null]> {
  const { resourceType, resourceName } = resource;
  if (resourceType === RESOURCE_TOPIC) {
    if (!may(context, "topic", resourceName, "admin")) {
      return [
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        denied(context, `topic ${JSON.stringify(resourceName)}`),
      ];
    }
    if (existingTopic(ctx, resourceName) === undefined) {
      // Kafka's controller checks the new configs before it looks for the topic: an unknown key
      // or a bad value is INVALID_CONFIG even for a topic that does not exist.
      try {
        ctx.broker.topics.checkOverrides(change({}));
      } catch (err) {
        return [kafkaErrorCode(err), kafkaErrorMessage(err)];
      }
      return [
        KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
        `topic ${JSON.stringify(resourceName)} does not exist`,
      ];
    }
    try {
      await ctx.broker.alterTopicConfig(resourceName, change, { validateOnly });
      return [KafkaError.NONE, null];
    } catch (err) {
      return [kafkaErrorCode(err), kafkaErrorMessage(err)];
    }
  }
  if (resourceType === RESOURCE_BROKER) {
    const self = ownNodeId(ctx.broker);
    if (resourceName !== "" && resourceName !== String(self)) {
      return [
        KafkaError.INVALID_REQUEST,
        `Unexpected broker id, expected ${self}, but received ${resourceName}`,
      ];
    }
    if (!may(context, "topic", "*", "admin")) {
      return [KafkaError.CLUSTER_AUTHORIZATION_FAILED, denied(context, "the broker's configs")];
    }
    return [
      KafkaError.INVALID_CONFIG,
      "Sluice's broker settings are static (flags, environment, config file): " +
      "they cannot be changed at run time",
    ];
  }
  return [KafkaError.INVALID_REQUEST, `Unknown resource type ${resourceType}`];
}

/** INVALID_REQUEST when the resource names a key twice or gives a null value (checkConfigNames). */
function namesChecked(r: AlterResource): [number, string | null] | undefined {
  try {
    checkConfigNames(r.configs);
    return undefined;
  } catch (err) {
    return [kafkaErrorCode(err), kafkaErrorMessage(err)];
  }
}

/** AlterConfigs (incremental: false) or IncrementalAlterConfigs (true). */
function alterConfigsHandler(ctx: KafkaContext, incremental: boolean): Handler {
  return async (body, context) => {
    const resources = body.resources as unknown as AlterResource[];
    const validateOnly = body.validateOnly === true;
    const times = new Map<string, number>();
    const keyOf = (r: AlterResource) => `${r.resourceType}/${r.resourceName}`;
    for (const r of resources) times.set(keyOf(r), (times.get(keyOf(r)) ?? 0) + 1);
    const responses: Struct[] = [];
    for (const r of resources) {
      // A resource named twice, a key twice or a null value: refused before rights, type and
      // existence are looked at, as Kafka's broker does.
      const refused: [number, string | null] | undefined = times.get(keyOf(r))! > 1
        ? [KafkaError.INVALID_REQUEST, "Each resource must appear at most once."]
        : namesChecked(r);
      const change: Change = incremental
        ? (current) =>
          applyConfigChanges(
            current,
            r.configs.map((c): ConfigChange => ({
              name: c.name,
              op: c.configOperation ?? 0,
              value: c.value,
            })),
            ctx.broker.topics.topicDefaults,
          )
        : () => replaceOverrides(r.configs);
      const answer = refused ?? await alterResource(ctx, context, r, change, validateOnly);
      responses.push({
        errorCode: answer[0],
        errorMessage: answer[1],
        resourceType: r.resourceType,
        resourceName: r.resourceName,
      });
    }
    return { throttleTimeMs: 0, responses };
  };
}

export function alterConfigsHandlerOf(ctx: KafkaContext): Handler {
  return alterConfigsHandler(ctx, false);
}

export function incrementalAlterConfigsHandler(ctx: KafkaContext): Handler {
  return alterConfigsHandler(ctx, true);
}

interface CreatePartitionsTopic {
  name: string;
  count: number;
  assignments: { brokerIds: number[] }[] | null;
}

/** A manual assignment of `added` new partitions, checked as Kafka's controller does; or why not. */
function checkNewAssignment(
  assignments: readonly { brokerIds: number[] }[],
  added: number,
  replicationFactor: number,
  registered: readonly number[],
): string | undefined {
  if (assignments.length !== added) {
    return `Attempted to add ${added} additional partition(s), but only ${assignments.length} ` +
      "assignment(s) were specified.";
  }
  for (const [i, a] of assignments.entries()) {
    if (a.brokerIds.length !== replicationFactor) {
      return `The manual partition assignment of new partition ${i} has ${a.brokerIds.length} ` +
        `replica(s), but the topic's replication factor is ${replicationFactor}.`;
    }
    if (new Set(a.brokerIds).size !== a.brokerIds.length) {
      return `The manual partition assignment of new partition ${i} names a broker twice.`;
    }
    const unknown = a.brokerIds.find((id) => !registered.includes(id));
    if (unknown !== undefined) {
      return `The manual partition assignment includes broker ${unknown}, but no such broker ` +
        "is registered.";
    }
  }
  return undefined;
}

export function createPartitionsHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const topics = body.topics as unknown as CreatePartitionsTopic[];
    const validateOnly = body.validateOnly === true;
    const times = new Map<string, number>();
    for (const t of topics) times.set(t.name, (times.get(t.name) ?? 0) + 1);
    const answeredTwice = new Set<string>();
    const results: Struct[] = [];
    for (const t of topics) {
      const result = (errorCode: number, errorMessage: string | null) =>
        results.push({ name: t.name, errorCode, errorMessage });
      if (times.get(t.name)! > 1) {
        // One answer for the name, however many times it came (Kafka's ControllerApis).
        if (!answeredTwice.has(t.name)) result(KafkaError.INVALID_REQUEST, "Duplicate topic name.");
        answeredTwice.add(t.name);
        continue;
      }
      if (!may(context, "topic", t.name, "admin")) {
        result(KafkaError.TOPIC_AUTHORIZATION_FAILED, denied(context, `topic ${t.name}`));
        continue;
      }
      const topic = existingTopic(ctx, t.name);
      if (topic === undefined) {
        result(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`);
        continue;
      }
      const cluster = ctx.broker.cluster;
      let replicas: number[][] | undefined;
      if (t.assignments !== null && t.count > topic.logs.length) {
        const replicationFactor = cluster === undefined
          ? 1
          : cluster.metadata.topics.get(t.name)?.value.replicas[0].length ?? 1;
        const why = checkNewAssignment(
          t.assignments,
          t.count - topic.logs.length,
          replicationFactor,
          cluster === undefined ? [NODE_ID] : cluster.metadata.liveBrokerIds(),
        );
        if (why !== undefined) {
          result(KafkaError.INVALID_REPLICA_ASSIGNMENT, why);
          continue;
        }
        replicas = t.assignments.map((a) => a.brokerIds);
      }
      try {
        await ctx.broker.createPartitions(t.name, t.count, { replicas, validateOnly });
        result(KafkaError.NONE, null);
      } catch (err) {
        result(kafkaErrorCode(err), kafkaErrorMessage(err));
      }
    }
    return { throttleTimeMs: 0, results };
  };
}
