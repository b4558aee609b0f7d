/**
 * A topic's life after creation at the broker: config overrides changed (replaced, merged,
 * validated, persisted in topic.json, applied to the running logs) and partitions added, on real
 * files, across restarts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { tempDir } from "../test_util.ts";
import { ManualClock } from "../../src/clock.ts";
import { Broker } from "../../src/broker/broker.ts";
import { parseTopicConfig } from "../../src/broker/topic_config.ts";
import { applyConfigChanges, ConfigOp } from "../../src/broker/topic_overrides.ts";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { utf8 } from "../../src/record/record_batch.ts";

async function openBroker(dir: string, clock = new ManualClock(1_000_000)) {
  return await Broker.open({
    dataDir: dir,
    clock,
    logger: new MemoryLogger(),
    topicDefaults: parseTopicConfig({ "retention.bytes": 1_000_000_000 }),
    logSettings: { retentionCheckIntervalMs: 3_600_000 },
  });
}

const code = (c: string) => (e: unknown) => isSluiceError(e) && e.code === c;
const topicJson = (dir: string, topic: string) =>
  JSON.parse(fs.readFileSync(join(dir, "topics", topic, "topic.json"), "utf8"));

Deno.test("alterTopicConfig: overrides replaced or merged, checked, persisted, applied", async (t) => {
  const dir = tempDir("sluice-alter-");
  const clock = new ManualClock(1_000_000);
  let broker = await openBroker(dir, clock);
  try {
    await broker.createTopic("events", 1, { "retention.ms": "3600000" });

    await t.step("created: only what was set is an override; the rest follows defaults", () => {
      const topic = broker.topics.get("events");
      assert.deepEqual(topic.meta.overrides, { "retention.ms": "3600000" });
      assert.equal(topic.config["retention.bytes"], 1_000_000_000, "the server's default");
      const file = topicJson(dir, "events");
      assert.equal(file.version, 2);
      assert.deepEqual(file.config, { "retention.ms": "3600000" });
    });

    await t.step("a bad key or value changes nothing, on disk or in the log", async () => {
      const before = fs.readFileSync(join(dir, "topics", "events", "topic.json"), "utf8");
      await assert.rejects(
        broker.alterTopicConfig("events", () => ({ "retention.mss": "1" })),
        code("INVALID_CONFIG"),
      );
      await assert.rejects(
        broker.alterTopicConfig("events", (c) => ({ ...c, "segment.bytes": "12" })),
        code("INVALID_CONFIG"),
      );
      assert.equal(fs.readFileSync(join(dir, "topics", "events", "topic.json"), "utf8"), before);
      assert.equal(broker.topics.get("events").logs[0].config.retentionMs, 3_600_000);
    });

    await t.step("validateOnly checks and changes nothing", async () => {
      await broker.alterTopicConfig("events", () => ({ "retention.ms": "60000" }), {
        validateOnly: true,
      });
      assert.equal(broker.topics.get("events").config["retention.ms"], 3_600_000);
    });

    await t.step("a new segment.bytes rolls the running log at its next append", async () => {
      await broker.alterTopicConfig("events", (c) => ({ ...c, "segment.bytes": "16384" }));
      const log = broker.topics.get("events").logs[0];
      assert.equal(log.config.segmentBytes, 16_384);
      const value = new Uint8Array(1000);
      for (let i = 0; i < 40; i++) await broker.produce("events", [{ value, partition: 0 }]);
      assert.ok(log.segments().length >= 2, `${log.segments().length} segments`);
    });

    await t.step(
      "a shorter retention.ms deletes expired segments soon, not at the next check",
      async () => {
        const log = broker.topics.get("events").logs[0];
        const segments = log.segments().length;
        clock.advance(120_000); // every record is now two minutes old
        await broker.alterTopicConfig("events", (c) => ({ ...c, "retention.ms": "60000" }));
        clock.advance(0); // the retention run the change scheduled
        for (let i = 0; i < 100 && log.segments().length === segments; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(log.segments().length, 1, "only the active segment is left");
        assert.ok(log.logStartOffset > 0);
      },
    );

    await t.step("AlterConfigs' whole set: a key left out goes back to its default", async () => {
      await broker.alterTopicConfig("events", () => ({ "max.message.bytes": "2000" }));
      const topic = broker.topics.get("events");
      assert.deepEqual(topic.meta.overrides, { "max.message.bytes": "2000" });
      assert.equal(topic.config["retention.ms"], 604_800_000, "Kafka's 7 days again");
      assert.equal(topic.config["segment.bytes"], 1_073_741_824);
      await assert.rejects(
        broker.produce("events", [{ value: new Uint8Array(3000), partition: 0 }]),
        code("RECORD_TOO_LARGE"),
      );
    });

    await t.step("survives a restart: overrides and effective values as they were", async () => {
      await broker.close();
      broker = await openBroker(dir, clock);
      const topic = broker.topics.get("events");
      assert.deepEqual(topic.meta.overrides, { "max.message.bytes": "2000" });
      assert.equal(topic.logs[0].config.maxMessageBytes, 2000);
    });
  } finally {
    await broker.close();
  }
});

Deno.test("a topic.json from before overrides were kept reads as its non-default keys", async () => {
  const dir = tempDir("sluice-alter-old-");
  let broker = await openBroker(dir);
  await broker.createTopic("old", 1, {});
  await broker.close();
  // The layout every earlier Sluice wrote: every key filled in, no version.
  const file = topicJson(dir, "old");
  const filled = { ...parseTopicConfig({ "retention.ms": 5000 }) };
  fs.writeFileSync(
    join(dir, "topics", "old", "topic.json"),
    JSON.stringify({ name: "old", partitions: 1, config: filled, createdMs: 1, id: file.id }),
  );
  broker = await openBroker(dir);
  try {
    const topic = broker.topics.get("old");
    assert.deepEqual(topic.meta.overrides, { "retention.ms": "5000" });
    assert.equal(topic.meta.id, file.id);
  } finally {
    await broker.close();
  }
});

Deno.test("IncrementalAlterConfigs' operations", async (t) => {
  await t.step("SET, DELETE, APPEND and SUBTRACT on a list", () => {
    const next = applyConfigChanges({ "retention.ms": "1", "segment.ms": "9" }, [
      { name: "retention.ms", op: ConfigOp.SET, value: "2" },
      { name: "segment.ms", op: ConfigOp.DELETE, value: null },
      { name: "cleanup.policy", op: ConfigOp.APPEND, value: "delete" },
    ]);
    assert.deepEqual(next, { "retention.ms": "2", "cleanup.policy": "delete" });
    const less = applyConfigChanges(next, [
      { name: "cleanup.policy", op: ConfigOp.SUBTRACT, value: "delete" },
    ]);
    assert.equal(less["cleanup.policy"], "");
  });
  await t.step("refused: APPEND to a non-list, a key twice, a null SET, an unknown op", () => {
    assert.throws(
      () => applyConfigChanges({}, [{ name: "retention.ms", op: ConfigOp.APPEND, value: "1" }]),
      code("INVALID_CONFIG"),
    );
    assert.throws(
      () =>
        applyConfigChanges({}, [
          { name: "retention.ms", op: ConfigOp.SET, value: "1" },
          { name: "retention.ms", op: ConfigOp.DELETE, value: null },
        ]),
      code("INVALID_REQUEST"),
    );
    assert.throws(
      () => applyConfigChanges({}, [{ name: "retention.ms", op: ConfigOp.SET, value: null }]),
      code("INVALID_REQUEST"),
    );
    assert.throws(
      () => applyConfigChanges({}, [{ name: "retention.ms", op: 7, value: "1" }]),
      code("INVALID_REQUEST"),
    );
  });
});

Deno.test("createPartitions: more partitions, keyed placement over the new count", async (t) => {
  const dir = tempDir("sluice-partitions-");
  let broker = await openBroker(dir);
  try {
    await broker.createTopic("orders", 2, {});
    await broker.produce("orders", [{ key: utf8("k"), value: utf8("before") }]);

    await t.step(
      "fewer, as many, or not an integer: INVALID_PARTITIONS, nothing made",
      async () => {
        for (const count of [1, 2, 2.5, 100_000]) {
          await assert.rejects(
            broker.createPartitions("orders", count),
            code("INVALID_PARTITIONS"),
          );
        }
        await broker.createPartitions("orders", 6, { validateOnly: true });
        assert.equal(broker.topics.get("orders").logs.length, 2);
        assert.equal(fs.existsSync(join(dir, "topics", "orders", "2")), false);
      },
    );

    await t.step("grown to 5: new logs, topic.json, keyed records hash over 5", async () => {
      // A directory left by a create that crashed before topic.json said so: not reused as is.
      fs.mkdirSync(join(dir, "topics", "orders", "3"));
      fs.writeFileSync(join(dir, "topics", "orders", "3", "stray"), "x");
      const topic = await broker.createPartitions("orders", 5);
      assert.equal(topic.logs.length, 5);
      assert.equal(topicJson(dir, "orders").partitions, 5);
      assert.equal(fs.existsSync(join(dir, "topics", "orders", "3", "stray")), false);
      const keys = Array.from({ length: 20 }, (_, i) => utf8(`key-${i}`));
      const offsets = await broker.produce("orders", keys.map((key) => ({ key, value: key })));
      offsets.forEach((o, i) => assert.equal(o.partition, partitionForKey(keys[i], 5)));
      assert.ok(offsets.some((o) => o.partition >= 2), "some land on the new partitions");
    });

    await t.step("survives a restart with the records of old and new partitions", async () => {
      const ends = broker.topics.get("orders").logs.map((l) => l.logEndOffset);
      await broker.close();
      broker = await openBroker(dir);
      assert.deepEqual(broker.topics.get("orders").logs.map((l) => l.logEndOffset), ends);
    });
  } finally {
    await broker.close();
  }
});
