/**
 * Soak: steady mixed load against a real server subprocess for `--seconds` (default 60): JSON
 * producers, plain fetchers walking every partition, and one consumer-group member that commits.
 * Prints, per second, records/s of each operation and the server's RSS (VmRSS from
 * /proc/<pid>/status), then p50/p99 latency per operation and whether RSS stayed flat (the mean of
 * the last 20 s within `--rss-tolerance` (default 10%) of the mean of the 20 s before).
 * `--crash-rounds N` then runs the crash-under-load check (test/faults/fault_util.ts) N rounds
 * per flush policy (always, none) on one data dir each; the soak uses N >= 20.
 * `--attack-seconds N` then runs the hostile-client phase (scripts/soak_attacks.ts): a connection
 * flood and slow readers, N seconds each, against the default limits.
 *
 *   deno task soak --seconds 60 --crash-rounds 20 --attack-seconds 30 [--seed S]
 *
 * `--cluster` runs the cluster soak instead (scripts/soak_cluster.ts): `--rounds N` (default 50)
 * of SIGKILL-the-leader under idempotent librdkafka and kafkajs producers, exactly-once and
 * byte-identical replicas checked, failover times printed.
 *
 *   deno task soak --cluster [--rounds 50] [--clients librdkafka,kafkajs] [--rate 300]
 *
 * Exits 1 when RSS grew, a crash round failed, any request failed, or an attack goal was missed
 * (with --cluster: when a cluster check failed).
 */
import { parseArgs } from "node:util";
import { crashRun } from "../test/faults/fault_util.ts";
import { createTopic, type Json, startServer } from "../test/http/server_harness.ts";
import { attacks } from "./soak_attacks.ts";
import { clusterSoak, clusterSoakOptions } from "./soak_cluster.ts";
import { percentile } from "./soak_util.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    "crash-rounds": { type: "string", default: "0" },
    "attack-seconds": { type: "string", default: "0" },
    seed: { type: "string" },
    producers: { type: "string", default: "4" },
    fetchers: { type: "string", default: "2" },
    partitions: { type: "string", default: "4" },
    "batch-records": { type: "string", default: "20" },
    "value-bytes": { type: "string", default: "100" },
    "rss-tolerance": { type: "string", default: "0.10" },
    cluster: { type: "boolean", default: false },
    rounds: { type: "string", default: "50" },
    clients: { type: "string", default: "librdkafka,kafkajs" },
    rate: { type: "string", default: "300" },
  },
});

if (opts.cluster) Deno.exit(await clusterSoak(clusterSoakOptions(Deno.args)) ? 0 : 1);

const SECONDS = Number(opts.seconds);
const CRASH_ROUNDS = Number(opts["crash-rounds"]);
const ATTACK_SECONDS = Number(opts["attack-seconds"]);
const SEED = Number(opts.seed ?? Date.now() % 0x7fff_ffff);
const PRODUCERS = Number(opts.producers);
const FETCHERS = Number(opts.fetchers);
const PARTITIONS = Number(opts.partitions);
const BATCH_RECORDS = Number(opts["batch-records"]);
const VALUE_BYTES = Number(opts["value-bytes"]);
const RSS_TOLERANCE = Number(opts["rss-tolerance"]);
/** The RSS verdict compares two windows of this length; shorter runs compare halves. */
const RSS_WINDOW_S = 20;
/** Latency samples kept per operation (bounded: ~8 MB per op at the cap). */
const LATENCY_SAMPLES_MAX = 1_000_000;
/** Fetch size per plain or group fetch. */
const FETCH_BYTES = 256 * 1024;

type Op = "produce" | "fetch" | "group";
const OPS: readonly Op[] = ["produce", "fetch", "group"];

class Stats {
  readonly latenciesMs: Record<Op, number[]> = { produce: [], fetch: [], group: [] };
  /** Records per op per second of the run. */
  readonly perSecond: Record<Op, number[]> = { produce: [], fetch: [], group: [] };
  readonly rssKiB: number[] = [];
  errors = 0;
  readonly errorSamples: string[] = [];
  #startMs = performance.now();

  start(): void {
    this.#startMs = performance.now();
  }

  record(op: Op, latencyMs: number, records: number): void {
    const lat = this.latenciesMs[op];
    if (lat.length < LATENCY_SAMPLES_MAX) lat.push(latencyMs);
    const second = Math.floor((performance.now() - this.#startMs) / 1000);
    const row = this.perSecond[op];
    while (row.length <= second) row.push(0);
    row[second] += records;
  }

  error(what: string): void {
    this.errors++;
    if (this.errorSamples.length < 10) this.errorSamples.push(what);
  }
}

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  return m ? Number(m[1]) : NaN;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
}

async function soak(): Promise<boolean> {
  const server = await startServer({});
  const stats = new Stats();
  const url = server.url;
  const topic = "soak";
  const group = "soak-g";
  let stop = false;
  try {
    await createTopic(server, topic, PARTITIONS);
    const value = "v".repeat(VALUE_BYTES);

    const producer = async (p: number) => {
      for (let seq = 0; !stop; seq++) {
        const partition = (p + seq) % PARTITIONS;
        const body = JSON.stringify({
          records: Array.from({ length: BATCH_RECORDS }, (_, i) => ({
            key: `p${p}-${seq}-${i}`,
            value,
            partition,
          })),
        });
        const [res, ms] = await timed(async () => {
          const r = await fetch(`${url}/v1/topics/${topic}/records`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
          });
          return { status: r.status, text: await r.text() };
        });
        if (res.status === 200) stats.record("produce", ms, BATCH_RECORDS);
        else stats.error(`produce ${res.status} ${res.text.slice(0, 200)}`);
      }
    };

    const fetcher = async (f: number) => {
      const next = new Array<number>(PARTITIONS).fill(0);
      for (let i = f; !stop; i++) {
        const partition = i % PARTITIONS;
        const [res, ms] = await timed(async () => {
          const r = await fetch(
            `${url}/v1/topics/${topic}/partitions/${partition}/records?offset=${
              next[partition]
            }&maxBytes=${FETCH_BYTES}&maxWaitMs=100`,
          );
          return { status: r.status, body: await r.json() as Json };
        });
        if (res.status !== 200) {
          stats.error(`fetch ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          continue;
        }
        next[partition] = res.body.nextOffset;
        stats.record("fetch", ms, res.body.records.length);
      }
    };

    const groupConsumer = async () => {
      let memberId: string | undefined;
      while (!stop) {
        if (memberId === undefined) {
          const r = await fetch(`${url}/v1/groups/${group}/members`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ topics: [topic], autoOffsetReset: "earliest" }),
          });
          const body = await r.json();
          if (r.status !== 200) {
            stats.error(`join ${r.status} ${JSON.stringify(body).slice(0, 200)}`);
            continue;
          }
          memberId = body.memberId;
        }
        // One group operation = member fetch + commit of what it returned.
        const [res, ms] = await timed(async () => {
          const r = await fetch(
            `${url}/v1/groups/${group}/members/${memberId}/records?maxBytes=${FETCH_BYTES}` +
              `&maxWaitMs=100`,
          );
          const body = await r.json();
          if (r.status !== 200) return { status: r.status, body, records: 0 };
          const next = new Map<number, number>();
          for (const rec of body.records as Json[]) {
            next.set(rec.partition, Math.max(next.get(rec.partition) ?? 0, rec.offset + 1));
          }
          if (next.size === 0) return { status: 200, body, records: 0 };
          const c = await fetch(`${url}/v1/groups/${group}/offsets`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              memberId,
              generation: body.generation,
              offsets: [...next].map(([partition, offset]) => ({ topic, partition, offset })),
            }),
          });
          const cbody = await c.json();
          return { status: c.status, body: cbody, records: body.records.length as number };
        });
        if (res.status === 200) stats.record("group", ms, res.records);
        else {
          stats.error(`group ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          memberId = undefined;
        }
      }
    };

    stats.start();
    const workers = [
      ...Array.from({ length: PRODUCERS }, (_, p) => producer(p)),
      ...Array.from({ length: FETCHERS }, (_, f) => fetcher(f)),
      groupConsumer(),
    ];
    for (let s = 0; s < SECONDS; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      stats.rssKiB.push(await rssKiB(server.proc.pid));
    }
    stop = true;
    await Promise.all(workers);
  } finally {
    stop = true;
    await server.stop().catch(() => {});
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
  return report(stats);
}

function report(stats: Stats): boolean {
  console.log(
    `soak: ${SECONDS} s, ${PRODUCERS} producers x ${BATCH_RECORDS} records of ${VALUE_BYTES} B, ` +
      `${FETCHERS} fetchers, 1 group member, ${PARTITIONS} partitions; ` +
      `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}`,
  );
  console.log("  sec  produce rec/s  fetch rec/s  group rec/s  RSS MiB");
  for (let s = 0; s < SECONDS; s++) {
    const cell = (op: Op) => String(stats.perSecond[op][s] ?? 0).padStart(13);
    console.log(
      `${String(s + 1).padStart(5)} ${cell("produce")}${cell("fetch")}${cell("group")}` +
        `${(stats.rssKiB[s] / 1024).toFixed(1).padStart(9)}`,
    );
  }
  console.log("\n  op        ops      p50 ms   p99 ms   max ms   records/s (mean)");
  for (const op of OPS) {
    const sorted = stats.latenciesMs[op].slice().sort((a, b) => a - b);
    const total = stats.perSecond[op].reduce((a, b) => a + b, 0);
    console.log(
      `  ${op.padEnd(8)}${String(sorted.length).padStart(7)}${
        percentile(sorted, 0.5).toFixed(2).padStart(10)
      }${percentile(sorted, 0.99).toFixed(2).padStart(9)}${
        (sorted[sorted.length - 1] ?? NaN).toFixed(2).padStart(9)
      }${String(Math.round(total / SECONDS)).padStart(12)}`,
    );
  }
  const window = Math.min(RSS_WINDOW_S, Math.floor(stats.rssKiB.length / 2));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const last = mean(stats.rssKiB.slice(-window));
  const before = mean(stats.rssKiB.slice(-2 * window, -window));
  const growth = (last - before) / before;
  const flat = window > 0 && growth <= RSS_TOLERANCE;
  console.log(
    `\nRSS: mean of last ${window} s ${(last / 1024).toFixed(1)} MiB vs ${
      (before / 1024).toFixed(1)
    } MiB the ${window} s before (${(growth * 100).toFixed(1)}%): ` +
      (flat ? `flat (within ${RSS_TOLERANCE * 100}%)` : "GREW"),
  );
  console.log(`errors: ${stats.errors}${stats.errors ? " e.g. " + stats.errorSamples[0] : ""}`);
  return flat && stats.errors === 0;
}

async function crashRounds(): Promise<boolean> {
  let ok = true;
  for (const flushPolicy of ["always", "none"] as const) {
    const dataDir = await Deno.makeTempDir({ prefix: `sluice-soak-crash-${flushPolicy}-` });
    const t0 = performance.now();
    try {
      const results = await crashRun(
        {
          flushPolicy,
          killAfterMinMs: 200,
          killAfterMaxMs: 1_500,
          producers: 4,
          topics: 2,
          partitions: 2,
          batchRecords: 5,
          log: (line) => console.log(line),
        },
        SEED,
        CRASH_ROUNDS,
        dataDir,
      );
      const records = results.reduce((n, r) => n + r.ackedRecords, 0);
      const commits = results.reduce((n, r) => n + r.ackedCommits, 0);
      console.log(
        `crash rounds (flush.policy ${flushPolicy}, seed ${SEED}): ${results.length} passed, ` +
          `${records} acknowledged records and ${commits} commits verified in ${
            ((performance.now() - t0) / 1000).toFixed(1)
          } s`,
      );
    } catch (err) {
      ok = false;
      console.error(`crash rounds (flush.policy ${flushPolicy}, seed ${SEED}) FAILED: ${err}`);
    } finally {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  }
  return ok;
}

let ok = true;
if (SECONDS > 0) ok = await soak() && ok;
if (CRASH_ROUNDS > 0) ok = await crashRounds() && ok;
if (ATTACK_SECONDS > 0) ok = await attacks(ATTACK_SECONDS) && ok;
Deno.exit(ok ? 0 : 1);
