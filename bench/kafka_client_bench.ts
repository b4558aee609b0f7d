/**
 * Kafka-client suite: "the same client with the same settings produces and consumes 1,000,000 x
 * 100 B records against Sluice's Kafka listener; with KAFKA_BROKERS set it runs against that Kafka
 * too and prints both side by side".
 *
 * The client is librdkafka (through python3-confluent-kafka, Debian's package: librdkafka 2.0.2),
 * driven by bench/kafka_client.py as a subprocess of /usr/bin/python3 (SLUICE_BENCH_PYTHON
 * overrides it), one process per direction and run. The real server is started as in the http
 * suite (bench_server.ts), with its Kafka listener on a free loopback port; both share the
 * machine's cores with the client (2 on the reference VM).
 *
 * Each run uses a fresh topic (1 partition, replication factor 1, created with CreateTopics):
 *
 * - `kafka.produce.100B.librdkafka`: one producer sends the records (no key; 1,000 distinct
 *   incompressible 100 B values) and waits for every acknowledgement. Settings, the same on both
 *   sides, chosen for a durability-fair comparison with Kafka's own producer defaults where they
 *   matter: acks=all (Kafka's default since 3.0: the leader answers once the write is in its log;
 *   with replication factor 1 that is the leader alone, and neither Kafka nor Sluice fsyncs before
 *   answering), linger.ms=5 (Kafka 4.0's default), batch.size=1 MiB (librdkafka also caps a batch
 *   at message.max.bytes, 1,000,000 B, and batch.num.messages, 10,000), compression none,
 *   idempotence off. Timed from the first produce() to the end of flush().
 * - `kafka.consume.100B.librdkafka`: one consumer in a fresh group reads the topic from the earliest
 *   offset until it has every record (librdkafka's fetch defaults: fetch.max.bytes 50 MiB,
 *   max.partition.fetch.bytes 1 MiB, fetch.wait.max.ms 500; auto commit off, one commit at the
 *   end, after the clock) but one: queued.min.messages=1,000,000. librdkafka 2.0.2 stops fetching
 *   for 1 s whenever its prefetch queue holds queued.min.messages (default 100,000; 2.1.0 made the
 *   pause tunable as fetch.queue.backoff.ms), which held 1,000,000 records to ~270,000 records/s
 *   against a broker answering each fetch in ~1 ms: the client's pause, not the broker, set the
 *   pace (Kafka's Java consumer has no such pause). Timed from the partition assignment (the group join: a real Kafka may
 *   hold a new group back 3 s, group.initial.rebalance.delay.ms) to the last record;
 *   params.totalSecondsMedian includes the join.
 *
 * A second client, labelled as such: kafkajs 2.2.4 (deno.json), in this process, as
 * `kafka.produce.100B.kafkajs` and `kafka.consume.100B.kafkajs`. kafkajs has no linger or byte-sized
 * batching: the producer sends arrays of 8,000 records (about 0.9 MB a batch: librdkafka's batches
 * held ~8,100 records, capped by message.max.bytes; 10,000 would pass Kafka's default 1 MiB
 * max.message.bytes and be refused as MESSAGE_TOO_LARGE, as Sluice refuses it), acks=-1
 * (all), no compression, idempotence off, 4 sends in flight; the consumer reads from the
 * beginning with maxBytesPerPartition 1 MiB, maxBytes 50 MiB, maxWaitTimeInMs 500 (librdkafka's
 * fetch figures), autoCommit off, timed from its group join. kafkajs is pure JavaScript and much
 * slower per record than librdkafka: its figures say more about the client than the broker.
 *
 * MB/s counts record values only (10^6 B/s), as bench/kafka_bench.ts does. Full: 1,000,000 records,
 * 3 measured runs (median) with librdkafka and 1 with kafkajs (~20 s); --quick: 100,000 records,
 * 1 run each. With KAFKA_BROKERS set the same runs go
 * to that cluster (its topics are deleted after), as `kafka` peer rows beside the same scenario
 * names (bench/main.ts fills ratioToSluice). When python3 or confluent_kafka is missing the
 * librdkafka half is skipped with the reason in the report (`skipped`), not failed.
 *
 * Run: deno run -A bench/kafka_client_bench.ts [--quick] [--cpu-prof-dir DIR]
 */
import { Buffer } from "node:buffer";
import { execFileSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CompressionTypes, Kafka, logLevel, type Message } from "kafkajs";
import { cliOptions, figure, fixed, randomBytes, textTable } from "./bench_util.ts";
import {
  formatServerLine,
  processCpuSeconds,
  type Server,
  type ServerInfo,
  withServer,
} from "./bench_server.ts";
import type { PeerResult, ProgressFn, RunFigure, ScenarioResult } from "./types.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const CLIENT_SCRIPT = join(BENCH_DIR, "kafka_client.py");
/** Debian's interpreter, which has python3-confluent-kafka (a pyenv python3 on PATH may not). */
const PYTHON_DEFAULT = "/usr/bin/python3";
export const PYTHON_ENV = "SLUICE_BENCH_PYTHON";

const VALUE_BYTES = 100;
const RECORDS_FULL = 1_000_000;
const RECORDS_QUICK = 100_000;
/** Measured runs a direction: full, per client (kafkajs produces ~50,000 records/s: one run). */
const RUNS_FULL: Record<ClientName, number> = { librdkafka: 3, kafkajs: 1 };
const RUNS_QUICK = 1;
/** One direction of one run (1,000,000 records at the slowest plausible 10,000 records/s). */
const CLIENT_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 10_000;
/** The client's stderr (librdkafka's log lines) kept for an error message. */
const STDERR_CHARS_MAX = 4_096;

/** The producer's settings, the same against Sluice and Kafka (see the module doc). */
export const PRODUCER_SETTINGS: Record<string, string | number | boolean> = {
  "acks": "all",
  "linger.ms": 5,
  "batch.size": 1_048_576,
  "compression.type": "none",
  "enable.idempotence": false,
};
/** The consumer's settings beyond librdkafka's defaults. */
export const CONSUMER_SETTINGS: Record<string, string | number | boolean> = {
  "auto.offset.reset": "earliest",
  "enable.auto.commit": false,
  "queued.min.messages": 1_000_000,
};

/** kafkajs's producer and consumer settings (see the module doc). */
export const KAFKAJS_PRODUCER_SETTINGS: Record<string, string | number | boolean> = {
  "acks": -1,
  "compression": "none",
  "idempotent": false,
  "recordsPerSend": 8_000,
  "sendsInFlight": 4,
};
export const KAFKAJS_CONSUMER_SETTINGS: Record<string, string | number | boolean> = {
  "fromBeginning": true,
  "autoCommit": false,
  "maxBytesPerPartition": 1_048_576,
  "maxBytes": 52_428_800,
  "maxWaitTimeInMs": 500,
};
const KAFKAJS_VERSION = "kafkajs 2.2.4";
const KAFKAJS_VALUES_SEED = 42;
const KAFKAJS_DISTINCT_VALUES = 1_000;

export type ClientName = "librdkafka" | "kafkajs";
export type Mode = "produce" | "consume";
const MODES: readonly Mode[] = ["produce", "consume"];

/** What bench/kafka_client.py prints for one direction of one run. */
export interface ClientRun {
  mode: Mode;
  records: number;
  bytes: number;
  seconds: number;
  recordsPerSec: number;
  MBps: number;
  clientCpuSeconds: number;
  /** consume: from subscribe(), the group join included; joinSeconds is that join. */
  totalSeconds?: number;
  joinSeconds?: number;
  client: string;
  clientBinding: string;
  /** librdkafka's statistics: request round trips, batch sizes, bytes on the wire. */
  stats: Record<string, number>;
}

export interface TargetRun extends ClientRun {
  clientName: ClientName;
  target: "sluice" | "kafka";
  topic: string;
  /** The server's CPU seconds over the client process's life (Sluice only: a local pid). */
  serverCpuSeconds?: number;
}

export interface KafkaClientBenchOutcome {
  /** Why librdkafka did not run (no python3, no confluent_kafka): a note, not an error. */
  skipped?: string;
  /** Which clients ran. */
  clients: ClientName[];
  python: string;
  client?: { librdkafka: string; binding: string };
  records: number;
  recordSizeBytes: number;
  /** Measured runs a direction, per client. */
  measuredRuns: Partial<Record<ClientName, number>>;
  settings: Record<string, Record<string, string | number | boolean>>;
  /** The Sluice server's start and stop (exit code), when it ran. */
  server?: ServerInfo;
  /** host:port of the peer Kafka (KAFKA_BROKERS), when set. */
  kafkaBrokers?: string;
  /** Why the peer runs failed; the Sluice figures stand. */
  peerError?: string;
  runs: TargetRun[];
  scenarios: ScenarioResult[];
  peers: PeerResult[];
}

export interface KafkaClientBenchOptions {
  quick: boolean;
  progress?: ProgressFn;
  log?: (line: string) => void;
  /** host:port[,host:port] of a Kafka to run the same client against. */
  kafkaBrokers?: string;
  cpuProfileDir?: string;
  /** Adds the kafkajs runs (default true). */
  kafkajs?: boolean;
}

export function scenarioName(mode: Mode, client: ClientName): string {
  return `kafka.${mode}.${VALUE_BYTES}B.${client}`;
}

function settingsOf(client: ClientName, mode: Mode): Record<string, string | number | boolean> {
  if (client === "kafkajs") {
    return mode === "produce" ? KAFKAJS_PRODUCER_SETTINGS : KAFKAJS_CONSUMER_SETTINGS;
  }
  return mode === "produce" ? PRODUCER_SETTINGS : CONSUMER_SETTINGS;
}

function pythonPath(): string {
  return process.env[PYTHON_ENV] || PYTHON_DEFAULT;
}

/** librdkafka's and the binding's versions, or why the client cannot run. */
export function probeClient(
  python: string,
): { librdkafka: string; binding: string } | { error: string } {
  try {
    const out = execFileSync(python, [
      "-c",
      "import json, confluent_kafka as c; " +
      "print(json.dumps([c.libversion()[0], c.version()[0]]))",
    ], { encoding: "utf8", timeout: PROBE_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
    const [librdkafka, binding] = JSON.parse(out.trim()) as [string, string];
    return { librdkafka, binding };
  } catch (err) {
    const e = err as { code?: string; stderr?: string | Buffer; message: string };
    const last = String(e.stderr || e.message).trim().split("\n").pop();
    const why = e.code === "ENOENT"
      ? `${python} not found`
      : `${python} cannot import confluent_kafka${last ? ` (${last})` : ""}`;
    return {
      error: `${why}: install python3-confluent-kafka (apt-get install python3-confluent-kafka) ` +
        `or set ${PYTHON_ENV} to a python3 that has confluent-kafka`,
    };
  }
}

/** Runs bench/kafka_client.py once; resolves with its JSON, rejects with its error. */
function runClient(python: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [CLIENT_SCRIPT, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Uint8Array) => stdout += new TextDecoder().decode(c));
    child.stderr?.on("data", (c: Uint8Array) => {
      stderr += new TextDecoder().decode(c);
      if (stderr.length > 2 * STDERR_CHARS_MAX) stderr = stderr.slice(-STDERR_CHARS_MAX);
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      reject(new Error(`kafka_client.py ${args[4]} gave no answer in ${CLIENT_TIMEOUT_MS} ms`));
    }, CLIENT_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "");
      } catch {
        parsed = undefined;
      }
      const tail = stderr.trim().slice(-STDERR_CHARS_MAX);
      if (code === 0 && parsed !== undefined && parsed.error === undefined) resolve(parsed);
      else {
        const what = parsed?.error ?? `exit code ${code}, output ${stdout.slice(0, 500)}`;
        reject(
          new Error(
            `kafka_client.py ${args[4]}: ${what}${tail ? `\nclient stderr:\n${tail}` : ""}`,
          ),
        );
      }
    });
  });
}

function numberStats(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) if (typeof x === "number") out[k] = x;
  }
  return out;
}

/** One client: one direction of one run, and a topic's clean-up on a real cluster. */
interface Driver {
  name: ClientName;
  run(bootstrap: string, topic: string, mode: Mode, records: number): Promise<ClientRun>;
  deleteTopic(bootstrap: string, topic: string): Promise<void>;
}

/** librdkafka through bench/kafka_client.py, a process per direction and run. */
function librdkafkaDriver(python: string): Driver {
  return {
    name: "librdkafka",
    run: async (bootstrap, topic, mode, records) => {
      const out = await runClient(python, [
        bootstrap,
        topic,
        String(records),
        String(VALUE_BYTES),
        mode,
        JSON.stringify(settingsOf("librdkafka", mode)),
      ]);
      return {
        mode,
        records: Number(out.records),
        bytes: Number(out.bytes),
        seconds: Number(out.seconds),
        recordsPerSec: Number(out.recordsPerSec),
        MBps: Number(out.MBps),
        clientCpuSeconds: Number(out.clientCpuSeconds ?? 0),
        totalSeconds: out.totalSeconds === undefined ? undefined : Number(out.totalSeconds),
        joinSeconds: out.joinSeconds === undefined ? undefined : Number(out.joinSeconds),
        client: String(out.client),
        clientBinding: String(out.clientBinding),
        stats: numberStats(out.stats),
      };
    },
    deleteTopic: async (bootstrap, topic) => {
      await runClient(python, [bootstrap, topic, "0", String(VALUE_BYTES), "delete"]);
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer in ${CLIENT_TIMEOUT_MS} ms`)),
      CLIENT_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function kafkajsClient(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "sluice-kafka-client-bench",
    brokers: bootstrap.split(",").map((b) => b.trim()),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  });
}

/** kafkajs in this process (its CPU is this process's). */
function kafkajsDriver(): Driver {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const produce = async (kafka: Kafka, topic: string, records: number): Promise<ClientRun> => {
    const admin = kafka.admin();
    await withTimeout(admin.connect(), "kafkajs admin connect");
    try {
      await withTimeout(
        admin.createTopics({
          topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
          waitForLeaders: true,
        }),
        `kafkajs create topic ${topic}`,
      );
    } finally {
      await admin.disconnect();
    }
    const perSend = KAFKAJS_PRODUCER_SETTINGS.recordsPerSend as number;
    const inFlight = KAFKAJS_PRODUCER_SETTINGS.sendsInFlight as number;
    const all = Buffer.from(
      randomBytes(KAFKAJS_DISTINCT_VALUES * VALUE_BYTES, KAFKAJS_VALUES_SEED),
    );
    const values = Array.from(
      { length: KAFKAJS_DISTINCT_VALUES },
      (_, i) => all.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES),
    );
    const batch = (n: number): Message[] =>
      Array.from({ length: n }, (_, i) => ({ value: values[i % values.length] }));
    const full = batch(perSend);
    const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: false });
    await withTimeout(producer.connect(), "kafkajs producer connect");
    try {
      const cpu0 = cpuNow();
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < records) {
          const n = Math.min(perSend, records - next);
          next += n;
          await producer.send({
            topic,
            acks: -1,
            compression: CompressionTypes.None,
            messages: n === perSend ? full : batch(n),
          });
        }
      };
      await withTimeout(
        Promise.all(Array.from({ length: inFlight }, worker)),
        "kafkajs produce",
      );
      const seconds = (performance.now() - t0) / 1000;
      return {
        mode: "produce",
        records,
        bytes: records * VALUE_BYTES,
        seconds,
        recordsPerSec: records / seconds,
        MBps: (records * VALUE_BYTES) / seconds / 1e6,
        clientCpuSeconds: cpuNow() - cpu0,
        client: KAFKAJS_VERSION,
        clientBinding: "in the bench process (Deno)",
        stats: {},
      };
    } finally {
      await producer.disconnect();
    }
  };
  const consume = async (kafka: Kafka, topic: string, records: number): Promise<ClientRun> => {
    const c = KAFKAJS_CONSUMER_SETTINGS;
    const consumer = kafka.consumer({
      groupId: `${topic}-reader-kafkajs-${Date.now()}`,
      maxBytesPerPartition: c.maxBytesPerPartition as number,
      maxBytes: c.maxBytes as number,
      maxWaitTimeInMs: c.maxWaitTimeInMs as number,
      allowAutoTopicCreation: false,
    });
    let count = 0;
    let bytes = 0;
    let joinedAt = 0;
    let doneAt = 0;
    let done: () => void = () => {};
    const allRead = new Promise<void>((resolve) => done = resolve);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (joinedAt === 0) joinedAt = performance.now();
    });
    await withTimeout(consumer.connect(), "kafkajs consumer connect");
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const cpu0 = cpuNow();
      const t0 = performance.now();
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          for (const m of batch.messages) bytes += m.value?.length ?? 0;
          count += batch.messages.length;
          if (count >= records && doneAt === 0) {
            doneAt = performance.now();
            done();
          }
          return Promise.resolve();
        },
      });
      await withTimeout(allRead, `kafkajs consume (${count} of ${records} read)`);
      const cpu = cpuNow() - cpu0;
      const start = joinedAt || t0;
      const seconds = (doneAt - start) / 1000;
      return {
        mode: "consume",
        records: count,
        bytes,
        seconds,
        recordsPerSec: count / seconds,
        MBps: bytes / seconds / 1e6,
        clientCpuSeconds: cpu,
        totalSeconds: (doneAt - t0) / 1000,
        joinSeconds: (start - t0) / 1000,
        client: KAFKAJS_VERSION,
        clientBinding: "in the bench process (Deno)",
        stats: {},
      };
    } finally {
      await consumer.disconnect();
    }
  };
  return {
    name: "kafkajs",
    run: (bootstrap, topic, mode, records) => {
      const kafka = kafkajsClient(bootstrap);
      return mode === "produce" ? produce(kafka, topic, records) : consume(kafka, topic, records);
    },
    deleteTopic: async (bootstrap, topic) => {
      const admin = kafkajsClient(bootstrap).admin();
      await withTimeout(admin.connect(), "kafkajs admin connect");
      try {
        await withTimeout(admin.deleteTopics({ topics: [topic] }), `delete topic ${topic}`);
      } finally {
        await admin.disconnect();
      }
    },
  };
}

/** One direction of one run against `bootstrap`, with the Sluice server's CPU around it. */
async function runOne(
  driver: Driver,
  target: TargetRun["target"],
  bootstrap: string,
  topic: string,
  mode: Mode,
  records: number,
  serverPid: number | undefined,
): Promise<TargetRun> {
  const cpu0 = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  const r = await driver.run(bootstrap, topic, mode, records);
  const cpu1 = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  return {
    ...r,
    clientName: driver.name,
    target,
    topic,
    serverCpuSeconds: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
  };
}

/** `runs` produce + consume runs of `driver` against `bootstrap`, each on a fresh topic. */
async function runTarget(
  driver: Driver,
  target: TargetRun["target"],
  bootstrap: string,
  records: number,
  runs: number,
  server: Server | undefined,
  progress: ProgressFn,
  log: (line: string) => void,
): Promise<TargetRun[]> {
  const out: TargetRun[] = [];
  const label = target === "sluice" ? "" : "kafka ";
  for (let i = 1; i <= runs; i++) {
    const topic = `bench-${driver.name}-${Date.now()}-${i}`;
    try {
      for (const mode of MODES) {
        const name = `${label}${scenarioName(mode, driver.name)}`;
        progress(name, i, runs);
        const r = await runOne(driver, target, bootstrap, topic, mode, records, server?.pid);
        out.push(r);
        progress(name, i, runs, r.recordsPerSec);
        log(`  ${target} ${driver.name} ${describeRun(r)}`);
        if (r.records !== records) {
          throw new Error(
            `${target} ${driver.name} ${mode}: ${r.records} records, want ${records}`,
          );
        }
      }
    } finally {
      // Sluice's topics go with its temporary data directory; a real cluster keeps them.
      if (target === "kafka") {
        await driver.deleteTopic(bootstrap, topic)
          .catch((err) => log(`  kafka: could not delete topic ${topic}: ${err.message}`));
      }
    }
  }
  return out;
}

function describeRun(r: TargetRun): string {
  const join = r.joinSeconds === undefined ? "" : `, join ${fixed(r.joinSeconds, 2)} s`;
  const serverCpu = r.serverCpuSeconds === undefined
    ? ""
    : `, server CPU ${fixed(r.serverCpuSeconds, 1)} s`;
  const rtt = r.stats.rttAvgMs === undefined ? "" : `, rtt avg ${fixed(r.stats.rttAvgMs, 1)} ms`;
  return `${r.mode}: ${fixed(r.records, 0)} records in ${fixed(r.seconds, 2)} s, ${
    fixed(r.recordsPerSec, 0)
  } records/s, ${fixed(r.MBps, 1)} MB/s${join}; client CPU ${
    fixed(r.clientCpuSeconds, 1)
  } s${serverCpu}${rtt}`;
}

function median(values: number[]): number {
  return figure(values).median;
}

/** The median of a statistic over runs, when every run has it. */
function statMedian(runs: readonly TargetRun[], key: string): number | undefined {
  const v = runs.map((r) => r.stats[key]);
  return v.some((x) => x === undefined) ? undefined : median(v as number[]);
}

/** The params the scenario and its peer row share: client, settings, per-run medians. */
function paramsOf(
  runs: readonly TargetRun[],
  mode: Mode,
): Record<string, string | number | boolean> {
  const clientName = runs[0].clientName;
  const settings = settingsOf(clientName, mode);
  const params: Record<string, string | number | boolean> = {
    suite: "kafka-client",
    client: runs[0].client,
    clientBinding: runs[0].clientBinding,
    clientProcess: clientName === "librdkafka"
      ? "python3 bench/kafka_client.py, one process per direction and run"
      : "the bench process (kafkajs is JavaScript: its per-record cost is the client's)",
    partitions: 1,
    replicationFactor: 1,
    recordValueBytes: VALUE_BYTES,
    measuredRuns: runs.length,
    mbBasis: "record values",
    clientCpuCores: median(runs.map((r) => r.clientCpuSeconds / r.seconds)),
  };
  for (const [k, v] of Object.entries(settings)) params[k] = v;
  if (runs.every((r) => r.serverCpuSeconds !== undefined)) {
    // Over the client process's life (start-up included), per second of the timed part.
    params.serverCpuCores = median(runs.map((r) => r.serverCpuSeconds! / r.seconds));
  }
  if (mode === "produce") {
    params.timed = clientName === "librdkafka"
      ? "first produce() to the end of flush() (every record acknowledged)"
      : "first send() until every send() resolved (every record acknowledged)";
  } else {
    params.timed = "partition assignment (group join) to the last record";
    params.totalSecondsMedian = median(runs.map((r) => r.totalSeconds ?? r.seconds));
    params.joinSecondsMedian = median(runs.map((r) => r.joinSeconds ?? 0));
  }
  for (
    const key of ["rttAvgMs", "rttP99Ms", "batchBytesAvg", "batchRecordsAvg", "requestsSent"]
  ) {
    const v = statMedian(runs, key);
    if (v !== undefined) params[`librdkafka.${key}`] = v;
  }
  return params;
}

function runFigures(runs: readonly TargetRun[]): RunFigure[] {
  return runs.map((r) => ({
    recordsPerSec: r.recordsPerSec,
    mbPerSec: r.MBps,
    seconds: r.seconds,
  }));
}

function toScenarios(
  runs: readonly TargetRun[],
  clients: readonly ClientName[],
  records: number,
): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const client of clients) {
    for (const mode of MODES) {
      const mine = runs.filter((r) =>
        r.target === "sluice" && r.clientName === client && r.mode === mode
      );
      if (mine.length === 0) continue;
      out.push({
        name: scenarioName(mode, client),
        recordSizeBytes: VALUE_BYTES,
        records,
        recordsPerSec: median(mine.map((r) => r.recordsPerSec)),
        mbPerSec: median(mine.map((r) => r.MBps)),
        ratioToLimit: null,
        limit: null,
        p50Ms: null,
        p99Ms: null,
        runs: runFigures(mine),
        params: {
          ...paramsOf(mine, mode),
          transport: "Kafka protocol over loopback; client and server on the same cores",
        },
      });
    }
  }
  return out;
}

function toPeers(
  runs: readonly TargetRun[],
  clients: readonly ClientName[],
  brokers: string,
  records: number,
): PeerResult[] {
  const out: PeerResult[] = [];
  const version = process.env.KAFKA_VERSION ?? "unknown (set KAFKA_VERSION)";
  for (const client of clients) {
    for (const mode of MODES) {
      const theirs = runs.filter((r) =>
        r.target === "kafka" && r.clientName === client && r.mode === mode
      );
      if (theirs.length === 0) continue;
      out.push({
        name: "kafka",
        version,
        scenario: scenarioName(mode, client),
        recordsPerSec: median(theirs.map((r) => r.recordsPerSec)),
        mbPerSec: median(theirs.map((r) => r.MBps)),
        params: { ...paramsOf(theirs, mode), brokers, records },
      });
    }
  }
  return out;
}

/** Runs the suite; see the module doc. */
export async function runKafkaClientBench(
  opts: KafkaClientBenchOptions,
): Promise<KafkaClientBenchOutcome> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const progress: ProgressFn = opts.progress ?? (() => {});
  const python = pythonPath();
  const records = opts.quick ? RECORDS_QUICK : RECORDS_FULL;
  const runsOf = (client: ClientName) => opts.quick ? RUNS_QUICK : RUNS_FULL[client];
  const outcome: KafkaClientBenchOutcome = {
    clients: [],
    python,
    records,
    recordSizeBytes: VALUE_BYTES,
    measuredRuns: {},
    settings: {},
    kafkaBrokers: opts.kafkaBrokers || undefined,
    runs: [],
    scenarios: [],
    peers: [],
  };
  const drivers: Driver[] = [];
  const probe = probeClient(python);
  if ("error" in probe) {
    outcome.skipped = probe.error;
    log(`kafka-client: librdkafka skipped: ${probe.error}`);
  } else {
    outcome.client = probe;
    drivers.push(librdkafkaDriver(python));
    log(`kafka-client: librdkafka ${probe.librdkafka} (confluent-kafka-python ${probe.binding})`);
  }
  if (opts.kafkajs !== false) drivers.push(kafkajsDriver());
  outcome.clients = drivers.map((d) => d.name);
  for (const d of drivers) {
    outcome.measuredRuns[d.name] = runsOf(d.name);
    outcome.settings[`${d.name}.producer`] = settingsOf(d.name, "produce");
    outcome.settings[`${d.name}.consumer`] = settingsOf(d.name, "consume");
  }
  if (drivers.length === 0) return outcome;
  log(
    `kafka-client: ${outcome.clients.join(", ")}; ${fixed(records, 0)} x ${VALUE_BYTES} B, ` +
      `${drivers.map((d) => `${runsOf(d.name)} ${d.name}`).join(", ")} run(s) a direction`,
  );

  outcome.server = await withServer({
    label: "kafka-client",
    tempPrefix: "sluice-kafka-client-bench-",
    note: "the clients and the server share the cores",
    log,
    cpuProfileDir: opts.cpuProfileDir,
    kafkaPort: "auto",
  }, async (server) => {
    const bootstrap = server.kafka;
    if (bootstrap === undefined) {
      throw new Error(
        "the server printed no `sluice kafka listening on HOST:PORT` line: its Kafka listener is off",
      );
    }
    for (const d of drivers) {
      outcome.runs.push(
        ...await runTarget(d, "sluice", bootstrap, records, runsOf(d.name), server, progress, log),
      );
    }
  });
  outcome.scenarios = toScenarios(outcome.runs, outcome.clients, records);

  const brokers = outcome.kafkaBrokers;
  if (brokers !== undefined) {
    log(`kafka-client: the same against Kafka at ${brokers}`);
    const errors: string[] = [];
    for (const d of drivers) {
      try {
        outcome.runs.push(
          ...await runTarget(
            d,
            "kafka",
            brokers,
            records,
            runsOf(d.name),
            undefined,
            progress,
            log,
          ),
        );
      } catch (err) {
        errors.push(`${d.name}: ${(err as Error).message}`);
        log(`kafka-client: ${d.name} against Kafka at ${brokers} failed: ${errors.at(-1)}`);
      }
    }
    if (errors.length > 0) outcome.peerError = errors.join("\n");
    outcome.peers = toPeers(outcome.runs, outcome.clients, brokers, records);
  }
  return outcome;
}

/** Sluice and (when measured) Kafka side by side, one row per direction. */
export function formatKafkaClientTable(o: KafkaClientBenchOutcome): string {
  const skipped = o.skipped === undefined ? [] : [`kafka-client: librdkafka skipped: ${o.skipped}`];
  if (o.clients.length === 0) return skipped.join("\n");
  const rows: string[][] = [[
    "scenario",
    "sluice rec/s",
    "sluice MB/s",
    ...(o.peers.length > 0 ? ["kafka rec/s", "kafka MB/s", "kafka/sluice"] : []),
    "server CPU cores",
  ]];
  for (const s of o.scenarios) {
    const peer = o.peers.find((p) => p.scenario === s.name);
    const cores = s.params.serverCpuCores;
    rows.push([
      s.name,
      fixed(s.recordsPerSec, 0),
      fixed(s.mbPerSec, 1),
      ...(o.peers.length > 0
        ? peer === undefined ? ["", "", ""] : [
          fixed(peer.recordsPerSec, 0),
          fixed(peer.mbPerSec, 1),
          s.recordsPerSec > 0 ? fixed(peer.recordsPerSec / s.recordsPerSec, 2) : "",
        ]
        : []),
      typeof cores === "number" ? fixed(cores, 2) : "",
    ]);
  }
  const lines = [
    `kafka-client: ${fixed(o.records, 0)} x ${o.recordSizeBytes} B, median of ${
      o.clients.map((c) => `${o.measuredRuns[c]} ${c}`).join(", ")
    } run(s); librdkafka${o.client ? ` ${o.client.librdkafka}` : ""}: acks=all, linger.ms=5, ` +
    "batch.size=1 MiB, no compression; kafkajs: acks=-1, 8,000-record sends, 4 in flight",
    textTable(rows),
    ...skipped,
  ];
  if (o.server !== undefined) lines.push(formatServerLine(o.server));
  if (o.peerError !== undefined) lines.push(`kafka peer failed: ${o.peerError.split("\n")[0]}`);
  return lines.join("\n");
}

if (import.meta.main) {
  const cli = cliOptions(process.argv.slice(2), process.env);
  const outcome = await runKafkaClientBench({
    quick: cli.quick,
    cpuProfileDir: cli.cpuProfileDir,
    kafkaBrokers: (process.env.KAFKA_BROKERS ?? "").trim() || undefined,
  });
  console.log(formatKafkaClientTable(outcome));
  if (outcome.server !== undefined && outcome.server.exitCode !== 0) process.exitCode = 1;
}
