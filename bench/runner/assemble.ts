/**
 * The report's scenarios and baselines put together from every suite that ran: the embedded
 * suite's first, the converted figures of the others, then the ratios to limits and to Sluice.
 */
import type { EmbeddedBenchResult } from "../embedded_bench.ts";
import type { BaselineResult, PeerResult, ScenarioResult } from "../types.ts";
import {
  groupScenarios,
  httpBaselines,
  httpScenarios,
  storageBaselines,
  storageScenarios,
} from "./convert.ts";
import type { BenchResultsFile } from "./details.ts";

/**
 * Fills report.baselines and report.scenarios from `embedded` and details, the ratios, and the
 * targets the storage and http suites checked.
 */
export function assembleReport(report: BenchResultsFile, embedded: EmbeddedBenchResult): void {
  const details = report.details;
  const embeddedBaselines = embedded.baselines;
  const embeddedScenarios = embedded.scenarios;
  // Scenarios and baselines: the embedded suite's first; a storage figure only where the
  // embedded suite has no entry of that name (the two would measure the same thing twice).
  const baselineNames = new Set(embeddedBaselines.map((b) => b.name));
  report.baselines.push(...embeddedBaselines);
  for (const b of storageBaselines(details.storage)) {
    if (!baselineNames.has(b.name)) report.baselines.push(b);
  }
  report.baselines.push(...httpBaselines(details.http));
  const scenarioNames = new Set(embeddedScenarios.map((s) => s.name));
  report.scenarios.push(...embeddedScenarios);
  for (const s of storageScenarios(details.storage)) {
    if (scenarioNames.has(s.name)) details.storageDuplicates.push(s.name);
    else report.scenarios.push(s);
  }
  if (details.http !== undefined) report.scenarios.push(...httpScenarios(details.http));
  if (details.groups !== undefined) report.scenarios.push(...groupScenarios(details.groups));
  if (details.kafkaClient !== undefined) report.scenarios.push(...details.kafkaClient.scenarios);
  if (details.kafkaSide !== undefined) report.scenarios.push(...details.kafkaSide.scenarios);
  if (details.cluster !== undefined) report.scenarios.push(...details.cluster.scenarios);
  applyLimits(report.scenarios, report.baselines);
  applyPeerRatios(report.peers, report.scenarios);

  for (const r of details.storage) {
    if (r.target !== undefined) {
      details.targets.push({ scenario: r.name, text: r.target.text, met: r.target.met });
    }
  }
  for (const r of details.http?.results ?? []) {
    if (r.target !== undefined) {
      details.targets.push({ scenario: r.name, text: r.target.text, met: r.target.met });
    }
  }
  for (const g of details.kafkaSide?.goals ?? []) {
    details.targets.push({ scenario: g.scenario, text: g.text, met: g.met });
  }
  for (const g of details.cluster?.goals ?? []) {
    details.targets.push({ scenario: g.scenario, text: g.text, met: g.met });
  }
}

/** Fills ratioToLimit from `baselines`; a limit with no baseline of that name becomes null. */
function applyLimits(scenarios: ScenarioResult[], baselines: readonly BaselineResult[]): void {
  const byName = new Map(baselines.map((b) => [b.name, b]));
  for (const s of scenarios) {
    if (s.limit === null) continue;
    const base = byName.get(s.limit);
    if (base === undefined || !(base.mbPerSec > 0)) {
      if (s.ratioToLimit === null) s.limit = null;
      continue;
    }
    // The embedded suite may pair its runs itself; a ratio it computed is kept.
    if (s.ratioToLimit === null) s.ratioToLimit = s.mbPerSec / base.mbPerSec;
  }
}

/** ratioToSluice: the peer's records/s over the records/s of the scenario it is set beside. */
function applyPeerRatios(peers: PeerResult[], scenarios: readonly ScenarioResult[]): void {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  for (const p of peers) {
    const s = byName.get(p.scenario);
    p.ratioToSluice = s !== undefined && s.recordsPerSec > 0
      ? p.recordsPerSec / s.recordsPerSec
      : null;
  }
}
