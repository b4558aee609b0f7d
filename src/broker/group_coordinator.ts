/**
 * Consumer groups: members split the partitions of the topics they subscribe to, so each record
 * is processed by one member of a group; different groups each see every record.
 *
 * Unlike Kafka's JoinGroup/SyncGroup barrier, the coordinator assigns partitions itself: a join, a
 * leave or a member silent past its session timeout increments the generation and reassigns at
 * once (range or round-robin); members learn it from their next heartbeat or fetch. A partition
 * that moves starts at its committed offset for its new owner, and a commit for a partition the
 * member no longer owns, or from an older generation, is refused (ILLEGAL_GENERATION): delivery
 * is at-least-once and nothing is skipped.
 *
 * Membership is stored with the offsets (offset_store.ts); after a restart members keep their ids
 * and get a fresh session timeout to show up again. Time comes from the injected clock.
 */
import type { Clock, Timer } from "../clock.ts";
import { isSluiceError, SluiceError } from "../errors.ts";
import {
  GROUPS_MAX,
  MEMBERS_PER_GROUP_MAX,
  SESSION_TIMEOUT_MS_DEFAULT,
  SESSION_TIMEOUT_MS_MAX,
  SESSION_TIMEOUT_MS_MIN,
} from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import { assign, type AssignorName, ASSIGNORS, type TopicPartition } from "./assignors.ts";
import type { FetchWaiters } from "./fetch_waiters.ts";
import type { OffsetCommit, OffsetStore, StoredGroup } from "./offset_store.ts";
import type { TopicRegistry } from "./topic_registry.ts";

const GROUP_ID = /^[a-zA-Z0-9._-]{1,249}$/;

export type OffsetReset = "earliest" | "latest";

export interface JoinRequest {
  topics: string[];
  assignor?: AssignorName;
  sessionTimeoutMs?: number;
  autoOffsetReset?: OffsetReset;
}

export interface MemberView {
  memberId: string;
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

export interface MemberFetchResult extends HeartbeatResult {
  parts: MemberFetchPart[];
}

export interface GroupDescription {
  group: string;
  generation: number;
  /**
   * HTTP groups: "Empty" without members, "Stable" otherwise (assignment is immediate). A group of
   * Kafka-protocol consumers also shows Kafka's "PreparingRebalance" and "CompletingRebalance".
   */
  state: "Empty" | "Stable" | "PreparingRebalance" | "CompletingRebalance";
  /** The assignor: HTTP's own, or the one a Kafka group's members elected (e.g. "range"). */
  assignor: string;
  /** "http", or "kafka" for a group of Kafka-protocol consumers. */
  protocol: "http" | "kafka";
  members: { memberId: string; topics: string[]; assignment: TopicPartition[] }[];
}

interface Member {
  memberId: string;
  topics: string[];
  sessionTimeoutMs: number;
  autoOffsetReset: OffsetReset;
  lastSeenMs: number;
  /** Fetches in flight: a member waiting in a long poll is alive. */
  inFlight: number;
  /** The generation this member last saw (heartbeat or fetch). */
  seenGeneration: number;
  assignment: TopicPartition[];
  /** "topic\0partition" -> the next offset this member reads (in memory, as a consumer's). */
  positions: Map<string, number>;
  /** Rotates the first partition of each fetch, so none starves. */
  cursor: number;
}

interface Group {
  id: string;
  generation: number;
  assignor: AssignorName;
  members: Map<string, Member>;
  expiry: Timer | undefined;
  /** Aborted at each rebalance: the members' long polls return to show the new assignment. */
  rebalanced: AbortController;
}

const key = (topic: string, partition: number) => `${topic}\0${partition}`;

function validateGroupId(id: unknown): string {
  if (typeof id !== "string" || !GROUP_ID.test(id)) {
    throw new SluiceError(
      "INVALID_REQUEST",
      "a group id is 1-249 characters of [a-zA-Z0-9._-]",
    );
  }
  return id;
}

export class GroupCoordinator {
  readonly #groups = new Map<string, Group>();
  /** True for a group id that Kafka-protocol consumers are using (set by the Kafka listener). */
  #foreignGroup: (groupId: string) => boolean = () => false;
  #foreignDescribe: (groupId: string) => GroupDescription | undefined = () => undefined;

  constructor(
    readonly topics: TopicRegistry,
    readonly store: OffsetStore,
    readonly waiters: FetchWaiters,
    readonly clock: Clock,
    readonly logger: Logger,
    /** Groups tracked at once (GROUPS_MAX). */
    readonly groupsMax: number = GROUPS_MAX,
  ) {
    // Groups stored before a restart come back with their generation and members; members get
    // a fresh session timeout to heartbeat again.
    for (const [id, stored] of store.storedGroups()) {
      const group = this.#newGroup(id, (stored.assignor as AssignorName) ?? "range");
      group.generation = stored.generation;
      const nowMs = clock.nowMs();
      for (const m of stored.members) {
        group.members.set(m.memberId, this.#newMember(m.memberId, m, nowMs, stored.generation));
      }
      this.#computeAssignment(group);
      this.#scheduleExpiry(group);
      this.#groups.set(id, group);
    }
  }

  #newGroup(id: string, assignor: AssignorName): Group {
    return {
      id,
      generation: 0,
      assignor,
      members: new Map(),
      expiry: undefined,
      rebalanced: new AbortController(),
    };
  }

  #newMember(
    memberId: string,
    m: { topics: string[]; sessionTimeoutMs: number; autoOffsetReset: OffsetReset },
    nowMs: number,
    seenGeneration: number,
  ): Member {
    return {
      memberId,
      topics: [...m.topics],
      sessionTimeoutMs: m.sessionTimeoutMs,
      autoOffsetReset: m.autoOffsetReset,
      lastSeenMs: nowMs,
      inFlight: 0,
      seenGeneration,
      assignment: [],
      positions: new Map(),
      cursor: 0,
    };
  }

  #group(id: unknown): Group {
    const groupId = validateGroupId(id);
    const group = this.#groups.get(groupId);
    if (group === undefined) {
      if (this.store.hasOffsets(groupId)) return this.#newGroup(groupId, "range");
      throw new SluiceError("GROUP_NOT_FOUND", `group ${groupId} does not exist`, {
        group: groupId,
      });
    }
    return group;
  }

  #member(group: Group, memberId: unknown): Member {
    const member = typeof memberId === "string" ? group.members.get(memberId) : undefined;
    if (member === undefined) {
      throw new SluiceError(
        "MEMBER_NOT_FOUND",
        `member ${String(memberId)} is not in group ${group.id} (left, or evicted after its ` +
          `session timeout); join again`,
        { group: group.id },
      );
    }
    member.lastSeenMs = this.clock.nowMs();
    return member;
  }

  /** Adds a member and rebalances; the answer carries its new assignment. */
  async join(groupId: unknown, request: JoinRequest): Promise<MemberView> {
    const id = validateGroupId(groupId);
    if (!Array.isArray(request.topics) || request.topics.length === 0) {
      throw new SluiceError("INVALID_REQUEST", "a member subscribes to at least one topic");
    }
    const topics = [...new Set(request.topics)];
    for (const t of topics) this.topics.get(t); // INVALID_TOPIC_NAME / TOPIC_NOT_FOUND
    const assignor = request.assignor ?? "range";
    if (!ASSIGNORS.includes(assignor)) {
      throw new SluiceError("INVALID_REQUEST", `assignor is one of ${ASSIGNORS.join(", ")}`);
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
    if (this.#foreignGroup(id)) {
      throw new SluiceError(
        "INCONSISTENT_GROUP_PROTOCOL",
        `group ${id} has members consuming over the Kafka protocol; use another group id`,
      );
    }
    let group = this.#groups.get(id);
    if (group === undefined) {
      if (this.#groups.size >= this.groupsMax) await this.#forgetEmptyGroups();
      if (this.#groups.size >= this.groupsMax) {
        throw new SluiceError(
          "TOO_MANY_REQUESTS",
          `a broker tracks at most ${this.groupsMax} groups with members`,
        );
      }
      group = this.#newGroup(id, assignor);
      this.#groups.set(id, group);
    } else if (group.members.size > 0 && group.assignor !== assignor) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `group ${id} uses the ${group.assignor} assignor; join with the same one`,
      );
    }
    if (group.members.size >= MEMBERS_PER_GROUP_MAX) {
      throw new SluiceError(
        "TOO_MANY_REQUESTS",
        `a group has at most ${MEMBERS_PER_GROUP_MAX} members`,
      );
    }
    group.assignor = assignor;
    const memberId = crypto.randomUUID();
    const member = this.#newMember(
      memberId,
      {
        topics,
        sessionTimeoutMs,
        autoOffsetReset: request.autoOffsetReset ?? "latest",
      },
      this.clock.nowMs(),
      0,
    );
    group.members.set(memberId, member);
    await this.#rebalance(group, `member ${memberId} joined`);
    member.seenGeneration = group.generation;
    return { memberId, generation: group.generation, assignment: member.assignment };
  }

  /**
   * Empty groups stay (state "Empty", as Kafka keeps them) until the group table is full; then
   * they are forgotten, their committed offsets kept, so throwaway group ids cannot lock out new
   * groups.
   */
  async #forgetEmptyGroups(): Promise<void> {
    for (const group of [...this.#groups.values()]) {
      if (group.members.size > 0) continue;
      group.expiry?.cancel();
      this.#groups.delete(group.id);
      await this.store.saveGroup(group.id, null);
    }
  }

  /**
   * Drops a group without members from memory (after its stored offsets and membership were
   * deleted, e.g. by Kafka's DeleteGroups), so it no longer shows as Empty. No-op with members.
   */
  forgetEmpty(groupId: string): void {
    const group = this.#groups.get(groupId);
    if (group === undefined || group.members.size > 0) return;
    group.expiry?.cancel();
    this.#groups.delete(groupId);
  }

  /** True when the group has HTTP members now (its id is taken for Kafka-protocol consumers). */
  hasMembers(groupId: string): boolean {
    return (this.#groups.get(groupId)?.members.size ?? 0) > 0;
  }

  /**
   * Tells the coordinator which group ids the Kafka listener's consumers hold, and how to describe
   * such a group (GET /v1/groups/{group} shows it too).
   */
  setForeignGroups(
    check: (groupId: string) => boolean,
    describe: (groupId: string) => GroupDescription | undefined,
  ): void {
    this.#foreignGroup = check;
    this.#foreignDescribe = describe;
  }

  /** Liveness, and the member's current generation and assignment. */
  heartbeat(groupId: unknown, memberId: unknown): HeartbeatResult {
    const group = this.#group(groupId);
    const member = this.#member(group, memberId);
    return this.#view(group, member);
  }

  #view(group: Group, member: Member): HeartbeatResult {
    const rebalance = member.seenGeneration !== group.generation;
    member.seenGeneration = group.generation;
    return {
      memberId: member.memberId,
      generation: group.generation,
      assignment: member.assignment,
      rebalance,
    };
  }

  /** The member leaves; its partitions go to the others. */
  async leave(groupId: unknown, memberId: unknown): Promise<void> {
    const group = this.#group(groupId);
    const member = this.#member(group, memberId);
    group.members.delete(member.memberId);
    await this.#rebalance(group, `member ${member.memberId} left`);
  }

  /** New generation: reassign every partition of the subscribed topics, store the membership. */
  async #rebalance(group: Group, reason: string): Promise<void> {
    group.generation++;
    this.#computeAssignment(group);
    this.#scheduleExpiry(group);
    this.logger.info("rebalanced group", {
      group: group.id,
      generation: group.generation,
      members: group.members.size,
      reason,
    });
    // Long polls of this group's members return, so they see the new assignment promptly.
    group.rebalanced.abort();
    group.rebalanced = new AbortController();
    await this.store.saveGroup(group.id, this.#stored(group));
  }

  #stored(group: Group): StoredGroup {
    return {
      generation: group.generation,
      assignor: group.assignor,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        topics: m.topics,
        sessionTimeoutMs: m.sessionTimeoutMs,
        autoOffsetReset: m.autoOffsetReset,
      })),
    };
  }

  #computeAssignment(group: Group): void {
    const existing = (t: string) => {
      try {
        return this.topics.get(t).logs.length;
      } catch {
        return 0; // deleted since the member subscribed
      }
    };
    const result = assign(group.assignor, [...group.members.values()], existing);
    for (const member of group.members.values()) {
      member.assignment = result.get(member.memberId) ?? [];
      const owned = new Set(member.assignment.map((tp) => key(tp.topic, tp.partition)));
      for (const k of [...member.positions.keys()]) if (!owned.has(k)) member.positions.delete(k);
    }
  }

  /** One timer per group, at the earliest session deadline; evicts and rebalances when due. */
  #scheduleExpiry(group: Group): void {
    group.expiry?.cancel();
    group.expiry = undefined;
    let next = Infinity;
    for (const m of group.members.values()) {
      next = Math.min(next, m.lastSeenMs + m.sessionTimeoutMs);
    }
    if (next === Infinity) return;
    group.expiry = this.clock.setTimer(() => {
      group.expiry = undefined;
      this.#expire(group).catch((err) =>
        this.logger.error("session expiry failed", { group: group.id, error: String(err) })
      );
    }, Math.max(0, next - this.clock.nowMs()));
  }

  async #expire(group: Group): Promise<void> {
    if (this.#groups.get(group.id) !== group) return;
    const nowMs = this.clock.nowMs();
    const gone: string[] = [];
    for (const m of group.members.values()) {
      // A member waiting in a long poll is alive now: counting it as seen re-arms the timer a
      // session later, instead of at once in a loop for as long as the poll waits (up to 30 s).
      if (m.inFlight > 0) m.lastSeenMs = nowMs;
      else if (nowMs - m.lastSeenMs >= m.sessionTimeoutMs) gone.push(m.memberId);
    }
    for (const id of gone) group.members.delete(id);
    if (gone.length > 0) {
      await this.#rebalance(group, `session timeout of ${gone.join(", ")}`);
    } else {
      this.#scheduleExpiry(group);
    }
  }

  /** Where the member reads a partition next: its position, else the commit, else the reset. */
  #position(group: Group, member: Member, tp: TopicPartition, log: PartitionLog): number {
    const k = key(tp.topic, tp.partition);
    let position = member.positions.get(k) ??
      this.store.committed(group.id, tp.topic, tp.partition);
    if (position === undefined || position < log.logStartOffset || position > log.logEndOffset) {
      // No commit yet, or retention removed it: autoOffsetReset, as a Kafka consumer does.
      position = member.autoOffsetReset === "earliest" ? log.logStartOffset : log.logEndOffset;
    }
    member.positions.set(k, position);
    return position;
  }

  /**
   * Records from every partition assigned to the member, from its positions, fairly: each fetch
   * starts at the next partition in turn and gives each an equal share of maxBytes (at least one
   * batch). Waits up to maxWaitMs when none has data.
   */
  async fetch(
    groupId: unknown,
    memberId: unknown,
    request: { maxBytes: number; maxWaitMs: number; signal?: AbortSignal },
  ): Promise<MemberFetchResult> {
    const group = this.#group(groupId);
    const member = this.#member(group, memberId);
    member.inFlight++;
    try {
      let parts = this.#readAssigned(group, member, request.maxBytes);
      if (parts.length === 0 && request.maxWaitMs > 0) {
        const logs = this.#assignedLogs(member).map(([, log]) => log);
        const stop = request.signal === undefined
          ? group.rebalanced.signal
          : AbortSignal.any([request.signal, group.rebalanced.signal]);
        await this.waiters.wait(logs, 1, request.maxWaitMs, stop);
        if (group.members.get(member.memberId) === member) {
          parts = this.#readAssigned(group, member, request.maxBytes);
        }
      }
      member.lastSeenMs = this.clock.nowMs();
      return { ...this.#view(group, member), parts };
    } finally {
      member.inFlight--;
    }
  }

  #assignedLogs(member: Member): [TopicPartition, PartitionLog][] {
    const out: [TopicPartition, PartitionLog][] = [];
    for (const tp of member.assignment) {
      try {
        out.push([tp, this.topics.get(tp.topic).partition(tp.partition)]);
      } catch (err) {
        if (!isSluiceError(err)) throw err; // a deleted topic: skipped until the next rebalance
      }
    }
    return out;
  }

  #readAssigned(group: Group, member: Member, maxBytes: number): MemberFetchPart[] {
    const assigned = this.#assignedLogs(member);
    if (assigned.length === 0) return [];
    const share = Math.max(1, Math.ceil(maxBytes / assigned.length));
    const start = member.cursor++ % assigned.length;
    const parts: MemberFetchPart[] = [];
    let remaining = maxBytes;
    for (let i = 0; i < assigned.length && remaining > 0; i++) {
      const [tp, log] = assigned[(start + i) % assigned.length];
      const fromOffset = this.#position(group, member, tp, log);
      const read = log.read(fromOffset, Math.min(share, remaining));
      if (read === undefined) continue;
      parts.push({ topic: tp.topic, partition: tp.partition, fromOffset, bytes: read.bytes });
      member.positions.set(key(tp.topic, tp.partition), read.nextOffset);
      remaining -= read.bytes.length;
    }
    return parts;
  }

  /**
   * Commits offsets (the next offset to read, per partition) atomically, from the current
   * generation and only for partitions the member owns; otherwise ILLEGAL_GENERATION.
   */
  async commit(
    groupId: unknown,
    request: { memberId: string; generation: number; offsets: OffsetCommit[] },
  ): Promise<void> {
    const group = this.#group(groupId);
    const member = this.#member(group, request.memberId);
    if (request.generation !== group.generation) {
      throw new SluiceError(
        "ILLEGAL_GENERATION",
        `generation ${request.generation} is stale; the group is at ${group.generation}: ` +
          `heartbeat to get the new assignment`,
        { generation: group.generation },
      );
    }
    const owned = new Set(member.assignment.map((tp) => key(tp.topic, tp.partition)));
    for (const o of request.offsets) {
      if (!owned.has(key(o.topic, o.partition))) {
        throw new SluiceError(
          "ILLEGAL_GENERATION",
          `member ${member.memberId} does not own ${o.topic}/${o.partition} in generation ` +
            `${group.generation}`,
          { generation: group.generation },
        );
      }
      const log = this.topics.get(o.topic).partition(o.partition);
      if (!Number.isSafeInteger(o.offset) || o.offset < 0 || o.offset > log.logEndOffset) {
        throw new SluiceError(
          "INVALID_REQUEST",
          `offset ${o.offset} for ${o.topic}/${o.partition} is outside [0, ${log.logEndOffset}]`,
        );
      }
    }
    await this.store.commit(group.id, request.offsets);
  }

  describe(groupId: unknown): GroupDescription {
    const id = validateGroupId(groupId);
    const foreign = this.#foreignDescribe(id);
    if (foreign !== undefined && !this.hasMembers(id)) return foreign;
    const group = this.#group(groupId);
    return {
      group: group.id,
      generation: group.generation,
      state: group.members.size === 0 ? "Empty" : "Stable",
      assignor: group.assignor,
      protocol: "http",
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        topics: m.topics,
        assignment: m.assignment,
      })),
    };
  }

  /** Committed offsets with lag (high watermark - committed) per partition. */
  offsets(groupId: unknown): (OffsetCommit & { lag: number | null })[] {
    const group = this.#group(groupId);
    return this.store.offsetsOf(group.id).map((o) => {
      let lag: number | null = null;
      try {
        lag = Math.max(0, this.topics.get(o.topic).partition(o.partition).logEndOffset - o.offset);
      } catch {
        // topic deleted since the commit
      }
      return { ...o, lag };
    });
  }

  /** Stops the session timers (members keep their stored membership for the next start). */
  close(): void {
    for (const g of this.#groups.values()) g.expiry?.cancel();
  }
}
