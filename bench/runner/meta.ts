/** The run's `meta` (the machine, the runtime, the commit) and what `meta` has no room for. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import os from "node:os";
import process from "node:process";
import { loadCrc32c } from "../../src/record/crc32c.ts";
import type { BenchMetaStd } from "../types.ts";
import type { Args } from "./args.ts";
import type { BenchRunInfo } from "./details.ts";
import { freshMemoryCost, freshMemoryText, reportedToHostKib } from "./memory.ts";
import { REPO_DIR } from "./paths.ts";

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

export function collectMeta(
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
    // Loaded now (the first checksum would): which one the runs use, not the "portable" shown
    // before any checksum (crc32c.ts loads it lazily).
    crc32cImplementation: loadCrc32c(),
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
    freshMemory: {
      ...freshMemoryCost(),
      pagesReportedToHost: (reportedToHostKib() ?? 0) > 0,
    },
  };
  return { meta, run };
}

export function formatMeta(meta: BenchMetaStd, run: BenchRunInfo): string {
  return [
    `runtime: ${meta.runtime} ${meta.runtimeVersion}${
      run.runtime.v8 ? ` (V8 ${run.runtime.v8})` : ""
    }; ${meta.os}`,
    `machine: ${run.hostname}, ${meta.cpu}, ${meta.cores} cores, ${
      (meta.memoryBytes / 2 ** 30).toFixed(1)
    } GiB RAM`,
    `file system: ${meta.filesystem}`,
    ...(meta.freshMemory === undefined ? [] : [`fresh memory: ${freshMemoryText(meta)}`]),
    `git: ${meta.commit}${
      run.gitDirty ? " (work tree modified)" : ""
    }; crc32c: ${run.crc32cImplementation}; quick: ${meta.quick}`,
  ].join("\n");
}
