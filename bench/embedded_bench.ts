/**
 * Embedded-library suite: Sluice used in-process (PartitionLog, Broker), no network, each figure
 * set beside plain file I/O measured by the same process in the same run. Throughput scenarios
 * have warm-up runs and then at least 3 measured runs (median, min and max in `runs`); every run
 * writes into a fresh directory under the system temp dir, deleted afterwards.
 *
 * Workload: pre-encoded RecordBatch v2 batches (no key, no headers), built before timing and
 * appended again and again (append patches baseOffset in place; the CRC does not cover it), so the
 * figures measure the log, not the encoder; `params.encodeUsPerBatch` says what encoding costs.
 * 1,000 records per batch (100 for 10 KiB records, to stay under max.message.bytes 1 MiB + 12).
 * Payloads: seeded random bytes (incompressible) for compression none, seeded English-like text
 * for lz4 (`params.payload`). `mbPerSec` counts the batch bytes stored (after compression).
 * `recordSizeBytes` is the record value size. "x4" is 4 producers: 4 async loops, each appending
 * to its own PartitionLog (partitions p0..p3 of one data dir), on the one event loop.
 *
 * Produce: the matrix (3 sizes x {1, 4} producers x {none, lz4} x flush {none, interval, always})
 * does not fit the time budget (--quick < 15 s, full < 90 s on 2 cores), so this subset runs:
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
 * Limits (BaselineResult), measured in the same iteration just before each produce run: the same
 * batch bytes in the same chunks, written with positional node:fs writeSync to new plain files, one
 * per producer, each by its own async loop; several scenarios may share one (runs pooled):
 *   - `file.write.<size>[.lz4][.1-record-batches][.x4]`  no fsync (flush none)
 *   - `file.write-fsync.1KiB[.x4]`                        one fdatasync per file at the end
 *                                                          (flush interval)
 *   - `file.write-fsync-each.1KiB[.x4]`                   fdatasync after every chunk (always)
 * ratioToLimit is the ratio of the medians; `params.pairedRatioMedian` is the median of per-
 * iteration ratios (steadier when the VM drifts). Target: embedded.produce.1KiB.none >= 0.5.
 *
 * Consume: the log of the last measured embedded.produce.<size>.none run, reopened and read from
 * the page cache from start to end with read(offset, 1 MiB): `embedded.consume.<size>.batch` (the
 * whole batches as read returns them: one pread into a fresh buffer per read, CRC-32C checked,
 * never decoded) and `embedded.consume.<size>.decoded` (the same reads, then decodeBatches with
 * verifyCrc false since read checked it, every record's value touched; over a prefix of the log).
 * Limit: `file.read-cached.<size>`, the segment file read with readSync in 1 MiB chunks into one
 * reused buffer.
 *
 * End-to-end latency (`embedded.e2e-latency.100B.rate-{10,50}pct`): a Broker on a fresh data dir,
 * one topic of 1 partition (flush none). An open-loop producer appends single-record 100 B batches
 * (appendBatches) on a fixed schedule at 10% and 50% of the 1-record-batches rate, pacing with
 * setImmediate (timers cannot pace intervals of tens of µs); a consumer on the same event loop
 * waits in Broker.fetch long polls (maxWaitMs 1000, minBytes 1) and decodes what arrives. Latency
 * is append call -> record decoded by the consumer; p50/p99/p999 over the measured runs, and in
 * params the same from each send's scheduled time (which adds the producer's lateness). Producer
 * and consumer share one thread: when the pair cannot keep the rate, the run sends the same count
 * late, and `params.achievedFraction` < 1 says so (the from-schedule percentiles grow).
 *
 * Growth (opts.growth only; long): one log grows to 10 GB (decimal) in 10 steps, appending 1 KiB
 * records in batches of 16 (~16.5 KB, Kafka's default batch.size of 16 KiB), flush none, default
 * 1 GiB segments. After each step: `embedded.growth.<n>GB.append` (the step's append rate) and
 * `embedded.growth.<n>GB.random-read` (read(random offset, 16 KiB) latency p50/p99; the log is
 * mostly in the page cache). SLUICE_GROWTH_GB=<max> scales the steps (e.g. 2: 0.2 GB steps,
 * named in MB). One measurement per step: a step cannot be rerun on the same log.
 *
 * Run: deno run -A bench/embedded_bench.ts [--quick] [--growth] [--scenario GROUP|NAME-PREFIX]
 */
import * as fs from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Broker } from "../src/broker/broker.ts";
import { silentLogger } from "../src/logger.ts";
import { COMPRESSION_CODECS } from "../src/record/compression.ts";
import { decodeBatches, encodeRecordBatch, type RecordInput } from "../src/record/record_batch.ts";
import type { FlushPolicy, LogConfig } from "../src/storage/log_config.ts";
import { PartitionLog, READ_BYTES_DEFAULT } from "../src/storage/partition_log.ts";
import { randomBytes, xorshift32 } from "./bench_util.ts";
import type { BaselineResult, RunFigure, ScenarioResult, SuiteOptions } from "./types.ts";
import {
  freshDir,
  rawReadRun,
  removeDir,
  segmentFiles,
  sizeLabel,
  writeAll,
} from "./storage_bench.ts";

export { sizeLabel };

const KiB = 1024;
const MiB = 1024 * KiB;
/** Rates and growth sizes are decimal: 1 MB = 10^6 bytes, 1 GB = 10^9 bytes. */
const MB = 1e6;
const GB = 1e9;

const TIMESTAMP_MS = 1_700_000_000_000;
const RECORDS_PER_BATCH = 1_000;
/** 10 KiB records: 100 per batch keeps a batch (~1.03 MB) under max.message.bytes (1 MiB + 12). */
const RECORDS_PER_BATCH_10KIB = 100;
const FLUSH_INTERVAL_MS = 1_000;
const PRODUCERS_MAX = 4;
const APPEND_TARGET_RATIO = 0.5;
const E2E_RATE_FRACTIONS = [0.1, 0.5] as const;
const E2E_VALUE_BYTES = 100;
const E2E_MAX_WAIT_MS = 1_000;
/** Every latency sample is kept; this bounds the arrays (a run stops sending at the bound). */
const E2E_SENDS_PER_RUN_MAX = 2_000_000;
const GROWTH_STEPS = 10;
const GROWTH_GB_DEFAULT = 10;
const GROWTH_RECORDS_PER_BATCH = 16;
const GROWTH_READ_MAX_BYTES = 16 * KiB;

interface Plan {
  warmupRuns: number;
  /** Reads warm up longer: the first fresh 1 MiB read buffers cost page faults. */
  readWarmupRuns: number;
  measuredRuns: number;
  /** Batch bytes appended per produce run, all producers together (flush none and interval). */
  produceBytes: number;
  /** The same for flush always (one fdatasync per ~1 MB batch). */
  syncedProduceBytes: number;
  /** Decoded consume reads stop after this many bytes (100 B records decode at ~3-5 M/s). */
  decodedBytesMax: number;
  singleRecordAppends: number;
  e2eWarmupMs: number;
  e2eRunMs: number;
  e2eRuns: number;
  growthReads: number;
}

const FULL_PLAN: Plan = {
  warmupRuns: 2,
  readWarmupRuns: 2,
  measuredRuns: 5,
  produceBytes: 256 * MiB,
  syncedProduceBytes: 128 * MiB,
  decodedBytesMax: 64 * MiB,
  singleRecordAppends: 100_000,
  e2eWarmupMs: 300,
  e2eRunMs: 800,
  e2eRuns: 3,
  growthReads: 2_000,
};

const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  readWarmupRuns: 1,
  measuredRuns: 3,
  produceBytes: 64 * MiB,
  syncedProduceBytes: 32 * MiB,
  decodedBytesMax: 16 * MiB,
  singleRecordAppends: 30_000,
  e2eWarmupMs: 100,
  e2eRunMs: 250,
  e2eRuns: 3,
  growthReads: 500,
};

type FileWriteSync = "none" | "end" | "each";

interface ProduceSpec {
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

export interface EmbeddedBenchResult {
  scenarios: ScenarioResult[];
  baselines: BaselineResult[];
}

const WORDS: readonly string[] = (
  "the log offset partition segment record batch broker consumer producer topic index append " +
  "fetch commit leader stream value key header time flush retention group member epoch and of " +
  "to in is a"
).split(" ");

/**
 * `length` bytes of space-separated words drawn by xorshift32(seed) from a 32-word list: text a
 * codec can shrink (~2-3x with LZ4 over a batch), the same on every run for a given seed.
 */
export function seededText(length: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  const out = new Uint8Array(length);
  let pos = 0;
  while (pos < length) {
    const word = WORDS[next() % WORDS.length];
    for (let i = 0; i < word.length && pos < length; i++) out[pos++] = word.charCodeAt(i);
    if (pos < length) out[pos++] = 0x20;
  }
  return out;
}

function batchRecords(count: number, valueBytes: number, payload: "random" | "text", seed: number) {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const s = seed * 1_000_003 + i;
    records.push({
      key: null,
      value: payload === "random" ? randomBytes(valueBytes, s) : seededText(valueBytes, s),
    });
  }
  return records;
}

/** Microseconds per encodeRecordBatch of `records` (median of 3, after one warm-up encode). */
function encodeMicros(records: readonly RecordInput[], compression: 0 | 3): number {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS, compression });
    if (i > 0) times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile of the first `count` values of an ascending array. */
function percentile(sorted: ArrayLike<number>, count: number, p: number): number {
  if (count === 0) return NaN;
  const rank = Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1));
  return sorted[rank];
}

/**
 * The write limit: `chunks` positional writes of `chunk`, split evenly over `files` new files each
 * written by its own async loop (as the producers are); seconds. Under `each` the loops overlap
 * their fdatasyncs as 4 logs' group commits do; under `none` they run one after the other.
 */
async function fileWriteRun(chunk: Uint8Array, chunks: number, sync: FileWriteSync, files: number) {
  const dir = freshDir();
  try {
    const t0 = performance.now();
    const loop = async (f: number) => {
      const path = join(dir, `raw${f}.log`);
      const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      let position = 0;
      for (let i = 0; i < chunks / files; i++) {
        writeAll(fd, chunk, position);
        position += chunk.length;
        // Asynchronous like the log's fsync (a thread-pool call), so both pay the same hop.
        if (sync === "each") await fdatasync(fd);
      }
      if (sync === "end") await fdatasync(fd);
      fs.closeSync(fd);
    };
    await Promise.all(Array.from({ length: files }, (_, f) => loop(f)));
    return (performance.now() - t0) / 1000;
  } finally {
    removeDir(dir);
  }
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => err ? reject(err) : resolve()));
}

function logConfig(flushPolicy: FlushPolicy): Partial<LogConfig> {
  return { flushPolicy, flushMs: FLUSH_INTERVAL_MS };
}

/** Baseline runs by name, gathered over every scenario that is compared with them. */
class Baselines {
  readonly #runs = new Map<string, { bytesPerRun: number; mbPerSec: number[] }>();

  add(name: string, bytesPerRun: number, seconds: number): void {
    let entry = this.#runs.get(name);
    if (entry === undefined) this.#runs.set(name, entry = { bytesPerRun, mbPerSec: [] });
    if (entry.bytesPerRun !== bytesPerRun) {
      throw new Error(`baseline ${name}: ${bytesPerRun} bytes per run, was ${entry.bytesPerRun}`);
    }
    entry.mbPerSec.push(bytesPerRun / MB / seconds);
  }

  mbPerSec(name: string): number {
    const entry = this.#runs.get(name);
    if (entry === undefined) throw new Error(`no baseline ${name}`);
    return median(entry.mbPerSec);
  }

  results(): BaselineResult[] {
    return [...this.#runs].map(([name, e]) => ({
      name,
      mbPerSec: median(e.mbPerSec),
      runs: e.mbPerSec,
    }));
  }
}

function figures(records: number, bytes: number, seconds: readonly number[]): RunFigure[] {
  return seconds.map((s) => ({ recordsPerSec: records / s, mbPerSec: bytes / MB / s, seconds: s }));
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

interface ProduceOutcome {
  scenario: ScenarioResult;
  /** The closed log of the last measured run (spec.keepLog), for the consume scenarios. */
  keptDir?: string;
}

async function benchProduce(
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
    p50Ms: hasLatency ? percentile(latenciesMs, latenciesMs.length, 50) : null,
    p99Ms: hasLatency ? percentile(latenciesMs, latenciesMs.length, 99) : null,
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

interface ConsumeRun {
  seconds: number;
  bytes: number;
  records: number;
}

/** Reads the log from its start with read(offset, 1 MiB) until the end or `bytesMax`. */
function consumeRun(log: PartitionLog, decode: boolean, bytesMax: number): ConsumeRun {
  const t0 = performance.now();
  let offset = log.logStartOffset;
  let bytes = 0;
  let records = 0;
  let touched = 0;
  while (bytes < bytesMax) {
    const r = log.read(offset, READ_BYTES_DEFAULT);
    if (r === undefined) break;
    bytes += r.bytes.length;
    if (decode) {
      for (const batch of decodeBatches(r.bytes, false)) {
        for (const record of batch.records) touched += record.value?.length ?? 0;
        records += batch.records.length;
      }
    } else {
      records += r.nextOffset - offset;
    }
    offset = r.nextOffset;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (decode && touched === 0) throw new Error("decoded no values");
  if (!decode && offset !== log.logEndOffset) throw new Error(`read stopped at ${offset}`);
  return { seconds, bytes, records };
}

async function benchConsume(
  dir: string,
  valueBytes: number,
  plan: Plan,
  baselines: Baselines,
  opts: SuiteOptions,
): Promise<ScenarioResult[]> {
  const label = sizeLabel(valueBytes);
  const limit = `file.read-cached.${label}`;
  const files = segmentFiles(dir);
  const buffer = new Uint8Array(READ_BYTES_DEFAULT);
  const log = await PartitionLog.open(dir, { config: logConfig("none"), logger: silentLogger });
  const kinds = ["batch", "decoded"] as const;
  const seconds = { batch: [] as number[], decoded: [] as number[] };
  const last = { batch: { bytes: 0, records: 0 }, decoded: { bytes: 0, records: 0 } };
  const runs = plan.readWarmupRuns + plan.measuredRuns;
  try {
    for (let run = 0; run < runs; run++) {
      const measured = run >= plan.readWarmupRuns;
      const raw = rawReadRun(files, buffer);
      if (measured) baselines.add(limit, raw.bytes, raw.seconds);
      for (const kind of kinds) {
        const name = `embedded.consume.${label}.${kind}`;
        const r = consumeRun(
          log,
          kind === "decoded",
          kind === "decoded" ? plan.decodedBytesMax : Infinity,
        );
        opts.progress(name, run + 1, runs, r.records / r.seconds);
        last[kind] = r;
        if (measured) seconds[kind].push(r.seconds);
      }
    }
  } finally {
    await log.close();
  }
  return kinds.map((kind) => {
    const runFigures = figures(last[kind].records, last[kind].bytes, seconds[kind]);
    const mbPerSec = median(runFigures.map((f) => f.mbPerSec));
    return {
      name: `embedded.consume.${label}.${kind}`,
      recordSizeBytes: valueBytes,
      records: last[kind].records,
      recordsPerSec: median(runFigures.map((f) => f.recordsPerSec)),
      mbPerSec,
      ratioToLimit: mbPerSec / baselines.mbPerSec(limit),
      limit,
      p50Ms: null,
      p99Ms: null,
      runs: runFigures,
      params: {
        api: kind === "batch"
          ? "PartitionLog.read"
          : "PartitionLog.read + decodeBatches(bytes, verifyCrc false)",
        maxBytes: READ_BYTES_DEFAULT,
        verifyCrcOnRead: true,
        source: "page cache (the log was just written)",
        log: `embedded.produce.${label}.none, last measured run`,
        bytesPerRun: last[kind].bytes,
        wholeLog: kind === "batch",
        warmupRuns: plan.readWarmupRuns,
        measuredRuns: seconds[kind].length,
      },
    };
  });
}

function sleepUntilNext(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface E2eRun {
  sends: number;
  seconds: number;
  delivered: number;
}

/**
 * One open-loop run: sends at `ratePerSec` for `durationMs` while the consumer long-polls.
 * Latencies (ms) go to `fromAppend` / `fromSchedule` at `into` onwards; returns the counts.
 */
async function e2eRun(
  broker: Broker,
  topic: string,
  batch: Uint8Array,
  ratePerSec: number,
  durationMs: number,
  fromAppend: Float64Array,
  fromSchedule: Float64Array,
  into: number,
): Promise<E2eRun> {
  const log = broker.topics.get(topic).partition(0);
  const base = log.logEndOffset;
  const sends = Math.min(
    E2E_SENDS_PER_RUN_MAX,
    Math.max(1, Math.floor(ratePerSec * durationMs / 1000)),
  );
  const sentAt = new Float64Array(sends);
  const scheduledAt = new Float64Array(sends);
  const intervalMs = 1000 / ratePerSec;
  const stop = new AbortController();
  let producerDone = false;
  let delivered = 0;

  const consumer = async () => {
    let offset = base;
    while (!(producerDone && offset >= base + sends)) {
      const r = await broker.fetch(topic, 0, {
        offset,
        maxBytes: READ_BYTES_DEFAULT,
        maxWaitMs: E2E_MAX_WAIT_MS,
        signal: stop.signal,
      });
      if (r.bytes.length === 0) continue;
      const now = performance.now();
      for (const b of decodeBatches(r.bytes, false)) {
        for (const record of b.records) {
          const i = record.offset - base;
          if (record.offset < offset || i >= sends) continue;
          fromAppend[into + delivered] = now - sentAt[i];
          fromSchedule[into + delivered] = now - scheduledAt[i];
          delivered++;
        }
      }
      offset = r.nextOffset;
    }
  };

  const producer = async () => {
    const start = performance.now();
    let sent = 0;
    try {
      while (sent < sends) {
        const due = Math.min(sends, Math.floor((performance.now() - start) / intervalMs) + 1);
        while (sent < due) {
          scheduledAt[sent] = start + sent * intervalMs;
          // Offsets are the log's: set before the append, whose listener wakes the consumer.
          sentAt[sent] = performance.now();
          const result = await broker.appendBatches(topic, 0, batch);
          if (result.baseOffset !== base + sent) {
            throw new Error(`append got offset ${result.baseOffset}, want ${base + sent}`);
          }
          sent++;
        }
        if (sent < sends) await sleepUntilNext();
      }
      return (performance.now() - start) / 1000;
    } finally {
      producerDone = true;
      stop.abort();
    }
  };

  const [seconds] = await Promise.all([producer(), consumer()]);
  if (delivered !== sends) throw new Error(`delivered ${delivered} of ${sends}`);
  return { sends, seconds, delivered };
}

async function benchE2e(
  maxAppendsPerSec: number,
  plan: Plan,
  opts: SuiteOptions,
): Promise<ScenarioResult[]> {
  const dataDir = freshDir();
  const broker = await Broker.open({ dataDir, logger: silentLogger });
  const topic = "e2e";
  const results: ScenarioResult[] = [];
  try {
    await broker.createTopic(topic, 1, {});
    const batch = encodeRecordBatch(
      [{ key: null, value: randomBytes(E2E_VALUE_BYTES, 99) }],
      { timestampMs: TIMESTAMP_MS },
    );
    for (const fraction of E2E_RATE_FRACTIONS) {
      const name = `embedded.e2e-latency.${sizeLabel(E2E_VALUE_BYTES)}.rate-${fraction * 100}pct`;
      const ratePerSec = maxAppendsPerSec * fraction;
      const perRun = Math.min(
        E2E_SENDS_PER_RUN_MAX,
        Math.ceil((ratePerSec * plan.e2eRunMs) / 1000),
      );
      const fromAppend = new Float64Array(perRun * plan.e2eRuns);
      const fromSchedule = new Float64Array(perRun * plan.e2eRuns);
      const scratch = new Float64Array(
        Math.min(E2E_SENDS_PER_RUN_MAX, Math.ceil((ratePerSec * plan.e2eWarmupMs) / 1000) + 1),
      );
      const of = plan.e2eRuns + 1;
      opts.progress(name, 0, of);
      await e2eRun(broker, topic, batch, ratePerSec, plan.e2eWarmupMs, scratch, scratch.slice(), 0);
      opts.progress(name, 1, of);
      const runFigures: RunFigure[] = [];
      let n = 0;
      for (let run = 0; run < plan.e2eRuns; run++) {
        const r = await e2eRun(
          broker,
          topic,
          batch,
          ratePerSec,
          plan.e2eRunMs,
          fromAppend,
          fromSchedule,
          n,
        );
        n += r.delivered;
        runFigures.push({
          recordsPerSec: r.sends / r.seconds,
          mbPerSec: (r.sends * batch.length) / MB / r.seconds,
          seconds: r.seconds,
        });
        opts.progress(name, run + 2, of, r.sends / r.seconds);
      }
      const lat = fromAppend.subarray(0, n).sort();
      const late = fromSchedule.subarray(0, n).sort();
      const achieved = median(runFigures.map((f) => f.recordsPerSec));
      results.push({
        name,
        recordSizeBytes: E2E_VALUE_BYTES,
        records: n,
        recordsPerSec: achieved,
        mbPerSec: median(runFigures.map((f) => f.mbPerSec)),
        ratioToLimit: null,
        limit: null,
        p50Ms: percentile(lat, n, 50),
        p99Ms: percentile(lat, n, 99),
        p999Ms: percentile(lat, n, 99.9),
        runs: runFigures,
        params: {
          api: "Broker.appendBatches -> Broker.fetch long poll (same event loop)",
          latency: "append call -> record decoded by the consumer",
          targetRecordsPerSec: ratePerSec,
          rateFraction: fraction,
          maxAppendsPerSec,
          rateFrom: "embedded.produce.100B.none.1-record-batches",
          achievedFraction: achieved / ratePerSec,
          recordsPerBatch: 1,
          batchBytes: batch.length,
          flushPolicy: "none",
          maxWaitMs: E2E_MAX_WAIT_MS,
          pacing: "open loop, setImmediate between due sends",
          runMs: plan.e2eRunMs,
          warmupMs: plan.e2eWarmupMs,
          measuredRuns: plan.e2eRuns,
          maxMs: lat[n - 1],
          p50FromScheduleMs: percentile(late, n, 50),
          p99FromScheduleMs: percentile(late, n, 99),
          p999FromScheduleMs: percentile(late, n, 99.9),
        },
      });
    }
  } finally {
    await broker.close();
    removeDir(dataDir);
  }
  return results;
}

function growthLabel(bytes: number): string {
  const gb = bytes / GB;
  return Number.isInteger(Math.round(gb * 1000) / 1000)
    ? `${Math.round(gb)}GB`
    : `${Math.round(bytes / MB)}MB`;
}

function growthMaxGb(): number {
  const raw = process.env.SLUICE_GROWTH_GB;
  if (raw === undefined || raw === "") return GROWTH_GB_DEFAULT;
  const gb = Number(raw);
  if (!Number.isFinite(gb) || gb <= 0 || gb > 1000) {
    throw new Error(`SLUICE_GROWTH_GB=${raw}: want a number of GB in (0, 1000]`);
  }
  return gb;
}

async function benchGrowth(plan: Plan, opts: SuiteOptions): Promise<ScenarioResult[]> {
  const maxGb = growthMaxGb();
  const stepBytes = (maxGb * GB) / GROWTH_STEPS;
  const batch = encodeRecordBatch(
    batchRecords(GROWTH_RECORDS_PER_BATCH, KiB, "random", 7),
    { timestampMs: TIMESTAMP_MS },
  );
  const dir = freshDir();
  const results: ScenarioResult[] = [];
  const next = xorshift32(12345);
  const readMs = new Float64Array(plan.growthReads);
  const common = {
    recordValueBytes: KiB,
    recordsPerBatch: GROWTH_RECORDS_PER_BATCH,
    batchBytes: batch.length,
    flushPolicy: "none",
    maxGb,
    stepBytes,
    memoryBytes: totalmem(),
  };
  const log = await PartitionLog.open(dir, { config: logConfig("none"), logger: silentLogger });
  try {
    let appendedBytes = 0;
    for (let step = 1; step <= GROWTH_STEPS; step++) {
      const label = growthLabel(step * stepBytes);
      const appendName = `embedded.growth.${label}.append`;
      const targetBytes = step * stepBytes;
      const stepStartBytes = appendedBytes;
      const t0 = performance.now();
      let lastReport = t0;
      while (appendedBytes < targetBytes) {
        await log.append(batch);
        appendedBytes += batch.length;
        const now = performance.now();
        if (now - lastReport > 1000) {
          lastReport = now;
          const records = ((appendedBytes - stepStartBytes) / batch.length) *
            GROWTH_RECORDS_PER_BATCH;
          opts.progress(appendName, step, GROWTH_STEPS, records / ((now - t0) / 1000));
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const stepBytesDone = appendedBytes - stepStartBytes;
      const records = (stepBytesDone / batch.length) * GROWTH_RECORDS_PER_BATCH;
      opts.progress(appendName, step, GROWTH_STEPS, records / seconds);
      results.push({
        name: appendName,
        recordSizeBytes: KiB,
        records,
        recordsPerSec: records / seconds,
        mbPerSec: stepBytesDone / MB / seconds,
        ratioToLimit: null,
        limit: null,
        p50Ms: null,
        p99Ms: null,
        runs: figures(records, stepBytesDone, [seconds]),
        params: { ...common, logBytes: log.sizeBytes, segments: log.segments().length },
      });

      const readName = `embedded.growth.${label}.random-read`;
      const start = log.logStartOffset;
      const span = log.logEndOffset - start;
      let bytes = 0;
      let recordsRead = 0;
      const r0 = performance.now();
      for (let i = 0; i < readMs.length; i++) {
        const offset = start + Math.floor((next() / 0x1_0000_0000) * span);
        const t = performance.now();
        const r = log.read(offset, GROWTH_READ_MAX_BYTES);
        readMs[i] = performance.now() - t;
        if (r === undefined) throw new Error(`no data at offset ${offset}`);
        bytes += r.bytes.length;
        recordsRead += r.nextOffset - r.firstOffset;
      }
      const readSeconds = (performance.now() - r0) / 1000;
      const sorted = readMs.slice().sort();
      results.push({
        name: readName,
        recordSizeBytes: KiB,
        records: recordsRead,
        recordsPerSec: recordsRead / readSeconds,
        mbPerSec: bytes / MB / readSeconds,
        ratioToLimit: null,
        limit: null,
        p50Ms: percentile(sorted, sorted.length, 50),
        p99Ms: percentile(sorted, sorted.length, 99),
        runs: figures(recordsRead, bytes, [readSeconds]),
        params: {
          ...common,
          api: "PartitionLog.read(uniform random offset, 16 KiB)",
          reads: readMs.length,
          readsPerSec: readMs.length / readSeconds,
          logBytes: log.sizeBytes,
          segments: log.segments().length,
          verifyCrcOnRead: true,
        },
      });
    }
  } finally {
    await log.close();
    removeDir(dir);
  }
  return results;
}

function produceSpecs(plan: Plan): ProduceSpec[] {
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
async function benchSingleRecord(
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

export const EMBEDDED_GROUPS = ["produce", "consume", "e2e", "growth"] as const;
export type EmbeddedGroup = typeof EMBEDDED_GROUPS[number];

/** Runs the embedded suite; see the module doc for the scenarios. Growth only with opts.growth. */
export async function runEmbeddedBench(
  opts: SuiteOptions & { growth?: boolean },
): Promise<{ scenarios: ScenarioResult[]; baselines: BaselineResult[] }> {
  return await runEmbeddedSelected(opts, () => true);
}

/**
 * As runEmbeddedBench, limited to the scenarios `wanted` accepts (by group and name). The consume
 * group needs the logs of embedded.produce.<size>.none, so it runs those; e2e runs the
 * 1-record-batches scenario that sets its rates.
 */
export async function runEmbeddedSelected(
  opts: SuiteOptions & { growth?: boolean },
  wanted: (group: EmbeddedGroup, name: string) => boolean,
): Promise<EmbeddedBenchResult> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const baselines = new Baselines();
  const scenarios: ScenarioResult[] = [];
  const kept = new Map<number, string>();
  try {
    for (const spec of produceSpecs(plan)) {
      const needed = wanted("produce", spec.name) ||
        (spec.keepLog === true &&
          wanted("consume", `embedded.consume.${sizeLabel(spec.valueBytes)}`));
      if (!needed) continue;
      const outcome = await benchProduce(spec, plan, baselines, opts);
      scenarios.push(outcome.scenario);
      if (outcome.keptDir !== undefined) kept.set(spec.valueBytes, outcome.keptDir);
      if (spec.name === "embedded.produce.1KiB.none") {
        outcome.scenario.params.target = `ratioToLimit >= ${APPEND_TARGET_RATIO}`;
        outcome.scenario.params.targetMet =
          (outcome.scenario.ratioToLimit ?? 0) >= APPEND_TARGET_RATIO;
      }
    }
    for (const [valueBytes, dir] of kept) {
      if (!wanted("consume", `embedded.consume.${sizeLabel(valueBytes)}`)) continue;
      scenarios.push(...await benchConsume(dir, valueBytes, plan, baselines, opts));
    }
  } finally {
    for (const dir of kept.values()) removeDir(join(dir, ".."));
  }
  if (wanted("e2e", "embedded.e2e-latency")) {
    const single = await benchSingleRecord(plan, baselines, opts);
    scenarios.push(single);
    scenarios.push(...await benchE2e(single.recordsPerSec, plan, opts));
  }
  if (opts.growth && wanted("growth", "embedded.growth")) {
    scenarios.push(...await benchGrowth(plan, opts));
  }
  return { scenarios, baselines: baselines.results() };
}

function fixed(n: number | null | undefined, digits: number): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "";
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n");
}

/** Text tables: scenarios (median [min-max] MB/s, records/s, ratio, latency) and baselines. */
export function formatEmbeddedTable(result: EmbeddedBenchResult): string {
  const rows: string[][] = [[
    "scenario",
    "records/s",
    "MB/s median [min-max]",
    "vs limit",
    "p50/p99/p999 ms",
  ]];
  for (const s of result.scenarios) {
    const mb = s.runs.map((r) => r.mbPerSec);
    rows.push([
      s.name,
      fixed(s.recordsPerSec, 0),
      `${fixed(s.mbPerSec, 0)} [${fixed(Math.min(...mb), 0)}-${fixed(Math.max(...mb), 0)}]`,
      s.ratioToLimit === null ? "" : `${fixed(s.ratioToLimit, 2)} of ${s.limit}`,
      s.p50Ms === null
        ? ""
        : [s.p50Ms, s.p99Ms, s.p999Ms].filter((v) => v !== undefined).map((v) => fixed(v, 3)).join(
          "/",
        ),
    ]);
  }
  const baseRows: string[][] = [["baseline", "MB/s median [min-max]", "runs"]];
  for (const b of result.baselines) {
    baseRows.push([
      b.name,
      `${fixed(b.mbPerSec, 0)} [${fixed(Math.min(...b.runs), 0)}-${fixed(Math.max(...b.runs), 0)}]`,
      String(b.runs.length),
    ]);
  }
  return `${table(rows)}\n\n${table(baseRows)}`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  // --scenario GROUP (produce, consume, e2e, growth) or a scenario-name prefix; repeatable.
  const selectors = args.flatMap((a, i) => args[i - 1] === "--scenario" ? a.split(",") : []);
  const wanted = (group: EmbeddedGroup, name: string) =>
    selectors.length === 0 ||
    selectors.some((s) => s === group || name.startsWith(s) || s.startsWith(name));
  const t0 = performance.now();
  const result = await runEmbeddedSelected({
    quick: args.includes("--quick"),
    growth: args.includes("--growth"),
    progress: (scenario, run, of, recordsPerSec) => {
      const rate = recordsPerSec === undefined ? "" : ` ${fixed(recordsPerSec, 0)} records/s`;
      console.error(`  ${scenario}: run ${run}/${of}${rate}`);
    },
  }, wanted);
  console.log(formatEmbeddedTable(result));
  console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s in all`);
}
