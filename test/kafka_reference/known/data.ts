/**
 * Known differences from Kafka 4.4: ApiVersions, Metadata, Produce, Fetch, FindCoordinator (see ../known_differences.ts).
 */
import { ABSENT, type KnownDifference } from "../differential_lib.ts";
import { FETCH_SESSION_CASES_WITH_PARTITIONS } from "../cases/fetch_sessions.ts";
import { known } from "../known_differences.ts";

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

export const DATA_DIFFERENCES: readonly KnownDifference[] = [
  // ApiVersions
  ...known("AV1", "ApiVersions", "0-3", "*", "apiKeys[*]", { sluice: ABSENT }),
  ...SERVED_RANGES.flatMap(([key, field, sluice]) =>
    known("AV2", "ApiVersions", "0-3", "*", `apiKeys[${key}].${field}`, { sluice })
  ),
  ...known("AV3", "ApiVersions", "3", "*", ["supportedFeatures[*]", "finalizedFeatures[*]"], {
    sluice: ABSENT,
  }),
  ...known("AV3", "ApiVersions", "3", "*", "finalizedFeaturesEpoch", { sluice: -1 }),

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
    ["leader epoch from the future", "current leader epoch 0", "leader epoch -2"],
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
    [
      "last fetched epoch 0",
      "last fetched epoch newer than any",
      "last fetched epoch 0, offset past its end",
      "last fetched epoch -5",
    ],
    "responses[*].partitions[*].abortedTransactions",
    { kafka: null, sluice: [] },
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
  ...known("FE3", "Fetch", "12", "last fetched epoch newer than any", [
    "responses[diff-a].partitions[0].highWatermark",
    "responses[diff-a].partitions[0].lastStableOffset",
    "responses[diff-a].partitions[0].logStartOffset",
  ], { kafka: -1 }),

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
];
