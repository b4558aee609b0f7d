/**
 * HTTP throughput and latency suite: the real server (`deno run -A src/main.ts serve --host
 * 127.0.0.1 --port 0 --data-dir <temp>`) started once as a subprocess, driven over loopback with
 * fetch() from this process, and stopped with SIGTERM at the end (its exit code is recorded). Each
 * scenario has one warm-up run and then at least 3 measured runs, reported as median, min and max.
 *
 * The client runs in the bench's own process: client and server share the machine's cores (2 on
 * the reference VM), so every figure is "one box serving itself", not the server's ceiling. The
 * CPU each side used (seconds of CPU per second of wall time, from /proc/<pid>/stat for the server
 * and process.cpuUsage() for the bench) is recorded next to each figure to show who was busy.
 *
 * - `produce-batch`: POST /v1/topics/{t}/partitions/{p}/batches of one pre-encoded RecordBatch v2
 *   of 1,000 records with 100 B UTF-8 values (no key, no headers), the same bytes sent again and
 *   again (the server patches baseOffset in its copy; the CRC does not cover it). 1 client on a
 *   1-partition topic, and 4 clients each on its own partition of a 4-partition topic.
 *   Target: >= 500,000 records/s.
 * - `produce-json`: POST /v1/topics/{t}/records with 1,000 records of 100-character string values
 *   per request (the body serialized once, before timing), 1 and 4 clients, no keys (sticky
 *   partitioner). Target: >= 100,000 records/s.
 * - `produce-vs-sink`: the produce-batch load (1 and 4 clients) sent in alternating runs to Sluice
 *   and to a bare Hono app whose one POST route reads the body and answers 200 (bench/http/
 *   sink_server.ts, on the same runtime): Sluice's bytes/s over the sink's per round (median and
 *   spread) and each server's CPU per request. Goals: ratio >= 0.7, <= 160 us per request.
 * - `fetch`: the 4-partition topic produce-batch/x4 wrote, read with GET .../records?offset=N&
 *   maxBytes=1 MiB and Accept application/vnd.kafka.recordbatch from offset 0 to the high
 *   watermark; records counted from the Sluice-Next-Offset deltas. 1 reader on partition 0,
 *   4 readers on partitions 0-3, 4 readers all on partition 0. Target: >= 1,000,000 records/s.
 *   The same reads as JSON (the response parsed by the client) for comparison, over a prefix.
 * - `latency`: single-record JSON produce: one client sending sequentially, and an open loop
 *   paced at 500 requests/s (latency from each request's send). Target: p99 < 5 ms.
 *
 * Before the fetch and latency groups the bench runs `sync` (untimed): otherwise the kernel's
 * writeback of what the produce groups wrote runs during them and measures the disk instead (it
 * took a core and halved fetch-batch/x4, 3.0M against 8.4M records/s, when the fetch group
 * followed produce-batch directly); produce-vs-sink runs it before every run (paired.ts).
 *
 * Each group's results carry the server's peak RSS during that group (`serverPeakRssBytes`: its
 * VmHWM reset before the group through /proc/<pid>/clear_refs, which sets it to the RSS of that
 * moment: memory an earlier group left resident counts too), so a memory goal can be checked per
 * scenario, not only over the whole suite.
 *
 * Run: deno run -A bench/http_bench.ts [--quick] [--scenario GROUP] [--cpu-prof-dir DIR]
 * (--cpu-prof-dir runs the server under `deno run --cpu-prof` and keeps its .cpuprofile there.)
 */
import { cpus } from "node:os";
import process from "node:process";
import { cliOptions, fixed, MiB, progressLog, textTable, wantsGroup } from "./bench_util.ts";
import {
  formatServerLine,
  peakRssBytes,
  resetPeakRss,
  withServer,
  writeBack,
} from "./bench_server.ts";
import { FULL_PLAN, QUICK_PLAN } from "./http/plan.ts";
import type { HttpBenchOptions, HttpBenchOutcome, HttpBenchResult } from "./http/results.ts";
import { payloads } from "./http/runs.ts";
import { benchProduceBatch, benchProduceJson } from "./http/produce.ts";
import { benchFetch, ensureFetchData } from "./http/fetch.ts";
import { benchLatency } from "./http/latency.ts";
import { benchProduceVsSink } from "./http/paired.ts";

export type { Figure } from "./bench_util.ts";
export {
  HTTP_GROUPS,
  type HttpBenchOptions,
  type HttpBenchOutcome,
  type HttpBenchResult,
  type HttpServerInfo,
} from "./http/results.ts";

/** Runs the HTTP suite against one server; progress goes to `opts.log` (stderr by default). */
export async function runHttpBench(opts: HttpBenchOptions): Promise<HttpBenchOutcome> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const log = progressLog(opts);
  const wanted = (group: string) => wantsGroup(opts, group);
  const note = `loopback: the client (fetch() in the bench's own process) and the server share ` +
    `this machine's ${cpus().length} cores`;
  const p = payloads();
  const results: HttpBenchResult[] = [];
  const server = await withServer({
    label: "http",
    tempPrefix: "sluice-http-bench-",
    note,
    log,
    cpuProfileDir: opts.cpuProfileDir,
  }, async (server) => {
    let since = performance.now();
    let peaksReset = resetPeakRss(server.pid);
    const done = (r: HttpBenchResult[]) => {
      const peak = peaksReset ? peakRssBytes(server.pid) : undefined;
      for (const x of r) {
        if (peak !== undefined) x.serverPeakRssBytes = peak;
        const rate = x.recordsPerSec === undefined
          ? `${fixed(x.requestsPerSec.median, 0)} requests/s`
          : `${fixed(x.recordsPerSec.median, 0)} records/s`;
        const lat = x.latencyMs === undefined ? "" : `, p99 ${fixed(x.latencyMs.p99, 2)} ms`;
        log(`  ${x.name}: ${rate}${lat} (median)`);
      }
      const rss = peak === undefined ? "" : `, server peak RSS ${(peak / MiB).toFixed(0)} MiB`;
      log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with warm-up and set-up${rss})`);
      since = performance.now();
      peaksReset = resetPeakRss(server.pid);
      results.push(...r);
    };
    if (wanted("produce-batch")) {
      log("http: produce raw record batches");
      done(await benchProduceBatch(server, plan, p));
    }
    if (wanted("produce-json")) {
      log("http: produce JSON records");
      done(await benchProduceJson(server, plan, p));
    }
    if (wanted("produce-vs-sink")) {
      log("http: produce raw record batches, paired with a bare Hono POST sink");
      done(await benchProduceVsSink(server, plan, p, log));
    }
    if (wanted("fetch")) {
      log("http: fetch (binary and JSON)");
      await ensureFetchData(server, plan, p);
      writeBack(log);
      done(await benchFetch(server, plan, p));
    }
    if (wanted("latency")) {
      log("http: single-record produce latency");
      writeBack(log);
      done(await benchLatency(server, plan, p));
    }
  });
  return { results, server, note };
}

/** A text table of HTTP results: median [min - max] per figure, then the note and the server. */
export function formatHttpTable(outcome: HttpBenchOutcome): string {
  const rows: string[][] = [[
    "scenario",
    "records/s median [min-max]",
    "MB/s median",
    "requests/s",
    "p50/p99/p99.9 ms",
    "CPU server/client",
    "target",
  ]];
  for (const r of outcome.results) {
    rows.push([
      r.name,
      r.recordsPerSec === undefined
        ? ""
        : `${fixed(r.recordsPerSec.median, 0)} [${fixed(r.recordsPerSec.min, 0)}-${
          fixed(r.recordsPerSec.max, 0)
        }]`,
      r.mbPerSec === undefined ? "" : fixed(r.mbPerSec.median, 1),
      fixed(r.requestsPerSec.median, 0),
      r.latencyMs === undefined
        ? ""
        : `${fixed(r.latencyMs.p50, 2)}/${fixed(r.latencyMs.p99, 2)}/${fixed(r.latencyMs.p999, 2)}`,
      r.cpuCores === undefined
        ? ""
        : `${fixed(r.cpuCores.server, 2)}/${fixed(r.cpuCores.client, 2)}`,
      r.target === undefined ? "" : `${r.target.met ? "MET" : "MISSED"} (${r.target.text})`,
    ]);
  }
  const paired = outcome.results.flatMap((r) => {
    const f = r.paired;
    if (f === undefined) return [];
    const spread = (x: { median: number; min: number; max: number }, digits: number) =>
      `${fixed(x.median, digits)} [${fixed(x.min, digits)}-${fixed(x.max, digits)}]`;
    return [
      `${r.name}: over ${f.baseline}, ${f.rounds} alternating rounds: bytes/s ratio ` +
      `${spread(f.ratio, 2)}; server CPU per request ${spread(f.cpuUsPerRequest, 0)} us ` +
      `(${f.baseline}: ${spread(f.baselineCpuUsPerRequest, 0)} us; ratio ${spread(f.cpuRatio, 2)})`,
    ];
  });
  return `${textTable(rows)}
${paired.map((line) => `${line}\n`).join("")}\
note: ${outcome.note}; CPU is cores busy (CPU s per wall s), client = the whole bench process
${formatServerLine(outcome.server)}`;
}

if (import.meta.main) {
  const outcome = await runHttpBench(cliOptions(process.argv.slice(2), process.env));
  console.log(formatHttpTable(outcome));
  if (outcome.server.exitCode !== 0) process.exitCode = 1;
}
