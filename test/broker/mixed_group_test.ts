/**
 * One consumer group with HTTP members and Kafka consumer-protocol members (broker.groups on a
 * real Broker in a temp dir, time on a ManualClock): HTTP members give up partitions at once, a
 * Kafka member's partitions reach an HTTP member only after it revoked them, no partition ever has
 * two owners, a silent Kafka member's partitions go to the HTTP members at its session timeout,
 * an HTTP member's long poll returns when partitions are released to it, classic groups refuse
 * HTTP members, and after a restart the HTTP members are back and the Kafka member is not.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type {
  ConsumerHeartbeatRequest,
  ConsumerHeartbeatResult,
  TopicPartitions,
} from "../../src/broker/groups/consumer_coordinator.ts";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

const KAFKA_SESSION_MS = 6_000;

async function open(dir: string, clock: ManualClock) {
  return await Broker.open({
    dataDir: dir,
    clock,
    logger: new MemoryLogger(),
    consumerGroups: { sessionTimeoutMs: KAFKA_SESSION_MS, heartbeatIntervalMs: 500 },
  });
}

function kafkaJoin(memberId: string): ConsumerHeartbeatRequest {
  return {
    groupId: "mixed",
    memberId,
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ["orders"],
    subscribedTopicRegex: null,
    serverAssignor: null,
    ownedPartitions: [],
    clientId: "kafka-client",
    clientHost: "/127.0.0.1",
  };
}

function kafkaBeat(
  memberId: string,
  memberEpoch: number,
  owned: number[] | null,
): ConsumerHeartbeatRequest {
  return {
    ...kafkaJoin(memberId),
    memberEpoch,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    ownedPartitions: owned === null
      ? null
      : [{ topic: "orders", partitions: owned }] as TopicPartitions[],
  };
}

function ok(r: ConsumerHeartbeatResult): ConsumerHeartbeatResult {
  assert.equal(r.error, "NONE", `${r.error}: ${r.errorMessage}`);
  return r;
}

const kafkaParts = (r: ConsumerHeartbeatResult) =>
  (r.assignment ?? []).flatMap((t) => t.partitions).sort((a, b) => a - b);
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Every member's partitions from describe(): each partition has at most one owner. */
function assertOneOwner(broker: Broker, what: string): Map<string, number[]> {
  const d = broker.groups.describe("mixed");
  const all = d.members.flatMap((m) => m.assignment.map((tp) => tp.partition));
  assert.equal(new Set(all).size, all.length, `${what}: a partition with two owners: ${all}`);
  return new Map(d.members.map((m) => [m.memberId, m.assignment.map((tp) => tp.partition)]));
}

Deno.test("a consumer group shared by HTTP members and Kafka consumer-protocol members", async (t) => {
  const dir = tempDir("sluice-mixed-");
  const clock = new ManualClock();
  let broker = await open(dir, clock);
  await broker.createTopic("orders", 4, {});
  const groups = broker.groups;
  let http = "";
  let kafkaEpoch = 0;

  await t.step("a Kafka member joining takes half of an HTTP member's partitions at once", () => {
    return (async () => {
      const a = await groups.join("mixed", { topics: ["orders"], autoOffsetReset: "earliest" });
      http = a.memberId;
      assert.equal(a.assignment.length, 4);
      const k = ok(groups.consumer.heartbeat(kafkaJoin("k1")));
      kafkaEpoch = k.memberEpoch;
      assert.equal(kafkaParts(k).length, 2, "the HTTP member released them without a round trip");
      const hb = groups.heartbeat("mixed", http);
      assert.equal(hb.rebalance, true);
      assert.equal(hb.generation, kafkaEpoch, "both members at the group's assignment epoch");
      assert.equal(hb.assignment.length, 2);
      const owners = assertOneOwner(broker, "after the Kafka join");
      assert.deepEqual([...owners.values()].flat().sort(), [0, 1, 2, 3]);
      const d = groups.describe("mixed");
      assert.equal(d.protocol, "consumer");
      assert.deepEqual(d.members.map((m) => m.kind).sort(), ["http", "kafka"]);
      // A stale generation is refused for the HTTP member after the rebalance.
      await assert.rejects(
        groups.commit("mixed", {
          memberId: http,
          generation: a.generation,
          offsets: [{ topic: "orders", partition: hb.assignment[0].partition, offset: 0 }],
        }),
        (e) => isSluiceError(e) && e.code === "ILLEGAL_GENERATION",
      );
    })();
  });

  let kafkaOwned: number[] = [];
  await t.step(
    "partitions a Kafka member must give up reach an HTTP member only after it revokes them",
    async () => {
      kafkaOwned = [...assertOneOwner(broker, "before").get("k1")!];
      await groups.join("mixed", { topics: ["orders"] });
      assertOneOwner(broker, "right after the HTTP join");
      // Who is to get what the Kafka member still owns (the target), and does not have it yet.
      const d = groups.consumer.describe("mixed")!;
      const heir = d.members.find((m) =>
        m.kind === "http" &&
        m.targetAssignment.some((t) => t.partitions.some((p) => kafkaOwned.includes(p)))
      )!;
      assert.ok(heir !== undefined, "a rebalance that moves a Kafka member's partition");
      const moving = heir.targetAssignment.flatMap((t) => t.partitions)
        .filter((p) => kafkaOwned.includes(p));
      const heirNow = groups.heartbeat("mixed", heir.memberId).assignment.map((tp) => tp.partition);
      assert.deepEqual(heirNow.filter((p) => moving.includes(p)), [], "not before the revocation");
      // The heir's long poll waits; the Kafka member's revocation wakes it.
      const poll = groups.fetch("mixed", heir.memberId, { maxBytes: 1024, maxWaitMs: 60_000 });
      const k = ok(groups.consumer.heartbeat(kafkaBeat("k1", kafkaEpoch, null)));
      const keep = kafkaParts(k);
      assert.deepEqual(keep.filter((p) => moving.includes(p)), [], `asked to revoke ${moving}`);
      assert.equal(k.memberEpoch, kafkaEpoch, "epoch unchanged while revoking");
      assertOneOwner(broker, "while the Kafka member revokes");
      assert.deepEqual(
        assertOneOwner(broker, "still").get(heir.memberId)!.filter((p) => moving.includes(p)),
        [],
        "still the Kafka member's until it says it revoked",
      );
      // It revokes: heartbeats owning only what it keeps.
      const done = ok(groups.consumer.heartbeat(kafkaBeat("k1", kafkaEpoch, keep)));
      kafkaEpoch = done.memberEpoch;
      const woken = await poll;
      assert.equal(woken.rebalance, true, "the long poll returned with the new assignment");
      assert.ok(moving.every((p) => woken.assignment.some((tp) => tp.partition === p)));
      const owners = assertOneOwner(broker, "after the revocation");
      assert.deepEqual([...owners.values()].flat().sort(), [0, 1, 2, 3], "all owned");
      assert.equal(owners.size, 3);
      kafkaOwned = owners.get("k1")!;
    },
  );

  await t.step("a silent Kafka member's partitions go to the HTTP members at once", async () => {
    await broker.produce("orders", [{ value: utf8("x"), partition: 0 }]);
    // HTTP members heartbeat; the Kafka member stays silent past its session timeout.
    for (let ms = 0; ms < KAFKA_SESSION_MS; ms += 1_000) {
      clock.advance(1_000);
      for (const m of groups.describe("mixed").members) {
        if (m.kind === "http") groups.heartbeat("mixed", m.memberId);
      }
    }
    await tick();
    const d = groups.describe("mixed");
    assert.deepEqual(d.members.map((m) => m.kind), ["http", "http"]);
    const owners = assertOneOwner(broker, "after the Kafka member's expiry");
    assert.deepEqual([...owners.values()].flat().sort(), [0, 1, 2, 3]);
    const k = groups.consumer.heartbeat(kafkaBeat("k1", kafkaEpoch, kafkaOwned));
    assert.equal(k.error, "UNKNOWN_MEMBER_ID", "the Kafka member rejoins with epoch 0");
  });

  await t.step("a classic group refuses HTTP members", async () => {
    const joining = groups.classic.joinGroup({
      groupId: "classic-g",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: new Uint8Array(0) }],
      requireKnownMemberId: false,
      clientId: "c",
      clientHost: "/127.0.0.1",
    });
    clock.advance(1_000); // the initial rebalance delay
    assert.equal((await joining).error, "NONE");
    assert.ok(groups.hasMembers("classic-g"));
    await assert.rejects(
      groups.join("classic-g", { topics: ["orders"] }),
      (e) => isSluiceError(e) && e.code === "INCONSISTENT_GROUP_PROTOCOL",
    );
    const k = groups.consumer.heartbeat({ ...kafkaJoin("k9"), groupId: "classic-g" });
    assert.equal(k.error, "GROUP_ID_NOT_FOUND");
  });

  await t.step("after a restart the HTTP members are back, with the generation", async () => {
    const before = groups.describe("mixed");
    await broker.close();
    broker = await open(dir, clock);
    const d = broker.groups.describe("mixed");
    assert.equal(d.generation, before.generation);
    assert.deepEqual(
      d.members.map((m) => [m.memberId, m.kind, m.assignment.map((tp) => tp.partition)]),
      before.members.map((m) => [m.memberId, m.kind, m.assignment.map((tp) => tp.partition)]),
    );
    for (const m of d.members) {
      assert.equal(broker.groups.heartbeat("mixed", m.memberId).rebalance, false);
    }
  });

  await broker.close();
});
