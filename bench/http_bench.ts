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
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import process from "node:process";
import { encodeRecordBatch, type RecordInput, utf8 } from "../src/record/record_batch.ts";
import { RECORD_BATCH_TYPE } from "../src/http/routes/records.ts";
import {
  asciiStrings,
  cliOptions,
  type Figure,
  figure,
  fixed,
  MB,
  MiB,
  percentile,
  progressLog,
  rates,
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
const RUN_TIMEOUT_MS = 120_000;

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

/** The server subprocess: how it was started and how it stopped (bench_server.ts). */
export type HttpServerInfo = ServerInfo;

export interface HttpBenchOutcome {
  results: HttpBenchResult[];
  server: HttpServerInfo;
  note: string;
}

/** quick, scenarios (groups of HTTP_GROUPS), log and cpuProfileDir. */
export type HttpBenchOptions = ServerBenchOptions;

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

/** What one fetch request at some offset returned. */
interface FetchStep {
  /** The offset to read next. */
  next: number;
  records: number;
  bytes: number;
}

/**
 * Reads `partition` with maxBytes=FETCH_MAX_BYTES from offset 0 until `until`: `step` sends one
 * request to `target` (the URL with that offset) and says how far it got.
 */
async function readPartition(
  url: string,
  topic: string,
  partition: number,
  until: number,
  step: (target: string, offset: number) => Promise<FetchStep>,
): Promise<ReadTotals> {
  const base =
    `${url}/v1/topics/${topic}/partitions/${partition}/records?maxBytes=${FETCH_MAX_BYTES}`;
  const totals: ReadTotals = { records: 0, bytes: 0, requests: 0 };
  let offset = 0;
  while (offset < until) {
    const r = await step(`${base}&offset=${offset}`, offset);
    totals.records += r.records;
    totals.bytes += r.bytes;
    totals.requests++;
    offset = r.next;
  }
  return totals;
}

/** Binary fetches from offset 0 until `endOffset`; records from Sluice-Next-Offset deltas. */
function fetchBatches(
  url: string,
  topic: string,
  partition: number,
  endOffset: number,
  signal: AbortSignal,
): Promise<ReadTotals> {
  return readPartition(url, topic, partition, endOffset, async (target, offset) => {
    const res = await fetch(target, { headers: { accept: RECORD_BATCH_TYPE }, signal });
    const body = await res.arrayBuffer();
    if (!res.ok) throw new Error(`fetch ${topic}/${partition}@${offset}: HTTP ${res.status}`);
    const next = Number(res.headers.get("sluice-next-offset"));
    if (!(next > offset)) throw new Error(`fetch ${topic}/${partition}@${offset}: next ${next}`);
    return { next, records: next - offset, bytes: body.byteLength };
  });
}

/** JSON fetches from offset 0 until at least `records` records; the client parses each body. */
function fetchJson(
  url: string,
  topic: string,
  partition: number,
  records: number,
  signal: AbortSignal,
): Promise<ReadTotals> {
  return readPartition(url, topic, partition, records, async (target, offset) => {
    const res = await fetch(target, { signal });
    const text = await expectOk(res, `fetch ${topic}/${partition}@${offset} as JSON`);
    const body = JSON.parse(text) as { records: unknown[]; nextOffset: number };
    if (!(body.nextOffset > offset) || body.records.length !== body.nextOffset - offset) {
      throw new Error(`fetch ${topic}/${partition}@${offset} as JSON: next ${body.nextOffset}`);
    }
    return { next: body.nextOffset, records: body.records.length, bytes: text.length };
  });
}

// ---------------------------------------------------------------------------------------------
// Runs

interface RunSample extends CpuReading {
  seconds: number;
  records: number;
  bytes: number;
  requests: number;
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
    const cpu = cpuMeter(serverPid);
    const t0 = performance.now();
    const totals = await work(abort.signal);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, ...totals, ...cpu() };
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
  return {
    warmupRuns: plan.warmupRuns,
    measuredRuns: samples.length,
    seconds: figure(seconds),
    recordsPerSec: rates(samples.map((s) => s.records), seconds),
    mbPerSec: rates(samples.map((s) => s.bytes / MB), seconds),
    requestsPerSec: rates(samples.map((s) => s.requests), seconds),
    cpuCores: cpuCores(samples),
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
  const strings = asciiStrings(RECORDS_PER_REQUEST, VALUE_BYTES, 42);
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

/** Requests each of `clients` clients sends per run for about `records` records in all. */
function requestsPerClientFor(records: number, clients: number): number {
  return Math.max(1, Math.floor(records / RECORDS_PER_REQUEST / clients));
}

/** One produce scenario: `clients` clients on a fresh `clients`-partition topic. */
interface ProduceScenario {
  group: "produce-batch" | "produce-json";
  topic: string;
  clients: number;
  /** The plan's records per run, split evenly across the clients. */
  plannedRecords: number;
  /** Bytes of each request's body. */
  requestBytes: number;
  description: string;
  targetRecordsPerSec: number;
  /**
   * True when each client writes its own partition (raw batches): every partition's high
   * watermark is checked; otherwise (JSON, sticky partitioner) only their sum.
   */
  ownPartition: boolean;
  /** Client `client`'s part of a run: `requests` requests, one after the other. */
  send: (client: number, requests: number, signal: AbortSignal) => Promise<void>;
}

async function benchProduce(
  server: Server,
  plan: Plan,
  s: ProduceScenario,
): Promise<HttpBenchResult> {
  const { topic, clients } = s;
  await createTopic(server.url, topic, clients);
  const requestsPerClient = requestsPerClientFor(s.plannedRecords, clients);
  const recordsPerRun = requestsPerClient * clients * RECORDS_PER_REQUEST;
  const samples = await repeat(plan, server.pid, async (signal) => {
    await Promise.all(
      Array.from({ length: clients }, (_, c) => s.send(c, requestsPerClient, signal)),
    );
    return {
      records: recordsPerRun,
      bytes: requestsPerClient * clients * s.requestBytes,
      requests: requestsPerClient * clients,
    };
  });
  const hw = await highWatermarks(server.url, topic);
  const written = (plan.warmupRuns + plan.measuredRuns) * recordsPerRun;
  if (s.ownPartition ? hw.some((h) => h !== written / clients) : sum(hw) !== written) {
    const want = s.ownPartition ? `${written / clients} each` : `${written} in all`;
    throw new Error(`${topic}: high watermarks ${hw.join(",")}, want ${want}`);
  }
  const summary = summarize(samples, plan);
  return {
    suite: "http",
    name: `${s.group}/x${clients}`,
    group: s.group,
    description: s.description,
    params: {
      clients,
      partitions: clients,
      recordsPerRequest: RECORDS_PER_REQUEST,
      recordValueBytes: VALUE_BYTES,
      requestBytes: s.requestBytes,
      requestsPerClient,
      recordsPerRun,
    },
    ...summary,
    target: atLeast(summary.recordsPerSec!.median, s.targetRecordsPerSec, "records/s"),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

async function benchProduceBatch(
  server: Server,
  plan: Plan,
  p: Payloads,
): Promise<HttpBenchResult[]> {
  const results: HttpBenchResult[] = [];
  for (const clients of CLIENTS) {
    const topic = batchTopic(clients);
    results.push(
      await benchProduce(server, plan, {
        group: "produce-batch",
        topic,
        clients,
        plannedRecords: plan.batchRecordsPerRun,
        requestBytes: p.batch.length,
        description: `${clients} client(s) POSTing pre-encoded RecordBatch v2 bytes, ` +
          `${clients === 1 ? "one partition" : "one partition each"}`,
        targetRecordsPerSec: PRODUCE_BATCH_TARGET_RECORDS_PER_SEC,
        ownPartition: true,
        send: (c, requests, signal) =>
          produceBatches(server.url, topic, c, p.batch, requests, signal),
      }),
    );
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
    results.push(
      await benchProduce(server, plan, {
        group: "produce-json",
        topic,
        clients,
        plannedRecords: plan.jsonRecordsPerRun,
        requestBytes: bodyBytes,
        description: `${clients} client(s) POSTing JSON records (string values, no key)`,
        targetRecordsPerSec: PRODUCE_JSON_TARGET_RECORDS_PER_SEC,
        ownPartition: false,
        send: (_, requests, signal) => produceJson(server.url, topic, p.jsonBody, requests, signal),
      }),
    );
  }
  return results;
}

/** The 4-partition topic produce-batch/x4 fills; filled here, untimed, when it did not run. */
async function ensureFetchData(server: Server, plan: Plan, p: Payloads): Promise<number[]> {
  const clients = CLIENTS[CLIENTS.length - 1];
  const topic = batchTopic(clients);
  const requestsPerClient = requestsPerClientFor(plan.batchRecordsPerRun, clients);
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

/** Readers at once, one per entry of `partitions` (on that partition); their summed totals. */
async function benchReaders(
  server: Server,
  plan: Plan,
  partitions: readonly number[],
  recordsPerReader: number,
  read: (partition: number, signal: AbortSignal) => Promise<ReadTotals>,
): Promise<{ samples: RunSample[]; params: HttpBenchResult["params"] }> {
  const samples = await repeat(plan, server.pid, async (signal) => {
    const totals = await Promise.all(partitions.map((part) => read(part, signal)));
    return sumTotals(totals);
  });
  const params = {
    readers: partitions.length,
    partitions: new Set(partitions).size,
    maxBytes: FETCH_MAX_BYTES,
    recordValueBytes: VALUE_BYTES,
    recordsPerReader,
    recordsPerRun: samples[0].records,
    requestsPerRun: samples[0].requests,
  };
  return { samples, params };
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
    const { samples, params } = await benchReaders(
      server,
      plan,
      v.partitions,
      hw[0],
      (part, signal) => fetchBatches(server.url, topic, part, hw[part], signal),
    );
    const summary = summarize(samples, plan);
    results.push({
      suite: "http",
      name: `fetch-batch/${v.name}`,
      group: "fetch",
      description: `${v.what}: binary fetch (Accept ${RECORD_BATCH_TYPE}) from 0 to the end`,
      params,
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
    const { samples, params } = await benchReaders(
      server,
      plan,
      v.partitions,
      records,
      (part, signal) => fetchJson(server.url, topic, part, records, signal),
    );
    results.push({
      suite: "http",
      name: `fetch-json/${v.name}`,
      group: "fetch",
      description: `${v.what}: JSON fetch parsed by the client, the first ${records} records`,
      params,
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
  const log = progressLog(opts);
  const wanted = (group: string) => wantsGroup(opts, group);
  const note = `loopback: the client (fetch() in the bench's own process) and the server share ` +
    `this machine's ${cpus().length} cores`;
  const p = payloads();
  const results: HttpBenchResult[] = [];
  const server = await withServer({
    label: "http",
    tempPrefix: "sluice-http-bench-",
    note,
    log,
    cpuProfileDir: opts.cpuProfileDir,
  }, async (server) => {
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
  });
  return { results, server, note };
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
  return `${textTable(rows)}
note: ${outcome.note}; CPU is cores busy (CPU s per wall s), client = the whole bench process
${formatServerLine(outcome.server)}`;
}

if (import.meta.main) {
  const outcome = await runHttpBench(cliOptions(process.argv.slice(2), process.env));
  console.log(formatHttpTable(outcome));
  if (outcome.server.exitCode !== 0) process.exitCode = 1;
}
