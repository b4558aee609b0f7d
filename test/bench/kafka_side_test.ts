/**
 * The kafka bench suite (bench/kafka_side_bench.ts, `deno task bench --scenario kafka`): its
 * quickest form against a real Apache Kafka 4.4 and a real Sluice server gives, for every
 * scenario, a Sluice row and Kafka's row beside it with a ratio, each server's CPU and RSS, the
 * goals, and a Markdown report and chart that show both; afterwards no server process and no
 * temporary directory is left. Tiny counts: only shapes are checked, no speed. Skipped loudly when
 * Kafka is not installed (scripts/install-kafka.sh); a failure under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1, which also requires both librdkafka clients (confluent-kafka and
 * node-rdkafka).
 *
 * Plus, without any server: the parsers of the Java tools' summary lines on lines of the shape
 * Kafka 4.4's tools print, and the runner's selection (the suite runs only when named).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { renderMarkdown, renderSvg } from "../../bench/report.ts";
import {
  parseConsumerPerf,
  parseEndToEnd,
  parseProducerPerf,
} from "../../bench/kafka_side/java_tools.ts";
import { parseArgs, selection } from "../../bench/runner/args.ts";
import type { BenchReportStd } from "../../bench/types.ts";
import { KAFKA_CLIENTS_REQUIRED } from "../kafka_protocol/kafka_harness.ts";
import { announceKafkaSkip, kafkaAvailable } from "../kafka_reference/kafka_server.ts";

announceKafkaSkip();

/** The suite's quickest form: a few thousand records, one size, acks=1, no warm-up. */
const TINY = {
  records: 3_000,
  recordSizes: [100],
  acks: ["1" as const],
  e2eRecords: 100,
  warmupRecords: 0,
  rounds: 1,
};

function tempEntries(): Set<string> {
  return new Set(
    fs.readdirSync(tmpdir()).filter((n) =>
      n.startsWith("sluice-kafka-side-") || n.startsWith("sluice-kafka-side-bench-")
    ),
  );
}

function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

Deno.test({
  name: "kafka suite, tiny: Sluice and Kafka rows side by side with ratios, CPU, RSS, goals",
  ignore: !kafkaAvailable,
  async fn() {
    // Imported here: the suite's module looks for a JVM when loaded.
    const { runKafkaSideBench } = await import("../../bench/kafka_side_bench.ts");
    const before = tempEntries();
    const progress: string[] = [];
    const o = await runKafkaSideBench({
      quick: true,
      plan: TINY,
      log: () => {},
      progress: (scenario) => progress.push(scenario),
    });
    assert.equal(o.skipped, undefined);
    assert.deepEqual(o.errors, [], o.errors.join("\n"));
    if (KAFKA_CLIENTS_REQUIRED) {
      assert.deepEqual(
        o.clientSkipped,
        [],
        "both librdkafka clients are required (SLUICE_REQUIRE_KAFKA_CLIENTS)",
      );
    }
    const skipped = new Set<string>(o.clientSkipped.map((c) => c.client));
    const want = [
      ...["librdkafka", "node-rdkafka"].filter((c) => !skipped.has(c)).flatMap((c) => [
        `vs-kafka.produce.100B.acks-1.${c}`,
        `vs-kafka.consume.100B.${c}`,
      ]),
      "vs-kafka.produce.100B.acks-1.java",
      "vs-kafka.consume.100B.java",
      "vs-kafka.e2e-latency.100B.acks-1.java",
    ];
    assert.deepEqual(o.scenarios.map((s) => s.name), want);
    assert.deepEqual(o.peers.map((p) => p.scenario), want);
    for (const s of o.scenarios) {
      const k = o.peers.find((p) => p.scenario === s.name)!;
      assert.equal(k.name, "kafka");
      assert.match(k.version, /^4\.\d+\.\d+/);
      assert.ok(s.recordsPerSec > 0 && k.recordsPerSec > 0, s.name);
      assert.equal(typeof k.ratioToSluice, "number", `${s.name} ratioToSluice`);
      assert.ok(Math.abs(k.ratioToSluice! - k.recordsPerSec / s.recordsPerSec) < 1e-9, s.name);
      for (const row of [s.params, k.params]) {
        assert.equal(row.suite, "vs-kafka");
        assert.equal(typeof row.serverCpuSecondsPerMillionRecords, "number", s.name);
        assert.ok((row.serverRssMiB as number) > 0, `${s.name} serverRssMiB`);
        assert.ok((row.serverPeakRssMiB as number) >= (row.serverRssMiB as number), s.name);
      }
      assert.equal(s.records, s.name.includes("e2e") ? TINY.e2eRecords : TINY.records);
    }
    const e2e = o.scenarios.find((s) => s.name.includes("e2e-latency"))!;
    const e2eKafka = o.peers.find((p) => p.scenario === e2e.name)!;
    for (const v of [e2e.p50Ms, e2e.p99Ms, e2eKafka.p50Ms, e2eKafka.p99Ms]) {
      assert.equal(typeof v, "number");
    }
    // One goal per throughput pair, the latency goal, the memory goal.
    assert.equal(o.goals.length, want.length + 1);
    assert.ok(o.goals.some((g) => g.scenario === "memory"));
    assert.ok(
      progress.some((p) => p.startsWith("kafka ")) && progress.some((p) => p.startsWith("sluice ")),
    );

    // Both servers stopped, their directories gone.
    assert.equal(o.sluice?.exitCode, 0, o.sluice?.stderrTail);
    assert.ok(o.kafka !== undefined && !isRunning(o.kafka.pid), "Kafka still runs");
    assert.equal(o.kafka?.killed, false);
    assert.deepEqual([...tempEntries()].filter((n) => !before.has(n)), []);

    // The report shows both: the peers table and the side-by-side section, and the chart.
    const report: BenchReportStd = {
      meta: {
        runtime: "deno",
        runtimeVersion: Deno.version.deno,
        os: "linux",
        cpu: "cpu",
        cores: 2,
        memoryBytes: 1,
        filesystem: "fs",
        commit: "c",
        startedAt: new Date().toISOString(),
        quick: true,
      },
      baselines: [],
      scenarios: o.scenarios,
      peers: o.peers,
      kafkaReference: [],
    };
    const md = renderMarkdown(report);
    assert.match(md, /## Kafka beside Sluice, measured in this run/);
    assert.match(md, /\| `vs-kafka\.consume\.100B\.java` \| [\d,]+ \| [\d,]+ \| [\d.]+ \|/);
    assert.match(md, /\| kafka \| 4\.\d+\.\d+ \| `vs-kafka\.produce\.100B\.acks-1\.java` \|/);
    assert.match(md, /\*\*(met|missed)\*\*: `memory`: peak RSS/);
    const svg = renderSvg(report);
    assert.match(svg, />kafka 4\.\d+\.\d+</);
    assert.match(svg, />vs-kafka\.produce</);
  },
});

Deno.test("ProducerPerformance's summary line is parsed; a progress line is not it", () => {
  const out = [
    "85760 records sent, 17128.0 records/sec (1.63 MB/sec), 1706.9 ms avg latency, 2446.0 ms " +
    "max latency.",
    "200000 records sent, 30473.868658 records/sec (2.91 MB/sec), 2162.56 ms avg latency, " +
    "2701.00 ms max latency, 2406 ms 50th, 2670 ms 95th, 2695 ms 99th, 2700 ms 99.9th.",
    "",
  ].join("\n");
  assert.deepEqual(parseProducerPerf(out), {
    records: 200_000,
    recordsPerSec: 30473.868658,
    avgLatencyMs: 2162.56,
    maxLatencyMs: 2701,
    p50Ms: 2406,
    p95Ms: 2670,
    p99Ms: 2695,
    p999Ms: 2700,
  });
  assert.equal(parseProducerPerf(out.split("\n")[0]), undefined);
});

Deno.test("ConsumerPerformance's data line is read by its header's names", () => {
  const out = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, " +
    "nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
    "2026-12-03 14:26:06:336, 2026-12-03 14:26:08:147, 57.2205, 31.5961, 600000, 331308.6692, " +
    "880, 931, 61.4613, 644468.3136\n";
  assert.deepEqual(parseConsumerPerf(out), {
    records: 600_000,
    recordsPerSec: 331308.6692,
    rebalanceMs: 880,
    fetchMs: 931,
    fetchRecordsPerSec: 644468.3136,
  });
  assert.equal(parseConsumerPerf(out.split("\n")[0]), undefined);
});

Deno.test("EndToEndLatency's average and whole-millisecond percentiles are parsed", () => {
  const out = 'Topic "t2" does not exist. Will create topic with 1 partition(s)\n0\t130.92\n' +
    "1000\t1.1497\nAvg latency: 2.5965 ms\nPercentiles: 50th = 1, 99th = 13, 99.9th = 104\n";
  assert.deepEqual(parseEndToEnd(out), { avgMs: 2.5965, p50Ms: 1, p99Ms: 13, p999Ms: 104 });
  assert.equal(parseEndToEnd("Avg latency: 2.5 ms\n"), undefined);
});

Deno.test("the kafka suite runs only when named: not in the default selection, alone when named", () => {
  assert.ok(!selection(parseArgs([])).has("kafka"));
  assert.ok(!selection(parseArgs(["--quick"])).has("kafka"));
  assert.deepEqual([...selection(parseArgs(["--quick", "--scenario", "kafka"])).keys()], ["kafka"]);
});
