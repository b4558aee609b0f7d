/**
 * Heartbeat and LeaveGroup for the classic group coordinator (coordinator.ts describes the
 * protocol): a heartbeat restarts the member's session (the expiry timers are in rebalance.ts)
 * and tells it to rejoin while the group prepares a rebalance; a leave removes members at once.
 */
import type {
  ClassicGroupError,
  ClassicHeartbeatRequest,
  ClassicHeartbeatResult,
  ClassicLeaveGroupRequest,
  ClassicLeaveGroupResult,
} from "./types.ts";
import { removeMemberAndUpdateGroup, touch, tryCompleteJoin } from "./rebalance.ts";
import { type CoordinatorState, validateMember, validGroupId } from "./state.ts";

/** Heartbeat: REBALANCE_IN_PROGRESS while PreparingRebalance tells the member to rejoin. */
export function handleHeartbeat(
  s: CoordinatorState,
  req: ClassicHeartbeatRequest,
): ClassicHeartbeatResult {
  if (s.closed) return { error: "COORDINATOR_NOT_AVAILABLE" };
  if (!validGroupId(req.groupId)) return { error: "INVALID_GROUP_ID" };
  const group = s.groups.get(req.groupId);
  if (group === undefined) return { error: "UNKNOWN_MEMBER_ID" };
  const error = validateMember(s, group, req.memberId, req.groupInstanceId);
  if (error !== "NONE") return { error };
  if (req.generationId !== group.generationId) {
    return { error: "ILLEGAL_GENERATION" };
  }
  const member = group.members.get(req.memberId)!;
  switch (group.state) {
    case "Empty":
      return { error: "UNKNOWN_MEMBER_ID" };
    case "PreparingRebalance":
      touch(s, group, member);
      return { error: "REBALANCE_IN_PROGRESS" };
    case "CompletingRebalance":
    case "Stable":
      touch(s, group, member);
      return { error: "NONE" };
  }
}

/**
 * LeaveGroup: removes each listed member (memberId "" with a groupInstanceId names a static
 * member) and rebalances; the others learn it from their heartbeats. Answers at once.
 */
export function handleLeaveGroup(
  s: CoordinatorState,
  req: ClassicLeaveGroupRequest,
): ClassicLeaveGroupResult {
  if (s.closed) return { error: "COORDINATOR_NOT_AVAILABLE", members: [] };
  if (!validGroupId(req.groupId)) {
    return { error: "INVALID_GROUP_ID", members: [] };
  }
  const group = s.groups.get(req.groupId);
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
      removeMemberAndUpdateGroup(s, group, member, `static member ${current} left`);
      return answer("NONE");
    }
    if (group.pending.delete(leaving.memberId)) {
      tryCompleteJoin(s, group);
      return answer("NONE");
    }
    const error = validateMember(s, group, leaving.memberId, leaving.groupInstanceId);
    if (error !== "NONE") return answer(error);
    const member = group.members.get(leaving.memberId)!;
    removeMemberAndUpdateGroup(s, group, member, `member ${member.memberId} left`);
    return answer("NONE");
  });
  return { error: "NONE", members };
}
