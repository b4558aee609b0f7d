/**
 * ConsumerGroupCoordinator (src/broker/groups/consumer_coordinator.ts), KIP-848's state machine on a
 * ManualClock: joining and the target assignment, revoke-before-reassign (a partition is never
 * given to its new owner before the old one heartbeats without it), member and group epochs,
 * fencing (epochs ahead or behind, the previous epoch with a lost response), session expiry and
 * the rebalance timeout for revocation, leaving, static members, request validation, and the
 * commit checks OffsetCommit v9 makes.
 */
import assert from "node:assert/strict";
import {
  ConsumerGroupCoordinator,
  type ConsumerHeartbeatRequest,
  type ConsumerHeartbeatResult,
  type TopicPartitions,
} from "../../src/broker/groups/consumer_coordinator.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryLogger } from "../../src/logger.ts";

const SESSION_MS = 10_000;
const REBALANCE_MS = 30_000;

function setup(partitions: Record<string, number> = { t: 6 }, other = new Set<string>()) {
  const clock = new ManualClock();
  const coordinator = new ConsumerGroupCoordinator(
    (topic) => partitions[topic] ?? 0,
    () => Object.keys(partitions),
    clock,
    new MemoryLogger(),
    { sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 500 },
    (id) => other.has(id),
  );
  return { clock, coordinator, partitions };
}

function req(overrides: Partial<ConsumerHeartbeatRequest>): ConsumerHeartbeatRequest {
  return {
    groupId: "g",
    memberId: "m1",
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: REBALANCE_MS,
    subscribedTopicNames: ["t"],
    subscribedTopicRegex: null,
    serverAssignor: null,
    ownedPartitions: [],
    clientId: "client",
    clientHost: "/127.0.0.1",
    ...overrides,
  };
}

/** A steady-state heartbeat: nothing changed, owned partitions not sent. */
function beat(memberId: string, memberEpoch: number, owned: TopicPartitions[] | null = null) {
  return req({
    memberId,
    memberEpoch,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    ownedPartitions: owned,
  });
}

const parts = (r: ConsumerHeartbeatResult) =>
  r.assignment === null ? null : r.assignment.flatMap((t) => t.partitions.map((p) => p));
const owned = (ps: number[]): TopicPartitions[] => [{ topic: "t", partitions: ps }];

function ok(r: ConsumerHeartbeatResult): ConsumerHeartbeatResult {
  assert.equal(r.error, "NONE", `${r.error}: ${r.errorMessage}`);
  return r;
}

Deno.test("consumer groups: join, target assignment, epochs", () => {
  const { coordinator } = setup();
  const a = ok(coordinator.heartbeat(req({ memberId: "a" })));
  assert.equal(a.memberId, "a");
  assert.equal(a.memberEpoch, 1);
  assert.deepEqual(parts(a), [0, 1, 2, 3, 4, 5]);
  assert.equal(a.heartbeatIntervalMs, 500);
  // Nothing changed: no assignment in the answer, same epoch.
  const again = ok(coordinator.heartbeat(beat("a", 1)));
  assert.equal(again.memberEpoch, 1);
  assert.equal(again.assignment, null);
  const d = coordinator.describe("g")!;
  assert.equal(d.state, "Stable");
  assert.equal(d.assignor, "uniform");
  assert.equal(d.groupEpoch, 1);
  assert.equal(d.assignmentEpoch, 1);
});

Deno.test("consumer groups: a partition moves only after its owner revoked it", () => {
  const { coordinator } = setup();
  ok(coordinator.heartbeat(req({ memberId: "a" })));
  // b joins: epoch 2; a still owns everything, so b gets nothing yet.
  const b1 = ok(coordinator.heartbeat(req({ memberId: "b" })));
  assert.equal(b1.memberEpoch, 2);
  assert.deepEqual(parts(b1), []);
  assert.equal(coordinator.describe("g")!.state, "Reconciling");
  // a's heartbeat: keep three, revoke three; a stays at epoch 1 until it has revoked.
  const a2 = ok(coordinator.heartbeat(beat("a", 1)));
  assert.equal(a2.memberEpoch, 1);
  const kept = parts(a2)!;
  assert.equal(kept.length, 3);
  const moving = [0, 1, 2, 3, 4, 5].filter((p) => !kept.includes(p));
  // b asks again before a revoked: still nothing (null: its assignment did not change, as Kafka).
  assert.equal(parts(ok(coordinator.heartbeat(beat("b", 2, [])))), null);
  // a heartbeats still owning everything: nothing moves.
  const a3 = ok(coordinator.heartbeat(beat("a", 1, owned([0, 1, 2, 3, 4, 5]))));
  assert.equal(a3.memberEpoch, 1);
  assert.equal(parts(ok(coordinator.heartbeat(beat("b", 2, [])))), null);
  // a revokes: it moves to epoch 2 and b gets the three partitions.
  const a4 = ok(coordinator.heartbeat(beat("a", 1, owned(kept))));
  assert.equal(a4.memberEpoch, 2);
  const b2 = ok(coordinator.heartbeat(beat("b", 2)));
  assert.deepEqual(parts(b2), moving);
  assert.equal(coordinator.describe("g")!.state, "Stable");
  // Sticky: a third member takes one from each, a and b keep the rest.
  const c1 = ok(coordinator.heartbeat(req({ memberId: "c" })));
  assert.equal(c1.memberEpoch, 3);
  const a5 = parts(ok(coordinator.heartbeat(beat("a", 2))))!;
  const b3 = parts(ok(coordinator.heartbeat(beat("b", 2))))!;
  assert.equal(a5.length, 2);
  assert.equal(b3.length, 2);
  assert.ok(a5.every((p) => kept.includes(p)));
  assert.ok(b3.every((p) => moving.includes(p)));
});

Deno.test("consumer groups: fencing by epoch", () => {
  const { coordinator } = setup();
  ok(coordinator.heartbeat(req({ memberId: "a" })));
  assert.equal(coordinator.heartbeat(beat("a", 5)).error, "FENCED_MEMBER_EPOCH");
  assert.equal(coordinator.heartbeat(beat("nobody", 1)).error, "UNKNOWN_MEMBER_ID");
  ok(coordinator.heartbeat(req({ memberId: "b" })));
  const a = ok(coordinator.heartbeat(beat("a", 1)));
  ok(coordinator.heartbeat(beat("a", 1, a.assignment!)));
  // a is at epoch 2 now; epoch 1 is its previous one: accepted with owned partitions that are
  // a subset of its assignment (our answer was lost), fenced without them.
  assert.equal(coordinator.heartbeat(beat("a", 1)).error, "FENCED_MEMBER_EPOCH");
  const lost = ok(coordinator.heartbeat(beat("a", 1, a.assignment!)));
  assert.equal(lost.memberEpoch, 2);
  assert.equal(
    coordinator.heartbeat(beat("a", 0 - 0 + 1, owned([0, 1, 2, 3, 4, 5]))).error,
    "FENCED_MEMBER_EPOCH",
  );
  // A fenced member rejoins with epoch 0 and the same id: it starts afresh.
  const rejoined = ok(coordinator.heartbeat(req({ memberId: "a" })));
  assert.ok(rejoined.memberEpoch > 2);
});

Deno.test("consumer groups: session expiry and revocation timeout", () => {
  const { clock, coordinator } = setup();
  ok(coordinator.heartbeat(req({ memberId: "a" })));
  ok(coordinator.heartbeat(req({ memberId: "b" })));
  const a = ok(coordinator.heartbeat(beat("a", 1)));
  ok(coordinator.heartbeat(beat("a", 1, a.assignment!)));
  ok(coordinator.heartbeat(beat("b", 2)));
  // b keeps heartbeating, a goes silent: after the session timeout b gets everything.
  for (let i = 0; i < 4; i++) {
    clock.advance(SESSION_MS / 3);
    ok(
      coordinator.heartbeat(beat(
        "b",
        coordinator.describe("g")!.members.find((m) => m.memberId === "b")!.memberEpoch,
      )),
    );
  }
  const d = coordinator.describe("g")!;
  assert.deepEqual(d.members.map((m) => m.memberId), ["b"]);
  const b = d.members[0];
  assert.deepEqual(b.assignment[0].partitions, [0, 1, 2, 3, 4, 5]);
  assert.equal(coordinator.heartbeat(beat("a", 2)).error, "UNKNOWN_MEMBER_ID");

  // A member that never revokes is removed after its rebalance timeout.
  const { clock: c2, coordinator: g2 } = setup();
  ok(g2.heartbeat(req({ memberId: "x", rebalanceTimeoutMs: 2_000 })));
  ok(g2.heartbeat(req({ memberId: "y" })));
  ok(g2.heartbeat(beat("x", 1))); // told to revoke
  c2.advance(1_000);
  ok(g2.heartbeat(beat("y", 2)));
  ok(g2.heartbeat(beat("x", 1, owned([0, 1, 2, 3, 4, 5])))); // still owns them
  c2.advance(1_500);
  assert.deepEqual(g2.describe("g")!.members.map((m) => m.memberId), ["y"]);
  const y = ok(g2.heartbeat(beat("y", 2)));
  assert.equal(y.memberEpoch, 3);
  assert.deepEqual(parts(y), [0, 1, 2, 3, 4, 5]);
});

Deno.test("consumer groups: leave, static members, validation, other protocols", () => {
  const { coordinator } = setup({ t: 2 }, new Set(["classic-g"]));
  ok(coordinator.heartbeat(req({ memberId: "a", instanceId: "i-1" })));
  // Another member id with the same live instance id.
  assert.equal(
    coordinator.heartbeat(req({ memberId: "a2", instanceId: "i-1" })).error,
    "UNRELEASED_INSTANCE_ID",
  );
  // Leaving with -2 keeps the assignment for the instance to come back under a new id.
  const left = ok(
    coordinator.heartbeat(req({ memberId: "a", memberEpoch: -2, instanceId: "i-1" })),
  );
  assert.equal(left.memberEpoch, -2);
  const back = ok(coordinator.heartbeat(req({ memberId: "a2", instanceId: "i-1" })));
  assert.equal(back.memberEpoch, 1);
  assert.deepEqual(parts(back), [0, 1]);
  // Leaving with -1 removes the member and bumps the group epoch.
  const gone = ok(coordinator.heartbeat(req({ memberId: "a2", memberEpoch: -1 })));
  assert.equal(gone.memberEpoch, -1);
  assert.equal(coordinator.describe("g")!.state, "Empty");
  assert.equal(coordinator.describe("g")!.groupEpoch, 2);

  const invalid = (r: Partial<ConsumerHeartbeatRequest>) => coordinator.heartbeat(req(r)).error;
  assert.equal(invalid({ groupId: "" }), "INVALID_REQUEST");
  assert.equal(invalid({ memberId: "", memberEpoch: 3 }), "INVALID_REQUEST");
  assert.equal(invalid({ rebalanceTimeoutMs: -1 }), "INVALID_REQUEST");
  assert.equal(invalid({ ownedPartitions: owned([0]) }), "INVALID_REQUEST");
  assert.equal(invalid({ subscribedTopicNames: null }), "INVALID_REQUEST");
  assert.equal(invalid({ memberEpoch: -3 }), "INVALID_REQUEST");
  assert.equal(invalid({ memberEpoch: -2 }), "INVALID_REQUEST"); // no instance id
  assert.equal(invalid({ serverAssignor: "sticky" }), "UNSUPPORTED_ASSIGNOR");
  assert.equal(invalid({ subscribedTopicRegex: "(" }), "INVALID_REGULAR_EXPRESSION");
  assert.equal(invalid({ groupId: "classic-g" }), "GROUP_ID_NOT_FOUND");
  // v0: an empty member id on join gets one made by the coordinator.
  const made = ok(coordinator.heartbeat(req({ groupId: "v0", memberId: "" })));
  assert.match(made.memberId!, /^[0-9a-f-]{36}$/);
  // A heartbeat (epoch > 0) for a group this coordinator does not know (e.g. after a restart).
  assert.equal(coordinator.heartbeat(beat("m", 4)).error, "UNKNOWN_MEMBER_ID");
});

Deno.test("consumer groups: range assignor, partition growth, commit checks", () => {
  const { coordinator, partitions } = setup({ t: 4 });
  const a = ok(coordinator.heartbeat(req({ memberId: "a", serverAssignor: "range" })));
  const b = ok(coordinator.heartbeat(req({ memberId: "b", serverAssignor: "range" })));
  assert.equal(coordinator.describe("g")!.assignor, "range");
  ok(coordinator.heartbeat(beat("a", a.memberEpoch, owned([0, 1, 2, 3]))));
  ok(coordinator.heartbeat(beat("a", 1, owned([0, 1]))));
  const b2 = ok(coordinator.heartbeat(beat("b", b.memberEpoch)));
  assert.deepEqual(parts(b2), [2, 3]);
  // Partitions added to the topic: a new target at the next heartbeat.
  partitions.t = 6;
  // Range gives a [0, 1, 2] and b [3, 4, 5]: a moves to epoch 3 at once, but partition 2 comes
  // only after b revoked it.
  const a3 = ok(coordinator.heartbeat(beat("a", 2)));
  assert.equal(a3.memberEpoch, 3);
  // Its assigned partitions did not change: no assignment (null), only the epoch, as Kafka.
  assert.equal(parts(a3), null, "a new epoch alone carries no assignment");
  assert.equal(coordinator.describe("g")!.state, "Reconciling");
  const b3 = ok(coordinator.heartbeat(beat("b", 2)));
  assert.deepEqual([b3.memberEpoch, parts(b3)], [2, [3]]);
  assert.equal(ok(coordinator.heartbeat(beat("a", 3))).assignment, null, "2 not released yet");
  const b4 = ok(coordinator.heartbeat(beat("b", 2, owned([3]))));
  assert.deepEqual([b4.memberEpoch, parts(b4)], [3, [3, 4, 5]]);
  assert.deepEqual(parts(ok(coordinator.heartbeat(beat("a", 3)))), [0, 1, 2]);
  assert.equal(coordinator.describe("g")!.state, "Stable");

  assert.equal(coordinator.validateCommit("nope", "a", 3, 9), undefined, "not ours");
  assert.equal(coordinator.validateCommit("g", "a", 3, 9), "NONE");
  assert.equal(coordinator.validateCommit("g", "a", 2, 9), "STALE_MEMBER_EPOCH");
  assert.equal(coordinator.validateCommit("g", "a", 3, 8), "UNSUPPORTED_VERSION");
  assert.equal(coordinator.validateCommit("g", "zz", 3, 9), "UNKNOWN_MEMBER_ID");
  assert.equal(coordinator.validateCommit("g", "", -1, 9), "UNKNOWN_MEMBER_ID", "not empty");
  assert.equal(coordinator.validateFetch("g", "a", 3), "NONE");
  assert.equal(coordinator.validateFetch("g", "a", 1), "STALE_MEMBER_EPOCH");
  assert.equal(coordinator.validateFetch("g", null, -1), "NONE");
  ok(coordinator.heartbeat(req({ memberId: "a", memberEpoch: -1 })));
  ok(coordinator.heartbeat(req({ memberId: "b", memberEpoch: -1 })));
  assert.equal(coordinator.validateCommit("g", "", -1, 9), "NONE", "empty group");
  assert.equal(coordinator.deleteIfEmpty("g"), true);
  assert.equal(coordinator.knows("g"), false);
});
