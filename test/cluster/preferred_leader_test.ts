/**
 * Preferred-leader election with real processes: after a broker is SIGKILLed its leaderships move;
 * once it is back and in the ISR, the controller moves them home (here every 500 ms; Kafka's
 * default and Sluice's is 300 s), each with a new leader epoch.
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { kafkaOf } from "./fault_harness.ts";

announceEtcdSkip();

Deno.test({
  name: "cluster: leaderships return to their preferred replicas after a broker comes back",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000", "--leader-imbalance-check-interval-ms", "500"],
    });
    try {
      const admin = kafkaOf(cluster.bootstrap(), "preferred", 10_000).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: "home", numPartitions: 6, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const partitions = async () =>
        (await admin.fetchTopicMetadata({ topics: ["home"] })).topics[0].partitions;
      /** Leader epochs by partition, from GET /v1/cluster (kafkajs does not show them). */
      const epochs = async (): Promise<Map<number, number>> => {
        const b = [...cluster.brokers.values()][0];
        const view = await (await fetch(`${b.url}/v1/cluster`)).json();
        const topic = view.topics.find((x: { name: string }) => x.name === "home");
        return new Map(
          topic.partitions.map((p: { partition: number; leaderEpoch: number }) => [
            p.partition,
            p.leaderEpoch,
          ]),
        );
      };
      const before = await partitions();
      assert.ok(before.every((p) => p.leader === p.replicas[0]), "created on preferred leaders");
      const victim = before[0].leader;
      await cluster.killBroker(victim, "SIGKILL");
      const moved = await waitFor("the victim's leaderships moved", async () => {
        const ps = await partitions();
        return ps.every((p) => p.leader !== victim && p.leader > 0) ? ps : undefined;
      });
      const movedEpochs = await epochs();
      await cluster.startBroker(victim);
      const home = await waitFor("every leadership home and every ISR full", async () => {
        const ps = await partitions();
        return ps.every((p) => p.leader === p.replicas[0] && p.isr.length === 3) ? ps : undefined;
      }, 60_000);
      assert.ok(moved.some((p) => p.replicas[0] === victim));
      const homeEpochs = await epochs();
      for (const p of home.filter((x) => x.replicas[0] === victim)) {
        assert.ok(
          homeEpochs.get(p.partitionId)! > movedEpochs.get(p.partitionId)!,
          "the move home bumped the leader epoch",
        );
      }
      await admin.disconnect();
    } finally {
      await cluster.stop();
    }
  },
});
