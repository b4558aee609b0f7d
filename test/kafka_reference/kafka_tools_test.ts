/**
 * Apache Kafka 4.4's own command-line tools against Sluice: for now the parsers of
 * kafka_tools_lib.ts, on outputs the tools printed against Sluice's server.
 */
import assert from "node:assert/strict";
import {
  parseConfigsDescribe,
  parseConsumerOutput,
  parseGetOffsets,
  parseGroupDescribe,
  parseGroupTable,
  parsePerfSummary,
  parseTopicDescribe,
  producerInput,
  type ToolRecord,
} from "./kafka_tools_lib.ts";

// The parsers on outputs Kafka 4.4's tools printed against Sluice (no Kafka needed), and on lines
// they must refuse.

Deno.test("kafka_tools_lib parses kafka-topics --describe and refuses other lines", () => {
  const out =
    "Topic: t1\tTopicId: WDxcApEOQRC5Y8tfJ2E2SA\tPartitionCount: 2\tReplicationFactor: 1" +
    "\tConfigs: max.message.bytes=2000000,retention.ms=3600000\n" +
    "\tTopic: t1\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\tElr: N/A\tLastKnownElr: N/A\n" +
    "\tTopic: t1\tPartition: 1\tLeader: 1\tReplicas: 1,0\tIsr: \tElr: \tLastKnownElr: \n";
  assert.deepEqual(parseTopicDescribe(out), [{
    topic: "t1",
    topicId: "WDxcApEOQRC5Y8tfJ2E2SA",
    partitionCount: 2,
    replicationFactor: 1,
    configs: { "max.message.bytes": "2000000", "retention.ms": "3600000" },
    partitions: [
      { partition: 0, leader: 0, replicas: [0], isr: [0] },
      { partition: 1, leader: 1, replicas: [1, 0], isr: [] },
    ],
  }]);
  assert.throws(() => parseTopicDescribe("Error while executing topic command\n"), /unexpected/);
});

Deno.test("kafka_tools_lib: console producer input and consumer output round-trip", () => {
  const records: ToolRecord[] = [
    { key: "k-é", value: "héllo | wörld", headers: [["src", "cli"], ["src", "again"]] },
  ];
  assert.equal(producerInput(records), "src=cli;src=again|k-é|héllo | wörld\n");
  assert.throws(() => producerInput([{ key: "a|b", value: "v", headers: [["h", "v"]] }]));
  assert.throws(() => producerInput([{ key: "k", value: "v", headers: [] }]));
  assert.deepEqual(
    parseConsumerOutput(
      "CreateTime:1796307859389|Partition:2|Offset:7|src:cli;src:again|k-é|héllo | wörld\n" +
        "CreateTime:1796307859390|Partition:0|Offset:0|NO_HEADERS|k|\n",
    ),
    [
      { timestamp: 1796307859389, partition: 2, offset: 7, ...records[0] },
      { timestamp: 1796307859390, partition: 0, offset: 0, key: "k", value: "", headers: [] },
    ],
  );
  assert.throws(() => parseConsumerOutput("k\tv\n"), /unexpected console consumer line/);
});

Deno.test("kafka_tools_lib parses kafka-consumer-groups tables", () => {
  const describe =
    "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG" +
    "             CONSUMER-ID     HOST            CLIENT-ID\n" +
    "g1              t1              1          -               0               -" +
    "               -               -               -\n" +
    "g1              t1              0          1               3               2" +
    "               -               -               -\n";
  assert.deepEqual(parseGroupDescribe(describe), [
    {
      group: "g1",
      topic: "t1",
      partition: 0,
      currentOffset: 1,
      logEndOffset: 3,
      lag: 2,
      consumerId: "-",
    },
    {
      group: "g1",
      topic: "t1",
      partition: 1,
      currentOffset: undefined,
      logEndOffset: 0,
      lag: undefined,
      consumerId: "-",
    },
  ]);
  assert.deepEqual(
    parseGroupTable("\nGROUP  TOPIC  PARTITION  NEW-OFFSET\ng1     t1     2          0\n"),
    [{ GROUP: "g1", TOPIC: "t1", PARTITION: "2", "NEW-OFFSET": "0" }],
  );
  assert.throws(() => parseGroupTable("GROUP  TOPIC\ng1 t1 extra\n"), /columns/);
  assert.throws(() => parseGroupTable("Consumer group 'g1' does not exist.\n"), /no GROUP header/);
});

Deno.test("kafka_tools_lib parses kafka-configs, kafka-get-offsets and the perf test summary", () => {
  assert.deepEqual(
    parseConfigsDescribe(
      "Dynamic configs for topic t2 are:\n  retention.ms=3600000 sensitive=false " +
        "synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=3600000}\nDynamic configs for broker 0 are:\n",
    ),
    [
      {
        title: "Dynamic configs for topic t2 are:",
        entries: {
          "retention.ms": {
            value: "3600000",
            sensitive: false,
            synonyms: "DYNAMIC_TOPIC_CONFIG:retention.ms=3600000",
          },
        },
      },
      { title: "Dynamic configs for broker 0 are:", entries: {} },
    ],
  );
  assert.throws(() => parseConfigsDescribe("  a=b sensitive=false synonyms={}\n"), /unexpected/);
  assert.deepEqual(parseGetOffsets("t:1:0\nt:0:6732\n"), [
    { topic: "t", partition: 0, offset: 6732 },
    { topic: "t", partition: 1, offset: 0 },
  ]);
  assert.throws(() => parseGetOffsets("Skip getting offsets for t-0\n"), /unexpected/);
  assert.deepEqual(
    parsePerfSummary(
      "9841 records sent, 1968.2 records/sec (0.19 MB/sec), 120.1 ms avg latency, 400.0 ms max latency.\n" +
        "20000 records sent, 31347.962382 records/sec (2.99 MB/sec), 48.75 ms avg latency, " +
        "472.00 ms max latency, 52 ms 50th, 69 ms 95th, 71 ms 99th, 72 ms 99.9th.\n",
    ),
    {
      records: 20000,
      recordsPerSec: 31347.962382,
      mbPerSec: 2.99,
      avgLatencyMs: 48.75,
      maxLatencyMs: 472,
    },
  );
  assert.throws(() => parsePerfSummary("org.apache.kafka.common.errors.TimeoutException\n"));
});
