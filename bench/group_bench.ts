/**
 * Consumer group suite: the real server (`deno run -A src/main.ts serve --host 127.0.0.1 --port 0
 * --data-dir <temp>`) started once as a subprocess, driven over loopback with fetch() from this
 * process (the members are concurrent loops in it), and stopped with SIGTERM at the end (its exit
 * code is recorded). The server handling is http_bench.ts's, copied: that file exports none of it.
 *
 * - `consume`: a 4-partition topic pre-filled with raw record batches (1,000 records of 100 B
 *   values each; 400,000 records, 200,000 under --quick), read through a fresh group per run by 1,
 *   2 and 4 members. Each member loops GET /v1/groups/{g}/members/{m}/records?maxBytes=1 MiB&
 *   maxWaitMs=0, then POST /v1/groups/{g}/offsets with the next offset of every partition the
 *   fetch returned, until its partitions are read to their high watermarks. Every member joins
 *   (and learns the final generation from a heartbeat) before the clock starts, so no rebalance
 *   happens during a run. A run fails unless the group saw every record exactly once: no
 *   (partition, offset) twice, the count equal to the records produced, and the committed offsets
 *   equal to the high watermarks. One warm-up run, then at least 3 measured; median, min, max.
 * - `rebalance`: 4 members join a fresh group; one stops its loop and DELETEs itself. Measured
 *   from sending the DELETE: until each of the 3 others, heartbeating back to back from that
 *   moment, is told the new generation (the figure), until each one's own fetch loop sees it, and
 *   the DELETE's round trip. The server-side time of the DELETE comes from /metrics (the duration
 *   histogram's sum for that route, read before and after). Two variants: `leave-consuming`, the
 *   members reading the topic from its start (the same loop, maxWaitMs=100) and each past 2
 *   fetches; `leave-caught-up`, the members at the end of the topic (autoOffsetReset latest), each
 *   in a 10 s long poll that only the rebalance ends. At least 10 repetitions after warm-up each;
 *   p50 and max.
 *
 * The client shares the machine's cores with the server (2 on the reference VM); the CPU each side
 * used is recorded next to each figure, as in http_bench.ts.
 *
 * Run: deno run -A bench/group_bench.ts [--quick] [--scenario GROUP] [--cpu-prof-dir DIR]
 * (--cpu-prof-dir runs the server under `deno run --cpu-prof` and keeps its .cpuprofile there.)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { encodeRecordBatch, utf8 } from "../src/record/record_batch.ts";
import { RECORD_BATCH_TYPE } from "../src/http/routes/records.ts";
import { xorshift32 } from "./bench_util.ts";

const MAIN = join(dirname(dirname(fileURLToPath(import.meta.url))), "src", "main.ts");
const LISTENING = /^sluice listening on (http:\/\/\S+) \(data: (.*)\)$/;
/** A cold `deno run` resolves npm packages and compiles; 30 s covers a cold cache. */
const START_TIMEOUT_MS = 30_000;
/** SIGTERM drains in-flight requests and flushes every log; the logs here hold < 100 MB. */
const STOP_TIMEOUT_MS = 30_000;
/** Every request of a run is aborted after this: a hung server fails the bench, never stalls it. */
const RUN_TIMEOUT_MS = 60_000;
/** The server's stderr kept for the report (its JSON log lines; the tail is what matters). */
const STDERR_CHARS_MAX = 16_384;

const MiB = 1024 * 1024;

const TOPIC = "bench-groups";
const PARTITIONS = 4;
const RECORDS_PER_BATCH = 1_000;
const VALUE_BYTES = 100;
const TIMESTAMP_MS = 1_700_000_000_000;
const FETCH_MAX_BYTES = MiB;
const MEMBER_COUNTS = [1, 2, 4] as const;
/** Far above any stall of a loaded 2-core box: no member is evicted during a run. */
const SESSION_TIMEOUT_MS = 30_000;
/** The consuming members of a leave long-poll once their partitions are drained. */
const CONSUMING_FETCH_WAIT_MS = 100;
/** Caught-up members wait in long polls that only a rebalance ends (or the member stopping). */
const CAUGHT_UP_FETCH_WAIT_MS = 10_000;
/** Fetches each member completes before one of them leaves. */
const FETCHES_BEFORE_LEAVE = 2;
/** A member of a consume run whose fetches come back empty this many times in a row fails. */
const EMPTY_FETCHES_MAX = 1_000;
/** How long a repetition waits for the others to learn of a leave before it fails. */
const REBALANCE_TIMEOUT_MS = 10_000;
const REBALANCE_MEMBERS = 4;

export const GROUP_GROUPS = ["consume", "rebalance"] as const;

/** median, min and max of the measured runs. */
export interface Figure {
  median: number;
  min: number;
  max: number;
}

export interface GroupConsumeResult {
  suite: "groups";
  /** `consume/x<members>`. */
  name: string;
  group: "consume";
  description: string;
  params: Record<string, string | number | boolean>;
  warmupRuns: number;
  measuredRuns: number;
  seconds: Figure;
  recordsPerSec: Figure;
  /** Member fetches (and as many commits) per second. */
  fetchesPerSec: Figure;
  /** Client-side round trips over the measured runs. */
  fetchMs: { p50: number; p99: number; max: number };
  commitMs: { p50: number; p99: number; max: number };
  /** CPU seconds per wall second during the measured runs (median): 1.0 is one core busy. */
  cpuCores?: { server: number; client: number };
}

export interface GroupRebalanceResult {
  suite: "groups";
  /** `rebalance/leave-consuming` or `rebalance/leave-caught-up`. */
  name: string;
  group: "rebalance";
  description: string;
  params: Record<string, string | number | boolean>;
  warmupRuns: number;
  measuredRuns: number;
  /** From sending the DELETE until every remaining member's heartbeat reported the new generation. */
  heartbeatMs: { p50: number; max: number };
  /** From sending the DELETE until every remaining member's own fetch loop saw the new generation. */
  fetchLoopMs: { p50: number; max: number };
  /** The DELETE's round trip, from this process. */
  deleteMs: { p50: number; max: number };
  /** The DELETE's handling in the server (/metrics duration sum, one request per reading). */
  deleteServerMs: { p50: number; max: number };
  /** Heartbeats one remaining member sent before it saw the new generation (median of maxima). */
  heartbeatPollsMedian: number;
}

export type GroupBenchResult = GroupConsumeResult | GroupRebalanceResult;

export interface GroupServerInfo {
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

export interface GroupBenchOutcome {
  results: GroupBenchResult[];
  server: GroupServerInfo;
  /** Records written by raw batch produce before the runs (untimed). */
  recordsProduced: number;
  note: string;
}

export interface GroupBenchOptions {
  quick: boolean;
  /** Runs only the groups named (GROUP_GROUPS); all when absent or empty. */
  scenarios?: readonly string[];
  /** Progress lines; default console.error. */
  log?: (line: string) => void;
  /** Runs the server under --cpu-prof, writing its profile into this directory. */
  cpuProfileDir?: string;
}

interface Plan {
  warmupRuns: number;
  measuredRuns: number;
  /** Records in the topic, split evenly over its partitions. */
  records: number;
  rebalanceWarmupRuns: number;
  rebalanceRuns: number;
}

const FULL_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 5,
  records: 400_000,
  rebalanceWarmupRuns: 2,
  rebalanceRuns: 20,
};

const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 3,
  records: 200_000,
  rebalanceWarmupRuns: 1,
  rebalanceRuns: 10,
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

function p50Max(values: readonly number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), max: sorted[sorted.length - 1] };
}

// ---------------------------------------------------------------------------------------------
// The server process (as in http_bench.ts)

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
  info: GroupServerInfo;
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
  const info: GroupServerInfo = {
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

/** An HTTP error with the API's error code (API.md `{"error":{"code","message"}}`). */
class HttpError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
  }
}

/** Sends a request and returns the parsed JSON body (undefined for an empty one) or throws. */
async function call<T>(
  method: "GET" | "POST" | "DELETE",
  url: string,
  body: unknown,
  signal: AbortSignal | undefined,
): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await res.text(); // the whole body, so the connection goes back to the pool
  if (!res.ok) {
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // not the API's error body
    }
    throw new HttpError(
      res.status,
      code,
      `${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`,
    );
  }
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  await call("POST", `${url}/v1/topics`, { name, partitions, config: {} }, undefined);
}

async function highWatermarks(url: string, topic: string): Promise<number[]> {
  const body = await call<{ partitions: { partition: number; highWatermark: number }[] }>(
    "GET",
    `${url}/v1/topics/${topic}`,
    undefined,
    undefined,
  );
  return body.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.highWatermark);
}

/** One RecordBatch of RECORDS_PER_BATCH records with VALUE_BYTES ASCII values, no keys. */
function recordBatch(): Uint8Array<ArrayBuffer> {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const next = xorshift32(42);
  const records = Array.from({ length: RECORDS_PER_BATCH }, () => {
    let s = "";
    for (let j = 0; j < VALUE_BYTES; j++) s += alphabet[next() % alphabet.length];
    return { key: null, value: utf8(s) };
  });
  return new Uint8Array(encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS }));
}

/** Fills every partition with `perPartition` records by raw batch produce (untimed set-up). */
async function fill(url: string, topic: string, perPartition: number): Promise<number[]> {
  await createTopic(url, topic, PARTITIONS);
  const batch = recordBatch();
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, p) => {
      const target = `${url}/v1/topics/${topic}/partitions/${p}/batches`;
      for (let i = 0; i < perPartition / RECORDS_PER_BATCH; i++) {
        const res = await fetch(target, {
          method: "POST",
          headers: { "content-type": RECORD_BATCH_TYPE },
          body: batch,
          signal,
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`append to ${topic}/${p}: HTTP ${res.status} ${text}`);
      }
    }),
  );
  const hw = await highWatermarks(url, topic);
  if (hw.some((h) => h !== perPartition)) {
    throw new Error(`${topic}: high watermarks ${hw.join(",")}, want ${perPartition} each`);
  }
  return hw;
}

interface TopicPartition {
  topic: string;
  partition: number;
}

interface MemberView {
  memberId: string;
  generation: number;
  assignment: TopicPartition[];
}

interface FetchBody {
  records: { topic: string; partition: number; offset: number }[];
  generation: number;
  rebalance: boolean;
}

function groupUrl(url: string, group: string): string {
  return `${url}/v1/groups/${group}`;
}

function memberUrl(url: string, group: string, member: MemberView): string {
  return `${groupUrl(url, group)}/members/${member.memberId}`;
}

async function joinMember(
  url: string,
  group: string,
  topic: string,
  autoOffsetReset: "earliest" | "latest",
): Promise<MemberView> {
  return await call<MemberView>("POST", `${groupUrl(url, group)}/members`, {
    topics: [topic],
    autoOffsetReset,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
  }, undefined);
}

async function heartbeat(
  url: string,
  group: string,
  member: MemberView,
  signal?: AbortSignal,
): Promise<{ generation: number; assignment: TopicPartition[] }> {
  return await call("POST", `${memberUrl(url, group, member)}/heartbeat`, undefined, signal);
}

async function leave(url: string, group: string, member: MemberView): Promise<void> {
  await call("DELETE", memberUrl(url, group, member), undefined, undefined);
}

/** Joins `count` members one after the other, then gives each the final generation. */
async function joinAll(
  url: string,
  group: string,
  count: number,
  autoOffsetReset: "earliest" | "latest",
): Promise<MemberView[]> {
  const members: MemberView[] = [];
  for (let i = 0; i < count; i++) {
    members.push(await joinMember(url, group, TOPIC, autoOffsetReset));
  }
  for (const m of members) {
    const hb = await heartbeat(url, group, m);
    m.generation = hb.generation;
    m.assignment = hb.assignment;
  }
  const generations = new Set(members.map((m) => m.generation));
  const owned = members.flatMap((m) => m.assignment.map((tp) => tp.partition)).sort();
  if (generations.size !== 1 || owned.join() !== [...Array(PARTITIONS).keys()].join()) {
    throw new Error(
      `${group}: after ${count} joins, generations ${[...generations]} and partitions ${owned}`,
    );
  }
  return members;
}

/** The next offset to commit per partition: one past the last record the fetch returned. */
function nextOffsets(body: FetchBody): Map<number, number> {
  const next = new Map<number, number>();
  for (const r of body.records) {
    next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
  }
  return next;
}

function commitBody(member: MemberView, next: Map<number, number>) {
  return {
    memberId: member.memberId,
    generation: member.generation,
    offsets: [...next].map(([partition, offset]) => ({ topic: TOPIC, partition, offset })),
  };
}

// ---------------------------------------------------------------------------------------------
// consume

interface ConsumeTotals {
  records: number;
  fetches: number;
  fetchMs: number[];
  commitMs: number[];
}

/**
 * One member: fetch, check each record against `seen`, commit the next offsets, until its
 * partitions are read to their high watermarks.
 */
async function consumeMember(
  url: string,
  group: string,
  member: MemberView,
  hw: readonly number[],
  seen: readonly Uint8Array[],
  totals: ConsumeTotals,
  signal: AbortSignal,
): Promise<void> {
  const position = new Map(member.assignment.map((tp) => [tp.partition, 0]));
  const records = `${
    memberUrl(url, group, member)
  }/records?maxBytes=${FETCH_MAX_BYTES}&maxWaitMs=0`;
  const offsets = `${groupUrl(url, group)}/offsets`;
  let empty = 0;
  while ([...position].some(([p, next]) => next < hw[p])) {
    let t0 = performance.now();
    const body = await call<FetchBody>("GET", records, undefined, signal);
    totals.fetchMs.push(performance.now() - t0);
    totals.fetches++;
    if (body.generation !== member.generation) {
      throw new Error(
        `${group}: generation ${body.generation} during the run (joined at ` +
          `${member.generation}): a member was evicted or joined`,
      );
    }
    if (body.records.length === 0) {
      if (++empty > EMPTY_FETCHES_MAX) {
        throw new Error(`${group}: ${EMPTY_FETCHES_MAX} empty fetches at ${[...position]}`);
      }
      continue;
    }
    empty = 0;
    for (const r of body.records) {
      const bits = seen[r.partition];
      const inRange = r.offset >= 0 && r.offset < hw[r.partition];
      if (r.topic !== TOPIC || !position.has(r.partition) || !inRange) {
        throw new Error(`${group}: record ${r.topic}/${r.partition}@${r.offset} not assigned`);
      }
      if (bits[r.offset] !== 0) throw new Error(`${group}: ${r.partition}@${r.offset} twice`);
      bits[r.offset] = 1;
    }
    totals.records += body.records.length;
    const next = nextOffsets(body);
    for (const [p, o] of next) position.set(p, o);
    t0 = performance.now();
    await call("POST", offsets, commitBody(member, next), signal);
    totals.commitMs.push(performance.now() - t0);
  }
}

interface RunSample {
  seconds: number;
  records: number;
  fetches: number;
  serverCpuSeconds?: number;
  clientCpuSeconds: number;
}

async function consumeRun(
  server: Server,
  group: string,
  memberCount: number,
  hw: readonly number[],
  totals: ConsumeTotals,
): Promise<RunSample> {
  const members = await joinAll(server.url, group, memberCount, "earliest");
  const seen = hw.map((h) => new Uint8Array(h));
  const runTotals: ConsumeTotals = { records: 0, fetches: 0, fetchMs: [], commitMs: [] };
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  const server0 = processCpuSeconds(server.pid);
  const client0 = selfCpuSeconds();
  const t0 = performance.now();
  await Promise.all(
    members.map((m) => consumeMember(server.url, group, m, hw, seen, runTotals, signal)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const server1 = processCpuSeconds(server.pid);
  const clientCpuSeconds = selfCpuSeconds() - client0;

  const produced = hw.reduce((a, b) => a + b, 0);
  if (runTotals.records !== produced) {
    throw new Error(`${group}: consumed ${runTotals.records} records, produced ${produced}`);
  }
  const committed = await call<{ offsets: { partition: number; offset: number }[] }>(
    "GET",
    `${groupUrl(server.url, group)}/offsets`,
    undefined,
    undefined,
  );
  const byPartition = committed.offsets.sort((a, b) => a.partition - b.partition)
    .map((o) => o.offset);
  if (byPartition.join() !== hw.join()) {
    throw new Error(`${group}: committed ${byPartition}, high watermarks ${hw}`);
  }
  for (const m of members) await leave(server.url, group, m);

  totals.records += runTotals.records;
  totals.fetches += runTotals.fetches;
  totals.fetchMs.push(...runTotals.fetchMs);
  totals.commitMs.push(...runTotals.commitMs);
  return {
    seconds,
    records: runTotals.records,
    fetches: runTotals.fetches,
    serverCpuSeconds: server0 === undefined || server1 === undefined
      ? undefined
      : server1 - server0,
    clientCpuSeconds,
  };
}

function latencyOf(values: number[]): { p50: number; p99: number; max: number } {
  values.sort((a, b) => a - b);
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values[values.length - 1],
  };
}

async function benchConsume(
  server: Server,
  plan: Plan,
  hw: readonly number[],
  runId: () => number,
): Promise<GroupConsumeResult[]> {
  const results: GroupConsumeResult[] = [];
  for (const memberCount of MEMBER_COUNTS) {
    const samples: RunSample[] = [];
    const totals: ConsumeTotals = { records: 0, fetches: 0, fetchMs: [], commitMs: [] };
    for (let run = 0; run < plan.warmupRuns + plan.measuredRuns; run++) {
      const measured = run >= plan.warmupRuns;
      const discard: ConsumeTotals = { records: 0, fetches: 0, fetchMs: [], commitMs: [] };
      const group = `bench-consume-x${memberCount}-${runId()}`;
      const sample = await consumeRun(server, group, memberCount, hw, measured ? totals : discard);
      if (measured) samples.push(sample);
    }
    const seconds = samples.map((s) => s.seconds);
    const serverCpu = samples.map((s) => s.serverCpuSeconds);
    results.push({
      suite: "groups",
      name: `consume/x${memberCount}`,
      group: "consume",
      description: `${memberCount} member(s) of a fresh group read the ${PARTITIONS}-partition ` +
        "topic to its end: JSON fetch, then commit, per loop",
      params: {
        members: memberCount,
        partitions: PARTITIONS,
        recordValueBytes: VALUE_BYTES,
        recordsPerRun: samples[0].records,
        fetchMaxBytes: FETCH_MAX_BYTES,
        fetchMaxWaitMs: 0,
        fetchesPerRun: Math.round(totals.fetches / samples.length),
        recordsPerFetch: Math.round(totals.records / totals.fetches),
      },
      warmupRuns: plan.warmupRuns,
      measuredRuns: samples.length,
      seconds: figure(seconds),
      recordsPerSec: figure(samples.map((s) => s.records / s.seconds)),
      fetchesPerSec: figure(samples.map((s) => s.fetches / s.seconds)),
      fetchMs: latencyOf(totals.fetchMs),
      commitMs: latencyOf(totals.commitMs),
      cpuCores: serverCpu.some((c) => c === undefined) ? undefined : {
        server: figure(serverCpu.map((c, i) => c! / seconds[i])).median,
        client: figure(samples.map((s) => s.clientCpuSeconds / s.seconds)).median,
      },
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// rebalance

/**
 * A member's fetch-commit loop that follows rebalances as a client would: it takes the generation
 * a fetch reports, and when a commit is refused (ILLEGAL_GENERATION) it heartbeats and commits
 * again what it still owns. `generationSeenAt` records when it first saw each generation.
 */
class LoopingMember {
  fetches = 0;
  /** Why the loop ended before stop(), if it did. */
  failure: unknown;
  readonly generationSeenAt = new Map<number, number>();
  readonly #stop = new AbortController();
  #done: Promise<void> | undefined;

  constructor(
    readonly url: string,
    readonly group: string,
    readonly view: MemberView,
    readonly fetchMaxWaitMs: number,
  ) {}

  start(signal: AbortSignal, onFetch: () => void): void {
    this.#done = this.#loop(AbortSignal.any([signal, this.#stop.signal]), onFetch);
  }

  /** Ends the loop: at once, aborting the request in flight (a long poll may last seconds). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
    this.throwIfFailed();
  }

  /** A loop that failed (an HTTP error, a timeout) fails the repetition. */
  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async #loop(signal: AbortSignal, onFetch: () => void): Promise<void> {
    try {
      await this.#consume(signal, onFetch);
    } catch (err) {
      if (!this.#stop.signal.aborted) this.failure = err ?? new Error("member loop failed");
    }
  }

  async #consume(signal: AbortSignal, onFetch: () => void): Promise<void> {
    const records = `${memberUrl(this.url, this.group, this.view)}/records` +
      `?maxBytes=${FETCH_MAX_BYTES}&maxWaitMs=${this.fetchMaxWaitMs}`;
    const offsets = `${groupUrl(this.url, this.group)}/offsets`;
    while (!signal.aborted) {
      const body = await call<FetchBody>("GET", records, undefined, signal);
      this.#see(body.generation);
      this.fetches++;
      onFetch();
      if (body.records.length === 0) continue;
      const next = nextOffsets(body);
      try {
        await call("POST", offsets, commitBody(this.view, next), signal);
      } catch (err) {
        if (!(err instanceof HttpError && err.code === "ILLEGAL_GENERATION")) throw err;
        const hb = await heartbeat(this.url, this.group, this.view, signal);
        this.#see(hb.generation);
        this.view.assignment = hb.assignment;
        const owned = new Set(hb.assignment.map((tp) => tp.partition));
        for (const p of [...next.keys()]) if (!owned.has(p)) next.delete(p);
        // What moved away is read again by its new owner from the last commit: at-least-once.
        if (next.size > 0) await call("POST", offsets, commitBody(this.view, next), signal);
      }
    }
  }

  #see(generation: number): void {
    if (!this.generationSeenAt.has(generation)) {
      this.generationSeenAt.set(generation, performance.now());
    }
    this.view.generation = Math.max(this.view.generation, generation);
  }
}

/** The values of the /metrics lines this suite reads. */
async function scrape(
  url: string,
): Promise<{ leaveSum: number; leaveCount: number; polls: number }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const labels = `{route="/v1/groups/:group/members/:member",method="DELETE"}`;
  return {
    leaveSum: value(`sluice_http_request_duration_seconds_sum${labels}`),
    leaveCount: value(`sluice_http_request_duration_seconds_count${labels}`),
    polls: value("sluice_open_long_polls"),
  };
}

/** Heartbeats back to back until the member is told a generation after `old`; returns when. */
async function pollHeartbeat(
  url: string,
  group: string,
  member: MemberView,
  old: number,
  signal: AbortSignal,
): Promise<{ at: number; polls: number }> {
  const deadline = performance.now() + REBALANCE_TIMEOUT_MS;
  for (let polls = 1; performance.now() < deadline; polls++) {
    const hb = await heartbeat(url, group, member, signal);
    if (hb.generation > old) return { at: performance.now(), polls };
  }
  throw new Error(
    `${group}: no heartbeat showed a generation after ${old} within ${REBALANCE_TIMEOUT_MS} ms`,
  );
}

/** Polls `ready` every millisecond until it holds; fails after REBALANCE_TIMEOUT_MS. */
async function waitUntil(what: string, ready: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + REBALANCE_TIMEOUT_MS;
  while (!(await ready())) {
    if (performance.now() > deadline) {
      throw new Error(`${what}: not within ${REBALANCE_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

interface LeaveSample {
  heartbeatMs: number;
  fetchLoopMs: number;
  deleteMs: number;
  deleteServerMs: number;
  heartbeatPolls: number;
}

/**
 * How the members are busy when one leaves: `consuming` reads the filled topic from the start
 * (each member has done FETCHES_BEFORE_LEAVE fetches and keeps going); `caught-up` joins at the
 * end of the topic and waits in long polls (every one open in the server) for records that never
 * come.
 */
type LeaveMode = "consuming" | "caught-up";

const LEAVE_MODES: Record<LeaveMode, { reset: "earliest" | "latest"; fetchMaxWaitMs: number }> = {
  consuming: { reset: "earliest", fetchMaxWaitMs: CONSUMING_FETCH_WAIT_MS },
  "caught-up": { reset: "latest", fetchMaxWaitMs: CAUGHT_UP_FETCH_WAIT_MS },
};

async function leaveOnce(server: Server, group: string, mode: LeaveMode): Promise<LeaveSample> {
  const url = server.url;
  const { reset, fetchMaxWaitMs } = LEAVE_MODES[mode];
  const views = await joinAll(url, group, REBALANCE_MEMBERS, reset);
  const old = views[0].generation;
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  const members = views.map((v) => new LoopingMember(url, group, v, fetchMaxWaitMs));
  for (const m of members) m.start(signal, () => {});
  const healthy = () => {
    for (const m of members) m.throwIfFailed();
    return true;
  };
  try {
    if (mode === "consuming") {
      await waitUntil(
        `${group}: ${FETCHES_BEFORE_LEAVE} fetches each`,
        () => healthy() && members.every((m) => m.fetches >= FETCHES_BEFORE_LEAVE),
      );
    } else {
      await waitUntil(
        `${group}: ${REBALANCE_MEMBERS} long polls open`,
        async () => healthy() && (await scrape(url)).polls >= REBALANCE_MEMBERS,
      );
    }
    const [leaver, ...rest] = members;
    await leaver.stop(); // a consumer stops polling, then leaves
    const before = await scrape(url);
    const t0 = performance.now();
    const deleted = leave(url, group, leaver.view).then(() => performance.now());
    const polled = await Promise.all(
      rest.map((m) => pollHeartbeat(url, group, m.view, old, signal)),
    );
    const deletedAt = await deleted;
    const after = await scrape(url);
    if (after.leaveCount - before.leaveCount !== 1) {
      throw new Error(`${group}: ${after.leaveCount - before.leaveCount} DELETEs counted, want 1`);
    }
    // A loop sees it in its next fetch's answer; a long poll is ended by the rebalance.
    await waitUntil(
      `${group}: fetch loops see generation ${old + 1}`,
      () => healthy() && rest.every((m) => m.generationSeenAt.has(old + 1)),
    );
    const loopAt = Math.max(...rest.map((m) => m.generationSeenAt.get(old + 1)!));
    for (const m of rest) await m.stop();
    for (const m of rest) await leave(url, group, m.view);
    return {
      heartbeatMs: Math.max(...polled.map((p) => p.at)) - t0,
      fetchLoopMs: loopAt - t0,
      deleteMs: deletedAt - t0,
      deleteServerMs: (after.leaveSum - before.leaveSum) * 1000,
      heartbeatPolls: Math.max(...polled.map((p) => p.polls)),
    };
  } finally {
    // Idempotent after a clean repetition; after a failure, no loop outlives it.
    for (const m of members) await m.stop().catch(() => {});
  }
}

async function benchRebalance(
  server: Server,
  plan: Plan,
  runId: () => number,
): Promise<GroupRebalanceResult[]> {
  const results: GroupRebalanceResult[] = [];
  for (const mode of ["consuming", "caught-up"] as const) {
    const samples: LeaveSample[] = [];
    for (let run = 0; run < plan.rebalanceWarmupRuns + plan.rebalanceRuns; run++) {
      const sample = await leaveOnce(server, `bench-rebalance-${runId()}`, mode);
      if (run >= plan.rebalanceWarmupRuns) samples.push(sample);
    }
    const { reset, fetchMaxWaitMs } = LEAVE_MODES[mode];
    results.push({
      suite: "groups",
      name: `rebalance/leave-${mode}`,
      group: "rebalance",
      description: mode === "consuming"
        ? `${REBALANCE_MEMBERS} members reading the topic from its start; one stops and DELETEs ` +
          "itself, the others heartbeat back to back until told the new generation"
        : `${REBALANCE_MEMBERS} members at the end of the topic, each in a long poll; one stops ` +
          "and DELETEs itself, the others heartbeat back to back until told the new generation",
      params: {
        members: REBALANCE_MEMBERS,
        partitions: PARTITIONS,
        autoOffsetReset: reset,
        fetchMaxBytes: FETCH_MAX_BYTES,
        fetchMaxWaitMs,
        ...(mode === "consuming" ? { fetchesBeforeLeave: FETCHES_BEFORE_LEAVE } : {}),
      },
      warmupRuns: plan.rebalanceWarmupRuns,
      measuredRuns: samples.length,
      heartbeatMs: p50Max(samples.map((s) => s.heartbeatMs)),
      fetchLoopMs: p50Max(samples.map((s) => s.fetchLoopMs)),
      deleteMs: p50Max(samples.map((s) => s.deleteMs)),
      deleteServerMs: p50Max(samples.map((s) => s.deleteServerMs)),
      heartbeatPollsMedian: figure(samples.map((s) => s.heartbeatPolls)).median,
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// The suite

/** Runs the group suite against one server; progress goes to `opts.log` (stderr by default). */
export async function runGroupBench(opts: GroupBenchOptions): Promise<GroupBenchOutcome> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const log = opts.log ?? ((line: string) => console.error(line));
  const wanted = (group: string) =>
    opts.scenarios === undefined || opts.scenarios.length === 0 || opts.scenarios.includes(group);
  const note = `loopback: the members (fetch() in the bench's own process) and the server share ` +
    `this machine's ${cpus().length} cores`;
  const dataDir = fs.mkdtempSync(join(tmpdir(), "sluice-group-bench-"));
  const results: GroupBenchResult[] = [];
  let server: Server | undefined;
  let recordsProduced = 0;
  let runs = 0;
  const runId = () => runs++;
  try {
    server = await startServer(dataDir, opts.cpuProfileDir);
    log(
      `groups: server ${server.url} (pid ${server.pid}) up in ${
        server.info.startSeconds.toFixed(1)
      } s; ${note}`,
    );
    let since = performance.now();
    const hw = await fill(server.url, TOPIC, plan.records / PARTITIONS);
    recordsProduced = hw.reduce((a, b) => a + b, 0);
    log(
      `groups: ${TOPIC} filled with ${recordsProduced} records by raw batch produce in ${
        ((performance.now() - since) / 1000).toFixed(1)
      } s (untimed)`,
    );
    since = performance.now();
    if (wanted("consume")) {
      log("groups: consume (fetch + commit until every record is read once)");
      for (const r of await benchConsume(server, plan, hw, runId)) {
        log(`  ${r.name}: ${fixed(r.recordsPerSec.median, 0)} records/s (median)`);
        results.push(r);
      }
      log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with warm-up and set-up)`);
      since = performance.now();
    }
    if (wanted("rebalance")) {
      log("groups: rebalance after a leave");
      for (const r of await benchRebalance(server, plan, runId)) {
        log(
          `  ${r.name}: heartbeats see it in ${fixed(r.heartbeatMs.p50, 2)} ms p50, ` +
            `${fixed(r.heartbeatMs.max, 2)} ms max; DELETE ${fixed(r.deleteServerMs.p50, 2)} ms ` +
            "p50 in the server",
        );
        results.push(r);
      }
      log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with set-up)`);
    }
  } finally {
    if (server !== undefined) {
      await server.stop();
      log(
        `groups: server stopped by SIGTERM in ${
          server.info.stopSeconds?.toFixed(1)
        } s, exit code ${server.info.exitCode}${
          server.info.killed ? " (killed after the stop timeout)" : ""
        }`,
      );
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { results, server: server.info, recordsProduced, note };
}

function fixed(n: number, digits: number): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n");
}

/** Text tables of the group results, then the note and the server. */
export function formatGroupTable(outcome: GroupBenchOutcome): string {
  const parts: string[] = [];
  const consume = outcome.results.filter((r): r is GroupConsumeResult => r.group === "consume");
  if (consume.length > 0) {
    const rows = [[
      "scenario",
      "records/s median [min-max]",
      "fetches/s",
      "records/fetch",
      "fetch p50/p99 ms",
      "commit p50/p99 ms",
      "CPU server/client",
    ]];
    for (const r of consume) {
      rows.push([
        r.name,
        `${fixed(r.recordsPerSec.median, 0)} [${fixed(r.recordsPerSec.min, 0)}-${
          fixed(r.recordsPerSec.max, 0)
        }]`,
        fixed(r.fetchesPerSec.median, 0),
        String(r.params.recordsPerFetch),
        `${fixed(r.fetchMs.p50, 2)}/${fixed(r.fetchMs.p99, 2)}`,
        `${fixed(r.commitMs.p50, 2)}/${fixed(r.commitMs.p99, 2)}`,
        r.cpuCores === undefined
          ? ""
          : `${fixed(r.cpuCores.server, 2)}/${fixed(r.cpuCores.client, 2)}`,
      ]);
    }
    parts.push(table(rows));
  }
  const rebalance = outcome.results.filter((r): r is GroupRebalanceResult =>
    r.group === "rebalance"
  );
  if (rebalance.length > 0) {
    const rows = [[
      "scenario",
      "runs",
      "heartbeats see it p50/max ms",
      "fetch loops see it p50/max ms",
      "DELETE round trip p50/max ms",
      "DELETE in server p50/max ms",
    ]];
    const pm = (f: { p50: number; max: number }) => `${fixed(f.p50, 2)}/${fixed(f.max, 2)}`;
    for (const r of rebalance) {
      rows.push([
        r.name,
        String(r.measuredRuns),
        pm(r.heartbeatMs),
        pm(r.fetchLoopMs),
        pm(r.deleteMs),
        pm(r.deleteServerMs),
      ]);
    }
    parts.push(table(rows));
  }
  const s = outcome.server;
  const rss = s.peakRssBytes === undefined
    ? ""
    : `, peak RSS ${fixed(s.peakRssBytes / MiB, 0)} MiB`;
  parts.push(
    `note: ${outcome.note}; ${outcome.recordsProduced} records of ${VALUE_BYTES} B in ` +
      `${PARTITIONS} partitions; times measured from sending the DELETE; CPU is cores busy\n` +
      `server: started in ${s.startSeconds.toFixed(1)} s, SIGTERM stop in ${
        s.stopSeconds?.toFixed(1) ?? "?"
      } s, exit code ${s.exitCode ?? `none (signal ${s.exitSignal})`}${rss}`,
  );
  return parts.join("\n\n");
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const scenario = valueOf("--scenario");
  const outcome = await runGroupBench({
    quick: args.includes("--quick") || process.env.SLUICE_BENCH_QUICK === "1",
    scenarios: scenario === undefined ? undefined : scenario.split(","),
    cpuProfileDir: valueOf("--cpu-prof-dir"),
  });
  console.log(formatGroupTable(outcome));
  if (outcome.server.exitCode !== 0) process.exitCode = 1;
}
