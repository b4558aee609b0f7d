/**
 * The broker's one read path, for both fronts (Kafka's ReplicaManager.fetchMessages): a set of
 * (topic, partition, fetch offset, partition max bytes) and the request's maxBytes, minBytes and
 * maxWaitMs in; per-partition results out, each the stored batches as they are (a view of what
 * was read from the segment: the fronts hand the same bytes on, never decoded or copied) or a
 * typed error (src/errors.ts) that the front maps to its wire.
 *
 * - What a reader may see ends at the partition's {@link highWatermark}: no batch from there on
 *   is returned, and the high watermark is what results report.
 * - Bounds: each partition reads at most its partitionMaxBytes, and the request at most maxBytes
 *   in all, except that the first partition that has data returns at least one whole batch,
 *   however large (KIP-74), so a consumer never sticks behind a batch bigger than its limits.
 *   Once something was read, a partition with no room left reads nothing; one with some room
 *   reads at least its first batch (Sluice's rule: the response may pass maxBytes by a batch).
 * - Memory: an optional {@link FetchBudget} (the front's response budget) grants bytes right
 *   before each read; a fetch granted less than maxBytes reads what it got and answers at once
 *   (waiting would not make room), and one granted nothing while the budget may not be overdrawn
 *   reads nothing at all. Nothing is held while waiting.
 * - Long poll: with fewer than minBytes read, no error, and maxWaitMs > 0, the fetch gives its
 *   bytes back, waits (FetchWaiters: woken by appends to any of its partitions, its deadline, the
 *   signal, or shutdown) and reads again. minBytes 0 answers at once (Kafka's rule). A broker
 *   that is shutting down answers at once.
 * - Leader epochs: a partition asked with a `currentLeaderEpoch` (not -1) older than its log's is
 *   FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH, and is not read ({@link leaderEpochError}).
 *   One asked with the epoch of the last batch the client fetched (`lastFetchedEpoch`, as Kafka's
 *   Partition.readRecords checks it) is not read either when the log's copy of that epoch ends
 *   before the fetch offset, or a smaller epoch is all the log knows: the result carries
 *   `divergingEpoch` (where the client must truncate to); an epoch the log cannot place, or an
 *   offset below the log start, is OFFSET_OUT_OF_RANGE.
 * - Errors are per partition: an unknown topic (TOPIC_NOT_FOUND, INVALID_TOPIC_NAME) or partition
 *   (PARTITION_NOT_FOUND), a topic deleted meanwhile (TOPIC_NOT_FOUND), an offset out of range,
 *   an offline or corrupt log. Those that are no client's doing are logged.
 */
import { type ErrorCode, isSluiceError, SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import {
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  batchSizeAt,
  lastOffsetDeltaAt,
  viewOf,
} from "../record/record_batch.ts";
import {
  type EpochEndOffset,
  UNDEFINED_EPOCH,
  UNDEFINED_EPOCH_OFFSET,
} from "../storage/leader_epochs.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import type { FetchWaiters } from "./fetch_waiters.ts";
import type { Topic, TopicRegistry } from "./topic_registry.ts";

/**
 * The end of what a consumer may see of a partition, exclusive: the log's high watermark. One
 * node moves it to the log end with every append (the broker's append listener); in a cluster the
 * leader moves it to what every in-sync replica has, and a follower to the leader's (src/cluster).
 */
export function highWatermark(log: PartitionLog): number {
  return log.highWatermark;
}

/** A request's current leader epoch that means "no check" (Kafka's NO_PARTITION_LEADER_EPOCH). */
export const NO_LEADER_EPOCH = -1;

/**
 * Kafka's fencing of a client's view of the leader (Partition.getLocalLog): the epoch the client
 * believes current, against the log's. Undefined when they agree or the client asks no check.
 */
export function leaderEpochError(
  log: PartitionLog,
  currentLeaderEpoch: number | undefined,
): SluiceError | undefined {
  if (currentLeaderEpoch === undefined || currentLeaderEpoch === NO_LEADER_EPOCH) return undefined;
  const epoch = log.leaderEpoch;
  if (currentLeaderEpoch === epoch) return undefined;
  return currentLeaderEpoch < epoch
    ? new SluiceError(
      "FENCED_LEADER_EPOCH",
      `leader epoch ${currentLeaderEpoch} is older than the partition's ${epoch}`,
      { currentLeaderEpoch, leaderEpoch: epoch },
    )
    : new SluiceError(
      "UNKNOWN_LEADER_EPOCH",
      `leader epoch ${currentLeaderEpoch} is newer than the partition's ${epoch}`,
      { currentLeaderEpoch, leaderEpoch: epoch },
    );
}

/** One partition of a fetch. */
export interface FetchPartition {
  topic: string;
  partition: number;
  fetchOffset: number;
  /** Bytes this partition may return (at least one batch when it is the first with data). */
  partitionMaxBytes: number;
  /** The leader epoch the client believes current; -1 or absent: no check. */
  currentLeaderEpoch?: number;
  /** The epoch of the last batch the client fetched; negative or absent: no check. */
  lastFetchedEpoch?: number;
  /** A follower's own log start (Fetch's logStartOffset, for DeleteRecords); -1 or absent: none. */
  fetcherLogStartOffset?: number;
}

/** A front's response budget, asked right before each read. */
export interface FetchBudget {
  /**
   * Reserves up to `want` bytes in place of what was reserved before (0 gives all back); returns
   * how many were granted. May throw to refuse the fetch (the HTTP front's 429).
   */
  reserve(want: number): number;
  /** False when a fetch granted nothing must not read even its first batch. */
  mayOverdraw(): boolean;
}

export interface FetchMessagesRequest {
  partitions: readonly FetchPartition[];
  /** Bytes of all partitions together (KIP-74's first batch aside). */
  maxBytes: number;
  /** Wait for this many bytes (0: answer at once). */
  minBytes: number;
  /** The longest wait for minBytes; the caller caps it (FETCH_WAIT_MS_MAX). */
  maxWaitMs: number;
  budget?: FetchBudget;
  /**
   * A follower's fetch (Kafka's replica id, >= 0): read up to the log end rather than the high
   * watermark, each partition's fetch offset reported to the leader's replica state first, and
   * woken by appends rather than by the high watermark. Absent or -1: a consumer.
   */
  replicaId?: number;
  /** Ends a wait early (the client went away); a function is called only when the fetch waits. */
  signal?: AbortSignal | (() => AbortSignal);
  /**
   * When LONG_POLLS_MAX fetches already wait: `answer` with what is there (a Kafka client fetches
   * again), or `throw` TOO_MANY_REQUESTS (default).
   */
  whenWaitersFull?: "answer" | "throw";
}

/** One partition's answer, in request order. */
export interface FetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  /** Undefined when the partition was read (even when nothing was there). */
  readonly error: SluiceError | undefined;
  /** Whole batches as stored (the first may start below fetchOffset); empty when none. */
  readonly records: Uint8Array;
  /** The offset to fetch next: after the last batch returned, or fetchOffset when none was. */
  readonly nextOffset: number;
  /** -1 when the partition is unknown. */
  readonly highWatermark: number;
  /** -1 when the partition is unknown. */
  readonly logStartOffset: number;
  /**
   * Set when `lastFetchedEpoch` shows the client's log diverging from this one: the largest epoch
   * <= it that the log knows and where that epoch ends here. Nothing is read then.
   */
  readonly divergingEpoch: EpochEndOffset | undefined;
}

const EMPTY = new Uint8Array(0);

/** A partition being fetched; returned as its result. */
class Slot implements FetchPartitionResult {
  error: SluiceError | undefined;
  records: Uint8Array = EMPTY;
  nextOffset: number;
  highWatermark = -1;
  logStartOffset = -1;
  divergingEpoch: EpochEndOffset | undefined = undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly fetchOffset: number,
    readonly partitionMaxBytes: number,
    /** Kept from the lookup: a topic deleted while the fetch waits is TOPIC_NOT_FOUND. */
    readonly topicRef: Topic | undefined,
    readonly log: PartitionLog | undefined,
    error: SluiceError | undefined,
  ) {
    this.error = error;
    this.nextOffset = fetchOffset;
  }
}

/** Errors a fetch meets in the normal course of things: the client's to act on, not logged. */
const EXPECTED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "OFFSET_OUT_OF_RANGE",
  "FENCED_LEADER_EPOCH",
  "UNKNOWN_LEADER_EPOCH",
  "LOG_CLOSED",
  "TOPIC_NOT_FOUND",
  "PARTITION_NOT_FOUND",
  "INVALID_TOPIC_NAME",
  "NOT_LEADER_OR_FOLLOWER",
  "LEADER_NOT_AVAILABLE",
]);

/** A bug met while reading stays a bug (INTERNAL); its message goes to the log, not the client. */
function typed(err: unknown): SluiceError {
  if (isSluiceError(err)) return err;
  return new SluiceError(
    "INTERNAL",
    "internal error reading the partition; the server log has details",
    undefined,
    { cause: err },
  );
}

export interface FetchReaderOptions {
  topics: TopicRegistry;
  waiters: FetchWaiters;
  logger: Logger;
  /** True once the broker shuts down: fetches answer with what is there instead of waiting. */
  draining: () => boolean;
  /** A cluster's broker: who may read which partition (see {@link FetchRoles}). */
  roles?: FetchRoles;
}

/** A cluster's leadership checks, asked per partition before it is read. */
export interface FetchRoles {
  /** A consumer reads only from the leader: NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE. */
  checkConsumer(topic: string, partition: number): SluiceError | undefined;
  /**
   * A follower's fetch at `fetchOffset` (its log end) reached the leader, telling its log start
   * (-1: not told); an error refuses it.
   */
  onFollowerFetch(
    topic: string,
    partition: number,
    replicaId: number,
    fetchOffset: number,
    logStartOffset: number,
  ): SluiceError | undefined;
  /** Woken by appends: what follower fetches wait on (consumers wait on the high watermark). */
  replicaWaiters: FetchWaiters;
}

function isReplica(request: FetchMessagesRequest): boolean {
  return request.replicaId !== undefined && request.replicaId >= 0;
}

export class FetchReader {
  constructor(readonly options: FetchReaderOptions) {}

  /**
   * See the module doc. Rejects only when the budget refuses or a full wait list throws. Not
   * async: a fetch that need not wait is read and answered in this call.
   */
  fetch(request: FetchMessagesRequest): Promise<FetchPartitionResult[]> {
    try {
      const replica = isReplica(request);
      const slots = this.#resolve(request.partitions, replica ? request.replicaId! : -1);
      const maxBytes = Math.max(0, request.maxBytes);
      const budget = request.budget;
      const granted = budget === undefined ? maxBytes : budget.reserve(maxBytes);
      const total = this.#readAll(slots, granted, budget?.mayOverdraw() ?? true, replica);
      const cut = granted < maxBytes && total > 0;
      if (
        request.minBytes > 0 && total < request.minBytes && request.maxWaitMs > 0 && !cut &&
        !this.options.draining() && !anyError(slots)
      ) {
        return this.#waitAndRead(request, slots, maxBytes, total);
      }
      return Promise.resolve(finish(slots));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Gives back what was read, waits for appends, reads again. */
  async #waitAndRead(
    request: FetchMessagesRequest,
    slots: Slot[],
    maxBytes: number,
    total: number,
  ): Promise<FetchPartitionResult[]> {
    const budget = request.budget;
    budget?.reserve(0); // nothing is held while waiting: what was read is read again after
    const logs: PartitionLog[] = [];
    for (const s of slots) if (s.log !== undefined) logs.push(s.log);
    const signal = typeof request.signal === "function" ? request.signal() : request.signal;
    const replica = isReplica(request);
    const waiters = replica && this.options.roles !== undefined
      ? this.options.roles.replicaWaiters
      : this.options.waiters;
    try {
      await waiters.wait(logs, request.minBytes - total, request.maxWaitMs, signal);
    } catch (err) {
      // Too many waiting fetches: a Kafka client is answered with what is there.
      if (request.whenWaitersFull !== "answer" || !isSluiceError(err, "TOO_MANY_REQUESTS")) {
        throw err;
      }
    }
    const granted = budget === undefined ? maxBytes : budget.reserve(maxBytes);
    this.#readAll(slots, granted, budget?.mayOverdraw() ?? true, replica);
    return finish(slots);
  }

  /** `replicaId` -1: a consumer's fetch. */
  #resolve(partitions: readonly FetchPartition[], replicaId: number): Slot[] {
    const roles = this.options.roles;
    const topics = this.options.topics;
    const slots: Slot[] = new Array(partitions.length);
    let lastName: string | undefined;
    let topic: Topic | undefined;
    let topicError: SluiceError | undefined;
    for (let i = 0; i < partitions.length; i++) {
      const p = partitions[i];
      if (p.topic !== lastName) {
        lastName = p.topic;
        topic = undefined;
        topicError = undefined;
        try {
          topic = topics.get(p.topic);
        } catch (err) {
          topicError = typed(err);
        }
      }
      let log: PartitionLog | undefined;
      let error = topicError;
      if (topic !== undefined) {
        try {
          log = topic.partition(p.partition);
          if (log.state !== "offline") error = leaderEpochError(log, p.currentLeaderEpoch);
          if (error === undefined && roles !== undefined) {
            error = replicaId >= 0
              ? roles.onFollowerFetch(
                topic.name,
                p.partition,
                replicaId,
                p.fetchOffset,
                p.fetcherLogStartOffset ?? -1,
              )
              : roles.checkConsumer(topic.name, p.partition);
          }
        } catch (err) {
          error = typed(err);
        }
      }
      const slot = new Slot(
        p.topic,
        p.partition,
        p.fetchOffset,
        Math.max(0, p.partitionMaxBytes),
        topic,
        log,
        error,
      );
      const lastFetched = p.lastFetchedEpoch ?? -1;
      if (lastFetched >= 0 && log !== undefined && error === undefined) {
        checkDivergence(slot, log, lastFetched);
      }
      slots[i] = slot;
    }
    return slots;
  }

  /**
   * Reads every slot once within `maxBytes` in all; returns the bytes read. A follower (`replica`)
   * reads up to the log end, a consumer up to the high watermark.
   */
  #readAll(slots: Slot[], maxBytes: number, mayOverdraw: boolean, replica: boolean): number {
    let total = 0;
    for (const slot of slots) {
      slot.records = EMPTY;
      slot.nextOffset = slot.fetchOffset;
      // The budget is spent and may not be overdrawn: nothing is read, not even KIP-74's first
      // batch, so what clients that do not read pin stays bounded.
      if (maxBytes <= 0 && !mayOverdraw) continue;
      if (slot.log === undefined || slot.error !== undefined) continue;
      if (slot.divergingEpoch !== undefined) continue;
      const room = Math.min(slot.partitionMaxBytes, maxBytes - total);
      // Once something was returned, a partition needs room for at least a batch header.
      if (total > 0 && room <= 0) continue;
      try {
        const topic = slot.topicRef!;
        if (topic.deleted) topic.partition(slot.partition); // deleted meanwhile: TOPIC_NOT_FOUND
        const log = slot.log;
        const upTo = replica ? log.logEndOffset : highWatermark(log);
        const read = log.read(slot.fetchOffset, Math.max(1, room), upTo);
        if (read === undefined) continue;
        slot.records = read.bytes;
        slot.nextOffset = read.nextOffset;
        total += read.bytes.length;
      } catch (err) {
        const error = typed(err);
        slot.error = error;
        if (!EXPECTED.has(error.code)) {
          const cause = error.code === "INTERNAL" ? error.cause : error;
          this.options.logger.error("fetch failed", {
            topic: slot.topic,
            partition: slot.partition,
            code: error.code,
            error: cause instanceof Error ? cause.message : String(cause),
            stack: cause instanceof Error && error.code === "INTERNAL" ? cause.stack ?? null : null,
          });
        }
      }
    }
    return total;
  }
}

/** Kafka's Partition.readRecords check of `lastFetchedEpoch` (see the module doc). */
function checkDivergence(slot: Slot, log: PartitionLog, lastFetchedEpoch: number): void {
  try {
    const end = log.endOffsetForEpoch(lastFetchedEpoch);
    if (end.endOffset === UNDEFINED_EPOCH_OFFSET || end.leaderEpoch === UNDEFINED_EPOCH) {
      slot.error = new SluiceError(
        "OFFSET_OUT_OF_RANGE",
        `the end of the last fetched epoch ${lastFetchedEpoch} is unknown here`,
        { lastFetchedEpoch },
      );
    } else if (slot.fetchOffset < log.logStartOffset) {
      slot.error = new SluiceError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${slot.fetchOffset} is below the log start ${log.logStartOffset}`,
        { offset: slot.fetchOffset, logStartOffset: log.logStartOffset },
      );
    } else if (end.leaderEpoch < lastFetchedEpoch || end.endOffset < slot.fetchOffset) {
      slot.divergingEpoch = end;
    }
  } catch (err) {
    slot.error = typed(err);
  }
}

function anyError(slots: readonly Slot[]): boolean {
  for (const s of slots) if (s.error !== undefined || s.divergingEpoch !== undefined) return true;
  return false;
}

/** The bounds each result reports, and the topics' bytes and records out. */
function finish(slots: Slot[]): Slot[] {
  for (const s of slots) {
    if (s.log === undefined) continue;
    s.highWatermark = highWatermark(s.log);
    s.logStartOffset = s.log.logStartOffset;
    if (s.records.length === 0) continue;
    const stats = s.topicRef!.stats;
    stats.bytesOut += s.records.length;
    stats.recordsOut += countRecordsFrom(s.records, s.fetchOffset);
  }
  return slots;
}

/** Records at or after `fromOffset` in a range of whole batches, from headers alone. */
export function countRecordsFrom(bytes: Uint8Array, fromOffset: number): number {
  const dv = viewOf(bytes);
  let count = 0;
  for (let pos = 0; pos + BATCH_HEADER_BYTES <= bytes.length; pos += batchSizeAt(dv, pos)) {
    const base = baseOffsetAt(dv, pos);
    const last = base + lastOffsetDeltaAt(dv, pos);
    if (last >= fromOffset) count += last - Math.max(base, fromOffset) + 1;
  }
  return count;
}
