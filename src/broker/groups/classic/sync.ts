/**
 * SyncGroup for the classic group coordinator (coordinator.ts describes the protocol): the
 * leader's assignments go to every member of the generation, followers wait for them. Members
 * that never sync are removed by the pending-sync expiry (rebalance.ts).
 */
import type { ClassicSyncGroupRequest, ClassicSyncGroupResult } from "./types.ts";
import { rescheduleExpiry, touch } from "./rebalance.ts";
import {
  type CoordinatorState,
  EMPTY,
  type Group,
  type Member,
  syncError,
  validateMember,
  validGroupId,
} from "./state.ts";

/**
 * SyncGroup: the leader's call stores the assignments and answers every waiting member; a
 * follower's waits for it (bounded by the pending-sync expiry). The answer, or a promise of it.
 */
export function handleSyncGroup(
  s: CoordinatorState,
  req: ClassicSyncGroupRequest,
): ClassicSyncGroupResult | Promise<ClassicSyncGroupResult> {
  if (s.closed) return syncError("COORDINATOR_NOT_AVAILABLE");
  if (!validGroupId(req.groupId)) return syncError("INVALID_GROUP_ID");
  const group = s.groups.get(req.groupId);
  if (group === undefined) return syncError("UNKNOWN_MEMBER_ID");
  const error = validateMember(s, group, req.memberId, req.groupInstanceId);
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
      synced(group, member);
      if (group.leaderId === member.memberId) propagateAssignment(s, group, req.assignments);
      return result;
    }
    case "Stable":
      synced(group, member);
      touch(s, group, member);
      return syncResult(group, member);
  }
}

function synced(group: Group, member: Member): void {
  group.pendingSync.delete(member.memberId);
  if (group.pendingSync.size === 0) {
    group.syncTimer?.cancel();
    group.syncTimer = undefined;
  }
}

function syncResult(group: Group, member: Member): ClassicSyncGroupResult {
  return {
    error: "NONE",
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    assignment: member.assignment,
  };
}

/** The leader's assignments: members it left out get empty bytes; unknown ids are ignored. */
function propagateAssignment(
  s: CoordinatorState,
  group: Group,
  assignments: { memberId: string; assignment: Uint8Array }[],
): void {
  const given = new Map<string, Uint8Array>();
  for (const a of assignments) {
    if (group.members.has(a.memberId)) given.set(a.memberId, a.assignment);
  }
  if (given.size < group.members.size) {
    s.logger.warn("kafka leader's assignment leaves members out; they get none", {
      group: group.id,
      generation: group.generationId,
      missing: group.members.size - given.size,
    });
  }
  group.state = "Stable";
  const nowMs = s.clock.nowMs();
  for (const m of group.members.values()) {
    m.assignment = given.get(m.memberId)?.slice() ?? EMPTY;
    m.lastHeartbeatMs = nowMs;
    const waiter = m.syncWaiter;
    m.syncWaiter = undefined;
    waiter?.(syncResult(group, m));
  }
  rescheduleExpiry(s, group);
  s.logger.info("kafka group stable", {
    group: group.id,
    generation: group.generationId,
    members: group.members.size,
  });
}
