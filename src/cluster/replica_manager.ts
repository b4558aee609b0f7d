/**
 * The replicas this broker holds and what each does (Kafka's ReplicaManager and Partition): for
 * every partition whose replicas name this broker, follow the state the controller wrote in etcd.
 *
 * - Leader (state.leader is this broker): appends are stamped with the state's leader epoch
 *   (PartitionLog.becomeLeader). Each follower's fetch tells the leader the follower's log end
 *   (the fetch offset); the high watermark is the least log end of the ISR (the leader's own
 *   included) and only moves forward. A follower out of the ISR that reaches the high watermark
 *   joins it; one that has not caught up with the leader's log end for replica.lag.time.max.ms
 *   leaves it. Either change is proposed by compare-and-swap of the partition key on the revision
 *   the leader holds (Kafka's AlterPartition): a leader that was deposed meanwhile cannot change
 *   anything, and the winning state comes back through the watch. While a removal is in flight the
 *   removed follower still counts for the high watermark (the safe side).
 * - acks=all (awaitCommit): resolves once the high watermark passes the batch; then
 *   NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is below min.insync.replicas; REQUEST_TIMED_OUT
 *   after the request's timeout; NOT_LEADER_OR_FOLLOWER when the leadership moves first.
 * - DeleteRecords (awaitLowWatermark): each follower's fetch also tells its log start; the leader
 *   answers once the least log start of the live replicas reaches the offset (low_watermark.ts).
 * - Follower: PartitionLog.becomeFollower with the state's epoch, and the replica fetcher
 *   (replica_fetcher.ts) copies the leader's batches.
 * - A replica that is neither (leaderless partition, or not in the replicas) serves nothing.
 *
 * Single-threaded: every change runs to completion on the event loop; the only waits are the etcd
 * writes, during which the partition's state is what the view last applied.
 */
import { SluiceError } from "../errors.ts";
import { REPLICA_LAG_TIME_MAX_MS_DEFAULT } from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import {
  type ClusterKeys,
  encodeRecord,
  NO_LEADER,
  type PartitionState,
  type Versioned,
} from "./cluster_state.ts";
import type { EtcdClient } from "./etcd.ts";
import { lowWatermarkOf, LowWatermarkWaiters } from "./low_watermark.ts";
import type { ClusterMetadata, MetadataChange } from "./metadata.ts";
import type { ReplicaFetcher } from "./replica_fetcher.ts";

/** acks=all produce requests waiting for their high watermark at once, per broker. */
export const COMMIT_WAITERS_MAX = 10_000;

/** Where the replica manager finds this broker's logs (the broker's topic registry). */
export interface LocalLogs {
  /** The partition's local log; undefined when this broker holds none (yet). */
  log(topic: string, partition: number): PartitionLog | undefined;
}

export interface ReplicaManagerOptions {
  nodeId: number;
  etcd: EtcdClient;
  keys: ClusterKeys;
  metadata: ClusterMetadata;
  logs: LocalLogs;
  logger: Logger;
  nowMs: () => number;
  replicaLagTimeMaxMs?: number;
  /** The topic's min.insync.replicas. */
  minInsyncReplicas: (topic: string) => number;
  /** The high watermark of `log` moved: wake what waits on it. */
  onHighWatermark: (log: PartitionLog) => void;
  /**
   * This broker starts (`leading` true) or stops leading a partition: its log, before the first
   * write as leader; after the last.
   */
  onLeadership?: (topic: string, partition: number, log: PartitionLog, leading: boolean) => void;
}

export interface FollowerProgress {
  /** The follower's log end as its last fetch said; -1 until it fetches from this leader. */
  logEndOffset: number;
  lastCaughtUpMs: number;
  /** The leader's log end at the follower's previous fetch (Kafka's catch-up rule). */
  leaderEndAtLastFetch: number;
  lastFetchMs: number;
  /** The follower's log start as its last fetch said (DeleteRecords); -1 until it fetches. */
  logStartOffset: number;
}

export interface CommitWaiter {
  offset: number;
  resolve: () => void;
  reject: (err: SluiceError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export type ReplicaRole = "leader" | "follower" | "none";

/** One partition this broker holds a replica of. */
export class Replica {
  role: ReplicaRole = "none";
  state: Versioned<PartitionState>;
  readonly followers: Map<number, FollowerProgress> = new Map();
  readonly waiters: CommitWaiter[] = [];
  /** An ISR change proposed and not yet seen in the state. */
  isrChangeInFlight = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly log: PartitionLog,
    state: Versioned<PartitionState>,
  ) {
    this.state = state;
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class ReplicaManager {
  readonly #o: ReplicaManagerOptions;
  readonly #replicas = new Map<string, Replica>();
  readonly #lagMaxMs: number;
  readonly #unsubscribe: () => void;
  #fetcher: ReplicaFetcher | undefined;
  readonly #lowWatermarks: LowWatermarkWaiters;
  #waiting = 0;
  #isrTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: ReplicaManagerOptions) {
    this.#o = options;
    this.#lagMaxMs = options.replicaLagTimeMaxMs ?? REPLICA_LAG_TIME_MAX_MS_DEFAULT;
    this.#lowWatermarks = new LowWatermarkWaiters((r) => this.lowWatermark(r));
    this.#unsubscribe = options.metadata.subscribe((change) => this.#onChange(change));
    this.#isrTimer = setInterval(
      () => this.#shrinkIsrs(),
      Math.max(100, Math.floor(this.#lagMaxMs / 2)),
    );
  }

  /** The follower side; set once (the fetcher needs the manager and the manager the fetcher). */
  attachFetcher(fetcher: ReplicaFetcher): void {
    this.#fetcher = fetcher;
  }

  get nodeId(): number {
    return this.#o.nodeId;
  }

  replica(topic: string, partition: number): Replica | undefined {
    return this.#replicas.get(key(topic, partition));
  }

  #onChange(change: MetadataChange): void {
    if (this.#closed) return;
    if (change.kind === "partition") this.refreshPartition(change.topic, change.partition);
    else if (change.kind === "reset") this.refreshAll();
    else if (change.kind === "topic" && change.record === undefined) this.forgetTopic(change.name);
    else if (change.kind === "broker") this.#lowWatermarks.checkAll();
  }

  /** Applies the view's state to every partition (after start-up, a reset, a topic's logs). */
  refreshAll(): void {
    for (const [topic, byPartition] of this.#o.metadata.partitions) {
      for (const partition of byPartition.keys()) this.refreshPartition(topic, partition);
    }
  }

  refreshTopic(topic: string): void {
    const byPartition = this.#o.metadata.partitions.get(topic);
    if (byPartition === undefined) return;
    for (const partition of byPartition.keys()) this.refreshPartition(topic, partition);
  }

  /** Drops every replica of a topic (deleted): waiters fail, the fetcher lets go. */
  forgetTopic(topic: string): void {
    for (const [k, r] of this.#replicas) {
      if (r.topic !== topic) continue;
      this.#replicas.delete(k);
      this.#fetcher?.remove(r);
      this.#resign(r);
    }
  }

  /** Brings one partition's replica in line with the view's state. */
  refreshPartition(topic: string, partition: number): void {
    const state = this.#o.metadata.partition(topic, partition);
    const k = key(topic, partition);
    let replica = this.#replicas.get(k);
    if (state === undefined || !state.value.replicas.includes(this.nodeId)) {
      if (replica !== undefined) {
        this.#replicas.delete(k);
        this.#fetcher?.remove(replica);
        this.#resign(replica);
      }
      return;
    }
    const log = this.#o.logs.log(topic, partition);
    if (log === undefined || log.state === "offline") return; // its topic's logs come later
    if (replica === undefined || replica.log !== log) {
      if (replica !== undefined) {
        this.#fetcher?.remove(replica);
        this.#resign(replica);
      }
      replica = new Replica(topic, partition, log, state);
      this.#replicas.set(k, replica);
    }
    const before = replica.state;
    const wasRole = replica.role;
    replica.state = state;
    if (state.modRevision !== before.modRevision) replica.isrChangeInFlight = false;
    const s = state.value;
    const epochChanged = s.leaderEpoch !== before.value.leaderEpoch || wasRole === "none";
    try {
      if (s.leader === this.nodeId) {
        if (wasRole !== "leader" || epochChanged) this.#becomeLeader(replica);
        else this.#maybeAdvanceHighWatermark(replica);
      } else if (s.leader !== NO_LEADER) {
        if (wasRole !== "follower" || epochChanged) this.#becomeFollower(replica);
      } else {
        this.#becomeNone(replica);
      }
    } catch (err) {
      this.#o.logger.error("replica could not take its new role", {
        topic,
        partition,
        leader: s.leader,
        leaderEpoch: s.leaderEpoch,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #becomeLeader(r: Replica): void {
    const s = r.state.value;
    this.#fetcher?.remove(r);
    if (r.log.leaderEpoch <= s.leaderEpoch) r.log.becomeLeader(s.leaderEpoch);
    const starts = r.role !== "leader";
    r.role = "leader";
    if (starts) this.#leadership(r, true);
    const now = this.#o.nowMs();
    r.followers.clear();
    for (const id of s.replicas) {
      if (id === this.nodeId) continue;
      // Kafka's rule: a follower in the ISR gets a full lag window from the leadership's start.
      r.followers.set(id, {
        logEndOffset: -1,
        lastCaughtUpMs: s.isr.includes(id) ? now : 0,
        leaderEndAtLastFetch: -1,
        lastFetchMs: 0,
        logStartOffset: -1,
      });
    }
    this.#o.logger.info("leading partition", {
      topic: r.topic,
      partition: r.partition,
      leaderEpoch: s.leaderEpoch,
      isr: s.isr.join(","),
      logEndOffset: r.log.logEndOffset,
      highWatermark: r.log.highWatermark,
    });
    this.#maybeAdvanceHighWatermark(r);
  }

  #leadership(r: Replica, leading: boolean): void {
    try {
      this.#o.onLeadership?.(r.topic, r.partition, r.log, leading);
    } catch (err) {
      this.#o.logger.error("leadership listener failed", {
        topic: r.topic,
        partition: r.partition,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Leaves the leader role: waiters fail, the listener learns it. */
  #resign(r: Replica): void {
    if (r.role !== "leader") return;
    r.role = "none";
    this.#failWaiters(r, notLeader(r));
    this.#lowWatermarks.fail(r, notLeader(r));
    this.#leadership(r, false);
  }

  #becomeFollower(r: Replica): void {
    const s = r.state.value;
    this.#resign(r);
    if (r.log.leaderEpoch <= s.leaderEpoch) r.log.becomeFollower(s.leaderEpoch);
    r.role = "follower";
    r.followers.clear();
    this.#fetcher?.follow(r, s.leader);
  }

  #becomeNone(r: Replica): void {
    this.#resign(r);
    this.#fetcher?.remove(r);
    r.role = "none";
    r.followers.clear();
  }

  /**
   * The partition for a write (Produce, HTTP produce): this broker must lead it;
   * NOT_LEADER_OR_FOLLOWER or LEADER_NOT_AVAILABLE otherwise. With acks=all, fewer in-sync
   * replicas than min.insync.replicas is NOT_ENOUGH_REPLICAS, before anything is written.
   */
  checkWrite(topic: string, partition: number, acksAll: boolean): Replica {
    const r = this.leaderReplica(topic, partition);
    if (acksAll) {
      const min = this.#o.minInsyncReplicas(topic);
      const isr = r.state.value.isr.length;
      if (isr < min) {
        throw new SluiceError(
          "NOT_ENOUGH_REPLICAS",
          `partition ${topic}-${partition} has ${isr} in-sync replica(s), fewer than ` +
            `min.insync.replicas ${min}`,
          { topic, partition, isr, minInsyncReplicas: min },
        );
      }
    }
    return r;
  }

  /** This broker's leader replica of the partition, or the typed error a client acts on. */
  leaderReplica(topic: string, partition: number): Replica {
    const r = this.#replicas.get(key(topic, partition));
    if (r !== undefined && r.role === "leader") return r;
    const state = this.#o.metadata.partition(topic, partition)?.value;
    if (state === undefined || state.leader === NO_LEADER) {
      throw new SluiceError(
        "LEADER_NOT_AVAILABLE",
        `partition ${topic}-${partition} has no leader now`,
        { topic, partition },
      );
    }
    throw new SluiceError(
      "NOT_LEADER_OR_FOLLOWER",
      `this broker (${this.nodeId}) does not lead partition ${topic}-${partition}` +
        (state.leader === this.nodeId ? " yet" : `; broker ${state.leader} does`),
      { topic, partition, leader: state.leader },
    );
  }

  /** After an append on the leader: an ISR of one commits at once. */
  afterAppend(r: Replica): void {
    if (r.role === "leader") this.#maybeAdvanceHighWatermark(r);
  }

  /**
   * acks=all: resolves once the high watermark reaches `endOffset` (the appended batch's last
   * offset + 1); see the module doc for the errors.
   */
  awaitCommit(r: Replica, endOffset: number, timeoutMs: number): Promise<void> {
    if (r.log.highWatermark >= endOffset) return this.#committed(r);
    if (r.role !== "leader") return Promise.reject(notLeader(r));
    if (this.#waiting >= COMMIT_WAITERS_MAX) {
      return Promise.reject(
        new SluiceError(
          "TOO_MANY_REQUESTS",
          `${COMMIT_WAITERS_MAX} produce requests wait for acks`,
        ),
      );
    }
    this.#waiting++;
    return new Promise<void>((resolve, reject) => {
      const waiter: CommitWaiter = {
        offset: endOffset,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#removeWaiter(r, waiter);
          reject(
            new SluiceError(
              "REQUEST_TIMED_OUT",
              `the in-sync replicas of ${r.topic}-${r.partition} did not all have offset ` +
                `${endOffset - 1} within ${timeoutMs} ms`,
              { topic: r.topic, partition: r.partition, offset: endOffset - 1 },
            ),
          );
        }, Math.max(0, timeoutMs)),
      };
      r.waiters.push(waiter);
    }).then(() => this.#committed(r));
  }

  #committed(r: Replica): Promise<void> {
    const min = this.#o.minInsyncReplicas(r.topic);
    const isr = r.state.value.isr.length;
    if (isr < min) {
      return Promise.reject(
        new SluiceError(
          "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
          `written, but partition ${r.topic}-${r.partition} has ${isr} in-sync replica(s), ` +
            `fewer than min.insync.replicas ${min}`,
          { topic: r.topic, partition: r.partition, isr, minInsyncReplicas: min },
        ),
      );
    }
    return Promise.resolve();
  }

  #removeWaiter(r: Replica, waiter: CommitWaiter): void {
    const i = r.waiters.indexOf(waiter);
    if (i >= 0) {
      r.waiters.splice(i, 1);
      this.#waiting--;
    }
  }

  #failWaiters(r: Replica, err: SluiceError): void {
    for (const w of r.waiters.splice(0)) {
      clearTimeout(w.timer);
      this.#waiting--;
      w.reject(err);
    }
  }

  /**
   * DeleteRecords on the leader, after its own log start moved: resolves with the partition's low
   * watermark once it reaches `offset` (low_watermark.ts).
   */
  awaitLowWatermark(r: Replica, offset: number, timeoutMs: number): Promise<number> {
    if (r.role !== "leader") return Promise.reject(notLeader(r));
    return this.#lowWatermarks.wait(r, offset, timeoutMs);
  }

  /** The least log start of the leader and its live followers (Kafka's lowWatermarkIfLeader). */
  lowWatermark(r: Replica): number {
    return lowWatermarkOf(r, (id) => this.#o.metadata.brokers.has(id));
  }

  /**
   * A follower's fetch reached the leader: `fetchOffset` is its log end, `logStartOffset` its log
   * start (-1: not told). Returns the error to answer instead of reading (not the leader, not a
   * replica, an old broker epoch).
   */
  onFollowerFetch(
    topic: string,
    partition: number,
    replicaId: number,
    fetchOffset: number,
    logStartOffset = -1,
  ): SluiceError | undefined {
    const r = this.#replicas.get(key(topic, partition));
    if (r === undefined || r.role !== "leader") {
      try {
        this.leaderReplica(topic, partition);
      } catch (err) {
        return err as SluiceError;
      }
    }
    const progress = r!.followers.get(replicaId);
    if (progress === undefined) {
      return new SluiceError(
        "NOT_LEADER_OR_FOLLOWER",
        `broker ${replicaId} holds no replica of ${topic}-${partition}`,
        { topic, partition, replicaId },
      );
    }
    const now = this.#o.nowMs();
    const leaderEnd = r!.log.logEndOffset;
    if (fetchOffset >= leaderEnd) progress.lastCaughtUpMs = now;
    else if (fetchOffset >= progress.leaderEndAtLastFetch && progress.leaderEndAtLastFetch >= 0) {
      progress.lastCaughtUpMs = Math.max(progress.lastCaughtUpMs, progress.lastFetchMs);
    }
    progress.logEndOffset = Math.min(fetchOffset, leaderEnd);
    progress.leaderEndAtLastFetch = leaderEnd;
    progress.lastFetchMs = now;
    if (logStartOffset !== progress.logStartOffset) {
      progress.logStartOffset = logStartOffset;
      this.#lowWatermarks.check(r!);
    }
    this.#maybeExpandIsr(r!, replicaId, progress);
    this.#maybeAdvanceHighWatermark(r!);
    return undefined;
  }

  #maybeAdvanceHighWatermark(r: Replica): void {
    let hw = r.log.logEndOffset;
    for (const id of r.state.value.isr) {
      if (id === this.nodeId) continue;
      const end = r.followers.get(id)?.logEndOffset ?? -1;
      if (end < hw) hw = end;
    }
    if (hw <= r.log.highWatermark) return;
    r.log.updateHighWatermark(hw);
    this.#o.onHighWatermark(r.log);
    if (r.waiters.length === 0) return;
    const now = r.log.highWatermark;
    for (let i = r.waiters.length - 1; i >= 0; i--) {
      const w = r.waiters[i];
      if (w.offset > now) continue;
      r.waiters.splice(i, 1);
      this.#waiting--;
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  #maybeExpandIsr(r: Replica, replicaId: number, progress: FollowerProgress): void {
    const s = r.state.value;
    if (s.isr.includes(replicaId) || r.isrChangeInFlight) return;
    // Kafka's rule: caught up to the high watermark and into the current leader epoch.
    const epochStart = r.log.endOffsetForEpoch(s.leaderEpoch - 1).endOffset;
    if (progress.logEndOffset < r.log.highWatermark || progress.logEndOffset < epochStart) return;
    this.#proposeIsr(r, [...s.isr, replicaId], "a follower caught up");
  }

  #shrinkIsrs(): void {
    if (this.#closed) return;
    const now = this.#o.nowMs();
    for (const r of this.#replicas.values()) {
      if (r.role !== "leader" || r.isrChangeInFlight) continue;
      const s = r.state.value;
      const out = s.isr.filter((id) => {
        if (id === this.nodeId) return false;
        const p = r.followers.get(id);
        return p === undefined || now - p.lastCaughtUpMs > this.#lagMaxMs;
      });
      if (out.length === 0) continue;
      this.#proposeIsr(
        r,
        s.isr.filter((id) => !out.includes(id)),
        `follower(s) ${out.join(",")} not caught up for ${this.#lagMaxMs} ms`,
      );
    }
  }

  /** Kafka's AlterPartition: the ISR changed by compare-and-swap on the revision held. */
  #proposeIsr(r: Replica, isr: number[], why: string): void {
    const from = r.state;
    const next: PartitionState = {
      ...from.value,
      isr: [...new Set(isr)].sort((a, b) =>
        from.value.replicas.indexOf(a) - from.value.replicas.indexOf(b)
      ),
      partitionEpoch: from.value.partitionEpoch + 1,
    };
    r.isrChangeInFlight = true;
    const partitionKey = this.#o.keys.partition(r.topic, r.partition);
    this.#o.etcd.putIfRevision(partitionKey, encodeRecord(next), from.modRevision).then(
      (result) => {
        if (result.ok) {
          this.#o.logger.info("ISR changed", {
            topic: r.topic,
            partition: r.partition,
            from: from.value.isr.join(","),
            to: next.isr.join(","),
            why,
          });
        } else if (r.state === from) {
          r.isrChangeInFlight = false; // lost to another writer; its state comes by the watch
        }
      },
      (err) => {
        if (r.state === from) r.isrChangeInFlight = false;
        this.#o.logger.warn("ISR change not written; retrying later", {
          topic: r.topic,
          partition: r.partition,
          error: err instanceof Error ? err.message : String(err),
        });
      },
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    if (this.#isrTimer !== undefined) clearInterval(this.#isrTimer);
    for (const r of this.#replicas.values()) {
      this.#failWaiters(r, new SluiceError("LOG_CLOSED", "the broker is shutting down"));
    }
    this.#lowWatermarks.failAll(new SluiceError("LOG_CLOSED", "the broker is shutting down"));
    return Promise.resolve();
  }
}

function notLeader(r: Replica): SluiceError {
  return new SluiceError(
    "NOT_LEADER_OR_FOLLOWER",
    `this broker no longer leads partition ${r.topic}-${r.partition}`,
    { topic: r.topic, partition: r.partition },
  );
}
