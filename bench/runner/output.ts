/**
 * What the bench runner prints: its lines on stdout (stderr under --json), the live progress on
 * stderr, one-line descriptions of scenarios and peers, and the closing summary of the run.
 */
import process from "node:process";
import { formatClusterTables } from "../cluster/results.ts";
import { latencyTable } from "../kafka_latency_bench.ts";
import { formatGroupTable } from "../group_bench.ts";
import { formatHttpTable } from "../http_bench.ts";
import { formatIndexTable } from "../index_bench.ts";
import { formatKafkaClientTable } from "../kafka_client_bench.ts";
import { formatKafkaSideTable } from "../kafka_side/table.ts";
import { formatProgress, renderScenarioTable } from "../report.ts";
import { formatStorageTable } from "../storage_bench.ts";
import type { PeerResult, ProgressFn, ScenarioResult } from "../types.ts";
import type { BenchResultsFile } from "./details.ts";

/** On a terminal the progress line is redrawn at most this often. */
const PROGRESS_TTY_INTERVAL_MS = 100;
/** Without a terminal, one scenario's run repeats its progress line at most this often. */
const PROGRESS_PLAIN_INTERVAL_MS = 5_000;

/**
 * Prints the run's lines and its progress without the two garbling each other: on a terminal the
 * progress line is erased before any other line is printed and redrawn by the next update.
 */
export class Output {
  readonly #json: boolean;
  readonly #tty: boolean;
  #shown = false;
  #lastDrawMs = 0;
  #lastKey = "";

  constructor(json: boolean) {
    this.#json = json;
    this.#tty = process.stderr.isTTY === true;
  }

  /** One line of the run's log. */
  line = (text: string): void => {
    this.#erase();
    if (this.#json) console.error(text);
    else console.log(text);
  };

  /** The ProgressFn handed to the suites that take one. */
  progress: ProgressFn = (scenario, run, of, recordsPerSec) => {
    const now = performance.now();
    const key = `${scenario}\u0000${run}`;
    const fresh = key !== this.#lastKey;
    const interval = this.#tty ? PROGRESS_TTY_INTERVAL_MS : PROGRESS_PLAIN_INTERVAL_MS;
    // A new scenario or run is always shown; updates within one run are rate-limited.
    if (!fresh && now - this.#lastDrawMs < interval && run !== of) return;
    this.#lastKey = key;
    this.#lastDrawMs = now;
    const text = formatProgress(scenario, run, of, recordsPerSec);
    if (this.#tty) {
      const columns = process.stderr.columns || 100; // 0 when the terminal does not say
      process.stderr.write(`\r\x1b[2K${text.slice(0, Math.max(20, columns - 1))}`);
      this.#shown = true;
    } else {
      process.stderr.write(`  progress: ${text}\n`);
    }
  };

  /** Erases the progress line (a terminal only). */
  done(): void {
    this.#erase();
  }

  #erase(): void {
    if (!this.#shown) return;
    process.stderr.write("\r\x1b[2K");
    this.#shown = false;
  }
}

export function describeScenario(s: ScenarioResult): string {
  const ratio = s.ratioToLimit === null
    ? ""
    : `, ${(s.ratioToLimit * 100).toFixed(0)}% of ${s.limit}`;
  const p99 = s.p99Ms === null ? "" : `, p99 ${s.p99Ms.toFixed(2)} ms`;
  return `${s.name}: ${Math.round(s.recordsPerSec).toLocaleString("en-US")} records/s, ${
    s.mbPerSec.toFixed(1)
  } MB/s${ratio}${p99}`;
}

export function describePeer(p: PeerResult): string {
  const ratio = p.ratioToSluice === undefined || p.ratioToSluice === null
    ? ""
    : `, ${p.ratioToSluice.toFixed(2)}x Sluice`;
  return `${p.name} ${p.version} beside ${p.scenario}: ${
    Math.round(p.recordsPerSec).toLocaleString("en-US")
  } records/s, ${p.mbPerSec.toFixed(1)} MB/s${ratio}`;
}

/** The run's closing summary: every suite's table, the targets, the scenarios, peers, failures. */
export function printSummary(out: (line: string) => void, report: BenchResultsFile): void {
  const details = report.details;
  if (details.storage.length > 0) out(`\n${formatStorageTable(details.storage)}`);
  if (details.index.length > 0) out(`\n${formatIndexTable(details.index)}`);
  if (details.http !== undefined) out(`\n${formatHttpTable(details.http)}`);
  if (details.groups !== undefined) out(`\n${formatGroupTable(details.groups)}`);
  if (details.kafkaClient !== undefined) out(`\n${formatKafkaClientTable(details.kafkaClient)}`);
  if (details.kafkaSide !== undefined) out(`\n${formatKafkaSideTable(details.kafkaSide)}`);
  if (details.cluster !== undefined) {
    out(
      details.cluster.skipped === undefined
        ? `\n${formatClusterTables(details.cluster.scenarios)}`
        : `\ncluster: skipped: ${details.cluster.skipped}`,
    );
  }
  if (details.kafkaLatency !== undefined) out(`\n${latencyTable(details.kafkaLatency)}`);
  for (const e of details.external) {
    if (e.mode === "missing") out(`\n${e.suite}: skipped, ${e.file} not found`);
    else {
      const status = e.ok ? "ok" : `FAILED${e.error ? `: ${e.error}` : ` (exit ${e.exitCode})`}`;
      out(`\n${e.suite}: ${status} (${e.mode}, ${e.seconds.toFixed(1)} s); report above, in JSON`);
    }
  }
  if (details.targets.length > 0) {
    out("\ntargets:");
    for (const t of details.targets) {
      out(`  ${t.met ? "MET   " : "MISSED"} ${t.scenario}: ${t.text}`);
    }
  }
  if (report.scenarios.length > 0) out(`\nscenarios:\n${renderScenarioTable(report.scenarios)}`);
  if (report.peers.length > 0) {
    out("\npeers:");
    for (const p of report.peers) out(`  ${describePeer(p)}`);
  }
  for (const s of details.skipped) out(`skipped ${s.suite}: ${s.reason}`);
  for (const e of details.errors) out(`FAILED ${e.suite}: ${e.error.split("\n")[0]}`);
}
