/**
 * The HTTP suite's plan (runs and records, full and --quick), its workload constants and its
 * targets.
 */
import { MiB } from "../bench_util.ts";

/** Every request of a run is aborted after this: a hung server fails the bench, never stalls it. */
export const RUN_TIMEOUT_MS = 120_000;

export const RECORDS_PER_REQUEST = 1_000;
export const VALUE_BYTES = 100;
export const FETCH_MAX_BYTES = MiB;
export const CLIENTS = [1, 4] as const;
export const PACED_REQUESTS_PER_SEC = 500;
export const TIMESTAMP_MS = 1_700_000_000_000;

export const PRODUCE_BATCH_TARGET_RECORDS_PER_SEC = 500_000;
export const PRODUCE_JSON_TARGET_RECORDS_PER_SEC = 100_000;
export const FETCH_BATCH_TARGET_RECORDS_PER_SEC = 1_000_000;
export const LATENCY_TARGET_P99_MS = 5;
export interface Plan {
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
  /** Client counts of produce-vs-sink (paired.ts). */
  pairedClients: readonly number[];
}

export const FULL_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 5,
  batchRecordsPerRun: 4_000_000,
  jsonRecordsPerRun: 1_000_000,
  jsonFetchRecordsPerReader: 1_000_000,
  latencyRequestsPerRun: 500,
  pacedRequestsPerRun: 500,
  pairedClients: CLIENTS,
};

export const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 3,
  batchRecordsPerRun: 600_000,
  jsonRecordsPerRun: 200_000,
  jsonFetchRecordsPerReader: 100_000,
  latencyRequestsPerRun: 300,
  pacedRequestsPerRun: 250,
  pairedClients: [1],
};
