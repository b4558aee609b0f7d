/**
 * HTTP members of consumer groups: Sluice's HTTP API (join, heartbeat, fetch, commit, leave) on
 * the `consumer` protocol's coordinator (consumer_coordinator.ts). An HTTP member is a member of
 * kind "http": the coordinator computes its assignment with the group's server-side assignor
 * (HTTP's default `range`; `roundrobin` and `uniform` too) and reconciles it at once, so a join, a
 * leave or a member silent past its session timeout moves partitions without a round trip; the
 * member learns it from its next heartbeat or fetch (`rebalance: true`). Kafka consumers with
 * `group.protocol=consumer` may be members of the same group: partitions an HTTP member gives up
 * go to them at their next heartbeat, and partitions they give up come to HTTP members once they
 * revoke them.
 *
 * The broker reads for an HTTP member, up to the partition's high watermark as every fetch
 * (fetch_reader.ts): it keeps the member's positions (in memory, as a Kafka consumer does); a partition that moves starts at its committed offset for its new owner, and a
 * commit for a partition the member no longer owns, or from another generation (the member epoch),
 * is refused (ILLEGAL_GENERATION): delivery is at-least-once and nothing is skipped.
 *
 * HTTP members are stored with the offsets (offset_store.ts: the group's generation, assignor and
 * HTTP members), once per change, in order; after a restart they keep their ids and get a fresh
 * session timeout to show up again. Kafka members are not stored (they rejoin).
 */
import type { Clock } from "../../clock.ts";
import { isSluiceError, SluiceError } from "../../errors.ts";
import {
  SESSION_TIMEOUT_MS_DEFAULT,
  SESSION_TIMEOUT_MS_MAX,
  SESSION_TIMEOUT_MS_MIN,
} from "../../limits.ts";
import type { Logger } from "../../logger.ts";
import type { PartitionLog } from "../../storage/partition_log.ts";
import {
  type FetchBudget,
  type FetchMessagesRequest,
  type FetchPartition,
  type FetchPartitionResult,
  highWatermark,
} from "../fetch_reader.ts";
import type { TopicRegistry } from "../topic_registry.ts";
import type { TopicPartition } from "./assignors.ts";
import {
  CONSUMER_ASSIGNORS,
  type ConsumerAssignorName,
  type ConsumerGroupCoordinator,
  type ConsumerGroupError,
  isConsumerAssignor,
  type Member,
} from "./consumer_coordinator.ts";
import type { GroupStore as OffsetStore, OffsetCommit, StoredGroup } from "./group_records.ts";
import { has, toFlat, tpKey } from "./owned.ts";

const GROUP_ID = /^[a-zA-Z0-9._-]{1,249}$/;
/** The assignor of an HTTP group whose first member names none. */
const HTTP_ASSIGNOR_DEFAULT: ConsumerAssignorName = "range";
/** The client id HTTP members show (DescribeGroups, ConsumerGroupDescribe). */
export const HTTP_MEMBER_CLIENT_ID = "sluice-http";

export type OffsetReset = "earliest" | "latest";

export interface JoinRequest {
  topics: string[];
  assignor?: ConsumerAssignorName;
  sessionTimeoutMs?: number;
  autoOffsetReset?: OffsetReset;
}

export interface MemberView {
  memberId: string;
  /** The member epoch: it changes at each rebalance that reaches this member. */
  generation: number;
  assignment: TopicPartition[];
}

export interface HeartbeatResult extends MemberView {
  /** The generation or assignment changed since this member's previous heartbeat or fetch. */
  rebalance: boolean;
}

/** One partition's part of a member fetch: whole stored batches from `fromOffset`. */
export interface MemberFetchPart {
  topic: string;
  partition: number;
  fromOffset: number;
  bytes: Uint8Array;
}

/** A member's fetch: bytes and wait, the client's signal, the front's response budget. */
export interface MemberFetchRequest {
  maxBytes: number;
  maxWaitMs: number;
  signal?: AbortSignal;
  budget?: FetchBudget;
}

export interface MemberFetchResult extends HeartbeatResult {
  parts: MemberFetchPart[];
}

/** What the broker keeps for an HTTP member beyond its membership. */
interface Reader {
  autoOffsetReset: OffsetReset;
  /** "topic\0partition" -> the next offset this member reads. */
  positions: Map<string, number>;
  /** Rotates the first partition of each fetch, so none starves. */
  cursor: number;
  /** The epoch and assignment this member last saw (heartbeat or fetch). */
  seenEpoch: number;
  seenAssignment: string;
}

export function validateGroupId(id: unknown): string {
  if (typeof id !== "string" || !GROUP_ID.test(id)) {
    throw new SluiceError("INVALID_REQUEST", "a group id is 1-249 characters of [a-zA-Z0-9._-]");
  }
  return id;
}

const readerKey = (group: string, member: string) => `${group}\0${member}`;
const assignmentKey = (a: readonly TopicPartition[]) =>
  a.map((tp) => `${tp.topic}/${tp.partition}`).join(",");

/**
 * Where a member's partitions start and end: the local log's bounds on one node; in a cluster, for
 * a partition another broker leads, what that leader last said (src/broker/remote_reads.ts), which
 * `probe` asks for when it is not known yet.
 */
export interface PartitionBoundsSource {
  bounds(
    topic: string,
    partition: number,
    log: PartitionLog,
  ): { logStartOffset: number; highWatermark: number } | undefined;
  /**
   * Learns the bounds not known yet; undefined when there is nothing to learn (the caller then goes
   * on without yielding: a member's long poll registers in the same turn, as on one node).
   */
  probe(partitions: readonly TopicPartition[]): Promise<void> | undefined;
}

/** One node's bounds: the local log's. */
export const LOCAL_BOUNDS: PartitionBoundsSource = {
  bounds: (_topic, _partition, log) => ({
    logStartOffset: log.logStartOffset,
    highWatermark: highWatermark(log),
  }),
  probe: () => undefined,
};

export class HttpMembers {
  /** "group\0member" -> its reader state. */
  readonly #readers = new Map<string, Reader>();
  /** Per group: the last store write queued (writes of one group go in order). */
  readonly #saves = new Map<string, Promise<void>>();

  constructor(
    readonly topics: TopicRegistry,
    readonly store: OffsetStore,
    /** The broker's one read path (Broker.fetchMessages). */
    readonly read: (request: FetchMessagesRequest) => Promise<FetchPartitionResult[]>,
    readonly consumer: ConsumerGroupCoordinator,
    readonly clock: Clock,
    readonly logger: Logger,
    readonly partitionBounds: PartitionBoundsSource = LOCAL_BOUNDS,
  ) {
    this.restore(store.storedGroups());
    consumer.onServerMembersChanged((id) => {
      this.#save(id).catch((err) =>
        this.logger.error("cannot store a group's members", { group: id, error: String(err) })
      );
    });
  }

  /**
   * Brings back stored groups with their generation and HTTP members: at start, and in a cluster
   * when this broker starts to coordinate an offsets partition's groups.
   */
  restore(groups: readonly [string, StoredGroup][]): void {
    const consumer = this.consumer;
    for (const [id, stored] of groups) {
      // A group already here (this broker coordinated it all along) keeps its live state.
      if (consumer.group(id) !== undefined) continue;
      const assignor = isConsumerAssignor(stored.assignor) ? stored.assignor : "range";
      consumer.restoreServerGroup(id, stored.generation, assignor, stored.members);
      const group = consumer.group(id)!;
      for (const m of stored.members) {
        // As the member saw it before the restart: no rebalance to report.
        const assigned = group.members.get(m.memberId)?.assigned ?? new Map();
        this.#readers.set(readerKey(id, m.memberId), {
          autoOffsetReset: m.autoOffsetReset,
          positions: new Map(),
          cursor: 0,
          seenEpoch: stored.generation,
          seenAssignment: assignmentKey(toFlat(assigned)),
        });
      }
    }
  }

  /** Queues a write of the group's HTTP members as they are now (null: the group is gone). */
  #save(groupId: string): Promise<void> {
    const group = this.consumer.group(groupId);
    let stored: StoredGroup | null = null;
    const live = new Set<string>();
    if (group !== undefined) {
      const members = [...group.members.values()].filter((m) => m.kind === "http");
      for (const m of members) live.add(m.memberId);
      stored = {
        generation: group.assignmentEpoch,
        assignor: group.assignor,
        members: members.map((m) => ({
          memberId: m.memberId,
          topics: m.topics,
          sessionTimeoutMs: m.sessionTimeoutMs,
          autoOffsetReset: this.#readers.get(readerKey(groupId, m.memberId))?.autoOffsetReset ??
            "latest",
        })),
      };
    }
    for (const k of this.#readers.keys()) {
      if (k.startsWith(`${groupId}\0`) && !live.has(k.slice(groupId.length + 1))) {
        this.#readers.delete(k);
      }
    }
    const previous = this.#saves.get(groupId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.store.saveGroup(groupId, stored));
    this.#saves.set(groupId, next);
    next.finally(() => {
      if (this.#saves.get(groupId) === next) this.#saves.delete(groupId);
    }).catch(() => {});
    return next;
  }

  /** Resolves once every queued store write has ended (the broker waits for it to close). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#saves.values()]);
  }

  /** Resolves once every change of the group so far is stored. */
  async #stored(groupId: string): Promise<void> {
    await this.#saves.get(groupId);
  }

  #refuse(groupId: string, error: ConsumerGroupError, message: string): never {
    switch (error) {
      case "GROUP_ID_NOT_FOUND":
        throw new SluiceError(
          "INCONSISTENT_GROUP_PROTOCOL",
          `group ${groupId} has members consuming over Kafka's classic protocol; use another ` +
            `group id`,
        );
      case "COORDINATOR_NOT_AVAILABLE":
      case "GROUP_MAX_SIZE_REACHED":
        throw new SluiceError("TOO_MANY_REQUESTS", message);
      default:
        throw new SluiceError("INVALID_REQUEST", message);
    }
  }

  /** Adds a member and rebalances; the answer carries its new assignment. */
  async join(groupId: unknown, request: JoinRequest): Promise<MemberView> {
    const id = validateGroupId(groupId);
    if (!Array.isArray(request.topics) || request.topics.length === 0) {
      throw new SluiceError("INVALID_REQUEST", "a member subscribes to at least one topic");
    }
    const topics = [...new Set(request.topics)];
    for (const t of topics) this.topics.get(t); // INVALID_TOPIC_NAME / TOPIC_NOT_FOUND
    const assignor = request.assignor;
    if (assignor !== undefined && !isConsumerAssignor(assignor)) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `assignor is one of ${CONSUMER_ASSIGNORS.join(", ")}`,
      );
    }
    const sessionTimeoutMs = request.sessionTimeoutMs ?? SESSION_TIMEOUT_MS_DEFAULT;
    if (
      !Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < SESSION_TIMEOUT_MS_MIN ||
      sessionTimeoutMs > SESSION_TIMEOUT_MS_MAX
    ) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `sessionTimeoutMs must be an integer in [${SESSION_TIMEOUT_MS_MIN}, ${SESSION_TIMEOUT_MS_MAX}]`,
      );
    }
    const group = this.consumer.group(id);
    const active = group !== undefined && group.members.size > 0;
    if (active && assignor !== undefined && assignor !== group.assignor) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `group ${id} uses the ${group.assignor} assignor; join with the same one`,
      );
    }
    const memberId = crypto.randomUUID();
    const reader: Reader = {
      autoOffsetReset: request.autoOffsetReset ?? "latest",
      positions: new Map(),
      cursor: 0,
      seenEpoch: -1,
      seenAssignment: "",
    };
    this.#readers.set(readerKey(id, memberId), reader);
    const joined = this.consumer.joinServerMember(id, {
      memberId,
      topics,
      serverAssignor: assignor ?? (active ? group.assignor : HTTP_ASSIGNOR_DEFAULT),
      sessionTimeoutMs,
      clientId: HTTP_MEMBER_CLIENT_ID,
      clientHost: "",
    });
    if ("error" in joined) {
      this.#readers.delete(readerKey(id, memberId));
      this.#refuse(id, joined.error, joined.message);
    }
    try {
      await this.#stored(id);
    } catch (err) {
      // Not stored, not a member: the client gets the error and no member id it cannot use
      // (the member would otherwise hold partitions until its session timed out).
      this.consumer.leaveServerMember(id, memberId);
      throw err;
    }
    const view = this.#view(joined, reader);
    return { memberId: view.memberId, generation: view.generation, assignment: view.assignment };
  }

  /** The member, seen now; GROUP_NOT_FOUND or MEMBER_NOT_FOUND when it is not one. */
  #member(groupId: unknown, memberId: unknown): { id: string; member: Member; reader: Reader } {
    const id = validateGroupId(groupId);
    const member = typeof memberId === "string"
      ? this.consumer.touchServerMember(id, memberId)
      : undefined;
    const reader = member === undefined
      ? undefined
      : this.#readers.get(readerKey(id, memberId as string));
    if (member === undefined || reader === undefined) {
      if (!this.consumer.knows(id) && !this.store.hasOffsets(id)) {
        throw new SluiceError("GROUP_NOT_FOUND", `group ${id} does not exist`, { group: id });
      }
      throw new SluiceError(
        "MEMBER_NOT_FOUND",
        `member ${String(memberId)} is not in group ${id} (left, or evicted after its ` +
          `session timeout); join again`,
        { group: id },
      );
    }
    return { id, member, reader };
  }

  /** The member's epoch and assignment; positions of partitions it no longer owns are dropped. */
  #view(member: Member, reader: Reader): HeartbeatResult {
    const assignment = toFlat(member.assigned);
    const key = assignmentKey(assignment);
    const rebalance = reader.seenEpoch !== member.memberEpoch || reader.seenAssignment !== key;
    reader.seenEpoch = member.memberEpoch;
    reader.seenAssignment = key;
    if (rebalance) {
      for (const k of [...reader.positions.keys()]) {
        const [topic, p] = k.split("\0");
        if (!has(member.assigned, topic, Number(p))) reader.positions.delete(k);
      }
    }
    return { memberId: member.memberId, generation: member.memberEpoch, assignment, rebalance };
  }

  /** Liveness, and the member's current generation and assignment. */
  heartbeat(groupId: unknown, memberId: unknown): HeartbeatResult {
    const { member, reader } = this.#member(groupId, memberId);
    return this.#view(member, reader);
  }

  /** The member leaves; its partitions go to the others. */
  async leave(groupId: unknown, memberId: unknown): Promise<void> {
    const { id, member } = this.#member(groupId, memberId);
    this.consumer.leaveServerMember(id, member.memberId);
    await this.#stored(id);
  }

  /** Where the member reads a partition next: its position, else the commit, else the reset. */
  /** The member's position in a partition; undefined while its bounds are unknown (a cluster). */
  #position(
    groupId: string,
    reader: Reader,
    tp: TopicPartition,
    log: PartitionLog,
  ): number | undefined {
    const k = tpKey(tp.topic, tp.partition);
    let position = reader.positions.get(k) ?? this.store.committed(groupId, tp.topic, tp.partition);
    const bounds = this.partitionBounds.bounds(tp.topic, tp.partition, log);
    if (bounds === undefined) return undefined;
    const end = bounds.highWatermark;
    if (position === undefined || position < bounds.logStartOffset || position > end) {
      // No commit yet, or retention removed it: autoOffsetReset, as a Kafka consumer does.
      position = reader.autoOffsetReset === "earliest" ? bounds.logStartOffset : end;
    }
    reader.positions.set(k, position);
    return position;
  }

  /**
   * Records from every partition assigned to the member, from its positions, fairly: each fetch
   * starts at the next partition in turn and gives each an equal share of maxBytes (at least one
   * batch). Waits up to maxWaitMs when none has data, or until its assignment changes. `budget`
   * (the HTTP front's response budget) is asked right before each read, as a plain fetch's is.
   */
  async fetch(
    groupId: unknown,
    memberId: unknown,
    request: MemberFetchRequest,
  ): Promise<MemberFetchResult> {
    const { id, member, reader } = this.#member(groupId, memberId);
    member.busy++;
    try {
      const before = this.#view(member, reader);
      // In turn from the next partition, an equal share each (at least one batch), from the
      // member's positions: through the broker's one read path (high watermark, long poll).
      const assigned = this.#assignedLogs(before.assignment);
      const probing = this.partitionBounds.probe(assigned.map(([tp]) => tp));
      if (probing !== undefined) await probing;
      const partitions: FetchPartition[] = [];
      const start = assigned.length === 0 ? 0 : reader.cursor++ % assigned.length;
      const share = Math.max(1, Math.ceil(request.maxBytes / Math.max(1, assigned.length)));
      for (let i = 0; i < assigned.length; i++) {
        const [tp, log] = assigned[(start + i) % assigned.length];
        const fetchOffset = this.#position(id, reader, tp, log);
        if (fetchOffset === undefined) continue; // its leader has not answered yet
        partitions.push({
          topic: tp.topic,
          partition: tp.partition,
          fetchOffset,
          partitionMaxBytes: share,
        });
      }
      const results = await this.read({
        partitions,
        maxBytes: request.maxBytes,
        minBytes: 1,
        maxWaitMs: request.maxWaitMs,
        budget: request.budget,
        // A rebalance ends the wait, so the member sees its new assignment at once.
        signal: () => {
          const changed = this.consumer.changedSignal(id);
          const signals = [request.signal, changed].filter((s) => s !== undefined);
          return signals.length === 0 ? new AbortController().signal : AbortSignal.any(signals);
        },
      });
      const parts: MemberFetchPart[] = [];
      if (this.consumer.group(id)?.members.get(member.memberId) === member) {
        for (const r of results) {
          // Kept only while still the member's, from where it stood (a rebalance may have moved
          // it meanwhile); a deleted topic or other error is skipped until the next rebalance.
          const k = tpKey(r.topic, r.partition);
          // Out of range (retention, or a leader that lost an uncommitted tail): the position is
          // set again from the bounds at the next fetch, by autoOffsetReset.
          if (
            r.error?.code === "OFFSET_OUT_OF_RANGE" && reader.positions.get(k) === r.fetchOffset
          ) {
            reader.positions.delete(k);
          }
          if (r.error !== undefined || r.records.length === 0) continue;
          if (!has(member.assigned, r.topic, r.partition)) continue;
          if (reader.positions.get(k) !== r.fetchOffset) continue;
          parts.push({
            topic: r.topic,
            partition: r.partition,
            fromOffset: r.fetchOffset,
            bytes: r.records,
          });
          reader.positions.set(k, r.nextOffset);
        }
      }
      member.lastSeenMs = this.clock.nowMs();
      const after = this.#view(member, reader);
      return { ...after, rebalance: after.rebalance || before.rebalance, parts };
    } finally {
      member.busy--;
    }
  }

  #assignedLogs(assignment: readonly TopicPartition[]): [TopicPartition, PartitionLog][] {
    const out: [TopicPartition, PartitionLog][] = [];
    for (const tp of assignment) {
      try {
        out.push([tp, this.topics.get(tp.topic).partition(tp.partition)]);
      } catch (err) {
        if (!isSluiceError(err)) throw err; // a deleted topic: skipped until the next rebalance
      }
    }
    return out;
  }

  /**
   * Commits offsets (the next offset to read, per partition) atomically, from the member's current
   * generation and only for partitions it owns; otherwise ILLEGAL_GENERATION.
   */
  async commit(
    groupId: unknown,
    request: { memberId: string; generation: number; offsets: OffsetCommit[] },
  ): Promise<void> {
    const { id, member } = this.#member(groupId, request.memberId);
    if (request.generation !== member.memberEpoch) {
      throw new SluiceError(
        "ILLEGAL_GENERATION",
        `generation ${request.generation} is stale; the member is at ${member.memberEpoch}: ` +
          `heartbeat to get the new assignment`,
        { generation: member.memberEpoch },
      );
    }
    const probing = this.partitionBounds.probe(request.offsets);
    if (probing !== undefined) await probing;
    for (const o of request.offsets) {
      if (!has(member.assigned, o.topic, o.partition)) {
        throw new SluiceError(
          "ILLEGAL_GENERATION",
          `member ${member.memberId} does not own ${o.topic}/${o.partition} in generation ` +
            `${member.memberEpoch}`,
          { generation: member.memberEpoch },
        );
      }
      const log = this.topics.get(o.topic).partition(o.partition);
      const bounds = this.partitionBounds.bounds(o.topic, o.partition, log);
      if (bounds === undefined) {
        throw new SluiceError(
          "LEADER_NOT_AVAILABLE",
          `the leader of ${o.topic}/${o.partition} has not answered yet; retry`,
        );
      }
      const end = bounds.highWatermark;
      if (!Number.isSafeInteger(o.offset) || o.offset < 0 || o.offset > end) {
        throw new SluiceError(
          "INVALID_REQUEST",
          `offset ${o.offset} for ${o.topic}/${o.partition} is outside [0, ${end}]`,
        );
      }
    }
    await this.store.commit(id, request.offsets);
  }

  /**
   * Committed offsets with lag (high watermark - committed) per partition; null lag for a topic
   * deleted since, or a negative offset (a Kafka client may commit -1 or -2, as Kafka accepts).
   */
  offsets(groupId: unknown): (OffsetCommit & { lag: number | null })[] {
    const id = validateGroupId(groupId);
    if (!this.consumer.knows(id) && !this.store.hasOffsets(id)) {
      throw new SluiceError("GROUP_NOT_FOUND", `group ${id} does not exist`, { group: id });
    }
    return this.store.offsetsOf(id).map((o) => {
      let lag: number | null = null;
      try {
        if (o.offset < 0) return { ...o, lag };
        const log = this.topics.get(o.topic).partition(o.partition);
        const end = this.partitionBounds.bounds(o.topic, o.partition, log)?.highWatermark;
        if (end !== undefined) lag = Math.max(0, end - o.offset);
      } catch {
        // topic deleted since the commit
      }
      return { ...o, lag };
    });
  }
}
