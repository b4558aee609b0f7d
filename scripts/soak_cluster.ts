/**
 * The cluster soak (`deno task soak --cluster`, or run on its own): rounds of SIGKILL-the-leader
 * on a real three-broker cluster under an idempotent acks=all librdkafka producer
 * (python3-confluent-kafka) and an idempotent acks=all kafkajs producer at once, both on one
 * partition of three replicas (test/cluster/failover_rounds.ts runs the rounds and the checks).
 * At the end it verifies exactly-once, in-order storage of what each client got acknowledged and
 * byte-identical replicas, and prints each round's failover time per client (SIGKILL to the first
 * acknowledgement of a record the new leader wrote) and their p50, p99 and max.
 *
 *   deno task soak --cluster [--rounds 50] [--clients librdkafka,kafkajs] [--rate 300]
 *
 * Needs etcd (scripts/install-etcd.sh) and, for librdkafka, Debian's python3-confluent-kafka.
 * Exits 1 when a check fails or a round saw no failover.
 */
import { parseArgs } from "node:util";
import {
  type FailoverClient,
  type FailoverResult,
  failoverRounds,
} from "../test/cluster/failover_rounds.ts";
import { etcdAvailable } from "../test/cluster/etcd_server.ts";
import { confluentKafkaAvailable } from "../test/cluster/rdkafka_load.ts";
import { percentile } from "./soak_util.ts";

export interface ClusterSoakOptions {
  rounds: number;
  clients: FailoverClient[];
  rate: number;
}

function report(result: FailoverResult, clients: readonly FailoverClient[]): boolean {
  let ok = true;
  console.log(`\n  round  killed  leader  epoch  ${clients.map((c) => c.padStart(12)).join("")}`);
  for (const r of result.rounds) {
    const cells = clients.map((c) => {
      const ms = r.failoverMs[c];
      if (ms === undefined) ok = false;
      return (ms === undefined ? "none" : `${ms} ms`).padStart(12);
    });
    console.log(
      `${String(r.round).padStart(7)}${String(r.victim).padStart(8)}${
        String(r.leader).padStart(8)
      }${String(r.leaderEpoch).padStart(7)}  ${cells.join("")}`,
    );
  }
  console.log("\nfailover time (SIGKILL to the first acks=all acknowledgement by the new leader):");
  for (const c of clients) {
    const sorted = result.rounds.map((r) => r.failoverMs[c]).filter((x) => x !== undefined)
      .sort((a, b) => a - b);
    console.log(
      `  ${c.padEnd(11)} rounds ${sorted.length}  p50 ${percentile(sorted, 0.5)} ms  p99 ` +
        `${percentile(sorted, 0.99)} ms  max ${sorted[sorted.length - 1]} ms  ` +
        `(${result.acknowledged[c]} records acknowledged)`,
    );
  }
  console.log(`log: ${result.logged} records, byte-identical on every replica`);
  return ok;
}

/** Runs the cluster soak; false when it failed (the reason printed). */
export async function clusterSoak(options: ClusterSoakOptions): Promise<boolean> {
  if (!etcdAvailable) {
    console.error("cluster soak: etcd is not installed (scripts/install-etcd.sh, as root)");
    return false;
  }
  if (options.clients.includes("librdkafka") && !confluentKafkaAvailable) {
    console.error("cluster soak: python3-confluent-kafka is not installed (or --clients kafkajs)");
    return false;
  }
  const t0 = performance.now();
  console.log(
    `cluster soak: ${options.rounds} rounds of SIGKILL-the-leader, clients ` +
      `${options.clients.join(" and ")}; ${Deno.build.os}/${Deno.build.arch}, ` +
      `${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}`,
  );
  try {
    const result = await failoverRounds({
      rounds: options.rounds,
      clients: options.clients,
      rate: options.rate,
      log: (line) => console.log(line),
    });
    const ok = report(result, options.clients);
    console.log(`${ok ? "passed" : "FAILED"} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return ok;
  } catch (err) {
    console.error(`cluster soak FAILED: ${err instanceof Error ? err.stack : err}`);
    return false;
  }
}

/** The cluster soak's own flags (soak.ts passes its arguments on). */
export function clusterSoakOptions(args: string[]): ClusterSoakOptions {
  const { values } = parseArgs({
    args,
    strict: false,
    options: {
      rounds: { type: "string", default: "50" },
      clients: { type: "string", default: "librdkafka,kafkajs" },
      rate: { type: "string", default: "300" },
    },
  });
  const clients = String(values.clients).split(",").filter((c) => c !== "");
  for (const c of clients) {
    if (c !== "librdkafka" && c !== "kafkajs") throw new Error(`unknown client ${c}`);
  }
  return {
    rounds: Number(values.rounds),
    clients: clients as FailoverClient[],
    rate: Number(values.rate),
  };
}

if (import.meta.main) {
  Deno.exit(await clusterSoak(clusterSoakOptions(Deno.args)) ? 0 : 1);
}
