/**
 * Consumer groups in a cluster, with real processes: a group's coordinator is the leader of its
 * `__consumer_offsets` partition (created on the first FindCoordinator, replicated three ways);
 * another broker answers its group requests with NOT_COORDINATOR; when the coordinator is
 * SIGKILLed, FindCoordinator names the new leader, which has every commit, and the group's
 * consumers carry on from their committed offsets.
 */
import assert from "node:assert/strict";
import {
  FIND_COORDINATOR_REQUEST,
  FIND_COORDINATOR_RESPONSE,
} from "../../src/kafka_protocol/messages/find_coordinator.ts";
import {
  OFFSET_COMMIT_REQUEST,
  OFFSET_COMMIT_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_commit.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { callOnce } from "../kafka_protocol/kafka_wire_util.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { kafkaOf } from "./fault_harness.ts";

announceEtcdSkip();

const TOPIC = "orders";
const GROUP = "billing";

function portOf(address: string): number {
  return Number(address.split(":")[1]);
}

Deno.test({
  name:
    "cluster groups: the coordinator is the offsets partition's leader, commits survive its death",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000"],
    });
    try {
      const kafka = kafkaOf(cluster.bootstrap(), "groups-test", 10_000);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      const sendBatch = async (from: number, n: number) => {
        await producer.send({
          topic: TOPIC,
          acks: -1,
          messages: Array.from(
            { length: n },
            (_, i) => ({ key: `k${from + i}`, value: `v${from + i}` }),
          ),
        });
      };
      await sendBatch(0, 60);

      const findCoordinator = async (via: string) => {
        const r = await callOnce(
          portOf(via),
          FIND_COORDINATOR_REQUEST,
          FIND_COORDINATOR_RESPONSE,
          3,
          {
            key: GROUP,
            keyType: 0,
          },
        );
        return r;
      };

      let coordinator = -1;
      await t.step("FindCoordinator names one broker, the same from every broker", async () => {
        const answers = await waitFor("a coordinator", async () => {
          const all: Struct[] = [];
          for (const b of cluster.brokers.values()) all.push(await findCoordinator(b.kafka));
          return all.every((a) => a.errorCode === 0 && a.nodeId === all[0].nodeId)
            ? all
            : undefined;
        });
        coordinator = answers[0].nodeId as number;
        assert.ok(cluster.brokers.has(coordinator));
        assert.equal(
          `${answers[0].host}:${answers[0].port}`,
          cluster.brokers.get(coordinator)!.kafka,
        );
        const meta = await admin.fetchTopicMetadata({ topics: ["__consumer_offsets"] });
        assert.equal(meta.topics[0].partitions.length, 50);
        assert.ok(meta.topics[0].partitions.every((p) => p.replicas.length === 3));
      });

      await t.step("a group request to another broker is NOT_COORDINATOR", async () => {
        const other = [...cluster.brokers.values()].find((b) => b.nodeId !== coordinator)!;
        const r = await callOnce(
          portOf(other.kafka),
          OFFSET_COMMIT_REQUEST,
          OFFSET_COMMIT_RESPONSE,
          2,
          {
            groupId: GROUP,
            generationIdOrMemberEpoch: -1,
            memberId: "",
            retentionTimeMs: -1n,
            topics: [{
              name: TOPIC,
              partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }],
            }],
          },
        );
        const code = ((r.topics as Struct[])[0].partitions as Struct[])[0].errorCode;
        assert.equal(code, 16, "NOT_COORDINATOR");
      });

      const seen = new Set<string>();
      await t.step("a consumer group consumes and commits", async () => {
        const consumer = kafka.consumer({ groupId: GROUP });
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        await consumer.run({
          autoCommitInterval: 100,
          eachMessage: ({ message }) => {
            seen.add(message.value!.toString());
            return Promise.resolve();
          },
        });
        await waitFor("60 records", () => seen.size >= 60 ? true : undefined);
        await consumer.disconnect(); // commits what it consumed
        const committed = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
        const total = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
        assert.equal(total, 60, "every consumed record committed");
      });

      await t.step("the coordinator SIGKILLed: a new one has every commit", async () => {
        await cluster.killBroker(coordinator, "SIGKILL");
        const survivor = [...cluster.brokers.values()][0];
        const next = await waitFor("a new coordinator", async () => {
          const r = await findCoordinator(survivor.kafka);
          return r.errorCode === 0 && r.nodeId !== coordinator ? r.nodeId as number : undefined;
        });
        assert.ok(cluster.brokers.has(next));
        const admin2 = kafkaOf(cluster.bootstrap(), "groups-test-2", 10_000).admin();
        await admin2.connect();
        try {
          const committed = await waitFor("the commits from the new coordinator", async () => {
            const c = await admin2.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
            const total = c[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
            return total === 60 ? c : undefined;
          });
          assert.equal(committed[0].partitions.length, 3);
        } finally {
          await admin2.disconnect();
        }
      });

      await t.step("the group's new consumer starts where the commits say", async () => {
        const producer2 = kafkaOf(cluster.bootstrap(), "groups-producer-2", 10_000).producer();
        await producer2.connect();
        await producer2.send({
          topic: TOPIC,
          acks: -1,
          messages: Array.from(
            { length: 30 },
            (_, i) => ({ key: `k${60 + i}`, value: `v${60 + i}` }),
          ),
        });
        await producer2.disconnect();
        const consumer = kafkaOf(cluster.bootstrap(), "groups-test-3", 10_000).consumer({
          groupId: GROUP,
        });
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        const after: string[] = [];
        await consumer.run({
          eachMessage: ({ message }) => {
            after.push(message.value!.toString());
            return Promise.resolve();
          },
        });
        await waitFor("the 30 new records", () => after.length >= 30 ? true : undefined, 60_000);
        await consumer.disconnect();
        assert.equal(after.length, 30, `re-read: ${after.filter((v) => seen.has(v)).join(",")}`);
        assert.ok(after.every((v) => !seen.has(v)), "nothing committed was read again");
      });
      await producer.disconnect().catch(() => {});
      await admin.disconnect();
    } finally {
      await cluster.stop();
    }
  },
});
