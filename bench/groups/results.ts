/** What the group suite reports: one result per scenario, the server's outcome, its options. */
import type { Figure } from "../bench_util.ts";
import type { ServerBenchOptions, ServerInfo } from "../bench_server.ts";

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
