/**
 * Kafka's own Java consumer (kafka-clients 4.x, the `consumer` group protocol of KIP-848) across a
 * leader's SIGKILL: it learns the new leader and leader epoch from Metadata, validates its position
 * with OffsetForLeaderEpoch (KIP-320) on the new leader, and goes on reading: every record
 * acknowledged with acks=all is read, in offset order, with no gap (some again, at the same offsets,
 * when the group's coordinator moved too), and the client reports no truncation.
 */
import assert from "node:assert/strict";
import {
  announceJavaSkip,
  javaClientAvailable,
  startJavaClient,
} from "../kafka_protocol/java_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster } from "./cluster_harness.ts";
import { kafkaOf } from "./fault_harness.ts";

announceEtcdSkip();
announceJavaSkip();

const TOPIC = "java-failover";

Deno.test({
  name: "cluster: the Java consumer follows a failover (OffsetForLeaderEpoch) and misses nothing",
  ignore: !etcdAvailable || !javaClientAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000"],
    });
    try {
      const kafka = kafkaOf(cluster.bootstrap(), "java-failover", 10_000);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{
          topic: TOPIC,
          numPartitions: 1,
          replicationFactor: 3,
          configEntries: [{ name: "min.insync.replicas", value: "2" }],
        }],
        waitForLeaders: true,
      });
      const consumer = await startJavaClient("java-consumer", [
        "consume",
        "--bootstrap",
        cluster.bootstrap().join(","),
        "--topic",
        TOPIC,
        "--group",
        "java-readers",
        "--protocol",
        "consumer",
        "--seconds",
        "120",
      ]);
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const acked: string[] = [];
      let next = 0;
      const send = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const value = `j${next++}`;
          await producer.send({ topic: TOPIC, acks: -1, messages: [{ value }] });
          acked.push(value);
        }
      };
      try {
        await send(50);
        await consumer.waitFor("the first records", () => consumer.records.length >= 50, 60_000);
        const leader = (await admin.fetchTopicMetadata({ topics: [TOPIC] })).topics[0]
          .partitions[0].leader;
        await cluster.killBroker(leader, "SIGKILL");
        await send(50);
        await cluster.startBroker(leader);
        await send(50);
        await consumer.waitFor(
          "every acknowledged record",
          () => new Set(consumer.records.map((r) => r.o)).size >= acked.length,
          60_000,
        );
      } finally {
        await producer.disconnect().catch(() => {});
        await consumer.stop();
      }
      // The group's coordinator may have been on the killed broker: a consumer that rejoins then
      // resumes from the last auto-commit and reads some records again (Kafka's at-least-once).
      // A record read again must carry the same value at the same offset (no divergence).
      const byOffset = new Map<number, string | null>();
      for (const r of consumer.records) {
        const seen = byOffset.get(r.o);
        if (seen !== undefined) assert.equal(r.v, seen, `offset ${r.o} read twice, differently`);
        byOffset.set(r.o, r.v);
      }
      const offsets = [...byOffset.keys()].sort((a, b) => a - b);
      assert.deepEqual(offsets, offsets.map((_, i) => i), "offsets 0.. with no gap");
      const values = offsets.map((o) => byOffset.get(o));
      assert.deepEqual(values, acked, "every acknowledged record, in order");
      assert.doesNotMatch(consumer.stderr(), /[Tt]runcation detected|LogTruncationException/);
      await admin.disconnect();
    } finally {
      await cluster.stop();
    }
  },
});
