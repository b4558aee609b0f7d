/**
 * The processes of the cluster suite (bench/cluster_bench.ts): one etcd and Sluice brokers, each
 * a real `src/main.ts serve --node-id N --etcd URL --etcd-prefix P` on loopback with free ports
 * (bench_server.ts startServer, `--kafka-port auto`) and its own data directory under one
 * temporary folder, kept across a broker's restarts so a restarted broker finds its logs. A
 * restarted broker takes the ports it had, as a real one would: on new ports, clients that knew
 * the old address (librdkafka keeps retrying it, with a growing backoff) were seen to find it
 * seconds late, which would be measured as failover time. Several
 * clusters may share the etcd, each under its own key prefix. What test/cluster/cluster_harness.ts
 * does for the tests, with node: APIs like the rest of the bench, and nothing imported from test/.
 *
 * Also the partition state and the controller as etcd holds them (src/cluster/cluster_state.ts
 * documents the keys and records), read through etcd's v3 JSON gateway: the bench watches
 * elections there rather than through a client's metadata, which may lag.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type Server, startServer } from "../bench_server.ts";

/** etcd answers its first request within this long of its start, or the suite fails. */
const ETCD_START_TIMEOUT_MS = 30_000;
/** SIGTERM, then SIGKILL after this long. */
const ETCD_STOP_TIMEOUT_MS = 5_000;
/** One request to etcd's gateway. */
const ETCD_REQUEST_TIMEOUT_MS = 2_000;
/** etcd's log lines kept for an error message. */
const ETCD_LOG_LINES_MAX = 50;

/** A free loopback port (the OS picks it; closed again before etcd binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function b64(text: string): string {
  return btoa(text);
}

export interface RunningEtcd {
  /** "http://127.0.0.1:PORT", the client endpoint. */
  endpoint: string;
  pid: number;
  /** The value at `key` as text, or undefined when absent; throws when etcd does not answer. */
  get(key: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** Starts a single-member etcd on free loopback ports, its data in a fresh temporary folder. */
export async function startEtcd(): Promise<RunningEtcd> {
  const dir = fs.mkdtempSync(join(tmpdir(), "sluice-cluster-bench-etcd-"));
  const client = await freePort();
  const peer = await freePort();
  const endpoint = `http://127.0.0.1:${client}`;
  const child = spawn("etcd", [
    "--name",
    "bench",
    "--data-dir",
    join(dir, "data"),
    "--listen-client-urls",
    endpoint,
    "--advertise-client-urls",
    endpoint,
    "--listen-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-cluster",
    `bench=http://127.0.0.1:${peer}`,
    "--log-level",
    "warn",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  const lines: string[] = [];
  child.stderr?.on("data", (chunk: Uint8Array) => {
    for (const line of new TextDecoder().decode(chunk).split("\n")) {
      if (line !== "") lines.push(line);
      if (lines.length > ETCD_LOG_LINES_MAX) lines.shift();
    }
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  let gone = false;
  exited.then(() => gone = true);
  const stop = async () => {
    if (!gone && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        // gone already
      }
      const timer = setTimeout(() => {
        try {
          process.kill(child.pid!, "SIGKILL");
        } catch {
          // gone already
        }
      }, ETCD_STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const get = async (key: string): Promise<string | undefined> => {
    const r = await fetch(`${endpoint}/v3/kv/range`, {
      method: "POST",
      body: JSON.stringify({ key: b64(key) }),
      signal: AbortSignal.timeout(ETCD_REQUEST_TIMEOUT_MS),
    });
    if (!r.ok) {
      await r.body?.cancel();
      throw new Error(`etcd range ${key}: HTTP ${r.status}`);
    }
    const body = await r.json() as { kvs?: { value?: string }[] };
    const v = body.kvs?.[0]?.value;
    return v === undefined ? undefined : atob(v);
  };
  const deadline = Date.now() + ETCD_START_TIMEOUT_MS;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`etcd exited at start:\n${lines.join("\n")}`);
    }
    try {
      await get("probe");
      break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `etcd did not answer within ${ETCD_START_TIMEOUT_MS} ms:\n${lines.join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, pid: child.pid!, get, stop };
}

/** A partition's state as the cluster keeps it in etcd (cluster_state.ts PartitionState). */
export interface PartitionStateView {
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

/** One running broker of a BenchCluster. */
export interface ClusterBroker {
  nodeId: number;
  server: Server;
  /** "127.0.0.1:PORT" of its Kafka listener. */
  kafka: string;
  /** Its HTTP base URL (GET /metrics). */
  url: string;
}

/**
 * N brokers on a shared etcd under `prefix`, every one started with `args` besides its own
 * (--node-id, --etcd, --etcd-prefix, the ports, the data directory).
 */
export class BenchCluster {
  readonly brokers = new Map<number, ClusterBroker>();
  readonly dir: string;
  /** Each broker's HTTP and Kafka ports from its first start, for its restarts. */
  readonly #ports = new Map<number, { http: string; kafka: string }>();

  private constructor(
    readonly etcd: RunningEtcd,
    readonly prefix: string,
    readonly args: readonly string[],
  ) {
    this.dir = fs.mkdtempSync(join(tmpdir(), "sluice-cluster-bench-"));
  }

  /** Starts brokers 1..`brokers` at once; stops what started when one fails. */
  static async start(
    etcd: RunningEtcd,
    prefix: string,
    brokers: number,
    args: readonly string[] = [],
  ): Promise<BenchCluster> {
    const cluster = new BenchCluster(etcd, prefix, args);
    try {
      const ids = Array.from({ length: brokers }, (_, i) => i + 1);
      const started = await Promise.allSettled(ids.map((id) => cluster.startBroker(id)));
      const failed = started.find((s) => s.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  dataDir(nodeId: number): string {
    return join(this.dir, `broker-${nodeId}`);
  }

  /** Starts (or restarts) broker `nodeId` on its data directory; resolves once it serves. */
  async startBroker(nodeId: number): Promise<ClusterBroker> {
    const dataDir = this.dataDir(nodeId);
    fs.mkdirSync(dataDir, { recursive: true });
    const ports = this.#ports.get(nodeId);
    // The last of a repeated flag wins: these override startServer's --port 0 --kafka-port auto.
    const pinned = ports === undefined ? [] : ["--port", ports.http, "--kafka-port", ports.kafka];
    const server = await startServer(dataDir, undefined, "auto", [
      ...pinned,
      "--node-id",
      String(nodeId),
      "--etcd",
      this.etcd.endpoint,
      "--etcd-prefix",
      this.prefix,
      ...this.args,
    ]);
    if (server.kafka === undefined) {
      await server.kill();
      throw new Error(
        `broker ${nodeId} printed no Kafka listening line:\n${server.info.stderrTail}`,
      );
    }
    const broker = { nodeId, server, kafka: server.kafka, url: server.url };
    this.brokers.set(nodeId, broker);
    this.#ports.set(nodeId, {
      http: new URL(server.url).port,
      kafka: server.kafka.slice(server.kafka.lastIndexOf(":") + 1),
    });
    return broker;
  }

  /** SIGKILLs broker `nodeId` (a crash) and waits for its exit. */
  async killBroker(nodeId: number): Promise<void> {
    const b = this.brokers.get(nodeId);
    if (b === undefined) throw new Error(`no broker ${nodeId}`);
    this.brokers.delete(nodeId);
    await b.server.kill();
  }

  /** Kafka bootstrap servers of the running brokers, comma-separated. */
  bootstrap(): string {
    return [...this.brokers.values()].map((b) => b.kafka).join(",");
  }

  /** Partition `p` of `topic` as etcd holds it; undefined before the topic exists. */
  async partitionState(topic: string, p: number): Promise<PartitionStateView | undefined> {
    const text = await this.etcd.get(`${this.prefix}partitions/${topic}/${p}`);
    if (text === undefined) return undefined;
    const s = JSON.parse(text) as PartitionStateView;
    return { leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr };
  }

  /** The controller's node id, or undefined while there is none. */
  async controller(): Promise<number | undefined> {
    const text = await this.etcd.get(`${this.prefix}controller`);
    return text === undefined ? undefined : (JSON.parse(text) as { nodeId: number }).nodeId;
  }

  /** Stops every broker (SIGTERM, in parallel) and removes the folder; leaves etcd running. */
  async stop(): Promise<void> {
    const all = [...this.brokers.values()];
    this.brokers.clear();
    await Promise.allSettled(all.map((b) => b.server.stop()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every `everyMs` until it returns a value other than undefined; throws after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
