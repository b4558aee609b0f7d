/**
 * Log compaction figures (src/storage/cleaner/), for the lead's bench runner:
 *
 * - `clean/<size>`: a compacting log of keyed batches (100 records each, keys drawn from a key
 *   space so each key is written about `updatesPerKey` times) is written, then cleaned once with
 *   cleanNow (offset map large enough for every key). Throughput: bytes of the dirty part over
 *   the clean's seconds, against a plain sequential read of the same segment files (readSync in
 *   1 MiB chunks, page cache warm: rawReadRun; the median of three). Goal: >= 0.3 of the read.
 *   params.cpuSeconds: the process's CPU time during the clean. params.floor*: the floor
 *   (bench/compaction/map_floor.ts: one pass of reading, checking, walking and mapping, the least
 *   any cleaner of Kafka's kind does) on the same files, median of three; floorRatio, its MB/s
 *   over the read's, is a ceiling for the clean's ratio.
 * - `produce/<size>[@<rate>]`: appends of a pre-encoded keyed batch to a compacting log through
 *   one whole clean of another log (a dirty part of the same size: map pass, filter pass, swaps),
 *   then as long again without one. The appender works in turns of
 *   PRODUCE_TURN_MS and yields (setImmediate) between them, as a loaded server serves the requests
 *   that queued while the cleaner had its slice (throttler.ts): both share one event loop. The
 *   ratio is the appender's share of the loop (its turns' time over the run's) while cleaning
 *   over without: what the cleaner's slicing decides, and a steady figure, where the appends' own
 *   MB/s (the columns; their ratio is params.mbRatio) swing with a shared disk's write stalls:
 *   200 ms runs with no clean at all varied 0.1x to 4x here. `@<rate>`: with
 *   log.cleaner.io.max.bytes.per.second. Goal: >= 0.8.
 * - `kafka-clean/<size>` (with `--kafka`): Apache Kafka 4.4's own log cleaner on the same log as
 *   `clean/<size>` (the same batches, round robin, in 16 MiB segments of a one-partition compacted
 *   topic; one cleaner thread, a dedupe buffer of two slots per key, no io limit), in the same
 *   run: bench/compaction/kafka_cleaner.ts. Its seconds are Kafka's own, the span between its
 *   cleaner's "Beginning cleaning of log" line and its stats block in the broker's log (the JVM's
 *   start and the produce are not counted); the baseline is the same plain read of Kafka's own
 *   segment files; params.kafka holds the stats block's figures (MiB, seconds to 0.1, the index
 *   and clean passes' MiB/s and shares), params.cleanerCpuSeconds the cleaner thread's CPU and
 *   jvmCpuSeconds the JVM's, params.vsSluice its MB/s over clean/<size>'s in the run. Each
 *   size is cleaned once unreported first (JIT warm-up). Skipped, with a notice, without Kafka
 *   (scripts/install-kafka.sh). docs/bench/compaction.md has figures.
 *
 * Run: deno run -A bench/compaction_bench.ts [--quick] [--kafka | --kafka-only] [--clean-only]
 * (--clean-only: no produce/ rows; --kafka-only: only kafka-clean/ rows.)
 */
import process from "node:process";
import { silentLogger } from "../src/logger.ts";
import { encodeRecordBatch, type RecordInput } from "../src/record/record_batch.ts";
import { CleanerManager } from "../src/storage/cleaner/cleaner_manager.ts";
import type { LogConfig } from "../src/storage/log_config.ts";
import { OffsetMap } from "../src/storage/cleaner/offset_map.ts";
import { PartitionLog } from "../src/storage/partition_log.ts";
import { mapFloorRun } from "./compaction/map_floor.ts";
import { fixed, MB, MiB, randomBytes, textTable } from "./bench_util.ts";
import { freshDir, rawReadRun, removeDir, segmentFiles } from "./storage_bench.ts";

export interface CompactionBenchOptions {
  quick: boolean;
  /** Add `kafka-clean/<size>` (bench/compaction/kafka_cleaner.ts). */
  kafka?: boolean;
  /** Only the clean rows (Sluice's, and Kafka's with `kafka`): no `produce/` rows. */
  cleanOnly?: boolean;
  /** Only `kafka-clean/<size>`. */
  kafkaOnly?: boolean;
  log?: (line: string) => void;
}

export interface CompactionBenchResult {
  suite: "compaction";
  /** `clean/<size>` or `produce/<size>`. */
  name: string;
  description: string;
  /** clean: the cleaner's MB/s; produce: appends' MB/s while a clean runs (ratio: see above). */
  mbPerSec: number;
  /** clean: the plain read's MB/s; produce: appends' MB/s without a clean. */
  baselineMbPerSec: number;
  ratio: number;
  goal: number;
  params: Record<string, number | string>;
}

export const RECORDS_PER_BATCH = 100;
const TIMESTAMP_MS = 1_700_000_000_000;

/** A keyed batch: keys `key-<n>` drawn from `keys`, values of `valueBytes` random bytes. */
export function keyedBatch(valueBytes: number, keys: number, seed: number): Uint8Array {
  const records: RecordInput[] = [];
  let x = seed >>> 0 || 1;
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    records.push({
      key: `key-${(x >>> 0) % keys}`,
      value: randomBytes(valueBytes, seed * 131 + i),
    });
  }
  return encodeRecordBatch(records, { timestampMs: TIMESTAMP_MS });
}

function config(): Partial<LogConfig> {
  return { compact: true, delete: false, segmentBytes: 16 * MiB };
}

/** The key space of a clean's log: each key written about `updatesPerKey` times in `bytes`. */
export function cleanKeys(bytes: number, valueBytes: number, updatesPerKey: number): number {
  return Math.max(1, Math.round(bytes / (valueBytes + 20) / updatesPerKey));
}

/** The distinct keyed batches a dirty log is written from (up to 2,048, appended round robin). */
export function dirtyBatches(valueBytes: number, keys: number): Uint8Array[] {
  const distinct = Math.min(2048, Math.max(64, Math.ceil(keys / RECORDS_PER_BATCH)));
  return Array.from({ length: distinct }, (_, i) => keyedBatch(valueBytes, keys, i + 1));
}

/** Writes about `bytes` of keyed batches ({@link dirtyBatches}, appended round robin). */
async function writeDirty(
  dir: string,
  bytes: number,
  valueBytes: number,
  keys: number,
): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, { config: config(), logger: silentLogger });
  const batches = dirtyBatches(valueBytes, keys);
  for (let written = 0, i = 0; written < bytes; i++) {
    const batch = batches[i % batches.length].slice();
    await log.append(batch);
    written += batch.length;
  }
  log.updateHighWatermark(log.logEndOffset);
  // A dirty part is old data, on disk long since (rolled segments are flushed in the background):
  // the clean's own flush before its first swap is not to be timed as cleaning.
  await log.flush();
  return log;
}

/** The process's CPU time so far (user and system), in seconds. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function benchClean(
  valueBytes: number,
  bytes: number,
  updatesPerKey: number,
): Promise<CompactionBenchResult> {
  const dir = freshDir();
  try {
    const keys = cleanKeys(bytes, valueBytes, updatesPerKey);
    const log = await writeDirty(dir, bytes, valueBytes, keys);
    const dirtyBytes = log.compaction.range().cleanableBytes;
    const files = segmentFiles(dir);
    const buffer = new Uint8Array(MiB);
    rawReadRun(files, buffer); // warm the page cache
    const reads = [rawReadRun(files, buffer), rawReadRun(files, buffer), rawReadRun(files, buffer)];
    const dedupeBufferBytes = Math.max(1 * MiB, keys * 24 * 2);
    const floorMap = new OffsetMap(dedupeBufferBytes);
    const floors = [0, 1, 2].map(() => mapFloorRun(log, floorMap).seconds).sort((a, b) => a - b);
    const manager = new CleanerManager({ logger: silentLogger, dedupeBufferBytes });
    manager.register(log);
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    const result = await manager.cleanNow(log);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds() - cpu0;
    if (!result.cleaned) throw new Error("the clean did not run");
    await log.close();
    const rates = reads.map((r) => r.bytes / MB / r.seconds).sort((a, b) => a - b);
    const mbPerSec = dirtyBytes / MB / seconds;
    const baselineMbPerSec = rates[1];
    const floorMbPerSec = dirtyBytes / MB / floors[1];
    return {
      suite: "compaction",
      name: `clean/${valueBytes}B`,
      description: "cleaner MB/s of dirty log vs a plain sequential read of the same files",
      mbPerSec,
      baselineMbPerSec,
      ratio: mbPerSec / baselineMbPerSec,
      goal: 0.3,
      params: {
        dirtyBytes,
        keys,
        bytesAfter: result.bytesAfter,
        bytesBefore: result.bytesBefore,
        seconds: fixed(seconds, 3),
        cpuSeconds: fixed(cpu, 3),
        floorSeconds: fixed(floors[1], 3),
        floorMbPerSec: fixed(floorMbPerSec, 0),
        floorRatio: fixed(floorMbPerSec / baselineMbPerSec, 2),
      },
    };
  } finally {
    removeDir(dir);
  }
}

/** A producer's turn on the event loop: it appends this long, then yields (module comment). */
const PRODUCE_TURN_MS = 10;

/** What {@link appendFor} did: bytes appended, seconds taken, seconds of turns (loop held). */
interface AppendRun {
  bytes: number;
  seconds: number;
  turnSeconds: number;
}

/**
 * Appends `batch` for at least `ms` and until `more()` says stop, in turns of PRODUCE_TURN_MS
 * with a yield to the event loop between them. turnSeconds counts the turns' time: the share of
 * the loop the appender got.
 */
async function appendFor(
  log: PartitionLog,
  batch: Uint8Array,
  ms: number,
  more: () => boolean,
): Promise<AppendRun> {
  const t0 = performance.now();
  let bytes = 0;
  let turn = t0;
  let turns = 0;
  for (;;) {
    await log.append(batch);
    bytes += batch.length;
    const now = performance.now();
    if (now - turn >= PRODUCE_TURN_MS) {
      turns += now - turn;
      // setImmediate: the producer is ready again at once, as a socket with requests queued. A
      // setTimeout(0) is clamped to ~4 ms once nested, idling the producer alone a third of the
      // time, and less when the cleaner's own yields break the nesting: "with" beat "without".
      await new Promise((resolve) => setImmediate(resolve));
      turn = performance.now();
      if (turn - t0 >= ms && !more()) break;
    }
  }
  return { bytes, seconds: (performance.now() - t0) / 1000, turnSeconds: turns / 1000 };
}

async function benchProduce(
  valueBytes: number,
  bytes: number,
  ioBytesPerSecond: number,
): Promise<CompactionBenchResult> {
  const dirtyDir = freshDir();
  const busyDir = freshDir();
  try {
    const keys = Math.max(1, Math.round(bytes / (valueBytes + 20) / 4));
    const batch = keyedBatch(valueBytes, keys, 999);
    const dirty = await writeDirty(dirtyDir, bytes, valueBytes, keys);
    const busy = await PartitionLog.open(busyDir, { config: config(), logger: silentLogger });
    const manager = new CleanerManager({
      logger: silentLogger,
      dedupeBufferBytes: Math.max(1 * MiB, keys * 24 * 2),
      ioBytesPerSecond,
    });
    manager.register(dirty);
    await appendFor(busy, batch, PRODUCE_TURN_MS * 10, () => false); // warm up
    // Appends through one whole clean (map pass, filter pass, swaps)...
    let cleaning = true;
    const clean = manager.cleanNow(dirty).finally(() => cleaning = false);
    const during = await appendFor(busy, batch, 0, () => cleaning);
    const result = await clean;
    // ... and as long again without one.
    const without = await appendFor(busy, batch, during.seconds * 1000, () => false);
    await dirty.close();
    await busy.close();
    const duringMbPerSec = during.bytes / MB / during.seconds;
    const withoutMbPerSec = without.bytes / MB / without.seconds;
    const duringShare = during.turnSeconds / during.seconds;
    const withoutShare = without.turnSeconds / without.seconds;
    return {
      suite: "compaction",
      name: `produce/${valueBytes}B` +
        (Number.isFinite(ioBytesPerSecond) ? `@${ioBytesPerSecond / MB}MB/s` : ""),
      description: "the appender's share of the event loop while a clean runs vs without",
      mbPerSec: duringMbPerSec,
      baselineMbPerSec: withoutMbPerSec,
      ratio: duringShare / withoutShare,
      goal: 0.8,
      params: {
        dirtyBytes: bytes,
        seconds: fixed(during.seconds, 2),
        cleaned: String(result.cleaned),
        loopShareDuring: fixed(duringShare, 3),
        loopShareWithout: fixed(withoutShare, 3),
        // Appends' MB/s during over without: on a shared disk, write stalls swamp it.
        mbRatio: fixed(duringMbPerSec / withoutMbPerSec, 2),
      },
    };
  } finally {
    for (const dir of [dirtyDir, busyDir]) removeDir(dir);
  }
}

/** The clean rows' value sizes, and how often each key is written in their dirty log. */
const CLEAN_VALUE_SIZES = [100, 1024] as const;
const CLEAN_UPDATES_PER_KEY = 8;

export async function runCompactionBench(
  opts: CompactionBenchOptions,
): Promise<CompactionBenchResult[]> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const bytes = opts.quick ? 32 * MiB : 256 * MiB;
  const results: CompactionBenchResult[] = [];
  for (const valueBytes of opts.kafkaOnly ? [] : CLEAN_VALUE_SIZES) {
    log(`compaction: clean/${valueBytes}B`);
    results.push(await benchClean(valueBytes, bytes, CLEAN_UPDATES_PER_KEY));
  }
  if (opts.kafka || opts.kafkaOnly) {
    // Loaded only when asked: it starts a JVM (scripts/kafka_server.ts).
    const { runKafkaClean } = await import("./compaction/kafka_cleaner.ts");
    results.push(
      ...await runKafkaClean({
        bytes,
        valueSizes: CLEAN_VALUE_SIZES,
        keys: (b, valueBytes) => cleanKeys(b, valueBytes, CLEAN_UPDATES_PER_KEY),
        batches: dirtyBatches,
        log,
      }),
    );
    // Kafka's MB/s over Sluice's on the same log in this run: steadier than the two ratios, whose
    // baselines (a 32 MiB read of a few ms) swing with the machine's load.
    for (const row of results) {
      const sluice = results.find((r) => r.name === row.name.replace(/^kafka-/, ""));
      if (row.name.startsWith("kafka-") && sluice) {
        row.params.vsSluice = fixed(row.mbPerSec / sluice.mbPerSec, 2);
      }
    }
  }
  if (opts.cleanOnly || opts.kafkaOnly) return results;
  for (const valueBytes of [100, 1024]) {
    for (const rate of [Infinity, 100 * MB]) {
      log(`compaction: produce/${valueBytes}B, cleaner io ${rate} B/s`);
      results.push(await benchProduce(valueBytes, bytes, rate));
    }
  }
  return results;
}

export function formatCompactionTable(results: readonly CompactionBenchResult[]): string {
  return textTable([
    ["scenario", "MB/s", "baseline MB/s", "ratio", "goal", "params"],
    ...results.map((r) => [
      r.name,
      fixed(r.mbPerSec, 0),
      fixed(r.baselineMbPerSec, 0),
      fixed(r.ratio, 2),
      `>= ${r.goal}`,
      JSON.stringify(r.params),
    ]),
  ]);
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const kafka = Deno.args.includes("--kafka");
  const cleanOnly = Deno.args.includes("--clean-only");
  const kafkaOnly = Deno.args.includes("--kafka-only");
  console.log(
    formatCompactionTable(await runCompactionBench({ quick, kafka, cleanOnly, kafkaOnly })),
  );
}
