/**
 * Consumer-group lag in /metrics (src/http/group_lag_metrics.ts) on a real Broker in a temp dir:
 * committed offset and lag per group, topic and partition, the per-group sum, a deleted topic's
 * commit without lag, and the bound on series (whole groups left out and counted).
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { ManualClock } from "../../src/clock.ts";
import { renderGroupLag } from "../../src/http/group_lag_metrics.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

/** The sample lines of `text` (no comments), as a map from series to value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

Deno.test("group lag metrics", async (t) => {
  const broker = await Broker.open({
    dataDir: tempDir("sluice-lag-"),
    clock: new ManualClock(),
    logger: new MemoryLogger(),
  });
  try {
    await broker.createTopic("orders", 2, {});
    await broker.createTopic("gone", 1, {});
    for (const p of [0, 1]) {
      await broker.produce(
        "orders",
        Array.from(
          { length: 10 + p },
          (_, i) => ({ key: null, value: utf8(`v${i}`), partition: p }),
        ),
      );
    }
    await broker.produce("gone", [{ key: null, value: utf8("x"), partition: 0 }]);
    await broker.offsets.commit("billing", [
      { topic: "orders", partition: 0, offset: 4 },
      { topic: "orders", partition: 1, offset: 11 },
    ]);
    await broker.offsets.commit("audit", [{ topic: "orders", partition: 0, offset: 0 }]);
    await broker.offsets.commit("old", [{ topic: "gone", partition: 0, offset: 1 }]);
    await broker.deleteTopic("gone");

    await t.step("committed offset, lag and sum per group, topic and partition", () => {
      const text = renderGroupLag(broker);
      const s = samples(text);
      const at = (g: string, topic: string, p: number) =>
        `{group="${g}",topic="${topic}",partition="${p}"}`;
      assert.equal(s.get(`sluice_consumer_group_committed_offset${at("billing", "orders", 0)}`), 4);
      assert.equal(s.get(`sluice_consumer_group_lag${at("billing", "orders", 0)}`), 6);
      assert.equal(s.get(`sluice_consumer_group_lag${at("billing", "orders", 1)}`), 0);
      assert.equal(s.get(`sluice_consumer_group_lag_sum{group="billing"}`), 6);
      assert.equal(s.get(`sluice_consumer_group_lag${at("audit", "orders", 0)}`), 10);
      assert.equal(s.get(`sluice_consumer_group_lag_sum{group="audit"}`), 10);
      // A deleted topic's commit: its offset, no lag.
      assert.equal(s.get(`sluice_consumer_group_committed_offset${at("old", "gone", 0)}`), 1);
      assert.equal(s.has(`sluice_consumer_group_lag${at("old", "gone", 0)}`), false);
      assert.equal(s.get("sluice_consumer_group_lag_partitions_omitted"), 0);
      assert.match(text, /^# TYPE sluice_consumer_group_lag gauge$/m);
    });

    await t.step("the lag follows appends and commits", async () => {
      await broker.produce("orders", [{ key: null, value: utf8("more"), partition: 1 }]);
      await broker.offsets.commit("billing", [{ topic: "orders", partition: 0, offset: 10 }]);
      const s = samples(renderGroupLag(broker));
      assert.equal(
        s.get(`sluice_consumer_group_lag{group="billing",topic="orders",partition="1"}`),
        1,
      );
      assert.equal(s.get(`sluice_consumer_group_lag_sum{group="billing"}`), 1);
    });

    await t.step("past the bound, whole groups are left out and counted", () => {
      // audit (1 partition), billing (2), old (1): a bound of 2 keeps audit, drops billing's 2
      // (they would pass it), keeps old.
      const s = samples(renderGroupLag(broker, 2));
      const groups = new Set(
        [...s.keys()].map((k) => /group="([^"]+)"/.exec(k)?.[1]).filter((g) => g !== undefined),
      );
      assert.deepEqual([...groups].sort(), ["audit", "old"]);
      assert.equal(s.get("sluice_consumer_group_lag_partitions_omitted"), 2);
      const none = samples(renderGroupLag(broker, 0));
      assert.equal(none.get("sluice_consumer_group_lag_partitions_omitted"), 4);
      assert.equal([...none.keys()].length, 1);
    });
  } finally {
    await broker.close();
  }
});
