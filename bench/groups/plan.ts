/**
 * The group suite's plan (runs and records, full and --quick) and the constants its scenarios
 * share: the topic, the members, the long-poll waits, the timeouts.
 */
import { MiB, percentile } from "../bench_util.ts";

/** Every request of a run is aborted after this: a hung server fails the bench, never stalls it. */
export const RUN_TIMEOUT_MS = 60_000;

export const TOPIC = "bench-groups";
export const PARTITIONS = 4;
export const RECORDS_PER_BATCH = 1_000;
export const VALUE_BYTES = 100;
export const TIMESTAMP_MS = 1_700_000_000_000;
export const FETCH_MAX_BYTES = MiB;
export const MEMBER_COUNTS = [1, 2, 4] as const;
/** Far above any stall of a loaded 2-core box: no member is evicted during a run. */
export const SESSION_TIMEOUT_MS = 30_000;
/** The consuming members of a leave long-poll once their partitions are drained. */
export const CONSUMING_FETCH_WAIT_MS = 100;
/** Caught-up members wait in long polls that only a rebalance ends (or the member stopping). */
export const CAUGHT_UP_FETCH_WAIT_MS = 10_000;
/** Fetches each member completes before one of them leaves. */
export const FETCHES_BEFORE_LEAVE = 2;
/** A member of a consume run whose fetches come back empty this many times in a row fails. */
export const EMPTY_FETCHES_MAX = 1_000;
/** How long a repetition waits for the others to learn of a leave before it fails. */
export const REBALANCE_TIMEOUT_MS = 10_000;
export const REBALANCE_MEMBERS = 4;
export interface Plan {
  warmupRuns: number;
  measuredRuns: number;
  /** Records in the topic, split evenly over its partitions. */
  records: number;
  rebalanceWarmupRuns: number;
  rebalanceRuns: number;
}

export const FULL_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 5,
  records: 400_000,
  rebalanceWarmupRuns: 2,
  rebalanceRuns: 20,
};

export const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 3,
  records: 200_000,
  rebalanceWarmupRuns: 1,
  rebalanceRuns: 10,
};

export function p50Max(values: readonly number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), max: sorted[sorted.length - 1] };
}
