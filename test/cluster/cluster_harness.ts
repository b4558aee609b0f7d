/**
 * A real Sluice cluster for tests: one etcd (etcd_server.ts) and N brokers, each a real
 * `src/main.ts serve --node-id N --etcd URL` process on loopback with free ports and its own data
 * dir under one temporary folder (kept across a broker's restarts, so a restarted broker finds its
 * logs). Brokers are killed and restarted by node id; `waitFor` polls a condition (no fixed
 * sleeps). Not a test file itself.
 */
import { type RunningServer, startServer } from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import { type RunningEtcd, startEtcd } from "./etcd_server.ts";

const KAFKA_LISTENING = /^sluice kafka listening on (\S+):(\d+)$/;
/** How long start() waits for every broker's view to hold every broker (a loaded machine). */
const START_VIEW_MS = 60_000;

/**
 * The live brokers in the last membership line a broker logged ("cluster view loaded", "broker
 * joined the cluster", "broker left the cluster": JSON lines on stderr with `live`: "1,2,3").
 */
function liveSeen(stderr: string): string | undefined {
  let live: string | undefined;
  for (const line of stderr.split("\n")) {
    if (!line.includes('"live"')) continue;
    try {
      const event = JSON.parse(line);
      if (typeof event.live === "string") live = event.live;
    } catch {
      // not a log line
    }
  }
  return live;
}

export interface ClusterBroker {
  nodeId: number;
  server: RunningServer;
  /** "127.0.0.1:PORT" of its Kafka listener. */
  kafka: string;
  /** Its HTTP base URL. */
  url: string;
}

export interface ClusterOptions {
  brokers?: number;
  /** Extra `serve` arguments for every broker (e.g. --broker-session-timeout-ms). */
  args?: readonly string[];
  /** Extra environment variables for every broker. */
  env?: Record<string, string>;
}

export class TestCluster {
  readonly brokers = new Map<number, ClusterBroker>();

  private constructor(
    readonly etcd: RunningEtcd,
    readonly dir: string,
    readonly args: readonly string[],
    readonly env: Record<string, string> = {},
  ) {}

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const etcd = await startEtcd();
    const cluster = new TestCluster(
      etcd,
      tempDir("sluice-cluster-"),
      options.args ?? [],
      options.env ?? {},
    );
    try {
      const n = options.brokers ?? 3;
      await Promise.all(Array.from({ length: n }, (_, i) => cluster.startBroker(i + 1)));
      // A broker serves once it has registered, but it sees the others only as their keys reach
      // its watch: wait until every broker's view holds all n (a topic of replication factor n
      // created right away would otherwise be INVALID_REPLICATION_FACTOR on a loaded machine).
      const all = Array.from({ length: n }, (_, i) => i + 1).join(",");
      for (const b of cluster.brokers.values()) {
        await waitFor(
          `broker ${b.nodeId} to see brokers ${all}`,
          () => liveSeen(b.server.stderr()) === all ? true : undefined,
          START_VIEW_MS,
        );
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  dataDir(nodeId: number): string {
    return `${this.dir}/broker-${nodeId}`;
  }

  /** Starts (or restarts) broker `nodeId` on its data dir; resolves once it serves. */
  async startBroker(nodeId: number, extraArgs: readonly string[] = []): Promise<ClusterBroker> {
    const server = await startServer({
      dataDir: this.dataDir(nodeId),
      noDefaultFlags: true,
      env: this.env,
      args: [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        this.dataDir(nodeId),
        "--kafka-port",
        "auto",
        "--node-id",
        String(nodeId),
        "--etcd",
        this.etcd.endpoint,
        ...this.args,
        ...extraArgs,
      ],
    });
    const line = server.stdoutLines.map((l) => l.match(KAFKA_LISTENING)).find((m) => m !== null);
    if (line === undefined || line === null) {
      await server.stop("SIGKILL");
      throw new Error(`broker ${nodeId} printed no Kafka listening line:\n${server.stderr()}`);
    }
    const broker = { nodeId, server, kafka: `${line[1]}:${line[2]}`, url: server.url };
    this.brokers.set(nodeId, broker);
    return broker;
  }

  /** Sends `signal` to broker `nodeId` and waits for its exit (SIGKILL: a crash). */
  async killBroker(nodeId: number, signal: Deno.Signal = "SIGKILL"): Promise<number> {
    const b = this.brokers.get(nodeId);
    if (b === undefined) throw new Error(`no broker ${nodeId}`);
    this.brokers.delete(nodeId);
    return await b.server.stop(signal);
  }

  /** Kafka bootstrap addresses of the running brokers. */
  bootstrap(): string[] {
    return [...this.brokers.values()].map((b) => b.kafka);
  }

  /** Stops every broker (SIGTERM) and etcd, and removes the folder. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.brokers.keys()].map((id) => this.killBroker(id, "SIGTERM")));
    await this.etcd.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Polls `check` every 50 ms until it returns a value other than undefined, or throws after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}
