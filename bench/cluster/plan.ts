/**
 * The cluster suite's workload (bench/cluster_bench.ts explains it): the targets, record counts,
 * failover rounds, the client settings, the goals and the scenario names.
 */
import { PRODUCER_SETTINGS } from "../kafka_client/settings.ts";

/**
 * Where the records go: the single-node server (no etcd), a cluster of one broker (topics of
 * replication factor 1), a cluster of three (replication factor 3, min.insync.replicas 2).
 */
export type TargetName = "single-node" | "brokers-1" | "brokers-3";
export const TARGETS: readonly TargetName[] = ["single-node", "brokers-1", "brokers-3"];

export interface TargetShape {
  /** Cluster brokers; 0: the single-node server. */
  brokers: number;
  replicationFactor: number;
  minInsyncReplicas: number;
}

export const TARGET_SHAPES: Record<TargetName, TargetShape> = {
  "single-node": { brokers: 0, replicationFactor: 1, minInsyncReplicas: 1 },
  "brokers-1": { brokers: 1, replicationFactor: 1, minInsyncReplicas: 1 },
  "brokers-3": { brokers: 3, replicationFactor: 3, minInsyncReplicas: 2 },
};

export type Acks = "1" | "all";

export interface ClusterPlan {
  targets: TargetName[];
  /** Records a produce (and its consume) run moves. */
  records: number;
  /** Measured produce runs per target (then as many consume runs); the median is reported. */
  runs: number;
  /** Records each target takes, unmeasured, before the runs (the brokers' JIT warms up). */
  warmupRecords: number;
  /** Produce runs with the replication-lag sampler, on brokers-3, one per acks; [] skips them. */
  lagAcks: Acks[];
  /** Records of a lag run. */
  lagRecords: number;
  /** Kills of the partition's leader per failover cluster; 0 skips the failover part. */
  failoverRounds: number;
  /** The failover producer's rate (records/s; acks=all). */
  failoverRate: number;
  /**
   * broker.session.timeout.ms of each failover cluster; null: the brokers' default (6000 ms,
   * Kafka's), no flag given.
   */
  failoverSessionTimeouts: (number | null)[];
}

/** The full run: 1,000,000 x 100 B per run, 3 runs a target, 5 kills per session timeout. */
export const FULL_PLAN: ClusterPlan = {
  targets: [...TARGETS],
  records: 1_000_000,
  runs: 3,
  warmupRecords: 200_000,
  lagAcks: ["all", "1"],
  lagRecords: 1_000_000,
  failoverRounds: 5,
  failoverRate: 2_000,
  failoverSessionTimeouts: [null, 2_000],
};

/** --quick: 100,000 records, one run, two kills per session timeout. */
export const QUICK_PLAN: ClusterPlan = {
  targets: [...TARGETS],
  records: 100_000,
  runs: 1,
  warmupRecords: 20_000,
  lagAcks: ["all"],
  lagRecords: 100_000,
  failoverRounds: 2,
  failoverRate: 2_000,
  failoverSessionTimeouts: [null, 2_000],
};

/** The brokers' default broker.session.timeout.ms (docs/cluster.md). */
export const DEFAULT_SESSION_TIMEOUT_MS = 6_000;
export const VALUE_BYTES = 100;

/**
 * The producer: the kafka-client suite's settings (linger.ms 5, 1 MiB batches, no compression,
 * idempotence off), acks as asked; the same for every target and for the failover producer.
 */
export function producerSettings(acks: Acks): Record<string, string | number | boolean> {
  return { ...PRODUCER_SETTINGS, acks };
}

/** The goals issue 15 set. */
export const GOALS = {
  /** brokers-3 produce records/s over one broker's (the same client and settings). */
  throughputRatioMin: 0.5,
  /** Failover p50 with default settings, kill to the first acks=all success. */
  failoverP50MaxMs: 3_000,
} as const;

/** A client run: 1,000,000 records at 10,000 records/s at worst. */
export const CLIENT_TIMEOUT_MS = 150_000;
/** Topic creation and the metadata it waits for. */
export const ADMIN_TIMEOUT_MS = 30_000;
/** A new leader, the failover producer's first success, a restarted broker back in the ISR. */
export const FAILOVER_STEP_TIMEOUT_MS = 120_000;
/** The replication-lag sampler: how often a follower is read while it catches up. */
export const LAG_POLL_MS = 2;
/** A follower that does not reach the leader's sampled log end in this long ends the sample. */
export const LAG_SAMPLE_TIMEOUT_MS = 30_000;
/** Samples kept per lag run (the sampler stops adding beyond it). */
export const LAG_SAMPLES_MAX = 100_000;

/** `cluster.produce.100B.brokers-3.acks-all.librdkafka`, `cluster.consume.100B.single-node...`. */
export function scenarioName(
  mode: "produce" | "consume",
  target: TargetName,
  acks?: Acks,
): string {
  const a = acks === undefined ? "" : `.acks-${acks}`;
  return `cluster.${mode}.${VALUE_BYTES}B.${target}${a}.librdkafka`;
}
