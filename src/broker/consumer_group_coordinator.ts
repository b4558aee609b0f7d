/**
 * KIP-848's `consumer` group protocol (ConsumerGroupHeartbeat): the coordinator computes the
 * assignment itself with a server-side assignor (`uniform`, the default, or `range`; a member
 * may name one in serverAssignor, and the group uses the one most members name) and hands it
 * out incrementally through heartbeats. No barrier: each member reconciles on its own.
 *
 * Epochs. The group epoch increments whenever what the assignment depends on changes (a member
 * joins or leaves, a subscription or an assignor changes, a subscribed topic's partition count
 * changes). When it is ahead of the assignment epoch, the next heartbeat recomputes the target
 * assignment (sticky for `uniform`) and the assignment epoch catches up. Each member has its own
 * member epoch, which reaches the assignment epoch as the member reconciles:
 *
 * - A member owning partitions its target no longer has must revoke them first: its heartbeat
 *   answers the partitions it keeps (state "unrevoked", member epoch unchanged). It revokes
 *   (commits, runs onPartitionsRevoked) and heartbeats without them; only then do they become
 *   free. A member that does not revoke within its rebalance timeout is removed (fenced).
 * - A member with nothing to revoke moves to the assignment epoch and gets every partition of its
 *   target that no other member still owns; partitions still held by a member that has to revoke
 *   them come with later heartbeats, once released (state "unreleased" until then). So a
 *   partition never has two owners, and a new owner starts from the previous owner's last commit.
 *
 * Requests a member sends with an epoch ahead of its own, or behind it (except its previous epoch
 * with owned partitions that are a subset of its assignment: a lost response), are
 * FENCED_MEMBER_EPOCH; the member then gives up its partitions and rejoins with epoch 0 (a rejoin
 * with a known member id starts that member afresh). Unknown members are UNKNOWN_MEMBER_ID.
 * Sessions: a member not heard from for the session timeout is removed. Leaving: epoch -1
 * removes the member; -2 (a static member, with an instance id) keeps its assignment for the
 * session timeout so the same instance id can rejoin with a new member id and get it back;
 * joining with an instance id a live member holds is UNRELEASED_INSTANCE_ID.
 *
 * OffsetCommit (v9+) from a member carries its member epoch: a different epoch is
 * STALE_MEMBER_EPOCH, an unknown member UNKNOWN_MEMBER_ID, an older API version
 * UNSUPPORTED_VERSION; a commit without a member (epoch < 0, member id "") only to an empty group.
 * The offsets go to the shared OffsetStore (the Kafka front writes them). A group id is one
 * protocol at a time: while another protocol has members (`isOtherProtocolGroup`), heartbeats
 * get GROUP_ID_NOT_FOUND ("not a consumer group"), as Kafka answers without migration.
 *
 * Unlike Kafka, membership is not persisted: after a restart a member's heartbeat (epoch > 0) for
 * a group this coordinator does not know is UNKNOWN_MEMBER_ID (Kafka would know the group), so
 * the client rejoins with epoch 0 instead of failing with GROUP_ID_NOT_FOUND.
 *
 * Results carry Kafka error names (mapped to codes by the Kafka front); time comes from the
 * injected clock; every bound is named in src/limits.ts.
 */
import type { Clock, Timer } from "../clock.ts";
import {
  CONSUMER_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT,
  CONSUMER_GROUP_REBALANCE_TIMEOUT_MS_MAX,
  CONSUMER_GROUP_REGEX_LENGTH_MAX,
  CONSUMER_GROUP_SESSION_TIMEOUT_MS_DEFAULT,
  CONSUMER_GROUP_SUBSCRIBED_TOPICS_MAX,
  GROUPS_MAX,
  MEMBERS_PER_GROUP_MAX,
} from "../limits.ts";
import type { Logger } from "../logger.ts";
import { type Assignment, rangeAssign, uniformAssign } from "./assignors.ts";

/** Server-side assignors; the first is the default. */
export const CONSUMER_ASSIGNORS = ["uniform", "range"] as const;
export type ConsumerAssignorName = typeof CONSUMER_ASSIGNORS[number];

/** Kafka's error names this coordinator answers with. */
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
  /** group.consumer.session.timeout.ms. */
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

/** Partitions by topic name. */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

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

export interface ConsumerGroupMemberDescription {
  memberId: string;
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

type Owned = Map<string, Set<number>>;

interface Member {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  topics: string[];
  regex: string | null;
  serverAssignor: ConsumerAssignorName | null;
  rebalanceTimeoutMs: number;
  memberEpoch: number;
  previousMemberEpoch: number;
  state: "stable" | "unrevoked" | "unreleased";
  /** Partitions the member owns and may consume. */
  assigned: Owned;
  /** Partitions it was asked to revoke and still owns. */
  revoking: Owned;
  lastSeenMs: number;
  /** Set while revoking: removed when not done by then. */
  revokeDeadlineMs: number | undefined;
  /** Left with epoch -2: kept (with its partitions) for the same instance id to come back. */
  leftStatic: boolean;
}

interface Group {
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
}

const tpKey = (topic: string, partition: number) => `${topic}\0${partition}`;
const GROUP_ID_MAX = 249;

function toList(owned: Owned): TopicPartitions[] {
  return [...owned].filter(([, ps]) => ps.size > 0).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) }));
}

function fromAssignment(tps: readonly { topic: string; partition: number }[] | undefined): Owned {
  const out: Owned = new Map();
  for (const tp of tps ?? []) {
    let set = out.get(tp.topic);
    if (set === undefined) out.set(tp.topic, set = new Set());
    set.add(tp.partition);
  }
  return out;
}

function size(owned: Owned): number {
  let n = 0;
  for (const ps of owned.values()) n += ps.size;
  return n;
}

function has(owned: Owned, topic: string, partition: number): boolean {
  return owned.get(topic)?.has(partition) ?? false;
}

function add(owned: Owned, topic: string, partition: number): void {
  let set = owned.get(topic);
  if (set === undefined) owned.set(topic, set = new Set());
  set.add(partition);
}

function sameOwned(a: Owned, b: Owned): boolean {
  if (size(a) !== size(b)) return false;
  for (const [t, ps] of a) for (const p of ps) if (!has(b, t, p)) return false;
  return true;
}

export class ConsumerGroupCoordinator {
  readonly #groups = new Map<string, Group>();
  readonly #options: ConsumerGroupOptions;
  #closed = false;

  constructor(
    /** Partitions of a topic now (0 when it does not exist). */
    readonly partitionsOf: (topic: string) => number,
    /** Every topic name now (for regex subscriptions). */
    readonly topicNames: () => string[],
    readonly clock: Clock,
    readonly logger: Logger,
    options: Partial<ConsumerGroupOptions> = {},
    /** True while another protocol (classic Kafka or HTTP) has members in the group id. */
    readonly isOtherProtocolGroup: (groupId: string) => boolean = () => false,
  ) {
    this.#options = { ...CONSUMER_GROUP_OPTIONS_DEFAULT, ...options };
  }

  get options(): Readonly<ConsumerGroupOptions> {
    return this.#options;
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat

  heartbeat(req: ConsumerHeartbeatRequest): ConsumerHeartbeatResult {
    const fail = (error: ConsumerGroupError, message: string | null = null) => ({
      error,
      errorMessage: message,
      memberId: null,
      memberEpoch: -1,
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (this.#closed) return fail("COORDINATOR_NOT_AVAILABLE");
    const invalid = this.#validate(req);
    if (invalid !== null) return fail("INVALID_REQUEST", invalid);
    if (req.serverAssignor !== null && !isAssignor(req.serverAssignor)) {
      return fail(
        "UNSUPPORTED_ASSIGNOR",
        `server assignor ${req.serverAssignor} is not one of ${CONSUMER_ASSIGNORS.join(", ")}`,
      );
    }
    if (req.subscribedTopicRegex !== null) {
      try {
        new RegExp(req.subscribedTopicRegex);
      } catch {
        return fail("INVALID_REGULAR_EXPRESSION", `bad regex ${req.subscribedTopicRegex}`);
      }
    }
    if (this.isOtherProtocolGroup(req.groupId)) {
      return fail("GROUP_ID_NOT_FOUND", `group ${req.groupId} is not a consumer group`);
    }
    if (req.memberEpoch === -1 || req.memberEpoch === -2) return this.#leave(req);

    let group = this.#groups.get(req.groupId);
    if (group === undefined) {
      if (req.memberEpoch !== 0) {
        return fail("UNKNOWN_MEMBER_ID", `group ${req.groupId} has no member ${req.memberId}`);
      }
      if (this.#groups.size >= this.#options.groupsMax) this.#forgetEmptyGroups();
      if (this.#groups.size >= this.#options.groupsMax) {
        return fail("COORDINATOR_NOT_AVAILABLE", "the coordinator tracks too many groups");
      }
      group = this.#newGroup(req.groupId);
      this.#groups.set(group.id, group);
    }
    const nowMs = this.clock.nowMs();
    let member: Member;
    let full = req.ownedPartitions !== null;
    if (req.memberEpoch === 0) {
      const joined = this.#join(group, req, nowMs);
      if ("error" in joined) return { ...fail(joined.error, joined.message) };
      member = joined.member;
      full = true;
    } else {
      const found = group.members.get(req.memberId);
      if (found === undefined || found.leftStatic) {
        return fail("UNKNOWN_MEMBER_ID", `group ${group.id} has no member ${req.memberId}`);
      }
      if (req.instanceId !== null && found.instanceId !== req.instanceId) {
        return fail("FENCED_INSTANCE_ID", `member ${req.memberId} has another instance id`);
      }
      if (!this.#epochOk(found, req)) {
        return fail(
          "FENCED_MEMBER_EPOCH",
          `member epoch ${req.memberEpoch} is not the member's epoch ${found.memberEpoch}`,
        );
      }
      member = found;
      this.#update(group, member, req);
    }
    member.lastSeenMs = nowMs;

    this.#maybeComputeTarget(group);
    const epochBefore = member.memberEpoch;
    const beforeAssigned = fromList(toList(member.assigned));
    this.#reconcile(group, member, req.ownedPartitions);
    const changed = epochBefore !== member.memberEpoch ||
      !sameOwned(beforeAssigned, member.assigned);
    this.#schedule(group);
    return {
      error: "NONE",
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      assignment: changed || full ? toList(member.assigned) : null,
    };
  }

  #validate(req: ConsumerHeartbeatRequest): string | null {
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

  #newGroup(id: string): Group {
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
    };
  }

  #join(
    group: Group,
    req: ConsumerHeartbeatRequest,
    nowMs: number,
  ): { member: Member } | { error: ConsumerGroupError; message: string } {
    const memberId = req.memberId === "" ? crypto.randomUUID() : req.memberId;
    let inherited: Member | undefined;
    if (req.instanceId !== null) {
      const holderId = group.staticMembers.get(req.instanceId);
      const holder = holderId === undefined ? undefined : group.members.get(holderId);
      if (holder !== undefined && holder.memberId !== memberId) {
        if (!holder.leftStatic) {
          return {
            error: "UNRELEASED_INSTANCE_ID",
            message: `instance id ${req.instanceId} is held by member ${holder.memberId}`,
          };
        }
        inherited = holder;
      }
    }
    const existing = group.members.get(memberId);
    if (existing !== undefined) {
      // A rejoin (after FENCED_MEMBER_EPOCH, or a restart): the member owns nothing any more.
      this.#remove(group, existing, `member ${memberId} rejoined`);
    } else if (inherited === undefined && group.members.size >= this.#options.membersPerGroupMax) {
      return {
        error: "GROUP_MAX_SIZE_REACHED",
        message: `group ${group.id} has ${group.members.size} members, the most it may have`,
      };
    }
    const member: Member = {
      memberId,
      instanceId: req.instanceId,
      rackId: req.rackId,
      clientId: req.clientId,
      clientHost: req.clientHost,
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
      revokeDeadlineMs: undefined,
      leftStatic: false,
    };
    if (inherited !== undefined) {
      // The static member comes back under a new member id: same partitions, same epoch.
      group.members.delete(inherited.memberId);
      member.topics = inherited.topics;
      member.regex = inherited.regex;
      member.serverAssignor = inherited.serverAssignor;
      member.assigned = inherited.assigned;
      member.revoking = inherited.revoking;
      member.memberEpoch = inherited.memberEpoch;
      member.previousMemberEpoch = inherited.previousMemberEpoch;
      member.state = inherited.state;
      member.revokeDeadlineMs = inherited.revokeDeadlineMs;
      const target = group.target.get(inherited.memberId);
      group.target.delete(inherited.memberId);
      if (target !== undefined) group.target.set(memberId, target);
      for (const [k, owner] of group.owners) {
        if (owner === inherited.memberId) group.owners.set(k, memberId);
      }
    } else {
      group.groupEpoch++;
    }
    group.members.set(memberId, member);
    if (req.instanceId !== null) group.staticMembers.set(req.instanceId, memberId);
    this.#update(group, member, req);
    this.logger.info("consumer group member joined", {
      group: group.id,
      member: memberId,
      groupEpoch: group.groupEpoch,
    });
    return { member };
  }

  /** Applies the request's changed fields; a change to what the assignment uses bumps the epoch. */
  #update(group: Group, member: Member, req: ConsumerHeartbeatRequest): void {
    if (req.rackId !== null) member.rackId = req.rackId;
    if (req.rebalanceTimeoutMs >= 0) {
      member.rebalanceTimeoutMs = Math.min(
        req.rebalanceTimeoutMs,
        CONSUMER_GROUP_REBALANCE_TIMEOUT_MS_MAX,
      );
    }
    let bump = false;
    if (req.subscribedTopicNames !== null) {
      const topics = [...new Set(req.subscribedTopicNames)].sort();
      if (topics.join("\0") !== member.topics.join("\0")) {
        member.topics = topics;
        bump = true;
      }
    }
    if (req.subscribedTopicRegex !== null && req.subscribedTopicRegex !== member.regex) {
      member.regex = req.subscribedTopicRegex === "" ? null : req.subscribedTopicRegex;
      bump = true;
    }
    if (req.serverAssignor !== null && req.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = req.serverAssignor as ConsumerAssignorName;
      bump = true;
    }
    if (bump && member.memberEpoch > 0) group.groupEpoch++;
  }

  #epochOk(member: Member, req: ConsumerHeartbeatRequest): boolean {
    if (req.memberEpoch === member.memberEpoch) return true;
    if (req.memberEpoch > member.memberEpoch) return false;
    // The previous epoch: the member missed our last answer, and says what it owns.
    if (req.memberEpoch !== member.previousMemberEpoch || req.ownedPartitions === null) {
      return false;
    }
    return req.ownedPartitions.every((t) =>
      t.partitions.every((p) => has(member.assigned, t.topic, p))
    );
  }

  #leave(req: ConsumerHeartbeatRequest): ConsumerHeartbeatResult {
    const group = this.#groups.get(req.groupId);
    const answer = (error: ConsumerGroupError, message: string | null = null) => ({
      error,
      errorMessage: message,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (group === undefined) {
      return answer("GROUP_ID_NOT_FOUND", `group ${req.groupId} does not exist`);
    }
    let member = group.members.get(req.memberId);
    if (member === undefined && req.instanceId !== null) {
      const id = group.staticMembers.get(req.instanceId);
      member = id === undefined ? undefined : group.members.get(id);
    }
    if (member === undefined) {
      return answer("UNKNOWN_MEMBER_ID", `group ${group.id} has no member ${req.memberId}`);
    }
    if (req.memberEpoch === -2 && member.instanceId !== null) {
      // Stays (with its partitions) until its session times out or its instance id rejoins.
      member.leftStatic = true;
      member.lastSeenMs = this.clock.nowMs();
      this.#schedule(group);
    } else {
      this.#remove(group, member, `member ${member.memberId} left`);
      group.groupEpoch++;
      this.#schedule(group);
    }
    return answer("NONE");
  }

  /** Drops the member and frees its partitions (the caller bumps the group epoch). */
  #remove(group: Group, member: Member, reason: string): void {
    group.members.delete(member.memberId);
    group.target.delete(member.memberId);
    for (const [k, owner] of [...group.owners]) {
      if (owner === member.memberId) group.owners.delete(k);
    }
    if (
      member.instanceId !== null && group.staticMembers.get(member.instanceId) === member.memberId
    ) {
      group.staticMembers.delete(member.instanceId);
    }
    this.logger.info("consumer group member removed", {
      group: group.id,
      member: member.memberId,
      reason,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Assignment

  #subscribed(member: Member): string[] {
    if (member.regex === null) return member.topics;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${member.regex})$`);
    } catch {
      return member.topics;
    }
    return [...new Set([...member.topics, ...this.topicNames().filter((t) => re.test(t))])].sort();
  }

  #signature(group: Group): string {
    const topics = new Set<string>();
    for (const m of group.members.values()) for (const t of this.#subscribed(m)) topics.add(t);
    return [...topics].sort().map((t) => `${t}:${this.partitionsOf(t)}`).join(",");
  }

  #maybeComputeTarget(group: Group): void {
    const signature = this.#signature(group);
    if (signature !== group.topicsSignature) {
      group.topicsSignature = signature;
      // A partition count changed (or a regex matches other topics): a new target.
      if (group.assignmentEpoch > 0 && group.groupEpoch === group.assignmentEpoch) {
        group.groupEpoch++;
      }
    }
    if (group.groupEpoch <= group.assignmentEpoch) return;
    // The assignor most members name, else the default (Kafka's choice).
    const votes = new Map<ConsumerAssignorName, number>();
    for (const m of group.members.values()) {
      if (m.serverAssignor !== null) {
        votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
      }
    }
    let assignor: ConsumerAssignorName = CONSUMER_ASSIGNORS[0];
    let best = 0;
    for (const name of CONSUMER_ASSIGNORS) {
      if ((votes.get(name) ?? 0) > best) [assignor, best] = [name, votes.get(name)!];
    }
    group.assignor = assignor;
    const subscriptions = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      topics: this.#subscribed(m),
    }));
    group.target = assignor === "range"
      ? rangeAssign(subscriptions, this.partitionsOf)
      : uniformAssign(subscriptions, this.partitionsOf, group.target);
    group.assignmentEpoch = group.groupEpoch;
    this.logger.info("consumer group target assignment", {
      group: group.id,
      epoch: group.assignmentEpoch,
      assignor,
      members: group.members.size,
    });
  }

  /** Moves the member toward its target, as the module comment describes. */
  #reconcile(group: Group, member: Member, owned: TopicPartitions[] | null): void {
    if (member.state === "unrevoked") {
      const stillOwned = owned === null ? undefined : fromList(owned);
      let released = stillOwned !== undefined;
      if (stillOwned !== undefined) {
        for (const [t, ps] of member.revoking) {
          for (const p of ps) if (has(stillOwned, t, p)) released = false;
        }
      }
      if (!released) return;
      for (const [t, ps] of member.revoking) {
        for (const p of ps) {
          if (group.owners.get(tpKey(t, p)) === member.memberId) group.owners.delete(tpKey(t, p));
        }
      }
      member.revoking = new Map();
      member.revokeDeadlineMs = undefined;
      member.state = "stable";
    }
    if (member.state === "stable" && member.memberEpoch === group.assignmentEpoch) return;
    const target = fromAssignment(group.target.get(member.memberId));
    const keep: Owned = new Map();
    const revoke: Owned = new Map();
    for (const [t, ps] of member.assigned) {
      for (const p of ps) add(has(target, t, p) ? keep : revoke, t, p);
    }
    if (size(revoke) > 0) {
      member.assigned = keep;
      member.revoking = revoke;
      member.state = "unrevoked";
      member.revokeDeadlineMs = this.clock.nowMs() + member.rebalanceTimeoutMs;
      return;
    }
    let unreleased = 0;
    for (const [t, ps] of target) {
      for (const p of ps) {
        if (has(member.assigned, t, p)) continue;
        const owner = group.owners.get(tpKey(t, p));
        if (owner !== undefined && owner !== member.memberId && group.members.has(owner)) {
          unreleased++;
          continue;
        }
        add(member.assigned, t, p);
        group.owners.set(tpKey(t, p), member.memberId);
      }
    }
    if (member.memberEpoch !== group.assignmentEpoch) {
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = group.assignmentEpoch;
    }
    member.state = unreleased > 0 ? "unreleased" : "stable";
  }

  // -------------------------------------------------------------------------------------------
  // Sessions and revocation deadlines

  #schedule(group: Group): void {
    let next = Infinity;
    for (const m of group.members.values()) {
      next = Math.min(next, m.lastSeenMs + this.#options.sessionTimeoutMs);
      if (m.revokeDeadlineMs !== undefined) next = Math.min(next, m.revokeDeadlineMs);
    }
    if (next === group.timerAtMs && group.timer !== undefined) return;
    group.timer?.cancel();
    group.timer = undefined;
    group.timerAtMs = next;
    if (next === Infinity) return;
    group.timer = this.clock.setTimer(() => {
      group.timer = undefined;
      group.timerAtMs = Infinity;
      if (this.#closed || this.#groups.get(group.id) !== group) return;
      try {
        this.#expire(group);
      } catch (err) {
        this.logger.error("consumer group expiry failed", { group: group.id, error: String(err) });
      }
    }, Math.max(0, next - this.clock.nowMs()));
  }

  #expire(group: Group): void {
    const nowMs = this.clock.nowMs();
    for (const m of [...group.members.values()]) {
      if (nowMs - m.lastSeenMs >= this.#options.sessionTimeoutMs) {
        this.#remove(group, m, `session timeout (${this.#options.sessionTimeoutMs} ms)`);
        group.groupEpoch++;
      } else if (m.revokeDeadlineMs !== undefined && nowMs >= m.revokeDeadlineMs) {
        this.#remove(group, m, `did not revoke within its rebalance timeout`);
        group.groupEpoch++;
      }
    }
    this.#schedule(group);
  }

  #forgetEmptyGroups(): void {
    for (const g of [...this.#groups.values()]) {
      if (g.members.size > 0) continue;
      g.timer?.cancel();
      this.#groups.delete(g.id);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Offsets, introspection

  /**
   * Checks an OffsetCommit for this group (undefined: not a consumer group here, the classic
   * coordinator answers). "NONE" means the commit may be written.
   */
  validateCommit(
    groupId: string,
    memberId: string,
    memberEpoch: number,
    apiVersion: number,
  ): ConsumerGroupError | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    if (this.#closed) return "COORDINATOR_NOT_AVAILABLE";
    if (memberEpoch < 0 && memberId === "") {
      return group.members.size === 0 ? "NONE" : "UNKNOWN_MEMBER_ID";
    }
    const member = group.members.get(memberId);
    if (member === undefined || member.leftStatic) return "UNKNOWN_MEMBER_ID";
    if (apiVersion < 9) return "UNSUPPORTED_VERSION";
    if (memberEpoch !== member.memberEpoch) return "STALE_MEMBER_EPOCH";
    member.lastSeenMs = this.clock.nowMs();
    return "NONE";
  }

  /** OffsetFetch v9+ from a member: its id and epoch are checked; undefined when not ours. */
  validateFetch(
    groupId: string,
    memberId: string | null,
    memberEpoch: number,
  ): ConsumerGroupError | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    if (memberId === null || memberEpoch < 0) return "NONE";
    const member = group.members.get(memberId);
    if (member === undefined || member.leftStatic) return "UNKNOWN_MEMBER_ID";
    if (memberEpoch !== member.memberEpoch) return "STALE_MEMBER_EPOCH";
    return "NONE";
  }

  /** True when the group exists here (with or without members). */
  knows(groupId: string): boolean {
    return this.#groups.has(groupId);
  }

  /** True while the group has members. */
  hasActiveGroup(groupId: string): boolean {
    return (this.#groups.get(groupId)?.members.size ?? 0) > 0;
  }

  groupIds(): string[] {
    return [...this.#groups.keys()];
  }

  /** Forgets an empty group (DeleteGroups); false when it has members or is unknown. */
  deleteIfEmpty(groupId: string): boolean {
    const group = this.#groups.get(groupId);
    if (group === undefined || group.members.size > 0) return false;
    group.timer?.cancel();
    this.#groups.delete(groupId);
    return true;
  }

  describe(groupId: string): ConsumerGroupDescription | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    const members = [...group.members.values()];
    let state: ConsumerGroupState = "Stable";
    if (members.length === 0) state = "Empty";
    else if (group.groupEpoch > group.assignmentEpoch) state = "Assigning";
    else if (
      members.some((m) => m.memberEpoch !== group.assignmentEpoch || m.state !== "stable")
    ) state = "Reconciling";
    return {
      groupId,
      state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignor: group.assignor,
      members: members.map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.leftStatic ? -2 : m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.topics,
        subscribedTopicRegex: m.regex,
        assignment: toList(m.assigned),
        targetAssignment: toList(fromAssignment(group.target.get(m.memberId))),
      })),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const g of this.#groups.values()) g.timer?.cancel();
    this.#groups.clear();
  }
}

function isAssignor(name: string): name is ConsumerAssignorName {
  return (CONSUMER_ASSIGNORS as readonly string[]).includes(name);
}

function fromList(list: TopicPartitions[]): Owned {
  const out: Owned = new Map();
  for (const t of list) for (const p of t.partitions) add(out, t.topic, p);
  return out;
}
