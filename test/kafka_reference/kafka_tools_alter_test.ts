/**
 * Apache Kafka 4.4's own tools changing a topic on Sluice's real server (`withKafkaServer`:
 * `src/main.ts serve` as a subprocess), each checked with the tools' --describe and, where it can
 * say, Sluice's HTTP API:
 * - kafka-configs --alter --add-config (IncrementalAlterConfigs SET): the topic's dynamic configs;
 * - kafka-configs --alter --delete-config (DELETE): the key gone from them, its default back;
 * - kafka-configs --alter with a key Sluice does not know: refused, nothing changed;
 * - kafka-topics --alter --partitions 5 (CreatePartitions), then --describe shows 5, each led by
 *   node 0; --partitions 2 refused.
 * Skipped loudly when scripts/install-kafka.sh has not run (a failure under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI). About 10 JVM starts.
 */
import assert from "node:assert/strict";
import { highWatermarks } from "../http/server_harness.ts";
import { withKafkaServer } from "../kafka_protocol/kafka_harness.ts";
import {
  describeRun,
  parseConfigsDescribe,
  parseTopicDescribe,
  runTool,
  stdoutOf,
} from "./kafka_tools_lib.ts";
import { announceKafkaSkip, KAFKA_TOOLS, kafkaAvailable } from "./kafka_server.ts";

announceKafkaSkip();

const TOPIC = "tools-altered";

Deno.test({
  name: "Kafka 4.4's kafka-configs --alter and kafka-topics --alter --partitions against Sluice",
  ignore: !kafkaAvailable,
  async fn(t) {
    await withKafkaServer({}, async (server) => {
      const bootstrap = ["--bootstrap-server", server.bootstrap];
      const topics = async (what: string, args: readonly string[]) =>
        stdoutOf(
          `kafka-topics ${what}`,
          await runTool(KAFKA_TOOLS.topics, [...bootstrap, ...args]),
          server,
        );
      const configs = (args: readonly string[]) =>
        runTool(KAFKA_TOOLS.configs, [
          ...bootstrap,
          "--entity-type",
          "topics",
          "--entity-name",
          TOPIC,
          ...args,
        ]);
      /** The topic's dynamic configs (kafka-configs --describe): key to value. */
      const dynamic = async () => {
        const [d, ...more] = parseConfigsDescribe(
          stdoutOf("kafka-configs --describe", await configs(["--describe"]), server),
        );
        assert.equal(more.length, 0);
        assert.equal(d.title, `Dynamic configs for topic ${TOPIC} are:`);
        return Object.fromEntries(Object.entries(d.entries).map(([k, e]) => [k, e.value]));
      };
      /** One config's value among all of the topic's (kafka-configs --describe --all). */
      const effective = async (key: string) => {
        const [all] = parseConfigsDescribe(
          stdoutOf(
            "kafka-configs --describe --all",
            await configs(["--describe", "--all"]),
            server,
          ),
        );
        return all.entries[key]?.value;
      };

      await topics("--create", [
        "--create",
        "--topic",
        TOPIC,
        "--partitions",
        "2",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=3600000",
      ]);

      await t.step("kafka-configs --alter --add-config", async () => {
        const out = stdoutOf(
          "kafka-configs --alter --add-config",
          await configs([
            "--alter",
            "--add-config",
            "retention.ms=7200000,max.message.bytes=65536",
          ]),
          server,
        );
        assert.equal(out.trim(), `Completed updating config for topic ${TOPIC}.`);
        assert.deepEqual(await dynamic(), {
          "max.message.bytes": "65536",
          "retention.ms": "7200000",
        });
      });

      await t.step("kafka-configs --alter --delete-config", async () => {
        const out = stdoutOf(
          "kafka-configs --alter --delete-config",
          await configs(["--alter", "--delete-config", "retention.ms"]),
          server,
        );
        assert.equal(out.trim(), `Completed updating config for topic ${TOPIC}.`);
        assert.deepEqual(await dynamic(), { "max.message.bytes": "65536" });
        assert.equal(await effective("retention.ms"), "604800000", "the default, 7 days");
      });

      await t.step(
        "kafka-configs --alter with an unknown key: refused, nothing changed",
        async () => {
          const result = await configs(["--alter", "--add-config", "no.such.config=1"]);
          assert.notEqual(result.code, 0, describeRun("kafka-configs unknown key", result, server));
          assert.match(
            result.stdout + result.stderr,
            /InvalidConfigurationException/,
          );
          assert.deepEqual(await dynamic(), { "max.message.bytes": "65536" });
        },
      );

      await t.step("kafka-topics --alter --partitions 5; --describe shows them", async () => {
        await topics("--alter --partitions 5", [
          "--alter",
          "--topic",
          TOPIC,
          "--partitions",
          "5",
        ]);
        const [d] = parseTopicDescribe(
          await topics("--describe", ["--describe", "--topic", TOPIC]),
        );
        assert.equal(d.partitionCount, 5);
        assert.deepEqual(
          d.partitions,
          [0, 1, 2, 3, 4].map((partition) => ({ partition, leader: 0, replicas: [0], isr: [0] })),
        );
        assert.deepEqual(d.configs, { "max.message.bytes": "65536" });
        assert.deepEqual(await highWatermarks(server.server, TOPIC), [0, 0, 0, 0, 0]);
      });

      await t.step("kafka-topics --alter --partitions 2: refused", async () => {
        const result = await runTool(KAFKA_TOOLS.topics, [
          ...bootstrap,
          "--alter",
          "--topic",
          TOPIC,
          "--partitions",
          "2",
        ]);
        assert.match(
          result.stdout + result.stderr,
          /InvalidPartitionsException/,
          describeRun("kafka-topics --alter --partitions 2", result, server),
        );
        assert.deepEqual(await highWatermarks(server.server, TOPIC), [0, 0, 0, 0, 0]);
      });
    });
  },
});
