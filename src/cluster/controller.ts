/**
 * The controller: one broker of the cluster, elected through etcd, that moves leaderships when
 * brokers come and go (Kafka's controller; ZooKeeper's role is etcd's).
 *
 * - Election: every broker tries to create `controller` only if it is absent, under its own broker
 *   lease; the one that did is the controller until its lease ends (it dies, is cut off for the
 *   session timeout, or shuts down and revokes it). Every broker watches the key (through
 *   ClusterMetadata) and tries again when it goes. The key's create revision is the controller
 *   epoch.
 * - Duties, while active: after every change of the live brokers, of a partition's state, or a
 *   reset of the view, each partition is checked with nextPartitionState (partition_election.ts)
 *   and a changed state is written with compare-and-swap on the partition key's revision AND on
 *   the controller key's create revision, so a deposed controller can never write (a newer
 *   controller's key has another create revision) and of two writers of one partition only the
 *   first wins; the loser sees the winner's state through the watch and checks again. Passes are
 *   serialized: a change during a pass asks for one more pass after it.
 * - Topic creation and deletion are the work of the broker that took the request
 *   (cluster_topics.ts); the controller completes the partition states of a topic whose creator
 *   died half-way, and elects.
 * - A pass also runs every CONTROLLER_RESYNC_MS, so a write that failed (etcd was away) is tried
 *   again even when nothing changes.
 */
import { LEADER_IMBALANCE_CHECK_INTERVAL_MS_DEFAULT } from "../limits.ts";
import type { Logger } from "../logger.ts";
import {
  type ClusterKeys,
  encodeRecord,
  type PartitionState,
  type Versioned,
} from "./cluster_state.ts";
import type { EtcdClient } from "./etcd.ts";
import type { BrokerMembership } from "./membership.ts";
import type { ClusterMetadata, MetadataChange } from "./metadata.ts";
import { nextPartitionState, preferredLeaderMoves } from "./partition_election.ts";
import { writeMissingPartitionStates } from "./cluster_topics.ts";

/** Partition writes of one controller pass in flight at once. */
const CONTROLLER_WRITES_IN_FLIGHT = 64;
/** A pass at least this often while active, changes or not (writes that failed are retried). */
export const CONTROLLER_RESYNC_MS = 5_000;

export interface ControllerOptions {
  logger: Logger;
  nowMs: () => number;
  /**
   * How often leaderships move back to their preferred replicas (preferred_leader election,
   * partition_election.ts preferredLeaderMoves); 0 turns it off (Kafka's
   * auto.leader.rebalance.enable false). Default LEADER_IMBALANCE_CHECK_INTERVAL_MS_DEFAULT.
   */
  leaderImbalanceCheckIntervalMs?: number;
}

export class Controller {
  readonly #etcd: EtcdClient;
  readonly #keys: ClusterKeys;
  readonly #metadata: ClusterMetadata;
  readonly #membership: BrokerMembership;
  readonly #options: ControllerOptions;
  readonly #unsubscribe: () => void;
  /** The controller key's create revision while this broker controls; undefined otherwise. */
  #epoch: number | undefined;
  #electing: Promise<void> | undefined;
  #pass: Promise<void> | undefined;
  #passAgain = false;
  #resync: ReturnType<typeof setInterval> | undefined;
  #rebalance: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    etcd: EtcdClient,
    keys: ClusterKeys,
    metadata: ClusterMetadata,
    membership: BrokerMembership,
    options: ControllerOptions,
  ) {
    this.#etcd = etcd;
    this.#keys = keys;
    this.#metadata = metadata;
    this.#membership = membership;
    this.#options = options;
    this.#unsubscribe = metadata.subscribe((change) => this.#onChange(change));
  }

  /** Tries to become the controller now (and whenever the key goes). */
  start(): Promise<void> {
    this.#resync ??= setInterval(() => {
      if (this.#metadata.controller === undefined) this.#elect();
      this.#schedulePass();
    }, CONTROLLER_RESYNC_MS);
    const every = this.#options.leaderImbalanceCheckIntervalMs ??
      LEADER_IMBALANCE_CHECK_INTERVAL_MS_DEFAULT;
    if (every > 0) this.#rebalance ??= setInterval(() => void this.#rebalanceLeaders(), every);
    this.#elect();
    return this.#electing ?? Promise.resolve();
  }

  /** Whether this broker is the controller (as far as its view knows). */
  get active(): boolean {
    return this.#epoch !== undefined && this.#stillOurs();
  }

  get epoch(): number | undefined {
    return this.#epoch;
  }

  #stillOurs(): boolean {
    const c = this.#metadata.controller;
    return c !== undefined && c.createRevision === this.#epoch &&
      c.value.nodeId === this.#membership.nodeId;
  }

  #onChange(change: MetadataChange): void {
    if (this.#closed) return;
    if (change.kind === "controller" || change.kind === "reset") {
      if (this.#epoch !== undefined && !this.#stillOurs()) {
        this.#options.logger.warn("no longer the controller", { nodeId: this.#membership.nodeId });
        this.#epoch = undefined;
      }
      if (this.#metadata.controller === undefined) this.#elect();
    }
    this.#schedulePass();
  }

  #elect(): void {
    if (this.#closed || this.#electing !== undefined || this.#metadata.controller !== undefined) {
      return;
    }
    this.#electing = (async () => {
      try {
        const record = { nodeId: this.#membership.nodeId, electedMs: this.#options.nowMs() };
        const result = await this.#etcd.putIfRevision(
          this.#keys.controller,
          encodeRecord(record),
          0,
          {
            lease: this.#membership.leaseId,
          },
        );
        if (!result.ok) return;
        // The transaction's revision is the one that created the key: the controller epoch.
        this.#epoch = result.revision;
        this.#options.logger.info("elected controller", {
          nodeId: this.#membership.nodeId,
          controllerEpoch: result.revision,
        });
        await this.#metadata.waitForRevision(result.revision);
        this.#schedulePass();
      } catch (err) {
        this.#options.logger.warn("controller election failed; retrying on the next change", {
          error: err instanceof Error ? err.message : String(err),
        });
      } finally {
        this.#electing = undefined;
      }
    })();
  }

  #schedulePass(): void {
    if (this.#closed || !this.active) return;
    if (this.#pass !== undefined) {
      this.#passAgain = true;
      return;
    }
    this.#pass = this.#runPass().finally(() => {
      this.#pass = undefined;
      if (this.#passAgain) {
        this.#passAgain = false;
        this.#schedulePass();
      }
    });
  }

  /**
   * One pass: partition states a topic's creator did not write are written; then over every
   * partition, a leader elected where it is gone and dead followers dropped from the ISR.
   */
  async #runPass(): Promise<void> {
    for (const [name, topic] of this.#metadata.topics) {
      const have = this.#metadata.partitions.get(name);
      if ((have?.size ?? 0) >= topic.value.replicas.length || !this.active) continue;
      try {
        await writeMissingPartitionStates(
          this.#etcd,
          this.#keys,
          topic.value,
          topic.createRevision,
          new Set(have?.keys() ?? []),
        );
      } catch (err) {
        this.#options.logger.warn("missing partition states not written; retrying later", {
          topic: name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    const live = new Set(this.#metadata.brokers.keys());
    const writes: {
      topic: string;
      partition: number;
      from: Versioned<PartitionState>;
      to: PartitionState;
    }[] = [];
    for (const [topic, byPartition] of this.#metadata.partitions) {
      const unclean =
        String(this.#metadata.topics.get(topic)?.value.config["unclean.leader.election.enable"]) ===
          "true";
      for (const [partition, state] of byPartition) {
        const next = nextPartitionState(state.value, live, unclean);
        if (next !== undefined) writes.push({ topic, partition, from: state, to: next });
      }
    }
    for (let i = 0; i < writes.length && this.active; i += CONTROLLER_WRITES_IN_FLIGHT) {
      await Promise.all(
        writes.slice(i, i + CONTROLLER_WRITES_IN_FLIGHT).map((w) => this.#write(w)),
      );
    }
  }

  /** Moves leaderships back to their preferred replicas where a broker is out of balance. */
  async #rebalanceLeaders(): Promise<void> {
    if (!this.active || this.#pass !== undefined) return;
    const states = new Map<string, PartitionState>();
    const versions = new Map<
      string,
      { topic: string; partition: number; from: Versioned<PartitionState> }
    >();
    for (const [topic, byPartition] of this.#metadata.partitions) {
      for (const [partition, state] of byPartition) {
        const key = `${topic}\u0000${partition}`;
        states.set(key, state.value);
        versions.set(key, { topic, partition, from: state });
      }
    }
    const moves = preferredLeaderMoves(states, new Set(this.#metadata.brokers.keys()));
    if (moves.size > 0) {
      this.#options.logger.info("moving leaderships back to their preferred replicas", {
        partitions: moves.size,
      });
    }
    const writes = [...moves].map(([key, to]) => ({ ...versions.get(key)!, to }));
    for (let i = 0; i < writes.length && this.active; i += CONTROLLER_WRITES_IN_FLIGHT) {
      await Promise.all(
        writes.slice(i, i + CONTROLLER_WRITES_IN_FLIGHT).map((w) => this.#write(w)),
      );
    }
  }

  async #write(
    w: { topic: string; partition: number; from: Versioned<PartitionState>; to: PartitionState },
  ): Promise<void> {
    try {
      const key = this.#keys.partition(w.topic, w.partition);
      const result = await this.#etcd.txn(
        [
          { key, target: "mod", cmp: "=", value: w.from.modRevision },
          { key: this.#keys.controller, target: "create", cmp: "=", value: this.#epoch! },
        ],
        [{ op: "put", key, value: encodeRecord(w.to) }],
      );
      if (result.succeeded) {
        this.#options.logger.info("partition state changed", {
          topic: w.topic,
          partition: w.partition,
          leader: w.to.leader,
          leaderEpoch: w.to.leaderEpoch,
          isr: w.to.isr.join(","),
        });
      }
    } catch (err) {
      this.#options.logger.warn("partition state not written; retrying on the next change", {
        topic: w.topic,
        partition: w.partition,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#resync !== undefined) clearInterval(this.#resync);
    if (this.#rebalance !== undefined) clearInterval(this.#rebalance);
    this.#unsubscribe();
    if (this.#electing !== undefined) await this.#electing;
    if (this.#pass !== undefined) await this.#pass;
  }
}
