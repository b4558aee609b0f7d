/**
 * The real server as a subprocess, for the suites that drive it over loopback (http_bench.ts,
 * group_bench.ts): `deno run -A src/main.ts serve --host 127.0.0.1 --port 0 --data-dir <temp>`
 * (optionally under `--cpu-prof`), its URL read from its "listening" line, stopped with SIGTERM
 * (SIGKILL after a timeout) with the exit code, stop time and peak RSS recorded. Also the CPU both
 * sides use: the server's from /proc/<pid>/stat, the bench process's from process.cpuUsage().
 * On Deno the server gets the V8 flags of `deno task start` (deno.json), so the bench measures
 * the memory a server started the documented way has.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type BenchRunOptions, figure, fixed, MiB } from "./bench_util.ts";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MAIN = join(ROOT, "src", "main.ts");

/** The `--v8-flags=...` of deno.json's `start` task in `root` (none when it has none). */
export function startTaskV8Flags(root = ROOT): string[] {
  const config = JSON.parse(fs.readFileSync(join(root, "deno.json"), "utf8"));
  const start = String(config?.tasks?.start ?? "");
  return start.split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));
}
const LISTENING = /^sluice listening on (http:\/\/\S+) \(data: (.*)\)$/;
/** Printed before LISTENING when the Kafka listener is on. */
const KAFKA_LISTENING = /^sluice kafka listening on (\S+:\d+)$/;
/** A cold `deno run` resolves npm packages and compiles; 30 s covers a cold cache. */
const START_TIMEOUT_MS = 30_000;
/**
 * SIGTERM drains in-flight requests and flushes every log; the http suite's logs hold < 2 GB, the
 * group suite's < 100 MB.
 */
const STOP_TIMEOUT_MS = 30_000;
/** The server's stderr kept for the report (its JSON log lines; the tail is what matters). */
const STDERR_CHARS_MAX = 16_384;

/** The options of a suite that runs against the server (http, groups). */
export interface ServerBenchOptions extends BenchRunOptions {
  /** Runs the server under --cpu-prof, writing its profile into this directory. */
  cpuProfileDir?: string;
}

export interface ServerInfo {
  argv: string[];
  url: string;
  /** host:port of the Kafka listener, when the server printed its line. */
  kafka?: string;
  dataDir: string;
  startSeconds: number;
  stopSeconds?: number;
  /** The exit code after SIGTERM (0 is a clean stop); null when a signal ended it. */
  exitCode?: number | null;
  exitSignal?: string | null;
  /** True when SIGTERM did not stop it within STOP_TIMEOUT_MS and it was killed. */
  killed?: boolean;
  peakRssBytes?: number;
  /** The end of what the server printed on stderr. */
  stderrTail: string;
  cpuProfileDir?: string;
}

export interface Server {
  url: string;
  /** host:port of the Kafka listener, when the server printed its line. */
  kafka?: string;
  pid: number;
  info: ServerInfo;
  stop(): Promise<void>;
  /** Sends SIGKILL (a crash) and waits for the exit; info records how it ended. */
  kill(): Promise<void>;
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every mainstream Linux). */
let clockTicksPerSec: number | undefined;

function ticksPerSec(): number {
  if (clockTicksPerSec === undefined) {
    let ticks = 100;
    try {
      const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim();
      if (/^\d+$/.test(out)) ticks = Number(out);
    } catch {
      // no getconf: keep 100
    }
    clockTicksPerSec = ticks;
  }
  return clockTicksPerSec;
}

/** CPU seconds (user + system) the process has used so far; undefined off Linux. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSec();
  } catch {
    return undefined;
  }
}

/** The process's peak RSS so far (VmHWM, /proc/<pid>/status); undefined off Linux. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Resets the process's peak RSS (VmHWM) to its RSS now (`5` into /proc/<pid>/clear_refs), so the
 * next peakRssBytes() is the peak since; false where that is refused or missing.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes every dirty page back to its disk (`sync`, untimed by the caller), so the kernel's
 * writeback of what earlier runs wrote does not take a core during the next run, and no run
 * starts past the background threshold (vm.dirty_background_ratio, 10% of RAM: ~2.3 GB on the
 * 24 GiB VM), where writes wait for the disk. It does not undo the bench VM's other cost of many
 * GB written: fresh guest pages fault in from the host at 170-360 MB/s, so a plain writeSync loop
 * slows from 4-6 GB/s to ~0.55 GB/s after ~3 GB of new page cache even when synced
 * (docs/bench/http_produce.md). `log` gets how long it took; without sync(1) nothing is done.
 */
export function writeBack(log?: (line: string) => void): void {
  const t0 = performance.now();
  try {
    execFileSync("sync", [], { stdio: "ignore", timeout: 120_000 });
  } catch {
    return; // no sync(1): measure as things are
  }
  log?.(`  (sync: ${((performance.now() - t0) / 1000).toFixed(1)} s, not timed)`);
}

/** CPU seconds (user + system) this process has used so far. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The CPU the server and this process used between cpuMeter() and the reading it returns. */
export interface CpuReading {
  /** Undefined when the server's /proc/<pid>/stat could not be read. */
  serverCpuSeconds?: number;
  clientCpuSeconds: number;
}

/**
 * Reads the CPU both sides have used so far (the server first); the function it returns reads it
 * again (the server first) and gives the differences. Call it right before starting the clock and
 * the returned function right after stopping it.
 */
export function cpuMeter(serverPid: number): () => CpuReading {
  const server0 = processCpuSeconds(serverPid);
  const client0 = selfCpuSeconds();
  return () => {
    const server1 = processCpuSeconds(serverPid);
    return {
      serverCpuSeconds: server0 === undefined || server1 === undefined
        ? undefined
        : server1 - server0,
      clientCpuSeconds: selfCpuSeconds() - client0,
    };
  };
}

/**
 * CPU seconds per wall second over runs (median of the per-run values): 1.0 is one core busy;
 * undefined when any run lacks the server's figure.
 */
export function cpuCores(
  samples: readonly (CpuReading & { seconds: number })[],
): { server: number; client: number } | undefined {
  const serverCpu = samples.map((s) => s.serverCpuSeconds);
  if (serverCpu.some((c) => c === undefined)) return undefined;
  return {
    server: figure(serverCpu.map((c, i) => c! / samples[i].seconds)).median,
    client: figure(samples.map((s) => s.clientCpuSeconds / s.seconds)).median,
  };
}

/**
 * Signals the child by pid rather than with child.kill(): on Deno 2.9.6 a ChildProcess that was
 * sent a signal through kill() reports exit (null, that signal) even when the child handled it and
 * exited with its own code (a SIGTERM'd server exiting 0 reads as "killed by SIGTERM"), and a
 * second kill() (SIGKILL after SIGTERM) returns false without sending anything.
 */
function sendSignal(child: ChildProcess, name: "SIGTERM" | "SIGKILL"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone: the exit event reports how it ended
  }
}

/**
 * Starts the server on a free loopback port with its data in `dataDir`; resolves once it printed
 * its listening line. With `cpuProfileDir`, it runs under `deno run --cpu-prof` and writes its
 * .cpuprofile there when it stops. `kafkaPort` is passed as --kafka-port (default 0: off; "auto": any free port); the Kafka
 * listener's address, when it prints one, is `kafka`. `extraArgs` follow the others (the cluster
 * suite's --node-id, --etcd, ...).
 */
export async function startServer(
  dataDir: string,
  cpuProfileDir: string | undefined,
  kafkaPort: number | "auto" = 0,
  extraArgs: readonly string[] = [],
): Promise<Server> {
  const isDeno = process.versions.deno !== undefined;
  const profile = cpuProfileDir === undefined
    ? []
    : ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`];
  const argv = [
    "run",
    ...(isDeno ? ["-A", ...startTaskV8Flags(), ...profile] : []),
    MAIN,
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    "--kafka-port",
    String(kafkaPort),
    ...extraArgs,
  ];
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, argv, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += new TextDecoder().decode(chunk);
    if (stderr.length > 2 * STDERR_CHARS_MAX) stderr = stderr.slice(-STDERR_CHARS_MAX);
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on("exit", (code: number | null, signal: string | null) => resolve({ code, signal }));
  });
  let kafka: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    let pending = "";
    const timer = setTimeout(() => {
      sendSignal(child, "SIGKILL");
      reject(new Error(`server did not start in ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout?.on("data", (chunk: Uint8Array) => {
      pending += new TextDecoder().decode(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const k = KAFKA_LISTENING.exec(line.trim());
        if (k !== null) kafka = k[1];
        const m = LISTENING.exec(line.trim());
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    });
    child.on("error", (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${stderr}`),
      );
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("server has no pid");
  const info: ServerInfo = {
    argv: [process.execPath, ...argv],
    url,
    kafka,
    dataDir,
    startSeconds: (performance.now() - t0) / 1000,
    stderrTail: "",
    cpuProfileDir,
  };
  const stop = async () => {
    info.peakRssBytes = peakRssBytes(pid);
    const t1 = performance.now();
    sendSignal(child, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    let outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      info.killed = true;
      sendSignal(child, "SIGKILL");
      outcome = await exited;
    }
    info.stopSeconds = (performance.now() - t1) / 1000;
    info.exitCode = outcome.code;
    info.exitSignal = outcome.signal;
    info.stderrTail = stderr.slice(-STDERR_CHARS_MAX);
  };
  const kill = async () => {
    sendSignal(child, "SIGKILL");
    const outcome = await exited;
    info.exitCode = outcome.code;
    info.exitSignal = outcome.signal;
    info.stderrTail = stderr.slice(-STDERR_CHARS_MAX);
  };
  return { url, kafka, pid, info, stop, kill };
}

export interface WithServerOptions {
  /** The suite's name at the start of its progress lines, e.g. "http". */
  label: string;
  /** The prefix of the temporary data directory, e.g. "sluice-http-bench-". */
  tempPrefix: string;
  /** Said after the start line (e.g. who shares the cores). */
  note: string;
  log: (line: string) => void;
  cpuProfileDir?: string;
  /** --kafka-port (default 0). */
  kafkaPort?: number | "auto";
}

/**
 * Starts a server on a fresh temporary data directory, runs `work` against it, then stops it
 * (whether `work` succeeded or not) and deletes the directory; logs the start and the stop.
 * Returns the server's info, stop included.
 */
export async function withServer(
  opts: WithServerOptions,
  work: (server: Server) => Promise<void>,
): Promise<ServerInfo> {
  const { label, log } = opts;
  const dataDir = fs.mkdtempSync(join(tmpdir(), opts.tempPrefix));
  let server: Server | undefined;
  try {
    server = await startServer(dataDir, opts.cpuProfileDir, opts.kafkaPort);
    log(
      `${label}: server ${server.url}${
        server.kafka === undefined ? "" : `, kafka ${server.kafka}`
      } (pid ${server.pid}) up in ${server.info.startSeconds.toFixed(1)} s; ${opts.note}`,
    );
    await work(server);
  } finally {
    if (server !== undefined) {
      await server.stop();
      log(
        `${label}: server stopped by SIGTERM in ${
          server.info.stopSeconds?.toFixed(1)
        } s, exit code ${server.info.exitCode}${
          server.info.killed ? " (killed after the stop timeout)" : ""
        }`,
      );
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return server.info;
}

/** "server: started in ... s, SIGTERM stop in ... s, exit code ..., peak RSS ... MiB". */
export function formatServerLine(s: ServerInfo): string {
  const rss = s.peakRssBytes === undefined
    ? ""
    : `, peak RSS ${fixed(s.peakRssBytes / MiB, 0)} MiB`;
  return `server: started in ${s.startSeconds.toFixed(1)} s, SIGTERM stop in ${
    s.stopSeconds?.toFixed(1) ?? "?"
  } s, exit code ${s.exitCode ?? `none (signal ${s.exitSignal})`}${rss}`;
}
