/**
 * Known differences from Kafka 4.4: ApiVersions, Metadata, Produce, Fetch, FindCoordinator (see ../known_differences.ts).
 */
import { ABSENT, type KnownDifference } from "../differential_lib.ts";
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
