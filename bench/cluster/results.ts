/**
 * The cluster suite's runs as report entries, and the goals and tables made from those entries
 * alone (so the Markdown report, which sees only the report, and the run's summary say the same):
 *
 * - `cluster.produce.100B.<target>.acks-all.librdkafka` and `cluster.consume.100B.<target>.
 *   librdkafka`: records/s, median of the runs; brokers-3's produce row carries its ratios to the
 *   one-broker rows (ratioToSingleNode, ratioToBrokers1).
 * - `cluster.replication-lag.100B.brokers-3.acks-<acks>`: a time, not a rate (records/s 0, as the
 *   http suite's rebalance rows): p50Ms / p99Ms of the time lag; the offset lag in params.
 * - `cluster.failover.100B.session-<ms>ms[.default]`: a time: p50Ms is the p50 over the rounds of
 *   kill-to-first-acks=all-success, p99Ms the slowest round (nearest rank of a handful).
 *
 * No I/O: bench/report.ts imports this for the Markdown report.
 */
import { fixed, median, textTable } from "../bench_util.ts";
import type { ScenarioResult } from "../types.ts";
import {
  type ClusterPlan,
  GOALS,
  scenarioName,
  TARGET_SHAPES,
  type TargetName,
  VALUE_BYTES,
} from "./plan.ts";
import type { ClusterGoal, FailoverResult, LagRun, ThroughputRun } from "./types.ts";

/** params.suite of every row this suite makes. */
export const SUITE_PARAM = "cluster";

type Params = Record<string, string | number | boolean>;

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function targetParams(target: TargetName): Params {
  const shape = TARGET_SHAPES[target];
  return {
    suite: SUITE_PARAM,
    target,
    server: shape.brokers === 0
      ? "the single-node server (no etcd)"
      : `a cluster of ${shape.brokers} broker${shape.brokers > 1 ? "s" : ""} on one etcd`,
    brokers: Math.max(1, shape.brokers),
    replicationFactor: shape.replicationFactor,
    minInsyncReplicas: shape.minInsyncReplicas,
    partitions: 1,
    recordValueBytes: VALUE_BYTES,
    transport: "Kafka protocol over loopback; client, brokers and etcd share the cores",
  };
}

function statMedian(runs: readonly ThroughputRun[], key: string): number | undefined {
  const v = runs.map((r) => r.stats[key]);
  return v.some((x) => x === undefined) ? undefined : round(median(v as number[]), 3);
}

function throughputRow(
  runs: readonly ThroughputRun[],
  client: string,
  settings: Params,
): ScenarioResult {
  const r0 = runs[0];
  const params: Params = {
    ...targetParams(r0.target),
    mode: r0.mode,
    client,
    clientProcess: "python3 bench/kafka_client.py, one process per run",
    records: r0.records,
    measuredRuns: runs.length,
    mbBasis: "record values",
    timed: r0.mode === "produce"
      ? "first produce() to the end of flush() (every record acknowledged)"
      : "partition assignment (group join) to the last record, from the earliest offset " +
        "(consumers read only below the high watermark)",
  };
  if (r0.mode === "produce") {
    for (const [k, v] of Object.entries(settings)) params[k] = v;
  }
  if (runs.every((r) => r.serverCpuSeconds !== undefined)) {
    params.serverCpuSecondsPerMillionRecords = round(
      median(runs.map((r) => r.serverCpuSeconds! / r.records * 1e6)),
      3,
    );
    params.serverCpuNote = "user + system seconds of every broker of the target over the " +
      "client's run";
  }
  for (const key of ["rttAvgMs", "rttP99Ms", "batchRecordsAvg"]) {
    const v = statMedian(runs, key);
    if (v !== undefined) params[`librdkafka.${key}`] = v;
  }
  return {
    name: scenarioName(r0.mode, r0.target, r0.acks),
    recordSizeBytes: VALUE_BYTES,
    records: r0.records,
    recordsPerSec: median(runs.map((r) => r.recordsPerSec)),
    mbPerSec: median(runs.map((r) => r.mbPerSec)),
    ratioToLimit: null,
    limit: null,
    p50Ms: null,
    p99Ms: null,
    runs: runs.map((r) => ({
      recordsPerSec: r.recordsPerSec,
      mbPerSec: r.mbPerSec,
      seconds: r.seconds,
    })),
    params,
  };
}

function lagRow(l: LagRun): ScenarioResult {
  const params: Params = {
    ...targetParams("brokers-3"),
    acks: l.acks,
    mbBasis: "none: a time, not a rate",
    latency: "time lag: from reading the leader's log end offset (GET /metrics) until a " +
      "follower's log end reached it, re-read every few ms; high by up to one poll and a " +
      "scrape's round trip, never low. p99Ms is the p99 over every sample of both followers",
    records: l.records,
    producerRecordsPerSecWithSampler: round(l.recordsPerSec, 0),
    samples: l.samples,
    samplesTimedOut: l.timedOut,
  };
  const put = (key: string, v: number | undefined, digits: number) => {
    if (v !== undefined) params[key] = round(v, digits);
  };
  put("timeLagMsMax", l.timeLagMs.max, 2);
  put("offsetLagRecordsP50", l.offsetLag.p50, 0);
  put("offsetLagRecordsP99", l.offsetLag.p99, 0);
  put("offsetLagRecordsMax", l.offsetLag.max, 0);
  put("scrapeMsP50", l.scrapeMs.p50, 2);
  put("scrapeMsP99", l.scrapeMs.p99, 2);
  return {
    name: `cluster.replication-lag.${VALUE_BYTES}B.brokers-3.acks-${l.acks}`,
    recordSizeBytes: VALUE_BYTES,
    records: 0,
    recordsPerSec: 0,
    mbPerSec: 0,
    ratioToLimit: null,
    limit: null,
    p50Ms: l.timeLagMs.p50 ?? null,
    p99Ms: l.timeLagMs.p99 ?? null,
    runs: [],
    params,
  };
}

export function failoverName(f: FailoverResult): string {
  return `cluster.failover.${VALUE_BYTES}B.session-${f.sessionTimeoutMs}ms${
    f.defaultSettings ? ".default" : ""
  }`;
}

function failoverRow(f: FailoverResult, client: string): ScenarioResult {
  const params: Params = {
    ...targetParams("brokers-3"),
    mbBasis: "none: a time, not a rate",
    latency: "SIGKILL of the partition's leader to the first acks=all success of a record " +
      "produced after it; p50Ms over the rounds, p99Ms the slowest round",
    brokerSessionTimeoutMs: f.sessionTimeoutMs,
    defaultSettings: f.defaultSettings,
    brokerArgs: f.brokerArgs.join(" "),
    rounds: f.rounds.length,
    client,
    acks: "all",
  };
  if (f.election.p50 !== undefined) params.electionMsP50 = round(f.election.p50, 0);
  if (f.election.max !== undefined) params.electionMsMax = round(f.election.max, 0);
  params.roundsFirstAckMs = f.rounds.map((r) => Math.round(r.firstAckMs)).join(" ");
  params.roundsVictimWasController = f.rounds.map((r) => r.victimWasController ? "y" : "n")
    .join(" ");
  if (f.producer !== undefined) {
    params.producerRate = f.producer.rate;
    params.producerAcked = f.producer.acked;
    params.producerFailed = f.producer.failed;
  }
  if (f.error !== undefined) params.error = f.error.split("\n")[0];
  return {
    name: failoverName(f),
    recordSizeBytes: VALUE_BYTES,
    records: 0,
    recordsPerSec: 0,
    mbPerSec: 0,
    ratioToLimit: null,
    limit: null,
    p50Ms: f.firstAck.p50 ?? null,
    p99Ms: f.firstAck.max ?? null,
    runs: [],
    params,
  };
}

/** Every row of the suite, produce and consume first (in the plan's target order). */
export function toScenarios(
  plan: ClusterPlan,
  runs: readonly ThroughputRun[],
  lag: readonly LagRun[],
  failover: readonly FailoverResult[],
  client: string,
  settings: Params,
): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const mode of ["produce", "consume"] as const) {
    for (const target of plan.targets) {
      const mine = runs.filter((r) => r.target === target && r.mode === mode);
      if (mine.length > 0) out.push(throughputRow(mine, client, settings));
    }
  }
  const produce = (t: TargetName) =>
    out.find((s) => s.name === scenarioName("produce", t, "all"))?.recordsPerSec;
  const three = out.find((s) => s.name === scenarioName("produce", "brokers-3", "all"));
  if (three !== undefined) {
    const single = produce("single-node");
    const one = produce("brokers-1");
    if (single) three.params.ratioToSingleNode = round(three.recordsPerSec / single, 3);
    if (one) three.params.ratioToBrokers1 = round(three.recordsPerSec / one, 3);
  }
  for (const l of lag) out.push(lagRow(l));
  for (const f of failover) out.push(failoverRow(f, client));
  return out;
}

function ours(scenarios: readonly ScenarioResult[]): ScenarioResult[] {
  return scenarios.filter((s) => s.params.suite === SUITE_PARAM);
}

/** Issue 15's goals, from the rows alone. */
export function clusterGoals(scenarios: readonly ScenarioResult[]): ClusterGoal[] {
  const rows = ours(scenarios);
  const goals: ClusterGoal[] = [];
  const three = rows.find((s) => s.name === scenarioName("produce", "brokers-3", "all"));
  for (
    const [key, what] of [["ratioToBrokers1", "brokers-1"], ["ratioToSingleNode", "single-node"]]
  ) {
    const ratio = three?.params[key];
    if (typeof ratio !== "number") continue;
    goals.push({
      scenario: three!.name,
      text: `3 brokers (RF 3, min.insync.replicas 2, acks=all) produce ${fixed(ratio, 2)}x ` +
        `${what}'s records/s (goal >= ${GOALS.throughputRatioMin})`,
      met: ratio >= GOALS.throughputRatioMin,
    });
  }
  for (const s of rows) {
    if (!s.name.startsWith("cluster.failover.") || s.params.defaultSettings !== true) continue;
    if (s.p50Ms === null) continue;
    goals.push({
      scenario: s.name,
      text:
        `failover with default settings (broker.session.timeout.ms ${s.params.brokerSessionTimeoutMs}): p50 ${
          fixed(s.p50Ms, 0)
        } ms from the leader's SIGKILL to the first acks=all success ` +
        `(goal <= ${GOALS.failoverP50MaxMs} ms)`,
      met: s.p50Ms <= GOALS.failoverP50MaxMs,
    });
  }
  return goals;
}

const num = (v: unknown, digits: number) => typeof v === "number" ? fixed(v, digits) : "";
const ms = (v: number | null | undefined) => v === null || v === undefined ? "" : fixed(v, 0);

/** The suite's three tables as rows (header first): throughput, replication lag, failover. */
export function clusterTables(
  scenarios: readonly ScenarioResult[],
): { throughput: string[][]; lag: string[][]; failover: string[][] } {
  const rows = ours(scenarios);
  const throughput = [[
    "target",
    "brokers",
    "RF",
    "min ISR",
    "produce rec/s",
    "consume rec/s",
    "vs single-node",
    "vs brokers-1",
    "server CPU s/M rec",
  ]];
  const targets = [...new Set(rows.filter((s) => s.recordsPerSec > 0).map((s) => s.params.target))];
  for (const t of targets as TargetName[]) {
    const p = rows.find((s) => s.name === scenarioName("produce", t, "all"));
    const c = rows.find((s) => s.name === scenarioName("consume", t));
    const base = p ?? c!;
    throughput.push([
      t,
      String(base.params.brokers),
      String(base.params.replicationFactor),
      String(base.params.minInsyncReplicas),
      p === undefined ? "" : fixed(p.recordsPerSec, 0),
      c === undefined ? "" : fixed(c.recordsPerSec, 0),
      num(p?.params.ratioToSingleNode, 2),
      num(p?.params.ratioToBrokers1, 2),
      num(p?.params.serverCpuSecondsPerMillionRecords, 2),
    ]);
  }
  const lag = [[
    "acks",
    "producer rec/s (sampler on)",
    "samples",
    "time lag p50 / p99 / max ms",
    "offset lag p50 / p99 / max records",
    "scrape p50 ms",
  ]];
  for (const s of rows.filter((s) => s.name.startsWith("cluster.replication-lag."))) {
    lag.push([
      String(s.params.acks),
      num(s.params.producerRecordsPerSecWithSampler, 0),
      num(s.params.samples, 0),
      `${num(s.p50Ms, 1)} / ${num(s.p99Ms, 1)} / ${num(s.params.timeLagMsMax, 1)}`,
      `${num(s.params.offsetLagRecordsP50, 0)} / ${num(s.params.offsetLagRecordsP99, 0)} / ${
        num(s.params.offsetLagRecordsMax, 0)
      }`,
      num(s.params.scrapeMsP50, 2),
    ]);
  }
  const failover = [[
    "session timeout",
    "rounds",
    "first ack p50 / max ms",
    "election p50 / max ms",
    "each round, ms",
    "victim was controller",
  ]];
  for (const s of rows.filter((s) => s.name.startsWith("cluster.failover."))) {
    failover.push([
      `${s.params.brokerSessionTimeoutMs} ms${s.params.defaultSettings ? " (default)" : ""}`,
      String(s.params.rounds),
      `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`,
      `${num(s.params.electionMsP50, 0)} / ${num(s.params.electionMsMax, 0)}`,
      String(s.params.roundsFirstAckMs ?? ""),
      String(s.params.roundsVictimWasController ?? ""),
    ]);
  }
  return { throughput, lag, failover };
}

/** What each table measures, one paragraph each (the console and the Markdown report). */
export const CLUSTER_NOTES = {
  throughput: "librdkafka (python3 bench/kafka_client.py) produces 100 B records with acks=all, " +
    "idempotence off, linger.ms 5, batch.size 1 MiB, to a fresh 1-partition topic of each " +
    "target; then consumes it from the earliest offset (consumers read below the high " +
    "watermark). Median of the runs; the targets take turns.",
  lag: "Replication lag under a librdkafka produce load on brokers-3: each broker's log end " +
    "offset of the partition read from its GET /metrics. Time lag: from the leader's read until " +
    "the follower's log end reached that offset (high by up to one poll and a scrape's round " +
    "trip, never low). Offset lag: leader's log end minus the follower's, read just after it " +
    "(leans low). The sampler adds load: its producer records/s is not a throughput figure.",
  failover: "A 3-broker cluster per session timeout, 1 partition, RF 3, min.insync.replicas 2, " +
    "librdkafka producing acks=all at a steady rate (bench/cluster/failover_client.py). Each " +
    "round SIGKILLs the partition's leader; first ack: the kill to the first successful " +
    "delivery of a record produced after it; election: the kill to etcd naming the new leader; " +
    "the victim then restarts and rejoins the ISR before the next round.",
};

/** "1-minute load average 2.1 at the suite's start, 3.4 at its end", when the rows carry it. */
export function loadLine(scenarios: readonly ScenarioResult[]): string | undefined {
  const p = ours(scenarios)[0]?.params;
  if (p === undefined || p.loadAverage1mAtStart === undefined) return undefined;
  return `Machine load: 1-minute load average ${p.loadAverage1mAtStart} at the suite's start, ${
    p.loadAverage1mAtEnd ?? "?"
  } at its end.`;
}

/** The console table of the suite (no I/O). */
export function formatClusterTables(scenarios: readonly ScenarioResult[]): string {
  const t = clusterTables(scenarios);
  const lines: string[] = [];
  const load = loadLine(scenarios);
  if (load !== undefined) lines.push(load);
  if (t.throughput.length > 1) lines.push(textTable(t.throughput), CLUSTER_NOTES.throughput);
  if (t.lag.length > 1) lines.push("", textTable(t.lag), CLUSTER_NOTES.lag);
  if (t.failover.length > 1) lines.push("", textTable(t.failover), CLUSTER_NOTES.failover);
  return lines.join("\n");
}
