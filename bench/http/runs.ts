/**
 * What the HTTP scenarios share: timed and repeated runs with the CPU each side used, their
 * summary as a result, the targets, the pre-encoded payloads and the produce topics.
 */
import { encodeRecordBatch, type RecordInput, utf8 } from "../../src/record/record_batch.ts";
import { asciiStrings, figure, MB, rates } from "../bench_util.ts";
import { cpuCores, cpuMeter, type CpuReading } from "../bench_server.ts";
import {
  type Plan,
  RECORDS_PER_REQUEST,
  RUN_TIMEOUT_MS,
  TIMESTAMP_MS,
  VALUE_BYTES,
} from "./plan.ts";
import type { HttpBenchResult } from "./results.ts";

export interface RunSample extends CpuReading {
  seconds: number;
  records: number;
  bytes: number;
  requests: number;
}

/** Times `work` (all of whose requests share one abort timeout) and the CPU both sides used. */
export async function timed(
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
export async function repeat(
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

export function summarize(
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

export function atLeast(
  figureValue: number,
  target: number,
  unit: string,
): HttpBenchResult["target"] {
  return { text: `>= ${target.toLocaleString("en-US")} ${unit}`, met: figureValue >= target };
}

/** The record batch and JSON bodies every produce scenario sends: the same 1,000 values. */
export interface Payloads {
  batch: Uint8Array<ArrayBuffer>;
  jsonBody: string;
  singleJsonBody: string;
}

export function payloads(): Payloads {
  const strings = asciiStrings(RECORDS_PER_REQUEST, VALUE_BYTES, 42);
  const records: RecordInput[] = strings.map((s) => ({ key: null, value: utf8(s) }));
  const batch = encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS });
  return {
    batch: new Uint8Array(batch),
    jsonBody: JSON.stringify({ records: strings.map((value) => ({ value })) }),
    singleJsonBody: JSON.stringify({ records: [{ value: strings[0] }] }),
  };
}

export function batchTopic(clients: number): string {
  return `bench-batch-x${clients}`;
}

/** Requests each of `clients` clients sends per run for about `records` records in all. */
export function requestsPerClientFor(records: number, clients: number): number {
  return Math.max(1, Math.floor(records / RECORDS_PER_REQUEST / clients));
}
