/**
 * The admin messages' tables (describe_groups.ts, list_groups.ts, delete_topics.ts,
 * delete_groups.ts): a round trip of every version, request frames byte for byte equal to
 * kafkajs's encoders for the versions kafkajs has, responses read back by kafkajs's decoders, and
 * hand-built bytes for the flexible versions kafkajs lacks.
 */
import assert from "node:assert/strict";
import describeGroupsV0 from "kafkajs/src/protocol/requests/describeGroups/v0/request.js";
import describeGroupsV1 from "kafkajs/src/protocol/requests/describeGroups/v1/request.js";
import describeGroupsV2 from "kafkajs/src/protocol/requests/describeGroups/v2/request.js";
import listGroupsV0 from "kafkajs/src/protocol/requests/listGroups/v0/request.js";
import listGroupsV1 from "kafkajs/src/protocol/requests/listGroups/v1/request.js";
import listGroupsV2 from "kafkajs/src/protocol/requests/listGroups/v2/request.js";
import deleteTopicsV0 from "kafkajs/src/protocol/requests/deleteTopics/v0/request.js";
import deleteTopicsV1 from "kafkajs/src/protocol/requests/deleteTopics/v1/request.js";
import deleteGroupsV0 from "kafkajs/src/protocol/requests/deleteGroups/v0/request.js";
import deleteGroupsV1 from "kafkajs/src/protocol/requests/deleteGroups/v1/request.js";
import describeGroupsResponseV0 from "kafkajs/src/protocol/requests/describeGroups/v0/response.js";
import describeGroupsResponseV1 from "kafkajs/src/protocol/requests/describeGroups/v1/response.js";
import describeGroupsResponseV2 from "kafkajs/src/protocol/requests/describeGroups/v2/response.js";
import listGroupsResponseV0 from "kafkajs/src/protocol/requests/listGroups/v0/response.js";
import listGroupsResponseV1 from "kafkajs/src/protocol/requests/listGroups/v1/response.js";
import listGroupsResponseV2 from "kafkajs/src/protocol/requests/listGroups/v2/response.js";
import deleteTopicsResponseV0 from "kafkajs/src/protocol/requests/deleteTopics/v0/response.js";
import deleteTopicsResponseV1 from "kafkajs/src/protocol/requests/deleteTopics/v1/response.js";
import deleteGroupsResponseV0 from "kafkajs/src/protocol/requests/deleteGroups/v0/response.js";
import deleteGroupsResponseV1 from "kafkajs/src/protocol/requests/deleteGroups/v1/response.js";
import {
  decode,
  encode,
  KafkaCodecError,
  type MessageSchema,
  normalize,
  type Struct,
} from "../../src/kafka_protocol/codec.ts";
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
import {
  assertRoundTrip,
  kafkajsDecode,
  kafkajsFrame,
  kafkajsRead,
  ourRequestFrame,
  versionsOf,
} from "./kafka_wire_util.ts";

const METADATA = Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 1, 0x61, 0, 0, 0, 0]);
const ASSIGNMENT = Uint8Array.from([
  0,
  0,
  0,
  0,
  0,
  1,
  0,
  1,
  0x61,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  2,
  0,
  0,
  0,
  0,
]);
const TOPIC_ID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const ZERO_UUID = new Uint8Array(16);
const INT32_MIN = -2147483648;

/** One value per message with every field set away from its default, so each version differs. */
const SAMPLES: ReadonlyArray<readonly [MessageSchema, Struct]> = [
  [DESCRIBE_GROUPS_REQUEST, {
    groups: ["orders-group", "other"],
    includeAuthorizedOperations: true,
  }],
  [DESCRIBE_GROUPS_RESPONSE, {
    throttleTimeMs: 5,
    groups: [
      {
        errorCode: 0,
        groupId: "orders-group",
        groupState: "Stable",
        protocolType: "consumer",
        protocolData: "range",
        members: [
          {
            memberId: "m-1",
            groupInstanceId: "instance-1",
            clientId: "client-1",
            clientHost: "/127.0.0.1",
            memberMetadata: METADATA,
            memberAssignment: ASSIGNMENT,
          },
          {
            memberId: "m-2",
            groupInstanceId: null,
            clientId: "client-2",
            clientHost: "/10.0.0.2",
            memberMetadata: new Uint8Array(0),
            memberAssignment: new Uint8Array(0),
          },
        ],
        authorizedOperations: 328,
      },
      {
        errorCode: 0,
        groupId: "other",
        groupState: "Dead",
        protocolType: "",
        protocolData: "",
        members: [],
        authorizedOperations: 8,
      },
    ],
  }],
  [LIST_GROUPS_REQUEST, { statesFilter: ["Stable", "Empty"], typesFilter: ["consumer"] }],
  [LIST_GROUPS_RESPONSE, {
    throttleTimeMs: 5,
    errorCode: 0,
    groups: [
      { groupId: "orders-group", protocolType: "consumer", groupState: "Stable" },
      { groupId: "simple", protocolType: "", groupState: "Empty" },
    ],
  }],
  [DELETE_TOPICS_REQUEST, {
    topics: [{ name: "orders", topicId: ZERO_UUID }, { name: null, topicId: TOPIC_ID }],
    topicNames: ["orders", "payments"],
    timeoutMs: 30000,
  }],
  [DELETE_TOPICS_RESPONSE, {
    throttleTimeMs: 5,
    responses: [
      { name: "orders", topicId: TOPIC_ID, errorCode: 0, errorMessage: null },
      { name: "payments", topicId: ZERO_UUID, errorCode: 3, errorMessage: "no such topic" },
    ],
  }],
  [DELETE_GROUPS_REQUEST, { groupsNames: ["orders-group", "other"] }],
  [DELETE_GROUPS_RESPONSE, {
    throttleTimeMs: 5,
    results: [{ groupId: "orders-group", errorCode: 0 }, { groupId: "other", errorCode: 68 }],
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
/** A tagged-field section holding one unknown tag (99) of three bytes, which must be skipped. */
const UNKNOWN_TAG = [0x01, 99, 0x03, 0xde, 0xad, 0x00];
const NO_TAGS = [0x00];

Deno.test("admin messages round trip every version", async (t) => {
  for (const [schema, value] of SAMPLES) {
    for (const version of versionsOf(schema)) {
      await t.step(`${schema.name} v${version}`, () => {
        assertRoundTrip(schema, version, value);
      });
    }
  }
});

Deno.test("admin messages: table shapes", async (t) => {
  await t.step("versions and flexible versions", () => {
    const expected: Array<[MessageSchema, number, string, string]> = [
      [DESCRIBE_GROUPS_REQUEST, 15, "0-5", "5+"],
      [DESCRIBE_GROUPS_RESPONSE, 15, "0-5", "5+"],
      [LIST_GROUPS_REQUEST, 16, "0-5", "3+"],
      [LIST_GROUPS_RESPONSE, 16, "0-5", "3+"],
      [DELETE_TOPICS_REQUEST, 20, "0-6", "4+"],
      [DELETE_TOPICS_RESPONSE, 20, "0-6", "4+"],
      [DELETE_GROUPS_REQUEST, 42, "0-2", "2+"],
      [DELETE_GROUPS_RESPONSE, 42, "0-2", "2+"],
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
    const describe = normalize(DESCRIBE_GROUPS_RESPONSE, 2, {
      groups: [{ groupId: "g", members: [{ memberId: "m" }] }],
    });
    // deno-lint-ignore no-explicit-any
    const group = (describe as any).groups[0];
    assert.equal(group.authorizedOperations, INT32_MIN);
    assert.equal(group.members[0].groupInstanceId, null);
    assert.equal(
      decode(DESCRIBE_GROUPS_REQUEST, 2, encode(DESCRIBE_GROUPS_REQUEST, 2, { groups: ["g"] }))
        .includeAuthorizedOperations,
      false,
    );
    assert.deepEqual(normalize(LIST_GROUPS_REQUEST, 3, {}).statesFilter, []);
    const v6 = normalize(DELETE_TOPICS_REQUEST, 6, { topics: [{ topicId: TOPIC_ID }] });
    // deno-lint-ignore no-explicit-any
    assert.equal((v6 as any).topics[0].name, null);
    const v5 = normalize(DELETE_TOPICS_RESPONSE, 5, { responses: [{ name: "t" }] });
    // deno-lint-ignore no-explicit-any
    assert.equal((v5 as any).responses[0].errorMessage, null);
  });

  await t.step("null topic names only from DeleteTopics v6", () => {
    const v6 = encode(DELETE_TOPICS_RESPONSE, 6, {
      responses: [{ name: null, topicId: TOPIC_ID, errorCode: 100 }],
    });
    // deno-lint-ignore no-explicit-any
    const decoded = decode(DELETE_TOPICS_RESPONSE, 6, v6) as any;
    assert.equal(decoded.responses[0].name, null);
    assert.deepEqual(decoded.responses[0].topicId, TOPIC_ID);
    const v5 = Uint8Array.from([
      ...i32(0), // throttle
      0x02, // one response
      0x00, // name: compact null
      ...i16(0),
      0x00, // error message: null
      ...NO_TAGS,
      ...NO_TAGS,
    ]);
    assertCodecError(() => decode(DELETE_TOPICS_RESPONSE, 5, v5), "NOT_NULLABLE");
  });
});

Deno.test("admin messages: flexible versions from hand-built bytes", async (t) => {
  await t.step("DescribeGroups v5 request", () => {
    const bytes = Uint8Array.from([
      0x03, // two groups
      ...compactString("g1"),
      ...compactString("g2"),
      0x01, // include authorized operations
      ...UNKNOWN_TAG,
    ]);
    assert.deepEqual(decode(DESCRIBE_GROUPS_REQUEST, 5, bytes), {
      groups: ["g1", "g2"],
      includeAuthorizedOperations: true,
    });
  });

  await t.step("DescribeGroups v5 response", () => {
    const bytes = encode(DESCRIBE_GROUPS_RESPONSE, 5, {
      throttleTimeMs: 0,
      groups: [{
        errorCode: 0,
        groupId: "g",
        groupState: "Stable",
        protocolType: "consumer",
        protocolData: "range",
        members: [{
          memberId: "m",
          groupInstanceId: null,
          clientId: "c",
          clientHost: "/h",
          memberMetadata: Uint8Array.from([7]),
          memberAssignment: new Uint8Array(0),
        }],
        authorizedOperations: INT32_MIN,
      }],
    });
    assert.deepEqual(
      [...bytes],
      [
        ...i32(0),
        0x02, // one group
        ...i16(0),
        ...compactString("g"),
        ...compactString("Stable"),
        ...compactString("consumer"),
        ...compactString("range"),
        0x02, // one member
        ...compactString("m"),
        0x00, // group instance id: null
        ...compactString("c"),
        ...compactString("/h"),
        0x02, // metadata: one byte
        7,
        0x01, // assignment: empty
        ...NO_TAGS, // member
        ...i32(INT32_MIN),
        ...NO_TAGS, // group
        ...NO_TAGS, // message
      ],
    );
  });

  await t.step("ListGroups v3 and v4 requests", () => {
    assert.deepEqual(decode(LIST_GROUPS_REQUEST, 3, Uint8Array.from(UNKNOWN_TAG)), {
      statesFilter: [],
      typesFilter: [],
    });
    const v4 = Uint8Array.from([0x02, ...compactString("Stable"), ...NO_TAGS]);
    assert.deepEqual(decode(LIST_GROUPS_REQUEST, 4, v4), {
      statesFilter: ["Stable"],
      typesFilter: [],
    });
    assert.deepEqual(encode(LIST_GROUPS_REQUEST, 4, { statesFilter: ["Stable"] }), v4);
  });

  await t.step("ListGroups v4 response", () => {
    const bytes = encode(LIST_GROUPS_RESPONSE, 4, {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: [{ groupId: "g", protocolType: "consumer", groupState: "Empty" }],
    });
    assert.deepEqual([...bytes], [
      ...i32(0),
      ...i16(0),
      0x02,
      ...compactString("g"),
      ...compactString("consumer"),
      ...compactString("Empty"),
      ...NO_TAGS,
      ...NO_TAGS,
    ]);
  });

  await t.step("DeleteTopics v4 and v6 requests", () => {
    const v4 = Uint8Array.from([
      0x03,
      ...compactString("a"),
      ...compactString("b"),
      ...i32(15000),
      ...NO_TAGS,
    ]);
    assert.deepEqual(decode(DELETE_TOPICS_REQUEST, 4, v4), {
      topics: [],
      topicNames: ["a", "b"],
      timeoutMs: 15000,
    });
    const v6 = Uint8Array.from([
      0x03, // two topics
      ...compactString("a"),
      ...ZERO_UUID,
      ...NO_TAGS,
      0x00, // name: null
      ...TOPIC_ID,
      ...UNKNOWN_TAG,
      ...i32(15000),
      ...NO_TAGS,
    ]);
    assert.deepEqual(decode(DELETE_TOPICS_REQUEST, 6, v6), {
      topics: [{ name: "a", topicId: ZERO_UUID }, { name: null, topicId: TOPIC_ID }],
      topicNames: [],
      timeoutMs: 15000,
    });
  });

  await t.step("DeleteTopics v6 response", () => {
    const bytes = encode(DELETE_TOPICS_RESPONSE, 6, {
      throttleTimeMs: 0,
      responses: [{ name: null, topicId: TOPIC_ID, errorCode: 100, errorMessage: "ids" }],
    });
    assert.deepEqual([...bytes], [
      ...i32(0),
      0x02,
      0x00, // name: null
      ...TOPIC_ID,
      ...i16(100),
      ...compactString("ids"),
      ...NO_TAGS,
      ...NO_TAGS,
    ]);
  });

  await t.step("DeleteGroups v2 request and response", () => {
    const request = Uint8Array.from([0x02, ...compactString("g"), ...UNKNOWN_TAG]);
    assert.deepEqual(decode(DELETE_GROUPS_REQUEST, 2, request), { groupsNames: ["g"] });
    const response = encode(DELETE_GROUPS_RESPONSE, 2, {
      throttleTimeMs: 0,
      results: [{ groupId: "g", errorCode: 69 }],
    });
    assert.deepEqual([...response], [
      ...i32(0),
      0x02,
      ...compactString("g"),
      ...i16(69),
      ...NO_TAGS,
      ...NO_TAGS,
    ]);
  });
});

Deno.test("admin requests match kafkajs request frames byte for byte", async (t) => {
  await checkRequests(
    t,
    DESCRIBE_GROUPS_REQUEST,
    [[0, describeGroupsV0], [1, describeGroupsV1], [2, describeGroupsV2]],
    [
      [
        "two groups",
        () => ({ groupIds: ["orders-group", "other"] }),
        () => ({ groups: ["orders-group", "other"] }),
      ],
      ["no group", () => ({ groupIds: [] }), () => ({ groups: [] })],
    ],
  );
  await checkRequests(
    t,
    LIST_GROUPS_REQUEST,
    [[0, listGroupsV0], [1, listGroupsV1], [2, listGroupsV2]],
    [["empty body", () => undefined, () => ({})]],
  );
  await checkRequests(t, DELETE_TOPICS_REQUEST, [[0, deleteTopicsV0], [1, deleteTopicsV1]], [
    [
      "two topics",
      () => ({ topics: ["orders", "payments"], timeout: 30000 }),
      () => ({ topicNames: ["orders", "payments"], timeoutMs: 30000 }),
    ],
    [
      "kafkajs's default timeout",
      () => ({ topics: ["orders"] }),
      () => ({ topicNames: ["orders"], timeoutMs: 5000 }),
    ],
  ]);
  await checkRequests(t, DELETE_GROUPS_REQUEST, [[0, deleteGroupsV0], [1, deleteGroupsV1]], [
    [
      "two groups",
      () => ["orders-group", "other"],
      () => ({ groupsNames: ["orders-group", "other"] }),
    ],
  ]);
});

Deno.test("admin responses are read back by kafkajs decoders", async (t) => {
  const describeGroups = [
    describeGroupsResponseV0,
    describeGroupsResponseV1,
    describeGroupsResponseV2,
  ];
  for (const [version, module] of describeGroups.entries()) {
    await t.step(`DescribeGroupsResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(DESCRIBE_GROUPS_RESPONSE, version, {
          throttleTimeMs: 9,
          groups: [{
            errorCode: 0,
            groupId: "orders-group",
            groupState: "Stable",
            protocolType: "consumer",
            protocolData: "RoundRobinAssigner",
            members: [{
              memberId: "m-1",
              groupInstanceId: null,
              clientId: "client-1",
              clientHost: "/127.0.0.1",
              memberMetadata: METADATA,
              memberAssignment: ASSIGNMENT,
            }],
            authorizedOperations: INT32_MIN,
          }, {
            errorCode: 0,
            groupId: "unknown",
            groupState: "Dead",
            protocolType: "",
            protocolData: "",
            members: [],
            authorizedOperations: INT32_MIN,
          }],
        }),
      );
      assert.equal(theirs.groups.length, 2);
      const [g, dead] = theirs.groups;
      assert.deepEqual(
        [g.errorCode, g.groupId, g.state, g.protocolType, g.protocol],
        [0, "orders-group", "Stable", "consumer", "RoundRobinAssigner"],
      );
      assert.equal(g.members.length, 1);
      const m = g.members[0];
      assert.deepEqual(
        [m.memberId, m.clientId, m.clientHost],
        ["m-1", "client-1", "/127.0.0.1"],
      );
      assert.deepEqual([...m.memberMetadata], [...METADATA]);
      assert.deepEqual([...m.memberAssignment], [...ASSIGNMENT]);
      assert.deepEqual([dead.groupId, dead.state, dead.members], ["unknown", "Dead", []]);
      if (version >= 1) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
    });
  }

  const listGroups = [listGroupsResponseV0, listGroupsResponseV1, listGroupsResponseV2];
  for (const [version, module] of listGroups.entries()) {
    await t.step(`ListGroupsResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(LIST_GROUPS_RESPONSE, version, {
          throttleTimeMs: 9,
          errorCode: 0,
          groups: [
            { groupId: "orders-group", protocolType: "consumer", groupState: "Stable" },
            { groupId: "simple", protocolType: "", groupState: "Empty" },
          ],
        }),
      );
      assert.equal(theirs.errorCode, 0);
      assert.deepEqual(theirs.groups, [
        { groupId: "orders-group", protocolType: "consumer" },
        { groupId: "simple", protocolType: "" },
      ]);
      if (version >= 1) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 9);
    });
  }

  const deleteTopics = [deleteTopicsResponseV0, deleteTopicsResponseV1];
  for (const [version, module] of deleteTopics.entries()) {
    await t.step(`DeleteTopicsResponse v${version}`, async () => {
      const ok = await kafkajsRead(
        module,
        encode(DELETE_TOPICS_RESPONSE, version, {
          throttleTimeMs: 9,
          responses: [
            { name: "payments", errorCode: 0 },
            { name: "orders", errorCode: 0 },
          ],
        }),
      );
      assert.deepEqual(ok.topicErrors, [
        { topic: "orders", errorCode: 0 },
        { topic: "payments", errorCode: 0 },
      ]);
      if (version >= 1) assert.equal(ok.clientSideThrottleTime, 9);
      const failed = encode(DELETE_TOPICS_RESPONSE, version, {
        throttleTimeMs: 0,
        responses: [{ name: "missing", errorCode: 3 }],
      });
      assert.deepEqual((await kafkajsDecode(module, failed)).topicErrors, [
        { topic: "missing", errorCode: 3 },
      ]);
      await assert.rejects(
        () => kafkajsRead(module, failed),
        (err: Error & { type?: string }) => err.type === "UNKNOWN_TOPIC_OR_PARTITION",
      );
    });
  }

  const deleteGroups = [deleteGroupsResponseV0, deleteGroupsResponseV1];
  for (const [version, module] of deleteGroups.entries()) {
    await t.step(`DeleteGroupsResponse v${version}`, async () => {
      const theirs = await kafkajsRead(
        module,
        encode(DELETE_GROUPS_RESPONSE, version, {
          throttleTimeMs: 9,
          results: [
            { groupId: "gone", errorCode: 0 },
            { groupId: "busy", errorCode: 68 },
            { groupId: "unknown", errorCode: 69 },
          ],
        }),
      );
      assert.equal(theirs.throttleTimeMs, 9);
      assert.deepEqual(
        theirs.results.map((
          r: { groupId: string; errorCode: number; error?: { type: string } },
        ) => [r.groupId, r.errorCode, r.error?.type]),
        [["gone", 0, undefined], ["busy", 68, "NON_EMPTY_GROUP"], [
          "unknown",
          69,
          "GROUP_ID_NOT_FOUND",
        ]],
      );
    });
  }
});
