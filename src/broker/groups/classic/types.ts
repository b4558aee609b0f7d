/**
 * The classic group coordinator's vocabulary: its named limits and options, the error names it
 * answers with, and the requests and results the Kafka front exchanges with it (field names
 * follow Kafka's message definitions). See coordinator.ts for the protocol.
 */
import {
  GROUPS_MAX,
  MEMBERS_PER_GROUP_MAX,
  SESSION_TIMEOUT_MS_MAX,
  SESSION_TIMEOUT_MS_MIN,
} from "../../../limits.ts";

// ---------------------------------------------------------------------------------------------
// Limits.

/**
 * `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits for
 * more members, extended by the same again while members keep arriving, up to the rebalance
 * timeout. Kafka's default is 3 s; Sluice waits 300 ms, enough for consumers started together.
 */
export const CLASSIC_INITIAL_REBALANCE_DELAY_MS_DEFAULT = 300;
/**
 * A member's rebalanceTimeoutMs (max.poll.interval.ms, 5 min by default) is capped to this, so no
 * barrier waits longer (older Kafka Streams sent Integer.MAX_VALUE).
 */
export const CLASSIC_REBALANCE_TIMEOUT_MS_MAX = 30 * 60 * 1000;
/** Characters of a group id (Kafka sets no bound; this matches topic names and HTTP groups). */
export const CLASSIC_GROUP_ID_LENGTH_MAX = 249;
/** Protocols (assignors) one member may offer in a JoinGroup; clients send one to three. */
export const CLASSIC_PROTOCOLS_PER_MEMBER_MAX = 64;
/** `offset.metadata.max.bytes`: longer commit metadata is OFFSET_METADATA_TOO_LARGE (Kafka: 4096, compared with the string's length as Kafka does). */
export const CLASSIC_OFFSET_METADATA_MAX_BYTES_DEFAULT = 4096;
/**
 * Partitions in one OffsetCommit: the store writes a request as one batch (16 MiB at most), so
 * more is refused whole with INVALID_COMMIT_OFFSET_SIZE (Kafka's answer to a commit too large
 * for __consumer_offsets).
 */
export const CLASSIC_COMMIT_PARTITIONS_MAX = 10_000;
/**
 * Bytes of commit metadata kept in memory across all groups (the store does not keep it); past
 * this the oldest entries are forgotten and their fetches answer "".
 */
export const CLASSIC_OFFSET_METADATA_MEMORY_BYTES_MAX = 16 * 1024 * 1024;

export interface ClassicGroupOptions {
  /** group.initial.rebalance.delay.ms (CLASSIC_INITIAL_REBALANCE_DELAY_MS_DEFAULT); 0 = none. */
  initialRebalanceDelayMs: number;
  /** Groups tracked at once (GROUPS_MAX); Empty groups are forgotten first when full. */
  groupsMax: number;
  /** group.max.size (MEMBERS_PER_GROUP_MAX); also bounds pending (MEMBER_ID_REQUIRED) ids. */
  membersPerGroupMax: number;
  /** group.min.session.timeout.ms (SESSION_TIMEOUT_MS_MIN; Kafka: 6 s). */
  minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms (SESSION_TIMEOUT_MS_MAX; Kafka: 30 min). */
  maxSessionTimeoutMs: number;
  /** Cap on a member's rebalance timeout (CLASSIC_REBALANCE_TIMEOUT_MS_MAX). */
  maxRebalanceTimeoutMs: number;
  /** offset.metadata.max.bytes (CLASSIC_OFFSET_METADATA_MAX_BYTES_DEFAULT). */
  offsetMetadataMaxBytes: number;
  /** Commit metadata kept in memory (CLASSIC_OFFSET_METADATA_MEMORY_BYTES_MAX). */
  offsetMetadataMemoryBytes: number;
}

export const CLASSIC_GROUP_OPTIONS_DEFAULT: Readonly<ClassicGroupOptions> = {
  initialRebalanceDelayMs: CLASSIC_INITIAL_REBALANCE_DELAY_MS_DEFAULT,
  groupsMax: GROUPS_MAX,
  membersPerGroupMax: MEMBERS_PER_GROUP_MAX,
  minSessionTimeoutMs: SESSION_TIMEOUT_MS_MIN,
  maxSessionTimeoutMs: SESSION_TIMEOUT_MS_MAX,
  maxRebalanceTimeoutMs: CLASSIC_REBALANCE_TIMEOUT_MS_MAX,
  offsetMetadataMaxBytes: CLASSIC_OFFSET_METADATA_MAX_BYTES_DEFAULT,
  offsetMetadataMemoryBytes: CLASSIC_OFFSET_METADATA_MEMORY_BYTES_MAX,
};

// ---------------------------------------------------------------------------------------------
// Requests and results (field names follow Kafka's message definitions).

/** Kafka's error names this coordinator answers with (the Kafka front maps them to codes). */
export type ClassicGroupError =
  | "NONE"
  | "UNKNOWN_SERVER_ERROR"
  | "COORDINATOR_NOT_AVAILABLE"
  | "INVALID_REQUEST"
  | "INVALID_GROUP_ID"
  | "INVALID_SESSION_TIMEOUT"
  | "INCONSISTENT_GROUP_PROTOCOL"
  | "UNKNOWN_MEMBER_ID"
  | "MEMBER_ID_REQUIRED"
  | "FENCED_INSTANCE_ID"
  | "ILLEGAL_GENERATION"
  | "REBALANCE_IN_PROGRESS"
  | "GROUP_MAX_SIZE_REACHED"
  | "UNKNOWN_TOPIC_OR_PARTITION"
  | "OFFSET_METADATA_TOO_LARGE"
  | "INVALID_COMMIT_OFFSET_SIZE";

export interface ClassicGroupProtocol {
  name: string;
  metadata: Uint8Array;
}

export interface ClassicJoinGroupRequest {
  groupId: string;
  /** "" for a member that has none yet. */
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: ClassicGroupProtocol[];
  sessionTimeoutMs: number;
  /**
   * v1+; a negative value (v0 has none) means the session timeout, as Kafka does for v0. Capped
   * at maxRebalanceTimeoutMs.
   */
  rebalanceTimeoutMs: number;
  /** v4+: a member without an id first gets MEMBER_ID_REQUIRED and an id to rejoin with. */
  requireKnownMemberId: boolean;
  clientId: string;
  clientHost: string;
}

export interface ClassicJoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Uint8Array;
}

export interface ClassicJoinGroupResult {
  error: ClassicGroupError;
  /** -1 on error. */
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  /** "" on error. */
  leader: string;
  memberId: string;
  /** Every member's metadata for the elected protocol for the leader; empty for the others. */
  members: ClassicJoinGroupMember[];
}

export interface ClassicSyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** v5+: checked against the group's when not null. */
  protocolType: string | null;
  protocolName: string | null;
  /** The leader's assignor output; empty from followers. */
  assignments: { memberId: string; assignment: Uint8Array }[];
}

export interface ClassicSyncGroupResult {
  error: ClassicGroupError;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Uint8Array;
}

export interface ClassicHeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface ClassicHeartbeatResult {
  /** REBALANCE_IN_PROGRESS tells the member to rejoin. */
  error: ClassicGroupError;
}

export interface ClassicLeaveGroupRequest {
  groupId: string;
  /** v0-2 carry one member (the wire layer wraps it); memberId "" with an instance id removes the static member. */
  members: { memberId: string; groupInstanceId: string | null }[];
}

export interface ClassicLeaveGroupResult {
  error: ClassicGroupError;
  /** Per member (v3+); v0-2 answer the single member's error as the top-level one. */
  members: { memberId: string; groupInstanceId: string | null; error: ClassicGroupError }[];
}

export interface ClassicOffsetCommitRequest {
  groupId: string;
  /** -1 for a simple (standalone) commit, with memberId "". */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      committedOffset: bigint | number;
      metadata: string | null;
    }[];
  }[];
}

export interface ClassicOffsetCommitResult {
  topics: { name: string; partitions: { partitionIndex: number; error: ClassicGroupError }[] }[];
}

export interface ClassicOffsetFetchResult {
  error: ClassicGroupError;
  topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      /** -1n when nothing is committed. */
      committedOffset: bigint;
      metadata: string;
      error: ClassicGroupError;
    }[];
  }[];
}

export type ClassicGroupState =
  | "Empty"
  | "PreparingRebalance"
  | "CompletingRebalance"
  | "Stable"
  | "Dead";

export interface ClassicGroupDescription {
  groupId: string;
  state: ClassicGroupState;
  generationId: number;
  /** "" when unknown. */
  protocolType: string;
  /** The elected protocol when Stable, "" otherwise (as DescribeGroups). */
  protocolName: string;
  /** "" without a leader. */
  leader: string;
  /** Members (not pending ones); metadata and assignment only when Stable, as Kafka's summary. */
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Uint8Array;
    assignment: Uint8Array;
  }[];
}
