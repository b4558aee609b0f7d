/**
 * The `produce-batch` and `produce-json` scenarios: 1 and 4 clients, each on its own partition
 * of a fresh topic (bench/http_bench.ts describes them).
 */
import type { Server } from "../bench_server.ts";
import {
  CLIENTS,
  type Plan,
  PRODUCE_BATCH_TARGET_RECORDS_PER_SEC,
  PRODUCE_JSON_TARGET_RECORDS_PER_SEC,
  RECORDS_PER_REQUEST,
  VALUE_BYTES,
} from "./plan.ts";
import type { HttpBenchResult } from "./results.ts";
import { createTopic, highWatermarks, produceBatches, produceJson } from "./requests.ts";
import {
  atLeast,
  batchTopic,
  type Payloads,
  repeat,
  requestsPerClientFor,
  summarize,
} from "./runs.ts";

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

export async function benchProduceBatch(
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

export async function benchProduceJson(
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
