/**
 * Random-access micro benches (mitata):
 *
 * - `lookup`: OffsetIndex.lookup at random offsets on an index of 262,144 entries, what a full
 *   1 GiB segment holds at the default 4 KiB index interval, next to the same binary search written
 *   inline over the DataView (no predicate closure): the cost of the shared IndexBuffer search.
 * - `random-read`: PartitionLog.read at random offsets on a log of 256 MiB (128 MiB with --quick)
 *   of 1 KiB records in 16-record batches (Kafka's default batch.size is 16 KiB), from the page
 *   cache: µs per read for a 1 MiB fetch (with and without CRC checks) and for a one-batch fetch,
 *   next to a plain readSync of 1 MiB at a random position (the floor).
 *
 * Run: deno run -A bench/index_bench.ts [--quick] [--scenario lookup|random-read]
 */
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { bench, do_not_optimize, group, measure, run } from "mitata";
import { silentLogger } from "../src/logger.ts";
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from "../src/storage/offset_index.ts";
import { PartitionLog } from "../src/storage/partition_log.ts";
import { makeBatch } from "./storage_bench.ts";
import { xorshiftFloat } from "./bench_util.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

export const INDEX_GROUPS = ["lookup", "random-read"] as const;

export interface IndexBenchOptions {
  quick?: boolean;
  /** Runs only the groups named (lookup, random-read); all when absent or empty. */
  scenarios?: readonly string[];
  /** Where mitata's report and progress go; default console.log. */
  log?: (line: string) => void;
}

export interface IndexBenchResult {
  suite: "index";
  /** `<group>/<variant>`; the group is what --scenario selects. */
  name: string;
  description: string;
  params: Record<string, string | number | boolean>;
  /** Per call, from mitata's samples. */
  avgUs: number;
  p50Us: number;
  p99Us: number;
  minUs: number;
  maxUs: number;
  /** Bytes returned per call and the rate they make at the average time, for reads. */
  bytesPerCall?: number;
  mbPerSec?: number;
}

/** segment.bytes 1 GiB / index.interval.bytes 4 KiB. */
const INDEX_ENTRIES = 262_144;
/** Offsets advance by 4 per entry: four 1 KiB records per 4 KiB of log. */
const OFFSETS_PER_ENTRY = 4;
const TARGETS = 4_096; // a power of two: the bench cycles through them with a mask
const RECORDS_PER_BATCH = 16;
const RECORD_VALUE_BYTES = 1024;
const FETCH_BYTES = MiB;

function randomInts(count: number, below: number, seed: number): Float64Array {
  const next = xorshiftFloat(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(next() * below);
  return out;
}

/** An index image as a full 1 GiB segment leaves it: entry i = (4i, 4096i), big-endian. */
function fullIndex(): OffsetIndex {
  const image = new Uint8Array(INDEX_ENTRIES * OFFSET_INDEX_ENTRY_BYTES);
  const dv = new DataView(image.buffer);
  for (let i = 0; i < INDEX_ENTRIES; i++) {
    dv.setUint32(i * OFFSET_INDEX_ENTRY_BYTES, i * OFFSETS_PER_ENTRY);
    dv.setUint32(i * OFFSET_INDEX_ENTRY_BYTES + 4, i * 4 * KiB);
  }
  // Never persisted: the path only names it.
  return new OffsetIndex(join(tmpdir(), "sluice-bench.index"), 0, INDEX_ENTRIES, image);
}

/** The same search as OffsetIndex.lookup, written out: what the closure-based version costs. */
function inlineLookup(dv: DataView, entries: number, relative: number): number {
  let lo = 0;
  let hi = entries;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dv.getUint32(mid * OFFSET_INDEX_ENTRY_BYTES) <= relative) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : dv.getUint32((lo - 1) * OFFSET_INDEX_ENTRY_BYTES + 4);
}

/** One micro bench: its mitata alias is `name`, its mitata group `group`. */
interface MicroBench {
  group: string;
  name: string;
  description: string;
  params: Record<string, string | number | boolean>;
  bytesPerCall?: number;
  fn: () => void;
}

/** The per-call statistics both mitata paths give, in ns. */
interface CallStats {
  avg: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

/**
 * CPU time mitata spends on each bench under --quick (its default is 642 ms, and run() adds
 * about 2.5 s of calibration): enough for thousands of samples of a µs-scale call.
 */
const QUICK_CPU_TIME_NS = 150e6;

function lookupBenches(): MicroBench[] {
  const index = fullIndex();
  const image = index.image();
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const targets = randomInts(TARGETS, INDEX_ENTRIES * OFFSETS_PER_ENTRY, 11);
  for (let i = 0; i < TARGETS; i++) {
    const t = targets[i];
    if (index.lookup(t) !== inlineLookup(dv, INDEX_ENTRIES, t)) {
      throw new Error(`inline lookup disagrees at ${t}`);
    }
  }
  const params = { entries: INDEX_ENTRIES, indexBytes: image.length, randomTargets: TARGETS };
  const group = `OffsetIndex.lookup, ${INDEX_ENTRIES.toLocaleString("en-US")} entries`;
  const mask = TARGETS - 1;
  let i = 0;
  let j = 0;
  return [
    {
      group,
      name: "lookup/OffsetIndex.lookup",
      description: "OffsetIndex.lookup(random offset)",
      params,
      fn: () => do_not_optimize(index.lookup(targets[i++ & mask])),
    },
    {
      group,
      name: "lookup/inline-binary-search",
      description: "baseline: the same binary search inline over the DataView",
      params,
      fn: () => do_not_optimize(inlineLookup(dv, INDEX_ENTRIES, targets[j++ & mask])),
    },
  ];
}

interface RandomReadSetup {
  benches: MicroBench[];
  /** Closes the readers and the file, and deletes the log. */
  cleanup(): Promise<void>;
}

async function randomReadBenches(quick: boolean): Promise<RandomReadSetup> {
  const dir = fs.mkdtempSync(join(tmpdir(), "sluice-bench-"));
  const logBytes = (quick ? 128 : 256) * MiB;
  const batch = makeBatch(RECORDS_PER_BATCH, RECORD_VALUE_BYTES);
  const batches = Math.round(logBytes / batch.length);
  const writer = await PartitionLog.open(dir, { logger: silentLogger });
  for (let i = 0; i < batches; i++) await writer.append(batch);
  await writer.close();
  // Two readers on the closed log, one per CRC setting; neither writes.
  const withCrc = await PartitionLog.open(dir, { logger: silentLogger });
  const noCrc = await PartitionLog.open(dir, {
    config: { verifyCrcOnRead: false },
    logger: silentLogger,
  });
  const end = withCrc.logEndOffset;
  const targets = randomInts(TARGETS, end, 23);
  const segmentFile = join(
    dir,
    fs.readdirSync(dir).filter((f) => f.endsWith(".log")).sort()[0],
  );
  const fd = fs.openSync(segmentFile, fs.constants.O_RDONLY);
  const fileBytes = fs.fstatSync(fd).size;
  const positions = randomInts(TARGETS, fileBytes - FETCH_BYTES, 29);
  const buffer = new Uint8Array(FETCH_BYTES);

  const averageBytes = (log: PartitionLog, maxBytes: number) => {
    let total = 0;
    for (let i = 0; i < TARGETS; i++) total += log.read(targets[i], maxBytes)?.bytes.length ?? 0;
    return Math.round(total / TARGETS);
  };
  const params = {
    logBytes: fileBytes,
    records: end,
    recordValueBytes: RECORD_VALUE_BYTES,
    recordsPerBatch: RECORDS_PER_BATCH,
    batchBytes: batch.length,
    randomTargets: TARGETS,
  };
  const group = `PartitionLog.read at random offsets, ${(fileBytes / MiB).toFixed(0)} MiB log`;
  const mask = TARGETS - 1;
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const benches: MicroBench[] = [
    {
      group,
      name: "random-read/read-1MiB",
      description: "PartitionLog.read(random offset, 1 MiB), verifyCrcOnRead true",
      params: { ...params, maxBytes: FETCH_BYTES, verifyCrcOnRead: true },
      bytesPerCall: averageBytes(withCrc, FETCH_BYTES),
      fn: () => do_not_optimize(withCrc.read(targets[a++ & mask], FETCH_BYTES)),
    },
    {
      group,
      name: "random-read/read-1MiB-nocrc",
      description: "PartitionLog.read(random offset, 1 MiB), verifyCrcOnRead false",
      params: { ...params, maxBytes: FETCH_BYTES, verifyCrcOnRead: false },
      bytesPerCall: averageBytes(noCrc, FETCH_BYTES),
      fn: () => do_not_optimize(noCrc.read(targets[b++ & mask], FETCH_BYTES)),
    },
    {
      group,
      name: "random-read/read-1-batch",
      description: "PartitionLog.read(random offset, 1 B): one batch, verifyCrcOnRead true",
      params: { ...params, maxBytes: 1, verifyCrcOnRead: true },
      bytesPerCall: averageBytes(withCrc, 1),
      fn: () => do_not_optimize(withCrc.read(targets[c++ & mask], 1)),
    },
    {
      group,
      name: "random-read/readSync-1MiB",
      description: "baseline: node:fs readSync of 1 MiB at a random position, one buffer",
      params: { ...params, chunkBytes: FETCH_BYTES },
      bytesPerCall: FETCH_BYTES,
      fn: () => do_not_optimize(fs.readSync(fd, buffer, 0, FETCH_BYTES, positions[d++ & mask])),
    },
  ];
  const cleanup = async () => {
    fs.closeSync(fd);
    await withCrc.close();
    await noCrc.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { benches, cleanup };
}

/** mitata's bench/group/run, with its full report. */
async function measureFull(
  benches: readonly MicroBench[],
  log: (line: string) => void,
): Promise<Map<string, CallStats>> {
  for (const name of new Set(benches.map((b) => b.group))) {
    group(name, () => {
      for (const b of benches) if (b.group === name) bench(b.name, b.fn);
    });
  }
  const report = await run({ print: log, throw: true });
  const out = new Map<string, CallStats>();
  for (const trial of report.benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats !== undefined) out.set(trial.alias, stats);
  }
  return out;
}

/** mitata's measure() per bench with a shorter CPU-time budget, one line each. */
async function measureQuick(
  benches: readonly MicroBench[],
  log: (line: string) => void,
): Promise<Map<string, CallStats>> {
  const out = new Map<string, CallStats>();
  for (const b of benches) {
    const stats = await measure(b.fn, { min_cpu_time: QUICK_CPU_TIME_NS });
    log(`  ${b.name}: ${(stats.avg / 1000).toFixed(3)} µs avg, ${stats.samples.length} samples`);
    out.set(b.name, stats);
  }
  return out;
}

/** Runs the micro benches and returns their figures (mitata's report goes to `opts.log`). */
export async function measureIndexBench(opts: IndexBenchOptions = {}): Promise<IndexBenchResult[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const wanted = (g: string) =>
    opts.scenarios === undefined || opts.scenarios.length === 0 || opts.scenarios.includes(g);
  const benches: MicroBench[] = [];
  let setup: RandomReadSetup | undefined;
  try {
    if (wanted("lookup")) benches.push(...lookupBenches());
    if (wanted("random-read")) {
      setup = await randomReadBenches(opts.quick ?? false);
      benches.push(...setup.benches);
    }
    if (benches.length === 0) return [];
    const measured = opts.quick
      ? await measureQuick(benches, log)
      : await measureFull(benches, log);
    const results: IndexBenchResult[] = [];
    for (const r of benches) {
      const stats = measured.get(r.name);
      if (stats === undefined) throw new Error(`${r.name} was not measured`);
      const avgUs = stats.avg / 1000;
      results.push({
        suite: "index",
        name: r.name,
        description: r.description,
        params: r.params,
        avgUs,
        p50Us: stats.p50 / 1000,
        p99Us: stats.p99 / 1000,
        minUs: stats.min / 1000,
        maxUs: stats.max / 1000,
        bytesPerCall: r.bytesPerCall,
        mbPerSec: r.bytesPerCall === undefined ? undefined : r.bytesPerCall / avgUs,
      });
    }
    return results;
  } finally {
    await setup?.cleanup();
  }
}

/** A text table of index results. */
export function formatIndexTable(results: readonly IndexBenchResult[]): string {
  const f = (n: number) => n.toFixed(n < 10 ? 3 : 1);
  const rows: string[][] = [["scenario", "avg µs", "p50 µs", "p99 µs", "bytes/call", "MB/s"]];
  for (const r of results) {
    rows.push([
      r.name,
      f(r.avgUs),
      f(r.p50Us),
      f(r.p99Us),
      r.bytesPerCall === undefined ? "" : String(r.bytesPerCall),
      r.mbPerSec === undefined ? "" : r.mbPerSec.toFixed(0),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n");
}

/** Runs the micro benches and prints mitata's report and a summary table. */
export async function runIndexBench(opts: IndexBenchOptions = {}): Promise<void> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const results = await measureIndexBench({ ...opts, log });
  log(formatIndexTable(results));
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const scenarioAt = args.indexOf("--scenario");
  await runIndexBench({
    quick: args.includes("--quick"),
    scenarios: scenarioAt >= 0 ? [args[scenarioAt + 1]] : undefined,
  });
}
