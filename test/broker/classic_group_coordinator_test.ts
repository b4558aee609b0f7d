/**
 * ClassicGroupCoordinator (src/broker/groups/classic/): Kafka's JoinGroup / SyncGroup / Heartbeat
 * / LeaveGroup barrier with client-side assignment, session and rebalance timeouts on a
 * ManualClock, static membership, and OffsetCommit / OffsetFetch against a real OffsetStore in a
 * temp dir (the store the HTTP groups use).
 */
import assert from "node:assert/strict";
import { ClassicGroupCoordinator } from "../../src/broker/groups/classic/coordinator.ts";
import {
  CLASSIC_INITIAL_REBALANCE_DELAY_MS_DEFAULT,
  type ClassicGroupOptions,
  type ClassicJoinGroupRequest,
  type ClassicJoinGroupResult,
  type ClassicOffsetCommitRequest,
  type ClassicSyncGroupRequest,
} from "../../src/broker/groups/classic/types.ts";
import { OffsetStore } from "../../src/broker/groups/offset_store.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { assertBytes, tempDir } from "../test_util.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const SESSION_MS = 10_000;
const REBALANCE_MS = 30_000;

async function setup(
  options: Partial<ClassicGroupOptions> = {},
  isOtherProtocolGroup?: (groupId: string) => boolean,
) {
  const clock = new ManualClock();
  const logger = new MemoryLogger();
  const store = await OffsetStore.open(tempDir("sluice-kafka-groups-"), clock, logger);
  const coordinator = new ClassicGroupCoordinator(
    store,
    clock,
    logger,
    { initialRebalanceDelayMs: 0, ...options },
    isOtherProtocolGroup,
  );
  return { clock, logger, store, coordinator };
}

function joinReq(overrides: Partial<ClassicJoinGroupRequest> = {}): ClassicJoinGroupRequest {
  return {
    groupId: "g",
    memberId: "",
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: enc("meta") }],
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    requireKnownMemberId: false,
    clientId: "client",
    clientHost: "/127.0.0.1",
    ...overrides,
  };
}

function syncReq(
  join: ClassicJoinGroupResult,
  assignments: { memberId: string; assignment: Uint8Array }[] = [],
  overrides: Partial<ClassicSyncGroupRequest> = {},
): ClassicSyncGroupRequest {
  return {
    groupId: "g",
    generationId: join.generationId,
    memberId: join.memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: join.protocolName,
    assignments,
    ...overrides,
  };
}

function commitReq(
  overrides: Partial<ClassicOffsetCommitRequest> & Pick<ClassicOffsetCommitRequest, "topics">,
): ClassicOffsetCommitRequest {
  return { groupId: "g", generationId: -1, memberId: "", groupInstanceId: null, ...overrides };
}

/** Follows a promise without awaiting it, so a test can see whether it has settled yet. */
function track<T>(promise: Promise<T>): { done: boolean; value: T | undefined } {
  const t = { done: false, value: undefined as T | undefined };
  promise.then((v) => {
    t.done = true;
    t.value = v;
  });
  return t;
}

/** Lets every pending promise callback run. */
const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

type Coordinator = ClassicGroupCoordinator;

/** A one-member group, Stable at generation 1 with `assignment`. */
async function stableOne(coordinator: Coordinator, assignment = enc("a0")) {
  const join = await coordinator.joinGroup(joinReq({ clientId: "a" }));
  assert.equal(join.error, "NONE");
  const sync = await coordinator.syncGroup(
    syncReq(join, [{ memberId: join.memberId, assignment }]),
  );
  assert.equal(sync.error, "NONE");
  return join;
}

/** Two members, Stable: returns both join answers of the last generation. */
async function stableTwo(coordinator: Coordinator, second: Partial<ClassicJoinGroupRequest> = {}) {
  const a1 = await stableOne(coordinator);
  const b = track(coordinator.joinGroup(joinReq({ clientId: "b", ...second })));
  await flush();
  assert.equal(b.done, false, "the second join waits for the first member to rejoin");
  const hb = coordinator.heartbeat({
    groupId: "g",
    generationId: a1.generationId,
    memberId: a1.memberId,
    groupInstanceId: null,
  });
  assert.equal(hb.error, "REBALANCE_IN_PROGRESS");
  const a = await coordinator.joinGroup(joinReq({ memberId: a1.memberId, clientId: "a" }));
  await flush();
  assert.equal(b.done, true);
  const bJoin = b.value!;
  const aSync = await coordinator.syncGroup(syncReq(a, [
    { memberId: a.memberId, assignment: enc("for-a") },
    { memberId: bJoin.memberId, assignment: enc("for-b") },
  ]));
  const bSync = await coordinator.syncGroup(syncReq(bJoin));
  assert.equal(aSync.error, "NONE");
  assert.equal(bSync.error, "NONE");
  return { a, b: bJoin };
}

Deno.test("ClassicGroupCoordinator join and sync", async (t) => {
  await t.step("MEMBER_ID_REQUIRED hands out an id; the rejoin with it joins", async () => {
    const { coordinator } = await setup();
    const first = await coordinator.joinGroup(joinReq({ requireKnownMemberId: true }));
    assert.equal(first.error, "MEMBER_ID_REQUIRED");
    assert.match(first.memberId, /^client-[0-9a-f-]{36}$/);
    assert.equal(first.generationId, -1);
    assert.equal(coordinator.hasActiveGroup("g"), true, "a pending member keeps the id in use");
    assert.equal(coordinator.describe("g").members.length, 0, "pending ids are not members yet");

    const join = await coordinator.joinGroup(
      joinReq({ memberId: first.memberId, requireKnownMemberId: true }),
    );
    assert.equal(join.error, "NONE");
    assert.equal(join.memberId, first.memberId);
    assert.equal(join.generationId, 1);
    assert.equal(join.leader, first.memberId);
    assert.equal(join.protocolType, "consumer");
    assert.equal(join.protocolName, "range");
    assert.deepEqual(join.members.map((m) => [m.memberId, dec(m.metadata)]), [
      [first.memberId, "meta"],
    ]);
    coordinator.close();
  });

  await t.step("one member: generation 1, leader, sync returns its own assignment", async () => {
    const { coordinator } = await setup();
    const join = await coordinator.joinGroup(joinReq());
    assert.equal(join.error, "NONE");
    assert.equal(join.generationId, 1);
    assert.equal(join.leader, join.memberId);
    assert.equal(coordinator.describe("g").state, "CompletingRebalance");
    const sync = await coordinator.syncGroup(
      syncReq(join, [{ memberId: join.memberId, assignment: enc("p0,p1") }]),
    );
    assert.equal(sync.error, "NONE");
    assert.equal(sync.protocolType, "consumer");
    assert.equal(sync.protocolName, "range");
    assertBytes(sync.assignment, "p0,p1", "assignment");
    const described = coordinator.describe("g");
    assert.equal(described.state, "Stable");
    assert.equal(described.protocolName, "range");
    assertBytes(described.members[0].assignment, "p0,p1", "described assignment");
    // A follower-style re-sync in Stable gets the same bytes at once.
    const again = await coordinator.syncGroup(syncReq(join));
    assertBytes(again.assignment, "p0,p1", "re-sync");
    const hb = coordinator.heartbeat({
      groupId: "g",
      generationId: 1,
      memberId: join.memberId,
      groupInstanceId: null,
    });
    assert.equal(hb.error, "NONE");
    coordinator.close();
  });

  await t.step("two members: rebalance via heartbeat, leader relays, follower waits", async () => {
    const { coordinator } = await setup();
    const a1 = await stableOne(coordinator);
    assert.equal(a1.generationId, 1);

    const b = track(
      coordinator.joinGroup(
        joinReq({ clientId: "b", protocols: [{ name: "range", metadata: enc("meta-b") }] }),
      ),
    );
    await flush();
    assert.equal(b.done, false);
    assert.equal(coordinator.describe("g").state, "PreparingRebalance");
    const hb = coordinator.heartbeat({
      groupId: "g",
      generationId: 1,
      memberId: a1.memberId,
      groupInstanceId: null,
    });
    assert.equal(hb.error, "REBALANCE_IN_PROGRESS");

    const a = await coordinator.joinGroup(
      joinReq({
        memberId: a1.memberId,
        clientId: "a",
        protocols: [{ name: "range", metadata: enc("meta-a") }],
      }),
    );
    await flush();
    assert.equal(b.done, true);
    const bJoin = b.value!;
    assert.equal(a.generationId, 2);
    assert.equal(bJoin.generationId, 2);
    assert.equal(a.leader, a1.memberId, "the old leader stays leader");
    assert.equal(bJoin.leader, a1.memberId);
    assert.deepEqual(
      a.members.map((m) => [m.memberId, dec(m.metadata)]),
      [[a.memberId, "meta-a"], [bJoin.memberId, "meta-b"]],
    );
    assert.deepEqual(bJoin.members, [], "followers get no member list");

    // The follower syncs first and waits for the leader.
    const bSync = track(coordinator.syncGroup(syncReq(bJoin)));
    await flush();
    assert.equal(bSync.done, false);
    const aSync = await coordinator.syncGroup(syncReq(a, [
      { memberId: a.memberId, assignment: enc("for-a") },
      { memberId: bJoin.memberId, assignment: enc("for-b") },
    ]));
    await flush();
    assert.equal(bSync.done, true);
    assert.equal(bSync.value!.error, "NONE");
    assertBytes(bSync.value!.assignment, "for-b", "follower's assignment");
    assertBytes(aSync.assignment, "for-a", "leader's assignment");
    assert.equal(coordinator.describe("g").state, "Stable");
    coordinator.close();
  });

  await t.step("a leader that leaves members out gives them empty assignments", async () => {
    const { coordinator } = await setup();
    const a1 = await stableOne(coordinator);
    const b = track(coordinator.joinGroup(joinReq({ clientId: "b" })));
    const a = await coordinator.joinGroup(joinReq({ memberId: a1.memberId }));
    await flush();
    const bSync = track(coordinator.syncGroup(syncReq(b.value!)));
    await coordinator.syncGroup(
      syncReq(a, [{ memberId: a.memberId, assignment: enc("all") }, {
        memberId: "stranger",
        assignment: enc("x"),
      }]),
    );
    await flush();
    assert.equal(bSync.value!.error, "NONE");
    assert.equal(bSync.value!.assignment.length, 0);
    coordinator.close();
  });

  await t.step("the initial delay gathers members joining an empty group together", async () => {
    const { clock, coordinator } = await setup({ initialRebalanceDelayMs: 300 });
    assert.equal(CLASSIC_INITIAL_REBALANCE_DELAY_MS_DEFAULT, 300);
    const a = track(coordinator.joinGroup(joinReq({ clientId: "a" })));
    clock.advance(200);
    const b = track(coordinator.joinGroup(joinReq({ clientId: "b" })));
    clock.advance(100); // the first delay ends; a member arrived during it: wait once more
    await flush();
    assert.equal(a.done, false);
    clock.advance(300);
    await flush();
    assert.equal(a.done, true);
    assert.equal(b.done, true);
    assert.equal(a.value!.generationId, 1);
    assert.equal(b.value!.generationId, 1);
    assert.equal(a.value!.members.length, 2, "one generation with both members");
    coordinator.close();
  });

  await t.step("the initial delay is bounded by the rebalance timeout", async () => {
    const { clock, coordinator } = await setup({ initialRebalanceDelayMs: 300 });
    const first = track(coordinator.joinGroup(joinReq({ rebalanceTimeoutMs: 1000 })));
    // A new member every 250 ms keeps extending the delay, but only up to ~1000 ms.
    for (let i = 0; i < 8 && !first.done; i++) {
      coordinator.joinGroup(joinReq({ clientId: `c${i}`, rebalanceTimeoutMs: 1000 }));
      clock.advance(250);
      await flush();
    }
    assert.equal(first.done, true);
    assert.ok(first.value!.members.length < 9);
    coordinator.close();
  });

  await t.step("the protocol is elected by the members' votes", async () => {
    const { clock, coordinator } = await setup({ initialRebalanceDelayMs: 100 });
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: enc(name) }));
    const joins = [
      track(coordinator.joinGroup(joinReq({ clientId: "a", protocols: p("range", "rr") }))),
      track(coordinator.joinGroup(joinReq({ clientId: "b", protocols: p("rr", "range") }))),
      track(coordinator.joinGroup(joinReq({ clientId: "c", protocols: p("sticky", "rr", "x") }))),
    ];
    clock.advance(100);
    clock.advance(100);
    await flush();
    for (const j of joins) {
      assert.equal(j.value!.error, "NONE");
      assert.equal(j.value!.protocolName, "rr");
    }
    const leader = joins.find((j) => j.value!.members.length > 0)!.value!;
    assert.deepEqual(leader.members.map((m) => dec(m.metadata)), ["rr", "rr", "rr"]);
    coordinator.close();
  });

  await t.step("rejoins with unchanged metadata are answered from the generation", async () => {
    const { coordinator } = await setup();
    const a1 = await stableOne(coordinator);
    const b = track(coordinator.joinGroup(joinReq({ clientId: "b" })));
    const a = await coordinator.joinGroup(joinReq({ memberId: a1.memberId }));
    await flush();
    // CompletingRebalance: a member that missed its JoinGroup answer gets it again.
    const again = await coordinator.joinGroup(joinReq({ memberId: a.memberId }));
    assert.equal(again.generationId, 2);
    assert.equal(again.members.length, 2, "the leader's answer again");
    await coordinator.syncGroup(
      syncReq(a, [{ memberId: b.value!.memberId, assignment: enc("x") }]),
    );
    // Stable: a follower's unchanged rejoin is answered at once, no rebalance.
    const follower = await coordinator.joinGroup(joinReq({ memberId: b.value!.memberId }));
    assert.equal(follower.generationId, 2);
    assert.deepEqual(follower.members, []);
    assert.equal(coordinator.describe("g").state, "Stable");
    // ... but the leader's rejoin always rebalances.
    const leader = track(coordinator.joinGroup(joinReq({ memberId: a.memberId })));
    assert.equal(coordinator.describe("g").state, "PreparingRebalance");
    await coordinator.joinGroup(joinReq({ memberId: b.value!.memberId }));
    await flush();
    assert.equal(leader.value!.generationId, 3);
    coordinator.close();
  });

  await t.step("JoinGroup v0 (no rebalance timeout) waits its session timeout", async () => {
    const { clock, coordinator } = await setup();
    const a1 = await coordinator.joinGroup(
      joinReq({ sessionTimeoutMs: 6_000, rebalanceTimeoutMs: -1 }),
    );
    await coordinator.syncGroup(syncReq(a1));
    const b = track(coordinator.joinGroup(joinReq({ clientId: "b", rebalanceTimeoutMs: -1 })));
    clock.advance(5_999);
    await flush();
    assert.equal(b.done, false);
    // At the barrier's timeout (the larger session, 10 s), a has not rejoined: dropped.
    clock.advance(4_001);
    await flush();
    assert.equal(b.value!.generationId, 2);
    assert.deepEqual(b.value!.members.map((m) => m.memberId), [b.value!.memberId]);
    coordinator.close();
  });

  await t.step("a member's repeated JoinGroup answers the earlier one", async () => {
    const { coordinator } = await setup();
    const { a, b } = await stableTwo(coordinator);
    const first = track(coordinator.joinGroup(joinReq({ memberId: a.memberId })));
    const second = track(coordinator.joinGroup(joinReq({ memberId: a.memberId })));
    await flush();
    assert.equal(first.value?.error, "REBALANCE_IN_PROGRESS");
    assert.equal(second.done, false);
    await coordinator.joinGroup(joinReq({ memberId: b.memberId, clientId: "b" }));
    await flush();
    assert.equal(second.value!.generationId, 3);
    coordinator.close();
  });
});

Deno.test("ClassicGroupCoordinator timeouts and leaving", async (t) => {
  await t.step(
    "a member that does not rejoin within the rebalance timeout is dropped",
    async () => {
      // Members ask for 30 s; the coordinator caps rebalance timeouts at 5 s.
      const { clock, coordinator } = await setup({ maxRebalanceTimeoutMs: 5_000 });
      const { a, b } = await stableTwo(coordinator);
      const c = track(coordinator.joinGroup(joinReq({ clientId: "c" })));
      const a3 = track(coordinator.joinGroup(joinReq({ memberId: a.memberId })));
      clock.advance(4_999);
      await flush();
      assert.equal(c.done, false, "b has not rejoined yet");
      clock.advance(1);
      await flush();
      assert.equal(a3.value!.generationId, 3);
      assert.equal(c.value!.generationId, 3);
      assert.deepEqual(
        a3.value!.members.map((m) => m.memberId),
        [a.memberId, c.value!.memberId],
        "b was removed",
      );
      const hb = coordinator.heartbeat({
        groupId: "g",
        generationId: b.generationId,
        memberId: b.memberId,
        groupInstanceId: null,
      });
      assert.equal(hb.error, "UNKNOWN_MEMBER_ID");
      coordinator.close();
    },
  );

  await t.step("session expiry removes a silent member and rebalances", async () => {
    const { clock, coordinator } = await setup();
    const { a, b } = await stableTwo(coordinator);
    const beat = (memberId: string, generationId: number) =>
      coordinator.heartbeat({ groupId: "g", generationId, memberId, groupInstanceId: null })
        .error;
    for (let i = 0; i < 2; i++) {
      clock.advance(4_000);
      assert.equal(beat(a.memberId, 2), "NONE", `heartbeat ${i}`);
    }
    clock.advance(1_999);
    assert.equal(coordinator.describe("g").state, "Stable");
    clock.advance(1);
    // b has been silent for its 10 s session: gone, and the group prepares a rebalance.
    assert.equal(coordinator.describe("g").state, "PreparingRebalance");
    assert.equal(beat(a.memberId, 2), "REBALANCE_IN_PROGRESS");
    assert.equal(beat(b.memberId, 2), "UNKNOWN_MEMBER_ID");
    const a3 = await coordinator.joinGroup(joinReq({ memberId: a.memberId }));
    assert.equal(a3.generationId, 3);
    assert.deepEqual(a3.members.map((m) => m.memberId), [a.memberId]);
    coordinator.close();
  });

  await t.step("a lone member's expiry leaves an Empty group", async () => {
    const { clock, coordinator } = await setup();
    const a = await stableOne(coordinator);
    clock.advance(SESSION_MS);
    const d = coordinator.describe("g");
    assert.equal(d.state, "Empty");
    assert.equal(d.generationId, a.generationId + 1);
    assert.equal(coordinator.hasActiveGroup("g"), false);
    assert.equal(clock.pendingTimers, 0);
    coordinator.close();
  });

  await t.step("an unused MEMBER_ID_REQUIRED id is forgotten after a session", async () => {
    const { clock, coordinator } = await setup();
    const first = await coordinator.joinGroup(joinReq({ requireKnownMemberId: true }));
    clock.advance(SESSION_MS);
    assert.equal(coordinator.hasActiveGroup("g"), false);
    const late = await coordinator.joinGroup(joinReq({ memberId: first.memberId }));
    assert.equal(late.error, "UNKNOWN_MEMBER_ID");
    coordinator.close();
  });

  await t.step("a pending id holds the barrier until it joins", async () => {
    const { coordinator } = await setup();
    const a1 = await stableOne(coordinator);
    const pending = await coordinator.joinGroup(
      joinReq({ clientId: "b", requireKnownMemberId: true }),
    );
    assert.equal(pending.error, "MEMBER_ID_REQUIRED");
    const a = track(coordinator.joinGroup(joinReq({ memberId: a1.memberId })));
    await flush();
    assert.equal(a.done, false, "waits for the pending member");
    const b = await coordinator.joinGroup(joinReq({ memberId: pending.memberId, clientId: "b" }));
    await flush();
    assert.equal(a.value!.generationId, 2);
    assert.equal(b.generationId, 2);
    coordinator.close();
  });

  await t.step("a follower's sync ends when the leader never syncs", async () => {
    const { clock, coordinator } = await setup();
    const a1 = await stableOne(coordinator);
    const b = track(coordinator.joinGroup(joinReq({ clientId: "b" })));
    const a = await coordinator.joinGroup(joinReq({ memberId: a1.memberId }));
    await flush();
    const bSync = track(coordinator.syncGroup(syncReq(b.value!)));
    // The leader heartbeats (so its session holds) but never sends SyncGroup.
    for (let elapsed = 0; elapsed < REBALANCE_MS - 5_000; elapsed += 5_000) {
      clock.advance(5_000);
      const hb = coordinator.heartbeat({
        groupId: "g",
        generationId: a.generationId,
        memberId: a.memberId,
        groupInstanceId: null,
      });
      assert.equal(hb.error, "NONE");
    }
    clock.advance(4_999);
    await flush();
    assert.equal(bSync.done, false);
    clock.advance(1);
    await flush();
    assert.equal(bSync.value!.error, "REBALANCE_IN_PROGRESS");
    // The leader missed its sync: removed; b rejoins alone and leads.
    const hb = coordinator.heartbeat({
      groupId: "g",
      generationId: a.generationId,
      memberId: a.memberId,
      groupInstanceId: null,
    });
    assert.equal(hb.error, "UNKNOWN_MEMBER_ID");
    const b3 = await coordinator.joinGroup(joinReq({ memberId: b.value!.memberId }));
    assert.equal(b3.leader, b.value!.memberId);
    assert.equal(b3.generationId, 3);
    coordinator.close();
  });

  await t.step("leave: the others find out from their heartbeat and rejoin", async () => {
    const { coordinator } = await setup();
    const { a, b } = await stableTwo(coordinator);
    const left = coordinator.leaveGroup({
      groupId: "g",
      members: [{ memberId: b.memberId, groupInstanceId: null }, {
        memberId: "nobody",
        groupInstanceId: null,
      }],
    });
    assert.equal(left.error, "NONE");
    assert.deepEqual(left.members.map((m) => m.error), [
      "NONE",
      "UNKNOWN_MEMBER_ID",
    ]);
    assert.equal(coordinator.describe("g").state, "PreparingRebalance");
    const hb = coordinator.heartbeat({
      groupId: "g",
      generationId: a.generationId,
      memberId: a.memberId,
      groupInstanceId: null,
    });
    assert.equal(hb.error, "REBALANCE_IN_PROGRESS");
    const a3 = await coordinator.joinGroup(joinReq({ memberId: a.memberId }));
    assert.equal(a3.generationId, 3);
    assert.equal(a3.members.length, 1);
    await coordinator.syncGroup(syncReq(a3, [{ memberId: a.memberId, assignment: enc("all") }]));
    // The last member leaving empties the group.
    coordinator.leaveGroup({
      groupId: "g",
      members: [{ memberId: a.memberId, groupInstanceId: null }],
    });
    const d = coordinator.describe("g");
    assert.equal(d.state, "Empty");
    assert.equal(d.generationId, 4);
    assert.equal(coordinator.hasActiveGroup("g"), false);
    const unknown = coordinator.leaveGroup({
      groupId: "nope",
      members: [{ memberId: "m", groupInstanceId: null }],
    });
    assert.equal(unknown.members[0].error, "UNKNOWN_MEMBER_ID");
    coordinator.close();
  });

  await t.step("a member waiting at the barrier that leaves is answered", async () => {
    const { coordinator } = await setup();
    const { a, b } = await stableTwo(coordinator);
    const aJoin = track(coordinator.joinGroup(joinReq({ memberId: a.memberId })));
    coordinator.leaveGroup({
      groupId: "g",
      members: [{ memberId: a.memberId, groupInstanceId: null }],
    });
    await flush();
    assert.equal(aJoin.value!.error, "UNKNOWN_MEMBER_ID");
    const b3 = await coordinator.joinGroup(joinReq({ memberId: b.memberId }));
    assert.equal(b3.generationId, 3);
    assert.equal(b3.leader, b.memberId, "leadership moves to a remaining member");
    coordinator.close();
  });
});

Deno.test("ClassicGroupCoordinator errors", async (t) => {
  await t.step("illegal generation and unknown member", async () => {
    const { coordinator } = await setup();
    const { a, b } = await stableTwo(coordinator);
    const beat = (memberId: string, generationId: number, groupId = "g") =>
      coordinator.heartbeat({ groupId, generationId, memberId, groupInstanceId: null }).error;
    assert.equal(beat(a.memberId, 1), "ILLEGAL_GENERATION");
    assert.equal(beat("stranger", 2), "UNKNOWN_MEMBER_ID");
    assert.equal(beat(a.memberId, 2, "other-group"), "UNKNOWN_MEMBER_ID");
    assert.equal(beat(a.memberId, 2, ""), "INVALID_GROUP_ID");

    const sync = (over: Partial<ClassicSyncGroupRequest>) =>
      coordinator.syncGroup(syncReq(a, [], over)).then((r) => r.error);
    assert.equal(await sync({ generationId: 1 }), "ILLEGAL_GENERATION");
    assert.equal(await sync({ memberId: "stranger" }), "UNKNOWN_MEMBER_ID");
    assert.equal(
      await sync({ protocolName: "roundrobin" }),
      "INCONSISTENT_GROUP_PROTOCOL",
    );
    assert.equal(await sync({ protocolType: "connect" }), "INCONSISTENT_GROUP_PROTOCOL");

    // A join with a member id to a group that does not exist.
    const join = await coordinator.joinGroup(joinReq({ groupId: "h", memberId: "x" }));
    assert.equal(join.error, "UNKNOWN_MEMBER_ID");
    const known = await coordinator.joinGroup(joinReq({ memberId: "x" }));
    assert.equal(known.error, "UNKNOWN_MEMBER_ID");

    // A sync during PreparingRebalance.
    const c = track(coordinator.joinGroup(joinReq({ clientId: "c" })));
    assert.equal(await sync({}), "REBALANCE_IN_PROGRESS");
    coordinator.close();
    await flush();
    assert.equal(c.value!.error, "COORDINATOR_NOT_AVAILABLE");
    void b;
  });

  await t.step("inconsistent protocols, bad timeouts, bad ids, full groups", async () => {
    const { coordinator } = await setup({ membersPerGroupMax: 2 }, (g) => g === "http-group");
    const code = (over: Partial<ClassicJoinGroupRequest>) =>
      coordinator.joinGroup(joinReq(over)).then((r) => r.error);
    await stableOne(coordinator);
    assert.equal(await code({ protocolType: "connect" }), "INCONSISTENT_GROUP_PROTOCOL");
    assert.equal(
      await code({ protocols: [{ name: "sticky", metadata: enc("") }] }),
      "INCONSISTENT_GROUP_PROTOCOL",
    );
    assert.equal(
      await code({ groupId: "new", protocols: [] }),
      "INCONSISTENT_GROUP_PROTOCOL",
    );
    assert.equal(
      await code({ groupId: "new", protocolType: "" }),
      "INCONSISTENT_GROUP_PROTOCOL",
    );
    assert.equal(await code({ groupId: "http-group" }), "INCONSISTENT_GROUP_PROTOCOL");
    assert.equal(await code({ sessionTimeoutMs: 1 }), "INVALID_SESSION_TIMEOUT");
    assert.equal(await code({ sessionTimeoutMs: 31 * 60_000 }), "INVALID_SESSION_TIMEOUT");
    assert.equal(await code({ groupId: "" }), "INVALID_GROUP_ID");
    assert.equal(await code({ groupId: "x".repeat(250) }), "INVALID_GROUP_ID");
    assert.equal(coordinator.describe("new").state, "Dead", "refused joins create no group");
    assert.equal(coordinator.describe("g").state, "Stable", "refused joins leave the group be");

    // Two members fit; the third is refused.
    const b = track(coordinator.joinGroup(joinReq({ clientId: "b" })));
    const a = coordinator.describe("g").members[0].memberId;
    await coordinator.joinGroup(joinReq({ memberId: a }));
    await flush();
    assert.equal(b.value!.error, "NONE");
    assert.equal(await code({ clientId: "c" }), "GROUP_MAX_SIZE_REACHED");
    assert.equal(
      await code({ clientId: "c", requireKnownMemberId: true }),
      "GROUP_MAX_SIZE_REACHED",
    );
    coordinator.close();
  });

  await t.step("a rejoining member may change its own protocols when alone", async () => {
    const { coordinator } = await setup();
    const a = await stableOne(coordinator);
    const again = await coordinator.joinGroup(
      joinReq({ memberId: a.memberId, protocols: [{ name: "sticky", metadata: enc("s") }] }),
    );
    assert.equal(again.error, "NONE");
    assert.equal(again.protocolName, "sticky");
    assert.equal(again.generationId, 2);
    coordinator.close();
  });

  await t.step("the group table is bounded; idle groups are forgotten first", async () => {
    const { clock, coordinator } = await setup({ groupsMax: 2 });
    const a = await coordinator.joinGroup(joinReq({ groupId: "g1" }));
    await coordinator.joinGroup(joinReq({ groupId: "g2" }));
    const full = await coordinator.joinGroup(joinReq({ groupId: "g3" }));
    assert.equal(full.error, "COORDINATOR_NOT_AVAILABLE");
    coordinator.leaveGroup({
      groupId: "g1",
      members: [{ memberId: a.memberId, groupInstanceId: null }],
    });
    const ok = await coordinator.joinGroup(joinReq({ groupId: "g3" }));
    assert.equal(ok.error, "NONE");
    assert.equal(coordinator.describe("g1").state, "Dead");
    coordinator.close();
    assert.equal(clock.pendingTimers, 0);
  });
});

Deno.test("ClassicGroupCoordinator static membership", async (t) => {
  await t.step("a known instance id replaces its member id without a rebalance", async () => {
    const { coordinator } = await setup();
    const join = await coordinator.joinGroup(joinReq({ groupInstanceId: "inst-1", clientId: "a" }));
    assert.equal(join.error, "NONE");
    assert.match(join.memberId, /^inst-1-/);
    await coordinator.syncGroup(
      syncReq(join, [{ memberId: join.memberId, assignment: enc("mine") }], {
        groupInstanceId: "inst-1",
      }),
    );
    // The instance restarts and joins without its member id (requireKnownMemberId is moot).
    const back = await coordinator.joinGroup(
      joinReq({ groupInstanceId: "inst-1", clientId: "a", requireKnownMemberId: true }),
    );
    assert.equal(back.error, "NONE");
    assert.notEqual(back.memberId, join.memberId);
    assert.equal(back.generationId, 1, "no rebalance");
    assert.equal(back.leader, join.memberId, "the old leader id: the new instance does not assign");
    assert.equal(coordinator.describe("g").state, "Stable");
    const sync = await coordinator.syncGroup(syncReq(back, [], { groupInstanceId: "inst-1" }));
    assertBytes(sync.assignment, "mine", "the kept assignment");
    const fenced = coordinator.heartbeat({
      groupId: "g",
      generationId: 1,
      memberId: join.memberId,
      groupInstanceId: "inst-1",
    });
    assert.equal(fenced.error, "FENCED_INSTANCE_ID");
    // LeaveGroup by instance id alone.
    const left = coordinator.leaveGroup({
      groupId: "g",
      members: [{ memberId: "", groupInstanceId: "inst-1" }],
    });
    assert.equal(left.members[0].error, "NONE");
    assert.equal(coordinator.describe("g").state, "Empty");
    coordinator.close();
  });
});

Deno.test("ClassicGroupCoordinator offsets", async (t) => {
  const topics = (offset: number | bigint, metadata: string | null = null) => [{
    name: "orders",
    partitions: [{ partitionIndex: 0, committedOffset: offset, metadata }],
  }];

  await t.step("member commits are checked by generation and land in the store", async () => {
    const { store, coordinator } = await setup();
    const { a, b } = await stableTwo(coordinator);
    const commit = (over: Partial<ClassicOffsetCommitRequest>, offset: number) =>
      coordinator.commitOffsets(commitReq({ topics: topics(offset), ...over }))
        .then((r) => r.topics[0].partitions[0].error);
    assert.equal(
      await commit({ generationId: 2, memberId: a.memberId }, 42),
      "NONE",
    );
    assert.equal(store.committed("g", "orders", 0), 42, "visible to the HTTP side's store");
    assert.equal(
      await commit({ generationId: 1, memberId: a.memberId }, 50),
      "ILLEGAL_GENERATION",
    );
    assert.equal(
      await commit({ generationId: 2, memberId: "x" }, 50),
      "UNKNOWN_MEMBER_ID",
    );
    assert.equal(await commit({}, 50), "UNKNOWN_MEMBER_ID", "no simple commits: members");
    assert.equal(store.committed("g", "orders", 0), 42);

    // Preparing: commits still accepted (counting as heartbeats); Completing: refused.
    const c = track(coordinator.joinGroup(joinReq({ clientId: "c" })));
    assert.equal(await commit({ generationId: 2, memberId: b.memberId }, 43), "NONE");
    const a3 = track(coordinator.joinGroup(joinReq({ memberId: a.memberId })));
    await coordinator.joinGroup(joinReq({ memberId: b.memberId }));
    await flush();
    assert.equal(coordinator.describe("g").state, "CompletingRebalance");
    assert.equal(
      await commit({ generationId: 3, memberId: b.memberId }, 44),
      "REBALANCE_IN_PROGRESS",
    );
    assert.equal(store.committed("g", "orders", 0), 43);
    assert.equal(c.value!.generationId, 3);
    assert.equal(a3.value!.generationId, 3);
    coordinator.close();
  });

  await t.step("simple commits (generation -1) on an unknown or empty group", async () => {
    const { store, coordinator } = await setup({}, (g) => g === "http-group");
    const result = await coordinator.commitOffsets(commitReq({
      groupId: "solo",
      topics: [{
        name: "orders",
        partitions: [
          { partitionIndex: 0, committedOffset: 7n, metadata: "m0" },
          { partitionIndex: 1, committedOffset: 9, metadata: "x".repeat(4097) },
          // Kept as Kafka keeps it (kafkajs's resetOffsets commits -2 for earliest).
          { partitionIndex: 2, committedOffset: -2, metadata: null },
          { partitionIndex: 4, committedOffset: 2n ** 60n, metadata: null },
        ],
      }, {
        name: "audit",
        partitions: [{ partitionIndex: 3, committedOffset: 1, metadata: null }],
      }],
    }));
    assert.deepEqual(
      result.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.error])]),
      [
        ["orders", [[0, "NONE"], [1, "OFFSET_METADATA_TOO_LARGE"], [2, "NONE"], [
          4,
          "INVALID_COMMIT_OFFSET_SIZE",
        ]]],
        ["audit", [[3, "NONE"]]],
      ],
    );
    assert.equal(store.committed("solo", "orders", 0), 7);
    assert.equal(store.committed("solo", "orders", 1), undefined);
    assert.equal(store.committed("solo", "orders", 2), -2);
    assert.equal(store.committed("solo", "orders", 4), undefined);
    assert.equal(store.committed("solo", "audit", 3), 1);
    assert.equal(coordinator.hasActiveGroup("solo"), false, "a simple commit makes no group");

    // A generation from a group that does not exist here is stale.
    const stale = await coordinator.commitOffsets(
      commitReq({ groupId: "solo", generationId: 4, memberId: "m", topics: topics(1) }),
    );
    assert.equal(stale.topics[0].partitions[0].error, "ILLEGAL_GENERATION");
    // HTTP members own http-group.
    const http = await coordinator.commitOffsets(
      commitReq({ groupId: "http-group", topics: topics(1) }),
    );
    assert.equal(http.topics[0].partitions[0].error, "UNKNOWN_MEMBER_ID");

    // A group that emptied takes simple commits again.
    const a = await coordinator.joinGroup(joinReq());
    coordinator.leaveGroup({
      groupId: "g",
      members: [{ memberId: a.memberId, groupInstanceId: null }],
    });
    assert.equal(coordinator.describe("g").state, "Empty");
    const again = await coordinator.commitOffsets(commitReq({ topics: topics(11) }));
    assert.equal(again.topics[0].partitions[0].error, "NONE");
    assert.equal(store.committed("g", "orders", 0), 11);
    coordinator.close();
  });

  await t.step("one request is one store commit", async () => {
    const { store, coordinator } = await setup();
    const calls: number[] = [];
    const original = store.commit.bind(store);
    store.commit = (group, commits) => {
      calls.push(commits.length);
      return original(group, commits);
    };
    await coordinator.commitOffsets(commitReq({
      topics: [
        {
          name: "t1",
          partitions: [0, 1, 2].map((i) => ({
            partitionIndex: i,
            committedOffset: i,
            metadata: null,
          })),
        },
        { name: "t2", partitions: [{ partitionIndex: 0, committedOffset: 5, metadata: null }] },
      ],
    }));
    assert.deepEqual(calls, [4]);
    coordinator.close();
  });

  await t.step("a failing store answers COORDINATOR_NOT_AVAILABLE", async () => {
    const { store, logger, coordinator } = await setup();
    await store.close();
    const r = await coordinator.commitOffsets(commitReq({ topics: topics(3) }));
    assert.equal(r.topics[0].partitions[0].error, "COORDINATOR_NOT_AVAILABLE");
    assert.ok(logger.events.some((e) => e.message === "kafka offset commit failed"));
    coordinator.close();
  });

  await t.step("fetchOffsets: -1 for none, metadata kept, null means all", async () => {
    const { store, coordinator } = await setup();
    await coordinator.commitOffsets(commitReq({
      topics: [{
        name: "orders",
        partitions: [
          { partitionIndex: 0, committedOffset: 10, metadata: "ckpt" },
          { partitionIndex: 2, committedOffset: 12, metadata: null },
        ],
      }],
    }));
    const some = coordinator.fetchOffsets("g", [{ name: "orders", partitionIndexes: [0, 1, 2] }, {
      name: "never",
      partitionIndexes: [0],
    }]);
    assert.equal(some.error, "NONE");
    assert.deepEqual(
      some.topics.map((
        t,
      ) => [t.name, t.partitions.map((p) => [p.committedOffset, p.metadata, p.error])]),
      [
        ["orders", [[10n, "ckpt", "NONE"], [-1n, "", "NONE"], [12n, "", "NONE"]]],
        ["never", [[-1n, "", "NONE"]]],
      ],
    );
    const all = coordinator.fetchOffsets("g", null);
    assert.deepEqual(
      all.topics.map((
        t,
      ) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]),
      [["orders", [[0, 10n], [2, 12n]]]],
    );
    assert.deepEqual(coordinator.fetchOffsets("unknown-group", null).topics, []);
    // An offset committed elsewhere (the HTTP side) drops the stale metadata.
    await store.commit("g", [{ topic: "orders", partition: 0, offset: 20 }]);
    const after = coordinator.fetchOffsets("g", [{ name: "orders", partitionIndexes: [0] }]);
    assert.equal(after.topics[0].partitions[0].committedOffset, 20n);
    assert.equal(after.topics[0].partitions[0].metadata, "");
    // "" is a group id for offsets (Kafka's simple commits); one too long is not.
    assert.deepEqual(coordinator.fetchOffsets("", null), { error: "NONE", topics: [] });
    assert.equal(coordinator.fetchOffsets("x".repeat(250), null).error, "INVALID_GROUP_ID");
    coordinator.close();
  });
});

Deno.test("ClassicGroupCoordinator close", async (t) => {
  await t.step("close() answers pending joins and syncs and stops every timer", async () => {
    const { clock, coordinator } = await setup();
    // g1: Stable with one member; a second member's join waits for the first to rejoin.
    await stableOne(coordinator);
    const waitingJoin = track(coordinator.joinGroup(joinReq({ clientId: "b" })));
    // g2: CompletingRebalance, a follower's sync waiting for the leader's.
    const x1 = await coordinator.joinGroup(joinReq({ groupId: "g2", clientId: "x" }));
    const y = track(coordinator.joinGroup(joinReq({ groupId: "g2", clientId: "y" })));
    await coordinator.joinGroup(joinReq({ groupId: "g2", memberId: x1.memberId }));
    await flush();
    const waitingSync = track(coordinator.syncGroup(syncReq(y.value!, [], { groupId: "g2" })));
    await flush();
    assert.equal(waitingJoin.done, false);
    assert.equal(waitingSync.done, false);
    assert.ok(clock.pendingTimers > 0);

    coordinator.close();
    await flush();
    assert.equal(waitingJoin.value!.error, "COORDINATOR_NOT_AVAILABLE");
    assert.equal(waitingSync.value!.error, "COORDINATOR_NOT_AVAILABLE");
    assert.equal(clock.pendingTimers, 0);
    const later = await coordinator.joinGroup(joinReq());
    assert.equal(later.error, "COORDINATOR_NOT_AVAILABLE");
    assert.equal(
      coordinator.heartbeat({ groupId: "g", generationId: 1, memberId: "m", groupInstanceId: null })
        .error,
      "COORDINATOR_NOT_AVAILABLE",
    );
  });

  await t.step("close() ends a join waiting at the initial delay", async () => {
    const { clock, coordinator } = await setup({ initialRebalanceDelayMs: 300 });
    const a = track(coordinator.joinGroup(joinReq()));
    await flush();
    assert.equal(a.done, false);
    coordinator.close();
    await flush();
    assert.equal(a.value!.error, "COORDINATOR_NOT_AVAILABLE");
    assert.equal(clock.pendingTimers, 0);
  });
});
