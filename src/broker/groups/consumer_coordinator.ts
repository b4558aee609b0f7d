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
 * HTTP members (kind "http", http_members.ts) are members of the same groups: they join, leave
 * and read through the broker, which reconciles them on the spot (reconcile.ts,
 * settleServerMembers), and their own session timeout applies. A Kafka consumer and an HTTP member
 * may share a group: the HTTP member's partitions move at once, the Kafka member's after it
 * revokes them. Only HTTP members are persisted (with the offsets, by http_members.ts); after a
 * restart a Kafka member's heartbeat (epoch > 0) for a group this coordinator does not know is
 * UNKNOWN_MEMBER_ID (Kafka would know the group), so the client rejoins with epoch 0 instead of
 * failing with GROUP_ID_NOT_FOUND.
 *
 * Results carry Kafka error names (mapped to codes by the Kafka front); time comes from the
 * injected clock; every bound is named in src/limits.ts.
 */
import type { Clock } from "../../clock.ts";
import { CONSUMER_GROUP_REBALANCE_TIMEOUT_MS_MAX } from "../../limits.ts";
import type { Logger } from "../../logger.ts";
import {
  CONSUMER_GROUP_OPTIONS_DEFAULT,
  type ConsumerAssignorName,
  type ConsumerGroupDescription,
  type ConsumerGroupError,
  type ConsumerGroupOptions,
  type ConsumerHeartbeatRequest,
  type ConsumerHeartbeatResult,
  type Group,
  type Member,
  newGroup,
  newMember,
  type RestoredServerMember,
} from "./consumer_types.ts";
import {
  adoptStaticMember,
  commitError,
  describeGroup,
  epochOk,
  offsetFetchError,
  refuseHeartbeat,
} from "./consumer_rules.ts";
import { fromList, sameOwned, toList } from "./owned.ts";
import {
  type AssignmentContext,
  computeTarget,
  maybeComputeTarget,
  reconcile,
  restoredGroup,
  settleServerMembers,
  subscribed,
} from "./reconcile.ts";

export * from "./consumer_types.ts";

/** What an HTTP member asks for when it joins (http_members.ts validates it first). */
export interface ServerMemberJoin {
  /** A fresh id (the HTTP front makes it). */
  memberId: string;
  topics: string[];
  serverAssignor: ConsumerAssignorName | null;
  sessionTimeoutMs: number;
  clientId: string;
  clientHost: string;
}

type Failure = { error: ConsumerGroupError; message: string };

export class ConsumerGroupCoordinator {
  readonly #groups = new Map<string, Group>();
  readonly #options: ConsumerGroupOptions;
  readonly #ctx: AssignmentContext;
  #closed = false;
  /** Told the group id whenever its HTTP members change (http_members.ts stores them). */
  #onServerMembersChanged: (groupId: string) => void = () => {};

  constructor(
    /** Partitions of a topic now (0 when it does not exist). */
    readonly partitionsOf: (topic: string) => number,
    /** Every topic name now (for regex subscriptions). */
    readonly topicNames: () => string[],
    readonly clock: Clock,
    readonly logger: Logger,
    options: Partial<ConsumerGroupOptions> = {},
    /** True while the classic protocol has members in the group id. */
    readonly isOtherProtocolGroup: (groupId: string) => boolean = () => false,
  ) {
    this.#options = { ...CONSUMER_GROUP_OPTIONS_DEFAULT, ...options };
    this.#ctx = { partitionsOf, topicNames, nowMs: () => clock.nowMs(), logger };
  }

  get options(): Readonly<ConsumerGroupOptions> {
    return this.#options;
  }

  /** Set once, by the HTTP members' adapter. */
  onServerMembersChanged(fn: (groupId: string) => void): void {
    this.#onServerMembersChanged = fn;
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat (Kafka members)

  heartbeat(req: ConsumerHeartbeatRequest): ConsumerHeartbeatResult {
    const fail = (error: ConsumerGroupError, message: string | null = null) => ({
      error,
      errorMessage: message,
      memberId: null,
      memberEpoch: 0, // Kafka leaves the field at its default on errors
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (this.#closed) return fail("COORDINATOR_NOT_AVAILABLE");
    const refused = refuseHeartbeat(req);
    if (refused !== null) return fail(refused.error, refused.message);
    if (this.isOtherProtocolGroup(req.groupId)) {
      return fail("GROUP_ID_NOT_FOUND", `group ${req.groupId} is not a consumer group`);
    }
    if (req.memberEpoch === -1 || req.memberEpoch === -2) return this.#leave(req);

    let group = this.#groups.get(req.groupId);
    if (group === undefined) {
      if (req.memberEpoch !== 0) {
        return fail("UNKNOWN_MEMBER_ID", `group ${req.groupId} has no member ${req.memberId}`);
      }
      const made = this.#makeGroup(req.groupId);
      if ("error" in made) return fail(made.error, made.message);
      group = made;
    }
    const nowMs = this.clock.nowMs();
    let member: Member;
    // A full request (Kafka's: after joining or an error, every field set) gets the assignment
    // back whatever changed; any other only when its assigned partitions changed.
    let full = req.rebalanceTimeoutMs !== -1 && req.ownedPartitions !== null &&
      (req.subscribedTopicNames !== null || req.subscribedTopicRegex !== null);
    if (req.memberEpoch === 0) {
      const joined = this.#join(group, req, nowMs);
      if ("error" in joined) return fail(joined.error, joined.message);
      member = joined;
      full = true;
    } else {
      const found = group.members.get(req.memberId);
      if (found === undefined || found.leftStatic || found.kind !== "kafka") {
        return fail("UNKNOWN_MEMBER_ID", `group ${group.id} has no member ${req.memberId}`);
      }
      if (req.instanceId !== null && found.instanceId !== req.instanceId) {
        return fail("FENCED_INSTANCE_ID", `member ${req.memberId} has another instance id`);
      }
      if (!epochOk(found, req)) {
        return fail(
          "FENCED_MEMBER_EPOCH",
          `member epoch ${req.memberEpoch} is not the member's epoch ${found.memberEpoch}`,
        );
      }
      member = found;
      this.#update(group, member, req);
    }
    member.lastSeenMs = nowMs;

    maybeComputeTarget(this.#ctx, group);
    // HTTP members first: what they give up to this member is its own in this answer.
    const settled = settleServerMembers(this.#ctx, group);
    const beforeAssigned = fromList(toList(member.assigned));
    reconcile(this.#ctx, group, member, req.ownedPartitions);
    const changed = !sameOwned(beforeAssigned, member.assigned);
    this.#finish(group, settled);
    return {
      error: "NONE",
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      assignment: changed || full ? toList(member.assigned) : null,
    };
  }

  #makeGroup(id: string): Group | Failure {
    if (this.#groups.size >= this.#options.groupsMax) this.#forgetEmptyGroups();
    if (this.#groups.size >= this.#options.groupsMax) {
      return {
        error: "COORDINATOR_NOT_AVAILABLE",
        message: `the coordinator tracks at most ${this.#options.groupsMax} groups`,
      };
    }
    const group = newGroup(id);
    this.#groups.set(id, group);
    return group;
  }

  #join(group: Group, req: ConsumerHeartbeatRequest, nowMs: number): Member | Failure {
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
    } else if (inherited === undefined) {
      const full = this.#checkRoom(group);
      if (full !== null) return full;
    }
    const member = newMember(memberId, "kafka", {
      instanceId: req.instanceId,
      rackId: req.rackId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
    }, nowMs);
    if (inherited !== undefined) {
      adoptStaticMember(group, inherited, member);
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
    return member;
  }

  #checkRoom(group: Group): Failure | null {
    if (group.members.size < this.#options.membersPerGroupMax) return null;
    return {
      error: "GROUP_MAX_SIZE_REACHED",
      message: `group ${group.id} has ${group.members.size} members, the most it may have`,
    };
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
    if (member === undefined || member.kind !== "kafka") {
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
      this.#finish(group, false);
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
      kind: member.kind,
      reason,
    });
  }

  /**
   * After any change: HTTP members are reconciled at once; their long polls wake and their store
   * is told when they changed (or one was removed: `serverMembersChanged`). Timers re-armed.
   */
  #finish(group: Group, serverMembersChanged: boolean): void {
    // The last member gone: the (empty) target is the new epoch's at once, as Kafka's; with
    // members, the next heartbeat computes it.
    if (group.members.size === 0 && group.groupEpoch > group.assignmentEpoch) {
      computeTarget(this.#ctx, group, group.groupEpoch);
    }
    const changed = settleServerMembers(this.#ctx, group) || serverMembersChanged;
    if (changed) {
      group.changed.abort();
      group.changed = new AbortController();
      this.#onServerMembersChanged(group.id);
    }
    this.#schedule(group);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP members (http_members.ts): the broker joins, reads and leaves for them

  /** Adds an HTTP member (a new member id) and reconciles the group; the member, or why not. */
  joinServerMember(groupId: string, join: ServerMemberJoin): Member | Failure {
    if (this.#closed) {
      return { error: "COORDINATOR_NOT_AVAILABLE", message: "the coordinator is closed" };
    }
    if (this.isOtherProtocolGroup(groupId)) {
      return { error: "GROUP_ID_NOT_FOUND", message: `group ${groupId} is a classic group` };
    }
    let group = this.#groups.get(groupId);
    if (group === undefined) {
      const made = this.#makeGroup(groupId);
      if ("error" in made) return made;
      group = made;
    }
    const full = this.#checkRoom(group);
    if (full !== null) return full;
    if (group.members.has(join.memberId)) {
      return { error: "INVALID_REQUEST", message: `member ${join.memberId} exists` };
    }
    const member = newMember(join.memberId, "http", {
      instanceId: null,
      rackId: null,
      clientId: join.clientId,
      clientHost: join.clientHost,
      sessionTimeoutMs: join.sessionTimeoutMs,
    }, this.clock.nowMs());
    member.topics = [...new Set(join.topics)].sort();
    member.serverAssignor = join.serverAssignor;
    group.members.set(member.memberId, member);
    group.groupEpoch++;
    this.logger.info("consumer group member joined", {
      group: group.id,
      member: member.memberId,
      kind: "http",
      groupEpoch: group.groupEpoch,
    });
    this.#finish(group, true);
    return member;
  }

  /** The HTTP member, seen now and reconciled; undefined when not (or no longer) a member. */
  touchServerMember(groupId: string, memberId: string): Member | undefined {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined || member.kind !== "http") return undefined;
    member.lastSeenMs = this.clock.nowMs();
    this.#finish(group, false);
    return member;
  }

  /** Removes an HTTP member; false when it is not one. */
  leaveServerMember(groupId: string, memberId: string): boolean {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined || member.kind !== "http") return false;
    this.#remove(group, member, `member ${memberId} left`);
    group.groupEpoch++;
    this.#finish(group, true);
    return true;
  }

  /**
   * Brings back a group's stored HTTP members after a restart: same ids, the stored generation as
   * the group, assignment and member epoch, a fresh session from now.
   */
  restoreServerGroup(
    groupId: string,
    generation: number,
    assignor: ConsumerAssignorName,
    members: readonly RestoredServerMember[],
  ): void {
    const group = restoredGroup(this.#ctx, groupId, generation, assignor, members);
    this.#groups.set(groupId, group);
    this.#schedule(group);
  }

  /** Aborted when the group's HTTP members' assignments change (their long polls return). */
  changedSignal(groupId: string): AbortSignal | undefined {
    return this.#groups.get(groupId)?.changed.signal;
  }

  /** Knows of the group (a group with offsets may have none). */
  group(groupId: string): Readonly<Group> | undefined {
    return this.#groups.get(groupId);
  }

  // -------------------------------------------------------------------------------------------
  // Sessions and revocation deadlines

  #schedule(group: Group): void {
    let next = Infinity;
    for (const m of group.members.values()) {
      next = Math.min(next, m.lastSeenMs + m.sessionTimeoutMs);
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
    let serverMembersGone = false;
    for (const m of [...group.members.values()]) {
      // A member waiting in a long poll is alive now: counting it as seen re-arms the timer a
      // session later, not at once in a loop for as long as the poll waits.
      if (m.busy > 0) m.lastSeenMs = nowMs;
      if (nowMs - m.lastSeenMs >= m.sessionTimeoutMs) {
        this.#remove(group, m, `session timeout (${m.sessionTimeoutMs} ms)`);
        group.groupEpoch++;
        if (m.kind === "http") serverMembersGone = true;
      } else if (m.revokeDeadlineMs !== undefined && nowMs >= m.revokeDeadlineMs) {
        this.#remove(group, m, `did not revoke within its rebalance timeout`);
        group.groupEpoch++;
      }
    }
    this.#finish(group, serverMembersGone);
  }

  #forgetEmptyGroups(): void {
    for (const g of [...this.#groups.values()]) {
      if (g.members.size > 0) continue;
      g.timer?.cancel();
      this.#groups.delete(g.id);
      this.#onServerMembersChanged(g.id);
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
    return commitError(group, memberId, memberEpoch, apiVersion, this.clock.nowMs());
  }

  /** OffsetFetch v9+ from a member: its id and epoch are checked; undefined when not ours. */
  validateFetch(
    groupId: string,
    memberId: string | null,
    memberEpoch: number,
  ): ConsumerGroupError | undefined {
    const group = this.#groups.get(groupId);
    return group === undefined ? undefined : offsetFetchError(group, memberId, memberEpoch);
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

  /**
   * The topics the group's members subscribe to now (names and regex matches), for OffsetDelete
   * (KIP-496: a subscribed topic's offsets are not deleted); undefined without members.
   */
  subscribedTopics(groupId: string): Set<string> | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined || group.members.size === 0) return undefined;
    const topics = new Set<string>();
    for (const m of group.members.values()) for (const t of subscribed(this.#ctx, m)) topics.add(t);
    return topics;
  }

  describe(groupId: string): ConsumerGroupDescription | undefined {
    const group = this.#groups.get(groupId);
    return group === undefined ? undefined : describeGroup(group);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const g of this.#groups.values()) {
      g.timer?.cancel();
      g.changed.abort();
    }
    this.#groups.clear();
  }
}
