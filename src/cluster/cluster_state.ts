/**
 * What a Sluice cluster keeps in etcd, and how: the key layout and the JSON records, parsed and
 * checked here and nowhere else. Every key sits under one prefix (`--etcd-prefix`, default
 * `/sluice/`), so that several clusters can share an etcd.
 *
 * | key                              | value (JSON)                                           | lives         |
 * | -------------------------------- | ------------------------------------------------------ | ------------- |
 * | `<prefix>brokers/<nodeId>`       | {@link BrokerRecord}: where to reach the broker         | broker lease  |
 * | `<prefix>controller`             | {@link ControllerRecord}: the elected controller        | its lease     |
 * | `<prefix>topics/<name>`          | {@link TopicRecord}: id, partition count, configs, replica assignment | until deleted |
 * | `<prefix>partitions/<name>/<p>`  | {@link PartitionState}: leader, leader epoch, replicas, ISR | until deleted |
 * | `<prefix>cluster_id`             | the cluster's id (Kafka's 22-character form), made by the first broker | always |
 * | `<prefix>producer_ids`           | `{"nextBlockStart"}`: the next block of producer ids (producer_id_blocks.ts) | always |
 *
 * - A broker's key lives under its lease (broker.session.timeout.ms): a broker that dies or is
 *   cut off from etcd for that long disappears from the cluster. Its create revision is its
 *   **broker epoch** (Kafka's): a restarted broker has a new, larger one.
 * - The controller key is created only if absent, under the winner's lease: one controller at a
 *   time; its create revision is the **controller epoch**.
 * - A topic and all its partition keys are created in one transaction, and deleted in one.
 * - A partition's state changes only by compare-and-swap on the key's mod revision (the
 *   controller electing a leader, the leader changing its ISR: Kafka's AlterPartition), so of two
 *   writers that read the same state, one wins and the other re-reads.
 *
 * Names are safe in keys: topic names are [a-zA-Z0-9._-] (validateTopicName), node ids integers.
 */
import { SluiceError } from "../errors.ts";

export const ETCD_PREFIX_DEFAULT = "/sluice/";

/** A live broker as it registered. */
export interface BrokerRecord {
  nodeId: number;
  /** The Kafka listener's advertised host and port (what Metadata answers). */
  host: string;
  kafkaPort: number;
  /** The HTTP API's advertised base URL, for forwarding (undefined: no HTTP listener). */
  httpUrl?: string;
  rack?: string | null;
  startedMs: number;
}

/** The elected controller. */
export interface ControllerRecord {
  nodeId: number;
  electedMs: number;
}

/** A topic as the cluster knows it: what every replica needs to create its logs. */
export interface TopicRecord {
  name: string;
  /** A UUID, the same on every broker (Kafka's topic id). */
  id: string;
  /** Topic-level configs as given at creation or altered since (strings, Kafka's form). */
  config: Record<string, string | number>;
  /** replicas[p]: the node ids holding partition p, the first the preferred leader. */
  replicas: number[][];
  createdMs: number;
}

/** No leader (Kafka's -1): every replica in the ISR is down, or an election is due. */
export const NO_LEADER = -1;

/** One partition's state (Kafka's LeaderAndIsr / PartitionRegistration). */
export interface PartitionState {
  /** The node id that takes writes, or NO_LEADER. */
  leader: number;
  /** Bumped on every leader change: stamped into batches, fences old leaders (KIP-101). */
  leaderEpoch: number;
  replicas: number[];
  /** In-sync replicas: the leader and the followers caught up within replica.lag.time.max.ms. */
  isr: number[];
  /** Bumped on every change of this record (Kafka's partition epoch). */
  partitionEpoch: number;
}

/** A value read from etcd with the revision a compare-and-swap must name. */
export interface Versioned<T> {
  value: T;
  modRevision: number;
  createRevision: number;
  /** The lease the key lives under (a broker's registration), undefined for none. */
  lease?: string;
}

/** The keys of one cluster. */
export class ClusterKeys {
  readonly prefix: string;

  constructor(prefix: string = ETCD_PREFIX_DEFAULT) {
    if (!prefix.startsWith("/") || !prefix.endsWith("/")) {
      throw new SluiceError(
        "INVALID_CONFIG",
        `the etcd prefix must start and end with "/", not ${JSON.stringify(prefix)}`,
      );
    }
    this.prefix = prefix;
  }

  get brokers(): string {
    return `${this.prefix}brokers/`;
  }
  broker(nodeId: number): string {
    return `${this.brokers}${nodeId}`;
  }
  get controller(): string {
    return `${this.prefix}controller`;
  }
  get topics(): string {
    return `${this.prefix}topics/`;
  }
  topic(name: string): string {
    return `${this.topics}${name}`;
  }
  get partitions(): string {
    return `${this.prefix}partitions/`;
  }
  partitionsOf(topic: string): string {
    return `${this.partitions}${topic}/`;
  }
  partition(topic: string, partition: number): string {
    return `${this.partitionsOf(topic)}${partition}`;
  }
  get clusterId(): string {
    return `${this.prefix}cluster_id`;
  }
  get producerIds(): string {
    return `${this.prefix}producer_ids`;
  }

  /** What a key under the prefix names; undefined for a key this version does not know. */
  parse(
    key: string,
  ):
    | { kind: "broker"; nodeId: number }
    | { kind: "controller" }
    | { kind: "topic"; name: string }
    | { kind: "partition"; topic: string; partition: number }
    | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    if (rest === "controller") return { kind: "controller" };
    const slash = rest.indexOf("/");
    if (slash < 0) return undefined;
    const kind = rest.slice(0, slash);
    const tail = rest.slice(slash + 1);
    if (kind === "brokers" && /^\d{1,10}$/.test(tail)) {
      return { kind: "broker", nodeId: Number(tail) };
    }
    if (kind === "topics" && tail !== "" && !tail.includes("/")) {
      return { kind: "topic", name: tail };
    }
    if (kind === "partitions") {
      const cut = tail.lastIndexOf("/");
      const p = tail.slice(cut + 1);
      if (cut > 0 && /^\d{1,10}$/.test(p)) {
        return { kind: "partition", topic: tail.slice(0, cut), partition: Number(p) };
      }
    }
    return undefined;
  }
}

const decoder = new TextDecoder();

function fail(what: string, why: string): never {
  throw new SluiceError("INTERNAL", `etcd holds a ${what} Sluice cannot read: ${why}`);
}

function json(what: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    fail(what, String(err));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(what, "no object");
  return value as Record<string, unknown>;
}

function nodeId(what: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0x7fffffff) {
    fail(what, `node id ${JSON.stringify(v)}`);
  }
  return v as number;
}

function nodeIds(what: string, v: unknown): number[] {
  if (!Array.isArray(v)) fail(what, `node ids ${JSON.stringify(v)}`);
  return v.map((n) => nodeId(what, n));
}

export function parseBroker(bytes: Uint8Array): BrokerRecord {
  const o = json("broker", bytes);
  if (typeof o.host !== "string" || !Number.isInteger(o.kafkaPort)) fail("broker", "host or port");
  return {
    nodeId: nodeId("broker", o.nodeId),
    host: o.host,
    kafkaPort: o.kafkaPort as number,
    httpUrl: typeof o.httpUrl === "string" ? o.httpUrl : undefined,
    rack: typeof o.rack === "string" ? o.rack : null,
    startedMs: Number(o.startedMs ?? 0),
  };
}

export function parseController(bytes: Uint8Array): ControllerRecord {
  const o = json("controller", bytes);
  return { nodeId: nodeId("controller", o.nodeId), electedMs: Number(o.electedMs ?? 0) };
}

export function parseTopic(bytes: Uint8Array): TopicRecord {
  const o = json("topic", bytes);
  if (typeof o.name !== "string" || typeof o.id !== "string") fail("topic", "name or id");
  if (!Array.isArray(o.replicas) || o.replicas.length === 0) fail("topic", "replicas");
  const config = o.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    fail("topic", "config");
  }
  return {
    name: o.name,
    id: o.id,
    config: config as Record<string, string | number>,
    replicas: o.replicas.map((r) => nodeIds("topic", r)),
    createdMs: Number(o.createdMs ?? 0),
  };
}

export function parsePartitionState(bytes: Uint8Array): PartitionState {
  const o = json("partition state", bytes);
  const leader = o.leader === NO_LEADER ? NO_LEADER : nodeId("partition state", o.leader);
  if (!Number.isInteger(o.leaderEpoch) || (o.leaderEpoch as number) < 0) {
    fail("partition state", "leader epoch");
  }
  return {
    leader,
    leaderEpoch: o.leaderEpoch as number,
    replicas: nodeIds("partition state", o.replicas),
    isr: nodeIds("partition state", o.isr),
    partitionEpoch: Number.isInteger(o.partitionEpoch) ? o.partitionEpoch as number : 0,
  };
}

export function encodeRecord(value: object): string {
  return JSON.stringify(value);
}
