/**
 * Runs the selected suites one by one (bench/main.ts lists them), each timed and its failure kept
 * in details.errors while the rest of the run goes on; what a suite returns goes into the report
 * or its details, to be assembled at the end (bench/runner/assemble.ts).
 */
import process from "node:process";
import { type EmbeddedBenchResult, runEmbeddedSelected } from "../embedded_bench.ts";
import { runGroupBench } from "../group_bench.ts";
import { runHttpBench } from "../http_bench.ts";
import { measureIndexBench } from "../index_bench.ts";
import { runKafkaLive } from "../kafka_bench.ts";
import { runKafkaClientBench } from "../kafka_client_bench.ts";
import { peersAvailable, runPeerBench } from "../peers.ts";
import { runStorageBench } from "../storage_bench.ts";
import type { SuiteOptions } from "../types.ts";
import { type Args, KAFKA_BROKERS_ENV, type Suite } from "./args.ts";
import type { BenchResultsFile } from "./details.ts";
import { runExternal } from "./external.ts";
import { describePeer, describeScenario, type Output } from "./output.ts";

/** What the suites of one run share, and where their results go. */
export interface SuiteRun {
  args: Args;
  output: Output;
  suiteOptions: SuiteOptions;
  report: BenchResultsFile;
  /** The embedded suite's scenarios and baselines, put first in the report at the end. */
  embedded: EmbeddedBenchResult;
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** --kafka: the live Kafka peer, run first so an unreachable cluster shows at once. */
export async function runLiveKafka(ctx: SuiteRun): Promise<void> {
  const { output, report, suiteOptions } = ctx;
  const { details } = report;
  const { run } = details;
  const out = output.line;
  out("\n== kafka (live)");
  const started = performance.now();
  try {
    const brokers = (process.env[KAFKA_BROKERS_ENV] ?? "").trim();
    const peers = await runKafkaLive({ ...suiteOptions, brokers });
    output.done();
    report.peers.push(...peers);
    for (const p of peers) out(`  ${describePeer(p)}`);
  } catch (err) {
    output.done();
    const error = errorText(err);
    out(`kafka: FAILED: ${error}`);
    details.errors.push({ suite: "kafka-live", error });
  }
  run.suiteSeconds["kafka-live"] = Math.round((performance.now() - started) / 100) / 10;
}

/** Runs every chosen suite with its group filter (empty: every group), in the map's order. */
export async function runSuites(ctx: SuiteRun, chosen: Map<Suite, string[]>): Promise<void> {
  const { output, report } = ctx;
  const { details } = report;
  const out = output.line;
  for (const [suite, groups] of chosen) {
    out(`\n== ${suite}${groups.length > 0 ? ` (${groups.join(", ")})` : ""}`);
    const started = performance.now();
    try {
      await runSuite(ctx, suite, groups);
    } catch (err) {
      output.done();
      const error = errorText(err);
      out(`${suite}: FAILED: ${error}`);
      details.errors.push({ suite, error });
    }
    output.done();
    const took = (performance.now() - started) / 1000;
    details.run.suiteSeconds[suite] = Math.round(took * 10) / 10;
    out(`== ${suite} took ${took.toFixed(1)} s`);
  }
}

/** One suite; it throws what the suite throws. */
async function runSuite(ctx: SuiteRun, suite: Suite, groups: string[]): Promise<void> {
  const { args, output, report, suiteOptions } = ctx;
  const { details } = report;
  const out = output.line;
  switch (suite) {
    case "embedded": {
      // --growth with a --scenario list that leaves embedded out runs the growth alone.
      const onlyGrowth = groups.length === 1 && groups[0] === "growth";
      const r = await runEmbeddedSelected(
        { ...suiteOptions, growth: args.growth },
        (group) => !onlyGrowth || group === "growth",
      );
      output.done();
      ctx.embedded = r;
      for (const s of r.scenarios) out(`  ${describeScenario(s)}`);
      break;
    }
    case "storage":
      details.storage = await runStorageBench({
        quick: args.quick,
        scenarios: groups,
        log: out,
      });
      break;
    case "index":
      details.index = await measureIndexBench({
        quick: args.quick,
        scenarios: groups,
        log: out,
      });
      break;
    case "http":
      details.http = await runHttpBench({ quick: args.quick, scenarios: groups, log: out });
      break;
    case "groups":
      details.groups = await runGroupBench({ quick: args.quick, scenarios: groups, log: out });
      break;
    case "kafka-client": {
      const brokers = (process.env[KAFKA_BROKERS_ENV] ?? "").trim();
      const r = await runKafkaClientBench({
        ...suiteOptions,
        log: out,
        kafkaBrokers: brokers || undefined,
      });
      output.done();
      details.kafkaClient = r;
      if (r.skipped !== undefined) {
        details.skipped.push({ suite: "kafka-client", reason: `librdkafka: ${r.skipped}` });
      }
      if (r.peerError !== undefined) {
        // Asked for with --kafka: a failure; only found in the environment: a note.
        const entry = { suite: "kafka-client: kafka peer", error: r.peerError };
        if (args.kafka) details.errors.push(entry);
        else details.skipped.push({ suite: entry.suite, reason: `failed: ${r.peerError}` });
      }
      report.peers.push(...r.peers);
      for (const s of r.scenarios) out(`  ${describeScenario(s)}`);
      for (const p of r.peers) out(`  ${describePeer(p)}`);
      break;
    }
    case "kafka": {
      // Loaded here: the module looks for a JVM when imported, which no other suite needs.
      const { runKafkaSideBench } = await import("../kafka_side_bench.ts");
      const r = await runKafkaSideBench({ ...suiteOptions, log: out });
      output.done();
      details.kafkaSide = r;
      if (r.skipped !== undefined) details.skipped.push({ suite: "kafka", reason: r.skipped });
      for (const c of r.clientSkipped) {
        details.skipped.push({ suite: `kafka: ${c.client}`, reason: c.reason });
      }
      for (const error of r.errors) details.errors.push({ suite: "kafka", error });
      report.peers.push(...r.peers);
      for (const s of r.scenarios) out(`  ${describeScenario(s)}`);
      for (const p of r.peers) out(`  ${describePeer(p)}`);
      break;
    }
    case "cluster": {
      const { runClusterBench } = await import("../cluster_bench.ts");
      const r = await runClusterBench({ ...suiteOptions, log: out });
      output.done();
      details.cluster = r;
      if (r.skipped !== undefined) details.skipped.push({ suite: "cluster", reason: r.skipped });
      for (const error of r.errors) details.errors.push({ suite: "cluster", error });
      for (const s of r.scenarios) out(`  ${describeScenario(s)}`);
      break;
    }
    case "kafka-latency": {
      const { runKafkaLatencyBench, latencyTable } = await import("../kafka_latency_bench.ts");
      const r = await runKafkaLatencyBench({ ...suiteOptions, log: out });
      output.done();
      details.kafkaLatency = r;
      if (r.skipped !== undefined) {
        details.skipped.push({ suite: "kafka-latency", reason: r.skipped });
      }
      out(latencyTable(r));
      break;
    }
    case "peers": {
      for (const p of peersAvailable()) {
        if (p.version !== null) continue;
        out(`peers: ${p.name} not installed (scripts/install-peers.sh); skipped`);
        details.skipped.push({ suite: `peers: ${p.name}`, reason: "not installed" });
      }
      const peers = await runPeerBench({ ...suiteOptions });
      output.done();
      report.peers.push(...peers);
      for (const p of peers) out(`  ${describePeer(p)}`);
      break;
    }
    case "crc32c":
    case "record":
      details.external.push(await runExternal(suite, args.quick, args.json, out));
      break;
  }
}
