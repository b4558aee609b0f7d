/**
 * The crc32c and record suites, whose code another module owns: run by their exported function
 * when they export one and guard their own run with import.meta.main, otherwise as subprocesses of
 * this runtime (NO_COLOR=1; --quick and SLUICE_BENCH_QUICK=1 under --quick).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import type { ExternalSuiteResult } from "./details.ts";
import { BENCH_DIR, REPO_DIR } from "./paths.ts";

/** Suites whose code another module owns: run by their exported function or as a subprocess. */
const EXTERNAL: Record<"crc32c" | "record", { file: string; exportName: string }> = {
  crc32c: { file: "crc32c_bench.ts", exportName: "runCrc32cBench" },
  record: { file: "record_bench.ts", exportName: "runRecordBench" },
};

/** Kept output of one subprocess suite: enough for its tables, bounded for the JSON file. */
const EXTERNAL_OUTPUT_CHARS_MAX = 200_000;

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

export async function runExternal(
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
