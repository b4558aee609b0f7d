/**
 * A real single-member etcd for tests: started on free loopback ports with its own temporary data
 * directory, waited for until its v3 JSON gateway answers, stopped (SIGTERM, then SIGKILL) and
 * removed. `etcdAvailable` says whether an etcd binary is on PATH (scripts/install-etcd.sh
 * installs Debian's); tests skip loudly without one, and fail under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1 (CI installs it). Not a test file itself.
 */
import { announceSkip } from "../kafka_protocol/kafka_harness.ts";
import { tempDir } from "../test_util.ts";

function runsOk(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

export const etcdAvailable: boolean = runsOk("etcd", ["--version"]);

export function announceEtcdSkip(): void {
  announceSkip(etcdAvailable, "etcd (Debian's etcd-server)", "scripts/install-etcd.sh (as root)");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export interface RunningEtcd {
  /** "http://127.0.0.1:PORT", the client endpoint. */
  endpoint: string;
  /** Sends SIGSTOP / SIGCONT (an etcd that stops answering, then comes back). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
  /** The last lines etcd logged (for failure messages). */
  logTail(n?: number): string;
}

/** Starts etcd and waits (up to 30 s) until it answers a range request. */
export async function startEtcd(): Promise<RunningEtcd> {
  const dir = tempDir("sluice-etcd-");
  const client = freePort();
  const peer = freePort();
  const child = new Deno.Command("etcd", {
    args: [
      "--name",
      "t",
      "--data-dir",
      `${dir}/data`,
      "--listen-client-urls",
      `http://127.0.0.1:${client}`,
      "--advertise-client-urls",
      `http://127.0.0.1:${client}`,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `t=http://127.0.0.1:${peer}`,
      "--log-level",
      "warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      for (const line of decoder.decode(chunk).split("\n")) {
        if (line !== "") lines.push(line);
        if (lines.length > 200) lines.shift();
      }
    }
  })();
  const endpoint = `http://127.0.0.1:${client}`;
  const logTail = (n = 20) => lines.slice(-n).join("\n");
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGCONT");
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    await child.status;
    clearTimeout(timer);
    await drained.catch(() => {});
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key: btoa("probe") }),
        signal: AbortSignal.timeout(1_000),
      });
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not answer within 30 s:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    stop,
    logTail,
  };
}
