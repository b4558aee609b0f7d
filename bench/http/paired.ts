/**
 * Paired runs: the same client load sent to several servers in turn, round after round, so each
 * figure has its baseline measured beside it under the same machine load (a shared machine's load
 * moves between rounds, much less within one). In each round every target gets one run; the order
 * rotates from round to round (A B, B A, A B, ...) so neither side always runs on the heels of the
 * other. Per round, each target's bytes/s is divided by the baseline's (the first target): the
 * median and spread of those ratios are the figure, not a ratio of two medians.
 *
 * Before every run the page cache's dirty data is written back (bench_server.ts's writeBack):
 * without it a run's figure depended on how many GB earlier scenarios and rounds had written (the
 * full bench writes several before this one: past the kernel's background threshold every write
 * waits for the disk), not on the server. Each run writes well under the threshold. The VM's
 * fresh-page cost after many GB (docs/bench/http_produce.md) remains: the sink writes nothing.
 *
 * The `produce-vs-sink` scenario (bench/http_bench.ts): binary produce of the 110 KB RecordBatch
 * to Sluice's `.../batches` against the bare Hono POST sink (sink_server.ts), 1 and 4 clients,
 * with the server CPU per request (from /proc/<pid>/stat) of both.
 */
import { type Figure, figure, MB } from "../bench_util.ts";
import { type Server, writeBack } from "../bench_server.ts";
import { type Plan, RECORDS_PER_REQUEST, VALUE_BYTES } from "./plan.ts";
import type { HttpBenchResult } from "./results.ts";
import { createTopic, highWatermarks, produceBatches } from "./requests.ts";
import { type Payloads, requestsPerClientFor, type RunSample, summarize, timed } from "./runs.ts";
import { startSink } from "./sink.ts";

/** The paired figures need at least this many rounds. */
export const PAIRED_ROUNDS_MIN = 3;
/** Sluice's CPU per produce request (110 KB body) the issue asks for. */
export const PRODUCE_CPU_US_PER_REQUEST_GOAL = 160;
/** Sluice's bytes/s over the sink's, paired. */
export const PRODUCE_VS_SINK_RATIO_GOAL = 0.7;

/** A server that takes `POST {url}/v1/topics/{topic}/partitions/{client}/batches`. */
export interface PairedTarget {
  name: string;
  url: string;
  pid: number;
  topic: string;
}

/** What one target did over the measured rounds, beside the baseline (targets[0]). */
export interface PairedFigures {
  /** The baseline's name. */
  baseline: string;
  rounds: number;
  /** Per round: this target's bytes/s over the baseline's. */
  ratio: Figure;
  /** Per round: this target's server CPU per request over the baseline's. */
  cpuRatio: Figure;
  mbPerSec: Figure;
  baselineMbPerSec: Figure;
  /** Server CPU (user + system, /proc/<pid>/stat) per request, in microseconds. */
  cpuUsPerRequest: Figure;
  baselineCpuUsPerRequest: Figure;
}

/**
 * `warmupRounds` then `rounds` rounds over `targets`, each run `clients` clients sending
 * `requestsPerClient` copies of `batch` one after the other, client c to partition c. Returns the
 * measured samples per target, in `targets` order.
 */
export async function alternate(
  targets: readonly PairedTarget[],
  opts: {
    warmupRounds: number;
    rounds: number;
    clients: number;
    requestsPerClient: number;
    batch: Uint8Array<ArrayBuffer>;
    log?: (line: string) => void;
  },
): Promise<RunSample[][]> {
  const samples: RunSample[][] = targets.map(() => []);
  const { clients, requestsPerClient, batch } = opts;
  for (let round = 0; round < opts.warmupRounds + opts.rounds; round++) {
    const measured = round >= opts.warmupRounds;
    for (let k = 0; k < targets.length; k++) {
      const i = (k + round) % targets.length;
      const t = targets[i];
      writeBack();
      const sample = await timed(t.pid, async (signal) => {
        await Promise.all(
          Array.from(
            { length: clients },
            (_, c) => produceBatches(t.url, t.topic, c, batch, requestsPerClient, signal),
          ),
        );
        const requests = clients * requestsPerClient;
        return {
          records: requests * RECORDS_PER_REQUEST,
          bytes: requests * batch.length,
          requests,
        };
      });
      if (measured) samples[i].push(sample);
      opts.log?.(
        `    ${measured ? `round ${round - opts.warmupRounds + 1}` : "warm-up"} ${t.name}: ` +
          `${(sample.bytes / MB / sample.seconds).toFixed(0)} MB/s, ` +
          `${cpuUs(sample)?.toFixed(0) ?? "?"} us CPU/request`,
      );
    }
  }
  return samples;
}

function cpuUs(s: RunSample): number | undefined {
  return s.serverCpuSeconds === undefined ? undefined : (s.serverCpuSeconds / s.requests) * 1e6;
}

function cpuFigure(samples: readonly RunSample[]): Figure {
  return figure(samples.map((s) => cpuUs(s) ?? NaN));
}

/** `samples` (one target's) beside `base` (the baseline's), round by round. */
export function pairedFigures(
  baseline: string,
  base: readonly RunSample[],
  samples: readonly RunSample[],
): PairedFigures {
  const rate = (s: RunSample) => s.bytes / s.seconds;
  return {
    baseline,
    rounds: samples.length,
    ratio: figure(samples.map((s, i) => rate(s) / rate(base[i]))),
    cpuRatio: figure(samples.map((s, i) => (cpuUs(s) ?? NaN) / (cpuUs(base[i]) ?? NaN))),
    mbPerSec: figure(samples.map((s) => rate(s) / MB)),
    baselineMbPerSec: figure(base.map((s) => rate(s) / MB)),
    cpuUsPerRequest: cpuFigure(samples),
    baselineCpuUsPerRequest: cpuFigure(base),
  };
}

/** Sluice against the bare Hono POST sink, 1 and 4 clients (1 with --quick; see the top). */
export async function benchProduceVsSink(
  server: Server,
  plan: Plan,
  p: Payloads,
  log?: (line: string) => void,
): Promise<HttpBenchResult[]> {
  const sink = await startSink();
  const results: HttpBenchResult[] = [];
  const rounds = Math.max(PAIRED_ROUNDS_MIN, plan.measuredRuns);
  try {
    for (const clients of plan.pairedClients) {
      const topic = `bench-vs-sink-x${clients}`;
      await createTopic(server.url, topic, clients);
      const requestsPerClient = requestsPerClientFor(plan.batchRecordsPerRun, clients);
      const targets: PairedTarget[] = [
        { name: "sink", url: sink.url, pid: sink.pid, topic },
        { name: "sluice", url: server.url, pid: server.pid, topic },
      ];
      const [base, samples] = await alternate(targets, {
        warmupRounds: plan.warmupRuns,
        rounds,
        clients,
        requestsPerClient,
        batch: p.batch,
        log,
      });
      const written = (plan.warmupRuns + rounds) * requestsPerClient * RECORDS_PER_REQUEST;
      const hw = await highWatermarks(server.url, topic);
      if (hw.some((h) => h !== written)) {
        throw new Error(`${topic}: high watermarks ${hw.join(",")}, want ${written} each`);
      }
      const paired = pairedFigures("hono-post-sink", base, samples);
      const met = paired.ratio.median >= PRODUCE_VS_SINK_RATIO_GOAL &&
        paired.cpuUsPerRequest.median <= PRODUCE_CPU_US_PER_REQUEST_GOAL;
      results.push({
        suite: "http",
        name: `produce-vs-sink/x${clients}`,
        group: "produce-vs-sink",
        description: `${clients} client(s) POSTing the RecordBatch to Sluice and to a bare Hono ` +
          `POST sink in alternating runs; the ratio is per round`,
        params: {
          clients,
          partitions: clients,
          recordsPerRequest: RECORDS_PER_REQUEST,
          recordValueBytes: VALUE_BYTES,
          requestBytes: p.batch.length,
          requestsPerClient,
          recordsPerRun: requestsPerClient * clients * RECORDS_PER_REQUEST,
        },
        ...summarize(samples, { ...plan, measuredRuns: rounds }),
        paired,
        target: {
          text: `paired bytes/s ratio >= ${PRODUCE_VS_SINK_RATIO_GOAL} and server CPU <= ` +
            `${PRODUCE_CPU_US_PER_REQUEST_GOAL} us/request`,
          met,
        },
      });
    }
  } finally {
    await sink.stop();
  }
  return results;
}
