/**
 * A leader that stops (SIGSTOP) for longer than its session is deposed, and when it comes back it
 * must not acknowledge an acks=all write of its old epoch, then must follow the new leader and
 * truncate what it wrote meanwhile (Kafka's fencing of a zombie leader, KIP-101/KIP-279).
 *
 * Three real brokers (session timeout 3 s) each reach etcd through a loopback proxy of its own
 * (tcp_proxy.ts), so that a broker can be cut off from etcd while the others are not. A topic of
 * one partition, three replicas and min.insync.replicas 2 takes an idempotent acks=all librdkafka
 * producer's load throughout (rdkafka_load.py; kafkajs 2.2.4 cannot be the load here: a broker
 * that stops answering hangs it, its request timeout never firing, on Deno and Node alike). Its
 * requests to the paused leader time out and are retried, with their sequences, on the new one,
 * while the paused broker still holds them in its socket. Two rounds, each pausing the
 * partition's current leader:
 *
 * 1. SIGSTOP alone. After the controller elected a new leader (read from etcd), raw Produce
 *    requests (acks=all and acks=1) are written to the paused leader's socket; then SIGCONT. The
 *    resumed broker reads them and the etcd watch's news in whichever order the event loop takes
 *    them: the acks=all one must fail either way (its followers follow the new leader, so it
 *    cannot commit), the acks=1 one may be taken (Kafka's acks=1 loss case) and must then vanish.
 * 2. SIGSTOP, and the broker's etcd connection cut before its session ends, so that after SIGCONT
 *    it is a real zombie that still believes it leads: it takes an acks=1 write (answered, in its
 *    log file), takes an acks=all write into its log and does not acknowledge it (the request
 *    times out: REQUEST_TIMED_OUT), while the new leader acknowledges acks=all writes. Then the
 *    connection heals: the zombie registers again, learns the new epoch, follows and truncates.
 *    The librdkafka client is paused (SIGSTOP) for this round: a zombie answers Metadata with
 *    its stale view (itself the leader, the old epoch), librdkafka 2.0 (no KIP-320 epoch check on
 *    metadata) moves the partition back to it, and the zombie, whose producer state stopped at
 *    the election, answers the next sequence OUT_OF_ORDER_SEQUENCE_NUMBER, which librdkafka
 *    treats as fatal; seen in 3 runs of 5 before the pause was added. A Kafka zombie does the
 *    same; what bounds it is how long a broker cut off from etcd keeps acting as a leader.
 *
 * At the end every replica's log is byte for byte the new leader's, no zombie write is in it,
 * and the producer's records are in it exactly once each, in the order produced, each
 * acknowledged one at the offset its delivery report named.
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";
import { startTcpProxy, type TcpProxy } from "./tcp_proxy.ts";
import { RawClient } from "../kafka_protocol/kafka_wire_util.ts";
import {
  ackedOnceInOrder,
  brokerPid,
  createTopic,
  EtcdProbe,
  kafkaPort,
  logRecords,
  pauseProcess,
  type ProduceAnswer,
  produceAnswer,
  producedExactlyOnceInOrder,
  produceFrame,
  produceOnce,
  replicaCopies,
  resumeProcess,
} from "./fault_harness.ts";
import type { PartitionState } from "../../src/cluster/cluster_state.ts";
import { confluentKafkaAvailable, RdkafkaLoad } from "./rdkafka_load.ts";
import { announceSkip, SYSTEM_PYTHON } from "../kafka_protocol/kafka_harness.ts";

announceEtcdSkip();
announceSkip(confluentKafkaAvailable, `python3-confluent-kafka (for ${SYSTEM_PYTHON})`);

const TOPIC = "fenced";
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;

Deno.test({
  name: "cluster fencing: a paused leader is deposed, acknowledges no acks=all write, truncates",
  ignore: !etcdAvailable || !confluentKafkaAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 0,
      args: ["--broker-session-timeout-ms", "3000", "--replica-lag-time-max-ms", "10000"],
    });
    const proxies = new Map<number, TcpProxy>();
    const etcdPort = Number(new URL(cluster.etcd.endpoint).port);
    const probe = new EtcdProbe(cluster.etcd.endpoint);
    let load: RdkafkaLoad | undefined;
    try {
      for (const id of [1, 2, 3]) proxies.set(id, startTcpProxy(etcdPort));
      await Promise.all(
        [1, 2, 3].map((id) => cluster.startBroker(id, ["--etcd", proxies.get(id)!.endpoint])),
      );
      await createTopic(cluster.bootstrap(), {
        topic: TOPIC,
        config: { "min.insync.replicas": "2" },
      });
      load = RdkafkaLoad.start(cluster.bootstrap(), TOPIC, 0, "r");
      const acked = load.acked;

      /** The partition with all three replicas in the ISR, once it is so. */
      const fullIsr = () =>
        waitFor("a full ISR", async () => {
          const s = await probe.partition(TOPIC, 0);
          return s !== undefined && s.isr.length === 3 && s.leader >= 1 ? s : undefined;
        }, 60_000);
      /** A leader elected in place of `before`'s (from etcd), with its checks. */
      const newLeader = async (before: PartitionState) => {
        const after = await waitFor("a new leader", async () => {
          const s = await probe.partition(TOPIC, 0);
          return s !== undefined && s.leader >= 1 && s.leader !== before.leader ? s : undefined;
        }, 30_000);
        assert.ok(before.isr.includes(after.leader), "the new leader was in the ISR");
        assert.ok(after.leaderEpoch > before.leaderEpoch, "the leader epoch went up");
        assert.ok(!after.isr.includes(before.leader), "the paused leader left the ISR");
        return after;
      };
      const progress = async (what: string, n = 20) => {
        const from = acked.length;
        await waitFor(what, () => acked.length >= from + n ? true : undefined, 60_000);
      };
      const zombieValues: string[] = [];

      await t.step("round 1: SIGSTOP the leader; writes queued for it fail or vanish", async () => {
        const before = await fullIsr();
        await progress("acks=all writes before the pause");
        const old = before.leader;
        const pid = brokerPid(cluster, old);
        const viaAll = await RawClient.connect(kafkaPort(cluster, old));
        const viaOne = await RawClient.connect(kafkaPort(cluster, old));
        try {
          await pauseProcess(pid);
          const after = await newLeader(before);
          // Written after the election into the paused broker's socket: read when it resumes.
          zombieValues.push("z1-all", "z1-one");
          await viaAll.send(produceFrame(viaAll, TOPIC, 0, ["z1-all"], -1, 5_000));
          await viaOne.send(produceFrame(viaOne, TOPIC, 0, ["z1-one"], 1, 5_000));
          await progress("acks=all writes to the new leader while the old one is paused");
          resumeProcess(pid);
          const all = produceAnswer(await viaAll.readFrame());
          const one = produceAnswer(await viaOne.readFrame());
          console.log(
            `round 1: broker ${old} paused, broker ${after.leader} elected (epoch ` +
              `${after.leaderEpoch}); resumed, it answered acks=all ${all.errorCode}, acks=1 ` +
              `${one.errorCode}`,
          );
          assert.notEqual(all.errorCode, 0, "the deposed leader acknowledged an acks=all write");
          assert.ok(
            [NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT].includes(all.errorCode),
            `acks=all: ${JSON.stringify(all)}`,
          );
          assert.ok([0, NOT_LEADER_OR_FOLLOWER].includes(one.errorCode), JSON.stringify(one));
        } finally {
          resumeProcess(pid);
          viaAll.close();
          viaOne.close();
        }
        await waitFor("the old leader back in the ISR", async () => {
          const s = await probe.partition(TOPIC, 0);
          return s?.isr.length === 3 ? true : undefined;
        }, 60_000);
      });

      await t.step("round 2: the leader paused and cut off from etcd is a zombie", async () => {
        const before = await fullIsr();
        await progress("acks=all writes before the pause");
        const old = before.leader;
        const pid = brokerPid(cluster, old);
        const proxy = proxies.get(old)!;
        const oldEpoch = await probe.brokerEpoch(old);
        let after: PartitionState;
        let one: ProduceAnswer;
        // The client sits this round out (see the module doc): paused first, resumed last.
        await pauseProcess(load!.proc.pid);
        await pauseProcess(pid);
        try {
          // Cut before the session ends: the paused broker never hears of the election.
          proxy.cut();
          after = await newLeader(before);
          resumeProcess(pid);

          // The zombie still believes it leads: acks=1 is taken and answered.
          zombieValues.push("z2-one", "z2-all");
          one = await produceOnce(kafkaPort(cluster, old), TOPIC, 0, ["z2-one"], 1);
          assert.equal(one.errorCode, 0, `the zombie refused acks=1: ${JSON.stringify(one)}`);
          // acks=all goes into its log and is never acknowledged: nobody follows it any more.
          const all = await produceOnce(kafkaPort(cluster, old), TOPIC, 0, ["z2-all"], -1, 3_000);
          assert.equal(all.errorCode, REQUEST_TIMED_OUT, `acks=all: ${JSON.stringify(all)}`);
          const zombieLog = (await logRecords(cluster.dataDir(old), TOPIC, 0)).map((r) => r.value);
          assert.ok(zombieLog.includes("z2-one"), "the zombie's log has its acks=1 write");
          assert.ok(zombieLog.includes("z2-all"), "the zombie's log has the unacknowledged write");
          // Meanwhile the new leader commits acks=all writes.
          const ok = await produceOnce(kafkaPort(cluster, after.leader), TOPIC, 0, ["n2-all"], -1);
          assert.equal(ok.errorCode, 0, `the new leader: ${JSON.stringify(ok)}`);
        } catch (err) {
          resumeProcess(load!.proc.pid);
          throw err;
        } finally {
          resumeProcess(pid);
          proxy.heal();
        }

        const epoch = await waitFor("the zombie registered again", async () => {
          const e = await probe.brokerEpoch(old);
          return e !== undefined && e !== oldEpoch ? e : undefined;
        }, 30_000);
        assert.ok(oldEpoch !== undefined && epoch > oldEpoch, "a new broker epoch");
        await waitFor("the old leader back in the ISR", async () => {
          const s = await probe.partition(TOPIC, 0);
          return s?.isr.length === 3 ? true : undefined;
        }, 60_000);
        resumeProcess(load!.proc.pid);
        await progress("acks=all writes after the zombie rejoined");
        console.log(
          `round 2: broker ${old} paused and cut off, broker ${after.leader} elected (epoch ` +
            `${after.leaderEpoch}); the zombie took acks=1 at ${one.baseOffset}, timed out ` +
            `acks=all; it registered again (broker epoch ${oldEpoch} -> ${epoch})`,
        );
      });

      const stopped = load;
      load = undefined;
      const end = await stopped.stop();

      await t.step(
        "every replica is the leader's, byte for byte, without the zombie writes",
        async () => {
          const copies = await replicaCopies(cluster, TOPIC, 0, [1, 2, 3], waitFor);
          assert.deepEqual(copies[1], copies[0], "broker 2's log is broker 1's");
          assert.deepEqual(copies[2], copies[0], "broker 3's log is broker 1's");
          const values = (await logRecords(cluster.dataDir(1), TOPIC, 0)).map((r) => r.value);
          for (const z of zombieValues) assert.ok(!values.includes(z), `${z} survived`);
          assert.equal(values.filter((v) => v === "n2-all").length, 1, "n2-all once");
        },
      );

      await t.step("every produced record is in the log once, in order", async () => {
        assert.deepEqual(stopped.failed, [], "deliveries failed");
        assert.equal(end.undelivered, 0, "messages left undelivered after the flush");
        assert.equal(stopped.acked.length, end.produced, "a report for every message");
        const logged = await logRecords(cluster.dataDir(1), TOPIC, 0);
        assert.equal(
          producedExactlyOnceInOrder(logged, "r", end.produced, stopped.acked),
          undefined,
        );
        assert.equal(ackedOnceInOrder(logged, stopped.ackedValues(), "r"), undefined);
        console.log(
          `librdkafka: ${end.produced} produced, all acknowledged; the log holds ` +
            `${logged.length} records`,
        );
      });
    } finally {
      await load?.stop().catch(() => {});
      for (const id of [1, 2, 3]) {
        const b = cluster.brokers.get(id);
        if (b !== undefined) {
          try {
            resumeProcess(b.server.proc.pid);
          } catch {
            // gone already
          }
        }
      }
      await cluster.stop();
      await Promise.all([...proxies.values()].map((p) => p.close()));
    }
  },
});
