/**
 * Kafka's classic consumer-group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch) as Kafka's GroupCoordinator runs it on a single broker, with
 * client-side assignment: the coordinator picks a protocol and a leader, relays every member's
 * protocol metadata to the leader and the leader's assignments to the members. Metadata and
 * assignments are opaque bytes, never parsed.
 *
 * The Kafka wire layer calls it with decoded request values and puts the results into responses:
 * protocol-level failures are Kafka error names ({@link ClassicGroupError}) in the result, never
 * exceptions; the Kafka front maps each name to its wire code.
 *
 * Group states, as Kafka's:
 *
 * ```
 * Empty ──join──> PreparingRebalance ──barrier──> CompletingRebalance ──leader sync──> Stable
 *   ^                  ^   (every member rejoined,        │                              │
 *   │                  │    or the rebalance timeout)     │ join/leave/expiry            │
 *   │                  └──────────────────────────────────┴──────────────────────────────┘
 *   └── the barrier completes with no member left (generation still increments)
 * ```
 * Dead is reported for groups this coordinator does not know (DescribeGroups does the same).
 *
 * - JoinGroup with an empty member id and requireKnownMemberId (v4+) answers MEMBER_ID_REQUIRED
 *   with a fresh id `${clientId}-${uuid}`, remembered as pending for one session timeout; the
 *   barrier waits for pending members too (Kafka's hasAllMembersJoined).
 * - A join to an Empty group starts the barrier with the initial delay
 *   (group.initial.rebalance.delay.ms), extended while new members arrive, bounded by the
 *   rebalance timeout; otherwise the barrier completes as soon as every member (and pending member)
 *   has rejoined, or at the rebalance timeout (the largest of the members' rebalanceTimeoutMs),
 *   when members that did not rejoin are removed.
 * - On completion the generation increments, the protocol is elected by votes (each member votes
 *   for its most preferred protocol that every member supports; ties go to the protocol seen
 *   first in join order), the leader stays if it rejoined (else the first member), and every
 *   waiting JoinGroup is answered: the leader gets each member's metadata for the protocol,
 *   followers an empty list.
 * - SyncGroup from the leader stores its assignments (missing members get empty bytes) and
 *   answers every waiting SyncGroup; a follower's SyncGroup waits for it. Members must sync within
 *   the rebalance timeout of the join completing (Kafka's pending-sync expiry): those that do not
 *   are removed and the group rebalances, which also answers waiting followers with
 *   REBALANCE_IN_PROGRESS. No JoinGroup or SyncGroup waits longer than the rebalance timeout.
 * - Sessions: a member not heard from (join, sync, heartbeat, commit) for its session timeout is
 *   removed and the group rebalances; members waiting in a join or sync barrier are kept alive,
 *   the barriers being bounded themselves. One timer per group, at the earliest deadline.
 * - Static membership (groupInstanceId): a JoinGroup with an empty member id and a known instance
 *   id replaces the old member id (the old one gets FENCED_INSTANCE_ID from then on, and any
 *   request it had waiting is answered so). In a Stable group whose elected protocol would not
 *   change, it is answered at once with the current generation and no rebalance, the old leader
 *   id reported so the new instance does not assign (Kafka's behaviour); otherwise it rebalances.
 *   Static members never get MEMBER_ID_REQUIRED. Unlike Kafka, a static member that has not
 *   rejoined when the barrier completes is removed like a dynamic one (Kafka keeps it until its
 *   session expires).
 * - OffsetCommit: generation -1 with an empty member id (and no instance id) is a "simple"
 *   commit, accepted only when the group is unknown or Empty; otherwise the member and generation
 *   are checked (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION), and commits during
 *   CompletingRebalance are REBALANCE_IN_PROGRESS. Commits go to the {@link OffsetStore} shared
 *   with the HTTP groups (one `commit` call per request), so both fronts see them. The store
 *   keeps no commit metadata: metadata strings are kept in memory (bounded, lost on restart),
 *   and OffsetFetch answers "" when it has none for the committed offset.
 * - Group membership is not persisted (the store's group records belong to the HTTP groups):
 *   after a restart Kafka members get UNKNOWN_MEMBER_ID and rejoin, as after a coordinator move.
 * - Topic existence is not checked here: Kafka's KafkaApis filters unknown topics
 *   (UNKNOWN_TOPIC_OR_PARTITION) before the coordinator, and the wire layer does the same.
 * - A group id used by HTTP members (the `isOtherProtocolGroup` callback) refuses Kafka joins
 *   with INCONSISTENT_GROUP_PROTOCOL and simple commits with UNKNOWN_MEMBER_ID;
 *   {@link ClassicGroupCoordinator.hasActiveGroup} lets the HTTP side refuse the reverse.
 *
 * Time comes from the injected Clock; every limit below has a name and a default.
 */
import type { Clock, Timer } from "../clock.ts";
import { isSluiceError } from "../errors.ts";
import {
  GROUPS_MAX,
  MEMBERS_PER_GROUP_MAX,
  SESSION_TIMEOUT_MS_MAX,
  SESSION_TIMEOUT_MS_MIN,
} from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { OffsetCommit, OffsetStore } from "./offset_store.ts";

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

// ---------------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0);

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  protocolType: string;
  protocols: ClassicGroupProtocol[];
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  lastHeartbeatMs: number;
  assignment: Uint8Array;
  /** Set while the member's JoinGroup waits at the barrier. */
  joinWaiter: ((result: ClassicJoinGroupResult) => void) | undefined;
  /** Set while the member's SyncGroup waits for the leader's. */
  syncWaiter: ((result: ClassicSyncGroupResult) => void) | undefined;
}

interface Group {
  id: string;
  state: Exclude<ClassicGroupState, "Dead">;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  /** In join order. */
  members: Map<string, Member>;
  /** Ids handed out with MEMBER_ID_REQUIRED -> when they are forgotten (ms). */
  pending: Map<string, number>;
  /** groupInstanceId -> memberId. */
  staticMembers: Map<string, string>;
  /** Members of this generation that have not sent SyncGroup yet. */
  pendingSync: Set<string>;
  /** The join barrier's timer. */
  joinTimer: Timer | undefined;
  /** The barrier is the initial delay of an empty group: it never completes early. */
  initialDelay: boolean;
  newMemberAdded: boolean;
  initialRemainingMs: number;
  /** The pending-sync expiry's timer. */
  syncTimer: Timer | undefined;
  /** The session expiry's timer, and when it fires. */
  expiryTimer: Timer | undefined;
  expiryAtMs: number;
}

function joinError(error: ClassicGroupError, memberId = ""): ClassicJoinGroupResult {
  return {
    error,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: "",
    memberId,
    members: [],
  };
}

function syncError(error: ClassicGroupError): ClassicSyncGroupResult {
  return { error, protocolType: null, protocolName: null, assignment: EMPTY };
}

function sameProtocols(a: ClassicGroupProtocol[], b: ClassicGroupProtocol[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].metadata.length !== b[i].metadata.length) return false;
    for (let j = 0; j < a[i].metadata.length; j++) {
      if (a[i].metadata[j] !== b[i].metadata[j]) return false;
    }
  }
  return true;
}

/** Copies (the request buffer is not kept alive) and drops repeated names, the first winning. */
function ownProtocols(protocols: ClassicGroupProtocol[]): ClassicGroupProtocol[] {
  const seen = new Set<string>();
  const out: ClassicGroupProtocol[] = [];
  for (const p of protocols) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    out.push({ name: p.name, metadata: p.metadata.slice() });
  }
  return out;
}

const metadataKey = (group: string, topic: string, partition: number) =>
  `${group}\0${topic}\0${partition}`;

export class ClassicGroupCoordinator {
  readonly #groups = new Map<string, Group>();
  readonly #options: ClassicGroupOptions;
  /** group\0topic\0partition -> the metadata committed with `offset`, oldest first. */
  readonly #metadata = new Map<string, { offset: number; metadata: string }>();
  #metadataBytes = 0;
  #closed = false;

  constructor(
    readonly store: OffsetStore,
    readonly clock: Clock,
    readonly logger: Logger,
    options: Partial<ClassicGroupOptions> = {},
    /** True when HTTP members currently use the group id (the other front's groups). */
    readonly isOtherProtocolGroup: (groupId: string) => boolean = () => false,
  ) {
    this.#options = { ...CLASSIC_GROUP_OPTIONS_DEFAULT, ...options };
  }

  // -------------------------------------------------------------------------------------------
  // JoinGroup

  /** JoinGroup: resolves when the join barrier completes (or at once for errors). */
  joinGroup(req: ClassicJoinGroupRequest): Promise<ClassicJoinGroupResult> {
    return Promise.resolve(this.#join(req));
  }

  #join(req: ClassicJoinGroupRequest): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
    if (this.#closed) return joinError("COORDINATOR_NOT_AVAILABLE", req.memberId);
    if (!this.#validGroupId(req.groupId)) {
      return joinError("INVALID_GROUP_ID", req.memberId);
    }
    const o = this.#options;
    if (
      !Number.isInteger(req.sessionTimeoutMs) || req.sessionTimeoutMs < o.minSessionTimeoutMs ||
      req.sessionTimeoutMs > o.maxSessionTimeoutMs
    ) {
      return joinError("INVALID_SESSION_TIMEOUT", req.memberId);
    }
    if (req.protocols.length > CLASSIC_PROTOCOLS_PER_MEMBER_MAX) {
      return joinError("INVALID_REQUEST", req.memberId);
    }
    if (req.protocolType === "" || req.protocols.length === 0) {
      return joinError("INCONSISTENT_GROUP_PROTOCOL", req.memberId);
    }
    const unknownMember = req.memberId === "";
    let group = this.#groups.get(req.groupId);
    if (group === undefined || this.#isIdle(group)) {
      if (this.isOtherProtocolGroup(req.groupId)) {
        this.logger.warn("kafka join refused: the group id is used by HTTP members", {
          group: req.groupId,
        });
        return joinError("INCONSISTENT_GROUP_PROTOCOL", req.memberId);
      }
    }
    if (group === undefined) {
      if (!unknownMember) return joinError("UNKNOWN_MEMBER_ID", req.memberId);
      if (this.#groups.size >= o.groupsMax) this.#forgetIdleGroups();
      if (this.#groups.size >= o.groupsMax) {
        this.logger.warn("kafka join refused: the group table is full", {
          group: req.groupId,
          groupsMax: o.groupsMax,
        });
        return joinError("COORDINATOR_NOT_AVAILABLE");
      }
      group = this.#newGroup(req.groupId);
      this.#groups.set(group.id, group);
    }
    if (!this.#acceptJoiningMember(group, req.memberId)) {
      if (group.pending.delete(req.memberId)) this.#tryCompleteJoin(group);
      const member = group.members.get(req.memberId);
      if (member !== undefined) {
        this.#removeMemberAndUpdateGroup(group, member, "the group is full");
      }
      return joinError("GROUP_MAX_SIZE_REACHED");
    }
    // JoinGroup v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
    const askedMs = Number.isInteger(req.rebalanceTimeoutMs) && req.rebalanceTimeoutMs >= 0
      ? req.rebalanceTimeoutMs
      : req.sessionTimeoutMs;
    const rebalanceTimeoutMs = Math.min(askedMs, o.maxRebalanceTimeoutMs);
    const joining = { ...req, rebalanceTimeoutMs, protocols: ownProtocols(req.protocols) };
    const result = unknownMember
      ? this.#joinNewMember(group, joining)
      : this.#joinCurrentMember(group, joining);
    // A barrier already waiting may be complete now.
    this.#tryCompleteJoin(group);
    return result;
  }

  #newGroup(id: string): Group {
    return {
      id,
      state: "Empty",
      generationId: 0,
      protocolType: null,
      protocolName: null,
      leaderId: null,
      members: new Map(),
      pending: new Map(),
      staticMembers: new Map(),
      pendingSync: new Set(),
      joinTimer: undefined,
      initialDelay: false,
      newMemberAdded: false,
      initialRemainingMs: 0,
      syncTimer: undefined,
      expiryTimer: undefined,
      expiryAtMs: Infinity,
    };
  }

  #validGroupId(id: unknown): id is string {
    return typeof id === "string" && id.length > 0 && id.length <= CLASSIC_GROUP_ID_LENGTH_MAX;
  }

  /** An Empty group with no pending member: nothing but its generation number. */
  #isIdle(group: Group): boolean {
    return group.state === "Empty" && group.members.size === 0 && group.pending.size === 0;
  }

  /** When the group table is full, idle groups are forgotten (their offsets stay in the store). */
  #forgetIdleGroups(): void {
    for (const group of [...this.#groups.values()]) {
      if (!this.#isIdle(group)) continue;
      this.#cancelTimers(group);
      this.#groups.delete(group.id);
    }
  }

  /** Kafka's acceptJoiningMember: group.max.size, counted the way Kafka counts it. */
  #acceptJoiningMember(group: Group, memberId: string): boolean {
    const max = this.#options.membersPerGroupMax;
    const member = group.members.get(memberId);
    switch (group.state) {
      case "Empty":
        return true;
      case "PreparingRebalance": {
        if (member?.joinWaiter !== undefined) return true;
        let awaiting = 0;
        for (const m of group.members.values()) if (m.joinWaiter !== undefined) awaiting++;
        return awaiting < max;
      }
      case "CompletingRebalance":
      case "Stable":
        return member !== undefined || group.members.size < max;
    }
  }

  /**
   * Whether a member offering `names` of `protocolType` may join: an Empty group takes any; else
   * the type must be the group's and one protocol must be supported by every other member (Kafka
   * counts the joining member's old protocols too, so a lone member could not change its own).
   */
  #supportsProtocols(group: Group, memberId: string, protocolType: string, names: string[]) {
    if (group.members.size === 0) return true;
    if (group.protocolType !== protocolType) return false;
    const others = [...group.members.values()].filter((m) => m.memberId !== memberId);
    return names.some((n) => others.every((m) => m.protocols.some((p) => p.name === n)));
  }

  #joinNewMember(
    group: Group,
    req: ClassicJoinGroupRequest,
  ): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
    const names = req.protocols.map((p) => p.name);
    if (!this.#supportsProtocols(group, "", req.protocolType, names)) {
      return joinError("INCONSISTENT_GROUP_PROTOCOL");
    }
    const newMemberId = `${req.groupInstanceId ?? req.clientId}-${crypto.randomUUID()}`;
    if (req.groupInstanceId !== null) {
      const oldMemberId = group.staticMembers.get(req.groupInstanceId);
      if (oldMemberId !== undefined) {
        return this.#replaceStaticMember(group, oldMemberId, newMemberId, req);
      }
      return this.#addMemberAndRebalance(group, newMemberId, req);
    }
    if (req.requireKnownMemberId) {
      if (group.pending.size >= this.#options.membersPerGroupMax) {
        return joinError("GROUP_MAX_SIZE_REACHED");
      }
      const deadline = this.clock.nowMs() + req.sessionTimeoutMs;
      group.pending.set(newMemberId, deadline);
      this.#scheduleExpiry(group, deadline);
      return joinError("MEMBER_ID_REQUIRED", newMemberId);
    }
    return this.#addMemberAndRebalance(group, newMemberId, req);
  }

  #joinCurrentMember(
    group: Group,
    req: ClassicJoinGroupRequest,
  ): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
    const { memberId } = req;
    const names = req.protocols.map((p) => p.name);
    if (!this.#supportsProtocols(group, memberId, req.protocolType, names)) {
      return joinError("INCONSISTENT_GROUP_PROTOCOL", memberId);
    }
    if (group.pending.has(memberId)) {
      if (req.groupInstanceId !== null) {
        // Kafka never hands a static member a pending id; treat it as a static join with it.
        group.pending.delete(memberId);
        const oldMemberId = group.staticMembers.get(req.groupInstanceId);
        if (oldMemberId !== undefined) {
          return this.#replaceStaticMember(group, oldMemberId, memberId, req);
        }
      }
      return this.#addMemberAndRebalance(group, memberId, req);
    }
    const error = this.#validateMember(group, memberId, req.groupInstanceId);
    if (error !== "NONE") return joinError(error, memberId);
    const member = group.members.get(memberId)!;
    switch (group.state) {
      case "PreparingRebalance":
        return this.#updateMemberAndRebalance(group, member, req);
      case "CompletingRebalance":
        // The same metadata: the member missed the JoinGroup answer; give it again.
        if (sameProtocols(member.protocols, req.protocols)) {
          this.#touch(group, member);
          return this.#joinResult(group, member);
        }
        return this.#updateMemberAndRebalance(group, member, req);
      case "Stable":
        // The leader's JoinGroup always rebalances (it may know of changes the metadata does
        // not show); a follower's only when its metadata changed.
        if (group.leaderId === memberId || !sameProtocols(member.protocols, req.protocols)) {
          return this.#updateMemberAndRebalance(group, member, req);
        }
        this.#touch(group, member);
        return { ...this.#joinResult(group, member), members: [] };
      case "Empty":
        return joinError("UNKNOWN_MEMBER_ID", memberId);
    }
  }

  /** Kafka's validateCurrentMember: the instance id maps to this member id, or the id exists. */
  #validateMember(
    group: Group,
    memberId: string,
    groupInstanceId: string | null,
  ): ClassicGroupError {
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId);
      if (current === undefined) return "UNKNOWN_MEMBER_ID";
      if (current !== memberId) {
        this.logger.info("kafka static member fenced", {
          group: group.id,
          groupInstanceId,
          memberId,
          current,
        });
        return "FENCED_INSTANCE_ID";
      }
      return "NONE";
    }
    return group.members.has(memberId) ? "NONE" : "UNKNOWN_MEMBER_ID";
  }

  #joinResult(group: Group, member: Member): ClassicJoinGroupResult {
    const leader = group.leaderId === member.memberId;
    return {
      error: "NONE",
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      memberId: member.memberId,
      members: leader ? this.#memberMetadata(group) : [],
    };
  }

  #memberMetadata(group: Group): ClassicJoinGroupMember[] {
    return [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY,
    }));
  }

  #waitForJoin(member: Member): Promise<ClassicJoinGroupResult> {
    // A second JoinGroup from the same member replaces the first; the first is answered so it
    // never hangs (its client gave up on it).
    member.joinWaiter?.(joinError("REBALANCE_IN_PROGRESS", member.memberId));
    return new Promise((resolve) => {
      member.joinWaiter = resolve;
    });
  }

  #addMemberAndRebalance(
    group: Group,
    memberId: string,
    req: ClassicJoinGroupRequest,
  ): Promise<ClassicJoinGroupResult> {
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      protocolType: req.protocolType,
      protocols: req.protocols,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      lastHeartbeatMs: this.clock.nowMs(),
      assignment: EMPTY,
      joinWaiter: undefined,
      syncWaiter: undefined,
    };
    // A new member during the initial delay extends it.
    if (group.state === "PreparingRebalance" && group.initialDelay) group.newMemberAdded = true;
    if (group.members.size === 0) group.protocolType = req.protocolType;
    group.members.set(memberId, member);
    group.leaderId ??= memberId;
    group.pending.delete(memberId);
    if (req.groupInstanceId !== null) group.staticMembers.set(req.groupInstanceId, memberId);
    const result = this.#waitForJoin(member);
    this.#maybePrepareRebalance(group, `member ${memberId} joined`);
    return result;
  }

  #updateMemberAndRebalance(
    group: Group,
    member: Member,
    req: ClassicJoinGroupRequest,
  ): Promise<ClassicJoinGroupResult> {
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.lastHeartbeatMs = this.clock.nowMs();
    const result = this.#waitForJoin(member);
    this.#maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
    return result;
  }

  /**
   * A static member came back with a new member id: the old id is fenced and the member keeps its
   * place (and assignment). A Stable group whose elected protocol stays answers at once with no
   * rebalance.
   */
  #replaceStaticMember(
    group: Group,
    oldMemberId: string,
    newMemberId: string,
    req: ClassicJoinGroupRequest,
  ): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
    const old = group.members.get(oldMemberId)!;
    const currentLeader = group.leaderId;
    old.joinWaiter?.(joinError("FENCED_INSTANCE_ID", oldMemberId));
    old.syncWaiter?.(syncError("FENCED_INSTANCE_ID"));
    const member: Member = {
      ...old,
      memberId: newMemberId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      protocols: req.protocols,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      lastHeartbeatMs: this.clock.nowMs(),
      joinWaiter: undefined,
      syncWaiter: undefined,
    };
    const members = new Map<string, Member>();
    for (const [id, m] of group.members) {
      if (id === oldMemberId) members.set(newMemberId, member);
      else members.set(id, m);
    }
    group.members = members;
    if (group.leaderId === oldMemberId) group.leaderId = newMemberId;
    group.staticMembers.set(req.groupInstanceId!, newMemberId);
    if (group.pendingSync.delete(oldMemberId)) group.pendingSync.add(newMemberId);
    this.#scheduleExpiry(group, member.lastHeartbeatMs + member.sessionTimeoutMs);
    this.logger.info("kafka static member replaced", {
      group: group.id,
      groupInstanceId: req.groupInstanceId,
      oldMemberId,
      memberId: newMemberId,
    });
    if (group.state === "Stable" && this.#selectProtocol(group) === group.protocolName) {
      return {
        error: "NONE",
        generationId: group.generationId,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        // The old leader id, so a replaced leader does not assign in a group that stays Stable.
        leader: currentLeader ?? "",
        memberId: newMemberId,
        members: [],
      };
    }
    const result = this.#waitForJoin(member);
    this.#maybePrepareRebalance(group, `static member ${req.groupInstanceId} rejoined`);
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // The join barrier

  #maybePrepareRebalance(group: Group, reason: string): void {
    if (group.state !== "PreparingRebalance") this.#prepareRebalance(group, reason);
  }

  #prepareRebalance(group: Group, reason: string): void {
    if (group.state === "CompletingRebalance") {
      // Members waiting for the leader's assignment rejoin instead; their sessions restart
      // from this answer (they were kept alive while waiting).
      for (const m of group.members.values()) {
        m.assignment = EMPTY;
        const waiter = m.syncWaiter;
        if (waiter === undefined) continue;
        m.syncWaiter = undefined;
        this.#touch(group, m);
        waiter(syncError("REBALANCE_IN_PROGRESS"));
      }
    }
    group.syncTimer?.cancel();
    group.syncTimer = undefined;
    group.pendingSync.clear();
    group.joinTimer?.cancel();
    const wasEmpty = group.state === "Empty";
    group.state = "PreparingRebalance";
    const rebalanceTimeoutMs = this.#rebalanceTimeoutMs(group);
    const delayMs = this.#options.initialRebalanceDelayMs;
    if (wasEmpty && delayMs > 0) {
      group.initialDelay = true;
      group.newMemberAdded = false;
      group.initialRemainingMs = Math.max(rebalanceTimeoutMs - delayMs, 0);
      group.joinTimer = this.#setTimer(group, () => this.#initialDelayElapsed(group), delayMs);
    } else {
      group.initialDelay = false;
      group.joinTimer = this.#setTimer(group, () => this.#completeJoin(group), rebalanceTimeoutMs);
    }
    this.logger.info("kafka group preparing rebalance", {
      group: group.id,
      generation: group.generationId,
      members: group.members.size,
      reason,
    });
    this.#tryCompleteJoin(group);
  }

  #rebalanceTimeoutMs(group: Group): number {
    let max = 0;
    for (const m of group.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** Kafka's InitialDelayedJoin: wait again while new members keep arriving, within bounds. */
  #initialDelayElapsed(group: Group): void {
    group.joinTimer = undefined;
    if (group.newMemberAdded && group.initialRemainingMs > 0) {
      const delayMs = Math.min(this.#options.initialRebalanceDelayMs, group.initialRemainingMs);
      group.newMemberAdded = false;
      group.initialRemainingMs = Math.max(
        group.initialRemainingMs - this.#options.initialRebalanceDelayMs,
        0,
      );
      group.joinTimer = this.#setTimer(group, () => this.#initialDelayElapsed(group), delayMs);
      return;
    }
    this.#completeJoin(group);
  }

  /** Completes the barrier early when every member and pending member has (re)joined. */
  #tryCompleteJoin(group: Group): void {
    if (group.state !== "PreparingRebalance" || group.initialDelay) return;
    if (group.pending.size > 0) return;
    for (const m of group.members.values()) if (m.joinWaiter === undefined) return;
    this.#completeJoin(group);
  }

  #completeJoin(group: Group): void {
    if (group.state !== "PreparingRebalance" || this.#groups.get(group.id) !== group) return;
    group.joinTimer?.cancel();
    group.joinTimer = undefined;
    group.initialDelay = false;
    const missing = [...group.members.values()].filter((m) => m.joinWaiter === undefined);
    for (const m of missing) this.#removeMember(group, m);
    if (missing.length > 0) {
      this.logger.info("kafka members removed: not rejoined within the rebalance timeout", {
        group: group.id,
        members: missing.map((m) => m.memberId).join(", "),
      });
    }
    group.generationId++;
    group.pendingSync.clear();
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.state = "Empty";
      this.logger.info("kafka group is empty", { group: group.id, generation: group.generationId });
      return;
    }
    if (group.leaderId === null || !group.members.has(group.leaderId)) {
      group.leaderId = group.members.keys().next().value!;
    }
    group.protocolName = this.#selectProtocol(group);
    group.state = "CompletingRebalance";
    const nowMs = this.clock.nowMs();
    for (const m of group.members.values()) {
      const waiter = m.joinWaiter!;
      m.joinWaiter = undefined;
      m.lastHeartbeatMs = nowMs;
      group.pendingSync.add(m.memberId);
      waiter(this.#joinResult(group, m));
    }
    // Every member syncs within the rebalance timeout, or is removed.
    const generationId = group.generationId;
    group.syncTimer = this.#setTimer(
      group,
      () => this.#expirePendingSync(group, generationId),
      this.#rebalanceTimeoutMs(group),
    );
    this.#rescheduleExpiry(group);
    this.logger.info("kafka group rebalanced", {
      group: group.id,
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      members: group.members.size,
    });
  }

  /**
   * Each member votes for its most preferred protocol among those every member supports; the
   * most votes wins, ties going to the protocol voted for first in join order.
   */
  #selectProtocol(group: Group): string {
    const members = [...group.members.values()];
    const candidates = new Set(
      members[0].protocols.map((p) => p.name)
        .filter((n) => members.every((m) => m.protocols.some((p) => p.name === n))),
    );
    const votes = new Map<string, number>();
    for (const m of members) {
      const vote = m.protocols.find((p) => candidates.has(p.name));
      if (vote !== undefined) votes.set(vote.name, (votes.get(vote.name) ?? 0) + 1);
    }
    let best = "";
    let bestVotes = 0;
    for (const [name, n] of votes) {
      if (n > bestVotes) [best, bestVotes] = [name, n];
    }
    return best;
  }

  #expirePendingSync(group: Group, generationId: number): void {
    group.syncTimer = undefined;
    if (group.generationId !== generationId || this.#groups.get(group.id) !== group) return;
    if (group.state !== "CompletingRebalance" && group.state !== "Stable") return;
    if (group.pendingSync.size === 0) return;
    const gone = [...group.pendingSync];
    for (const id of gone) {
      const m = group.members.get(id);
      if (m !== undefined) this.#removeMember(group, m);
    }
    this.logger.info("kafka members removed: no SyncGroup within the rebalance timeout", {
      group: group.id,
      members: gone.join(", "),
    });
    this.#prepareRebalance(group, `no SyncGroup from ${gone.join(", ")} in time`);
  }

  /** Removes a member, answering any request it has waiting with UNKNOWN_MEMBER_ID. */
  #removeMember(group: Group, member: Member): void {
    const joinWaiter = member.joinWaiter;
    const syncWaiter = member.syncWaiter;
    member.joinWaiter = undefined;
    member.syncWaiter = undefined;
    group.members.delete(member.memberId);
    if (
      member.groupInstanceId !== null &&
      group.staticMembers.get(member.groupInstanceId) === member.memberId
    ) {
      group.staticMembers.delete(member.groupInstanceId);
    }
    group.pendingSync.delete(member.memberId);
    if (group.leaderId === member.memberId) {
      group.leaderId = group.members.keys().next().value ?? null;
    }
    if (group.members.size === 0) group.pendingSync.clear();
    joinWaiter?.(joinError("UNKNOWN_MEMBER_ID", member.memberId));
    syncWaiter?.(syncError("UNKNOWN_MEMBER_ID"));
  }

  #removeMemberAndUpdateGroup(group: Group, member: Member, reason: string): void {
    this.#removeMember(group, member);
    switch (group.state) {
      case "Stable":
      case "CompletingRebalance":
        this.#prepareRebalance(group, reason);
        break;
      case "PreparingRebalance":
        this.#tryCompleteJoin(group);
        break;
      case "Empty":
        break;
    }
  }

  // -------------------------------------------------------------------------------------------
  // SyncGroup

  /**
   * SyncGroup: the leader's call stores the assignments and answers every waiting member; a
   * follower's waits for it (bounded by the pending-sync expiry).
   */
  syncGroup(req: ClassicSyncGroupRequest): Promise<ClassicSyncGroupResult> {
    return Promise.resolve(this.#sync(req));
  }

  #sync(req: ClassicSyncGroupRequest): ClassicSyncGroupResult | Promise<ClassicSyncGroupResult> {
    if (this.#closed) return syncError("COORDINATOR_NOT_AVAILABLE");
    if (!this.#validGroupId(req.groupId)) return syncError("INVALID_GROUP_ID");
    const group = this.#groups.get(req.groupId);
    if (group === undefined) return syncError("UNKNOWN_MEMBER_ID");
    const error = this.#validateMember(group, req.memberId, req.groupInstanceId);
    if (error !== "NONE") return syncError(error);
    if (req.generationId !== group.generationId) return syncError("ILLEGAL_GENERATION");
    if (
      (req.protocolType !== null && req.protocolType !== group.protocolType) ||
      (req.protocolName !== null && req.protocolName !== group.protocolName)
    ) {
      return syncError("INCONSISTENT_GROUP_PROTOCOL");
    }
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case "Empty":
        return syncError("UNKNOWN_MEMBER_ID");
      case "PreparingRebalance":
        return syncError("REBALANCE_IN_PROGRESS");
      case "CompletingRebalance": {
        member.syncWaiter?.(syncError("REBALANCE_IN_PROGRESS"));
        const result = new Promise<ClassicSyncGroupResult>((resolve) => {
          member.syncWaiter = resolve;
        });
        this.#synced(group, member);
        if (group.leaderId === member.memberId) this.#propagateAssignment(group, req.assignments);
        return result;
      }
      case "Stable":
        this.#synced(group, member);
        this.#touch(group, member);
        return this.#syncResult(group, member);
    }
  }

  #synced(group: Group, member: Member): void {
    group.pendingSync.delete(member.memberId);
    if (group.pendingSync.size === 0) {
      group.syncTimer?.cancel();
      group.syncTimer = undefined;
    }
  }

  #syncResult(group: Group, member: Member): ClassicSyncGroupResult {
    return {
      error: "NONE",
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      assignment: member.assignment,
    };
  }

  /** The leader's assignments: members it left out get empty bytes; unknown ids are ignored. */
  #propagateAssignment(
    group: Group,
    assignments: { memberId: string; assignment: Uint8Array }[],
  ): void {
    const given = new Map<string, Uint8Array>();
    for (const a of assignments) {
      if (group.members.has(a.memberId)) given.set(a.memberId, a.assignment);
    }
    if (given.size < group.members.size) {
      this.logger.warn("kafka leader's assignment leaves members out; they get none", {
        group: group.id,
        generation: group.generationId,
        missing: group.members.size - given.size,
      });
    }
    group.state = "Stable";
    const nowMs = this.clock.nowMs();
    for (const m of group.members.values()) {
      m.assignment = given.get(m.memberId)?.slice() ?? EMPTY;
      m.lastHeartbeatMs = nowMs;
      const waiter = m.syncWaiter;
      m.syncWaiter = undefined;
      waiter?.(this.#syncResult(group, m));
    }
    this.#rescheduleExpiry(group);
    this.logger.info("kafka group stable", {
      group: group.id,
      generation: group.generationId,
      members: group.members.size,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat and LeaveGroup

  /** Heartbeat: REBALANCE_IN_PROGRESS while PreparingRebalance tells the member to rejoin. */
  heartbeat(req: ClassicHeartbeatRequest): { error: ClassicGroupError } {
    if (this.#closed) return { error: "COORDINATOR_NOT_AVAILABLE" };
    if (!this.#validGroupId(req.groupId)) return { error: "INVALID_GROUP_ID" };
    const group = this.#groups.get(req.groupId);
    if (group === undefined) return { error: "UNKNOWN_MEMBER_ID" };
    const error = this.#validateMember(group, req.memberId, req.groupInstanceId);
    if (error !== "NONE") return { error };
    if (req.generationId !== group.generationId) {
      return { error: "ILLEGAL_GENERATION" };
    }
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case "Empty":
        return { error: "UNKNOWN_MEMBER_ID" };
      case "PreparingRebalance":
        this.#touch(group, member);
        return { error: "REBALANCE_IN_PROGRESS" };
      case "CompletingRebalance":
      case "Stable":
        this.#touch(group, member);
        return { error: "NONE" };
    }
  }

  /**
   * LeaveGroup: removes each listed member (memberId "" with a groupInstanceId names a static
   * member) and rebalances; the others learn it from their heartbeats. Answers at once.
   */
  leaveGroup(req: ClassicLeaveGroupRequest): ClassicLeaveGroupResult {
    if (this.#closed) return { error: "COORDINATOR_NOT_AVAILABLE", members: [] };
    if (!this.#validGroupId(req.groupId)) {
      return { error: "INVALID_GROUP_ID", members: [] };
    }
    const group = this.#groups.get(req.groupId);
    const members = req.members.map((leaving) => {
      const answer = (error: ClassicGroupError) => ({
        memberId: leaving.memberId,
        groupInstanceId: leaving.groupInstanceId,
        error,
      });
      if (group === undefined) return answer("UNKNOWN_MEMBER_ID");
      if (leaving.memberId === "") {
        const current = leaving.groupInstanceId === null
          ? undefined
          : group.staticMembers.get(leaving.groupInstanceId);
        const member = current === undefined ? undefined : group.members.get(current);
        if (member === undefined) return answer("UNKNOWN_MEMBER_ID");
        this.#removeMemberAndUpdateGroup(group, member, `static member ${current} left`);
        return answer("NONE");
      }
      if (group.pending.delete(leaving.memberId)) {
        this.#tryCompleteJoin(group);
        return answer("NONE");
      }
      const error = this.#validateMember(group, leaving.memberId, leaving.groupInstanceId);
      if (error !== "NONE") return answer(error);
      const member = group.members.get(leaving.memberId)!;
      this.#removeMemberAndUpdateGroup(group, member, `member ${member.memberId} left`);
      return answer("NONE");
    });
    return { error: "NONE", members };
  }

  // -------------------------------------------------------------------------------------------
  // Sessions

  /** The member was heard from: its session restarts. */
  #touch(group: Group, member: Member): void {
    member.lastHeartbeatMs = this.clock.nowMs();
    this.#scheduleExpiry(group, member.lastHeartbeatMs + member.sessionTimeoutMs);
  }

  /** Makes sure the expiry timer fires by `deadlineMs` (one timer per group). */
  #scheduleExpiry(group: Group, deadlineMs: number): void {
    if (group.expiryTimer !== undefined && group.expiryAtMs <= deadlineMs) return;
    group.expiryTimer?.cancel();
    group.expiryAtMs = deadlineMs;
    group.expiryTimer = this.#setTimer(
      group,
      () => this.#expireSessions(group),
      deadlineMs - this.clock.nowMs(),
    );
  }

  /** Sets the expiry timer at the earliest deadline of the group. */
  #rescheduleExpiry(group: Group): void {
    group.expiryTimer?.cancel();
    group.expiryTimer = undefined;
    let next = Infinity;
    for (const m of group.members.values()) {
      if (m.joinWaiter !== undefined || m.syncWaiter !== undefined) continue; // barrier-bounded
      next = Math.min(next, m.lastHeartbeatMs + m.sessionTimeoutMs);
    }
    for (const deadline of group.pending.values()) next = Math.min(next, deadline);
    if (next !== Infinity) this.#scheduleExpiry(group, next);
  }

  #expireSessions(group: Group): void {
    group.expiryTimer = undefined;
    if (this.#groups.get(group.id) !== group) return;
    const nowMs = this.clock.nowMs();
    for (const [id, deadline] of [...group.pending]) {
      if (deadline <= nowMs) group.pending.delete(id);
    }
    const gone = [...group.members.values()].filter((m) =>
      m.joinWaiter === undefined && m.syncWaiter === undefined &&
      m.lastHeartbeatMs + m.sessionTimeoutMs <= nowMs
    );
    for (const m of gone) {
      this.logger.info("kafka member session expired", {
        group: group.id,
        member: m.memberId,
        sessionTimeoutMs: m.sessionTimeoutMs,
      });
      if (group.members.get(m.memberId) === m) {
        this.#removeMemberAndUpdateGroup(group, m, `session timeout of ${m.memberId}`);
      }
    }
    this.#tryCompleteJoin(group); // expired pending ids no longer hold the barrier
    this.#rescheduleExpiry(group);
  }

  #setTimer(group: Group, fn: () => void, delayMs: number): Timer {
    return this.clock.setTimer(() => {
      if (this.#closed) return;
      try {
        fn();
      } catch (err) {
        this.logger.error("kafka group timer failed", { group: group.id, error: String(err) });
      }
    }, Math.max(0, delayMs));
  }

  #cancelTimers(group: Group): void {
    group.joinTimer?.cancel();
    group.syncTimer?.cancel();
    group.expiryTimer?.cancel();
    group.joinTimer = group.syncTimer = group.expiryTimer = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Offsets

  /**
   * OffsetCommit: validated as Kafka does, then every valid partition of the request is written
   * with one OffsetStore.commit. Per-partition errors, in request order.
   */
  async commitOffsets(
    req: ClassicOffsetCommitRequest,
    /** The member was checked by another coordinator (a KIP-848 consumer group): write only. */
    memberChecked = false,
  ): Promise<ClassicOffsetCommitResult> {
    const all = (error: ClassicGroupError): ClassicOffsetCommitResult => ({
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, error })),
      })),
    });
    if (this.#closed) return all("COORDINATOR_NOT_AVAILABLE");
    if (!this.#validGroupId(req.groupId)) return all("INVALID_GROUP_ID");
    let count = 0;
    for (const t of req.topics) count += t.partitions.length;
    if (count > CLASSIC_COMMIT_PARTITIONS_MAX) return all("INVALID_COMMIT_OFFSET_SIZE");
    const error = memberChecked ? "NONE" : this.#validateCommit(req);
    if (error !== "NONE") return all(error);

    const result = all("NONE");
    const commits: OffsetCommit[] = [];
    const committed: {
      ref: { error: ClassicGroupError };
      commit: OffsetCommit;
      metadata: string;
    }[] = [];
    req.topics.forEach((t, ti) => {
      t.partitions.forEach((p, pi) => {
        const ref = result.topics[ti].partitions[pi];
        const offset = Number(p.committedOffset);
        if (t.name === "" || !Number.isInteger(p.partitionIndex) || p.partitionIndex < 0) {
          ref.error = "UNKNOWN_TOPIC_OR_PARTITION";
        } else if (
          p.metadata !== null && p.metadata.length > this.#options.offsetMetadataMaxBytes
        ) {
          ref.error = "OFFSET_METADATA_TOO_LARGE";
        } else if (!Number.isSafeInteger(offset) || offset < 0) {
          // The store keeps offsets as safe integers; Kafka clients never commit negative ones.
          ref.error = "INVALID_COMMIT_OFFSET_SIZE";
        } else {
          const commit = { topic: t.name, partition: p.partitionIndex, offset };
          commits.push(commit);
          committed.push({ ref, commit, metadata: p.metadata ?? "" });
        }
      });
    });
    if (commits.length === 0) return result;
    try {
      await this.store.commit(req.groupId, commits);
    } catch (err) {
      // A disk that said no: retriable for the client (Kafka answers storage failures with
      // NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE, so clients retry).
      const failure = isSluiceError(err) ? "COORDINATOR_NOT_AVAILABLE" : "UNKNOWN_SERVER_ERROR";
      this.logger.error("kafka offset commit failed", {
        group: req.groupId,
        partitions: commits.length,
        error: String(err),
      });
      for (const c of committed) c.ref.error = failure;
      return result;
    }
    for (const c of committed) this.#rememberMetadata(req.groupId, c.commit, c.metadata);
    return result;
  }

  /** Kafka's validateOffsetCommit plus the state rules of doCommitOffsets; counts as heartbeat. */
  #validateCommit(req: ClassicOffsetCommitRequest): ClassicGroupError {
    const group = this.#groups.get(req.groupId);
    const simple = req.generationId < 0 && req.memberId === "" && req.groupInstanceId === null;
    if (group === undefined) {
      // No group here: a simple commit, or a member of a group this coordinator forgot.
      if (req.generationId >= 0) return "ILLEGAL_GENERATION";
      if (!simple) return "UNKNOWN_MEMBER_ID";
      // HTTP members own the id: only they commit (as Kafka refuses non-members).
      return this.isOtherProtocolGroup(req.groupId) ? "UNKNOWN_MEMBER_ID" : "NONE";
    }
    if (simple) {
      // A group with members takes commits from its members only.
      if (group.state !== "Empty" || this.isOtherProtocolGroup(req.groupId)) {
        return "UNKNOWN_MEMBER_ID";
      }
      return "NONE";
    }
    const error = this.#validateMember(group, req.memberId, req.groupInstanceId);
    if (error !== "NONE") return error;
    if (req.generationId !== group.generationId) return "ILLEGAL_GENERATION";
    switch (group.state) {
      case "CompletingRebalance":
        // The member has its new generation but not its assignment yet.
        return "REBALANCE_IN_PROGRESS";
      case "Stable":
      case "PreparingRebalance":
        // Allowed while preparing: the member learns of the rebalance from its heartbeat.
        this.#touch(group, group.members.get(req.memberId)!);
        return "NONE";
      case "Empty":
        return "NONE";
    }
  }

  #rememberMetadata(group: string, commit: OffsetCommit, metadata: string): void {
    const key = metadataKey(group, commit.topic, commit.partition);
    const old = this.#metadata.get(key);
    if (old !== undefined) {
      this.#metadata.delete(key);
      this.#metadataBytes -= key.length + old.metadata.length;
    }
    if (metadata === "") return;
    this.#metadata.set(key, { offset: commit.offset, metadata });
    this.#metadataBytes += key.length + metadata.length;
    for (const [k, v] of this.#metadata) {
      if (this.#metadataBytes <= this.#options.offsetMetadataMemoryBytes) break;
      this.#metadata.delete(k);
      this.#metadataBytes -= k.length + v.metadata.length;
    }
  }

  /**
   * OffsetFetch: committed offsets from the store whatever the group's state (-1n when none);
   * `topics` null means every partition the group has committed.
   */
  fetchOffsets(
    groupId: string,
    topics: { name: string; partitionIndexes: number[] }[] | null,
  ): ClassicOffsetFetchResult {
    if (this.#closed) return { error: "COORDINATOR_NOT_AVAILABLE", topics: [] };
    if (!this.#validGroupId(groupId)) return { error: "INVALID_GROUP_ID", topics: [] };
    const wanted = topics ?? this.#committedTopics(groupId);
    return {
      error: "NONE",
      topics: wanted.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          const offset = this.store.committed(groupId, t.name, partitionIndex);
          const kept = this.#metadata.get(metadataKey(groupId, t.name, partitionIndex));
          return {
            partitionIndex,
            committedOffset: offset === undefined ? -1n : BigInt(offset),
            metadata: kept !== undefined && kept.offset === offset ? kept.metadata : "",
            error: "NONE",
          };
        }),
      })),
    };
  }

  #committedTopics(groupId: string): { name: string; partitionIndexes: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const o of this.store.offsetsOf(groupId)) {
      let list = byTopic.get(o.topic);
      if (list === undefined) byTopic.set(o.topic, list = []);
      list.push(o.partition);
    }
    return [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  }

  // -------------------------------------------------------------------------------------------
  // Introspection and shutdown

  /** True while Kafka members (or pending ones) use the group id, or it is rebalancing. */
  hasActiveGroup(groupId: string): boolean {
    const group = this.#groups.get(groupId);
    return group !== undefined && !this.#isIdle(group);
  }

  /** The ids {@link hasActiveGroup} is true for (ListGroups). */
  activeGroupIds(): string[] {
    return [...this.#groups.values()].filter((g) => !this.#isIdle(g)).map((g) => g.id);
  }

  /** The group as DescribeGroups shows it; state "Dead" for a group this coordinator lacks. */
  describe(groupId: string): ClassicGroupDescription {
    const group = this.#groups.get(groupId);
    if (group === undefined) {
      return {
        groupId,
        state: "Dead",
        generationId: -1,
        protocolType: "",
        protocolName: "",
        leader: "",
        members: [],
      };
    }
    const stable = group.state === "Stable";
    return {
      groupId,
      state: group.state,
      generationId: group.generationId,
      protocolType: group.protocolType ?? "",
      protocolName: stable ? group.protocolName ?? "" : "",
      leader: group.leaderId ?? "",
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable
          ? m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY
          : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /**
   * Cancels every timer and answers every waiting JoinGroup and SyncGroup with
   * COORDINATOR_NOT_AVAILABLE; later calls get the same error. Committed offsets are in the store.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const group of this.#groups.values()) {
      this.#cancelTimers(group);
      for (const m of group.members.values()) {
        const joinWaiter = m.joinWaiter;
        const syncWaiter = m.syncWaiter;
        m.joinWaiter = m.syncWaiter = undefined;
        joinWaiter?.(joinError("COORDINATOR_NOT_AVAILABLE", m.memberId));
        syncWaiter?.(syncError("COORDINATOR_NOT_AVAILABLE"));
      }
    }
    this.#groups.clear();
    this.#metadata.clear();
    this.#metadataBytes = 0;
  }
}
