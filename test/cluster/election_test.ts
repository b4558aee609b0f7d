/**
 * The controller's pure decisions: nextPartitionState (Kafka's election rules) and assignReplicas
 * (rack-unaware assignment), and the offsets partition of a group (Kafka's partitionFor).
 */
import assert from "node:assert/strict";
import { assignReplicas } from "../../src/cluster/assignment.ts";
import { NO_LEADER, type PartitionState } from "../../src/cluster/cluster_state.ts";
import { nextPartitionState, preferredLeaderMoves } from "../../src/cluster/partition_election.ts";
import { javaStringHash, offsetsPartitionFor } from "../../src/broker/groups/replicated_offsets.ts";
import { prngFloat } from "../test_util.ts";

const state = (leader: number, isr: number[], epoch = 4): PartitionState => ({
  leader,
  leaderEpoch: epoch,
  replicas: [1, 2, 3],
  isr,
  partitionEpoch: 10,
});

Deno.test("nextPartitionState: Kafka's election rules", async (t) => {
  await t.step("a live leader with live followers: nothing changes", () => {
    assert.equal(nextPartitionState(state(1, [1, 2, 3]), new Set([1, 2, 3])), undefined);
  });
  await t.step("a dead follower leaves the ISR; the leader epoch stays", () => {
    const next = nextPartitionState(state(1, [1, 2, 3]), new Set([1, 3]))!;
    assert.deepEqual(next.isr, [1, 3]);
    assert.equal(next.leader, 1);
    assert.equal(next.leaderEpoch, 4);
    assert.equal(next.partitionEpoch, 11);
  });
  await t.step("a dead leader: the first live ISR member in replica order, epoch + 1", () => {
    const next = nextPartitionState(state(1, [1, 3, 2]), new Set([2, 3]))!;
    assert.equal(next.leader, 2);
    assert.equal(next.leaderEpoch, 5);
    assert.deepEqual(next.isr, [3, 2]);
  });
  await t.step("a live replica outside the ISR is never elected (clean election)", () => {
    const next = nextPartitionState(state(1, [1, 3]), new Set([2]))!;
    assert.equal(next.leader, NO_LEADER);
    assert.deepEqual(next.isr, [1, 3], "the last ISR is kept for the replica that comes back");
    assert.equal(next.leaderEpoch, 5);
  });
  await t.step("...unless unclean election is on", () => {
    const next = nextPartitionState(state(1, [1, 3]), new Set([2]), true)!;
    assert.equal(next.leader, 2);
    assert.deepEqual(next.isr, [2]);
  });
  await t.step("a leaderless partition gets its ISR member back as leader", () => {
    const next = nextPartitionState(state(NO_LEADER, [1, 3], 5), new Set([3]))!;
    assert.equal(next.leader, 3);
    assert.equal(next.leaderEpoch, 6);
    assert.deepEqual(next.isr, [3]);
  });
  await t.step("a leaderless partition with no live ISR member stays as it is", () => {
    assert.equal(nextPartitionState(state(NO_LEADER, [1], 5), new Set([2, 3])), undefined);
  });
});

Deno.test("preferredLeaderMoves: leaderships go home past the imbalance ratio", async (t) => {
  const ps = (replicas: number[], leader: number, isr = replicas): PartitionState => ({
    leader,
    leaderEpoch: 2,
    replicas,
    isr,
    partitionEpoch: 7,
  });
  await t.step("a broker back in the ISR gets its preferred partitions back, epoch + 1", () => {
    const moves = preferredLeaderMoves(
      new Map([
        ["a", ps([1, 2, 3], 2)],
        ["b", ps([1, 3, 2], 3)],
        ["c", ps([2, 3, 1], 2)],
      ]),
      new Set([1, 2, 3]),
    );
    assert.deepEqual([...moves.keys()].sort(), ["a", "b"]);
    assert.equal(moves.get("a")!.leader, 1);
    assert.equal(moves.get("a")!.leaderEpoch, 3);
  });
  await t.step("not when the preferred replica is dead or out of the ISR", () => {
    const partitions = new Map([["a", ps([1, 2, 3], 2, [2, 3])], ["b", ps([1, 2, 3], 2)]]);
    assert.deepEqual([...preferredLeaderMoves(partitions, new Set([1, 2, 3])).keys()], ["b"]);
    assert.equal(preferredLeaderMoves(partitions, new Set([2, 3])).size, 0);
  });
  await t.step("not at or under the ratio (1 of 10 misplaced is 10%)", () => {
    const partitions = new Map<string, PartitionState>();
    for (let i = 0; i < 10; i++) partitions.set(`p${i}`, ps([1, 2], i === 0 ? 2 : 1));
    assert.equal(preferredLeaderMoves(partitions, new Set([1, 2])).size, 0);
    partitions.set("p1", ps([1, 2], 2));
    assert.equal(preferredLeaderMoves(partitions, new Set([1, 2])).size, 2);
  });
});

Deno.test("assignReplicas: distinct replicas, leaders and followers spread", async (t) => {
  await t.step("every partition has RF distinct live brokers", () => {
    const random = prngFloat(7);
    for (
      const [brokers, rf] of [[[1, 2, 3], 3], [[1, 2, 3, 4, 5], 3], [[4, 9], 2], [[7], 1]] as const
    ) {
      const a = assignReplicas(brokers, 30, rf, random);
      assert.equal(a.length, 30);
      for (const r of a) {
        assert.equal(r.length, rf);
        assert.equal(new Set(r).size, rf);
        for (const id of r) assert.ok(brokers.includes(id as never));
      }
    }
  });
  await t.step("leaders are spread evenly; so are the followers of each leader", () => {
    const a = assignReplicas([1, 2, 3, 4], 40, 2, prngFloat(3));
    const leaders = new Map<number, number>();
    const followerOf = new Map<string, number>();
    for (const [l, f] of a) {
      leaders.set(l, (leaders.get(l) ?? 0) + 1);
      followerOf.set(`${l}>${f}`, (followerOf.get(`${l}>${f}`) ?? 0) + 1);
    }
    assert.deepEqual([...leaders.values()], [10, 10, 10, 10]);
    for (const l of [1, 2, 3, 4]) {
      const fs = [...followerOf].filter(([k]) => k.startsWith(`${l}>`));
      assert.equal(fs.length, 3, `broker ${l}'s partitions are followed by all three others`);
    }
  });
  await t.step("a replication factor above the live brokers is INVALID_REPLICATION_FACTOR", () => {
    assert.throws(
      () => assignReplicas([1, 2], 3, 3),
      (err: Error & { code?: string }) => err.code === "INVALID_REPLICATION_FACTOR",
    );
    assert.throws(
      () => assignReplicas([1, 2], 3, 0),
      (err: Error & { code?: string }) => err.code === "INVALID_REPLICATION_FACTOR",
    );
  });
});

Deno.test("offsetsPartitionFor: Kafka's abs(String.hashCode) % 50", () => {
  // Java: "".hashCode() == 0, "group".hashCode() == 98629247, "polygenelubricants" == MIN_VALUE.
  assert.equal(javaStringHash(""), 0);
  assert.equal(javaStringHash("group"), 98629247);
  assert.equal(javaStringHash("polygenelubricants"), -2147483648);
  assert.equal(offsetsPartitionFor("group"), 98629247 % 50);
  assert.equal(offsetsPartitionFor("polygenelubricants"), 0);
  // "Aa" and "BB" collide in Java.
  assert.equal(javaStringHash("Aa"), javaStringHash("BB"));
  assert.equal(offsetsPartitionFor("test-group-é"), Math.abs(javaStringHash("test-group-é")) % 50);
});
