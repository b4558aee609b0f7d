/**
 * Consumer group suite: the real server (`deno run -A src/main.ts serve --host 127.0.0.1 --port 0
 * --data-dir <temp>`) started once as a subprocess, driven over loopback with fetch() from this
 * process (the members are concurrent loops in it), and stopped with SIGTERM at the end (its exit
 * code is recorded). The server handling is bench_server.ts's, shared with http_bench.ts.
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
import { cpus } from "node:os";
import process from "node:process";
import { encodeRecordBatch, utf8 } from "../src/record/record_batch.ts";
import { RECORD_BATCH_TYPE } from "../src/http/routes/records.ts";
import {
  asciiStrings,
  cliOptions,
  type Figure,
  figure,
  fixed,
  latencyOf,
  MiB,
  percentile,
  progressLog,
  textTable,
  wantsGroup,
} from "./bench_util.ts";
import {
  cpuCores,
  cpuMeter,
  type CpuReading,
  formatServerLine,
  type Server,
  type ServerBenchOptions,
  type ServerInfo,
  withServer,
} from "./bench_server.ts";

export type { Figure } from "./bench_util.ts";

/** Every request of a run is aborted after this: a hung server fails the bench, never stalls it. */
const RUN_TIMEOUT_MS = 60_000;

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

/** The server subprocess: how it was started and how it stopped (bench_server.ts). */
export type GroupServerInfo = ServerInfo;

export interface GroupBenchOutcome {
  results: GroupBenchResult[];
  server: GroupServerInfo;
  /** Records written by raw batch produce before the runs (untimed). */
  recordsProduced: number;
  note: string;
}

/** quick, scenarios (groups of GROUP_GROUPS), log and cpuProfileDir. */
export type GroupBenchOptions = ServerBenchOptions;

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

function p50Max(values: readonly number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), max: sorted[sorted.length - 1] };
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
  const records = asciiStrings(RECORDS_PER_BATCH, VALUE_BYTES, 42)
    .map((s) => ({ key: null, value: utf8(s) }));
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

interface RunSample extends CpuReading {
  seconds: number;
  records: number;
  fetches: number;
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
  const cpu = cpuMeter(server.pid);
  const t0 = performance.now();
  await Promise.all(
    members.map((m) => consumeMember(server.url, group, m, hw, seen, runTotals, signal)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuUsed = cpu();

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
    ...cpuUsed,
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
      cpuCores: cpuCores(samples),
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
  const log = progressLog(opts);
  const wanted = (group: string) => wantsGroup(opts, group);
  const note = `loopback: the members (fetch() in the bench's own process) and the server share ` +
    `this machine's ${cpus().length} cores`;
  const results: GroupBenchResult[] = [];
  let recordsProduced = 0;
  let runs = 0;
  const runId = () => runs++;
  const server = await withServer({
    label: "groups",
    tempPrefix: "sluice-group-bench-",
    note,
    log,
    cpuProfileDir: opts.cpuProfileDir,
  }, async (server) => {
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
  });
  return { results, server, recordsProduced, note };
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
    parts.push(textTable(rows));
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
    parts.push(textTable(rows));
  }
  parts.push(
    `note: ${outcome.note}; ${outcome.recordsProduced} records of ${VALUE_BYTES} B in ` +
      `${PARTITIONS} partitions; times measured from sending the DELETE; CPU is cores busy\n` +
      formatServerLine(outcome.server),
  );
  return parts.join("\n\n");
}

if (import.meta.main) {
  const outcome = await runGroupBench(cliOptions(process.argv.slice(2), process.env));
  console.log(formatGroupTable(outcome));
  if (outcome.server.exitCode !== 0) process.exitCode = 1;
}
