/**
 * The cluster bench suite (bench/cluster_bench.ts, `deno task bench --scenario cluster`) at its
 * tiniest against a real etcd and real brokers: the three targets' produce and consume rows with
 * brokers-3's ratios and goals, a replication-lag row from real samples, a failover round that
 * killed a real leader and saw the producer carry on, the Markdown section; afterwards no
 * temporary directory is left. Only shapes and what must hold whatever the speed (a new leader
 * differs from the victim, no record failed) are checked. Skipped loudly without etcd or
 * python3-confluent-kafka (a failure under SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 *
 * Plus, without any process: the goals from hand-made rows (the default-settings failover goal
 * included, which the tiny run leaves out: a default session takes 6 s a round), and the
 * runner's selection (the suite runs only when named).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { clusterGoals } from "../../bench/cluster/results.ts";
import { renderMarkdown } from "../../bench/report.ts";
import { parseArgs, selection } from "../../bench/runner/args.ts";
import type { BenchReportStd, ScenarioResult } from "../../bench/types.ts";
import { announceEtcdSkip, etcdAvailable } from "../cluster/etcd_server.ts";
import { announceSkip, confluentKafkaAvailable } from "../kafka_protocol/kafka_harness.ts";

announceEtcdSkip();
announceSkip(confluentKafkaAvailable, "python3-confluent-kafka");

/** A few thousand records, one run, no warm-up, one failover round on a 2 s session. */
const TINY = {
  records: 3_000,
  runs: 1,
  warmupRecords: 0,
  lagAcks: ["all" as const],
  lagRecords: 20_000,
  failoverRounds: 1,
  failoverRate: 1_000,
  failoverSessionTimeouts: [2_000],
};

function tempEntries(): Set<string> {
  return new Set(fs.readdirSync(tmpdir()).filter((n) => n.startsWith("sluice-cluster-bench-")));
}

function reportOf(scenarios: ScenarioResult[]): BenchReportStd {
  return {
    meta: {
      runtime: "deno",
      runtimeVersion: Deno.version.deno,
      os: "linux",
      cpu: "cpu",
      cores: 2,
      memoryBytes: 1,
      filesystem: "fs",
      commit: "c",
      startedAt: new Date().toISOString(),
      quick: true,
    },
    baselines: [],
    scenarios,
    peers: [],
    kafkaReference: [],
  };
}

Deno.test({
  name: "cluster suite, tiny: three targets, replication lag, a failover round, goals, report",
  ignore: !etcdAvailable || !confluentKafkaAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { runClusterBench } = await import("../../bench/cluster_bench.ts");
    const before = tempEntries();
    const progress: string[] = [];
    const o = await runClusterBench({
      quick: true,
      plan: TINY,
      log: () => {},
      progress: (scenario) => progress.push(scenario),
    });
    assert.equal(o.skipped, undefined);
    assert.deepEqual(o.errors, [], o.errors.join("\n"));

    const names = o.scenarios.map((s) => s.name);
    assert.deepEqual(names, [
      "cluster.produce.100B.single-node.acks-all.librdkafka",
      "cluster.produce.100B.brokers-1.acks-all.librdkafka",
      "cluster.produce.100B.brokers-3.acks-all.librdkafka",
      "cluster.consume.100B.single-node.librdkafka",
      "cluster.consume.100B.brokers-1.librdkafka",
      "cluster.consume.100B.brokers-3.librdkafka",
      "cluster.replication-lag.100B.brokers-3.acks-all",
      "cluster.failover.100B.session-2000ms",
    ]);
    const byName = new Map(o.scenarios.map((s) => [s.name, s]));
    for (const s of o.scenarios.slice(0, 6)) {
      assert.ok(s.recordsPerSec > 0, s.name);
      assert.equal(s.records, TINY.records);
      assert.equal(s.runs.length, 1);
      assert.equal(s.params.suite, "cluster");
    }
    const three = byName.get("cluster.produce.100B.brokers-3.acks-all.librdkafka")!;
    assert.equal(three.params.replicationFactor, 3);
    assert.equal(three.params.minInsyncReplicas, 2);
    assert.equal(three.params.acks, "all");
    assert.equal(three.params["enable.idempotence"], false);
    const single = byName.get("cluster.produce.100B.single-node.acks-all.librdkafka")!;
    assert.ok(
      Math.abs(
        (three.params.ratioToSingleNode as number) -
          three.recordsPerSec / single.recordsPerSec,
      ) < 1e-3,
    );
    assert.equal(typeof three.params.ratioToBrokers1, "number");

    const [lag] = o.lag;
    assert.ok(lag.samples > 0, "no lag sample");
    assert.equal(lag.timedOut, 0);
    assert.ok(lag.timeLagMs.p50! > 0 && lag.timeLagMs.p99! >= lag.timeLagMs.p50!);
    assert.ok(lag.offsetLag.p99! >= 0);
    assert.equal(
      byName.get("cluster.replication-lag.100B.brokers-3.acks-all")!.p99Ms,
      lag.timeLagMs.p99,
    );

    const [f] = o.failover;
    assert.equal(f.error, undefined);
    assert.equal(f.sessionTimeoutMs, 2_000);
    assert.equal(f.defaultSettings, false);
    assert.equal(f.rounds.length, 1);
    const r = f.rounds[0];
    assert.notEqual(r.newLeader, r.victim);
    assert.ok(r.electionMs > 0 && r.firstAckMs > 0, JSON.stringify(r));
    assert.equal(f.producer?.failed, 0, f.producer?.errors.join("; "));
    assert.ok(f.producer!.acked > 0 && f.producer!.acked <= f.producer!.sent);
    assert.equal(byName.get("cluster.failover.100B.session-2000ms")!.p50Ms, r.firstAckMs);

    // The ratio goals; no failover goal (that one is for default settings).
    assert.deepEqual(o.goals.map((g) => g.scenario), [three.name, three.name]);
    assert.ok(progress.some((p) => p.startsWith("cluster produce brokers-3")));
    assert.ok(progress.some((p) => p.startsWith("failover, session 2000 ms")));

    // Every broker stopped cleanly, every directory gone.
    assert.equal(o.targets.length, 3);
    for (const t of o.targets) assert.ok(t.exitCodes.every((c) => c === 0), t.target);
    assert.deepEqual([...tempEntries()].filter((n) => !before.has(n)), []);

    const md = renderMarkdown(reportOf(o.scenarios));
    assert.match(md, /## Sluice as a cluster, measured in this run/);
    assert.match(md, /Machine load: 1-minute load average [\d.]+ at the suite's start, [\d.]+ at/);
    assert.match(md, /\| brokers-3 \| 3 \| 3 \| 2 \| [\d,]+ \| [\d,]+ \| [\d.]+ \| [\d.]+ \|/);
    assert.match(md, /\| 2000 ms \| 1 \| [\d,]+ \/ [\d,]+ \|/);
    assert.match(md, /\*\*(met|missed)\*\*: `cluster\.produce\.100B\.brokers-3/);
  },
});

Deno.test("cluster goals: the ratios to one broker and the default-settings failover p50", () => {
  const row = (name: string, over: Partial<ScenarioResult>): ScenarioResult => ({
    name,
    recordSizeBytes: 100,
    records: 0,
    recordsPerSec: 0,
    mbPerSec: 0,
    ratioToLimit: null,
    limit: null,
    p50Ms: null,
    p99Ms: null,
    runs: [],
    params: { suite: "cluster" },
    ...over,
  });
  const goals = clusterGoals([
    row("cluster.produce.100B.brokers-3.acks-all.librdkafka", {
      recordsPerSec: 40,
      params: { suite: "cluster", ratioToBrokers1: 0.4, ratioToSingleNode: 0.5 },
    }),
    row("cluster.failover.100B.session-6000ms.default", {
      p50Ms: 6_400,
      params: { suite: "cluster", defaultSettings: true, brokerSessionTimeoutMs: 6000 },
    }),
    row("cluster.failover.100B.session-2000ms", {
      p50Ms: 2_400,
      params: { suite: "cluster", defaultSettings: false, brokerSessionTimeoutMs: 2000 },
    }),
    // Another suite's row is not ours.
    row("cluster.failover.100B.session-1ms.default", {
      p50Ms: 1,
      params: { suite: "other", defaultSettings: true },
    }),
  ]);
  assert.deepEqual(goals.map((g) => [g.scenario, g.met]), [
    ["cluster.produce.100B.brokers-3.acks-all.librdkafka", false],
    ["cluster.produce.100B.brokers-3.acks-all.librdkafka", true],
    ["cluster.failover.100B.session-6000ms.default", false],
  ]);
  assert.match(goals[2].text, /p50 6,400 ms .* \(goal <= 3000 ms\)/);
});

Deno.test("the cluster suite runs only when named: not in the default selection, alone when named", () => {
  assert.ok(!selection(parseArgs([])).has("cluster"));
  assert.ok(!selection(parseArgs(["--quick"])).has("cluster"));
  assert.deepEqual([...selection(parseArgs(["--scenario", "cluster"])).keys()], ["cluster"]);
});
