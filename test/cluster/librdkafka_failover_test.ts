/**
 * Failover under an idempotent librdkafka producer (python3-confluent-kafka), as the issue asks
 * in CI next to failover_test.ts's kafkajs: three rounds of SIGKILL-the-leader of a partition of
 * three replicas (min.insync.replicas 2) while the producer sends with acks=all, each killed broker
 * restarted on its data (failover_rounds.ts). Every record the producer sent ends in the log
 * exactly once, in the order sent, each at the offset its delivery report named, and every
 * replica's log is byte for byte the leader's. The rounds' failover times (SIGKILL to the first
 * acknowledgement of a record the new leader wrote) are printed. `deno task soak --cluster` runs
 * the same rounds, fifty by default, with kafkajs too.
 */
import assert from "node:assert/strict";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { announceSkip, SYSTEM_PYTHON } from "../kafka_protocol/kafka_harness.ts";
import { confluentKafkaAvailable } from "./rdkafka_load.ts";
import { failoverRounds } from "./failover_rounds.ts";

announceEtcdSkip();
announceSkip(confluentKafkaAvailable, `python3-confluent-kafka (for ${SYSTEM_PYTHON})`);

const ROUNDS = 3;

Deno.test({
  name: "cluster failover: SIGKILL the leader under an idempotent librdkafka producer, 3 rounds",
  ignore: !etcdAvailable || !confluentKafkaAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const result = await failoverRounds({
      rounds: ROUNDS,
      clients: ["librdkafka"],
      log: (line) => console.log(line),
    });
    assert.equal(result.rounds.length, ROUNDS);
    for (const r of result.rounds) {
      const ms = r.failoverMs.librdkafka;
      assert.ok(
        ms !== undefined && ms > 0,
        `round ${r.round}: no acknowledgement in the new epoch`,
      );
      console.log(`round ${r.round}: failover ${ms} ms`);
    }
    assert.ok((result.acknowledged.librdkafka ?? 0) > ROUNDS * 40);
  },
});
