/**
 * The statistics stream's sampler (src/http/stats_stream.ts) on a real Broker in a temp dir, with
 * explicit times: rates from two readings of the topics' counters, null for the first reading and
 * for a re-created topic, the busiest topics first, the bounds on topics, groups and group
 * partitions (left out and counted), and the filter by a principal's rights.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { ManualClock } from "../../src/clock.ts";
import { StatsSampler } from "../../src/http/stats_stream.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

function produce(broker: Broker, topic: string, n: number, partition = 0) {
  return broker.produce(
    topic,
    Array.from({ length: n }, (_, i) => ({ key: null, value: utf8(`v${i}`), partition })),
  );
}

Deno.test("stats sampler: rates, order, bounds, rights", async (t) => {
  const broker = await Broker.open({
    dataDir: tempDir("sluice-stats-sampler-"),
    clock: new ManualClock(),
    logger: new MemoryLogger(),
  });
  try {
    for (const name of ["a", "b", "c"]) await broker.createTopic(name, 2, {});
    await produce(broker, "a", 5);

    await t.step("rates over the time between two readings; null at first", async () => {
      const s = new StatsSampler(broker, undefined, undefined);
      const first = s.next(1_000);
      assert.equal(first.intervalMs, 0);
      assert.deepEqual(first.topics.map((x) => x.produceRecords), [null, null, null]);
      await produce(broker, "b", 30);
      await produce(broker, "c", 10);
      const second = s.next(3_000); // 2 s later
      assert.equal(second.intervalMs, 2_000);
      assert.deepEqual(
        second.topics.map((x) => [x.topic, x.produceRecords]),
        [["b", 15], ["c", 5], ["a", 0]],
        "the busiest first",
      );
      const b = second.topics[0];
      assert.ok(b.produceBytes! > 15, "bytes/s");
      assert.equal(b.fetchRecords, 0);
      await broker.fetch("b", 0, { offset: 0, maxBytes: 1 << 20, maxWaitMs: 0 });
      const third = s.next(4_000);
      assert.equal(third.topics.find((x) => x.topic === "b")?.fetchRecords, 30);
      assert.equal(third.topics.find((x) => x.topic === "b")?.produceRecords, 0);
    });

    await t.step(
      "a topic deleted and re-created has no rate until its second reading",
      async () => {
        const s = new StatsSampler(broker, undefined, undefined);
        s.next(10_000);
        await broker.deleteTopic("c");
        await broker.createTopic("c", 1, {});
        await produce(broker, "c", 3);
        const e = s.next(11_000);
        assert.equal(e.topics.find((x) => x.topic === "c")?.produceRecords, null);
        await produce(broker, "c", 4);
        assert.equal(s.next(12_000).topics.find((x) => x.topic === "c")?.produceRecords, 4);
      },
    );

    await broker.offsets.commit("g1", [
      { topic: "a", partition: 0, offset: 1 },
      { topic: "a", partition: 1, offset: 0 },
    ]);
    await broker.offsets.commit("g2", [{ topic: "b", partition: 0, offset: 10 }]);
    await broker.offsets.commit("g3", [
      { topic: "a", partition: 0, offset: 0 },
      { topic: "b", partition: 0, offset: 0 },
    ]);

    await t.step("bounds: topics, groups and group partitions left out are counted", () => {
      const topicsMax = new StatsSampler(broker, undefined, undefined, {
        topicsMax: 2,
        groupsMax: 100,
        groupPartitionsMax: 100,
      }).next(1);
      assert.equal(topicsMax.topics.length, 2);
      assert.equal(topicsMax.topicsOmitted, 1);

      const groupsMax = new StatsSampler(broker, undefined, undefined, {
        topicsMax: 100,
        groupsMax: 2,
        groupPartitionsMax: 100,
      }).next(1);
      assert.deepEqual(groupsMax.groups.map((g) => g.group), ["g1", "g2"]);
      assert.equal(groupsMax.groupsOmitted, 1);
      assert.equal(groupsMax.groupPartitionsOmitted, 2);

      // Whole groups only: g1 (2 rows) fits, g2 (1) fits, g3 (2) would pass 4.
      const rowsMax = new StatsSampler(broker, undefined, undefined, {
        topicsMax: 100,
        groupsMax: 100,
        groupPartitionsMax: 4,
      }).next(1);
      assert.deepEqual(rowsMax.groups.map((g) => g.group), ["g1", "g2"]);
      assert.equal(rowsMax.groupPartitionsOmitted, 2);
      const g1 = rowsMax.groups[0];
      assert.deepEqual(g1.partitions, [
        { topic: "a", partition: 0, offset: 1, lag: 4 },
        { topic: "a", partition: 1, offset: 0, lag: 0 },
      ]);
      assert.equal(g1.lagSum, 4);
    });

    await t.step("a principal sees its topics, groups and their partitions only", () => {
      const principal = {
        name: "reader",
        rules: [
          { topic: "a", ops: ["read" as const] },
          { group: "g3", ops: ["read" as const] },
          { group: "g2", ops: ["write" as const] }, // not a right to see it
        ],
      };
      const e = new StatsSampler(broker, principal, undefined).next(1);
      assert.deepEqual(e.topics.map((x) => x.topic), ["a"]);
      assert.deepEqual(e.groups.map((g) => g.group), ["g3"]);
      assert.deepEqual(e.groups[0].partitions.map((p) => p.topic), ["a"]);
      assert.equal(e.groups[0].lagSum, 5, "the lag of what it sees");
      const one = new StatsSampler(broker, undefined, "g2").next(1);
      assert.deepEqual(one.groups.map((g) => g.group), ["g2"]);
      const unknown = new StatsSampler(broker, undefined, "nope").next(1);
      assert.deepEqual(unknown.groups, []);
    });
  } finally {
    await broker.close();
  }
});
