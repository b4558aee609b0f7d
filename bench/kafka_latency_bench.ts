/**
 * End-to-end latency over the Kafka protocol (issue 17's row "end-to-end p99 over the Kafka
 * protocol, paced producer -> consumer, other processes; goal <= 3 ms up to 50% of the consumer's
 * max rate").
 *
 * A real server (bench_server.ts) with its Kafka listener; librdkafka producer and consumer, each
 * its own python3 process (bench/kafka_latency.py, python3-confluent-kafka), all sharing the
 * machine's cores. 100 B records on a one-partition topic.
 *
 * 1. The consumer's max rate: `fill` writes N records as fast as it can, then a consumer reads
 *    them from offset 0; rate = N / (last record's receipt - first's).
 * 2. For each fraction f of that rate (10%, 25%, 50%, 75%): a fresh topic, a consumer assigned at
 *    offset 0 (it says when its first fetch was answered), then a producer paced at f * max for
 *    PACED_SECONDS; every record carries its due time (CLOCK_MONOTONIC ns), so a late producer
 *    counts against the latency. The consumer's receipt time minus the due time gives p50, p99,
 *    p99.9 and max.
 *
 * Run: deno run -A bench/kafka_latency_bench.ts [--quick] [--cpu-prof-dir DIR]
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { cliOptions, fixed, textTable } from "./bench_util.ts";
import { withServer } from "./bench_server.ts";
import { createTopic } from "./http/requests.ts";
import { probeClient, pythonPath } from "./kafka_client/librdkafka.ts";

const SCRIPT = new URL("./kafka_latency.py", import.meta.url).pathname;
const VALUE_BYTES = 100;
/** Records for the consumer's max-rate run. */
const MAX_RATE_RECORDS = { full: 1_000_000, quick: 200_000 };
/** Seconds each paced run sends for. */
const PACED_SECONDS = { full: 10, quick: 4 };
export const LATENCY_FRACTIONS = [0.1, 0.25, 0.5, 0.75] as const;
/** A client process that has not answered in this long is killed. */
const CLIENT_TIMEOUT_MS = 180_000;

export interface LatencyRow {
  /** Fraction of the consumer's max rate. */
  fraction: number;
  ratePerSec: number;
  records: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** How late the producer ran at most (its own scheduling, counted in the latency). */
  producerLateMaxMs: number;
}

export interface LatencyBenchResult {
  consumerMaxRatePerSec: number;
  rows: LatencyRow[];
  skipped?: string;
}

interface ClientProcess {
  /** Resolves with the JSON lines the process printed, rejects on a failure. */
  done: Promise<Record<string, unknown>[]>;
  /** Resolves at the first line that has `ready`. */
  ready: Promise<void>;
}

function runClient(python: string, args: string[]): ClientProcess {
  const child = spawn(python, [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  let buffered = "";
  let stderr = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<Record<string, unknown>[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kafka_latency.py ${args[0]} gave no answer in ${CLIENT_TIMEOUT_MS} ms`));
    }, CLIENT_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Uint8Array) => {
      buffered += new TextDecoder().decode(chunk);
      let at: number;
      while ((at = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, at).trim();
        buffered = buffered.slice(at + 1);
        if (line === "") continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (parsed.ready === true) onReady();
      }
    });
    child.stderr.on("data", (chunk: Uint8Array) => {
      stderr = (stderr + new TextDecoder().decode(chunk)).slice(-2000);
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      const failed = lines.find((l) => l.error !== undefined);
      if (code === 0 && failed === undefined) resolve(lines);
      else {
        reject(
          new Error(
            `kafka_latency.py ${args[0]}: ${failed?.error ?? `exit code ${code}`} ${stderr.trim()}`,
          ),
        );
      }
    });
  });
  done.catch(() => onReady());
  return { done, ready };
}

function last(lines: Record<string, unknown>[]): Record<string, number> {
  return lines[lines.length - 1] as Record<string, number>;
}

/** Runs the bench against a fresh server. */
export async function runKafkaLatencyBench(opts: {
  quick: boolean;
  cpuProfileDir?: string;
  log?: (line: string) => void;
  /** Overrides (tests): records of the max-rate run, seconds of each paced run, fractions. */
  maxRateRecords?: number;
  pacedSeconds?: number;
  fractions?: readonly number[];
}): Promise<LatencyBenchResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const python = pythonPath();
  const probe = probeClient(python);
  if ("error" in probe) return { consumerMaxRatePerSec: 0, rows: [], skipped: probe.error };
  const size = opts.quick ? "quick" : "full";
  const result: LatencyBenchResult = { consumerMaxRatePerSec: 0, rows: [] };
  await withServer({
    label: "kafka-latency",
    tempPrefix: "sluice-kafka-latency-bench-",
    note: "the server and both clients share the cores",
    log,
    cpuProfileDir: opts.cpuProfileDir,
    kafkaPort: "auto",
  }, async (server) => {
    const bootstrap = server.kafka;
    if (bootstrap === undefined) throw new Error("the server's Kafka listener is off");
    const n = opts.maxRateRecords ?? MAX_RATE_RECORDS[size];
    await createTopic(server.url, "latency-max", 1);
    await runClient(python, ["fill", bootstrap, "latency-max", String(n), String(VALUE_BYTES)])
      .done;
    const drained = last(
      await runClient(python, ["drain", bootstrap, "latency-max", String(n), "0"]).done,
    );
    result.consumerMaxRatePerSec = n / drained.seconds;
    log(
      `kafka-latency: consumer max rate ${Math.round(result.consumerMaxRatePerSec)} records/s`,
    );
    for (const fraction of opts.fractions ?? LATENCY_FRACTIONS) {
      const rate = Math.max(1, Math.round(result.consumerMaxRatePerSec * fraction));
      const records = Math.max(1, Math.round(rate * (opts.pacedSeconds ?? PACED_SECONDS[size])));
      const topic = `latency-${Math.round(fraction * 100)}`;
      await createTopic(server.url, topic, 1);
      const consumer = runClient(python, ["consume", bootstrap, topic, String(records), "0"]);
      await consumer.ready;
      const producer = runClient(python, [
        "produce",
        bootstrap,
        topic,
        String(rate),
        String(records),
        String(VALUE_BYTES),
      ]);
      const [c, p] = await Promise.all([consumer.done, producer.done]);
      const lat = last(c);
      const row: LatencyRow = {
        fraction,
        ratePerSec: rate,
        records,
        p50Ms: lat.p50Ms,
        p90Ms: lat.p90Ms,
        p99Ms: lat.p99Ms,
        p999Ms: lat.p999Ms,
        maxMs: lat.maxMs,
        producerLateMaxMs: last(p).lateMaxMs,
      };
      result.rows.push(row);
      log(
        `kafka-latency: ${fraction * 100}% (${rate}/s): p50 ${fixed(row.p50Ms, 2)} ms, p99 ${
          fixed(row.p99Ms, 2)
        } ms, max ${fixed(row.maxMs, 1)} ms`,
      );
    }
  });
  return result;
}

/** The result as a table for people. */
export function latencyTable(r: LatencyBenchResult): string {
  if (r.skipped !== undefined) return `kafka-latency: skipped: ${r.skipped}`;
  const head = ["of max", "records/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "late"];
  return [
    `consumer max rate (librdkafka, 100 B): ${Math.round(r.consumerMaxRatePerSec)} records/s`,
    textTable([
      head,
      ...r.rows.map((row) => [
        `${row.fraction * 100}%`,
        String(row.ratePerSec),
        fixed(row.p50Ms, 2),
        fixed(row.p90Ms, 2),
        fixed(row.p99Ms, 2),
        fixed(row.p999Ms, 2),
        fixed(row.maxMs, 1),
        fixed(row.producerLateMaxMs, 1),
      ]),
    ]),
  ].join("\n");
}

if (import.meta.main) {
  const o = cliOptions(process.argv.slice(2), process.env);
  const r = await runKafkaLatencyBench({ quick: o.quick, cpuProfileDir: o.cpuProfileDir });
  console.log(latencyTable(r));
}
