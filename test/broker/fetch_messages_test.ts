/**
 * Broker.fetchMessages: the one read path of both fronts (src/broker/fetch_reader.ts). Limits,
 * KIP-74's first batch, the response budget, the long poll on the broker's ManualClock, and the
 * typed per-partition errors.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { FetchMessagesRequest, FetchPartition } from "../../src/broker/fetch_reader.ts";
import { ManualClock } from "../../src/clock.ts";
import { FETCH_WAIT_MS_MAX } from "../../src/limits.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

async function openBroker() {
  const clock = new ManualClock();
  const broker = await Broker.open({
    dataDir: tempDir("sluice-fetch-messages-"),
    clock,
    logger: new MemoryLogger(),
    longPollsMax: 2,
    random: () => 0.5,
  });
  return { broker, clock };
}

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
const valuesOf = (bytes: Uint8Array) =>
  decodeBatches(bytes).flatMap((b) => b.records).map((r) => text(r.value));

function part(topic: string, partition: number, fetchOffset = 0, partitionMaxBytes = 1 << 20) {
  return { topic, partition, fetchOffset, partitionMaxBytes } satisfies FetchPartition;
}

function request(
  partitions: FetchPartition[],
  more: Partial<FetchMessagesRequest> = {},
): FetchMessagesRequest {
  return { partitions, maxBytes: 1 << 20, minBytes: 1, maxWaitMs: 0, ...more };
}

/** One batch of `values` to `partition`; returns the batch's size in bytes. */
async function produceBatch(
  broker: Broker,
  topic: string,
  partition: number,
  values: string[],
): Promise<number> {
  const log = broker.topics.get(topic).logs[partition];
  const before = log.sizeBytes;
  await broker.produce(topic, values.map((v) => ({ value: utf8(v), partition })));
  return log.sizeBytes - before;
}

Deno.test("Broker.fetchMessages() limits and KIP-74", async (t) => {
  const { broker } = await openBroker();
  await broker.createTopic("t", 3, {});
  const big = "x".repeat(2000);
  const sizes: number[][] = [[], [], []];
  for (let p = 0; p < 3; p++) {
    for (let i = 0; i < 3; i++) sizes[p].push(await produceBatch(broker, "t", p, [`${p}-${i}`]));
  }
  const p2big = await produceBatch(broker, "t", 2, [big]);

  await t.step("every partition's batches, the high watermark and log start", async () => {
    const rs = await broker.fetchMessages(request([part("t", 0), part("t", 1)]));
    assert.deepEqual(rs.map((r) => valuesOf(r.records)), [["0-0", "0-1", "0-2"], [
      "1-0",
      "1-1",
      "1-2",
    ]]);
    for (const r of rs) {
      assert.equal(r.error, undefined);
      assert.equal(r.highWatermark, 3);
      assert.equal(r.logStartOffset, 0);
      assert.equal(r.nextOffset, 3);
    }
  });

  await t.step("partitionMaxBytes bounds one partition, in whole batches", async () => {
    const [r] = await broker.fetchMessages(
      request([part("t", 0, 0, sizes[0][0] + sizes[0][1] + 10)]),
    );
    assert.deepEqual(valuesOf(r.records), ["0-0", "0-1"]);
    assert.equal(r.nextOffset, 2);
  });

  await t.step(
    "maxBytes bounds the request; a partition with no room left reads nothing",
    () =>
      broker.fetchMessages(request([part("t", 0), part("t", 1)], {
        maxBytes: sizes[0][0] + sizes[0][1] + sizes[0][2],
      })).then(([a, b]) => {
        assert.deepEqual(valuesOf(a.records), ["0-0", "0-1", "0-2"]);
        assert.equal(b.records.length, 0);
        assert.equal(b.error, undefined);
        assert.equal(b.nextOffset, 0);
      }),
  );

  await t.step(
    "KIP-74: the first partition with data returns one batch past both limits",
    () =>
      broker.fetchMessages(request([part("t", 0, 3, 100), part("t", 2, 3, 100)], {
        maxBytes: 100,
      })).then(([empty, first]) => {
        assert.equal(empty.records.length, 0, "partition 0 has nothing at 3");
        assert.deepEqual(valuesOf(first.records), [big]);
        assert.equal(first.records.length, p2big);
        assert.ok(first.records.length > 100);
      }),
  );

  await t.step("a fetch offset inside a batch returns the whole batch (Kafka's)", async () => {
    await produceBatch(broker, "t", 1, ["a", "b", "c"]);
    const [r] = await broker.fetchMessages(request([part("t", 1, 4)]));
    assert.equal(decodeBatches(r.records)[0].baseOffset, 3);
    assert.equal(r.nextOffset, 6);
  });

  await t.step("a cut read is a view of what the segment read, not a copy", async () => {
    const [r] = await broker.fetchMessages(request([part("t", 0, 0, sizes[0][0])]));
    assert.equal(r.records.length, sizes[0][0]);
    assert.ok(r.records.buffer.byteLength > r.records.length);
  });

  await t.step("bytes and records out are counted once per returned record", async () => {
    const stats = broker.topics.get("t").stats;
    const before = { bytes: stats.bytesOut, records: stats.recordsOut };
    const [r] = await broker.fetchMessages(request([part("t", 1, 4)]));
    assert.equal(stats.bytesOut - before.bytes, r.records.length);
    assert.equal(stats.recordsOut - before.records, 2, "offsets 4 and 5 of the batch 3-5");
  });
  await broker.close();
});

Deno.test("Broker.fetchMessages() errors are typed and per partition", async (t) => {
  const { broker } = await openBroker();
  await broker.createTopic("t", 2, {});
  await produceBatch(broker, "t", 0, ["a"]);

  await t.step("unknown topic, unknown partition, bad name, out of range", async () => {
    const rs = await broker.fetchMessages(request([
      part("nope", 0),
      part("t", 0),
      part("t", 7),
      part("t", -1),
      part("bad/name", 0),
      part("t", 0, 99),
    ]));
    assert.deepEqual(rs.map((r) => r.error?.code), [
      "TOPIC_NOT_FOUND",
      undefined,
      "PARTITION_NOT_FOUND",
      "PARTITION_NOT_FOUND",
      "INVALID_TOPIC_NAME",
      "OFFSET_OUT_OF_RANGE",
    ]);
    assert.deepEqual(rs.map((r) => r.highWatermark), [-1, 1, -1, -1, -1, 1]);
    assert.deepEqual(rs.map((r) => r.logStartOffset), [-1, 0, -1, -1, -1, 0]);
    assert.deepEqual(valuesOf(rs[1].records), ["a"], "the others are still read");
  });

  await t.step("an error answers at once instead of waiting", async () => {
    const pending = broker.fetchMessages(
      request([part("t", 1, 0), part("nope", 0)], { maxWaitMs: 10_000 }),
    );
    assert.equal(broker.waiters.open, 0, "a wait would have started within the call");
    const rs = await pending;
    assert.equal(rs[0].records.length, 0);
    assert.equal(rs[1].error?.code, "TOPIC_NOT_FOUND");
  });

  await t.step("a topic deleted while the fetch waits is TOPIC_NOT_FOUND", async () => {
    await broker.createTopic("doomed", 1, {});
    const pending = broker.fetchMessages(request([part("doomed", 0)], { maxWaitMs: 10_000 }));
    assert.equal(broker.waiters.open, 1);
    await broker.deleteTopic("doomed");
    const [r] = await pending;
    assert.equal(r.error?.code, "TOPIC_NOT_FOUND");
    assert.equal(broker.waiters.open, 0);
  });
  await broker.close();
});

Deno.test("Broker.fetchMessages() long poll", async (t) => {
  const { broker, clock } = await openBroker();
  await broker.createTopic("t", 2, {});

  await t.step("minBytes 0 answers at once, whatever maxWaitMs says", async () => {
    const rs = await broker.fetchMessages(
      request([part("t", 0)], { minBytes: 0, maxWaitMs: 10_000 }),
    );
    assert.equal(rs[0].records.length, 0);
    assert.equal(broker.waiters.open, 0);
  });

  await t.step("an append to any of its partitions wakes it, and it reads again", async () => {
    const pending = broker.fetchMessages(
      request([part("t", 0), part("t", 1)], { maxWaitMs: 10_000 }),
    );
    assert.equal(broker.waiters.open, 1);
    await produceBatch(broker, "t", 1, ["wake"]);
    const [a, b] = await pending;
    assert.equal(a.records.length, 0);
    assert.deepEqual(valuesOf(b.records), ["wake"]);
    assert.equal(b.highWatermark, 1);
    assert.equal(broker.waiters.open, 0);
  });

  await t.step("fewer than minBytes waits out maxWaitMs and answers what is there", async () => {
    let done = false;
    const pending = broker.fetchMessages(
      request([part("t", 1, 0)], { minBytes: 1 << 20, maxWaitMs: 500 }),
    ).then((rs) => {
      done = true;
      return rs;
    });
    await produceBatch(broker, "t", 1, ["more"]);
    clock.advance(499);
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1);
    const [r] = await pending;
    assert.deepEqual(valuesOf(r.records), ["wake", "more"]);
  });

  await t.step("a wait is capped at FETCH_WAIT_MS_MAX", async () => {
    const pending = broker.fetchMessages(
      request([part("t", 0)], { maxWaitMs: Number.MAX_SAFE_INTEGER }),
    );
    assert.equal(broker.waiters.open, 1);
    clock.advance(FETCH_WAIT_MS_MAX);
    assert.equal((await pending)[0].records.length, 0);
    assert.equal(broker.waiters.open, 0);
  });

  await t.step("the signal ends a wait; it is made only for a wait", async () => {
    const abort = new AbortController();
    let asked = 0;
    const pending = broker.fetchMessages(request([part("t", 0)], {
      maxWaitMs: 10_000,
      signal: () => {
        asked++;
        return abort.signal;
      },
    }));
    assert.equal(asked, 1);
    abort.abort();
    assert.equal((await pending)[0].records.length, 0);
    await broker.fetchMessages(request([part("t", 1)], { signal: () => abort.signal }));
    assert.equal(asked, 1);
  });

  await t.step("too many waiting: `answer` answers at once, `throw` refuses", async () => {
    const waits = [0, 1].map(() =>
      broker.fetchMessages(request([part("t", 0)], { maxWaitMs: 1000 }))
    );
    const [r] = await broker.fetchMessages(
      request([part("t", 0)], { maxWaitMs: 1000, whenWaitersFull: "answer" }),
    );
    assert.equal(r.records.length, 0);
    await assert.rejects(
      broker.fetchMessages(request([part("t", 0)], { maxWaitMs: 1000 })),
      (e: unknown) => (e as { code?: string }).code === "TOO_MANY_REQUESTS",
    );
    clock.advance(1000);
    await Promise.all(waits);
  });

  await t.step("a broker shutting down answers at once", async () => {
    broker.stopWaiting();
    const [r] = await broker.fetchMessages(request([part("t", 0)], { maxWaitMs: 10_000 }));
    assert.equal(r.records.length, 0);
    assert.equal(broker.waiters.open, 0);
  });
  await broker.close();
});

Deno.test("Broker.fetchMessages() asks the budget before each read", async (t) => {
  const { broker, clock } = await openBroker();
  await broker.createTopic("t", 1, {});
  const first = await produceBatch(broker, "t", 0, ["a"]);
  await produceBatch(broker, "t", 0, ["b"]);

  const budget = (grant: (want: number) => number, overdraw = true) => {
    const asked: number[] = [];
    return {
      asked,
      budget: {
        reserve: (want: number) => {
          asked.push(want);
          return grant(want);
        },
        mayOverdraw: () => overdraw,
      },
    };
  };

  await t.step("a fetch granted less reads that much and answers at once", async () => {
    const b = budget(() => first);
    const [r] = await broker.fetchMessages(
      request([part("t", 0)], { budget: b.budget, minBytes: 1 << 20, maxWaitMs: 10_000 }),
    );
    assert.deepEqual(valuesOf(r.records), ["a"]);
    assert.deepEqual(b.asked, [1 << 20]);
    assert.equal(broker.waiters.open, 0);
  });

  await t.step("granted nothing: one batch while it may overdraw, else nothing", async () => {
    const may = budget(() => 0, true);
    const [r] = await broker.fetchMessages(request([part("t", 0)], { budget: may.budget }));
    assert.deepEqual(valuesOf(r.records), ["a"]);
    const mayNot = budget(() => 0, false);
    const pending = broker.fetchMessages(
      request([part("t", 0)], { budget: mayNot.budget, maxWaitMs: 100 }),
    );
    assert.equal(broker.waiters.open, 1, "reads nothing, then waits holding nothing");
    clock.advance(100);
    const [none] = await pending;
    assert.equal(none.records.length, 0);
    assert.deepEqual(mayNot.asked, [1 << 20, 0, 1 << 20], "all given back before the wait");
  });

  await t.step("a budget that refuses rejects the fetch", async () => {
    const refusing = {
      reserve: () => {
        throw new Error("refused");
      },
      mayOverdraw: () => false,
    };
    await assert.rejects(
      broker.fetchMessages(request([part("t", 0)], { budget: refusing })),
      /refused/,
    );
  });
  await broker.close();
});

Deno.test("Broker offsets: latest is the high watermark; timestamps", async () => {
  const { broker } = await openBroker();
  await broker.createTopic("t", 1, {});
  await produceBatch(broker, "t", 0, ["a", "b"]);
  assert.equal(broker.offsetFor("t", 0, "earliest"), 0);
  assert.equal(broker.offsetFor("t", 0, "latest"), 2);
  const hit = broker.recordAtTimestamp("t", 0, 0);
  assert.equal(hit?.offset, 0);
  assert.equal(typeof hit?.timestampMs, "number");
  assert.equal(broker.recordAtTimestamp("t", 0, Number.MAX_SAFE_INTEGER), undefined);
  assert.throws(
    () => broker.recordAtTimestamp("t", 3, 0),
    (e: unknown) => (e as { code?: string }).code === "PARTITION_NOT_FOUND",
  );
  await broker.close();
});
