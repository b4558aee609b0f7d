/**
 * The ISR follows the followers (Kafka's replica.lag.time.max.ms and min.insync.replicas), with
 * real processes: three brokers (replica.lag.time.max.ms 2 s, a session of 15 s so that the
 * leader's lag rule acts long before the controller would), two topics of one partition on
 * replicas 1, 2, 3 (broker 1 leads), one with min.insync.replicas 3 and one with 2. Broker 3, a
 * follower of both, is stopped with SIGSTOP:
 *
 * - it leaves both ISRs while its registration is still live (the leader's lag rule, not the
 *   controller's session expiry), the time it took printed; an acks=all write sent to the
 *   min.insync.replicas 3 topic meanwhile waits for it, and is answered
 *   NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) once the ISR shrank (written, kept by the two left),
 *   or NOT_ENOUGH_REPLICAS if the leader took it after the shrink (not written);
 * - with the ISR (2) below min.insync.replicas (3), acks=all is NOT_ENOUGH_REPLICAS (19) and
 *   nothing is written; acks=1 is taken; on the other topic (min.insync.replicas 2) acks=all is
 *   acknowledged without waiting for the stopped follower;
 * - after SIGCONT it catches up, rejoins both ISRs, and acks=all works again; every replica ends
 *   byte for byte the leader's, and the refused write is in none of them.
 *
 * Produce requests are raw (fault_harness.ts), so each answer is the broker's own error code,
 * without a client's retries.
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import {
  brokerPid,
  createTopic,
  EtcdProbe,
  kafkaPort,
  logRecords,
  pauseProcess,
  type ProduceAnswer,
  produceOnce,
  replicaCopies,
  resumeProcess,
} from "./fault_harness.ts";

announceEtcdSkip();

const STRICT = "isr-min3";
const LENIENT = "isr-min2";
const LAG_MS = 2_000;
const NOT_ENOUGH_REPLICAS = 19;
const NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20;

Deno.test({
  name: "cluster ISR: a stopped follower leaves it, acks=all below min.insync.replicas is refused",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "15000", "--replica-lag-time-max-ms", String(LAG_MS)],
    });
    const probe = new EtcdProbe(cluster.etcd.endpoint);
    const follower = 3;
    const followerPid = brokerPid(cluster, follower);
    let inFlight: ProduceAnswer | undefined;
    try {
      for (const [topic, min] of [[STRICT, "3"], [LENIENT, "2"]]) {
        await createTopic(cluster.bootstrap(), {
          topic,
          assignment: [[1, 2, 3]],
          config: { "min.insync.replicas": min },
        });
      }
      const leaderPort = kafkaPort(cluster, 1);
      const isrOf = async (topic: string) => (await probe.partition(topic, 0))?.isr ?? [];
      const bothIsrs = (want: number[]) =>
        waitFor(`ISRs ${want.join(",")}`, async () => {
          const [a, b] = await Promise.all([isrOf(STRICT), isrOf(LENIENT)]);
          return a.join() === want.join() && b.join() === want.join() ? true : undefined;
        }, 60_000);

      await t.step("acks=all is acknowledged with the whole ISR", async () => {
        await bothIsrs([1, 2, 3]);
        assert.equal((await probe.partition(STRICT, 0))?.leader, 1);
        for (const topic of [STRICT, LENIENT]) {
          const a = await produceOnce(leaderPort, topic, 0, [`${topic}-before`], -1);
          assert.equal(a.errorCode, 0, `${topic}: ${JSON.stringify(a)}`);
        }
      });

      await t.step("a stopped follower leaves the ISR by the lag rule", async () => {
        const epoch = await probe.brokerEpoch(follower);
        const t0 = performance.now();
        await pauseProcess(followerPid);
        // Sent while broker 3 is still in the ISR: it waits for it, then the ISR shrinks.
        const waiting = produceOnce(leaderPort, STRICT, 0, ["in-flight"], -1, 15_000);
        await bothIsrs([1, 2]);
        const took = performance.now() - t0;
        inFlight = await waiting;
        // Taken before the shrink: written, then short of min.insync.replicas; after: refused.
        assert.ok(
          [NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_ENOUGH_REPLICAS].includes(inFlight.errorCode),
          JSON.stringify(inFlight),
        );
        assert.equal(
          await probe.brokerEpoch(follower),
          epoch,
          "broker 3 was still registered: the leader dropped it, not the controller",
        );
        console.log(
          `broker ${follower} left both ISRs ${took.toFixed(0)} ms after SIGSTOP ` +
            `(replica.lag.time.max.ms ${LAG_MS}); the acks=all write waiting for it: ` +
            `${inFlight.errorCode}`,
        );
      });

      await t.step("below min.insync.replicas acks=all is refused and not written", async () => {
        const before = await logRecords(cluster.dataDir(1), STRICT, 0);
        const refused = await produceOnce(leaderPort, STRICT, 0, ["refused"], -1);
        assert.equal(refused.errorCode, NOT_ENOUGH_REPLICAS, JSON.stringify(refused));
        const after = await logRecords(cluster.dataDir(1), STRICT, 0);
        assert.deepEqual(after, before, "the leader's log is as it was");
      });

      await t.step("acks=1 is taken; acks=all where the ISR is enough does not wait", async () => {
        const one = await produceOnce(leaderPort, STRICT, 0, [`${STRICT}-acks1`], 1);
        assert.equal(one.errorCode, 0, JSON.stringify(one));
        const all = await produceOnce(leaderPort, LENIENT, 0, [`${LENIENT}-during`], -1);
        assert.equal(all.errorCode, 0, JSON.stringify(all));
        // Broker 2, in the ISR, has both.
        for (
          const [topic, value] of [[STRICT, `${STRICT}-acks1`], [LENIENT, `${LENIENT}-during`]]
        ) {
          await waitFor(`${value} on broker 2`, async () => {
            const values = (await logRecords(cluster.dataDir(2), topic, 0)).map((r) => r.value);
            return values.includes(value) ? true : undefined;
          });
        }
      });

      await t.step("resumed, the follower catches up, rejoins, acks=all works again", async () => {
        resumeProcess(followerPid);
        await bothIsrs([1, 2, 3]);
        for (const topic of [STRICT, LENIENT]) {
          const a = await produceOnce(leaderPort, topic, 0, [`${topic}-after`], -1);
          assert.equal(a.errorCode, 0, `${topic}: ${JSON.stringify(a)}`);
        }
      });

      await t.step("every replica is the leader's, byte for byte", async () => {
        for (const topic of [STRICT, LENIENT]) {
          const copies = await replicaCopies(cluster, topic, 0, [1, 2, 3], waitFor);
          assert.deepEqual(copies[1], copies[0], `${topic}: broker 2's log is broker 1's`);
          assert.deepEqual(copies[2], copies[0], `${topic}: broker 3's log is broker 1's`);
        }
        const strict = (await logRecords(cluster.dataDir(3), STRICT, 0)).map((r) => r.value);
        const written = inFlight?.errorCode === NOT_ENOUGH_REPLICAS_AFTER_APPEND
          ? ["in-flight"]
          : [];
        assert.deepEqual(strict, [
          `${STRICT}-before`,
          ...written,
          `${STRICT}-acks1`,
          `${STRICT}-after`,
        ]);
        const lenient = (await logRecords(cluster.dataDir(3), LENIENT, 0)).map((r) => r.value);
        assert.deepEqual(lenient, [`${LENIENT}-before`, `${LENIENT}-during`, `${LENIENT}-after`]);
      });
    } finally {
      try {
        resumeProcess(followerPid);
      } catch {
        // gone already
      }
      await cluster.stop();
    }
  },
});
