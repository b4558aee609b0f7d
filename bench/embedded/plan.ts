/**
 * The embedded suite's plan (how many runs, how many bytes a run, full and --quick) and what its
 * scenario families share: the workload constants, the seeded record values (random bytes for
 * compression none, English-like text for lz4), the log config of a flush policy and the per-run
 * figures. See bench/embedded_bench.ts for the suite as a whole.
 */
import { encodeRecordBatch, type RecordInput } from "../../src/record/record_batch.ts";
import type { FlushPolicy, LogConfig } from "../../src/storage/log_config.ts";
import { MB, median, MiB, randomBytes, xorshift32 } from "../bench_util.ts";
import type { RunFigure } from "../types.ts";

export const TIMESTAMP_MS = 1_700_000_000_000;
export const FLUSH_INTERVAL_MS = 1_000;

export interface Plan {
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

export const FULL_PLAN: Plan = {
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

export const QUICK_PLAN: Plan = {
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

export function batchRecords(
  count: number,
  valueBytes: number,
  payload: "random" | "text",
  seed: number,
) {
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
export function encodeMicros(records: readonly RecordInput[], compression: 0 | 3): number {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS, compression });
    if (i > 0) times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

export function logConfig(flushPolicy: FlushPolicy): Partial<LogConfig> {
  return { flushPolicy, flushMs: FLUSH_INTERVAL_MS };
}

export function figures(records: number, bytes: number, seconds: readonly number[]): RunFigure[] {
  return seconds.map((s) => ({ recordsPerSec: records / s, mbPerSec: bytes / MB / s, seconds: s }));
}
