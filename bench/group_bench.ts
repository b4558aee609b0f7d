/**
 * Consumer group suite: the real server (`deno run -A src/main.ts serve --host 127.0.0.1 --port 0
 * --data-dir <temp>`) started once as a subprocess, driven over loopback with fetch() from this
 * process (the members are concurrent loops in it), and stopped with SIGTERM at the end (its exit
 * code is recorded). The server handling is bench_server.ts's, shared with http_bench.ts.
 *
 * - `consume`: a 4-partition topic pre-filled with raw record batches (1,000 records of 100 B
 *   values each; 400,000 records, 200,000 under --quick), read through a fresh group per run by 1,
 *   2 and 4 members. Each member loops GET /v1/groups/{g}/members/{m}/records?maxBytes=1 MiB&
 *   maxWaitMs=0, then POST /v1/groups/{g}/offsets with the next offset of every partition the
 *   fetch returned, until its partitions are read to their high watermarks. Every member joins
 *   (and learns the final generation from a heartbeat) before the clock starts, so no rebalance
 *   happens during a run. A run fails unless the group saw every record exactly once: no
 *   (partition, offset) twice, the count equal to the records produced, and the committed offsets
 *   equal to the high watermarks. One warm-up run, then at least 3 measured; median, min, max.
 * - `rebalance`: 4 members join a fresh group; one stops its loop and DELETEs itself. Measured
 *   from sending the DELETE: until each of the 3 others, heartbeating back to back from that
 *   moment, is told the new generation (the figure), until each one's own fetch loop sees it, and
 *   the DELETE's round trip. The server-side time of the DELETE comes from /metrics (the duration
 *   histogram's sum for that route, read before and after). Two variants: `leave-consuming`, the
 *   members reading the topic from its start (the same loop, maxWaitMs=100) and each past 2
 *   fetches; `leave-caught-up`, the members at the end of the topic (autoOffsetReset latest), each
 *   in a 10 s long poll that only the rebalance ends. At least 10 repetitions after warm-up each;
 *   p50 and max.
 *
 * The client shares the machine's cores with the server (2 on the reference VM); the CPU each side
 * used is recorded next to each figure, as in http_bench.ts.
 *
 * Run: deno run -A bench/group_bench.ts [--quick] [--scenario GROUP] [--cpu-prof-dir DIR]
 * (--cpu-prof-dir runs the server under `deno run --cpu-prof` and keeps its .cpuprofile there.)
 */
import { cpus } from "node:os";
import process from "node:process";
import { cliOptions, fixed, progressLog, textTable, wantsGroup } from "./bench_util.ts";
import { formatServerLine, withServer } from "./bench_server.ts";
import { FULL_PLAN, PARTITIONS, QUICK_PLAN, TOPIC, VALUE_BYTES } from "./groups/plan.ts";
import type {
  GroupBenchOptions,
  GroupBenchOutcome,
  GroupBenchResult,
  GroupConsumeResult,
  GroupRebalanceResult,
} from "./groups/results.ts";
import { fill } from "./groups/requests.ts";
import { benchConsume } from "./groups/consume.ts";
import { benchRebalance } from "./groups/rebalance.ts";

export type { Figure } from "./bench_util.ts";
export {
  GROUP_GROUPS,
  type GroupBenchOptions,
  type GroupBenchOutcome,
  type GroupBenchResult,
  type GroupConsumeResult,
  type GroupRebalanceResult,
  type GroupServerInfo,
} from "./groups/results.ts";

/** Runs the group suite against one server; progress goes to `opts.log` (stderr by default). */
export async function runGroupBench(opts: GroupBenchOptions): Promise<GroupBenchOutcome> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const log = progressLog(opts);
  const wanted = (group: string) => wantsGroup(opts, group);
  const note = `loopback: the members (fetch() in the bench's own process) and the server share ` +
    `this machine's ${cpus().length} cores`;
  const results: GroupBenchResult[] = [];
  let recordsProduced = 0;
  let runs = 0;
  const runId = () => runs++;
  const server = await withServer({
    label: "groups",
    tempPrefix: "sluice-group-bench-",
    note,
    log,
    cpuProfileDir: opts.cpuProfileDir,
  }, async (server) => {
    let since = performance.now();
    const hw = await fill(server.url, TOPIC, plan.records / PARTITIONS);
    recordsProduced = hw.reduce((a, b) => a + b, 0);
    log(
      `groups: ${TOPIC} filled with ${recordsProduced} records by raw batch produce in ${
        ((performance.now() - since) / 1000).toFixed(1)
      } s (untimed)`,
    );
    since = performance.now();
    if (wanted("consume")) {
      log("groups: consume (fetch + commit until every record is read once)");
      for (const r of await benchConsume(server, plan, hw, runId)) {
        log(`  ${r.name}: ${fixed(r.recordsPerSec.median, 0)} records/s (median)`);
        results.push(r);
      }
      log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with warm-up and set-up)`);
      since = performance.now();
    }
    if (wanted("rebalance")) {
      log("groups: rebalance after a leave");
      for (const r of await benchRebalance(server, plan, runId)) {
        log(
          `  ${r.name}: heartbeats see it in ${fixed(r.heartbeatMs.p50, 2)} ms p50, ` +
            `${fixed(r.heartbeatMs.max, 2)} ms max; DELETE ${fixed(r.deleteServerMs.p50, 2)} ms ` +
            "p50 in the server",
        );
        results.push(r);
      }
      log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with set-up)`);
    }
  });
  return { results, server, recordsProduced, note };
}

/** Text tables of the group results, then the note and the server. */
export function formatGroupTable(outcome: GroupBenchOutcome): string {
  const parts: string[] = [];
  const consume = outcome.results.filter((r): r is GroupConsumeResult => r.group === "consume");
  if (consume.length > 0) {
    const rows = [[
      "scenario",
      "records/s median [min-max]",
      "fetches/s",
      "records/fetch",
      "fetch p50/p99 ms",
      "commit p50/p99 ms",
      "CPU server/client",
    ]];
    for (const r of consume) {
      rows.push([
        r.name,
        `${fixed(r.recordsPerSec.median, 0)} [${fixed(r.recordsPerSec.min, 0)}-${
          fixed(r.recordsPerSec.max, 0)
        }]`,
        fixed(r.fetchesPerSec.median, 0),
        String(r.params.recordsPerFetch),
        `${fixed(r.fetchMs.p50, 2)}/${fixed(r.fetchMs.p99, 2)}`,
        `${fixed(r.commitMs.p50, 2)}/${fixed(r.commitMs.p99, 2)}`,
        r.cpuCores === undefined
          ? ""
          : `${fixed(r.cpuCores.server, 2)}/${fixed(r.cpuCores.client, 2)}`,
      ]);
    }
    parts.push(textTable(rows));
  }
  const rebalance = outcome.results.filter((r): r is GroupRebalanceResult =>
    r.group === "rebalance"
  );
  if (rebalance.length > 0) {
    const rows = [[
      "scenario",
      "runs",
      "heartbeats see it p50/max ms",
      "fetch loops see it p50/max ms",
      "DELETE round trip p50/max ms",
      "DELETE in server p50/max ms",
    ]];
    const pm = (f: { p50: number; max: number }) => `${fixed(f.p50, 2)}/${fixed(f.max, 2)}`;
    for (const r of rebalance) {
      rows.push([
        r.name,
        String(r.measuredRuns),
        pm(r.heartbeatMs),
        pm(r.fetchLoopMs),
        pm(r.deleteMs),
        pm(r.deleteServerMs),
      ]);
    }
    parts.push(textTable(rows));
  }
  parts.push(
    `note: ${outcome.note}; ${outcome.recordsProduced} records of ${VALUE_BYTES} B in ` +
      `${PARTITIONS} partitions; times measured from sending the DELETE; CPU is cores busy\n` +
      formatServerLine(outcome.server),
  );
  return parts.join("\n\n");
}

if (import.meta.main) {
  const outcome = await runGroupBench(cliOptions(process.argv.slice(2), process.env));
  console.log(formatGroupTable(outcome));
  if (outcome.server.exitCode !== 0) process.exitCode = 1;
}
