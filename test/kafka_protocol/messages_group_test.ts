import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import findCoordinatorV0 from "kafkajs/src/protocol/requests/findCoordinator/v0/request.js";
import findCoordinatorV1 from "kafkajs/src/protocol/requests/findCoordinator/v1/request.js";
import findCoordinatorV2 from "kafkajs/src/protocol/requests/findCoordinator/v2/request.js";
import joinGroupV0 from "kafkajs/src/protocol/requests/joinGroup/v0/request.js";
import joinGroupV1 from "kafkajs/src/protocol/requests/joinGroup/v1/request.js";
import joinGroupV2 from "kafkajs/src/protocol/requests/joinGroup/v2/request.js";
import joinGroupV3 from "kafkajs/src/protocol/requests/joinGroup/v3/request.js";
import joinGroupV4 from "kafkajs/src/protocol/requests/joinGroup/v4/request.js";
import joinGroupV5 from "kafkajs/src/protocol/requests/joinGroup/v5/request.js";
import syncGroupV0 from "kafkajs/src/protocol/requests/syncGroup/v0/request.js";
import syncGroupV1 from "kafkajs/src/protocol/requests/syncGroup/v1/request.js";
import syncGroupV2 from "kafkajs/src/protocol/requests/syncGroup/v2/request.js";
import syncGroupV3 from "kafkajs/src/protocol/requests/syncGroup/v3/request.js";
import heartbeatV0 from "kafkajs/src/protocol/requests/heartbeat/v0/request.js";
import heartbeatV1 from "kafkajs/src/protocol/requests/heartbeat/v1/request.js";
import heartbeatV2 from "kafkajs/src/protocol/requests/heartbeat/v2/request.js";
import heartbeatV3 from "kafkajs/src/protocol/requests/heartbeat/v3/request.js";
import leaveGroupV0 from "kafkajs/src/protocol/requests/leaveGroup/v0/request.js";
import leaveGroupV1 from "kafkajs/src/protocol/requests/leaveGroup/v1/request.js";
import leaveGroupV2 from "kafkajs/src/protocol/requests/leaveGroup/v2/request.js";
import leaveGroupV3 from "kafkajs/src/protocol/requests/leaveGroup/v3/request.js";
import offsetCommitV2 from "kafkajs/src/protocol/requests/offsetCommit/v2/request.js";
import offsetCommitV3 from "kafkajs/src/protocol/requests/offsetCommit/v3/request.js";
import offsetCommitV4 from "kafkajs/src/protocol/requests/offsetCommit/v4/request.js";
import offsetCommitV5 from "kafkajs/src/protocol/requests/offsetCommit/v5/request.js";
import offsetFetchV1 from "kafkajs/src/protocol/requests/offsetFetch/v1/request.js";
import offsetFetchV2 from "kafkajs/src/protocol/requests/offsetFetch/v2/request.js";
import offsetFetchV3 from "kafkajs/src/protocol/requests/offsetFetch/v3/request.js";
import offsetFetchV4 from "kafkajs/src/protocol/requests/offsetFetch/v4/request.js";
import findCoordinatorResponseV0 from "kafkajs/src/protocol/requests/findCoordinator/v0/response.js";
import findCoordinatorResponseV1 from "kafkajs/src/protocol/requests/findCoordinator/v1/response.js";
import findCoordinatorResponseV2 from "kafkajs/src/protocol/requests/findCoordinator/v2/response.js";
import joinGroupResponseV0 from "kafkajs/src/protocol/requests/joinGroup/v0/response.js";
import joinGroupResponseV1 from "kafkajs/src/protocol/requests/joinGroup/v1/response.js";
import joinGroupResponseV2 from "kafkajs/src/protocol/requests/joinGroup/v2/response.js";
import joinGroupResponseV3 from "kafkajs/src/protocol/requests/joinGroup/v3/response.js";
import joinGroupResponseV4 from "kafkajs/src/protocol/requests/joinGroup/v4/response.js";
import joinGroupResponseV5 from "kafkajs/src/protocol/requests/joinGroup/v5/response.js";
import syncGroupResponseV0 from "kafkajs/src/protocol/requests/syncGroup/v0/response.js";
import syncGroupResponseV1 from "kafkajs/src/protocol/requests/syncGroup/v1/response.js";
import syncGroupResponseV2 from "kafkajs/src/protocol/requests/syncGroup/v2/response.js";
import syncGroupResponseV3 from "kafkajs/src/protocol/requests/syncGroup/v3/response.js";
import heartbeatResponseV0 from "kafkajs/src/protocol/requests/heartbeat/v0/response.js";
import heartbeatResponseV1 from "kafkajs/src/protocol/requests/heartbeat/v1/response.js";
import heartbeatResponseV2 from "kafkajs/src/protocol/requests/heartbeat/v2/response.js";
import heartbeatResponseV3 from "kafkajs/src/protocol/requests/heartbeat/v3/response.js";
import leaveGroupResponseV0 from "kafkajs/src/protocol/requests/leaveGroup/v0/response.js";
import leaveGroupResponseV1 from "kafkajs/src/protocol/requests/leaveGroup/v1/response.js";
import leaveGroupResponseV2 from "kafkajs/src/protocol/requests/leaveGroup/v2/response.js";
import leaveGroupResponseV3 from "kafkajs/src/protocol/requests/leaveGroup/v3/response.js";
import offsetCommitResponseV2 from "kafkajs/src/protocol/requests/offsetCommit/v2/response.js";
import offsetCommitResponseV3 from "kafkajs/src/protocol/requests/offsetCommit/v3/response.js";
import offsetCommitResponseV4 from "kafkajs/src/protocol/requests/offsetCommit/v4/response.js";
import offsetCommitResponseV5 from "kafkajs/src/protocol/requests/offsetCommit/v5/response.js";
import offsetFetchResponseV1 from "kafkajs/src/protocol/requests/offsetFetch/v1/response.js";
import offsetFetchResponseV2 from "kafkajs/src/protocol/requests/offsetFetch/v2/response.js";
import offsetFetchResponseV3 from "kafkajs/src/protocol/requests/offsetFetch/v3/response.js";
import offsetFetchResponseV4 from "kafkajs/src/protocol/requests/offsetFetch/v4/response.js";
import {
  decode,
  encode,
  KafkaCodecError,
  type MessageSchema,
  normalize,
  type Struct,
} from "../../src/kafka_protocol/codec.ts";
import {
  FIND_COORDINATOR_REQUEST,
  FIND_COORDINATOR_RESPONSE,
} from "../../src/kafka_protocol/messages/find_coordinator.ts";
import {
  JOIN_GROUP_REQUEST,
  JOIN_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/join_group.ts";
import {
  SYNC_GROUP_REQUEST,
  SYNC_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/sync_group.ts";
import {
  HEARTBEAT_REQUEST,
  HEARTBEAT_RESPONSE,
} from "../../src/kafka_protocol/messages/heartbeat.ts";
import {
  LEAVE_GROUP_REQUEST,
  LEAVE_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/leave_group.ts";
import {
  OFFSET_COMMIT_REQUEST,
  OFFSET_COMMIT_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_commit.ts";
import {
  OFFSET_FETCH_REQUEST,
  OFFSET_FETCH_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_fetch.ts";
import {
  assertRoundTrip,
  kafkajsFrame,
  kafkajsRead,
  ourRequestFrame,
  versionsOf,
} from "./kafka_wire_util.ts";

const METADATA = Uint8Array.from([0, 1, 0, 0, 0, 1, 0x61, 0x62]);
const ASSIGNMENT = Uint8Array.from([0, 1, 0, 0, 0, 0]);

/** One value per message with every field set away from its default, so each version differs. */
const SAMPLES: ReadonlyArray<readonly [MessageSchema, Struct]> = [
  [FIND_COORDINATOR_REQUEST, { key: "orders-group", keyType: 1, coordinatorKeys: ["g1", "g2"] }],
  [FIND_COORDINATOR_RESPONSE, {
    throttleTimeMs: 7,
    errorCode: 15,
    errorMessage: "not available",
    nodeId: 3,
    host: "b3.local",
    port: 9094,
    coordinators: [
      { key: "g1", nodeId: 1, host: "b1.local", port: 9092, errorCode: 0, errorMessage: null },
      { key: "g2", nodeId: -1, host: "", port: -1, errorCode: 15, errorMessage: "later" },
    ],
  }],
  [JOIN_GROUP_REQUEST, {
    groupId: "orders-group",
    sessionTimeoutMs: 30000,
    rebalanceTimeoutMs: 60000,
    memberId: "m-1",
    groupInstanceId: "instance-1",
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: METADATA }, {
      name: "roundrobin",
      metadata: new Uint8Array(0),
    }],
  }],
  [JOIN_GROUP_RESPONSE, {
    throttleTimeMs: 5,
    errorCode: 0,
    generationId: 4,
    protocolType: "consumer",
    protocolName: "range",
    leader: "m-1",
    memberId: "m-2",
    members: [
      { memberId: "m-1", groupInstanceId: "instance-1", metadata: METADATA },
      { memberId: "m-2", groupInstanceId: null, metadata: new Uint8Array(0) },
    ],
  }],
  [SYNC_GROUP_REQUEST, {
    groupId: "orders-group",
    generationId: 4,
    memberId: "m-1",
    groupInstanceId: "instance-1",
    protocolType: "consumer",
    protocolName: "range",
    assignments: [{ memberId: "m-1", assignment: ASSIGNMENT }, {
      memberId: "m-2",
      assignment: new Uint8Array(0),
    }],
  }],
  [SYNC_GROUP_RESPONSE, {
    throttleTimeMs: 5,
    errorCode: 27,
    protocolType: "consumer",
    protocolName: "range",
    assignment: ASSIGNMENT,
  }],
  [HEARTBEAT_REQUEST, {
    groupId: "orders-group",
    generationId: 4,
    memberId: "m-1",
    groupInstanceId: "instance-1",
  }],
  [HEARTBEAT_RESPONSE, { throttleTimeMs: 5, errorCode: 27 }],
  [LEAVE_GROUP_REQUEST, {
    groupId: "orders-group",
    memberId: "m-1",
    members: [{ memberId: "m-1", groupInstanceId: null }, {
      memberId: "",
      groupInstanceId: "instance-2",
    }],
  }],
  [LEAVE_GROUP_RESPONSE, {
    throttleTimeMs: 5,
    errorCode: 0,
    members: [{ memberId: "m-1", groupInstanceId: null, errorCode: 0 }, {
      memberId: "m-2",
      groupInstanceId: "instance-2",
      errorCode: 25,
    }],
  }],
  [OFFSET_COMMIT_REQUEST, {
    groupId: "orders-group",
    generationIdOrMemberEpoch: 4,
    memberId: "m-1",
    groupInstanceId: "instance-1",
    retentionTimeMs: 86_400_000n,
    topics: [{
      name: "orders",
      partitions: [
        {
          partitionIndex: 0,
          committedOffset: 1234567890123n,
          committedLeaderEpoch: 3,
          committedMetadata: "meta",
        },
        {
          partitionIndex: 1,
          committedOffset: 0n,
          committedLeaderEpoch: 3,
          committedMetadata: null,
        },
      ],
    }],
  }],
  [OFFSET_COMMIT_RESPONSE, {
    throttleTimeMs: 5,
    topics: [{
      name: "orders",
      partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 22 }],
    }],
  }],
  [OFFSET_FETCH_REQUEST, {
    groupId: "orders-group",
    topics: [{ name: "orders", partitionIndexes: [0, 1, 2] }, {
      name: "payments",
      partitionIndexes: [],
    }],
    groups: [
      {
        groupId: "orders-group",
        memberId: "member-1",
        memberEpoch: 7,
        topics: [{ name: "orders", partitionIndexes: [0, 1] }],
      },
      { groupId: "other", memberId: null, memberEpoch: -1, topics: null },
    ],
    requireStable: true,
  }],
  [OFFSET_FETCH_RESPONSE, {
    throttleTimeMs: 5,
    topics: [{
      name: "orders",
      partitions: [
        {
          partitionIndex: 0,
          committedOffset: 1234567890123n,
          committedLeaderEpoch: 3,
          metadata: "meta",
          errorCode: 0,
        },
        {
          partitionIndex: 1,
          committedOffset: -1n,
          committedLeaderEpoch: -1,
          metadata: null,
          errorCode: 0,
        },
      ],
    }],
    errorCode: 16,
    groups: [{
      groupId: "orders-group",
      topics: [{
        name: "orders",
        partitions: [{
          partitionIndex: 0,
          committedOffset: 12n,
          committedLeaderEpoch: -1,
          metadata: "",
          errorCode: 0,
        }],
      }],
      errorCode: 113,
    }],
  }],
];

// deno-lint-ignore no-explicit-any
type KafkajsRequestFactory = (args: any) => unknown;

/** Asserts that our frame for `value` equals kafkajs's frame for `args`, for every version. */
async function checkRequests(
  t: Deno.TestContext,
  schema: MessageSchema,
  factories: ReadonlyArray<readonly [number, KafkajsRequestFactory]>,
  // deno-lint-ignore no-explicit-any
  cases: ReadonlyArray<readonly [string, (version: number) => any, (version: number) => Struct]>,
): Promise<void> {
  for (const [version, factory] of factories) {
    for (const [label, theirArgs, ourValue] of cases) {
      await t.step(`${schema.name} v${version} ${label}`, async () => {
        const theirs = await kafkajsFrame(factory(theirArgs(version)));
        assert.deepEqual(ourRequestFrame(schema, version, ourValue(version)), theirs);
      });
    }
  }
}

function assertCodecError(fn: () => unknown, reason?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KafkaCodecError, `expected KafkaCodecError, got ${err}`);
    if (reason !== undefined) assert.equal(err.reason, reason);
    return true;
  });
}

// Hand-built byte helpers, independent of the codec under test.
const utf8 = (s: string) => [...new TextEncoder().encode(s)];
/** Compact string / bytes / array prefix for lengths under 127: one byte, length + 1. */
const compactString = (s: string) => [utf8(s).length + 1, ...utf8(s)];
const i16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const i32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const i64 = (
  n: bigint,
) => [...i32(Number(BigInt.asIntN(32, n >> 32n))), ...i32(Number(n & 0xffffffffn))];
/** A tagged-field section holding one unknown tag (99) of three bytes, which must be skipped. */
const UNKNOWN_TAG = [0x01, 99, 0x03, 0xde, 0xad, 0x00];
const NO_TAGS = [0x00];

Deno.test("group messages round trip every version", async (t) => {
  for (const [schema, value] of SAMPLES) {
    for (const version of versionsOf(schema)) {
      await t.step(`${schema.name} v${version}`, () => {
        assertRoundTrip(schema, version, value);
      });
    }
  }
});

Deno.test("group messages: table shapes", async (t) => {
  await t.step("versions and flexible versions", () => {
    const expected: Array<[MessageSchema, number, string, string]> = [
      [FIND_COORDINATOR_REQUEST, 10, "0-4", "3+"],
      [FIND_COORDINATOR_RESPONSE, 10, "0-4", "3+"],
      [JOIN_GROUP_REQUEST, 11, "0-7", "6+"],
      [JOIN_GROUP_RESPONSE, 11, "0-7", "6+"],
      [HEARTBEAT_REQUEST, 12, "0-4", "4+"],
      [HEARTBEAT_RESPONSE, 12, "0-4", "4+"],
      [LEAVE_GROUP_REQUEST, 13, "0-4", "4+"],
      [LEAVE_GROUP_RESPONSE, 13, "0-4", "4+"],
      [SYNC_GROUP_REQUEST, 14, "0-5", "4+"],
      [SYNC_GROUP_RESPONSE, 14, "0-5", "4+"],
      [OFFSET_COMMIT_REQUEST, 8, "2-9", "8+"],
      [OFFSET_COMMIT_RESPONSE, 8, "2-9", "8+"],
      [OFFSET_FETCH_REQUEST, 9, "1-9", "6+"],
      [OFFSET_FETCH_RESPONSE, 9, "1-9", "6+"],
    ];
    for (const [schema, apiKey, valid, flexible] of expected) {
      assert.deepEqual([schema.apiKey, schema.validVersions, schema.flexibleVersions], [
        apiKey,
        valid,
        flexible,
      ], schema.name);
    }
  });

  await t.step("defaults of absent fields", () => {
    const join = decode(JOIN_GROUP_REQUEST, 0, encode(JOIN_GROUP_REQUEST, 0, {}));
    assert.equal(join.rebalanceTimeoutMs, -1);
    assert.equal(join.groupInstanceId, null);
    const commit = decode(OFFSET_COMMIT_REQUEST, 8, encode(OFFSET_COMMIT_REQUEST, 8, {}));
    assert.equal(commit.retentionTimeMs, -1n);
    assert.equal(commit.generationIdOrMemberEpoch, -1);
    assert.equal(commit.groupInstanceId, null);
    const partition = normalize(OFFSET_COMMIT_REQUEST, 5, {
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, committedOffset: 1n }] }],
    });
    // deno-lint-ignore no-explicit-any
    assert.equal((partition as any).topics[0].partitions[0].committedLeaderEpoch, -1);
    const joinResponse = normalize(JOIN_GROUP_RESPONSE, 4, {});
    assert.equal(joinResponse.generationId, -1);
    assert.equal(joinResponse.protocolType, null);
    assert.equal(normalize(FIND_COORDINATOR_REQUEST, 0, {}).keyType, 0);
    assert.equal(normalize(SYNC_GROUP_REQUEST, 2, {}).protocolName, null);
  });

  await t.step("null only where the version allows it", () => {
    // OffsetFetch topics: null means "all topics" from v2, an error in v1.
    assert.equal(
      decode(OFFSET_FETCH_REQUEST, 2, encode(OFFSET_FETCH_REQUEST, 2, { topics: null })).topics,
      null,
    );
    assertCodecError(
      () => decode(OFFSET_FETCH_REQUEST, 1, Uint8Array.from([0, 1, 0x67, 0xff, 0xff, 0xff, 0xff])),
      "NOT_NULLABLE",
    );
    // JoinGroup response protocol name: nullable from v7 only.
    const v7 = encode(JOIN_GROUP_RESPONSE, 7, { protocolName: null });
    assert.equal(decode(JOIN_GROUP_RESPONSE, 7, v7).protocolName, null);
    const v6 = Uint8Array.from([
      ...i32(0), // throttle
      ...i16(0), // error
      ...i32(1), // generation
      0x00, // protocol name: compact null
      ...compactString(""),
      ...compactString(""),
      0x01, // no members
      ...NO_TAGS,
    ]);
    assertCodecError(() => decode(JOIN_GROUP_RESPONSE, 6, v6), "NOT_NULLABLE");
  });
});

Deno.test("group requests match kafkajs request frames byte for byte", async (t) => {
  await checkRequests(t, FIND_COORDINATOR_REQUEST, [[0, findCoordinatorV0]], [
    ["group", () => ({ groupId: "orders-group" }), () => ({ key: "orders-group" })],
  ]);
  await checkRequests(t, FIND_COORDINATOR_REQUEST, [[1, findCoordinatorV1], [
    2,
    findCoordinatorV2,
  ]], [
    [
      "group",
      () => ({ coordinatorKey: "orders-group", coordinatorType: 0 }),
      () => ({ key: "orders-group", keyType: 0 }),
    ],
    [
      "transaction",
      () => ({ coordinatorKey: "tx-1", coordinatorType: 1 }),
      () => ({ key: "tx-1", keyType: 1 }),
    ],
  ]);

  const protocols = [{ name: "range", metadata: METADATA }, {
    name: "roundrobin",
    metadata: new Uint8Array(0),
  }];
  await checkRequests(
    t,
    JOIN_GROUP_REQUEST,
    [[0, joinGroupV0], [1, joinGroupV1], [2, joinGroupV2], [3, joinGroupV3], [4, joinGroupV4], [
      5,
      joinGroupV5,
    ]],
    [
      [
        "first join",
        () => ({
          groupId: "orders-group",
          sessionTimeout: 30000,
          rebalanceTimeout: 60000,
          memberId: "",
          protocolType: "consumer",
          groupProtocols: protocols.map((p) => ({ ...p, metadata: Buffer.from(p.metadata) })),
        }),
        () => ({
          groupId: "orders-group",
          sessionTimeoutMs: 30000,
          rebalanceTimeoutMs: 60000,
          memberId: "",
          protocolType: "consumer",
          protocols,
        }),
      ],
      [
        "static member",
        () => ({
          groupId: "g",
          sessionTimeout: 10000,
          rebalanceTimeout: 20000,
          memberId: "m-1",
          groupInstanceId: "instance-1",
          protocolType: "consumer",
          groupProtocols: [{ name: "range", metadata: Buffer.from(METADATA) }],
        }),
        () => ({
          groupId: "g",
          sessionTimeoutMs: 10000,
          rebalanceTimeoutMs: 20000,
          memberId: "m-1",
          groupInstanceId: "instance-1",
          protocolType: "consumer",
          protocols: [{ name: "range", metadata: METADATA }],
        }),
      ],
    ],
  );

  await checkRequests(
    t,
    SYNC_GROUP_REQUEST,
    [[0, syncGroupV0], [1, syncGroupV1], [2, syncGroupV2], [3, syncGroupV3]],
    [
      [
        "leader",
        () => ({
          groupId: "orders-group",
          generationId: 4,
          memberId: "m-1",
          groupInstanceId: "instance-1",
          groupAssignment: [
            { memberId: "m-1", memberAssignment: Buffer.from(ASSIGNMENT) },
            { memberId: "m-2", memberAssignment: Buffer.alloc(0) },
          ],
        }),
        (version) => ({
          groupId: "orders-group",
          generationId: 4,
          memberId: "m-1",
          groupInstanceId: version >= 3 ? "instance-1" : null,
          assignments: [
            { memberId: "m-1", assignment: ASSIGNMENT },
            { memberId: "m-2", assignment: new Uint8Array(0) },
          ],
        }),
      ],
      [
        "follower",
        () => ({ groupId: "g", generationId: 4, memberId: "m-2", groupAssignment: [] }),
        () => ({ groupId: "g", generationId: 4, memberId: "m-2", assignments: [] }),
      ],
    ],
  );

  await checkRequests(
    t,
    HEARTBEAT_REQUEST,
    [[0, heartbeatV0], [1, heartbeatV1], [2, heartbeatV2], [3, heartbeatV3]],
    [
      [
        "dynamic member",
        () => ({ groupId: "orders-group", groupGenerationId: 4, memberId: "m-1" }),
        () => ({ groupId: "orders-group", generationId: 4, memberId: "m-1" }),
      ],
      [
        "static member",
        () => ({
          groupId: "orders-group",
          groupGenerationId: 4,
          memberId: "m-1",
          groupInstanceId: "instance-1",
        }),
        () => ({
          groupId: "orders-group",
          generationId: 4,
          memberId: "m-1",
          groupInstanceId: "instance-1",
        }),
      ],
    ],
  );

  await checkRequests(
    t,
    LEAVE_GROUP_REQUEST,
    [[0, leaveGroupV0], [1, leaveGroupV1], [2, leaveGroupV2]],
    [[
      "one member",
      () => ({ groupId: "orders-group", memberId: "m-1" }),
      () => ({ groupId: "orders-group", memberId: "m-1" }),
    ]],
  );
  await checkRequests(t, LEAVE_GROUP_REQUEST, [[3, leaveGroupV3]], [[
    "batch",
    () => ({
      groupId: "orders-group",
      members: [{ memberId: "m-1" }, { memberId: "m-2", groupInstanceId: "instance-2" }],
    }),
    () => ({
      groupId: "orders-group",
      members: [
        { memberId: "m-1", groupInstanceId: null },
        { memberId: "m-2", groupInstanceId: "instance-2" },
      ],
    }),
  ]]);

  await checkRequests(
    t,
    OFFSET_COMMIT_REQUEST,
    [[2, offsetCommitV2], [3, offsetCommitV3], [4, offsetCommitV4], [5, offsetCommitV5]],
    [[
      "two partitions",
      () => ({
        groupId: "orders-group",
        groupGenerationId: 4,
        memberId: "m-1",
        retentionTime: -1,
        topics: [{
          topic: "orders",
          partitions: [
            { partition: 0, offset: "1234567890123", metadata: "meta" },
            { partition: 1, offset: "0" },
          ],
        }],
      }),
      () => ({
        groupId: "orders-group",
        generationIdOrMemberEpoch: 4,
        memberId: "m-1",
        retentionTimeMs: -1n,
        topics: [{
          name: "orders",
          partitions: [
            { partitionIndex: 0, committedOffset: 1234567890123n, committedMetadata: "meta" },
            { partitionIndex: 1, committedOffset: 0n, committedMetadata: null },
          ],
        }],
      }),
    ], [
      "explicit retention",
      () => ({
        groupId: "g",
        groupGenerationId: -1,
        memberId: "",
        retentionTime: 86_400_000,
        topics: [{ topic: "t", partitions: [{ partition: 7, offset: "9" }] }],
      }),
      () => ({
        groupId: "g",
        memberId: "",
        retentionTimeMs: 86_400_000n,
        topics: [{
          name: "t",
          partitions: [{ partitionIndex: 7, committedOffset: 9n, committedMetadata: null }],
        }],
      }),
    ]],
  );

  await checkRequests(
    t,
    OFFSET_FETCH_REQUEST,
    [[1, offsetFetchV1], [2, offsetFetchV2], [3, offsetFetchV3], [4, offsetFetchV4]],
    [[
      "two topics",
      () => ({
        groupId: "orders-group",
        topics: [
          { topic: "orders", partitions: [{ partition: 0 }, { partition: 2 }] },
          { topic: "payments", partitions: [] },
        ],
      }),
      () => ({
        groupId: "orders-group",
        topics: [
          { name: "orders", partitionIndexes: [0, 2] },
          { name: "payments", partitionIndexes: [] },
        ],
      }),
    ]],
  );
});

Deno.test("group responses are read back by kafkajs decoders", async (t) => {
  const findCoordinator = [
    findCoordinatorResponseV0,
    findCoordinatorResponseV1,
    findCoordinatorResponseV2,
  ];
  for (const [version, module] of findCoordinator.entries()) {
    await t.step(`FindCoordinatorResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(FIND_COORDINATOR_RESPONSE, version, {
          throttleTimeMs: 9,
          errorCode: 0,
          errorMessage: null,
          nodeId: 2,
          host: "b2.local",
          port: 9093,
        }),
      );
      assert.equal(theirs.errorCode, 0);
      assert.deepEqual(theirs.coordinator, { nodeId: 2, host: "b2.local", port: 9093 });
      if (version >= 1) {
        assert.equal(theirs.errorMessage, null);
        assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
      }
    });
  }

  const joinGroup = [
    joinGroupResponseV0,
    joinGroupResponseV1,
    joinGroupResponseV2,
    joinGroupResponseV3,
    joinGroupResponseV4,
    joinGroupResponseV5,
  ];
  for (const [version, module] of joinGroup.entries()) {
    await t.step(`JoinGroupResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(JOIN_GROUP_RESPONSE, version, {
          throttleTimeMs: 9,
          errorCode: 0,
          generationId: 4,
          protocolName: "range",
          leader: "m-1",
          memberId: "m-2",
          members: [
            { memberId: "m-1", groupInstanceId: "instance-1", metadata: METADATA },
            { memberId: "m-2", groupInstanceId: null, metadata: new Uint8Array(0) },
          ],
        }),
      );
      assert.deepEqual(
        [theirs.errorCode, theirs.generationId, theirs.groupProtocol, theirs.leaderId],
        [0, 4, "range", "m-1"],
      );
      assert.equal(theirs.memberId, "m-2");
      assert.deepEqual(
        theirs.members.map((m: { memberId: string; memberMetadata: Buffer }) => [
          m.memberId,
          [...m.memberMetadata],
        ]),
        [["m-1", [...METADATA]], ["m-2", []]],
      );
      if (version >= 2) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
      if (version >= 5) {
        assert.deepEqual(
          theirs.members.map((m: { groupInstanceId: string | null }) => m.groupInstanceId),
          ["instance-1", null],
        );
      }
    });
  }

  const syncGroup = [
    syncGroupResponseV0,
    syncGroupResponseV1,
    syncGroupResponseV2,
    syncGroupResponseV3,
  ];
  for (const [version, module] of syncGroup.entries()) {
    await t.step(`SyncGroupResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(SYNC_GROUP_RESPONSE, version, {
          throttleTimeMs: 9,
          errorCode: 0,
          assignment: ASSIGNMENT,
        }),
      );
      assert.equal(theirs.errorCode, 0);
      assert.deepEqual([...theirs.memberAssignment], [...ASSIGNMENT]);
      if (version >= 1) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
    });
  }

  const heartbeat = [
    heartbeatResponseV0,
    heartbeatResponseV1,
    heartbeatResponseV2,
    heartbeatResponseV3,
  ];
  for (const [version, module] of heartbeat.entries()) {
    await t.step(`HeartbeatResponse v${version}`, async () => {
      const bytes = encode(HEARTBEAT_RESPONSE, version, { throttleTimeMs: 9, errorCode: 0 });
      const theirs = await kafkajsRead(module, bytes);
      assert.equal(theirs.errorCode, 0);
      if (version >= 1) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
      // A REBALANCE_IN_PROGRESS heartbeat must reach kafkajs as that error.
      const rebalancing = encode(HEARTBEAT_RESPONSE, version, { throttleTimeMs: 0, errorCode: 27 });
      await assert.rejects(
        () => kafkajsRead(module, rebalancing),
        (err: Error) => err.name === "KafkaJSProtocolError" && /rebalanc/i.test(err.message),
      );
    });
  }

  const leaveGroup = [
    leaveGroupResponseV0,
    leaveGroupResponseV1,
    leaveGroupResponseV2,
    leaveGroupResponseV3,
  ];
  for (const [version, module] of leaveGroup.entries()) {
    await t.step(`LeaveGroupResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(LEAVE_GROUP_RESPONSE, version, {
          throttleTimeMs: 9,
          errorCode: 0,
          members: [
            { memberId: "m-1", groupInstanceId: null, errorCode: 0 },
            { memberId: "m-2", groupInstanceId: "instance-2", errorCode: 0 },
          ],
        }),
      );
      assert.equal(theirs.errorCode, 0);
      if (version >= 1) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
      if (version >= 3) {
        assert.deepEqual(theirs.members, [
          { memberId: "m-1", groupInstanceId: null, errorCode: 0 },
          { memberId: "m-2", groupInstanceId: "instance-2", errorCode: 0 },
        ]);
      }
    });
  }

  const offsetCommit: Array<[number, unknown]> = [
    [2, offsetCommitResponseV2],
    [3, offsetCommitResponseV3],
    [4, offsetCommitResponseV4],
    [5, offsetCommitResponseV5],
  ];
  for (const [version, module] of offsetCommit) {
    await t.step(`OffsetCommitResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(OFFSET_COMMIT_RESPONSE, version, {
          throttleTimeMs: 9,
          topics: [{
            name: "orders",
            partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }],
          }],
        }),
      );
      assert.deepEqual(theirs.responses, [{
        topic: "orders",
        partitions: [{ partition: 0, errorCode: 0 }, { partition: 1, errorCode: 0 }],
      }]);
      if (version >= 3) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
    });
  }

  const offsetFetch: Array<[number, unknown]> = [
    [1, offsetFetchResponseV1],
    [2, offsetFetchResponseV2],
    [3, offsetFetchResponseV3],
    [4, offsetFetchResponseV4],
  ];
  for (const [version, module] of offsetFetch) {
    await t.step(`OffsetFetchResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(OFFSET_FETCH_RESPONSE, version, {
          throttleTimeMs: 9,
          topics: [{
            name: "orders",
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 1234567890123n,
                metadata: "meta",
                errorCode: 0,
              },
              { partitionIndex: 1, committedOffset: -1n, metadata: null, errorCode: 0 },
            ],
          }],
          errorCode: 0,
        }),
      );
      assert.deepEqual(theirs.responses, [{
        topic: "orders",
        partitions: [
          { partition: 0, offset: "1234567890123", metadata: "meta", errorCode: 0 },
          { partition: 1, offset: "-1", metadata: null, errorCode: 0 },
        ],
      }]);
      if (version >= 2) assert.equal(theirs.errorCode, 0);
      if (version >= 3) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
    });
  }
});

/** Decodes `bytes`, compares with `expected`, and checks re-encoding drops only unknown tags. */
function checkHandBuilt(
  schema: MessageSchema,
  version: number,
  bytes: number[],
  expected: Struct,
  reencoded: number[],
): void {
  const value = decode(schema, version, Uint8Array.from(bytes));
  assert.deepEqual(value, normalize(schema, version, expected));
  assert.deepEqual(value, expected);
  assert.deepEqual(encode(schema, version, value), Uint8Array.from(reencoded));
}

Deno.test("group messages decode hand-built flexible frames", async (t) => {
  await t.step("FindCoordinatorRequest v4: batched keys, unknown tag skipped", () => {
    const body = [
      0x00, // key type 0 (group)
      0x03, // compact array of 2 keys
      ...compactString("g1"),
      ...compactString("g2"),
    ];
    checkHandBuilt(
      FIND_COORDINATOR_REQUEST,
      4,
      [...body, ...UNKNOWN_TAG],
      { key: "", keyType: 0, coordinatorKeys: ["g1", "g2"] },
      [...body, ...NO_TAGS],
    );
  });

  await t.step("FindCoordinatorResponse v3 and v4", () => {
    const v3 = [
      ...i32(0), // throttle
      ...i16(0), // error code
      0x00, // error message: compact null
      ...i32(1), // node id
      ...compactString("b1"),
      ...i32(9092),
    ];
    checkHandBuilt(FIND_COORDINATOR_RESPONSE, 3, [...v3, ...UNKNOWN_TAG], {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      nodeId: 1,
      host: "b1",
      port: 9092,
      coordinators: [],
    }, [...v3, ...NO_TAGS]);
    const coordinator = [
      ...compactString("g1"),
      ...i32(1),
      ...compactString("b1"),
      ...i32(9092),
      ...i16(0),
      0x00, // error message null
    ];
    const v4 = [...i32(0), 0x02 /* one coordinator */];
    checkHandBuilt(
      FIND_COORDINATOR_RESPONSE,
      4,
      [...v4, ...coordinator, ...UNKNOWN_TAG, ...NO_TAGS],
      {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: "",
        nodeId: 0,
        host: "",
        port: 0,
        coordinators: [{
          key: "g1",
          nodeId: 1,
          host: "b1",
          port: 9092,
          errorCode: 0,
          errorMessage: null,
        }],
      },
      [...v4, ...coordinator, ...NO_TAGS, ...NO_TAGS],
    );
  });

  await t.step("JoinGroupRequest v6: compact strings and bytes, null instance id", () => {
    const protocol = [...compactString("range"), 0x03, 0xab, 0xcd /* compact bytes */];
    const head = [
      ...compactString("grp"),
      ...i32(30000), // session timeout
      ...i32(60000), // rebalance timeout
      0x01, // member id: compact ""
      0x00, // group instance id: compact null
      ...compactString("consumer"),
      0x02, // one protocol
    ];
    checkHandBuilt(
      JOIN_GROUP_REQUEST,
      6,
      [...head, ...protocol, ...UNKNOWN_TAG, ...UNKNOWN_TAG],
      {
        groupId: "grp",
        sessionTimeoutMs: 30000,
        rebalanceTimeoutMs: 60000,
        memberId: "",
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Uint8Array.from([0xab, 0xcd]) }],
      },
      [...head, ...protocol, ...NO_TAGS, ...NO_TAGS],
    );
  });

  await t.step("JoinGroupResponse v7: protocol type, members with instance ids", () => {
    const head = [
      ...i32(5),
      ...i16(0),
      ...i32(4), // generation id
      ...compactString("consumer"),
      ...compactString("range"),
      ...compactString("m1"), // leader
      ...compactString("m2"), // member id
      0x03, // two members
    ];
    const m1 = [...compactString("m1"), ...compactString("i1"), 0x02, 0x07];
    const m2 = [...compactString("m2"), 0x00, 0x01];
    checkHandBuilt(
      JOIN_GROUP_RESPONSE,
      7,
      [...head, ...m1, ...UNKNOWN_TAG, ...m2, ...NO_TAGS, ...UNKNOWN_TAG],
      {
        throttleTimeMs: 5,
        errorCode: 0,
        generationId: 4,
        protocolType: "consumer",
        protocolName: "range",
        leader: "m1",
        memberId: "m2",
        members: [
          { memberId: "m1", groupInstanceId: "i1", metadata: Uint8Array.from([0x07]) },
          { memberId: "m2", groupInstanceId: null, metadata: new Uint8Array(0) },
        ],
      },
      [...head, ...m1, ...NO_TAGS, ...m2, ...NO_TAGS, ...NO_TAGS],
    );
  });

  await t.step("JoinGroupResponse v6: no protocol type yet, protocol name not nullable", () => {
    const body = [
      ...i32(0),
      ...i16(79), // MEMBER_ID_REQUIRED
      ...i32(-1), // generation id
      ...compactString(""), // protocol name
      ...compactString(""), // leader
      ...compactString("m-9"), // member id to rejoin with
      0x01, // no members
    ];
    checkHandBuilt(JOIN_GROUP_RESPONSE, 6, [...body, ...UNKNOWN_TAG], {
      throttleTimeMs: 0,
      errorCode: 79,
      generationId: -1,
      protocolType: null,
      protocolName: "",
      leader: "",
      memberId: "m-9",
      members: [],
    }, [...body, ...NO_TAGS]);
  });

  await t.step("SyncGroupRequest v4: instance id, no protocol type or name yet", () => {
    const body = [
      ...compactString("grp"),
      ...i32(4),
      ...compactString("m1"),
      ...compactString("i1"),
      0x01, // no assignments
    ];
    checkHandBuilt(SYNC_GROUP_REQUEST, 4, [...body, ...UNKNOWN_TAG], {
      groupId: "grp",
      generationId: 4,
      memberId: "m1",
      groupInstanceId: "i1",
      protocolType: null,
      protocolName: null,
      assignments: [],
    }, [...body, ...NO_TAGS]);
  });

  await t.step("SyncGroupRequest v5 and SyncGroupResponse v5", () => {
    const head = [
      ...compactString("grp"),
      ...i32(4),
      ...compactString("m1"),
      0x00, // instance id null
      ...compactString("consumer"),
      ...compactString("range"),
      0x02, // one assignment
      ...compactString("m1"),
      0x03,
      0x00,
      0x01, // assignment bytes [0, 1]
    ];
    checkHandBuilt(
      SYNC_GROUP_REQUEST,
      5,
      [...head, ...UNKNOWN_TAG, ...UNKNOWN_TAG],
      {
        groupId: "grp",
        generationId: 4,
        memberId: "m1",
        groupInstanceId: null,
        protocolType: "consumer",
        protocolName: "range",
        assignments: [{ memberId: "m1", assignment: Uint8Array.from([0, 1]) }],
      },
      [...head, ...NO_TAGS, ...NO_TAGS],
    );
    const response = [
      ...i32(0),
      ...i16(0),
      0x00, // protocol type null
      ...compactString("range"),
      0x01, // empty assignment
    ];
    checkHandBuilt(SYNC_GROUP_RESPONSE, 5, [...response, ...UNKNOWN_TAG], {
      throttleTimeMs: 0,
      errorCode: 0,
      protocolType: null,
      protocolName: "range",
      assignment: new Uint8Array(0),
    }, [...response, ...NO_TAGS]);
  });

  await t.step("HeartbeatRequest v4 and HeartbeatResponse v4", () => {
    const request = [
      ...compactString("grp"),
      ...i32(-1),
      ...compactString("m1"),
      ...compactString("i1"),
    ];
    checkHandBuilt(HEARTBEAT_REQUEST, 4, [...request, ...UNKNOWN_TAG], {
      groupId: "grp",
      generationId: -1,
      memberId: "m1",
      groupInstanceId: "i1",
    }, [...request, ...NO_TAGS]);
    const response = [...i32(100), ...i16(27)];
    checkHandBuilt(HEARTBEAT_RESPONSE, 4, [...response, ...UNKNOWN_TAG], {
      throttleTimeMs: 100,
      errorCode: 27,
    }, [...response, ...NO_TAGS]);
  });

  await t.step("LeaveGroupRequest v4 and LeaveGroupResponse v4", () => {
    const head = [...compactString("grp"), 0x03 /* two members */];
    const m1 = [...compactString("m1"), 0x00];
    const m2 = [0x01, ...compactString("i2")];
    checkHandBuilt(
      LEAVE_GROUP_REQUEST,
      4,
      [...head, ...m1, ...UNKNOWN_TAG, ...m2, ...NO_TAGS, ...UNKNOWN_TAG],
      {
        groupId: "grp",
        memberId: "",
        members: [{ memberId: "m1", groupInstanceId: null }, {
          memberId: "",
          groupInstanceId: "i2",
        }],
      },
      [...head, ...m1, ...NO_TAGS, ...m2, ...NO_TAGS, ...NO_TAGS],
    );
    const response = [...i32(0), ...i16(0), 0x02, ...compactString("m1"), 0x00, ...i16(25)];
    checkHandBuilt(LEAVE_GROUP_RESPONSE, 4, [...response, ...UNKNOWN_TAG, ...UNKNOWN_TAG], {
      throttleTimeMs: 0,
      errorCode: 0,
      members: [{ memberId: "m1", groupInstanceId: null, errorCode: 25 }],
    }, [...response, ...NO_TAGS, ...NO_TAGS]);
  });

  await t.step("OffsetCommitRequest v8 and OffsetCommitResponse v8", () => {
    const partition = [...i32(0), ...i64(1234567890123n), ...i32(3), 0x00 /* metadata null */];
    const head = [
      ...compactString("grp"),
      ...i32(4),
      ...compactString("m1"),
      ...compactString("i1"),
      0x02, // one topic
      ...compactString("orders"),
      0x02, // one partition
    ];
    checkHandBuilt(
      OFFSET_COMMIT_REQUEST,
      8,
      [...head, ...partition, ...UNKNOWN_TAG, ...UNKNOWN_TAG, ...UNKNOWN_TAG],
      {
        groupId: "grp",
        generationIdOrMemberEpoch: 4,
        memberId: "m1",
        groupInstanceId: "i1",
        retentionTimeMs: -1n,
        topics: [{
          name: "orders",
          partitions: [{
            partitionIndex: 0,
            committedOffset: 1234567890123n,
            committedLeaderEpoch: 3,
            committedMetadata: null,
          }],
        }],
      },
      [...head, ...partition, ...NO_TAGS, ...NO_TAGS, ...NO_TAGS],
    );
    const response = [...i32(0), 0x02, ...compactString("orders"), 0x02, ...i32(0), ...i16(0)];
    checkHandBuilt(
      OFFSET_COMMIT_RESPONSE,
      8,
      [...response, ...UNKNOWN_TAG, ...NO_TAGS, ...NO_TAGS],
      {
        throttleTimeMs: 0,
        topics: [{ name: "orders", partitions: [{ partitionIndex: 0, errorCode: 0 }] }],
      },
      [...response, ...NO_TAGS, ...NO_TAGS, ...NO_TAGS],
    );
  });

  await t.step("OffsetFetchRequest v7 (require stable, null topics) and v6", () => {
    const all = [...compactString("grp"), 0x00, /* topics null: all */ 0x01 /* require stable */];
    checkHandBuilt(OFFSET_FETCH_REQUEST, 7, [...all, ...UNKNOWN_TAG], {
      groupId: "grp",
      topics: null,
      groups: [],
      requireStable: true,
    }, [...all, ...NO_TAGS]);
    const some = [
      ...compactString("grp"),
      0x02, // one topic
      ...compactString("orders"),
      0x03, // compact int32 array of two
      ...i32(0),
      ...i32(5),
    ];
    checkHandBuilt(OFFSET_FETCH_REQUEST, 6, [...some, ...UNKNOWN_TAG, ...NO_TAGS], {
      groupId: "grp",
      topics: [{ name: "orders", partitionIndexes: [0, 5] }],
      groups: [],
      requireStable: false,
    }, [...some, ...NO_TAGS, ...NO_TAGS]);
  });

  await t.step("OffsetFetchResponse v6: leader epoch, group-level error", () => {
    const partition = [...i32(0), ...i64(42n), ...i32(-1), ...compactString("m"), ...i16(0)];
    const head = [...i32(0), 0x02, ...compactString("orders"), 0x02];
    const tail = [...i16(0)];
    checkHandBuilt(
      OFFSET_FETCH_RESPONSE,
      6,
      [...head, ...partition, ...UNKNOWN_TAG, ...NO_TAGS, ...tail, ...UNKNOWN_TAG],
      {
        throttleTimeMs: 0,
        topics: [{
          name: "orders",
          partitions: [{
            partitionIndex: 0,
            committedOffset: 42n,
            committedLeaderEpoch: -1,
            metadata: "m",
            errorCode: 0,
          }],
        }],
        errorCode: 0,
        groups: [],
      },
      [...head, ...partition, ...NO_TAGS, ...NO_TAGS, ...tail, ...NO_TAGS],
    );
  });

  // Non-flexible versions newer than kafkajs speaks, as a Java client of that era writes them.
  await t.step("OffsetCommitRequest v6 and v7 (classic encoding)", () => {
    const partition = [...i32(2), ...i64(10n), ...i32(5), ...i16(1), 0x78 /* metadata "x" */];
    const topics = [...i32(1), ...i16(1), 0x74, /* "t" */ ...i32(1), ...partition];
    const v6 = [...i16(1), 0x67, /* "g" */ ...i32(3), ...i16(1), 0x6d, /* "m" */ ...topics];
    const expected = {
      groupId: "g",
      generationIdOrMemberEpoch: 3,
      memberId: "m",
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{
        name: "t",
        partitions: [{
          partitionIndex: 2,
          committedOffset: 10n,
          committedLeaderEpoch: 5,
          committedMetadata: "x",
        }],
      }],
    };
    checkHandBuilt(OFFSET_COMMIT_REQUEST, 6, v6, expected, v6);
    const v7 = [
      ...i16(1),
      0x67,
      ...i32(3),
      ...i16(1),
      0x6d,
      ...i16(-1), /* instance null */
      ...topics,
    ];
    checkHandBuilt(OFFSET_COMMIT_REQUEST, 7, v7, expected, v7);
  });

  await t.step("OffsetFetchResponse v5 (classic encoding, leader epoch)", () => {
    const body = [
      ...i32(0),
      ...i32(1), // one topic
      ...i16(1),
      0x74, // "t"
      ...i32(1), // one partition
      ...i32(0),
      ...i64(7n),
      ...i32(2), // leader epoch
      ...i16(-1), // metadata null
      ...i16(0),
      ...i16(0), // group error code
    ];
    checkHandBuilt(OFFSET_FETCH_RESPONSE, 5, body, {
      throttleTimeMs: 0,
      topics: [{
        name: "t",
        partitions: [{
          partitionIndex: 0,
          committedOffset: 7n,
          committedLeaderEpoch: 2,
          metadata: null,
          errorCode: 0,
        }],
      }],
      errorCode: 0,
      groups: [],
    }, body);
  });
});
