/**
 * Before and after, paired: the bare Hono POST sink and the servers of several work trees (say
 * main's and a branch's), each started once, then the produce-batch load sent to each in turn,
 * round after round (paired.ts's alternate: the order rotates every round). Prints, per server,
 * bytes/s and server CPU per request (median [min-max]) and its per-round ratio to the sink, and
 * for two trees the second's per-round ratio to the first.
 *
 * Run: deno run -A bench/http/compare.ts [--rounds 8] [--requests 1500] [--clients 1] \
 *        [--bun /path/to/bun] /path/to/main-tree=base /path/to/branch-tree=new[=V8FLAGS]
 * (each tree needs its node_modules: `deno install` in it). On Deno a server runs with the V8
 * flags of its tree's `deno task start` (as the full bench's server does, bench_server.ts), or
 * with V8FLAGS when given (`-` for none), so one tree can be paired with itself under two
 * settings: `.=task .=none=-`. With --bun the sink and the servers run on Bun; the client stays in
 * this Deno process.
 */
import { parseArgs } from "node:util";
import { startTaskV8Flags } from "../bench_server.ts";
import { type Figure, figure } from "../bench_util.ts";
import { alternate, pairedFigures, type PairedTarget } from "./paired.ts";
import { createTopic } from "./requests.ts";
import { payloads } from "./runs.ts";
import { startSink } from "./sink.ts";

const LISTENING = /sluice listening on (http:\/\/\S+)/;

interface Started {
  target: PairedTarget;
  child: Deno.ChildProcess;
  dataDir: string;
}

async function startTree(
  tree: string,
  name: string,
  clients: number,
  bun: string | undefined,
  v8Flags: string | undefined,
): Promise<Started> {
  const flags = v8Flags === undefined
    ? startTaskV8Flags(tree)
    : v8Flags === "-"
    ? []
    : [`--v8-flags=${v8Flags}`];
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-compare-" });
  const child = new Deno.Command(bun ?? Deno.execPath(), {
    args: [
      "run",
      ...(bun === undefined ? ["-A", ...flags] : []),
      `${tree}/src/main.ts`,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--kafka-port",
      "0",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${tree}: the server ended before listening`);
    out += value;
    url = LISTENING.exec(out)?.[1];
  }
  reader.releaseLock();
  const topic = "compare";
  await createTopic(url, topic, clients);
  return { target: { name, url, pid: child.pid, topic }, child, dataDir };
}

function spread(x: Figure, digits: number): string {
  return `${x.median.toFixed(digits)} [${x.min.toFixed(digits)}-${x.max.toFixed(digits)}]`;
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "8" },
    requests: { type: "string", default: "1500" },
    clients: { type: "string", default: "1" },
    bun: { type: "string" },
  },
  allowPositionals: true,
});
const clients = Number(values.clients);
const sink = await startSink(values.bun);
const started: Started[] = [];
try {
  for (const arg of positionals) {
    const [tree, name = tree, ...flags] = arg.split("=");
    const v8Flags = flags.length === 0 ? undefined : flags.join("=");
    started.push(await startTree(tree, name, clients, values.bun, v8Flags));
  }
  const targets = [
    { name: "sink", url: sink.url, pid: sink.pid, topic: "compare" },
    ...started.map((s) => s.target),
  ];
  const samples = await alternate(targets, {
    warmupRounds: 1,
    rounds: Number(values.rounds),
    clients,
    requestsPerClient: Number(values.requests),
    batch: payloads().batch,
    log: (line) => console.error(line),
  });
  for (let i = 0; i < targets.length; i++) {
    const f = pairedFigures("sink", samples[0], samples[i]);
    console.log(
      `${targets[i].name}: MB/s ${spread(f.mbPerSec, 0)}; over the sink ${spread(f.ratio, 2)}; ` +
        `server CPU ${spread(f.cpuUsPerRequest, 0)} us/request (over the sink's ` +
        `${spread(f.cpuRatio, 2)})`,
    );
  }
  if (targets.length === 3) {
    const f = pairedFigures(targets[1].name, samples[1], samples[2]);
    console.log(
      `${targets[2].name} over ${targets[1].name}, per round: bytes/s ${spread(f.ratio, 2)}, ` +
        `CPU per request ${spread(f.cpuRatio, 2)}`,
    );
  }
  const cpu = figure(samples[0].map((s) => s.clientCpuSeconds / s.seconds));
  console.log(`client CPU (cores) during the sink's runs: ${spread(cpu, 2)}`);
} finally {
  for (const s of started) {
    s.child.kill("SIGTERM");
    await s.child.status;
    await Deno.remove(s.dataDir, { recursive: true });
  }
  await sink.stop();
}
