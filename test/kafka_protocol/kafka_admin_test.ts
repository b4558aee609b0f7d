/**
 * The admin APIs (handlers/admin.ts: DescribeGroups, ListGroups, DeleteTopics, DeleteGroups):
 * - in process, every served version with frames from our own tables: HTTP groups, groups with
 *   only committed offsets and unknown groups described and listed (with the v4 states filter),
 *   groups deleted only without members, topics deleted by name and refused by id;
 * - OffsetStore.deleteGroup's tombstones surviving a reopen, a crash and a snapshot;
 * - the real server with kafkajs's admin client on a live consumer group (listGroups,
 *   describeGroups with members and their assignments, deleteGroups refused then accepted,
 *   deleteTopics), an HTTP group as Kafka tools see it, and librdkafka (confluent-kafka's
 *   list_groups and delete_topics) and kcat -L alongside.
 */
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { AssignerProtocol, type Consumer, Kafka, logLevel } from "kafkajs";
import { Broker } from "../../src/broker/broker.ts";
import { OffsetStore } from "../../src/broker/groups/offset_store.ts";
import { ManualClock } from "../../src/clock.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { topicIdOf } from "../../src/kafka_protocol/topic_ids.ts";
import { HTTP_MEMBER_CLIENT_ID } from "../../src/kafka_protocol/handlers/admin.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  CONSUMER_PROTOCOL_ASSIGNMENT,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
  readConsumerProtocol,
} from "../../src/kafka_protocol/messages/consumer_protocol.ts";
import {
  DELETE_GROUPS_REQUEST,
  DELETE_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_groups.ts";
import {
  DELETE_TOPICS_REQUEST,
  DELETE_TOPICS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_topics.ts";
import {
  DESCRIBE_GROUPS_REQUEST,
  DESCRIBE_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_groups.ts";
import {
  LIST_GROUPS_REQUEST,
  LIST_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_groups.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { createTopic, type Json, json, sleep } from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import {
  announceSkip,
  confluentKafkaAvailable,
  expectSuccess,
  type KafkaServer,
  kcatAvailable,
  run,
  SYSTEM_PYTHON,
  withKafkaServer,
} from "./kafka_harness.ts";
import { callOnce as call } from "./kafka_wire_util.ts";

announceSkip(kcatAvailable, "kcat");
announceSkip(confluentKafkaAvailable, "confluent-kafka (python3-confluent-kafka)");

const INT32_MIN = -2147483648;
/** READ, DELETE and DESCRIBE: every group operation, as a broker without an authorizer allows. */
// READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: every group operation, as Kafka without an
// authorizer reports them.
const GROUP_OPERATIONS_ALL = 3400;
const ZERO_UUID = new Uint8Array(16);

// ---------------------------------------------------------------------------------------------
// In process

async function setup() {
  const dataDir = tempDir("sluice-kafka-admin-");
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir, logger });
  const listener: KafkaListener = await startKafkaListener(broker, {
    host: "127.0.0.1",
    port: 0,
    logger,
  });
  return {
    broker,
    listener,
    async close() {
      await listener.close();
      await broker.close();
    },
  };
}

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("admin APIs in process: every version, every kind of group", async (t) => {
  const s = await setup();
  const port = s.listener.port;
  try {
    await s.broker.createTopic("orders", 2, {});
    const { memberId } = await s.broker.groups.join("http-g", { topics: ["orders"] });
    await s.broker.offsets.commit("simple-g", [{ topic: "orders", partition: 1, offset: 0 }]);

    await t.step(
      "DescribeGroups v0-5: an HTTP group, an offsets-only group, an unknown id",
      async () => {
        for (let v = 0; v <= 5; v++) {
          for (const include of [false, true]) {
            const body = await call(port, DESCRIBE_GROUPS_REQUEST, DESCRIBE_GROUPS_RESPONSE, v, {
              groups: ["http-g", "simple-g", "nope"],
              includeAuthorizedOperations: include,
            }) as Any;
            const [http, simple, nope] = body.groups;
            const ops = v >= 3 ? (include ? GROUP_OPERATIONS_ALL : INT32_MIN) : INT32_MIN;
            assert.deepEqual(
              [http.errorCode, http.groupId, http.groupState, http.protocolType, http.protocolData],
              [0, "http-g", "Stable", "consumer", "range"],
              `v${v}`,
            );
            assert.equal(http.authorizedOperations, ops);
            assert.equal(http.members.length, 1);
            const m = http.members[0];
            assert.deepEqual(
              [m.memberId, m.groupInstanceId, m.clientId, m.clientHost],
              [memberId, null, HTTP_MEMBER_CLIENT_ID, ""],
            );
            // The consumer protocol's bytes, as Kafka tools decode them.
            assert.deepEqual(
              readConsumerProtocol(CONSUMER_PROTOCOL_SUBSCRIPTION, m.memberMetadata)?.topics,
              ["orders"],
            );
            assert.deepEqual(
              readConsumerProtocol(CONSUMER_PROTOCOL_ASSIGNMENT, m.memberAssignment)
                ?.assignedPartitions,
              [{ topic: "orders", partitions: [0, 1] }],
            );
            assert.deepEqual(
              [simple.errorCode, simple.groupState, simple.protocolType, simple.members],
              [0, "Empty", "", []],
            );
            assert.deepEqual(
              [nope.errorCode, nope.groupId, nope.groupState, nope.protocolType, nope.members],
              [0, "nope", "Dead", "", []],
              "an unknown group is Dead without an error, as Kafka answers",
            );
          }
        }
      },
    );

    await t.step("ListGroups v0-5: every group, with states from v4, types from v5", async () => {
      for (let v = 0; v <= 5; v++) {
        const body = await call(port, LIST_GROUPS_REQUEST, LIST_GROUPS_RESPONSE, v, {}) as Any;
        assert.equal(body.errorCode, 0);
        const groupType = v >= 5 ? "classic" : "";
        assert.deepEqual(body.groups, [
          {
            // HTTP members are consumer-protocol members.
            groupId: "http-g",
            protocolType: "consumer",
            groupState: v >= 4 ? "Stable" : "",
            groupType: v >= 5 ? "consumer" : "",
          },
          { groupId: "simple-g", protocolType: "", groupState: v >= 4 ? "Empty" : "", groupType },
        ]);
      }
      const ofType = async (typesFilter: string[]) =>
        ((await call(port, LIST_GROUPS_REQUEST, LIST_GROUPS_RESPONSE, 5, { typesFilter })) as Any)
          .groups.map((g: { groupId: string }) => g.groupId);
      assert.deepEqual(await ofType(["Classic"]), ["simple-g"]);
      assert.deepEqual(await ofType(["consumer"]), ["http-g"]);
      const only = async (statesFilter: string[]) =>
        ((await call(port, LIST_GROUPS_REQUEST, LIST_GROUPS_RESPONSE, 4, { statesFilter })) as Any)
          .groups.map((g: { groupId: string }) => g.groupId);
      assert.deepEqual(await only(["Empty"]), ["simple-g"]);
      assert.deepEqual(await only(["stable"]), ["http-g"], "states match case-insensitively");
      assert.deepEqual(await only(["Stable", "Empty"]), ["http-g", "simple-g"]);
      assert.deepEqual(await only(["Dead"]), []);
    });

    await t.step("DeleteGroups v0-2: only groups without members; unknown ids", async () => {
      for (let v = 0; v <= 2; v++) {
        const g = `del-v${v}`;
        await s.broker.offsets.commit(g, [{ topic: "orders", partition: 0, offset: 0 }]);
        const first = await call(port, DELETE_GROUPS_REQUEST, DELETE_GROUPS_RESPONSE, v, {
          groupsNames: [g, "http-g", g, "never"],
        }) as Any;
        assert.deepEqual(first.results, [
          { groupId: g, errorCode: KafkaError.NONE },
          { groupId: "http-g", errorCode: KafkaError.NON_EMPTY_GROUP },
          { groupId: "never", errorCode: KafkaError.GROUP_ID_NOT_FOUND },
        ]);
        assert.equal(s.broker.offsets.hasOffsets(g), false);
        assert.throws(() => s.broker.groups.offsets(g), /does not exist/);
        const again = await call(port, DELETE_GROUPS_REQUEST, DELETE_GROUPS_RESPONSE, v, {
          groupsNames: [g],
        }) as Any;
        assert.deepEqual(again.results, [{ groupId: g, errorCode: KafkaError.GROUP_ID_NOT_FOUND }]);
      }
      // The HTTP group once its member left: its offsets and stored membership go.
      await s.broker.groups.commit("http-g", {
        memberId,
        generation: s.broker.groups.describe("http-g").generation,
        offsets: [{ topic: "orders", partition: 0, offset: 0 }],
      });
      await s.broker.groups.leave("http-g", memberId);
      const res = await call(port, DELETE_GROUPS_REQUEST, DELETE_GROUPS_RESPONSE, 2, {
        groupsNames: ["http-g", "simple-g"],
      }) as Any;
      assert.deepEqual(res.results.map((r: { errorCode: number }) => r.errorCode), [0, 0]);
      assert.deepEqual(s.broker.offsets.storedGroups(), []);
      assert.deepEqual(s.broker.offsets.groupsWithOffsets(), []);
      // Gone from the HTTP side too, not shown as Empty until a restart.
      assert.throws(() => s.broker.groups.describe("http-g"), /does not exist/);
      const listed = await call(port, LIST_GROUPS_REQUEST, LIST_GROUPS_RESPONSE, 4, {}) as Any;
      assert.deepEqual(listed.groups, []);
    });

    await t.step(
      "DeleteTopics v0-6: by name; missing, repeated, unknown-id and name-and-id topics refused",
      async () => {
        for (let v = 0; v <= 6; v++) {
          const name = `doomed-v${v}`;
          await s.broker.createTopic(name, 1, {});
          const body: Struct = v >= 6
            ? {
              topics: [{ name, topicId: ZERO_UUID }, { name: "missing", topicId: ZERO_UUID }],
              timeoutMs: 1000,
            }
            : { topicNames: [name, "missing"], timeoutMs: 1000 };
          const res = await call(
            port,
            DELETE_TOPICS_REQUEST,
            DELETE_TOPICS_RESPONSE,
            v,
            body,
          ) as Any;
          assert.deepEqual(
            res.responses.map((r: Any) => [r.name, r.errorCode]),
            [[name, KafkaError.NONE], ["missing", KafkaError.UNKNOWN_TOPIC_OR_PARTITION]],
            `v${v}`,
          );
          if (v >= 5) {
            assert.equal(res.responses[0].errorMessage, null);
            assert.match(res.responses[1].errorMessage, /missing/);
          }
          assert.throws(() => s.broker.topics.get(name), /not exist|not found/i);
        }
        const twice = await call(port, DELETE_TOPICS_REQUEST, DELETE_TOPICS_RESPONSE, 1, {
          topicNames: ["orders", "orders"],
          timeoutMs: 1000,
        }) as Any;
        assert.deepEqual(twice.responses.map((r: Any) => r.errorCode), [42, 42]);
        assert.equal(
          s.broker.topics.get("orders").logs.length,
          2,
          "a repeated name deletes nothing",
        );
        const id = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
        const byId = await call(port, DELETE_TOPICS_REQUEST, DELETE_TOPICS_RESPONSE, 6, {
          topics: [{ name: null, topicId: id }, { name: "orders", topicId: id }],
          timeoutMs: 1000,
        }) as Any;
        assert.deepEqual(byId.responses.map((r: Any) => [r.name, [...r.topicId], r.errorCode]), [
          [null, [...id], KafkaError.UNKNOWN_TOPIC_ID], // an id no topic has
          ["orders", [...id], KafkaError.INVALID_REQUEST], // both a name and an id: echoed
        ]);
        // By its id alone: deleted, answered with its name and id.
        await s.broker.createTopic("by-id", 1, {});
        const realId = topicIdOf(s.broker.topics.get("by-id"));
        const deleted = await call(port, DELETE_TOPICS_REQUEST, DELETE_TOPICS_RESPONSE, 6, {
          topics: [{ name: null, topicId: realId }],
          timeoutMs: 1000,
        }) as Any;
        assert.deepEqual(
          deleted.responses.map((r: Any) => [r.name, [...r.topicId], r.errorCode]),
          [["by-id", [...realId], KafkaError.NONE]],
        );
        assert.throws(() => s.broker.topics.get("by-id"), /not exist|not found/i);
        assert.equal(s.broker.topics.get("orders").logs.length, 2);
      },
    );
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------------------------
// OffsetStore.deleteGroup

/** A crash image: the directory as it is on disk right now, the store still open. */
function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

const STORED = {
  generation: 2,
  assignor: "range",
  members: [],
};

Deno.test("OffsetStore.deleteGroup: tombstones survive a reopen, a crash and a snapshot", async (t) => {
  const open = (dir: string) => OffsetStore.open(dir, new ManualClock(), new MemoryLogger());
  const state = (store: OffsetStore) => ({
    g: store.offsetsOf("g"),
    other: store.offsetsOf("other"),
    withOffsets: store.groupsWithOffsets().sort(),
    stored: store.storedGroups().map(([id]) => id).sort(),
  });

  await t.step("offsets and stored membership go; other groups stay", async () => {
    const dir = tempDir("sluice-offsets-delete-");
    const store = await open(dir);
    await store.commit("g", [
      { topic: "orders", partition: 0, offset: 5 },
      { topic: "orders", partition: 1, offset: 6 },
    ]);
    await store.commit("other", [{ topic: "orders", partition: 0, offset: 1 }]);
    await store.saveGroup("g", STORED);
    await store.saveGroup("members-only", STORED);
    assert.equal(await store.deleteGroup("g"), true);
    assert.equal(await store.deleteGroup("g"), false, "nothing left to delete");
    assert.equal(await store.deleteGroup("unknown"), false);
    assert.equal(await store.deleteGroup("members-only"), true, "a stored group without offsets");
    const expected = {
      g: [],
      other: [{ topic: "orders", partition: 0, offset: 1 }],
      withOffsets: ["other"],
      stored: [],
    };
    assert.deepEqual(state(store), expected);
    assert.equal(store.committed("g", "orders", 0), undefined);

    const crash = tempDir("sluice-offsets-delete-crash-");
    copyTree(dir, crash);
    const replayed = await open(crash);
    assert.deepEqual(state(replayed), expected, "replayed from the log after a crash");
    await replayed.close();

    await store.close(); // writes a snapshot
    const reopened = await open(dir);
    assert.deepEqual(state(reopened), expected, "from the snapshot after a clean close");
    await reopened.commit("g", [{ topic: "orders", partition: 2, offset: 9 }]);
    assert.deepEqual(reopened.offsetsOf("g"), [{ topic: "orders", partition: 2, offset: 9 }]);
    await reopened.close();
    const last = await open(dir);
    assert.deepEqual(last.offsetsOf("g"), [{ topic: "orders", partition: 2, offset: 9 }]);
    await last.close();
  });

  await t.step("a deletion after a snapshot is replayed over it", async () => {
    const dir = tempDir("sluice-offsets-delete-");
    const store = await open(dir);
    await store.commit("g", [{ topic: "orders", partition: 0, offset: 5 }]);
    await store.snapshot();
    assert.equal(await store.deleteGroup("g"), true);
    const crash = tempDir("sluice-offsets-delete-crash-");
    copyTree(dir, crash);
    const replayed = await open(crash);
    assert.equal(replayed.hasOffsets("g"), false);
    assert.deepEqual(replayed.groupsWithOffsets(), []);
    await replayed.close();
    await store.close();
  });

  await t.step("a commit requested after the deletion stays", async () => {
    const dir = tempDir("sluice-offsets-delete-");
    const store = await open(dir);
    await store.commit("g", [{ topic: "orders", partition: 0, offset: 5 }]);
    const deleted = store.deleteGroup("g");
    const committed = store.commit("g", [{ topic: "orders", partition: 0, offset: 8 }]);
    await Promise.all([deleted, committed]);
    assert.equal(store.committed("g", "orders", 0), 8);
    await store.close();
    const reopened = await open(dir);
    assert.equal(reopened.committed("g", "orders", 0), 8);
    await reopened.close();
  });
});

// ---------------------------------------------------------------------------------------------
// The real server

function client(server: KafkaServer, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

async function waitFor(
  what: () => string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(50);
  }
}

/**
 * The failed groups of a kafkajs deleteGroups error, as [group, code, type]. (Checked by name:
 * kafkajs spreads its error classes into module.exports, which ES imports cannot name.)
 */
function deleteGroupsFailures(err: unknown): [string, number, string | undefined][] {
  const e = err as {
    name?: string;
    groups?: { groupId: string; errorCode: number; error?: { type?: string } }[];
  };
  assert.equal(e.name, "KafkaJSDeleteGroupsError", String(err));
  return e.groups!.map((g) => [g.groupId, g.errorCode, g.error?.type]);
}

/** `n` kafkajs consumers of `topic` in `groupId`, running (nothing to consume). */
async function startConsumers(
  kafka: Kafka,
  groupId: string,
  topic: string,
  n: number,
): Promise<Consumer[]> {
  const consumers: Consumer[] = [];
  for (let i = 0; i < n; i++) {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      rebalanceTimeout: 5000,
      heartbeatInterval: 200,
      maxWaitTimeInMs: 100,
    });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommit: true, eachMessage: () => Promise.resolve() });
  }
  return consumers;
}

Deno.test({
  name: "kafkajs admin: listGroups, describeGroups, deleteGroups and deleteTopics",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await withKafkaServer({}, async (server) => {
    const kafka = client(server, "kjs-admin");
    const admin = kafka.admin();
    const topic = "admin-orders";
    const groupId = "admin-live";
    let consumers: Consumer[] = [];
    try {
      await admin.connect();
      await createTopic(server.server, topic, 4);
      consumers = await startConsumers(kafka, groupId, topic, 2);
      let last: Json;
      await waitFor(() => `the group never became Stable: ${JSON.stringify(last)}`, async () => {
        const { groups } = await admin.describeGroups([groupId]);
        last = groups;
        return groups[0].state === "Stable" && groups[0].members.length === 2 &&
          groups[0].members.every((m) => m.memberAssignment.length > 0);
      });

      await t.step("listGroups shows the live consumer group", async () => {
        const { groups } = await admin.listGroups();
        assert.deepEqual(groups, [{ groupId, protocolType: "consumer" }]);
      });

      await t.step("describeGroups shows its state, protocol and members", async () => {
        const { groups } = await admin.describeGroups([groupId, "no-such-group"]);
        const [g, unknown] = groups as (typeof groups[number] & { errorCode: number })[];
        assert.deepEqual(
          [g.errorCode, g.groupId, g.state, g.protocolType, g.protocol],
          [0, groupId, "Stable", "consumer", "RoundRobinAssigner"],
        );
        const owned: number[] = [];
        for (const m of g.members) {
          assert.equal(m.clientId, "kjs-admin");
          assert.match(m.clientHost, /127\.0\.0\.1/);
          const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata as Buffer);
          assert.deepEqual(meta?.topics, [topic]);
          const assigned = AssignerProtocol.MemberAssignment.decode(m.memberAssignment as Buffer);
          owned.push(...(assigned?.assignment[topic] ?? []));
        }
        assert.deepEqual(owned.sort(), [0, 1, 2, 3], "every partition assigned once");
        assert.deepEqual(
          [unknown.errorCode, unknown.groupId, unknown.state, unknown.members],
          [0, "no-such-group", "Dead", []],
        );
      });

      await t.step("deleteGroups of a live group fails with NON_EMPTY_GROUP", async () => {
        await assert.rejects(() => admin.deleteGroups([groupId]), (err: unknown) => {
          assert.deepEqual(deleteGroupsFailures(err), [[groupId, 68, "NON_EMPTY_GROUP"]]);
          return true;
        });
      });

      await t.step("an HTTP group as Kafka tools see it", async () => {
        const joined = await json(`${server.httpUrl}/v1/groups/http-admin/members`, {
          method: "POST",
          json: { topics: [topic] },
        });
        assert.equal(joined.status, 200, joined.text);
        const { groups } = await admin.describeGroups(["http-admin"]);
        const [g] = groups;
        assert.deepEqual([g.state, g.protocolType, g.protocol], ["Stable", "consumer", "range"]);
        assert.equal(g.members.length, 1);
        assert.equal(g.members[0].memberId, joined.body.memberId);
        assert.equal(g.members[0].clientId, HTTP_MEMBER_CLIENT_ID);
        const assigned = AssignerProtocol.MemberAssignment.decode(
          g.members[0].memberAssignment as Buffer,
        );
        assert.deepEqual(assigned?.assignment, { [topic]: [0, 1, 2, 3] });
        const listed = (await admin.listGroups()).groups.map((x) => x.groupId).sort();
        assert.deepEqual(listed, [groupId, "http-admin"]);
        await assert.rejects(() => admin.deleteGroups(["http-admin"]), (err: unknown) => {
          assert.deepEqual(deleteGroupsFailures(err), [["http-admin", 68, "NON_EMPTY_GROUP"]]);
          return true;
        });
        const left = await fetch(
          `${server.httpUrl}/v1/groups/http-admin/members/${joined.body.memberId}`,
          { method: "DELETE" },
        );
        await left.body?.cancel();
        assert.ok(left.status < 300, `leave: ${left.status}`);
        const deleted = await admin.deleteGroups(["http-admin"]);
        assert.deepEqual(deleted.map((r) => [r.groupId, r.errorCode]), [["http-admin", 0]]);
      });

      await t.step("once its members left, deleteGroups removes its offsets", async () => {
        // Offsets to delete: a commit from the group itself.
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic, messages: [{ value: "x" }, { value: "y" }] });
        await producer.disconnect();
        await waitFor(() => "no commit from the live group", async () => {
          const res = await json(`${server.httpUrl}/v1/groups/${groupId}/offsets`);
          return res.status === 200 &&
            (res.body.offsets as Json[]).some((o) => Number(o.offset) > 0);
        });
        await Promise.all(consumers.map((c) => c.disconnect()));
        consumers = [];
        await waitFor(() => "the group never became Empty", async () => {
          const { groups } = await admin.describeGroups([groupId]);
          return groups[0].state === "Empty";
        });
        const { groups: empty } = await admin.describeGroups([groupId]);
        assert.deepEqual([empty[0].protocolType, empty[0].members], ["consumer", []]);
        const deleted = await admin.deleteGroups([groupId]);
        assert.deepEqual(deleted.map((r) => [r.groupId, r.errorCode]), [[groupId, 0]]);
        const offsets = await json(`${server.httpUrl}/v1/groups/${groupId}/offsets`);
        assert.equal(offsets.status, 404, offsets.text);
        const { groups } = await admin.describeGroups([groupId]);
        assert.equal(groups[0].state, "Dead");
        assert.deepEqual((await admin.listGroups()).groups, []);
        await assert.rejects(() => admin.deleteGroups([groupId]), (err: unknown) => {
          assert.deepEqual(deleteGroupsFailures(err), [[groupId, 69, "GROUP_ID_NOT_FOUND"]]);
          return true;
        });
      });

      await t.step("deleteTopics: the topic is gone for kafkajs and over HTTP", async () => {
        await createTopic(server.server, "admin-doomed", 2);
        assert.ok((await admin.listTopics()).includes("admin-doomed"));
        await admin.deleteTopics({ topics: ["admin-doomed"], timeout: 5000 });
        assert.ok(!(await admin.listTopics()).includes("admin-doomed"));
        assert.ok((await admin.listTopics()).includes(topic));
        const res = await json(`${server.httpUrl}/v1/topics/admin-doomed`);
        assert.equal(res.status, 404, res.text);
      });
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
      await admin.disconnect().catch(() => {});
    }
  });
});

/** confluent-kafka 1.x's AdminClient (librdkafka): list_groups, then delete_topics. */
const LIBRDKAFKA_ADMIN = `
import json, sys
from confluent_kafka.admin import AdminClient
a = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 10000})
out = {"groups": []}
for g in a.list_groups(timeout=10):
    out["groups"].append({
        "id": g.id, "state": g.state, "protocol_type": g.protocol_type, "protocol": g.protocol,
        "error": str(g.error) if g.error else None,
        "members": [{"client_id": m.client_id, "metadata": len(m.metadata),
                     "assignment": len(m.assignment)} for m in g.members],
    })
for t, f in a.delete_topics([sys.argv[2]], operation_timeout=10).items():
    f.result()
out["topics"] = sorted(a.list_topics(timeout=10).topics.keys())
print(json.dumps(out))
`;

Deno.test({
  name: "librdkafka admin (confluent-kafka list_groups, delete_topics) and kcat -L",
  ignore: !confluentKafkaAvailable || !kcatAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await withKafkaServer({}, async (server) => {
    const kafka = client(server, "kjs-rdk");
    const admin = kafka.admin();
    const topic = "rdk-orders";
    let consumers: Consumer[] = [];
    try {
      await admin.connect();
      await createTopic(server.server, topic, 2);
      await createTopic(server.server, "rdk-doomed", 1);
      consumers = await startConsumers(kafka, "rdk-live", topic, 1);
      await waitFor(() => "the group never became Stable", async () => {
        const { groups } = await admin.describeGroups(["rdk-live"]);
        return groups[0].state === "Stable";
      });

      await t.step("list_groups shows the live group; delete_topics deletes", async () => {
        const r = await run(SYSTEM_PYTHON, [
          "-c",
          LIBRDKAFKA_ADMIN,
          server.bootstrap,
          "rdk-doomed",
        ]);
        expectSuccess(r, "confluent-kafka admin");
        const out = JSON.parse(r.stdout);
        assert.equal(out.groups.length, 1, r.stdout);
        const [g] = out.groups;
        assert.deepEqual(
          [g.id, g.state, g.protocol_type, g.protocol, g.error],
          ["rdk-live", "Stable", "consumer", "RoundRobinAssigner", null],
        );
        assert.equal(g.members.length, 1);
        assert.equal(g.members[0].client_id, "kjs-rdk");
        assert.ok(g.members[0].metadata > 0 && g.members[0].assignment > 0);
        assert.ok(!out.topics.includes("rdk-doomed"), r.stdout);
        assert.ok(out.topics.includes(topic), r.stdout);
      });

      await t.step("kcat -L still lists the broker and the remaining topics", async () => {
        const r = await run("kcat", ["-b", server.bootstrap, "-L", "-J"]);
        expectSuccess(r, "kcat -L");
        const meta = JSON.parse(r.stdout);
        assert.deepEqual(meta.brokers.map((b: Json) => b.id), [0]);
        const names = (meta.topics as Json[]).map((x) => x.topic);
        assert.ok(names.includes(topic) && !names.includes("rdk-doomed"), r.stdout);
      });
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
      await admin.disconnect().catch(() => {});
    }
  });
});
