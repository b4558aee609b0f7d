/** What the HTTP suite reports: one result per scenario, the server's outcome, its options. */
import type { Figure } from "../bench_util.ts";
import type { ServerBenchOptions, ServerInfo } from "../bench_server.ts";
import type { PairedFigures } from "./paired.ts";

export const HTTP_GROUPS = [
  "produce-batch",
  "produce-json",
  "produce-vs-sink",
  "fetch",
  "latency",
] as const;

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
  /** The server's peak RSS (VmHWM) during this scenario's group, on Linux. */
  serverPeakRssBytes?: number;
  /** Paired runs against a baseline server (paired.ts): per-round ratios and CPU per request. */
  paired?: PairedFigures;
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
