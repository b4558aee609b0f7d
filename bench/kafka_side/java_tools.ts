/**
 * Kafka's own Java perf tools, run through the installer's launcher (scripts/kafka_server.ts
 * runKafkaClass) with the JVM options Kafka's scripts give them (plan.ts JAVA_TOOL_ENV), and their
 * summary lines parsed. Kafka 4.4 marks --producer-props, --messages and EndToEndLatency's
 * positional arguments deprecated; the suite passes the same values through their replacements
 * (--command-property, --num-records, named arguments).
 *
 * - ProducerPerformance's last line: `N records sent, R records/sec (M MB/sec), A ms avg latency,
 *   X ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.` (its MB is 2^20 B;
 *   the suite reports 10^6 B from records/s and the record size instead). Its clock starts at the
 *   first send and stops once every record is acknowledged; its latencies are send-to-ack under
 *   saturation (mostly time queued in the producer's buffer).
 * - ConsumerPerformance's header and one data line: `start.time, end.time, data.consumed.in.MB,
 *   MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec,
 *   fetch.nMsg.sec`; fetch.nMsg.sec excludes the group join (rebalance.time.ms), as the librdkafka
 *   consumer's clock does.
 * - EndToEndLatency: `Avg latency: A ms` and `Percentiles: 50th = P50, 99th = P99, 99.9th = P999`
 *   (whole milliseconds: the tool rounds them down), one record sent and read back at a time.
 */
import { KAFKA_TOOLS, runKafkaClass, type RunResult } from "../../scripts/kafka_server.ts";
import { type Acks, E2E_TIMEOUT_MS, JAVA_TOOL_ENV, javaProducerProps } from "./plan.ts";

export interface ProducerPerfSummary {
  records: number;
  recordsPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export interface ConsumerPerfSummary {
  records: number;
  /** nMsg.sec: over the whole run, the group join included. */
  recordsPerSec: number;
  rebalanceMs: number;
  fetchMs: number;
  /** fetch.nMsg.sec: over the fetch time alone. */
  fetchRecordsPerSec: number;
}

export interface EndToEndSummary {
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

const NUMBER = String.raw`(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)`;
const PRODUCER_LINE = new RegExp(
  String.raw`^(\d+) records sent, ${NUMBER} records/sec \(${NUMBER} MB/sec\), ${NUMBER} ms avg ` +
    String.raw`latency, ${NUMBER} ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, ` +
    String.raw`(\d+) ms 99\.9th\.?$`,
);

/** The summary of ProducerPerformance's output (its last full line), or undefined. */
export function parseProducerPerf(stdout: string): ProducerPerfSummary | undefined {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "").reverse();
  for (const line of lines) {
    const m = PRODUCER_LINE.exec(line);
    if (m === null) continue;
    return {
      records: Number(m[1]),
      recordsPerSec: Number(m[2]),
      avgLatencyMs: Number(m[4]),
      maxLatencyMs: Number(m[5]),
      p50Ms: Number(m[6]),
      p95Ms: Number(m[7]),
      p99Ms: Number(m[8]),
      p999Ms: Number(m[9]),
    };
  }
  return undefined;
}

/** ConsumerPerformance's data line, by the names of its header, or undefined. */
export function parseConsumerPerf(stdout: string): ConsumerPerfSummary | undefined {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const h = lines.findIndex((l) => l.startsWith("start.time,"));
  if (h < 0 || h + 1 >= lines.length) return undefined;
  const names = lines[h].split(",").map((s) => s.trim());
  const values = lines[h + 1].split(",").map((s) => s.trim());
  if (values.length !== names.length) return undefined;
  const get = (name: string): number => {
    const i = names.indexOf(name);
    return i < 0 ? NaN : Number(values[i]);
  };
  const out = {
    records: get("data.consumed.in.nMsg"),
    recordsPerSec: get("nMsg.sec"),
    rebalanceMs: get("rebalance.time.ms"),
    fetchMs: get("fetch.time.ms"),
    fetchRecordsPerSec: get("fetch.nMsg.sec"),
  };
  return Object.values(out).every((v) => Number.isFinite(v)) ? out : undefined;
}

/** EndToEndLatency's average and percentiles, or undefined. */
export function parseEndToEnd(stdout: string): EndToEndSummary | undefined {
  const avg = new RegExp(String.raw`Avg latency: ${NUMBER} ms`).exec(stdout);
  const p = /Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)/.exec(stdout);
  if (avg === null || p === null) return undefined;
  return { avgMs: Number(avg[1]), p50Ms: Number(p[1]), p99Ms: Number(p[2]), p999Ms: Number(p[3]) };
}

/** A tool's failure: its command, exit code and the ends of its output. */
function toolError(what: string, r: RunResult): Error {
  return new Error(
    `${what}: exit code ${r.code} after ${r.ms} ms\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${
      r.stderr.slice(-2000)
    }`,
  );
}

export interface ToolRun<T> {
  summary: T;
  /** Wall time of the tool's process, JVM start included. */
  wallMs: number;
}

/** ProducerPerformance: `records` x `size` B to `topic`, unthrottled, with `acks`. */
export async function producerPerf(
  bootstrap: string,
  topic: string,
  records: number,
  size: number,
  acks: Acks,
  timeoutMs: number,
): Promise<ToolRun<ProducerPerfSummary>> {
  const props = Object.entries({ "bootstrap.servers": bootstrap, ...javaProducerProps(acks) })
    .map(([k, v]) => `${k}=${v}`);
  const r = await runKafkaClass(KAFKA_TOOLS.producerPerf, [
    "--topic",
    topic,
    "--num-records",
    String(records),
    "--record-size",
    String(size),
    "--throughput",
    "-1",
    "--command-property",
    ...props,
  ], { timeoutMs, env: JAVA_TOOL_ENV });
  const summary = r.code === 0 ? parseProducerPerf(r.stdout) : undefined;
  if (summary === undefined) throw toolError(`ProducerPerformance ${topic}`, r);
  if (summary.records !== records) {
    throw new Error(
      `ProducerPerformance ${topic}: ${summary.records} records sent, want ${records}`,
    );
  }
  return { summary, wallMs: r.ms };
}

/** ConsumerPerformance: `records` from `topic` from the start, a fresh group. */
export async function consumerPerf(
  bootstrap: string,
  topic: string,
  records: number,
  timeoutMs: number,
): Promise<ToolRun<ConsumerPerfSummary>> {
  const r = await runKafkaClass(KAFKA_TOOLS.consumerPerf, [
    "--bootstrap-server",
    bootstrap,
    "--topic",
    topic,
    "--num-records",
    String(records),
    "--group",
    `${topic}-perf-consumer`,
  ], { timeoutMs, env: JAVA_TOOL_ENV });
  const summary = r.code === 0 ? parseConsumerPerf(r.stdout) : undefined;
  if (summary === undefined) throw toolError(`ConsumerPerformance ${topic}`, r);
  if (summary.records < records) {
    throw new Error(`ConsumerPerformance ${topic}: ${summary.records} records, want ${records}`);
  }
  return { summary, wallMs: r.ms };
}

/** EndToEndLatency: `records` of `size` B, one at a time, to a topic the tool creates. */
export async function endToEndLatency(
  bootstrap: string,
  topic: string,
  records: number,
  size: number,
  acks: Acks,
): Promise<ToolRun<EndToEndSummary>> {
  const r = await runKafkaClass(KAFKA_TOOLS.endToEndLatency, [
    "--bootstrap-server",
    bootstrap,
    "--topic",
    topic,
    "--num-records",
    String(records),
    "--producer-acks",
    acks,
    "--record-size",
    String(size),
  ], { timeoutMs: E2E_TIMEOUT_MS, env: JAVA_TOOL_ENV });
  const summary = r.code === 0 ? parseEndToEnd(r.stdout) : undefined;
  if (summary === undefined) throw toolError(`EndToEndLatency ${topic}`, r);
  return { summary, wallMs: r.ms };
}
