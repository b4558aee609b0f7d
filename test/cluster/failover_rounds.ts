/**
 * Rounds of SIGKILL-the-leader under idempotent acks=all producers, for librdkafka_failover_test.ts
 * (three rounds, in CI) and the cluster soak (scripts/soak_cluster.ts, fifty by default).
 *
 * A real cluster (etcd and three brokers, session 3 s) holds one topic of one partition, three
 * replicas, min.insync.replicas 2. The chosen clients produce to it throughout: librdkafka
 * (rdkafka_load.py: idempotent, acks=all, up to five requests in flight, values `r<n>`) and
 * kafkajs (fault_harness.ts KafkajsLoad: idempotent, acks=all, one send at a time, values `k<n>`).
 * Each round waits for a full ISR and for every client to get records acknowledged, SIGKILLs the
 * partition's leader, waits for the controller to elect another (read from etcd), for every
 * client to get more records acknowledged, then restarts the killed broker on its data.
 *
 * At the end the clients stop (librdkafka flushes everything it holds), and it is checked that:
 * every replica's log is byte for byte the leader's; librdkafka's records are exactly r0..r(n-1),
 * each once, in order, every one acknowledged at the offset its report named (no failure, nothing
 * undelivered); kafkajs's acknowledged records are there once each, in the order acknowledged, at
 * the offsets it was told, and no kafkajs record is there twice.
 *
 * A round's failover time, per client, runs from the SIGKILL to the first acknowledgement of a
 * record that the new leader (or a later one) wrote: a record whose batch carries the new leader
 * epoch or a later one, read from the final log. Acknowledgements of the dead leader still in
 * flight at the kill do not count.
 */
import { TestCluster, waitFor } from "./cluster_harness.ts";
import {
  ackedOnceInOrder,
  createTopic,
  EtcdProbe,
  KafkajsLoad,
  logRecords,
  producedExactlyOnceInOrder,
  replicaCopies,
} from "./fault_harness.ts";
import { RdkafkaLoad } from "./rdkafka_load.ts";

export type FailoverClient = "librdkafka" | "kafkajs";

export interface FailoverOptions {
  rounds: number;
  clients: readonly FailoverClient[];
  /** librdkafka's messages a second. */
  rate?: number;
  /** One line per round and per check (console.log in the soak). */
  log: (line: string) => void;
}

export interface FailoverRound {
  round: number;
  victim: number;
  leader: number;
  leaderEpoch: number;
  killedAtMs: number;
  /** Per client: SIGKILL to its first acknowledgement in the new epoch, ms. */
  failoverMs: Partial<Record<FailoverClient, number>>;
}

export interface FailoverResult {
  rounds: FailoverRound[];
  /** Records acknowledged per client. */
  acknowledged: Partial<Record<FailoverClient, number>>;
  /** Records in the final log. */
  logged: number;
}

const TOPIC = "failover";
const PROGRESS = 20;

/** Runs the rounds; throws (with what was wrong) when a check fails. */
export async function failoverRounds(options: FailoverOptions): Promise<FailoverResult> {
  const cluster = await TestCluster.start({
    brokers: 3,
    args: ["--broker-session-timeout-ms", "3000", "--replica-lag-time-max-ms", "10000"],
  });
  const probe = new EtcdProbe(cluster.etcd.endpoint);
  let rdkafka: RdkafkaLoad | undefined;
  let kafkajs: KafkajsLoad | undefined;
  try {
    await createTopic(cluster.bootstrap(), {
      topic: TOPIC,
      config: { "min.insync.replicas": "2" },
    });
    if (options.clients.includes("librdkafka")) {
      rdkafka = RdkafkaLoad.start(cluster.bootstrap(), TOPIC, 0, "r", options.rate ?? 300);
    }
    if (options.clients.includes("kafkajs")) {
      kafkajs = await KafkajsLoad.start(cluster.bootstrap(), TOPIC, 0, "k");
    }
    const counts = () => [rdkafka?.acked.length ?? 0, kafkajs?.acked.length ?? 0];
    const progress = async (what: string) => {
      const from = counts();
      await waitFor(what, () => {
        const now = counts();
        return (rdkafka === undefined || now[0] >= from[0] + PROGRESS) &&
            (kafkajs === undefined || now[1] >= from[1] + PROGRESS)
          ? true
          : undefined;
      }, 60_000);
    };

    const rounds: FailoverRound[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const before = await waitFor("a full ISR", async () => {
        const s = await probe.partition(TOPIC, 0);
        return s !== undefined && s.leader >= 1 && s.isr.length === 3 ? s : undefined;
      }, 60_000);
      await progress(`round ${round}: records acknowledged before the kill`);
      const victim = before.leader;
      const killedAtMs = Date.now();
      await cluster.killBroker(victim, "SIGKILL");
      const after = await waitFor(`round ${round}: a new leader`, async () => {
        const s = await probe.partition(TOPIC, 0);
        return s !== undefined && s.leader >= 1 && s.leader !== victim ? s : undefined;
      }, 60_000);
      if (!before.isr.includes(after.leader) || after.leaderEpoch <= before.leaderEpoch) {
        throw new Error(
          `round ${round}: leader ${after.leader} epoch ${after.leaderEpoch} ` +
            `after ${JSON.stringify(before)}`,
        );
      }
      await progress(`round ${round}: records acknowledged by the new leader`);
      await cluster.startBroker(victim);
      rounds.push({
        round,
        victim,
        leader: after.leader,
        leaderEpoch: after.leaderEpoch,
        killedAtMs,
        failoverMs: {},
      });
      options.log(
        `round ${round}: killed broker ${victim}, broker ${after.leader} leads in epoch ` +
          `${after.leaderEpoch}; restarted broker ${victim}`,
      );
    }

    const end = await rdkafka?.stop();
    await kafkajs?.stop();
    const final = await waitFor("a full ISR at the end", async () => {
      const s = await probe.partition(TOPIC, 0);
      return s !== undefined && s.leader >= 1 && s.isr.length === 3 ? s : undefined;
    }, 60_000);

    const copies = await replicaCopies(cluster, TOPIC, 0, [1, 2, 3], waitFor);
    for (let i = 1; i < copies.length; i++) {
      if (copies[i].length !== copies[0].length || copies[i].some((b, j) => b !== copies[0][j])) {
        throw new Error(`broker ${i + 1}'s log differs from broker 1's`);
      }
    }
    const logged = await logRecords(cluster.dataDir(final.leader), TOPIC, 0);
    options.log(`every replica's log is byte for byte the same: ${copies[0].length} bytes`);

    const acknowledged: Partial<Record<FailoverClient, number>> = {};
    if (rdkafka !== undefined && end !== undefined) {
      if (rdkafka.failed.length > 0) throw new Error(`librdkafka: ${rdkafka.failed[0]}`);
      if (end.undelivered > 0) throw new Error(`librdkafka: ${end.undelivered} undelivered`);
      const wrong = producedExactlyOnceInOrder(logged, "r", end.produced, rdkafka.acked);
      if (wrong !== undefined) throw new Error(`librdkafka: ${wrong}`);
      acknowledged.librdkafka = rdkafka.acked.length;
      options.log(`librdkafka: ${end.produced} produced, each once, in order, where reported`);
    }
    if (kafkajs !== undefined) {
      const wrong = ackedOnceInOrder(logged, kafkajs.acked, "k");
      if (wrong !== undefined) throw new Error(`kafkajs: ${wrong}`);
      const at = new Map(logged.map((r) => [r.value, r.offset]));
      const moved = kafkajs.acked.findIndex((v, i) => at.get(v) !== kafkajs!.ackedOffsets[i]);
      if (moved >= 0) {
        throw new Error(
          `kafkajs: ${kafkajs.acked[moved]} acknowledged at ${kafkajs.ackedOffsets[moved]}, ` +
            `is at ${at.get(kafkajs.acked[moved])}`,
        );
      }
      acknowledged.kafkajs = kafkajs.acked.length;
      options.log(
        `kafkajs: ${kafkajs.acked.length} acknowledged of ${kafkajs.sent} sent ` +
          `(${kafkajs.failures} failed), each once, in order, where reported`,
      );
    }

    // Failover times, from the epochs of the acknowledged records' batches.
    const epochAt = new Map(logged.map((r) => [r.offset, r.leaderEpoch]));
    const acks: [FailoverClient, { offset: number; atMs: number }[]][] = [];
    if (rdkafka !== undefined) {
      acks.push(["librdkafka", rdkafka.acked.map((d) => ({ offset: d.offset, atMs: d.ackedMs }))]);
    }
    if (kafkajs !== undefined) {
      const k = kafkajs;
      acks.push(["kafkajs", k.ackedOffsets.map((offset, i) => ({ offset, atMs: k.ackedAtMs[i] }))]);
    }
    for (const r of rounds) {
      for (const [client, list] of acks) {
        const first = list.find((a) => (epochAt.get(a.offset) ?? -1) >= r.leaderEpoch);
        if (first !== undefined) r.failoverMs[client] = first.atMs - r.killedAtMs;
      }
    }
    return { rounds, acknowledged, logged: logged.length };
  } finally {
    await rdkafka?.stop().catch(() => {});
    await kafkajs?.stop().catch(() => {});
    await cluster.stop();
  }
}
