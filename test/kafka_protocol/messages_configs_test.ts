// deno-lint-ignore-file no-explicit-any
/**
 * The DescribeConfigs, DescribeCluster and OffsetDelete tables (describe_configs.ts,
 * describe_cluster.ts, offset_delete.ts): a round trip of every version, DescribeConfigs request
 * frames byte for byte equal to kafkajs's encoders (v0-v2) and its responses read back by kafkajs's
 * decoders, and hand-built bytes for what kafkajs lacks (DescribeConfigs v3-v4, DescribeCluster,
 * OffsetDelete).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import describeConfigsV0 from "kafkajs/src/protocol/requests/describeConfigs/v0/request.js";
import describeConfigsV1 from "kafkajs/src/protocol/requests/describeConfigs/v1/request.js";
import describeConfigsV2 from "kafkajs/src/protocol/requests/describeConfigs/v2/request.js";
import describeConfigsResponseV0 from "kafkajs/src/protocol/requests/describeConfigs/v0/response.js";
import describeConfigsResponseV1 from "kafkajs/src/protocol/requests/describeConfigs/v1/response.js";
import describeConfigsResponseV2 from "kafkajs/src/protocol/requests/describeConfigs/v2/response.js";
import {
  decode,
  encode,
  type MessageSchema,
  normalize,
  type Struct,
} from "../../src/kafka_protocol/codec.ts";
import {
  DESCRIBE_CLUSTER_REQUEST,
  DESCRIBE_CLUSTER_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_cluster.ts";
import {
  DESCRIBE_CONFIGS_REQUEST,
  DESCRIBE_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_configs.ts";
import {
  OFFSET_DELETE_REQUEST,
  OFFSET_DELETE_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_delete.ts";
import { assertRoundTrip, kafkajsFrame, ourRequestFrame, versionsOf } from "./kafka_wire_util.ts";

const INT32_MIN = -2147483648;

const SAMPLES: ReadonlyArray<readonly [MessageSchema, Struct]> = [
  [DESCRIBE_CONFIGS_REQUEST, {
    resources: [
      { resourceType: 2, resourceName: "orders", configurationKeys: ["retention.ms"] },
      { resourceType: 4, resourceName: "0", configurationKeys: null },
    ],
    includeSynonyms: true,
    includeDocumentation: true,
  }],
  [DESCRIBE_CONFIGS_RESPONSE, {
    throttleTimeMs: 5,
    results: [
      {
        errorCode: 0,
        errorMessage: null,
        resourceType: 2,
        resourceName: "orders",
        configs: [
          {
            name: "retention.ms",
            value: "3600000",
            readOnly: true,
            isDefault: true,
            configSource: 1,
            isSensitive: false,
            synonyms: [{ name: "log.retention.ms", value: null, source: 5 }],
            configType: 5,
            documentation: "how long",
          },
          {
            name: "secret",
            value: null,
            readOnly: false,
            isDefault: false,
            configSource: 5,
            isSensitive: true,
            synonyms: [],
            configType: 2,
            documentation: null,
          },
        ],
      },
      {
        errorCode: 3,
        errorMessage: "no such topic",
        resourceType: 2,
        resourceName: "missing",
        configs: [],
      },
    ],
  }],
  [DESCRIBE_CLUSTER_REQUEST, { includeClusterAuthorizedOperations: true, endpointType: 2 }],
  [DESCRIBE_CLUSTER_RESPONSE, {
    throttleTimeMs: 5,
    errorCode: 0,
    errorMessage: "m",
    endpointType: 2,
    clusterId: "cluster-1",
    controllerId: 0,
    brokers: [{ brokerId: 0, host: "localhost", port: 9092, rack: "r1" }],
    clusterAuthorizedOperations: 256,
  }],
  [OFFSET_DELETE_REQUEST, {
    groupId: "g",
    topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }, { partitionIndex: 2 }] }],
  }],
  [OFFSET_DELETE_RESPONSE, {
    errorCode: 0,
    throttleTimeMs: 5,
    topics: [{
      name: "orders",
      partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 2, errorCode: 29 }],
    }],
  }],
];

type KafkajsResponseModule = { decode(raw: Buffer): Promise<any>; parse(data: any): Promise<any> };

const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const compactString = (s: string) => [utf8(s).length + 1, ...utf8(s)];
const string = (s: string) => [...i16(utf8(s).length), ...utf8(s)];
const i16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const i32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const UNKNOWN_TAG = [0x01, 99, 0x03, 0xde, 0xad, 0x00];
const NO_TAGS = [0x00];

Deno.test("config and cluster messages round trip every version", async (t) => {
  for (const [schema, value] of SAMPLES) {
    for (const version of versionsOf(schema)) {
      await t.step(`${schema.name} v${version}`, () => {
        assertRoundTrip(schema, version, value);
      });
    }
  }
});

Deno.test("config and cluster messages: table shapes and defaults", () => {
  const expected: Array<[MessageSchema, number, string, string]> = [
    [DESCRIBE_CONFIGS_REQUEST, 32, "0-4", "4+"],
    [DESCRIBE_CONFIGS_RESPONSE, 32, "0-4", "4+"],
    [OFFSET_DELETE_REQUEST, 47, "0", "none"],
    [OFFSET_DELETE_RESPONSE, 47, "0", "none"],
    [DESCRIBE_CLUSTER_REQUEST, 60, "0-1", "0+"],
    [DESCRIBE_CLUSTER_RESPONSE, 60, "0-1", "0+"],
  ];
  for (const [schema, apiKey, valid, flexible] of expected) {
    assert.deepEqual(
      [schema.apiKey, schema.validVersions, schema.flexibleVersions],
      [apiKey, valid, flexible],
      schema.name,
    );
  }
  const entry = (normalize(DESCRIBE_CONFIGS_RESPONSE, 0, {
    results: [{ resourceName: "t", configs: [{ name: "k" }] }],
  }) as any).results[0].configs[0];
  assert.equal(entry.configSource, -1);
  assert.equal(entry.configType, 0);
  const cluster = normalize(DESCRIBE_CLUSTER_RESPONSE, 0, { clusterId: "c", brokers: [{}] });
  const c = cluster as any;
  assert.deepEqual(
    [c.errorMessage, c.controllerId, c.brokers[0].rack, c.clusterAuthorizedOperations],
    [null, -1, null, INT32_MIN],
  );
  assert.equal(normalize(DESCRIBE_CLUSTER_REQUEST, 1, {}).endpointType, 1);
});

Deno.test("config and cluster messages from hand-built bytes", async (t) => {
  await t.step("DescribeConfigs v4 request", () => {
    const bytes = Uint8Array.from([
      0x03, // two resources
      2,
      ...compactString("orders"),
      0x02, // one key
      ...compactString("retention.ms"),
      ...UNKNOWN_TAG,
      4,
      ...compactString("0"),
      0x00, // keys: null
      ...NO_TAGS,
      0x01, // include synonyms
      0x00, // include documentation
      ...NO_TAGS,
    ]);
    assert.deepEqual(decode(DESCRIBE_CONFIGS_REQUEST, 4, bytes), {
      resources: [
        { resourceType: 2, resourceName: "orders", configurationKeys: ["retention.ms"] },
        { resourceType: 4, resourceName: "0", configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: false,
    });
  });

  await t.step("DescribeConfigs v3 and v4 responses", () => {
    const value = {
      throttleTimeMs: 0,
      results: [{
        errorCode: 0,
        errorMessage: null,
        resourceType: 2,
        resourceName: "t",
        configs: [{
          name: "k",
          value: "v",
          readOnly: true,
          configSource: 5,
          isSensitive: false,
          synonyms: [],
          configType: 3,
          documentation: "d",
        }],
      }],
    };
    assert.deepEqual([...encode(DESCRIBE_CONFIGS_RESPONSE, 4, value)], [
      ...i32(0),
      0x02, // one result
      ...i16(0),
      0x00, // error message: null
      2,
      ...compactString("t"),
      0x02, // one config
      ...compactString("k"),
      ...compactString("v"),
      1, // read only
      5, // source
      0, // sensitive
      0x01, // no synonyms
      3, // type
      ...compactString("d"),
      ...NO_TAGS, // config
      ...NO_TAGS, // result
      ...NO_TAGS, // message
    ]);
    assert.deepEqual([...encode(DESCRIBE_CONFIGS_RESPONSE, 3, value)], [
      ...i32(0),
      ...i32(1),
      ...i16(0),
      ...i16(-1),
      2,
      ...string("t"),
      ...i32(1),
      ...string("k"),
      ...string("v"),
      1,
      5,
      0,
      ...i32(0),
      3,
      ...string("d"),
    ]);
  });

  await t.step("DescribeCluster v0 and v1 requests", () => {
    assert.deepEqual(decode(DESCRIBE_CLUSTER_REQUEST, 0, Uint8Array.from([1, ...UNKNOWN_TAG])), {
      includeClusterAuthorizedOperations: true,
      endpointType: 1, // absent before v1: the default
    });
    assert.deepEqual(decode(DESCRIBE_CLUSTER_REQUEST, 1, Uint8Array.from([0, 2, ...NO_TAGS])), {
      includeClusterAuthorizedOperations: false,
      endpointType: 2,
    });
  });

  await t.step("DescribeCluster v0 and v1 responses", () => {
    const value = {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      endpointType: 1,
      clusterId: "c",
      controllerId: 0,
      brokers: [{ brokerId: 0, host: "h", port: 9092, rack: null }],
      clusterAuthorizedOperations: INT32_MIN,
    };
    const tail = [
      ...compactString("c"),
      ...i32(0),
      0x02,
      ...i32(0),
      ...compactString("h"),
      ...i32(9092),
      0x00, // rack: null
      ...NO_TAGS,
      ...i32(INT32_MIN),
      ...NO_TAGS,
    ];
    assert.deepEqual([...encode(DESCRIBE_CLUSTER_RESPONSE, 0, value)], [
      ...i32(0),
      ...i16(0),
      0x00,
      ...tail,
    ]);
    assert.deepEqual([...encode(DESCRIBE_CLUSTER_RESPONSE, 1, value)], [
      ...i32(0),
      ...i16(0),
      0x00,
      1, // endpoint type
      ...tail,
    ]);
  });

  await t.step("OffsetDelete v0 request and response", () => {
    const request = Uint8Array.from([
      ...string("g"),
      ...i32(1),
      ...string("t"),
      ...i32(2),
      ...i32(0),
      ...i32(3),
    ]);
    assert.deepEqual(decode(OFFSET_DELETE_REQUEST, 0, request), {
      groupId: "g",
      topics: [{ name: "t", partitions: [{ partitionIndex: 0 }, { partitionIndex: 3 }] }],
    });
    const response = encode(OFFSET_DELETE_RESPONSE, 0, {
      errorCode: 69,
      throttleTimeMs: 0,
      topics: [{ name: "t", partitions: [{ partitionIndex: 1, errorCode: 3 }] }],
    });
    assert.deepEqual([...response], [
      ...i16(69),
      ...i32(0),
      ...i32(1),
      ...string("t"),
      ...i32(1),
      ...i32(1),
      ...i16(3),
    ]);
  });
});

Deno.test("DescribeConfigs requests match kafkajs request frames byte for byte", async (t) => {
  const factories = [[0, describeConfigsV0], [1, describeConfigsV1], [
    2,
    describeConfigsV2,
  ]] as const;
  for (const [version, factory] of factories) {
    await t.step(`v${version}`, async () => {
      // kafkajs sends null for "every key" (an empty configNames list too).
      const theirs = await kafkajsFrame(
        (factory as any)({
          resources: [
            { type: 2, name: "orders", configNames: ["retention.ms", "segment.bytes"] },
            { type: 4, name: "0" },
          ],
          includeSynonyms: true,
        }),
      );
      const ours = ourRequestFrame(DESCRIBE_CONFIGS_REQUEST, version, {
        resources: [
          {
            resourceType: 2,
            resourceName: "orders",
            configurationKeys: ["retention.ms", "segment.bytes"],
          },
          { resourceType: 4, resourceName: "0", configurationKeys: null },
        ],
        includeSynonyms: true,
      });
      assert.deepEqual(ours, theirs);
    });
  }
});

Deno.test("DescribeConfigs responses are read back by kafkajs decoders", async (t) => {
  const modules = [describeConfigsResponseV0, describeConfigsResponseV1, describeConfigsResponseV2];
  for (const [version, module] of modules.entries()) {
    await t.step(`v${version}`, async () => {
      const m = module as unknown as KafkajsResponseModule;
      const bytes = encode(DESCRIBE_CONFIGS_RESPONSE, version, {
        throttleTimeMs: 0,
        results: [{
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: "orders",
          configs: [
            {
              name: "retention.ms",
              value: "3600000",
              readOnly: true,
              isDefault: false,
              configSource: 1,
              isSensitive: false,
              synonyms: [],
            },
            {
              name: "segment.bytes",
              value: "1073741824",
              readOnly: true,
              isDefault: true,
              configSource: 5,
              isSensitive: false,
              synonyms: [],
            },
          ],
        }],
      });
      const theirs = await m.parse(await m.decode(Buffer.from(bytes)));
      assert.equal(theirs.resources.length, 1);
      const r = theirs.resources[0];
      assert.deepEqual([r.errorCode, r.resourceType, r.resourceName], [0, 2, "orders"]);
      assert.deepEqual(
        r.configEntries.map((
          e: { configName: string; configValue: string; isDefault: boolean },
        ) => [
          e.configName,
          e.configValue,
          e.isDefault,
        ]),
        [["retention.ms", "3600000", false], ["segment.bytes", "1073741824", true]],
      );
    });
  }
});
