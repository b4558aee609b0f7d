/**
 * The embedded suite's consume scenarios: the log of the last measured
 * embedded.produce.<size>.none run, reopened with the default log config (verifyCrcOnRead off, as
 * Kafka's broker) and read from the page cache from start to end with read(offset, 1 MiB):
 * - `embedded.consume.<size>.batch`: the whole batches as read returns them, one pread into fresh
 *   memory (not zero-filled) per read, never decoded;
 * - `embedded.consume.<size>.batch-into`: the same reads, each lent one buffer of 1 MiB + 4 KiB
 *   (read's `into`; an embedded consumer done with each read before the next);
 * - `embedded.consume.<size>.decoded`: the reads of `batch`, then decodeBatches with the CRC-32C
 *   checked (as Kafka's consumers check it), every record's value touched; over a prefix of the
 *   log.
 * Limit: `file.read-cached.<size>`, the segment file read with readSync in 1 MiB chunks into one
 * reused buffer.
 */
import { silentLogger } from "../../src/logger.ts";
import { decodeBatches } from "../../src/record/record_batch.ts";
import { DEFAULT_LOG_CONFIG } from "../../src/storage/log_config.ts";
import { PartitionLog, READ_BYTES_DEFAULT } from "../../src/storage/partition_log.ts";
import { median, sizeLabel } from "../bench_util.ts";
import { rawReadRun, segmentFiles } from "../storage_bench.ts";
import type { ScenarioResult, SuiteOptions } from "../types.ts";
import type { Baselines } from "./baselines.ts";
import { figures, logConfig, type Plan } from "./plan.ts";

type Kind = "batch" | "batch-into" | "decoded";

/** Issue 17's goals for the whole-batch reads, as a ratio to file.read-cached, by record size. */
const BATCH_TARGET_RATIO: Readonly<Record<string, number>> = { "100B": 0.6, "1KiB": 0.8 };

interface ConsumeRun {
  seconds: number;
  bytes: number;
  records: number;
}

/**
 * Reads the log from its start with read(offset, 1 MiB) until the end or `bytesMax`, lending each
 * read `into` when given.
 */
function consumeRun(
  log: PartitionLog,
  decode: boolean,
  bytesMax: number,
  into: Uint8Array | undefined,
): ConsumeRun {
  const t0 = performance.now();
  let offset = log.logStartOffset;
  let bytes = 0;
  let records = 0;
  let touched = 0;
  while (bytes < bytesMax) {
    const r = log.read(offset, READ_BYTES_DEFAULT, undefined, into);
    if (r === undefined) break;
    bytes += r.bytes.length;
    if (decode) {
      for (const batch of decodeBatches(r.bytes, true)) {
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

/** The consume scenarios of the closed log in `dir`, of `valueBytes` records. */
export async function benchConsume(
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
  const config = logConfig("none");
  const lent = new Uint8Array(READ_BYTES_DEFAULT + DEFAULT_LOG_CONFIG.indexIntervalBytes);
  const log = await PartitionLog.open(dir, { config, logger: silentLogger });
  const kinds: readonly Kind[] = ["batch", "batch-into", "decoded"];
  const seconds: Record<Kind, number[]> = { batch: [], "batch-into": [], decoded: [] };
  const none = { bytes: 0, records: 0 };
  const last: Record<Kind, { bytes: number; records: number }> = {
    batch: none,
    "batch-into": none,
    decoded: none,
  };
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
          kind === "batch-into" ? lent : undefined,
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
    const ratioToLimit = mbPerSec / baselines.mbPerSec(limit);
    const goal = kind === "decoded" ? undefined : BATCH_TARGET_RATIO[label];
    return {
      name: `embedded.consume.${label}.${kind}`,
      recordSizeBytes: valueBytes,
      records: last[kind].records,
      recordsPerSec: median(runFigures.map((f) => f.recordsPerSec)),
      mbPerSec,
      ratioToLimit,
      limit,
      p50Ms: null,
      p99Ms: null,
      runs: runFigures,
      params: {
        api: kind === "batch"
          ? "PartitionLog.read"
          : kind === "batch-into"
          ? "PartitionLog.read(offset, maxBytes, undefined, into): one lent buffer"
          : "PartitionLog.read + decodeBatches(bytes, verifyCrc true)",
        maxBytes: READ_BYTES_DEFAULT,
        verifyCrcOnRead: DEFAULT_LOG_CONFIG.verifyCrcOnRead,
        source: "page cache (the log was just written)",
        log: `embedded.produce.${label}.none, last measured run`,
        bytesPerRun: last[kind].bytes,
        wholeLog: kind !== "decoded",
        warmupRuns: plan.readWarmupRuns,
        measuredRuns: seconds[kind].length,
        ...(goal === undefined
          ? {}
          : { target: `ratioToLimit >= ${goal}`, targetMet: ratioToLimit >= goal }),
      },
    };
  });
}
