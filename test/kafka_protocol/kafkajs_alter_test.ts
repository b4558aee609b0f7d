/**
 * kafkajs 2.2.4's admin client changing a topic on the real server (`src/main.ts serve` with its
 * Kafka listener): alterConfigs (AlterConfigs v1) replacing the topic's overrides, read back with
 * describeConfigs (values and sources), a refused value and validateOnly changing nothing;
 * createPartitions (CreatePartitions v1) growing the topic from 2 to 5, a smaller count refused;
 * then a new producer with kafkajs's default (Java-compatible) partitioner sends keyed records,
 * which land by murmur2 over the new count, as on Kafka. kafkajs comes from npm: nothing here is
 * skipped.
 */
import assert from "node:assert/strict";
import {
  type Admin,
  ConfigResourceTypes,
  ConfigSource,
  Kafka,
  logLevel,
  Partitioners,
} from "kafkajs";
import { DEFAULT_TOPIC_CONFIG } from "../../src/broker/topic_config.ts";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { highWatermarks } from "../http/server_harness.ts";
import { withKafkaServer } from "./kafka_harness.ts";

const TOPIC = "kjs-altered";

function client(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "kjs-alter",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/** name -> [value, source] of the topic's configs named. */
async function configs(
  admin: Admin,
  names: string[],
): Promise<Record<string, [string, number]>> {
  const described = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPIC, configNames: names }],
    includeSynonyms: false,
  });
  const r = described.resources[0];
  assert.equal(r.errorCode, 0);
  const out: Record<string, [string, number]> = {};
  for (const e of r.configEntries) {
    out[e.configName] = [e.configValue, (e as unknown as { configSource: number }).configSource];
  }
  return out;
}

/** The error a promise rejects with (it must reject). */
async function rejection(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { type?: string; message: string };
  }
  assert.fail("expected a rejection");
}

Deno.test({
  name: "kafkajs admin: alterConfigs, describeConfigs and createPartitions against the server",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await withKafkaServer({}, async (server) => {
    const kafka = client(server.bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(
        await admin.createTopics({
          topics: [{
            topic: TOPIC,
            numPartitions: 2,
            configEntries: [{ name: "max.message.bytes", value: "65536" }],
          }],
        }),
        true,
      );
      const names = ["retention.ms", "max.message.bytes", "segment.ms"];

      await t.step("alterConfigs replaces the overrides; describeConfigs shows them", async () => {
        const res = await admin.alterConfigs({
          validateOnly: false,
          resources: [{
            type: ConfigResourceTypes.TOPIC,
            name: TOPIC,
            configEntries: [
              { name: "retention.ms", value: "7200000" },
              { name: "segment.ms", value: "600000" },
            ],
          }],
        });
        assert.deepEqual(
          res.resources.map((r: { errorCode: number; resourceName: string }) => [
            r.errorCode,
            r.resourceName,
          ]),
          [[0, TOPIC]],
        );
        assert.deepEqual(await configs(admin, names), {
          "retention.ms": ["7200000", ConfigSource.TOPIC_CONFIG],
          // Left out of the new set: back to the default.
          "max.message.bytes": [
            String(DEFAULT_TOPIC_CONFIG["max.message.bytes"]),
            ConfigSource.DEFAULT_CONFIG,
          ],
          "segment.ms": ["600000", ConfigSource.TOPIC_CONFIG],
        });
      });

      await t.step("a bad value is INVALID_CONFIG; validateOnly changes nothing", async () => {
        const before = await configs(admin, names);
        const err = await rejection(admin.alterConfigs({
          validateOnly: false,
          resources: [{
            type: ConfigResourceTypes.TOPIC,
            name: TOPIC,
            configEntries: [{ name: "retention.ms", value: "soon" }],
          }],
        }));
        assert.equal(err.type, "INVALID_CONFIG", err.message);
        await admin.alterConfigs({
          validateOnly: true,
          resources: [{
            type: ConfigResourceTypes.TOPIC,
            name: TOPIC,
            configEntries: [{ name: "retention.ms", value: "1000" }],
          }],
        });
        assert.deepEqual(await configs(admin, names), before);
      });

      await t.step("createPartitions: 2 to 5; a smaller count is INVALID_PARTITIONS", async () => {
        await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 5 }] });
        const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
        assert.deepEqual(
          meta.topics[0].partitions.map((p) => [p.partitionId, p.leader]).sort((a, b) =>
            a[0] - b[0]
          ),
          [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]],
        );
        const err = await rejection(
          admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: 3 }] }),
        );
        assert.equal(err.type, "INVALID_PARTITIONS", err.message);
        const validated = await rejection(admin.createPartitions({
          validateOnly: true,
          topicPartitions: [{ topic: TOPIC, count: 5 }],
        }));
        assert.equal(validated.type, "INVALID_PARTITIONS", validated.message);
      });

      await t.step("keyed records land by murmur2 over the new count", async () => {
        const encoder = new TextEncoder();
        // Keys that hash to a partition only the new count has, and elsewhere over the old one.
        const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`).filter((k) => {
          const now = partitionForKey(encoder.encode(k), 5);
          return now >= 2 && now !== partitionForKey(encoder.encode(k), 2);
        }).slice(0, 6);
        assert.ok(keys.length >= 3, `keys for the new partitions: ${keys}`);
        const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        try {
          for (const key of keys) {
            const [sent] = await producer.send({
              topic: TOPIC,
              acks: -1,
              messages: [{ key, value: `for ${key}` }],
            });
            assert.equal(
              sent.partition,
              partitionForKey(encoder.encode(key), 5),
              `key ${key}: the partition of murmur2 over 5`,
            );
          }
        } finally {
          await producer.disconnect();
        }
        const want = [0, 0, 0, 0, 0];
        for (const key of keys) want[partitionForKey(encoder.encode(key), 5)]++;
        assert.deepEqual(await highWatermarks(server.server, TOPIC), want);
      });
    } finally {
      await admin.disconnect();
    }
  });
});
