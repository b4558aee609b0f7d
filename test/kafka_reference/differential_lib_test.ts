/**
 * The differential test's machinery (differential_lib.ts) without a Kafka broker: normalization,
 * the field-by-field differences, the allowlist's verdict (a difference not allowed, an allowed
 * one that no longer occurs, a case that did not run), the frame rewrites.
 */
import assert from "node:assert/strict";
import { decode } from "../../src/kafka_protocol/codec.ts";
import { REQUEST_HEADER } from "../../src/kafka_protocol/messages/request_header.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import { ourRequestFrame } from "../kafka_protocol/kafka_wire_util.ts";
import {
  ABSENT,
  APIS,
  batchesOf,
  type CaseResult,
  differences,
  judge,
  type KnownDifference,
  normalize,
  Peer,
  withApiVersion,
  withUnknownTag,
} from "./differential_lib.ts";

const TOPIC_ID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

Deno.test("normalize: what differs by nature is replaced, unordered arrays keyed and sorted", () => {
  const peer = new Peer("kafka", 9092, "cluster-abc");
  peer.learnTopicId(TOPIC_ID, "orders");
  peer.alias("consumer-1-generated", "first member");
  const tree = normalize(APIS.Metadata, peer, {
    throttleTimeMs: 5,
    brokers: [{ nodeId: 0, host: "127.0.0.1", port: 9092, rack: null }],
    clusterId: "cluster-abc",
    controllerId: 0,
    topics: [
      {
        errorCode: 0,
        name: "zeta",
        topicId: new Uint8Array(16),
        isInternal: false,
        partitions: [],
      },
      {
        errorCode: 0,
        name: "orders",
        topicId: TOPIC_ID,
        isInternal: false,
        partitions: [
          { partitionIndex: 1, replicaNodes: [2, 0], isrNodes: [0], offlineReplicas: [] },
          { partitionIndex: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] },
        ],
      },
    ],
  });
  assert.deepEqual(tree, {
    throttleTimeMs: "<throttle>",
    brokers: { "[0]": { nodeId: 0, host: "127.0.0.1", port: "<port>", rack: null } },
    clusterId: "<cluster id>",
    controllerId: 0,
    topics: {
      "[orders]": {
        errorCode: 0,
        name: "orders",
        topicId: "<id of orders>",
        isInternal: false,
        partitions: {
          "[0]": { partitionIndex: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] },
          "[1]": { partitionIndex: 1, replicaNodes: [0, 2], isrNodes: [0], offlineReplicas: [] },
        },
      },
      "[zeta]": {
        errorCode: 0,
        name: "zeta",
        topicId: "<zero uuid>",
        isInternal: false,
        partitions: {},
      },
    },
  });
  const join = normalize(APIS.JoinGroup, peer, {
    errorCode: 0,
    memberId: "consumer-1-generated",
    leader: "sluice-diff-0f8e1c2a-1b2c-4d5e-8f90-123456789abc",
    members: [],
    errorMessage: "text is not compared",
  });
  assert.deepEqual(join, {
    errorCode: 0,
    memberId: "first member",
    leader: "sluice-diff-<uuid>",
    members: {},
  });
});

Deno.test("normalize: records as batch headers; generated ids", () => {
  const peer = new Peer("sluice", 1, "c");
  const batch = encodeRecordBatch([{ key: null, value: "v", timestamp: 1000 }], {
    timestampMs: 1000,
    baseOffset: 7,
  });
  const [whole, partial] = [
    batchesOf(batch),
    batchesOf(batch.subarray(0, batch.length - 4)),
  ] as const;
  assert.equal((whole as { baseOffset: number }[])[0].baseOffset, 7);
  assert.equal((whole as { partitionLeaderEpoch: number }[])[0].partitionLeaderEpoch, -1);
  assert.deepEqual(partial, [{ partialBatchOfBytes: batch.length, have: batch.length - 4 }]);
  const init = normalize(
    APIS.InitProducerId,
    peer,
    { throttleTimeMs: 0, errorCode: 0, producerId: 4000n, producerEpoch: 0 },
    { generated: ["producerId"] },
  );
  assert.deepEqual(init, {
    throttleTimeMs: "<throttle>",
    errorCode: 0,
    producerId: "<id>",
    producerEpoch: 0,
  });
});

Deno.test("differences: leaves, subtrees one side lacks, null is not absent", () => {
  assert.deepEqual(
    differences(
      { a: 1, b: { c: [1, 2], d: null }, e: "x" },
      { a: 1, b: { c: [1], d: [] }, f: "y" },
    ),
    [
      { path: "b.c[1]", kafka: 2, sluice: ABSENT },
      { path: "b.d", kafka: null, sluice: [] },
      { path: "e", kafka: "x", sluice: ABSENT },
      { path: "f", kafka: ABSENT, sluice: "y" },
    ],
  );
  assert.deepEqual(differences({ t: { "[a]": { x: 1 } } }, { t: { "[a]": { x: 2 } } }), [
    { path: "t[a].x", kafka: 1, sluice: 2 },
  ]);
});

function result(label: string, version: number, diffs: CaseResult["differences"]): CaseResult {
  const outcome = { kind: "response", body: {}, version } as const;
  return {
    api: "Fetch",
    version,
    label,
    id: `Fetch v${version} ${label}`,
    kafka: outcome,
    sluice: outcome,
    differences: diffs,
  };
}

Deno.test("judge: unexpected differences, entries that no longer differ or never ran", () => {
  const results = [
    result("from 0", 4, [{ path: "responses[t].partitions[0].errorCode", kafka: 1, sluice: 0 }]),
    result("from 0", 5, []),
    result("other", 5, [{ path: "sessionId", kafka: "<session id>", sluice: 0 }]),
  ];
  const entry = (e: Partial<KnownDifference>): KnownDifference => ({
    api: "Fetch",
    versions: "4-5",
    case: "from 0",
    path: "responses[*].partitions[*].errorCode",
    doc: "FE9",
    ...e,
  });
  // v5 "from 0" no longer differs; "other" is not allowed.
  assert.deepEqual(judge(results, [entry({})]), {
    unexpected: ['Fetch v5 other: sessionId: kafka "<session id>", sluice 0'],
    stale: [
      'Fetch v4-5 "from 0" responses[*].partitions[*].errorCode (FE9): no longer differs in ' +
      "Fetch v5 from 0",
    ],
  });
  // Values given must match; "*" asks for one case per version; a case that never ran is stale.
  const verdict = judge(results, [
    entry({ versions: "4", kafka: 1, sluice: 3 }),
    entry({ versions: "5", case: "*", path: "sessionId", sluice: 0 }),
    entry({ versions: "4", case: "no such case" }),
  ]);
  assert.deepEqual(verdict.unexpected, [
    "Fetch v4 from 0: responses[t].partitions[0].errorCode: kafka 1 (OFFSET_OUT_OF_RANGE), " +
    "sluice 0 (NONE)",
  ]);
  assert.deepEqual(verdict.stale, [
    'Fetch v4 "from 0" responses[*].partitions[*].errorCode (FE9): no longer differs in ' +
    "Fetch v4 from 0",
    'Fetch v4 "no such case" responses[*].partitions[*].errorCode (FE9): no such case ran',
  ]);
  // `*` stays within one name or one [...]: it does not reach into another level.
  assert.deepEqual(
    judge(results.slice(0, 1), [entry({ versions: "4", path: "responses[*]" })]).unexpected
      .length,
    1,
  );
});

Deno.test("withUnknownTag: the body's tagged section gains tag 999, the frame's size follows", () => {
  const body = { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" };
  const frame = ourRequestFrame(APIS.ApiVersions.request, 3, body, "c", 9);
  const tagged = withUnknownTag(frame);
  assert.equal(tagged.length, frame.length + 6);
  assert.equal(new DataView(tagged.buffer).getInt32(0), tagged.length - 4);
  // header v2: api key, version, correlation id, client id "c" (int16 length), no tags
  const headerBytes = 2 + 2 + 4 + 2 + 1 + 1;
  assert.deepEqual(decode(APIS.ApiVersions.request, 3, tagged.subarray(4 + headerBytes)), body);
  const v127 = withApiVersion(127)(frame);
  assert.equal(decode(REQUEST_HEADER, 2, v127.subarray(4, 4 + headerBytes)).requestApiVersion, 127);
});
