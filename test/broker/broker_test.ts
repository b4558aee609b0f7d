import assert from "node:assert/strict";
import { tempDir } from "../test_util.ts";
import { ManualClock } from "../../src/clock.ts";
import { Broker } from "../../src/broker/broker.ts";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { decodeBatches, utf8 } from "../../src/record/record_batch.ts";

async function openBroker(clock = new ManualClock(), dataDir?: string) {
  const dir = dataDir ?? tempDir("sluice-broker-");
  const broker = await Broker.open({
    dataDir: dir,
    clock,
    logger: new MemoryLogger(),
    longPollsMax: 3,
    random: () => 0.5,
  });
  return { broker, dir, clock };
}

const code = (c: string) => (e: unknown) => isSluiceError(e) && e.code === c;
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

Deno.test("Broker.produce()", async (t) => {
  const { broker } = await openBroker();
  await broker.createTopic("orders", 6, {});

  await t.step(
    "keyed records go to murmur2(key) % partitions, offsets in request order",
    async () => {
      const keys = Array.from({ length: 60 }, (_, i) => `customer-${i % 20}`);
      const offsets = await broker.produce(
        "orders",
        keys.map((k, i) => ({ key: utf8(k), value: utf8(`v${i}`) })),
      );
      const next = new Map<number, number>();
      offsets.forEach((o, i) => {
        assert.equal(o.partition, partitionForKey(utf8(keys[i]), 6));
        assert.equal(o.offset, next.get(o.partition) ?? 0, "contiguous per partition, in order");
        next.set(o.partition, o.offset + 1);
      });
      // Per-key order: within a partition, a key's values come back in the order produced.
      const p = offsets[0].partition;
      const got = await broker.fetch("orders", p, { offset: 0, maxBytes: 1 << 20 });
      const values = decodeBatches(got.bytes).flatMap((b) => b.records)
        .filter((r) => text(r.key) === keys[0]).map((r) => text(r.value));
      assert.deepEqual(values, ["v0", "v20", "v40"]);
    },
  );

  await t.step("unkeyed records of one request share one partition; the next moves", async () => {
    const first = await broker.produce("orders", [{ value: utf8("a") }, { value: utf8("b") }]);
    assert.equal(first[0].partition, first[1].partition);
    const second = await broker.produce("orders", [{ value: utf8("c") }]);
    assert.notEqual(second[0].partition, first[0].partition);
  });

  await t.step("an explicit partition wins; an unknown one writes nothing", async () => {
    const before = broker.topics.get("orders").logs.map((l) => l.logEndOffset);
    const [o] = await broker.produce("orders", [{
      key: utf8("customer-1"),
      value: null,
      partition: 4,
    }]);
    assert.equal(o.partition, 4);
    await assert.rejects(
      broker.produce("orders", [{ value: utf8("x"), partition: 0 }, {
        value: utf8("y"),
        partition: 6,
      }]),
      code("PARTITION_NOT_FOUND"),
    );
    const after = broker.topics.get("orders").logs.map((l) => l.logEndOffset);
    assert.deepEqual(after, before.map((n, p) => (p === 4 ? n + 1 : n)));
  });

  await t.step(
    "a batch over max.message.bytes is refused before anything is appended",
    async () => {
      await broker.createTopic("small", 2, { "max.message.bytes": 1000 });
      await assert.rejects(
        broker.produce("small", [
          { value: utf8("fits"), partition: 0 },
          { value: new Uint8Array(2000), partition: 1 },
        ]),
        code("RECORD_TOO_LARGE"),
      );
      assert.deepEqual(broker.topics.get("small").logs.map((l) => l.logEndOffset), [0, 0]);
    },
  );

  await t.step("lz4 topics store LZ4 batches that read back the same", async () => {
    await broker.createTopic("packed", 1, { "compression.type": "lz4" });
    await broker.produce("packed", [{ value: utf8("x".repeat(5000)) }]);
    const got = await broker.fetch("packed", 0, { offset: 0, maxBytes: 1 << 20 });
    const [batch] = decodeBatches(got.bytes);
    assert.equal(batch.compression, 3);
    assert.ok(got.bytes.length < 1000, `compressed to ${got.bytes.length} bytes`);
    assert.equal(text(batch.records[0].value), "x".repeat(5000));
  });
  await broker.close();
});

Deno.test("Broker.fetch() long poll", async (t) => {
  const { broker, clock } = await openBroker();
  await broker.createTopic("events", 1, {});

  await t.step("returns as soon as an append brings data", async () => {
    const pending = broker.fetch("events", 0, {
      offset: "latest",
      maxBytes: 1 << 20,
      maxWaitMs: 10_000,
    });
    assert.equal(broker.waiters.open, 1);
    await broker.produce("events", [{ value: utf8("wake") }]);
    const got = await pending;
    assert.equal(text(decodeBatches(got.bytes)[0].records[0].value), "wake");
    assert.equal(got.nextOffset, 1);
    assert.equal(broker.waiters.open, 0);
  });

  await t.step("returns empty after maxWaitMs on the broker's clock", async () => {
    let done = false;
    const pending = broker.fetch("events", 0, { offset: 1, maxBytes: 1024, maxWaitMs: 500 })
      .then((r) => {
        done = true;
        return r;
      });
    clock.advance(499);
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1);
    const got = await pending;
    assert.equal(got.bytes.length, 0);
    assert.equal(got.nextOffset, 1);
  });

  await t.step("waits for minBytes across several appends", async () => {
    const pending = broker.fetch("events", 0, {
      offset: 1,
      maxBytes: 1 << 20,
      maxWaitMs: 10_000,
      minBytes: 300,
    });
    await broker.produce("events", [{ value: utf8("a") }]); // ~70 bytes: not enough
    assert.equal(broker.waiters.open, 1);
    await broker.produce("events", [{ value: new Uint8Array(400) }]);
    const got = await pending;
    assert.equal(decodeBatches(got.bytes).length, 2);
  });

  await t.step("refuses a waiter beyond the bound with TOO_MANY_REQUESTS", async () => {
    const waits = [1, 2, 3].map(() =>
      broker.fetch("events", 0, { offset: "latest", maxBytes: 1024, maxWaitMs: 1000 })
    );
    await assert.rejects(
      broker.fetch("events", 0, { offset: "latest", maxBytes: 1024, maxWaitMs: 1000 }),
      code("TOO_MANY_REQUESTS"),
    );
    clock.advance(1000);
    await Promise.all(waits);
  });

  await t.step("a waiter on a deleted topic gets TOPIC_NOT_FOUND", async () => {
    await broker.createTopic("doomed", 1, {});
    const pending = broker.fetch("doomed", 0, { offset: 0, maxBytes: 1024, maxWaitMs: 10_000 });
    await broker.deleteTopic("doomed");
    await assert.rejects(pending, code("TOPIC_NOT_FOUND"));
    assert.equal(broker.waiters.open, 0);
  });

  await t.step("an aborted client stops waiting", async () => {
    const abort = new AbortController();
    const pending = broker.fetch("events", 0, {
      offset: "latest",
      maxBytes: 1024,
      maxWaitMs: 10_000,
      signal: abort.signal,
    });
    abort.abort();
    assert.equal((await pending).bytes.length, 0);
    assert.equal(broker.waiters.open, 0);
  });
  await broker.close();
});

Deno.test("Broker topics", async (t) => {
  await t.step("invalid names are refused and never become paths", async () => {
    const { broker, dir } = await openBroker();
    for (const name of ["", ".", "..", "../x", "a/b", "x".repeat(250), "a b", "é", "%2e%2e"]) {
      await assert.rejects(broker.createTopic(name, 1, {}), code("INVALID_TOPIC_NAME"), name);
      assert.throws(() => broker.topics.get(name), code("INVALID_TOPIC_NAME"));
    }
    assert.deepEqual([...Deno.readDirSync(`${dir}/topics`)], []);
    await broker.close();
  });

  await t.step("topics, configs and records survive a close and reopen", async () => {
    const { broker, dir } = await openBroker();
    await broker.createTopic("kept", 3, { "retention.ms": "3600000", "flush.policy": "always" });
    await broker.produce("kept", [{ key: utf8("k"), value: utf8("v") }]);
    await assert.rejects(broker.createTopic("kept", 1, {}), code("TOPIC_EXISTS"));
    await broker.close();
    const { broker: again } = await openBroker(new ManualClock(), dir);
    const topic = again.topics.get("kept");
    assert.equal(topic.logs.length, 3);
    assert.equal(topic.config["retention.ms"], 3_600_000);
    assert.equal(topic.config["flush.policy"], "always");
    const p = partitionForKey(utf8("k"), 3);
    const got = await again.fetch("kept", p, { offset: "earliest", maxBytes: 1024 });
    assert.equal(text(decodeBatches(got.bytes)[0].records[0].value), "v");
    await again.deleteTopic("kept");
    assert.throws(() => again.topics.get("kept"), code("TOPIC_NOT_FOUND"));
    assert.equal(Deno.statSync(`${dir}/topics`).isDirectory, true);
    assert.deepEqual([...Deno.readDirSync(`${dir}/topics`)], []);
    await again.close();
  });

  await t.step("bad configs are refused with INVALID_CONFIG", async () => {
    const { broker } = await openBroker();
    for (
      const config of [
        { "retention.ms": "soon" },
        { "no.such.key": 1 },
        {
          "cleanup.policy": "compact,shred",
        },
        { "cleanup.policy": "" },
        { "min.compaction.lag.ms": 10, "max.compaction.lag.ms": 5 },
      ]
    ) {
      await assert.rejects(broker.createTopic("cfg", 1, config), code("INVALID_CONFIG"));
    }
    await assert.rejects(broker.createTopic("cfg", 0, {}), code("INVALID_REQUEST"));
    await assert.rejects(broker.createTopic("cfg", 1.5, {}), code("INVALID_REQUEST"));
    assert.deepEqual(broker.topics.list(), []);
    await broker.close();
  });
});
