/**
 * HTTP throughput and latency suite: the real server (`deno run -A src/main.ts serve --host
 * 127.0.0.1 --port 0 --data-dir <temp>`) started once as a subprocess, driven over loopback with
 * fetch() from this process, and stopped with SIGTERM at the end (its exit code is recorded). Each
 * scenario has one warm-up run and then at least 3 measured runs, reported as median, min and max.
 *
 * The client runs in the bench's own process: client and server share the machine's cores (2 on
 * the reference VM), so every figure is "one box serving itself", not the server's ceiling. The
 * CPU each side used (seconds of CPU per second of wall time, from /proc/<pid>/stat for the server
 * and process.cpuUsage() for the bench) is recorded next to each figure to show who was busy.
 *
 * - `produce-batch`: POST /v1/topics/{t}/partitions/{p}/batches of one pre-encoded RecordBatch v2
 *   of 1,000 records with 100 B UTF-8 values (no key, no headers), the same bytes sent again and
 *   again (the server patches baseOffset in its copy; the CRC does not cover it). 1 client on a
 *   1-partition topic, and 4 clients each on its own partition of a 4-partition topic.
 *   Target: >= 500,000 records/s.
 * - `produce-json`: POST /v1/topics/{t}/records with 1,000 records of 100-character string values
 *   per request (the body serialized once, before timing), 1 and 4 clients, no keys (sticky
 *   partitioner). Target: >= 100,000 records/s.
 * - `fetch`: the 4-partition topic produce-batch/x4 wrote, read with GET .../records?offset=N&
 *   maxBytes=1 MiB and Accept application/vnd.kafka.recordbatch from offset 0 to the high
 *   watermark; records counted from the Sluice-Next-Offset deltas. 1 reader on partition 0,
 *   4 readers on partitions 0-3, 4 readers all on partition 0. Target: >= 1,000,000 records/s.
 *   The same reads as JSON (the response parsed by the client) for comparison, over a prefix.
 * - `latency`: single-record JSON produce: one client sending sequentially, and an open loop
 *   paced at 500 requests/s (latency from each request's send). Target: p99 < 5 ms.
 *
 * Before the fetch and latency groups the bench runs `sync` (untimed): otherwise the kernel's
 * writeback of what the produce groups wrote runs during them and measures the disk instead.
 *
 * Run: deno run -A bench/http_bench.ts [--quick] [--scenario GROUP] [--cpu-prof-dir DIR]
 * (--cpu-prof-dir runs the server under `deno run --cpu-prof` and keeps its .cpuprofile there.)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { encodeRecordBatch, type RecordInput, utf8 } from "../src/record/record_batch.ts";
import { RECORD_BATCH_TYPE } from "../src/http/routes/records.ts";
import { xorshift32 } from "./bench_util.ts";

const MAIN = join(dirname(dirname(fileURLToPath(import.meta.url))), "src", "main.ts");
const LISTENING = /^sluice listening on (http:\/\/\S+) \(data: (.*)\)$/;
/** A cold `deno run` resolves npm packages and compiles; 30 s covers a cold cache. */
const START_TIMEOUT_MS = 30_000;
/** SIGTERM drains in-flight requests and flushes every log; the logs here hold < 2 GB. */
const STOP_TIMEOUT_MS = 30_000;
/** Every request of a run is aborted after this: a hung server fails the bench, never stalls it. */
const RUN_TIMEOUT_MS = 120_000;
/** The server's stderr kept for the report (its JSON log lines; the tail is what matters). */
const STDERR_CHARS_MAX = 16_384;

const MiB = 1024 * 1024;
/** Rates are decimal: 1 MB = 10^6 bytes. */
const MB = 1e6;

const RECORDS_PER_REQUEST = 1_000;
const VALUE_BYTES = 100;
const FETCH_MAX_BYTES = MiB;
const CLIENTS = [1, 4] as const;
const PACED_REQUESTS_PER_SEC = 500;
const TIMESTAMP_MS = 1_700_000_000_000;

const PRODUCE_BATCH_TARGET_RECORDS_PER_SEC = 500_000;
const PRODUCE_JSON_TARGET_RECORDS_PER_SEC = 100_000;
const FETCH_BATCH_TARGET_RECORDS_PER_SEC = 1_000_000;
const LATENCY_TARGET_P99_MS = 5;

export const HTTP_GROUPS = ["produce-batch", "produce-json", "fetch", "latency"] as const;

/** median, min and max of the measured runs. */
export interface Figure {
  median: number;
  min: number;
  max: number;
}

export interface HttpBenchResult {
  suite: "http";
  /** `<scenario>/<variant>`, e.g. "produce-batch/x4". */
  name: string;
  /** What --scenario selects. */
  group: typeof HTTP_GROUPS[number];
  description: string;
  params: Record<string, string | number | boolean>;
  warmupRuns: number;
  measuredRuns: number;
  seconds: Figure;
  recordsPerSec?: Figure;
  mbPerSec?: Figure;
  requestsPerSec: Figure;
  /** Over every request of the measured runs. */
  latencyMs?: { p50: number; p99: number; p999: number; max: number; samples: number };
  /** CPU seconds per wall second during the measured runs (median): 1.0 is one core busy. */
  cpuCores?: { server: number; client: number };
  target?: { text: string; met: boolean };
}

export interface HttpServerInfo {
  argv: string[];
  url: string;
  dataDir: string;
  startSeconds: number;
  stopSeconds?: number;
  /** The exit code after SIGTERM (0 is a clean stop); null when a signal ended it. */
  exitCode?: number | null;
  exitSignal?: string | null;
  /** True when SIGTERM did not stop it within STOP_TIMEOUT_MS and it was killed. */
  killed?: boolean;
  peakRssBytes?: number;
  /** The end of what the server printed on stderr. */
  stderrTail: string;
  cpuProfileDir?: string;
}

export interface HttpBenchOutcome {
  results: HttpBenchResult[];
  server: HttpServerInfo;
  note: string;
}

export interface HttpBenchOptions {
  quick: boolean;
  /** Runs only the groups named (HTTP_GROUPS); all when absent or empty. */
  scenarios?: readonly string[];
  /** Progress lines; default console.error. */
  log?: (line: string) => void;
  /** Runs the server under --cpu-prof, writing its profile into this directory. */
  cpuProfileDir?: string;
}

interface Plan {
  warmupRuns: number;
  measuredRuns: number;
  /** Records per produce-batch run, split evenly across the clients. */
  batchRecordsPerRun: number;
  /** Records per produce-json run, split evenly across the clients. */
  jsonRecordsPerRun: number;
  /** Records each JSON fetch reader reads per run (a prefix of its partition). */
  jsonFetchRecordsPerReader: number;
  /** Sequential single-record produces per run (latency). */
  latencyRequestsPerRun: number;
  /** Single-record produces per paced run, at PACED_REQUESTS_PER_SEC. */
  pacedRequestsPerRun: number;
}

const FULL_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 5,
  batchRecordsPerRun: 4_000_000,
  jsonRecordsPerRun: 1_000_000,
  jsonFetchRecordsPerReader: 1_000_000,
  latencyRequestsPerRun: 500,
  pacedRequestsPerRun: 500,
};

const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 3,
  batchRecordsPerRun: 600_000,
  jsonRecordsPerRun: 200_000,
  jsonFetchRecordsPerReader: 100_000,
  latencyRequestsPerRun: 300,
  pacedRequestsPerRun: 250,
};

function figure(values: readonly number[]): Figure {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

function rates(amounts: readonly number[], seconds: readonly number[]): Figure {
  return figure(seconds.map((s, i) => amounts[i] / s));
}

/** `count` ASCII strings of `length` letters and digits, the same on every run. */
function values(count: number, length: number, seed: number): string[] {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const next = xorshift32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    for (let j = 0; j < length; j++) s += alphabet[next() % alphabet.length];
    out.push(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The server process

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every mainstream Linux). */
let clockTicksPerSec: number | undefined;

function ticksPerSec(): number {
  if (clockTicksPerSec === undefined) {
    let ticks = 100;
    try {
      const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim();
      if (/^\d+$/.test(out)) ticks = Number(out);
    } catch {
      // no getconf: keep 100
    }
    clockTicksPerSec = ticks;
  }
  return clockTicksPerSec;
}

/** CPU seconds (user + system) the process has used so far; undefined off Linux. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSec();
  } catch {
    return undefined;
  }
}

function peakRssBytes(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Signals the child by pid rather than with child.kill(): on Deno 2.9.6 a ChildProcess that was
 * sent a signal through kill() reports exit (null, that signal) even when the child handled it and
 * exited with its own code (a SIGTERM'd server exiting 0 reads as "killed by SIGTERM"), and a
 * second kill() (SIGKILL after SIGTERM) returns false without sending anything.
 */
function sendSignal(child: ChildProcess, name: "SIGTERM" | "SIGKILL"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone: the exit event reports how it ended
  }
}

interface Server {
  url: string;
  pid: number;
  info: HttpServerInfo;
  stop(): Promise<void>;
}

async function startServer(dataDir: string, cpuProfileDir: string | undefined): Promise<Server> {
  const isDeno = process.versions.deno !== undefined;
  const profile = cpuProfileDir === undefined
    ? []
    : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`];
  const argv = [
    "run",
    ...(isDeno ? ["-A", ...profile] : []),
    MAIN,
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data-dir",
    dataDir,
  ];
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, argv, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += new TextDecoder().decode(chunk);
    if (stderr.length > 2 * STDERR_CHARS_MAX) stderr = stderr.slice(-STDERR_CHARS_MAX);
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on("exit", (code: number | null, signal: string | null) => resolve({ code, signal }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    let pending = "";
    const timer = setTimeout(() => {
      sendSignal(child, "SIGKILL");
      reject(new Error(`server did not start in ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout?.on("data", (chunk: Uint8Array) => {
      pending += new TextDecoder().decode(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = LISTENING.exec(line.trim());
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    });
    child.on("error", (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${stderr}`),
      );
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("server has no pid");
  const info: HttpServerInfo = {
    argv: [process.execPath, ...argv],
    url,
    dataDir,
    startSeconds: (performance.now() - t0) / 1000,
    stderrTail: "",
    cpuProfileDir,
  };
  const stop = async () => {
    info.peakRssBytes = peakRssBytes(pid);
    const t1 = performance.now();
    sendSignal(child, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    let outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      info.killed = true;
      sendSignal(child, "SIGKILL");
      outcome = await exited;
    }
    info.stopSeconds = (performance.now() - t1) / 1000;
    info.exitCode = outcome.code;
    info.exitSignal = outcome.signal;
    info.stderrTail = stderr.slice(-STDERR_CHARS_MAX);
  };
  return { url, pid, info, stop };
}

// ---------------------------------------------------------------------------------------------
// Requests

/** Reads the whole body (so the connection goes back to the pool) and checks the status. */
async function expectOk(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text;
}

async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  const res = await fetch(`${url}/v1/topics`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, partitions, config: {} }),
  });
  await expectOk(res, `create topic ${name}`);
}

async function highWatermarks(url: string, topic: string): Promise<number[]> {
  const res = await fetch(`${url}/v1/topics/${topic}`);
  const body = JSON.parse(await expectOk(res, `describe ${topic}`)) as {
    partitions: { partition: number; highWatermark: number }[];
  };
  return body.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.highWatermark);
}

async function produceBatches(
  url: string,
  topic: string,
  partition: number,
  batch: Uint8Array<ArrayBuffer>,
  requests: number,
  signal: AbortSignal,
): Promise<void> {
  const target = `${url}/v1/topics/${topic}/partitions/${partition}/batches`;
  for (let i = 0; i < requests; i++) {
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": RECORD_BATCH_TYPE },
      body: batch,
      signal,
    });
    await expectOk(res, `append to ${topic}/${partition}`);
  }
}

async function produceJson(
  url: string,
  topic: string,
  body: string,
  requests: number,
  signal: AbortSignal,
  latenciesMs?: number[],
): Promise<void> {
  const target = `${url}/v1/topics/${topic}/records`;
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal,
    });
    await expectOk(res, `produce to ${topic}`);
    latenciesMs?.push(performance.now() - started);
  }
}

interface ReadTotals {
  records: number;
  bytes: number;
  requests: number;
}

/** Binary fetches from offset 0 until `endOffset`; records from Sluice-Next-Offset deltas. */
async function fetchBatches(
  url: string,
  topic: string,
  partition: number,
  endOffset: number,
  signal: AbortSignal,
): Promise<ReadTotals> {
  const base =
    `${url}/v1/topics/${topic}/partitions/${partition}/records?maxBytes=${FETCH_MAX_BYTES}`;
  const totals: ReadTotals = { records: 0, bytes: 0, requests: 0 };
  let offset = 0;
  while (offset < endOffset) {
    const res = await fetch(`${base}&offset=${offset}`, {
      headers: { accept: RECORD_BATCH_TYPE },
      signal,
    });
    const body = await res.arrayBuffer();
    if (!res.ok) throw new Error(`fetch ${topic}/${partition}@${offset}: HTTP ${res.status}`);
    const next = Number(res.headers.get("sluice-next-offset"));
    if (!(next > offset)) throw new Error(`fetch ${topic}/${partition}@${offset}: next ${next}`);
    totals.records += next - offset;
    totals.bytes += body.byteLength;
    totals.requests++;
    offset = next;
  }
  return totals;
}

/** JSON fetches from offset 0 until at least `records` records; the client parses each body. */
async function fetchJson(
  url: string,
  topic: string,
  partition: number,
  records: number,
  signal: AbortSignal,
): Promise<ReadTotals> {
  const base =
    `${url}/v1/topics/${topic}/partitions/${partition}/records?maxBytes=${FETCH_MAX_BYTES}`;
  const totals: ReadTotals = { records: 0, bytes: 0, requests: 0 };
  let offset = 0;
  while (offset < records) {
    const res = await fetch(`${base}&offset=${offset}`, { signal });
    const text = await expectOk(res, `fetch ${topic}/${partition}@${offset} as JSON`);
    const body = JSON.parse(text) as { records: unknown[]; nextOffset: number };
    if (!(body.nextOffset > offset) || body.records.length !== body.nextOffset - offset) {
      throw new Error(`fetch ${topic}/${partition}@${offset} as JSON: next ${body.nextOffset}`);
    }
    totals.records += body.records.length;
    totals.bytes += text.length;
    totals.requests++;
    offset = body.nextOffset;
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// Runs

interface RunSample {
  seconds: number;
  records: number;
  bytes: number;
  requests: number;
  serverCpuSeconds?: number;
  clientCpuSeconds: number;
}

/** Times `work` (all of whose requests share one abort timeout) and the CPU both sides used. */
async function timed(
  serverPid: number,
  work: (signal: AbortSignal) => Promise<{ records: number; bytes: number; requests: number }>,
): Promise<RunSample> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`run took over ${RUN_TIMEOUT_MS} ms`)),
    RUN_TIMEOUT_MS,
  );
  try {
    const server0 = processCpuSeconds(serverPid);
    const client0 = selfCpuSeconds();
    const t0 = performance.now();
    const totals = await work(abort.signal);
    const seconds = (performance.now() - t0) / 1000;
    const server1 = processCpuSeconds(serverPid);
    return {
      seconds,
      ...totals,
      serverCpuSeconds: server0 === undefined || server1 === undefined
        ? undefined
        : server1 - server0,
      clientCpuSeconds: selfCpuSeconds() - client0,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The warm-up runs, then the measured runs; returns the measured samples. */
async function repeat(
  plan: Plan,
  serverPid: number,
  work: (signal: AbortSignal, measured: boolean) => Promise<
    { records: number; bytes: number; requests: number }
  >,
): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  for (let run = 0; run < plan.warmupRuns + plan.measuredRuns; run++) {
    const measured = run >= plan.warmupRuns;
    const sample = await timed(serverPid, (signal) => work(signal, measured));
    if (measured) samples.push(sample);
  }
  return samples;
}

function summarize(
  samples: readonly RunSample[],
  plan: Plan,
): Pick<
  HttpBenchResult,
  | "warmupRuns"
  | "measuredRuns"
  | "seconds"
  | "recordsPerSec"
  | "mbPerSec"
  | "requestsPerSec"
  | "cpuCores"
> {
  const seconds = samples.map((s) => s.seconds);
  const serverCpu = samples.map((s) => s.serverCpuSeconds);
  return {
    warmupRuns: plan.warmupRuns,
    measuredRuns: samples.length,
    seconds: figure(seconds),
    recordsPerSec: rates(samples.map((s) => s.records), seconds),
    mbPerSec: rates(samples.map((s) => s.bytes / MB), seconds),
    requestsPerSec: rates(samples.map((s) => s.requests), seconds),
    cpuCores: serverCpu.some((c) => c === undefined) ? undefined : {
      server: figure(serverCpu.map((c, i) => c! / seconds[i])).median,
      client: figure(samples.map((s) => s.clientCpuSeconds / s.seconds)).median,
    },
  };
}

function atLeast(figureValue: number, target: number, unit: string): HttpBenchResult["target"] {
  return { text: `>= ${target.toLocaleString("en-US")} ${unit}`, met: figureValue >= target };
}

/** The record batch and JSON bodies every produce scenario sends: the same 1,000 values. */
interface Payloads {
  batch: Uint8Array<ArrayBuffer>;
  jsonBody: string;
  singleJsonBody: string;
}

function payloads(): Payloads {
  const strings = values(RECORDS_PER_REQUEST, VALUE_BYTES, 42);
  const records: RecordInput[] = strings.map((s) => ({ key: null, value: utf8(s) }));
  const batch = encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS });
  return {
    batch: new Uint8Array(batch),
    jsonBody: JSON.stringify({ records: strings.map((value) => ({ value })) }),
    singleJsonBody: JSON.stringify({ records: [{ value: strings[0] }] }),
  };
}

function batchTopic(clients: number): string {
  return `bench-batch-x${clients}`;
}

async function benchProduceBatch(
  server: Server,
  plan: Plan,
  p: Payloads,
): Promise<HttpBenchResult[]> {
  const results: HttpBenchResult[] = [];
  for (const clients of CLIENTS) {
    const topic = batchTopic(clients);
    await createTopic(server.url, topic, clients);
    const requestsPerClient = Math.max(
      1,
      Math.floor(plan.batchRecordsPerRun / RECORDS_PER_REQUEST / clients),
    );
    const recordsPerRun = requestsPerClient * clients * RECORDS_PER_REQUEST;
    const samples = await repeat(plan, server.pid, async (signal) => {
      await Promise.all(
        Array.from(
          { length: clients },
          (_, c) => produceBatches(server.url, topic, c, p.batch, requestsPerClient, signal),
        ),
      );
      return {
        records: recordsPerRun,
        bytes: requestsPerClient * clients * p.batch.length,
        requests: requestsPerClient * clients,
      };
    });
    const hw = await highWatermarks(server.url, topic);
    const written = (plan.warmupRuns + plan.measuredRuns) * requestsPerClient * RECORDS_PER_REQUEST;
    if (hw.some((h) => h !== written)) {
      throw new Error(`${topic}: high watermarks ${hw.join(",")}, want ${written} each`);
    }
    const summary = summarize(samples, plan);
    results.push({
      suite: "http",
      name: `produce-batch/x${clients}`,
      group: "produce-batch",
      description: `${clients} client(s) POSTing pre-encoded RecordBatch v2 bytes, ` +
        `${clients === 1 ? "one partition" : "one partition each"}`,
      params: {
        clients,
        partitions: clients,
        recordsPerRequest: RECORDS_PER_REQUEST,
        recordValueBytes: VALUE_BYTES,
        requestBytes: p.batch.length,
        requestsPerClient,
        recordsPerRun,
      },
      ...summary,
      target: atLeast(
        summary.recordsPerSec!.median,
        PRODUCE_BATCH_TARGET_RECORDS_PER_SEC,
        "records/s",
      ),
    });
  }
  return results;
}

async function benchProduceJson(
  server: Server,
  plan: Plan,
  p: Payloads,
): Promise<HttpBenchResult[]> {
  const results: HttpBenchResult[] = [];
  const bodyBytes = new TextEncoder().encode(p.jsonBody).length;
  for (const clients of CLIENTS) {
    const topic = `bench-json-x${clients}`;
    await createTopic(server.url, topic, clients);
    const requestsPerClient = Math.max(
      1,
      Math.floor(plan.jsonRecordsPerRun / RECORDS_PER_REQUEST / clients),
    );
    const recordsPerRun = requestsPerClient * clients * RECORDS_PER_REQUEST;
    const samples = await repeat(plan, server.pid, async (signal) => {
      await Promise.all(
        Array.from(
          { length: clients },
          () => produceJson(server.url, topic, p.jsonBody, requestsPerClient, signal),
        ),
      );
      return {
        records: recordsPerRun,
        bytes: requestsPerClient * clients * bodyBytes,
        requests: requestsPerClient * clients,
      };
    });
    const hw = await highWatermarks(server.url, topic);
    const written = (plan.warmupRuns + plan.measuredRuns) * recordsPerRun;
    if (hw.reduce((a, b) => a + b, 0) !== written) {
      throw new Error(`${topic}: high watermarks ${hw.join(",")}, want ${written} in all`);
    }
    const summary = summarize(samples, plan);
    results.push({
      suite: "http",
      name: `produce-json/x${clients}`,
      group: "produce-json",
      description: `${clients} client(s) POSTing JSON records (string values, no key)`,
      params: {
        clients,
        partitions: clients,
        recordsPerRequest: RECORDS_PER_REQUEST,
        recordValueBytes: VALUE_BYTES,
        requestBytes: bodyBytes,
        requestsPerClient,
        recordsPerRun,
      },
      ...summary,
      target: atLeast(
        summary.recordsPerSec!.median,
        PRODUCE_JSON_TARGET_RECORDS_PER_SEC,
        "records/s",
      ),
    });
  }
  return results;
}

/** The 4-partition topic produce-batch/x4 fills; filled here, untimed, when it did not run. */
async function ensureFetchData(server: Server, plan: Plan, p: Payloads): Promise<number[]> {
  const clients = CLIENTS[CLIENTS.length - 1];
  const topic = batchTopic(clients);
  const requestsPerClient = Math.max(
    1,
    Math.floor(plan.batchRecordsPerRun / RECORDS_PER_REQUEST / clients),
  );
  const want = (plan.warmupRuns + plan.measuredRuns) * requestsPerClient * RECORDS_PER_REQUEST;
  let hw: number[];
  try {
    hw = await highWatermarks(server.url, topic);
  } catch {
    await createTopic(server.url, topic, clients);
    const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
    const requests = want / RECORDS_PER_REQUEST;
    await Promise.all(
      Array.from(
        { length: clients },
        (_, c) => produceBatches(server.url, topic, c, p.batch, requests, signal),
      ),
    );
    hw = await highWatermarks(server.url, topic);
  }
  if (hw.some((h) => h !== want)) throw new Error(`${topic}: high watermarks ${hw.join(",")}`);
  return hw;
}

async function benchFetch(server: Server, plan: Plan, p: Payloads): Promise<HttpBenchResult[]> {
  const hw = await ensureFetchData(server, plan, p);
  const topic = batchTopic(CLIENTS[CLIENTS.length - 1]);
  const results: HttpBenchResult[] = [];
  const variants = [
    { name: "x1", partitions: [0], what: "1 reader on partition 0" },
    { name: "x4", partitions: [0, 1, 2, 3], what: "4 readers, one per partition" },
    { name: "x4-same", partitions: [0, 0, 0, 0], what: "4 readers, all on partition 0" },
  ];
  for (const v of variants) {
    const samples = await repeat(plan, server.pid, async (signal) => {
      const totals = await Promise.all(
        v.partitions.map((part) => fetchBatches(server.url, topic, part, hw[part], signal)),
      );
      return sumTotals(totals);
    });
    const summary = summarize(samples, plan);
    results.push({
      suite: "http",
      name: `fetch-batch/${v.name}`,
      group: "fetch",
      description: `${v.what}: binary fetch (Accept ${RECORD_BATCH_TYPE}) from 0 to the end`,
      params: {
        readers: v.partitions.length,
        partitions: new Set(v.partitions).size,
        maxBytes: FETCH_MAX_BYTES,
        recordValueBytes: VALUE_BYTES,
        recordsPerReader: hw[0],
        recordsPerRun: samples[0].records,
        requestsPerRun: samples[0].requests,
      },
      ...summary,
      target: atLeast(
        summary.recordsPerSec!.median,
        FETCH_BATCH_TARGET_RECORDS_PER_SEC,
        "records/s",
      ),
    });
  }
  for (const v of variants.slice(0, 2)) {
    const records = Math.min(plan.jsonFetchRecordsPerReader, hw[0]);
    const samples = await repeat(plan, server.pid, async (signal) => {
      const totals = await Promise.all(
        v.partitions.map((part) => fetchJson(server.url, topic, part, records, signal)),
      );
      return sumTotals(totals);
    });
    results.push({
      suite: "http",
      name: `fetch-json/${v.name}`,
      group: "fetch",
      description: `${v.what}: JSON fetch parsed by the client, the first ${records} records`,
      params: {
        readers: v.partitions.length,
        partitions: new Set(v.partitions).size,
        maxBytes: FETCH_MAX_BYTES,
        recordValueBytes: VALUE_BYTES,
        recordsPerReader: records,
        recordsPerRun: samples[0].records,
        requestsPerRun: samples[0].requests,
      },
      ...summarize(samples, plan),
    });
  }
  return results;
}

function sumTotals(totals: readonly ReadTotals[]): ReadTotals {
  return totals.reduce(
    (a, t) => ({
      records: a.records + t.records,
      bytes: a.bytes + t.bytes,
      requests: a.requests + t.requests,
    }),
    { records: 0, bytes: 0, requests: 0 },
  );
}

/** Open loop: request i is sent at t0 + i / rate whatever the earlier ones are doing. */
async function pacedProduce(
  url: string,
  topic: string,
  body: string,
  requests: number,
  signal: AbortSignal,
  latenciesMs: number[] | undefined,
): Promise<{ lateMsMax: number }> {
  const intervalMs = 1000 / PACED_REQUESTS_PER_SEC;
  const target = `${url}/v1/topics/${topic}/records`;
  const inFlight: Promise<void>[] = [];
  let lateMsMax = 0;
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const started = performance.now();
    lateMsMax = Math.max(lateMsMax, started - due);
    inFlight.push(
      fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal,
      }).then(async (res) => {
        await expectOk(res, `produce to ${topic}`);
        latenciesMs?.push(performance.now() - started);
      }),
    );
  }
  await Promise.all(inFlight);
  return { lateMsMax };
}

function latencySummary(latenciesMs: number[]): NonNullable<HttpBenchResult["latencyMs"]> {
  latenciesMs.sort((a, b) => a - b);
  return {
    p50: percentile(latenciesMs, 50),
    p99: percentile(latenciesMs, 99),
    p999: percentile(latenciesMs, 99.9),
    max: latenciesMs[latenciesMs.length - 1],
    samples: latenciesMs.length,
  };
}

async function benchLatency(server: Server, plan: Plan, p: Payloads): Promise<HttpBenchResult[]> {
  const topic = "bench-latency";
  await createTopic(server.url, topic, 1);
  const bodyBytes = new TextEncoder().encode(p.singleJsonBody).length;
  const params = { clients: 1, partitions: 1, recordsPerRequest: 1, requestBytes: bodyBytes };
  const results: HttpBenchResult[] = [];

  const sequential: number[] = [];
  const n = plan.latencyRequestsPerRun;
  const samples = await repeat(plan, server.pid, async (signal, measured) => {
    await produceJson(server.url, topic, p.singleJsonBody, n, signal, measured ? sequential : []);
    return { records: n, bytes: n * bodyBytes, requests: n };
  });
  const seq = latencySummary(sequential);
  const { recordsPerSec: _, mbPerSec: __, ...seqSummary } = summarize(samples, plan);
  results.push({
    suite: "http",
    name: "latency/sequential",
    group: "latency",
    description: "1 client, single-record JSON produce, each sent when the last answered",
    params: { ...params, requestsPerRun: n },
    ...seqSummary,
    latencyMs: seq,
    target: { text: `p99 < ${LATENCY_TARGET_P99_MS} ms`, met: seq.p99 < LATENCY_TARGET_P99_MS },
  });

  const paced: number[] = [];
  const m = plan.pacedRequestsPerRun;
  let lateMsMax = 0;
  const pacedSamples = await repeat(plan, server.pid, async (signal, measured) => {
    const r = await pacedProduce(
      server.url,
      topic,
      p.singleJsonBody,
      m,
      signal,
      measured ? paced : undefined,
    );
    if (measured) lateMsMax = Math.max(lateMsMax, r.lateMsMax);
    return { records: m, bytes: m * bodyBytes, requests: m };
  });
  const pacedLatency = latencySummary(paced);
  const { recordsPerSec: _r, mbPerSec: _m, ...pacedSummary } = summarize(pacedSamples, plan);
  results.push({
    suite: "http",
    name: `latency/${PACED_REQUESTS_PER_SEC}rps`,
    group: "latency",
    description: `single-record JSON produce, open loop at ${PACED_REQUESTS_PER_SEC} requests/s ` +
      "(latency from each send)",
    params: {
      ...params,
      requestsPerRun: m,
      requestsPerSecTarget: PACED_REQUESTS_PER_SEC,
      sendLateMsMax: Math.round(lateMsMax * 100) / 100,
    },
    ...pacedSummary,
    latencyMs: pacedLatency,
    target: {
      text: `p99 < ${LATENCY_TARGET_P99_MS} ms`,
      met: pacedLatency.p99 < LATENCY_TARGET_P99_MS,
    },
  });
  return results;
}

/**
 * Flushes every dirty page (`sync`) so the writeback of the gigabytes a produce group left in the
 * page cache does not run during the next group: it took a core and halved fetch-batch/x4
 * (3.0M against 8.4M records/s) when the fetch group followed produce-batch directly.
 */
function settle(log: (line: string) => void): void {
  const t0 = performance.now();
  try {
    execFileSync("sync", [], { stdio: "ignore", timeout: 120_000 });
  } catch {
    return; // no sync(1): measure as things are
  }
  log(`  (sync: ${((performance.now() - t0) / 1000).toFixed(1)} s, not timed)`);
}

/** Runs the HTTP suite against one server; progress goes to `opts.log` (stderr by default). */
export async function runHttpBench(opts: HttpBenchOptions): Promise<HttpBenchOutcome> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const log = opts.log ?? ((line: string) => console.error(line));
  const wanted = (group: string) =>
    opts.scenarios === undefined || opts.scenarios.length === 0 || opts.scenarios.includes(group);
  const note = `loopback: the client (fetch() in the bench's own process) and the server share ` +
    `this machine's ${cpus().length} cores`;
  const p = payloads();
  const dataDir = fs.mkdtempSync(join(tmpdir(), "sluice-http-bench-"));
  const results: HttpBenchResult[] = [];
  let server: Server | undefined;
  try {
    server = await startServer(dataDir, opts.cpuProfileDir);
    log(
      `http: server ${server.url} (pid ${server.pid}) up in ${
        server.info.startSeconds.toFixed(1)
      } s; ${note}`,
    );
    let since = performance.now();
    const done = (r: HttpBenchResult[]) => {
      for (const x of r) {
        const rate = x.recordsPerSec === undefined
          ? `${fixed(x.requestsPerSec.median, 0)} requests/s`
          : `${fixed(x.recordsPerSec.median, 0)} records/s`;
        const lat = x.latencyMs === undefined ? "" : `, p99 ${fixed(x.latencyMs.p99, 2)} ms`;
        log(`  ${x.name}: ${rate}${lat} (median)`);
      }
      log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with warm-up and set-up)`);
      since = performance.now();
      results.push(...r);
    };
    if (wanted("produce-batch")) {
      log("http: produce raw record batches");
      done(await benchProduceBatch(server, plan, p));
    }
    if (wanted("produce-json")) {
      log("http: produce JSON records");
      done(await benchProduceJson(server, plan, p));
    }
    if (wanted("fetch")) {
      log("http: fetch (binary and JSON)");
      await ensureFetchData(server, plan, p);
      settle(log);
      done(await benchFetch(server, plan, p));
    }
    if (wanted("latency")) {
      log("http: single-record produce latency");
      settle(log);
      done(await benchLatency(server, plan, p));
    }
  } finally {
    if (server !== undefined) {
      await server.stop();
      log(
        `http: server stopped by SIGTERM in ${
          server.info.stopSeconds?.toFixed(1)
        } s, exit code ${server.info.exitCode}${
          server.info.killed ? " (killed after the stop timeout)" : ""
        }`,
      );
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { results, server: server.info, note };
}

function fixed(n: number, digits: number): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A text table of HTTP results: median [min - max] per figure, then the note and the server. */
export function formatHttpTable(outcome: HttpBenchOutcome): string {
  const rows: string[][] = [[
    "scenario",
    "records/s median [min-max]",
    "MB/s median",
    "requests/s",
    "p50/p99/p99.9 ms",
    "CPU server/client",
    "target",
  ]];
  for (const r of outcome.results) {
    rows.push([
      r.name,
      r.recordsPerSec === undefined
        ? ""
        : `${fixed(r.recordsPerSec.median, 0)} [${fixed(r.recordsPerSec.min, 0)}-${
          fixed(r.recordsPerSec.max, 0)
        }]`,
      r.mbPerSec === undefined ? "" : fixed(r.mbPerSec.median, 1),
      fixed(r.requestsPerSec.median, 0),
      r.latencyMs === undefined
        ? ""
        : `${fixed(r.latencyMs.p50, 2)}/${fixed(r.latencyMs.p99, 2)}/${fixed(r.latencyMs.p999, 2)}`,
      r.cpuCores === undefined
        ? ""
        : `${fixed(r.cpuCores.server, 2)}/${fixed(r.cpuCores.client, 2)}`,
      r.target === undefined ? "" : `${r.target.met ? "MET" : "MISSED"} (${r.target.text})`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const table = rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n");
  const s = outcome.server;
  const rss = s.peakRssBytes === undefined
    ? ""
    : `, peak RSS ${fixed(s.peakRssBytes / MiB, 0)} MiB`;
  return `${table}
note: ${outcome.note}; CPU is cores busy (CPU s per wall s), client = the whole bench process
server: started in ${s.startSeconds.toFixed(1)} s, SIGTERM stop in ${
    s.stopSeconds?.toFixed(1) ?? "?"
  } s, exit code ${s.exitCode ?? `none (signal ${s.exitSignal})`}${rss}`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const scenario = valueOf("--scenario");
  const outcome = await runHttpBench({
    quick: args.includes("--quick") || process.env.SLUICE_BENCH_QUICK === "1",
    scenarios: scenario === undefined ? undefined : scenario.split(","),
    cpuProfileDir: valueOf("--cpu-prof-dir"),
  });
  console.log(formatHttpTable(outcome));
  if (outcome.server.exitCode !== 0) process.exitCode = 1;
}
