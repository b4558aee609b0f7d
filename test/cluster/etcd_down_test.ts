/**
 * What a cluster does while etcd is away, with real processes: three brokers (session 3 s,
 * replica.lag.time.max.ms 2 s) and a topic of three partitions led by brokers 1, 2 and 3
 * (replicas [1,2,3], [2,3,1], [3,1,2]; min.insync.replicas 2). docs/cluster.md's "While etcd is
 * down" says what these steps show.
 *
 * etcd stopped (SIGKILL, a crash; down for as long as the steps take):
 * - every leader takes acks=all writes (its followers keep fetching: nothing in the data path asks
 *   etcd), consumers read them over HTTP, the followers' logs hold them;
 * - CreateTopics is answered REQUEST_TIMED_OUT (7) and POST /v1/topics 503 CLUSTER_UNAVAILABLE;
 * - the ISR cannot change: a follower stopped with SIGSTOP stays in it (its leader logs that the
 *   shrink was not written), so acks=all there times out (REQUEST_TIMED_OUT, not
 *   NOT_ENOUGH_REPLICAS) while acks=1 is taken; resumed, it catches up and acks=all works again;
 * - nothing is elected: a leader killed with SIGKILL stays the leader, and a live broker, in every
 *   other broker's Metadata for longer than the session (waited for as the survivors' own failed
 *   keep-alives tell it), so its partition takes no writes.
 * etcd started again on its data: etcd renews every lease for a full TTL, so only the dead broker's
 * expires, one session later: its partition gets a new leader from the ISR, the other partitions
 * keep their leaders and leader epochs; a topic is created, and a leader killed now is replaced.
 * The killed brokers, restarted, rejoin; every replica ends byte for byte its leader's.
 *
 * etcd paused (SIGSTOP) past the session: leaders still take acks=all; CreateTopics waits for
 * etcd's request timeout (ETCD_REQUEST_TIMEOUT_MS) and is answered REQUEST_TIMED_OUT, though its
 * transaction, queued in etcd's socket, may still be applied on resume (the topic then exists,
 * and the controller writes its partition states as for a creator that died half-way); resumed,
 * etcd may expire every broker's lease at once (it counts the pause against them): brokers then
 * register again and elect a controller again. Either way every partition ends with a leader and
 * a full ISR, acks=all and topic creation work; what happened is printed.
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import {
  brokerPid,
  createTopic,
  createTopicOnce,
  EtcdProbe,
  kafkaPort,
  logRecords,
  metadataFrom,
  pauseProcess,
  produceOnce,
  replicaCopies,
  resumeProcess,
} from "./fault_harness.ts";
import type { PartitionState } from "../../src/cluster/cluster_state.ts";

announceEtcdSkip();

const TOPIC = "steady";
const PARTITIONS = 3;
const SESSION_MS = 3_000;
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;

/** The times (ms since the epoch) of broker `stderr`'s failed lease keep-alives. */
function keepAliveFailures(stderr: string): number[] {
  return stderr.split("\n")
    .filter((l) => l.includes('"broker lease keep-alive failed; retrying"'))
    .map((l) => Date.parse(JSON.parse(l).time));
}

Deno.test({
  name: "cluster without etcd: leaders serve, nothing is elected or created; back, all resumes",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: [
        "--broker-session-timeout-ms",
        String(SESSION_MS),
        "--replica-lag-time-max-ms",
        "2000",
      ],
    });
    const probe = new EtcdProbe(cluster.etcd.endpoint);
    const paused = new Set<number>();
    try {
      await createTopic(cluster.bootstrap(), {
        topic: TOPIC,
        assignment: [[1, 2, 3], [2, 3, 1], [3, 1, 2]],
        config: { "min.insync.replicas": "2" },
      });
      const states = () =>
        Promise.all(Array.from({ length: PARTITIONS }, (_, p) => probe.partition(TOPIC, p)));
      const fullIsrs = () =>
        waitFor("every partition led, with a full ISR", async () => {
          const all = await states();
          return all.every((s) => s !== undefined && s.leader >= 1 && s.isr.length === 3)
            ? all as PartitionState[]
            : undefined;
        }, 60_000);
      const portOf = (id: number) => kafkaPort(cluster, id);
      /** Waits until broker `id` logged a failed keep-alive at least `ms` after `fromMs`. */
      const sessionPassed = (id: number, fromMs: number, ms = SESSION_MS) =>
        waitFor(`broker ${id}'s keep-alives failing for ${ms} ms`, () => {
          const times = keepAliveFailures(cluster.brokers.get(id)!.server.stderr());
          return times.some((at) => at >= fromMs + ms) ? true : undefined;
        }, 60_000);
      let before: PartitionState[] = [];

      await t.step("before: each partition's leader takes acks=all", async () => {
        before = await fullIsrs();
        assert.deepEqual(before.map((s) => s.leader), [1, 2, 3]);
        for (let p = 0; p < PARTITIONS; p++) {
          const a = await produceOnce(portOf(p + 1), TOPIC, p, [`before-${p}`], -1);
          assert.equal(a.errorCode, 0, JSON.stringify(a));
        }
      });

      await t.step(
        "etcd stopped: leaders take acks=all, followers copy, consumers read",
        async () => {
          await cluster.etcd.down();
          for (let p = 0; p < PARTITIONS; p++) {
            const a = await produceOnce(portOf(p + 1), TOPIC, p, [`down-${p}`], -1);
            assert.equal(a.errorCode, 0, `partition ${p}: ${JSON.stringify(a)}`);
            const res = await fetch(
              `${
                cluster.brokers.get(p + 1)!.url
              }/v1/topics/${TOPIC}/partitions/${p}/records?offset=0`,
            );
            assert.equal(res.status, 200);
            const values = ((await res.json()).records as { value: string }[]).map((r) => r.value);
            assert.deepEqual(values, [`before-${p}`, `down-${p}`]);
            for (const id of [1, 2, 3]) {
              const logged = (await logRecords(cluster.dataDir(id), TOPIC, p)).map((r) => r.value);
              assert.ok(logged.includes(`down-${p}`), `broker ${id} has down-${p}`);
            }
          }
        },
      );

      await t.step("etcd stopped: topic creation fails with a timeout", async () => {
        const t0 = performance.now();
        const created = await createTopicOnce(portOf(1), "while-down", 1, 3);
        const took = performance.now() - t0;
        assert.equal(created.errorCode, REQUEST_TIMED_OUT, JSON.stringify(created));
        const res = await fetch(`${cluster.brokers.get(2)!.url}/v1/topics`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "while-down-http", partitions: 1 }),
        });
        const body = await res.json();
        assert.equal(res.status, 503, JSON.stringify(body));
        assert.equal(body.error?.code, "CLUSTER_UNAVAILABLE", JSON.stringify(body));
        console.log(
          `CreateTopics answered ${created.errorCode} after ${took.toFixed(0)} ms: ` +
            created.errorMessage,
        );
      });

      await t.step(
        "etcd stopped: a stopped follower stays in the ISR; acks=all times out",
        async () => {
          const pid = brokerPid(cluster, 3);
          await pauseProcess(pid);
          paused.add(pid);
          // Broker 1 found broker 3 behind and could not write the smaller ISR.
          await waitFor(
            "broker 1's failed ISR shrink",
            () =>
              cluster.brokers.get(1)!.server.stderr().split("\n").some((l) =>
                  l.includes('"ISR change not written; retrying later"') &&
                  l.includes(`"topic":"${TOPIC}","partition":0`)
                )
                ? true
                : undefined,
          );
          const view = await metadataFrom(portOf(1), TOPIC);
          assert.deepEqual(view.partitions[0].isr, [1, 2, 3], "broker 1's view of the ISR");
          const all = await produceOnce(portOf(1), TOPIC, 0, ["stuck"], -1, 2_000);
          assert.equal(all.errorCode, REQUEST_TIMED_OUT, JSON.stringify(all));
          const one = await produceOnce(portOf(1), TOPIC, 0, ["down-acks1"], 1);
          assert.equal(one.errorCode, 0, JSON.stringify(one));
          resumeProcess(pid);
          paused.delete(pid);
          await waitFor("acks=all with broker 3 back", async () => {
            const a = await produceOnce(portOf(1), TOPIC, 0, ["resumed"], -1, 2_000);
            return a.errorCode === 0 ? true : undefined;
          });
        },
      );

      await t.step("etcd stopped: a killed leader stays the leader in every view", async () => {
        const killedAt = Date.now();
        await cluster.killBroker(2, "SIGKILL");
        // Longer than a session since the kill, as the survivors' failed keep-alives show.
        await Promise.all([sessionPassed(1, killedAt), sessionPassed(3, killedAt)]);
        for (const id of [1, 3]) {
          const view = await metadataFrom(portOf(id), TOPIC);
          assert.deepEqual(view.brokers, [1, 2, 3], `broker ${id} still lists broker 2`);
          assert.equal(view.partitions[1].leader, 2, `broker ${id}: partition 1's leader`);
          assert.equal(view.partitions[1].leaderEpoch, before[1].leaderEpoch);
        }
        const refused = await produceOnce(portOf(1), TOPIC, 1, ["nowhere"], -1);
        assert.equal(refused.errorCode, NOT_LEADER_OR_FOLLOWER, JSON.stringify(refused));
      });

      await t.step("etcd back: only the dead leader's partition moves", async () => {
        await cluster.etcd.restart();
        const moved = await waitFor("partition 1 led again", async () => {
          const s = await probe.partition(TOPIC, 1);
          return s !== undefined && s.leader >= 1 && s.leader !== 2 ? s : undefined;
        }, 30_000);
        assert.ok(moved.leaderEpoch > before[1].leaderEpoch);
        assert.ok([3, 1].includes(moved.leader), `partition 1's new leader ${moved.leader}`);
        const now = await states();
        for (const p of [0, 2]) {
          assert.equal(now[p]?.leader, before[p].leader, `partition ${p} kept its leader`);
          assert.equal(now[p]?.leaderEpoch, before[p].leaderEpoch, `partition ${p}: no election`);
        }
        assert.deepEqual(await probe.registeredBrokers(), [1, 3]);
        await waitFor("acks=all on partition 1's new leader", async () => {
          const a = await produceOnce(portOf(moved.leader), TOPIC, 1, ["after-1"], -1, 2_000);
          return a.errorCode === 0 ? true : undefined;
        });
      });

      await t.step("etcd back: a topic is created; a leader killed now is replaced", async () => {
        await createTopic(cluster.bootstrap(), { topic: "after-etcd", replicationFactor: 2 });
        const p0 = await probe.partition(TOPIC, 0);
        assert.equal(p0?.leader, 1);
        await cluster.killBroker(1, "SIGKILL");
        const next = await waitFor("partition 0 led again", async () => {
          const s = await probe.partition(TOPIC, 0);
          return s !== undefined && s.leader === 3 ? s : undefined;
        }, 30_000);
        assert.ok(next.leaderEpoch > p0!.leaderEpoch);
        const a = await produceOnce(portOf(3), TOPIC, 0, ["after-0"], -1);
        // Broker 3 is alone in the ISR now (1 and 2 are dead): below min.insync.replicas 2.
        assert.ok([0, 19].includes(a.errorCode), JSON.stringify(a));
      });

      await t.step("restarted, the killed brokers rejoin; replicas are identical", async () => {
        await Promise.all([cluster.startBroker(1), cluster.startBroker(2)]);
        await fullIsrs();
        for (let p = 0; p < PARTITIONS; p++) {
          const copies = await replicaCopies(cluster, TOPIC, p, [1, 2, 3], waitFor);
          assert.deepEqual(copies[1], copies[0], `partition ${p}: broker 2's log is broker 1's`);
          assert.deepEqual(copies[2], copies[0], `partition ${p}: broker 3's log is broker 1's`);
          const values = (await logRecords(cluster.dataDir(1), TOPIC, p)).map((r) => r.value);
          for (const v of [`before-${p}`, `down-${p}`]) {
            assert.equal(values.filter((x) => x === v).length, 1, `${v} once`);
          }
          assert.ok(!values.includes("nowhere"));
        }
      });

      await t.step("etcd paused past the session: served meanwhile, all resumes", async () => {
        const ledBefore = await fullIsrs();
        const epochsBefore = await Promise.all([1, 2, 3].map((id) => probe.brokerEpoch(id)));
        const pausedAt = Date.now();
        await cluster.etcd.pause();
        try {
          for (let p = 0; p < PARTITIONS; p++) {
            const leader = ledBefore[p].leader;
            const a = await produceOnce(portOf(leader), TOPIC, p, [`paused-${p}`], -1);
            assert.equal(a.errorCode, 0, `partition ${p}: ${JSON.stringify(a)}`);
          }
          const t0 = performance.now();
          const created = await createTopicOnce(portOf(1), "while-paused", 1, 3);
          const took = performance.now() - t0;
          assert.equal(created.errorCode, REQUEST_TIMED_OUT, JSON.stringify(created));
          await Promise.all([1, 2, 3].map((id) => sessionPassed(id, pausedAt)));
          console.log(
            `CreateTopics with etcd paused: ${created.errorCode} after ${took.toFixed(0)} ms`,
          );
        } finally {
          cluster.etcd.resume();
        }
        const led = await fullIsrs();
        await waitFor("every broker registered", async () => {
          const ids = await probe.registeredBrokers();
          return ids.length === 3 ? true : undefined;
        });
        const epochsAfter = await Promise.all([1, 2, 3].map((id) => probe.brokerEpoch(id)));
        for (let p = 0; p < PARTITIONS; p++) {
          await waitFor(`acks=all on partition ${p}`, async () => {
            const s = await probe.partition(TOPIC, p);
            if (s === undefined || s.leader < 1) return undefined;
            const a = await produceOnce(portOf(s.leader), TOPIC, p, [`resumed-${p}`], -1, 2_000);
            return a.errorCode === 0 ? true : undefined;
          });
        }
        await createTopic(cluster.bootstrap(), { topic: "after-pause", replicationFactor: 3 });
        // The timed-out creation's transaction may still have reached etcd.
        const late = await probe.etcd.get(probe.keys.topic("while-paused"));
        if (late !== undefined) {
          // Then the controller completes it (its creator gave up before the partition states).
          await waitFor("the late topic's partition led", async () => {
            const s = await probe.partition("while-paused", 0);
            return s !== undefined && s.leader >= 1 ? true : undefined;
          });
        }
        const reRegistered = [1, 2, 3].filter((_, i) => epochsAfter[i] !== epochsBefore[i]);
        const elected = led.map((s, p) =>
          s.leaderEpoch !== ledBefore[p].leaderEpoch ? `${p}: ${s.leader}` : undefined
        ).filter((x) => x !== undefined);
        console.log(
          `etcd paused ${Date.now() - pausedAt} ms: brokers registered again: ` +
            `[${reRegistered.join(",")}]; partitions with a new leader epoch: ` +
            `[${elected.join("; ")}]; the timed-out topic ${late ? "exists" : "does not exist"}`,
        );
      });
    } finally {
      for (const pid of paused) resumeProcess(pid);
      await cluster.stop();
    }
  },
});
