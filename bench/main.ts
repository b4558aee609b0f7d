/**
 * `deno task bench`: runs the bench suites and writes one report in the stable shape of
 * bench/types.ts (BenchReportStd: meta, baselines, scenarios, peers, kafkaReference) plus a
 * `details` key holding each suite's own full output, as three files with one stem:
 *
 *   <dir>/<ISO timestamp>-<hostname>.json   the report
 *   <dir>/<ISO timestamp>-<hostname>.md     meta, scenarios, baselines, peers, Kafka's published
 *                                           figures (bench/report.ts renderMarkdown)
 *   <dir>/<ISO timestamp>-<hostname>.svg    MB/s bars per scenario beside its baseline and peers
 *                                           (bench/report.ts renderSvg)
 *
 * <dir> is bench/results, or SLUICE_BENCH_RESULTS_DIR when set (the smoke test uses a temp dir).
 *
 * Suites, in the order they run (with --kafka, the live Kafka first, so an unreachable cluster
 * shows at once):
 * - embedded (bench/embedded_bench.ts): produce matrix, consume, end-to-end latency, growth
 *   (--growth); scenarios and baselines in the report's own shape.
 * - storage (bench/storage_bench.ts: append, read, always): PartitionLog against plain file
 *   writes and reads; its raw file figures become the `file.*` baselines and its log figures
 *   `embedded.*` scenarios, unless the embedded suite already reported that name.
 * - index (bench/index_bench.ts: lookup, random-read): µs-scale micro benches, kept in details.
 * - http (bench/http_bench.ts: produce-batch, produce-json, fetch, latency) and groups
 *   (bench/group_bench.ts: consume, rebalance): the server as a subprocess over loopback; their
 *   figures become `http.*` scenarios.
 * - kafka-client (bench/kafka_client_bench.ts): librdkafka (python3-confluent-kafka, via
 *   bench/kafka_client.py) produces and consumes 1,000,000 x 100 B records (100,000 under --quick)
 *   through the server's Kafka listener: `kafka.produce.100B.librdkafka`,
 *   `kafka.consume.100B.librdkafka`; with KAFKA_BROKERS set, the same client and settings against
 *   that Kafka as `kafka` peer rows. Also kafkajs as a second, labelled client
 *   (`kafka.*.100B.kafkajs`). The librdkafka half is skipped, with a note, when its client is not
 *   installed.
 * - kafka (bench/kafka_side_bench.ts; only when named: --scenario kafka): Apache Kafka 4.4 (the
 *   jars of scripts/install-kafka.sh, started here on a free port) and Sluice side by side, the
 *   same clients against each: librdkafka produce and consume (100 B and 1 KiB, acks=1 and
 *   acks=all), Kafka's ProducerPerformance, ConsumerPerformance and EndToEndLatency, with each
 *   server's CPU seconds per million records and RSS. Sluice's rows are `vs-kafka.*` scenarios,
 *   Kafka's are `kafka` peers beside them with ratioToSluice. Skipped, with a note, when Kafka is
 *   not installed.
 * - cluster (bench/cluster_bench.ts; only when named: --scenario cluster): issue 15's benchmark.
 *   librdkafka produce (100 B, acks=all) to the single-node server, a cluster of one broker (RF 1)
 *   and one of three (RF 3, min.insync.replicas 2) with the same settings, the ratio to one
 *   broker (goal >= 0.5) and consume from each; replication lag on the three (each broker's log
 *   end offset from GET /metrics while a producer writes); failover: SIGKILL the partition's
 *   leader under an acks=all producer, the time to its first success after the kill (goal: p50
 *   <= 3 s with default settings), with the default broker.session.timeout.ms and with 2000.
 *   Rows `cluster.*`; skipped, with a note, without etcd or python3-confluent-kafka.
 * - kafka-latency (bench/kafka_latency_bench.ts; only when named): end-to-end latency over the
 *   Kafka protocol, producer and consumer in their own processes (Kafka's Java client by default,
 *   librdkafka with SLUICE_LATENCY_CLIENT=python; docs/bench/kafka_latency.md): the consumer's max
 *   rate, then producers paced at 10, 25, 50 and 75% of it, p50/p99/p99.9/max of send-to-receipt;
 *   SLUICE_LATENCY_KAFKA=1 runs the same against Apache Kafka beside it.
 * - peers (bench/peers.ts): Redis Streams and NATS JetStream when installed, each set beside a
 *   Sluice scenario; with --kafka also a live Kafka at KAFKA_BROKERS (bench/kafka_bench.ts).
 * - crc32c (bench/crc32c_bench.ts) and record (bench/record_bench.ts): mitata micro benches, run by
 *   their exported function when they export one and guard their own run with import.meta.main,
 *   otherwise as subprocesses of this runtime (NO_COLOR=1; --quick and SLUICE_BENCH_QUICK=1 under
 *   --quick); their output is kept in details.external.
 *
 * Live progress goes to stderr: scenario, run k/n and records/s so far, as one line rewritten in
 * place on a terminal and as plain lines otherwise.
 *
 * Flags:
 *   --quick           smaller workloads; the micro benches (index, crc32c, record) only when named
 *                     with --scenario: the whole run stays under a minute on 2 cores
 *   --scenario NAME   a suite (embedded, storage, index, http, groups, kafka-client, kafka, cluster,
 *                     peers, crc32c, record; kafka and cluster run only when named) or a
 *                     group of one (append, read, always, lookup, random-read, produce-batch,
 *                     produce-json, fetch, latency, consume, rebalance); repeatable, or
 *                     comma-separated
 *   --json            the report on stdout; every other line goes to stderr
 *   --growth          adds the embedded suite's growth scenario (long: opt-in); with a
 *                     --scenario list that leaves embedded out, the growth runs alone
 *   --kafka           adds a live Kafka peer; needs KAFKA_BROKERS=host:port[,host:port]. The
 *                     kafka-client suite runs against KAFKA_BROKERS whenever it is set; a
 *                     failure there is an error with --kafka and a note without it
 *
 * The runner's parts live in bench/runner/: args.ts (the flags, the suites, the selection),
 * suites.ts (running each suite), convert.ts (the older suites' figures as report entries),
 * assemble.ts (scenarios, baselines and ratios put together), meta.ts, details.ts (the `details`
 * key's shape), external.ts (crc32c, record), output.ts (lines, progress, summary) and
 * report_files.ts (the .json, .md and .svg).
 *
 * Run: deno task bench [--quick] [--scenario NAME] [--json] [--growth] [--kafka]
 */
import process from "node:process";
import { KAFKA_REFERENCE, KAFKA_REFERENCE_LATENCY } from "./kafka_bench.ts";
import type { SuiteOptions } from "./types.ts";
import {
  MICRO_SUITES,
  OPT_IN_SUITES,
  parseArgs,
  RESULTS_DIR_ENV,
  selection,
} from "./runner/args.ts";
import { assembleReport } from "./runner/assemble.ts";
import { CONVERSION_NOTES } from "./runner/convert.ts";
import type { BenchDetails, BenchResultsFile } from "./runner/details.ts";
import { collectMeta, formatMeta } from "./runner/meta.ts";
import { Output, printSummary } from "./runner/output.ts";
import { DEFAULT_RESULTS_DIR } from "./runner/paths.ts";
import { writeReportFiles } from "./runner/report_files.ts";
import { runLiveKafka, runSuites, type SuiteRun } from "./runner/suites.ts";

export { sizeLabel } from "./bench_util.ts";
export { KAFKA_BROKERS_ENV, RESULTS_DIR_ENV } from "./runner/args.ts";
export type {
  BenchDetails,
  BenchResultsFile,
  BenchRunInfo,
  ExternalSuiteResult,
} from "./runner/details.ts";

/** Runs the selected suites; returns the report (also written as .json, .md and .svg). */
export async function runBenchMain(argv: readonly string[]): Promise<BenchResultsFile> {
  const args = parseArgs(argv);
  const output = new Output(args.json);
  const out = output.line;
  const { meta, run } = collectMeta(args, argv);
  const t0 = performance.now();
  out(formatMeta(meta, run));

  const details: BenchDetails = {
    run,
    notes: [...CONVERSION_NOTES],
    skipped: [],
    errors: [],
    storage: [],
    index: [],
    external: [],
    kafkaReferenceLatency: KAFKA_REFERENCE_LATENCY,
    storageDuplicates: [],
    targets: [],
  };
  const report: BenchResultsFile = {
    meta,
    baselines: [],
    scenarios: [],
    peers: [],
    kafkaReference: KAFKA_REFERENCE,
    details,
  };
  const suiteOptions: SuiteOptions = { quick: args.quick, progress: output.progress };
  const chosen = selection(args);
  if (args.scenarios.length === 0) {
    for (const s of OPT_IN_SUITES) {
      details.skipped.push({ suite: s, reason: `runs only when named: --scenario ${s}` });
    }
  }
  if (args.quick && args.scenarios.length === 0) {
    out(`\n(--quick: ${MICRO_SUITES.join(", ")} skipped; name them with --scenario to run them)`);
    for (const s of MICRO_SUITES) {
      details.skipped.push({ suite: s, reason: "--quick: micro benches run only when named" });
    }
  }

  const ctx: SuiteRun = {
    args,
    output,
    suiteOptions,
    report,
    embedded: { scenarios: [], baselines: [] },
  };
  // First, so an unreachable cluster shows at once rather than after the other suites.
  if (args.kafka) await runLiveKafka(ctx);
  await runSuites(ctx, chosen);

  assembleReport(report, ctx.embedded);
  run.finishedAt = new Date().toISOString();
  run.durationSeconds = Math.round((performance.now() - t0) / 100) / 10;

  out("\n== results");
  out(formatMeta(meta, run));
  printSummary(out, report);

  const dir = process.env[RESULTS_DIR_ENV] || DEFAULT_RESULTS_DIR;
  const files = writeReportFiles(dir, report);
  out(
    `\nwrote ${files.json}\n      ${files.md}\n      ${files.svg}\n(total ${run.durationSeconds} s)`,
  );
  if (args.json) console.log(JSON.stringify(report, null, 2));
  return report;
}

if (import.meta.main) {
  try {
    const report = await runBenchMain(process.argv.slice(2));
    const d = report.details;
    if (d.errors.length > 0) process.exitCode = 1;
    if (d.external.some((e) => e.mode !== "missing" && !e.ok)) process.exitCode = 1;
    // The server must stop cleanly on SIGTERM (exit 0): anything else is a failed run.
    if (d.http !== undefined && d.http.server.exitCode !== 0) process.exitCode = 1;
    if (d.groups !== undefined && d.groups.server.exitCode !== 0) process.exitCode = 1;
    const kafkaServer = d.kafkaClient?.server;
    if (kafkaServer !== undefined && kafkaServer.exitCode !== 0) process.exitCode = 1;
    const sideServer = d.kafkaSide?.sluice;
    if (sideServer !== undefined && sideServer.exitCode !== 0) process.exitCode = 1;
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
}
