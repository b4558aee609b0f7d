/**
 * The embedded suite's end-to-end latency scenarios (`embedded.e2e-latency.100B.rate-{10,50}pct`):
 * a Broker on a fresh data dir, one topic of 1 partition (flush none). An open-loop producer
 * appends single-record 100 B batches (appendBatches) on a fixed schedule at 10% and 50% of the
 * 1-record-batches rate, pacing with setImmediate (timers cannot pace intervals of tens of µs); a
 * consumer on the same event loop waits in Broker.fetch long polls (maxWaitMs 1000, minBytes 1) and
 * decodes what arrives. Latency is append call -> record decoded by the consumer; p50/p99/p999 over
 * the measured runs, and in params the same from each send's scheduled time (which adds the
 * producer's lateness). Producer and consumer share one thread: when the pair cannot keep the rate,
 * the run sends the same count late, and `params.achievedFraction` < 1 says so (the from-schedule
 * percentiles grow).
 */
import { Broker } from "../../src/broker/broker.ts";
import { silentLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import { READ_BYTES_DEFAULT } from "../../src/storage/partition_log.ts";
import { MB, median, percentile, randomBytes, sizeLabel } from "../bench_util.ts";
import { freshDir, removeDir } from "../storage_bench.ts";
import type { RunFigure, ScenarioResult, SuiteOptions } from "../types.ts";
import { type Plan, TIMESTAMP_MS } from "./plan.ts";

const E2E_RATE_FRACTIONS = [0.1, 0.5] as const;
const E2E_VALUE_BYTES = 100;
const E2E_MAX_WAIT_MS = 1_000;
/** Every latency sample is kept; this bounds the arrays (a run stops sending at the bound). */
const E2E_SENDS_PER_RUN_MAX = 2_000_000;

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

/** The e2e-latency scenarios at fractions of `maxAppendsPerSec` (the 1-record-batches rate). */
export async function benchE2e(
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
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        p999Ms: percentile(lat, 99.9),
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
          p50FromScheduleMs: percentile(late, 50),
          p99FromScheduleMs: percentile(late, 99),
          p999FromScheduleMs: percentile(late, 99.9),
        },
      });
    }
  } finally {
    await broker.close();
    removeDir(dataDir);
  }
  return results;
}
