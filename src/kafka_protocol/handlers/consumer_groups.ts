/**
 * ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848): the wire side of
 * src/broker/groups/consumer_coordinator.ts. The wire names topics by id (topic_ids.ts), the
 * coordinator by name: owned partitions of a topic id the broker does not know are left out (a
 * deleted topic's partitions are gone), assignments are sent with each topic's id.
 *
 * With authentication each needs read on the group (ConsumerGroupDescribe: describe, here
 * `admin`, as DescribeGroups) and, for a heartbeat, read on each subscribed topic
 * (TOPIC_AUTHORIZATION_FAILED otherwise, as Kafka).
 */
import { AUTHORIZED_OPERATIONS_UNKNOWN, groupOperations } from "../authorized_operations.ts";
import type {
  ConsumerGroupError,
  TopicPartitions,
} from "../../broker/groups/consumer_coordinator.ts";
import { may } from "../acl.ts";
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { topicById, topicIdOf } from "../topic_ids.ts";

/** ConsumerGroupDescribe v1's member_type for a consumer-protocol member (KIP-1099). */
const MEMBER_TYPE_CONSUMER = 1;

export function consumerGroupErrorCode(error: ConsumerGroupError): number {
  return KafkaError[error];
}

export function consumerGroupHeartbeatHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const groupId = body.groupId as string;
    const refuse = (errorCode: number, errorMessage: string) =>
      Promise.resolve({
        throttleTimeMs: 0,
        errorCode,
        errorMessage,
        memberId: null,
        memberEpoch: -1,
        heartbeatIntervalMs: 0,
        assignment: null,
      });
    if (!may(context, "group", groupId, "read")) {
      return refuse(KafkaError.GROUP_AUTHORIZATION_FAILED, `not authorized for group ${groupId}`);
    }
    const subscribed = body.subscribedTopicNames as string[] | null;
    const deniedTopic = (subscribed ?? []).find((t) => !may(context, "topic", t, "read"));
    if (deniedTopic !== undefined) {
      return refuse(
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        `not authorized for topic ${deniedTopic}`,
      );
    }
    const wireOwned = body.topicPartitions as
      | { topicId: Uint8Array; partitions: number[] }[]
      | null;
    let owned: TopicPartitions[] | null = null;
    if (wireOwned !== null) {
      owned = [];
      for (const t of wireOwned) {
        const topic = topicById(ctx.broker.topics, t.topicId);
        if (topic !== undefined) owned.push({ topic: topic.name, partitions: t.partitions });
      }
    }
    const result = ctx.consumerGroups.heartbeat({
      groupId,
      memberId: body.memberId as string,
      memberEpoch: body.memberEpoch as number,
      instanceId: body.instanceId as string | null,
      rackId: body.rackId as string | null,
      rebalanceTimeoutMs: body.rebalanceTimeoutMs as number,
      subscribedTopicNames: subscribed,
      subscribedTopicRegex: (body.subscribedTopicRegex as string | null | undefined) ?? null,
      serverAssignor: body.serverAssignor as string | null,
      ownedPartitions: owned,
      clientId: context.clientId ?? "",
      clientHost: context.clientHost,
    });
    return Promise.resolve({
      throttleTimeMs: 0,
      errorCode: consumerGroupErrorCode(result.error),
      errorMessage: result.errorMessage,
      memberId: result.memberId,
      memberEpoch: result.memberEpoch,
      heartbeatIntervalMs: result.heartbeatIntervalMs,
      assignment: result.assignment === null ? null : {
        topicPartitions: withIds(ctx, result.assignment).map((t) => ({
          topicId: t.topicId,
          partitions: t.partitions,
        })),
      },
    });
  };
}

/** The partitions with their topics' ids; a topic deleted meanwhile is left out. */
function withIds(
  ctx: KafkaContext,
  list: TopicPartitions[],
): { topicId: Uint8Array; topicName: string; partitions: number[] }[] {
  const out = [];
  for (const t of list) {
    let topicId: Uint8Array;
    try {
      topicId = topicIdOf(ctx.broker.topics.get(t.topic));
    } catch {
      continue;
    }
    out.push({ topicId, topicName: t.topic, partitions: t.partitions });
  }
  return out;
}

export function consumerGroupDescribeHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const asked = body.includeAuthorizedOperations === true;
    const groups: Struct[] = (body.groupIds as string[]).map((groupId) => {
      const empty = {
        groupId,
        groupState: "",
        groupEpoch: 0,
        assignmentEpoch: 0,
        assignorName: "",
        members: [],
        authorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
      };
      if (!may(context, "group", groupId, "admin")) {
        return {
          ...empty,
          errorCode: KafkaError.GROUP_AUTHORIZATION_FAILED,
          errorMessage: `not authorized for group ${groupId}`,
        };
      }
      const d = ctx.consumerGroups.describe(groupId);
      if (d === undefined || ctx.groups.hasActiveGroup(groupId)) {
        return {
          ...empty,
          errorCode: KafkaError.GROUP_ID_NOT_FOUND,
          errorMessage: `Group ${groupId} ${
            ctx.groups.hasActiveGroup(groupId) || ctx.broker.groups.hasMembers(groupId)
              ? "is not a consumer group"
              : "not found"
          }.`,
        };
      }
      return {
        errorCode: KafkaError.NONE,
        errorMessage: null,
        groupId,
        groupState: d.state,
        groupEpoch: d.groupEpoch,
        assignmentEpoch: d.assignmentEpoch,
        assignorName: d.assignor,
        members: d.members.map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: m.subscribedTopicNames,
          // Kafka's default when the member subscribes by names: "".
          subscribedTopicRegex: m.subscribedTopicRegex ?? "",
          assignment: { topicPartitions: withIds(ctx, m.assignment) },
          targetAssignment: { topicPartitions: withIds(ctx, m.targetAssignment) },
          memberType: MEMBER_TYPE_CONSUMER,
        })),
        authorizedOperations: groupOperations(context, groupId, asked),
      };
    });
    return Promise.resolve({ throttleTimeMs: 0, groups });
  };
}
