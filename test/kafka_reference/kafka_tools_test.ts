/**
 * Apache Kafka 4.4's own command-line tools against Sluice's real server (`withKafkaServer`:
 * `src/main.ts serve` as a subprocess, `--default-partitions 3`), each through the launcher of
 * scripts/install-kafka.sh, each checked on what it prints (parsed by kafka_tools_lib.ts) and,
 * where Sluice's HTTP API can say, against that too:
 * - kafka-topics: --create (3 partitions, replication factor 1, a config), --list, --describe,
 *   --delete and the topic gone;
 * - the console producer with headers and keys, the console consumer in a group reading them back
 *   exactly (headers in order, keys, UTF-8 values, a "|" inside a value), one key one partition;
 * - kafka-consumer-groups: --list, --describe (offsets, log end, lag), --reset-offsets
 *   --to-earliest --execute, then --describe again;
 * - kafka-configs --describe of the topic (its dynamic configs, then --all) and of broker 0 (--all);
 * - kafka-get-offsets at latest, earliest and a record's timestamp;
 * - kafka-producer-perf-test: 20,000 x 100 B into an auto-created topic, every record landed.
 * One server and 19 JVM starts (1-3 s each; about 30 s in all on 2 cores). Skipped loudly when
 * scripts/install-kafka.sh has not run (a failure under SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI).
 * The parsers are tested on their own below, without Kafka.
 */
import assert from "node:assert/strict";
import { fetchAll, highWatermarks, json } from "../http/server_harness.ts";
import { withKafkaServer } from "../kafka_protocol/kafka_harness.ts";
import {
  type ConsumedRecord,
  FORMATTER_PROPERTIES,
  parseConfigsDescribe,
  parseConsumerOutput,
  parseGetOffsets,
  parseGroupDescribe,
  parseGroupTable,
  parsePerfSummary,
  parseTopicDescribe,
  producerInput,
  READER_PROPERTIES,
  runTool,
  stdoutOf,
  type ToolRecord,
} from "./kafka_tools_lib.ts";
import { announceKafkaSkip, KAFKA_TOOLS, kafkaAvailable } from "./kafka_server.ts";

announceKafkaSkip();

const TOPIC = "tools-orders";
const PERF_TOPIC = "tools-perf";
const GROUP = "tools-group";
const PARTITIONS = 3;
const PERF_RECORDS = 20_000;

/** Keys repeat (one key, one partition, in order); headers repeat a name; values are UTF-8. */
const SENT: ToolRecord[] = [
  {
    key: "customer-7",
    value: `{"order":1,"note":"a b"}`,
    headers: [["region", "eu"], ["trace", "t-1"]],
  },
  { key: "customer-8", value: "héllo wörld ✓", headers: [["region", "us"]] },
  { key: "customer-7", value: "second for 7 | with a pipe", headers: [["src", "cli"]] },
  { key: "customer-9", value: "", headers: [["empty-value", "yes"]] },
  { key: "customer-8", value: "日本語の値", headers: [["tag", "a"], ["tag", "b"], ["tag", "c"]] },
  { key: "customer-10", value: "x".repeat(300), headers: [["size", "300"]] },
  { key: "customer-7", value: "third for 7", headers: [["src", "cli"], ["seq", "3"]] },
  { key: "customer-11", value: "last", headers: [["h", "v"]] },
];

Deno.test({
  name: "Kafka 4.4's CLI tools against Sluice: topics, console producer/consumer, consumer " +
    "groups, configs, get-offsets, producer perf test",
  ignore: !kafkaAvailable,
  async fn(t) {
    await withKafkaServer(
      { args: ["--default-partitions", String(PARTITIONS)] },
      async (server) => {
        const bootstrap = ["--bootstrap-server", server.bootstrap];
        const started = performance.now();
        let jvms = 0;
        const tool = async (
          what: string,
          className: string,
          args: readonly string[],
          stdin?: string,
        ): Promise<string> => {
          jvms++;
          return stdoutOf(what, await runTool(className, args, { stdin }), server);
        };
        const topics = (what: string, args: readonly string[]) =>
          tool(`kafka-topics ${what}`, KAFKA_TOOLS.topics, [...bootstrap, ...args]);
        const groups = (what: string, args: readonly string[]) =>
          tool(`kafka-consumer-groups ${what}`, KAFKA_TOOLS.consumerGroups, [
            ...bootstrap,
            ...args,
          ]);
        const configs = (what: string, args: readonly string[]) =>
          tool(`kafka-configs ${what}`, KAFKA_TOOLS.configs, [...bootstrap, "--describe", ...args]);
        const getOffsets = async (what: string, args: readonly string[]) =>
          parseGetOffsets(
            await tool(`kafka-get-offsets ${what}`, KAFKA_TOOLS.getOffsets, [
              ...bootstrap,
              ...args,
            ]),
          );

        /** As getOffsets, and the tool says nothing went wrong (an unsupported spec only logs). */
        const getOffsetsClean = async (spec: string) => {
          jvms++;
          const what = `kafka-get-offsets --time ${spec}`;
          const result = await runTool(KAFKA_TOOLS.getOffsets, [
            ...bootstrap,
            "--topic",
            TOPIC,
            "--time",
            spec,
          ]);
          const out = stdoutOf(what, result, server);
          assert.doesNotMatch(
            result.stderr,
            /not support|Exception|ERROR/,
            `${what}: stderr\n${result.stderr}`,
          );
          return parseGetOffsets(out);
        };

        await t.step(
          "kafka-topics --create: 3 partitions, replication factor 1, a config",
          async () => {
            const out = await topics("--create", [
              "--create",
              "--topic",
              TOPIC,
              "--partitions",
              String(PARTITIONS),
              "--replication-factor",
              "1",
              "--config",
              "retention.ms=3600000",
            ]);
            assert.equal(out.trim(), `Created topic ${TOPIC}.`);
            assert.deepEqual(await highWatermarks(server.server, TOPIC), [0, 0, 0]);
          },
        );

        await t.step("kafka-topics --list: the topic, nothing else", async () => {
          const out = await topics("--list", ["--list"]);
          assert.deepEqual(out.trim().split("\n"), [TOPIC]);
        });

        await t.step(
          "kafka-topics --describe: partitions, leader 0, replicas, ISR, the config",
          async () => {
            const [d, ...more] = parseTopicDescribe(
              await topics("--describe", ["--describe", "--topic", TOPIC]),
            );
            assert.equal(more.length, 0);
            assert.equal(d.topic, TOPIC);
            assert.match(d.topicId, /^[A-Za-z0-9_-]{22}$/);
            assert.notEqual(
              d.topicId,
              "AAAAAAAAAAAAAAAAAAAAAA",
              "a real topic id, not the zero UUID",
            );
            assert.equal(d.partitionCount, PARTITIONS);
            assert.equal(d.replicationFactor, 1);
            assert.deepEqual(d.configs, { "retention.ms": "3600000" });
            assert.deepEqual(
              d.partitions,
              [0, 1, 2].map((partition) => ({ partition, leader: 0, replicas: [0], isr: [0] })),
            );
          },
        );

        await t.step("the console producer sends keyed records with headers", async () => {
          const args = [...bootstrap, "--topic", TOPIC, "--request-required-acks", "all"];
          for (const p of READER_PROPERTIES) args.push("--reader-property", p);
          const out = await tool(
            "console producer",
            KAFKA_TOOLS.consoleProducer,
            args,
            producerInput(SENT),
          );
          assert.equal(out.trim(), "");
          // Stored as sent: Sluice's HTTP API shows the same keys, values and headers.
          const stored: ToolRecord[] = [];
          for (let p = 0; p < PARTITIONS; p++) {
            for (const r of await fetchAll(server.server, TOPIC, p)) {
              stored.push({
                key: r.key,
                value: r.value,
                headers: (r.headers as { key: string; value: string }[]).map((
                  h,
                ) => [h.key, h.value]),
              });
            }
          }
          assert.deepEqual(sortRecords(stored), sortRecords(SENT));
        });

        let consumed: ConsumedRecord[] = [];
        const countIn = (p: number) => consumed.filter((r) => r.partition === p).length;

        await t.step(
          "the console consumer (in a group) reads every record back exactly",
          async () => {
            const args = [
              ...bootstrap,
              "--topic",
              TOPIC,
              "--group",
              GROUP,
              "--from-beginning",
              "--max-messages",
              String(SENT.length),
              "--timeout-ms",
              "30000",
            ];
            for (const p of FORMATTER_PROPERTIES) args.push("--formatter-property", p);
            jvms++;
            const result = await runTool(KAFKA_TOOLS.consoleConsumer, args);
            consumed = parseConsumerOutput(stdoutOf("console consumer", result, server));
            assert.match(result.stderr, new RegExp(`Processed a total of ${SENT.length} messages`));
            assert.deepEqual(
              sortRecords(consumed.map(({ key, value, headers }) => ({ key, value, headers }))),
              sortRecords(SENT),
            );
            // One key, one partition; within a partition offsets 0, 1, ... in the producer's order.
            const partitionOf = new Map<string, number>();
            for (const r of consumed) {
              assert.equal(partitionOf.get(r.key) ?? r.partition, r.partition, `key ${r.key}`);
              partitionOf.set(r.key, r.partition);
              assert.ok(
                r.timestamp > Date.now() - 600_000 && r.timestamp <= Date.now(),
                `${r.timestamp}`,
              );
            }
            for (let p = 0; p < PARTITIONS; p++) {
              const inP = consumed.filter((r) => r.partition === p);
              assert.deepEqual(inP.map((r) => r.offset), inP.map((_, i) => i), `partition ${p}`);
              assert.deepEqual(
                inP.map((r) => r.value),
                SENT.filter((s) => partitionOf.get(s.key) === p).map((s) => s.value),
              );
            }
            assert.ok(new Set(partitionOf.values()).size > 1, "the keys spread over partitions");
          },
        );

        await t.step("kafka-consumer-groups --list: the group", async () => {
          const out = await groups("--list", ["--list"]);
          assert.deepEqual(out.trim().split("\n"), [GROUP]);
        });

        await t.step(
          "kafka-consumer-groups --describe: committed at the log end, lag 0",
          async () => {
            const rows = parseGroupDescribe(
              await groups("--describe", ["--describe", "--group", GROUP]),
            );
            assert.deepEqual(
              rows,
              [0, 1, 2].map((partition) => ({
                group: GROUP,
                topic: TOPIC,
                partition,
                currentOffset: countIn(partition),
                logEndOffset: countIn(partition),
                lag: 0,
                consumerId: "-", // the console consumer has left
              })),
            );
          },
        );

        await t.step("kafka-consumer-groups --reset-offsets --to-earliest --execute", async () => {
          const reset = parseGroupTable(
            await groups("--reset-offsets", [
              "--reset-offsets",
              "--to-earliest",
              "--execute",
              "--group",
              GROUP,
              "--topic",
              TOPIC,
            ]),
          ).sort((a, b) => Number(a.PARTITION) - Number(b.PARTITION));
          assert.deepEqual(
            reset,
            [0, 1, 2].map((p) => ({ GROUP, TOPIC, PARTITION: String(p), "NEW-OFFSET": "0" })),
          );
          const rows = parseGroupDescribe(
            await groups("--describe", ["--describe", "--group", GROUP]),
          );
          assert.deepEqual(
            rows.map((r) => [r.partition, r.currentOffset, r.logEndOffset, r.lag]),
            [0, 1, 2].map((p) => [p, 0, countIn(p), countIn(p)]),
          );
          // The same offsets through Sluice's HTTP API.
          const http = await json(`${server.httpUrl}/v1/groups/${GROUP}/offsets`);
          assert.deepEqual(
            (http.body.offsets as { topic: string; partition: number; offset: number }[])
              .map((o) => [o.topic, o.partition, o.offset]).sort(),
            [0, 1, 2].map((p) => [TOPIC, p, 0]),
          );
        });

        await t.step(
          "kafka-configs --describe: the topic's config, all configs, broker 0",
          async () => {
            const [dynamic, ...more] = parseConfigsDescribe(
              await configs("topic", ["--entity-type", "topics", "--entity-name", TOPIC]),
            );
            assert.equal(more.length, 0);
            assert.equal(dynamic.title, `Dynamic configs for topic ${TOPIC} are:`);
            assert.deepEqual(Object.keys(dynamic.entries), ["retention.ms"]);
            assert.equal(dynamic.entries["retention.ms"].value, "3600000");
            assert.equal(dynamic.entries["retention.ms"].sensitive, false);

            const [all] = parseConfigsDescribe(
              await configs("topic --all", [
                "--entity-type",
                "topics",
                "--entity-name",
                TOPIC,
                "--all",
              ]),
            );
            assert.equal(all.title, `All configs for topic ${TOPIC} are:`);
            const values = Object.fromEntries(
              Object.entries(all.entries).map(([k, e]) => [k, e.value]),
            );
            // The one set at creation, and Kafka's defaults for the rest.
            assert.equal(values["retention.ms"], "3600000");
            assert.equal(values["cleanup.policy"], "delete");
            assert.equal(values["retention.bytes"], "-1");
            assert.equal(values["max.message.bytes"], "1048588");
            assert.equal(values["segment.bytes"], "1073741824");
            assert.ok(Object.values(all.entries).every((e) => !e.sensitive));

            const [broker] = parseConfigsDescribe(
              await configs("broker 0 --all", [
                "--entity-type",
                "brokers",
                "--entity-name",
                "0",
                "--all",
              ]),
            );
            assert.equal(broker.title, "All configs for broker 0 are:");
            assert.equal(broker.entries["broker.id"]?.value, "0");
            assert.equal(broker.entries["num.partitions"]?.value, String(PARTITIONS));
            assert.equal(broker.entries["auto.create.topics.enable"]?.value, "true");
          },
        );

        await t.step("kafka-get-offsets: latest, earliest, by timestamp, -3 to -6", async () => {
          const latest = await getOffsets("(latest)", ["--topic", TOPIC]);
          assert.deepEqual(
            latest,
            [0, 1, 2].map((p) => ({ topic: TOPIC, partition: p, offset: countIn(p) })),
          );
          assert.deepEqual(await highWatermarks(server.server, TOPIC), latest.map((o) => o.offset));

          const earliest = await getOffsets("--time earliest", ["--topic", TOPIC, "--time", "-2"]);
          assert.deepEqual(
            earliest,
            [0, 1, 2].map((p) => ({ topic: TOPIC, partition: p, offset: 0 })),
          );

          // The newest timestamp: each partition answers its first record at or after it; a
          // partition with none is left out (Kafka answers offset -1 and the tool skips it).
          const ts = Math.max(...consumed.map((r) => r.timestamp));
          const expected = [0, 1, 2].flatMap((p) => {
            const hit = consumed.filter((r) => r.partition === p && r.timestamp >= ts)
              .sort((a, b) => a.offset - b.offset)[0];
            return hit ? [{ topic: TOPIC, partition: p, offset: hit.offset }] : [];
          });
          assert.ok(expected.length > 0);
          assert.deepEqual(
            await getOffsets(`--time ${ts}`, ["--topic", TOPIC, "--time", String(ts)]),
            expected,
          );

          // -3: each partition's record with its largest timestamp (the first one holding it).
          const maxTs = [0, 1, 2].flatMap((p) => {
            const mine = consumed.filter((r) => r.partition === p);
            if (mine.length === 0) return [];
            const top = Math.max(...mine.map((r) => r.timestamp));
            const first = mine.filter((r) => r.timestamp === top).sort((a, b) =>
              a.offset - b.offset
            );
            return [{ topic: TOPIC, partition: p, offset: first[0].offset }];
          });
          assert.deepEqual(await getOffsetsClean("-3"), maxTs);
          // -4: the earliest local offset (all of it is local); -5, -6: nothing is tiered, so
          // every partition answers -1 and the tool prints none of them.
          assert.deepEqual(await getOffsetsClean("-4"), earliest);
          for (const spec of ["-5", "-6"]) assert.deepEqual(await getOffsetsClean(spec), []);
        });

        await t.step("kafka-producer-perf-test: 20,000 x 100 B, every record lands", async () => {
          const out = await tool("kafka-producer-perf-test", KAFKA_TOOLS.producerPerf, [
            "--topic",
            PERF_TOPIC,
            "--num-records",
            String(PERF_RECORDS),
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--command-property",
            `bootstrap.servers=${server.bootstrap}`,
            "acks=all",
          ]);
          const summary = parsePerfSummary(out);
          assert.equal(summary.records, PERF_RECORDS);
          assert.ok(summary.recordsPerSec > 0 && summary.maxLatencyMs >= summary.avgLatencyMs);
          console.log(
            `  perf test: ${summary.recordsPerSec.toFixed(0)} records/s, ` +
              `${summary.avgLatencyMs} ms avg, ${summary.maxLatencyMs} ms max latency`,
          );
          // Auto-created with --default-partitions; the high watermarks add up.
          const hw = await highWatermarks(server.server, PERF_TOPIC);
          assert.equal(hw.length, PARTITIONS);
          assert.equal(hw.reduce((a, b) => a + b, 0), PERF_RECORDS, `high watermarks ${hw}`);
          const latest = await getOffsets("perf topic", ["--topic", PERF_TOPIC]);
          assert.deepEqual(latest.map((o) => o.offset), hw);
        });

        await t.step("kafka-topics --delete: the topic is gone", async () => {
          const out = await topics("--delete", ["--delete", "--topic", TOPIC]);
          assert.equal(out.trim(), "");
          assert.deepEqual((await topics("--list", ["--list"])).trim().split("\n"), [PERF_TOPIC]);
          const res = await json(`${server.httpUrl}/v1/topics/${TOPIC}`);
          assert.equal(res.status, 404, res.text);
        });

        console.log(
          `  ${jvms} tool runs in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
      },
    );
  },
});

function sortRecords(records: readonly ToolRecord[]): ToolRecord[] {
  return [...records].sort((a, b) => a.key.localeCompare(b.key) || a.value.localeCompare(b.value));
}

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
