/**
 * The embedded suite's produce scenarios: PartitionLog.append of pre-encoded RecordBatch v2
 * batches, each run set beside the write limit of bench/embedded/baselines.ts measured just before.
 *
 * Workload: pre-encoded batches (no key, no headers), built before timing and appended again and
 * again (append patches baseOffset in place; the CRC does not cover it), so the figures measure the
 * log, not the encoder; `params.encodeUsPerBatch` says what encoding costs. 1,000 records per batch
 * (100 for 10 KiB records, to stay under max.message.bytes 1 MiB + 12). Payloads: seeded random
 * bytes (incompressible) for compression none, seeded English-like text for lz4 (`params.payload`).
 * `mbPerSec` counts the batch bytes stored (after compression). `recordSizeBytes` is the record
 * value size. "x4" is 4 producers: 4 async loops, each appending to its own PartitionLog
 * (partitions p0..p3 of one data dir), on the one event loop.
 *
 * The matrix (3 sizes x {1, 4} producers x {none, lz4} x flush {none, interval, always}) does not
 * fit the time budget (--quick < 15 s, full < 90 s on 2 cores), so this subset runs:
 *   - embedded.produce.{100B,1KiB,10KiB}.none           x1, flush none (1KiB: the headline)
 *   - embedded.produce.1KiB.lz4                          x1, flush none
 *   - embedded.produce.{100B,1KiB}.none.x4               flush none
 *   - embedded.produce.1KiB.none.flush-interval[.x4]     flushMs 1000
 *   - embedded.produce.1KiB.none.flush-always[.x4]       every append waits for its fdatasync
 *   - embedded.produce.100B.none.1-record-batches        x1, flush none: the max single-record
 *     append rate, which sets the end-to-end latency rates
 * Not run: lz4 at 100 B / 10 KiB or with x4 or fsync, 10 KiB with x4 or fsync, 100 B with fsync.
 * A timed produce run is PartitionLog.open + every append; flush interval adds a final flush()
 * (runs last < flushMs, so the interval timer seldom fires: `params.fsyncRoundsLastRun`), flush
 * always resolves each append after the fdatasync covering it (group commit per log).
 *
 * ratioToLimit is the ratio of the medians; `params.pairedRatioMedian` is the median of per-
 * iteration ratios (steadier when the VM drifts). Target: embedded.produce.1KiB.none >= 0.5.
 */
import { join } from "node:path";
import { silentLogger } from "../../src/logger.ts";
import { COMPRESSION_CODECS } from "../../src/record/compression.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import type { FlushPolicy } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { KiB, median, percentile, sizeLabel } from "../bench_util.ts";
import { freshDir, removeDir } from "../storage_bench.ts";
import type { ScenarioResult, SuiteOptions } from "../types.ts";
import { type Baselines, fileWriteRun, type FileWriteSync } from "./baselines.ts";
import {
  batchRecords,
  encodeMicros,
  figures,
  FLUSH_INTERVAL_MS,
  logConfig,
  type Plan,
  TIMESTAMP_MS,
} from "./plan.ts";

const RECORDS_PER_BATCH = 1_000;
/** 10 KiB records: 100 per batch keeps a batch (~1.03 MB) under max.message.bytes (1 MiB + 12). */
const RECORDS_PER_BATCH_10KIB = 100;
const PRODUCERS_MAX = 4;
/** embedded.produce.1KiB.none's target: ratioToLimit at least this. */
export const APPEND_TARGET_RATIO = 0.5;

export interface ProduceSpec {
  name: string;
  valueBytes: number;
  recordsPerBatch: number;
  producers: number;
  compression: "none" | "lz4";
  flushPolicy: FlushPolicy;
  /** Batch bytes per run (all producers). */
  bytesPerRun: number;
  baselineSync: FileWriteSync;
  /** Keep the last measured run's log for the consume scenarios. */
  keepLog?: boolean;
  /** Time each append (p50/p99 per append call); off for 1-record batches, where it perturbs. */
  appendLatency: boolean;
}

interface ProduceRun {
  seconds: number;
  fsyncRounds: number;
}

/** One timed produce run into `dir`: open every log, run the producers, flush for interval. */
async function produceRun(
  spec: ProduceSpec,
  dir: string,
  batches: readonly Uint8Array[],
  batchesPerProducer: number,
  latenciesMs: number[] | undefined,
): Promise<ProduceRun> {
  const config = logConfig(spec.flushPolicy);
  const t0 = performance.now();
  const logs: PartitionLog[] = [];
  for (let p = 0; p < spec.producers; p++) {
    logs.push(await PartitionLog.open(join(dir, `p${p}`), { config, logger: silentLogger }));
  }
  const loop = async (log: PartitionLog, batch: Uint8Array) => {
    for (let i = 0; i < batchesPerProducer; i++) {
      if (latenciesMs === undefined) {
        await log.append(batch);
      } else {
        const start = performance.now();
        await log.append(batch);
        latenciesMs.push(performance.now() - start);
      }
    }
  };
  await Promise.all(logs.map((log, p) => loop(log, batches[p])));
  if (spec.flushPolicy === "interval") await Promise.all(logs.map((log) => log.flush()));
  const seconds = (performance.now() - t0) / 1000;
  let fsyncRounds = 0;
  for (const log of logs) {
    fsyncRounds += log.fsyncRounds;
    const want = batchesPerProducer * spec.recordsPerBatch;
    if (log.logEndOffset !== want) throw new Error(`${spec.name}: log ends at ${log.logEndOffset}`);
    await log.close();
  }
  return { seconds, fsyncRounds };
}

function baselineName(spec: ProduceSpec): string {
  const kind = spec.baselineSync === "none"
    ? "file.write"
    : spec.baselineSync === "end"
    ? "file.write-fsync"
    : "file.write-fsync-each";
  const variant = (spec.compression === "lz4" ? ".lz4" : "") +
    (spec.recordsPerBatch === 1 ? ".1-record-batches" : "") +
    (spec.producers > 1 ? `.x${spec.producers}` : "");
  return `${kind}.${sizeLabel(spec.valueBytes)}${variant}`;
}

export interface ProduceOutcome {
  scenario: ScenarioResult;
  /** The closed log of the last measured run (spec.keepLog), for the consume scenarios. */
  keptDir?: string;
}

export async function benchProduce(
  spec: ProduceSpec,
  plan: Plan,
  baselines: Baselines,
  opts: SuiteOptions,
): Promise<ProduceOutcome> {
  const payload = spec.compression === "lz4" ? "text" : "random";
  const codec = COMPRESSION_CODECS[spec.compression];
  // One buffer per producer: append patches baseOffset in place.
  const recordSets = Array.from(
    { length: spec.producers },
    (_, p) => batchRecords(spec.recordsPerBatch, spec.valueBytes, payload, p + 1),
  );
  const batches = recordSets.map((records) =>
    encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS, compression: codec })
  );
  const batchBytes = batches[0].length;
  const payloadBytes = spec.recordsPerBatch * spec.valueBytes;
  const encodeUsPerBatch = encodeMicros(recordSets[0], codec);
  // A multiple of PRODUCERS_MAX, so x1 and x4 runs of a size write the same bytes as their limit.
  const totalBatches = PRODUCERS_MAX *
    Math.max(1, Math.round(spec.bytesPerRun / batchBytes / PRODUCERS_MAX));
  const batchesPerProducer = totalBatches / spec.producers;
  const totalBytes = totalBatches * batchBytes;
  const totalRecords = totalBatches * spec.recordsPerBatch;
  const limit = baselineName(spec);

  const seconds: number[] = [];
  const baselineSeconds: number[] = [];
  const latenciesMs: number[] = [];
  let fsyncRoundsLastRun = 0;
  let keptDir: string | undefined;
  const runs = plan.warmupRuns + plan.measuredRuns;
  opts.progress(spec.name, 0, runs);
  for (let run = 0; run < runs; run++) {
    const measured = run >= plan.warmupRuns;
    // Back to back, so drift in the machine (other tenants, writeback) hits both alike.
    const base = await fileWriteRun(batches[0], totalBatches, spec.baselineSync, spec.producers);
    const dir = freshDir();
    const r = await produceRun(
      spec,
      dir,
      batches,
      batchesPerProducer,
      measured && spec.appendLatency ? latenciesMs : undefined,
    );
    if (spec.keepLog && run === runs - 1) keptDir = join(dir, "p0");
    else removeDir(dir);
    opts.progress(spec.name, run + 1, runs, totalRecords / r.seconds);
    if (!measured) continue;
    seconds.push(r.seconds);
    baselineSeconds.push(base);
    baselines.add(limit, totalBytes, base);
    fsyncRoundsLastRun = r.fsyncRounds;
  }
  const runFigures = figures(totalRecords, totalBytes, seconds);
  const mbPerSec = median(runFigures.map((f) => f.mbPerSec));
  latenciesMs.sort((a, b) => a - b);
  const hasLatency = latenciesMs.length > 0;
  const scenario: ScenarioResult = {
    name: spec.name,
    recordSizeBytes: spec.valueBytes,
    records: totalRecords,
    recordsPerSec: median(runFigures.map((f) => f.recordsPerSec)),
    mbPerSec,
    ratioToLimit: mbPerSec / baselines.mbPerSec(limit),
    limit,
    p50Ms: hasLatency ? percentile(latenciesMs, 50) : null,
    p99Ms: hasLatency ? percentile(latenciesMs, 99) : null,
    runs: runFigures,
    params: {
      api: "PartitionLog.append",
      producers: spec.producers,
      layout: spec.producers === 1
        ? "one PartitionLog"
        : `${spec.producers} async loops, one PartitionLog each (partitions of one data dir)`,
      compression: spec.compression,
      payload: payload === "random" ? "seeded random bytes" : "seeded English-like text",
      flushPolicy: spec.flushPolicy,
      ...(spec.flushPolicy === "interval"
        ? { flushMs: FLUSH_INTERVAL_MS, fsyncRoundsLastRun, timed: "open + appends + flush()" }
        : { timed: "open + appends" }),
      ...(spec.flushPolicy === "always" ? { fsyncRoundsLastRun } : {}),
      recordValueBytes: spec.valueBytes,
      recordsPerBatch: spec.recordsPerBatch,
      batchBytes,
      // lz4: the compression ratio; none: what the record and batch framing add.
      payloadBytesPerStoredByte: payloadBytes / batchBytes,
      batchesPerRun: totalBatches,
      bytesPerRun: totalBytes,
      encodedBeforeTiming: true,
      encodeUsPerBatch,
      latency: hasLatency ? "per append call, await included" : "not measured",
      warmupRuns: plan.warmupRuns,
      measuredRuns: seconds.length,
      pairedRatioMedian: median(seconds.map((s, i) => baselineSeconds[i] / s)),
      seeds: `1..${spec.producers}`,
    },
  };
  return { scenario, keptDir };
}

/** The produce matrix's subset that runs (the module doc lists it). */
export function produceSpecs(plan: Plan): ProduceSpec[] {
  const specs: ProduceSpec[] = [];
  const plain = (valueBytes: number, extra: Partial<ProduceSpec> & { name: string }) => {
    specs.push({
      valueBytes,
      recordsPerBatch: valueBytes >= 10 * KiB ? RECORDS_PER_BATCH_10KIB : RECORDS_PER_BATCH,
      producers: 1,
      compression: "none",
      flushPolicy: "none",
      bytesPerRun: plan.produceBytes,
      baselineSync: "none",
      appendLatency: true,
      ...extra,
    });
  };
  for (const valueBytes of [100, KiB, 10 * KiB]) {
    plain(valueBytes, { name: `embedded.produce.${sizeLabel(valueBytes)}.none`, keepLog: true });
  }
  plain(KiB, { name: "embedded.produce.1KiB.lz4", compression: "lz4" });
  for (const valueBytes of [100, KiB]) {
    plain(valueBytes, { name: `embedded.produce.${sizeLabel(valueBytes)}.none.x4`, producers: 4 });
  }
  for (const producers of [1, PRODUCERS_MAX]) {
    const x = producers === 1 ? "" : `.x${producers}`;
    plain(KiB, {
      name: `embedded.produce.1KiB.none.flush-interval${x}`,
      producers,
      flushPolicy: "interval",
      baselineSync: "end",
    });
    plain(KiB, {
      name: `embedded.produce.1KiB.none.flush-always${x}`,
      producers,
      flushPolicy: "always",
      baselineSync: "each",
      bytesPerRun: plan.syncedProduceBytes,
    });
  }
  return specs;
}

/**
 * The max single-record append rate: 1-record 100 B batches appended one by one (flush none),
 * against the same ~170-byte writes to a plain file.
 */
export async function benchSingleRecord(
  plan: Plan,
  baselines: Baselines,
  opts: SuiteOptions,
): Promise<ScenarioResult> {
  const spec: ProduceSpec = {
    name: "embedded.produce.100B.none.1-record-batches",
    valueBytes: 100,
    recordsPerBatch: 1,
    producers: 1,
    compression: "none",
    flushPolicy: "none",
    bytesPerRun: 0,
    baselineSync: "none",
    appendLatency: false,
  };
  const batch = encodeRecordBatch(batchRecords(1, 100, "random", 1), { timestampMs: TIMESTAMP_MS });
  spec.bytesPerRun = plan.singleRecordAppends * batch.length;
  return (await benchProduce(spec, plan, baselines, opts)).scenario;
}
