/**
 * Topic create, delete and restart costs (issue 17's topics row, issue 18's stall):
 *
 * - `create`: 1,000 one-partition topics created one after another through the broker API, in
 *   this process (wall and process CPU seconds), then the descriptors this process holds;
 * - `http`: the same over HTTP against the real server (a child process), one request at a time;
 * - `restart`: a data dir of 4,000 partitions (40 topics of 100, one record each, closed cleanly)
 *   opened again: Broker.open in this process (wall, CPU, descriptors after it from
 *   /proc/self/fd), and the real server's start to its listening line (descriptors of the child),
 *   then its first /metrics scrape (seconds, the child's descriptors after it);
 * - `stall`: /healthz latencies (every 20 ms) while the server creates and then deletes a topic
 *   of PARTITIONS_PER_TOPIC_MAX partitions, and how long each took;
 * - `kafka`: 1,000 one-partition topics created one after another by kafkajs's admin client
 *   (CreateTopics, one topic a request, one connection) against the real server's Kafka port,
 *   and, when the Kafka 4.4 install is here (scripts/install-kafka.sh), against one KRaft node:
 *   the same requests on the same machine, the reference for what a durable create costs.
 *
 * `deno run -A bench/topics_bench.ts [create|http|restart|stall|kafka ...] [--json]`: every part
 * but `kafka` when none is named. Each part runs in a fresh temporary data dir, removed afterwards.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Broker } from "../src/broker/broker.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../src/limits.ts";
import { silentLogger } from "../src/logger.ts";
import { encodeRecordBatch } from "../src/record/record_batch.ts";
import { Kafka, logLevel } from "kafkajs";
import { selfCpuSeconds, startServer } from "./bench_server.ts";
import { kafkaAvailable, startKafka } from "../scripts/kafka_server.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const CREATE_TOPICS = 1_000;
const RESTART_TOPICS = 40;
const RESTART_PARTITIONS_EACH = 100;
const HEALTH_EVERY_MS = 20;

/** Descriptors a process holds now (Linux: the entries of /proc/<pid>/fd). */
function openDescriptors(pid: number | "self" = "self"): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

function tempDir(): string {
  return fs.mkdtempSync(join(tmpdir(), "sluice-topics-bench-"));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const cpu0 = selfCpuSeconds();
  const t0 = performance.now();
  const value = await fn();
  return { value, wall: (performance.now() - t0) / 1000, cpu: selfCpuSeconds() - cpu0 };
}

type Result = Record<string, number | string>;

async function benchCreate(): Promise<Result> {
  const dir = tempDir();
  try {
    const broker = await Broker.open({ dataDir: dir, logger: silentLogger });
    const fdsBefore = openDescriptors();
    const { wall, cpu } = await timed(async () => {
      for (let i = 0; i < CREATE_TOPICS; i++) {
        await broker.createTopic(`t-${i}`, 1, {});
      }
    });
    const fdsAfter = openDescriptors();
    await broker.close();
    return {
      part: "create",
      topics: CREATE_TOPICS,
      wallSeconds: wall,
      cpuSeconds: cpu,
      descriptorsAdded: fdsAfter - fdsBefore,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.body?.cancel();
  return res.status;
}

async function benchHttp(): Promise<Result> {
  const dir = tempDir();
  const server = await startServer(dir, undefined);
  try {
    const t0 = performance.now();
    for (let i = 0; i < CREATE_TOPICS; i++) {
      const status = await post(`${server.url}/v1/topics`, { name: `t-${i}`, partitions: 1 });
      if (status !== 201) throw new Error(`create t-${i}: ${status}`);
    }
    const wall = (performance.now() - t0) / 1000;
    return {
      part: "http",
      topics: CREATE_TOPICS,
      wallSeconds: wall,
      serverDescriptors: openDescriptors(server.pid),
    };
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A data dir of RESTART_TOPICS x RESTART_PARTITIONS_EACH partitions, one record each. */
async function restartDir(): Promise<string> {
  const dir = tempDir();
  const broker = await Broker.open({ dataDir: dir, logger: silentLogger });
  for (let t = 0; t < RESTART_TOPICS; t++) {
    const topic = await broker.createTopic(`r-${t}`, RESTART_PARTITIONS_EACH, {});
    for (const log of topic.logs) {
      const value = new TextEncoder().encode(`record of ${log.dir}`);
      await log.append(encodeRecordBatch([{ value }], { timestampMs: Date.now() }));
    }
  }
  await broker.close();
  return dir;
}

async function benchRestart(): Promise<Result> {
  const dir = await restartDir();
  try {
    const fdsBefore = openDescriptors();
    const { value: broker, wall, cpu } = await timed(() =>
      Broker.open({ dataDir: dir, logger: silentLogger })
    );
    const fdsAfter = openDescriptors();
    await broker.close();
    const server = await timeServerStart(dir);
    // The same server start on an empty data dir: what starting costs without topics.
    const empty = tempDir();
    const bare = await timeServerStart(empty);
    fs.rmSync(empty, { recursive: true, force: true });
    return {
      part: "restart",
      partitions: RESTART_TOPICS * RESTART_PARTITIONS_EACH,
      openWallSeconds: wall,
      openCpuSeconds: cpu,
      descriptorsAdded: fdsAfter - fdsBefore,
      serverStartSeconds: server.seconds,
      emptyServerStartSeconds: bare.seconds,
      serverDescriptors: server.descriptors,
      // The first /metrics after the lazy start (every partition's offsets and sizes).
      firstScrapeSeconds: server.scrapeSeconds,
      serverDescriptorsAfterScrape: server.descriptorsAfterScrape,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The real server's start on `dataDir` to its listening line (bench_server's startServer gives up
 * after 30 s, which a slow start on a loaded machine passes), and its descriptors then.
 */
/** A server start's seconds and descriptors; then its first /metrics scrape's (a lazy start). */
interface ServerStart {
  seconds: number;
  descriptors: number;
  scrapeSeconds: number;
  descriptorsAfterScrape: number;
}

async function timeServerStart(dataDir: string): Promise<ServerStart> {
  const argv = ["run", "-A", MAIN, "serve", "--port", "0", "--data-dir", dataDir];
  const t0 = performance.now();
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = "";
      child.stdout?.on("data", (chunk: Uint8Array) => {
        text += new TextDecoder().decode(chunk);
        const m = /sluice listening on (http:\/\/\S+)/.exec(text);
        if (m) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`server exited (${code}) before listening`)));
    });
    const seconds = (performance.now() - t0) / 1000;
    const descriptors = openDescriptors(child.pid);
    const t1 = performance.now();
    const res = await fetch(`${url}/metrics`);
    await res.text();
    if (!res.ok) throw new Error(`/metrics: ${res.status}`);
    const scrapeSeconds = (performance.now() - t1) / 1000;
    return {
      seconds,
      descriptors,
      scrapeSeconds,
      descriptorsAfterScrape: openDescriptors(child.pid),
    };
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

/** /healthz every HEALTH_EVERY_MS while `op` runs: the op's seconds and the worst latency. */
async function probed(
  url: string,
  op: () => Promise<number>,
): Promise<{ seconds: number; status: number; probes: number; worstMs: number }> {
  let running = true;
  let worst = 0;
  let probes = 0;
  const prober = (async () => {
    while (running) {
      const t = performance.now();
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      worst = Math.max(worst, performance.now() - t);
      probes++;
      await new Promise((r) => setTimeout(r, HEALTH_EVERY_MS));
    }
  })();
  const t0 = performance.now();
  const status = await op();
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  await prober;
  return { seconds, status, probes, worstMs: worst };
}

async function benchStall(): Promise<Result> {
  const dir = tempDir();
  const server = await startServer(dir, undefined);
  try {
    const partitions = PARTITIONS_PER_TOPIC_MAX;
    const create = await probed(
      server.url,
      () => post(`${server.url}/v1/topics`, { name: "big", partitions }),
    );
    if (create.status !== 201) throw new Error(`create big: ${create.status}`);
    const del = await probed(server.url, async () => {
      const res = await fetch(`${server.url}/v1/topics/big`, { method: "DELETE" });
      await res.body?.cancel();
      return res.status;
    });
    if (del.status !== 204) throw new Error(`delete big: ${del.status}`);
    return {
      part: "stall",
      partitions,
      createSeconds: create.seconds,
      createHealthzWorstMs: create.worstMs,
      createProbes: create.probes,
      deleteSeconds: del.seconds,
      deleteHealthzWorstMs: del.worstMs,
      deleteProbes: del.probes,
    };
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** CREATE_TOPICS creates, one a request, through kafkajs's admin client: seconds. */
async function kafkaCreates(bootstrap: string): Promise<number> {
  const admin = new Kafka({
    clientId: "sluice-topics-bench",
    brokers: [bootstrap],
    requestTimeout: 30_000,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const t0 = performance.now();
    for (let i = 0; i < CREATE_TOPICS; i++) {
      const created = await admin.createTopics({
        topics: [{ topic: `t-${i}`, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: false,
      });
      if (!created) throw new Error(`create t-${i}: not created`);
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await admin.disconnect();
  }
}

async function benchKafka(): Promise<Result> {
  const dir = tempDir();
  const server = await startServer(dir, undefined, "auto");
  let sluice: number;
  try {
    if (server.kafka === undefined) throw new Error("the server printed no Kafka address");
    sluice = await kafkaCreates(server.kafka);
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  let kafka: number | string = "not installed";
  if (kafkaAvailable) {
    const node = await startKafka();
    try {
      kafka = await kafkaCreates(node.bootstrap);
    } finally {
      await node.stop();
    }
  }
  return { part: "kafka", topics: CREATE_TOPICS, sluiceSeconds: sluice, kafkaSeconds: kafka };
}

const PARTS: Record<string, () => Promise<Result>> = {
  create: benchCreate,
  http: benchHttp,
  restart: benchRestart,
  stall: benchStall,
  kafka: benchKafka,
};

if (import.meta.main) {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const named = args.filter((a) => !a.startsWith("--"));
  for (const name of named) {
    if (!(name in PARTS)) throw new Error(`unknown part ${name}: one of ${Object.keys(PARTS)}`);
  }
  const all = Object.keys(PARTS).filter((name) => name !== "kafka");
  for (const name of named.length > 0 ? named : all) {
    const result = await PARTS[name]();
    if (json) {
      console.log(JSON.stringify(result));
    } else {
      const fields = Object.entries(result).map(([k, v]) =>
        `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : v}`
      );
      console.log(fields.join(" "));
    }
  }
}
