/**
 * Kafka's Java client (kafka-clients 4.x) uses Sluice's fetch sessions (KIP-227): a consumer of a
 * 200-partition topic opens one session with a full fetch and then sends incremental fetches
 * (counted in /metrics), and still gets every record exactly once, including those produced to a
 * few partitions while it polls. Skipped, loudly, when the client is not installed
 * (scripts/install-kafka-java.sh); a failure in CI (SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import assert from "node:assert/strict";
import { createTopic } from "../http/server_harness.ts";
import { withKafkaServer } from "./kafka_harness.ts";
import {
  announceJavaSkip,
  consumeArgs,
  javaClientAvailable,
  javaProduce,
  startJavaClient,
} from "./java_harness.ts";

announceJavaSkip();

const PARTITIONS = 200;
const FIRST = 400;
const SECOND = 20;

function metric(text: string, line: string): number {
  const at = text.split("\n").find((l) => l.startsWith(line + " "));
  assert.ok(at !== undefined, `${line} in /metrics`);
  return Number(at.slice(line.length + 1));
}

Deno.test({
  name: "java client: a consumer of 200 partitions fetches incrementally, every record once",
  ignore: !javaClientAvailable,
  fn: async () => {
    await withKafkaServer({}, async (server) => {
      const topic = "java-sessions";
      await createTopic(server.server, topic, PARTITIONS);
      await javaProduce(server.bootstrap, topic, FIRST, 0);
      const consumer = await startJavaClient(
        "consumer",
        consumeArgs(server.bootstrap, {
          topic,
          group: "java-sessions-group",
          protocol: "classic",
          clientId: "java-sessions",
          sessionTimeoutMs: 6000,
        }),
      );
      try {
        await consumer.waitFor(`${FIRST} records`, () => consumer.records.length >= FIRST, 60_000);
        const scrape = async () => await (await fetch(`${server.httpUrl}/metrics`)).text();
        const before = await scrape();
        await javaProduce(server.bootstrap, topic, SECOND, FIRST);
        await consumer.waitFor(
          `${FIRST + SECOND} records`,
          () => consumer.records.length >= FIRST + SECOND,
          60_000,
        );
        const after = await scrape();
        const ids = new Set(consumer.records.map((r) => `${r.p}/${r.o}`));
        assert.equal(ids.size, FIRST + SECOND, "every record once");
        assert.equal(consumer.records.length, FIRST + SECOND, "no record twice");
        const values = new Set(consumer.records.map((r) => r.v));
        for (let i = 0; i < FIRST + SECOND; i++) assert.ok(values.has(`v-${i}`), `v-${i}`);

        const kind = (text: string, k: string) =>
          metric(text, `sluice_kafka_fetches_total{kind="${k}"}`);
        console.log(
          `java consumer, ${PARTITIONS} partitions: fetches full ${kind(after, "full")}, ` +
            `incremental ${kind(after, "incremental")}, sessionless ${
              kind(after, "sessionless")
            }, session errors ${kind(after, "session_error")}`,
        );
        assert.ok(kind(after, "full") >= 1, "a full fetch opened the session");
        assert.ok(
          kind(after, "incremental") > kind(before, "incremental"),
          "the records produced later came through incremental fetches",
        );
        assert.ok(kind(after, "incremental") > kind(after, "full"), "mostly incremental");
        assert.equal(kind(after, "session_error"), 0);
        assert.equal(metric(after, "sluice_kafka_fetch_sessions"), 1, "one session, kept");
        assert.equal(metric(after, "sluice_kafka_fetch_session_partitions"), PARTITIONS);
      } finally {
        await consumer.stop();
      }
    });
  },
});
