/**
 * The bare Hono POST sink (sink_server.ts) as a subprocess of the bench, on the bench's own
 * runtime: started on a free loopback port, its URL read from its "listening" line, stopped with
 * SIGTERM (SIGKILL after a timeout).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const SINK = join(dirname(fileURLToPath(import.meta.url)), "sink_server.ts");
const LISTENING = /^sink listening on (http:\/\/\S+)$/;
/** A cold `deno run` resolves npm packages and compiles. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface Sink {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the sink on this runtime, or on the Bun binary `bun` names. */
export async function startSink(bun?: string): Promise<Sink> {
  const isDeno = bun === undefined && process.versions.deno !== undefined;
  const argv = ["run", ...(isDeno ? ["-A"] : []), SINK];
  const child: ChildProcess = spawn(bun ?? process.execPath, argv, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Uint8Array) => {
    stderr = (stderr + new TextDecoder().decode(chunk)).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const kill = (signal: "SIGTERM" | "SIGKILL") => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(child.pid, signal);
    } catch { /* already gone */ }
  };
  const url = await new Promise<string>((resolve, reject) => {
    let pending = "";
    const timer = setTimeout(() => {
      kill("SIGKILL");
      reject(new Error(`the sink did not start in ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout?.on("data", (chunk: Uint8Array) => {
      pending += new TextDecoder().decode(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = LISTENING.exec(line.trim());
        if (m === null) continue;
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("error", (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the sink exited before listening:\n${stderr}`));
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("the sink has no pid");
  return {
    url,
    pid,
    async stop() {
      kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), STOP_TIMEOUT_MS);
      });
      if (await Promise.race([exited, late]) === "late") {
        kill("SIGKILL");
        await exited;
      }
      clearTimeout(timer);
    },
  };
}
