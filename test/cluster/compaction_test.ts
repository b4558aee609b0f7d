/**
 * Log compaction in a cluster (issue 16), with real processes: three brokers, each cleaning its
 * own replicas of compacted topics (the registry's CleanerManager, log.cleaner.backoff.ms 50), a
 * topic of two partitions on replicas 1, 3, 2 (broker 1 leads, broker 3 is next in line) with
 * cleanup.policy=compact, segments of 16 KiB and min.cleanable.dirty.ratio 0.01. Each round
 * updates every key of both partitions; in partition 1 each round's batch also writes a key of
 * its own, so that a clean there removes no whole batch but shortens each one (records missing
 * inside batches), while in partition 0 it removes whole batches (gaps between them).
 *
 * - Broker 3 is SIGKILLed once it holds the first rounds; the controller drops it from the ISR.
 *   Many more updates per key, and tombstones, are written with acks=all while it is down, and
 *   the leader's cleaner compacts past broker 3's log end (/metrics count reclaimed bytes; its
 *   files lack offsets there).
 * - min.compaction.lag.ms is raised to a day (broker 3, down, learns it from etcd as it comes
 *   back), so that no broker cleans from then on: what broker 3 fetches stays as the leader's
 *   cleaner wrote it until the crash below. Its own cleaner would otherwise rewrite those segments
 *   within a few backoffs, and a rewritten segment is marked compacted whatever the fetch did.
 * - Restarted, broker 3 catches up from the compacted leader across the gaps
 *   (PartitionLog.appendReplicated, append_rules.ts checkReplicatedOffsets,
 *   LogCompaction.allowGaps) and rejoins the ISR; its own replicas show no damage, are online and
 *   end where the leader's end.
 * - Broker 3 is SIGKILLed again and its recovery checkpoints removed (a crash before any was
 *   written: every segment is recovered): it recovers its replicas without truncating or deleting
 *   anything (an unmarked segment holding the leader's shortened batches would be cut at the
 *   first), and rejoins the ISR.
 * - min.compaction.lag.ms back to 0 (the default): broker 3's own cleaner cleans its replicas without
 *   marking them uncleanable.
 * - Broker 1 is SIGKILLed, broker 3 leads, and a kafkajs consumer from offset 0 reads each key's
 *   latest value from it (tombstones as null, kept by delete.retention.ms), offsets increasing.
 * - __consumer_offsets, created by the cluster for that consumer's group, is compacted.
 */
import assert from "node:assert/strict";
import { decodeBatches } from "../../src/record/record_batch.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { type TestCluster, TestCluster as Cluster, waitFor } from "./cluster_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { createTopic, EtcdProbe, kafkaOf, logBytes } from "./fault_harness.ts";

announceEtcdSkip();

const TOPIC = "table";
const GROUP = "table-reader";
const PARTITIONS = [0, 1];
const KEYS = 50;
/** Rounds of one update per key written before broker 3 is killed, and after. */
const ROUNDS_BEFORE = 8;
const ROUNDS_AFTER = 32;
const ROUNDS = ROUNDS_BEFORE + ROUNDS_AFTER;
const PAD = "x".repeat(60);
/** Offsets of each partition once every round is written. */
const TOTAL = [KEYS * ROUNDS, (KEYS + 1) * ROUNDS];
/** What recovery logs when it cuts a log short (segment_recovery.ts, log_loader.ts). */
const RECOVERY_CUTS = ["truncating a torn or corrupt log tail", "deleting a segment after"];

/** Round `round`'s records of partition `p`: a null value is a tombstone. */
function roundOf(p: number, round: number): { key: string; value: string | null }[] {
  const out = Array.from({ length: KEYS }, (_, k) => ({
    key: `k${k}`,
    // Every fifth key ends deleted; every seventh is deleted halfway and written again.
    value: (round === ROUNDS - 1 && k % 5 === 0) || (round === 20 && k % 7 === 0)
      ? null
      : `v${p}.${k}-${round}-${PAD}`,
  }));
  if (p === 1) out.push({ key: `own${round}`, value: `own-${round}` });
  return out;
}

/** Each key's latest value in partition `p` after every round, as the test wrote them. */
function expected(p: number): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of roundOf(p, round)) out.set(r.key, r.value);
  }
  return out;
}

/** What a replica's files hold: the log end and the offsets of its records. */
interface ReplicaFiles {
  logEndOffset: number;
  offsets: number[];
}

/**
 * Broker `nodeId`'s replica of partition `p`, from its files. A clean may swap segments while
 * they are read (a file gone, or one read twice): the caller retries (waitFor) on a throw, and
 * the log end is the greatest batch end found, which a segment read twice does not change.
 */
async function replicaFiles(
  cluster: TestCluster,
  nodeId: number,
  p: number,
): Promise<ReplicaFiles> {
  const offsets = new Set<number>();
  let logEndOffset = 0;
  for (const b of decodeBatches(await logBytes(cluster.dataDir(nodeId), TOPIC, p))) {
    logEndOffset = Math.max(logEndOffset, b.baseOffset + b.lastOffsetDelta + 1);
    for (const r of b.records) offsets.add(r.offset);
  }
  return { logEndOffset, offsets: [...offsets].sort((a, b) => a - b) };
}

/** One sample of broker `nodeId`'s /metrics for partition `p` of the topic (undefined: none). */
async function cleanerMetric(
  cluster: TestCluster,
  nodeId: number,
  name: string,
  p: number,
): Promise<number | undefined> {
  const b = cluster.brokers.get(nodeId);
  if (b === undefined) throw new Error(`no broker ${nodeId}`);
  const text = await (await fetch(`${b.url}/metrics`)).text();
  const prefix = `${name}{topic="${TOPIC}",partition="${p}"} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

/** GET /v1/topics/{topic} on broker `nodeId`: its view and its own replicas. */
// deno-lint-ignore no-explicit-any
async function describe(cluster: TestCluster, nodeId: number, topic: string): Promise<any> {
  const b = cluster.brokers.get(nodeId);
  if (b === undefined) throw new Error(`no broker ${nodeId}`);
  const res = await fetch(`${b.url}/v1/topics/${topic}`);
  const body = await res.json();
  assert.equal(res.status, 200, `broker ${nodeId} describes ${topic}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * PATCH /v1/topics/{topic} on broker `nodeId` with `key` set to `value`, then waits until every
 * running broker's view of the topic shows it.
 */
async function alterConfig(
  cluster: TestCluster,
  nodeId: number,
  key: string,
  value: string,
): Promise<void> {
  const res = await fetch(`${cluster.brokers.get(nodeId)!.url}/v1/topics/${TOPIC}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ config: { [key]: value } }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  for (const id of cluster.brokers.keys()) {
    await waitFor(`${key} ${value} on broker ${id}`, async () => {
      const d = await describe(cluster, id, TOPIC);
      return String(d.config[key]) === value ? d : undefined;
    });
  }
}

/**
 * Broker `nodeId`'s own replicas: online, no damage, every offset written committed (waited for:
 * a follower learns the high watermark from its next fetch's answer).
 */
async function assertIntact(cluster: TestCluster, nodeId: number): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const parts: any[] = await waitFor(`broker ${nodeId}'s high watermarks`, async () => {
    const ps = (await describe(cluster, nodeId, TOPIC)).partitions;
    // deno-lint-ignore no-explicit-any
    return ps.every((d: any) => d.highWatermark === TOTAL[d.partition]) ? ps : undefined;
  });
  for (const d of parts) {
    assert.equal(d.state, "online", JSON.stringify(d));
    assert.equal(d.damage, undefined, JSON.stringify(d));
    assert.equal(d.damageCount, undefined, JSON.stringify(d));
  }
}

/** Writes rounds [from, to) with acks=all, one send of every key of both partitions per round. */
async function writeRounds(cluster: TestCluster, from: number, to: number): Promise<void> {
  const producer = kafkaOf(cluster.bootstrap(), "table-writer", 10_000).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    for (let round = from; round < to; round++) {
      await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: PARTITIONS.flatMap((partition) =>
          roundOf(partition, round).map((r) => ({ ...r, partition }))
        ),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

Deno.test({
  name: "cluster compaction: a follower catches up from a compacted leader and leads it intact",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await Cluster.start({
      brokers: 3,
      args: [
        "--log-cleaner-backoff-ms",
        "50",
        "--broker-session-timeout-ms",
        "3000",
        "--replica-lag-time-max-ms",
        "10000",
      ],
    });
    const probe = new EtcdProbe(cluster.etcd.endpoint);
    const isrIs = (want: number[]) =>
      waitFor(`ISRs ${want.join(",")}`, async () => {
        const all = await Promise.all(PARTITIONS.map((p) => probe.partition(TOPIC, p)));
        return all.every((s) => [...(s?.isr ?? [])].sort().join() === want.join())
          ? all
          : undefined;
      }, 30_000);
    /** Broker 3 restarted: it rejoins both ISRs (as kafkajs's metadata shows them). */
    const restartFollower = async () => {
      await cluster.startBroker(3);
      const admin = kafkaOf(cluster.bootstrap(), "table-admin").admin();
      await admin.connect();
      try {
        await waitFor("ISRs 1,2,3 in kafkajs's metadata", async () => {
          const m = await admin.fetchTopicMetadata({ topics: [TOPIC] });
          const ps = m.topics[0].partitions;
          return ps.length === 2 &&
              ps.every((p) => p.leader === 1 && [...p.isr].sort().join() === "1,2,3")
            ? ps
            : undefined;
        }, 30_000);
      } finally {
        await admin.disconnect();
      }
    };
    try {
      await createTopic(cluster.bootstrap(), {
        topic: TOPIC,
        assignment: [[1, 3, 2], [1, 3, 2]],
        config: {
          "cleanup.policy": "compact",
          "segment.bytes": "16384",
          "min.cleanable.dirty.ratio": "0.01",
          // Tombstones readable for an hour: still there when the consumer reads.
          "delete.retention.ms": "3600000",
        },
      });
      const followerEnd = [0, 0];
      // Each step builds on the ones before: after a failure the rest are ignored, not waited out.
      let ok = true;
      const step = async (name: string, fn: () => Promise<void>) => {
        ok = await t.step({ name, ignore: !ok, fn });
      };

      await step("broker 3 killed; updates and tombstones written without it", async () => {
        await isrIs([1, 2, 3]);
        await writeRounds(cluster, 0, ROUNDS_BEFORE);
        for (const p of PARTITIONS) {
          followerEnd[p] = await waitFor(`broker 3 has partition ${p}'s first rounds`, async () => {
            const end = (await replicaFiles(cluster, 3, p)).logEndOffset;
            return end === TOTAL[p] / ROUNDS * ROUNDS_BEFORE ? end : undefined;
          });
        }
        assert.equal(await cluster.killBroker(3, "SIGKILL"), 137);
        await isrIs([1, 2]);
        await writeRounds(cluster, ROUNDS_BEFORE, ROUNDS);
        const d = await describe(cluster, 1, TOPIC);
        assert.deepEqual(
          d.partitions.map((x: { highWatermark: number }) => x.highWatermark),
          TOTAL,
        );
      });

      await step("the leader's cleaner compacts past broker 3's log end", async () => {
        for (const p of PARTITIONS) {
          await waitFor(`bytes reclaimed from partition ${p} on broker 1`, async () => {
            const n = await cleanerMetric(
              cluster,
              1,
              "sluice_log_cleaner_bytes_reclaimed_total",
              p,
            );
            return n !== undefined && n > 0 ? n : undefined;
          });
          // Offsets missing above broker 3's end: it must fetch across gaps.
          const leader = await waitFor(`partition ${p}'s gaps past broker 3's end`, async () => {
            const f = await replicaFiles(cluster, 1, p);
            const above = f.offsets.filter((o) => o >= followerEnd[p]).length;
            return above < f.logEndOffset - followerEnd[p] ? f : undefined;
          });
          assert.equal(leader.logEndOffset, TOTAL[p]);
          assert.equal(await cleanerMetric(cluster, 1, "sluice_log_cleaner_uncleanable", p), 0);
        }
      });

      await step("cleaning stopped (min.compaction.lag.ms a day)", async () => {
        await alterConfig(cluster, 1, "min.compaction.lag.ms", "86400000");
      });

      await step("restarted, broker 3 catches up from the compacted leader", async () => {
        await restartFollower();
        await assertIntact(cluster, 3);
        for (const p of PARTITIONS) {
          const [leader, follower] = await waitFor(
            `partition ${p}'s replicas readable`,
            () => Promise.all([replicaFiles(cluster, 1, p), replicaFiles(cluster, 3, p)]),
          );
          assert.equal(follower.logEndOffset, leader.logEndOffset);
          assert.equal(follower.logEndOffset, TOTAL[p]);
          const above = follower.offsets.filter((o) => o >= followerEnd[p]).length;
          assert.ok(above < TOTAL[p] - followerEnd[p], `partition ${p}: ${above} records above`);
        }
      });

      await step("crashed before a recovery checkpoint, broker 3 recovers all it had", async () => {
        assert.equal(await cluster.killBroker(3, "SIGKILL"), 137);
        for (const p of PARTITIONS) {
          await Deno.remove(`${cluster.dataDir(3)}/topics/${TOPIC}/${p}/${CHECKPOINT_FILE}`);
        }
        await restartFollower();
        const cuts = cluster.brokers.get(3)!.server.stderr().split("\n")
          .filter((l) => RECOVERY_CUTS.some((m) => l.includes(m)) && l.includes(`/${TOPIC}/`));
        assert.deepEqual(cuts, [], "recovery cut nothing of the topic's logs");
        await assertIntact(cluster, 3);
      });

      await step("cleaning again, broker 3's own cleaner cleans its replicas", async () => {
        await alterConfig(cluster, 1, "min.compaction.lag.ms", "0");
        for (const p of PARTITIONS) {
          await waitFor(`a clean of partition ${p} on broker 3`, async () => {
            const runs = await cleanerMetric(cluster, 3, "sluice_log_cleaner_runs_total", p);
            return runs !== undefined && runs > 0 ? runs : undefined;
          });
          assert.equal(await cleanerMetric(cluster, 3, "sluice_log_cleaner_uncleanable", p), 0);
        }
        await assertIntact(cluster, 3);
      });

      await step("broker 1 killed, broker 3 leads: each key's latest value from 0", async () => {
        assert.equal(await cluster.killBroker(1, "SIGKILL"), 137);
        await waitFor("broker 3 leads both partitions", async () => {
          const all = await Promise.all(PARTITIONS.map((p) => probe.partition(TOPIC, p)));
          return all.every((s) => s?.leader === 3) ? all : undefined;
        });
        const consumer = kafkaOf(cluster.bootstrap(), "table-consumer", 10_000).consumer({
          groupId: GROUP,
        });
        const seen = PARTITIONS.map(() =>
          [] as { key: string; value: string | null; offset: number }[]
        );
        await consumer.connect();
        try {
          await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
          await consumer.run({
            eachMessage: ({ partition, message }) => {
              seen[partition].push({
                key: message.key!.toString(),
                value: message.value === null ? null : message.value.toString(),
                offset: Number(message.offset),
              });
              return Promise.resolve();
            },
          });
          // Each log's last record (the last round's last one) is in the active segment, kept.
          await waitFor(
            `the last offsets (consumed ${seen.map((s) => s.length)})`,
            () =>
              PARTITIONS.every((p) => seen[p].some((r) => r.offset === TOTAL[p] - 1)) || undefined,
            30_000,
          );
        } finally {
          await consumer.disconnect();
        }
        for (const p of PARTITIONS) {
          const read = seen[p];
          assert.ok(read.length < TOTAL[p], `partition ${p}: ${read.length} of ${TOTAL[p]} read`);
          for (let i = 1; i < read.length; i++) {
            assert.ok(read[i].offset > read[i - 1].offset, `partition ${p}: ${read[i].offset}`);
          }
          const latest = new Map<string, string | null>();
          for (const r of read) latest.set(r.key, r.value);
          assert.deepEqual(latest, expected(p), `partition ${p}`);
        }
      });

      await step("__consumer_offsets, with the group's commit, is compacted", async () => {
        const admin = kafkaOf(cluster.bootstrap(), "offsets-admin").admin();
        await admin.connect();
        try {
          await waitFor("the group's committed offsets", async () => {
            const [o] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
            return o.partitions.every((p) => Number(p.offset) > 0) ? o : undefined;
          });
        } finally {
          await admin.disconnect();
        }
        for (const id of cluster.brokers.keys()) {
          const d = await describe(cluster, id, "__consumer_offsets");
          assert.equal(d.config["cleanup.policy"], "compact", `broker ${id}`);
          assert.equal(d.overrides["cleanup.policy"], "compact", `broker ${id}`);
        }
      });
    } finally {
      await cluster.stop();
    }
  },
});
