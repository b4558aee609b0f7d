/**
 * The side-by-side runs as report entries: each Sluice scenario (`vs-kafka.*`) in
 * report.scenarios and Kafka's row for the same scenario in report.peers (name `kafka`), whose
 * ratioToSluice is Kafka's records/s over Sluice's (bench/runner/assemble.ts fills it in the
 * report; here too, for the suite's own table). Both rows carry the same params keys: the server's
 * CPU seconds per million records and its RSS. Also the comparison's goals, computed from those
 * rows alone, so the Markdown report and the run's summary say the same.
 */
import { median } from "../bench_util.ts";
import type { PeerResult, RunFigure, ScenarioResult } from "../types.ts";
import {
  type Client,
  JAVA_TOOL_ENV,
  KAFKA_BROKER_ENV,
  type Mode,
  SCENARIO_PREFIX,
} from "./plan.ts";
import type { SideGoal, SideRun } from "./types.ts";

/** params.suite of every row this suite makes. */
export const SUITE_PARAM = "vs-kafka";
const MiB = 1024 * 1024;

/** The goals the issue set (README's bench section). */
export const GOALS = {
  /** Sluice's records/s over Kafka's, the same client, produce and consume. */
  throughputMin: 1.0,
  /** Sluice's peak RSS over Kafka's. */
  rssMax: 0.25,
} as const;

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function describeClient(client: Client, mode: Mode, version: string): string {
  if (client === "librdkafka") {
    return `${version} (python3 bench/kafka_client.py, one process per run)`;
  }
  if (client === "node-rdkafka") {
    return `${version} (node bench/kafka_client/node_rdkafka_client.mjs, one process per run)`;
  }
  const tool = mode === "produce"
    ? "ProducerPerformance"
    : mode === "consume"
    ? "ConsumerPerformance"
    : "EndToEndLatency";
  return `Kafka ${version} ${tool} (org.apache.kafka.tools, its own JVM)`;
}

function timedOf(client: Client, mode: Mode): string {
  if (mode === "e2e-latency") {
    return "EndToEndLatency: one record at a time, send to receipt by its consumer; " +
      "records/s = 1000 / average ms; percentiles in whole ms as the tool prints them";
  }
  if (client !== "java") {
    return mode === "produce"
      ? "first produce() to the end of flush() (every record acknowledged)"
      : "partition assignment (group join) to the last record";
  }
  return mode === "produce"
    ? "ProducerPerformance's own clock: first send to the last acknowledgement"
    : "ConsumerPerformance's fetch.nMsg.sec: the fetch time, the group join left out";
}

/** The params both rows of a scenario share, from the runs of one side. */
function paramsOf(
  runs: readonly SideRun[],
  clientVersion: string,
  serverVersion: string,
): Record<string, string | number | boolean> {
  const r0 = runs[0];
  const params: Record<string, string | number | boolean> = {
    suite: SUITE_PARAM,
    server: r0.target === "sluice" ? `Sluice ${serverVersion}` : `Apache Kafka ${serverVersion}`,
    client: describeClient(r0.client, r0.mode, clientVersion),
    mode: r0.mode,
    partitions: 1,
    replicationFactor: 1,
    recordValueBytes: r0.recordSizeBytes,
    records: r0.records,
    measuredRuns: runs.length,
    mbBasis: "record values",
    timed: timedOf(r0.client, r0.mode),
    transport: "Kafka protocol over loopback; clients and server share the cores",
  };
  if (r0.acks !== undefined) params.acks = r0.acks;
  if (r0.target === "kafka") params.brokerHeap = KAFKA_BROKER_ENV.KAFKA_HEAP_OPTS;
  if (r0.client === "java") {
    params.javaToolHeap = JAVA_TOOL_ENV.KAFKA_HEAP_OPTS;
  }
  if (runs.every((r) => r.serverCpuSeconds !== undefined)) {
    params.serverCpuSecondsPerMillionRecords = round(
      median(runs.map((r) => r.serverCpuSeconds! / r.records * 1e6)),
      3,
    );
    params.serverCpuCores = round(median(runs.map((r) => r.serverCpuSeconds! / r.seconds)), 3);
  }
  if (runs.every((r) => r.serverRssBytes !== undefined)) {
    params.serverRssMiB = round(median(runs.map((r) => r.serverRssBytes! / MiB)), 1);
    params.serverPeakRssMiB = round(Math.max(...runs.map((r) => r.serverHwmBytes! / MiB)), 1);
  }
  params.clientWallSecondsMedian = round(median(runs.map((r) => r.clientWallMs / 1000)), 2);
  for (const key of Object.keys(r0.extra)) {
    const values = runs.map((r) => r.extra[key]);
    if (values.every((v) => typeof v === "number")) {
      params[key] = round(median(values as number[]), 3);
    } else params[key] = String(values[0]);
  }
  return params;
}

function runFigures(runs: readonly SideRun[]): RunFigure[] {
  return runs.map((r) => ({
    recordsPerSec: r.recordsPerSec,
    mbPerSec: r.mbPerSec,
    seconds: r.seconds,
  }));
}

function latencyOf(runs: readonly SideRun[], key: "p50Ms" | "p99Ms" | "p999Ms"): number | null {
  const v = runs.map((r) => r[key]);
  return v.every((x) => x !== undefined) ? median(v as number[]) : null;
}

export interface Versions {
  sluice: string;
  kafka: string;
  librdkafka: string;
  nodeRdkafka: string;
  java: string;
}

/** Sluice's scenarios and Kafka's peer rows, in the order the runs were made. */
export function toReportRows(
  runs: readonly SideRun[],
  versions: Versions,
): { scenarios: ScenarioResult[]; peers: PeerResult[] } {
  const names = [...new Set(runs.map((r) => r.scenario))];
  const scenarios: ScenarioResult[] = [];
  const peers: PeerResult[] = [];
  for (const name of names) {
    const sluice = runs.filter((r) => r.scenario === name && r.target === "sluice");
    const kafka = runs.filter((r) => r.scenario === name && r.target === "kafka");
    const client = (sluice[0] ?? kafka[0]).client;
    const clientVersion = client === "java"
      ? versions.java
      : client === "node-rdkafka"
      ? versions.nodeRdkafka
      : versions.librdkafka;
    let scenario: ScenarioResult | undefined;
    if (sluice.length > 0) {
      const r0 = sluice[0];
      const p999 = latencyOf(sluice, "p999Ms");
      scenario = {
        name,
        recordSizeBytes: r0.recordSizeBytes,
        records: r0.records,
        recordsPerSec: median(sluice.map((r) => r.recordsPerSec)),
        mbPerSec: median(sluice.map((r) => r.mbPerSec)),
        ratioToLimit: null,
        limit: null,
        p50Ms: latencyOf(sluice, "p50Ms"),
        p99Ms: latencyOf(sluice, "p99Ms"),
        ...(p999 === null ? {} : { p999Ms: p999 }),
        runs: runFigures(sluice),
        params: paramsOf(sluice, clientVersion, versions.sluice),
      };
      scenarios.push(scenario);
    }
    if (kafka.length > 0) {
      const recordsPerSec = median(kafka.map((r) => r.recordsPerSec));
      peers.push({
        name: "kafka",
        version: versions.kafka,
        scenario: name,
        recordsPerSec,
        mbPerSec: median(kafka.map((r) => r.mbPerSec)),
        ratioToSluice: scenario !== undefined && scenario.recordsPerSec > 0
          ? recordsPerSec / scenario.recordsPerSec
          : null,
        p50Ms: latencyOf(kafka, "p50Ms"),
        p99Ms: latencyOf(kafka, "p99Ms"),
        params: paramsOf(kafka, clientVersion, versions.kafka),
      });
    }
  }
  return { scenarios, peers };
}

/** The pairs of this suite's rows in a report: a Sluice scenario and Kafka's row beside it. */
export function sidePairs(
  scenarios: readonly ScenarioResult[],
  peers: readonly PeerResult[],
): { scenario: ScenarioResult; kafka: PeerResult | undefined }[] {
  return scenarios
    .filter((s) => s.params.suite === SUITE_PARAM && s.name.startsWith(`${SCENARIO_PREFIX}.`))
    .map((s) => ({
      scenario: s,
      kafka: peers.find((p) => p.scenario === s.name && p.params.suite === SUITE_PARAM),
    }));
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * Sluice >= 1.0x Kafka's records/s for each produce and consume pair; Sluice's end-to-end p99 <=
 * Kafka's; Sluice's peak RSS (the largest VmHWM of its rows) <= 0.25x Kafka's.
 */
export function sideGoals(
  scenarios: readonly ScenarioResult[],
  peers: readonly PeerResult[],
): SideGoal[] {
  const goals: SideGoal[] = [];
  const pairs = sidePairs(scenarios, peers);
  for (const { scenario: s, kafka: k } of pairs) {
    if (k === undefined) continue;
    if (s.params.mode === "produce" || s.params.mode === "consume") {
      const ratio = k.recordsPerSec > 0 ? s.recordsPerSec / k.recordsPerSec : Infinity;
      goals.push({
        scenario: s.name,
        text: `Sluice ${ratio.toFixed(2)}x Kafka's records/s (goal >= ${
          GOALS.throughputMin.toFixed(1)
        }x)`,
        met: ratio >= GOALS.throughputMin,
      });
    } else if (s.p99Ms !== null && num(k.p99Ms) !== undefined) {
      goals.push({
        scenario: s.name,
        text: `end-to-end p99 ${s.p99Ms} ms, Kafka ${k.p99Ms} ms (goal: <= Kafka's)`,
        met: s.p99Ms <= (k.p99Ms as number),
      });
    }
  }
  const peak = (rows: readonly { params: Record<string, unknown> }[]) => {
    const v = rows.map((r) => num(r.params.serverPeakRssMiB)).filter((x) => x !== undefined);
    return v.length === 0 ? undefined : Math.max(...(v as number[]));
  };
  const sluicePeak = peak(pairs.map((p) => p.scenario));
  const kafkaPeak = peak(pairs.flatMap((p) => p.kafka === undefined ? [] : [p.kafka]));
  if (sluicePeak !== undefined && kafkaPeak !== undefined && kafkaPeak > 0) {
    const ratio = sluicePeak / kafkaPeak;
    goals.push({
      scenario: "memory",
      text: `peak RSS: Sluice ${sluicePeak.toFixed(0)} MiB, Kafka ${kafkaPeak.toFixed(0)} MiB, ${
        ratio.toFixed(2)
      }x (goal <= ${GOALS.rssMax}x)`,
      met: ratio <= GOALS.rssMax,
    });
  }
  return goals;
}
