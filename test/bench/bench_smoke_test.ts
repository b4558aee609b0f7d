/**
 * The bench's report contract (bench/types.ts): `deno run -A bench/main.ts --quick --json` run as
 * a subprocess, its stdout parsed and every field checked for presence and type, and the .json,
 * .md and .svg it writes looked for in a temp results dir (SLUICE_BENCH_RESULTS_DIR), so the test
 * leaves nothing in bench/results. No speed is asserted: only shapes. Plus light checks of the
 * renderers in bench/report.ts on a small hand-made report.
 */
import assert from "node:assert/strict";
import {
  formatProgress,
  renderMarkdown,
  renderScenarioTable,
  renderSvg,
} from "../../bench/report.ts";
import type { BenchReportStd, ScenarioResult } from "../../bench/types.ts";

const BENCH_MAIN = new URL("../../bench/main.ts", import.meta.url).pathname;
/** The quick run takes under a minute on 2 cores; a hung run fails here instead of stalling. */
const RUN_TIMEOUT_MS = 240_000;

const META_STRINGS = [
  "runtime",
  "runtimeVersion",
  "os",
  "cpu",
  "filesystem",
  "commit",
  "startedAt",
];
const META_NUMBERS = ["cores", "memoryBytes"];
/** `<where>.<what>.<record size>.<variant...>`, e.g. `http.fetch.100B.batch`. */
const SCENARIO_NAME = /^[a-z][a-z0-9-]*\.[a-z0-9-]+\.\d+(B|KiB|MiB)(\.[A-Za-z0-9-]+)*$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function assertNumber(v: unknown, what: string): void {
  assert.equal(typeof v, "number", `${what}: ${JSON.stringify(v)} is not a number`);
  assert.ok(Number.isFinite(v as number), `${what}: ${v} is not finite`);
}

function assertNumberOrNull(v: unknown, what: string): void {
  if (v !== null) assertNumber(v, what);
}

function assertParams(v: unknown, what: string): void {
  assert.ok(isObject(v), `${what}.params is not an object`);
  for (const [key, value] of Object.entries(v)) {
    assert.ok(
      ["string", "number", "boolean"].includes(typeof value),
      `${what}.params.${key}: ${JSON.stringify(value)}`,
    );
  }
}

/** Every field of BenchReportStd, plus `details`, with its type. */
function checkContract(report: unknown): void {
  assert.ok(isObject(report), "the report is not an object");
  assert.deepEqual(
    Object.keys(report),
    ["meta", "baselines", "scenarios", "peers", "kafkaReference", "details"],
  );

  const meta = report.meta;
  assert.ok(isObject(meta), "meta");
  for (const k of META_STRINGS) {
    assert.equal(typeof meta[k], "string", `meta.${k}`);
    assert.notEqual(meta[k], "", `meta.${k} is empty`);
  }
  for (const k of META_NUMBERS) assertNumber(meta[k], `meta.${k}`);
  assert.equal(meta.quick, true, "meta.quick");
  assert.ok(!Number.isNaN(Date.parse(meta.startedAt as string)), "meta.startedAt is no date");
  // What touching new memory costs here: measured, never a placeholder.
  const fresh = meta.freshMemory;
  assert.ok(isObject(fresh), "meta.freshMemory");
  assert.ok((fresh.firstTouchUsPerPage as number) > 0, "meta.freshMemory.firstTouchUsPerPage");
  assert.ok((fresh.residentUsPerPage as number) > 0, "meta.freshMemory.residentUsPerPage");
  assert.equal(typeof fresh.pagesReportedToHost, "boolean", "meta.freshMemory.pagesReportedToHost");

  const baselines = report.baselines;
  assert.ok(Array.isArray(baselines) && baselines.length > 0, "baselines");
  for (const b of baselines) {
    assert.ok(isObject(b));
    assert.match(
      b.name as string,
      /^(file|http)\.[a-z-]+\.\d+(B|KiB|MiB)(\.[A-Za-z0-9-]+)*$/,
      "baseline",
    );
    assertNumber(b.mbPerSec, `${b.name}.mbPerSec`);
    assert.ok(Array.isArray(b.runs), `${b.name}.runs`);
    for (const r of b.runs as unknown[]) assertNumber(r, `${b.name}.runs[]`);
  }
  const baselineNames = new Set(baselines.map((b: Json) => b.name));

  const scenarios = report.scenarios;
  assert.ok(Array.isArray(scenarios) && scenarios.length > 0, "scenarios");
  const names = new Set<string>();
  for (const s of scenarios) {
    assert.ok(isObject(s));
    const name = s.name as string;
    assert.match(name, SCENARIO_NAME, "scenario name");
    assert.ok(!names.has(name), `${name} appears twice`);
    names.add(name);
    for (const k of ["recordSizeBytes", "records", "recordsPerSec", "mbPerSec"]) {
      assertNumber(s[k], `${name}.${k}`);
    }
    assertNumberOrNull(s.ratioToLimit, `${name}.ratioToLimit`);
    if (s.limit === null) assert.equal(s.ratioToLimit, null, `${name}: a ratio with no limit`);
    else {
      assert.equal(typeof s.limit, "string", `${name}.limit`);
      assert.ok(baselineNames.has(s.limit), `${name}.limit ${s.limit} is not a baseline`);
      assertNumber(s.ratioToLimit, `${name}.ratioToLimit`);
    }
    assertNumberOrNull(s.p50Ms, `${name}.p50Ms`);
    assertNumberOrNull(s.p99Ms, `${name}.p99Ms`);
    if (s.p999Ms !== undefined) assertNumberOrNull(s.p999Ms, `${name}.p999Ms`);
    assert.ok(Array.isArray(s.runs), `${name}.runs`);
    for (const r of s.runs as unknown[]) {
      assert.ok(isObject(r), `${name}.runs[]`);
      for (const k of ["recordsPerSec", "mbPerSec", "seconds"]) {
        assertNumber(r[k], `${name}.runs[].${k}`);
      }
    }
    assertParams(s.params, name);
  }
  // One of each family the issue names, converted from the older suites or from embedded_bench.
  for (
    const n of [
      "embedded.produce.1KiB.none",
      "http.produce.100B.batch",
      "http.produce.100B.json",
      "http.produce.100B.batch.vs-sink",
      "http.fetch.100B.batch",
      "http.fetch.100B.json",
      "http.produce-latency.100B.sequential",
      "http.group-consume.100B.x1",
      "http.group-consume.100B.x2",
      "http.group-consume.100B.x4",
    ]
  ) {
    assert.ok(names.has(n), `scenario ${n} is missing`);
  }
  const byName = new Map(scenarios.map((s: Json) => [s.name as string, s]));
  assertNumber(byName.get("embedded.produce.1KiB.none")!.ratioToLimit, "produce 1KiB ratio");
  // Paired with the bare Hono sink: the per-round ratio's median, its spread, CPU per request.
  const vsSink = byName.get("http.produce.100B.batch.vs-sink")!;
  assert.equal(vsSink.limit, "http.hono-post-sink.100B");
  assertNumber(vsSink.ratioToLimit, "vs-sink ratio");
  const vsParams = vsSink.params as Json;
  assert.ok((vsParams.pairedRounds as number) >= 3, "vs-sink rounds");
  assert.ok((vsParams.pairedRatioMin as number) <= (vsSink.ratioToLimit as number));
  assert.ok((vsParams.pairedRatioMax as number) >= (vsSink.ratioToLimit as number));
  assert.ok((vsParams.serverCpuUsPerRequest as number) > 0, "vs-sink CPU per request");
  assert.ok((vsParams.baselineCpuUsPerRequest as number) > 0, "sink CPU per request");
  const latency = byName.get("http.produce-latency.100B.sequential")!;
  assertNumber(latency.p50Ms, "latency p50Ms");
  assertNumber(latency.p99Ms, "latency p99Ms");

  assert.ok(Array.isArray(report.peers), "peers");
  for (const p of report.peers) {
    assert.ok(isObject(p));
    for (const k of ["name", "version", "scenario"]) {
      assert.equal(typeof p[k], "string", `peer ${k}`);
    }
    assertNumber(p.recordsPerSec, `${p.name}.recordsPerSec`);
    assertNumber(p.mbPerSec, `${p.name}.mbPerSec`);
    assertNumberOrNull(p.ratioToSluice, `${p.name}.ratioToSluice`);
    if (names.has(p.scenario as string)) assertNumber(p.ratioToSluice, `${p.name} ratio`);
    assertParams(p.params, `peer ${p.name}`);
  }

  assert.ok(Array.isArray(report.kafkaReference), "kafkaReference");
  assert.ok(report.kafkaReference.length > 0, "kafkaReference is empty");
  for (const k of report.kafkaReference) {
    assert.ok(isObject(k));
    assert.equal(typeof k.source, "string", "kafkaReference.source");
    assert.equal(typeof k.setup, "string", "kafkaReference.setup");
    assertNumber(k.recordsPerSec, "kafkaReference.recordsPerSec");
    assertNumber(k.mbPerSec, "kafkaReference.mbPerSec");
  }

  assert.ok(isObject(report.details), "details");

  // The Kafka-client suite: kafkajs always; librdkafka's two scenarios, or a note saying why they
  // were skipped (no librdkafka client on this machine), never an error.
  const details = report.details as Json;
  const skipped = (details.skipped as Json[]).find((s) => s.suite === "kafka-client");
  const kafkaClientNames = ["kafka.produce.100B.kafkajs", "kafka.consume.100B.kafkajs"];
  if (skipped === undefined) {
    kafkaClientNames.push("kafka.produce.100B.librdkafka", "kafka.consume.100B.librdkafka");
  }
  for (const n of kafkaClientNames) {
    const s = byName.get(n);
    assert.ok(s !== undefined, `scenario ${n} is missing`);
    assert.ok((s.recordsPerSec as number) > 0, `${n}.recordsPerSec`);
    assert.equal(s.recordSizeBytes, 100, `${n}.recordSizeBytes`);
  }
  if (skipped !== undefined) {
    assert.equal(typeof skipped.reason, "string", "kafka-client skip reason");
    assert.ok(!names.has("kafka.produce.100B.librdkafka"), "skipped, yet a kafka-client figure");
  }
}

Deno.test("bench/main.ts --quick --json prints the report contract and writes .json, .md, .svg", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sluice-bench-smoke-" });
  // The bench's own temporary directories (its peer servers' data directories among them) go
  // under a directory of this test: peers_test.ts, running beside it, asserts that no
  // /tmp/sluice-peer-* server is left over, and must not see this run's servers.
  const tmp = await Deno.makeTempDir({ prefix: "sluice-bench-smoke-tmp-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BENCH_MAIN, "--quick", "--json"],
      env: { SLUICE_BENCH_RESULTS_DIR: dir, NO_COLOR: "1", TMPDIR: tmp },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr.slice(-4000));
    const report = JSON.parse(new TextDecoder().decode(out.stdout));
    checkContract(report);

    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(files.length, 3, files.join(", "));
    const stem = files[0].replace(/\.[a-z]+$/, "");
    assert.deepEqual(files, [`${stem}.json`, `${stem}.md`, `${stem}.svg`]);
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${dir}/${stem}.json`)), report);
    const md = Deno.readTextFileSync(`${dir}/${stem}.md`);
    assert.match(md, /published, not measured here/);
    assert.match(md, /\| `http\.produce\.100B\.batch` \|/);
    assert.match(md, /\*\*fresh memory\*\* \| [0-9.]+ us a 4 KiB page at first touch/);
    const svg = Deno.readTextFileSync(`${dir}/${stem}.svg`);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bench/main.ts --kafka without KAFKA_BROKERS fails at once and says what it needs", async () => {
  const env = Deno.env.toObject();
  delete env.KAFKA_BROKERS;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BENCH_MAIN, "--quick", "--kafka"],
    env: { ...env, SLUICE_BENCH_RESULTS_DIR: "/nonexistent-sluice-bench-dir" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /--kafka needs .*KAFKA_BROKERS/);
});

// ---------------------------------------------------------------------------------------------
// bench/report.ts on a hand-made report

function scenario(over: Partial<ScenarioResult> & { name: string }): ScenarioResult {
  return {
    recordSizeBytes: 1024,
    records: 1000,
    recordsPerSec: 500_000,
    mbPerSec: 512,
    ratioToLimit: null,
    limit: null,
    p50Ms: null,
    p99Ms: null,
    runs: [{ recordsPerSec: 500_000, mbPerSec: 512, seconds: 0.002 }],
    params: {},
    ...over,
  };
}

const FIXTURE: BenchReportStd = {
  meta: {
    runtime: "deno",
    runtimeVersion: "2.9.6",
    os: "Linux 6.1 x64",
    cpu: "Test <CPU> & co",
    cores: 2,
    memoryBytes: 8 * 2 ** 30,
    filesystem: "ext4",
    commit: "abc123",
    startedAt: "2026-01-01T00:00:00.000Z",
    quick: false,
  },
  baselines: [{ name: "file.write.1KiB", mbPerSec: 1024, runs: [1000, 1024, 1100] }],
  scenarios: [
    scenario({
      name: "embedded.produce.1KiB.none",
      ratioToLimit: 0.5,
      limit: "file.write.1KiB",
    }),
    scenario({ name: "http.produce-latency.100B.sequential", p50Ms: 0.25, p99Ms: 4.5 }),
    scenario({ name: "http.group-rebalance.100B.leave", recordsPerSec: 0, mbPerSec: 0 }),
  ],
  peers: [{
    name: "redis-streams",
    version: "7.0.15",
    scenario: "embedded.produce.1KiB.none",
    recordsPerSec: 250_000,
    mbPerSec: 256,
    ratioToSluice: 0.5,
    params: {},
  }],
  kafkaReference: [{
    source: "Kafka | docs",
    setup: "3 brokers",
    recordsPerSec: 2_000_000,
    mbPerSec: 200,
  }],
};

Deno.test("renderMarkdown() lists meta, scenarios, baselines, peers and labels Kafka's figures", () => {
  const md = renderMarkdown(FIXTURE, "chart.svg", {
    source: "Kafka blog",
    setup: "end to end",
    p50Ms: 2,
    p99Ms: 3,
    p999Ms: 14,
  });
  assert.match(md, /^# Sluice bench report, 2026-01-01T00:00:00.000Z\n/);
  assert.match(md, /!\[throughput chart\]\(chart\.svg\)/);
  assert.match(
    md,
    /\| `embedded\.produce\.1KiB\.none` \| 500,000 \| 512 \| 0\.50 \| `file\.write\.1KiB` \|/,
  );
  assert.match(md, /\| `http\.produce-latency\.100B\.sequential` \| .* \| 0\.250 \| 4\.50 \|/);
  assert.match(md, /\| `file\.write\.1KiB` \| 1,024 \|/);
  assert.match(md, /\| redis-streams \| 7\.0\.15 \| .* \| 0\.50 \|/);
  assert.match(md, /## Kafka: published figures, not measured here/);
  assert.match(md, /\| Kafka blog \| end to end \| 2\.00 \| 3\.00 \| 14\.00 \|/);
  // A pipe in a cell is escaped, so the table keeps its columns.
  assert.match(md, /\| Kafka \\\| docs \| 3 brokers \|/);
});

Deno.test("renderScenarioTable() leaves the rates of a time-only scenario blank", () => {
  const table = renderScenarioTable(FIXTURE.scenarios);
  assert.equal(table.split("\n").length, 2 + FIXTURE.scenarios.length);
  assert.ok(table.includes("| `http.group-rebalance.100B.leave` |  |  |"), table);
});

Deno.test("renderSvg() is self-contained, escapes text and draws Sluice beside baseline and peer", () => {
  const svg = renderSvg(FIXTURE);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
  assert.doesNotMatch(svg, /<script|@import|@font-face|xlink:href|href=|url\(/);
  assert.match(svg, /Test &lt;CPU&gt; &amp; co/);
  assert.equal(svg.match(/<text /g)?.length, svg.match(/<\/text>/g)?.length);
  assert.match(svg, /MB\/s/);
  // Sluice, its baseline and the peer in embedded.produce; the latency scenario's rate.
  assert.equal(svg.match(/<rect x="330"/g)?.length, 4);
  assert.match(svg, />1KiB\.none</);
  assert.match(svg, />file\.write\.1KiB</);
  assert.match(svg, />redis-streams 7\.0\.15</);
  // The rebalance has no rate: no bar.
  assert.doesNotMatch(svg, /leave/);
});

Deno.test("formatProgress() shows scenario, run k/n and records/s so far", () => {
  assert.equal(
    formatProgress("embedded.produce.1KiB.none", 2, 5, 812_345.6),
    "embedded.produce.1KiB.none  run 2/5  812,346 records/s",
  );
  assert.equal(formatProgress("x", 1, 3), "x  run 1/3");
});
