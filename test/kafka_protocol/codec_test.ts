import assert from "node:assert/strict";
import apiVersionsV0 from "kafkajs/src/protocol/requests/apiVersions/v0/request.js";
import apiVersionsV1 from "kafkajs/src/protocol/requests/apiVersions/v1/request.js";
import apiVersionsV2 from "kafkajs/src/protocol/requests/apiVersions/v2/request.js";
import metadataV0 from "kafkajs/src/protocol/requests/metadata/v0/request.js";
import metadataV1 from "kafkajs/src/protocol/requests/metadata/v1/request.js";
import metadataV2 from "kafkajs/src/protocol/requests/metadata/v2/request.js";
import metadataV3 from "kafkajs/src/protocol/requests/metadata/v3/request.js";
import metadataV4 from "kafkajs/src/protocol/requests/metadata/v4/request.js";
import metadataV5 from "kafkajs/src/protocol/requests/metadata/v5/request.js";
import metadataV6 from "kafkajs/src/protocol/requests/metadata/v6/request.js";
import apiVersionsResponseV0 from "kafkajs/src/protocol/requests/apiVersions/v0/response.js";
import apiVersionsResponseV1 from "kafkajs/src/protocol/requests/apiVersions/v1/response.js";
import apiVersionsResponseV2 from "kafkajs/src/protocol/requests/apiVersions/v2/response.js";
import metadataResponseV0 from "kafkajs/src/protocol/requests/metadata/v0/response.js";
import metadataResponseV1 from "kafkajs/src/protocol/requests/metadata/v1/response.js";
import metadataResponseV2 from "kafkajs/src/protocol/requests/metadata/v2/response.js";
import metadataResponseV3 from "kafkajs/src/protocol/requests/metadata/v3/response.js";
import metadataResponseV4 from "kafkajs/src/protocol/requests/metadata/v4/response.js";
import metadataResponseV5 from "kafkajs/src/protocol/requests/metadata/v5/response.js";
import metadataResponseV6 from "kafkajs/src/protocol/requests/metadata/v6/response.js";
import { Buffer } from "node:buffer";
import {
  decode,
  decodePrefix,
  encode,
  KafkaCodecError,
  type MessageSchema,
  normalize,
  type Struct,
} from "../../src/kafka_protocol/codec.ts";
import {
  API_VERSIONS_REQUEST,
  API_VERSIONS_RESPONSE,
} from "../../src/kafka_protocol/messages/api_versions.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  RESPONSE_HEADER,
  responseHeaderVersion,
} from "../../src/kafka_protocol/messages/request_header.ts";
import { kafkajsFrame, ourRequestFrame, versionsOf } from "./kafka_wire_util.ts";

const UUID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

/** One value per message with every field set away from its default, so each version differs. */
const SAMPLES: ReadonlyArray<readonly [MessageSchema, Struct]> = [
  [REQUEST_HEADER, {
    requestApiKey: 3,
    requestApiVersion: 9,
    correlationId: 42,
    clientId: "sluice-client",
  }],
  [RESPONSE_HEADER, { correlationId: -7 }],
  [API_VERSIONS_REQUEST, { clientSoftwareName: "sluice", clientSoftwareVersion: "0.1.0" }],
  [API_VERSIONS_RESPONSE, {
    errorCode: 35,
    apiKeys: [
      { apiKey: 3, minVersion: 0, maxVersion: 11 },
      { apiKey: 18, minVersion: 0, maxVersion: 4 },
    ],
    throttleTimeMs: 250,
    supportedFeatures: [{ name: "metadata.version", minVersion: 1, maxVersion: 20 }],
    finalizedFeaturesEpoch: 9n,
    finalizedFeatures: [{ name: "metadata.version", maxVersionLevel: 20, minVersionLevel: 1 }],
    zkMigrationReady: true,
  }],
  [METADATA_REQUEST, {
    topics: [{ topicId: UUID, name: "orders" }, { topicId: UUID, name: "événements" }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: true,
    includeTopicAuthorizedOperations: true,
  }],
  [METADATA_RESPONSE, {
    throttleTimeMs: 12,
    brokers: [
      { nodeId: 1, host: "b1.local", port: 9092, rack: "r1" },
      { nodeId: 2, host: "b2.local", port: 9093, rack: null },
    ],
    clusterId: "sluice-cluster",
    controllerId: 1,
    topics: [{
      errorCode: 0,
      name: "orders",
      topicId: UUID,
      isInternal: true,
      partitions: [{
        errorCode: 0,
        partitionIndex: 0,
        leaderId: 1,
        leaderEpoch: 5,
        replicaNodes: [1, 2],
        isrNodes: [1],
        offlineReplicas: [2],
      }],
      topicAuthorizedOperations: 0x0ff8,
    }],
    clusterAuthorizedOperations: 0x0ff8,
  }],
];

// deno-lint-ignore no-explicit-any
type KafkajsRequestFactory = (args: any) => unknown;

function assertCodecError(fn: () => unknown, reason?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KafkaCodecError, `expected KafkaCodecError, got ${err}`);
    if (reason !== undefined) assert.equal(err.reason, reason);
    return true;
  });
}

Deno.test("kafka codec round trips every version of every message", async (t) => {
  for (const [schema, value] of SAMPLES) {
    for (const version of versionsOf(schema)) {
      await t.step(`${schema.name} v${version}`, () => {
        const bytes = encode(schema, version, value);
        const decoded = decode(schema, version, bytes);
        assert.deepEqual(decoded, normalize(schema, version, value));
        assert.deepEqual(encode(schema, version, decoded), bytes);
      });
    }
  }
});

Deno.test("kafka codec matches kafkajs request frames byte for byte", async (t) => {
  const apiVersions: Array<[number, KafkajsRequestFactory]> = [
    [0, apiVersionsV0],
    [1, apiVersionsV1],
    [2, apiVersionsV2],
  ];
  for (const [version, factory] of apiVersions) {
    await t.step(`ApiVersionsRequest v${version}`, async () => {
      const theirs = await kafkajsFrame(factory({}), "kafkajs-peer");
      assert.deepEqual(ourRequestFrame(API_VERSIONS_REQUEST, version, {}, "kafkajs-peer"), theirs);
    });
  }

  const metadata: Array<[number, KafkajsRequestFactory]> = [
    [0, metadataV0],
    [1, metadataV1],
    [2, metadataV2],
    [3, metadataV3],
    [4, metadataV4],
    [5, metadataV5],
    [6, metadataV6],
  ];
  for (const [version, factory] of metadata) {
    await t.step(`MetadataRequest v${version} with topics`, async () => {
      const theirs = await kafkajsFrame(
        factory({ topics: ["orders", "payments"], allowAutoTopicCreation: false }),
        "c",
      );
      const ours = ourRequestFrame(METADATA_REQUEST, version, {
        topics: [{ name: "orders" }, { name: "payments" }],
        allowAutoTopicCreation: false,
      }, "c");
      assert.deepEqual(ours, theirs);
    });
    await t.step(`MetadataRequest v${version} for all topics`, async () => {
      const theirs = await kafkajsFrame(factory({ topics: [] }), "c");
      // kafkajs asks for "all topics" as an empty array in v0 and as null from v1.
      const topics = version === 0 ? [] : null;
      const ours = ourRequestFrame(METADATA_REQUEST, version, { topics }, "c");
      assert.deepEqual(ours, theirs);
      const { value, position } = decodePrefix(REQUEST_HEADER, 1, theirs, 4);
      assert.equal(value.requestApiVersion, version);
      assert.equal(value.clientId, "c");
      assert.deepEqual(
        decodePrefix(METADATA_REQUEST, version, theirs, position).value.topics,
        topics,
      );
    });
  }
});

Deno.test("kafka codec responses are read back by kafkajs decoders", async (t) => {
  // deno-lint-ignore no-explicit-any
  const kafkajsDecode = (module: any, bytes: Uint8Array) => module.decode(Buffer.from(bytes));
  const apiVersions = [apiVersionsResponseV0, apiVersionsResponseV1, apiVersionsResponseV2];
  for (const [version, module] of apiVersions.entries()) {
    await t.step(`ApiVersionsResponse v${version}`, async () => {
      const bytes = encode(API_VERSIONS_RESPONSE, version, {
        errorCode: 0,
        apiKeys: [{ apiKey: 3, minVersion: 0, maxVersion: 11 }],
        throttleTimeMs: 250,
      });
      const theirs = await kafkajsDecode(module, bytes);
      assert.equal(theirs.errorCode, 0);
      assert.deepEqual(theirs.apiVersions, [{ apiKey: 3, minVersion: 0, maxVersion: 11 }]);
      // From v2 kafkajs moves the broker's throttle time to clientSideThrottleTime.
      if (version >= 1) assert.equal(theirs.clientSideThrottleTime ?? theirs.throttleTime, 250);
    });
  }
  const metadata = [
    metadataResponseV0,
    metadataResponseV1,
    metadataResponseV2,
    metadataResponseV3,
    metadataResponseV4,
    metadataResponseV5,
    metadataResponseV6,
  ];
  const sample = SAMPLES.find(([schema]) => schema === METADATA_RESPONSE)![1];
  for (const [version, module] of metadata.entries()) {
    await t.step(`MetadataResponse v${version}`, async () => {
      const theirs = await kafkajsDecode(module, encode(METADATA_RESPONSE, version, sample));
      assert.deepEqual(
        theirs.brokers.map((b: { host: string; port: number }) => [b.host, b.port]),
        [["b1.local", 9092], ["b2.local", 9093]],
      );
      assert.equal(theirs.topicMetadata[0].topic, "orders");
      const partition = theirs.topicMetadata[0].partitionMetadata[0];
      assert.deepEqual([partition.leader, partition.replicas, partition.isr], [1, [1, 2], [1]]);
      if (version >= 1) assert.equal(theirs.controllerId, 1);
      if (version >= 2) assert.equal(theirs.clusterId, "sluice-cluster");
      if (version >= 5) assert.deepEqual(partition.offlineReplicas, [2]);
    });
  }
});

Deno.test("kafka codec decodes hand-built flexible ApiVersions v3 frames", async (t) => {
  await t.step("request: header v2 keeps a classic client id, body uses compact strings", () => {
    assert.equal(requestHeaderVersion(API_VERSIONS_REQUEST, 3), 2);
    const frame = Uint8Array.from([
      ...[0x00, 0x12, 0x00, 0x03], // api key 18, api version 3
      ...[0x00, 0x00, 0x00, 0x2a], // correlation id 42
      ...[0x00, 0x02, 0x6b, 0x6a], // client id "kj": int16 length, not compact
      0x00, // header tagged fields: none
      0x07,
      ...new TextEncoder().encode("sluice"), // compact string: uvarint(6 + 1)
      0x04,
      ...new TextEncoder().encode("1.0"), // compact string: uvarint(3 + 1)
      0x01,
      0x05,
      0x01,
      0xff, // body tagged fields: one unknown tag 5 of 1 byte, skipped
    ]);
    const header = decodePrefix(REQUEST_HEADER, 2, frame);
    assert.deepEqual(header.value, {
      requestApiKey: 18,
      requestApiVersion: 3,
      correlationId: 42,
      clientId: "kj",
    });
    const body = decode(API_VERSIONS_REQUEST, 3, frame.subarray(header.position));
    assert.deepEqual(body, { clientSoftwareName: "sluice", clientSoftwareVersion: "1.0" });
  });

  await t.step("response: header stays v0, tagged fields 1 and 3 decoded, others default", () => {
    assert.equal(responseHeaderVersion(API_VERSIONS_RESPONSE, 3), 0);
    const body = Uint8Array.from([
      0x00,
      0x00, // error code 0
      0x02, // compact array of 1 api key
      ...[0x00, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00], // key 18, 0..4, no tagged fields
      ...[0x00, 0x00, 0x00, 0x00], // throttle time 0 ms
      0x02, // two tagged fields, ascending tags
      ...[0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x07], // tag 1: finalized features epoch 7
      ...[0x03, 0x01, 0x01], // tag 3: zk migration ready
    ]);
    const value = decode(API_VERSIONS_RESPONSE, 3, body);
    assert.deepEqual(value, {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: 7n,
      finalizedFeatures: [],
      zkMigrationReady: true,
    });
    assert.deepEqual(encode(API_VERSIONS_RESPONSE, 3, value), body);
  });
});

Deno.test("kafka codec rejects truncated and garbage input with KafkaCodecError", async (t) => {
  await t.step("every strict prefix of every sample throws", () => {
    for (const [schema, value] of SAMPLES) {
      for (const version of versionsOf(schema)) {
        const bytes = encode(schema, version, value);
        for (let n = 0; n < bytes.length; n++) {
          assertCodecError(() => decode(schema, version, bytes.subarray(0, n)));
        }
      }
    }
  });

  await t.step("specific malformations name their reason", () => {
    assertCodecError(() => decode(RESPONSE_HEADER, 0, new Uint8Array(5)), "TRAILING_BYTES");
    assertCodecError(
      () => decode(API_VERSIONS_REQUEST, 9, new Uint8Array(0)),
      "UNSUPPORTED_VERSION",
    );
    // A negative string length other than -1.
    assertCodecError(
      () => decode(REQUEST_HEADER, 1, Uint8Array.from([0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfb])),
      "INVALID_LENGTH",
    );
    // Null topic list in v0, where it is not nullable.
    assertCodecError(
      () => decode(METADATA_REQUEST, 0, Uint8Array.from([0xff, 0xff, 0xff, 0xff])),
      "NOT_NULLABLE",
    );
    // An array claiming two billion elements in four bytes.
    assertCodecError(
      () => decode(METADATA_REQUEST, 1, Uint8Array.from([0x7f, 0xff, 0xff, 0xff])),
      "TOO_MANY_ELEMENTS",
    );
    // Invalid UTF-8 in a compact string.
    assertCodecError(
      () => decode(API_VERSIONS_REQUEST, 3, Uint8Array.from([0x02, 0xc3, 0x01, 0x00])),
      "INVALID_UTF8",
    );
    // A varint that never ends.
    assertCodecError(
      () => decode(API_VERSIONS_REQUEST, 3, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
      "INVALID_VARINT",
    );
    // A tagged field whose size runs past the end.
    assertCodecError(
      () => decode(API_VERSIONS_REQUEST, 3, Uint8Array.from([0x01, 0x01, 0x01, 0x00, 0x09, 0x01])),
      "TRUNCATED",
    );
  });

  await t.step("random bytes either decode or throw KafkaCodecError, never anything else", () => {
    let seed = 0x5eed;
    const nextByte = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 1 + (i % 64) }, nextByte);
      for (const [schema] of SAMPLES) {
        for (const version of versionsOf(schema)) {
          try {
            decode(schema, version, bytes);
          } catch (err) {
            assert.ok(err instanceof KafkaCodecError, `${schema.name} v${version}: ${err}`);
          }
        }
      }
    }
  });
});
