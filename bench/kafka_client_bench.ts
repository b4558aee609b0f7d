/**
 * Kafka-client suite: "the same client with the same settings produces and consumes 1,000,000 x
 * 100 B records against Sluice's Kafka listener; with KAFKA_BROKERS set it runs against that Kafka
 * too and prints both side by side".
 *
 * The client is librdkafka (through python3-confluent-kafka, Debian's package: librdkafka 2.0.2),
 * driven by bench/kafka_client.py as a subprocess of /usr/bin/python3 (SLUICE_BENCH_PYTHON
 * overrides it), one process per direction and run. The real server is started as in the http
 * suite (bench_server.ts), with its Kafka listener on a free loopback port; both share the
 * machine's cores with the client (2 on the reference VM).
 *
 * Each run uses a fresh topic (1 partition, replication factor 1, created with CreateTopics):
 *
 * - `kafka.produce.100B.librdkafka`: one producer sends the records (no key; 1,000 distinct
 *   incompressible 100 B values) and waits for every acknowledgement. Settings, the same on both
 *   sides, chosen for a durability-fair comparison with Kafka's own producer defaults where they
 *   matter: acks=all (Kafka's default since 3.0: the leader answers once the write is in its log;
 *   with replication factor 1 that is the leader alone, and neither Kafka nor Sluice fsyncs before
 *   answering), linger.ms=5 (Kafka 4.0's default), batch.size=1 MiB (librdkafka also caps a batch
 *   at message.max.bytes, 1,000,000 B, and batch.num.messages, 10,000), compression none,
 *   idempotence off. Timed from the first produce() to the end of flush().
 * - `kafka.consume.100B.librdkafka`: one consumer in a fresh group reads the topic from the earliest
 *   offset until it has every record (librdkafka's fetch defaults: fetch.max.bytes 50 MiB,
 *   max.partition.fetch.bytes 1 MiB, fetch.wait.max.ms 500; auto commit off, one commit at the
 *   end, after the clock) but one: queued.min.messages=1,000,000. librdkafka 2.0.2 stops fetching
 *   for 1 s whenever its prefetch queue holds queued.min.messages (default 100,000; 2.1.0 made the
 *   pause tunable as fetch.queue.backoff.ms), which held 1,000,000 records to ~270,000 records/s
 *   against a broker answering each fetch in ~1 ms: the client's pause, not the broker, set the
 *   pace (Kafka's Java consumer has no such pause). Timed from the partition assignment (the group join: a real Kafka may
 *   hold a new group back 3 s, group.initial.rebalance.delay.ms) to the last record;
 *   params.totalSecondsMedian includes the join.
 *
 * A second client, labelled as such: kafkajs 2.2.4 (deno.json), in this process, as
 * `kafka.produce.100B.kafkajs` and `kafka.consume.100B.kafkajs`. kafkajs has no linger or byte-sized
 * batching: the producer sends arrays of 8,000 records (about 0.9 MB a batch: librdkafka's batches
 * held ~8,100 records, capped by message.max.bytes; 10,000 would pass Kafka's default 1 MiB
 * max.message.bytes and be refused as MESSAGE_TOO_LARGE, as Sluice refuses it), acks=-1
 * (all), no compression, idempotence off, 4 sends in flight; the consumer reads from the
 * beginning with maxBytesPerPartition 1 MiB, maxBytes 50 MiB, maxWaitTimeInMs 500 (librdkafka's
 * fetch figures), autoCommit off, timed from its group join. kafkajs is pure JavaScript and much
 * slower per record than librdkafka: its figures say more about the client than the broker.
 *
 * MB/s counts record values only (10^6 B/s), as bench/kafka_bench.ts does. Full: 1,000,000 records,
 * 3 measured runs (median) with librdkafka and 1 with kafkajs (~20 s); --quick: 100,000 records,
 * 1 run each. With KAFKA_BROKERS set the same runs go
 * to that cluster (its topics are deleted after), as `kafka` peer rows beside the same scenario
 * names (bench/main.ts fills ratioToSluice). When python3 or confluent_kafka is missing the
 * librdkafka half is skipped with the reason in the report (`skipped`), not failed.
 *
 * Run: deno run -A bench/kafka_client_bench.ts [--quick] [--cpu-prof-dir DIR]
 */
import process from "node:process";
import { cliOptions, fixed, textTable } from "./bench_util.ts";
import { formatServerLine, processCpuSeconds, type Server, withServer } from "./bench_server.ts";
import type { ProgressFn } from "./types.ts";
import {
  type ClientName,
  type Mode,
  MODES,
  RECORDS_FULL,
  RECORDS_QUICK,
  RUNS_FULL,
  RUNS_QUICK,
  scenarioName,
  settingsOf,
  VALUE_BYTES,
} from "./kafka_client/settings.ts";
import type {
  Driver,
  KafkaClientBenchOptions,
  KafkaClientBenchOutcome,
  TargetRun,
} from "./kafka_client/types.ts";
import { librdkafkaDriver, probeClient, pythonPath } from "./kafka_client/librdkafka.ts";
import { kafkajsDriver } from "./kafka_client/kafkajs.ts";
import { toPeers, toScenarios } from "./kafka_client/results.ts";

export {
  CONSUMER_SETTINGS,
  KAFKAJS_CONSUMER_SETTINGS,
  KAFKAJS_PRODUCER_SETTINGS,
  PRODUCER_SETTINGS,
  PYTHON_ENV,
  scenarioName,
} from "./kafka_client/settings.ts";
export type { ClientName, Mode } from "./kafka_client/settings.ts";
export type {
  ClientRun,
  KafkaClientBenchOptions,
  KafkaClientBenchOutcome,
  TargetRun,
} from "./kafka_client/types.ts";
export { probeClient } from "./kafka_client/librdkafka.ts";

/** One direction of one run against `bootstrap`, with the Sluice server's CPU around it. */
async function runOne(
  driver: Driver,
  target: TargetRun["target"],
  bootstrap: string,
  topic: string,
  mode: Mode,
  records: number,
  serverPid: number | undefined,
): Promise<TargetRun> {
  const cpu0 = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  const r = await driver.run(bootstrap, topic, mode, records);
  const cpu1 = serverPid === undefined ? undefined : processCpuSeconds(serverPid);
  return {
    ...r,
    clientName: driver.name,
    target,
    topic,
    serverCpuSeconds: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
  };
}

/** `runs` produce + consume runs of `driver` against `bootstrap`, each on a fresh topic. */
async function runTarget(
  driver: Driver,
  target: TargetRun["target"],
  bootstrap: string,
  records: number,
  runs: number,
  server: Server | undefined,
  progress: ProgressFn,
  log: (line: string) => void,
): Promise<TargetRun[]> {
  const out: TargetRun[] = [];
  const label = target === "sluice" ? "" : "kafka ";
  for (let i = 1; i <= runs; i++) {
    const topic = `bench-${driver.name}-${Date.now()}-${i}`;
    try {
      for (const mode of MODES) {
        const name = `${label}${scenarioName(mode, driver.name)}`;
        progress(name, i, runs);
        const r = await runOne(driver, target, bootstrap, topic, mode, records, server?.pid);
        out.push(r);
        progress(name, i, runs, r.recordsPerSec);
        log(`  ${target} ${driver.name} ${describeRun(r)}`);
        if (r.records !== records) {
          throw new Error(
            `${target} ${driver.name} ${mode}: ${r.records} records, want ${records}`,
          );
        }
      }
    } finally {
      // Sluice's topics go with its temporary data directory; a real cluster keeps them.
      if (target === "kafka") {
        await driver.deleteTopic(bootstrap, topic)
          .catch((err) => log(`  kafka: could not delete topic ${topic}: ${err.message}`));
      }
    }
  }
  return out;
}

function describeRun(r: TargetRun): string {
  const join = r.joinSeconds === undefined ? "" : `, join ${fixed(r.joinSeconds, 2)} s`;
  const serverCpu = r.serverCpuSeconds === undefined
    ? ""
    : `, server CPU ${fixed(r.serverCpuSeconds, 1)} s`;
  const rtt = r.stats.rttAvgMs === undefined ? "" : `, rtt avg ${fixed(r.stats.rttAvgMs, 1)} ms`;
  return `${r.mode}: ${fixed(r.records, 0)} records in ${fixed(r.seconds, 2)} s, ${
    fixed(r.recordsPerSec, 0)
  } records/s, ${fixed(r.MBps, 1)} MB/s${join}; client CPU ${
    fixed(r.clientCpuSeconds, 1)
  } s${serverCpu}${rtt}`;
}
/** Runs the suite; see the module doc. */
export async function runKafkaClientBench(
  opts: KafkaClientBenchOptions,
): Promise<KafkaClientBenchOutcome> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const progress: ProgressFn = opts.progress ?? (() => {});
  const python = pythonPath();
  const records = opts.quick ? RECORDS_QUICK : RECORDS_FULL;
  const runsOf = (client: ClientName) => opts.quick ? RUNS_QUICK : RUNS_FULL[client];
  const outcome: KafkaClientBenchOutcome = {
    clients: [],
    python,
    records,
    recordSizeBytes: VALUE_BYTES,
    measuredRuns: {},
    settings: {},
    kafkaBrokers: opts.kafkaBrokers || undefined,
    runs: [],
    scenarios: [],
    peers: [],
  };
  const drivers: Driver[] = [];
  const probe = probeClient(python);
  if ("error" in probe) {
    outcome.skipped = probe.error;
    log(`kafka-client: librdkafka skipped: ${probe.error}`);
  } else {
    outcome.client = probe;
    drivers.push(librdkafkaDriver(python));
    log(`kafka-client: librdkafka ${probe.librdkafka} (confluent-kafka-python ${probe.binding})`);
  }
  if (opts.kafkajs !== false) drivers.push(kafkajsDriver());
  outcome.clients = drivers.map((d) => d.name);
  for (const d of drivers) {
    outcome.measuredRuns[d.name] = runsOf(d.name);
    outcome.settings[`${d.name}.producer`] = settingsOf(d.name, "produce");
    outcome.settings[`${d.name}.consumer`] = settingsOf(d.name, "consume");
  }
  if (drivers.length === 0) return outcome;
  log(
    `kafka-client: ${outcome.clients.join(", ")}; ${fixed(records, 0)} x ${VALUE_BYTES} B, ` +
      `${drivers.map((d) => `${runsOf(d.name)} ${d.name}`).join(", ")} run(s) a direction`,
  );

  outcome.server = await withServer({
    label: "kafka-client",
    tempPrefix: "sluice-kafka-client-bench-",
    note: "the clients and the server share the cores",
    log,
    cpuProfileDir: opts.cpuProfileDir,
    kafkaPort: "auto",
  }, async (server) => {
    const bootstrap = server.kafka;
    if (bootstrap === undefined) {
      throw new Error(
        "the server printed no `sluice kafka listening on HOST:PORT` line: its Kafka listener is off",
      );
    }
    for (const d of drivers) {
      outcome.runs.push(
        ...await runTarget(d, "sluice", bootstrap, records, runsOf(d.name), server, progress, log),
      );
    }
  });
  outcome.scenarios = toScenarios(outcome.runs, outcome.clients, records);

  const brokers = outcome.kafkaBrokers;
  if (brokers !== undefined) {
    log(`kafka-client: the same against Kafka at ${brokers}`);
    const errors: string[] = [];
    for (const d of drivers) {
      try {
        outcome.runs.push(
          ...await runTarget(
            d,
            "kafka",
            brokers,
            records,
            runsOf(d.name),
            undefined,
            progress,
            log,
          ),
        );
      } catch (err) {
        errors.push(`${d.name}: ${(err as Error).message}`);
        log(`kafka-client: ${d.name} against Kafka at ${brokers} failed: ${errors.at(-1)}`);
      }
    }
    if (errors.length > 0) outcome.peerError = errors.join("\n");
    outcome.peers = toPeers(outcome.runs, outcome.clients, brokers, records);
  }
  return outcome;
}

/** Sluice and (when measured) Kafka side by side, one row per direction. */
export function formatKafkaClientTable(o: KafkaClientBenchOutcome): string {
  const skipped = o.skipped === undefined ? [] : [`kafka-client: librdkafka skipped: ${o.skipped}`];
  if (o.clients.length === 0) return skipped.join("\n");
  const rows: string[][] = [[
    "scenario",
    "sluice rec/s",
    "sluice MB/s",
    ...(o.peers.length > 0 ? ["kafka rec/s", "kafka MB/s", "kafka/sluice"] : []),
    "server CPU cores",
  ]];
  for (const s of o.scenarios) {
    const peer = o.peers.find((p) => p.scenario === s.name);
    const cores = s.params.serverCpuCores;
    rows.push([
      s.name,
      fixed(s.recordsPerSec, 0),
      fixed(s.mbPerSec, 1),
      ...(o.peers.length > 0
        ? peer === undefined ? ["", "", ""] : [
          fixed(peer.recordsPerSec, 0),
          fixed(peer.mbPerSec, 1),
          s.recordsPerSec > 0 ? fixed(peer.recordsPerSec / s.recordsPerSec, 2) : "",
        ]
        : []),
      typeof cores === "number" ? fixed(cores, 2) : "",
    ]);
  }
  const lines = [
    `kafka-client: ${fixed(o.records, 0)} x ${o.recordSizeBytes} B, median of ${
      o.clients.map((c) => `${o.measuredRuns[c]} ${c}`).join(", ")
    } run(s); librdkafka${o.client ? ` ${o.client.librdkafka}` : ""}: acks=all, linger.ms=5, ` +
    "batch.size=1 MiB, no compression; kafkajs: acks=-1, 8,000-record sends, 4 in flight",
    textTable(rows),
    ...skipped,
  ];
  if (o.server !== undefined) lines.push(formatServerLine(o.server));
  if (o.peerError !== undefined) lines.push(`kafka peer failed: ${o.peerError.split("\n")[0]}`);
  return lines.join("\n");
}

if (import.meta.main) {
  const cli = cliOptions(process.argv.slice(2), process.env);
  const outcome = await runKafkaClientBench({
    quick: cli.quick,
    cpuProfileDir: cli.cpuProfileDir,
    kafkaBrokers: (process.env.KAFKA_BROKERS ?? "").trim() || undefined,
  });
  console.log(formatKafkaClientTable(outcome));
  if (outcome.server !== undefined && outcome.server.exitCode !== 0) process.exitCode = 1;
}
