/**
 * `deno task bench`: runs the bench suites and writes one report in the stable shape of
 * bench/types.ts (BenchReportStd: meta, baselines, scenarios, peers, kafkaReference) plus a
 * `details` key holding each suite's own full output, as three files with one stem:
 *
 *   <dir>/<ISO timestamp>-<hostname>.json   the report
 *   <dir>/<ISO timestamp>-<hostname>.md     meta, scenarios, baselines, peers, Kafka's published
 *                                           figures (bench/report.ts renderMarkdown)
 *   <dir>/<ISO timestamp>-<hostname>.svg    MB/s bars per scenario beside its baseline and peers
 *                                           (bench/report.ts renderSvg)
 *
 * <dir> is bench/results, or SLUICE_BENCH_RESULTS_DIR when set (the smoke test uses a temp dir).
 *
 * Suites, in the order they run (with --kafka, the live Kafka first, so an unreachable cluster
 * shows at once):
 * - embedded (bench/embedded_bench.ts): produce matrix, consume, end-to-end latency, growth
 *   (--growth); scenarios and baselines in the report's own shape.
 * - storage (bench/storage_bench.ts: append, read, always): PartitionLog against plain file
 *   writes and reads; its raw file figures become the `file.*` baselines and its log figures
 *   `embedded.*` scenarios, unless the embedded suite already reported that name.
 * - index (bench/index_bench.ts: lookup, random-read): µs-scale micro benches, kept in details.
 * - http (bench/http_bench.ts: produce-batch, produce-json, fetch, latency) and groups
 *   (bench/group_bench.ts: consume, rebalance): the server as a subprocess over loopback; their
 *   figures become `http.*` scenarios.
 * - kafka-client (bench/kafka_client_bench.ts): librdkafka (python3-confluent-kafka, via
 *   bench/kafka_client.py) produces and consumes 1,000,000 x 100 B records (100,000 under --quick)
 *   through the server's Kafka listener: `kafka.produce.100B.librdkafka`,
 *   `kafka.consume.100B.librdkafka`; with KAFKA_BROKERS set, the same client and settings against
 *   that Kafka as `kafka` peer rows. Also kafkajs as a second, labelled client
 *   (`kafka.*.100B.kafkajs`). The librdkafka half is skipped, with a note, when its client is not
 *   installed.
 * - peers (bench/peers.ts): Redis Streams and NATS JetStream when installed, each set beside a
 *   Sluice scenario; with --kafka also a live Kafka at KAFKA_BROKERS (bench/kafka_bench.ts).
 * - crc32c (bench/crc32c_bench.ts) and record (bench/record_bench.ts): mitata micro benches, run by
 *   their exported function when they export one and guard their own run with import.meta.main,
 *   otherwise as subprocesses of this runtime (NO_COLOR=1; --quick and SLUICE_BENCH_QUICK=1 under
 *   --quick); their output is kept in details.external.
 *
 * Live progress goes to stderr: scenario, run k/n and records/s so far, as one line rewritten in
 * place on a terminal and as plain lines otherwise.
 *
 * Flags:
 *   --quick           smaller workloads; the micro benches (index, crc32c, record) only when named
 *                     with --scenario: the whole run stays under a minute on 2 cores
 *   --scenario NAME   a suite (embedded, storage, index, http, groups, kafka-client, peers, crc32c,
 *                     record) or a
 *                     group of one (append, read, always, lookup, random-read, produce-batch,
 *                     produce-json, fetch, latency, consume, rebalance); repeatable, or
 *                     comma-separated
 *   --json            the report on stdout; every other line goes to stderr
 *   --growth          adds the embedded suite's growth scenario (long: opt-in); with a
 *                     --scenario list that leaves embedded out, the growth runs alone
 *   --kafka           adds a live Kafka peer; needs KAFKA_BROKERS=host:port[,host:port]. The
 *                     kafka-client suite runs against KAFKA_BROKERS whenever it is set; a
 *                     failure there is an error with --kafka and a note without it
 *
 * Run: deno task bench [--quick] [--scenario NAME] [--json] [--growth] [--kafka]
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crc32cImplementation } from "../src/record/crc32c.ts";
import { runEmbeddedSelected } from "./embedded_bench.ts";
import { KAFKA_REFERENCE, KAFKA_REFERENCE_LATENCY, runKafkaLive } from "./kafka_bench.ts";
import {
  formatKafkaClientTable,
  type KafkaClientBenchOutcome,
  runKafkaClientBench,
} from "./kafka_client_bench.ts";
import {
  formatGroupTable,
  GROUP_GROUPS,
  type GroupBenchOutcome,
  runGroupBench,
} from "./group_bench.ts";
import {
  formatHttpTable,
  HTTP_GROUPS,
  type HttpBenchOutcome,
  type HttpBenchResult,
  runHttpBench,
} from "./http_bench.ts";
import {
  formatIndexTable,
  INDEX_GROUPS,
  type IndexBenchResult,
  measureIndexBench,
} from "./index_bench.ts";
import { peersAvailable, runPeerBench } from "./peers.ts";
import { formatProgress, renderMarkdown, renderScenarioTable, renderSvg } from "./report.ts";
import {
  formatStorageTable,
  runStorageBench,
  STORAGE_GROUPS,
  type StorageBenchResult,
} from "./storage_bench.ts";
import type {
  BaselineResult,
  BenchMetaStd,
  BenchReportStd,
  PeerResult,
  ProgressFn,
  RunFigure,
  ScenarioResult,
  SuiteOptions,
} from "./types.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = dirname(BENCH_DIR);
const DEFAULT_RESULTS_DIR = join(BENCH_DIR, "results");
/** Where the three report files go instead of bench/results (tests point it at a temp dir). */
export const RESULTS_DIR_ENV = "SLUICE_BENCH_RESULTS_DIR";
/** host:port[,host:port] of a Kafka cluster for --kafka. */
export const KAFKA_BROKERS_ENV = "KAFKA_BROKERS";

const SUITES = [
  "embedded",
  "storage",
  "index",
  "http",
  "groups",
  "kafka-client",
  "peers",
  "crc32c",
  "record",
] as const;
type Suite = typeof SUITES[number];

/** Micro benches: under --quick they run only when --scenario names them (20-30 s together). */
const MICRO_SUITES: readonly Suite[] = ["index", "crc32c", "record"];

/** Suites whose code another module owns: run by their exported function or as a subprocess. */
const EXTERNAL: Record<"crc32c" | "record", { file: string; exportName: string }> = {
  crc32c: { file: "crc32c_bench.ts", exportName: "runCrc32cBench" },
  record: { file: "record_bench.ts", exportName: "runRecordBench" },
};

/** Kept output of one subprocess suite: enough for its tables, bounded for the JSON file. */
const EXTERNAL_OUTPUT_CHARS_MAX = 200_000;
/** On a terminal the progress line is redrawn at most this often. */
const PROGRESS_TTY_INTERVAL_MS = 100;
/** Without a terminal, one scenario's run repeats its progress line at most this often. */
const PROGRESS_PLAIN_INTERVAL_MS = 5_000;

const KiB = 1024;
/** Rates are decimal: 1 MB = 10^6 bytes. */
const MB = 1e6;

// ---------------------------------------------------------------------------------------------
// The details key: each suite's own output, and how the run went

export interface ExternalSuiteResult {
  suite: "crc32c" | "record";
  file: string;
  mode: "function" | "subprocess" | "missing";
  ok: boolean;
  seconds: number;
  exitCode?: number;
  /** What the exported function returned, when it returned data. */
  result?: unknown;
  /** What the suite printed (a subprocess: stdout and stderr), colour-free. */
  output?: string;
  error?: string;
}

/** What `meta` has no room for: the host, the command, the run's length, the work tree state. */
export interface BenchRunInfo {
  hostname: string;
  argv: string[];
  runtime: { name: string; version: string; v8?: string; typescript?: string };
  os: { type: string; release: string; platform: string; arch: string };
  tempDir: string;
  tempDirFilesystem?: { device: string; type: string; mountedOn: string };
  /** Uncommitted changes in the work tree when the run started. */
  gitDirty?: boolean;
  crc32cImplementation: string;
  scenarios: string[];
  growth: boolean;
  kafka: boolean;
  finishedAt?: string;
  durationSeconds?: number;
  /** Wall seconds of each suite that ran, set-up included. */
  suiteSeconds: Record<string, number>;
}

export interface BenchDetails {
  run: BenchRunInfo;
  /** How entries converted from the older suites fill the report's fields. */
  notes: string[];
  /** Suites that did not run, and why. */
  skipped: { suite: string; reason: string }[];
  /** Suites that threw: the rest of the run went on, and the process exits 1. */
  errors: { suite: string; error: string }[];
  storage: StorageBenchResult[];
  index: IndexBenchResult[];
  external: ExternalSuiteResult[];
  /** The http suite: its results, the server's start and stop (exit code), the loopback note. */
  http?: HttpBenchOutcome;
  /** The groups suite: its results and its own server's start and stop (exit code). */
  groups?: GroupBenchOutcome;
  /** The kafka-client suite: every run, the settings, its server, the peer Kafka's outcome. */
  kafkaClient?: KafkaClientBenchOutcome;
  /** Kafka's published end-to-end latency (KafkaReference has no latency fields). */
  kafkaReferenceLatency: typeof KAFKA_REFERENCE_LATENCY;
  /** Names the embedded suite reported that a storage figure would also have produced. */
  storageDuplicates: string[];
  /** The targets the storage and http suites check, one line each. */
  targets: { scenario: string; text: string; met: boolean }[];
}

/** The results file: exactly BenchReportStd, plus `details`. */
export interface BenchResultsFile extends BenchReportStd {
  details: BenchDetails;
}

// ---------------------------------------------------------------------------------------------
// Arguments

interface Args {
  quick: boolean;
  json: boolean;
  growth: boolean;
  kafka: boolean;
  scenarios: string[];
}

function usage(): string {
  const groups = [...STORAGE_GROUPS, ...INDEX_GROUPS, ...HTTP_GROUPS, ...GROUP_GROUPS];
  return `usage: deno task bench [--quick] [--json] [--growth] [--kafka] [--scenario NAME]...
  NAME: a suite (${SUITES.join(", ")}) or a group (${groups.join(", ")})
  --kafka needs ${KAFKA_BROKERS_ENV}=host:port[,host:port]; results go to bench/results or $${RESULTS_DIR_ENV}`;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, json: false, growth: false, kafka: false, scenarios: [] };
  const known = new Set<string>([
    ...SUITES,
    ...STORAGE_GROUPS,
    ...INDEX_GROUPS,
    ...HTTP_GROUPS,
    ...GROUP_GROUPS,
  ]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") args.quick = true;
    else if (a === "--json") args.json = true;
    else if (a === "--growth") args.growth = true;
    else if (a === "--kafka") args.kafka = true;
    else if (a === "--help" || a === "-h") {
      console.log(usage());
      process.exit(0);
    } else if (a === "--scenario" || a.startsWith("--scenario=")) {
      const value = a === "--scenario" ? argv[++i] : a.slice("--scenario=".length);
      if (value === undefined) throw new Error(`--scenario needs a name\n${usage()}`);
      for (const name of value.split(",").filter((n) => n !== "")) {
        if (!known.has(name)) throw new Error(`unknown scenario ${name}\n${usage()}`);
        args.scenarios.push(name);
      }
    } else {
      throw new Error(`unknown argument ${a}\n${usage()}`);
    }
  }
  if (args.kafka && !(process.env[KAFKA_BROKERS_ENV] ?? "").trim()) {
    throw new Error(
      `--kafka needs the brokers of a running Kafka in ${KAFKA_BROKERS_ENV}, e.g. ` +
        `${KAFKA_BROKERS_ENV}=127.0.0.1:9092 deno task bench --kafka`,
    );
  }
  return args;
}

/** Which suites run, and the group filter of each (empty: every group). */
function selection(args: Args): Map<Suite, string[]> {
  const chosen = new Map<Suite, string[]>();
  if (args.scenarios.length === 0) {
    for (const s of SUITES) if (!(args.quick && MICRO_SUITES.includes(s))) chosen.set(s, []);
    return chosen;
  }
  const add = (suite: Suite, group: string | undefined) => {
    const groups = chosen.get(suite);
    if (group === undefined) chosen.set(suite, []);
    else if (groups === undefined) chosen.set(suite, [group]);
    else if (groups.length > 0) groups.push(group); // an empty list already means all
  };
  for (const name of args.scenarios) {
    if ((SUITES as readonly string[]).includes(name)) add(name as Suite, undefined);
    else if ((STORAGE_GROUPS as readonly string[]).includes(name)) add("storage", name);
    else if ((HTTP_GROUPS as readonly string[]).includes(name)) add("http", name);
    else if ((GROUP_GROUPS as readonly string[]).includes(name)) add("groups", name);
    else add("index", name);
  }
  if (args.growth && !chosen.has("embedded")) chosen.set("embedded", ["growth"]);
  // Run in the suites' own order, whatever the order on the command line.
  return new Map(SUITES.filter((s) => chosen.has(s)).map((s) => [s, chosen.get(s)!]));
}

// ---------------------------------------------------------------------------------------------
// Output: lines on stdout (stderr under --json), progress on stderr

/**
 * Prints the run's lines and its progress without the two garbling each other: on a terminal the
 * progress line is erased before any other line is printed and redrawn by the next update.
 */
class Output {
  readonly #json: boolean;
  readonly #tty: boolean;
  #shown = false;
  #lastDrawMs = 0;
  #lastKey = "";

  constructor(json: boolean) {
    this.#json = json;
    this.#tty = process.stderr.isTTY === true;
  }

  /** One line of the run's log. */
  line = (text: string): void => {
    this.#erase();
    if (this.#json) console.error(text);
    else console.log(text);
  };

  /** The ProgressFn handed to the suites that take one. */
  progress: ProgressFn = (scenario, run, of, recordsPerSec) => {
    const now = performance.now();
    const key = `${scenario}\u0000${run}`;
    const fresh = key !== this.#lastKey;
    const interval = this.#tty ? PROGRESS_TTY_INTERVAL_MS : PROGRESS_PLAIN_INTERVAL_MS;
    // A new scenario or run is always shown; updates within one run are rate-limited.
    if (!fresh && now - this.#lastDrawMs < interval && run !== of) return;
    this.#lastKey = key;
    this.#lastDrawMs = now;
    const text = formatProgress(scenario, run, of, recordsPerSec);
    if (this.#tty) {
      const columns = process.stderr.columns || 100; // 0 when the terminal does not say
      process.stderr.write(`\r\x1b[2K${text.slice(0, Math.max(20, columns - 1))}`);
      this.#shown = true;
    } else {
      process.stderr.write(`  progress: ${text}\n`);
    }
  };

  /** Erases the progress line (a terminal only). */
  done(): void {
    this.#erase();
  }

  #erase(): void {
    if (!this.#shown) return;
    process.stderr.write("\r\x1b[2K");
    this.#shown = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Meta

function tryRun(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, {
      cwd: REPO_DIR,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

function cpuModel(): string {
  try {
    const line = fs.readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) =>
      l.startsWith("model name")
    );
    if (line !== undefined) return line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? "unknown";
}

function runtimeInfo(): BenchRunInfo["runtime"] {
  const v = process.versions as Record<string, string | undefined>;
  if (v.deno !== undefined) {
    return { name: "deno", version: v.deno, v8: v.v8, typescript: v.typescript };
  }
  if (v.bun !== undefined) return { name: "bun", version: v.bun };
  return { name: "node", version: process.version.replace(/^v/, ""), v8: v.v8 };
}

function filesystemOf(dir: string): BenchRunInfo["tempDirFilesystem"] {
  const out = tryRun("df", ["-PT", dir]);
  const fields = out?.split("\n")[1]?.split(/\s+/);
  if (fields === undefined || fields.length < 7) return undefined;
  return { device: fields[0], type: fields[1], mountedOn: fields.slice(6).join(" ") };
}

function collectMeta(
  args: Args,
  argv: readonly string[],
): { meta: BenchMetaStd; run: BenchRunInfo } {
  const status = tryRun("git", ["status", "--porcelain"]);
  const runtime = runtimeInfo();
  const tempDir = os.tmpdir();
  const fsInfo = filesystemOf(tempDir);
  const run: BenchRunInfo = {
    hostname: os.hostname(),
    argv: [...argv],
    runtime,
    os: { type: os.type(), release: os.release(), platform: process.platform, arch: process.arch },
    tempDir,
    tempDirFilesystem: fsInfo,
    gitDirty: status === undefined ? undefined : status.length > 0,
    crc32cImplementation,
    scenarios: args.scenarios,
    growth: args.growth,
    kafka: args.kafka,
    suiteSeconds: {},
  };
  const meta: BenchMetaStd = {
    runtime: runtime.name,
    runtimeVersion: runtime.version,
    os: `${os.type()} ${os.release()} ${process.arch}`,
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    filesystem: fsInfo === undefined
      ? `unknown (temp dir ${tempDir})`
      : `${fsInfo.type} on ${fsInfo.device} at ${fsInfo.mountedOn} (temp dir ${tempDir})`,
    commit: tryRun("git", ["rev-parse", "HEAD"]) ?? "unknown",
    startedAt: new Date().toISOString(),
    quick: args.quick,
  };
  return { meta, run };
}

function formatMeta(meta: BenchMetaStd, run: BenchRunInfo): string {
  return [
    `runtime: ${meta.runtime} ${meta.runtimeVersion}${
      run.runtime.v8 ? ` (V8 ${run.runtime.v8})` : ""
    }; ${meta.os}`,
    `machine: ${run.hostname}, ${meta.cpu}, ${meta.cores} cores, ${
      (meta.memoryBytes / 2 ** 30).toFixed(1)
    } GiB RAM`,
    `file system: ${meta.filesystem}`,
    `git: ${meta.commit}${
      run.gitDirty ? " (work tree modified)" : ""
    }; crc32c: ${run.crc32cImplementation}; quick: ${meta.quick}`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// crc32c and record: run by their exported function or as a subprocess

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs `file` in a child of this runtime, streaming its output to `log` and keeping it. */
function runSubprocess(
  file: string,
  quick: boolean,
  log: (line: string) => void,
): Promise<{ exitCode: number; output: string }> {
  const isDeno = process.versions.deno !== undefined;
  const extra = quick ? ["--quick"] : [];
  const argv = isDeno ? ["run", "-A", file, ...extra] : [file, ...extra];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd: REPO_DIR,
      env: { ...process.env, NO_COLOR: "1", SLUICE_BENCH_QUICK: quick ? "1" : "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let pending = "";
    const onData = (chunk: Uint8Array) => {
      const text = new TextDecoder().decode(chunk).replace(ANSI, "");
      if (output.length < EXTERNAL_OUTPUT_CHARS_MAX) output += text;
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) log(line);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("error", reject);
    child.on("close", (code: number | null) => {
      if (pending !== "") log(pending);
      resolve({ exitCode: code ?? -1, output: output.slice(0, EXTERNAL_OUTPUT_CHARS_MAX) });
    });
  });
}

async function runExternal(
  suite: "crc32c" | "record",
  quick: boolean,
  json: boolean,
  log: (line: string) => void,
): Promise<ExternalSuiteResult> {
  const { file, exportName } = EXTERNAL[suite];
  const path = join(BENCH_DIR, file);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  if (!fs.existsSync(path)) {
    log(`${suite}: bench/${file} does not exist; skipped`);
    return { suite, file: `bench/${file}`, mode: "missing", ok: false, seconds: 0 };
  }
  const source = fs.readFileSync(path, "utf8");
  // Importing a module that runs its benches at top level would run them: only a module that
  // exports the entry point and guards its own run with import.meta.main is imported.
  const exported = new RegExp(`export\\s+(async\\s+)?function\\s+${exportName}\\b`).test(source);
  if (exported && source.includes("import.meta.main")) {
    const originalLog = console.log;
    // The suite's printing is kept for the JSON, and under --json it goes to stderr: stdout
    // carries only the report.
    let output = "";
    console.log = (...data: unknown[]) => {
      const line = data.map((d) => typeof d === "string" ? d : String(d)).join(" ");
      if (output.length < EXTERNAL_OUTPUT_CHARS_MAX) output += `${line.replace(ANSI, "")}\n`;
      (json ? console.error : originalLog)(...data);
    };
    try {
      const mod = await import(pathToFileURL(path).href);
      const result = await mod[exportName]({ quick });
      return {
        suite,
        file: `bench/${file}`,
        mode: "function",
        ok: true,
        seconds: seconds(),
        result: result ?? undefined,
        output,
      };
    } catch (err) {
      return {
        suite,
        file: `bench/${file}`,
        mode: "function",
        ok: false,
        seconds: seconds(),
        error: String(err),
        output,
      };
    } finally {
      console.log = originalLog;
    }
  }
  const { exitCode, output } = await runSubprocess(path, quick, log);
  return {
    suite,
    file: `bench/${file}`,
    mode: "subprocess",
    ok: exitCode === 0,
    seconds: seconds(),
    exitCode,
    output,
  };
}

// ---------------------------------------------------------------------------------------------
// The older suites' results as report entries

/** `100B`, `1KiB`: the record size part of a scenario or baseline name. */
export function sizeLabel(bytes: number): string {
  return bytes >= KiB && bytes % KiB === 0 ? `${bytes / KiB}KiB` : `${bytes}B`;
}

interface Figure {
  median: number;
  min: number;
  max: number;
}

/**
 * The fastest, median and slowest measured runs, fastest first: all the per-run figures the
 * older suites keep. With an even run count the median is not one run and is left out.
 */
function runsOf(
  seconds: Figure,
  recordsPerSec: Figure,
  mbPerSec: Figure,
  measuredRuns: number,
): RunFigure[] {
  const fastest = {
    recordsPerSec: recordsPerSec.max,
    mbPerSec: mbPerSec.max,
    seconds: seconds.min,
  };
  const median = {
    recordsPerSec: recordsPerSec.median,
    mbPerSec: mbPerSec.median,
    seconds: seconds.median,
  };
  const slowest = {
    recordsPerSec: recordsPerSec.min,
    mbPerSec: mbPerSec.min,
    seconds: seconds.max,
  };
  if (measuredRuns <= 1) return [median];
  if (measuredRuns === 2) return [fastest, slowest];
  return measuredRuns % 2 === 1 ? [fastest, median, slowest] : [fastest, slowest];
}

/** The same list for a baseline: MB/s of its fastest, median and slowest runs. */
function baselineRuns(mbPerSec: Figure, measuredRuns: number): number[] {
  if (measuredRuns <= 1) return [mbPerSec.median];
  if (measuredRuns % 2 === 0) return [mbPerSec.max, mbPerSec.min];
  return [mbPerSec.max, mbPerSec.median, mbPerSec.min];
}

const CONVERSION_NOTES = [
  "Entries converted from the storage, http and groups suites list in `runs` the fastest, the " +
  "median and the slowest measured run (those suites keep no other per-run figures); " +
  "params.measuredRuns is the count.",
  "MB/s is decimal (10^6 bytes/s) of the bytes named by params.mbBasis.",
  "http.group-rebalance.* measure a time, not a rate: records/s and MB/s are 0; p50Ms and p99Ms " +
  "are the p50 and the max (the nearest-rank p99 of at most 100 repetitions) of the time until " +
  "every remaining member's heartbeat reported the new generation.",
  "index, crc32c and record are µs-scale micro benches, not scenarios: their figures stay in " +
  "details.",
];

function num(v: string | number | boolean | undefined): number {
  return typeof v === "number" ? v : 0;
}

/** The storage suite's raw file figures as the `file.*` baselines. */
function storageBaselines(results: readonly StorageBenchResult[]): BaselineResult[] {
  const out: BaselineResult[] = [];
  const names: Record<string, string> = {
    "write-raw": "file.write",
    "write-raw-fsync": "file.write-fsync",
    "read-raw": "file.read-cached",
  };
  for (const r of results) {
    const [group, size] = r.name.split("/");
    const base = names[group];
    if (base === undefined || r.mbPerSec === undefined) continue;
    out.push({
      name: `${base}.${size}`,
      mbPerSec: r.mbPerSec.median,
      runs: baselineRuns(r.mbPerSec, r.measuredRuns),
    });
  }
  return out;
}

/** The storage suite's PartitionLog figures as `embedded.*` scenarios. */
function storageScenarios(results: readonly StorageBenchResult[]): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const r of results) {
    const [group, variant] = r.name.split("/");
    let name: string;
    let limit: string | null = null;
    const size = num(r.params.recordValueBytes);
    const label = () => sizeLabel(size);
    let p50Ms: number | null = null;
    let p99Ms: number | null = null;
    let records = num(r.params.recordsPerRun);
    let recordsPerSec = r.recordsPerSec;
    let mbBasis = "log bytes (RecordBatch v2, 1,000 records a batch)";
    switch (group) {
      case "append":
        name = `embedded.produce.${label()}.none`;
        limit = `file.write.${label()}`;
        break;
      case "append+close":
        name = `embedded.produce.${label()}.none.with-close`;
        limit = `file.write-fsync.${label()}`;
        break;
      case "read":
      case "read-nocrc":
        // The embedded suite's consume.<size>.batch is the same read: it wins when both ran.
        name = `embedded.consume.${label()}.${group === "read" ? "batch" : "batch-nocrc"}`;
        limit = `file.read-cached.${label()}`;
        break;
      case "always":
        // Single-record appends, as embedded_bench names them; x1 has no suffix.
        name = `embedded.produce.${label()}.none.1-record-batches.flush-always${
          variant === "x1" ? "" : `.${variant}`
        }`;
        records = num(r.params.appendsPerRun);
        recordsPerSec = r.appendsPerSec;
        mbBasis = "log bytes (one-record batches)";
        p50Ms = r.latencyUs === undefined ? null : r.latencyUs.p50 / 1000;
        p99Ms = r.latencyUs === undefined ? null : r.latencyUs.p99 / 1000;
        break;
      default:
        continue; // the raw baselines
    }
    if (recordsPerSec === undefined || r.mbPerSec === undefined) continue;
    out.push({
      name,
      recordSizeBytes: size,
      records,
      recordsPerSec: recordsPerSec.median,
      mbPerSec: r.mbPerSec.median,
      ratioToLimit: null,
      limit,
      p50Ms,
      p99Ms,
      runs: runsOf(r.seconds, recordsPerSec, r.mbPerSec, r.measuredRuns),
      params: {
        ...r.params,
        suite: "storage",
        source: r.name,
        measuredRuns: r.measuredRuns,
        warmupRuns: r.warmupRuns,
        mbBasis,
      },
    });
  }
  return out;
}

/** http suite name -> the scenario name's variant part and what its MB/s counts. */
const HTTP_NAMES: Record<string, { name: string; limit?: string; mbBasis: string }> = {
  "produce-batch/x1": {
    name: "produce.100B.batch",
    limit: "file.write.100B",
    mbBasis: "request bytes (RecordBatch v2)",
  },
  "produce-batch/x4": {
    name: "produce.100B.batch.x4",
    limit: "file.write.100B",
    mbBasis: "request bytes (RecordBatch v2)",
  },
  "produce-json/x1": { name: "produce.100B.json", mbBasis: "request bytes (JSON)" },
  "produce-json/x4": { name: "produce.100B.json.x4", mbBasis: "request bytes (JSON)" },
  "fetch-batch/x1": {
    name: "fetch.100B.batch",
    limit: "file.read-cached.100B",
    mbBasis: "response bytes (RecordBatch v2)",
  },
  "fetch-batch/x4": {
    name: "fetch.100B.batch.x4",
    limit: "file.read-cached.100B",
    mbBasis: "response bytes (RecordBatch v2)",
  },
  "fetch-batch/x4-same": {
    name: "fetch.100B.batch.x4-same-partition",
    limit: "file.read-cached.100B",
    mbBasis: "response bytes (RecordBatch v2)",
  },
  "fetch-json/x1": { name: "fetch.100B.json", mbBasis: "response characters (JSON)" },
  "fetch-json/x4": { name: "fetch.100B.json.x4", mbBasis: "response characters (JSON)" },
  "latency/sequential": {
    name: "produce-latency.100B.sequential",
    mbBasis: "request bytes (JSON, one record)",
  },
};

function httpScenarioName(r: HttpBenchResult): { name: string; limit?: string; mbBasis: string } {
  const known = HTTP_NAMES[r.name];
  if (known !== undefined) return known;
  const [group, variant] = r.name.split("/");
  if (group === "latency") {
    // latency/500rps: the open loop at a fixed request rate
    return {
      name: `produce-latency.100B.rate-${variant}`,
      mbBasis: "request bytes (JSON, one record)",
    };
  }
  return { name: `${group}.100B.${variant ?? "x1"}`, mbBasis: "request or response bytes" };
}

/** The http suite's figures as `http.*` scenarios. */
function httpScenarios(outcome: HttpBenchOutcome): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const r of outcome.results) {
    const { name, limit, mbBasis } = httpScenarioName(r);
    const perRequest = num(r.params.recordsPerRequest) || 1;
    // The latency rows keep requests/s only: one record a request.
    const recordsPerSec: Figure = r.recordsPerSec ?? {
      median: r.requestsPerSec.median * perRequest,
      min: r.requestsPerSec.min * perRequest,
      max: r.requestsPerSec.max * perRequest,
    };
    const requestBytes = num(r.params.requestBytes);
    const mbPerSec: Figure = r.mbPerSec ?? {
      median: (r.requestsPerSec.median * requestBytes) / MB,
      min: (r.requestsPerSec.min * requestBytes) / MB,
      max: (r.requestsPerSec.max * requestBytes) / MB,
    };
    out.push({
      name: `http.${name}`,
      recordSizeBytes: num(r.params.recordValueBytes) || 100,
      records: num(r.params.recordsPerRun) || num(r.params.requestsPerRun) * perRequest,
      recordsPerSec: recordsPerSec.median,
      mbPerSec: mbPerSec.median,
      ratioToLimit: null,
      limit: limit ?? null,
      p50Ms: r.latencyMs?.p50 ?? null,
      p99Ms: r.latencyMs?.p99 ?? null,
      p999Ms: r.latencyMs?.p999 ?? null,
      runs: runsOf(r.seconds, recordsPerSec, mbPerSec, r.measuredRuns),
      params: {
        ...r.params,
        suite: "http",
        source: r.name,
        measuredRuns: r.measuredRuns,
        warmupRuns: r.warmupRuns,
        mbBasis,
        transport: "HTTP/1.1 over loopback, client and server on the same cores",
      },
    });
  }
  return out;
}

/** The groups suite's figures as `http.group-*` scenarios. */
function groupScenarios(outcome: GroupBenchOutcome): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const r of outcome.results) {
    const [, variant] = r.name.split("/");
    const common = {
      suite: "groups",
      source: r.name,
      measuredRuns: r.measuredRuns,
      warmupRuns: r.warmupRuns,
    };
    if (r.group === "consume") {
      const size = num(r.params.recordValueBytes) || 100;
      const mb = (rate: number) => (rate * size) / MB;
      const mbPerSec = {
        median: mb(r.recordsPerSec.median),
        min: mb(r.recordsPerSec.min),
        max: mb(r.recordsPerSec.max),
      };
      out.push({
        name: `http.group-consume.${sizeLabel(size)}.${variant}`,
        recordSizeBytes: size,
        records: num(r.params.recordsPerRun),
        recordsPerSec: r.recordsPerSec.median,
        mbPerSec: mbPerSec.median,
        ratioToLimit: null,
        limit: null,
        p50Ms: r.fetchMs.p50,
        p99Ms: r.fetchMs.p99,
        runs: runsOf(r.seconds, r.recordsPerSec, mbPerSec, r.measuredRuns),
        params: {
          ...r.params,
          ...common,
          mbBasis: "record values",
          latency: "p50Ms/p99Ms: one member fetch round trip",
        },
      });
    } else {
      out.push({
        name: `http.group-rebalance.100B.${variant}`,
        recordSizeBytes: 100,
        records: 0,
        recordsPerSec: 0,
        mbPerSec: 0,
        ratioToLimit: null,
        limit: null,
        p50Ms: r.heartbeatMs.p50,
        p99Ms: r.heartbeatMs.max,
        runs: [],
        params: {
          ...r.params,
          ...common,
          mbBasis: "none: a time, not a rate",
          latency: "from the leaving member's DELETE until every other member's heartbeat " +
            "reported the new generation; p99Ms is the max",
          fetchLoopMsP50: r.fetchLoopMs.p50,
          deleteServerMsP50: r.deleteServerMs.p50,
        },
      });
    }
  }
  return out;
}

/** Fills ratioToLimit from `baselines`; a limit with no baseline of that name becomes null. */
function applyLimits(scenarios: ScenarioResult[], baselines: readonly BaselineResult[]): void {
  const byName = new Map(baselines.map((b) => [b.name, b]));
  for (const s of scenarios) {
    if (s.limit === null) continue;
    const base = byName.get(s.limit);
    if (base === undefined || !(base.mbPerSec > 0)) {
      if (s.ratioToLimit === null) s.limit = null;
      continue;
    }
    // The embedded suite may pair its runs itself; a ratio it computed is kept.
    if (s.ratioToLimit === null) s.ratioToLimit = s.mbPerSec / base.mbPerSec;
  }
}

/** ratioToSluice: the peer's records/s over the records/s of the scenario it is set beside. */
function applyPeerRatios(peers: PeerResult[], scenarios: readonly ScenarioResult[]): void {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  for (const p of peers) {
    const s = byName.get(p.scenario);
    p.ratioToSluice = s !== undefined && s.recordsPerSec > 0
      ? p.recordsPerSec / s.recordsPerSec
      : null;
  }
}

// ---------------------------------------------------------------------------------------------
// Files

/** The stem the .json, .md and .svg share: `<ISO time>-<host>` in `dir`. */
function resultsStem(dir: string, startedAt: string, hostname: string): string {
  // Colons are legal on Linux but not on every file system the results may be copied to.
  const stamp = startedAt.replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, "_");
  return join(dir, `${stamp}-${host}`);
}

function writeReportFiles(
  dir: string,
  report: BenchResultsFile,
): { json: string; md: string; svg: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stem = resultsStem(dir, report.meta.startedAt, report.details.run.hostname);
  const files = { json: `${stem}.json`, md: `${stem}.md`, svg: `${stem}.svg` };
  const svgName = files.svg.slice(files.svg.lastIndexOf("/") + 1);
  fs.writeFileSync(files.json, JSON.stringify(report, null, 2) + "\n");
  fs.writeFileSync(
    files.md,
    renderMarkdown(report, svgName, report.details.kafkaReferenceLatency),
  );
  fs.writeFileSync(files.svg, renderSvg(report));
  return files;
}

// ---------------------------------------------------------------------------------------------
// The run

/** Runs the selected suites; returns the report (also written as .json, .md and .svg). */
export async function runBenchMain(argv: readonly string[]): Promise<BenchResultsFile> {
  const args = parseArgs(argv);
  const output = new Output(args.json);
  const out = output.line;
  const { meta, run } = collectMeta(args, argv);
  const t0 = performance.now();
  out(formatMeta(meta, run));

  const details: BenchDetails = {
    run,
    notes: [...CONVERSION_NOTES],
    skipped: [],
    errors: [],
    storage: [],
    index: [],
    external: [],
    kafkaReferenceLatency: KAFKA_REFERENCE_LATENCY,
    storageDuplicates: [],
    targets: [],
  };
  const report: BenchResultsFile = {
    meta,
    baselines: [],
    scenarios: [],
    peers: [],
    kafkaReference: KAFKA_REFERENCE,
    details,
  };
  const suiteOptions: SuiteOptions = { quick: args.quick, progress: output.progress };
  const chosen = selection(args);
  if (args.quick && args.scenarios.length === 0) {
    out(`\n(--quick: ${MICRO_SUITES.join(", ")} skipped; name them with --scenario to run them)`);
    for (const s of MICRO_SUITES) {
      details.skipped.push({ suite: s, reason: "--quick: micro benches run only when named" });
    }
  }

  // First, so an unreachable cluster shows at once rather than after the other suites.
  if (args.kafka) {
    out("\n== kafka (live)");
    const started = performance.now();
    try {
      const brokers = (process.env[KAFKA_BROKERS_ENV] ?? "").trim();
      const peers = await runKafkaLive({ ...suiteOptions, brokers });
      output.done();
      report.peers.push(...peers);
      for (const p of peers) out(`  ${describePeer(p)}`);
    } catch (err) {
      output.done();
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      out(`kafka: FAILED: ${error}`);
      details.errors.push({ suite: "kafka", error });
    }
    run.suiteSeconds.kafka = Math.round((performance.now() - started) / 100) / 10;
  }

  let embeddedScenarios: ScenarioResult[] = [];
  let embeddedBaselines: BaselineResult[] = [];
  for (const [suite, groups] of chosen) {
    out(`\n== ${suite}${groups.length > 0 ? ` (${groups.join(", ")})` : ""}`);
    const started = performance.now();
    try {
      switch (suite) {
        case "embedded": {
          // --growth with a --scenario list that leaves embedded out runs the growth alone.
          const onlyGrowth = groups.length === 1 && groups[0] === "growth";
          const r = await runEmbeddedSelected(
            { ...suiteOptions, growth: args.growth },
            (group) => !onlyGrowth || group === "growth",
          );
          output.done();
          embeddedScenarios = r.scenarios;
          embeddedBaselines = r.baselines;
          for (const s of r.scenarios) out(`  ${describeScenario(s)}`);
          break;
        }
        case "storage":
          details.storage = await runStorageBench({
            quick: args.quick,
            scenarios: groups,
            log: out,
          });
          break;
        case "index":
          details.index = await measureIndexBench({
            quick: args.quick,
            scenarios: groups,
            log: out,
          });
          break;
        case "http":
          details.http = await runHttpBench({ quick: args.quick, scenarios: groups, log: out });
          break;
        case "groups":
          details.groups = await runGroupBench({ quick: args.quick, scenarios: groups, log: out });
          break;
        case "kafka-client": {
          const brokers = (process.env[KAFKA_BROKERS_ENV] ?? "").trim();
          const r = await runKafkaClientBench({
            ...suiteOptions,
            log: out,
            kafkaBrokers: brokers || undefined,
          });
          output.done();
          details.kafkaClient = r;
          if (r.skipped !== undefined) {
            details.skipped.push({ suite: "kafka-client", reason: `librdkafka: ${r.skipped}` });
          }
          if (r.peerError !== undefined) {
            // Asked for with --kafka: a failure; only found in the environment: a note.
            const entry = { suite: "kafka-client: kafka peer", error: r.peerError };
            if (args.kafka) details.errors.push(entry);
            else details.skipped.push({ suite: entry.suite, reason: `failed: ${r.peerError}` });
          }
          report.peers.push(...r.peers);
          for (const s of r.scenarios) out(`  ${describeScenario(s)}`);
          for (const p of r.peers) out(`  ${describePeer(p)}`);
          break;
        }
        case "peers": {
          for (const p of peersAvailable()) {
            if (p.version !== null) continue;
            out(`peers: ${p.name} not installed (scripts/install-peers.sh); skipped`);
            details.skipped.push({ suite: `peers: ${p.name}`, reason: "not installed" });
          }
          const peers = await runPeerBench({ ...suiteOptions });
          output.done();
          report.peers.push(...peers);
          for (const p of peers) out(`  ${describePeer(p)}`);
          break;
        }
        case "crc32c":
        case "record":
          details.external.push(await runExternal(suite, args.quick, args.json, out));
          break;
      }
    } catch (err) {
      output.done();
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      out(`${suite}: FAILED: ${error}`);
      details.errors.push({ suite, error });
    }
    output.done();
    const took = (performance.now() - started) / 1000;
    run.suiteSeconds[suite] = Math.round(took * 10) / 10;
    out(`== ${suite} took ${took.toFixed(1)} s`);
  }

  // Scenarios and baselines: the embedded suite's first; a storage figure only where the
  // embedded suite has no entry of that name (the two would measure the same thing twice).
  const baselineNames = new Set(embeddedBaselines.map((b) => b.name));
  report.baselines.push(...embeddedBaselines);
  for (const b of storageBaselines(details.storage)) {
    if (!baselineNames.has(b.name)) report.baselines.push(b);
  }
  const scenarioNames = new Set(embeddedScenarios.map((s) => s.name));
  report.scenarios.push(...embeddedScenarios);
  for (const s of storageScenarios(details.storage)) {
    if (scenarioNames.has(s.name)) details.storageDuplicates.push(s.name);
    else report.scenarios.push(s);
  }
  if (details.http !== undefined) report.scenarios.push(...httpScenarios(details.http));
  if (details.groups !== undefined) report.scenarios.push(...groupScenarios(details.groups));
  if (details.kafkaClient !== undefined) report.scenarios.push(...details.kafkaClient.scenarios);
  applyLimits(report.scenarios, report.baselines);
  applyPeerRatios(report.peers, report.scenarios);

  for (const r of details.storage) {
    if (r.target !== undefined) {
      details.targets.push({ scenario: r.name, text: r.target.text, met: r.target.met });
    }
  }
  for (const r of details.http?.results ?? []) {
    if (r.target !== undefined) {
      details.targets.push({ scenario: r.name, text: r.target.text, met: r.target.met });
    }
  }
  run.finishedAt = new Date().toISOString();
  run.durationSeconds = Math.round((performance.now() - t0) / 100) / 10;

  out("\n== results");
  out(formatMeta(meta, run));
  if (details.storage.length > 0) out(`\n${formatStorageTable(details.storage)}`);
  if (details.index.length > 0) out(`\n${formatIndexTable(details.index)}`);
  if (details.http !== undefined) out(`\n${formatHttpTable(details.http)}`);
  if (details.groups !== undefined) out(`\n${formatGroupTable(details.groups)}`);
  if (details.kafkaClient !== undefined) out(`\n${formatKafkaClientTable(details.kafkaClient)}`);
  for (const e of details.external) {
    if (e.mode === "missing") out(`\n${e.suite}: skipped, ${e.file} not found`);
    else {
      const status = e.ok ? "ok" : `FAILED${e.error ? `: ${e.error}` : ` (exit ${e.exitCode})`}`;
      out(`\n${e.suite}: ${status} (${e.mode}, ${e.seconds.toFixed(1)} s); report above, in JSON`);
    }
  }
  if (details.targets.length > 0) {
    out("\ntargets:");
    for (const t of details.targets) {
      out(`  ${t.met ? "MET   " : "MISSED"} ${t.scenario}: ${t.text}`);
    }
  }
  if (report.scenarios.length > 0) out(`\nscenarios:\n${renderScenarioTable(report.scenarios)}`);
  if (report.peers.length > 0) {
    out("\npeers:");
    for (const p of report.peers) out(`  ${describePeer(p)}`);
  }
  for (const s of details.skipped) out(`skipped ${s.suite}: ${s.reason}`);
  for (const e of details.errors) out(`FAILED ${e.suite}: ${e.error.split("\n")[0]}`);

  const dir = process.env[RESULTS_DIR_ENV] || DEFAULT_RESULTS_DIR;
  const files = writeReportFiles(dir, report);
  out(
    `\nwrote ${files.json}\n      ${files.md}\n      ${files.svg}\n(total ${run.durationSeconds} s)`,
  );
  if (args.json) console.log(JSON.stringify(report, null, 2));
  return report;
}

function describeScenario(s: ScenarioResult): string {
  const ratio = s.ratioToLimit === null
    ? ""
    : `, ${(s.ratioToLimit * 100).toFixed(0)}% of ${s.limit}`;
  const p99 = s.p99Ms === null ? "" : `, p99 ${s.p99Ms.toFixed(2)} ms`;
  return `${s.name}: ${Math.round(s.recordsPerSec).toLocaleString("en-US")} records/s, ${
    s.mbPerSec.toFixed(1)
  } MB/s${ratio}${p99}`;
}

function describePeer(p: PeerResult): string {
  const ratio = p.ratioToSluice === undefined || p.ratioToSluice === null
    ? ""
    : `, ${p.ratioToSluice.toFixed(2)}x Sluice`;
  return `${p.name} ${p.version} beside ${p.scenario}: ${
    Math.round(p.recordsPerSec).toLocaleString("en-US")
  } records/s, ${p.mbPerSec.toFixed(1)} MB/s${ratio}`;
}

if (import.meta.main) {
  try {
    const report = await runBenchMain(process.argv.slice(2));
    const d = report.details;
    if (d.errors.length > 0) process.exitCode = 1;
    if (d.external.some((e) => e.mode !== "missing" && !e.ok)) process.exitCode = 1;
    // The server must stop cleanly on SIGTERM (exit 0): anything else is a failed run.
    if (d.http !== undefined && d.http.server.exitCode !== 0) process.exitCode = 1;
    if (d.groups !== undefined && d.groups.server.exitCode !== 0) process.exitCode = 1;
    const kafkaServer = d.kafkaClient?.server;
    if (kafkaServer !== undefined && kafkaServer.exitCode !== 0) process.exitCode = 1;
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
}
