/**
 * The `consumer` protocol's checks and views that need no coordinator state beyond one group:
 * a heartbeat's validation (Kafka's messages), the member-epoch fence, the commit and
 * offset-fetch checks, and a group's description with its state.
 */
import {
  CONSUMER_GROUP_REGEX_LENGTH_MAX,
  CONSUMER_GROUP_SUBSCRIBED_TOPICS_MAX,
} from "../../limits.ts";
import {
  CONSUMER_ASSIGNORS,
  type ConsumerGroupDescription,
  type ConsumerGroupError,
  type ConsumerGroupState,
  type ConsumerHeartbeatRequest,
  type Group,
  isConsumerAssignor,
  type Member,
} from "./consumer_types.ts";
import { fromFlat, has, toList } from "./owned.ts";

const GROUP_ID_MAX = 249;

/** Why a heartbeat is refused before its group is looked at: the error and its message, or null. */
export function refuseHeartbeat(
  req: ConsumerHeartbeatRequest,
): { error: ConsumerGroupError; message: string } | null {
  const invalid = validateHeartbeat(req);
  if (invalid !== null) return { error: "INVALID_REQUEST", message: invalid };
  if (req.serverAssignor !== null && !isConsumerAssignor(req.serverAssignor)) {
    return {
      error: "UNSUPPORTED_ASSIGNOR",
      message: `server assignor ${req.serverAssignor} is not one of ${
        CONSUMER_ASSIGNORS.join(", ")
      }`,
    };
  }
  if (req.subscribedTopicRegex !== null) {
    try {
      new RegExp(req.subscribedTopicRegex);
    } catch {
      return {
        error: "INVALID_REGULAR_EXPRESSION",
        message: `bad regex ${req.subscribedTopicRegex}`,
      };
    }
  }
  return null;
}

/** Why a heartbeat is INVALID_REQUEST (Kafka's words), or null. */
export function validateHeartbeat(req: ConsumerHeartbeatRequest): string | null {
  if (req.groupId === "" || req.groupId.length > GROUP_ID_MAX) {
    return "GroupId can't be empty.";
  }
  if (req.instanceId === "") return "InstanceId can't be empty.";
  if (req.rackId === "") return "RackId can't be empty.";
  if (req.memberEpoch < -2) return `MemberEpoch ${req.memberEpoch} is invalid.`;
  if (req.memberId === "" && req.memberEpoch !== 0) return "MemberId can't be empty.";
  if (req.memberEpoch === -2 && req.instanceId === null) {
    return "InstanceId can't be null when leaving with epoch -2.";
  }
  if (req.memberEpoch === 0) {
    if (req.rebalanceTimeoutMs === -1) {
      return "RebalanceTimeoutMs must be provided in first request.";
    }
    if (req.ownedPartitions === null || req.ownedPartitions.some((t) => t.partitions.length)) {
      return "TopicPartitions must be empty when (re-)joining.";
    }
    if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) {
      return "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.";
    }
  }
  if ((req.subscribedTopicNames?.length ?? 0) > CONSUMER_GROUP_SUBSCRIBED_TOPICS_MAX) {
    return `at most ${CONSUMER_GROUP_SUBSCRIBED_TOPICS_MAX} subscribed topics`;
  }
  if ((req.subscribedTopicRegex?.length ?? 0) > CONSUMER_GROUP_REGEX_LENGTH_MAX) {
    return `a subscription regex has at most ${CONSUMER_GROUP_REGEX_LENGTH_MAX} characters`;
  }
  return null;
}

/**
 * The member's epoch, or its previous one with owned partitions its assignment has (the member
 * missed our last answer).
 */
export function epochOk(member: Member, req: ConsumerHeartbeatRequest): boolean {
  if (req.memberEpoch === member.memberEpoch) return true;
  if (req.memberEpoch > member.memberEpoch) return false;
  if (req.memberEpoch !== member.previousMemberEpoch || req.ownedPartitions === null) {
    return false;
  }
  return req.ownedPartitions.every((t) =>
    t.partitions.every((p) => has(member.assigned, t.topic, p))
  );
}

/** An OffsetCommit's check against the group ("NONE": write it); a member's commit counts as seen. */
export function commitError(
  group: Group,
  memberId: string,
  memberEpoch: number,
  apiVersion: number,
  nowMs: number,
): ConsumerGroupError {
  if (memberEpoch < 0 && memberId === "") {
    return group.members.size === 0 ? "NONE" : "UNKNOWN_MEMBER_ID";
  }
  const member = group.members.get(memberId);
  if (member === undefined || member.leftStatic) return "UNKNOWN_MEMBER_ID";
  if (apiVersion < 9) return "UNSUPPORTED_VERSION";
  if (memberEpoch !== member.memberEpoch) return "STALE_MEMBER_EPOCH";
  member.lastSeenMs = nowMs;
  return "NONE";
}

/** OffsetFetch v9+: a member's id and epoch are checked. */
export function offsetFetchError(
  group: Group,
  memberId: string | null,
  memberEpoch: number,
): ConsumerGroupError {
  if (memberId === null || memberEpoch < 0) return "NONE";
  const member = group.members.get(memberId);
  if (member === undefined || member.leftStatic) return "UNKNOWN_MEMBER_ID";
  if (memberEpoch !== member.memberEpoch) return "STALE_MEMBER_EPOCH";
  return "NONE";
}

export function describeGroup(group: Group): ConsumerGroupDescription {
  const members = [...group.members.values()];
  let state: ConsumerGroupState = "Stable";
  if (members.length === 0) state = "Empty";
  else if (group.groupEpoch > group.assignmentEpoch) state = "Assigning";
  else if (
    members.some((m) => m.memberEpoch !== group.assignmentEpoch || m.state !== "stable")
  ) state = "Reconciling";
  return {
    groupId: group.id,
    state,
    groupEpoch: group.groupEpoch,
    assignmentEpoch: group.assignmentEpoch,
    assignor: group.assignor,
    members: members.map((m) => ({
      memberId: m.memberId,
      kind: m.kind,
      instanceId: m.instanceId,
      rackId: m.rackId,
      memberEpoch: m.leftStatic ? -2 : m.memberEpoch,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.topics,
      subscribedTopicRegex: m.regex,
      assignment: toList(m.assigned),
      targetAssignment: toList(fromFlat(group.target.get(m.memberId))),
    })),
  };
}

/** A static member back under a new member id: it takes over the old one's partitions and epoch. */
export function adoptStaticMember(group: Group, from: Member, to: Member): void {
  group.members.delete(from.memberId);
  to.topics = from.topics;
  to.regex = from.regex;
  to.serverAssignor = from.serverAssignor;
  to.assigned = from.assigned;
  to.revoking = from.revoking;
  to.memberEpoch = from.memberEpoch;
  to.previousMemberEpoch = from.previousMemberEpoch;
  to.state = from.state;
  to.revokeDeadlineMs = from.revokeDeadlineMs;
  const target = group.target.get(from.memberId);
  group.target.delete(from.memberId);
  if (target !== undefined) group.target.set(to.memberId, target);
  for (const [k, owner] of group.owners) {
    if (owner === from.memberId) group.owners.set(k, to.memberId);
  }
}
