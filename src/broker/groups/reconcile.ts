/**
 * The `consumer` protocol's assignment: the group's target (computed by a server-side assignor
 * when the group epoch is ahead of the assignment epoch) and each member's way toward it
 * (revoke first, then take what nobody else still owns). consumer_coordinator.ts describes the
 * protocol; these functions change a group's records and nothing else.
 */
import type { Logger } from "../../logger.ts";
import { type Assignment, rangeAssign, roundRobinAssign, uniformAssign } from "./assignors.ts";
import {
  CONSUMER_ASSIGNORS,
  type ConsumerAssignorName,
  type Group,
  type Member,
  newGroup,
  newMember,
  type RestoredServerMember,
} from "./consumer_types.ts";
import {
  add,
  fromFlat,
  fromList,
  has,
  type Owned,
  sameOwned,
  size,
  toList,
  type TopicPartitions,
  tpKey,
} from "./owned.ts";

/** What the assignment reads of the world. */
export interface AssignmentContext {
  /** Partitions of a topic now (0 when it does not exist). */
  partitionsOf(topic: string): number;
  /** Every topic name now (for regex subscriptions). */
  topicNames(): string[];
  nowMs(): number;
  logger: Logger;
}

/** The member's topics, with those its regex matches. */
export function subscribed(ctx: AssignmentContext, member: Member): string[] {
  if (member.regex === null) return member.topics;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${member.regex})$`);
  } catch {
    return member.topics;
  }
  return [...new Set([...member.topics, ...ctx.topicNames().filter((t) => re.test(t))])].sort();
}

function signature(ctx: AssignmentContext, group: Group): string {
  const topics = new Set<string>();
  for (const m of group.members.values()) for (const t of subscribed(ctx, m)) topics.add(t);
  return [...topics].sort().map((t) => `${t}:${ctx.partitionsOf(t)}`).join(",");
}

/** The assignor most members name, else the default (Kafka's choice). */
function electAssignor(group: Group): ConsumerAssignorName {
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
  return assignor;
}

/** A new target when the group epoch moved past the assignment epoch (or the topics changed). */
export function maybeComputeTarget(ctx: AssignmentContext, group: Group): void {
  const sig = signature(ctx, group);
  if (sig !== group.topicsSignature) {
    group.topicsSignature = sig;
    // A partition count changed (or a regex matches other topics): a new target.
    if (group.assignmentEpoch > 0 && group.groupEpoch === group.assignmentEpoch) {
      group.groupEpoch++;
    }
  }
  if (group.groupEpoch <= group.assignmentEpoch) return;
  computeTarget(ctx, group, group.groupEpoch);
}

/** Computes the target for `epoch` with the elected assignor. */
export function computeTarget(ctx: AssignmentContext, group: Group, epoch: number): void {
  const assignor = electAssignor(group);
  group.assignor = assignor;
  const subscriptions = [...group.members.values()].map((m) => ({
    memberId: m.memberId,
    topics: subscribed(ctx, m),
  }));
  let target: Assignment;
  if (assignor === "range") target = rangeAssign(subscriptions, ctx.partitionsOf);
  else if (assignor === "roundrobin") target = roundRobinAssign(subscriptions, ctx.partitionsOf);
  else target = uniformAssign(subscriptions, ctx.partitionsOf, group.target);
  group.target = target;
  group.assignmentEpoch = epoch;
  ctx.logger.info("consumer group target assignment", {
    group: group.id,
    epoch,
    assignor,
    members: group.members.size,
  });
}

/** Frees what the member was revoking once `owned` (what it says it owns) no longer has it. */
function releaseRevoked(group: Group, member: Member, owned: TopicPartitions[] | null): boolean {
  if (owned === null) return false;
  const stillOwned = fromList(owned);
  for (const [t, ps] of member.revoking) {
    for (const p of ps) if (has(stillOwned, t, p)) return false;
  }
  for (const [t, ps] of member.revoking) {
    for (const p of ps) {
      if (group.owners.get(tpKey(t, p)) === member.memberId) group.owners.delete(tpKey(t, p));
    }
  }
  member.revoking = new Map();
  member.revokeDeadlineMs = undefined;
  member.state = "stable";
  return true;
}

/**
 * Moves the member toward its target: a member owning partitions its target lacks keeps the rest
 * and revokes those (state "unrevoked", epoch unchanged, a deadline of its rebalance timeout);
 * once nothing is to be revoked it moves to the assignment epoch and takes every target partition
 * no other member still owns (state "unreleased" while some are still owned elsewhere).
 */
export function reconcile(
  ctx: AssignmentContext,
  group: Group,
  member: Member,
  owned: TopicPartitions[] | null,
): void {
  if (member.state === "unrevoked" && !releaseRevoked(group, member, owned)) return;
  if (member.state === "stable" && member.memberEpoch === group.assignmentEpoch) return;
  const target = fromFlat(group.target.get(member.memberId));
  const keep: Owned = new Map();
  const revoke: Owned = new Map();
  for (const [t, ps] of member.assigned) {
    for (const p of ps) add(has(target, t, p) ? keep : revoke, t, p);
  }
  if (size(revoke) > 0) {
    member.assigned = keep;
    member.revoking = revoke;
    member.state = "unrevoked";
    member.revokeDeadlineMs = ctx.nowMs() + member.rebalanceTimeoutMs;
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

/**
 * Reconciles the group's HTTP members on the spot: the broker reads for them, so what they give
 * up is released at once (what they fetched and did not commit is read again by the new owner:
 * at least once). Two passes, so a partition one HTTP member gives up reaches another in the same
 * call. True when any HTTP member's epoch or partitions changed.
 */
export function settleServerMembers(ctx: AssignmentContext, group: Group): boolean {
  let any = false;
  for (const m of group.members.values()) if (m.kind === "http" && !m.leftStatic) any = true;
  if (!any) return false;
  maybeComputeTarget(ctx, group);
  let changed = false;
  for (let pass = 0; pass < 2; pass++) {
    for (const m of group.members.values()) {
      if (m.kind !== "http") continue;
      // Nothing to do: at the assignment epoch, holding its whole target.
      if (m.state === "stable" && m.memberEpoch === group.assignmentEpoch) continue;
      const epoch = m.memberEpoch;
      const before = toList(m.assigned);
      // Revoke (if needed), release at once, then take what is free.
      for (let step = 0; step < 3; step++) {
        reconcile(ctx, group, m, toList(m.assigned));
        if (m.state !== "unrevoked") break;
      }
      if (epoch !== m.memberEpoch || !sameOwned(fromList(before), m.assigned)) changed = true;
    }
  }
  return changed;
}

/**
 * A group of stored HTTP members after a restart: same ids, the stored generation as the group,
 * assignment and member epoch, each member holding its target and a fresh session from now.
 */
export function restoredGroup(
  ctx: AssignmentContext,
  groupId: string,
  generation: number,
  assignor: ConsumerAssignorName,
  members: readonly RestoredServerMember[],
): Group {
  const group = newGroup(groupId);
  const nowMs = ctx.nowMs();
  for (const m of members) {
    const member = newMember(m.memberId, "http", {
      instanceId: null,
      rackId: null,
      clientId: "",
      clientHost: "",
      sessionTimeoutMs: m.sessionTimeoutMs,
    }, nowMs);
    member.topics = [...new Set(m.topics)].sort();
    member.serverAssignor = assignor;
    member.memberEpoch = -1; // below the assignment epoch: reconcile takes the target
    group.members.set(m.memberId, member);
  }
  group.groupEpoch = generation;
  group.assignor = assignor;
  if (members.length > 0) computeTarget(ctx, group, generation);
  for (const m of group.members.values()) reconcile(ctx, group, m, []);
  group.topicsSignature = signature(ctx, group);
  return group;
}
