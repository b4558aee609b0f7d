/**
 * The kafka-latency bench suite (bench/kafka_latency_bench.ts, `deno task bench --scenario
 * kafka-latency`) at its tiniest against a real server and real librdkafka processes: the
 * consumer's max-rate run, two paced runs whose every record came back with its latency measured,
 * and the table. Only what must hold whatever the speed is checked (every record received,
 * percentiles ordered, positive). Skipped loudly without python3-confluent-kafka (a failure under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import assert from "node:assert/strict";
import { latencyTable, runKafkaLatencyBench } from "../../bench/kafka_latency_bench.ts";
import { parseArgs, selection } from "../../bench/runner/args.ts";
import { announceSkip, confluentKafkaAvailable } from "../kafka_protocol/kafka_harness.ts";

announceSkip(confluentKafkaAvailable, "python3-confluent-kafka");

Deno.test({
  name: "kafka-latency suite, tiny: a max-rate run, paced runs with every record's latency",
  ignore: !confluentKafkaAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const lines: string[] = [];
    const r = await runKafkaLatencyBench({
      quick: true,
      log: (line) => lines.push(line),
      maxRateRecords: 5_000,
      pacedSeconds: 1,
      fractions: [0.01, 0.05],
    });
    assert.equal(r.skipped, undefined);
    assert.ok(r.consumerMaxRatePerSec > 0, `max rate ${r.consumerMaxRatePerSec}`);
    assert.equal(r.rows.length, 2);
    for (const row of r.rows) {
      assert.ok(row.records >= 1);
      assert.ok(row.ratePerSec >= 1);
      assert.ok(row.p50Ms > 0, `p50 ${row.p50Ms}`);
      assert.ok(row.p50Ms <= row.p90Ms && row.p90Ms <= row.p99Ms, JSON.stringify(row));
      assert.ok(row.p99Ms <= row.p999Ms && row.p999Ms <= row.maxMs, JSON.stringify(row));
    }
    const table = latencyTable(r);
    assert.match(table, /consumer max rate \(librdkafka, 100 B\): \d+ records\/s/);
    assert.match(table, /\n1%\s+\d+/);
    assert.ok(lines.some((l) => l.includes("server stopped by SIGTERM")), lines.join("\n"));
  },
});

Deno.test("the kafka-latency suite runs only when named", () => {
  assert.ok(!selection(parseArgs([])).has("kafka-latency"));
  assert.deepEqual(
    [...selection(parseArgs(["--scenario", "kafka-latency"])).keys()],
    ["kafka-latency"],
  );
});
