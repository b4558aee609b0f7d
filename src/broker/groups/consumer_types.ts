/**
 * The `consumer` group protocol's records: what a heartbeat carries and gets, what the coordinator
 * keeps per group and per member, and how a group is described. The protocol itself is described
 * in consumer_coordinator.ts.
 */
import type { Timer } from "../../clock.ts";
import {
  CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT,
  CONSUMER_GROUP_SESSION_TIMEOUT_MS_DEFAULT,
  GROUPS_MAX,
  MEMBERS_PER_GROUP_MAX,
} from "../../limits.ts";
import type { Assignment } from "./assignors.ts";
import type { Owned, TopicPartitions } from "./owned.ts";

/**
 * Server-side assignors; the first is the default. `uniform` and `range` are Kafka's;
 * `roundrobin` is Sluice's own (HTTP members may name it; Kafka's brokers do not have it).
 */
export const CONSUMER_ASSIGNORS = ["uniform", "range", "roundrobin"] as const;
export type ConsumerAssignorName = typeof CONSUMER_ASSIGNORS[number];

export function isConsumerAssignor(name: string): name is ConsumerAssignorName {
  return (CONSUMER_ASSIGNORS as readonly string[]).includes(name);
}

/** Kafka's error names this coordinator answers with (each front maps them once). */
export type ConsumerGroupError =
  | "NONE"
  | "INVALID_REQUEST"
  | "INVALID_GROUP_ID"
  | "GROUP_ID_NOT_FOUND"
  | "UNKNOWN_MEMBER_ID"
  | "FENCED_MEMBER_EPOCH"
  | "STALE_MEMBER_EPOCH"
  | "UNSUPPORTED_ASSIGNOR"
  | "UNRELEASED_INSTANCE_ID"
  | "FENCED_INSTANCE_ID"
  | "GROUP_MAX_SIZE_REACHED"
  | "INVALID_REGULAR_EXPRESSION"
  | "UNSUPPORTED_VERSION"
  | "COORDINATOR_NOT_AVAILABLE";

export interface ConsumerGroupOptions {
  /** group.consumer.session.timeout.ms: for members that do not bring their own. */
  sessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms. */
  heartbeatIntervalMs: number;
  groupsMax: number;
  membersPerGroupMax: number;
}

export const CONSUMER_GROUP_OPTIONS_DEFAULT: Readonly<ConsumerGroupOptions> = {
  sessionTimeoutMs: CONSUMER_GROUP_SESSION_TIMEOUT_MS_DEFAULT,
  heartbeatIntervalMs: CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT,
  groupsMax: GROUPS_MAX,
  membersPerGroupMax: MEMBERS_PER_GROUP_MAX,
};

export type { TopicPartitions };

export interface ConsumerHeartbeatRequest {
  groupId: string;
  /** "" only from a v0 client joining: the coordinator makes one. */
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  /** -1: unchanged. */
  rebalanceTimeoutMs: number;
  /** null: unchanged. */
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  /** null: unchanged; else what the member owns (topics unknown to the broker left out). */
  ownedPartitions: TopicPartitions[] | null;
  clientId: string;
  clientHost: string;
}

export interface ConsumerHeartbeatResult {
  error: ConsumerGroupError;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** null: unchanged since the member's last heartbeat. */
  assignment: TopicPartitions[] | null;
}

export type ConsumerGroupState = "Empty" | "Assigning" | "Reconciling" | "Stable";

/**
 * "kafka": a client speaking ConsumerGroupHeartbeat, which revokes partitions itself.
 * "http": a member of Sluice's HTTP API, whose reads the broker does for it (positions held by the
 * broker): the coordinator reconciles it at once, so it gives up partitions without a round trip.
 */
export type MemberKind = "kafka" | "http";

export interface ConsumerGroupMemberDescription {
  memberId: string;
  kind: MemberKind;
  instanceId: string | null;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  assignment: TopicPartitions[];
  targetAssignment: TopicPartitions[];
}

export interface ConsumerGroupDescription {
  groupId: string;
  state: ConsumerGroupState;
  groupEpoch: number;
  assignmentEpoch: number;
  assignor: ConsumerAssignorName;
  members: ConsumerGroupMemberDescription[];
}

/** An HTTP member as stored with the offsets, brought back after a restart. */
export interface RestoredServerMember {
  memberId: string;
  topics: string[];
  sessionTimeoutMs: number;
}

export interface Member {
  memberId: string;
  kind: MemberKind;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  topics: string[];
  regex: string | null;
  serverAssignor: ConsumerAssignorName | null;
  rebalanceTimeoutMs: number;
  /** Its own (HTTP members), else the coordinator's option. */
  sessionTimeoutMs: number;
  memberEpoch: number;
  previousMemberEpoch: number;
  state: "stable" | "unrevoked" | "unreleased";
  /** Partitions the member owns and may consume. */
  assigned: Owned;
  /** Partitions it was asked to revoke and still owns. */
  revoking: Owned;
  lastSeenMs: number;
  /** Reads in flight (an HTTP member's long poll): a waiting member is alive. */
  busy: number;
  /** Set while revoking: removed when not done by then. */
  revokeDeadlineMs: number | undefined;
  /** Left with epoch -2: kept (with its partitions) for the same instance id to come back. */
  leftStatic: boolean;
}

export interface Group {
  id: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignor: ConsumerAssignorName;
  members: Map<string, Member>;
  target: Assignment;
  /** "topic\0partition" -> the member owning it (assigned or revoking). */
  owners: Map<string, string>;
  staticMembers: Map<string, string>;
  /** Subscribed topics and partition counts when the target was last computed. */
  topicsSignature: string;
  timer: Timer | undefined;
  timerAtMs: number;
  /** Aborted (and replaced) when an HTTP member's assignment or epoch changes: long polls return. */
  changed: AbortController;
}

export function newGroup(id: string): Group {
  return {
    id,
    groupEpoch: 0,
    assignmentEpoch: 0,
    assignor: CONSUMER_ASSIGNORS[0],
    members: new Map(),
    target: new Map(),
    owners: new Map(),
    staticMembers: new Map(),
    topicsSignature: "",
    timer: undefined,
    timerAtMs: Infinity,
    changed: new AbortController(),
  };
}

export function newMember(
  memberId: string,
  kind: MemberKind,
  fields: {
    instanceId: string | null;
    rackId: string | null;
    clientId: string;
    clientHost: string;
    sessionTimeoutMs: number;
  },
  nowMs: number,
): Member {
  return {
    memberId,
    kind,
    ...fields,
    topics: [],
    regex: null,
    serverAssignor: null,
    rebalanceTimeoutMs: 0,
    memberEpoch: 0,
    previousMemberEpoch: -1,
    state: "stable",
    assigned: new Map(),
    revoking: new Map(),
    lastSeenMs: nowMs,
    busy: 0,
    revokeDeadlineMs: undefined,
    leftStatic: false,
  };
}
