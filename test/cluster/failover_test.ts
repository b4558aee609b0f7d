/**
 * Failover under load, with real processes: three brokers, a topic of replication factor 3 and
 * min.insync.replicas 2, an idempotent kafkajs producer sending acks=all without pause. Each round
 * SIGKILLs the leader of partition 0 while the producer runs; a new leader must be elected from
 * the ISR, the producer must carry on, and the killed broker, restarted, must rejoin the ISR. At
 * the end every acknowledged record is there exactly once and in the order it was acknowledged,
 * and every replica's log is byte for byte the leader's.
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { kafkaOf, logBytes } from "./fault_harness.ts";

announceEtcdSkip();

const ROUNDS = 3;
const TOPIC = "failover";
const PARTITIONS = 2;

Deno.test({
  name: "cluster failover: SIGKILL the leader under acks=all load, nothing acknowledged is lost",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000", "--replica-lag-time-max-ms", "10000"],
    });
    const initial = cluster.bootstrap();
    try {
      const admin = kafkaOf(initial, "failover-admin", 10_000).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{
          topic: TOPIC,
          numPartitions: PARTITIONS,
          replicationFactor: 3,
          configEntries: [{ name: "min.insync.replicas", value: "2" }],
        }],
        waitForLeaders: true,
      });
      const partitionState = async (p: number) => {
        const m = await admin.fetchTopicMetadata({ topics: [TOPIC] });
        return m.topics[0].partitions.find((x) => x.partitionId === p)!;
      };

      // Acknowledged values per partition, in the order their sends resolved.
      const acked: string[][] = Array.from({ length: PARTITIONS }, () => []);
      const producer = kafkaOf(initial, "failover-producer", 10_000).producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      let running = true;
      let sent = 0;
      let failures = 0;
      const load = (async () => {
        while (running) {
          const p = sent % PARTITIONS;
          const value = `r${sent++}`;
          try {
            await producer.send({ topic: TOPIC, acks: -1, messages: [{ value, partition: p }] });
            acked[p].push(value);
          } catch {
            failures++; // not acknowledged: may or may not be there, at most once
          }
        }
      })();
      const ackedCount = () => acked[0].length + acked[1].length;

      for (let round = 1; round <= ROUNDS; round++) {
        await t.step(
          `round ${round}: kill partition 0's leader, a new one takes over`,
          async () => {
            const before = await waitFor("a full ISR", async () => {
              const s = await partitionState(0);
              return s.isr.length === 3 && s.leader >= 1 ? s : undefined;
            }, 60_000);
            const progress = ackedCount();
            await waitFor(
              "records acknowledged before the kill",
              () => ackedCount() >= progress + 20 ? true : undefined,
            );
            const victim = before.leader;
            assert.ok(cluster.brokers.has(victim));
            await cluster.killBroker(victim, "SIGKILL");
            const after = await waitFor("a new leader", async () => {
              const s = await partitionState(0);
              return s.leader >= 1 && s.leader !== victim ? s : undefined;
            }, 60_000);
            assert.ok(before.isr.includes(after.leader), "the new leader was in the ISR");
            const atElection = ackedCount();
            await waitFor(
              "acks=all writes after the failover",
              () => ackedCount() >= atElection + 20 ? true : undefined,
              60_000,
            );
            await cluster.startBroker(victim);
            await waitFor("the restarted broker back in the ISR", async () => {
              const s = await partitionState(0);
              return s.isr.includes(victim) && s.isr.length === 3 ? true : undefined;
            }, 60_000);
          },
        );
      }
      running = false;
      await load;
      await producer.disconnect();

      await t.step("every acknowledged record is there once, in order", async () => {
        const consumer = kafkaOf(cluster.bootstrap(), "failover-reader", 10_000).consumer({
          groupId: "failover-check",
        });
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        const seen: string[][] = Array.from({ length: PARTITIONS }, () => []);
        const ends = await admin.fetchTopicOffsets(TOPIC);
        const total = ends.reduce((n, o) => n + Number(o.high), 0);
        await consumer.run({
          eachMessage: ({ partition, message }) => {
            seen[partition].push(message.value!.toString());
            return Promise.resolve();
          },
        });
        await waitFor(
          "the whole log consumed",
          () => seen[0].length + seen[1].length >= total ? true : undefined,
          60_000,
        );
        await consumer.disconnect();
        for (let p = 0; p < PARTITIONS; p++) {
          const counts = new Map<string, number>();
          for (const v of seen[p]) counts.set(v, (counts.get(v) ?? 0) + 1);
          const dup = [...counts].find(([, n]) => n > 1);
          assert.equal(dup, undefined, `partition ${p}: a record twice: ${dup}`);
          const positions = acked[p].map((v) => seen[p].indexOf(v));
          const missing = acked[p].filter((_, i) => positions[i] < 0);
          assert.deepEqual(missing, [], `partition ${p}: acknowledged records lost`);
          for (let i = 1; i < positions.length; i++) {
            assert.ok(positions[i] > positions[i - 1], `partition ${p}: out of order at ${i}`);
          }
        }
        assert.ok(ackedCount() > ROUNDS * 40, `records acknowledged: ${ackedCount()}`);
        console.log(`acknowledged ${ackedCount()} of ${sent} sent (${failures} sends failed)`);
      });

      await t.step("every replica's log is byte for byte the same", async () => {
        for (let p = 0; p < PARTITIONS; p++) {
          const copies = await waitFor(`partition ${p}'s replicas in step`, async () => {
            const all = await Promise.all(
              [1, 2, 3].map((id) => logBytes(cluster.dataDir(id), TOPIC, p)),
            );
            return all.every((b) => b.length === all[0].length) ? all : undefined;
          }, 30_000);
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
