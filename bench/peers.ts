/**
 * Peers: Redis Streams and NATS JetStream measured on this machine, in the same run, with the
 * workload shape of Sluice's `http.produce.<size>.batch` scenario: one client on one log, 1,000
 * records sent together, the next 1,000 only once every one of them is acknowledged.
 *
 * - `redis-streams`: `redis-server --bind 127.0.0.1 --port P --dir D --appendonly yes
 *   --appendfsync everysec --save ""` (AOF with one fsync a second, like Sluice's default flush
 *   policy `interval` at 1 s; no RDB snapshots). Each record is one `XADD <key> * v <value>`;
 *   1,000 of them go out in one socket write (a pipeline) and the run waits for the 1,000 replies.
 * - `nats-jetstream`: `nats-server -js -a 127.0.0.1 -p P -sd D` with one file-storage stream
 *   (1 replica, limits retention). Each record is one `PUB <subject> <ack inbox>`; 1,000 of them
 *   go out in one write (a window of 1,000 outstanding publishes) and the run waits for the 1,000
 *   PubAcks. nats-server 2.9 syncs its file store in the background, never per message.
 *
 * Both clients are written here over node:net (RESP2 and the NATS text protocol, a few dozen lines
 * each; no npm package): the 1,000 commands of a batch are encoded once, before timing, as Sluice's
 * HTTP bench encodes its RecordBatch once, so the client costs the same little on every side. The
 * values are 1,000 distinct incompressible byte strings from bench_util's randomBytes (seed 42).
 *
 * Each peer is started on a free loopback port with its own temporary directory, used for every
 * record size, then stopped (SIGTERM, SIGKILL after STOP_TIMEOUT_MS) and its directory deleted. A
 * peer whose binary is not on PATH is skipped (scripts/install-peers.sh installs both); one that
 * fails to start or answer throws after the clean-up. After the runs the log's length is checked
 * against the records sent.
 *
 * Figures: warm-up run(s), then >= 3 measured runs; the median of the measured runs. MB/s counts
 * record values only (10^6 B), not protocol framing (params.wireBytesPerRecord gives that). The
 * client runs in this process and shares the machine's cores with the server (2 on the reference
 * VM); params.serverCpuCores is the server's CPU seconds per wall second (median).
 *
 * This module runs the workload and makes the PeerResult rows; the clients are
 * bench/peers/redis.ts and bench/peers/nats.ts (on bench/peers/client.ts), the servers and their
 * versions bench/peers/servers.ts.
 *
 * Run: deno run -A bench/peers.ts [--quick]
 */
import process from "node:process";
import { fixed, MB, median, randomBytes, sizeLabel, textTable, withTimeout } from "./bench_util.ts";
import { BATCH_RECORDS, type Producer } from "./peers/client.ts";
import {
  PEERS,
  peersAvailable,
  type PeerServer,
  type PeerSpec,
  processCpuSeconds,
  startServer,
  STOP_TIMEOUT_MS,
  versionOf,
} from "./peers/servers.ts";
import type { PeerResult, SuiteOptions } from "./types.ts";

export { PEER_NAMES, type PeerName, peersAvailable } from "./peers/servers.ts";

const VALUES_SEED = 42;
const RECORD_SIZES_DEFAULT = [100, 1024];

/** A run (at most 200,000 records) is aborted after this: a hung peer fails, never stalls. */
const RUN_TIMEOUT_MS = 60_000;

interface Plan {
  warmupRuns: number;
  measuredRuns: number;
  /** Records per run: recordsMax, or fewer so that a run writes at most valueBytesMax. */
  recordsMax: number;
  valueBytesMax: number;
}

/**
 * Full: 200,000 x 100 B and 48,000 x 1 KiB a run, 1 + 5 runs each; quick: 40,000 and 9,000,
 * 1 + 3 runs. On the reference VM (2 cores) that is about 20 s and 4 s for both peers together.
 */
const FULL_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 5,
  recordsMax: 200_000,
  valueBytesMax: 50e6,
};
const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  measuredRuns: 3,
  recordsMax: 100_000,
  valueBytesMax: 20e6,
};

function recordsPerRun(plan: Plan, recordSizeBytes: number): number {
  const records = Math.min(plan.recordsMax, Math.floor(plan.valueBytesMax / recordSizeBytes));
  return Math.max(BATCH_RECORDS, Math.floor(records / BATCH_RECORDS) * BATCH_RECORDS);
}

/** BATCH_RECORDS distinct values of `bytes` bytes each, the same on every run and peer. */
function recordValues(bytes: number): Uint8Array[] {
  const all = randomBytes(BATCH_RECORDS * bytes, VALUES_SEED);
  return Array.from({ length: BATCH_RECORDS }, (_, i) => all.subarray(i * bytes, (i + 1) * bytes));
}

async function produce(producer: Producer, records: number): Promise<void> {
  for (let sent = 0; sent < records;) {
    const count = Math.min(BATCH_RECORDS, records - sent);
    await producer.sendBatch(count);
    sent += count;
  }
}

async function benchSize(
  spec: PeerSpec,
  version: string,
  server: PeerServer,
  recordSizeBytes: number,
  records: number,
  plan: Plan,
  opts: SuiteOptions,
): Promise<PeerResult> {
  const label = sizeLabel(recordSizeBytes);
  const progressName = `peer.${spec.name}.produce.${label}`;
  const producer = await server.client.open(label, recordValues(recordSizeBytes));
  const rates: number[] = [];
  const cpuCores: number[] = [];
  const runs = plan.warmupRuns + plan.measuredRuns;
  for (let run = 0; run < runs; run++) {
    const cpu0 = processCpuSeconds(server.pid);
    const t0 = performance.now();
    await withTimeout(
      produce(producer, records),
      RUN_TIMEOUT_MS,
      `${progressName} run ${run}`,
      () => server.client.close(),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = processCpuSeconds(server.pid);
    if (run < plan.warmupRuns) continue;
    rates.push(records / seconds);
    if (cpu0 !== undefined && cpu1 !== undefined) cpuCores.push((cpu1 - cpu0) / seconds);
    opts.progress(progressName, run - plan.warmupRuns + 1, plan.measuredRuns, records / seconds);
  }
  const stored = await producer.stored();
  if (stored !== runs * records) {
    throw new Error(`${progressName}: the peer holds ${stored} records, ${runs * records} sent`);
  }
  const recordsPerSec = median(rates);
  return {
    name: spec.name,
    version,
    scenario: `http.produce.${label}.batch`,
    recordsPerSec,
    mbPerSec: recordsPerSec * recordSizeBytes / MB,
    params: {
      ...spec.settings,
      clients: 1,
      records,
      recordValueBytes: recordSizeBytes,
      wireBytesPerRecord: producer.wireBytesPerRecord,
      valuesSeed: VALUES_SEED,
      warmupRuns: plan.warmupRuns,
      measuredRuns: plan.measuredRuns,
      recordsPerSecMin: Math.round(Math.min(...rates)),
      recordsPerSecMax: Math.round(Math.max(...rates)),
      ...(cpuCores.length === rates.length
        ? { serverCpuCores: Math.round(median(cpuCores) * 100) / 100 }
        : {}),
    },
  };
}

/**
 * Measures each installed peer (see the module doc) for each record size (default 100 B and
 * 1 KiB); peers whose binary is not on PATH give no result. `peers` limits the peers run and
 * `records` fixes the records per run (rounded to whole batches when above BATCH_RECORDS), both
 * for tests; by default the plan's counts (smaller under `quick`).
 */
export async function runPeerBench(
  opts: SuiteOptions & { recordSizes?: number[]; peers?: readonly string[]; records?: number },
): Promise<PeerResult[]> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const sizes = opts.recordSizes ?? RECORD_SIZES_DEFAULT;
  for (const size of sizes) {
    if (!(Number.isInteger(size) && size > 0)) throw new Error(`record size ${size}: not > 0`);
  }
  if (opts.records !== undefined && !(Number.isInteger(opts.records) && opts.records > 0)) {
    throw new Error(`records ${opts.records}: not a positive integer`);
  }
  const results: PeerResult[] = [];
  for (const spec of PEERS) {
    if (opts.peers !== undefined && !opts.peers.includes(spec.name)) continue;
    const version = versionOf(spec);
    if (version === null) continue;
    const server = await startServer(spec);
    try {
      for (const size of sizes) {
        const records = opts.records ?? recordsPerRun(plan, size);
        results.push(await benchSize(spec, version, server, size, records, plan, opts));
      }
    } finally {
      server.client.close();
      const exit = await server.stop();
      if (exit.killed) console.error(`${spec.name}: killed after ${STOP_TIMEOUT_MS} ms`);
    }
  }
  return results;
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick") || process.env.SLUICE_BENCH_QUICK === "1";
  for (const p of peersAvailable()) {
    console.error(`${p.name}: ${p.version === null ? "not installed, skipped" : p.version}`);
  }
  const t0 = performance.now();
  const results = await runPeerBench({
    quick,
    progress: (scenario, run, of, rate) =>
      console.error(`  ${scenario} run ${run}/${of}: ${fixed(rate ?? 0, 0)} records/s`),
  });
  const rows = [["peer", "version", "compared with", "records/s", "MB/s", "min-max", "server CPU"]];
  for (const r of results) {
    rows.push([
      r.name,
      r.version,
      r.scenario,
      fixed(r.recordsPerSec, 0),
      fixed(r.mbPerSec, 1),
      `${fixed(Number(r.params.recordsPerSecMin), 0)}-${
        fixed(Number(r.params.recordsPerSecMax), 0)
      }`,
      r.params.serverCpuCores === undefined ? "" : String(r.params.serverCpuCores),
    ]);
  }
  console.log(textTable(rows));
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s in all, quick: ${quick})`);
  console.log(JSON.stringify(results, null, 2));
}
