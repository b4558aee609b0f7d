/**
 * The `cluster` suite (`deno task bench --scenario cluster`; issue 15's benchmark): what
 * replication costs and how fast a cluster recovers, in one run on this machine.
 *
 * Processes: one etcd (free loopback ports, a temporary data dir) shared by every cluster, each
 * under its own key prefix; brokers are `src/main.ts serve --node-id N --etcd URL` on free ports
 * (bench/cluster/procs.ts). Clients are librdkafka through python3-confluent-kafka, one process
 * per run, with the kafka-client suite's settings (acks=all, idempotence off, linger.ms 5,
 * batch.size 1 MiB, no compression) for every target alike.
 *
 * 1. Throughput. Three targets up at once: the single-node server (no etcd), a cluster of one
 *    broker (topics of replication factor 1) and a cluster of three (replication factor 3,
 *    min.insync.replicas 2). Each takes plan.warmupRecords unmeasured, then plan.runs produce runs
 *    of plan.records x 100 B (acks=all) into fresh 1-partition topics, the targets taking turns,
 *    who goes first rotating each run; then as many consume runs, each reading its run's topic
 *    from the earliest offset to its end (consumers read only below the high watermark; on
 *    brokers-3 that is every record all three replicas hold). Records/s are the client's own
 *    clock; the brokers' CPU is read from /proc around each client process. Goal: brokers-3
 *    produce >= 0.5 x one broker's.
 * 2. Replication lag (bench/cluster/lag.ts): on brokers-3, a produce run per plan.lagAcks with a
 *    sampler reading every broker's log end offset of the partition from GET /metrics: time lag
 *    (ms until a follower reaches the leader's sampled log end) and offset lag (records).
 * 3. Failover (bench/cluster/failover.ts): after the throughput clusters stop, a fresh 3-broker
 *    cluster per plan.failoverSessionTimeouts (null: the default, 6000 ms, no flag), librdkafka
 *    producing acks=all at plan.failoverRate; each round SIGKILLs the partition's leader and
 *    times the first acks=all success of a record sent after the kill. Goal: p50 <= 3 s with
 *    default settings.
 *
 * Report rows (bench/cluster/results.ts): `cluster.produce.*`, `cluster.consume.*`,
 * `cluster.replication-lag.*`, `cluster.failover.*`; the goals join the run's targets. The
 * machine's 1-minute load average at the start and end is kept (a shared machine skews both).
 * Skipped, with a note, without etcd (scripts/install-etcd.sh) or python3-confluent-kafka.
 *
 * Run: deno run -A bench/cluster_bench.ts [--quick]
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fixed } from "./bench_util.ts";
import { processCpuSeconds, type Server, startServer } from "./bench_server.ts";
import { runFailover } from "./cluster/failover.ts";
import { sampleLag, spreadOf } from "./cluster/lag.ts";
import {
  type Acks,
  type ClusterPlan,
  FULL_PLAN,
  producerSettings,
  QUICK_PLAN,
  TARGET_SHAPES,
  type TargetName,
  VALUE_BYTES,
} from "./cluster/plan.ts";
import { BenchCluster, type RunningEtcd, startEtcd } from "./cluster/procs.ts";
import { clusterGoals, formatClusterTables, toScenarios } from "./cluster/results.ts";
import { createTopic } from "./cluster/topics.ts";
import type {
  ClusterBenchOptions,
  ClusterBenchOutcome,
  LagRun,
  TargetInfo,
  ThroughputRun,
} from "./cluster/types.ts";
import { probeClient, pythonPath, runLibrdkafka } from "./kafka_client/librdkafka.ts";
import { CONSUMER_SETTINGS } from "./kafka_client/settings.ts";
import type { ProgressFn } from "./types.ts";

export type { ClusterBenchOptions, ClusterBenchOutcome } from "./cluster/types.ts";
export { FULL_PLAN, QUICK_PLAN } from "./cluster/plan.ts";
export { formatClusterTables } from "./cluster/results.ts";

/** One running target of the throughput part. */
interface Target {
  name: TargetName;
  bootstrap: string;
  pids: () => number[];
  cluster?: BenchCluster;
  server?: Server;
  dataDir?: string;
}

function etcdRuns(): boolean {
  try {
    execFileSync("etcd", ["--version"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function loadAverage(): number | undefined {
  try {
    return Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

async function startTarget(name: TargetName, etcd: RunningEtcd): Promise<Target> {
  const shape = TARGET_SHAPES[name];
  if (shape.brokers === 0) {
    const dataDir = fs.mkdtempSync(join(tmpdir(), "sluice-cluster-bench-single-"));
    const server = await startServer(dataDir, undefined, "auto");
    if (server.kafka === undefined) {
      await server.stop();
      throw new Error("the single-node server printed no Kafka listening line");
    }
    return { name, bootstrap: server.kafka, pids: () => [server.pid], server, dataDir };
  }
  const cluster = await BenchCluster.start(etcd, `/bench-${name}/`, shape.brokers);
  return {
    name,
    bootstrap: cluster.bootstrap(),
    pids: () => [...cluster.brokers.values()].map((b) => b.server.pid),
    cluster,
  };
}

async function stopTarget(t: Target): Promise<TargetInfo> {
  const shape = TARGET_SHAPES[t.name];
  const info: TargetInfo = {
    target: t.name,
    brokers: Math.max(1, shape.brokers),
    replicationFactor: shape.replicationFactor,
    minInsyncReplicas: shape.minInsyncReplicas,
    bootstrap: t.bootstrap,
    exitCodes: [],
  };
  if (t.server !== undefined) {
    await t.server.stop();
    info.exitCodes.push(t.server.info.exitCode);
    fs.rmSync(t.dataDir!, { recursive: true, force: true });
  }
  if (t.cluster !== undefined) {
    const servers = [...t.cluster.brokers.values()].map((b) => b.server);
    await t.cluster.stop();
    for (const s of servers) info.exitCodes.push(s.info.exitCode);
  }
  return info;
}

function cpuOf(pids: number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const c = processCpuSeconds(pid);
    if (c === undefined) return undefined;
    sum += c;
  }
  return sum;
}

/** One librdkafka client process against `t`, with its brokers' CPU around it. */
async function clientRun(
  python: string,
  t: Target,
  mode: "produce" | "consume",
  topic: string,
  records: number,
  acks: Acks | undefined,
  run: number,
): Promise<ThroughputRun> {
  const shape = TARGET_SHAPES[t.name];
  if (mode === "produce") {
    await createTopic(t.bootstrap, topic, shape.replicationFactor, shape.minInsyncReplicas);
  }
  const cpu0 = cpuOf(t.pids());
  const r = await runLibrdkafka(
    python,
    t.bootstrap,
    topic,
    mode,
    records,
    VALUE_BYTES,
    mode === "produce" ? producerSettings(acks ?? "all") : CONSUMER_SETTINGS,
  );
  const cpu1 = cpuOf(t.pids());
  if (r.records !== records) throw new Error(`${r.records} records, want ${records}`);
  return {
    target: t.name,
    mode,
    acks,
    run,
    topic,
    records: r.records,
    seconds: r.seconds,
    recordsPerSec: r.recordsPerSec,
    mbPerSec: r.MBps,
    stats: r.stats,
    serverCpuSeconds: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
  };
}

function describe(r: ThroughputRun): string {
  const cpu = r.serverCpuSeconds === undefined
    ? ""
    : `, brokers' CPU ${fixed(r.serverCpuSeconds / r.records * 1e6, 2)} s/M records`;
  return `${r.target.padEnd(11)} ${r.mode} run ${r.run}: ${
    fixed(r.recordsPerSec, 0)
  } records/s${cpu}`;
}

/** The throughput part: warm-up, produce runs, consume runs, the targets taking turns. */
async function runThroughput(
  targets: Target[],
  python: string,
  plan: ClusterPlan,
  outcome: ClusterBenchOutcome,
  log: (line: string) => void,
  progress: ProgressFn,
): Promise<void> {
  const stamp = Date.now().toString(36);
  if (plan.warmupRecords > 0) {
    for (const t of targets) {
      const t0 = performance.now();
      await clientRun(
        python,
        t,
        "produce",
        `warm-${t.name}-${stamp}`,
        plan.warmupRecords,
        "all",
        0,
      );
      log(
        `  ${t.name.padEnd(11)} warm-up: ${fixed(plan.warmupRecords, 0)} records in ${
          fixed((performance.now() - t0) / 1000, 1)
        } s (not measured)`,
      );
    }
  }
  const produced = new Map<string, string>();
  for (const mode of ["produce", "consume"] as const) {
    for (let run = 1; run <= plan.runs; run++) {
      // Who goes first rotates, so no target always runs right after another's writes.
      const order = targets.map((_, i) => targets[(i + run - 1) % targets.length]);
      for (const t of order) {
        const label = `cluster ${mode} ${t.name}`;
        const key = `${t.name}/${run}`;
        const topic = mode === "produce" ? `bench-${t.name}-r${run}-${stamp}` : produced.get(key);
        if (topic === undefined) {
          outcome.errors.push(`${label} run ${run}: not run, its producer failed`);
          continue;
        }
        progress(label, run, plan.runs);
        try {
          const r = await clientRun(
            python,
            t,
            mode,
            topic,
            plan.records,
            mode === "produce" ? "all" : undefined,
            run,
          );
          outcome.runs.push(r);
          if (mode === "produce") produced.set(key, topic);
          progress(label, run, plan.runs, r.recordsPerSec);
          log(`  ${describe(r)}`);
        } catch (err) {
          const message = `${label} run ${run}: ${(err as Error).message}`;
          outcome.errors.push(message);
          log(`  FAILED ${message.split("\n")[0]}`);
        }
      }
    }
  }
}

/** The replication-lag runs on brokers-3, one per acks. */
async function runLag(
  t: Target,
  python: string,
  plan: ClusterPlan,
  outcome: ClusterBenchOutcome,
  log: (line: string) => void,
  progress: ProgressFn,
): Promise<void> {
  const cluster = t.cluster!;
  for (const acks of plan.lagAcks) {
    const topic = `lag-acks-${acks}-${Date.now().toString(36)}`;
    const label = `cluster replication lag acks=${acks}`;
    progress(label, 1, 1);
    try {
      await createTopic(t.bootstrap, topic, 3, 2);
      const state = await cluster.partitionState(topic, 0);
      const leader = state === undefined ? undefined : cluster.brokers.get(state.leader);
      if (leader === undefined) throw new Error(`no live leader for ${topic} in etcd`);
      const followers = [...cluster.brokers.values()].filter((b) => b !== leader).map((b) => b.url);
      const sampler = sampleLag(leader.url, followers, topic);
      let r: ThroughputRun;
      try {
        r = await clientRun(python, t, "produce", topic, plan.lagRecords, acks, 1);
      } finally {
        sampler.stop();
      }
      const s = await sampler.done;
      const lag: LagRun = {
        acks,
        topic,
        records: r.records,
        recordsPerSec: r.recordsPerSec,
        samples: s.timeLagMs.length + s.timedOut,
        offsetLag: spreadOf(s.offsetLag),
        timeLagMs: spreadOf(s.timeLagMs),
        scrapeMs: spreadOf(s.scrapeMs),
        timedOut: s.timedOut,
      };
      outcome.lag.push(lag);
      log(
        `  replication lag, acks=${acks}: ${lag.samples} samples at ${
          fixed(r.recordsPerSec, 0)
        } records/s; time lag p50 ${fixed(lag.timeLagMs.p50 ?? 0, 1)} ms, p99 ${
          fixed(lag.timeLagMs.p99 ?? 0, 1)
        } ms; offset lag p99 ${fixed(lag.offsetLag.p99 ?? 0, 0)} records`,
      );
    } catch (err) {
      const message = `${label}: ${(err as Error).message}`;
      outcome.errors.push(message);
      log(`  FAILED ${message.split("\n")[0]}`);
    }
  }
}

/** Runs the suite; see the module doc. */
export async function runClusterBench(opts: ClusterBenchOptions): Promise<ClusterBenchOutcome> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const progress: ProgressFn = opts.progress ?? (() => {});
  const plan: ClusterPlan = { ...(opts.quick ? QUICK_PLAN : FULL_PLAN), ...opts.plan };
  const settings = producerSettings("all");
  const outcome: ClusterBenchOutcome = {
    plan,
    settings,
    targets: [],
    runs: [],
    lag: [],
    failover: [],
    scenarios: [],
    goals: [],
    loadAverage: { start: loadAverage() },
    errors: [],
  };
  if (!etcdRuns()) {
    outcome.skipped = "etcd is not installed: scripts/install-etcd.sh (as root) installs Debian's";
    log(`cluster: skipped: ${outcome.skipped}`);
    return outcome;
  }
  const python = pythonPath();
  const probe = probeClient(python);
  if ("error" in probe) {
    outcome.skipped = `librdkafka: ${probe.error}`;
    log(`cluster: skipped: ${outcome.skipped}`);
    return outcome;
  }
  outcome.client = probe;
  const client = `librdkafka ${probe.librdkafka} (confluent-kafka-python ${probe.binding})`;
  log(
    `cluster: ${plan.targets.join(", ")}; ${fixed(plan.records, 0)} x ${VALUE_BYTES} B a run, ` +
      `${plan.runs} run(s); lag runs ${
        plan.lagAcks.map((a) => `acks=${a}`).join(", ") || "none"
      }; ` +
      `failover ${plan.failoverRounds} round(s) per session timeout (${
        plan.failoverSessionTimeouts.map((s) => s ?? "default").join(", ")
      }) at ${fixed(plan.failoverRate, 0)} records/s; ${client}; load average ${
        outcome.loadAverage.start ?? "?"
      }`,
  );

  const etcd = await startEtcd();
  try {
    const targets: Target[] = [];
    try {
      for (const name of plan.targets) {
        const t0 = performance.now();
        const t = await startTarget(name, etcd);
        targets.push(t);
        log(
          `  ${name.padEnd(11)} up in ${
            fixed((performance.now() - t0) / 1000, 1)
          } s: ${t.bootstrap} (pids ${t.pids().join(", ")})`,
        );
      }
      await runThroughput(targets, python, plan, outcome, log, progress);
      const three = targets.find((t) => t.name === "brokers-3");
      if (three !== undefined) await runLag(three, python, plan, outcome, log, progress);
    } finally {
      for (const t of targets) outcome.targets.push(await stopTarget(t));
    }
    for (const [i, session] of plan.failoverSessionTimeouts.entries()) {
      if (plan.failoverRounds <= 0) break;
      const f = await runFailover(etcd, python, plan, session, i, log, progress);
      outcome.failover.push(f);
      if (f.error !== undefined) {
        outcome.errors.push(`failover (session ${f.sessionTimeoutMs} ms): ${f.error}`);
      }
    }
  } finally {
    await etcd.stop();
  }
  for (const t of outcome.targets) {
    if (t.exitCodes.some((c) => c !== 0)) {
      outcome.errors.push(`${t.target}: a broker did not stop cleanly: exit codes ${t.exitCodes}`);
    }
  }
  outcome.loadAverage.end = loadAverage();
  outcome.scenarios = toScenarios(
    plan,
    outcome.runs,
    outcome.lag,
    outcome.failover,
    client,
    settings,
  );
  // A shared machine skews every figure: the load the suite ran under goes with each row.
  for (const s of outcome.scenarios) {
    if (outcome.loadAverage.start !== undefined) {
      s.params.loadAverage1mAtStart = outcome.loadAverage.start;
    }
    if (outcome.loadAverage.end !== undefined) {
      s.params.loadAverage1mAtEnd = outcome.loadAverage.end;
    }
  }
  outcome.goals = clusterGoals(outcome.scenarios);
  return outcome;
}

if (import.meta.main) {
  const outcome = await runClusterBench({ quick: process.argv.includes("--quick") });
  console.log(formatClusterTables(outcome.scenarios));
  for (const g of outcome.goals) {
    console.log(`  ${g.met ? "MET   " : "MISSED"} ${g.scenario}: ${g.text}`);
  }
  for (const e of outcome.errors) console.log(`FAILED ${e.split("\n")[0]}`);
  if (outcome.errors.length > 0) process.exitCode = 1;
}
