/** What the cluster suite's runs and outcome hold (bench/cluster_bench.ts explains each part). */
import type { ProgressFn, ScenarioResult } from "../types.ts";
import type { Acks, ClusterPlan, TargetName } from "./plan.ts";

/** One librdkafka client process against one target. */
export interface ThroughputRun {
  target: TargetName;
  mode: "produce" | "consume";
  acks?: Acks;
  /** 1-based run of the target. */
  run: number;
  topic: string;
  records: number;
  /** The client's own clock (bench/kafka_client.py). */
  seconds: number;
  recordsPerSec: number;
  /** Record values, 10^6 B/s. */
  mbPerSec: number;
  /** librdkafka's statistics (request round trips, batch sizes). */
  stats: Record<string, number>;
  /** CPU seconds of every server process of the target over the client's run. */
  serverCpuSeconds?: number;
}

/** Percentiles of a set of samples; undefined fields when there were none. */
export interface Spread {
  count: number;
  p50?: number;
  p99?: number;
  max?: number;
}

/** The replication-lag sampler's findings over one produce run on brokers-3. */
export interface LagRun {
  acks: Acks;
  topic: string;
  records: number;
  /** The producer's records/s with the sampler running (it adds load). */
  recordsPerSec: number;
  /** Samples taken while the leader's log end moved; one per follower each. */
  samples: number;
  /** Leader log end minus the follower's, read right after the leader's: records. */
  offsetLag: Spread;
  /** From reading the leader's log end until the follower's log end reached it: ms. */
  timeLagMs: Spread;
  /** Round trips of GET /metrics over the run (the sampler's resolution): ms. */
  scrapeMs: Spread;
  /** Samples given up: a follower that did not reach the leader's offset within the timeout. */
  timedOut: number;
}

/** One kill of the partition's leader while the producer runs. */
export interface FailoverRound {
  round: number;
  victim: number;
  /** The victim was also the cluster's controller (its election waits on the same lease). */
  victimWasController: boolean;
  newLeader: number;
  /** SIGKILL to etcd naming another leader (the bench polls etcd every 10 ms). */
  electionMs: number;
  /** SIGKILL to the first acks=all success of a record produced after it. */
  firstAckMs: number;
  /** The restarted victim's start until it is back in the ISR. */
  rejoinMs: number;
}

export interface FailoverResult {
  /** broker.session.timeout.ms the brokers ran with. */
  sessionTimeoutMs: number;
  /** True when no session flag was given (the brokers' default). */
  defaultSettings: boolean;
  brokerArgs: string[];
  rounds: FailoverRound[];
  firstAck: Spread;
  election: Spread;
  producer?: {
    rate: number;
    sent: number;
    acked: number;
    failed: number;
    errors: string[];
    client: string;
  };
  error?: string;
}

/** A goal of issue 15 and whether this run met it. */
export interface ClusterGoal {
  scenario: string;
  text: string;
  met: boolean;
}

/** One target's server processes as the report names them. */
export interface TargetInfo {
  target: TargetName;
  brokers: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  bootstrap: string;
  /** Exit codes on the final SIGTERM (0 each: a clean stop). */
  exitCodes: (number | null | undefined)[];
}

export interface ClusterBenchOutcome {
  /** Why the suite did not run (no etcd, no librdkafka client): a note, not an error. */
  skipped?: string;
  plan: ClusterPlan;
  client?: { librdkafka: string; binding: string };
  settings: Record<string, string | number | boolean>;
  targets: TargetInfo[];
  runs: ThroughputRun[];
  lag: LagRun[];
  failover: FailoverResult[];
  scenarios: ScenarioResult[];
  goals: ClusterGoal[];
  /** The machine's load average when the suite started and ended (/proc/loadavg, 1 min). */
  loadAverage: { start?: number; end?: number };
  errors: string[];
}

export interface ClusterBenchOptions {
  quick: boolean;
  /** Overrides of the plan (the smoke test's tiny one). */
  plan?: Partial<ClusterPlan>;
  log?: (line: string) => void;
  progress?: ProgressFn;
}
