/**
 * What the cluster fault tests (fencing_test.ts, isr_test.ts, etcd_down_test.ts,
 * librdkafka_failover_test.ts) and the cluster soak (scripts/soak_cluster.ts) share: pausing a
 * broker process (SIGSTOP, waited for until every thread has stopped) and resuming it, the
 * partition states and registrations read straight from etcd (the truth, whichever broker is
 * paused), a broker's log read from its files (every batch, committed or not), raw Produce requests
 * to one broker's Kafka port (exact error codes, no client retries), and an idempotent acks=all
 * kafkajs producer that keeps the values it got acknowledged, in order. Not a test file itself.
 */
import { Kafka, logLevel, type Producer } from "kafkajs";
import {
  ClusterKeys,
  parsePartitionState,
  type PartitionState,
} from "../../src/cluster/cluster_state.ts";
import { EtcdClient } from "../../src/cluster/etcd.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import { decodeBatches, encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import {
  CREATE_TOPICS_REQUEST,
  CREATE_TOPICS_RESPONSE,
} from "../../src/kafka_protocol/messages/create_topics.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import { callOnce, RawClient } from "../kafka_protocol/kafka_wire_util.ts";
import type { TestCluster } from "./cluster_harness.ts";

/** Produce v8: the last version before the flexible encoding; answers carry an error message. */
const PRODUCE_VERSION = 8;
const decoder = new TextDecoder();

export function kafkaOf(bootstrap: string[], clientId: string, requestTimeout = 5_000): Kafka {
  return new Kafka({
    clientId,
    brokers: bootstrap,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
}

/** The state letter of every thread of `pid` ("T" stopped), from /proc/PID/task/TID/stat. */
function threadStates(pid: number): string[] {
  const out: string[] = [];
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
    // "tid (comm) state ...": the state follows the last ")".
    out.push(stat.slice(stat.lastIndexOf(")") + 2)[0]);
  }
  return out;
}

/**
 * SIGSTOPs `pid` and waits (up to 10 s) until every thread has stopped: a signal is delivered
 * asynchronously, and a thread still running could answer one more request.
 */
export async function pauseProcess(pid: number): Promise<void> {
  Deno.kill(pid, "SIGSTOP");
  const deadline = Date.now() + 10_000;
  while (!threadStates(pid).every((s) => s === "T")) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not stop within 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function resumeProcess(pid: number): void {
  Deno.kill(pid, "SIGCONT");
}

/** The pid of broker `nodeId`'s process. */
export function brokerPid(cluster: TestCluster, nodeId: number): number {
  const b = cluster.brokers.get(nodeId);
  if (b === undefined) throw new Error(`no broker ${nodeId}`);
  return b.server.proc.pid;
}

/** The Kafka port of broker `nodeId`. */
export function kafkaPort(cluster: TestCluster, nodeId: number): number {
  const b = cluster.brokers.get(nodeId);
  if (b === undefined) throw new Error(`no broker ${nodeId}`);
  return Number(b.kafka.split(":")[1]);
}

/** Reads the cluster's records in etcd directly: what the controller and the leaders wrote. */
export class EtcdProbe {
  readonly etcd: EtcdClient;
  readonly keys = new ClusterKeys();

  constructor(endpoint: string) {
    this.etcd = new EtcdClient(endpoint, { timeoutMs: 2_000 });
  }

  async partition(topic: string, partition: number): Promise<PartitionState | undefined> {
    const kv = await this.etcd.get(this.keys.partition(topic, partition));
    return kv === undefined ? undefined : parsePartitionState(kv.value);
  }

  /** The create revision of broker `nodeId`'s registration (its broker epoch); undefined: none. */
  async brokerEpoch(nodeId: number): Promise<number | undefined> {
    return (await this.etcd.get(this.keys.broker(nodeId)))?.createRevision;
  }

  async registeredBrokers(): Promise<number[]> {
    const { kvs } = await this.etcd.range(this.keys.brokers);
    return kvs.map((kv) => Number(kv.key.slice(this.keys.brokers.length))).sort((a, b) => a - b);
  }
}

/** Every stored byte of a partition's log on one broker, segment files in offset order. */
export async function logBytes(
  dataDir: string,
  topic: string,
  partition: number,
): Promise<Uint8Array> {
  const dir = `${dataDir}/topics/${topic}/${partition}`;
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".log")) names.push(e.name);
  names.sort();
  const parts = await Promise.all(names.map((n) => Deno.readFile(`${dir}/${n}`)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface LoggedRecord {
  offset: number;
  value: string;
  producerId: number;
  leaderEpoch: number;
}

/**
 * Every record of a partition's log on one broker, from its files (beyond the high watermark
 * too). Throws on a torn last batch (the broker was writing it): callers read a quiet log or
 * retry.
 */
export async function logRecords(
  dataDir: string,
  topic: string,
  partition: number,
): Promise<LoggedRecord[]> {
  const out: LoggedRecord[] = [];
  for (const b of decodeBatches(await logBytes(dataDir, topic, partition))) {
    for (const r of b.records) {
      out.push({
        offset: r.offset,
        value: r.value === null ? "" : decoder.decode(r.value),
        producerId: b.producerId,
        leaderEpoch: b.partitionLeaderEpoch,
      });
    }
  }
  return out;
}

/**
 * Waits until broker `ids`' copies of the partition have the same length, then returns them (the
 * caller compares bytes: a difference of content at the same length is a failure, not a wait).
 */
export async function replicaCopies(
  cluster: TestCluster,
  topic: string,
  partition: number,
  ids: readonly number[],
  waitFor: <T>(what: string, check: () => Promise<T | undefined>, ms?: number) => Promise<T>,
): Promise<Uint8Array[]> {
  return await waitFor(`${topic}-${partition}'s replicas at one length`, async () => {
    const all = await Promise.all(ids.map((id) => logBytes(cluster.dataDir(id), topic, partition)));
    return all.every((b) => b.length === all[0].length) ? all : undefined;
  }, 30_000);
}

/** One RecordBatch of `values` (keys null), as a plain (non-idempotent) client builds it. */
export function batchOf(values: readonly string[]): Uint8Array {
  return encodeRecordBatch(values.map((v) => ({ key: null, value: utf8(v), headers: [] })), {
    timestampMs: Date.now(),
  });
}

export interface ProduceAnswer {
  errorCode: number;
  baseOffset: number;
  errorMessage: string | null;
}

/** A Produce request frame of `values` to one partition, on `client`'s connection. */
export function produceFrame(
  client: RawClient,
  topic: string,
  partition: number,
  values: readonly string[],
  acks: number,
  timeoutMs: number,
): Uint8Array {
  const body: Struct = {
    transactionalId: null,
    acks,
    timeoutMs,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batchOf(values) }] }],
  };
  return client.frame(PRODUCE_REQUEST, PRODUCE_VERSION, body);
}

/** The one partition's answer in a Produce response frame. */
export function produceAnswer(frame: Uint8Array | null): ProduceAnswer {
  if (frame === null) throw new Error("the broker closed the connection instead of answering");
  const body = RawClient.parse(frame, PRODUCE_RESPONSE, PRODUCE_VERSION).body;
  // deno-lint-ignore no-explicit-any
  const p = (body.responses as any[])[0].partitionResponses[0];
  return {
    errorCode: p.errorCode as number,
    baseOffset: Number(p.baseOffset),
    errorMessage: p.errorMessage as string | null,
  };
}

/** One Produce of `values` to broker port `port` on a fresh connection, and its answer. */
export async function produceOnce(
  port: number,
  topic: string,
  partition: number,
  values: readonly string[],
  acks: number,
  timeoutMs = 5_000,
): Promise<ProduceAnswer> {
  const client = await RawClient.connect(port);
  try {
    await client.send(produceFrame(client, topic, partition, values, acks, timeoutMs));
    return produceAnswer(await client.readFrame());
  } finally {
    client.close();
  }
}

/**
 * An idempotent kafkajs producer sending `<prefix><n>` to one partition with acks=all, one send at
 * a time, without pause; `acked` holds the values acknowledged, in the order their sends resolved,
 * with the offset each got and when (wall-clock ms). A failed send is not acknowledged (it may or
 * may not be in the log, at most once).
 */
export class KafkajsLoad {
  readonly acked: string[] = [];
  readonly ackedOffsets: number[] = [];
  readonly ackedAtMs: number[] = [];
  sent = 0;
  failures = 0;
  #running = true;
  #loop: Promise<void> | undefined;

  private constructor(
    readonly producer: Producer,
    readonly topic: string,
    readonly partition: number,
    readonly prefix: string,
  ) {}

  static async start(
    bootstrap: string[],
    topic: string,
    partition: number,
    prefix = "k",
  ): Promise<KafkajsLoad> {
    const producer = kafkaOf(bootstrap, `${prefix}-load`).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const load = new KafkajsLoad(producer, topic, partition, prefix);
    load.#loop = load.#run();
    return load;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const value = `${this.prefix}${this.sent++}`;
      try {
        const [meta] = await this.producer.send({
          topic: this.topic,
          acks: -1,
          timeout: 10_000,
          messages: [{ value, partition: this.partition }],
        });
        this.acked.push(value);
        this.ackedOffsets.push(Number(meta.baseOffset));
        this.ackedAtMs.push(Date.now());
      } catch {
        this.failures++;
      }
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await this.producer.disconnect();
  }
}

/**
 * Checks that the `prefix` records of `logged` hold every value of `acked` exactly once and in
 * the order acknowledged, and that no `prefix` value is there twice (acknowledged or not).
 * Returns what is wrong, or undefined.
 */
export function ackedOnceInOrder(
  logged: readonly LoggedRecord[],
  acked: readonly string[],
  prefix: string,
): string | undefined {
  const position = new Map<string, number>();
  for (const r of logged) {
    if (!r.value.startsWith(prefix)) continue;
    const first = position.get(r.value);
    if (first !== undefined) {
      return `${r.value} is in the log twice (offsets ${first} and ${r.offset})`;
    }
    position.set(r.value, r.offset);
  }
  let last = -1;
  for (const v of acked) {
    const at = position.get(v);
    if (at === undefined) return `${v} was acknowledged and is not in the log`;
    if (at <= last) return `${v} is in the log before a value acknowledged earlier`;
    last = at;
  }
  return undefined;
}

/**
 * For a producer that got every message it sent acknowledged (no failure, nothing undelivered):
 * its `prefix` records in the log are exactly `<prefix>0` .. `<prefix>(produced - 1)`, each once,
 * in that order, and each acknowledged one at the offset its report named. Returns what is
 * wrong, or undefined.
 */
export function producedExactlyOnceInOrder(
  logged: readonly LoggedRecord[],
  prefix: string,
  produced: number,
  reported: readonly { id: number; offset: number }[] = [],
): string | undefined {
  const mine = logged.filter((r) => r.value.startsWith(prefix));
  for (let i = 0; i < mine.length; i++) {
    if (mine[i].value !== `${prefix}${i}`) {
      return `record ${i} of ${prefix}* is ${mine[i].value} at offset ${mine[i].offset}`;
    }
  }
  if (mine.length !== produced) return `${mine.length} ${prefix}* records, ${produced} produced`;
  for (const d of reported) {
    if (mine[d.id]?.offset !== d.offset) {
      return `${prefix}${d.id} was acknowledged at ${d.offset}, is at ${mine[d.id]?.offset}`;
    }
  }
  return undefined;
}

export interface TopicSpec {
  topic: string;
  partitions?: number;
  replicationFactor?: number;
  /** The replicas of each partition, the first its preferred leader (in place of the two above). */
  assignment?: number[][];
  config?: Record<string, string>;
}

/**
 * Creates a topic through kafkajs's admin and waits for its leaders. Tried again until it works
 * (up to 30 s): right after start-up a broker may not know the controller yet (Metadata's
 * controller id -1), which kafkajs's createTopics does not retry.
 */
export async function createTopic(bootstrap: string[], spec: TopicSpec): Promise<void> {
  const admin = kafkaOf(bootstrap, `create-${spec.topic}`).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await admin.createTopics({
          topics: [{
            topic: spec.topic,
            ...(spec.assignment === undefined
              ? {
                numPartitions: spec.partitions ?? 1,
                replicationFactor: spec.replicationFactor ?? 3,
              }
              : {
                replicaAssignment: spec.assignment.map((replicas, partition) => ({
                  partition,
                  replicas,
                })),
              }),
            configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({
              name,
              value,
            })),
          }],
          waitForLeaders: true,
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

export interface BrokerView {
  brokers: number[];
  controllerId: number;
  partitions: { partition: number; leader: number; leaderEpoch: number; isr: number[] }[];
}

/** Metadata v8 of one topic as broker port `port` answers it (its own view of the cluster). */
export async function metadataFrom(port: number, topic: string): Promise<BrokerView> {
  const body = await callOnce(port, METADATA_REQUEST, METADATA_RESPONSE, 8, {
    topics: [{ name: topic }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  // deno-lint-ignore no-explicit-any
  const b = body as any;
  return {
    brokers: (b.brokers as { nodeId: number }[]).map((x) => x.nodeId).sort((x, y) => x - y),
    controllerId: b.controllerId,
    // deno-lint-ignore no-explicit-any
    partitions: (b.topics[0].partitions as any[]).map((p) => ({
      partition: p.partitionIndex,
      leader: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      isr: p.isrNodes,
    })).sort((x, y) => x.partition - y.partition),
  };
}

/** CreateTopics v4 of one topic to broker port `port`: its error code and message. */
export async function createTopicOnce(
  port: number,
  topic: string,
  partitions: number,
  replicationFactor: number,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const body = await callOnce(port, CREATE_TOPICS_REQUEST, CREATE_TOPICS_RESPONSE, 4, {
    topics: [{
      name: topic,
      numPartitions: partitions,
      replicationFactor,
      assignments: [],
      configs: [],
    }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  // deno-lint-ignore no-explicit-any
  const t = (body as any).topics[0];
  return { errorCode: t.errorCode, errorMessage: t.errorMessage };
}
