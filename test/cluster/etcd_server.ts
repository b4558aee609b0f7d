/**
 * A real single-member etcd for tests: started on free loopback ports with its own temporary data
 * directory, waited for until its v3 JSON gateway answers, restarted on the same data directory
 * and ports (at once, or after being down for as long as a test needs), stopped (SIGTERM, then
 * SIGKILL) and removed. `etcdAvailable` says whether an etcd
 * binary is on PATH (scripts/install-etcd.sh installs Debian's); tests skip loudly without one,
 * and fail under SLUICE_REQUIRE_KAFKA_CLIENTS=1 (CI installs it). Not a test file itself.
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
  /**
   * Sends SIGSTOP and waits until every thread of etcd has stopped (a signal is taken
   * asynchronously: without the wait, etcd still answered a request sent right after it, once in
   * a few dozen tries); resume() sends SIGCONT. An etcd that stops answering, then comes back.
   */
  pause(): Promise<void>;
  resume(): void;
  /** Stops etcd (SIGTERM) and starts it again on the same data directory and ports. */
  restart(): Promise<void>;
  /**
   * Stops etcd and leaves it down, until restart() brings it back: by default SIGKILL, a crash
   * (SIGTERM's graceful stop can take seconds, during which etcd still expires leases and sends
   * watch events while refusing keep-alives).
   */
  down(signal?: Deno.Signal): Promise<void>;
  stop(): Promise<void>;
  /** The last lines etcd logged (for failure messages). */
  logTail(n?: number): string;
}

/** One etcd process and the draining of its stderr into `lines`. */
interface EtcdProcess {
  child: Deno.ChildProcess;
  drained: Promise<void>;
}

function spawnEtcd(dir: string, client: number, peer: number, lines: string[]): EtcdProcess {
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
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      for (const line of decoder.decode(chunk).split("\n")) {
        if (line !== "") lines.push(line);
        if (lines.length > 200) lines.shift();
      }
    }
  })();
  return { child, drained };
}

/** `signal` (SIGKILL after 5 s) and wait for the process and its stderr to end. */
async function killEtcd(
  { child, drained }: EtcdProcess,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  try {
    child.kill("SIGCONT");
    child.kill(signal);
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
}

/** Waits (up to 30 s) until etcd answers a range request; false if it did not. */
async function answers(endpoint: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key: btoa("probe") }),
        signal: AbortSignal.timeout(1_000),
      });
      await r.body?.cancel();
      if (r.ok) return true;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits (up to 10 s) until every thread of process `pid` is stopped ("T" in its stat line). */
async function stoppedAll(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let all = true;
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
      // "pid (comm) state ...": the state follows the last ")".
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] !== "T") all = false;
    }
    if (all) return;
    if (Date.now() > deadline) throw new Error(`etcd (pid ${pid}) did not stop within 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts etcd and waits (up to 30 s) until it answers a range request. */
export async function startEtcd(): Promise<RunningEtcd> {
  const dir = tempDir("sluice-etcd-");
  const client = freePort();
  const peer = freePort();
  const lines: string[] = [];
  let current = spawnEtcd(dir, client, peer, lines);
  const endpoint = `http://127.0.0.1:${client}`;
  const logTail = (n = 20) => lines.slice(-n).join("\n");
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killEtcd(current);
  };
  if (!await answers(endpoint)) {
    await stop();
    throw new Error(`etcd did not answer within 30 s:\n${logTail()}`);
  }
  const restart = async () => {
    await killEtcd(current);
    current = spawnEtcd(dir, client, peer, lines);
    if (!await answers(endpoint)) {
      await stop();
      throw new Error(`etcd did not answer within 30 s of a restart:\n${logTail()}`);
    }
  };
  return {
    endpoint,
    pause: async () => {
      current.child.kill("SIGSTOP");
      await stoppedAll(current.child.pid);
    },
    resume: () => current.child.kill("SIGCONT"),
    restart,
    down: (signal = "SIGKILL") => killEtcd(current, signal),
    stop,
    logTail,
  };
}
