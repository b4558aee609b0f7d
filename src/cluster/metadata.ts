/**
 * Each broker's view of the cluster (Kafka's MetadataCache): the live brokers, the controller, the
 * topics and every partition's state, read from etcd once and then kept current by a watch on the
 * cluster's prefix. Every broker holds the same view, at most a watch delay behind; everything
 * that acts on the cluster (the controller, the replica manager, the fronts' Metadata answers)
 * reads it here and learns of changes from {@link ClusterMetadata.subscribe}.
 *
 * - Changes are applied in etcd's revision order and announced one by one, after the view holds
 *   them. A watch that had to start over (etcd compacted the revisions it missed) reloads the whole
 *   prefix and announces `reset`: listeners then reconcile everything.
 * - waitForRevision(r): resolves once the view holds every change up to store revision r (a
 *   broker that created a topic answers with it only after its own view has it).
 * - A key this version cannot read is logged and skipped, never applied half.
 */
import { SluiceError } from "../errors.ts";
import { ETCD_REQUEST_TIMEOUT_MS } from "../limits.ts";
import type { Logger } from "../logger.ts";
import {
  type BrokerRecord,
  type ClusterKeys,
  type ControllerRecord,
  parseBroker,
  parseController,
  parsePartitionState,
  parseTopic,
  type PartitionState,
  type TopicRecord,
  type Versioned,
} from "./cluster_state.ts";
import type { EtcdClient, EtcdKv, EtcdWatch, EtcdWatchEvent } from "./etcd.ts";

export type MetadataChange =
  | { kind: "broker"; nodeId: number; record: BrokerRecord | undefined }
  | { kind: "controller"; record: ControllerRecord | undefined }
  | { kind: "topic"; name: string; record: TopicRecord | undefined }
  | { kind: "partition"; topic: string; partition: number; state: PartitionState | undefined }
  | { kind: "reset" };

export type MetadataListener = (change: MetadataChange) => void;

/** Waiters for a revision at once (one per request that created or deleted something). */
const REVISION_WAITERS_MAX = 10_000;
/** How long a write waits for this broker's view to show it (ETCD_REQUEST_TIMEOUT_MS x 2). */
export const METADATA_WAIT_MS = 2 * ETCD_REQUEST_TIMEOUT_MS;

export class ClusterMetadata {
  readonly brokers: Map<number, Versioned<BrokerRecord>> = new Map();
  /**
   * Every broker's last registration, kept after it goes: where a leader whose registration
   * vanished (its lease expired while etcd could not renew it) can still be reached. One entry per
   * node id ever seen.
   */
  readonly lastKnownBrokers: Map<number, BrokerRecord> = new Map();
  controller: Versioned<ControllerRecord> | undefined;
  readonly topics: Map<string, Versioned<TopicRecord>> = new Map();
  /** topic -> partition -> state. */
  readonly partitions: Map<string, Map<number, Versioned<PartitionState>>> = new Map();
  /** The store revision the view is at. */
  revision = 0;
  readonly #etcd: EtcdClient;
  readonly #keys: ClusterKeys;
  readonly #logger: Logger;
  readonly #listeners = new Set<MetadataListener>();
  readonly #revisionWaiters: { revision: number; resolve: () => void }[] = [];
  #watch: EtcdWatch | undefined;
  #closed = false;

  private constructor(etcd: EtcdClient, keys: ClusterKeys, logger: Logger) {
    this.#etcd = etcd;
    this.#keys = keys;
    this.#logger = logger;
  }

  /** Reads the whole cluster prefix and starts watching it from there. */
  static async load(etcd: EtcdClient, keys: ClusterKeys, logger: Logger): Promise<ClusterMetadata> {
    const view = new ClusterMetadata(etcd, keys, logger);
    await view.#reload();
    view.#startWatch();
    return view;
  }

  /** Announces every later change to `listener`; returns the unsubscribe. */
  subscribe(listener: MetadataListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  partition(topic: string, partition: number): Versioned<PartitionState> | undefined {
    return this.partitions.get(topic)?.get(partition);
  }

  /** Live broker ids, ascending. */
  liveBrokerIds(): number[] {
    return [...this.brokers.keys()].sort((a, b) => a - b);
  }

  /**
   * Resolves once the view is at store revision `revision` or later; CLUSTER_UNAVAILABLE when the
   * watch has not brought it within METADATA_WAIT_MS (etcd went away right after the write: the
   * change is made, this broker's view will show it when the watch resumes).
   */
  waitForRevision(revision: number): Promise<void> {
    if (this.revision >= revision) return Promise.resolve();
    if (this.#revisionWaiters.length >= REVISION_WAITERS_MAX) {
      return Promise.reject(
        new SluiceError("TOO_MANY_REQUESTS", `${REVISION_WAITERS_MAX} requests wait for metadata`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.#revisionWaiters.indexOf(waiter);
        if (i >= 0) this.#revisionWaiters.splice(i, 1);
        reject(
          new SluiceError(
            "CLUSTER_UNAVAILABLE",
            `the change was written to etcd (revision ${revision}) but this broker's view has ` +
              `not caught up within ${METADATA_WAIT_MS} ms; it will once etcd's watch resumes`,
            { revision },
          ),
        );
      }, METADATA_WAIT_MS);
      this.#revisionWaiters.push(waiter);
    });
  }

  /** Reads everything under the prefix (as of `revision`: the latest when absent). */
  async #reload(revision?: number): Promise<void> {
    const read = await this.#etcd.range(this.#keys.prefix, { revision });
    if (read.more) {
      throw new SluiceError(
        "CLUSTER_UNAVAILABLE",
        `the cluster's metadata under ${this.#keys.prefix} has more keys than one read takes ` +
          `(ETCD_RANGE_KEYS_MAX)`,
      );
    }
    this.brokers.clear();
    this.controller = undefined;
    this.topics.clear();
    this.partitions.clear();
    for (const kv of read.kvs) this.#apply("put", kv, false);
    this.revision = read.revision;
    this.#logger.info("cluster view loaded", {
      live: this.liveBrokerIds().join(","),
      revision: this.revision,
    });
  }

  #startWatch(): void {
    this.#watch = this.#etcd.watch(this.#keys.prefix, {
      fromRevision: this.revision + 1,
      onEvents: (events: EtcdWatchEvent[], revision: number) => {
        for (const e of events) this.#apply(e.type, e.kv, true);
        this.#advance(revision);
      },
      // The revisions this view missed were compacted away: read everything again as of then.
      // A failed read is tried again (the watch waits meanwhile): a throw would stop the watch.
      onReset: async (revision: number) => {
        for (let attempt = 1; !this.#closed; attempt++) {
          try {
            await this.#reload(revision);
            break;
          } catch (err) {
            this.#logger.warn("cluster metadata reload failed; retrying", {
              attempt,
              error: err instanceof Error ? err.message : String(err),
            });
            await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
          }
        }
        this.#emit({ kind: "reset" });
        this.#advance(this.revision);
      },
      onError: (err: Error, retrying: boolean) => {
        const log = retrying ? this.#logger.warn : this.#logger.error;
        log.call(
          this.#logger,
          retrying
            ? "cluster metadata watch interrupted; resuming"
            : "cluster metadata watch stopped",
          { error: err.message },
        );
      },
    });
  }

  #advance(revision: number): void {
    if (revision > this.revision) this.revision = revision;
    for (let i = this.#revisionWaiters.length - 1; i >= 0; i--) {
      const w = this.#revisionWaiters[i];
      if (w.revision <= this.revision) {
        this.#revisionWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  #apply(type: "put" | "delete", kv: EtcdKv, announce: boolean): void {
    const what = this.#keys.parse(kv.key);
    if (what === undefined) return;
    try {
      const versioned = <T>(value: T): Versioned<T> => ({
        value,
        modRevision: kv.modRevision,
        createRevision: kv.createRevision,
        lease: kv.lease === "0" ? undefined : kv.lease,
      });
      let change: MetadataChange;
      switch (what.kind) {
        case "broker": {
          const record = type === "put" ? parseBroker(kv.value) : undefined;
          const had = this.brokers.has(what.nodeId);
          if (record === undefined) this.brokers.delete(what.nodeId);
          else {
            this.brokers.set(what.nodeId, versioned(record));
            this.lastKnownBrokers.set(what.nodeId, record);
          }
          change = { kind: "broker", nodeId: what.nodeId, record };
          // One line each time the live set changes (a renewed registration is no change).
          if (announce && had !== (record !== undefined)) {
            this.#logger.info(had ? "broker left the cluster" : "broker joined the cluster", {
              nodeId: what.nodeId,
              live: this.liveBrokerIds().join(","),
            });
          }
          break;
        }
        case "controller": {
          const record = type === "put" ? parseController(kv.value) : undefined;
          this.controller = record === undefined ? undefined : versioned(record);
          change = { kind: "controller", record };
          break;
        }
        case "topic": {
          const record = type === "put" ? parseTopic(kv.value) : undefined;
          if (record === undefined) this.topics.delete(what.name);
          else this.topics.set(what.name, versioned(record));
          change = { kind: "topic", name: what.name, record };
          break;
        }
        case "partition": {
          const state = type === "put" ? parsePartitionState(kv.value) : undefined;
          let byPartition = this.partitions.get(what.topic);
          if (state !== undefined) {
            if (byPartition === undefined) this.partitions.set(what.topic, byPartition = new Map());
            byPartition.set(what.partition, versioned(state));
          } else if (byPartition !== undefined) {
            byPartition.delete(what.partition);
            if (byPartition.size === 0) this.partitions.delete(what.topic);
          }
          change = { kind: "partition", topic: what.topic, partition: what.partition, state };
          break;
        }
      }
      if (announce) this.#emit(change);
    } catch (err) {
      this.#logger.error("cluster metadata key skipped", { key: kv.key, error: String(err) });
    }
  }

  #emit(change: MetadataChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#logger.error("cluster metadata listener failed", {
          change: change.kind,
          error: err instanceof Error ? err.stack ?? err.message : String(err),
        });
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#watch?.close();
  }
}
