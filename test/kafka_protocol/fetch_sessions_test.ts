/**
 * The fetch session cache and its rules (src/kafka_protocol/fetch_sessions.ts), without sockets:
 * the session fields of a request, incremental updates, what an incremental response must carry,
 * and the bounds (eviction as Kafka's, partitions per session and in all), on a manual clock.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import {
  type FetchContext,
  FetchSessionCache,
  nextEpoch,
  SessionPartition,
} from "../../src/kafka_protocol/fetch_sessions.ts";

const EVICTION_MS = 1000;

function cache(options: Partial<ConstructorParameters<typeof FetchSessionCache>[0]> = {}) {
  const clock = new ManualClock();
  let next = 0;
  const c = new FetchSessionCache({
    clock,
    evictionMs: EVICTION_MS,
    maxSessions: 3,
    random: () => ++next,
    ...options,
  });
  return { c, clock };
}

/** A session's partitions as a full fetch's response leaves them. */
function parts(topic: string, n: number, hw = 5): SessionPartition[] {
  return Array.from({ length: n }, (_, p) => new SessionPartition(topic, p, 0, 1024, -1, hw, 0));
}

const req = (partition: number, fetchOffset: number, partitionMaxBytes = 1024) => ({
  partition,
  fetchOffset: BigInt(fetchOffset),
  partitionMaxBytes,
  logStartOffset: -1n,
});

function incremental(ctx: FetchContext) {
  assert.equal(ctx.kind, "incremental", JSON.stringify(ctx));
  return ctx as Extract<FetchContext, { kind: "incremental" }>;
}

Deno.test("fetch sessions", async (t) => {
  await t.step("epochs count up and wrap to 1; -1 stays -1", () => {
    assert.equal(nextEpoch(0), 1);
    assert.equal(nextEpoch(41), 42);
    assert.equal(nextEpoch(0x7fffffff), 1);
    assert.equal(nextEpoch(-1), -1);
  });

  await t.step(
    "epoch -1 is sessionless, epoch 0 asks for a session; both close the one named",
    () => {
      const { c } = cache();
      assert.deepEqual(c.newContext(0, -1, [], []), { kind: "full", create: false });
      assert.deepEqual(c.newContext(0, 0, [], []), { kind: "full", create: true });
      const id = c.create(parts("a", 2));
      assert.notEqual(id, 0);
      assert.equal(c.size, 1);
      assert.equal(c.partitions, 2);
      assert.deepEqual(c.newContext(id, 0, [], []), { kind: "full", create: true });
      assert.equal(c.size, 0, "a full fetch naming a session closes it");
      assert.equal(c.partitions, 0);
      const again = c.create(parts("a", 1));
      assert.deepEqual(c.newContext(again, -1, [], []), { kind: "full", create: false });
      assert.equal(c.get(again), undefined);
      assert.deepEqual(c.fetches, { sessionless: 2, full: 2, incremental: 0, session_error: 0 });
    },
  );

  await t.step("an unknown id is FETCH_SESSION_ID_NOT_FOUND, a wrong epoch INVALID_…", () => {
    const { c } = cache();
    assert.deepEqual(c.newContext(77, 1, [], []), {
      kind: "error",
      errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND,
    });
    assert.deepEqual(c.newContext(0, 3, [], []), {
      kind: "error",
      errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND,
    });
    const id = c.create(parts("a", 1));
    for (const epoch of [2, -2, 0x7fffffff]) {
      assert.deepEqual(c.newContext(id, epoch, [], []), {
        kind: "error",
        errorCode: KafkaError.INVALID_FETCH_SESSION_EPOCH,
      });
    }
    assert.ok(c.get(id), "a wrong epoch leaves the session as it was");
    assert.equal(incremental(c.newContext(id, 1, [], [])).epoch, 2);
    assert.equal(c.fetches.session_error, 5);
    assert.equal(c.fetches.incremental, 1);
  });

  await t.step("an incremental request updates, adds and forgets partitions", () => {
    const { c } = cache();
    const id = c.create(parts("a", 3));
    const ctx = incremental(
      c.newContext(id, 1, [{ topic: "a", partitions: [req(1, 9, 55)] }, {
        topic: "b",
        partitions: [req(0, 4)],
      }], [{ topic: "a", partitions: [0, 7] }]),
    );
    const s = ctx.session;
    assert.deepEqual(
      [...s.partitions.values()].map((p) => [p.topic, p.partition, p.fetchOffset, p.highWatermark]),
      [["a", 1, 9, 5], ["a", 2, 0, 5], ["b", 0, 4, -1]],
    );
    assert.equal(s.partitions.get("a\u00001")!.partitionMaxBytes, 55);
    assert.equal(c.partitions, 3);
    assert.equal(s.epoch, 2);
  });

  await t.step("forgetting every partition closes the session: answered without one", () => {
    const { c } = cache();
    const id = c.create(parts("a", 2));
    assert.deepEqual(c.newContext(id, 1, [], [{ topic: "a", partitions: [0, 1] }]), {
      kind: "full",
      create: false,
    });
    assert.equal(c.get(id), undefined);
    assert.equal(c.partitions, 0);
  });

  await t.step("what an incremental response carries (Kafka's maybeUpdateResponseData)", () => {
    const p = new SessionPartition("a", 0, 0, 1024, -1, 5, 0);
    assert.equal(p.mustRespond(0, 5, 0, 0, true), false, "nothing new");
    assert.equal(p.mustRespond(0, 5, 0, 100, true), true, "records");
    assert.equal(p.mustRespond(0, 6, 0, 0, false), true, "a new high watermark");
    assert.equal(p.highWatermark, 5, "not remembered without update");
    assert.equal(p.mustRespond(0, 6, 0, 0, true), true);
    assert.equal(p.mustRespond(0, 6, 0, 0, true), false, "told once");
    assert.equal(p.mustRespond(0, 6, 3, 0, true), true, "a new log start offset");
    assert.equal(p.mustRespond(0, 6, 3, 0, true), false);
    assert.equal(p.mustRespond(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, -1, -1, 0, true), true);
    assert.equal(p.highWatermark, -1, "an error forgets the high watermark");
    assert.equal(p.mustRespond(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, -1, -1, 0, true), true);
    assert.equal(p.mustRespond(0, 6, 3, 0, true), true, "answered again once the error is gone");
  });

  await t.step("a partition that returned records moves to the end", () => {
    const { c } = cache();
    const id = c.create(parts("a", 3));
    const s = c.get(id)!;
    s.sendToBack(s.partitions.get("a\u00000")!);
    assert.deepEqual([...s.partitions.values()].map((p) => p.partition), [1, 2, 0]);
  });

  await t.step("ids are random, non-zero and never one in use", () => {
    const draws = [0, 5, 5, 0, 6];
    const { c } = cache({ random: () => draws.shift()! });
    assert.equal(c.create(parts("a", 1)), 5);
    assert.equal(c.create(parts("a", 1)), 6);
    const real = new FetchSessionCache({ clock: new ManualClock(), maxSessions: 200 });
    const ids = new Set<number>();
    for (let i = 0; i < 200; i++) ids.add(real.create(parts("a", 1)));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.ok(Number.isInteger(id) && id > 0 && id <= 0x7fffffff);
  });

  await t.step("full: a stale session is evicted first, whatever its size", () => {
    const { c, clock } = cache();
    const big = c.create(parts("a", 50));
    clock.advance(10);
    const b = c.create(parts("a", 1));
    const d = c.create(parts("a", 1));
    clock.advance(EVICTION_MS - 5);
    incremental(c.newContext(b, 1, [], [])); // used: not stale
    incremental(c.newContext(d, 1, [], []));
    clock.advance(10); // `big` unused for more than EVICTION_MS
    const e = c.create(parts("a", 1));
    assert.notEqual(e, 0);
    assert.equal(c.get(big), undefined);
    assert.deepEqual([c.size, c.evictions, c.partitions], [3, 1, 3]);
  });

  await t.step("full: a young session is never evicted for a bigger one", () => {
    const { c, clock } = cache();
    for (let i = 0; i < 3; i++) c.create(parts("a", 1));
    clock.advance(EVICTION_MS / 2);
    assert.equal(c.create(parts("a", 100)), 0);
    assert.deepEqual([c.refused, c.evictions], [1, 0]);
  });

  await t.step("full: the smallest old session goes for a bigger one, not for an equal", () => {
    const { c, clock } = cache();
    const a = c.create(parts("a", 3));
    const b = c.create(parts("a", 2));
    const d = c.create(parts("a", 4));
    clock.advance(EVICTION_MS + 1);
    // All used again (not stale), and now old enough to be evictable.
    for (const id of [a, b, d]) incremental(c.newContext(id, 1, [], []));
    assert.equal(c.create(parts("a", 2)), 0, "2 partitions do not evict 2");
    const e = c.create(parts("a", 3));
    assert.notEqual(e, 0);
    assert.equal(c.get(b), undefined, "the 2-partition session went");
    assert.ok(c.get(a) && c.get(d));
    assert.deepEqual([c.evictions, c.refused, c.partitions], [1, 1, 10]);
  });

  await t.step("partitions per session and in all are bounded", () => {
    const { c } = cache({ maxPartitionsPerSession: 4, maxPartitionsTotal: 6 });
    assert.equal(c.create(parts("a", 5)), 0, "more than a session may hold");
    const id = c.create(parts("a", 4));
    assert.notEqual(id, 0);
    assert.equal(c.create(parts("b", 3)), 0, "more than all sessions may hold");
    const other = c.create(parts("b", 2));
    assert.notEqual(other, 0);
    // Growing past the bound closes the session: the client starts over with a full fetch.
    assert.deepEqual(c.newContext(id, 1, [{ topic: "c", partitions: [req(0, 0)] }], []), {
      kind: "error",
      errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND,
    });
    assert.equal(c.get(id), undefined);
    assert.equal(c.partitions, 2);
    // Within the bound, an update that swaps one partition for another is fine.
    const ctx = incremental(
      c.newContext(other, 1, [{ topic: "c", partitions: [req(0, 0)] }], [{
        topic: "b",
        partitions: [0],
      }]),
    );
    assert.equal(ctx.session.size, 2);
    assert.equal(c.partitions, 2);
  });
});
