/**
 * Fast failure detection (src/cluster/failure_detector.ts), with real processes: with a session
 * timeout of 60 s, a SIGKILLed leader is still replaced within seconds, because its followers'
 * connections to it are refused and they end its lease; and it can start again at once, its old
 * registration gone. (A paused broker refuses nothing and keeps its registration until its
 * session ends: the fencing tests cover it.)
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { kafkaOf } from "./fault_harness.ts";

announceEtcdSkip();

Deno.test({
  name: "cluster: a killed leader is replaced long before its 60 s session ends",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "60000"],
    });
    try {
      const admin = kafkaOf(cluster.bootstrap(), "fast-detection", 10_000).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: "fast", numPartitions: 1, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const state = async () =>
        (await admin.fetchTopicMetadata({ topics: ["fast"] })).topics[0].partitions[0];
      const victim = (await state()).leader;

      await t.step("SIGKILL: followers see the refusal and end its registration", async () => {
        await cluster.killBroker(victim, "SIGKILL");
        // Half the session timeout: only the refused connections can have done it.
        const next = await waitFor("a new leader", async () => {
          const s = await state();
          return s.leader > 0 && s.leader !== victim ? s : undefined;
        }, 30_000);
        assert.notEqual(next.leader, victim);
        const described = await admin.describeCluster();
        assert.ok(!described.brokers.some((b) => b.nodeId === victim), "deregistered");
      });

      await t.step("it starts again at once: its old registration is gone", async () => {
        await cluster.startBroker(victim);
        await waitFor("back in the ISR", async () => {
          const s = await state();
          return s.isr.includes(victim) ? true : undefined;
        }, 30_000);
      });
      await admin.disconnect();
    } finally {
      await cluster.stop();
    }
  },
});
