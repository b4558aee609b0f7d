/**
 * CreateTopics as Kafka answers it, in process (the handlers on a real Broker in a temp dir):
 * a manual replica assignment naming this broker ([[0], [0], ...]) creates the topic, other
 * assignments get Kafka's errors; Kafka's standard topic configs that Sluice keeps without acting
 * on them (delete.retention.ms and the like) are accepted, stored and described, and values Sluice
 * cannot honour are INVALID_CONFIG. (Before, both were refused.)
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { RequestContext } from "../../src/kafka_protocol/apis.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import type { KafkaContext } from "../../src/kafka_protocol/context.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { createTopicsHandler } from "../../src/kafka_protocol/handlers/cluster.ts";
import { describeConfigsHandler } from "../../src/kafka_protocol/handlers/configs.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { tempDir } from "../test_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

function topicSpec(name: string, fields: Partial<Struct>): Struct {
  return {
    name,
    numPartitions: -1,
    replicationFactor: -1,
    assignments: [],
    configs: [],
    ...fields,
  };
}

Deno.test("CreateTopics: manual assignments and Kafka's standard topic configs", async (t) => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-create-topics-"), logger });
  const ctx = {
    broker,
    logger,
    settings: { defaultPartitions: 1, autoCreateTopics: true, advertisedHost: "127.0.0.1" },
  } as unknown as KafkaContext;
  const context: RequestContext = {
    apiVersion: 7,
    clientId: null,
    clientHost: "/127.0.0.1",
    remote: "127.0.0.1:1",
    principal: null,
    sasl: undefined as Any,
  };
  const createOrValidate = async (validateOnly: boolean, ...topics: Struct[]) =>
    ((await createTopicsHandler(ctx)({ topics, timeoutMs: 1000, validateOnly }, context)) as Any)
      .topics as {
        name: string;
        errorCode: number;
        errorMessage: string | null;
        numPartitions: number;
        configs: { name: string; value: string; configSource: number }[];
      }[];
  const create = (...topics: Struct[]) => createOrValidate(false, ...topics);
  const assign = (...brokers: number[][]) =>
    brokers.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
  try {
    await t.step("[[0], [0], [0]] creates 3 partitions on this node", async () => {
      const [r] = await create(topicSpec("manual", { assignments: assign([0], [0], [0]) }));
      assert.equal(r.errorCode, KafkaError.NONE, r.errorMessage ?? "");
      assert.equal(r.numPartitions, 3);
      assert.equal(broker.topics.get("manual").logs.length, 3);
    });

    await t.step("other assignments get Kafka's errors and create nothing", async () => {
      const answers = await create(
        topicSpec("other-broker", { assignments: assign([1]) }),
        topicSpec("two-replicas", { assignments: assign([0, 1]) }),
        topicSpec("twice", { assignments: assign([0, 0]) }),
        topicSpec("empty", { assignments: assign([]) }),
        topicSpec("gap", { assignments: [{ partitionIndex: 1, brokerIds: [0] }] }),
        topicSpec("with-count", { numPartitions: 1, assignments: assign([0]) }),
        topicSpec("with-factor", { replicationFactor: 1, assignments: assign([0]) }),
      );
      assert.deepEqual(answers.map((a) => [a.name, a.errorCode]), [
        ["other-broker", KafkaError.INVALID_REPLICA_ASSIGNMENT],
        ["two-replicas", KafkaError.INVALID_REPLICA_ASSIGNMENT],
        ["twice", KafkaError.INVALID_REPLICA_ASSIGNMENT],
        ["empty", KafkaError.INVALID_REPLICA_ASSIGNMENT],
        ["gap", KafkaError.INVALID_REPLICA_ASSIGNMENT],
        ["with-count", KafkaError.INVALID_REQUEST],
        ["with-factor", KafkaError.INVALID_REQUEST],
      ]);
      assert.deepEqual(broker.topics.list().map((tp) => tp.name), ["manual"]);
    });

    await t.step("standard configs are kept and described; unhonourable ones refused", async () => {
      const configs = (entries: Record<string, string>) =>
        Object.entries(entries).map(([name, value]) => ({ name, value }));
      const answers = await create(
        topicSpec("kept", {
          numPartitions: 1,
          replicationFactor: 1,
          configs: configs({
            "delete.retention.ms": "1000",
            "min.insync.replicas": "1",
            "min.cleanable.dirty.ratio": "0.25",
            "retention.ms": "60000",
          }),
        }),
        topicSpec("isr", { numPartitions: 1, configs: configs({ "min.insync.replicas": "2" }) }),
        topicSpec("lat", {
          numPartitions: 1,
          configs: configs({ "message.timestamp.type": "LogAppendTime" }),
        }),
        topicSpec("typo", { numPartitions: 1, configs: configs({ "delete.retention.mz": "1" }) }),
        topicSpec("nan", { numPartitions: 1, configs: configs({ "delete.retention.ms": "soon" }) }),
      );
      assert.deepEqual(answers.map((a) => [a.name, a.errorCode]), [
        ["kept", KafkaError.NONE],
        ["isr", KafkaError.INVALID_CONFIG],
        ["lat", KafkaError.INVALID_CONFIG],
        ["typo", KafkaError.INVALID_CONFIG],
        ["nan", KafkaError.INVALID_CONFIG],
      ]);
      const config = broker.topics.get("kept").config;
      assert.equal(config["delete.retention.ms"], "1000");
      assert.equal(config["retention.ms"], 60000);
      const described = await describeConfigsHandler(ctx)({
        resources: [{
          resourceType: 2,
          resourceName: "kept",
          configurationKeys: ["delete.retention.ms", "min.compaction.lag.ms", "retention.ms"],
        }],
        includeSynonyms: false,
        includeDocumentation: false,
      }, context) as Any;
      const shown = described.results[0].configs.map((
        c: { name: string; value: string; configSource: number },
      ) => [c.name, c.value, c.configSource]);
      assert.deepEqual(shown, [
        ["retention.ms", "60000", 1],
        ["delete.retention.ms", "1000", 1],
        ["min.compaction.lag.ms", "0", 5],
      ]);
    });

    await t.step(
      "the answer carries the topic's configs (v5+); validateOnly checks them",
      async () => {
        const configs = [{ name: "retention.ms", value: "5000" }];
        const shown = (a: { configs: { name: string; value: string; configSource: number }[] }) =>
          a.configs.filter((c) => c.name === "retention.ms" || c.name === "compression.type")
            .map((c) => [c.name, c.value, c.configSource]);
        const [made] = await create(topicSpec("answered", { numPartitions: 1, configs }));
        assert.deepEqual(shown(made), [["retention.ms", "5000", 1], [
          "compression.type",
          "producer",
          5,
        ]]);
        const [valid, typo, negative] = await createOrValidate(
          true,
          topicSpec("validated", { numPartitions: 2, configs }),
          topicSpec("validated-typo", {
            numPartitions: 1,
            configs: [{ name: "retention.mz", value: "1" }],
          }),
          topicSpec("validated-bad", {
            numPartitions: 1,
            configs: [{ name: "segment.bytes", value: "-1" }],
          }),
        );
        assert.deepEqual(
          [valid.errorCode, valid.numPartitions, typo.errorCode, negative.errorCode],
          [KafkaError.NONE, 2, KafkaError.INVALID_CONFIG, KafkaError.INVALID_CONFIG],
        );
        assert.deepEqual(shown(valid), shown(made));
        assert.throws(() => broker.topics.get("validated"), "validateOnly created nothing");
      },
    );

    await t.step("kept across a restart", async () => {
      await broker.close();
      const again = await Broker.open({ dataDir: broker.topics.dataDir, logger });
      try {
        assert.equal(again.topics.get("kept").config["delete.retention.ms"], "1000");
        assert.equal(again.topics.get("kept").config["min.cleanable.dirty.ratio"], "0.25");
      } finally {
        await again.close();
      }
    });
  } finally {
    await broker.close().catch(() => {});
  }
});
