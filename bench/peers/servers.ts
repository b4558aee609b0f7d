/**
 * The peers this suite knows (Redis Streams, NATS JetStream) and their servers: the version each
 * binary reports, and each started on a free loopback port with its own temporary directory
 * (`sluice-peer-<name>-*`, also its cwd), stopped with SIGTERM (SIGKILL after STOP_TIMEOUT_MS) and
 * its directory deleted.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { BATCH_RECORDS, type PeerClient } from "./client.ts";
import { NatsClient } from "./nats.ts";
import { RedisClient } from "./redis.ts";

export const PEER_NAMES = ["redis-streams", "nats-jetstream"] as const;
export type PeerName = typeof PEER_NAMES[number];

/** The same binary answered --version within this on the reference VM in < 50 ms. */
const VERSION_TIMEOUT_MS = 5_000;
/** Both servers accept connections < 100 ms after spawn; 10 s covers a loaded machine. */
const START_TIMEOUT_MS = 10_000;
/** A free port is picked by binding port 0 and closing it; another process may take it first. */
const START_ATTEMPTS_MAX = 3;
const CONNECT_RETRY_MS = 50;
/** SIGTERM: Redis fsyncs its AOF, NATS flushes its streams; both take < 1 s for these logs. */
export const STOP_TIMEOUT_MS = 10_000;
const KILL_TIMEOUT_MS = 5_000;
/** The end of a server's stdout + stderr kept for error messages. */
const OUTPUT_CHARS_MAX = 8_192;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PeerSpec {
  name: PeerName;
  binary: string;
  /** Finds the version in `<binary> --version`'s output. */
  versionPattern: RegExp;
  args(port: number, dataDir: string): string[];
  /** Connects and completes the handshake; rejects while the server does not answer yet. */
  connect(port: number): Promise<PeerClient>;
  /** Persistence and workload settings, copied into each result's params. */
  settings: Record<string, string | number | boolean>;
}

export const PEERS: readonly PeerSpec[] = [
  {
    name: "redis-streams",
    binary: "redis-server",
    versionPattern: /\bv=(\S+)/,
    args: (port, dataDir) => [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--dir",
      dataDir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--save",
      "",
      "--daemonize",
      "no",
    ],
    connect: (port) => RedisClient.connect(port),
    settings: {
      command: "XADD key * v <value>",
      pipeline: BATCH_RECORDS,
      appendonly: true,
      appendfsync: "everysec",
      rdbSnapshots: false,
    },
  },
  {
    name: "nats-jetstream",
    binary: "nats-server",
    versionPattern: /\bv(\d+\.\d+\.\d+\S*)/,
    args: (port, dataDir) => ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dataDir],
    connect: (port) => NatsClient.connect(port),
    settings: {
      command: "PUB subject ackInbox (PubAck per message)",
      window: BATCH_RECORDS,
      storage: "file",
      replicas: 1,
      fsync: "background (server default)",
    },
  },
];

export function versionOf(spec: PeerSpec): string | null {
  try {
    const out = execFileSync(spec.binary, ["--version"], {
      encoding: "utf8",
      timeout: VERSION_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return spec.versionPattern.exec(out)?.[1] ?? (out.trim() || null);
  } catch {
    return null; // not on PATH (ENOENT) or it failed: the peer is skipped
  }
}

/** Each peer this suite knows, with the version its binary reports, or null when it is absent. */
export function peersAvailable(): { name: string; version: string | null }[] {
  return PEERS.map((spec) => ({ name: spec.name, version: versionOf(spec) }));
}

/** A port nothing listens on now: bound on 127.0.0.1 with port 0, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every mainstream Linux). */
let clockTicksPerSec: number | undefined;

/** CPU seconds (user + system) the process has used so far; undefined off Linux. */
export function processCpuSeconds(pid: number): number | undefined {
  if (clockTicksPerSec === undefined) {
    clockTicksPerSec = 100;
    try {
      const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim();
      if (/^\d+$/.test(out)) clockTicksPerSec = Number(out);
    } catch {
      // no getconf: keep 100
    }
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSec;
  } catch {
    return undefined;
  }
}

export interface Exit {
  code: number | null;
  signal: string | null;
}

export interface PeerServer {
  pid: number;
  port: number;
  dataDir: string;
  client: PeerClient;
  /**
   * SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; deletes the data directory. Redis exits 0 on
   * SIGTERM; nats-server shuts down just as cleanly ("Server Exiting..") but exits 1 by design.
   */
  stop(): Promise<Exit & { killed: boolean }>;
}

/**
 * Signals by pid rather than child.kill(): on Deno 2.9.6 a ChildProcess signalled through kill()
 * misreports how it exited, and a second kill() (SIGKILL after SIGTERM) sends nothing (see
 * http_bench.ts).
 */
function signal(child: ChildProcess, name: "SIGTERM" | "SIGKILL"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // already gone: the exit event says how it ended
  }
}

/** How the process exited, or undefined when it still runs after `ms` (the timer is cleared). */
async function exitWithin(exited: Promise<Exit>, ms: number): Promise<Exit | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startServer(spec: PeerSpec): Promise<PeerServer> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS_MAX; attempt++) {
    const dataDir = fs.mkdtempSync(join(tmpdir(), `sluice-peer-${spec.name}-`));
    const port = await freePort();
    const child = spawn(spec.binary, spec.args(port, dataDir), {
      cwd: dataDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Uint8Array) => {
      output += new TextDecoder().decode(chunk);
      if (output.length > 2 * OUTPUT_CHARS_MAX) output = output.slice(-OUTPUT_CHARS_MAX);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let spawnError: Error | undefined;
    child.on("error", (err: Error) => (spawnError = err));
    let exit: Exit | undefined;
    const exited = new Promise<Exit>((resolve) => {
      child.on("exit", (code: number | null, sig: string | null) => {
        exit = { code, signal: sig };
        resolve(exit);
      });
    });
    const stop = async () => {
      if (child.pid === undefined) {
        // never started (spawn failed): there is no process to stop
        fs.rmSync(dataDir, { recursive: true, force: true });
        return { code: null, signal: null, killed: false };
      }
      signal(child, "SIGTERM");
      let killed = false;
      let outcome = await exitWithin(exited, STOP_TIMEOUT_MS);
      if (outcome === undefined) {
        killed = true;
        signal(child, "SIGKILL");
        outcome = await exitWithin(exited, KILL_TIMEOUT_MS);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (outcome === undefined) {
        throw new Error(`${spec.binary} (pid ${child.pid}) survived SIGKILL`);
      }
      return { ...outcome, killed };
    };

    const deadline = performance.now() + START_TIMEOUT_MS;
    let client: PeerClient | undefined;
    // Bounded by the deadline: one connection attempt every CONNECT_RETRY_MS.
    while (client === undefined && exit === undefined && spawnError === undefined) {
      try {
        client = await spec.connect(port);
      } catch (err) {
        lastError = err as Error;
        if (performance.now() > deadline) break;
        await sleep(CONNECT_RETRY_MS);
      }
    }
    if (client !== undefined && child.pid !== undefined) {
      return { pid: child.pid, port, dataDir, client, stop };
    }
    client?.close();
    const why = spawnError ??
      (exit === undefined ? lastError : new Error(`exited (${exit.code ?? exit.signal})`));
    lastError = new Error(
      `${spec.binary} on port ${port}, attempt ${attempt}: ${why?.message}\n${
        output.slice(-OUTPUT_CHARS_MAX)
      }`,
    );
    await stop();
    if (spawnError !== undefined) break; // ENOENT or EACCES: another port will not help
  }
  throw lastError ?? new Error(`${spec.binary} did not start`);
}
