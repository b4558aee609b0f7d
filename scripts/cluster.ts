/**
 * `deno task cluster`: a local three-broker Sluice cluster in one command.
 *
 *   deno task cluster [--dir ./cluster-data] [--brokers 3] [--replication-factor 3]
 *
 * Installs etcd from Debian when it is missing (scripts/install-etcd.sh; as root), starts it on
 * 127.0.0.1:2379 (client) and :2380 (peer) with its data in DIR/etcd, then the brokers: node N
 * serves HTTP on 127.0.0.1:(8080+N) and Kafka on 127.0.0.1:(9091+N), data in DIR/broker-N, every
 * topic created without a replication factor gets --replication-factor replicas (min.insync.replicas
 * 2 when that is 3 or more). It prints the bootstrap servers and a `kcat -L` line to try, then
 * waits; Ctrl-C (SIGINT) or SIGTERM stops the brokers (each revokes its lease, so leaderships
 * move at once) and then etcd. Started again on the same DIR, the cluster comes back with its
 * topics and data.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string", default: "./cluster-data" },
    brokers: { type: "string", default: "3" },
    "replication-factor": { type: "string", default: "3" },
  },
});
const dir = values.dir!;
const brokers = Number(values.brokers);
const rf = Math.min(Number(values["replication-factor"]), brokers);
if (!Number.isInteger(brokers) || brokers < 1 || brokers > 9) {
  console.error("--brokers must be 1..9");
  Deno.exit(2);
}
const root = new URL("..", import.meta.url).pathname;

function which(cmd: string): boolean {
  try {
    return new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

if (!which("etcd")) {
  const install = new Deno.Command("bash", {
    args: [`${root}scripts/install-etcd.sh`],
    stdout: "inherit",
    stderr: "inherit",
  }).outputSync();
  if (!install.success) Deno.exit(1);
}

await Deno.mkdir(`${dir}/etcd`, { recursive: true });
const children: { name: string; proc: Deno.ChildProcess }[] = [];

/** Starts `cmd args` with stdout and stderr appended to `logFile` (through bash's redirection). */
function spawn(name: string, cmd: string, args: string[], logFile: string): Deno.ChildProcess {
  const proc = new Deno.Command("bash", {
    args: ["-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "bash", logFile, cmd, ...args],
    stdin: "null",
  }).spawn();
  children.push({ name, proc });
  return proc;
}

const etcdEndpoint = "http://127.0.0.1:2379";
spawn("etcd", "etcd", [
  "--name",
  "sluice",
  "--data-dir",
  `${dir}/etcd/data`,
  "--listen-client-urls",
  etcdEndpoint,
  "--advertise-client-urls",
  etcdEndpoint,
  "--listen-peer-urls",
  "http://127.0.0.1:2380",
  "--initial-advertise-peer-urls",
  "http://127.0.0.1:2380",
  "--initial-cluster",
  "sluice=http://127.0.0.1:2380",
], `${dir}/etcd/etcd.log`);

async function waitUntil(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${ms} ms (see its log under ${dir})`);
}

await waitUntil("etcd", async () => {
  const r = await fetch(`${etcdEndpoint}/v3/kv/range`, { method: "POST", body: '{"key":"AA=="}' });
  await r.body?.cancel();
  return r.ok;
});

for (let n = 1; n <= brokers; n++) {
  await Deno.mkdir(`${dir}/broker-${n}`, { recursive: true });
  spawn(`broker ${n}`, Deno.execPath(), [
    "run",
    "-A",
    `${root}src/main.ts`,
    "serve",
    "--node-id",
    String(n),
    "--etcd",
    etcdEndpoint,
    "--port",
    String(8080 + n),
    "--kafka-port",
    String(9091 + n),
    "--data-dir",
    `${dir}/broker-${n}`,
    "--default-replication-factor",
    String(rf),
    "--min-insync-replicas",
    String(rf >= 3 ? 2 : 1),
  ], `${dir}/broker-${n}/broker.log`);
}
for (let n = 1; n <= brokers; n++) {
  await waitUntil(`broker ${n}`, async () => {
    const r = await fetch(`http://127.0.0.1:${8080 + n}/healthz`);
    await r.body?.cancel();
    return r.ok;
  });
}

const bootstrap = Array.from({ length: brokers }, (_, i) => `127.0.0.1:${9092 + i}`).join(",");
console.log(`sluice cluster: ${brokers} brokers on etcd ${etcdEndpoint}, data in ${dir}`);
for (let n = 1; n <= brokers; n++) {
  console.log(`  broker ${n}: http://127.0.0.1:${8080 + n}  kafka 127.0.0.1:${9091 + n}`);
}
console.log(`bootstrap servers: ${bootstrap}`);
console.log(`try: kcat -b ${bootstrap} -L`);
console.log("Ctrl-C stops the cluster");

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Brokers first (each leaves the cluster), etcd last.
  for (const c of children.filter((c) => c.name !== "etcd")) {
    try {
      c.proc.kill("SIGTERM");
    } catch { /* gone */ }
  }
  await Promise.all(children.filter((c) => c.name !== "etcd").map((c) => c.proc.status));
  for (const c of children.filter((c) => c.name === "etcd")) {
    try {
      c.proc.kill("SIGTERM");
    } catch { /* gone */ }
    await c.proc.status;
  }
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
await Promise.all(children.map(async (c) => {
  const status = await c.proc.status;
  if (!stopping) {
    console.error(`${c.name} exited with code ${status.code}; see its log under ${dir}`);
  }
}));
