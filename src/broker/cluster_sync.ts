/**
 * A cluster's broker keeps its local topics (the topic registry's directories and logs) in line
 * with the topics etcd holds: the cluster's list is the truth, the local one follows it.
 *
 * - At start: a local topic etcd does not have is moved aside (orphaned/<topic>-<ms>), served no
 *   more but kept: etcd's word alone (a wrong --etcd-prefix, an etcd that lost its data) never
 *   erases a log. One etcd has under another id (deleted and created again while this broker was
 *   away) is deleted here. Every topic etcd has is created here if missing, with etcd's id,
 *   partition count and configs.
 * - Then, as the watch announces them: a new topic is created locally, a deleted one deleted, a
 *   recreated one (new id) replaced, changed configs applied to the running logs, new partitions
 *   (CreatePartitions) created. After a topic's logs exist the replica manager takes up its
 *   partitions (refreshTopic).
 * - Work on one name runs in order; different names run side by side.
 *
 * Every broker holds a log for every partition of every topic, including the partitions it holds
 * no replica of: those stay empty and serve nothing (the replica manager answers
 * NOT_LEADER_OR_FOLLOWER). It keeps topic lookups, configs and ids the same on every broker at
 * the price of an empty directory per such partition; a registry of replicas only is the next
 * step when clusters get larger than a topic's replication factor.
 */
import type { ClusterNode } from "../cluster/cluster_node.ts";
import type { TopicRecord } from "../cluster/cluster_state.ts";
import type { Logger } from "../logger.ts";
import type { Topic, TopicRegistry } from "./topic_registry.ts";

/** Whether a local topic's overrides are the record's (values compared as Kafka's strings). */
function sameConfig(
  local: Readonly<Record<string, string>>,
  record: Readonly<Record<string, string | number>>,
): boolean {
  const keys = Object.keys(record);
  if (keys.length !== Object.keys(local).length) return false;
  return keys.every((k) => local[k] === String(record[k]));
}

export class ClusterSync {
  readonly #topics: TopicRegistry;
  readonly #cluster: ClusterNode;
  readonly #logger: Logger;
  readonly #onDeleted: (topic: Topic) => void;
  readonly #chains = new Map<string, Promise<void>>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(
    topics: TopicRegistry,
    cluster: ClusterNode,
    logger: Logger,
    onDeleted: (topic: Topic) => void,
  ) {
    this.#topics = topics;
    this.#cluster = cluster;
    this.#logger = logger;
    this.#onDeleted = onDeleted;
  }

  /** Reconciles the local topics with etcd's, then follows etcd's changes. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#cluster.subscribe((change) => {
      if (change.kind === "topic") this.#follow(change.name);
      else if (change.kind === "reset") this.#followAll(false);
    });
    this.#followAll(true);
    await this.settled();
  }

  /** Resolves when every queued change has been applied locally. */
  async settled(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /** `atStart`: a local topic etcd does not have is set aside, not deleted. */
  #followAll(atStart: boolean): void {
    const names = new Set(this.#topics.list().map((t) => t.name));
    for (const name of this.#cluster.metadata.topics.keys()) names.add(name);
    for (const name of names) this.#follow(name, atStart);
  }

  /** Queues bringing the local topic `name` in line with etcd's view of it. */
  #follow(name: string, atStart = false): void {
    const before = this.#chains.get(name) ?? Promise.resolve();
    const next = before.then(() => this.#apply(name, atStart)).catch((err) => {
      this.#logger.error("local topic not brought in line with the cluster", {
        topic: name,
        error: err instanceof Error ? err.message : String(err),
      });
    }).finally(() => {
      if (this.#chains.get(name) === next) this.#chains.delete(name);
    });
    this.#chains.set(name, next);
  }

  async #apply(name: string, atStart: boolean): Promise<void> {
    if (this.#closed) return;
    const record: TopicRecord | undefined = this.#cluster.metadata.topics.get(name)?.value;
    const local = this.#topics.list().find((t) => t.name === name);
    if (local !== undefined && (record === undefined || local.meta.id !== record.id)) {
      const setAside = atStart && record === undefined;
      this.#logger.warn(
        setAside
          ? "setting aside a local topic the cluster does not have"
          : record === undefined
          ? "deleting a local topic the cluster deleted"
          : "replacing a local topic the cluster has recreated",
        { topic: name, localId: local.meta.id, clusterId: record?.id ?? null },
      );
      await this.#topics.delete(name, { setAside });
      this.#onDeleted(local);
    }
    if (record === undefined) return;
    if (local === undefined || local.meta.id !== record.id) {
      await this.#topics.create(name, record.replicas.length, record.config, { id: record.id });
    } else {
      if (!sameConfig(local.meta.overrides, record.config)) {
        await this.#topics.alterConfig(name, () => record.config);
      }
      if (record.replicas.length > local.logs.length) {
        await this.#topics.addPartitions(name, record.replicas.length);
      }
    }
    this.#cluster.replicas.refreshTopic(name);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    await this.settled();
  }
}
