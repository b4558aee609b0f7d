/** The kafka suite's console table (no I/O: the runner imports it without the suite). */
import { fixed, textTable } from "../bench_util.ts";
import { formatServerLine } from "../bench_server.ts";
import type { KafkaSideOutcome } from "./types.ts";

/** Sluice and Kafka side by side, a row per scenario (the goals are printed with the targets). */
export function formatKafkaSideTable(o: KafkaSideOutcome): string {
  if (o.skipped !== undefined) return `kafka: skipped: ${o.skipped}`;
  const rows: string[][] = [[
    "scenario",
    "sluice rec/s",
    "kafka rec/s",
    "kafka/sluice",
    "sluice p99 ms",
    "kafka p99 ms",
    "CPU s/M rec sluice",
    "kafka",
    "RSS MiB sluice",
    "kafka",
  ]];
  const n = (v: unknown, digits: number) => typeof v === "number" ? fixed(v, digits) : "";
  for (const s of o.scenarios) {
    const k = o.peers.find((p) => p.scenario === s.name);
    rows.push([
      s.name,
      fixed(s.recordsPerSec, 0),
      k === undefined ? "" : fixed(k.recordsPerSec, 0),
      k?.ratioToSluice === undefined || k.ratioToSluice === null ? "" : fixed(k.ratioToSluice, 2),
      n(s.p99Ms, 0),
      n(k?.p99Ms, 0),
      n(s.params.serverCpuSecondsPerMillionRecords, 2),
      n(k?.params.serverCpuSecondsPerMillionRecords, 2),
      n(s.params.serverRssMiB, 0),
      n(k?.params.serverRssMiB, 0),
    ]);
  }
  const lines = [
    `kafka: Apache Kafka ${o.kafka?.version ?? "?"} (${o.kafka?.heapOpts ?? "?"}) beside Sluice; ${
      fixed(o.plan.records, 0)
    } records a run, median of ${o.plan.rounds} round(s)`,
    textTable(rows),
  ];
  for (const s of o.clientSkipped) lines.push(`kafka: ${s.client} skipped: ${s.reason}`);
  if (o.sluice !== undefined) lines.push(formatServerLine(o.sluice));
  for (const e of o.errors) lines.push(`FAILED ${e.split("\n")[0]}`);
  return lines.join("\n");
}
