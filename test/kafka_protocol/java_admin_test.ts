/**
 * Kafka's Java AdminClient, idempotent producer and a position-validating consumer (kafka-clients
 * 4.x, test/kafka_protocol/java/SluiceAdmin.java) against the real server, in three runs of the
 * program: `setup` (topics, cluster, configs, 600 idempotent records over 3 partitions, offsets,
 * a group's consume and commit, positions seeked with leader epoch 0 and validated by
 * OffsetForLeaderEpoch, the group admin APIs, incrementalAlterConfigs and createPartitions), then
 * the stored
 * batches read back over HTTP (one producer id, contiguous sequences, epoch 0), `truncation` (a
 * position past the end in epoch 0 is reported as log truncation by the consumer, as on Kafka) and
 * `teardown` (deleteRecords answering its low watermark, groups and topics deleted). Skipped,
 * loudly, when the client is not installed (scripts/install-kafka-java.sh); a failure in CI
 * (SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import assert from "node:assert/strict";
import { DEFAULT_TOPIC_CONFIG } from "../../src/broker/topic_config.ts";
import { decodeBatches } from "../../src/record/record_batch.ts";
import { type KafkaServer, withKafkaServer } from "./kafka_harness.ts";
import {
  announceJavaSkip,
  javaClientAvailable,
  type JavaEvent,
  startJavaClient,
} from "./java_harness.ts";

announceJavaSkip();

// deno-lint-ignore no-explicit-any
type Any = any;

const TOPIC = "java-admin";
const GROUP = "java-admin-group";
const RECORDS = 600;
const PARTITIONS = 3;
/** CreateTime of record i is BASE_TS + i (SluiceAdmin.java). */
const BASE_TS = 1_700_000_000_000;

interface Run {
  steps: Map<string, JavaEvent>;
  records: { p: number; o: number; k: string | null; v: string | null }[];
  stderr: string;
}

async function runAdmin(server: KafkaServer, command: string, extra: string[]): Promise<Run> {
  const client = await startJavaClient(
    `admin ${command}`,
    [command, "--bootstrap", server.bootstrap, "--topic", TOPIC, ...extra],
    "SluiceAdmin",
  );
  const code = await client.exited;
  assert.equal(code, 0, `SluiceAdmin ${command} exited ${code}\n${client.stderr().slice(-3000)}`);
  const steps = new Map<string, JavaEvent>();
  for (const e of client.events) if (e.event === "step") steps.set(e.step as string, e);
  return { steps, records: client.records, stderr: client.stderr() };
}

/** The step's result, asserting it succeeded. */
function ok(run: Run, step: string): Any {
  const e = run.steps.get(step);
  assert.ok(e !== undefined, `step ${step} ran`);
  assert.equal(e.ok, true, `step ${step}: ${e.error}: ${e.message}`);
  return e.result;
}

/** Asserts the step failed with the exception `error`. */
function failed(run: Run, step: string, error: string): void {
  const e = run.steps.get(step);
  assert.ok(e !== undefined, `step ${step} ran`);
  assert.equal(e.ok, false, `step ${step} should fail with ${error}: ${JSON.stringify(e.result)}`);
  assert.equal(e.error, error, `step ${step}: ${e.message}`);
}

Deno.test({
  name: "java AdminClient, idempotent producer and epoch-validating consumer against Sluice",
  ignore: !javaClientAvailable,
  fn: async (t) => {
    const started = performance.now();
    await withKafkaServer({}, async (server) => {
      const setup = await runAdmin(server, "setup", ["--group", GROUP, "--records", `${RECORDS}`]);

      await t.step("topics: create, refused config, existing, list, describe", () => {
        const created = ok(setup, "createTopics");
        assert.equal(created.partitions, PARTITIONS);
        assert.notEqual(created.topicId, "AAAAAAAAAAAAAAAAAAAAAA", "a real topic id");
        failed(setup, "createTopics refused config", "InvalidConfigurationException");
        failed(setup, "createTopics existing", "TopicExistsException");
        const names = ok(setup, "listTopics") as string[];
        assert.ok(names.includes(TOPIC), `${TOPIC} listed: ${names}`);
        assert.ok(!names.includes(`${TOPIC}-refused`), "the refused topic was not created");
        const described = ok(setup, "describeTopics");
        assert.equal(described.topicId, created.topicId);
        assert.equal(described.internal, false);
        assert.deepEqual(
          described.partitions.map((p: Any) => [p.partition, p.leader, p.replicas, p.isr]),
          [0, 1, 2].map((p) => [p, 0, [0], [0]]),
        );
      });

      await t.step("cluster and configs", () => {
        const cluster = ok(setup, "describeCluster");
        assert.deepEqual(cluster.nodes, [0]);
        assert.equal(cluster.controller, 0);
        assert.ok(typeof cluster.clusterId === "string" && cluster.clusterId.length > 0);
        const configs = ok(setup, "describeConfigs");
        assert.equal(configs["retention.ms"], "3600000");
        assert.equal(configs.source, "DYNAMIC_TOPIC_CONFIG");
        assert.ok(configs.entries > 5);
      });

      await t.step("idempotent producer: every record once, in order per partition", async () => {
        assert.deepEqual(ok(setup, "idempotent produce"), { acked: RECORDS });
        assert.equal(setup.records.length, RECORDS);
        for (let p = 0; p < PARTITIONS; p++) {
          const offsets = setup.records.filter((r) => r.p === p).map((r) => r.o).sort((a, b) =>
            a - b
          );
          assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p}: offsets 0..n-1`);
        }
        // Read back over HTTP: the stored batches carry one producer id, contiguous sequences
        // from 0, epoch 0, and hold every record once, in send order (record i in partition i%3).
        for (let p = 0; p < PARTITIONS; p++) {
          const batches = [];
          for (let offset = 0; offset < RECORDS / PARTITIONS;) {
            const res = await fetch(
              `${server.httpUrl}/v1/topics/${TOPIC}/partitions/${p}/records?offset=${offset}`,
              { headers: { accept: "application/vnd.kafka.recordbatch" } },
            );
            assert.equal(res.status, 200);
            const got = decodeBatches(new Uint8Array(await res.arrayBuffer()));
            assert.ok(got.length > 0, `batches at ${offset}`);
            batches.push(...got);
            offset = Number(res.headers.get("sluice-next-offset"));
          }
          assert.ok(batches.length > 1, `partition ${p}: ${batches.length} batches`);
          const producerId = batches[0].producerId;
          assert.ok(producerId >= 0, "an idempotent producer's id");
          let sequence = 0;
          const keys: string[] = [];
          for (const b of batches) {
            assert.equal(b.producerId, producerId, "one producer");
            assert.equal(b.producerEpoch, 0);
            assert.equal(b.baseSequence, sequence, `partition ${p}: contiguous sequences`);
            assert.equal(b.partitionLeaderEpoch, 0);
            sequence += b.records.length;
            for (const r of b.records) keys.push(new TextDecoder().decode(r.key!));
          }
          const want = Array.from({ length: RECORDS / PARTITIONS }, (_, i) => `k-${i * 3 + p}`);
          assert.deepEqual(keys, want, `partition ${p}: every record once, in order`);
        }
      });

      await t.step("listOffsets: earliest, latest, max timestamp (epoch 0)", () => {
        const offsets = ok(setup, "listOffsets");
        const perPartition = RECORDS / PARTITIONS;
        for (let p = 0; p < PARTITIONS; p++) {
          assert.equal(offsets.earliest[p].offset, 0);
          assert.equal(offsets.latest[p].offset, perPartition);
          assert.equal(offsets.latest[p].leaderEpoch, 0);
          // The last record of partition p has the largest timestamp: record 3*(n-1)+p.
          assert.equal(offsets.maxTimestamp[p].offset, perPartition - 1);
          assert.equal(offsets.maxTimestamp[p].timestamp, BASE_TS + 3 * (perPartition - 1) + p);
          assert.equal(offsets.maxTimestamp[p].leaderEpoch, 0);
        }
      });

      await t.step("consumers: a group reads everything; validated positions keep", async () => {
        const consumed = ok(setup, "group consume");
        assert.equal(consumed.records, RECORDS);
        for (let p = 0; p < PARTITIONS; p++) {
          const seen = consumed.partitions[p] as string[];
          assert.equal(seen.length, RECORDS / PARTITIONS);
          assert.equal(new Set(seen).size, seen.length, "each record once");
        }
        // Seeked to the middle with leader epoch 0: OffsetForLeaderEpoch confirms the position,
        // no reset (auto.offset.reset=none would throw) and no truncation.
        const validated = ok(setup, "validated positions");
        const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
        const asked = metrics.match(
          /sluice_kafka_requests_total\{api="OffsetForLeaderEpoch"\} (\d+)/,
        );
        assert.ok(
          asked !== null && Number(asked[1]) >= 1,
          "the consumer sent OffsetForLeaderEpoch",
        );
        const half = Math.floor(RECORDS / PARTITIONS / 2);
        assert.deepEqual(validated.firstOffsets, { 0: half, 1: half, 2: half });
        assert.deepEqual(validated.ends, { 0: 200, 1: 200, 2: 200 });
        assert.doesNotMatch(setup.stderr, /[Tt]runcation/, "no truncation reported");
        // The only resets are the group consumer's first positions (no commit yet): to 0.
        for (const line of setup.stderr.split("\n").filter((l) => /Resetting offset/.test(l))) {
          assert.match(line, /offset=0[,}]/, `a reset elsewhere than 0: ${line}`);
        }
      });

      await t.step("group admin: list, describe, offsets, alter, delete offsets", () => {
        const groups = ok(setup, "listConsumerGroups");
        assert.equal(groups[GROUP], "Empty");
        const described = ok(setup, "describeConsumerGroups");
        assert.deepEqual(described, { state: "Empty", members: 0, coordinator: 0 });
        const end = RECORDS / PARTITIONS;
        assert.deepEqual(ok(setup, "listConsumerGroupOffsets"), { 0: end, 1: end, 2: end });
        assert.deepEqual(ok(setup, "alterConsumerGroupOffsets"), { 0: 1, 1: end, 2: end });
        assert.deepEqual(ok(setup, "deleteConsumerGroupOffsets"), { 1: end, 2: end });
      });

      await t.step("incrementalAlterConfigs and createPartitions change the topic", () => {
        // SET retention.ms, APPEND "delete" to cleanup.policy (which holds it by default): both
        // then set on the topic itself, as describeConfigs shows.
        assert.deepEqual(ok(setup, "incrementalAlterConfigs"), {
          "cleanup.policy": { value: "delete", source: "DYNAMIC_TOPIC_CONFIG" },
          "max.message.bytes": {
            value: String(DEFAULT_TOPIC_CONFIG["max.message.bytes"]),
            source: "DEFAULT_CONFIG",
          },
          "retention.ms": { value: "7200000", source: "DYNAMIC_TOPIC_CONFIG" },
        });
        failed(
          setup,
          "incrementalAlterConfigs APPEND to a key that is not a list",
          "InvalidConfigurationException",
        );
        assert.deepEqual(ok(setup, "createPartitions"), {
          partitions: PARTITIONS + 1,
          leaders: [0, 0, 0, 0],
        });
      });

      await t.step("a position past the end of epoch 0 is log truncation", async () => {
        const run = await runAdmin(server, "truncation", []);
        const result = ok(run, "seek past the end in epoch 0");
        assert.deepEqual(result, {
          end: RECORDS / PARTITIONS,
          divergentOffset: RECORDS / PARTITIONS,
          divergentEpoch: 0,
        });
      });

      await t.step("teardown: delete records, the group and the topic", async () => {
        const run = await runAdmin(server, "teardown", ["--group", GROUP]);
        // Partition 0 starts at 100 now: its low watermark, and ListOffsets' earliest.
        assert.deepEqual(ok(run, "deleteRecords"), { lowWatermark: 100, earliest: 100 });
        assert.ok(!ok(run, "deleteConsumerGroups").groupsLeft.includes(GROUP));
        assert.ok(!ok(run, "deleteTopics").topicsLeft.includes(TOPIC));
      });
    });
    console.log(`java_admin_test: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  },
});
