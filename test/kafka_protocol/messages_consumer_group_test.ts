/**
 * ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69), KIP-848's messages: round trips of
 * every version, the nullable struct (the heartbeat response's assignment: an int8 -1 for null,
 * 1 then the struct), v1's regex field, and frames built by hand from the published layout.
 */
import assert from "node:assert/strict";
import { decode, encode, type MessageSchema, type Struct } from "../../src/kafka_protocol/codec.ts";
import {
  CONSUMER_GROUP_DESCRIBE_REQUEST,
  CONSUMER_GROUP_DESCRIBE_RESPONSE,
} from "../../src/kafka_protocol/messages/consumer_group_describe.ts";
import {
  CONSUMER_GROUP_HEARTBEAT_REQUEST,
  CONSUMER_GROUP_HEARTBEAT_RESPONSE,
} from "../../src/kafka_protocol/messages/consumer_group_heartbeat.ts";
import { assertRoundTrip, versionsOf } from "./kafka_wire_util.ts";

const TOPIC_ID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const OTHER_ID = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 - i);

const SAMPLES: ReadonlyArray<readonly [MessageSchema, Struct]> = [
  [CONSUMER_GROUP_HEARTBEAT_REQUEST, {
    groupId: "orders-group",
    memberId: "m-1",
    memberEpoch: 3,
    instanceId: "instance-1",
    rackId: "rack-a",
    rebalanceTimeoutMs: 300000,
    subscribedTopicNames: ["orders", "payments"],
    subscribedTopicRegex: "ord.*",
    serverAssignor: "uniform",
    topicPartitions: [{ topicId: TOPIC_ID, partitions: [0, 2] }, {
      topicId: OTHER_ID,
      partitions: [],
    }],
  }],
  [CONSUMER_GROUP_HEARTBEAT_REQUEST, {
    groupId: "g",
    memberId: "m",
    memberEpoch: -1,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: null,
  }],
  [CONSUMER_GROUP_HEARTBEAT_RESPONSE, {
    throttleTimeMs: 5,
    errorCode: 0,
    errorMessage: null,
    memberId: "m-1",
    memberEpoch: 4,
    heartbeatIntervalMs: 5000,
    assignment: { topicPartitions: [{ topicId: TOPIC_ID, partitions: [1, 3, 5] }] },
  }],
  [CONSUMER_GROUP_HEARTBEAT_RESPONSE, {
    throttleTimeMs: 0,
    errorCode: 110,
    errorMessage: "fenced",
    memberId: null,
    memberEpoch: -1,
    heartbeatIntervalMs: 0,
    assignment: null,
  }],
  [CONSUMER_GROUP_DESCRIBE_REQUEST, { groupIds: ["a", "b"], includeAuthorizedOperations: true }],
  [CONSUMER_GROUP_DESCRIBE_RESPONSE, {
    throttleTimeMs: 1,
    groups: [{
      errorCode: 0,
      errorMessage: null,
      groupId: "orders-group",
      groupState: "Reconciling",
      groupEpoch: 7,
      assignmentEpoch: 7,
      assignorName: "uniform",
      members: [{
        memberId: "m-1",
        instanceId: null,
        rackId: "r",
        memberEpoch: 6,
        clientId: "c",
        clientHost: "/127.0.0.1",
        subscribedTopicNames: ["orders"],
        subscribedTopicRegex: null,
        assignment: {
          topicPartitions: [{ topicId: TOPIC_ID, topicName: "orders", partitions: [0] }],
        },
        targetAssignment: {
          topicPartitions: [{ topicId: TOPIC_ID, topicName: "orders", partitions: [0, 1] }],
        },
        memberType: 1,
      }],
      authorizedOperations: 328,
    }, {
      errorCode: 69,
      errorMessage: "Group x not found.",
      groupId: "x",
      groupState: "",
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignorName: "",
      members: [],
      authorizedOperations: -2147483648,
    }],
  }],
];

Deno.test("consumer group messages round trip every version", async (t) => {
  for (const [schema, value] of SAMPLES) {
    for (const version of versionsOf(schema)) {
      await t.step(`${schema.name} v${version}`, () => {
        assertRoundTrip(schema, version, value);
      });
    }
  }
});

const compactString = (
  s: string,
) => [new TextEncoder().encode(s).length + 1, ...new TextEncoder().encode(s)];
const i16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const i32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

Deno.test("consumer group messages: hand-built frames", async (t) => {
  await t.step("versions", () => {
    for (const schema of [CONSUMER_GROUP_HEARTBEAT_REQUEST, CONSUMER_GROUP_HEARTBEAT_RESPONSE]) {
      assert.deepEqual([schema.apiKey, schema.validVersions, schema.flexibleVersions], [
        68,
        "0-1",
        "0+",
      ]);
    }
    for (const schema of [CONSUMER_GROUP_DESCRIBE_REQUEST, CONSUMER_GROUP_DESCRIBE_RESPONSE]) {
      assert.deepEqual([schema.apiKey, schema.validVersions, schema.flexibleVersions], [
        69,
        "0-1",
        "0+",
      ]);
    }
  });

  await t.step("heartbeat response: assignment null is int8 -1, present is 1 + struct", () => {
    const head = [
      ...i32(0),
      ...i16(0),
      0x00, /* message null */
      ...compactString("m"),
      ...i32(2),
      ...i32(500),
    ];
    const none = Uint8Array.from([...head, 0xff, 0x00]);
    assert.equal(decode(CONSUMER_GROUP_HEARTBEAT_RESPONSE, 1, none).assignment, null);
    assert.deepEqual(
      encode(CONSUMER_GROUP_HEARTBEAT_RESPONSE, 1, {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        memberId: "m",
        memberEpoch: 2,
        heartbeatIntervalMs: 500,
        assignment: null,
      }),
      none,
    );
    const present = Uint8Array.from([
      ...head,
      0x01, // present
      0x02, // one topic
      ...TOPIC_ID,
      0x03, // two partitions
      ...i32(0),
      ...i32(4),
      0x00, // topic's tags
      0x00, // assignment's tags
      0x00, // message tags
    ]);
    assert.deepEqual(decode(CONSUMER_GROUP_HEARTBEAT_RESPONSE, 0, present).assignment, {
      topicPartitions: [{ topicId: TOPIC_ID, partitions: [0, 4] }],
    });
  });

  await t.step("heartbeat request v0 has no regex; v1 has it before the assignor", () => {
    const v0 = [
      ...compactString("g"),
      ...compactString(""),
      ...i32(0),
      0x00, // instance null
      0x00, // rack null
      ...i32(60000),
      0x02,
      ...compactString("t"),
      0x00, // assignor null
      0x01, // no owned partitions
      0x00,
    ];
    const value = decode(CONSUMER_GROUP_HEARTBEAT_REQUEST, 0, Uint8Array.from(v0));
    assert.deepEqual(value.subscribedTopicNames, ["t"]);
    assert.equal(value.subscribedTopicRegex, null);
    assert.deepEqual(value.topicPartitions, []);
    const v1 = [...v0.slice(0, -3), 0x00, /* regex null */ ...v0.slice(-3)];
    assert.deepEqual(decode(CONSUMER_GROUP_HEARTBEAT_REQUEST, 1, Uint8Array.from(v1)), value);
  });
});
