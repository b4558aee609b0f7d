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
 *   with the consumer-protocol groups (one `commit` call per request), so both fronts see them. The store
 *   keeps no commit metadata: metadata strings are kept in memory (bounded, lost on restart),
 *   and OffsetFetch answers "" when it has none for the committed offset.
 * - Group membership is not persisted (the store's group records are the HTTP members'):
 *   after a restart Kafka members get UNKNOWN_MEMBER_ID and rejoin, as after a coordinator move.
 * - Topic existence is not checked here: Kafka's KafkaApis filters unknown topics
 *   (UNKNOWN_TOPIC_OR_PARTITION) before the coordinator, and the wire layer does the same.
 * - A group id with consumer-protocol members, Kafka or HTTP (the `isOtherProtocolGroup`
 *   callback), refuses classic joins with INCONSISTENT_GROUP_PROTOCOL and simple commits with
 *   UNKNOWN_MEMBER_ID; {@link ClassicGroupCoordinator.hasActiveGroup} lets the consumer
 *   protocol refuse the reverse (../coordinator.ts holds both).
 *
 * Time comes from the injected Clock; every limit has a name and a default (types.ts).
 *
 * The files of this folder, one job each (the class below is the facade; the others share one
 * CoordinatorState object and are functions of it, except the offsets' small class):
 * - types.ts: the named limits and options, ClassicGroupError, requests and results;
 * - state.ts: the group and member records, the shared state, error results, member validation,
 *   timers;
 * - join.ts: JoinGroup: validation, group.max.size, pending member ids, static membership;
 * - rebalance.ts: the state transitions: the join barrier and protocol election, the pending-sync
 *   expiry, member removal, session expiry;
 * - sync.ts: SyncGroup, the leader's assignments handed to the members;
 * - heartbeat.ts: Heartbeat and LeaveGroup;
 * - offsets.ts: OffsetCommit and OffsetFetch, and the commit metadata kept in memory;
 * - coordinator.ts: the facade the Kafka front calls, DescribeGroups/ListGroups support, close.
 */
import type { Clock } from "../../../clock.ts";
import type { Logger } from "../../../logger.ts";
import type { GroupStore as OffsetStore } from "../group_records.ts";
import { handleHeartbeat, handleLeaveGroup } from "./heartbeat.ts";
import { handleJoinGroup } from "./join.ts";
import { ClassicOffsets } from "./offsets.ts";
import {
  cancelTimers,
  type CoordinatorState,
  EMPTY,
  isIdle,
  joinError,
  syncError,
} from "./state.ts";
import { handleSyncGroup } from "./sync.ts";
import {
  CLASSIC_GROUP_OPTIONS_DEFAULT,
  type ClassicGroupDescription,
  type ClassicGroupOptions,
  type ClassicHeartbeatRequest,
  type ClassicHeartbeatResult,
  type ClassicJoinGroupRequest,
  type ClassicJoinGroupResult,
  type ClassicLeaveGroupRequest,
  type ClassicLeaveGroupResult,
  type ClassicOffsetCommitRequest,
  type ClassicOffsetCommitResult,
  type ClassicOffsetFetchResult,
  type ClassicSyncGroupRequest,
  type ClassicSyncGroupResult,
} from "./types.ts";

export class ClassicGroupCoordinator {
  readonly #state: CoordinatorState;
  readonly #offsets: ClassicOffsets;

  constructor(
    readonly store: OffsetStore,
    readonly clock: Clock,
    readonly logger: Logger,
    options: Partial<ClassicGroupOptions> = {},
    /** True while the group has consumer-protocol members (Kafka or HTTP). */
    readonly isOtherProtocolGroup: (groupId: string) => boolean = () => false,
  ) {
    this.#state = {
      groups: new Map(),
      options: { ...CLASSIC_GROUP_OPTIONS_DEFAULT, ...options },
      clock,
      logger,
      isOtherProtocolGroup,
      closed: false,
    };
    this.#offsets = new ClassicOffsets(this.#state, store);
  }

  /** JoinGroup (join.ts): resolves when the join barrier completes (or at once for errors). */
  joinGroup(req: ClassicJoinGroupRequest): Promise<ClassicJoinGroupResult> {
    return Promise.resolve(handleJoinGroup(this.#state, req));
  }

  /**
   * SyncGroup (sync.ts): the leader's call stores the assignments and answers every waiting
   * member; a follower's waits for it (bounded by the pending-sync expiry).
   */
  syncGroup(req: ClassicSyncGroupRequest): Promise<ClassicSyncGroupResult> {
    return Promise.resolve(handleSyncGroup(this.#state, req));
  }

  /** Heartbeat (heartbeat.ts): REBALANCE_IN_PROGRESS while PreparingRebalance: rejoin. */
  heartbeat(req: ClassicHeartbeatRequest): ClassicHeartbeatResult {
    return handleHeartbeat(this.#state, req);
  }

  /** LeaveGroup (heartbeat.ts): removes each listed member and rebalances; answers at once. */
  leaveGroup(req: ClassicLeaveGroupRequest): ClassicLeaveGroupResult {
    return handleLeaveGroup(this.#state, req);
  }

  /**
   * OffsetCommit (offsets.ts): validated as Kafka does, then every valid partition of the
   * request is written with one OffsetStore.commit. Per-partition errors, in request order.
   */
  commitOffsets(
    req: ClassicOffsetCommitRequest,
    /** The member was checked by another coordinator (a KIP-848 consumer group): write only. */
    memberChecked = false,
  ): Promise<ClassicOffsetCommitResult> {
    return this.#offsets.commit(req, memberChecked);
  }

  /**
   * OffsetFetch (offsets.ts): committed offsets from the store whatever the group's state (-1n
   * when none); `topics` null means every partition the group has committed.
   */
  fetchOffsets(
    groupId: string,
    topics: { name: string; partitionIndexes: number[] }[] | null,
  ): ClassicOffsetFetchResult {
    return this.#offsets.fetch(groupId, topics);
  }

  // -------------------------------------------------------------------------------------------
  // Introspection and shutdown

  /** True while Kafka members (or pending ones) use the group id, or it is rebalancing. */
  hasActiveGroup(groupId: string): boolean {
    const group = this.#state.groups.get(groupId);
    return group !== undefined && !isIdle(group);
  }

  /** The ids {@link hasActiveGroup} is true for (ListGroups). */
  activeGroupIds(): string[] {
    return [...this.#state.groups.values()].filter((g) => !isIdle(g)).map((g) => g.id);
  }

  /**
   * What OffsetDelete needs (KIP-496) of a group with members: its protocol type and each
   * member's metadata for the chosen protocol (null before one is chosen, in the first rebalance).
   * Undefined when the group has no members.
   */
  memberProtocols(
    groupId: string,
  ): { protocolType: string | null; metadata: Uint8Array[] | null } | undefined {
    const group = this.#state.groups.get(groupId);
    if (group === undefined || group.members.size === 0) return undefined;
    const chosen = group.protocolName;
    return {
      protocolType: group.protocolType,
      metadata: chosen === null
        ? null
        : [...group.members.values()].map((m) =>
          m.protocols.find((p) => p.name === chosen)?.metadata ?? EMPTY
        ),
    };
  }

  /** The group as DescribeGroups shows it; state "Dead" for a group this coordinator lacks. */
  describe(groupId: string): ClassicGroupDescription {
    const group = this.#state.groups.get(groupId);
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
    if (this.#state.closed) return;
    this.#state.closed = true;
    for (const group of this.#state.groups.values()) {
      cancelTimers(group);
      for (const m of group.members.values()) {
        const joinWaiter = m.joinWaiter;
        const syncWaiter = m.syncWaiter;
        m.joinWaiter = m.syncWaiter = undefined;
        joinWaiter?.(joinError("COORDINATOR_NOT_AVAILABLE", m.memberId));
        syncWaiter?.(syncError("COORDINATOR_NOT_AVAILABLE"));
      }
    }
    this.#state.groups.clear();
    this.#offsets.clear();
  }
}
