/**
 * What moves a classic group between its states (the diagram is in coordinator.ts), on requests
 * and on timers:
 * - the join barrier: prepareRebalance starts it (with the initial delay for an Empty group),
 *   tryCompleteJoin completes it early once every member and pending member has rejoined, the
 *   rebalance timeout completes it otherwise; completion removes members that did not rejoin,
 *   bumps the generation, keeps or picks the leader, elects the protocol (selectProtocol) and
 *   answers every waiting JoinGroup;
 * - the pending-sync expiry: members that do not sync within the rebalance timeout of the join
 *   completing are removed and the group rebalances;
 * - member removal, answering any request the member has waiting;
 * - sessions: one expiry timer per group at its earliest deadline (touch restarts a member's
 *   session); members waiting at a barrier are kept alive, the barriers being bounded themselves.
 */
import {
  type CoordinatorState,
  EMPTY,
  type Group,
  joinError,
  joinResult,
  type Member,
  setTimer,
  syncError,
} from "./state.ts";

// ---------------------------------------------------------------------------------------------
// The join barrier

/** Starts a rebalance unless one is being prepared already (a join during it just waits). */
export function maybePrepareRebalance(s: CoordinatorState, group: Group, reason: string): void {
  if (group.state !== "PreparingRebalance") prepareRebalance(s, group, reason);
}

/**
 * Moves the group to PreparingRebalance and starts the barrier's timer: the initial delay for an
 * Empty group, else the rebalance timeout. Members waiting for an assignment are told to rejoin.
 */
function prepareRebalance(s: CoordinatorState, group: Group, reason: string): void {
  if (group.state === "CompletingRebalance") {
    // Members waiting for the leader's assignment rejoin instead; their sessions restart
    // from this answer (they were kept alive while waiting).
    for (const m of group.members.values()) {
      m.assignment = EMPTY;
      const waiter = m.syncWaiter;
      if (waiter === undefined) continue;
      m.syncWaiter = undefined;
      touch(s, group, m);
      waiter(syncError("REBALANCE_IN_PROGRESS"));
    }
  }
  group.syncTimer?.cancel();
  group.syncTimer = undefined;
  group.pendingSync.clear();
  group.joinTimer?.cancel();
  const wasEmpty = group.state === "Empty";
  group.state = "PreparingRebalance";
  const rebalanceTimeoutMs = groupRebalanceTimeoutMs(group);
  const delayMs = s.options.initialRebalanceDelayMs;
  if (wasEmpty && delayMs > 0) {
    group.initialDelay = true;
    group.newMemberAdded = false;
    group.initialRemainingMs = Math.max(rebalanceTimeoutMs - delayMs, 0);
    group.joinTimer = setTimer(s, group, () => initialDelayElapsed(s, group), delayMs);
  } else {
    group.initialDelay = false;
    group.joinTimer = setTimer(s, group, () => completeJoin(s, group), rebalanceTimeoutMs);
  }
  s.logger.info("kafka group preparing rebalance", {
    group: group.id,
    generation: group.generationId,
    members: group.members.size,
    reason,
  });
  tryCompleteJoin(s, group);
}

/** The group's rebalance timeout: the largest of its members'. */
function groupRebalanceTimeoutMs(group: Group): number {
  let max = 0;
  for (const m of group.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
  return max;
}

/** Kafka's InitialDelayedJoin: wait again while new members keep arriving, within bounds. */
function initialDelayElapsed(s: CoordinatorState, group: Group): void {
  group.joinTimer = undefined;
  if (group.newMemberAdded && group.initialRemainingMs > 0) {
    const delayMs = Math.min(s.options.initialRebalanceDelayMs, group.initialRemainingMs);
    group.newMemberAdded = false;
    group.initialRemainingMs = Math.max(
      group.initialRemainingMs - s.options.initialRebalanceDelayMs,
      0,
    );
    group.joinTimer = setTimer(s, group, () => initialDelayElapsed(s, group), delayMs);
    return;
  }
  completeJoin(s, group);
}

/** Completes the barrier early when every member and pending member has (re)joined. */
export function tryCompleteJoin(s: CoordinatorState, group: Group): void {
  if (group.state !== "PreparingRebalance" || group.initialDelay) return;
  if (group.pending.size > 0) return;
  for (const m of group.members.values()) if (m.joinWaiter === undefined) return;
  completeJoin(s, group);
}

/**
 * The barrier completes: members that did not rejoin are removed, the generation increments, the
 * leader stays (or the first member leads), the protocol is elected and every waiting JoinGroup is
 * answered; the pending-sync expiry starts.
 */
function completeJoin(s: CoordinatorState, group: Group): void {
  if (group.state !== "PreparingRebalance" || s.groups.get(group.id) !== group) return;
  group.joinTimer?.cancel();
  group.joinTimer = undefined;
  group.initialDelay = false;
  const missing = [...group.members.values()].filter((m) => m.joinWaiter === undefined);
  for (const m of missing) removeMember(group, m);
  if (missing.length > 0) {
    s.logger.info("kafka members removed: not rejoined within the rebalance timeout", {
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
    s.logger.info("kafka group is empty", { group: group.id, generation: group.generationId });
    return;
  }
  if (group.leaderId === null || !group.members.has(group.leaderId)) {
    group.leaderId = group.members.keys().next().value!;
  }
  group.protocolName = selectProtocol(group);
  group.state = "CompletingRebalance";
  const nowMs = s.clock.nowMs();
  for (const m of group.members.values()) {
    const waiter = m.joinWaiter!;
    m.joinWaiter = undefined;
    m.lastHeartbeatMs = nowMs;
    group.pendingSync.add(m.memberId);
    waiter(joinResult(group, m));
  }
  // Every member syncs within the rebalance timeout, or is removed.
  const generationId = group.generationId;
  group.syncTimer = setTimer(
    s,
    group,
    () => expirePendingSync(s, group, generationId),
    groupRebalanceTimeoutMs(group),
  );
  rescheduleExpiry(s, group);
  s.logger.info("kafka group rebalanced", {
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
export function selectProtocol(group: Group): string {
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

// ---------------------------------------------------------------------------------------------
// Members leaving

/** Members of `generationId` that never sent SyncGroup are removed and the group rebalances. */
function expirePendingSync(s: CoordinatorState, group: Group, generationId: number): void {
  group.syncTimer = undefined;
  if (group.generationId !== generationId || s.groups.get(group.id) !== group) return;
  if (group.state !== "CompletingRebalance" && group.state !== "Stable") return;
  if (group.pendingSync.size === 0) return;
  const gone = [...group.pendingSync];
  for (const id of gone) {
    const m = group.members.get(id);
    if (m !== undefined) removeMember(group, m);
  }
  s.logger.info("kafka members removed: no SyncGroup within the rebalance timeout", {
    group: group.id,
    members: gone.join(", "),
  });
  prepareRebalance(s, group, `no SyncGroup from ${gone.join(", ")} in time`);
}

/** Removes a member, answering any request it has waiting with UNKNOWN_MEMBER_ID. */
function removeMember(group: Group, member: Member): void {
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

/** Removes a member and rebalances (or completes a barrier that waited only for it). */
export function removeMemberAndUpdateGroup(
  s: CoordinatorState,
  group: Group,
  member: Member,
  reason: string,
): void {
  removeMember(group, member);
  switch (group.state) {
    case "Stable":
    case "CompletingRebalance":
      prepareRebalance(s, group, reason);
      break;
    case "PreparingRebalance":
      tryCompleteJoin(s, group);
      break;
    case "Empty":
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Sessions

/** The member was heard from: its session restarts. */
export function touch(s: CoordinatorState, group: Group, member: Member): void {
  member.lastHeartbeatMs = s.clock.nowMs();
  scheduleExpiry(s, group, member.lastHeartbeatMs + member.sessionTimeoutMs);
}

/** Makes sure the expiry timer fires by `deadlineMs` (one timer per group). */
export function scheduleExpiry(s: CoordinatorState, group: Group, deadlineMs: number): void {
  if (group.expiryTimer !== undefined && group.expiryAtMs <= deadlineMs) return;
  group.expiryTimer?.cancel();
  group.expiryAtMs = deadlineMs;
  group.expiryTimer = setTimer(
    s,
    group,
    () => expireSessions(s, group),
    deadlineMs - s.clock.nowMs(),
  );
}

/** Sets the expiry timer at the earliest deadline of the group. */
export function rescheduleExpiry(s: CoordinatorState, group: Group): void {
  group.expiryTimer?.cancel();
  group.expiryTimer = undefined;
  let next = Infinity;
  for (const m of group.members.values()) {
    if (m.joinWaiter !== undefined || m.syncWaiter !== undefined) continue; // barrier-bounded
    next = Math.min(next, m.lastHeartbeatMs + m.sessionTimeoutMs);
  }
  for (const deadline of group.pending.values()) next = Math.min(next, deadline);
  if (next !== Infinity) scheduleExpiry(s, group, next);
}

/** Forgets expired pending ids and removes members whose session ran out. */
function expireSessions(s: CoordinatorState, group: Group): void {
  group.expiryTimer = undefined;
  if (s.groups.get(group.id) !== group) return;
  const nowMs = s.clock.nowMs();
  for (const [id, deadline] of [...group.pending]) {
    if (deadline <= nowMs) group.pending.delete(id);
  }
  const gone = [...group.members.values()].filter((m) =>
    m.joinWaiter === undefined && m.syncWaiter === undefined &&
    m.lastHeartbeatMs + m.sessionTimeoutMs <= nowMs
  );
  for (const m of gone) {
    s.logger.info("kafka member session expired", {
      group: group.id,
      member: m.memberId,
      sessionTimeoutMs: m.sessionTimeoutMs,
    });
    if (group.members.get(m.memberId) === m) {
      removeMemberAndUpdateGroup(s, group, m, `session timeout of ${m.memberId}`);
    }
  }
  tryCompleteJoin(s, group); // expired pending ids no longer hold the barrier
  rescheduleExpiry(s, group);
}
