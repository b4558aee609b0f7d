/**
 * Incremental fetch sessions (KIP-227): the Kafka front's cache of them and their rules. Protocol
 * state, not broker state: the broker's read path (Broker.fetchMessages) knows nothing of them.
 *
 * A Fetch (v7+) carries session_id and session_epoch:
 *
 * | session_id | session_epoch | what it is                                                      |
 * | ---------- | ------------- | --------------------------------------------------------------- |
 * | 0          | -1            | sessionless full fetch: no session made (v4-6 are always this)  |
 * | 0          | 0             | full fetch asking for a session: one is made if the cache admits it, its id answered (else 0) |
 * | id         | -1            | closes session `id`, then a sessionless full fetch              |
 * | id         | 0             | closes session `id`, then a full fetch asking for a new one     |
 * | id         | the next      | incremental: the request's partitions update or join the session, forgotten_topics_data leave it; the response holds only partitions with news |
 * | id         | another       | INVALID_FETCH_SESSION_EPOCH (71), no partitions, session id 0   |
 * | unknown    | not 0 or -1   | FETCH_SESSION_ID_NOT_FOUND (70), no partitions, session id 0    |
 *
 * A session created by the full fetch that answers with epoch 0 expects epoch 1 next; epochs count
 * up to 2^31-1 and wrap to 1 (Kafka's FetchMetadata.nextEpoch). An incremental fetch that leaves
 * a session with no partitions closes it and is answered as a sessionless one (session id 0).
 * Sessions are bound to neither a connection nor a principal (as Kafka's): the id is random and
 * every request's partitions are authorized again, so a guessed id reads nothing it may not.
 *
 * What an incremental response holds (Kafka's CachedPartition.maybeUpdateResponseData): a
 * session partition is answered when it has records, or its high watermark or log start offset
 * differs from what the client was last told, or it has an error (every time: the cached high
 * watermark becomes -1, so the partition is answered again once the error is gone). Partitions
 * whose topic was deleted or that the principal may no longer read are such errors: answered
 * (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED) at every fetch until the client
 * forgets them, as Kafka does. A partition that returned records moves to the end of the session,
 * so the next fetch reads the others first (Kafka's round robin under max_bytes).
 *
 * Bounds (src/limits.ts): KAFKA_FETCH_SESSIONS_MAX sessions; when full, a new session evicts,
 * as Kafka's FetchSessionCacheShard.tryEvict, the least recently used session if it was unused
 * for KAFKA_FETCH_SESSION_EVICTION_MS, else the session with the fewest partitions (then the
 * lowest id) among those created more than that long ago, when it has fewer partitions than the
 * new one; else no session is made. Sluice has no followers, so no session is privileged.
 * KAFKA_FETCH_SESSION_PARTITIONS_MAX per session and KAFKA_FETCH_SESSION_PARTITIONS_TOTAL_MAX
 * over all (Kafka has neither): a full fetch past them gets no session; an incremental fetch that
 * would grow its session past them closes it (FETCH_SESSION_ID_NOT_FOUND: the client starts over
 * with a full fetch).
 *
 * Cost: looking a session up is a Map get; an incremental fetch touches the partitions of its
 * request and of its session, never other sessions. Least-recently-used order is the Map's
 * insertion order (a use re-inserts, and the clock only moves forward); finding the smallest
 * evictable session scans the cache, only when a full fetch asks for a session while all
 * KAFKA_FETCH_SESSIONS_MAX are taken and none is stale.
 */
import type { Clock } from "../clock.ts";
import {
  KAFKA_FETCH_SESSION_EVICTION_MS,
  KAFKA_FETCH_SESSION_PARTITIONS_MAX,
  KAFKA_FETCH_SESSION_PARTITIONS_TOTAL_MAX,
  KAFKA_FETCH_SESSIONS_MAX,
} from "../limits.ts";
import { KafkaError } from "./error_codes.ts";

/** No session (a response's session_id when none was made). */
export const INVALID_SESSION_ID = 0;
/** A request's epoch asking for a new session. */
export const INITIAL_EPOCH = 0;
/** A request's epoch asking for no session (closing the one named). */
export const FINAL_EPOCH = -1;

/** The epoch after `epoch` (Kafka's FetchMetadata.nextEpoch). */
export function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH;
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}

/** One partition as a request names it (the fetch fields a session keeps). */
export interface RequestedPartition {
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
  readonly logStartOffset: bigint;
  /** v9+ (-1 before, as the decoder gives it): the leader epoch the client believes current. */
  readonly currentLeaderEpoch?: number;
  /** v12+ (-1 before): the epoch of the last batch the client fetched. */
  readonly lastFetchedEpoch?: number;
}

/** Kafka's FetchRequest reads any negative epoch as none given (-1); absent is none too. */
export function epochOrNone(epoch: number | undefined): number {
  return epoch === undefined || epoch < 0 ? -1 : epoch;
}

/** One partition of a session: what the client last asked, and what it was last told. */
export class SessionPartition {
  constructor(
    readonly topic: string,
    readonly partition: number,
    /** A number, as Broker.fetchMessages takes it: this object is handed to it as is. */
    public fetchOffset: number,
    public partitionMaxBytes: number,
    /** The client's own log start offset (a follower's, for its leader's DeleteRecords). */
    public fetcherLogStartOffset: number,
    /** The high watermark last answered; -1 before any answer and after an error. */
    public highWatermark = -1,
    /** The partition's log start offset last answered; -1 before any answer. */
    public logStartOffset = -1,
  ) {}

  /** The leader epoch the client last said it believes current; -1: none (no check). */
  currentLeaderEpoch = -1;
  /** The epoch of the last batch the client last said it fetched; -1: none (no check). */
  lastFetchedEpoch = -1;

  update(p: RequestedPartition): void {
    this.fetchOffset = Number(p.fetchOffset);
    this.partitionMaxBytes = p.partitionMaxBytes;
    this.fetcherLogStartOffset = Number(p.logStartOffset);
    this.takeEpochs(p);
  }

  /** The request's epochs, kept as Kafka's CachedPartition keeps them; returns this. */
  takeEpochs(p: RequestedPartition): this {
    this.currentLeaderEpoch = epochOrNone(p.currentLeaderEpoch);
    this.lastFetchedEpoch = epochOrNone(p.lastFetchedEpoch);
    return this;
  }

  /**
   * Whether an incremental response must carry this partition's answer; with `update`, what the
   * client is told becomes what the session remembers (Kafka's maybeUpdateResponseData).
   */
  mustRespond(
    errorCode: number,
    highWatermark: number,
    logStartOffset: number,
    recordBytes: number,
    update: boolean,
  ): boolean {
    let must = recordBytes > 0;
    if (this.highWatermark !== highWatermark) {
      must = true;
      if (update) this.highWatermark = highWatermark;
    }
    if (this.logStartOffset !== logStartOffset) {
      must = true;
      if (update) this.logStartOffset = logStartOffset;
    }
    if (errorCode !== KafkaError.NONE) {
      must = true;
      if (update) this.highWatermark = -1;
    }
    return must;
  }
}

/** A session partition's key: a topic name holds no NUL (Kafka's legal characters). */
export function partitionKey(topic: string, partition: number): string {
  return topic + "\u0000" + partition;
}

export class FetchSession {
  /** The session's partitions in fetch order (a partition that returned records moves last). */
  readonly partitions = new Map<string, SessionPartition>();
  /** The epoch the next incremental request must carry. */
  epoch = 1;
  lastUsedMs: number;
  /** The partition count the cache last counted (its share of the total). */
  cachedSize = 0;
  /** Set at each use: created more than KAFKA_FETCH_SESSION_EVICTION_MS before it. */
  evictable = false;

  constructor(readonly id: number, readonly creationMs: number) {
    this.lastUsedMs = creationMs;
  }

  get size(): number {
    return this.partitions.size;
  }

  /** Moves a partition to the end of the fetch order (it returned records). */
  sendToBack(p: SessionPartition): void {
    const key = partitionKey(p.topic, p.partition);
    if (this.partitions.delete(key)) this.partitions.set(key, p);
  }
}

/** What a Fetch request is, once its session fields are read. */
export type FetchContext =
  /** A full fetch: the request's partitions; `create` asks for a session after the read. */
  | { kind: "full"; create: boolean }
  /** An incremental fetch of the session's partitions; answered if its epoch is still `epoch`. */
  | { kind: "incremental"; session: FetchSession; epoch: number }
  /** A session error: the top-level error code, no partitions, session id 0. */
  | { kind: "error"; errorCode: number };

export type FetchKind = "sessionless" | "full" | "incremental" | "session_error";

export interface FetchSessionCacheOptions {
  clock: Clock;
  maxSessions?: number;
  evictionMs?: number;
  maxPartitionsPerSession?: number;
  maxPartitionsTotal?: number;
  /** Draws session ids (0 and ids in use are drawn again); default random in [0, 2^31). */
  random?: () => number;
}

const idBits = new Uint32Array(1);
/** A random id in [0, 2^31) from the CSPRNG (0 is drawn again): not guessed from earlier ones. */
function randomId(): number {
  crypto.getRandomValues(idBits);
  return idBits[0] >>> 1;
}

export class FetchSessionCache {
  /** By id, in least-recently-used order. */
  readonly #sessions = new Map<number, FetchSession>();
  readonly #clock: Clock;
  readonly #maxSessions: number;
  readonly #evictionMs: number;
  readonly #maxPerSession: number;
  readonly #maxTotal: number;
  readonly #random: () => number;
  #partitions = 0;
  /** Sessions evicted for new ones (the metrics' counter). */
  evictions = 0;
  /** Full fetches that asked for a session and got none (the cache full, or too many partitions). */
  refused = 0;
  /** Fetch requests by kind (metrics). */
  readonly fetches: Record<FetchKind, number> = {
    sessionless: 0,
    full: 0,
    incremental: 0,
    session_error: 0,
  };

  constructor(options: FetchSessionCacheOptions) {
    this.#clock = options.clock;
    this.#maxSessions = options.maxSessions ?? KAFKA_FETCH_SESSIONS_MAX;
    this.#evictionMs = options.evictionMs ?? KAFKA_FETCH_SESSION_EVICTION_MS;
    this.#maxPerSession = options.maxPartitionsPerSession ?? KAFKA_FETCH_SESSION_PARTITIONS_MAX;
    this.#maxTotal = options.maxPartitionsTotal ?? KAFKA_FETCH_SESSION_PARTITIONS_TOTAL_MAX;
    this.#random = options.random ?? randomId;
  }

  /** Open sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Partitions held by all sessions. */
  get partitions(): number {
    return this.#partitions;
  }

  get(id: number): FetchSession | undefined {
    return this.#sessions.get(id);
  }

  /**
   * Reads a request's session fields (Kafka's FetchManager.newContext). An incremental request's
   * partitions and forgotten partitions are applied to its session here.
   */
  newContext(
    sessionId: number,
    epoch: number,
    topics: readonly { topic: string; partitions: readonly RequestedPartition[] }[],
    forgotten: readonly { topic: string; partitions: readonly number[] }[],
  ): FetchContext {
    if (epoch === INITIAL_EPOCH || epoch === FINAL_EPOCH) {
      // Any session a full fetch names is closed.
      if (sessionId !== INVALID_SESSION_ID) this.remove(sessionId);
      const create = epoch === INITIAL_EPOCH;
      this.fetches[create ? "full" : "sessionless"]++;
      return { kind: "full", create };
    }
    const session = this.#sessions.get(sessionId);
    if (session === undefined) {
      this.fetches.session_error++;
      return { kind: "error", errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND };
    }
    if (session.epoch !== epoch) {
      this.fetches.session_error++;
      return { kind: "error", errorCode: KafkaError.INVALID_FETCH_SESSION_EPOCH };
    }
    for (const t of topics) {
      for (const p of t.partitions) {
        const key = partitionKey(t.topic, p.partition);
        const cached = session.partitions.get(key);
        if (cached !== undefined) cached.update(p);
        else {
          session.partitions.set(
            key,
            new SessionPartition(
              t.topic,
              p.partition,
              Number(p.fetchOffset),
              p.partitionMaxBytes,
              Number(p.logStartOffset),
            ).takeEpochs(p),
          );
        }
      }
    }
    for (const t of forgotten) {
      for (const partition of t.partitions) {
        session.partitions.delete(partitionKey(t.topic, partition));
      }
    }
    if (session.size === 0) {
      // Nothing left: the session closes and the request is answered without one.
      this.remove(sessionId);
      this.fetches.sessionless++;
      return { kind: "full", create: false };
    }
    if (
      session.size > this.#maxPerSession ||
      this.#partitions - session.cachedSize + session.size > this.#maxTotal
    ) {
      this.remove(sessionId);
      this.fetches.session_error++;
      return { kind: "error", errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND };
    }
    this.#touch(session);
    session.epoch = nextEpoch(session.epoch);
    this.fetches.incremental++;
    return { kind: "incremental", session, epoch: session.epoch };
  }

  /**
   * After a full fetch that asked for one: a new session of `partitions` (what the response told
   * the client), or INVALID_SESSION_ID when the cache does not admit it.
   */
  create(partitions: readonly SessionPartition[]): number {
    const now = this.#clock.nowMs();
    const size = partitions.length;
    if (
      size > this.#maxPerSession ||
      (this.#sessions.size >= this.#maxSessions && !this.#tryEvict(size, now)) ||
      this.#partitions + size > this.#maxTotal
    ) {
      this.refused++;
      return INVALID_SESSION_ID;
    }
    let id: number;
    do id = this.#random(); while (id === INVALID_SESSION_ID || this.#sessions.has(id));
    const session = new FetchSession(id, now);
    for (const p of partitions) session.partitions.set(partitionKey(p.topic, p.partition), p);
    this.#sessions.set(id, session);
    this.#touch(session);
    return id;
  }

  /** Closes a session; false when there was none. */
  remove(id: number): boolean {
    const session = this.#sessions.get(id);
    if (session === undefined) return false;
    this.#sessions.delete(id);
    this.#partitions -= session.cachedSize;
    return true;
  }

  /** A use: last in LRU order, its size counted again, its evictability decided (Kafka's touch). */
  #touch(session: FetchSession): void {
    const now = this.#clock.nowMs();
    this.#sessions.delete(session.id);
    this.#sessions.set(session.id, session);
    session.lastUsedMs = now;
    this.#partitions += session.size - session.cachedSize;
    session.cachedSize = session.size;
    session.evictable = now - session.creationMs > this.#evictionMs;
  }

  /** Kafka's tryEvict for an unprivileged new session of `size` partitions. */
  #tryEvict(size: number, now: number): boolean {
    let oldest: FetchSession | undefined;
    for (const s of this.#sessions.values()) {
      oldest = s;
      break;
    }
    if (oldest === undefined) return false;
    if (now - oldest.lastUsedMs > this.#evictionMs) {
      this.remove(oldest.id);
      this.evictions++;
      return true;
    }
    let smallest: FetchSession | undefined;
    for (const s of this.#sessions.values()) {
      if (!s.evictable) continue;
      if (
        smallest === undefined || s.cachedSize < smallest.cachedSize ||
        (s.cachedSize === smallest.cachedSize && s.id < smallest.id)
      ) smallest = s;
    }
    // Only a smaller session is worth less than the new one (an equal size loses on the id).
    if (smallest === undefined || size <= smallest.cachedSize) return false;
    this.remove(smallest.id);
    this.evictions++;
    return true;
  }
}
