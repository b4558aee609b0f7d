/**
 * GroupCoordinator (group_coordinator.ts) on a real Broker in a temp dir, time on a ManualClock:
 * membership and rebalances, session timeouts, delivery (exactly once without failures,
 * at-least-once across a crashed member), commit refusals, fair member fetches, long polls, and
 * what survives a broker restart.
 */
import assert from "node:assert/strict";
import { rangeAssign, type TopicPartition } from "../../src/broker/groups/assignors.ts";
import { Broker } from "../../src/broker/broker.ts";
import type { JoinRequest, MemberFetchResult } from "../../src/broker/groups/coordinator.ts";
import { ManualClock, type Timer } from "../../src/clock.ts";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

/** A ManualClock that counts the timers set and refuses more than `limit` (a timer storm). */
class CountingClock extends ManualClock {
  timersSet = 0;
  limit = Infinity;
  override setTimer(fn: () => void, delayMs: number): Timer {
    if (++this.timersSet > this.limit) throw new Error(`more than ${this.limit} timers set`);
    return super.setTimer(fn, delayMs);
  }
}

async function openBroker(clock: ManualClock = new ManualClock(), dataDir?: string) {
  const dir = dataDir ?? tempDir("sluice-groups-");
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: dir, clock, logger, random: () => 0.5 });
  return { broker, dir, clock, logger };
}

const code = (c: string) => (e: unknown) => isSluiceError(e) && e.code === c;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const name = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

interface Consumed {
  topic: string;
  partition: number;
  offset: number;
  value: string;
}

/** The records of a member fetch, from each part's fromOffset on. */
function recordsOf(result: MemberFetchResult): Consumed[] {
  return result.parts.flatMap((part) =>
    decodeBatches(part.bytes).flatMap((b) => b.records)
      .filter((r) => r.offset >= part.fromOffset)
      .map((r) => ({
        topic: part.topic,
        partition: part.partition,
        offset: r.offset,
        value: new TextDecoder().decode(r.value!),
      }))
  );
}

/** The commit that follows processing `records`: per partition, the offset after the last one. */
function nextOffsets(records: readonly Consumed[]) {
  const next = new Map<string, { topic: string; partition: number; offset: number }>();
  for (const r of records) {
    const k = `${r.topic}/${r.partition}`;
    const offset = Math.max(next.get(k)?.offset ?? 0, r.offset + 1);
    next.set(k, { topic: r.topic, partition: r.partition, offset });
  }
  return [...next.values()];
}

/** Produces `count` keyed records with values `${prefix}-${i}`. */
async function produceMany(broker: Broker, topic: string, prefix: string, count: number) {
  const offsets = await broker.produce(
    topic,
    Array.from({ length: count }, (_, i) => ({
      key: utf8(`key-${i % 37}`),
      value: utf8(`${prefix}-${i}`),
    })),
  );
  return offsets.length;
}

/** Each member's current assignment, from a heartbeat (which also keeps it alive). */
function assignments(broker: Broker, group: string, members: readonly string[]) {
  return members.map((m) => broker.groups.heartbeat(group, m).assignment);
}

/** Asserts the assignments are disjoint and cover exactly `expected` partitions. */
function assertCovers(assignments: TopicPartition[][], expected: string[], what: string) {
  const all = assignments.flat().map(name);
  assert.equal(new Set(all).size, all.length, `${what}: no partition is owned twice: ${all}`);
  assert.deepEqual(all.sort(), [...expected].sort(), `${what}: every partition is owned`);
}

const partitionsOf = (topic: string, n: number) =>
  Array.from({ length: n }, (_, p) => `${topic}/${p}`);

/**
 * Consumes with every member in turn (fetch, then commit what it got) until a full round brings
 * nothing, returning every record delivered. Each member commits right after processing.
 */
async function consumeAll(
  broker: Broker,
  group: string,
  members: readonly string[],
  maxBytes = 2048,
): Promise<Consumed[]> {
  const out: Consumed[] = [];
  for (let round = 0; round < 10_000; round++) {
    let got = 0;
    for (const m of members) {
      const result = await broker.groups.fetch(group, m, { maxBytes, maxWaitMs: 0 });
      const records = recordsOf(result);
      got += records.length;
      out.push(...records);
      if (records.length > 0) {
        await broker.groups.commit(group, {
          memberId: m,
          generation: result.generation,
          offsets: nextOffsets(records),
        });
      }
    }
    if (got === 0) return out;
  }
  throw new Error("consumeAll: too many rounds");
}

/** Asserts every record of `topic` (partitions 0..n-1, up to each log end) appears exactly once. */
function assertExactlyOnce(
  broker: Broker,
  topic: string,
  records: readonly Consumed[],
  what: string,
) {
  const seen = new Map<string, number>();
  for (const r of records) {
    const k = `${r.topic}/${r.partition}@${r.offset}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const dup = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(dup, [], `${what}: records delivered more than once`);
  const logs = broker.topics.get(topic).logs;
  const missing: string[] = [];
  logs.forEach((log, p) => {
    for (let o = 0; o < log.logEndOffset; o++) {
      if (!seen.has(`${topic}/${p}@${o}`)) missing.push(`${topic}/${p}@${o}`);
    }
  });
  assert.deepEqual(missing.slice(0, 20), [], `${what}: ${missing.length} records never delivered`);
  assert.equal(records.length, logs.reduce((n, l) => n + l.logEndOffset, 0), what);
}

const EARLIEST: JoinRequest = { topics: ["orders"], autoOffsetReset: "earliest" };

Deno.test("GroupCoordinator membership and rebalances", async (t) => {
  const { broker, clock } = await openBroker();
  await broker.createTopic("orders", 6, {});
  const groups = broker.groups;
  const all = partitionsOf("orders", 6);

  await t.step("3 members on a 6-partition topic get 2 partitions each", async () => {
    const a = await groups.join("three", EARLIEST);
    assert.equal(a.generation, 1);
    assert.deepEqual(a.assignment.map(name), all, "a lone member owns every partition");
    const b = await groups.join("three", EARLIEST);
    const c = await groups.join("three", EARLIEST);
    assert.equal(c.generation, 3, "each join is a new generation");
    const ids = [a.memberId, b.memberId, c.memberId];
    const got = assignments(broker, "three", ids);
    assert.deepEqual(got.map((x) => x.length), [2, 2, 2]);
    assertCovers(got, all, "3 members");
    // The coordinator runs the range assignor over memberId order.
    const expected = rangeAssign(
      ids.map((memberId) => ({ memberId, topics: ["orders"] })),
      () => 6,
    );
    ids.forEach((id, i) => assert.deepEqual(got[i], expected.get(id), id));
  });

  await t.step("heartbeats say rebalance once per change of generation", async () => {
    const a = await groups.join("hb", EARLIEST);
    assert.equal(groups.heartbeat("hb", a.memberId).rebalance, false, "join saw generation 1");
    const b = await groups.join("hb", EARLIEST);
    const first = groups.heartbeat("hb", a.memberId);
    assert.equal(first.rebalance, true);
    assert.equal(first.generation, 2);
    assert.equal(first.assignment.length, 3);
    assert.equal(groups.heartbeat("hb", a.memberId).rebalance, false, "seen now");
    assert.equal(groups.heartbeat("hb", b.memberId).rebalance, false, "b joined at 2");
  });

  await t.step("one of 3 leaves: the other two cover all 6", async () => {
    const ids = groups.describe("three").members.map((m) => m.memberId);
    assert.equal(ids.length, 3);
    await groups.leave("three", ids[2]);
    const d = groups.describe("three");
    assert.equal(d.generation, 4);
    assert.equal(d.members.length, 2);
    const got = assignments(broker, "three", ids.slice(0, 2));
    assert.deepEqual(got.map((x) => x.length), [3, 3]);
    assertCovers(got, all, "after a leave");
    assert.throws(() => groups.heartbeat("three", ids[2]), code("MEMBER_NOT_FOUND"));
    await assert.rejects(groups.leave("three", ids[2]), code("MEMBER_NOT_FOUND"));
  });

  await t.step("members beyond the partition count stay idle", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await groups.join("crowd", EARLIEST)).memberId);
    const got = assignments(broker, "crowd", ids);
    assertCovers(got, all, "8 members");
    assert.equal(got.filter((x) => x.length === 0).length, 2, "two idle members");
    assert.ok(got.every((x) => x.length <= 1));
    for (const id of ids) await groups.leave("crowd", id);
    assert.equal(groups.describe("crowd").state, "Empty");
  });

  await t.step(
    "a member silent past its session timeout (default 10 s) is evicted; its partitions move",
    async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await groups.join("timeout", EARLIEST)).memberId);
      const [a, b, silent] = ids;
      const before = groups.describe("timeout").generation;
      clock.advance(6_000);
      groups.heartbeat("timeout", a);
      groups.heartbeat("timeout", b);
      clock.advance(3_999);
      assert.equal(groups.describe("timeout").members.length, 3, "9,999 ms: still a member");
      clock.advance(1);
      await tick(); // the eviction stores the new membership
      const d = groups.describe("timeout");
      assert.deepEqual(d.members.map((m) => m.memberId).sort(), [a, b].sort(), "10 s: evicted");
      assert.equal(d.generation, before + 1);
      const got = assignments(broker, "timeout", [a, b]);
      assert.deepEqual(got.map((x) => x.length), [3, 3]);
      assertCovers(got, all, "after the eviction");
      assert.throws(() => groups.heartbeat("timeout", silent), code("MEMBER_NOT_FOUND"));
      await assert.rejects(
        groups.commit("timeout", {
          memberId: silent,
          generation: before,
          offsets: [{ topic: "orders", partition: 0, offset: 0 }],
        }),
        code("MEMBER_NOT_FOUND"),
      );
      // Heartbeats keep the others: 10 s after their last one, they go too.
      clock.advance(9_999);
      assert.equal(groups.describe("timeout").members.length, 2);
      clock.advance(1);
      await tick();
      assert.equal(groups.describe("timeout").members.length, 0);
      assert.equal(groups.describe("timeout").state, "Empty");
    },
  );

  await t.step("a join is refused for bad input and changes nothing", async () => {
    await assert.rejects(groups.join("bad", { topics: ["nope"] }), code("TOPIC_NOT_FOUND"));
    await assert.rejects(groups.join("bad", { topics: [] }), code("INVALID_REQUEST"));
    await assert.rejects(
      groups.join("bad", { topics: ["orders"], sessionTimeoutMs: 99 }),
      code("INVALID_REQUEST"),
    );
    await assert.rejects(
      groups.join("bad", { topics: ["orders"], sessionTimeoutMs: 30 * 60 * 1000 + 1 }),
      code("INVALID_REQUEST"),
    );
    await assert.rejects(groups.join("bad/../x", { topics: ["orders"] }), code("INVALID_REQUEST"));
    await assert.rejects(groups.join("", { topics: ["orders"] }), code("INVALID_REQUEST"));
    assert.throws(() => groups.describe("bad"), code("GROUP_NOT_FOUND"));
    const a = await groups.join("rr", { topics: ["orders"], assignor: "roundrobin" });
    await assert.rejects(
      groups.join("rr", { topics: ["orders"], assignor: "range" }),
      code("INVALID_REQUEST"),
      "a group keeps one assignor while it has members",
    );
    assert.equal(groups.describe("rr").members.length, 1);
    await groups.leave("rr", a.memberId);
  });

  await broker.close();
});

Deno.test("GroupCoordinator session expiry during long polls", async (t) => {
  const clock = new CountingClock();
  const { broker, logger } = await openBroker(clock);
  await broker.createTopic("orders", 2, {});
  const groups = broker.groups;

  await t.step("a member waiting in a long poll is alive, however long it waits", async () => {
    const a = await groups.join("lp", { ...EARLIEST, sessionTimeoutMs: 1_000 });
    let settled = false;
    const poll = groups.fetch("lp", a.memberId, { maxBytes: 1024, maxWaitMs: 30_000 })
      .finally(() => settled = true);
    await tick();
    // Past its session timeout several times over while the poll waits: no eviction, and the
    // expiry check re-arms for a second later, not for "now" over and over (a timer storm that
    // never lets ManualClock.advance() return; the limit turns it into a failure).
    const before = clock.timersSet;
    clock.limit = before + 100;
    clock.advance(5_500);
    clock.limit = Infinity;
    const during = clock.timersSet - before;
    assert.ok(during <= 10, `timers set in 5.5 s of waiting: ${during}`);
    assert.deepEqual(logger.events.filter((e) => e.level === "error"), []);
    assert.equal(settled, false, "still waiting");
    assert.equal(groups.describe("lp").members.length, 1, "not evicted while polling");

    await broker.produce("orders", [{ value: utf8("x"), partition: 1 }]);
    const result = await poll;
    assert.deepEqual(recordsOf(result).map((r) => r.value), ["x"]);
    // Once the poll is over, the session timeout counts from its end.
    clock.advance(999);
    assert.equal(groups.describe("lp").members.length, 1);
    clock.advance(1);
    await tick();
    assert.equal(groups.describe("lp").members.length, 0, "evicted 1 s after its last fetch");
  });

  await broker.close();
});

Deno.test("GroupCoordinator delivery", async (t) => {
  const { broker, clock } = await openBroker();
  await broker.createTopic("orders", 6, {});
  const groups = broker.groups;

  await t.step(
    "members committing after processing consume every record exactly once, across rebalances",
    async () => {
      await produceMany(broker, "orders", "first", 400);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await groups.join("billing", EARLIEST)).memberId);
      const got = await consumeAll(broker, "billing", ids, 1024);
      assertExactlyOnce(broker, "orders", got, "3 members");

      // More records, a fourth member joining and leaving midway: still once each.
      await produceMany(broker, "orders", "second", 400);
      const more: Consumed[] = [];
      let fetches = 0;
      const d = (await groups.join("billing", EARLIEST)).memberId;
      for (let round = 0; round < 1000; round++) {
        const members = round < 3 ? [...ids, d] : ids;
        if (round === 3) await groups.leave("billing", d);
        let n = 0;
        for (const m of members) {
          const result = await groups.fetch("billing", m, { maxBytes: 512, maxWaitMs: 0 });
          fetches++;
          const records = recordsOf(result);
          n += records.length;
          more.push(...records);
          if (records.length > 0) {
            await groups.commit("billing", {
              memberId: m,
              generation: result.generation,
              offsets: nextOffsets(records),
            });
          }
        }
        if (n === 0 && round >= 3) break;
      }
      assert.ok(fetches > 12, "several rounds");
      assertExactlyOnce(broker, "orders", [...got, ...more], "3 members, one joining and leaving");
      assert.ok(more.every((r) => r.value.startsWith("second-")), "nothing from before again");
      for (const o of groups.offsets("billing")) {
        assert.equal(o.lag, 0, `${o.topic}/${o.partition} fully committed`);
      }
      assert.equal(groups.offsets("billing").length, 6);
    },
  );

  await t.step("two groups each consume every record", async () => {
    const one = [(await groups.join("audit", EARLIEST)).memberId];
    const two: string[] = [];
    for (let i = 0; i < 2; i++) {
      two.push(
        (await groups.join("search", { ...EARLIEST, assignor: "roundrobin" })).memberId,
      );
    }
    assertExactlyOnce(broker, "orders", await consumeAll(broker, "audit", one), "audit");
    assertExactlyOnce(broker, "orders", await consumeAll(broker, "search", two), "search");
    for (const g of ["audit", "search"]) {
      for (const m of groups.describe(g).members) await groups.leave(g, m.memberId);
    }
  });

  await t.step(
    "a member without a commit starts at the log end with autoOffsetReset latest",
    async () => {
      const a = await groups.join("tail", { topics: ["orders"] });
      assert.deepEqual(
        recordsOf(await groups.fetch("tail", a.memberId, { maxBytes: 1 << 20, maxWaitMs: 0 })),
        [],
      );
      await broker.produce("orders", [{ value: utf8("new"), partition: 3 }]);
      const got = recordsOf(
        await groups.fetch("tail", a.memberId, { maxBytes: 1 << 20, maxWaitMs: 0 }),
      );
      assert.deepEqual(got.map((r) => r.value), ["new"]);
      await groups.leave("tail", a.memberId);
    },
  );

  await t.step(
    "a member killed before committing: its replacement resumes from the last commit",
    async () => {
      await broker.createTopic("jobs", 2, {});
      for (let p = 0; p < 2; p++) {
        for (let i = 0; i < 30; i++) {
          await broker.produce("jobs", [{ value: utf8(`job-${p}-${i}`), partition: p }]);
        }
      }
      const killed = await groups.join("workers", {
        topics: ["jobs"],
        autoOffsetReset: "earliest",
        sessionTimeoutMs: 2_000,
      });
      // Processes and commits a first part, then reads more and dies before committing it.
      const first = recordsOf(
        await groups.fetch("workers", killed.memberId, { maxBytes: 300, maxWaitMs: 0 }),
      );
      assert.ok(first.length > 0);
      await groups.commit("workers", {
        memberId: killed.memberId,
        generation: killed.generation,
        offsets: nextOffsets(first),
      });
      const committed = new Map(groups.offsets("workers").map((o) => [o.partition, o.offset]));
      assert.equal(committed.size, 2, "the first fetch brought records of both partitions");
      const uncommitted: Consumed[] = [];
      for (let i = 0; i < 4; i++) {
        uncommitted.push(
          ...recordsOf(
            await groups.fetch("workers", killed.memberId, { maxBytes: 300, maxWaitMs: 0 }),
          ),
        );
      }
      assert.ok(uncommitted.length > 0, "read past the commit");

      // A replacement joins (latest: only the commit can make it start early), then the killed
      // member's session runs out and its partitions move to the replacement.
      clock.advance(1_000);
      const replacement = await groups.join("workers", {
        topics: ["jobs"],
        sessionTimeoutMs: 2_000,
      });
      clock.advance(1_000);
      await tick();
      assert.deepEqual(
        groups.describe("workers").members.map((m) => m.memberId),
        [replacement.memberId],
        "the killed member is evicted",
      );
      const hb = groups.heartbeat("workers", replacement.memberId);
      assert.equal(hb.assignment.length, 2, "the replacement owns both partitions");
      const resumed = await consumeAll(broker, "workers", [replacement.memberId], 300);
      for (let p = 0; p < 2; p++) {
        const offsets = resumed.filter((r) => r.partition === p).map((r) => r.offset);
        const from = committed.get(p) ?? 0;
        assert.deepEqual(
          offsets,
          Array.from({ length: 30 - from }, (_, i) => from + i),
          `partition ${p}: from the commit at ${from} to the end, nothing skipped`,
        );
      }
      // At-least-once: what the killed member read but never committed comes again.
      const again = new Set(resumed.map((r) => `${r.partition}@${r.offset}`));
      for (const r of uncommitted) assert.ok(again.has(`${r.partition}@${r.offset}`));
    },
  );

  await t.step("a member that leaves before committing hands over from the commit", async () => {
    const a = await groups.join("handover", EARLIEST);
    const b = await groups.join("handover", EARLIEST);
    const bAssigned = groups.heartbeat("handover", b.memberId).assignment.map(name);
    // a reads its partitions, commits nothing, and leaves.
    const aGen = groups.heartbeat("handover", a.memberId);
    const read = recordsOf(
      await groups.fetch("handover", a.memberId, { maxBytes: 1 << 20, maxWaitMs: 0 }),
    );
    assert.ok(read.length > 0 && read.every((r) => !bAssigned.includes(name(r))));
    await groups.commit("handover", {
      memberId: a.memberId,
      generation: aGen.generation,
      offsets: aGen.assignment.map((tp) => ({ ...tp, offset: 1 })),
    });
    await groups.leave("handover", a.memberId);
    const got = await consumeAll(broker, "handover", [b.memberId]);
    for (const tp of aGen.assignment) {
      const offsets = got.filter((r) => name(r) === name(tp)).map((r) => r.offset);
      const end = broker.topics.get("orders").partition(tp.partition).logEndOffset;
      assert.deepEqual(offsets, Array.from({ length: end - 1 }, (_, i) => i + 1), name(tp));
    }
  });

  await broker.close();
});

Deno.test("GroupCoordinator commit refusals", async (t) => {
  const { broker } = await openBroker();
  await broker.createTopic("orders", 4, {});
  await produceMany(broker, "orders", "r", 40);
  const groups = broker.groups;
  const a = await groups.join("g", EARLIEST);
  const b = await groups.join("g", EARLIEST);
  const aNow = groups.heartbeat("g", a.memberId);
  const bNow = groups.heartbeat("g", b.memberId);
  const owned = aNow.assignment[0];
  const notOwned = bNow.assignment[0];

  await t.step("a stale generation is refused with ILLEGAL_GENERATION", async () => {
    assert.equal(a.generation, 1);
    assert.equal(aNow.generation, 2);
    await assert.rejects(
      groups.commit("g", {
        memberId: a.memberId,
        generation: a.generation,
        offsets: [{ ...owned, offset: 1 }],
      }),
      code("ILLEGAL_GENERATION"),
    );
    await assert.rejects(
      groups.commit("g", {
        memberId: a.memberId,
        generation: aNow.generation + 1,
        offsets: [{ ...owned, offset: 1 }],
      }),
      code("ILLEGAL_GENERATION"),
      "a future generation too",
    );
    assert.deepEqual(groups.offsets("g"), [], "nothing committed");
  });

  await t.step(
    "a partition the member does not own is refused, and nothing is written",
    async () => {
      await assert.rejects(
        groups.commit("g", {
          memberId: a.memberId,
          generation: aNow.generation,
          offsets: [{ ...owned, offset: 2 }, { ...notOwned, offset: 2 }],
        }),
        code("ILLEGAL_GENERATION"),
      );
      await assert.rejects(
        groups.commit("g", {
          memberId: a.memberId,
          generation: aNow.generation,
          offsets: [{ topic: "other", partition: 0, offset: 0 }],
        }),
        code("ILLEGAL_GENERATION"),
      );
      assert.deepEqual(groups.offsets("g"), [], "the owned partition was not committed either");
    },
  );

  await t.step("an offset past the log end is refused", async () => {
    const end = broker.topics.get("orders").partition(owned.partition).logEndOffset;
    await assert.rejects(
      groups.commit("g", {
        memberId: a.memberId,
        generation: aNow.generation,
        offsets: [{ ...owned, offset: end + 1 }],
      }),
      code("INVALID_REQUEST"),
    );
    await groups.commit("g", {
      memberId: a.memberId,
      generation: aNow.generation,
      offsets: [{ ...owned, offset: end }],
    });
    assert.deepEqual(groups.offsets("g"), [{ ...owned, offset: end, lag: 0 }]);
  });

  await t.step("unknown group and unknown member", async () => {
    assert.throws(() => groups.heartbeat("nobody", a.memberId), code("GROUP_NOT_FOUND"));
    assert.throws(() => groups.describe("nobody"), code("GROUP_NOT_FOUND"));
    assert.throws(() => groups.offsets("nobody"), code("GROUP_NOT_FOUND"));
    await assert.rejects(
      groups.fetch("nobody", a.memberId, { maxBytes: 1, maxWaitMs: 0 }),
      code("GROUP_NOT_FOUND"),
    );
    await assert.rejects(
      groups.commit("nobody", { memberId: a.memberId, generation: 2, offsets: [] }),
      code("GROUP_NOT_FOUND"),
    );
    assert.throws(() => groups.heartbeat("g", "no-such-member"), code("MEMBER_NOT_FOUND"));
    await assert.rejects(
      groups.fetch("g", "no-such-member", { maxBytes: 1, maxWaitMs: 0 }),
      code("MEMBER_NOT_FOUND"),
    );
    await assert.rejects(
      groups.commit("g", {
        memberId: "no-such-member",
        generation: aNow.generation,
        offsets: [{ ...owned, offset: 0 }],
      }),
      code("MEMBER_NOT_FOUND"),
    );
  });

  await t.step("lag is the high watermark minus the committed offset", async () => {
    await broker.produce("orders", [
      { value: utf8("x"), partition: owned.partition },
      { value: utf8("y"), partition: owned.partition },
    ]);
    const [o] = groups.offsets("g");
    const hw = broker.topics.get("orders").partition(owned.partition).logEndOffset;
    assert.equal(o.lag, hw - o.offset);
    assert.equal(o.lag, 2);
  });

  await broker.close();
});

Deno.test("GroupCoordinator member fetch", async (t) => {
  const { broker, clock } = await openBroker();
  await broker.createTopic("orders", 3, {});
  const groups = broker.groups;

  await t.step("one full partition does not starve the others", async () => {
    // Partition 0: 200 batches of 1 KiB; partitions 1 and 2: three small records each.
    const big = "x".repeat(1024);
    for (let i = 0; i < 200; i++) {
      await broker.produce("orders", [{ value: utf8(`${i}:${big}`), partition: 0 }]);
    }
    for (const p of [1, 2]) {
      for (let i = 0; i < 3; i++) {
        await broker.produce("orders", [{ value: utf8(`s${i}`), partition: p }]);
      }
    }
    const m = await groups.join("fair", EARLIEST);
    const seen: number[][] = [];
    for (let i = 0; i < 6; i++) {
      const r = recordsOf(await groups.fetch("fair", m.memberId, { maxBytes: 256, maxWaitMs: 0 }));
      assert.ok(r.length > 0, `fetch ${i} returns records`);
      seen.push([...new Set(r.map((x) => x.partition))]);
    }
    assert.deepEqual(
      [...new Set(seen.slice(0, 3).flat())].sort(),
      [0, 1, 2],
      `the first 3 fetches cover every partition: ${JSON.stringify(seen)}`,
    );
    const small = seen.flat().filter((p) => p !== 0).length;
    assert.ok(
      small >= 4,
      `the small partitions got turns while partition 0 had data: ${JSON.stringify(seen)}`,
    );
    await groups.leave("fair", m.memberId);
  });

  await t.step("a long poll returns when data arrives on any assigned partition", async () => {
    const m = await groups.join("poll", { topics: ["orders"] });
    assert.deepEqual(
      recordsOf(await groups.fetch("poll", m.memberId, { maxBytes: 1 << 20, maxWaitMs: 0 })),
      [],
      "latest: at the end",
    );
    for (const p of [2, 0]) {
      let settled = false;
      const poll = groups.fetch("poll", m.memberId, { maxBytes: 1 << 20, maxWaitMs: 20_000 })
        .finally(() => settled = true);
      await tick();
      assert.equal(settled, false, "waits while nothing arrives");
      await broker.produce("orders", [{ value: utf8(`to-${p}`), partition: p }]);
      const result = await poll;
      assert.deepEqual(recordsOf(result).map((r) => `${r.partition}:${r.value}`), [`${p}:to-${p}`]);
      assert.equal(result.rebalance, false);
    }
  });

  await t.step("a long poll returns at a rebalance, with the new assignment", async () => {
    let settled = false;
    const poll = groups.fetch("poll", groups.describe("poll").members[0].memberId, {
      maxBytes: 1 << 20,
      maxWaitMs: 20_000,
    }).finally(() => settled = true);
    await tick();
    assert.equal(settled, false);
    const other = await groups.join("poll", { topics: ["orders"] });
    const result = await poll;
    assert.equal(result.rebalance, true);
    assert.equal(result.generation, other.generation);
    assert.deepEqual(result.parts, []);
    assertCovers([result.assignment, other.assignment], partitionsOf("orders", 3), "2 members");
    await groups.leave("poll", other.memberId);
  });

  await t.step(
    "an idle member's long poll returns when a rebalance gives it partitions",
    async () => {
      const ids = [];
      for (let i = 0; i < 4; i++) {
        ids.push(
          (await groups.join("idle", { topics: ["orders"] })).memberId,
        );
      }
      const idle = ids.find((id) => groups.heartbeat("idle", id).assignment.length === 0)!;
      assert.ok(idle !== undefined);
      let settled = false;
      const poll = groups.fetch("idle", idle, { maxBytes: 1 << 20, maxWaitMs: 20_000 })
        .finally(() => settled = true);
      await tick();
      await broker.produce("orders", [{ value: utf8("not for idle"), partition: 1 }]);
      await tick();
      assert.equal(settled, false, "data on partitions it does not own does not wake it");
      await groups.leave("idle", ids.find((id) => id !== idle)!);
      const result = await poll;
      assert.equal(result.rebalance, true);
      assert.equal(result.assignment.length, 1);
    },
  );

  await t.step(
    "a long poll with nothing to return ends at maxWaitMs on the broker's clock",
    async () => {
      const m = groups.describe("poll").members[0].memberId;
      await groups.fetch("poll", m, { maxBytes: 1 << 20, maxWaitMs: 0 }); // what the idle step wrote
      let settled = false;
      const poll = groups.fetch("poll", m, { maxBytes: 1 << 20, maxWaitMs: 5_000 })
        .finally(() => settled = true);
      await tick();
      clock.advance(4_999);
      await tick();
      assert.equal(settled, false);
      clock.advance(1);
      const result = await poll;
      assert.deepEqual(result.parts, []);
    },
  );

  await broker.close();
});

Deno.test("GroupCoordinator after a broker restart", async (t) => {
  const dir = tempDir("sluice-groups-restart-");
  let { broker } = await openBroker(new ManualClock(), dir);
  await broker.createTopic("orders", 4, {});
  await produceMany(broker, "orders", "r", 80);
  const a = await broker.groups.join("g", { ...EARLIEST, sessionTimeoutMs: 5_000 });
  const b = await broker.groups.join("g", { ...EARLIEST, sessionTimeoutMs: 8_000 });
  const before = broker.groups.describe("g");
  const gen = before.generation;
  const consumed = await consumeAll(broker, "g", [a.memberId, b.memberId], 200);
  assert.equal(consumed.length, 80);
  // Commit only half of each partition, so a resumed fetch shows where it starts.
  const half = [a.memberId, b.memberId].flatMap((m) =>
    broker.groups.heartbeat("g", m).assignment.map((tp) => ({ m, tp }))
  );
  for (const { m, tp } of half) {
    const end = broker.topics.get("orders").partition(tp.partition).logEndOffset;
    await broker.groups.commit("g", {
      memberId: m,
      generation: gen,
      offsets: [{ ...tp, offset: Math.floor(end / 2) }],
    });
  }
  const offsetsBefore = broker.groups.offsets("g");
  await broker.close();

  const clock = new ManualClock(1_800_000_000_000);
  ({ broker } = await openBroker(clock, dir));
  const groups = broker.groups;

  await t.step("committed offsets, lag included, are as before", () => {
    assert.deepEqual(groups.offsets("g"), offsetsBefore);
    assert.ok(offsetsBefore.every((o) => o.lag !== null && o.lag > 0));
  });

  await t.step("members keep their ids, the generation and the assignment", () => {
    const d = groups.describe("g");
    assert.equal(d.generation, gen);
    assert.equal(d.state, "Stable");
    assert.deepEqual(d.members, before.members);
    assert.equal(groups.heartbeat("g", a.memberId).rebalance, false);
  });

  await t.step("a stale generation is still refused; the current one is accepted", async () => {
    const tp = groups.heartbeat("g", a.memberId).assignment[0];
    await assert.rejects(
      groups.commit("g", {
        memberId: a.memberId,
        generation: gen - 1,
        offsets: [{ ...tp, offset: 0 }],
      }),
      code("ILLEGAL_GENERATION"),
    );
    const notOwned = groups.heartbeat("g", b.memberId).assignment[0];
    await assert.rejects(
      groups.commit("g", {
        memberId: a.memberId,
        generation: gen,
        offsets: [{ ...notOwned, offset: 0 }],
      }),
      code("ILLEGAL_GENERATION"),
    );
  });

  await t.step("fetches resume from the committed offsets", async () => {
    const resumed = await consumeAll(broker, "g", [a.memberId, b.memberId], 200);
    for (const o of offsetsBefore) {
      const offsets = resumed.filter((r) => r.partition === o.partition).map((r) => r.offset);
      assert.equal(offsets[0], o.offset, `partition ${o.partition} resumes at its commit`);
      assert.equal(offsets.length, o.lag, `partition ${o.partition}: the rest, once`);
    }
  });

  await t.step("members must heartbeat within their session timeout of the restart", async () => {
    clock.advance(4_000);
    groups.heartbeat("g", a.memberId); // b stays silent: 8 s after the restart it is gone
    clock.advance(3_999);
    assert.equal(groups.describe("g").members.length, 2);
    groups.heartbeat("g", a.memberId);
    clock.advance(1);
    await tick();
    const d = groups.describe("g");
    assert.deepEqual(d.members.map((m) => m.memberId), [a.memberId]);
    assert.equal(d.generation, gen + 1);
    const hb = groups.heartbeat("g", a.memberId);
    assert.equal(hb.rebalance, true);
    assert.equal(hb.assignment.length, 4);
    assert.throws(() => groups.heartbeat("g", b.memberId), code("MEMBER_NOT_FOUND"));
  });

  await t.step("the eviction itself survives the next restart", async () => {
    await broker.close();
    ({ broker } = await openBroker(new ManualClock(), dir));
    const d = broker.groups.describe("g");
    assert.equal(d.generation, gen + 1);
    assert.deepEqual(d.members.map((m) => m.memberId), [a.memberId]);
  });

  await broker.close();
});

Deno.test("GroupCoordinator forgets empty groups when the group table is full", async () => {
  const dir = tempDir("sluice-groups-max-");
  const broker = await Broker.open({
    dataDir: dir,
    clock: new ManualClock(),
    logger: new MemoryLogger(),
    groupsMax: 2,
  });
  try {
    await broker.createTopic("t", 1, {});
    await broker.produce("t", [{ value: utf8("x") }]);
    const a = await broker.groups.join("a", { topics: ["t"] });
    await broker.groups.commit("a", {
      memberId: a.memberId,
      generation: a.generation,
      offsets: [{ topic: "t", partition: 0, offset: 1 }],
    });
    await broker.groups.leave("a", a.memberId);
    const b = await broker.groups.join("b", { topics: ["t"] });
    // Full: "a" is empty, so it makes room; "b" has a member, so a third live group does not fit.
    await broker.groups.join("c", { topics: ["t"] });
    await assert.rejects(
      broker.groups.join("d", { topics: ["t"] }),
      (e) => isSluiceError(e, "TOO_MANY_REQUESTS"),
    );
    assert.deepEqual(broker.groups.offsets("a"), [{ topic: "t", partition: 0, offset: 1, lag: 0 }]);
    assert.equal(broker.groups.describe("b").members[0].memberId, b.memberId);
  } finally {
    await broker.close();
  }
});

Deno.test("GroupCoordinator lists every group (GET /v1/groups)", async (t) => {
  const { broker, clock } = await openBroker();
  try {
    await broker.createTopic("orders", 2, {});
    const groups = broker.groups;

    await t.step("no group: an empty list", () => {
      assert.deepEqual(groups.list(undefined, 10), { groups: [], more: false });
    });

    const classicJoin = groups.classic.joinGroup({
      groupId: "classic-group",
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: new Uint8Array(0) }],
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 30_000,
      requireKnownMemberId: false,
      clientId: "client",
      clientHost: "/127.0.0.1",
    });
    clock.advance(10_000); // past the initial rebalance delay (before HTTP members join)
    await classicJoin;
    const a = await groups.join("http-group", EARLIEST);
    await groups.join("http-group", EARLIEST);
    await groups.join("left-group", EARLIEST).then((m) =>
      groups.commit("left-group", {
        memberId: m.memberId,
        generation: m.generation,
        offsets: [{ topic: "orders", partition: 0, offset: 0 }],
      }).then(() => groups.leave("left-group", m.memberId))
    );
    await groups.store.commit("simple", [{ topic: "orders", partition: 1, offset: 0 }]);

    await t.step("each group with its state, protocol, protocol type and member count", () => {
      const { groups: listed, more } = groups.list(undefined, 10);
      assert.equal(more, false);
      assert.deepEqual(listed, [
        {
          group: "classic-group",
          state: "CompletingRebalance",
          protocol: "classic",
          protocolType: "consumer",
          members: 1,
        },
        {
          group: "http-group",
          state: groups.describe("http-group").state,
          protocol: "consumer",
          protocolType: "consumer",
          members: 2,
        },
        {
          group: "left-group",
          state: "Empty",
          protocol: "consumer",
          protocolType: "consumer",
          members: 0,
        },
        { group: "simple", state: "Empty", protocol: "consumer", protocolType: "", members: 0 },
      ]);
      assert.ok(groups.describe("http-group").members.some((m) => m.memberId === a.memberId));
    });

    await t.step("at most `max` groups, then the rest after the last one", () => {
      const first = groups.list(undefined, 3);
      assert.deepEqual(first.groups.map((g) => g.group), [
        "classic-group",
        "http-group",
        "left-group",
      ]);
      assert.equal(first.more, true);
      const rest = groups.list("left-group", 3);
      assert.deepEqual(rest.groups.map((g) => g.group), ["simple"]);
      assert.equal(rest.more, false);
      assert.deepEqual(groups.list("simple", 3), { groups: [], more: false });
    });
  } finally {
    await broker.close();
  }
});
