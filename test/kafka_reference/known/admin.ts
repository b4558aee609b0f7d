/**
 * Known differences from Kafka 4.4: topics, producer ids, configs (described and altered), new
 * partitions, cluster (see ../known_differences.ts).
 */
import { ABSENT, type KnownDifference } from "../differential_lib.ts";
import { known } from "../known_differences.ts";

/** The cases that describe every config of a topic. */
const EVERY_TOPIC_CONFIG = ["topic, every config", "synonyms of defaults"];
const CREATED_ANY = [
  "new topic",
  "validate only",
  "with a config",
  "default partitions and replication",
  "manual assignment",
];

export const ADMIN_DIFFERENCES: readonly KnownDifference[] = [
  ...known("OV1", "CreateTopics", "0-1", "*", "(outcome)", { kafka: "<closed>" }),
  ...known("OV1", "DeleteTopics", "0", "*", "(outcome)", { kafka: "<closed>" }),
  ...known("OV1", "DescribeConfigs", "0", "*", "(outcome)", { kafka: "<closed>" }),

  // CreateTopics, DeleteTopics
  // CreateTopics v5+ answers the new topic's configs as DescribeConfigs shows them: CF1, CF8.
  ...known("CF1", "CreateTopics", "5-7", CREATED_ANY, "topics[*].configs[*]", { sluice: ABSENT }),
  ...known("CF1", "CreateTopics", "5-7", CREATED_ANY, "topics[*].configs[flush.policy]", {
    kafka: ABSENT,
  }),
  ...known("CF1", "CreateTopics", "5-7", CREATED_ANY, "topics[*].configs[flush.ms].value", {
    sluice: "1000",
  }),
  ...known(
    "CF8",
    "CreateTopics",
    "5-7",
    CREATED_ANY,
    "topics[*].configs[min.insync.replicas].configSource",
    { kafka: 3, sluice: 5 },
  ),

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
  ...known("CF1", "DescribeConfigs", "1-4", EVERY_TOPIC_CONFIG, "results[*].configs[*]", {
    sluice: ABSENT,
  }),
  ...known(
    "CF1",
    "DescribeConfigs",
    "1-4",
    EVERY_TOPIC_CONFIG,
    "results[*].configs[flush.policy]",
    {
      kafka: ABSENT,
    },
  ),
  ...known(
    "CF1",
    "DescribeConfigs",
    "1-4",
    EVERY_TOPIC_CONFIG,
    "results[*].configs[flush.ms].value",
    {
      sluice: "1000",
    },
  ),
  ...known("CF1", "DescribeConfigs", "1-4", "broker, every config", "results[0].configs[*]", {
    sluice: ABSENT,
  }),
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
  // The cluster-wide dynamic defaults KRaft keeps (min.insync.replicas) are CF8's.
  ...known(
    "CF8",
    "DescribeConfigs",
    "1-4",
    "cluster-wide broker defaults",
    "results[].configs[min.insync.replicas]",
    { sluice: ABSENT },
  ),
  ...known("CF7", "DescribeConfigs", "3-4", "documentation", "results[*].configs[*].documentation"),
  ...known(
    "CF8",
    "DescribeConfigs",
    "1-4",
    EVERY_TOPIC_CONFIG,
    "results[*].configs[min.insync.replicas].configSource",
    { kafka: 3, sluice: 5 },
  ),
  ...known(
    "CF8",
    "DescribeConfigs",
    "1-4",
    "synonyms of defaults",
    "results[*].configs[min.insync.replicas].synonyms[0].source",
    { kafka: 3, sluice: 5 },
  ),
  ...known(
    "CF8",
    "DescribeConfigs",
    "1-4",
    "synonyms of defaults",
    "results[*].configs[min.insync.replicas].synonyms[1]",
    { sluice: ABSENT },
  ),
  // DescribeCluster

  // AlterConfigs, IncrementalAlterConfigs
  ...known(
    "CF9",
    "AlterConfigs",
    "0-2",
    ["broker, validate only", "broker, unknown key"],
    "responses[0].errorCode",
    { kafka: 0, sluice: 40 },
  ),
  ...known(
    "CF9",
    "IncrementalAlterConfigs",
    "0-1",
    "broker, validate only",
    "responses[0].errorCode",
    {
      kafka: 0,
      sluice: 40,
    },
  ),
  ...known(
    "CF10",
    "IncrementalAlterConfigs",
    "0-1",
    "SUBTRACT every item of cleanup.policy, validate only",
    "responses[*].errorCode",
    { kafka: 0, sluice: 40 },
  ),
  ...known(
    "CF11",
    "IncrementalAlterConfigs",
    "0-1",
    "unknown operation",
    "responses[*].errorCode",
    {
      kafka: -1,
      sluice: 42,
    },
  ),

  // CreatePartitions
  ...known(
    "TP8",
    "CreatePartitions",
    "0-3",
    "validate only, over the partition limit",
    "results[*].errorCode",
    { kafka: 0, sluice: 37 },
  ),
];
