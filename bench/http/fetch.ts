/**
 * The `fetch` scenarios: the 4-partition topic produce-batch/x4 wrote, read from offset 0 to the
 * high watermark as RecordBatch v2 and as JSON, by 1 and 4 readers (bench/http_bench.ts).
 */
import { RECORD_BATCH_TYPE } from "../../src/http/routes/records.ts";
import type { Server } from "../bench_server.ts";
import {
  CLIENTS,
  FETCH_BATCH_TARGET_RECORDS_PER_SEC,
  FETCH_MAX_BYTES,
  type Plan,
  RECORDS_PER_REQUEST,
  RUN_TIMEOUT_MS,
  VALUE_BYTES,
} from "./plan.ts";
import type { HttpBenchResult } from "./results.ts";
import {
  createTopic,
  fetchBatches,
  fetchJson,
  highWatermarks,
  produceBatches,
  type ReadTotals,
} from "./requests.ts";
import {
  atLeast,
  batchTopic,
  type Payloads,
  repeat,
  requestsPerClientFor,
  type RunSample,
  summarize,
} from "./runs.ts";

/** The 4-partition topic produce-batch/x4 fills; filled here, untimed, when it did not run. */
export async function ensureFetchData(server: Server, plan: Plan, p: Payloads): Promise<number[]> {
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

export async function benchFetch(
  server: Server,
  plan: Plan,
  p: Payloads,
): Promise<HttpBenchResult[]> {
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
