/**
 * The group coordinator: one group-id space, two protocols, one offset store, as Kafka 4's
 * GroupCoordinator.
 *
 * - `consumer` (KIP-848, consumer_coordinator.ts): the coordinator computes assignments. Kafka
 *   clients with `group.protocol=consumer` (ConsumerGroupHeartbeat) and Sluice's HTTP members
 *   (http_members.ts) are its members, and may share a group.
 * - `classic` (Kafka's JoinGroup/SyncGroup, classic/coordinator.ts): the clients assign, the
 *   coordinator relays their bytes. A group id is one protocol at a time: while a classic group
 *   has members, consumer-protocol joins (Kafka or HTTP) are refused, and the reverse.
 * - Offsets (offset_store.ts): committed by either protocol and by HTTP members, one store.
 *
 * This class holds both protocols and the HTTP members, and answers for every group id (describe,
 * "has members", forget) across both. Reading a classic group's subscriptions for GET
 * /v1/groups/{group} needs the Kafka consumer protocol's byte layout, which the Kafka front
 * knows: it sets the describer (setClassicDescriber).
 */
import type { Clock } from "../../clock.ts";
import { SluiceError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { FetchMessagesRequest, FetchPartitionResult } from "../fetch_reader.ts";
import type { TopicRegistry } from "../topic_registry.ts";
import type { TopicPartition } from "./assignors.ts";
import { ClassicGroupCoordinator } from "./classic/coordinator.ts";
import type { ClassicGroupOptions } from "./classic/types.ts";
import {
  ConsumerGroupCoordinator,
  type ConsumerGroupOptions,
  type MemberKind,
} from "./consumer_coordinator.ts";
import {
  type HeartbeatResult,
  HttpMembers,
  type JoinRequest,
  type MemberFetchRequest,
  type MemberFetchResult,
  type MemberView,
  type PartitionBoundsSource,
  validateGroupId,
} from "./http_members.ts";
import type { GroupStore as OffsetStore, OffsetCommit } from "./group_records.ts";

export type {
  HeartbeatResult,
  JoinRequest,
  MemberFetchPart,
  MemberFetchRequest,
  MemberFetchResult,
  MemberView,
  OffsetReset,
} from "./http_members.ts";
import { toFlat } from "./owned.ts";

export interface GroupDescription {
  group: string;
  /** The group epoch (consumer protocol) or generation (classic). */
  generation: number;
  /**
   * Consumer protocol: Empty, Assigning, Reconciling, Stable (KIP-848's). Classic: Empty,
   * PreparingRebalance, CompletingRebalance, Stable.
   */
  state:
    | "Empty"
    | "Assigning"
    | "Reconciling"
    | "Stable"
    | "PreparingRebalance"
    | "CompletingRebalance";
  /** The server-side assignor (consumer), or the protocol the members elected (classic). */
  assignor: string;
  protocol: "consumer" | "classic";
  members: {
    memberId: string;
    /** "http" or "kafka". */
    kind: MemberKind;
    topics: string[];
    assignment: TopicPartition[];
  }[];
}

/** One group as GET /v1/groups lists it (Kafka's ListGroups, with the member count). */
export interface GroupListing {
  group: string;
  state: GroupDescription["state"];
  /** "consumer" (KIP-848: HTTP members, Kafka consumers with group.protocol=consumer) or "classic". */
  protocol: "consumer" | "classic";
  /** Kafka's protocol type: "consumer" for consumers; a classic group's own ("connect", ...); "" unknown. */
  protocolType: string;
  members: number;
}

/** A classic group as GET /v1/groups/{group} shows groups; undefined when not active. */
export type ClassicDescriber = (
  classic: ClassicGroupCoordinator,
  groupId: string,
) => GroupDescription | undefined;

export interface GroupCoordinatorOptions {
  /** Groups tracked at once (GROUPS_MAX). */
  groupsMax?: number;
  /** The consumer protocol's session timeout and heartbeat interval (Kafka's defaults). */
  consumer?: Partial<ConsumerGroupOptions>;
  /** The classic protocol's bounds and initial rebalance delay. */
  classic?: Partial<ClassicGroupOptions>;
  /** Where HTTP members' partitions start and end (a cluster's: remote_reads.ts). */
  partitionBounds?: PartitionBoundsSource;
}

export class GroupCoordinator {
  readonly consumer: ConsumerGroupCoordinator;
  readonly classic: ClassicGroupCoordinator;
  readonly http: HttpMembers;
  #describeClassic: ClassicDescriber = () => undefined;

  constructor(
    readonly topics: TopicRegistry,
    readonly store: OffsetStore,
    /** The broker's one read path (Broker.fetchMessages), for HTTP members' reads. */
    read: (request: FetchMessagesRequest) => Promise<FetchPartitionResult[]>,
    clock: Clock,
    logger: Logger,
    options: GroupCoordinatorOptions = {},
  ) {
    this.consumer = new ConsumerGroupCoordinator(
      (topic) => {
        try {
          return topics.get(topic).logs.length;
        } catch {
          return 0; // not there (yet), or deleted
        }
      },
      () => topics.list().map((t) => t.name),
      clock,
      logger,
      {
        ...options.consumer,
        ...(options.groupsMax === undefined ? {} : { groupsMax: options.groupsMax }),
      },
      (id) => this.classic.hasActiveGroup(id),
    );
    this.classic = new ClassicGroupCoordinator(
      store,
      clock,
      logger,
      {
        ...options.classic,
        ...(options.groupsMax === undefined ? {} : { groupsMax: options.groupsMax }),
      },
      (id) => this.consumer.hasActiveGroup(id),
    );
    this.http = new HttpMembers(
      topics,
      store,
      read,
      this.consumer,
      clock,
      logger,
      options.partitionBounds,
    );
  }

  /** Set by the Kafka front, which reads the classic protocol's bytes. */
  setClassicDescriber(describe: ClassicDescriber): void {
    this.#describeClassic = describe;
  }

  /** True while the group has members of either protocol. */
  hasMembers(groupId: string): boolean {
    return this.consumer.hasActiveGroup(groupId) || this.classic.hasActiveGroup(groupId);
  }

  /** Forgets a consumer group without members (after DeleteGroups removed its offsets). */
  forgetEmpty(groupId: string): void {
    this.consumer.deleteIfEmpty(groupId);
  }

  // HTTP members (http_members.ts).

  join(groupId: unknown, request: JoinRequest): Promise<MemberView> {
    return this.http.join(groupId, request);
  }

  heartbeat(groupId: unknown, memberId: unknown): HeartbeatResult {
    return this.http.heartbeat(groupId, memberId);
  }

  leave(groupId: unknown, memberId: unknown): Promise<void> {
    return this.http.leave(groupId, memberId);
  }

  fetch(
    groupId: unknown,
    memberId: unknown,
    request: MemberFetchRequest,
  ): Promise<MemberFetchResult> {
    return this.http.fetch(groupId, memberId, request);
  }

  commit(
    groupId: unknown,
    request: { memberId: string; generation: number; offsets: OffsetCommit[] },
  ): Promise<void> {
    return this.http.commit(groupId, request);
  }

  offsets(groupId: unknown): (OffsetCommit & { lag: number | null })[] {
    return this.http.offsets(groupId);
  }

  /** Any group: classic while it has members, else the consumer group, else Empty with offsets. */
  describe(groupId: unknown): GroupDescription {
    const id = validateGroupId(groupId);
    if (this.classic.hasActiveGroup(id)) {
      const classic = this.#describeClassic(this.classic, id);
      if (classic !== undefined) return classic;
    }
    const d = this.consumer.describe(id);
    if (d === undefined) {
      if (!this.store.hasOffsets(id)) {
        throw new SluiceError("GROUP_NOT_FOUND", `group ${id} does not exist`, { group: id });
      }
      return {
        group: id,
        generation: 0,
        state: "Empty",
        assignor: "",
        protocol: "consumer",
        members: [],
      };
    }
    return {
      group: id,
      generation: d.groupEpoch,
      state: d.state,
      assignor: d.assignor,
      protocol: "consumer",
      members: d.members.map((m) => ({
        memberId: m.memberId,
        kind: m.kind,
        topics: m.subscribedTopicNames,
        assignment: toFlat(
          new Map(m.assignment.map((t) => [t.topic, new Set(t.partitions)])),
        ),
      })),
    };
  }

  /**
   * Every group known here (with members, a stored membership or committed offsets), sorted by id,
   * as Kafka's ListGroups finds them: at most `max` ids after `after` (exclusive), and whether more
   * follow. A classic group with members first, then a consumer-protocol group, then Empty.
   */
  list(after: string | undefined, max: number): { groups: GroupListing[]; more: boolean } {
    const stored = new Set(this.store.storedGroups().map(([id]) => id));
    const ids = new Set([...this.classic.activeGroupIds(), ...this.consumer.groupIds(), ...stored]);
    for (const id of this.store.groupsWithOffsets()) ids.add(id);
    const sorted = [...ids].filter((id) => after === undefined || id > after).sort();
    const groups: GroupListing[] = [];
    for (const id of sorted.slice(0, max)) {
      if (this.classic.hasActiveGroup(id)) {
        const d = this.classic.describe(id);
        if (d.state !== "Dead" && d.state !== "Empty") {
          groups.push({
            group: id,
            state: d.state,
            protocol: "classic",
            protocolType: d.protocolType,
            members: d.members.length,
          });
          continue;
        }
      }
      const d = this.consumer.describe(id);
      if (d !== undefined) {
        groups.push({
          group: id,
          state: d.state,
          protocol: "consumer",
          protocolType: "consumer",
          members: d.members.length,
        });
        continue;
      }
      // Only offsets (or a stored membership): Empty, as GET /v1/groups/{group} shows it; the
      // protocol type as Kafka's ListGroups gives it: "consumer" when consumers used it, else "".
      const classic = this.classic.describe(id);
      const hadConsumers = stored.has(id) ||
        (classic.state !== "Dead" && classic.protocolType === "consumer");
      groups.push({
        group: id,
        state: "Empty",
        protocol: "consumer",
        protocolType: hadConsumers ? "consumer" : "",
        members: 0,
      });
    }
    return { groups, more: sorted.length > max };
  }

  /**
   * Stops the session timers, then waits for the HTTP members' queued store writes (they keep
   * their stored membership for the next start; a write cut off by the close would lose it).
   */
  async close(): Promise<void> {
    this.consumer.close();
    this.classic.close();
    await this.http.flush();
  }
}
