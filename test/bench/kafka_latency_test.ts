/**
 * The kafka-latency bench suite (bench/kafka_latency_bench.ts, `deno task bench --scenario
 * kafka-latency`) at its tiniest against a real server and real client processes, once per client
 * (Kafka's Java client, the default; librdkafka through python; librdkafka 2.x from C, compiled
 * here against scripts/install-node-rdkafka.sh's build): the consumer's max-rate run, two
 * paced runs whose every counted record came back with its latency measured, and the table. Only
 * what must hold whatever the speed is checked (every record received, percentiles ordered,
 * positive). Each client is skipped loudly when missing (a failure under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import assert from "node:assert/strict";
import { latencyTable, runKafkaLatencyBench } from "../../bench/kafka_latency_bench.ts";
import { parseArgs, selection } from "../../bench/runner/args.ts";
import {
  announceSkip,
  confluentKafkaAvailable,
  NODE_RDKAFKA_DIR,
  nodeRdkafkaAvailable,
} from "../kafka_protocol/kafka_harness.ts";
import { announceJavaSkip, javaClientAvailable } from "../kafka_protocol/java_harness.ts";

announceSkip(confluentKafkaAvailable, "python3-confluent-kafka");
announceJavaSkip();
announceSkip(
  nodeRdkafkaAvailable,
  `librdkafka for the C client (node-rdkafka's build in ${NODE_RDKAFKA_DIR})`,
  "scripts/install-node-rdkafka.sh",
);

for (
  const [client, available, label] of [
    ["java", javaClientAvailable, /Kafka Java client \d/],
    ["python", confluentKafkaAvailable, /librdkafka \d.*\(python\)/],
    ["c", nodeRdkafkaAvailable, /librdkafka 2\.\d+\.\d+ \(C\)/],
  ] as const
) {
  Deno.test({
    name: `kafka-latency suite, tiny, ${client} client: a max-rate run, paced runs, the table`,
    ignore: !available,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => tinyRun(client, label),
  });
}

async function tinyRun(client: "java" | "python" | "c", label: RegExp): Promise<void> {
  const lines: string[] = [];
  const r = await runKafkaLatencyBench({
    quick: true,
    client,
    kafka: false,
    log: (line) => lines.push(line),
    maxRateRecords: 5_000,
    pacedSeconds: 1,
    warmupSeconds: 0.2,
    // The Java client's JVMs start slowly on a loaded machine: one paced run for it.
    fractions: client === "java" ? [0.05] : [0.01, 0.05],
  });
  assert.equal(r.skipped, undefined);
  assert.match(r.client ?? "", label);
  assert.ok(r.consumerMaxRatePerSec > 0, `max rate ${r.consumerMaxRatePerSec}`);
  assert.equal(r.rows.length, client === "java" ? 1 : 2);
  for (const row of r.rows) {
    assert.ok(row.records >= 1);
    assert.ok(row.ratePerSec >= 1);
    assert.ok(row.p50Ms > 0, `p50 ${row.p50Ms}`);
    assert.ok(row.p50Ms <= row.p90Ms && row.p90Ms <= row.p99Ms, JSON.stringify(row));
    assert.ok(row.p99Ms <= row.p999Ms && row.p999Ms <= row.maxMs, JSON.stringify(row));
  }
  const table = latencyTable(r);
  assert.match(table, /consumer max rate \(sluice\): \d+ records\/s/);
  assert.match(table, client === "java" ? /\n5%\s+\d+/ : /\n1%\s+\d+/);
  assert.ok(lines.some((l) => l.includes("server stopped by SIGTERM")), lines.join("\n"));
}

Deno.test("the kafka-latency suite runs only when named", () => {
  assert.ok(!selection(parseArgs([])).has("kafka-latency"));
  assert.deepEqual(
    [...selection(parseArgs(["--scenario", "kafka-latency"])).keys()],
    ["kafka-latency"],
  );
});
