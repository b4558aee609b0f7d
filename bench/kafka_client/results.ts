/**
 * The kafka-client runs as report entries: `kafka.<mode>.100B.<client>` scenarios for Sluice and
 * `kafka` peer rows beside them for a peer Kafka, with the settings and per-run medians.
 */
import process from "node:process";
import { median } from "../bench_util.ts";
import type { PeerResult, RunFigure, ScenarioResult } from "../types.ts";
import {
  type ClientName,
  type Mode,
  MODES,
  scenarioName,
  settingsOf,
  VALUE_BYTES,
} from "./settings.ts";
import type { TargetRun } from "./types.ts";

/** The median of a statistic over runs, when every run has it. */
function statMedian(runs: readonly TargetRun[], key: string): number | undefined {
  const v = runs.map((r) => r.stats[key]);
  return v.some((x) => x === undefined) ? undefined : median(v as number[]);
}

/** The params the scenario and its peer row share: client, settings, per-run medians. */
function paramsOf(
  runs: readonly TargetRun[],
  mode: Mode,
): Record<string, string | number | boolean> {
  const clientName = runs[0].clientName;
  const settings = settingsOf(clientName, mode);
  const params: Record<string, string | number | boolean> = {
    suite: "kafka-client",
    client: runs[0].client,
    clientBinding: runs[0].clientBinding,
    clientProcess: clientName === "librdkafka"
      ? "python3 bench/kafka_client.py, one process per direction and run"
      : "the bench process (kafkajs is JavaScript: its per-record cost is the client's)",
    partitions: 1,
    replicationFactor: 1,
    recordValueBytes: VALUE_BYTES,
    measuredRuns: runs.length,
    mbBasis: "record values",
    clientCpuCores: median(runs.map((r) => r.clientCpuSeconds / r.seconds)),
  };
  for (const [k, v] of Object.entries(settings)) params[k] = v;
  if (runs.every((r) => r.serverCpuSeconds !== undefined)) {
    // Over the client process's life (start-up included), per second of the timed part.
    params.serverCpuCores = median(runs.map((r) => r.serverCpuSeconds! / r.seconds));
  }
  if (mode === "produce") {
    params.timed = clientName === "librdkafka"
      ? "first produce() to the end of flush() (every record acknowledged)"
      : "first send() until every send() resolved (every record acknowledged)";
  } else {
    params.timed = "partition assignment (group join) to the last record";
    params.totalSecondsMedian = median(runs.map((r) => r.totalSeconds ?? r.seconds));
    params.joinSecondsMedian = median(runs.map((r) => r.joinSeconds ?? 0));
  }
  for (
    const key of ["rttAvgMs", "rttP99Ms", "batchBytesAvg", "batchRecordsAvg", "requestsSent"]
  ) {
    const v = statMedian(runs, key);
    if (v !== undefined) params[`librdkafka.${key}`] = v;
  }
  return params;
}

function runFigures(runs: readonly TargetRun[]): RunFigure[] {
  return runs.map((r) => ({
    recordsPerSec: r.recordsPerSec,
    mbPerSec: r.MBps,
    seconds: r.seconds,
  }));
}

export function toScenarios(
  runs: readonly TargetRun[],
  clients: readonly ClientName[],
  records: number,
): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const client of clients) {
    for (const mode of MODES) {
      const mine = runs.filter((r) =>
        r.target === "sluice" && r.clientName === client && r.mode === mode
      );
      if (mine.length === 0) continue;
      out.push({
        name: scenarioName(mode, client),
        recordSizeBytes: VALUE_BYTES,
        records,
        recordsPerSec: median(mine.map((r) => r.recordsPerSec)),
        mbPerSec: median(mine.map((r) => r.MBps)),
        ratioToLimit: null,
        limit: null,
        p50Ms: null,
        p99Ms: null,
        runs: runFigures(mine),
        params: {
          ...paramsOf(mine, mode),
          transport: "Kafka protocol over loopback; client and server on the same cores",
        },
      });
    }
  }
  return out;
}

export function toPeers(
  runs: readonly TargetRun[],
  clients: readonly ClientName[],
  brokers: string,
  records: number,
): PeerResult[] {
  const out: PeerResult[] = [];
  const version = process.env.KAFKA_VERSION ?? "unknown (set KAFKA_VERSION)";
  for (const client of clients) {
    for (const mode of MODES) {
      const theirs = runs.filter((r) =>
        r.target === "kafka" && r.clientName === client && r.mode === mode
      );
      if (theirs.length === 0) continue;
      out.push({
        name: "kafka",
        version,
        scenario: scenarioName(mode, client),
        recordsPerSec: median(theirs.map((r) => r.recordsPerSec)),
        mbPerSec: median(theirs.map((r) => r.MBps)),
        params: { ...paramsOf(theirs, mode), brokers, records },
      });
    }
  }
  return out;
}
