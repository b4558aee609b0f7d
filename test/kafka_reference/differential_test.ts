/**
 * Sluice's Kafka answers compared with Apache Kafka 4.4's, request by request (see
 * differential_lib.ts for the machinery and docs/kafka_differences.md for what differs and why).
 *
 * One real Kafka broker (kafka_server.ts; node.id 0 like Sluice's single node) and one Sluice
 * listener get the same request frames, built once by our tables, after the same preparation
 * through the protocol (the same topics with the same partition counts, the same record batches
 * produced, the same groups joined). Every API and version Sluice serves runs at least once (the
 * test fails if one did not: no case is skipped silently), with the edge cases real clients send.
 * Both answers are decoded by our tables, normalized (differential_lib.ts's `normalize`) and
 * compared field by field; every difference must be listed in KNOWN_DIFFERENCES below with its row
 * of docs/kafka_differences.md, and every listed difference must still occur, so the list only
 * shrinks as Sluice's bugs are fixed.
 *
 * Requests that carry an id one side generated (a classic group's member id, a consumer member's
 * epoch, a producer id, a topic id) are built per side from one template, the same but for those
 * ids.
 *
 * About 1040 cases; 15-35 s on 2 loaded cores, Kafka's start (5-12 s) included.
 * DIFF_REPORT=1 prints every case's differences (allowed or not) after the run; DIFF_REPORT=FILE
 * writes every case with both decoded answers as JSON. Skipped loudly when Kafka is not installed (scripts/install-kafka.sh); a failure under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { encode, type Struct } from "../../src/kafka_protocol/codec.ts";
import { startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  CONSUMER_PROTOCOL_ASSIGNMENT,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
} from "../../src/kafka_protocol/messages/consumer_protocol.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";
import { concat } from "../kafka_protocol/kafka_wire_util.ts";
import {
  ABSENT,
  type ApiName,
  apiNameOf,
  APIS,
  type CaseSpec,
  Differ,
  type Exchanged,
  judge,
  type KnownDifference,
  Peer,
  type Plain,
  showDifference,
  withApiVersion,
  withUnknownTag,
} from "./differential_lib.ts";
import {
  announceKafkaSkip,
  kafkaAvailable,
  type RunningKafka,
  startKafka,
} from "./kafka_server.ts";
import type { CaseContext } from "./case_context.ts";
import { FETCH_SESSION_CASES_WITH_PARTITIONS, fetchSessionCases } from "./cases/fetch_sessions.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

// ---------------------------------------------------------------------------------------------
// The differences found, each explained by a row of docs/kafka_differences.md (its id in `doc`).
// An entry names the API, the versions, the case (its label; "*" for any case of a version) and
// the field path (`*` matching within one name or `[...]`), and often the two normalized values.
// Every (version, case) an entry names must still differ there: fixing a bug fails the test until
// its entries and docs row go.

/** Entries for each case and path of one docs row. */
function known(
  doc: string,
  api: ApiName,
  versions: string,
  cases: string | readonly string[],
  paths: string | readonly string[],
  values: { kafka?: Plain; sluice?: Plain } = {},
): KnownDifference[] {
  return [cases].flat().flatMap((c) =>
    [paths].flat().map((path) => ({ api, versions, case: c, path, doc, ...values }))
  );
}

/** The version ranges Sluice serves that are not Kafka 4.4's: [api key, field, Sluice's value]. */
const SERVED_RANGES: readonly [number, "minVersion" | "maxVersion", number][] = [
  [0, "minVersion", 3], // Produce
  [0, "maxVersion", 9],
  [1, "maxVersion", 12], // Fetch
  [3, "maxVersion", 11], // Metadata
  [8, "maxVersion", 9], // OffsetCommit
  [9, "maxVersion", 9], // OffsetFetch
  [10, "maxVersion", 4], // FindCoordinator
  [11, "maxVersion", 7], // JoinGroup
  [13, "maxVersion", 4], // LeaveGroup
  [15, "maxVersion", 5], // DescribeGroups
  [18, "maxVersion", 3], // ApiVersions
  [19, "minVersion", 0], // CreateTopics
  [20, "minVersion", 0], // DeleteTopics
  [22, "maxVersion", 4], // InitProducerId
  [32, "minVersion", 0], // DescribeConfigs
  [42, "maxVersion", 2], // DeleteGroups
  [60, "maxVersion", 1], // DescribeCluster
];

const FETCHES_WITH_RECORDS = [
  "three partitions from 0",
  "inside a batch",
  "partition max bytes under one batch",
  "max bytes under one batch",
  "read_committed",
];
const FETCH_ERRORS = ["past the high watermark", "negative offset"];
const TOPIC_CONFIG_CASES = [
  "topic, every config",
  "topic, named configs",
  "topic created with a config",
  "topic and broker",
  "synonyms",
];
const CREATED = [
  "new topic",
  "validate only",
  "with a config",
  "default partitions and replication",
];

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  // ApiVersions
  ...known("AV1", "ApiVersions", "0-3", "*", "apiKeys[*]", { sluice: ABSENT }),
  ...SERVED_RANGES.flatMap(([key, field, sluice]) =>
    known("AV2", "ApiVersions", "0-3", "*", `apiKeys[${key}].${field}`, { sluice })
  ),
  ...known("AV3", "ApiVersions", "3", "*", ["supportedFeatures[*]", "finalizedFeatures[*]"], {
    sluice: ABSENT,
  }),
  ...known("AV3", "ApiVersions", "3", "*", "finalizedFeaturesEpoch", { sluice: -1 }),
  ...known("AV4", "ApiVersions", "3", "invalid client software name", "errorCode", {
    kafka: 42,
    sluice: 0,
  }),
  ...known("AV4", "ApiVersions", "3", "invalid client software name", "apiKeys[*]", {
    kafka: ABSENT,
  }),
  ...known("AV5", "ApiVersions", "3", "version 127", "apiKeys[*]", { kafka: ABSENT }),

  // Metadata
  ...known("MD1", "Metadata", "0-11", "unknown topic, auto-created", "topics[auto-v*].errorCode", {
    kafka: 3,
    sluice: 0,
  }),
  ...known(
    "MD1",
    "Metadata",
    "0-11",
    "unknown topic, auto-created",
    "topics[auto-v*].partitions[0]",
    {
      kafka: ABSENT,
    },
  ),
  ...known("MD1", "Metadata", "10-11", "unknown topic, auto-created", "topics[auto-v*].topicId", {
    kafka: "<zero uuid>",
  }),
  ...known(
    "MD2",
    "Metadata",
    "8-11",
    "authorized operations",
    "topics[*].topicAuthorizedOperations",
    {
      sluice: -2147483648,
    },
  ),
  ...known("MD2", "Metadata", "8-10", "authorized operations", "clusterAuthorizedOperations", {
    sluice: -2147483648,
  }),
  ...known("MD3", "Metadata", "4-11", "internal topic", "topics[__consumer_offsets].errorCode", {
    kafka: 0,
    sluice: 3,
  }),
  ...known("MD3", "Metadata", "4-11", "internal topic", "topics[__consumer_offsets].isInternal", {
    kafka: true,
    sluice: false,
  }),
  ...known(
    "MD3",
    "Metadata",
    "4-11",
    "internal topic",
    "topics[__consumer_offsets].partitions[0]",
    {
      sluice: ABSENT,
    },
  ),
  ...known("MD3", "Metadata", "10-11", "internal topic", "topics[__consumer_offsets].topicId", {
    sluice: "<zero uuid>",
  }),

  // Produce
  ...known(
    "PR1",
    "Produce",
    "3-9",
    "unknown topic",
    "responses[*].partitionResponses[0].errorCode",
    {
      kafka: 3,
      sluice: 0,
    },
  ),
  ...known(
    "PR1",
    "Produce",
    "3-9",
    "unknown topic",
    "responses[*].partitionResponses[0].baseOffset",
    {
      kafka: -1,
      sluice: 0,
    },
  ),
  ...known(
    "PR1",
    "Produce",
    "5-9",
    "unknown topic",
    "responses[*].partitionResponses[0].logStartOffset",
    {
      kafka: -1,
      sluice: 0,
    },
  ),
  ...known(
    "PR2",
    "Produce",
    "3-9",
    "two batches for one partition",
    "responses[diff-batches].partitionResponses[0].errorCode",
    {
      kafka: 87,
      sluice: 0,
    },
  ),
  ...known(
    "PR2",
    "Produce",
    "3-9",
    "two batches for one partition",
    "responses[diff-batches].partitionResponses[0].baseOffset",
    {
      kafka: -1,
    },
  ),
  ...known(
    "PR2",
    "Produce",
    "5-9",
    "two batches for one partition",
    "responses[diff-batches].partitionResponses[0].logStartOffset",
    {
      kafka: -1,
      sluice: 0,
    },
  ),
  ...known(
    "PR3",
    "Produce",
    "3-9",
    "idempotent, the same batch again",
    "responses[diff-b].partitionResponses[0].logAppendTimeMs",
    {
      sluice: -1,
    },
  ),

  // Fetch
  ...known(
    "FE2",
    "Fetch",
    "4-12",
    [
      ...FETCHES_WITH_RECORDS.filter((c) => c !== "read_committed"),
      ...FETCH_ERRORS,
      "at the high watermark",
      "empty partition",
    ],
    "responses[*].partitions[*].abortedTransactions",
    { kafka: null, sluice: [] },
  ),
  ...known(
    "FE2",
    "Fetch",
    "7-12",
    "new fetch session",
    "responses[*].partitions[*].abortedTransactions",
    {
      kafka: null,
      sluice: [],
    },
  ),
  ...known(
    "FE2",
    "Fetch",
    "9-12",
    "leader epoch from the future",
    "responses[*].partitions[*].abortedTransactions",
    {
      kafka: null,
      sluice: [],
    },
  ),
  ...known(
    "FE2",
    "Fetch",
    "12",
    "unknown tagged field",
    "responses[*].partitions[*].abortedTransactions",
    {
      kafka: null,
      sluice: [],
    },
  ),
  ...known("FE3", "Fetch", "4-12", FETCH_ERRORS, [
    "responses[diff-a].partitions[0].highWatermark",
    "responses[diff-a].partitions[0].lastStableOffset",
  ], { kafka: -1 }),
  ...known("FE3", "Fetch", "5-12", FETCH_ERRORS, "responses[diff-a].partitions[0].logStartOffset", {
    kafka: -1,
    sluice: 0,
  }),
  ...known("FE3", "Fetch", "9-12", "leader epoch from the future", [
    "responses[diff-a].partitions[0].highWatermark",
    "responses[diff-a].partitions[0].lastStableOffset",
    "responses[diff-a].partitions[0].logStartOffset",
  ], { kafka: -1 }),
  ...known(
    "FE2",
    "Fetch",
    "7-12",
    FETCH_SESSION_CASES_WITH_PARTITIONS,
    "responses[*].partitions[*].abortedTransactions",
    { kafka: null, sluice: [] },
  ),
  ...known(
    "FE5",
    "Fetch",
    "9-12",
    "leader epoch from the future",
    "responses[diff-a].partitions[0].errorCode",
    {
      kafka: 75,
      sluice: 0,
    },
  ),
  ...known(
    "FE5",
    "Fetch",
    "9-12",
    "leader epoch from the future",
    "responses[diff-a].partitions[0].records[*]",
    {
      kafka: ABSENT,
    },
  ),
  ...known(
    "FE5",
    "ListOffsets",
    "4-11",
    "leader epoch from the future",
    "topics[diff-a].partitions[0].errorCode",
    {
      kafka: 75,
      sluice: 0,
    },
  ),
  ...known(
    "FE5",
    "ListOffsets",
    "4-11",
    "leader epoch from the future",
    "topics[diff-a].partitions[0].offset",
    {
      kafka: -1,
    },
  ),
  ...known(
    "FE5",
    "ListOffsets",
    "4-11",
    "leader epoch from the future",
    "topics[diff-a].partitions[0].leaderEpoch",
    {
      kafka: -1,
      sluice: 0,
    },
  ),

  // FindCoordinator
  ...known("FC1", "FindCoordinator", "1-3", "transaction", "errorCode", { kafka: 0, sluice: 15 }),
  ...known("FC1", "FindCoordinator", "1-3", "transaction", ["nodeId", "host", "port"]),
  ...known(
    "FC1",
    "FindCoordinator",
    "4",
    "transaction",
    "coordinators[diff-transaction].errorCode",
    {
      kafka: 0,
      sluice: 15,
    },
  ),
  ...known("FC1", "FindCoordinator", "4", "transaction", [
    "coordinators[diff-transaction].nodeId",
    "coordinators[diff-transaction].host",
    "coordinators[diff-transaction].port",
  ]),

  // Groups
  ...known(
    "GR1",
    "OffsetCommit",
    "2-9",
    "empty group id",
    "topics[diff-a].partitions[0].errorCode",
    {
      kafka: 0,
      sluice: 24,
    },
  ),
  ...known("GR1", "ListGroups", "0-5", "all groups", "groups[]", { sluice: ABSENT }),
  ...known("GR1", "ListGroups", "4-5", "empty groups", "groups[]", { sluice: ABSENT }),
  ...known("GR1", "ListGroups", "5", "classic groups", "groups[]", { sluice: ABSENT }),
  ...known("GR1", "DeleteGroups", "0", "empty group id", "results[].errorCode", {
    kafka: 0,
    sluice: 69,
  }),
  ...known(
    "GR2",
    "DescribeGroups",
    "0-5",
    ["stable group", "two members"],
    "groups[*].members[*].clientHost",
    {
      kafka: "/127.0.0.1",
      sluice: "127.0.0.1",
    },
  ),
  ...known(
    "GR2",
    "DescribeGroups",
    "3-5",
    "authorized operations",
    "groups[*].members[*].clientHost",
    {
      kafka: "/127.0.0.1",
      sluice: "127.0.0.1",
    },
  ),
  ...known(
    "GR2",
    "ConsumerGroupDescribe",
    "0-1",
    ["consumer groups", "authorized operations"],
    "groups[*].members[*].clientHost",
    {
      kafka: "/127.0.0.1",
      sluice: "127.0.0.1",
    },
  ),
  ...known(
    "GR3",
    "DescribeGroups",
    "3-5",
    "authorized operations",
    "groups[*].authorizedOperations",
    {
      kafka: 3400,
      sluice: 328,
    },
  ),
  ...known(
    "GR3",
    "ConsumerGroupDescribe",
    "0-1",
    "authorized operations",
    "groups[*].authorizedOperations",
    {
      kafka: 3400,
      sluice: 328,
    },
  ),
  ...known(
    "GR3",
    "DescribeCluster",
    "0-1",
    "authorized operations",
    "clusterAuthorizedOperations",
    {
      kafka: 8096,
      sluice: 5376,
    },
  ),
  ...known("GR4", "DescribeGroups", "0-5", "consumer protocol group", "groups[*].groupState", {
    kafka: "Dead",
    sluice: "Stable",
  }),
  ...known("GR4", "DescribeGroups", "0-5", "consumer protocol group", [
    "groups[*].protocolType",
    "groups[*].protocolData",
  ], { kafka: "" }),
  ...known("GR4", "DescribeGroups", "0-5", "consumer protocol group", "groups[*].members[*]", {
    kafka: ABSENT,
  }),
  ...known("GR5", "JoinGroup", "0-3", "session timeout under the minimum", "errorCode", {
    kafka: 26,
    sluice: 0,
  }),
  ...known("GR5", "JoinGroup", "4-7", "session timeout under the minimum", "errorCode", {
    kafka: 26,
    sluice: 79,
  }),
  ...known("GR5", "JoinGroup", "0-7", "session timeout under the minimum", "memberId", {
    kafka: "",
  }),
  ...known("GR5", "JoinGroup", "0-3", "session timeout under the minimum", [
    "generationId",
    "protocolName",
    "leader",
    "members[*]",
  ]),
  ...known("GR6", "JoinGroup", "7", "classic member joins a consumer group", "errorCode", {
    kafka: 79,
    sluice: 23,
  }),
  ...known("GR6", "JoinGroup", "7", "classic member joins a consumer group", "memberId", {
    sluice: "",
  }),
  ...known(
    "GR6",
    "ConsumerGroupHeartbeat",
    "1",
    "consumer member joins a classic group",
    "errorCode",
    {
      kafka: 0,
      sluice: 69,
    },
  ),
  ...known("GR6", "ConsumerGroupHeartbeat", "1", "consumer member joins a classic group", [
    "memberId",
    "memberEpoch",
    "heartbeatIntervalMs",
    "assignment",
  ]),
  ...known(
    "GR7",
    "ConsumerGroupHeartbeat",
    "0-1",
    [
      "join",
      "heartbeat owning its assignment",
      "unknown tagged field",
    ],
    "memberEpoch",
    { kafka: 2, sluice: 1 },
  ),
  ...known("GR7", "ConsumerGroupDescribe", "0-1", ["consumer groups", "authorized operations"], [
    "groups[*].groupEpoch",
    "groups[*].assignmentEpoch",
    "groups[*].members[*].memberEpoch",
  ], { kafka: 2, sluice: 1 }),
  ...known("GR7", "ConsumerGroupDescribe", "1", "after its members left", "groups[*].groupEpoch", {
    kafka: 3,
    sluice: 2,
  }),
  ...known(
    "GR8",
    "ConsumerGroupHeartbeat",
    "0-1",
    [
      "fenced member epoch",
      "unknown member",
      "join without a subscription",
      "empty group id",
    ],
    "memberEpoch",
    { kafka: 0, sluice: -1 },
  ),
  ...known(
    "GR9",
    "ConsumerGroupHeartbeat",
    "0-1",
    "heartbeat owning its assignment",
    "assignment",
    {
      kafka: null,
    },
  ),
  ...known(
    "GR10",
    "ConsumerGroupDescribe",
    "0-1",
    ["consumer groups", "authorized operations"],
    "groups[*].members[*].subscribedTopicRegex",
    {
      kafka: "",
      sluice: null,
    },
  ),
  ...known(
    "GR11",
    "ConsumerGroupDescribe",
    "1",
    "after its members left",
    "groups[*].assignmentEpoch",
    {
      kafka: 3,
      sluice: 1,
    },
  ),
  ...known(
    "GR12",
    "OffsetDelete",
    "0",
    [
      "group subscribed to the topic",
      "group with members, a topic it does not subscribe to",
    ],
    "errorCode",
    { kafka: 0, sluice: 68 },
  ),
  ...known(
    "GR12",
    "OffsetDelete",
    "0",
    [
      "group subscribed to the topic",
      "group with members, a topic it does not subscribe to",
    ],
    "topics[*]",
    { sluice: ABSENT },
  ),

  // Versions Kafka 4 no longer serves
  ...known("OV1", "CreateTopics", "0-1", "*", "(outcome)", { kafka: "<closed>" }),
  ...known("OV1", "DeleteTopics", "0", "*", "(outcome)", { kafka: "<closed>" }),
  ...known("OV1", "DescribeConfigs", "0", "*", "(outcome)", { kafka: "<closed>" }),

  // CreateTopics, DeleteTopics
  ...known("TP5", "CreateTopics", "5-7", "manual assignment", "topics[*].configs[*]", {
    sluice: ABSENT,
  }),
  ...known("TP5", "CreateTopics", "5-7", CREATED, "topics[*].configs[*]", { sluice: ABSENT }),
  ...known("TP6", "DeleteTopics", "1-6", "invalid name", "responses[bad/name].errorCode", {
    kafka: 3,
    sluice: 17,
  }),

  // InitProducerId
  ...known("IP1", "InitProducerId", "0-4", "transactional producer", "errorCode", {
    kafka: 0,
    sluice: 53,
  }),
  ...known("IP1", "InitProducerId", "0-4", "transactional producer", [
    "producerId",
    "producerEpoch",
  ], {
    sluice: -1,
  }),
  ...known("IP1", "InitProducerId", "0-4", "transaction timeout over the maximum", "errorCode", {
    kafka: 50,
    sluice: 53,
  }),

  // DescribeConfigs
  ...known("CF1", "DescribeConfigs", "1-4", "topic, every config", "results[diff-a].configs[*]", {
    sluice: ABSENT,
  }),
  ...known(
    "CF1",
    "DescribeConfigs",
    "1-4",
    "topic, every config",
    "results[diff-a].configs[flush.policy]",
    {
      kafka: ABSENT,
    },
  ),
  ...known(
    "CF1",
    "DescribeConfigs",
    "1-4",
    "topic, every config",
    "results[diff-a].configs[flush.ms].value",
    {
      sluice: "1000",
    },
  ),
  ...known("CF1", "DescribeConfigs", "1-4", "broker, every config", "results[0].configs[*]", {
    sluice: ABSENT,
  }),
  ...known("CF2", "DescribeConfigs", "1-4", TOPIC_CONFIG_CASES, "results[*].configs[*].readOnly", {
    kafka: false,
    sluice: true,
  }),
  ...known("CF2", "DescribeConfigs", "3-4", "documentation", "results[*].configs[*].readOnly", {
    kafka: false,
    sluice: true,
  }),
  ...known(
    "CF2",
    "DescribeConfigs",
    "4",
    "unknown tagged field",
    "results[*].configs[*].readOnly",
    {
      kafka: false,
      sluice: true,
    },
  ),
  ...known(
    "CF3",
    "DescribeConfigs",
    "1-4",
    "topic, every config",
    "results[diff-a].configs[compression.type].value",
    {
      kafka: "producer",
      sluice: "none",
    },
  ),
  ...known(
    "CF4",
    "DescribeConfigs",
    "1-4",
    [
      "broker, named configs",
      "broker, every config",
      "topic and broker",
    ],
    "results[0].configs[*].configSource",
    { kafka: 4, sluice: 5 },
  ),
  ...known("CF5", "DescribeConfigs", "1-4", "cluster-wide broker defaults", "results[].configs[*]"),
  ...known("CF6", "DescribeConfigs", "1-4", "synonyms", "results[*].configs[*].synonyms[*]", {
    sluice: ABSENT,
  }),
  ...known("CF7", "DescribeConfigs", "3-4", "documentation", "results[*].configs[*].documentation"),
  ...known(
    "CF8",
    "DescribeConfigs",
    "1-4",
    "topic, every config",
    "results[diff-a].configs[min.insync.replicas].configSource",
    { kafka: 3, sluice: 5 },
  ),

  // DescribeCluster
  ...known("DC1", "DescribeCluster", "1", "controllers", "errorCode", { kafka: 114, sluice: 42 }),
  ...known("DC1", "DescribeCluster", "1", "unknown endpoint type", "errorCode", {
    kafka: 115,
    sluice: 42,
  }),
  ...known("DC1", "DescribeCluster", "1", ["controllers", "unknown endpoint type"], [
    "clusterId",
    "controllerId",
  ]),
];

// ---------------------------------------------------------------------------------------------
// Fixtures.

const CLIENT_ID = "sluice-diff";
/** Record timestamps (CreateTime, set by the producer): the same on both sides. */
const T0 = 1_700_000_000_000;
const SESSION_TIMEOUT_MS = 120_000;
const REBALANCE_TIMEOUT_MS = 30_000;
const TOPIC_A = "diff-a"; // 3 partitions, records in each
const TOPIC_B = "diff-b"; // 1 partition, records
const TOPIC_EMPTY = "diff-empty"; // 2 partitions, no records
const TOPIC_BATCHES = "diff-batches"; // 1 partition, for requests Kafka refuses and Sluice may not
const UNKNOWN_TOPIC = "no-such-topic";
const UNKNOWN_UUID = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);

function int16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, n);
  return b;
}

/** A consumer-protocol subscription (v0) to `topics`, as a Java consumer sends in JoinGroup. */
function subscription(topics: string[]): Uint8Array {
  return concat(int16(0), encode(CONSUMER_PROTOCOL_SUBSCRIPTION, 0, { topics, userData: null }));
}

/** A consumer-protocol assignment (v0) of `partitions` of `topic`. */
function assignment(topic: string, partitions: number[]): Uint8Array {
  return concat(
    int16(0),
    encode(CONSUMER_PROTOCOL_ASSIGNMENT, 0, {
      assignedPartitions: [{ topic, partitions }],
      userData: null,
    }),
  );
}

let batchCount = 0;
/** One RecordBatch v2 of `n` keyed records with fixed timestamps (T0 + k seconds). */
function batch(
  n: number,
  options: { producerId?: number; producerEpoch?: number; baseSequence?: number } = {},
): Uint8Array {
  const b = ++batchCount;
  return encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({
      key: utf8(`key-${b}-${i}`),
      value: `value-${b}-${i}`,
      timestamp: T0 + (b * 10 + i) * 1000,
      headers: i === 0 ? [{ key: "h", value: utf8("v") }] : [],
    })),
    { timestampMs: T0, ...options },
  );
}

function versionsIn(range: { min: number; max: number }): number[] {
  return Array.from({ length: range.max - range.min + 1 }, (_, i) => range.min + i);
}

// ---------------------------------------------------------------------------------------------

announceKafkaSkip();

Deno.test({
  name: "Sluice answers as Apache Kafka 4.4 does, API by API (differential)",
  ignore: !kafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const started = performance.now();
    const logger = new MemoryLogger();
    const dataDir = tempDir("sluice-diff-");
    const [kafka, broker] = await Promise.all([
      startKafka({
        extraProps: {
          "node.id": 0, // Sluice's one node is 0: node ids compare as they are
          "offsets.topic.num.partitions": 1,
          "transaction.state.log.num.partitions": 1,
        },
      }),
      Broker.open({ dataDir, logger, classicGroups: { initialRebalanceDelayMs: 0 } }),
    ]);
    const listener = await startKafkaListener(broker, { host: "127.0.0.1", port: 0, logger });
    const sluiceClusterId = Deno.readTextFileSync(`${dataDir}/cluster_id`).trim();
    const k = new Peer("kafka", kafka.port, kafka.clusterId);
    const s = new Peer("sluice", listener.port, sluiceClusterId);
    const d = new Differ(k, s, CLIENT_ID);
    console.log(`Kafka answered after ${kafka.startMs} ms`);
    try {
      await runCases(t, d, kafka);
      await verdict(t, d);
    } finally {
      k.close();
      s.close();
      await listener.close();
      await broker.close();
      await kafka.stop();
      console.log(`differential test: ${Math.round(performance.now() - started)} ms in all`);
    }
  },
});

async function runCases(t: Deno.TestContext, d: Differ, kafka: RunningKafka): Promise<void> {
  const served = new Map<ApiName, { min: number; max: number }>();
  const kafkaServed = new Map<number, { min: number; max: number }>();
  /** The versions of `api` Sluice serves. */
  const versions = (api: ApiName) => versionsIn(served.get(api)!);
  const kafkaServes = (api: ApiName, v: number) => {
    const r = kafkaServed.get(APIS[api].request.apiKey);
    return r !== undefined && v >= r.min && v <= r.max;
  };
  /** Asserts a preparation step worked on both sides. */
  const prepared = (what: string, e: Exchanged, ok: (b: Any) => boolean) => {
    for (const [side, o] of [["kafka", e.kafka], ["sluice", e.sluice]] as const) {
      assert.ok(
        o.kind === "response" && ok(o.body),
        `preparation "${what}" failed on ${side}: ${JSON.stringify(o, replacer)}\n` +
          (side === "kafka" ? kafka.logTail(20) : ""),
      );
    }
  };
  const check = (spec: CaseSpec) => d.check(spec);
  /** Polls a preparation request on both sides until `ok` holds for both (Kafka is async). */
  const until = async (
    what: string,
    spec: CaseSpec,
    ok: (b: Any) => boolean,
    kafkaOnly = false,
  ) => {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const e = await check({ ...spec, prepare: true });
      const done = e.k !== undefined && e.s !== undefined && ok(e.k) && (kafkaOnly || ok(e.s));
      if (done) return e;
      if (performance.now() > deadline) {
        prepared(what, e, ok);
        return e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // -------------------------------------------------------------------------------------------
  await t.step("preparation: the same topics and records on both", async () => {
    const av = await check({
      api: "ApiVersions",
      version: 3,
      label: "",
      body: { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" },
      prepare: true,
    });
    prepared("ApiVersions", av, (b) => b.errorCode === 0);
    for (const entry of (av.s as Any).apiKeys) {
      const name = apiNameOf(entry.apiKey);
      if (name !== undefined) served.set(name, { min: entry.minVersion, max: entry.maxVersion });
    }
    for (const entry of (av.k as Any).apiKeys) {
      kafkaServed.set(entry.apiKey, { min: entry.minVersion, max: entry.maxVersion });
    }
    const created = await check({
      api: "CreateTopics",
      version: 5,
      label: "",
      prepare: true,
      body: {
        topics: [
          [TOPIC_A, 3],
          [TOPIC_B, 1],
          [TOPIC_EMPTY, 2],
          [TOPIC_BATCHES, 1],
          ...versions("DeleteTopics").flatMap((v) => [[`delete-v${v}`, 1], [`delete2-v${v}`, 2]]),
          ["delete-by-id", 1],
        ].map(([name, numPartitions]) => ({
          name,
          numPartitions,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 30_000,
        validateOnly: false,
      },
    });
    prepared("CreateTopics", created, (b) => b.topics.every((tp: Any) => tp.errorCode === 0));
    // Kafka's leaders are elected asynchronously after CreateTopics answers.
    await until("Metadata: every partition led", {
      api: "Metadata",
      version: served.get("Metadata")!.max, // v10+: with topic ids
      label: "",
      body: {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      learn: (peer, b: Any) => {
        for (const tp of b.topics) peer.learnTopicId(tp.topicId, tp.name);
      },
    }, (b) =>
      b.topics.length >= 3 &&
      b.topics.every((tp: Any) =>
        tp.errorCode === 0 && tp.partitions.every((p: Any) => p.leaderId >= 0)
      ));
    // A partition's leader may still be loading its log: ListOffsets says when it is ready.
    const createdTopics: [string, number][] = [
      [TOPIC_A, 3],
      [TOPIC_B, 1],
      [TOPIC_EMPTY, 2],
      [TOPIC_BATCHES, 1],
    ];
    await until("ListOffsets: every partition ready", {
      api: "ListOffsets",
      version: 1,
      label: "",
      body: {
        replicaId: -1,
        topics: createdTopics.map(([name, n]) => ({
          name,
          partitions: Array.from({ length: n }, (_, p) => ({ partitionIndex: p, timestamp: -1n })),
        })),
      },
    }, (b) => b.topics.every((tp: Any) => tp.partitions.every((p: Any) => p.errorCode === 0)));
    // One batch per partition and request (Kafka refuses more, see the Produce cases).
    for (
      const [topic, partition, records] of [
        [TOPIC_A, 0, 2],
        [TOPIC_A, 0, 3],
        [TOPIC_A, 0, 1],
        [TOPIC_A, 1, 5],
        [TOPIC_A, 2, 1],
        [TOPIC_B, 0, 4],
      ] as const
    ) {
      const produced = await check({
        api: "Produce",
        version: 9,
        label: "",
        prepare: true,
        body: {
          transactionalId: null,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [{
            name: topic,
            partitionData: [{ index: partition, records: batch(records) }],
          }],
        },
      });
      prepared(
        "Produce",
        produced,
        (b) =>
          b.responses.every((r: Any) => r.partitionResponses.every((p: Any) => p.errorCode === 0)),
      );
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("ApiVersions", async () => {
    for (const v of versions("ApiVersions")) {
      const body = { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" };
      await check({ api: "ApiVersions", version: v, label: "request", body });
      if (v >= 3) {
        await check({
          api: "ApiVersions",
          version: v,
          label: "unknown tagged field",
          body,
          mutate: withUnknownTag,
        });
        await check({
          api: "ApiVersions",
          version: v,
          label: "invalid client software name",
          body: { clientSoftwareName: "bad name!", clientSoftwareVersion: "1.0.0" },
        });
      }
    }
    // A client newer than the broker asks at its own version: answered at v0 with
    // UNSUPPORTED_VERSION and the versions served (KIP-511).
    await check({
      api: "ApiVersions",
      version: 3,
      label: "version 127",
      body: { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" },
      mutate: withApiVersion(127),
    });
  });

  // -------------------------------------------------------------------------------------------
  await t.step("Metadata", async () => {
    const request = (v: number, topics: string[] | null, auto = false) => ({
      topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
      allowAutoTopicCreation: auto,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    // Before anything creates more topics (auto-creation below, groups' internal topic).
    for (const v of versions("Metadata")) {
      await check({ api: "Metadata", version: v, label: "all topics", body: request(v, null) });
    }
    for (const v of versions("Metadata")) {
      if (v >= 1) {
        await check({ api: "Metadata", version: v, label: "no topics", body: request(v, []) });
      }
      await check({
        api: "Metadata",
        version: v,
        label: "two topics",
        body: request(v, [TOPIC_A, TOPIC_B]),
      });
      if (v >= 4) {
        await check({
          api: "Metadata",
          version: v,
          label: "unknown topic, no auto-creation",
          body: request(v, [UNKNOWN_TOPIC]),
        });
      }
      await check({
        api: "Metadata",
        version: v,
        label: "invalid topic name",
        body: request(v, ["bad/name"]),
      });
      if (v >= 8) {
        await check({
          api: "Metadata",
          version: v,
          label: "authorized operations",
          body: {
            ...request(v, [TOPIC_A]),
            includeClusterAuthorizedOperations: true,
            includeTopicAuthorizedOperations: true,
          },
        });
      }
      if (v >= 9) {
        await check({
          api: "Metadata",
          version: v,
          label: "unknown tagged field",
          body: request(v, [TOPIC_B]),
          mutate: withUnknownTag,
        });
      }
      await check({
        api: "Metadata",
        version: v,
        label: "unknown topic, auto-created",
        body: request(v, [`auto-v${v}`], true),
      });
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("Produce", async () => {
    const produce = (acks: number, topicData: Struct[]) => ({
      transactionalId: null,
      acks,
      timeoutMs: 30_000,
      topicData,
    });
    for (const v of versions("Produce")) {
      await check({
        api: "Produce",
        version: v,
        label: "acks=1",
        body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(2) }] }]),
      });
      await check({
        api: "Produce",
        version: v,
        label: "acks=-1, two partitions",
        body: produce(-1, [{
          name: TOPIC_A,
          partitionData: [{ index: 1, records: batch(1) }, { index: 2, records: batch(2) }],
        }]),
      });
      await check({
        api: "Produce",
        version: v,
        label: "acks=0",
        expectResponse: false,
        body: produce(0, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(1) }] }]),
      });
      await check({
        api: "Produce",
        version: v,
        label: "unknown topic",
        body: produce(1, [{
          name: `produce-unknown-v${v}`,
          partitionData: [{ index: 0, records: batch(1) }],
        }]),
      });
      await check({
        api: "Produce",
        version: v,
        label: "unknown partition",
        body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 7, records: batch(1) }] }]),
      });
      await check({
        api: "Produce",
        version: v,
        label: "acks=2",
        body: produce(2, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(1) }] }]),
      });
      const corrupt = batch(1);
      corrupt[corrupt.length - 1] ^= 0xff; // the CRC covers it
      await check({
        api: "Produce",
        version: v,
        label: "corrupt CRC",
        body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 0, records: corrupt }] }]),
      });
      await check({
        api: "Produce",
        version: v,
        label: "two batches for one partition",
        body: produce(1, [{
          name: TOPIC_BATCHES,
          partitionData: [{ index: 0, records: concat(batch(1), batch(1)) }],
        }]),
      });
      const producerId = 7_000 + v;
      const first = batch(2, { producerId, producerEpoch: 0, baseSequence: 0 });
      const idempotent = (label: string, records: Uint8Array) =>
        check({
          api: "Produce",
          version: v,
          label,
          body: produce(-1, [{ name: TOPIC_B, partitionData: [{ index: 0, records }] }]),
        });
      await idempotent("idempotent, first batch", first);
      await idempotent("idempotent, the same batch again", first);
      await idempotent(
        "idempotent, a sequence gap",
        batch(1, { producerId, producerEpoch: 0, baseSequence: 5 }),
      );
      await idempotent(
        "idempotent, new producer at sequence 3",
        batch(1, { producerId: producerId + 100, producerEpoch: 0, baseSequence: 3 }),
      );
      if (v >= 9) {
        await check({
          api: "Produce",
          version: v,
          label: "unknown tagged field",
          body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(1) }] }]),
          mutate: withUnknownTag,
        });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("Fetch", async () => {
    // High watermarks after preparation and Produce, learned from Kafka's answer (ListOffsets).
    const latest = await check({
      api: "ListOffsets",
      version: 1,
      label: "",
      prepare: true,
      body: {
        replicaId: -1,
        topics: [{
          name: TOPIC_A,
          partitions: [0, 1, 2].map((p) => ({ partitionIndex: p, timestamp: -1n })),
        }],
      },
    });
    const hw0 = Number(
      (latest.k as Any).topics[0].partitions.find((p: Any) => p.partitionIndex === 0).offset,
    );
    const fetch = (partitions: [string, number, number, number?][], extra = {}) => ({
      replicaId: -1,
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 50 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...new Set(partitions.map((p) => p[0]))].map((topic) => ({
        topic,
        partitions: partitions.filter((p) => p[0] === topic).map(([, partition, offset, max]) => ({
          partition,
          fetchOffset: BigInt(offset),
          partitionMaxBytes: max ?? 1024 * 1024,
          currentLeaderEpoch: -1,
          logStartOffset: -1n,
        })),
      })),
      forgottenTopicsData: [],
      rackId: "",
      ...extra,
    });
    for (const v of versions("Fetch")) {
      const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
        check({ api: "Fetch", version: v, label, body, ...more });
      await c(
        "three partitions from 0",
        fetch([[TOPIC_A, 0, 0], [TOPIC_A, 1, 0], [TOPIC_A, 2, 0]]),
      );
      await c("inside a batch", fetch([[TOPIC_A, 0, 3]]));
      await c("at the high watermark", fetch([[TOPIC_A, 0, hw0]]));
      await c("past the high watermark", fetch([[TOPIC_A, 0, hw0 + 100]]));
      await c("negative offset", fetch([[TOPIC_A, 0, -1]]));
      await c("empty partition", fetch([[TOPIC_EMPTY, 0, 0]]));
      await c("unknown topic", fetch([[UNKNOWN_TOPIC, 0, 0]]));
      await c("unknown partition", fetch([[TOPIC_A, 9, 0]]));
      await c("partition max bytes under one batch", fetch([[TOPIC_A, 0, 0, 10]]));
      await c(
        "max bytes under one batch",
        fetch([[TOPIC_A, 0, 0], [TOPIC_A, 1, 0]], { maxBytes: 10 }),
      );
      await c("read_committed", fetch([[TOPIC_A, 1, 0]], { isolationLevel: 1 }));
      if (v >= 7) {
        await c("new fetch session", fetch([[TOPIC_B, 0, 0]], { sessionEpoch: 0 }));
        await c(
          "unknown fetch session",
          fetch([[TOPIC_B, 0, 0]], { sessionId: 123456, sessionEpoch: 1 }),
        );
      }
      if (v >= 9) {
        const future = fetch([[TOPIC_A, 0, 0]]) as Any;
        future.topics[0].partitions[0].currentLeaderEpoch = 99;
        await c("leader epoch from the future", future);
      }
      if (v >= 12) {
        await c("unknown tagged field", fetch([[TOPIC_B, 0, 0]]), { mutate: withUnknownTag });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("ListOffsets", async () => {
    const list = (partitions: [string, number, bigint][], extra: Struct = {}) => ({
      replicaId: -1,
      isolationLevel: 0,
      topics: [...new Set(partitions.map((p) => p[0]))].map((name) => ({
        name,
        partitions: partitions.filter((p) => p[0] === name).map((
          [, partitionIndex, timestamp],
        ) => ({
          partitionIndex,
          timestamp,
          currentLeaderEpoch: -1,
        })),
      })),
      ...extra,
    });
    const all = (ts: bigint): [string, number, bigint][] => [0, 1, 2].map((p) => [TOPIC_A, p, ts]);
    for (const v of versions("ListOffsets")) {
      const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
        check({ api: "ListOffsets", version: v, label, body, ...more });
      await c("earliest", list(all(-2n)));
      await c("latest", list(all(-1n)));
      await c("by timestamp", list([[TOPIC_A, 0, BigInt(T0 + 25_000)], [TOPIC_B, 0, BigInt(T0)]]));
      await c("timestamp after every record", list([[TOPIC_A, 0, BigInt(T0 + 1e9)]]));
      await c(
        "empty partition",
        list([[TOPIC_EMPTY, 0, -2n], [TOPIC_EMPTY, 1, BigInt(T0)]]),
      );
      await c("empty partition, latest", list([[TOPIC_EMPTY, 0, -1n]]));
      await c("unknown topic", list([[UNKNOWN_TOPIC, 0, -1n]]));
      await c("unknown partition", list([[TOPIC_A, 9, -1n]]));
      if (v >= 2) await c("read_committed, latest", list(all(-1n), { isolationLevel: 1 }));
      if (v >= 4) {
        const future = list([[TOPIC_A, 0, -1n]]) as Any;
        future.topics[0].partitions[0].currentLeaderEpoch = 99;
        await c("leader epoch from the future", future);
      }
      if (v >= 6) await c("unknown tagged field", list(all(-1n)), { mutate: withUnknownTag });
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("FindCoordinator", async () => {
    // Only now: Metadata's "all topics" above would list the two internal topics.
    // Kafka creates __consumer_offsets and __transaction_state on first use.
    await until("FindCoordinator (group)", {
      api: "FindCoordinator",
      version: 3,
      label: "",
      body: { key: "warm-up", keyType: 0 },
    }, (b) => b.errorCode === 0);
    // Sluice has no transaction coordinator: only Kafka's must be ready.
    await until(
      "FindCoordinator (transaction)",
      {
        api: "FindCoordinator",
        version: 3,
        label: "",
        body: { key: "warm-up", keyType: 1 },
      },
      (b) => b.errorCode === 0,
      true,
    );
    for (const v of versions("FindCoordinator")) {
      const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
        check({ api: "FindCoordinator", version: v, label, body, ...more });
      const keys = (keyType: number, ...k: string[]): Struct =>
        v >= 4 ? { keyType, coordinatorKeys: k } : { keyType, key: k[0] };
      await c("group", keys(0, "diff-group"));
      if (v >= 4) {
        await c("two groups", keys(0, "diff-group", "other-group"));
        await c("no keys", keys(0));
      }
      await c("empty group id", keys(0, ""));
      if (v >= 1) {
        await c("transaction", keys(1, "diff-transaction"));
        await c("unknown key type", keys(7, "diff-group"));
      }
      if (v >= 3) {
        await c("unknown tagged field", keys(0, "diff-group"), { mutate: withUnknownTag });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  // Classic groups: one group per JoinGroup version both serve, with a member (the leader) that
  // syncs and heartbeats; SyncGroup, Heartbeat and LeaveGroup versions spread over them.
  const classicVersions = versions("JoinGroup").filter((v) => kafkaServes("JoinGroup", v));
  const classicGroup = (jv: number) => `classic-v${jv}`;
  const memberLabel = (group: string) => `member of ${group}`;
  const join = (group: string, memberId: string, extra: Struct = {}) => ({
    groupId: group,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: subscription([TOPIC_A]) }],
    ...extra,
  });
  const learnMember = (label: string) => (peer: Peer, b: Any) => {
    if (b.memberId) peer.alias(b.memberId, label);
  };
  /** Joins `group` at `jv` as a new member: two steps from v4 (MEMBER_ID_REQUIRED). */
  const joinNew = async (
    jv: number,
    group: string,
    label: string,
    conn?: string,
  ): Promise<void> => {
    await check({
      api: "JoinGroup",
      version: jv,
      label: `new member (${label})`,
      body: join(group, ""),
      learn: learnMember(label),
      conn,
    });
    if (jv >= 4) {
      await check({
        api: "JoinGroup",
        version: jv,
        label: `rejoin with the member id given (${label})`,
        body: (p) => join(group, p.id(label)),
        conn,
      });
    }
  };
  const sync = (group: string, generationId: number, memberId: string, extra = {}) => ({
    groupId: group,
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocolName: "range",
    assignments: [],
    ...extra,
  });

  await t.step("JoinGroup, SyncGroup, Heartbeat", async () => {
    for (const [i, jv] of classicVersions.entries()) {
      const group = classicGroup(jv);
      const me = memberLabel(group);
      await joinNew(jv, group, me);
      const sv = versions("SyncGroup")[Math.min(i, versions("SyncGroup").length - 1)];
      const hv = versions("Heartbeat")[Math.min(i, versions("Heartbeat").length - 1)];
      await check({
        api: "SyncGroup",
        version: sv,
        label: `leader assigns (${group})`,
        body: (p) =>
          sync(group, 1, p.id(me), {
            assignments: [{ memberId: p.id(me), assignment: assignment(TOPIC_A, [0, 1, 2]) }],
          }),
      });
      await check({
        api: "SyncGroup",
        version: sv,
        label: `wrong generation (${group})`,
        body: (p) => sync(group, 7, p.id(me)),
      });
      await check({
        api: "SyncGroup",
        version: sv,
        label: `unknown member (${group})`,
        body: sync(group, 1, "ghost-member"),
      });
      if (sv >= 5) {
        await check({
          api: "SyncGroup",
          version: sv,
          label: `another protocol name (${group})`,
          body: (p) => sync(group, 1, p.id(me), { protocolName: "roundrobin" }),
        });
      }
      const heartbeat = (generationId: number, memberId: string, g = group) => ({
        groupId: g,
        generationId,
        memberId,
        groupInstanceId: null,
      });
      await check({
        api: "Heartbeat",
        version: hv,
        label: `member of a stable group (${group})`,
        body: (p) => heartbeat(1, p.id(me)),
      });
      await check({
        api: "Heartbeat",
        version: hv,
        label: `stale generation (${group})`,
        body: (p) => heartbeat(0, p.id(me)),
      });
      await check({
        api: "Heartbeat",
        version: hv,
        label: `unknown member (${group})`,
        body: heartbeat(1, "ghost-member"),
      });
      await check({
        api: "Heartbeat",
        version: hv,
        label: `unknown group (${group})`,
        body: heartbeat(1, "ghost-member", `${group}-nope`),
      });
      await check({
        api: "JoinGroup",
        version: jv,
        label: "unknown member id",
        body: join(group, "ghost-member"),
      });
      if (jv >= 6) {
        await check({
          api: "JoinGroup",
          version: jv,
          label: "unknown tagged field",
          body: (p) => join(group, p.id(me)),
          mutate: withUnknownTag,
        });
        // The rejoin above changed nothing: still generation 1, still stable.
      }
    }

    // Two members: the second's join starts a rebalance, the first learns it from its heartbeat
    // and rejoins, the leader's SyncGroup answers the follower's waiting one.
    const jv = classicVersions[classicVersions.length - 1];
    const sv = versions("SyncGroup").at(-1)!;
    const hv = versions("Heartbeat").at(-1)!;
    const group = "classic-rebalance";
    const [m1, m2] = ["first member", "second member"];
    await joinNew(jv, group, m1);
    await check({
      api: "SyncGroup",
      version: sv,
      label: "leader assigns (rebalance group)",
      body: (p) =>
        sync(group, 1, p.id(m1), {
          assignments: [{ memberId: p.id(m1), assignment: assignment(TOPIC_A, [0, 1, 2]) }],
        }),
    });
    await check({
      api: "JoinGroup",
      version: jv,
      label: `new member (${m2})`,
      body: join(group, ""),
      learn: learnMember(m2),
      conn: "m2",
    });
    const secondJoin = check({
      api: "JoinGroup",
      version: jv,
      label: "second member joins a stable group",
      body: (p) => join(group, p.id(m2)),
      conn: "m2",
    });
    // Both coordinators have taken the join (it waits for the leader to rejoin).
    await until("DescribeGroups: rebalancing", {
      api: "DescribeGroups",
      version: versions("DescribeGroups").at(-1)!,
      label: "",
      body: { groups: [group], includeAuthorizedOperations: false },
    }, (b) => b.groups[0].groupState === "PreparingRebalance");
    await check({
      api: "Heartbeat",
      version: hv,
      label: "during a rebalance",
      body: (p) => ({ groupId: group, generationId: 1, memberId: p.id(m1), groupInstanceId: null }),
    });
    await check({
      api: "JoinGroup",
      version: jv,
      label: "leader rejoins",
      body: (p) => join(group, p.id(m1)),
    });
    await secondJoin;
    const followerSync = check({
      api: "SyncGroup",
      version: sv,
      label: "follower waits for the leader",
      body: (p) => sync(group, 2, p.id(m2)),
      conn: "m2",
    });
    await new Promise((r) => setTimeout(r, 200));
    await check({
      api: "SyncGroup",
      version: sv,
      label: "leader assigns two members",
      body: (p) =>
        sync(group, 2, p.id(m1), {
          assignments: [
            { memberId: p.id(m1), assignment: assignment(TOPIC_A, [0, 1]) },
            { memberId: p.id(m2), assignment: assignment(TOPIC_A, [2]) },
          ],
        }),
    });
    await followerSync;
  });

  // -------------------------------------------------------------------------------------------
  await t.step("OffsetCommit", async () => {
    const commit = (group: string, generation: number, memberId: string, partitions: Struct[]) => ({
      groupId: group,
      generationIdOrMemberEpoch: generation,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [...new Set(partitions.map((p) => p.name as string))].map((name) => ({
        name,
        partitions: partitions.filter((p) => p.name === name).map((p) => ({
          partitionIndex: p.partition,
          committedOffset: BigInt(p.offset as number),
          committedLeaderEpoch: -1,
          committedMetadata: p.metadata ?? "",
        })),
      })),
    });
    const at = (name: string, partition: number, offset: number, metadata?: string) => ({
      name,
      partition,
      offset,
      ...(metadata === undefined ? {} : { metadata }),
    });
    for (const [i, v] of versions("OffsetCommit").entries()) {
      const c = (label: string, body: Struct | ((p: Peer) => Struct)) =>
        check({ api: "OffsetCommit", version: v, label, body });
      const simple = "simple-commits";
      await c(
        "no generation (simple group)",
        commit(simple, -1, "", [at(TOPIC_A, 0, 5, "meta"), at(TOPIC_A, 1, 1 + v)]),
      );
      await c("reset to earliest (-2)", commit(`${simple}-reset`, -1, "", [at(TOPIC_B, 0, -2)]));
      await c("unknown topic", commit(simple, -1, "", [at(UNKNOWN_TOPIC, 0, 1)]));
      await c("unknown partition", commit(simple, -1, "", [at(TOPIC_A, 9, 1), at(TOPIC_A, 2, 1)]));
      await c(
        "metadata too large",
        commit(simple, -1, "", [at(TOPIC_A, 0, 6, "x".repeat(5000))]),
      );
      await c("empty group id", commit("", -1, "", [at(TOPIC_A, 0, 1)]));
      const group = classicGroup(classicVersions[i % classicVersions.length]);
      const me = memberLabel(group);
      await c("member of the group", (p) => commit(group, 1, p.id(me), [at(TOPIC_A, 0, 2)]));
      await c("stale generation", (p) => commit(group, 0, p.id(me), [at(TOPIC_A, 0, 2)]));
      await c("unknown member", commit(group, 1, "ghost-member", [at(TOPIC_A, 0, 2)]));
      await c("no generation on a group with members", commit(group, -1, "", [at(TOPIC_A, 1, 2)]));
      if (v >= 8) {
        await check({
          api: "OffsetCommit",
          version: v,
          label: "unknown tagged field",
          body: commit(simple, -1, "", [at(TOPIC_A, 0, 5)]),
          mutate: withUnknownTag,
        });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("OffsetFetch", async () => {
    const fetch = (v: number, groups: [string, [string, number[]][] | null][], extra = {}) =>
      v >= 8
        ? {
          groups: groups.map(([groupId, topics]) => ({
            groupId,
            memberId: null,
            memberEpoch: -1,
            topics: topics === null
              ? null
              : topics.map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
          })),
          requireStable: false,
          ...extra,
        }
        : {
          groupId: groups[0][0],
          topics: groups[0][1] === null
            ? null
            : groups[0][1].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
          requireStable: false,
          ...extra,
        };
    for (const v of versions("OffsetFetch")) {
      const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
        check({ api: "OffsetFetch", version: v, label, body, ...more });
      await c("committed and not", fetch(v, [["simple-commits", [[TOPIC_A, [0, 1, 2]]]]]));
      if (v >= 2) await c("all partitions", fetch(v, [["simple-commits", null]]));
      await c("member's group", fetch(v, [[classicGroup(classicVersions[0]), [[TOPIC_A, [0]]]]]));
      await c("unknown group", fetch(v, [["no-such-group", [[TOPIC_A, [0]]]]]));
      if (v >= 2) await c("unknown group, all partitions", fetch(v, [["no-such-group", null]]));
      await c("unknown topic", fetch(v, [["simple-commits", [[UNKNOWN_TOPIC, [0]]]]]));
      await c("unknown partition", fetch(v, [["simple-commits", [[TOPIC_A, [9]]]]]));
      await c("negative committed offset", fetch(v, [["simple-commits-reset", [[TOPIC_B, [0]]]]]));
      if (v >= 7) {
        await c(
          "require stable",
          fetch(v, [["simple-commits", [[TOPIC_A, [0]]]]], { requireStable: true }),
        );
      }
      if (v >= 8) {
        await c(
          "two groups",
          fetch(v, [["simple-commits", [[TOPIC_A, [0]]]], ["no-such-group", null]]),
        );
      }
      if (v >= 6) {
        await c("unknown tagged field", fetch(v, [["simple-commits", [[TOPIC_A, [0]]]]]), {
          mutate: withUnknownTag,
        });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("DescribeGroups", async () => {
    for (const v of versions("DescribeGroups")) {
      const c = (label: string, groups: string[], include = false) =>
        check({
          api: "DescribeGroups",
          version: v,
          label,
          body: { groups, includeAuthorizedOperations: include },
        });
      await c("stable group", [classicGroup(classicVersions[0])]);
      await c("two members", ["classic-rebalance"]);
      await c("group with offsets only", ["simple-commits"]);
      await c("unknown group", ["no-such-group"]);
      await c("no groups", []);
      if (v >= 3) await c("authorized operations", [classicGroup(classicVersions[0])], true);
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("ListGroups", async () => {
    for (const v of versions("ListGroups")) {
      const c = (label: string, statesFilter: string[] = [], typesFilter: string[] = []) =>
        check({ api: "ListGroups", version: v, label, body: { statesFilter, typesFilter } });
      await c("all groups");
      if (v >= 4) {
        await c("stable groups", ["Stable"]);
        await c("empty groups", ["Empty"]);
        await c("unknown state", ["NoSuchState"]);
      }
      if (v >= 5) {
        await c("classic groups", [], ["classic"]);
        await c("consumer groups", [], ["consumer"]);
        await c("unknown type", [], ["nope"]);
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  // KIP-848 consumer groups, one per ConsumerGroupHeartbeat version.
  const consumerGroup = (v: number) => `consumer-v${v}`;
  const consumerMember = (v: number) => `consumer member v${v}`;
  const heartbeat848 = (v: number, extra: Struct) => ({
    groupId: consumerGroup(v),
    memberId: "",
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: null,
    ...extra,
  });
  await t.step("ConsumerGroupHeartbeat, ConsumerGroupDescribe", async () => {
    for (const v of versions("ConsumerGroupHeartbeat")) {
      const me = consumerMember(v);
      const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
        check({ api: "ConsumerGroupHeartbeat", version: v, label, body, ...more });
      // From v1 the client makes its member id (a UUID); v0 leaves it to the coordinator.
      const newId = (n: number) => (v >= 1 ? `diff-member-${n}-0000000000` : "");
      await c(
        "join",
        heartbeat848(v, {
          memberId: newId(1),
          subscribedTopicNames: [TOPIC_A],
          topicPartitions: [],
        }),
        {
          learn: (p: Peer, b: Any) => {
            p.alias(b.memberId, me);
            p.values.set(me, b.memberEpoch);
          },
        },
      );
      // Each side's member epoch (the two count differently, see the docs).
      const epoch = (p: Peer) => p.value(me);
      await c("heartbeat owning its assignment", (p) =>
        heartbeat848(v, {
          memberId: p.id(me),
          memberEpoch: epoch(p),
          topicPartitions: [{ topicId: p.topicId(TOPIC_A), partitions: [0, 1, 2] }],
        }));
      await c(
        "fenced member epoch",
        (p) => heartbeat848(v, { memberId: p.id(me), memberEpoch: epoch(p) + 7 }),
      );
      await c(
        "unknown member",
        heartbeat848(v, { memberId: "ghost-member-000000000", memberEpoch: 1 }),
      );
      await c("join without a subscription", heartbeat848(v, { memberId: newId(2) }));
      await c(
        "empty group id",
        heartbeat848(v, {
          groupId: "",
          memberId: newId(3),
          subscribedTopicNames: [TOPIC_A],
          topicPartitions: [],
        }),
      );
      await c(
        "unknown tagged field",
        (p) => heartbeat848(v, { memberId: p.id(me), memberEpoch: epoch(p) }),
        { mutate: withUnknownTag },
      );
    }
    const cv = versions("ConsumerGroupHeartbeat").at(-1)!;
    const group = consumerGroup(cv);
    const me = consumerMember(cv);
    const ov = versions("OffsetCommit").at(-1)!;
    const commit = (epoch: number, memberId: string, version = ov) => ({
      groupId: group,
      generationIdOrMemberEpoch: epoch,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [{
        name: TOPIC_A,
        partitions: [{
          partitionIndex: 0,
          committedOffset: BigInt(3 + version),
          committedLeaderEpoch: -1,
          committedMetadata: "",
        }],
      }],
    });
    for (const v of [ov, ov - 1]) {
      await check({
        api: "OffsetCommit",
        version: v,
        label: "consumer group member",
        body: (p) => commit(p.value(me), p.id(me), v),
      });
    }
    await check({
      api: "OffsetCommit",
      version: ov,
      label: "consumer group member, stale epoch",
      body: (p) => commit(p.value(me) - 1, p.id(me)),
    });
    await check({
      api: "OffsetCommit",
      version: ov,
      label: "consumer group member, epoch from the future",
      body: (p) => commit(p.value(me) + 5, p.id(me)),
    });
    const fv = versions("OffsetFetch").at(-1)!;
    const offsetFetch = (memberId: string | null, memberEpoch: number) => ({
      groups: [{
        groupId: group,
        memberId,
        memberEpoch,
        topics: [{ name: TOPIC_A, partitionIndexes: [0] }],
      }],
      requireStable: false,
    });
    await check({
      api: "OffsetFetch",
      version: fv,
      label: "consumer group member",
      body: (p) => offsetFetch(p.id(me), p.value(me)),
    });
    await check({
      api: "OffsetFetch",
      version: fv,
      label: "consumer group member, stale epoch",
      body: (p) => offsetFetch(p.id(me), p.value(me) - 1),
    });
    await check({
      api: "OffsetFetch",
      version: fv,
      label: "consumer group, unknown member",
      body: offsetFetch("ghost-member-000000000", 1),
    });
    for (const v of versions("ConsumerGroupDescribe")) {
      const c = (label: string, groupIds: string[], include = false) =>
        check({
          api: "ConsumerGroupDescribe",
          version: v,
          label,
          body: { groupIds, includeAuthorizedOperations: include },
        });
      await c("consumer groups", versions("ConsumerGroupHeartbeat").map(consumerGroup));
      await c("unknown group", ["no-such-group"]);
      await c("classic group", [classicGroup(classicVersions[0])]);
      await c("authorized operations", [group], true);
    }
    for (const v of versions("DescribeGroups")) {
      await check({
        api: "DescribeGroups",
        version: v,
        label: "consumer protocol group",
        body: { groups: [group], includeAuthorizedOperations: false },
      });
    }
    for (const v of versions("ListGroups").filter((v) => v >= 5)) {
      await check({
        api: "ListGroups",
        version: v,
        label: "consumer groups, with members",
        body: { statesFilter: [], typesFilter: ["consumer"] },
      });
    }
    // A classic member joining a consumer group, a consumer member joining a classic group.
    const jv = classicVersions.at(-1)!;
    await check({
      api: "JoinGroup",
      version: jv,
      label: "classic member joins a consumer group",
      body: join(group, ""),
      learn: learnMember("classic member of a consumer group"),
      conn: "classic-in-consumer",
    });
    const migrate = "classic-to-consumer";
    await joinNew(jv, migrate, memberLabel(migrate));
    await check({
      api: "ConsumerGroupHeartbeat",
      version: cv,
      label: "consumer member joins a classic group",
      body: heartbeat848(cv, {
        groupId: migrate,
        memberId: "diff-member-9-0000000000",
        subscribedTopicNames: [TOPIC_A],
        topicPartitions: [],
      }),
    });
    for (const v of versions("ConsumerGroupHeartbeat")) {
      await check({
        api: "ConsumerGroupHeartbeat",
        version: v,
        label: "leave",
        body: (p) => heartbeat848(v, { memberId: p.id(consumerMember(v)), memberEpoch: -1 }),
      });
    }
    await check({
      api: "ConsumerGroupDescribe",
      version: versions("ConsumerGroupDescribe").at(-1)!,
      label: "after its members left",
      body: { groupIds: [group], includeAuthorizedOperations: false },
    });
  });

  // -------------------------------------------------------------------------------------------
  await t.step("LeaveGroup", async () => {
    for (const [i, v] of versions("LeaveGroup").entries()) {
      const group = classicGroup(classicVersions[i]);
      const me = memberLabel(group);
      const leave = (g: string, ...memberIds: string[]): Struct =>
        v >= 3
          ? {
            groupId: g,
            members: memberIds.map((memberId) => ({ memberId, groupInstanceId: null })),
          }
          : { groupId: g, memberId: memberIds[0] };
      const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
        check({ api: "LeaveGroup", version: v, label, body, ...more });
      await c("unknown member", leave(group, "ghost-member"));
      await c("unknown group", leave("no-such-group", "ghost-member"));
      if (v >= 4) {
        await c("unknown tagged field", leave(group, "ghost-member"), { mutate: withUnknownTag });
      }
      if (v >= 3) {
        await c("member and an unknown one", (p) => leave(group, p.id(me), "ghost-member"));
      } else await c("member leaves", (p) => leave(group, p.id(me)));
    }
    for (const v of versions("DescribeGroups")) {
      await check({
        api: "DescribeGroups",
        version: v,
        label: "after its member left",
        body: { groups: [classicGroup(classicVersions[0])], includeAuthorizedOperations: false },
      });
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("JoinGroup: old versions and refused joins", async () => {
    for (const jv of versions("JoinGroup").filter((v) => !kafkaServes("JoinGroup", v))) {
      await check({
        api: "JoinGroup",
        version: jv,
        label: "new member (a version Kafka 4 removed)",
        body: join(`old-join-v${jv}`, ""),
      });
    }
    for (const jv of classicVersions) {
      const c = (label: string, body: Struct) =>
        check({ api: "JoinGroup", version: jv, label, body });
      await c(
        "session timeout under the minimum",
        join(`short-session-v${jv}`, "", { sessionTimeoutMs: 1000 }),
      );
      await c("no protocols", join(`no-protocols-v${jv}`, "", { protocols: [] }));
      await c("empty group id", join("", ""));
      await c(
        "another protocol type",
        join(classicGroup(classicVersions.at(-1)!), "", { protocolType: "connect" }),
      );
      if (jv >= 5) {
        await c(
          "static member",
          join(`static-v${jv}`, "", { groupInstanceId: "instance-1" }),
        );
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  const simpleCommit = (group: string, partitions: number[]) =>
    check({
      api: "OffsetCommit",
      version: 8,
      label: "",
      prepare: true,
      body: {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [{
          name: TOPIC_A,
          partitions: partitions.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: 1n,
            committedLeaderEpoch: -1,
            committedMetadata: "",
          })),
        }],
      },
    });

  await t.step("DeleteGroups", async () => {
    for (const v of versions("DeleteGroups")) {
      await simpleCommit(`delete-me-v${v}`, [0]);
      await simpleCommit(`delete-me-too-v${v}`, [0]);
      const c = (label: string, groupsNames: string[], more = {}) =>
        check({ api: "DeleteGroups", version: v, label, body: { groupsNames }, ...more });
      await c("empty group with offsets", [`delete-me-v${v}`]);
      await c("unknown group", ["no-such-group"]);
      await c("group with members", ["classic-rebalance"]);
      await c("emptied classic group", [classicGroup(classicVersions[1 + v])]);
      await c("two groups, one unknown", [`delete-me-too-v${v}`, "no-such-group"]);
      await c("empty group id", [""]);
      if (v >= 2) await c("unknown tagged field", ["no-such-group"], { mutate: withUnknownTag });
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("OffsetDelete", async () => {
    await simpleCommit("offset-delete", [0, 1]);
    for (const v of versions("OffsetDelete")) {
      const c = (label: string, groupId: string, topic: string, partitions: number[]) =>
        check({
          api: "OffsetDelete",
          version: v,
          label,
          body: {
            groupId,
            topics: [{
              name: topic,
              partitions: partitions.map((partitionIndex) => ({ partitionIndex })),
            }],
          },
        });
      await c("committed partition of an empty group", "offset-delete", TOPIC_A, [0]);
      await c("partition never committed", "offset-delete", TOPIC_A, [2]);
      await c("group subscribed to the topic", "classic-rebalance", TOPIC_A, [0]);
      await c(
        "group with members, a topic it does not subscribe to",
        "classic-rebalance",
        TOPIC_B,
        [
          0,
        ],
      );
      await c("unknown group", "no-such-group", TOPIC_A, [0]);
      await c("unknown topic", "offset-delete", UNKNOWN_TOPIC, [0]);
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("CreateTopics", async () => {
    const topic = (name: string, numPartitions: number, replicationFactor: number, extra = {}) => ({
      name,
      numPartitions,
      replicationFactor,
      assignments: [],
      configs: [],
      ...extra,
    });
    for (const v of versions("CreateTopics")) {
      const c = (label: string, topics: Struct[], validateOnly = false, more = {}) =>
        check({
          api: "CreateTopics",
          version: v,
          label,
          body: { topics, timeoutMs: 30_000, validateOnly },
          learn: (p: Peer, b: Any) => {
            for (const tp of b.topics) p.learnTopicId(tp.topicId, tp.name);
          },
          ...more,
        });
      await c("new topic", [topic(`created-v${v}`, 2, 1)]);
      if (v >= 1) await c("validate only", [topic(`validated-v${v}`, 2, 1)], true);
      await c("existing topic", [topic(TOPIC_A, 3, 1)]);
      await c("invalid name", [topic("bad/name", 1, 1)]);
      await c("name '..'", [topic("..", 1, 1)]);
      await c("name of 250 characters", [topic("x".repeat(250), 1, 1)]);
      await c("zero partitions", [topic(`zero-v${v}`, 0, 1)]);
      await c("replication factor 3", [topic(`rf3-v${v}`, 1, 3)]);
      await c("unknown config", [
        topic(`bad-config-v${v}`, 1, 1, { configs: [{ name: "no.such.config", value: "1" }] }),
      ]);
      await c("invalid config value", [
        topic(`bad-value-v${v}`, 1, 1, { configs: [{ name: "retention.ms", value: "soon" }] }),
      ]);
      await c("with a config", [
        topic(`configured-v${v}`, 1, 1, { configs: [{ name: "retention.ms", value: "3600000" }] }),
      ]);
      if (v >= 4) await c("default partitions and replication", [topic(`defaults-v${v}`, -1, -1)]);
      await c("manual assignment", [
        topic(`assigned-v${v}`, -1, -1, {
          assignments: [{ partitionIndex: 0, brokerIds: [0] }, {
            partitionIndex: 1,
            brokerIds: [0],
          }],
        }),
      ]);
      await c("assignment to an unknown broker", [
        topic(`unknown-broker-v${v}`, -1, -1, {
          assignments: [{ partitionIndex: 0, brokerIds: [7] }],
        }),
      ]);
      await c("same topic twice", [topic(`twice-v${v}`, 1, 1), topic(`twice-v${v}`, 1, 1)]);
      await c("no topics", []);
      if (v >= 5) {
        await c("unknown tagged field", [topic(TOPIC_A, 3, 1)], false, { mutate: withUnknownTag });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("DeleteTopics", async () => {
    for (const v of versions("DeleteTopics")) {
      const zero = new Uint8Array(16);
      const del = (...names: string[]): Struct =>
        v >= 6
          ? { topics: names.map((name) => ({ name, topicId: zero })), timeoutMs: 30_000 }
          : { topicNames: names, timeoutMs: 30_000 };
      const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
        check({ api: "DeleteTopics", version: v, label, body, ...more });
      await c("existing topic", del(`delete-v${v}`));
      await c("unknown topic", del(UNKNOWN_TOPIC));
      await c("existing and unknown", del(`delete2-v${v}`, UNKNOWN_TOPIC));
      await c("invalid name", del("bad/name"));
      if (v >= 4) await c("unknown tagged field", del(UNKNOWN_TOPIC), { mutate: withUnknownTag });
      if (v >= 6) {
        await c("by topic id", (p) => ({
          topics: [{ name: null, topicId: p.topicId("delete-by-id") }],
          timeoutMs: 30_000,
        }));
        await c("unknown topic id", {
          topics: [{ name: null, topicId: UNKNOWN_UUID }],
          timeoutMs: 30_000,
        });
        await c("neither name nor id", {
          topics: [{ name: null, topicId: zero }],
          timeoutMs: 30_000,
        });
      }
    }
    await check({
      api: "Metadata",
      version: versions("Metadata").at(-1)!,
      label: "deleted topics",
      body: {
        topics: versions("DeleteTopics").filter((v) => kafkaServes("DeleteTopics", v))
          .map((v) => ({ name: `delete-v${v}` })),
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
    });
  });

  // -------------------------------------------------------------------------------------------
  await t.step("InitProducerId", async () => {
    // Kafka's broker fetches its first block of producer ids from the controller on first use
    // (COORDINATOR_LOAD_IN_PROGRESS until then).
    await until("InitProducerId", {
      api: "InitProducerId",
      version: versions("InitProducerId").at(-1)!,
      label: "",
      body: {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      },
    }, (b) => b.errorCode === 0);
    const producerIds = new Map<Peer, bigint>();
    for (const v of versions("InitProducerId")) {
      const init = (transactionalId: string | null, extra = {}) => ({
        transactionalId,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
        ...extra,
      });
      const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
        check({
          api: "InitProducerId",
          version: v,
          label,
          body,
          generated: ["producerId"],
          ...more,
        });
      await c("idempotent producer", init(null), {
        learn: (p: Peer, b: Any) => producerIds.set(p, b.producerId),
      });
      await c("transactional producer", init(`diff-transaction-v${v}`));
      await c(
        "transaction timeout over the maximum",
        init(`diff-transaction-big-v${v}`, { transactionTimeoutMs: 10_000_000 }),
      );
      if (v >= 3) {
        await c(
          "epoch bump of an idempotent producer",
          (p) => init(null, { producerId: producerIds.get(p) ?? -1n, producerEpoch: 0 }),
        );
      }
      if (v >= 2) await c("unknown tagged field", init(null), { mutate: withUnknownTag });
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("DescribeConfigs", async () => {
    const configured = `configured-v${versions("CreateTopics").at(-1)}`;
    for (const v of versions("DescribeConfigs")) {
      const r = (resourceType: number, resourceName: string, keys: string[] | null = null) => ({
        resourceType,
        resourceName,
        configurationKeys: keys,
      });
      const c = (label: string, resources: Struct[], extra = {}, more = {}) =>
        check({
          api: "DescribeConfigs",
          version: v,
          label,
          body: { resources, includeSynonyms: false, includeDocumentation: false, ...extra },
          ...more,
        });
      const named = ["retention.ms", "cleanup.policy", "max.message.bytes", "no.such.config"];
      await c("topic, every config", [r(2, TOPIC_A)]);
      await c("topic, named configs", [r(2, TOPIC_A, named)]);
      await c("topic created with a config", [r(2, configured, ["retention.ms"])]);
      await c("unknown topic", [r(2, UNKNOWN_TOPIC)]);
      await c("broker, named configs", [
        r(4, "0", ["num.partitions", "auto.create.topics.enable", "broker.id"]),
      ]);
      await c("broker, every config", [r(4, "0")]);
      await c("another broker", [r(4, "7")]);
      await c("broker name not a number", [r(4, "x")]);
      await c("cluster-wide broker defaults", [r(4, "")]);
      await c("unknown resource type", [r(99, "x")]);
      await c("topic and broker", [r(2, TOPIC_B, ["retention.ms"]), r(4, "0", ["num.partitions"])]);
      if (v >= 1) {
        await c("synonyms", [r(2, configured, ["retention.ms"])], { includeSynonyms: true });
      }
      if (v >= 3) {
        await c("documentation", [r(2, TOPIC_A, ["retention.ms"])], { includeDocumentation: true });
      }
      if (v >= 4) {
        await c("unknown tagged field", [r(2, TOPIC_A, ["retention.ms"])], {}, {
          mutate: withUnknownTag,
        });
      }
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("DescribeCluster", async () => {
    for (const v of versions("DescribeCluster")) {
      const c = (label: string, body: Struct, more = {}) =>
        check({ api: "DescribeCluster", version: v, label, body, ...more });
      await c("brokers", { includeClusterAuthorizedOperations: false, endpointType: 1 });
      await c("authorized operations", {
        includeClusterAuthorizedOperations: true,
        endpointType: 1,
      });
      if (v >= 1) {
        await c("controllers", { includeClusterAuthorizedOperations: false, endpointType: 2 });
        await c("unknown endpoint type", {
          includeClusterAuthorizedOperations: false,
          endpointType: 9,
        });
      }
      await c("unknown tagged field", {
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
      }, {
        mutate: withUnknownTag,
      });
    }
  });

  // -------------------------------------------------------------------------------------------
  await t.step("Metadata: internal topics", async () => {
    for (const v of versions("Metadata").filter((v) => v >= 4)) {
      await check({
        api: "Metadata",
        version: v,
        label: "internal topic",
        body: {
          topics: [{ name: "__consumer_offsets" }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        },
      });
    }
  });

  const ctx: CaseContext = {
    t,
    d,
    kafka,
    versions,
    served: (api) => served.get(api)!,
    kafkaServes,
    check,
    prepared,
    until,
  };
  await t.step("Fetch sessions", () => fetchSessionCases(ctx));

  // -------------------------------------------------------------------------------------------
  await t.step("every API and version Sluice serves ran", () => {
    const ran = new Set(d.results.map((r) => `${r.api} v${r.version}`));
    const missing = [...served.keys()].flatMap((api) =>
      versions(api).map((v) => `${api} v${v}`).filter((id) => !ran.has(id))
    );
    assert.deepEqual(missing, [], "served versions with no case");
    const untested = (Object.keys(APIS) as ApiName[]).filter((api) => !served.has(api));
    assert.deepEqual(untested, [], "APIs of the differential test that Sluice does not serve");
  });
}

/** Every difference allowed, every allowed one seen, every served API version exercised. */
async function verdict(t: Deno.TestContext, d: Differ): Promise<void> {
  const report = Deno.env.get("DIFF_REPORT");
  if (report) {
    const lines = d.results.flatMap((r) =>
      r.differences.map((x) => `${r.id}: ${showDifference(x)}`)
    );
    if (report === "1") console.log(lines.join("\n"));
    else Deno.writeTextFileSync(report, JSON.stringify(d.results, replacer, 1));
  }
  const { unexpected, stale } = judge(d.results, KNOWN_DIFFERENCES);
  await t.step("every difference is a known one", () => {
    assert.deepEqual(unexpected, [], `${unexpected.length} differences not in KNOWN_DIFFERENCES`);
  });
  await t.step("every known difference still occurs", () => {
    assert.deepEqual(stale, [], "KNOWN_DIFFERENCES entries to remove or correct");
  });
  await t.step("every known difference has its row in docs/kafka_differences.md, and back", () => {
    const docs = Deno.readTextFileSync(new URL("../../docs/kafka_differences.md", import.meta.url));
    const rows = new Set([...docs.matchAll(/^\| ([A-Z]{2}\d+) +\|/gm)].map((m) => m[1]));
    const cited = new Set(KNOWN_DIFFERENCES.map((k) => k.doc));
    assert.deepEqual([...cited].filter((id) => !rows.has(id)), [], "ids without a docs row");
    assert.deepEqual([...rows].filter((id) => !cited.has(id)), [], "docs rows no entry cites");
  });
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return v;
}
