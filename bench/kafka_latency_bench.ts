/**
 * End-to-end latency over the Kafka protocol (issue 17's row "end-to-end p99 over the Kafka
 * protocol, paced producer -> consumer, other processes; goal <= 3 ms up to 50% of the consumer's
 * max rate").
 *
 * A real server (bench_server.ts, started as `deno task start` starts it) with its Kafka listener;
 * a producer and a consumer, each a process of its own (bench/kafka_latency/clients.ts), all
 * sharing the machine's cores. 100 B records on a one-partition topic.
 *
 * Clients (--client, or SLUICE_LATENCY_CLIENT):
 * - `java` (default): Kafka's own Java client (kafka-clients 4.x, scripts/install-kafka-java.sh),
 *   bench/kafka_latency/LatencyClient.java compiled with javac at bench time. Producer: acks=all,
 *   linger.ms=0, batch.size 256 KiB (with the default 16 KiB the producer tops out below 50% of
 *   the consumer's rate, Kafka or Sluice), no compression, idempotence off, max.in.flight 5; paced in 1 ms
 *   slices (each slice hands send() every record due by then). Consumer: assigned (no group),
 *   fetch.max.wait.ms 100, fetch.min.bytes 1, max.poll.records 10,000. JVMs: -XX:+UseSerialGC
 *   -Xms1g -Xmx1g. The first WARMUP_SECONDS of each paced run are sent and read but not
 *   counted (the JVMs compile their hot paths then).
 * - `python`: librdkafka 2.0.2 through /usr/bin/python3 confluent-kafka (bench/kafka_latency.py;
 *   its header has its settings). It cannot keep its schedule from about 50% of the consumer's max
 *   rate on 2 cores: the figures then are the client's.
 * - `c`: librdkafka 2.x from C (bench/kafka_latency/latency_client.c, compiled with gcc against
 *   the build of scripts/install-node-rdkafka.sh), the Java client's settings, pacing, time stamps
 *   and warm-up, Nagle off: the client that costs the cores least.
 * A client missing: the suite is skipped with the reason.
 *
 * 1. The consumer's max rate: `fill` writes N records as fast as it can, then a consumer reads
 *    them from offset 0; rate = N / (last record's receipt - first's).
 * 2. For each fraction f of that rate (10%, 25%, 50%, 75%): a fresh topic, a consumer assigned at
 *    offset 0 (it says when its first fetch was answered), then a producer paced at f * max for
 *    PACED_SECONDS (plus the warm-up). Each record carries a CLOCK_MONOTONIC time (Java: when it
 *    was handed to send(), as Kafka's EndToEndLatency measures; c: to rd_kafka_produce(); python:
 *    when it was due, so a late producer counts); the consumer's receipt time minus it gives p50,
 *    p90, p99, p99.9 and max.
 *    "late" is how far behind its schedule the producer ran at most; "ack p50/p99" (Java, c) the
 *    producer's send()-to-acknowledgement times: the producer's half of the path.
 *
 * With --kafka (or SLUICE_LATENCY_KAFKA=1) the same runs go to Apache Kafka 4.4 too
 * (scripts/kafka_server.ts startKafka, scripts/install-kafka.sh; heap -Xmx1G -Xms1G as
 * kafka-server-start.sh gives it, its defaults otherwise: no fsync either), up beside Sluice for
 * the whole suite, at the same rates (fractions of Sluice's consumer max rate); the two take turns
 * on each fraction, who goes first flipping, so a load change hits both alike. Kafka's own max-rate
 * run comes first and doubles as its JIT warm-up. Kafka not installed: its rows are skipped with
 * a note.
 *
 * Opt-in (deno task bench --scenario kafka-latency); not part of `deno task test`.
 *
 * Run: deno run -A bench/kafka_latency_bench.ts [--quick] [--client java|python|c] [--kafka]
 *      [--cpu-prof-dir DIR]
 */
import process from "node:process";
import { cliOptions, fixed, textTable } from "./bench_util.ts";
import { withServer } from "./bench_server.ts";
import { createTopic } from "./http/requests.ts";
import {
  type LatencyClient,
  latencyClient,
  type LatencyClientKind,
  runClient,
} from "./kafka_latency/clients.ts";
import { kafkaAvailable, type RunningKafka, startKafka } from "../scripts/kafka_server.ts";

const VALUE_BYTES = 100;
/** Records for the consumer's max-rate run. */
const MAX_RATE_RECORDS = { full: 1_000_000, quick: 200_000 };
/** Seconds each paced run is measured for. */
const PACED_SECONDS = { full: 10, quick: 4 };
/** Seconds each paced run sends first without counting them (Java client: the JIT's warm-up). */
const WARMUP_SECONDS = 2;
export const LATENCY_FRACTIONS = [0.1, 0.25, 0.5, 0.75] as const;
/** The Kafka reference's heap, as kafka-server-start.sh gives it. */
const KAFKA_ENV = { KAFKA_HEAP_OPTS: "-Xmx1G -Xms1G" };

export interface LatencyRow {
  /** Fraction of the consumer's max rate. */
  fraction: number;
  ratePerSec: number;
  /** Records counted (the warm-up's not). */
  records: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** How late the producer ran at most (its own scheduling). */
  producerLateMaxMs: number;
  /** send() to acknowledgement, p50 and p99 (Java and C clients): the producer's half. */
  ackP50Ms?: number;
  ackP99Ms?: number;
}

export interface LatencyBenchResult {
  /** The client both sides ran ("Kafka Java client 4.4.0"). */
  client?: string;
  consumerMaxRatePerSec: number;
  rows: LatencyRow[];
  /** The same runs against Apache Kafka (--kafka); `skipped` when it is not installed. */
  kafka?: { consumerMaxRatePerSec: number; rows: LatencyRow[]; skipped?: string };
  skipped?: string;
}

function last(lines: Record<string, unknown>[]): Record<string, number> {
  return lines[lines.length - 1] as Record<string, number>;
}

/** fill + drain: the consumer's max rate on `bootstrap`. */
async function maxRate(
  client: LatencyClient,
  bootstrap: string,
  topic: string,
  n: number,
): Promise<number> {
  await runClient(client, ["fill", bootstrap, topic, String(n), String(VALUE_BYTES)]).done;
  const drained = last(await runClient(client, ["drain", bootstrap, topic, String(n), "0"]).done);
  return n / drained.seconds;
}

/** One paced run on a fresh topic (made by `create`, or by the consumer's metadata request). */
async function pacedRun(
  client: LatencyClient,
  bootstrap: string,
  topic: string,
  fraction: number,
  rate: number,
  seconds: number,
  warmupSeconds: number,
): Promise<LatencyRow> {
  const warmup = client.warmup ? Math.round(rate * warmupSeconds) : 0;
  const records = Math.max(1, Math.round(rate * seconds)) + warmup;
  const consumer = runClient(client, [
    "consume",
    bootstrap,
    topic,
    String(records),
    "0",
    String(warmup),
  ]);
  await consumer.ready;
  const producer = runClient(client, [
    "produce",
    bootstrap,
    topic,
    String(rate),
    String(records),
    String(VALUE_BYTES),
    String(warmup),
  ]);
  const [c, p] = await Promise.all([consumer.done, producer.done]);
  const lat = last(c);
  return {
    fraction,
    ratePerSec: rate,
    records: lat.records,
    p50Ms: lat.p50Ms,
    p90Ms: lat.p90Ms,
    p99Ms: lat.p99Ms,
    p999Ms: lat.p999Ms,
    maxMs: lat.maxMs,
    producerLateMaxMs: last(p).lateMaxMs,
    ackP50Ms: last(p).ackP50Ms,
    ackP99Ms: last(p).ackP99Ms,
  };
}

function rowLine(who: string, row: LatencyRow): string {
  return `kafka-latency: ${who} ${row.fraction * 100}% (${row.ratePerSec}/s): p50 ${
    fixed(row.p50Ms, 2)
  } ms, p99 ${fixed(row.p99Ms, 2)} ms, max ${fixed(row.maxMs, 1)} ms, producer late ${
    fixed(row.producerLateMaxMs, 1)
  } ms`;
}

/** The client kind from --client / SLUICE_LATENCY_CLIENT (default java). */
export function clientKindOf(args: readonly string[], env: Record<string, string | undefined>) {
  const at = args.indexOf("--client");
  const kind = at >= 0 ? args[at + 1] : env.SLUICE_LATENCY_CLIENT || "java";
  if (kind !== "java" && kind !== "python" && kind !== "c") {
    throw new Error(`--client ${kind}: java, python or c`);
  }
  return kind as LatencyClientKind;
}

/** Runs the bench against a fresh server (and Kafka with `kafka`). */
export async function runKafkaLatencyBench(opts: {
  quick: boolean;
  cpuProfileDir?: string;
  log?: (line: string) => void;
  /** Default: --client / SLUICE_LATENCY_CLIENT, else java. */
  client?: LatencyClientKind;
  /** The same runs against Apache Kafka too (default: SLUICE_LATENCY_KAFKA=1). */
  kafka?: boolean;
  /**
   * Overrides (tests): records of the max-rate run, seconds of each paced run and of its warm-up,
   * fractions.
   */
  maxRateRecords?: number;
  pacedSeconds?: number;
  warmupSeconds?: number;
  fractions?: readonly number[];
}): Promise<LatencyBenchResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const kind = opts.client ?? clientKindOf([], process.env);
  const client = await latencyClient(kind);
  if ("error" in client) return { consumerMaxRatePerSec: 0, rows: [], skipped: client.error };
  const size = opts.quick ? "quick" : "full";
  const result: LatencyBenchResult = { client: client.label, consumerMaxRatePerSec: 0, rows: [] };
  const withKafka = opts.kafka ?? process.env.SLUICE_LATENCY_KAFKA === "1";
  let kafka: RunningKafka | undefined;
  try {
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
      log(`kafka-latency: client ${client.label}`);
      await createTopic(server.url, "latency-max", 1);
      result.consumerMaxRatePerSec = await maxRate(client, bootstrap, "latency-max", n);
      log(`kafka-latency: sluice consumer max rate ${Math.round(result.consumerMaxRatePerSec)}/s`);
      if (withKafka && !kafkaAvailable) {
        result.kafka = { consumerMaxRatePerSec: 0, rows: [], skipped: "scripts/install-kafka.sh" };
      } else if (withKafka) {
        kafka = await startKafka({ env: KAFKA_ENV, tempPrefix: "sluice-kafka-latency-ref-" });
        log(`kafka-latency: Kafka ${kafka.bootstrap} (pid ${kafka.pid}) up`);
        result.kafka = {
          consumerMaxRatePerSec: await maxRate(client, kafka.bootstrap, "latency-max", n),
          rows: [],
        };
        log(
          `kafka-latency: kafka consumer max rate ${
            Math.round(result.kafka.consumerMaxRatePerSec)
          }/s`,
        );
      }
      // The max-rate runs left 100+ MB of dirty pages (each broker's log): written back now, not
      // by the kernel's flusher in the middle of a paced run (30 s later, on one side only).
      await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
      const fractions = opts.fractions ?? LATENCY_FRACTIONS;
      const seconds = opts.pacedSeconds ?? PACED_SECONDS[size];
      const warmupSeconds = opts.warmupSeconds ?? WARMUP_SECONDS;
      for (let i = 0; i < fractions.length; i++) {
        const fraction = fractions[i];
        const rate = Math.max(1, Math.round(result.consumerMaxRatePerSec * fraction));
        const topic = `latency-${Math.round(fraction * 1000)}`;
        const sluiceRun = async () => {
          await createTopic(server.url, topic, 1);
          const row = await pacedRun(
            client,
            bootstrap,
            topic,
            fraction,
            rate,
            seconds,
            warmupSeconds,
          );
          result.rows.push(row);
          log(rowLine("sluice", row));
        };
        const kafkaRun = async () => {
          if (kafka === undefined) return;
          // Kafka makes the topic at the consumer's first metadata request (auto-create).
          const row = await pacedRun(
            client,
            kafka.bootstrap,
            topic,
            fraction,
            rate,
            seconds,
            warmupSeconds,
          );
          result.kafka!.rows.push(row);
          log(rowLine("kafka", row));
        };
        if (i % 2 === 0) {
          await sluiceRun();
          await kafkaRun();
        } else {
          await kafkaRun();
          await sluiceRun();
        }
      }
    });
  } finally {
    await kafka?.stop();
    await client.dispose();
  }
  return result;
}

function rowsTable(rows: readonly LatencyRow[], kafka?: readonly LatencyRow[]): string {
  const head = [
    "of max",
    "records/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "late",
    "ack p50",
    "ack p99",
  ];
  const line = (who: string, row: LatencyRow) => [
    `${row.fraction * 100}%${who}`,
    String(row.ratePerSec),
    fixed(row.p50Ms, 2),
    fixed(row.p90Ms, 2),
    fixed(row.p99Ms, 2),
    fixed(row.p999Ms, 2),
    fixed(row.maxMs, 1),
    fixed(row.producerLateMaxMs, 1),
    row.ackP50Ms === undefined ? "-" : fixed(row.ackP50Ms, 2),
    row.ackP99Ms === undefined ? "-" : fixed(row.ackP99Ms, 2),
  ];
  const body: string[][] = [];
  for (const row of rows) {
    body.push(line(kafka === undefined ? "" : " sluice", row));
    const k = kafka?.find((r) => r.fraction === row.fraction);
    if (k !== undefined) body.push(line(" kafka", k));
  }
  return textTable([head, ...body]);
}

/** The result as a table for people. */
export function latencyTable(r: LatencyBenchResult): string {
  if (r.skipped !== undefined) return `kafka-latency: skipped: ${r.skipped}`;
  const lines = [
    `client: ${r.client ?? "librdkafka"}; 100 B records, 1 partition`,
    `consumer max rate (sluice): ${Math.round(r.consumerMaxRatePerSec)} records/s`,
  ];
  if (r.kafka?.skipped !== undefined) lines.push(`kafka: skipped: ${r.kafka.skipped}`);
  else if (r.kafka !== undefined) {
    lines.push(
      `consumer max rate (kafka): ${Math.round(r.kafka.consumerMaxRatePerSec)} records/s ` +
        "(the rates below are fractions of Sluice's)",
    );
  }
  lines.push(rowsTable(r.rows, r.kafka?.skipped === undefined ? r.kafka?.rows : undefined));
  return lines.join("\n");
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const o = cliOptions(args, process.env);
  const r = await runKafkaLatencyBench({
    quick: o.quick,
    cpuProfileDir: o.cpuProfileDir,
    client: clientKindOf(args, process.env),
    kafka: args.includes("--kafka") || process.env.SLUICE_LATENCY_KAFKA === "1",
  });
  console.log(latencyTable(r));
}
