/**
 * `kafka-clean/<size>` for bench/compaction_bench.ts (`--kafka`): Apache Kafka 4.4's own log
 * cleaner on the same dirty log as Sluice's `clean/<size>`, beside it in the same run.
 *
 * One broker (scripts/kafka_server.ts's startKafka) with one cleaner thread
 * (log.cleaner.threads=1), a dedupe buffer sized as Sluice's bench sizes its offset map (two
 * 24-byte slots per key: one pass holds every key) and the cleaner's io limit left at Kafka's
 * default (unlimited). Per size a topic of one partition, cleanup.policy=compact,
 * segment.bytes=16 MiB, min.cleanable.dirty.ratio=0.01, segment.ms at its maximum (the records'
 * timestamps are from 2023: a time roll would otherwise close a segment after every batch), gets
 * the very batches Sluice's bench appends (compaction_bench.ts's dirtyBatches, round robin, until
 * as many bytes), one RecordBatch per Produce request (acks=1; pipelined), so its segments roll
 * where Sluice's do. While it is written, min.compaction.lag.ms is at its maximum, so the cleaner
 * leaves it alone; the baseline read (rawReadRun, the median of three after a warm-up read) is
 * then taken on the partition's .log files, and min.compaction.lag.ms is set to 0
 * (IncrementalAlterConfigs): the cleaner's next wake-up (log.cleaner.backoff.ms) cleans every
 * closed segment in one pass, as Sluice's cleanNow.
 *
 * The clean's time is Kafka's own: LogCleaner logs INFO to the broker's logs/server.log
 * (the installer's log4j2 config sends every logger there), "Beginning cleaning of log T-0" when
 * a clean starts and the stats block when it is done ("Log cleaner thread 0 cleaned log T-0
 * (dirty section = [a, b])", "N MB of log processed in S seconds (R MB/sec).", "Indexed ...",
 * "Buffer utilization", "Cleaned ...", "Start size", "End size"). Its seconds are printed with
 * one decimal, so `seconds` is the span between those two lines' millisecond timestamps, and the
 * printed figures are in params.kafka as Kafka gives them (its MB are MiB). dirtyBytes: the closed
 * segments' .log bytes before the clean; bytesAfter: theirs after it; cleanerCpuSeconds: the
 * cleaner thread's CPU (/proc/PID/task/TID, 10 ms ticks) and jvmCpuSeconds the JVM's (all threads:
 * GC and JIT too), from the config change until the stats were seen.
 *
 * Each size's clean is run first on a topic of its own and not reported: the first cleans of a JVM
 * run the cleaner's code interpreted or half compiled (an 8 MiB warm-up left the next clean's
 * first segment twice as slow as its second), a long-running broker's is compiled.
 */
import { join } from "node:path";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import {
  CREATE_TOPICS_REQUEST,
  CREATE_TOPICS_RESPONSE,
} from "../../src/kafka_protocol/messages/create_topics.ts";
import {
  INCREMENTAL_ALTER_CONFIGS_REQUEST,
  INCREMENTAL_ALTER_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/alter_configs.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import {
  KAFKA_DIR,
  kafkaAvailable,
  type RunningKafka,
  startKafka,
} from "../../scripts/kafka_server.ts";
import { processCpuSeconds } from "../bench_server.ts";
import { fixed, MB, MiB } from "../bench_util.ts";
// Types only: compaction_bench.ts loads this module (a value import would be a cycle).
import type { CompactionBenchResult } from "../compaction_bench.ts";
import { rawReadRun, segmentFiles } from "../storage_bench.ts";
import { KafkaWire } from "./kafka_wire.ts";

/** Same as Sluice's bench (compaction_bench.ts config()). */
const SEGMENT_BYTES = 16 * MiB;
/** The cleaner's idle wait between looks for a log to clean (Kafka's default: 15 s). */
const CLEANER_BACKOFF_MS = 100;
/** Produce requests in flight on the one connection. */
const PRODUCE_WINDOW = 32;
const PRODUCE_VERSION = 8;
const PRODUCE_TIMEOUT_MS = 30_000;
/** How long the first Produce is retried while the new partition gets its leader. */
const LEADER_WAIT_MS = 20_000;
/** How long a clean may take to start and end once min.compaction.lag.ms is 0. */
const CLEAN_WAIT_MS = 120_000;
const LOG_POLL_MS = 50;
/** Java's Long.MAX_VALUE: segment.ms and min.compaction.lag.ms while the topic is written. */
const LONG_MAX = "9223372036854775807";
/** Kafka's retriable errors while a new partition's leader is elected. */
const NOT_READY = new Set([3, 5, 6]); // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER
const TOPIC_RESOURCE = 2;
const SET = 0;

/** The stats block Kafka's LogCleaner logs for one clean, with the clean's log timestamps. */
export interface KafkaCleanStats {
  /** ms between "Beginning cleaning of log" and the stats block (log4j's timestamps). */
  spanMs: number;
  dirtyStart: number;
  dirtyEnd: number;
  /** As printed: MiB read by the clean pass, its seconds (1 decimal) and MiB/s. */
  processedMiB: number;
  seconds: number;
  mibPerSec: number;
  indexedMiB: number;
  indexSeconds: number;
  indexMibPerSec: number;
  indexPercent: number;
  bufferUtilizationPercent: number;
  cleanedMiB: number;
  cleanSeconds: number;
  cleanMibPerSec: number;
  cleanPercent: number;
  startMiB: number;
  startMessages: number;
  endMiB: number;
  endMessages: number;
}

const num = (s: string) => Number(s.replaceAll(",", ""));

/** log4j's `[yyyy-MM-dd HH:mm:ss,SSS]` as ms (the clock's zone does not matter to a span). */
function stampMs(line: string): number {
  const m = line.match(/^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})\]/);
  if (!m) return NaN;
  return Date.parse(`${m[1]}T${m[2]}.${m[3]}Z`);
}

/**
 * The stats of the first clean of `partition` (`topic-0`) in `log`, or undefined when the log does
 * not hold a whole one yet.
 */
export function parseCleanStats(log: string, partition: string): KafkaCleanStats | undefined {
  const lines = log.split("\n");
  const begin = lines.findIndex((l) => l.includes(`Beginning cleaning of log ${partition} `));
  if (begin < 0) return undefined;
  const at = lines.findIndex((l, i) => i > begin && l.includes(`cleaned log ${partition} `));
  if (at < 0) return undefined;
  // The block is one log event whose message starts with a line break: the timestamp is on the
  // nearest line above that starts one.
  const block = lines.slice(at, at + 12).join("\n");
  let stamped = at;
  while (stamped > begin && !lines[stamped].startsWith("[")) stamped--;
  const end = lines[stamped];
  const re = (r: RegExp) => {
    const m = block.match(r);
    if (!m) throw new Error(`Kafka's cleaner stats: no ${r} in\n${block}`);
    return m;
  };
  const section = re(/dirty section = \[(\d+), (\d+)\]/);
  const processed = re(/([\d.,]+) MB of log processed in ([\d.,]+) seconds \(([\d.,]+) MB\/sec\)/);
  const indexed = re(/Indexed ([\d.,]+) MB in ([\d.,]+) seconds \(([\d.,]+) Mb\/sec, ([\d.,]+)%/);
  const buffer = re(/Buffer utilization: ([\d.,]+)%/);
  const cleaned = re(/Cleaned ([\d.,]+) MB in ([\d.,]+) seconds \(([\d.,]+) Mb\/sec, ([\d.,]+)%/);
  const start = re(/Start size: ([\d.,]+) MB \(([\d,]+) messages\)/);
  const endSize = re(/End size: ([\d.,]+) MB \(([\d,]+) messages\)/);
  return {
    spanMs: stampMs(end) - stampMs(lines[begin]),
    dirtyStart: num(section[1]),
    dirtyEnd: num(section[2]),
    processedMiB: num(processed[1]),
    seconds: num(processed[2]),
    mibPerSec: num(processed[3]),
    indexedMiB: num(indexed[1]),
    indexSeconds: num(indexed[2]),
    indexMibPerSec: num(indexed[3]),
    indexPercent: num(indexed[4]),
    bufferUtilizationPercent: num(buffer[1]),
    cleanedMiB: num(cleaned[1]),
    cleanSeconds: num(cleaned[2]),
    cleanMibPerSec: num(cleaned[3]),
    cleanPercent: num(cleaned[4]),
    startMiB: num(start[1]),
    startMessages: num(start[2]),
    endMiB: num(endSize[1]),
    endMessages: num(endSize[2]),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function check(what: string, errorCode: unknown, message?: unknown): void {
  if (errorCode !== 0) throw new Error(`${what}: Kafka error ${errorCode} ${message ?? ""}`);
}

async function createTopic(wire: KafkaWire, topic: string, segmentBytes: number): Promise<void> {
  const configs: Record<string, string> = {
    "cleanup.policy": "compact",
    "segment.bytes": String(segmentBytes),
    "segment.ms": LONG_MAX,
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": LONG_MAX,
  };
  const answer = await wire.send(CREATE_TOPICS_REQUEST, CREATE_TOPICS_RESPONSE, 4, {
    topics: [{
      name: topic,
      numPartitions: 1,
      replicationFactor: 1,
      assignments: [],
      configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
    }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  const t = (answer.topics as Struct[])[0];
  check(`CreateTopics ${topic}`, t.errorCode, t.errorMessage);
}

function produce(wire: KafkaWire, topic: string, batch: Uint8Array): Promise<number> {
  return wire.send(PRODUCE_REQUEST, PRODUCE_RESPONSE, PRODUCE_VERSION, {
    transactionalId: null,
    acks: 1,
    timeoutMs: PRODUCE_TIMEOUT_MS,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
  }).then((answer) => {
    const p = ((answer.responses as Struct[])[0].partitionResponses as Struct[])[0];
    return p.errorCode as number;
  });
}

/** Appends `batches` round robin until `bytes` are written, one batch per Produce request. */
async function writeTopic(
  wire: KafkaWire,
  topic: string,
  batches: readonly Uint8Array[],
  bytes: number,
): Promise<void> {
  // The first batch alone, until the new partition has its leader (a refused one is not stored).
  const deadline = performance.now() + LEADER_WAIT_MS;
  for (;;) {
    const code = await produce(wire, topic, batches[0]);
    if (code === 0) break;
    if (!NOT_READY.has(code) || performance.now() > deadline) check(`Produce ${topic}`, code);
    await sleep(100);
  }
  const inFlight = new Set<Promise<void>>();
  for (let written = batches[0].length, i = 1; written < bytes; i++) {
    const batch = batches[i % batches.length];
    const sent: Promise<void> = produce(wire, topic, batch).then((code) => {
      inFlight.delete(sent);
      check(`Produce ${topic}`, code);
    });
    inFlight.add(sent);
    written += batch.length;
    if (inFlight.size >= PRODUCE_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

async function setCompactionLag(wire: KafkaWire, topic: string, ms: string): Promise<void> {
  const answer = await wire.send(
    INCREMENTAL_ALTER_CONFIGS_REQUEST,
    INCREMENTAL_ALTER_CONFIGS_RESPONSE,
    0,
    {
      resources: [{
        resourceType: TOPIC_RESOURCE,
        resourceName: topic,
        configs: [{ name: "min.compaction.lag.ms", configOperation: SET, value: ms }],
      }],
      validateOnly: false,
    },
  );
  const r = (answer.responses as Struct[])[0];
  check(`IncrementalAlterConfigs ${topic}`, r.errorCode, r.errorMessage);
}

/** The native name (15 characters at most) of Kafka's cleaner thread 0: kafka-log-cleaner-thread-0. */
const CLEANER_THREAD_COMM = "kafka-log-clean";

/** CPU seconds (user + system) of `pid`'s thread named `comm` so far; undefined off Linux. */
function threadCpuSeconds(pid: number, comm: string): number | undefined {
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${task.name}`;
      if (Deno.readTextFileSync(`${dir}/comm`).trim() !== comm) continue;
      const stat = Deno.readTextFileSync(`${dir}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
    }
  } catch { /* no /proc */ }
  return undefined;
}

/** Linux's USER_HZ: /proc's CPU times are in these ticks. */
const CLOCK_TICKS_PER_SEC = 100;

function fileBytes(files: readonly string[]): number {
  return files.reduce((n, f) => n + Deno.statSync(f).size, 0);
}

/** What one clean of a topic gave: the bytes, the baseline reads' MB/s and Kafka's stats. */
interface TopicClean {
  dirtyBytes: number;
  bytesAfter: number;
  readMbPerSec: number[];
  stats: KafkaCleanStats;
  /** The JVM's CPU seconds (all its threads) from the config change to the stats being seen. */
  jvmCpuSeconds: number | undefined;
  /** The cleaner thread's own CPU seconds over the same span. */
  cleanerCpuSeconds: number | undefined;
}

/** Writes a topic paused for cleaning, reads its files, lets the cleaner in, waits for its stats. */
async function cleanTopic(
  kafka: RunningKafka,
  wire: KafkaWire,
  topic: string,
  batches: readonly Uint8Array[],
  bytes: number,
  segmentBytes: number,
): Promise<TopicClean> {
  await createTopic(wire, topic, segmentBytes);
  await writeTopic(wire, topic, batches, bytes);
  const dir = join(kafka.dir, "data", `${topic}-0`);
  const files = segmentFiles(dir);
  const closed = files.slice(0, -1); // the last is the active segment: never cleaned
  if (closed.length === 0) throw new Error(`${topic}: no closed segment`);
  const dirtyBytes = fileBytes(closed);
  const buffer = new Uint8Array(MiB);
  rawReadRun(files, buffer); // warm the page cache
  const readMbPerSec = [0, 1, 2].map(() => {
    const r = rawReadRun(files, buffer);
    return r.bytes / MB / r.seconds;
  }).sort((a, b) => a - b);
  const serverLog = join(kafka.dir, "logs", "server.log");
  const logFrom = Deno.statSync(serverLog).size;
  const cpu0 = processCpuSeconds(kafka.pid);
  const cleanerCpu0 = threadCpuSeconds(kafka.pid, CLEANER_THREAD_COMM);
  await setCompactionLag(wire, topic, "0");
  const deadline = performance.now() + CLEAN_WAIT_MS;
  const partition = `${topic}-0`;
  for (;;) {
    const file = await Deno.open(serverLog);
    let text: string;
    try {
      await file.seek(logFrom, Deno.SeekMode.Start);
      text = new TextDecoder().decode(await new Response(file.readable).arrayBuffer());
    } catch (err) {
      file.close();
      throw err;
    }
    const stats = parseCleanStats(text, partition);
    if (stats) {
      const cpu1 = processCpuSeconds(kafka.pid);
      const jvmCpuSeconds = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0;
      const cleanerCpu1 = threadCpuSeconds(kafka.pid, CLEANER_THREAD_COMM);
      const cleanerCpuSeconds = cleanerCpu0 === undefined || cleanerCpu1 === undefined
        ? undefined
        : cleanerCpu1 - cleanerCpu0;
      if (Deno.env.get("SLUICE_BENCH_DEBUG")) console.error(text);
      const after = segmentFiles(dir).filter((f) => !files.slice(-1).includes(f));
      return {
        dirtyBytes,
        bytesAfter: fileBytes(after),
        readMbPerSec,
        stats,
        jvmCpuSeconds,
        cleanerCpuSeconds,
      };
    }
    if (performance.now() > deadline) {
      throw new Error(`${topic}: no clean within ${CLEAN_WAIT_MS} ms\n${kafka.logTail(60)}`);
    }
    await sleep(LOG_POLL_MS);
  }
}

export interface KafkaCleanOptions {
  /** Dirty bytes per topic (Sluice's bench: 32 MiB quick, 256 MiB full). */
  bytes: number;
  valueSizes: readonly number[];
  /** Sluice's bench's key space for a dirty log of `bytes` (compaction_bench.ts cleanKeys). */
  keys: (bytes: number, valueBytes: number) => number;
  /** The batches Sluice's bench writes, round robin (compaction_bench.ts dirtyBatches). */
  batches: (valueBytes: number, keys: number) => Uint8Array[];
  log: (line: string) => void;
}

/** The `kafka-clean/<size>` rows, or none (with a notice) when Kafka is not installed. */
export async function runKafkaClean(opts: KafkaCleanOptions): Promise<CompactionBenchResult[]> {
  if (!kafkaAvailable) {
    opts.log(
      `compaction: kafka-clean skipped: Kafka 4.4 is not installed in ${KAFKA_DIR} ` +
        "(scripts/install-kafka.sh)",
    );
    return [];
  }
  const maxKeys = Math.max(
    ...opts.valueSizes.map((v) => opts.keys(opts.bytes, v)),
  );
  opts.log("compaction: kafka-clean: starting Kafka");
  const kafka = await startKafka({
    tempPrefix: "sluice-bench-kafka-clean-",
    extraProps: {
      "log.cleaner.threads": 1,
      "log.cleaner.backoff.ms": CLEANER_BACKOFF_MS,
      // As Sluice's bench sizes its offset map: two 24-byte slots per key (Kafka's least: 1 MiB).
      "log.cleaner.dedupe.buffer.size": Math.max(1 * MiB, maxKeys * 24 * 2),
    },
  });
  const results: CompactionBenchResult[] = [];
  let wire: KafkaWire | undefined;
  try {
    const connected = wire = await KafkaWire.connect(kafka.port);
    /** One clean of `valueBytes` records on a topic of its own named `<prefix>-<size>B`. */
    const clean = (prefix: string, valueBytes: number) => {
      const keys = opts.keys(opts.bytes, valueBytes);
      const batches = opts.batches(valueBytes, keys);
      const topic = `${prefix}-${valueBytes}B`;
      return cleanTopic(kafka, connected, topic, batches, opts.bytes, SEGMENT_BYTES);
    };
    // Warm-up: the same clean, once per size, not reported (see the module comment).
    for (const valueBytes of opts.valueSizes) {
      opts.log(`compaction: kafka-clean/${valueBytes}B: warm-up clean`);
      await clean("warmup", valueBytes);
    }
    for (const valueBytes of opts.valueSizes) {
      opts.log(`compaction: kafka-clean/${valueBytes}B`);
      const keys = opts.keys(opts.bytes, valueBytes);
      const r = await clean("clean", valueBytes);
      const seconds = r.stats.spanMs / 1000;
      const mbPerSec = r.dirtyBytes / MB / seconds;
      const baselineMbPerSec = r.readMbPerSec[1];
      const s = r.stats;
      results.push({
        suite: "compaction",
        name: `kafka-clean/${valueBytes}B`,
        description:
          "Kafka 4.4's cleaner MB/s of dirty log vs a plain sequential read of its files",
        mbPerSec,
        baselineMbPerSec,
        ratio: mbPerSec / baselineMbPerSec,
        goal: 0.3,
        params: {
          dirtyBytes: r.dirtyBytes,
          keys,
          bytesAfter: r.bytesAfter,
          bytesBefore: r.dirtyBytes,
          seconds: fixed(seconds, 3),
          cleanerCpuSeconds: r.cleanerCpuSeconds === undefined
            ? "n/a"
            : fixed(r.cleanerCpuSeconds, 2),
          jvmCpuSeconds: r.jvmCpuSeconds === undefined ? "n/a" : fixed(r.jvmCpuSeconds, 2),
          dirtySection: `[${s.dirtyStart}, ${s.dirtyEnd}]`,
          kafka: `${s.processedMiB} MiB in ${s.seconds} s (${s.mibPerSec} MiB/s); ` +
            `indexed ${s.indexedMiB} MiB in ${s.indexSeconds} s (${s.indexMibPerSec} MiB/s, ` +
            `${s.indexPercent}%); cleaned ${s.cleanedMiB} MiB in ${s.cleanSeconds} s ` +
            `(${s.cleanMibPerSec} MiB/s, ${s.cleanPercent}%); buffer ${s.bufferUtilizationPercent}%; ` +
            `${s.startMiB} MiB (${s.startMessages} msgs) -> ${s.endMiB} MiB (${s.endMessages} msgs)`,
        },
      });
    }
  } finally {
    wire?.close();
    await kafka.stop();
  }
  return results;
}
