/**
 * The older suites' results (storage, http, groups) as report entries: `file.*` baselines,
 * `embedded.*` and `http.*` scenarios. Those suites keep only the median, min and max of their
 * runs; CONVERSION_NOTES (in details.notes) says how they fill the report's fields.
 */
import { type Figure, MB, sizeLabel } from "../bench_util.ts";
import type { GroupBenchOutcome } from "../group_bench.ts";
import type { HttpBenchOutcome, HttpBenchResult } from "../http_bench.ts";
import type { StorageBenchResult } from "../storage_bench.ts";
import type { BaselineResult, RunFigure, ScenarioResult } from "../types.ts";

/**
 * The fastest, median and slowest measured runs, fastest first: all the per-run figures the
 * older suites keep. With an even run count the median is not one run and is left out.
 */
function runsOf(
  seconds: Figure,
  recordsPerSec: Figure,
  mbPerSec: Figure,
  measuredRuns: number,
): RunFigure[] {
  const fastest = {
    recordsPerSec: recordsPerSec.max,
    mbPerSec: mbPerSec.max,
    seconds: seconds.min,
  };
  const median = {
    recordsPerSec: recordsPerSec.median,
    mbPerSec: mbPerSec.median,
    seconds: seconds.median,
  };
  const slowest = {
    recordsPerSec: recordsPerSec.min,
    mbPerSec: mbPerSec.min,
    seconds: seconds.max,
  };
  if (measuredRuns <= 1) return [median];
  if (measuredRuns === 2) return [fastest, slowest];
  return measuredRuns % 2 === 1 ? [fastest, median, slowest] : [fastest, slowest];
}

/** The same list for a baseline: MB/s of its fastest, median and slowest runs. */
function baselineRuns(mbPerSec: Figure, measuredRuns: number): number[] {
  if (measuredRuns <= 1) return [mbPerSec.median];
  if (measuredRuns % 2 === 0) return [mbPerSec.max, mbPerSec.min];
  return [mbPerSec.max, mbPerSec.median, mbPerSec.min];
}

export const CONVERSION_NOTES = [
  "Entries converted from the storage, http and groups suites list in `runs` the fastest, the " +
  "median and the slowest measured run (those suites keep no other per-run figures); " +
  "params.measuredRuns is the count.",
  "MB/s is decimal (10^6 bytes/s) of the bytes named by params.mbBasis.",
  "http.group-rebalance.* measure a time, not a rate: records/s and MB/s are 0; p50Ms and p99Ms " +
  "are the p50 and the max (the nearest-rank p99 of at most 100 repetitions) of the time until " +
  "every remaining member's heartbeat reported the new generation.",
  "index, crc32c and record are µs-scale micro benches, not scenarios: their figures stay in " +
  "details.",
];

function num(v: string | number | boolean | undefined): number {
  return typeof v === "number" ? v : 0;
}

/** The storage suite's raw file figures as the `file.*` baselines. */
export function storageBaselines(results: readonly StorageBenchResult[]): BaselineResult[] {
  const out: BaselineResult[] = [];
  const names: Record<string, string> = {
    "write-raw": "file.write",
    "write-raw-fsync": "file.write-fsync",
    "read-raw": "file.read-cached",
  };
  for (const r of results) {
    const [group, size] = r.name.split("/");
    const base = names[group];
    if (base === undefined || r.mbPerSec === undefined) continue;
    out.push({
      name: `${base}.${size}`,
      mbPerSec: r.mbPerSec.median,
      runs: baselineRuns(r.mbPerSec, r.measuredRuns),
    });
  }
  return out;
}

/** The storage suite's PartitionLog figures as `embedded.*` scenarios. */
export function storageScenarios(results: readonly StorageBenchResult[]): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const r of results) {
    const [group, variant] = r.name.split("/");
    let name: string;
    let limit: string | null = null;
    const size = num(r.params.recordValueBytes);
    const label = () => sizeLabel(size);
    let p50Ms: number | null = null;
    let p99Ms: number | null = null;
    let records = num(r.params.recordsPerRun);
    let recordsPerSec = r.recordsPerSec;
    let mbBasis = "log bytes (RecordBatch v2, 1,000 records a batch)";
    switch (group) {
      case "append":
        name = `embedded.produce.${label()}.none`;
        limit = `file.write.${label()}`;
        break;
      case "append+close":
        name = `embedded.produce.${label()}.none.with-close`;
        limit = `file.write-fsync.${label()}`;
        break;
      case "read":
      case "read-nocrc":
        // The embedded suite's consume.<size>.batch is the read without the CRC check (the default,
        // verifyCrcOnRead false): it wins when both ran. With the check: batch-crc.
        name = `embedded.consume.${label()}.${group === "read" ? "batch-crc" : "batch"}`;
        limit = `file.read-cached.${label()}`;
        break;
      case "always":
        // Single-record appends, as embedded_bench names them; x1 has no suffix.
        name = `embedded.produce.${label()}.none.1-record-batches.flush-always${
          variant === "x1" ? "" : `.${variant}`
        }`;
        records = num(r.params.appendsPerRun);
        recordsPerSec = r.appendsPerSec;
        mbBasis = "log bytes (one-record batches)";
        p50Ms = r.latencyUs === undefined ? null : r.latencyUs.p50 / 1000;
        p99Ms = r.latencyUs === undefined ? null : r.latencyUs.p99 / 1000;
        break;
      default:
        continue; // the raw baselines
    }
    if (recordsPerSec === undefined || r.mbPerSec === undefined) continue;
    out.push({
      name,
      recordSizeBytes: size,
      records,
      recordsPerSec: recordsPerSec.median,
      mbPerSec: r.mbPerSec.median,
      ratioToLimit: null,
      limit,
      p50Ms,
      p99Ms,
      runs: runsOf(r.seconds, recordsPerSec, r.mbPerSec, r.measuredRuns),
      params: {
        ...r.params,
        suite: "storage",
        source: r.name,
        measuredRuns: r.measuredRuns,
        warmupRuns: r.warmupRuns,
        mbBasis,
      },
    });
  }
  return out;
}

/** http suite name -> the scenario name's variant part and what its MB/s counts. */
const HTTP_NAMES: Record<string, { name: string; limit?: string; mbBasis: string }> = {
  "produce-batch/x1": {
    name: "produce.100B.batch",
    limit: "file.write.100B",
    mbBasis: "request bytes (RecordBatch v2)",
  },
  "produce-batch/x4": {
    name: "produce.100B.batch.x4",
    limit: "file.write.100B",
    mbBasis: "request bytes (RecordBatch v2)",
  },
  "produce-vs-sink/x1": {
    name: "produce.100B.batch.vs-sink",
    limit: "http.hono-post-sink.100B",
    mbBasis: "request bytes (RecordBatch v2)",
  },
  "produce-vs-sink/x4": {
    name: "produce.100B.batch.vs-sink.x4",
    limit: "http.hono-post-sink.100B.x4",
    mbBasis: "request bytes (RecordBatch v2)",
  },
  "produce-json/x1": { name: "produce.100B.json", mbBasis: "request bytes (JSON)" },
  "produce-json/x4": { name: "produce.100B.json.x4", mbBasis: "request bytes (JSON)" },
  "fetch-batch/x1": {
    name: "fetch.100B.batch",
    limit: "file.read-cached.100B",
    mbBasis: "response bytes (RecordBatch v2)",
  },
  "fetch-batch/x4": {
    name: "fetch.100B.batch.x4",
    limit: "file.read-cached.100B",
    mbBasis: "response bytes (RecordBatch v2)",
  },
  "fetch-batch/x4-same": {
    name: "fetch.100B.batch.x4-same-partition",
    limit: "file.read-cached.100B",
    mbBasis: "response bytes (RecordBatch v2)",
  },
  "fetch-json/x1": { name: "fetch.100B.json", mbBasis: "response characters (JSON)" },
  "fetch-json/x4": { name: "fetch.100B.json.x4", mbBasis: "response characters (JSON)" },
  "latency/sequential": {
    name: "produce-latency.100B.sequential",
    mbBasis: "request bytes (JSON, one record)",
  },
};

function httpScenarioName(r: HttpBenchResult): { name: string; limit?: string; mbBasis: string } {
  const known = HTTP_NAMES[r.name];
  if (known !== undefined) return known;
  const [group, variant] = r.name.split("/");
  if (group === "latency") {
    // latency/500rps: the open loop at a fixed request rate
    return {
      name: `produce-latency.100B.rate-${variant}`,
      mbBasis: "request bytes (JSON, one record)",
    };
  }
  return { name: `${group}.100B.${variant ?? "x1"}`, mbBasis: "request or response bytes" };
}

/** The http suite's figures as `http.*` scenarios. */
export function httpScenarios(outcome: HttpBenchOutcome): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const r of outcome.results) {
    const { name, limit, mbBasis } = httpScenarioName(r);
    const perRequest = num(r.params.recordsPerRequest) || 1;
    // The latency rows keep requests/s only: one record a request.
    const recordsPerSec: Figure = r.recordsPerSec ?? {
      median: r.requestsPerSec.median * perRequest,
      min: r.requestsPerSec.min * perRequest,
      max: r.requestsPerSec.max * perRequest,
    };
    const requestBytes = num(r.params.requestBytes);
    const mbPerSec: Figure = r.mbPerSec ?? {
      median: (r.requestsPerSec.median * requestBytes) / MB,
      min: (r.requestsPerSec.min * requestBytes) / MB,
      max: (r.requestsPerSec.max * requestBytes) / MB,
    };
    out.push({
      name: `http.${name}`,
      recordSizeBytes: num(r.params.recordValueBytes) || 100,
      records: num(r.params.recordsPerRun) || num(r.params.requestsPerRun) * perRequest,
      recordsPerSec: recordsPerSec.median,
      mbPerSec: mbPerSec.median,
      // Paired runs: the median of the per-round ratios, not a ratio of medians.
      ratioToLimit: r.paired?.ratio.median ?? null,
      limit: limit ?? null,
      p50Ms: r.latencyMs?.p50 ?? null,
      p99Ms: r.latencyMs?.p99 ?? null,
      p999Ms: r.latencyMs?.p999 ?? null,
      runs: runsOf(r.seconds, recordsPerSec, mbPerSec, r.measuredRuns),
      params: {
        ...r.params,
        suite: "http",
        source: r.name,
        measuredRuns: r.measuredRuns,
        warmupRuns: r.warmupRuns,
        mbBasis,
        transport: "HTTP/1.1 over loopback, client and server on the same cores",
        ...(r.serverPeakRssBytes === undefined ? {} : {
          serverPeakRssMiB: Math.round(r.serverPeakRssBytes / 2 ** 20),
        }),
        ...(r.paired === undefined ? {} : {
          pairedRounds: r.paired.rounds,
          pairedRatioMin: r.paired.ratio.min,
          pairedRatioMax: r.paired.ratio.max,
          serverCpuUsPerRequest: r.paired.cpuUsPerRequest.median,
          serverCpuUsPerRequestMin: r.paired.cpuUsPerRequest.min,
          serverCpuUsPerRequestMax: r.paired.cpuUsPerRequest.max,
          baselineCpuUsPerRequest: r.paired.baselineCpuUsPerRequest.median,
        }),
      },
    });
  }
  return out;
}

/** The baselines the http suite measured beside its paired scenarios (the bare Hono sink). */
export function httpBaselines(outcome: HttpBenchOutcome | undefined): BaselineResult[] {
  const out: BaselineResult[] = [];
  for (const r of outcome?.results ?? []) {
    const limit = HTTP_NAMES[r.name]?.limit;
    if (r.paired === undefined || limit === undefined) continue;
    out.push({
      name: limit,
      mbPerSec: r.paired.baselineMbPerSec.median,
      runs: baselineRuns(r.paired.baselineMbPerSec, r.paired.rounds),
    });
  }
  return out;
}

/** The groups suite's figures as `http.group-*` scenarios. */
export function groupScenarios(outcome: GroupBenchOutcome): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const r of outcome.results) {
    const [, variant] = r.name.split("/");
    const common = {
      suite: "groups",
      source: r.name,
      measuredRuns: r.measuredRuns,
      warmupRuns: r.warmupRuns,
    };
    if (r.group === "consume") {
      const size = num(r.params.recordValueBytes) || 100;
      const mb = (rate: number) => (rate * size) / MB;
      const mbPerSec = {
        median: mb(r.recordsPerSec.median),
        min: mb(r.recordsPerSec.min),
        max: mb(r.recordsPerSec.max),
      };
      out.push({
        name: `http.group-consume.${sizeLabel(size)}.${variant}`,
        recordSizeBytes: size,
        records: num(r.params.recordsPerRun),
        recordsPerSec: r.recordsPerSec.median,
        mbPerSec: mbPerSec.median,
        ratioToLimit: null,
        limit: null,
        p50Ms: r.fetchMs.p50,
        p99Ms: r.fetchMs.p99,
        runs: runsOf(r.seconds, r.recordsPerSec, mbPerSec, r.measuredRuns),
        params: {
          ...r.params,
          ...common,
          mbBasis: "record values",
          latency: "p50Ms/p99Ms: one member fetch round trip",
        },
      });
    } else {
      out.push({
        name: `http.group-rebalance.100B.${variant}`,
        recordSizeBytes: 100,
        records: 0,
        recordsPerSec: 0,
        mbPerSec: 0,
        ratioToLimit: null,
        limit: null,
        p50Ms: r.heartbeatMs.p50,
        p99Ms: r.heartbeatMs.max,
        runs: [],
        params: {
          ...r.params,
          ...common,
          mbBasis: "none: a time, not a rate",
          latency: "from the leaving member's DELETE until every other member's heartbeat " +
            "reported the new generation; p99Ms is the max",
          fetchLoopMsP50: r.fetchLoopMs.p50,
          deleteServerMsP50: r.deleteServerMs.p50,
        },
      });
    }
  }
  return out;
}
