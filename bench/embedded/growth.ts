/**
 * The embedded suite's growth scenarios (opts.growth only; long): one log grows to 10 GB (decimal)
 * in 10 steps, appending 1 KiB records in batches of 16 (~16.5 KB, Kafka's default batch.size of
 * 16 KiB), flush none, default 1 GiB segments. After each step: `embedded.growth.<n>GB.append`
 * (the step's append rate) and `embedded.growth.<n>GB.random-read` (read(random offset, 16 KiB)
 * latency p50/p99; the log is mostly in the page cache). SLUICE_GROWTH_GB=<max> scales the steps
 * (e.g. 2: 0.2 GB steps, named in MB). One measurement per step: a step cannot be rerun on the
 * same log.
 */
import { totalmem } from "node:os";
import process from "node:process";
import { silentLogger } from "../../src/logger.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { KiB, MB, percentile, xorshift32 } from "../bench_util.ts";
import { freshDir, removeDir } from "../storage_bench.ts";
import type { ScenarioResult, SuiteOptions } from "../types.ts";
import { batchRecords, figures, logConfig, type Plan, TIMESTAMP_MS } from "./plan.ts";

/** Growth sizes are decimal: 1 GB = 10^9 bytes. */
const GB = 1e9;
const GROWTH_STEPS = 10;
const GROWTH_GB_DEFAULT = 10;
const GROWTH_RECORDS_PER_BATCH = 16;
const GROWTH_READ_MAX_BYTES = 16 * KiB;

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

export async function benchGrowth(plan: Plan, opts: SuiteOptions): Promise<ScenarioResult[]> {
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
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
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
