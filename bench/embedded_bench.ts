/**
 * Embedded-library suite: Sluice used in-process (PartitionLog, Broker), no network, each figure
 * set beside plain file I/O measured by the same process in the same run. Throughput scenarios
 * have warm-up runs and then at least 3 measured runs (median, min and max in `runs`); every run
 * writes into a fresh directory under the system temp dir, deleted afterwards.
 *
 * This module selects and runs the scenario families, each in its own module under
 * bench/embedded/, whose doc says what it measures and how:
 * - produce (bench/embedded/produce.ts): PartitionLog.append of pre-encoded RecordBatch v2
 *   batches, a subset of 3 sizes x {1, 4} producers x {none, lz4} x flush {none, interval,
 *   always}, plus the max single-record append rate (`embedded.produce.*`).
 * - consume (bench/embedded/consume.ts): the produce logs read back from the page cache, whole
 *   batches and decoded (`embedded.consume.*`).
 * - e2e (bench/embedded/e2e_latency.ts): append -> Broker.fetch long poll -> decode latency at
 *   fixed fractions of the single-record rate (`embedded.e2e-latency.*`).
 * - growth (bench/embedded/growth.ts, opts.growth only; long): one log grown to 10 GB in steps,
 *   append rate and random-read latency after each (`embedded.growth.*`).
 * The limits (`file.write.*`, `file.write-fsync*.*`, `file.read-cached.*`) are gathered by
 * bench/embedded/baselines.ts; the plan (runs and bytes, full and --quick) and the workload are
 * bench/embedded/plan.ts's.
 *
 * Run: deno run -A bench/embedded_bench.ts [--quick] [--growth] [--scenario GROUP|NAME-PREFIX]
 */
import { join } from "node:path";
import process from "node:process";
import { fixed, sizeLabel, textTable } from "./bench_util.ts";
import { Baselines } from "./embedded/baselines.ts";
import { benchConsume } from "./embedded/consume.ts";
import { benchE2e } from "./embedded/e2e_latency.ts";
import { benchGrowth } from "./embedded/growth.ts";
import { FULL_PLAN, QUICK_PLAN } from "./embedded/plan.ts";
import {
  APPEND_TARGET_RATIO,
  benchProduce,
  benchSingleRecord,
  produceSpecs,
} from "./embedded/produce.ts";
import { removeDir } from "./storage_bench.ts";
import type { BaselineResult, ScenarioResult, SuiteOptions } from "./types.ts";

export { sizeLabel };
export { seededText } from "./embedded/plan.ts";

export interface EmbeddedBenchResult {
  scenarios: ScenarioResult[];
  baselines: BaselineResult[];
}

export const EMBEDDED_GROUPS = ["produce", "consume", "e2e", "growth"] as const;
export type EmbeddedGroup = typeof EMBEDDED_GROUPS[number];

/** Runs the embedded suite; see the module doc for the scenarios. Growth only with opts.growth. */
export async function runEmbeddedBench(
  opts: SuiteOptions & { growth?: boolean },
): Promise<{ scenarios: ScenarioResult[]; baselines: BaselineResult[] }> {
  return await runEmbeddedSelected(opts, () => true);
}

/**
 * As runEmbeddedBench, limited to the scenarios `wanted` accepts (by group and name). The consume
 * group needs the logs of embedded.produce.<size>.none, so it runs those; e2e runs the
 * 1-record-batches scenario that sets its rates.
 */
export async function runEmbeddedSelected(
  opts: SuiteOptions & { growth?: boolean },
  wanted: (group: EmbeddedGroup, name: string) => boolean,
): Promise<EmbeddedBenchResult> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const baselines = new Baselines();
  const scenarios: ScenarioResult[] = [];
  const kept = new Map<number, string>();
  try {
    for (const spec of produceSpecs(plan)) {
      const needed = wanted("produce", spec.name) ||
        (spec.keepLog === true &&
          wanted("consume", `embedded.consume.${sizeLabel(spec.valueBytes)}`));
      if (!needed) continue;
      const outcome = await benchProduce(spec, plan, baselines, opts);
      scenarios.push(outcome.scenario);
      if (outcome.keptDir !== undefined) kept.set(spec.valueBytes, outcome.keptDir);
      if (spec.name === "embedded.produce.1KiB.none") {
        outcome.scenario.params.target = `ratioToLimit >= ${APPEND_TARGET_RATIO}`;
        outcome.scenario.params.targetMet =
          (outcome.scenario.ratioToLimit ?? 0) >= APPEND_TARGET_RATIO;
      }
    }
    for (const [valueBytes, dir] of kept) {
      if (!wanted("consume", `embedded.consume.${sizeLabel(valueBytes)}`)) continue;
      scenarios.push(...await benchConsume(dir, valueBytes, plan, baselines, opts));
    }
  } finally {
    for (const dir of kept.values()) removeDir(join(dir, ".."));
  }
  if (wanted("e2e", "embedded.e2e-latency")) {
    const single = await benchSingleRecord(plan, baselines, opts);
    scenarios.push(single);
    scenarios.push(...await benchE2e(single.recordsPerSec, plan, opts));
  }
  if (opts.growth && wanted("growth", "embedded.growth")) {
    scenarios.push(...await benchGrowth(plan, opts));
  }
  return { scenarios, baselines: baselines.results() };
}

/** `n` with `digits` decimals, or blank when there is no figure. */
function cell(n: number | null | undefined, digits: number): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "";
  return fixed(n, digits);
}

/** Text tables: scenarios (median [min-max] MB/s, records/s, ratio, latency) and baselines. */
export function formatEmbeddedTable(result: EmbeddedBenchResult): string {
  const rows: string[][] = [[
    "scenario",
    "records/s",
    "MB/s median [min-max]",
    "vs limit",
    "p50/p99/p999 ms",
  ]];
  for (const s of result.scenarios) {
    const mb = s.runs.map((r) => r.mbPerSec);
    rows.push([
      s.name,
      cell(s.recordsPerSec, 0),
      `${cell(s.mbPerSec, 0)} [${cell(Math.min(...mb), 0)}-${cell(Math.max(...mb), 0)}]`,
      s.ratioToLimit === null ? "" : `${cell(s.ratioToLimit, 2)} of ${s.limit}`,
      s.p50Ms === null
        ? ""
        : [s.p50Ms, s.p99Ms, s.p999Ms].filter((v) => v !== undefined).map((v) => cell(v, 3)).join(
          "/",
        ),
    ]);
  }
  const baseRows: string[][] = [["baseline", "MB/s median [min-max]", "runs"]];
  for (const b of result.baselines) {
    baseRows.push([
      b.name,
      `${cell(b.mbPerSec, 0)} [${cell(Math.min(...b.runs), 0)}-${cell(Math.max(...b.runs), 0)}]`,
      String(b.runs.length),
    ]);
  }
  return `${textTable(rows)}\n\n${textTable(baseRows)}`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  // --scenario GROUP (produce, consume, e2e, growth) or a scenario-name prefix; repeatable.
  const selectors = args.flatMap((a, i) => args[i - 1] === "--scenario" ? a.split(",") : []);
  const wanted = (group: EmbeddedGroup, name: string) =>
    selectors.length === 0 ||
    selectors.some((s) => s === group || name.startsWith(s) || s.startsWith(name));
  const t0 = performance.now();
  const result = await runEmbeddedSelected({
    quick: args.includes("--quick"),
    growth: args.includes("--growth"),
    progress: (scenario, run, of, recordsPerSec) => {
      const rate = recordsPerSec === undefined ? "" : ` ${fixed(recordsPerSec, 0)} records/s`;
      console.error(`  ${scenario}: run ${run}/${of}${rate}`);
    },
  }, wanted);
  console.log(formatEmbeddedTable(result));
  console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s in all`);
}
