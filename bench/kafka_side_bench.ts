/**
 * The `kafka` suite (`deno task bench --scenario kafka`): Apache Kafka 4.4 and Sluice side by
 * side, in one run, with the same clients, settings and record counts against each.
 *
 * Servers, both on free loopback ports with their own temporary directories, both up for the whole
 * suite:
 * - Sluice: `src/main.ts serve --kafka-port auto` as the other server suites start it
 *   (bench_server.ts withServer), its defaults (no fsync before an answer: flush.policy none).
 * - Kafka: one combined KRaft node (scripts/kafka_server.ts startKafka, the jars of
 *   scripts/install-kafka.sh) with the heap kafka-server-start.sh gives it by default (-Xmx1G
 *   -Xms1G), its defaults otherwise (no fsync either: log.flush.interval.messages unbounded), but
 *   group.initial.rebalance.delay.ms=0 and replication factor 1 for its internal topics.
 *
 * Clients, each a process of its own, one per run; every topic is fresh, 1 partition:
 * - librdkafka through python3-confluent-kafka (bench/kafka_client.py): produce (linger.ms=5,
 *   batch.size=1 MiB, no compression, idempotence off; acks=1 and acks=all) and consume (a fresh
 *   group from the earliest offset, queued.min.messages=1,000,000: see kafka_client_bench.ts).
 * - librdkafka through node-rdkafka (the current librdkafka scripts/install-node-rdkafka.sh
 *   builds; bench/kafka_client/node_rdkafka_client.mjs, run by Node): the same steps and settings.
 * - Kafka's own Java tools (bench/kafka_side/java_tools.ts): ProducerPerformance (--throughput -1,
 *   acks=1 / acks=all, bootstrap.servers, Kafka's producer defaults otherwise) and
 *   ConsumerPerformance on the topic it wrote; EndToEndLatency (100 B, acks=1, a modest count: one
 *   record at a time, its percentiles in whole ms).
 * Consumers read the topic the first acks' producer wrote. The records/s are each client's own
 * clock (kafka_client.py's, or the tool's summary line).
 *
 * Before the matrix each server takes plan.warmupRecords records, unmeasured (produced and
 * consumed by the first client): a JVM broker compiles its hot paths on first use, and the
 * comparison is of servers in their steady state.
 *
 * The servers take turns on each step, who goes first flipping from step to step (and from round
 * to round), so a load change on a shared machine, or the page cache writing back the previous
 * run's data, hits both alike. Around each client process the server's CPU
 * (/proc/<pid>/stat utime + stime) is read, giving CPU seconds per million records (the client's
 * start and the topic's creation included), and after it its VmRSS and VmHWM (/proc/<pid>/status).
 * The idle server meanwhile costs little (Kafka's background threads: a few ms a second).
 *
 * Report: each Sluice row is a `vs-kafka.<mode>.<size>[.acks-N].<client>` scenario; Kafka's row
 * for it is a `kafka` peer with ratioToSluice (Kafka's records/s over Sluice's), latencies and the
 * same params keys (serverCpuSecondsPerMillionRecords, serverRssMiB, serverPeakRssMiB, ...). The
 * Markdown report adds a "Kafka beside Sluice" section with both and the goals (results.ts).
 *
 * Plans (kafka_side/plan.ts): full 1,000,000 records, 100 B and 1 KiB, acks=1 and acks=all,
 * EndToEndLatency 5,000; --quick 100,000 x 100 B, acks=1, EndToEndLatency 1,000. Not part of the
 * default selection: it runs when named (--scenario kafka). Skipped with a note when Kafka is not
 * installed (scripts/install-kafka.sh); a librdkafka client alone is skipped, with a note, when
 * python3 has no confluent_kafka, or node-rdkafka is not built.
 *
 * Run: deno run -A bench/kafka_side_bench.ts [--quick]
 */
import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { Kafka, logLevel } from "kafkajs";
import { fixed, MB, sizeLabel, withTimeout } from "./bench_util.ts";
import { processCpuSeconds, type Server, withServer } from "./bench_server.ts";
import { probeClient, pythonPath, runLibrdkafka } from "./kafka_client/librdkafka.ts";
import { nodeRdkafkaDir, probeNodeRdkafka, runNodeRdkafka } from "./kafka_client/node_rdkafka.ts";
import type { ClientRun } from "./kafka_client/types.ts";
import { consumerPerf, endToEndLatency, producerPerf } from "./kafka_side/java_tools.ts";
import {
  type Acks,
  ADMIN_TIMEOUT_MS,
  type Client,
  CLIENT_TIMEOUT_MS,
  FULL_PLAN,
  KAFKA_BROKER_ENV,
  type KafkaSidePlan,
  LIBRDKAFKA_CONSUMER_SETTINGS,
  librdkafkaProducerSettings,
  type Mode,
  QUICK_PLAN,
  scenarioName,
  type Target,
} from "./kafka_side/plan.ts";
import { processMemory } from "./kafka_side/proc.ts";
import { sideGoals, toReportRows } from "./kafka_side/results.ts";
import { formatKafkaSideTable } from "./kafka_side/table.ts";
import type { KafkaSideOptions, KafkaSideOutcome, SideRun } from "./kafka_side/types.ts";
import {
  KAFKA_DIR,
  kafkaAvailable,
  kafkaVersion,
  type RunningKafka,
  startKafka,
} from "../scripts/kafka_server.ts";
import { REPO_DIR } from "./runner/paths.ts";
import type { ProgressFn } from "./types.ts";

export type { KafkaSideOptions, KafkaSideOutcome, SideRun } from "./kafka_side/types.ts";
export { FULL_PLAN, QUICK_PLAN } from "./kafka_side/plan.ts";
export { formatKafkaSideTable } from "./kafka_side/table.ts";

const MiB = 1024 * 1024;

/** One server of the pair, as a step sees it. */
interface Side {
  target: Target;
  bootstrap: string;
  pid: number;
}

/** What one client run measured, before the server's CPU and memory are added. */
interface ClientFigures {
  records: number;
  seconds: number;
  recordsPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  extra: Record<string, string | number>;
}

/** A step of the matrix: one client, one mode, one size; run against each server in turn. */
interface Step {
  client: Client;
  mode: Mode;
  size: number;
  acks?: Acks;
  records: number;
  /** The topic of this step on a server (a consumer names its producer's). */
  topic: (target: Target) => string;
  run: (side: Side, topic: string) => Promise<ClientFigures>;
}

function sluiceVersion(): string {
  try {
    const json = JSON.parse(fs.readFileSync(join(REPO_DIR, "deno.json"), "utf8"));
    return String(json.version ?? "unknown");
  } catch {
    return "unknown";
  }
}

/** A 1-partition topic through kafkajs's admin client (the Java producer's topic). */
async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = new Kafka({
    clientId: "sluice-kafka-side-bench",
    brokers: [bootstrap],
    connectionTimeout: 3_000,
    requestTimeout: ADMIN_TIMEOUT_MS,
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  }).admin();
  await withTimeout(admin.connect(), ADMIN_TIMEOUT_MS, `admin connect ${bootstrap}`);
  try {
    await withTimeout(
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
      ADMIN_TIMEOUT_MS,
      `create topic ${topic} on ${bootstrap}`,
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** One direction of a librdkafka client's run (bench/kafka_client.py's arguments and answer). */
type LibrdkafkaRunner = (
  bootstrap: string,
  topic: string,
  mode: "produce" | "consume",
  records: number,
  size: number,
  settings: Record<string, string | number | boolean>,
) => Promise<ClientRun>;
/** The librdkafka clients that can run here, each with its runner. */
type LibrdkafkaRunners = readonly (readonly [Client, LibrdkafkaRunner])[];

/** The steps of one round, in order; `stamp` makes the topics fresh. */
function stepsOf(plan: KafkaSidePlan, librdkafkaRunners: LibrdkafkaRunners, stamp: string): Step[] {
  const steps: Step[] = [];
  const topicOf = (client: Client, size: number, acks: Acks) => (target: Target) =>
    `vs-kafka-${client}-${sizeLabel(size)}-acks-${acks}-${target}-${stamp}`;
  const records = plan.records;
  for (const size of plan.recordSizes) {
    for (const [client, run] of librdkafkaRunners) {
      if (!plan.clients.includes(client)) continue;
      for (const acks of plan.acks) {
        steps.push({
          client,
          mode: "produce",
          size,
          acks,
          records,
          topic: topicOf(client, size, acks),
          run: async (side, topic) =>
            librdkafkaFigures(
              await run(
                side.bootstrap,
                topic,
                "produce",
                records,
                size,
                librdkafkaProducerSettings(acks),
              ),
            ),
        });
      }
      steps.push({
        client,
        mode: "consume",
        size,
        records,
        topic: topicOf(client, size, plan.acks[0]),
        run: async (side, topic) =>
          librdkafkaFigures(
            await run(
              side.bootstrap,
              topic,
              "consume",
              records,
              size,
              LIBRDKAFKA_CONSUMER_SETTINGS,
            ),
          ),
      });
    }
    if (plan.clients.includes("java")) {
      for (const acks of plan.acks) {
        steps.push({
          client: "java",
          mode: "produce",
          size,
          acks,
          records,
          topic: topicOf("java", size, acks),
          run: async (side, topic) => {
            await createTopic(side.bootstrap, topic);
            const { summary: s } = await producerPerf(
              side.bootstrap,
              topic,
              records,
              size,
              acks,
              CLIENT_TIMEOUT_MS,
            );
            return {
              records: s.records,
              seconds: s.records / s.recordsPerSec,
              recordsPerSec: s.recordsPerSec,
              extra: {
                "producerPerf.avgLatencyMs": s.avgLatencyMs,
                "producerPerf.p50Ms": s.p50Ms,
                "producerPerf.p99Ms": s.p99Ms,
                "producerPerf.maxLatencyMs": s.maxLatencyMs,
              },
            };
          },
        });
      }
      steps.push({
        client: "java",
        mode: "consume",
        size,
        records,
        topic: topicOf("java", size, plan.acks[0]),
        run: async (side, topic) => {
          const { summary: s } = await consumerPerf(
            side.bootstrap,
            topic,
            records,
            CLIENT_TIMEOUT_MS,
          );
          return {
            records: s.records,
            seconds: s.fetchMs / 1000,
            recordsPerSec: s.fetchRecordsPerSec,
            extra: {
              "consumerPerf.rebalanceMs": s.rebalanceMs,
              "consumerPerf.fetchMs": s.fetchMs,
              "consumerPerf.recordsPerSecWithJoin": s.recordsPerSec,
            },
          };
        },
      });
    }
  }
  if (plan.clients.includes("java") && plan.e2eRecords > 0) {
    const size = plan.e2eRecordSize;
    const acks: Acks = "1";
    steps.push({
      client: "java",
      mode: "e2e-latency",
      size,
      acks,
      records: plan.e2eRecords,
      topic: (target) => `vs-kafka-e2e-${sizeLabel(size)}-${target}-${stamp}`,
      run: async (side, topic) => {
        const { summary: s } = await endToEndLatency(
          side.bootstrap,
          topic,
          plan.e2eRecords,
          size,
          acks,
        );
        return {
          records: plan.e2eRecords,
          seconds: plan.e2eRecords * s.avgMs / 1000,
          recordsPerSec: s.avgMs > 0 ? 1000 / s.avgMs : 0,
          p50Ms: s.p50Ms,
          p99Ms: s.p99Ms,
          p999Ms: s.p999Ms,
          extra: { "endToEnd.avgMs": s.avgMs },
        };
      },
    });
  }
  return steps;
}

function librdkafkaFigures(r: ClientRun): ClientFigures {
  const extra: Record<string, string | number> = {};
  if (r.joinSeconds !== undefined) extra["librdkafka.joinSeconds"] = r.joinSeconds;
  for (const key of ["rttAvgMs", "batchRecordsAvg"]) {
    if (r.stats[key] !== undefined) extra[`librdkafka.${key}`] = r.stats[key];
  }
  extra["librdkafka.clientCpuSeconds"] = r.clientCpuSeconds;
  return { records: r.records, seconds: r.seconds, recordsPerSec: r.recordsPerSec, extra };
}

/** One step against one server, with the server's CPU around it and its memory after. */
async function runStep(step: Step, side: Side, round: number): Promise<SideRun> {
  const topic = step.topic(side.target);
  const cpu0 = processCpuSeconds(side.pid);
  const t0 = performance.now();
  const f = await step.run(side, topic);
  const clientWallMs = performance.now() - t0;
  const cpu1 = processCpuSeconds(side.pid);
  const mem = processMemory(side.pid);
  if (f.records !== step.records) {
    throw new Error(`${f.records} records, want ${step.records}`);
  }
  return {
    target: side.target,
    client: step.client,
    mode: step.mode,
    recordSizeBytes: step.size,
    acks: step.acks,
    round,
    scenario: scenarioName(step.mode, step.size, step.client, step.acks),
    topic,
    records: f.records,
    seconds: f.seconds,
    recordsPerSec: f.recordsPerSec,
    mbPerSec: f.recordsPerSec * step.size / MB,
    p50Ms: f.p50Ms,
    p99Ms: f.p99Ms,
    p999Ms: f.p999Ms,
    serverCpuSeconds: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
    serverRssBytes: mem?.rssBytes,
    serverHwmBytes: mem?.hwmBytes,
    clientWallMs,
    extra: f.extra,
  };
}

function describeRun(r: SideRun): string {
  const lat = r.p99Ms === undefined ? "" : `, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`;
  const cpu = r.serverCpuSeconds === undefined
    ? ""
    : `, server CPU ${fixed(r.serverCpuSeconds / r.records * 1e6, 2)} s/M records`;
  const rss = r.serverRssBytes === undefined
    ? ""
    : `, RSS ${fixed(r.serverRssBytes / MiB, 0)} MiB (peak ${fixed(r.serverHwmBytes! / MiB, 0)})`;
  return `${r.target.padEnd(6)} ${r.scenario}: ${fixed(r.recordsPerSec, 0)} records/s, ${
    fixed(r.mbPerSec, 1)
  } MB/s${lat}${cpu}${rss}; client ${fixed(r.clientWallMs / 1000, 1)} s`;
}

/**
 * Unmeasured traffic before the matrix: the first client's produce and consume steps of the first
 * size with plan.warmupRecords records, on a topic of their own.
 */
async function warmUp(
  side: Side,
  plan: KafkaSidePlan,
  runners: LibrdkafkaRunners,
  log: (line: string) => void,
): Promise<void> {
  const warm: KafkaSidePlan = {
    ...plan,
    records: plan.warmupRecords,
    recordSizes: plan.recordSizes.slice(0, 1),
    acks: plan.acks.slice(0, 1),
    clients: plan.clients.slice(0, 1),
    e2eRecords: 0,
  };
  const t0 = performance.now();
  for (const step of stepsOf(warm, runners, `${Date.now().toString(36)}-warm-up`)) {
    try {
      await step.run(side, step.topic(side.target));
    } catch (err) {
      throw new Error(
        `${side.target} warm-up (${step.client} ${step.mode}): ${(err as Error).message}`,
      );
    }
  }
  log(
    `  ${side.target.padEnd(6)} warm-up: ${fixed(plan.warmupRecords, 0)} records through ${
      warm.clients[0]
    } in ${fixed((performance.now() - t0) / 1000, 1)} s (not measured)`,
  );
}

/** Every step of every round against both servers; a failed step is kept in errors. */
async function runMatrix(
  sides: { sluice: Side; kafka: Side },
  plan: KafkaSidePlan,
  runners: LibrdkafkaRunners,
  outcome: KafkaSideOutcome,
  progress: ProgressFn,
  log: (line: string) => void,
): Promise<void> {
  if (plan.warmupRecords > 0) {
    for (const side of [sides.sluice, sides.kafka]) {
      await warmUp(side, plan, runners, log);
    }
  }
  // Topics a producer filled: a consumer whose producer failed has nothing to read.
  const produced = new Set<string>();
  for (let round = 1; round <= plan.rounds; round++) {
    const steps = stepsOf(plan, runners, `${Date.now().toString(36)}-r${round}`);
    for (const [i, step] of steps.entries()) {
      const name = scenarioName(step.mode, step.size, step.client, step.acks);
      // Who goes first flips every step (and every round): the second runs while the kernel
      // still writes back the first's pages, and neither should always be second.
      const order = (i + round) % 2 === 1
        ? [sides.sluice, sides.kafka]
        : [sides.kafka, sides.sluice];
      for (const side of order) {
        const label = `${side.target} ${name}`;
        if (step.mode === "consume" && !produced.has(step.topic(side.target))) {
          outcome.errors.push(`${label} (round ${round}): not run, its producer failed`);
          continue;
        }
        progress(label, round, plan.rounds);
        try {
          const r = await runStep(step, side, round);
          outcome.runs.push(r);
          if (step.mode === "produce") produced.add(r.topic);
          progress(label, round, plan.rounds, r.recordsPerSec);
          log(`  ${describeRun(r)}`);
        } catch (err) {
          const message = `${label} (round ${round}): ${(err as Error).message}`;
          outcome.errors.push(message);
          log(`  FAILED ${message.split("\n")[0]}`);
        }
      }
    }
  }
}

/** Runs the suite; see the module doc. */
export async function runKafkaSideBench(opts: KafkaSideOptions): Promise<KafkaSideOutcome> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const progress: ProgressFn = opts.progress ?? (() => {});
  const plan: KafkaSidePlan = { ...(opts.quick ? QUICK_PLAN : FULL_PLAN), ...opts.plan };
  const outcome: KafkaSideOutcome = {
    clientSkipped: [],
    plan,
    runs: [],
    scenarios: [],
    peers: [],
    goals: [],
    errors: [],
  };
  if (!kafkaAvailable) {
    outcome.skipped = `Apache Kafka 4.4 is not installed in ${KAFKA_DIR} (or no java runs): ` +
      "scripts/install-kafka.sh installs it (needs mvn and a JDK 17+)";
    log(`kafka: skipped: ${outcome.skipped}`);
    return outcome;
  }
  const python = pythonPath();
  const probe = probeClient(python);
  if ("error" in probe) {
    outcome.clientSkipped.push({ client: "librdkafka", reason: probe.error });
    plan.clients = plan.clients.filter((c) => c !== "librdkafka");
    log(`kafka: librdkafka skipped: ${probe.error}`);
  }
  const rdkafkaDir = nodeRdkafkaDir();
  const nodeProbe = probeNodeRdkafka(rdkafkaDir);
  if ("error" in nodeProbe) {
    outcome.clientSkipped.push({ client: "node-rdkafka", reason: nodeProbe.error });
    plan.clients = plan.clients.filter((c) => c !== "node-rdkafka");
    log(`kafka: node-rdkafka skipped: ${nodeProbe.error}`);
  }
  const runners: LibrdkafkaRunners = [
    ["librdkafka", (...a) => runLibrdkafka(python, ...a)],
    ["node-rdkafka", (...a) => runNodeRdkafka(rdkafkaDir, ...a)],
  ];
  const versions = {
    sluice: sluiceVersion(),
    kafka: kafkaVersion ?? "unknown",
    librdkafka: "error" in probe ? "" : `librdkafka ${probe.librdkafka}`,
    nodeRdkafka: "error" in nodeProbe
      ? ""
      : `librdkafka ${nodeProbe.librdkafka}, node-rdkafka ${nodeProbe.binding}`,
    java: kafkaVersion ?? "unknown",
  };
  outcome.client = {
    librdkafka: "error" in probe ? undefined : probe.librdkafka,
    binding: "error" in probe ? undefined : probe.binding,
    nodeRdkafka: "error" in nodeProbe ? undefined : nodeProbe,
    java: `Kafka ${versions.java} tools`,
  };
  log(
    `kafka: Apache Kafka ${versions.kafka} beside Sluice ${versions.sluice}; ${
      fixed(plan.records, 0)
    } records of ${plan.recordSizes.map(sizeLabel).join(", ")}, acks ${
      plan.acks.join(", ")
    }; clients ${plan.clients.join(", ")}; EndToEndLatency ${
      fixed(plan.e2eRecords, 0)
    }; ${plan.rounds} round(s)`,
  );

  let kafka: RunningKafka | undefined;
  const sluiceInfo = await withServer({
    label: "kafka",
    tempPrefix: "sluice-kafka-side-bench-",
    note: "Kafka starts next; clients and both servers share the cores",
    log,
    kafkaPort: "auto",
  }, async (server: Server) => {
    if (server.kafka === undefined) {
      throw new Error("the server printed no `sluice kafka listening on HOST:PORT` line");
    }
    kafka = await startKafka({ env: KAFKA_BROKER_ENV, tempPrefix: "sluice-kafka-side-" });
    log(
      `kafka: Kafka ${versions.kafka} ${kafka.bootstrap} (pid ${kafka.pid}, ` +
        `${KAFKA_BROKER_ENV.KAFKA_HEAP_OPTS}) up in ${fixed(kafka.startMs / 1000, 1)} s`,
    );
    outcome.kafka = {
      version: versions.kafka,
      bootstrap: kafka.bootstrap,
      pid: kafka.pid,
      startMs: kafka.startMs,
      heapOpts: KAFKA_BROKER_ENV.KAFKA_HEAP_OPTS,
    };
    try {
      await runMatrix(
        {
          sluice: { target: "sluice", bootstrap: server.kafka, pid: server.pid },
          kafka: { target: "kafka", bootstrap: kafka.bootstrap, pid: kafka.pid },
        },
        plan,
        runners,
        outcome,
        progress,
        log,
      );
    } finally {
      const kMem = processMemory(kafka.pid);
      outcome.kafka.rssBytes = kMem?.rssBytes;
      outcome.kafka.hwmBytes = kMem?.hwmBytes;
      const sMem = processMemory(server.pid);
      outcome.sluice = { ...server.info, rssBytes: sMem?.rssBytes, hwmBytes: sMem?.hwmBytes };
      const stopped = await kafka.stop();
      outcome.kafka.stopCode = stopped.code;
      outcome.kafka.stopSignal = stopped.signal;
      outcome.kafka.killed = stopped.killed;
      log(
        `kafka: Kafka stopped by SIGTERM, exit code ${stopped.code}${
          stopped.killed ? " (killed after the stop timeout)" : ""
        }`,
      );
    }
  }).catch(async (err) => {
    // withServer stopped Sluice; a Kafka that started is stopped too (stop() is idempotent).
    await kafka?.stop().catch(() => {});
    throw err;
  });
  outcome.sluice = {
    ...sluiceInfo,
    rssBytes: outcome.sluice?.rssBytes,
    hwmBytes: outcome.sluice?.hwmBytes,
  };
  const rows = toReportRows(outcome.runs, versions);
  outcome.scenarios = rows.scenarios;
  outcome.peers = rows.peers;
  outcome.goals = sideGoals(rows.scenarios, rows.peers);
  return outcome;
}

if (import.meta.main) {
  const outcome = await runKafkaSideBench({ quick: process.argv.includes("--quick") });
  console.log(formatKafkaSideTable(outcome));
  for (const g of outcome.goals) {
    console.log(`  ${g.met ? "MET   " : "MISSED"} ${g.scenario}: ${g.text}`);
  }
  if (outcome.errors.length > 0) process.exitCode = 1;
  if (outcome.sluice !== undefined && outcome.sluice.exitCode !== 0) process.exitCode = 1;
}
