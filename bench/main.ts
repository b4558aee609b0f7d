/**
 * `deno task bench`: runs every bench suite, prints a results table and writes
 * bench/results/<ISO timestamp>-<hostname>.json (machine, runtime, git commit, every scenario's
 * parameters and figures).
 *
 * Suites: storage (bench/storage_bench.ts: append, read, always), index (bench/index_bench.ts:
 * lookup, random-read), http (bench/http_bench.ts: produce-batch, produce-json, fetch, latency;
 * the real server as a subprocess, driven over loopback from this process), groups
 * (bench/group_bench.ts: consume, rebalance; consumer groups over HTTP against their own server
 * subprocess), crc32c (bench/crc32c_bench.ts) and record (bench/record_bench.ts). The
 * last two are imported and called when they export runCrc32cBench / runRecordBench and guard
 * their own run with import.meta.main; otherwise they run as subprocesses of this runtime (their
 * output is streamed and kept in the JSON). A subprocess gets NO_COLOR=1, and --quick plus
 * SLUICE_BENCH_QUICK=1 under --quick, which it may honour.
 *
 * Flags:
 *   --quick           smaller workloads (the whole run stays under a minute on 2 cores)
 *   --scenario NAME   a suite (storage, index, http, groups, crc32c, record) or a group (append,
 *                     read, always, lookup, random-read, produce-batch, produce-json, fetch,
 *                     latency, consume, rebalance); repeatable, or comma-separated
 *   --json            the results document on stdout; progress and reports go to stderr
 *
 * Run: deno task bench [--quick] [--scenario NAME] [--json]
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crc32cImplementation } from "../src/record/crc32c.ts";
import {
  formatGroupTable,
  GROUP_GROUPS,
  type GroupBenchOutcome,
  runGroupBench,
} from "./group_bench.ts";
import { formatHttpTable, HTTP_GROUPS, type HttpBenchOutcome, runHttpBench } from "./http_bench.ts";
import {
  formatIndexTable,
  INDEX_GROUPS,
  type IndexBenchResult,
  measureIndexBench,
} from "./index_bench.ts";
import {
  formatStorageTable,
  runStorageBench,
  STORAGE_GROUPS,
  type StorageBenchResult,
} from "./storage_bench.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = dirname(BENCH_DIR);
const RESULTS_DIR = join(BENCH_DIR, "results");

const SUITES = ["storage", "index", "http", "groups", "crc32c", "record"] as const;
type Suite = typeof SUITES[number];

/** Suites whose code another module owns: run by their exported function or as a subprocess. */
const EXTERNAL: Record<"crc32c" | "record", { file: string; exportName: string }> = {
  crc32c: { file: "crc32c_bench.ts", exportName: "runCrc32cBench" },
  record: { file: "record_bench.ts", exportName: "runRecordBench" },
};

/** Kept output of one subprocess suite: enough for its tables, bounded for the JSON file. */
const EXTERNAL_OUTPUT_CHARS_MAX = 200_000;

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

export interface BenchMeta {
  runtime: { name: string; version: string; v8?: string; typescript?: string };
  os: { type: string; release: string; platform: string; arch: string };
  hostname: string;
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  tempDir: string;
  tempDirFilesystem?: { device: string; type: string; mountedOn: string };
  gitCommit?: string;
  /** Uncommitted changes in the work tree when the run started. */
  gitDirty?: boolean;
  crc32cImplementation: string;
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  quick: boolean;
  scenarios: string[];
  argv: string[];
}

export interface BenchReport {
  meta: BenchMeta;
  storage: StorageBenchResult[];
  index: IndexBenchResult[];
  external: ExternalSuiteResult[];
  /** The http suite: its results, the server's start and stop (exit code), the loopback note. */
  http?: HttpBenchOutcome;
  /** The groups suite: its results and its own server's start and stop (exit code). */
  groups?: GroupBenchOutcome;
  /** The targets the storage and http suites check, one line each. */
  targets: { scenario: string; text: string; met: boolean }[];
}

interface Args {
  quick: boolean;
  json: boolean;
  scenarios: string[];
}

function usage(): string {
  const groups = [...STORAGE_GROUPS, ...INDEX_GROUPS, ...HTTP_GROUPS, ...GROUP_GROUPS];
  return `usage: deno task bench [--quick] [--json] [--scenario NAME]...
  NAME: a suite (${SUITES.join(", ")}) or a group (${groups.join(", ")})`;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, json: false, scenarios: [] };
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
  return args;
}

/** Which suites run, and the group filter of each (empty: every group). */
function selection(scenarios: readonly string[]): Map<Suite, string[]> {
  const chosen = new Map<Suite, string[]>();
  if (scenarios.length === 0) {
    for (const s of SUITES) chosen.set(s, []);
    return chosen;
  }
  const add = (suite: Suite, group: string | undefined) => {
    const groups = chosen.get(suite);
    if (group === undefined) chosen.set(suite, []);
    else if (groups === undefined) chosen.set(suite, [group]);
    else if (groups.length > 0) groups.push(group); // an empty list already means all
  };
  for (const name of scenarios) {
    if ((SUITES as readonly string[]).includes(name)) add(name as Suite, undefined);
    else if ((STORAGE_GROUPS as readonly string[]).includes(name)) add("storage", name);
    else if ((HTTP_GROUPS as readonly string[]).includes(name)) add("http", name);
    else if ((GROUP_GROUPS as readonly string[]).includes(name)) add("groups", name);
    else add("index", name);
  }
  return chosen;
}

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

function runtimeInfo(): BenchMeta["runtime"] {
  const v = process.versions as Record<string, string | undefined>;
  if (v.deno !== undefined) {
    return { name: "deno", version: v.deno, v8: v.v8, typescript: v.typescript };
  }
  if (v.bun !== undefined) return { name: "bun", version: v.bun };
  return { name: "node", version: process.version, v8: v.v8 };
}

function filesystemOf(dir: string): BenchMeta["tempDirFilesystem"] {
  const out = tryRun("df", ["-PT", dir]);
  const fields = out?.split("\n")[1]?.split(/\s+/);
  if (fields === undefined || fields.length < 7) return undefined;
  return { device: fields[0], type: fields[1], mountedOn: fields.slice(6).join(" ") };
}

function collectMeta(args: Args, argv: readonly string[]): BenchMeta {
  const status = tryRun("git", ["status", "--porcelain"]);
  return {
    runtime: runtimeInfo(),
    os: { type: os.type(), release: os.release(), platform: process.platform, arch: process.arch },
    hostname: os.hostname(),
    cpuModel: cpuModel(),
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    tempDir: os.tmpdir(),
    tempDirFilesystem: filesystemOf(os.tmpdir()),
    gitCommit: tryRun("git", ["rev-parse", "HEAD"]),
    gitDirty: status === undefined ? undefined : status.length > 0,
    crc32cImplementation,
    startedAt: new Date().toISOString(),
    quick: args.quick,
    scenarios: args.scenarios,
    argv: [...argv],
  };
}

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

function resultsPath(meta: BenchMeta): string {
  // Colons are legal on Linux but not on every file system the results may be copied to.
  const stamp = meta.startedAt.replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  const host = meta.hostname.replace(/[^A-Za-z0-9._-]/g, "_");
  return join(RESULTS_DIR, `${stamp}-${host}.json`);
}

function formatMeta(meta: BenchMeta): string {
  const fsInfo = meta.tempDirFilesystem;
  return [
    `runtime: ${meta.runtime.name} ${meta.runtime.version}${
      meta.runtime.v8 ? ` (V8 ${meta.runtime.v8})` : ""
    }; ${meta.os.type} ${meta.os.release} ${meta.os.arch}`,
    `machine: ${meta.hostname}, ${meta.cpuModel}, ${meta.cores} cores, ${
      (meta.memoryBytes / 2 ** 30).toFixed(1)
    } GiB RAM`,
    `temp dir: ${meta.tempDir}${
      fsInfo ? ` on ${fsInfo.type} (${fsInfo.device} at ${fsInfo.mountedOn})` : ""
    }`,
    `git: ${meta.gitCommit ?? "unknown"}${
      meta.gitDirty ? " (work tree modified)" : ""
    }; crc32c: ${meta.crc32cImplementation}; quick: ${meta.quick}`,
  ].join("\n");
}

/** Runs the selected suites; returns the report (also written to bench/results/). */
export async function runBenchMain(argv: readonly string[]): Promise<BenchReport> {
  const args = parseArgs(argv);
  const out = args.json ? (line: string) => console.error(line) : (l: string) => console.log(l);
  const meta = collectMeta(args, argv);
  const t0 = performance.now();
  out(formatMeta(meta));
  const report: BenchReport = { meta, storage: [], index: [], external: [], targets: [] };
  for (const [suite, groups] of selection(args.scenarios)) {
    out(`\n== ${suite}${groups.length > 0 ? ` (${groups.join(", ")})` : ""}`);
    const started = performance.now();
    switch (suite) {
      case "storage":
        report.storage = await runStorageBench({ quick: args.quick, scenarios: groups, log: out });
        break;
      case "index":
        report.index = await measureIndexBench({ quick: args.quick, scenarios: groups, log: out });
        break;
      case "http":
        report.http = await runHttpBench({ quick: args.quick, scenarios: groups, log: out });
        break;
      case "groups":
        report.groups = await runGroupBench({ quick: args.quick, scenarios: groups, log: out });
        break;
      case "crc32c":
      case "record":
        report.external.push(await runExternal(suite, args.quick, args.json, out));
        break;
    }
    out(`== ${suite} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  for (const r of report.storage) {
    if (r.target !== undefined) {
      report.targets.push({ scenario: r.name, text: r.target.text, met: r.target.met });
    }
  }
  for (const r of report.http?.results ?? []) {
    if (r.target !== undefined) {
      report.targets.push({ scenario: r.name, text: r.target.text, met: r.target.met });
    }
  }
  meta.finishedAt = new Date().toISOString();
  meta.durationSeconds = Math.round((performance.now() - t0) / 100) / 10;

  out("\n== results");
  out(formatMeta(meta));
  if (report.storage.length > 0) out(`\n${formatStorageTable(report.storage)}`);
  if (report.index.length > 0) out(`\n${formatIndexTable(report.index)}`);
  if (report.http !== undefined) out(`\n${formatHttpTable(report.http)}`);
  if (report.groups !== undefined) out(`\n${formatGroupTable(report.groups)}`);
  for (const e of report.external) {
    if (e.mode === "missing") out(`\n${e.suite}: skipped, ${e.file} not found`);
    else {
      const status = e.ok ? "ok" : `FAILED${e.error ? `: ${e.error}` : ` (exit ${e.exitCode})`}`;
      out(`\n${e.suite}: ${status} (${e.mode}, ${e.seconds.toFixed(1)} s); report above, in JSON`);
    }
  }
  if (report.targets.length > 0) {
    out("\ntargets:");
    for (const t of report.targets) {
      out(`  ${t.met ? "MET   " : "MISSED"} ${t.scenario}: ${t.text}`);
    }
  }

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const path = resultsPath(meta);
  fs.writeFileSync(path, JSON.stringify(report, null, 2) + "\n");
  out(`\nwrote ${path} (total ${meta.durationSeconds} s)`);
  if (args.json) console.log(JSON.stringify(report, null, 2));
  return report;
}

if (import.meta.main) {
  try {
    const report = await runBenchMain(process.argv.slice(2));
    if (report.external.some((e) => e.mode !== "missing" && !e.ok)) process.exitCode = 1;
    // The server must stop cleanly on SIGTERM (exit 0): anything else is a failed run.
    if (report.http !== undefined && report.http.server.exitCode !== 0) process.exitCode = 1;
    if (report.groups !== undefined && report.groups.server.exitCode !== 0) process.exitCode = 1;
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
}
