/**
 * The classic group coordinator's records and what every part of it shares: a group and its
 * members as the state machine keeps them (see coordinator.ts), the coordinator's state (the group
 * table, options, clock and logger) passed to the functions of join.ts, sync.ts, heartbeat.ts,
 * rebalance.ts and offsets.ts, and small helpers: error results, member validation, timers.
 */
import type { Clock, Timer } from "../../../clock.ts";
import type { Logger } from "../../../logger.ts";
import {
  CLASSIC_GROUP_ID_LENGTH_MAX,
  type ClassicGroupError,
  type ClassicGroupOptions,
  type ClassicGroupProtocol,
  type ClassicGroupState,
  type ClassicJoinGroupMember,
  type ClassicJoinGroupResult,
  type ClassicSyncGroupResult,
} from "./types.ts";

/** The coordinator's state: one object, shared by the functions of this folder. */
export interface CoordinatorState {
  readonly groups: Map<string, Group>;
  readonly options: ClassicGroupOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  /** True when members of another protocol (HTTP, KIP-848) use the group id. */
  readonly isOtherProtocolGroup: (groupId: string) => boolean;
  /** Set by close(): requests are refused, timers do nothing. */
  closed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Records

export const EMPTY = new Uint8Array(0);

export interface Member {
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

export interface Group {
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

export function newGroup(id: string): Group {
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

// ---------------------------------------------------------------------------------------------
// Answers

/** A JoinGroup answer with no generation (the member id given back, or a new one). */
export function joinError(error: ClassicGroupError, memberId = ""): ClassicJoinGroupResult {
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

/** A member's JoinGroup answer: the leader gets every member's metadata for the protocol. */
export function joinResult(group: Group, member: Member): ClassicJoinGroupResult {
  const leader = group.leaderId === member.memberId;
  return {
    error: "NONE",
    generationId: group.generationId,
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    leader: group.leaderId ?? "",
    memberId: member.memberId,
    members: leader ? memberMetadata(group) : [],
  };
}

function memberMetadata(group: Group): ClassicJoinGroupMember[] {
  return [...group.members.values()].map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    metadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY,
  }));
}

export function syncError(error: ClassicGroupError): ClassicSyncGroupResult {
  return { error, protocolType: null, protocolName: null, assignment: EMPTY };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * A group id offsets may be committed and fetched for: "" too, as Kafka takes them (clients
 * without a group commit there); joins, syncs, heartbeats and leaves need validGroupId.
 */
export function validOffsetGroupId(id: unknown): id is string {
  return typeof id === "string" && id.length <= CLASSIC_GROUP_ID_LENGTH_MAX;
}

export function validGroupId(id: unknown): id is string {
  return typeof id === "string" && id.length > 0 && id.length <= CLASSIC_GROUP_ID_LENGTH_MAX;
}

/** An Empty group with no pending member: nothing but its generation number. */
export function isIdle(group: Group): boolean {
  return group.state === "Empty" && group.members.size === 0 && group.pending.size === 0;
}

/** Kafka's validateCurrentMember: the instance id maps to this member id, or the id exists. */
export function validateMember(
  s: CoordinatorState,
  group: Group,
  memberId: string,
  groupInstanceId: string | null,
): ClassicGroupError {
  if (groupInstanceId !== null) {
    const current = group.staticMembers.get(groupInstanceId);
    if (current === undefined) return "UNKNOWN_MEMBER_ID";
    if (current !== memberId) {
      s.logger.info("kafka static member fenced", {
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

/** A group timer: it does nothing once the coordinator is closed, and a throw is logged. */
export function setTimer(
  s: CoordinatorState,
  group: Group,
  fn: () => void,
  delayMs: number,
): Timer {
  return s.clock.setTimer(() => {
    if (s.closed) return;
    try {
      fn();
    } catch (err) {
      s.logger.error("kafka group timer failed", { group: group.id, error: String(err) });
    }
  }, Math.max(0, delayMs));
}

/** Cancels the group's join, pending-sync and session timers. */
export function cancelTimers(group: Group): void {
  group.joinTimer?.cancel();
  group.syncTimer?.cancel();
  group.expiryTimer?.cancel();
  group.joinTimer = group.syncTimer = group.expiryTimer = undefined;
}
