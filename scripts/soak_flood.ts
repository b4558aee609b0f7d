/**
 * Connection flood (the soak's descriptor-exhaustion check, and helpers for the connection-limit
 * tests): opens as many idle connections to the HTTP and Kafka ports as it can, bounded in count
 * and time, from loopback only, while sampling the server's RSS (VmRSS from /proc/<pid>/status)
 * and timing /healthz on fresh connections; then closes them all and checks that the server
 * recovers (/healthz answers, and with a metrics token, both connection gauges are back to 0).
 *
 * The flood comes from one address (127.0.0.1), as the attack did; the /healthz probe comes from
 * another loopback address (127.0.0.2, as a monitor on another host would): a per-address bound
 * refuses the flood's address long before the listener is full, so the probe still gets in.
 *
 *   deno run -A scripts/soak_flood.ts [--seconds 20] [--connections 10500] [--descriptors N]
 *
 * runs it against a fresh server (the default limits; `--descriptors` starts that server under
 * `ulimit -n N`) and prints the result as JSON. scripts/soak.ts calls {@link connectionFlood}.
 */
import { percentile, rssMiB } from "./soak_util.ts";
import * as net from "node:net";
import { parseArgs } from "node:util";
import { startServer } from "../test/http/server_harness.ts";
import { concat } from "../test/kafka_protocol/kafka_wire_util.ts";

/** Most connections the flood holds per port, whatever it is asked (each costs it a descriptor). */
const FLOOD_CONNECTIONS_MAX = 20_000;
/** Connects in flight at once. */
const CONNECTS_IN_FLIGHT = 256;
/** A connect not done within this counts as failed (a server not accepting). */
const CONNECT_TIMEOUT_MS = 5_000;
/** One /healthz probe (connect, request, response) is abandoned after this. */
const PROBE_TIMEOUT_MS = 5_000;
const PROBE_INTERVAL_MS = 100;
const RSS_INTERVAL_MS = 250;
/** After the flood, how long the server may take to answer /healthz and show 0 connections. */
const RECOVERY_TIMEOUT_MS = 15_000;
/** Samples kept (bounded). */
const SAMPLES_MAX = 100_000;

export interface FloodOptions {
  httpPort: number;
  /** 0 or undefined: no Kafka flood. */
  kafkaPort?: number;
  /** The server's process id, for VmRSS. */
  pid: number;
  /** How long the flood is held once opened. */
  seconds: number;
  /** Idle connections to open per port (capped at FLOOD_CONNECTIONS_MAX). */
  connections: number;
  /** Bearer token with admin on topic `*` for /metrics when the server runs --auth. */
  metricsToken?: string;
  /** Where the flood comes from (default 127.0.0.1) and the probe (default 127.0.0.2). */
  floodAddress?: string;
  probeAddress?: string;
}

export interface FloodResult {
  /** Connections that stayed open until the flood was closed, per port. */
  held: { http: number; kafka: number };
  /** Connections the server closed (refused) or that failed to connect, per port. */
  refused: { http: number; kafka: number };
  rssStartMiB: number;
  rssMaxMiB: number;
  healthzProbes: number;
  healthzFailures: number;
  healthzP50Ms: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
  /** p99 while the flood was being opened, and while it was only held open. */
  healthzP99MsOpening: number;
  healthzP99MsHolding: number;
  /** How long opening the flood took (connects done or refused). */
  openingMs: number;
  /** The first few probe failures, for the log. */
  healthzErrors: string[];
  /** The server process was alive at the end. */
  alive: boolean;
  /** ms from closing the flood until /healthz answered (and the gauges read 0, with a token). */
  recoveredMs: number | null;
}

export function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Idle connections held open; those the server closes are counted and let go. */
export interface IdleConnections {
  /** Still open. */
  readonly open: number;
  /** Closed by the server, or never connected. */
  readonly refused: number;
  close(): void;
}

/**
 * Opens `count` idle connections to 127.0.0.1:`port` from `localAddress` (at most
 * CONNECTS_IN_FLIGHT connects at a time, until `deadline` (performance.now())); resolves when
 * every connect has succeeded or failed. A connection the server closes counts as refused.
 */
export async function openIdle(
  port: number,
  count: number,
  localAddress = "127.0.0.1",
  deadline = performance.now() + 60_000,
): Promise<IdleConnections> {
  const open = new Set<net.Socket>();
  let refused = 0;
  let closing = false;
  const connectOne = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress });
      let connected = false;
      const timer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
      socket.on("connect", () => {
        connected = true;
        clearTimeout(timer);
        open.add(socket);
        resolve();
      });
      socket.on("data", () => {}); // a refusal's 429 is read and dropped
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(timer);
        if (!closing) refused++;
        open.delete(socket);
        if (!connected) resolve();
      });
    });
  let started = 0;
  const worker = async () => {
    while (started < Math.min(count, FLOOD_CONNECTIONS_MAX) && performance.now() < deadline) {
      started++;
      await connectOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECTS_IN_FLIGHT, count) }, worker));
  return {
    get open() {
      return open.size;
    },
    get refused() {
      return refused;
    },
    close() {
      closing = true;
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}

/**
 * One HTTP/1.1 request on a fresh connection from `localAddress` (Connection: close); resolves
 * with the status and body, rejects on a reset or after `timeoutMs`.
 */
export function rawHttp(
  port: number,
  path: string,
  options: { localAddress?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: "127.0.0.1",
      port,
      localAddress: options.localAddress ?? "127.0.0.1",
    });
    const chunks: Uint8Array[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`GET ${path}: no answer within ${options.timeoutMs ?? PROBE_TIMEOUT_MS} ms`),
      );
    }, options.timeoutMs ?? PROBE_TIMEOUT_MS);
    socket.on("connect", () => {
      let head = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
      for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
      socket.write(head + "\r\n");
    });
    socket.on("data", (d: Uint8Array) => chunks.push(d));
    socket.on("error", (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = new TextDecoder().decode(concat(...chunks));
      const m = text.match(/^HTTP\/1\.[01] (\d{3})/);
      if (m === null) return reject(new Error(`GET ${path}: no HTTP response (${text.length} B)`));
      const at = text.indexOf("\r\n\r\n");
      resolve({ status: Number(m[1]), body: at < 0 ? "" : text.slice(at + 4) });
    });
  });
}

/** A gauge's value in Prometheus text, or undefined. */
export function gauge(metrics: string, name: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(name + " "));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

export async function connectionFlood(opts: FloodOptions): Promise<FloodResult> {
  const floodAddress = opts.floodAddress ?? "127.0.0.1";
  const probeAddress = opts.probeAddress ?? "127.0.0.2";
  const rssStart = rssMiB(opts.pid);
  let rssMax = rssStart;
  const latencies: number[] = [];
  const opening: number[] = [];
  const holding: number[] = [];
  let opened = false;
  const errors: string[] = [];
  const openStart = performance.now();
  let failures = 0;
  let sampling = true;
  const rssLoop = (async () => {
    while (sampling) {
      const r = rssMiB(opts.pid);
      if (r > rssMax) rssMax = r;
      await new Promise((res) => setTimeout(res, RSS_INTERVAL_MS));
    }
  })();
  const probeLoop = (async () => {
    while (sampling) {
      const started = performance.now();
      try {
        const r = await rawHttp(opts.httpPort, "/healthz", { localAddress: probeAddress });
        if (r.status !== 200) failures++;
        else if (latencies.length < SAMPLES_MAX) {
          const ms = performance.now() - started;
          latencies.push(ms);
          (opened ? holding : opening).push(ms);
        }
      } catch (err) {
        failures++;
        if (errors.length < 5) errors.push(String(err));
      }
      await new Promise((res) => setTimeout(res, PROBE_INTERVAL_MS));
    }
  })();
  const deadline = performance.now() + Math.max(10_000, opts.seconds * 1000);
  const [http, kafka] = await Promise.all([
    openIdle(opts.httpPort, opts.connections, floodAddress, deadline),
    opts.kafkaPort ? openIdle(opts.kafkaPort, opts.connections, floodAddress, deadline) : null,
  ]);
  opened = true;
  const openingMs = Math.round(performance.now() - openStart);
  await new Promise((res) => setTimeout(res, opts.seconds * 1000));
  const held = { http: http.open, kafka: kafka?.open ?? 0 };
  const refused = { http: http.refused, kafka: kafka?.refused ?? 0 };
  http.close();
  kafka?.close();
  sampling = false;
  await Promise.all([rssLoop, probeLoop]);
  const closedAt = performance.now();
  let recoveredMs: number | null = null;
  while (performance.now() - closedAt < RECOVERY_TIMEOUT_MS && isAlive(opts.pid)) {
    try {
      const h = await rawHttp(opts.httpPort, "/healthz");
      let settled = h.status === 200;
      if (settled && opts.metricsToken !== undefined) {
        const m = await rawHttp(opts.httpPort, "/metrics", {
          headers: { authorization: `Bearer ${opts.metricsToken}` },
        });
        // This request's own connection is the one HTTP connection left.
        settled = gauge(m.body, 'sluice_listener_connections{listener="http"}') === 1 &&
          (gauge(m.body, 'sluice_listener_connections{listener="kafka"}') ?? 0) === 0;
      }
      if (settled) {
        recoveredMs = performance.now() - closedAt;
        break;
      }
    } catch { /* not yet */ }
    await new Promise((res) => setTimeout(res, 100));
  }
  for (const l of [latencies, opening, holding]) l.sort((a, b) => a - b);
  return {
    held,
    refused,
    rssStartMiB: Math.round(rssStart * 10) / 10,
    rssMaxMiB: Math.round(rssMax * 10) / 10,
    healthzProbes: latencies.length + failures,
    healthzFailures: failures,
    healthzP50Ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
    healthzP99Ms: Math.round(percentile(latencies, 0.99) * 100) / 100,
    healthzMaxMs: Math.round((latencies[latencies.length - 1] ?? NaN) * 100) / 100,
    healthzP99MsOpening: Math.round(percentile(opening, 0.99) * 100) / 100,
    healthzP99MsHolding: Math.round(percentile(holding, 0.99) * 100) / 100,
    openingMs,
    healthzErrors: errors,
    alive: isAlive(opts.pid),
    recoveredMs: recoveredMs === null ? null : Math.round(recoveredMs),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "20" },
      connections: { type: "string", default: "10500" },
      descriptors: { type: "string" },
    },
  });
  const server = await startServer({
    args: ["--kafka-port", "auto"],
    descriptorLimit: values.descriptors === undefined ? undefined : Number(values.descriptors),
  });
  try {
    const kafkaLine = server.stdoutLines.find((l) => l.startsWith("sluice kafka listening on "));
    const kafkaPort = Number(kafkaLine?.split(":").pop());
    const result = await connectionFlood({
      httpPort: Number(new URL(server.url).port),
      kafkaPort,
      pid: server.proc.pid,
      seconds: Number(values.seconds),
      connections: Number(values.connections),
    });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
}
