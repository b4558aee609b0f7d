/**
 * DeleteRecords in a cluster (src/broker/delete_records.ts, src/cluster/low_watermark.ts, the
 * follower's side in replica_fetcher.ts), with real processes: three brokers, a topic of
 * replication factor 3.
 * - On the wire, only the leader deletes (NOT_LEADER_OR_FOLLOWER elsewhere); kafkajs's
 *   deleteTopicRecords goes to the leader, which answers once every replica's log start has
 *   reached the offset: each broker's own replica (its HTTP topic description) shows it at once.
 * - Over HTTP, any broker takes it and forwards it to the leader.
 * - A live follower that does not fetch (SIGSTOPped) holds the answer back until the request's
 *   timeout: REQUEST_TIMED_OUT, deleted on the leader all the same.
 * - After the leader is SIGKILLed, the new leader's earliest offset is the deleted-to offset, and
 *   the old leader comes back with it (kept in its recovery checkpoint).
 * - A follower that was down while records were written and deleted past its log end comes back,
 *   asks the leader where its log starts (ListOffsets) and restarts its log there.
 */
import assert from "node:assert/strict";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import {
  DELETE_RECORDS_REQUEST,
  DELETE_RECORDS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_records.ts";
import { callOnce } from "../kafka_protocol/kafka_wire_util.ts";
import { type TestCluster, TestCluster as Cluster, waitFor } from "./cluster_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import {
  brokerPid,
  createTopic,
  kafkaOf,
  kafkaPort,
  metadataFrom,
  pauseProcess,
  resumeProcess,
} from "./fault_harness.ts";

announceEtcdSkip();

const TOPIC = "trimmed";

/** Each running broker's own replica's log start offset (its HTTP topic description). */
async function logStarts(cluster: TestCluster): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const [id, b] of cluster.brokers) {
    const res = await fetch(`${b.url}/v1/topics/${TOPIC}`);
    assert.equal(res.status, 200, `broker ${id} describes ${TOPIC}`);
    const d = await res.json();
    out.set(id, d.partitions[0].logStartOffset);
  }
  return out;
}

async function deleteOnce(
  port: number,
  offset: bigint,
  timeoutMs = 10_000,
): Promise<[bigint, number]> {
  const body = await callOnce(port, DELETE_RECORDS_REQUEST, DELETE_RECORDS_RESPONSE, 2, {
    topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, offset }] }],
    timeoutMs,
  });
  const p = ((body.topics as Struct[])[0].partitions as Struct[])[0];
  return [p.lowWatermark as bigint, p.errorCode as number];
}

/** Produces `count` records to partition 0 (acks=all), 10 a send. */
async function produce(cluster: TestCluster, from: number, count: number): Promise<void> {
  const producer = kafkaOf(cluster.bootstrap(), "delrec-producer", 10_000).producer({
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    for (let i = from; i < from + count; i += 10) {
      await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: Array.from({ length: 10 }, (_, j) => ({
          value: `r${i + j}-${"x".repeat(40)}`,
          partition: 0,
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

Deno.test({
  name: "cluster DeleteRecords: answered by the leader once every replica's log start is there",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await Cluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000", "--replica-lag-time-max-ms", "10000"],
    });
    try {
      await createTopic(cluster.bootstrap(), {
        topic: TOPIC,
        replicationFactor: 3,
        config: { "segment.bytes": "1024" },
      });
      await produce(cluster, 0, 100);
      const leaderOf = async (via: number) =>
        (await metadataFrom(kafkaPort(cluster, via), TOPIC)).partitions[0];
      const first = await waitFor("a full ISR", async () => {
        const p = await leaderOf([...cluster.brokers.keys()][0]);
        return p.isr.length === 3 ? p : undefined;
      }, 60_000);
      const leader = first.leader;
      const followers = [...cluster.brokers.keys()].filter((id) => id !== leader);

      await t.step("a follower refuses it: NOT_LEADER_OR_FOLLOWER, nothing deleted", async () => {
        for (const id of followers) {
          assert.deepEqual(await deleteOnce(kafkaPort(cluster, id), 10n), [
            -1n,
            KafkaError.NOT_LEADER_OR_FOLLOWER,
          ]);
        }
        assert.deepEqual([...(await logStarts(cluster)).values()], [0, 0, 0]);
      });

      await t.step(
        "kafkajs deleteTopicRecords: every replica starts there when answered",
        async () => {
          const admin = kafkaOf(cluster.bootstrap(), "delrec-admin", 10_000).admin();
          await admin.connect();
          try {
            await admin.fetchTopicMetadata({ topics: [TOPIC] });
            await admin.deleteTopicRecords({
              topic: TOPIC,
              partitions: [{ partition: 0, offset: "40" }],
            });
            // No wait: the leader answered once each follower had told it its log start.
            assert.deepEqual(
              Object.fromEntries(await logStarts(cluster)),
              Object.fromEntries([...cluster.brokers.keys()].map((id) => [id, 40])),
            );
            const offsets = await admin.fetchTopicOffsets(TOPIC);
            assert.deepEqual(offsets.map((o) => [o.low, o.high]), [["40", "100"]]);
          } finally {
            await admin.disconnect();
          }
        },
      );

      await t.step("the leader answers the least log start of the replicas", async () => {
        assert.deepEqual(await deleteOnce(kafkaPort(cluster, leader), 55n), [55n, KafkaError.NONE]);
        assert.deepEqual([...(await logStarts(cluster)).values()], [55, 55, 55]);
        assert.deepEqual(await deleteOnce(kafkaPort(cluster, leader), 101n), [
          -1n,
          KafkaError.OFFSET_OUT_OF_RANGE,
        ]);
      });

      await t.step("over HTTP, a follower forwards it to the leader", async () => {
        const via = cluster.brokers.get(followers[0])!;
        const res = await fetch(`${via.url}/v1/topics/${TOPIC}/partitions/0/delete-records`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ beforeOffset: 60 }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        assert.equal(res.headers.get("sluice-forwarded-to"), String(leader));
        assert.deepEqual(await res.json(), { topic: TOPIC, partition: 0, lowWatermark: 60 });
        assert.deepEqual([...(await logStarts(cluster)).values()], [60, 60, 60]);
      });

      await t.step(
        "a follower that does not fetch holds the answer: REQUEST_TIMED_OUT",
        async () => {
          const paused = followers[1];
          await pauseProcess(brokerPid(cluster, paused));
          try {
            // Still live (its registration outlasts the pause), so the leader waits for it.
            assert.deepEqual(await deleteOnce(kafkaPort(cluster, leader), 65n, 300), [
              -1n,
              KafkaError.REQUEST_TIMED_OUT,
            ]);
          } finally {
            resumeProcess(brokerPid(cluster, paused));
          }
          // Deleted on the leader all the same; the follower catches up once it fetches again.
          assert.deepEqual(await deleteOnce(kafkaPort(cluster, leader), 65n), [
            65n,
            KafkaError.NONE,
          ]);
          assert.deepEqual([...(await logStarts(cluster)).values()], [65, 65, 65]);
        },
      );

      await t.step(
        "after a leader SIGKILL, the new leader starts at the deleted-to offset",
        async () => {
          await cluster.killBroker(leader, "SIGKILL");
          const next = await waitFor("a new leader", async () => {
            const p = await leaderOf(followers[0]);
            return p.leader >= 1 && p.leader !== leader ? p : undefined;
          }, 60_000);
          const admin = kafkaOf(cluster.bootstrap(), "delrec-admin-2", 10_000).admin();
          await admin.connect();
          try {
            const offsets = await waitFor("the new leader's offsets", async () => {
              const o = await admin.fetchTopicOffsets(TOPIC);
              return o[0].high === "100" ? o : undefined;
            });
            assert.deepEqual(offsets.map((o) => o.low), ["65"]);
          } finally {
            await admin.disconnect();
          }
          assert.ok(followers.includes(next.leader));
          await cluster.startBroker(leader);
          await waitFor("the old leader's replica starting at 65", async () => {
            const res = await fetch(`${cluster.brokers.get(leader)!.url}/v1/topics/${TOPIC}`);
            const d = await res.json();
            return res.status === 200 && d.partitions[0].logStartOffset === 65 ? true : undefined;
          });
          await waitFor("the old leader back in the ISR", async () => {
            const p = await leaderOf(next.leader);
            return p.isr.length === 3 ? true : undefined;
          }, 60_000);
        },
      );

      await t.step("a follower that was down restarts at the leader's log start", async () => {
        const current = (await leaderOf(followers[0])).leader;
        const lagging = [...cluster.brokers.keys()].find((id) => id !== current)!;
        await cluster.killBroker(lagging, "SIGKILL");
        await waitFor("the ISR without the stopped broker", async () => {
          const p = await leaderOf(current);
          return p.isr.includes(lagging) ? undefined : true;
        }, 60_000);
        await produce(cluster, 100, 50);
        assert.deepEqual(await deleteOnce(kafkaPort(cluster, current), 130n), [
          130n,
          KafkaError.NONE,
        ]);
        await cluster.startBroker(lagging);
        await waitFor("the restarted follower at the leader's log start and end", async () => {
          const starts = await logStarts(cluster);
          const res = await fetch(`${cluster.brokers.get(lagging)!.url}/v1/topics/${TOPIC}`);
          const d = await res.json();
          return starts.get(lagging) === 130 && d.partitions[0].highWatermark === 150
            ? true
            : undefined;
        }, 60_000);
        await waitFor("the restarted follower back in the ISR", async () => {
          const p = await leaderOf(current);
          return p.isr.length === 3 ? true : undefined;
        }, 60_000);
        assert.deepEqual([...(await logStarts(cluster)).values()], [130, 130, 130]);
        // It asked the leader where its log starts (Kafka's answer to a fetch out of range
        // carries none) and emptied its log to start there.
        assert.match(
          cluster.brokers.get(lagging)!.server.stderr(),
          /follower restarted its log at the leader's log start/,
        );
      });
    } finally {
      await cluster.stop();
    }
  },
});
