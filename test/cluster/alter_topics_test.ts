/**
 * A topic's configs and partition count changed in a running cluster, from any broker: the
 * change goes to etcd, every broker applies it to its logs (and keeps it across a restart), the
 * new partitions get replicas, leaders and in-sync replicas like a new topic's and take acks=all
 * writes.
 */
import assert from "node:assert/strict";
import { ConfigResourceTypes } from "kafkajs";
import { json } from "../http/server_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { kafkaOf } from "./fault_harness.ts";

announceEtcdSkip();

Deno.test({
  name: "cluster: configs and partitions altered from any broker reach every broker",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({ brokers: 3 });
    const admin = kafkaOf(cluster.bootstrap(), "alter-admin").admin();
    try {
      const [b1, b2, b3] = [1, 2, 3].map((n) => cluster.brokers.get(n)!);
      const created = await json(`${b1.url}/v1/topics`, {
        method: "POST",
        json: { name: "orders", partitions: 2, replicationFactor: 3 },
      });
      assert.equal(created.status, 201, created.text);
      await admin.connect();

      await t.step("AlterConfigs through one broker: every broker's logs run with it", async () => {
        await admin.alterConfigs({
          validateOnly: false,
          resources: [{
            type: ConfigResourceTypes.TOPIC,
            name: "orders",
            configEntries: [{ name: "retention.ms", value: "7200000" }, {
              name: "segment.bytes",
              value: "1048576",
            }],
          }],
        });
        for (const b of [b1, b2, b3]) {
          await waitFor(`broker ${b.nodeId} applies the configs`, async () => {
            const d = await json(`${b.url}/v1/topics/orders`);
            return d.body?.config["retention.ms"] === 7200000 &&
                d.body?.config["segment.bytes"] === 1048576
              ? d
              : undefined;
          });
        }
      });

      await t.step("a bad value through another broker: refused, nothing changed", async () => {
        await assert.rejects(
          admin.alterConfigs({
            validateOnly: false,
            resources: [{
              type: ConfigResourceTypes.TOPIC,
              name: "orders",
              configEntries: [{ name: "segment.bytes", value: "3" }],
            }],
          }),
          /INVALID_CONFIG|invalid/i,
        );
        const d = await json(`${b3.url}/v1/topics/orders`);
        assert.equal(d.body.config["segment.bytes"], 1048576);
      });

      await t.step(
        "PATCH partitions on broker 2: 5 partitions with replicas, leaders",
        async () => {
          const res = await json(`${b2.url}/v1/topics/orders`, {
            method: "PATCH",
            json: { partitions: 5 },
          });
          assert.equal(res.status, 200, res.text);
          assert.equal(res.body.partitions.length, 5);
          const meta = await waitFor("metadata with 5 partitions, each led", async () => {
            const m = await admin.fetchTopicMetadata({ topics: ["orders"] });
            const parts = m.topics[0].partitions;
            return parts.length === 5 && parts.every((p) => p.leader >= 1 && p.isr.length === 3)
              ? parts
              : undefined;
          });
          for (const p of meta) assert.equal(p.replicas.length, 3);
        },
      );

      await t.step(
        "acks=all writes to a new partition are acknowledged by its in-sync replicas",
        async () => {
          const producer = kafkaOf(cluster.bootstrap(), "alter-producer").producer();
          await producer.connect();
          try {
            const [r] = await producer.send({
              topic: "orders",
              acks: -1,
              messages: [{ value: "on-4", partition: 4 }],
            });
            assert.equal(r.partition, 4);
            assert.equal(r.errorCode, 0);
          } finally {
            await producer.disconnect();
          }
        },
      );

      await t.step("a restarted broker keeps both changes", async () => {
        assert.equal(await cluster.killBroker(3, "SIGTERM"), 0);
        const again = await cluster.startBroker(3);
        const d = await waitFor("broker 3 describes the topic", async () => {
          const r = await json(`${again.url}/v1/topics/orders`);
          return r.status === 200 ? r : undefined;
        });
        assert.equal(d.body.partitions.length, 5);
        assert.equal(d.body.config["retention.ms"], 7200000);
      });
    } finally {
      await admin.disconnect().catch(() => {});
      await cluster.stop();
    }
  },
});
