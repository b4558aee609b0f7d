/**
 * Storage throughput suite: whole workloads timed with performance.now(), one warm-up run and then
 * at least 3 measured runs each, reported as median, min and max.
 *
 * - `append`: pre-encoded batches of 1,000 records (100 B and 1 KiB values, no key, no headers)
 *   appended to a fresh PartitionLog (flush policy none, default 1 GiB segments). The same batch
 *   buffer is appended again and again: append patches baseOffset in place and the CRC does not
 *   cover it, so the measurement is the log, not the encoder. Two figures per run: the appends
 *   (open included) and appends + close (close fdatasyncs the log and writes the checkpoint).
 * - `write-raw` baselines in the same process: the same bytes, in the same chunk sizes, written
 *   sequentially to a plain file with positional node:fs writeSync, as the log writes; plain and
 *   with one fdatasync at the end. Appends are compared with the plain write, appends + close with
 *   the fsynced one. Target: appends of 1 KiB records reach >= 50% of the raw write bandwidth.
 * - `read`: the log just written, read back from the page cache with read(offset, 1 MiB) from the
 *   log start to its end; with verifyCrcOnRead true and false (the CRC's cost), and a baseline that
 *   reads the segment file with readSync in 1 MiB chunks. Target: >= 1 GB/s (10^9 bytes).
 * - `always`: flush policy always with 1, 4 and 16 concurrent appenders of one 1 KiB record each;
 *   every append waits for an fdatasync, which group commit shares: appends/s and latency.
 *
 * Every run writes into a fresh directory under the system temp dir, deleted afterwards (deleting
 * a file drops its dirty pages, so one run's writeback does not slow the next).
 *
 * Run: deno run -A bench/storage_bench.ts [--quick] [--scenario append|read|always]
 */
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { silentLogger } from "../src/logger.ts";
import { encodeRecordBatch, type RecordInput } from "../src/record/record_batch.ts";
import type { FlushPolicy, LogConfig } from "../src/storage/log_config.ts";
import { PartitionLog } from "../src/storage/partition_log.ts";
import {
  type BenchRunOptions,
  type Figure,
  figure,
  fixed,
  latencyOf,
  MB,
  MiB,
  progressLog,
  randomBytes,
  rates,
  sizeLabel,
  textTable,
  wantsGroup,
} from "./bench_util.ts";

export type { Figure } from "./bench_util.ts";
export { sizeLabel };

export interface StorageBenchResult {
  suite: "storage";
  /** `<group>/<variant>`, e.g. "append/1KiB"; the group is what --scenario selects. */
  name: string;
  description: string;
  params: Record<string, string | number | boolean>;
  warmupRuns: number;
  measuredRuns: number;
  seconds: Figure;
  mbPerSec?: Figure;
  recordsPerSec?: Figure;
  appendsPerSec?: Figure;
  /** Append latency over every append of the measured runs. */
  latencyUs?: { p50: number; p99: number; max: number };
  /**
   * This rate over the baseline's: for appends the median of per-iteration ratios (each run paired
   * with the baseline run just before it); for reads the ratio of the medians.
   */
  ratio?: { to: string; value: number };
  target?: { text: string; met: boolean };
}

/** quick, scenarios (groups of STORAGE_GROUPS: append, read, always) and log. */
export type StorageBenchOptions = BenchRunOptions;

export const STORAGE_GROUPS = ["append", "read", "always"] as const;

interface Plan {
  warmupRuns: number;
  /**
   * Reads warm up longer: the first few hundred fresh 1 MiB read buffers cost page faults (the
   * allocator maps new memory until it has freed some), several times a warm read.
   */
  readWarmupRuns: number;
  measuredRuns: number;
  /** Bytes of log written per append run, by record value size. */
  appendBytes: Record<number, number>;
  /** Appends per run for the `always` scenarios (split across the appenders). */
  syncedAppends: number;
}

const FULL_PLAN: Plan = {
  warmupRuns: 2,
  readWarmupRuns: 2,
  measuredRuns: 5,
  appendBytes: { 100: 256 * MiB, 1024: 256 * MiB },
  syncedAppends: 4_000,
};

const QUICK_PLAN: Plan = {
  warmupRuns: 1,
  readWarmupRuns: 2,
  measuredRuns: 3,
  appendBytes: { 100: 64 * MiB, 1024: 128 * MiB },
  syncedAppends: 400,
};

const RECORDS_PER_BATCH = 1_000;
const READ_CHUNK_BYTES = MiB;
const RECORD_SIZES = [100, 1024] as const;
const APPENDERS = [1, 4, 16] as const;
const APPEND_TARGET_RATIO = 0.5;
const READ_TARGET_BYTES_PER_SEC = 1e9;
const TIMESTAMP_MS = 1_700_000_000_000;

/** One RecordBatch v2 of `count` records with `valueBytes`-byte values, offsets to be assigned. */
export function makeBatch(count: number, valueBytes: number, seed = 1): Uint8Array {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    records.push({ key: null, value: randomBytes(valueBytes, seed * 1_000_003 + i) });
  }
  return encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS });
}

/** A new empty directory under the system temp dir. */
export function freshDir(): string {
  return fs.mkdtempSync(join(tmpdir(), "sluice-bench-"));
}

/** Deletes `dir` and everything in it (its dirty pages are dropped, not written back). */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes all of `bytes` at `position` with positional writeSync, as the log does. */
export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/** The baseline: `batches` positional writes of `batch`, back to back, into a new file. */
function rawWriteRun(batch: Uint8Array, batches: number, fsync: boolean): number {
  const dir = freshDir();
  try {
    const t0 = performance.now();
    const fd = fs.openSync(join(dir, "raw.log"), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    let position = 0;
    for (let i = 0; i < batches; i++) {
      writeAll(fd, batch, position);
      position += batch.length;
    }
    if (fsync) fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    return (performance.now() - t0) / 1000;
  } finally {
    removeDir(dir);
  }
}

function logConfig(flushPolicy: FlushPolicy, verifyCrcOnRead = true): Partial<LogConfig> {
  return { flushPolicy, verifyCrcOnRead };
}

/** Appends `batches` times `batch` to a new log in `dir`; seconds of open + appends, and close. */
async function sluiceAppendRun(
  dir: string,
  batch: Uint8Array,
  batches: number,
): Promise<{ appendSeconds: number; closeSeconds: number }> {
  const t0 = performance.now();
  const log = await PartitionLog.open(dir, { config: logConfig("none"), logger: silentLogger });
  for (let i = 0; i < batches; i++) await log.append(batch);
  const t1 = performance.now();
  await log.close();
  const t2 = performance.now();
  if (log.logEndOffset !== batches * RECORDS_PER_BATCH) {
    throw new Error(`log ends at ${log.logEndOffset}, want ${batches * RECORDS_PER_BATCH}`);
  }
  return { appendSeconds: (t1 - t0) / 1000, closeSeconds: (t2 - t1) / 1000 };
}

interface AppendOutcome {
  results: StorageBenchResult[];
  /** The directory of the last measured run's log (closed), kept for the read scenarios. */
  keptDir: string;
}

async function benchAppend(valueBytes: number, plan: Plan): Promise<AppendOutcome> {
  const label = sizeLabel(valueBytes);
  const batch = makeBatch(RECORDS_PER_BATCH, valueBytes);
  const batches = Math.max(1, Math.round(plan.appendBytes[valueBytes] / batch.length));
  const totalBytes = batches * batch.length;
  const totalRecords = batches * RECORDS_PER_BATCH;
  const params = {
    recordValueBytes: valueBytes,
    recordsPerBatch: RECORDS_PER_BATCH,
    batchBytes: batch.length,
    batches,
    bytesPerRun: totalBytes,
    recordsPerRun: totalRecords,
    flushPolicy: "none",
  };
  const raw: number[] = [];
  const rawSynced: number[] = [];
  const appended: number[] = [];
  const appendedClosed: number[] = [];
  let keptDir = "";
  const runs = plan.warmupRuns + plan.measuredRuns;
  for (let run = 0; run < runs; run++) {
    const measured = run >= plan.warmupRuns;
    // Interleaved, so drift in the machine (other tenants, writeback) hits all three alike.
    const rawSeconds = rawWriteRun(batch, batches, false);
    const rawSyncedSeconds = rawWriteRun(batch, batches, true);
    const dir = freshDir();
    const { appendSeconds, closeSeconds } = await sluiceAppendRun(dir, batch, batches);
    if (run === runs - 1) keptDir = dir;
    else removeDir(dir);
    if (!measured) continue;
    raw.push(rawSeconds);
    rawSynced.push(rawSyncedSeconds);
    appended.push(appendSeconds);
    appendedClosed.push(appendSeconds + closeSeconds);
  }
  const common = { suite: "storage" as const, warmupRuns: plan.warmupRuns };
  const throughput = (seconds: number[]) => ({
    measuredRuns: seconds.length,
    seconds: figure(seconds),
    mbPerSec: rates(totalBytes / MB, seconds),
    recordsPerSec: rates(totalRecords, seconds),
  });
  const rawName = `write-raw/${label}`;
  const rawSyncedName = `write-raw-fsync/${label}`;
  // Runs are paired (same iteration, back to back): the median of the per-pair ratios is steadier
  // than a ratio of medians when the VM's write speed drifts between iterations. Equal bytes: a
  // rate ratio is the inverse time ratio.
  const ratio = (ours: number[], base: number[]) => figure(ours.map((s, i) => base[i] / s)).median;
  const appendRatio = ratio(appended, raw);
  const results: StorageBenchResult[] = [
    {
      ...common,
      name: rawName,
      description: "baseline: node:fs writeSync positional, same chunks, no fsync",
      params: { ...params, flushPolicy: "n/a" },
      ...throughput(raw),
    },
    {
      ...common,
      name: rawSyncedName,
      description: "baseline: as write-raw, then one fdatasync",
      params: { ...params, flushPolicy: "n/a" },
      ...throughput(rawSynced),
    },
    {
      ...common,
      name: `append/${label}`,
      description: "PartitionLog.open + append of pre-encoded batches (flush none)",
      params,
      ...throughput(appended),
      ratio: { to: rawName, value: appendRatio },
      target: valueBytes === 1024
        ? {
          text: `>= ${APPEND_TARGET_RATIO * 100}% of ${rawName}`,
          met: appendRatio >= APPEND_TARGET_RATIO,
        }
        : undefined,
    },
    {
      ...common,
      name: `append+close/${label}`,
      description: "as append, plus close (fdatasync, index persist, checkpoint)",
      params,
      ...throughput(appendedClosed),
      ratio: { to: rawSyncedName, value: ratio(appendedClosed, rawSynced) },
    },
  ];
  return { results, keptDir };
}

/** Fills a new log in a fresh dir without timing it (when the read group runs alone). */
async function buildLog(valueBytes: number, plan: Plan): Promise<string> {
  const dir = freshDir();
  const batch = makeBatch(RECORDS_PER_BATCH, valueBytes);
  const batches = Math.max(1, Math.round(plan.appendBytes[valueBytes] / batch.length));
  await sluiceAppendRun(dir, batch, batches);
  return dir;
}

/** The .log segment files of a partition directory, in offset order. */
export function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith(".log")).sort().map((f) => join(dir, f));
}

function sluiceReadRun(log: PartitionLog): { seconds: number; bytes: number; records: number } {
  const t0 = performance.now();
  const start = log.logStartOffset;
  let offset = start;
  let bytes = 0;
  for (;;) {
    const r = log.read(offset, READ_CHUNK_BYTES);
    if (r === undefined) break;
    bytes += r.bytes.length;
    offset = r.nextOffset;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (offset !== log.logEndOffset) throw new Error(`read stopped at ${offset}`);
  return { seconds, bytes, records: offset - start };
}

/** The baseline: every segment file read with readSync in 1 MiB chunks into one buffer. */
export function rawReadRun(
  files: readonly string[],
  buffer: Uint8Array,
): { seconds: number; bytes: number } {
  const t0 = performance.now();
  let bytes = 0;
  for (const file of files) {
    const fd = fs.openSync(file, fs.constants.O_RDONLY);
    let position = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, position);
      if (n === 0) break;
      position += n;
    }
    fs.closeSync(fd);
    bytes += position;
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

async function benchRead(
  dir: string,
  valueBytes: number,
  plan: Plan,
): Promise<StorageBenchResult[]> {
  const label = sizeLabel(valueBytes);
  const warmupRuns = plan.readWarmupRuns;
  const runs = warmupRuns + plan.measuredRuns;
  const results: StorageBenchResult[] = [];
  const rawName = `read-raw/${label}`;

  const files = segmentFiles(dir);
  const buffer = new Uint8Array(READ_CHUNK_BYTES);
  const rawSeconds: number[] = [];
  let rawBytes = 0;
  for (let run = 0; run < runs; run++) {
    const r = rawReadRun(files, buffer);
    rawBytes = r.bytes;
    if (run >= warmupRuns) rawSeconds.push(r.seconds);
  }
  const rawMbPerSec = rates(rawBytes / MB, rawSeconds);

  for (const verifyCrcOnRead of [true, false]) {
    const log = await PartitionLog.open(dir, {
      config: logConfig("none", verifyCrcOnRead),
      logger: silentLogger,
    });
    const seconds: number[] = [];
    let bytes = 0;
    let records = 0;
    try {
      for (let run = 0; run < runs; run++) {
        const r = sluiceReadRun(log);
        bytes = r.bytes;
        records = r.records;
        if (run >= warmupRuns) seconds.push(r.seconds);
      }
    } finally {
      await log.close();
    }
    const mbPerSec = rates(bytes / MB, seconds);
    const ratio = mbPerSec.median / rawMbPerSec.median;
    results.push({
      suite: "storage",
      name: verifyCrcOnRead ? `read/${label}` : `read-nocrc/${label}`,
      description: `PartitionLog.read(offset, 1 MiB) to the end, page cache, verifyCrcOnRead ${
        verifyCrcOnRead ? "true" : "false"
      }`,
      params: {
        recordValueBytes: valueBytes,
        maxBytes: READ_CHUNK_BYTES,
        verifyCrcOnRead,
        bytesPerRun: bytes,
        recordsPerRun: records,
      },
      warmupRuns,
      measuredRuns: seconds.length,
      seconds: figure(seconds),
      mbPerSec,
      recordsPerSec: rates(records, seconds),
      ratio: { to: rawName, value: ratio },
      // The target is for the default configuration, which checks CRCs.
      target: verifyCrcOnRead
        ? {
          text: `>= ${READ_TARGET_BYTES_PER_SEC / 1e9} GB/s`,
          met: mbPerSec.median * MB >= READ_TARGET_BYTES_PER_SEC,
        }
        : undefined,
    });
  }
  results.push({
    suite: "storage",
    name: rawName,
    description: "baseline: node:fs readSync of the segment file, 1 MiB chunks, one buffer",
    params: { chunkBytes: READ_CHUNK_BYTES, bytesPerRun: rawBytes },
    warmupRuns,
    measuredRuns: rawSeconds.length,
    seconds: figure(rawSeconds),
    mbPerSec: rawMbPerSec,
  });
  return results;
}

/** Flush policy always: `appenders` loops, each awaiting its append before the next. */
async function syncedAppendRun(
  appenders: number,
  appendsPerAppender: number,
  batches: readonly Uint8Array[],
  latenciesUs: number[] | undefined,
): Promise<number> {
  const dir = freshDir();
  try {
    const log = await PartitionLog.open(dir, { config: logConfig("always"), logger: silentLogger });
    const t0 = performance.now();
    const loop = async (batch: Uint8Array) => {
      for (let i = 0; i < appendsPerAppender; i++) {
        const start = performance.now();
        await log.append(batch);
        latenciesUs?.push((performance.now() - start) * 1000);
      }
    };
    await Promise.all(batches.slice(0, appenders).map(loop));
    const seconds = (performance.now() - t0) / 1000;
    await log.close();
    return seconds;
  } finally {
    removeDir(dir);
  }
}

async function benchAlways(plan: Plan): Promise<StorageBenchResult[]> {
  const valueBytes = 1024;
  // One buffer per appender: append patches baseOffset in place.
  const batches = Array.from({ length: APPENDERS[APPENDERS.length - 1] }, (_, i) => {
    return makeBatch(1, valueBytes, i + 7);
  });
  const results: StorageBenchResult[] = [];
  for (const appenders of APPENDERS) {
    const appendsPerAppender = Math.max(1, Math.floor(plan.syncedAppends / appenders));
    const appends = appendsPerAppender * appenders;
    const seconds: number[] = [];
    const latenciesUs: number[] = [];
    for (let run = 0; run < plan.warmupRuns + plan.measuredRuns; run++) {
      const measured = run >= plan.warmupRuns;
      const s = await syncedAppendRun(
        appenders,
        appendsPerAppender,
        batches,
        measured ? latenciesUs : undefined,
      );
      if (measured) seconds.push(s);
    }
    results.push({
      suite: "storage",
      name: `always/x${appenders}`,
      description:
        `flush policy always, ${appenders} concurrent appender(s), one 1 KiB record each`,
      params: {
        appenders,
        appendsPerRun: appends,
        recordValueBytes: valueBytes,
        batchBytes: batches[0].length,
        flushPolicy: "always",
      },
      warmupRuns: plan.warmupRuns,
      measuredRuns: seconds.length,
      seconds: figure(seconds),
      appendsPerSec: rates(appends, seconds),
      mbPerSec: rates((appends * batches[0].length) / MB, seconds),
      latencyUs: latencyOf(latenciesUs),
    });
  }
  return results;
}

/** Runs the storage suite; progress goes to `opts.log` (stderr by default). */
export async function runStorageBench(opts: StorageBenchOptions): Promise<StorageBenchResult[]> {
  const plan = opts.quick ? QUICK_PLAN : FULL_PLAN;
  const log = progressLog(opts);
  const wanted = (group: string) => wantsGroup(opts, group);
  const results: StorageBenchResult[] = [];
  let since = performance.now();
  const done = (r: StorageBenchResult[]) => {
    for (const x of r) log(`  ${x.name}: ${x.seconds.median.toFixed(3)} s median per run`);
    log(`  (${((performance.now() - since) / 1000).toFixed(1)} s with warm-up and set-up)`);
    since = performance.now();
    results.push(...r);
  };
  for (const valueBytes of RECORD_SIZES) {
    let dir: string | undefined;
    try {
      if (wanted("append")) {
        log(`storage: append ${sizeLabel(valueBytes)} records`);
        const outcome = await benchAppend(valueBytes, plan);
        dir = outcome.keptDir;
        done(outcome.results);
      }
      if (wanted("read")) {
        log(`storage: read ${sizeLabel(valueBytes)} records`);
        dir ??= await buildLog(valueBytes, plan);
        done(await benchRead(dir, valueBytes, plan));
      }
    } finally {
      if (dir !== undefined) removeDir(dir);
    }
  }
  if (wanted("always")) {
    log("storage: flush policy always (group commit)");
    done(await benchAlways(plan));
  }
  return results;
}

/** A text table of storage results: median [min - max] per figure. */
export function formatStorageTable(results: readonly StorageBenchResult[]): string {
  const rows: string[][] = [[
    "scenario",
    "MB/s median [min-max]",
    "records/s median",
    "appends/s",
    "p50/p99 µs",
    "vs baseline",
    "target",
  ]];
  for (const r of results) {
    rows.push([
      r.name,
      r.mbPerSec === undefined
        ? ""
        : `${fixed(r.mbPerSec.median, 0)} [${fixed(r.mbPerSec.min, 0)}-${
          fixed(r.mbPerSec.max, 0)
        }]`,
      r.recordsPerSec === undefined ? "" : fixed(r.recordsPerSec.median, 0),
      r.appendsPerSec === undefined ? "" : fixed(r.appendsPerSec.median, 0),
      r.latencyUs === undefined ? "" : `${fixed(r.latencyUs.p50, 0)}/${fixed(r.latencyUs.p99, 0)}`,
      r.ratio === undefined ? "" : `${fixed(r.ratio.value * 100, 1)}% of ${r.ratio.to}`,
      r.target === undefined ? "" : `${r.target.met ? "MET" : "MISSED"} (${r.target.text})`,
    ]);
  }
  return textTable(rows);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const scenarioAt = args.indexOf("--scenario");
  const results = await runStorageBench({
    quick: args.includes("--quick"),
    scenarios: scenarioAt >= 0 ? [args[scenarioAt + 1]] : undefined,
  });
  console.log(formatStorageTable(results));
}
