/**
 * The follower side of replication (Kafka's ReplicaFetcherThread): one fetch loop per leader
 * broker, each fetching every partition this broker follows from that leader in one request, with
 * Kafka's own Fetch (replica id set) through a {@link ReplicaTransport} (the Kafka front's client,
 * wired by the CLI: this layer knows no wire).
 *
 * Each round of a loop:
 * 1. Partitions that just started following (or whose log may have diverged) ask the leader
 *    OffsetForLeaderEpoch for their latest local epoch and truncate where the leader's copy of it
 *    ends (Kafka's KIP-101/KIP-279 rule; see {@link truncationOffset}).
 * 2. One Fetch of the others from their log ends, with their last fetched epoch (KIP-320: the
 *    leader answers `divergingEpoch` instead of data when the follower's tail is not its own).
 * 3. Each partition's answer: its batches appended as they are (PartitionLog.appendReplicated: the
 *    bytes handed on, never decoded), the high watermark set to the leader's (at most the local log
 *    end), the log start raised to the leader's (at most the local high watermark: Kafka's
 *    maybeIncrementLogStartOffset, so that DeleteRecords reaches every replica and the leader,
 *    which learns it from the next fetch, can answer), a divergence truncated, an offset below the
 *    leader's log start (asked with ListOffsets when the answer does not carry it) restarts the
 *    log there;
 *    a leadership error (the leader moved, the epoch is stale) backs the partition off until the
 *    watch brings the new state, which moves it to another loop.
 * A failed request (the leader died, a timeout) backs the whole loop off REPLICA_FETCH_BACKOFF_MS.
 * Answers are applied only to partitions still followed from this leader in the same epoch.
 */
import { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import type { ClusterMetadata } from "./metadata.ts";
import type { Replica, ReplicaManager } from "./replica_manager.ts";
import type { BrokerEndpoint, ReplicaFetchResult, ReplicaTransport } from "./replica_transport.ts";

/** Kafka's replica.fetch.wait.max.ms. */
export const REPLICA_FETCH_WAIT_MS = 500;
/** Kafka's replica.fetch.max.bytes (per partition) and replica.fetch.response.max.bytes. */
export const REPLICA_FETCH_PARTITION_BYTES = 1024 * 1024;
export const REPLICA_FETCH_RESPONSE_BYTES = 10 * 1024 * 1024;
/** The pause after a failed fetch (Kafka's replica.fetch.backoff.ms is 1000). */
export const REPLICA_FETCH_BACKOFF_MS = 500;

export interface ReplicaFetcherOptions {
  manager: ReplicaManager;
  metadata: ClusterMetadata;
  transport: ReplicaTransport;
  logger: Logger;
  nowMs: () => number;
  /** This broker's epoch (its registration's revision), sent as the replica epoch. */
  brokerEpoch: () => number;
  onHighWatermark: (log: PartitionLog) => void;
  /** A connection to a leader was refused (its process may be gone: failure_detector.ts). */
  onLeaderRefused?: (leader: number) => void;
}

interface Followed {
  needsTruncation: boolean;
  backoffUntilMs: number;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The epoch of the last batch in the log; -1 when it has none. */
function latestEpoch(log: PartitionLog): number {
  const entries = log.leaderEpochs();
  return entries.length === 0 ? -1 : entries[entries.length - 1].epoch;
}

/**
 * Where a follower truncates, given the leader's end of `leaderEpoch` (the largest epoch <= the
 * one asked that the leader knows): the follower's own end of that epoch, cut to the leader's.
 */
export function truncationOffset(
  log: PartitionLog,
  leaderEpoch: number,
  leaderEndOffset: number,
): number {
  if (leaderEpoch < 0 || leaderEndOffset < 0) return Math.min(log.highWatermark, log.logEndOffset);
  const local = log.endOffsetForEpoch(leaderEpoch);
  if (local.leaderEpoch === leaderEpoch) return Math.min(leaderEndOffset, local.endOffset);
  return Math.min(local.endOffset < 0 ? log.highWatermark : local.endOffset, log.logEndOffset);
}

class LeaderLoop {
  readonly partitions = new Map<Replica, Followed>();
  #running: Promise<void> | undefined;
  #stopped = false;
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;

  constructor(readonly leader: number, readonly o: ReplicaFetcherOptions) {}

  add(r: Replica): void {
    this.partitions.set(r, { needsTruncation: true, backoffUntilMs: 0 });
    this.#wake();
    this.#ensureRunning();
  }

  #ensureRunning(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      // A partition added while the loop was ending its last round.
      if (this.partitions.size > 0) this.#ensureRunning();
    });
  }

  remove(r: Replica): void {
    this.partitions.delete(r);
  }

  #wake(): void {
    if (this.#sleep === undefined) return;
    clearTimeout(this.#sleep.timer);
    this.#sleep.resolve();
    this.#sleep = undefined;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#sleep = {
        timer: setTimeout(() => {
          this.#sleep = undefined;
          resolve();
        }, ms),
        resolve,
      };
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.partitions.clear();
    this.#wake();
    await this.#running;
  }

  /**
   * The leader's address: its registration, or its last one when that has gone but the partition
   * state still names it (etcd expired the leases it could not renew: keep copying from it).
   */
  #endpoint(): BrokerEndpoint | undefined {
    const b = this.o.metadata.brokers.get(this.leader)?.value ??
      this.o.metadata.lastKnownBrokers.get(this.leader);
    return b === undefined ? undefined : { nodeId: b.nodeId, host: b.host, port: b.kafkaPort };
  }

  #followed(r: Replica, epoch: number): Followed | undefined {
    const f = this.partitions.get(r);
    return f !== undefined && r.role === "follower" && r.state.value.leader === this.leader &&
        r.state.value.leaderEpoch === epoch
      ? f
      : undefined;
  }

  async #run(): Promise<void> {
    while (!this.#stopped && this.partitions.size > 0) {
      const endpoint = this.#endpoint();
      if (endpoint === undefined) {
        await this.#pause(REPLICA_FETCH_BACKOFF_MS);
        continue;
      }
      try {
        await this.#truncate(endpoint);
        const fetched = await this.#fetch(endpoint);
        if (!fetched) await this.#pause(REPLICA_FETCH_BACKOFF_MS);
      } catch (err) {
        if (err instanceof SluiceError && err.details?.refused === true) {
          this.o.onLeaderRefused?.(this.leader);
        }
        this.o.logger.warn("replica fetch failed; backing off", {
          leader: this.leader,
          error: err instanceof Error ? err.message : String(err),
        });
        await this.#pause(REPLICA_FETCH_BACKOFF_MS);
      }
    }
  }

  async #truncate(endpoint: BrokerEndpoint): Promise<void> {
    const asked: { r: Replica; epoch: number; localEpoch: number }[] = [];
    for (const [r, f] of this.partitions) {
      if (!f.needsTruncation) continue;
      const localEpoch = latestEpoch(r.log);
      if (localEpoch < 0) {
        f.needsTruncation = false; // an empty log has nothing to diverge
        continue;
      }
      asked.push({ r, epoch: r.state.value.leaderEpoch, localEpoch });
    }
    if (asked.length === 0) return;
    const answers = await this.o.transport.offsetsForLeaderEpoch(
      endpoint,
      this.o.manager.nodeId,
      asked.map((a) => ({
        topic: a.r.topic,
        partition: a.r.partition,
        currentLeaderEpoch: a.epoch,
        leaderEpoch: a.localEpoch,
      })),
    );
    const byPartition = new Map(answers.map((a) => [partitionKey(a.topic, a.partition), a]));
    for (let i = 0; i < asked.length; i++) {
      const { r, epoch } = asked[i];
      const answer = byPartition.get(partitionKey(r.topic, r.partition));
      const f = this.#followed(r, epoch);
      if (f === undefined || answer === undefined) continue;
      if (answer.error !== undefined) {
        f.backoffUntilMs = this.o.nowMs() + REPLICA_FETCH_BACKOFF_MS;
        continue;
      }
      const to = truncationOffset(r.log, answer.leaderEpoch, answer.endOffset);
      if (to < r.log.logEndOffset) await this.#truncateTo(r, to, "the leader's epoch ends there");
      f.needsTruncation = false;
    }
  }

  async #truncateTo(r: Replica, offset: number, why: string): Promise<void> {
    const before = r.log.logEndOffset;
    const end = await r.log.truncateTo(offset);
    this.o.logger.warn("follower truncated its log", {
      topic: r.topic,
      partition: r.partition,
      from: before,
      to: end,
      why,
    });
  }

  /** One Fetch round; false when nothing could be asked (all backing off). */
  async #fetch(endpoint: BrokerEndpoint): Promise<boolean> {
    const now = this.o.nowMs();
    const asked: { r: Replica; epoch: number }[] = [];
    for (const [r, f] of this.partitions) {
      if (f.needsTruncation || f.backoffUntilMs > now) continue;
      asked.push({ r, epoch: r.state.value.leaderEpoch });
    }
    if (asked.length === 0) return false;
    const results = await this.o.transport.fetch(endpoint, {
      replicaId: this.o.manager.nodeId,
      replicaEpoch: this.o.brokerEpoch(),
      maxWaitMs: REPLICA_FETCH_WAIT_MS,
      minBytes: 1,
      maxBytes: REPLICA_FETCH_RESPONSE_BYTES,
      partitions: asked.map(({ r, epoch }) => ({
        topic: r.topic,
        partition: r.partition,
        fetchOffset: r.log.logEndOffset,
        currentLeaderEpoch: epoch,
        lastFetchedEpoch: latestEpoch(r.log),
        logStartOffset: r.log.logStartOffset,
        partitionMaxBytes: REPLICA_FETCH_PARTITION_BYTES,
      })),
    });
    const byPartition = new Map(results.map((x) => [partitionKey(x.topic, x.partition), x]));
    for (const { r, epoch } of asked) {
      const result = byPartition.get(partitionKey(r.topic, r.partition));
      const f = this.#followed(r, epoch);
      if (f === undefined || result === undefined) continue;
      await this.#apply(r, f, result, endpoint);
    }
    return true;
  }

  /** The leader's log start offset for `r` (ListOffsets earliest); -1 when it did not say. */
  async #leaderStart(r: Replica, endpoint: BrokerEndpoint): Promise<number> {
    const [answer] = await this.o.transport.logStartOffsets(endpoint, this.o.manager.nodeId, [{
      topic: r.topic,
      partition: r.partition,
      currentLeaderEpoch: r.state.value.leaderEpoch,
    }]);
    return answer === undefined || answer.error !== undefined ? -1 : answer.logStartOffset;
  }

  /** Raises the log start to the leader's, as far as this replica's high watermark. */
  async #followStart(r: Replica, leaderStart: number): Promise<void> {
    const log = r.log;
    const start = Math.min(leaderStart, log.highWatermark);
    if (start <= log.logStartOffset) return;
    try {
      await log.deleteRecordsBefore(start);
    } catch (err) {
      this.o.logger.warn("follower could not raise its log start to the leader's", {
        topic: r.topic,
        partition: r.partition,
        offset: start,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async #apply(
    r: Replica,
    f: Followed,
    result: ReplicaFetchResult,
    endpoint: BrokerEndpoint,
  ): Promise<void> {
    const log = r.log;
    if (result.divergingEpoch !== undefined) {
      const d = result.divergingEpoch;
      await this.#truncateTo(r, truncationOffset(log, d.epoch, d.endOffset), "diverging epoch");
      return;
    }
    switch (result.error) {
      case undefined:
        break;
      case "OFFSET_OUT_OF_RANGE": {
        // Kafka's answer carries no log start with the error: the follower asks for it.
        const leaderStart = result.logStartOffset >= 0
          ? result.logStartOffset
          : await this.#leaderStart(r, endpoint);
        if (this.#followed(r, r.state.value.leaderEpoch) !== f) return;
        if (leaderStart > log.logEndOffset) {
          await log.truncateFullyAndStartAt(leaderStart);
          this.o.logger.warn("follower restarted its log at the leader's log start", {
            topic: r.topic,
            partition: r.partition,
            offset: leaderStart,
          });
        } else {
          f.needsTruncation = true;
        }
        return;
      }
      default:
        f.backoffUntilMs = this.o.nowMs() + REPLICA_FETCH_BACKOFF_MS;
        return;
    }
    if (result.records.length > 0) {
      try {
        await log.appendReplicated(result.records);
      } catch (err) {
        this.o.logger.error("follower append refused; truncating before fetching again", {
          topic: r.topic,
          partition: r.partition,
          error: err instanceof Error ? err.message : String(err),
        });
        f.needsTruncation = true;
        return;
      }
    }
    const hw = Math.min(result.highWatermark, log.logEndOffset);
    if (hw > log.highWatermark) {
      log.updateHighWatermark(hw);
      this.o.onHighWatermark(log);
    }
    if (result.logStartOffset > log.logStartOffset) {
      await this.#followStart(r, result.logStartOffset);
    }
  }
}

export class ReplicaFetcher {
  readonly #o: ReplicaFetcherOptions;
  readonly #loops = new Map<number, LeaderLoop>();
  #closed = false;

  constructor(options: ReplicaFetcherOptions) {
    this.#o = options;
  }

  /** Follow `r` from `leader` (moving it off any other leader's loop); truncates first. */
  follow(r: Replica, leader: number): void {
    if (this.#closed) return;
    for (const [id, loop] of this.#loops) if (id !== leader) loop.remove(r);
    let loop = this.#loops.get(leader);
    if (loop === undefined) this.#loops.set(leader, loop = new LeaderLoop(leader, this.#o));
    loop.add(r);
  }

  remove(r: Replica): void {
    for (const loop of this.#loops.values()) loop.remove(r);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#loops.values()].map((l) => l.stop()));
    this.#loops.clear();
  }
}
