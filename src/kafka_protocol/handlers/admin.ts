/**
 * DescribeGroups, ListGroups, DeleteTopics, DeleteGroups and OffsetDelete: what Kafka's admin tools
 * ask (kafka-consumer-groups, kafka-topics --delete, the kafkajs and librdkafka admin clients).
 *
 * Consumer-protocol groups (Kafka and HTTP members alike), classic groups and committed offsets
 * share one id space; a group id is described by the first of these that knows it:
 * - a consumer-protocol group with members: its state (Assigning, Reconciling, Stable), protocol
 *   type "consumer", the server-side assignor as the protocol, each member's subscription and
 *   assignment in the classic consumer protocol's bytes (as Kafka describes such a group to
 *   DescribeGroups; HTTP members with client id "sluice-http"), so Kafka's tools, which describe
 *   only "consumer" groups, show it with its lag; an empty one is Empty; ListGroups v5 gives its
 *   type, "consumer" ("classic" for every other group) and filters by type;
 * - a classic group with members (or rebalancing): as Kafka describes it (the
 *   ClassicGroupCoordinator's state, protocol type, elected protocol, members' metadata and
 *   assignment bytes);
 * - a group with committed offsets or a stored HTTP group without members: Empty, no members,
 *   protocol type "consumer" when it had consumers, else "" (as Kafka shows a group of simple
 *   commits);
 * - anything else: Dead with no error, as Kafka's DescribeGroups answers for an unknown group.
 *
 * DeleteGroups forgets a group's committed offsets and stored membership (OffsetStore.deleteGroup)
 * only when no member, Kafka or HTTP, uses it: NON_EMPTY_GROUP otherwise, GROUP_ID_NOT_FOUND when
 * nothing is stored for it. OffsetDelete forgets a group's committed offsets for the partitions
 * named (OffsetStore.deleteOffsets, one batch), except, while the group has members, those of the
 * topics they subscribe to (GROUP_SUBSCRIBED_TO_TOPIC per partition, KIP-496; a classic group of
 * another protocol type than "consumer" is NON_EMPTY_GROUP); GROUP_ID_NOT_FOUND when nothing is
 * known of the group; a topic or partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION per
 * partition, and a partition without a committed offset succeeds, as in Kafka. DeleteTopics deletes
 * by name or (v6) by topic id.
 *
 * With authentication: DescribeGroups and DeleteGroups need admin on each group
 * (GROUP_AUTHORIZATION_FAILED), ListGroups lists only groups with it, DeleteTopics needs admin on
 * each topic (TOPIC_AUTHORIZATION_FAILED), OffsetDelete admin on the group (Kafka: DELETE) and read
 * on each topic (Kafka: READ; TOPIC_AUTHORIZATION_FAILED per partition).
 */
import { isSluiceError } from "../../errors.ts";
import { denied, may } from "../acl.ts";
import { AUTHORIZED_OPERATIONS_UNKNOWN, groupOperations } from "../authorized_operations.ts";
import type { Handler } from "../apis.ts";
import { encode, type MessageSchema, type Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { kafkaErrorCode, kafkaErrorMessage } from "../errors.ts";
import { topicById, topicIdOf } from "../topic_ids.ts";
import { existingTopic } from "./configs.ts";
import {
  CONSUMER_PROTOCOL_ASSIGNMENT,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
  readConsumerProtocol,
} from "../messages/consumer_protocol.ts";

const ZERO_UUID = new Uint8Array(16);
const EMPTY = new Uint8Array(0);
/** The protocol type Kafka consumers join with. */
const CONSUMER = "consumer";
export { HTTP_MEMBER_CLIENT_ID } from "../../broker/groups/http_members.ts";

/** A consumer-protocol message as a consumer writes it: int16 version 0, then the body. */
function consumerProtocolBytes(schema: MessageSchema, value: Struct): Uint8Array {
  const body = encode(schema, 0, value);
  const out = new Uint8Array(2 + body.length);
  out.set(body, 2);
  return out;
}

/** What every described group has; `members` only for groups with members. */
interface DescribedGroup {
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: Struct[];
  /** ListGroups v5's group_type: "consumer" for KIP-848 groups, else "classic". */
  groupType?: string;
}

/**
 * Describes groups by id (see the module comment for the order). Stored HTTP groups are read once
 * per request, so describing every group (ListGroups) stays linear.
 */
function groupDescriber(ctx: KafkaContext): (groupId: string) => DescribedGroup {
  const stored = new Set(ctx.broker.offsets.storedGroups().map(([id]) => id));
  return (groupId) => {
    if (ctx.consumerGroups.hasActiveGroup(groupId)) {
      // As Kafka shows a consumer group to DescribeGroups: the members' subscriptions and
      // assignments in the classic consumer protocol's bytes, the assignor as protocol.
      const d = ctx.consumerGroups.describe(groupId)!;
      return {
        groupId,
        groupState: d.state,
        protocolType: CONSUMER,
        protocolData: d.assignor,
        groupType: "consumer",
        members: d.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.instanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: consumerProtocolBytes(CONSUMER_PROTOCOL_SUBSCRIPTION, {
            topics: m.subscribedTopicNames,
            userData: EMPTY,
          }),
          memberAssignment: consumerProtocolBytes(CONSUMER_PROTOCOL_ASSIGNMENT, {
            assignedPartitions: m.assignment.map((t) => ({
              topic: t.topic,
              partitions: t.partitions,
            })),
            userData: EMPTY,
          }),
        })),
      };
    }
    if (ctx.groups.hasActiveGroup(groupId)) {
      const d = ctx.groups.describe(groupId);
      return {
        groupId,
        groupState: d.state,
        protocolType: d.protocolType,
        protocolData: d.protocolName,
        members: d.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
      };
    }
    if (ctx.consumerGroups.knows(groupId)) {
      return {
        groupId,
        groupState: "Empty",
        protocolType: CONSUMER,
        protocolData: "",
        groupType: "consumer",
        members: [],
      };
    }
    if (stored.has(groupId) || ctx.broker.offsets.hasOffsets(groupId)) {
      const kafka = ctx.groups.describe(groupId);
      const hadConsumers = stored.has(groupId) ||
        (kafka.state !== "Dead" && kafka.protocolType === CONSUMER);
      return {
        groupId,
        groupState: "Empty",
        protocolType: hadConsumers ? CONSUMER : "",
        protocolData: "",
        members: [],
      };
    }
    return { groupId, groupState: "Dead", protocolType: "", protocolData: "", members: [] };
  };
}

/** Every group id with members, a stored membership or committed offsets, sorted. */
function knownGroupIds(ctx: KafkaContext): string[] {
  const ids = new Set([...ctx.groups.activeGroupIds(), ...ctx.consumerGroups.groupIds()]);
  for (const [id] of ctx.broker.offsets.storedGroups()) ids.add(id);
  for (const id of ctx.broker.offsets.groupsWithOffsets()) ids.add(id);
  return [...ids].sort();
}

export function describeGroupsHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const describe = groupDescriber(ctx);
    const asked = body.includeAuthorizedOperations === true;
    return Promise.resolve({
      throttleTimeMs: 0,
      groups: (body.groups as string[]).map((id) =>
        may(context, "group", id, "admin")
          ? {
            errorCode: KafkaError.NONE,
            ...describe(id),
            authorizedOperations: groupOperations(context, id, asked),
          }
          : {
            errorCode: KafkaError.GROUP_AUTHORIZATION_FAILED,
            groupId: id,
            groupState: "",
            protocolType: "",
            protocolData: "",
            members: [],
            authorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
          }
      ),
    });
  };
}

export function listGroupsHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const states = new Set(
      ((body.statesFilter as string[] | undefined) ?? []).map((s) => s.toLowerCase()),
    );
    const types = new Set(
      ((body.typesFilter as string[] | undefined) ?? []).map((s) => s.toLowerCase()),
    );
    const describe = groupDescriber(ctx);
    const groups: Struct[] = [];
    for (const id of knownGroupIds(ctx)) {
      if (!may(context, "group", id, "admin")) continue;
      const d = describe(id);
      if (d.groupState === "Dead") continue;
      if (states.size > 0 && !states.has(d.groupState.toLowerCase())) continue;
      const groupType = d.groupType ?? "classic";
      if (types.size > 0 && !types.has(groupType)) continue;
      groups.push({
        groupId: id,
        protocolType: d.protocolType,
        groupState: d.groupState,
        groupType,
      });
    }
    return Promise.resolve({ throttleTimeMs: 0, errorCode: KafkaError.NONE, groups });
  };
}

export function deleteTopicsHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const apiVersion = context.apiVersion;
    const requested = apiVersion >= 6
      ? body.topics as { name: string | null; topicId: Uint8Array }[]
      : (body.topicNames as string[]).map((name) => ({ name, topicId: ZERO_UUID }));
    const times = new Map<string, number>();
    for (const { name } of requested) {
      if (name !== null) times.set(name, (times.get(name) ?? 0) + 1);
    }
    const responses: Struct[] = [];
    for (const { name, topicId } of requested) {
      const byId = topicId.some((b) => b !== 0);
      // v6+: a topic by name or by id (Kafka's rules: exactly one of them).
      let target = name;
      let id = topicId;
      const result = (errorCode: number, errorMessage: string | null) => ({
        name: target,
        topicId: apiVersion >= 6 ? id : ZERO_UUID,
        errorCode,
        errorMessage,
      });
      if (name === null && !byId) {
        responses.push(result(KafkaError.INVALID_REQUEST, "a topic name or a topic id is needed"));
        continue;
      }
      if (name !== null && byId) {
        responses.push(result(
          KafkaError.INVALID_REQUEST,
          "you may not specify both topic name and topic id",
        ));
        continue;
      }
      if (name === null) {
        const topic = topicById(ctx.broker.topics, topicId);
        if (topic === undefined) {
          responses.push(result(KafkaError.UNKNOWN_TOPIC_ID, "no topic has this id"));
          continue;
        }
        target = topic.name;
      } else {
        const topic = existingTopic(ctx, name);
        if (topic !== undefined) id = topicIdOf(topic);
      }
      const named = target!;
      if (!may(context, "topic", named, "admin")) {
        if (name === null) target = null; // a name the principal may not see stays unsaid
        responses.push(result(
          KafkaError.TOPIC_AUTHORIZATION_FAILED,
          denied(context, "topic", name ?? "(by id)", "admin"),
        ));
      } else if (name !== null && times.get(name)! > 1) {
        responses.push(result(KafkaError.INVALID_REQUEST, `topic ${name} is named twice`));
      } else {
        try {
          await ctx.broker.deleteTopic(named);
          responses.push(result(KafkaError.NONE, null));
        } catch (err) {
          // A name no topic can have names no topic: Kafka answers UNKNOWN_TOPIC_OR_PARTITION.
          const code = isSluiceError(err, "INVALID_TOPIC_NAME")
            ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION
            : kafkaErrorCode(err);
          responses.push(result(code, kafkaErrorMessage(err)));
        }
      }
    }
    return { throttleTimeMs: 0, responses };
  };
}

export function deleteGroupsHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const results: Struct[] = [];
    for (const groupId of new Set(body.groupsNames as string[])) {
      let errorCode: number = KafkaError.NONE;
      if (!may(context, "group", groupId, "admin")) {
        errorCode = KafkaError.GROUP_AUTHORIZATION_FAILED;
      } else if (
        ctx.broker.groups.hasMembers(groupId)
      ) {
        errorCode = KafkaError.NON_EMPTY_GROUP;
      } else {
        try {
          const forgotten = ctx.consumerGroups.deleteIfEmpty(groupId);
          const deleted = await ctx.broker.offsets.deleteGroup(groupId) || forgotten;
          ctx.broker.groups.forgetEmpty(groupId);
          if (deleted) ctx.logger.info("deleted group", { group: groupId, via: "kafka" });
          else errorCode = KafkaError.GROUP_ID_NOT_FOUND;
        } catch (err) {
          errorCode = kafkaErrorCode(err);
        }
      }
      results.push({ groupId, errorCode });
    }
    return { throttleTimeMs: 0, results };
  };
}

/**
 * KIP-496: the topics whose offsets OffsetDelete keeps for a group with members (each partition
 * GROUP_SUBSCRIBED_TO_TOPIC): the topics its members subscribe to (names and regex matches);
 * "all" when a classic group's are not known (no protocol chosen yet, metadata that does not
 * parse), as Kafka's ClassicGroup.isSubscribedToTopic; null for a classic group whose protocol
 * type is not "consumer" (NON_EMPTY_GROUP, Kafka's ClassicGroup.validateOffsetDelete).
 */
function keptTopics(ctx: KafkaContext, groupId: string): Set<string> | "all" | null {
  const classic = ctx.broker.groups.classic.memberProtocols(groupId);
  if (classic === undefined) {
    return ctx.broker.groups.consumer.subscribedTopics(groupId) ?? new Set();
  }
  if (classic.protocolType !== CONSUMER) return null;
  if (classic.metadata === null) return "all";
  const topics = new Set<string>();
  for (const metadata of classic.metadata) {
    const subscription = readConsumerProtocol(CONSUMER_PROTOCOL_SUBSCRIPTION, metadata);
    if (subscription === undefined) return "all";
    for (const topic of subscription.topics as string[]) topics.add(topic);
  }
  return topics;
}

export function offsetDeleteHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const groupId = body.groupId as string;
    const topics = body.topics as { name: string; partitions: { partitionIndex: number }[] }[];
    const refuse = (errorCode: number) => ({ errorCode, throttleTimeMs: 0, topics: [] });
    if (!may(context, "group", groupId, "admin")) {
      return refuse(KafkaError.GROUP_AUTHORIZATION_FAILED);
    }
    const kept = keptTopics(ctx, groupId);
    if (kept === null) return refuse(KafkaError.NON_EMPTY_GROUP);
    const offsets = ctx.broker.offsets;
    if (
      !ctx.broker.groups.hasMembers(groupId) && !ctx.broker.groups.consumer.knows(groupId) &&
      !offsets.hasOffsets(groupId) && !offsets.storedGroups().some(([id]) => id === groupId)
    ) {
      return refuse(KafkaError.GROUP_ID_NOT_FOUND);
    }
    const results = topics.map(({ name, partitions }) => {
      const readable = may(context, "topic", name, "read");
      const topic = readable ? existingTopic(ctx, name) : undefined;
      const errorOf = (partition: number): number =>
        !readable
          ? KafkaError.TOPIC_AUTHORIZATION_FAILED
          : topic === undefined || partition < 0 || partition >= topic.logs.length
          ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION
          : kept === "all" || kept.has(name)
          ? KafkaError.GROUP_SUBSCRIBED_TO_TOPIC
          : KafkaError.NONE;
      return {
        name,
        partitions: partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: errorOf(p.partitionIndex),
        })),
      };
    });
    const doomed = results.flatMap((t) =>
      t.partitions.filter((p) => p.errorCode === KafkaError.NONE)
        .map((p) => ({ topic: t.name, partition: p.partitionIndex }))
    );
    try {
      const deleted = await offsets.deleteOffsets(groupId, doomed);
      if (deleted > 0) {
        ctx.logger.info("deleted committed offsets", { group: groupId, partitions: deleted });
      }
    } catch (err) {
      const errorCode = kafkaErrorCode(err);
      for (const t of results) {
        for (const p of t.partitions) if (p.errorCode === KafkaError.NONE) p.errorCode = errorCode;
      }
    }
    return { errorCode: KafkaError.NONE, throttleTimeMs: 0, topics: results };
  };
}
