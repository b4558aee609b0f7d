/**
 * Assignors (assignors.ts): Kafka's RangeAssignor and RoundRobinAssignor, checked against the
 * examples in Kafka's own documentation and against the invariants every assignment must keep
 * (each partition of a subscribed topic to exactly one subscriber, idle members beyond the
 * partition count), over seeded random memberships.
 */
import assert from "node:assert/strict";
import {
  assign,
  type Assignment,
  type AssignorName,
  ASSIGNORS,
  type MemberSubscription,
  rangeAssign,
  roundRobinAssign,
  type TopicPartition,
} from "../../src/broker/groups/assignors.ts";
import { prng } from "../test_util.ts";

/** Seed of the random memberships; set ASSIGNOR_SEED to replay a failure. */
const seed = Number(Deno.env.get("ASSIGNOR_SEED") ?? Date.now() % 1_000_000_007);
const seedNote = `(ASSIGNOR_SEED=${seed})`;

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition });
const counts = (table: Record<string, number>) => (topic: string) => table[topic] ?? 0;

/** The assignment as a plain object (memberId -> "t0p1" names), for readable deepEqual diffs. */
function names(assignment: Assignment): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [id, tps] of assignment) out[id] = tps.map((p) => `${p.topic}p${p.partition}`);
  return out;
}

/** Asserts each partition of each subscribed topic is owned by exactly one of its subscribers. */
function assertComplete(
  assignment: Assignment,
  members: readonly MemberSubscription[],
  partitionsOf: (topic: string) => number,
  what: string,
): void {
  assert.deepEqual(
    [...assignment.keys()].sort(),
    members.map((m) => m.memberId).sort(),
    `${what}: one entry per member, idle ones included`,
  );
  const owner = new Map<string, string>();
  for (const [id, tps] of assignment) {
    const member = members.find((m) => m.memberId === id)!;
    for (const p of tps) {
      const k = `${p.topic}/${p.partition}`;
      assert.ok(member.topics.includes(p.topic), `${what}: ${id} got ${k} without subscribing`);
      assert.ok(
        Number.isInteger(p.partition) && p.partition >= 0 && p.partition < partitionsOf(p.topic),
        `${what}: ${k} does not exist`,
      );
      assert.equal(owner.get(k), undefined, `${what}: ${k} owned by ${owner.get(k)} and ${id}`);
      owner.set(k, id);
    }
  }
  const topics = new Set(members.flatMap((m) => m.topics));
  let total = 0;
  for (const t of topics) total += partitionsOf(t);
  assert.equal(owner.size, total, `${what}: every partition of every subscribed topic is owned`);
}

Deno.test("rangeAssign() matches Kafka's RangeAssignor", async (t) => {
  await t.step("Kafka's doc example: C0, C1 on t0, t1 with 3 partitions each", () => {
    const members = [{ memberId: "C1", topics: ["t0", "t1"] }, {
      memberId: "C0",
      topics: ["t0", "t1"],
    }];
    const got = rangeAssign(members, counts({ t0: 3, t1: 3 }));
    assert.deepEqual(names(got), {
      C0: ["t0p0", "t0p1", "t1p0", "t1p1"],
      C1: ["t0p2", "t1p2"],
    });
  });

  await t.step("3 members on 6 partitions take 2 contiguous partitions each", () => {
    const members = ["m-a", "m-b", "m-c"].map((memberId) => ({ memberId, topics: ["orders"] }));
    assert.deepEqual(names(rangeAssign(members, counts({ orders: 6 }))), {
      "m-a": ["ordersp0", "ordersp1"],
      "m-b": ["ordersp2", "ordersp3"],
      "m-c": ["ordersp4", "ordersp5"],
    });
  });

  await t.step("the first (partitions % members) members take one extra, per topic", () => {
    // 7 partitions over 3 members: 3, 2, 2; 5 over 3: 2, 2, 1. Extras do not even out across
    // topics (Kafka's known skew): C0 ends with 5 partitions, C2 with 3.
    const members = ["C0", "C1", "C2"].map((memberId) => ({ memberId, topics: ["a", "b"] }));
    assert.deepEqual(names(rangeAssign(members, counts({ a: 7, b: 5 }))), {
      C0: ["ap0", "ap1", "ap2", "bp0", "bp1"],
      C1: ["ap3", "ap4", "bp2", "bp3"],
      C2: ["ap5", "ap6", "bp4"],
    });
  });

  await t.step("per topic, only its subscribers share it", () => {
    const members = [
      { memberId: "C0", topics: ["t0"] },
      { memberId: "C1", topics: ["t0", "t1"] },
      { memberId: "C2", topics: ["t1"] },
    ];
    assert.deepEqual(names(rangeAssign(members, counts({ t0: 3, t1: 4 }))), {
      C0: ["t0p0", "t0p1"],
      C1: ["t0p2", "t1p0", "t1p1"],
      C2: ["t1p2", "t1p3"],
    });
  });

  await t.step("members beyond the partition count stay idle", () => {
    const members = ["C0", "C1", "C2", "C3", "C4"].map((memberId) => ({
      memberId,
      topics: ["t"],
    }));
    assert.deepEqual(names(rangeAssign(members, counts({ t: 3 }))), {
      C0: ["tp0"],
      C1: ["tp1"],
      C2: ["tp2"],
      C3: [],
      C4: [],
    });
  });
});

Deno.test("roundRobinAssign() matches Kafka's RoundRobinAssignor", async (t) => {
  await t.step("Kafka's doc example: C0, C1 on t0, t1 with 3 partitions each", () => {
    const members = [{ memberId: "C0", topics: ["t1", "t0"] }, {
      memberId: "C1",
      topics: ["t0", "t1"],
    }];
    assert.deepEqual(names(roundRobinAssign(members, counts({ t0: 3, t1: 3 }))), {
      C0: ["t0p0", "t0p2", "t1p1"],
      C1: ["t0p1", "t1p0", "t1p2"],
    });
  });

  await t.step("Kafka's doc example with different subscriptions (t0, t1, t2: 1, 2, 3)", () => {
    // RoundRobinAssignor javadoc: C0 subscribes to t0; C1 to t0, t1; C2 to t0, t1, t2.
    const members = [
      { memberId: "C2", topics: ["t0", "t1", "t2"] },
      { memberId: "C0", topics: ["t0"] },
      { memberId: "C1", topics: ["t0", "t1"] },
    ];
    assert.deepEqual(names(roundRobinAssign(members, counts({ t0: 1, t1: 2, t2: 3 }))), {
      C0: ["t0p0"],
      C1: ["t1p0"],
      C2: ["t1p1", "t2p0", "t2p1", "t2p2"],
    });
  });

  await t.step("3 members on 6 partitions take 2 each, dealt in turn", () => {
    const members = ["m-a", "m-b", "m-c"].map((memberId) => ({ memberId, topics: ["orders"] }));
    assert.deepEqual(names(roundRobinAssign(members, counts({ orders: 6 }))), {
      "m-a": ["ordersp0", "ordersp3"],
      "m-b": ["ordersp1", "ordersp4"],
      "m-c": ["ordersp2", "ordersp5"],
    });
  });

  await t.step("members beyond the partition count stay idle", () => {
    const members = ["C0", "C1", "C2", "C3"].map((memberId) => ({ memberId, topics: ["x", "y"] }));
    assert.deepEqual(names(roundRobinAssign(members, counts({ x: 1, y: 1 }))), {
      C0: ["xp0"],
      C1: ["yp0"],
      C2: [],
      C3: [],
    });
  });
});

Deno.test("assign() orders members by memberId and keeps every partition owned once", async (t) => {
  await t.step("member order is memberId order, whatever order the members come in", () => {
    const ids = ["consumer-2", "consumer-10", "consumer-1", "consumer-3"];
    for (const name of ASSIGNORS) {
      const forward = assign(name, ids.map((memberId) => ({ memberId, topics: ["t"] })), () => 4);
      const backward = assign(
        name,
        [...ids].reverse().map((memberId) => ({ memberId, topics: ["t"] })),
        () => 4,
      );
      // "consumer-1" < "consumer-10" < "consumer-2" < "consumer-3" as strings, not as numbers.
      assert.deepEqual(names(forward), {
        "consumer-1": ["tp0"],
        "consumer-10": ["tp1"],
        "consumer-2": ["tp2"],
        "consumer-3": ["tp3"],
      }, name);
      assert.deepEqual(names(backward), names(forward), `${name}: input order does not matter`);
    }
  });

  await t.step("memberIds compare as Java's String.compareTo does (UTF-16 code units)", () => {
    // Kafka sorts member ids with String.compareTo: "B" (0x42) < "a" (0x61), whatever the locale.
    const members = ["a", "b", "A", "B"].map((memberId) => ({ memberId, topics: ["t"] }));
    for (const name of ASSIGNORS) {
      const got = assign(name, members, () => 4);
      assert.deepEqual(names(got), { A: ["tp0"], B: ["tp1"], a: ["tp2"], b: ["tp3"] }, name);
    }
  });

  await t.step("no members: an empty assignment", () => {
    for (const name of ASSIGNORS) assert.equal(assign(name, [], () => 3).size, 0, name);
  });

  await t.step(`random memberships ${seedNote}`, () => {
    const next = prng(seed);
    const topicNames = ["alpha", "beta", "gamma", "delta"];
    for (let round = 0; round < 300; round++) {
      const table: Record<string, number> = {};
      for (const t of topicNames) table[t] = next() % 9; // 0-8 partitions, 0 included
      const memberCount = 1 + (next() % 12);
      const members: MemberSubscription[] = [];
      for (let i = 0; i < memberCount; i++) {
        const topics = topicNames.filter(() => next() % 2 === 0);
        members.push({
          memberId: `m${next().toString(36)}`,
          topics: topics.length > 0 ? topics : [topicNames[next() % topicNames.length]],
        });
      }
      const what = (name: AssignorName) =>
        `${name}, round ${round}: ${JSON.stringify({ table, members })} ${seedNote}`;
      for (const name of ASSIGNORS) {
        const got = assign(name, members, counts(table));
        assertComplete(got, members, counts(table), what(name));
        for (const tps of got.values()) {
          const sorted = [...tps].sort((a, b) =>
            a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
          );
          assert.deepEqual(tps, sorted, `${what(name)}: sorted by topic, then partition`);
        }
      }
      // Range: per topic, each subscriber a contiguous run, sizes differing by at most one and
      // the larger runs first, in memberId order.
      const range = rangeAssign(members, counts(table));
      const ordered = [...range.keys()];
      for (const t of new Set(members.flatMap((m) => m.topics))) {
        const runs = ordered
          .filter((id) => members.find((m) => m.memberId === id)!.topics.includes(t))
          .map((id) => range.get(id)!.filter((p) => p.topic === t).map((p) => p.partition));
        const flat = runs.flat();
        assert.deepEqual(flat, flat.map((_, i) => i), `${what("range")}: ${t} contiguous`);
        const sizes = runs.map((r) => r.length);
        for (let i = 1; i < sizes.length; i++) {
          assert.ok(sizes[i] <= sizes[i - 1], `${what("range")}: ${t} larger runs first`);
          assert.ok(sizes[0] - sizes[i] <= 1, `${what("range")}: ${t} sizes within one`);
        }
      }
      // Round-robin with one shared subscription: totals differ by at most one.
      const shared = members.map((m) => ({ memberId: m.memberId, topics: topicNames }));
      const rr = roundRobinAssign(shared, counts(table));
      const sizes = [...rr.values()].map((tps) => tps.length);
      assert.ok(
        Math.max(...sizes) - Math.min(...sizes) <= 1,
        `${what("roundrobin")}: shared subscription balanced: ${sizes}`,
      );
    }
  });

  await t.step("a member's entries are plain {topic, partition} objects", () => {
    const got = assign("range", [{ memberId: "only", topics: ["t"] }], () => 2);
    assert.deepEqual(got.get("only"), [tp("t", 0), tp("t", 1)]);
  });
});
