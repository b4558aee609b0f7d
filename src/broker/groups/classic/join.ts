/**
 * JoinGroup for the classic group coordinator (coordinator.ts describes the protocol): request
 * validation, group.max.size, MEMBER_ID_REQUIRED and pending member ids, joins of new and current
 * members, and static membership (a known instance id replacing its old member id). Each join
 * either answers at once or waits at the join barrier, which rebalance.ts runs.
 */
import {
  CLASSIC_PROTOCOLS_PER_MEMBER_MAX,
  type ClassicGroupProtocol,
  type ClassicJoinGroupRequest,
  type ClassicJoinGroupResult,
} from "./types.ts";
import {
  maybePrepareRebalance,
  removeMemberAndUpdateGroup,
  scheduleExpiry,
  selectProtocol,
  touch,
  tryCompleteJoin,
} from "./rebalance.ts";
import {
  cancelTimers,
  type CoordinatorState,
  EMPTY,
  type Group,
  isIdle,
  joinError,
  joinResult,
  type Member,
  newGroup,
  syncError,
  validateMember,
  validGroupId,
} from "./state.ts";

/**
 * JoinGroup: the answer, or a promise of it that resolves when the join barrier completes (the
 * facade wraps both in a promise).
 */
export function handleJoinGroup(
  s: CoordinatorState,
  req: ClassicJoinGroupRequest,
): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
  if (s.closed) return joinError("COORDINATOR_NOT_AVAILABLE", req.memberId);
  if (!validGroupId(req.groupId)) {
    return joinError("INVALID_GROUP_ID", req.memberId);
  }
  const o = s.options;
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
  let group = s.groups.get(req.groupId);
  if (group === undefined || isIdle(group)) {
    if (s.isOtherProtocolGroup(req.groupId)) {
      s.logger.warn("kafka join refused: the group id is used by HTTP members", {
        group: req.groupId,
      });
      return joinError("INCONSISTENT_GROUP_PROTOCOL", req.memberId);
    }
  }
  if (group === undefined) {
    if (!unknownMember) return joinError("UNKNOWN_MEMBER_ID", req.memberId);
    if (s.groups.size >= o.groupsMax) forgetIdleGroups(s);
    if (s.groups.size >= o.groupsMax) {
      s.logger.warn("kafka join refused: the group table is full", {
        group: req.groupId,
        groupsMax: o.groupsMax,
      });
      return joinError("COORDINATOR_NOT_AVAILABLE");
    }
    group = newGroup(req.groupId);
    s.groups.set(group.id, group);
  }
  if (!acceptJoiningMember(s, group, req.memberId)) {
    if (group.pending.delete(req.memberId)) tryCompleteJoin(s, group);
    const member = group.members.get(req.memberId);
    if (member !== undefined) {
      removeMemberAndUpdateGroup(s, group, member, "the group is full");
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
    ? joinNewMember(s, group, joining)
    : joinCurrentMember(s, group, joining);
  // A barrier already waiting may be complete now.
  tryCompleteJoin(s, group);
  return result;
}

/** When the group table is full, idle groups are forgotten (their offsets stay in the store). */
function forgetIdleGroups(s: CoordinatorState): void {
  for (const group of [...s.groups.values()]) {
    if (!isIdle(group)) continue;
    cancelTimers(group);
    s.groups.delete(group.id);
  }
}

/** Kafka's acceptJoiningMember: group.max.size, counted the way Kafka counts it. */
function acceptJoiningMember(s: CoordinatorState, group: Group, memberId: string): boolean {
  const max = s.options.membersPerGroupMax;
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
function supportsProtocols(group: Group, memberId: string, protocolType: string, names: string[]) {
  if (group.members.size === 0) return true;
  if (group.protocolType !== protocolType) return false;
  const others = [...group.members.values()].filter((m) => m.memberId !== memberId);
  return names.some((n) => others.every((m) => m.protocols.some((p) => p.name === n)));
}

/** A JoinGroup without a member id: a static member's return, MEMBER_ID_REQUIRED, or a join. */
function joinNewMember(
  s: CoordinatorState,
  group: Group,
  req: ClassicJoinGroupRequest,
): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
  const names = req.protocols.map((p) => p.name);
  if (!supportsProtocols(group, "", req.protocolType, names)) {
    return joinError("INCONSISTENT_GROUP_PROTOCOL");
  }
  const newMemberId = `${req.groupInstanceId ?? req.clientId}-${crypto.randomUUID()}`;
  if (req.groupInstanceId !== null) {
    const oldMemberId = group.staticMembers.get(req.groupInstanceId);
    if (oldMemberId !== undefined) {
      return replaceStaticMember(s, group, oldMemberId, newMemberId, req);
    }
    return addMemberAndRebalance(s, group, newMemberId, req);
  }
  if (req.requireKnownMemberId) {
    if (group.pending.size >= s.options.membersPerGroupMax) {
      return joinError("GROUP_MAX_SIZE_REACHED");
    }
    const deadline = s.clock.nowMs() + req.sessionTimeoutMs;
    group.pending.set(newMemberId, deadline);
    scheduleExpiry(s, group, deadline);
    return joinError("MEMBER_ID_REQUIRED", newMemberId);
  }
  return addMemberAndRebalance(s, group, newMemberId, req);
}

/** A JoinGroup with a member id: a pending id's join, or a current member's rejoin. */
function joinCurrentMember(
  s: CoordinatorState,
  group: Group,
  req: ClassicJoinGroupRequest,
): ClassicJoinGroupResult | Promise<ClassicJoinGroupResult> {
  const { memberId } = req;
  const names = req.protocols.map((p) => p.name);
  if (!supportsProtocols(group, memberId, req.protocolType, names)) {
    return joinError("INCONSISTENT_GROUP_PROTOCOL", memberId);
  }
  if (group.pending.has(memberId)) {
    if (req.groupInstanceId !== null) {
      // Kafka never hands a static member a pending id; treat it as a static join with it.
      group.pending.delete(memberId);
      const oldMemberId = group.staticMembers.get(req.groupInstanceId);
      if (oldMemberId !== undefined) {
        return replaceStaticMember(s, group, oldMemberId, memberId, req);
      }
    }
    return addMemberAndRebalance(s, group, memberId, req);
  }
  const error = validateMember(s, group, memberId, req.groupInstanceId);
  if (error !== "NONE") return joinError(error, memberId);
  const member = group.members.get(memberId)!;
  switch (group.state) {
    case "PreparingRebalance":
      return updateMemberAndRebalance(s, group, member, req);
    case "CompletingRebalance":
      // The same metadata: the member missed the JoinGroup answer; give it again.
      if (sameProtocols(member.protocols, req.protocols)) {
        touch(s, group, member);
        return joinResult(group, member);
      }
      return updateMemberAndRebalance(s, group, member, req);
    case "Stable":
      // The leader's JoinGroup always rebalances (it may know of changes the metadata does
      // not show); a follower's only when its metadata changed.
      if (group.leaderId === memberId || !sameProtocols(member.protocols, req.protocols)) {
        return updateMemberAndRebalance(s, group, member, req);
      }
      touch(s, group, member);
      return { ...joinResult(group, member), members: [] };
    case "Empty":
      return joinError("UNKNOWN_MEMBER_ID", memberId);
  }
}

function waitForJoin(member: Member): Promise<ClassicJoinGroupResult> {
  // A second JoinGroup from the same member replaces the first; the first is answered so it
  // never hangs (its client gave up on it).
  member.joinWaiter?.(joinError("REBALANCE_IN_PROGRESS", member.memberId));
  return new Promise((resolve) => {
    member.joinWaiter = resolve;
  });
}

function addMemberAndRebalance(
  s: CoordinatorState,
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
    lastHeartbeatMs: s.clock.nowMs(),
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
  const result = waitForJoin(member);
  maybePrepareRebalance(s, group, `member ${memberId} joined`);
  return result;
}

function updateMemberAndRebalance(
  s: CoordinatorState,
  group: Group,
  member: Member,
  req: ClassicJoinGroupRequest,
): Promise<ClassicJoinGroupResult> {
  member.protocols = req.protocols;
  member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  member.sessionTimeoutMs = req.sessionTimeoutMs;
  member.clientId = req.clientId;
  member.clientHost = req.clientHost;
  member.lastHeartbeatMs = s.clock.nowMs();
  const result = waitForJoin(member);
  maybePrepareRebalance(s, group, `member ${member.memberId} rejoined`);
  return result;
}

/**
 * A static member came back with a new member id: the old id is fenced and the member keeps its
 * place (and assignment). A Stable group whose elected protocol stays answers at once with no
 * rebalance.
 */
function replaceStaticMember(
  s: CoordinatorState,
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
    lastHeartbeatMs: s.clock.nowMs(),
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
  scheduleExpiry(s, group, member.lastHeartbeatMs + member.sessionTimeoutMs);
  s.logger.info("kafka static member replaced", {
    group: group.id,
    groupInstanceId: req.groupInstanceId,
    oldMemberId,
    memberId: newMemberId,
  });
  if (group.state === "Stable" && selectProtocol(group) === group.protocolName) {
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
  const result = waitForJoin(member);
  maybePrepareRebalance(s, group, `static member ${req.groupInstanceId} rejoined`);
  return result;
}

/** The same protocols in the same order, with the same metadata bytes. */
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
