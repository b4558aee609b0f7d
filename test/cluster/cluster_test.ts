/**
 * A real three-broker cluster (three `serve` processes and a real etcd) driven by kafkajs:
 * membership (every broker listed, one controller, a second process with a live node id refused
 * with exit 2, an unreachable etcd refused at once), topic creation from any broker with
 * replicas over all three, acks=all produce through the partitions' leaders, consumption from the
 * high watermark, and every replica's log byte for byte the leader's.
 */
import assert from "node:assert/strict";
import { startServer } from "../http/server_harness.ts";
import {
  INIT_PRODUCER_ID_REQUEST,
  INIT_PRODUCER_ID_RESPONSE,
} from "../../src/kafka_protocol/messages/init_producer_id.ts";
import { callOnce } from "../kafka_protocol/kafka_wire_util.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { kafkaOf, logBytes } from "./fault_harness.ts";

announceEtcdSkip();

Deno.test({
  name: "cluster: three brokers on etcd, replicated topics, acks=all, identical replicas",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({ brokers: 3 });
    try {
      const kafka = kafkaOf(cluster.bootstrap(), "cluster-test", 10_000);
      const admin = kafka.admin();
      await admin.connect();

      await t.step("Metadata lists every broker and one controller, from any broker", async () => {
        const clusterIds = new Set<string>();
        for (const b of cluster.brokers.values()) {
          const one = kafkaOf([b.kafka], `describe-${b.nodeId}`, 10_000).admin();
          await one.connect();
          try {
            const described = await waitFor("three brokers", async () => {
              const d = await one.describeCluster();
              return d.brokers.length === 3 && d.controller !== null && d.controller >= 1
                ? d
                : undefined;
            });
            assert.deepEqual(described.brokers.map((x) => x.nodeId).sort(), [1, 2, 3]);
            clusterIds.add(described.clusterId);
            assert.deepEqual(
              described.brokers.map((x) => `${x.host}:${x.port}`).sort(),
              cluster.bootstrap().sort(),
            );
          } finally {
            await one.disconnect();
          }
        }
        assert.equal(clusterIds.size, 1, `one cluster id on every broker: ${[...clusterIds]}`);
      });

      await t.step("a second process with a live node id exits 2, naming it", async () => {
        const clash = await startServer({
          noDefaultFlags: true,
          args: [
            "--port",
            "0",
            "--kafka-port",
            "auto",
            "--node-id",
            "2",
            "--etcd",
            cluster.etcd.endpoint,
            "--data-dir",
            `${cluster.dir}/clash`,
          ],
        }).then(
          () => assert.fail("the clashing broker started"),
          (err: Error) => err.message,
        );
        assert.match(clash, /exit code 2/);
        assert.match(clash, /node id 2 is in use by a live broker at 127\.0\.0\.1:\d+/);
      });

      await t.step("an unreachable etcd fails start-up with exit 1 and says so", async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (listener.addr as Deno.NetAddr).port;
        listener.close(); // nothing listens there now
        const refused = await startServer({
          noDefaultFlags: true,
          args: [
            "--port",
            "0",
            "--kafka-port",
            "auto",
            "--node-id",
            "9",
            "--etcd",
            `http://127.0.0.1:${port}`,
            "--data-dir",
            `${cluster.dir}/no-etcd`,
          ],
        }).then(
          () => assert.fail("started without etcd"),
          (err: Error) => err.message,
        );
        assert.match(refused, /exit code 1/);
        assert.match(
          refused,
          /cannot join the cluster: etcd at http:\/\/127\.0\.0\.1:\d+ did not answer/,
        );
      });

      await t.step("producer ids are unique across the brokers (blocks from etcd)", async () => {
        const ids: bigint[] = [];
        for (let round = 0; round < 3; round++) {
          for (const b of cluster.brokers.values()) {
            const init = await callOnce(
              Number(b.kafka.split(":")[1]),
              INIT_PRODUCER_ID_REQUEST,
              INIT_PRODUCER_ID_RESPONSE,
              1,
              { transactionalId: null, transactionTimeoutMs: 60000 },
            );
            assert.equal(init.errorCode, 0);
            ids.push(init.producerId as bigint);
          }
        }
        assert.equal(new Set(ids).size, ids.length, `ids handed out: ${ids.join(", ")}`);
      });

      const topic = "replicated";
      await t.step(
        "a topic created on one broker has three replicas on every broker's view",
        async () => {
          const created = await admin.createTopics({
            topics: [{ topic, numPartitions: 3, replicationFactor: 3 }],
            waitForLeaders: true,
          });
          assert.equal(created, true);
          const leaders = new Set<number>();
          for (const b of cluster.brokers.values()) {
            const one = kafkaOf([b.kafka], `meta-${b.nodeId}`, 10_000).admin();
            await one.connect();
            try {
              const meta = await waitFor("the topic's partitions", async () => {
                const m = await one.fetchTopicMetadata({ topics: [topic] });
                const ps = m.topics[0].partitions;
                return ps.length === 3 && ps.every((p) => p.isr.length === 3) ? ps : undefined;
              });
              for (const p of meta) {
                assert.deepEqual([...p.replicas].sort(), [1, 2, 3]);
                assert.ok(p.replicas.includes(p.leader));
                leaders.add(p.leader);
              }
            } finally {
              await one.disconnect();
            }
          }
          assert.equal(
            leaders.size,
            3,
            "the three partitions' leaders are spread over the brokers",
          );
        },
      );

      const count = 300;
      await t.step("acks=all produce and a consumer read every record, in order", async () => {
        const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
        await producer.connect();
        for (let i = 0; i < count; i += 30) {
          await producer.send({
            topic,
            acks: -1,
            messages: Array.from({ length: 30 }, (_, j) => ({
              key: `k${(i + j) % 7}`,
              value: `v${i + j}`,
            })),
          });
        }
        await producer.disconnect();
        const offsets = await admin.fetchTopicOffsets(topic);
        assert.equal(offsets.reduce((n, o) => n + Number(o.high), 0), count);
        const consumer = kafka.consumer({ groupId: "cluster-readers" });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const seen: string[] = [];
        await consumer.run({
          eachMessage: ({ message }) => {
            seen.push(message.value!.toString());
            return Promise.resolve();
          },
        });
        await waitFor("every record consumed", () => seen.length >= count ? true : undefined);
        await consumer.disconnect();
        assert.equal(seen.length, count);
        assert.equal(new Set(seen).size, count);
      });

      await t.step("every replica's log is byte for byte the same", async () => {
        for (let p = 0; p < 3; p++) {
          const copies = await waitFor(`replicas of partition ${p} in step`, async () => {
            const all = await Promise.all(
              [1, 2, 3].map((id) => logBytes(cluster.dataDir(id), topic, p)),
            );
            return all.every((b) => b.length === all[0].length && b.length > 0) ? all : undefined;
          });
          assert.deepEqual(copies[1], copies[0]);
          assert.deepEqual(copies[2], copies[0]);
        }
      });
      await admin.disconnect();
    } finally {
      await cluster.stop();
    }
  },
});
