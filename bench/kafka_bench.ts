/**
 * Kafka, two ways:
 *
 * - `KAFKA_REFERENCE`: Kafka's published figures ("published, not measured here"), from Jay
 *   Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap Machines)",
 *   LinkedIn Engineering, 2014: 50 million 100-byte records. The record counts, MB/s and latency
 *   percentiles were checked against two secondary copies of the post's tables (its own page was
 *   not reachable from here); the hardware line is as quoted in the Sluice issue. The post's "MB"
 *   is 2^20 bytes (821,557 x 100 B = 82.2 x 10^6 B/s = 78.3 MiB/s), kept as published; Sluice's
 *   figures use 10^6. Its consumer and 3-producer runs used 3x replication; Sluice has none.
 * - `runKafkaLive`: with KAFKA_BROKERS=host:port[,host:port], the workload of Sluice's
 *   `http.produce.100B.batch` / `http.fetch.100B.batch` through kafkajs 2.2.4 against that
 *   cluster: a fresh topic of 1 partition (replication factor 1), 1,000,000 records of 100 B
 *   (100,000 under quick) sent as batches of 1,000 with acks=1 and no compression, one batch in
 *   flight (the next is sent once the previous is acknowledged, as the HTTP bench's client does);
 *   then one consumer reads them all from the start (maxBytesPerPartition 1 MiB, as Sluice's fetch
 *   maxBytes), timed from its group join to the last record. Values: 1,000 distinct random 100 B
 *   values (bench_util randomBytes, seed 42), as bench/peers.ts uses. The topic is deleted after.
 *   Connecting is bounded (CONNECT_TIMEOUT_MS): an unreachable cluster is a clear error, not a
 *   hang. When Sluice gets a Kafka protocol listener (a later issue), point KAFKA_BROKERS at it
 *   and the same function measures Sluice through a Kafka client.
 *
 * Plain TCP only (no TLS or SASL): a bench cluster on a private network.
 *
 * Run: deno run -A bench/kafka_bench.ts [--quick]   (live only when KAFKA_BROKERS is set)
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";
import process from "node:process";
import {
  CompressionTypes,
  type ISocketFactory,
  Kafka,
  logLevel,
  type Message,
  Partitioners,
} from "kafkajs";
import { randomBytes, withTimeout } from "./bench_util.ts";
import type { KafkaReference, PeerResult, SuiteOptions } from "./types.ts";

const KREPS_2014 = 'Jay Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On ' +
  'Three Cheap Machines)", LinkedIn Engineering blog, 2014';
const KREPS_HARDWARE = "6-core 2.5 GHz Xeon, six 7200 RPM SATA drives (JBOD) per machine " +
  "(as quoted in the issue)";
const KREPS_WORKLOAD = "50 million 100-byte records; MB/s as published (MB = 2^20 bytes)";

export const KAFKA_REFERENCE: KafkaReference[] = [
  {
    source: KREPS_2014,
    setup: `single producer thread, no replication, async; ${KREPS_WORKLOAD}; ${KREPS_HARDWARE}`,
    recordsPerSec: 821_557,
    mbPerSec: 78.3,
  },
  {
    source: KREPS_2014,
    setup: `single producer thread, 3x asynchronous replication; ${KREPS_WORKLOAD}; ` +
      KREPS_HARDWARE,
    recordsPerSec: 786_980,
    mbPerSec: 75.1,
  },
  {
    source: KREPS_2014,
    setup: `single producer thread, 3x synchronous replication (acks=all); ${KREPS_WORKLOAD}; ` +
      KREPS_HARDWARE,
    recordsPerSec: 421_823,
    mbPerSec: 40.2,
  },
  {
    source: KREPS_2014,
    setup: `three producers on three machines, 3x asynchronous replication; ${KREPS_WORKLOAD}; ` +
      KREPS_HARDWARE,
    recordsPerSec: 2_024_032,
    mbPerSec: 193.0,
  },
  {
    source: KREPS_2014,
    setup: `single consumer thread; ${KREPS_WORKLOAD}; ${KREPS_HARDWARE}`,
    recordsPerSec: 940_521,
    mbPerSec: 89.7,
  },
  {
    source: KREPS_2014,
    setup: `three consumers on three machines; ${KREPS_WORKLOAD}; ${KREPS_HARDWARE}`,
    recordsPerSec: 2_615_968,
    mbPerSec: 249.5,
  },
];

/**
 * The post's end-to-end latency (producer send -> consumer receipt). KafkaReference has no latency
 * fields, so it is kept apart; set it beside `embedded.e2e-latency.*` and the HTTP latency.
 */
export const KAFKA_REFERENCE_LATENCY = {
  source: KREPS_2014,
  setup: `end-to-end latency, producer to consumer through the broker; ${KREPS_HARDWARE}`,
  p50Ms: 2,
  p99Ms: 3,
  p999Ms: 14,
} as const;

const CLIENT = "kafkajs@2.2.4";
const BATCH_RECORDS = 1_000;
const VALUE_BYTES = 100;
const VALUES_SEED = 42;
const RECORDS_FULL = 1_000_000;
const RECORDS_QUICK = 100_000;
const ACKS = 1;
const FETCH_MAX_BYTES = 1024 * 1024;
/** Rates are decimal: 1 MB = 10^6 bytes (record values only, not protocol framing). */
const MB = 1e6;

/** kafkajs's own per-connection timeout, and the bound on the whole first connect. */
const SOCKET_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** A produce request is 1,000 x 100 B; kafkajs's 30 s default outlives a failed connect. */
const REQUEST_TIMEOUT_MS = 10_000;
const DISCONNECT_TIMEOUT_MS = 2_000;
/** 1,000,000 records at the slowest plausible 10,000 records/s. */
const PHASE_TIMEOUT_MS = 120_000;

/**
 * kafkajs's plain-TCP socket factory, keeping every socket so a failed run can destroy them: a
 * listener that accepts but never answers would otherwise hold the process open after the error.
 */
function trackedSockets(): { factory: ISocketFactory; destroyAll(): void } {
  const sockets = new Set<net.Socket>();
  let closed = false;
  return {
    factory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, 60_000);
      // kafkajs's retrier may reconnect after the run gave up: such a socket dies at once.
      if (closed) socket.destroy();
      else sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      return socket;
    },
    destroyAll: () => {
      closed = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}

/** BATCH_RECORDS messages with distinct 100 B values, the same on every run. */
function batchMessages(): Message[] {
  const all = Buffer.from(randomBytes(BATCH_RECORDS * VALUE_BYTES, VALUES_SEED));
  return Array.from({ length: BATCH_RECORDS }, (_, i) => ({
    value: all.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES),
  }));
}

/**
 * Produces and consumes the `http.*.100B.batch` workload through kafkajs against `opts.brokers`
 * (comma-separated host:port); see the module doc. Throws a clear error when no broker answers
 * within CONNECT_TIMEOUT_MS.
 */
export async function runKafkaLive(
  opts: SuiteOptions & { brokers: string },
): Promise<PeerResult[]> {
  const brokers = opts.brokers.split(",").map((b) => b.trim()).filter((b) => b !== "");
  if (brokers.length === 0 || brokers.some((b) => !/^[^:\s]+:\d+$/.test(b))) {
    throw new Error(`KAFKA_BROKERS=${opts.brokers}: want host:port[,host:port]`);
  }
  const records = opts.quick ? RECORDS_QUICK : RECORDS_FULL;
  const batches = records / BATCH_RECORDS;
  const sockets = trackedSockets();
  const kafka = new Kafka({
    clientId: "sluice-bench",
    socketFactory: sockets.factory,
    brokers,
    connectionTimeout: SOCKET_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await withTimeout(admin.connect(), CONNECT_TIMEOUT_MS, "connect");
  } catch (err) {
    await withTimeout(admin.disconnect(), DISCONNECT_TIMEOUT_MS, "disconnect").catch(() => {});
    sockets.destroyAll();
    const where = brokers.join(",");
    throw new Error(
      `Kafka at ${where} is unreachable (connect bounded to ${CONNECT_TIMEOUT_MS} ms): ` +
        `${(err as Error).message}. Set KAFKA_BROKERS to a reachable Kafka listener.`,
      { cause: err },
    );
  }
  const topic = `sluice-bench-${Date.now()}`;
  const version = process.env.KAFKA_VERSION ?? "unknown (kafkajs does not report it)";
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    idempotent: false,
    maxInFlightRequests: 1,
  });
  const consumer = kafka.consumer({
    groupId: `${topic}-reader`,
    maxBytesPerPartition: FETCH_MAX_BYTES,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  try {
    await withTimeout(
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
      REQUEST_TIMEOUT_MS,
      `create topic ${topic}`,
    );
    await withTimeout(producer.connect(), CONNECT_TIMEOUT_MS, "producer connect");
    const messages = batchMessages();
    const send = () =>
      producer.send({ topic, acks: ACKS, compression: CompressionTypes.None, messages });
    // One untimed batch: metadata and the connection to the partition leader.
    await withTimeout(send(), REQUEST_TIMEOUT_MS, "warm-up send");
    const name = "kafka";
    opts.progress(`${name} http.produce.100B.batch`, 0, 1);
    const t0 = performance.now();
    await withTimeout(
      (async () => {
        for (let i = 0; i < batches; i++) await send();
      })(),
      PHASE_TIMEOUT_MS,
      "produce",
    );
    const produceSeconds = (performance.now() - t0) / 1000;
    const produceRate = records / produceSeconds;
    opts.progress(`${name} http.produce.100B.batch`, 1, 1, produceRate);

    const total = records + BATCH_RECORDS;
    let consumed = 0;
    let joinedAt = 0;
    let done: () => void = () => {};
    const allConsumed = new Promise<void>((resolve) => done = resolve);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joinedAt = performance.now();
    });
    await withTimeout(consumer.connect(), CONNECT_TIMEOUT_MS, "consumer connect");
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    opts.progress(`${name} http.fetch.100B.batch`, 0, 1);
    const runAt = performance.now();
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        consumed += batch.messages.length;
        if (consumed >= total) done();
        return Promise.resolve();
      },
    });
    await withTimeout(allConsumed, PHASE_TIMEOUT_MS, "consume");
    // From the group join (the broker may delay it 3 s: group.initial.rebalance.delay.ms).
    const fetchSeconds = (performance.now() - (joinedAt || runAt)) / 1000;
    const fetchRate = consumed / fetchSeconds;
    opts.progress(`${name} http.fetch.100B.batch`, 1, 1, fetchRate);

    const common = {
      client: CLIENT,
      brokers: brokers.join(","),
      partitions: 1,
      replicationFactor: 1,
      recordValueBytes: VALUE_BYTES,
      valuesSeed: VALUES_SEED,
      measuredRuns: 1,
    };
    return [
      {
        name,
        version,
        scenario: "http.produce.100B.batch",
        recordsPerSec: produceRate,
        mbPerSec: (produceRate * VALUE_BYTES) / MB,
        params: {
          ...common,
          records,
          recordsPerBatch: BATCH_RECORDS,
          acks: ACKS,
          compression: "none",
          inFlightBatches: 1,
          warmupBatches: 1,
          seconds: produceSeconds,
        },
      },
      {
        name,
        version,
        scenario: "http.fetch.100B.batch",
        recordsPerSec: fetchRate,
        mbPerSec: (fetchRate * VALUE_BYTES) / MB,
        params: {
          ...common,
          records: consumed,
          maxBytesPerPartition: FETCH_MAX_BYTES,
          autoCommit: false,
          timedFrom: "consumer group join",
          seconds: fetchSeconds,
        },
      },
    ];
  } finally {
    const bounded = (p: Promise<void>, what: string) =>
      withTimeout(p, REQUEST_TIMEOUT_MS, what).catch(() => {});
    await bounded(consumer.disconnect(), "consumer disconnect");
    await bounded(producer.disconnect(), "producer disconnect");
    await bounded(admin.deleteTopics({ topics: [topic] }), `delete topic ${topic}`);
    await bounded(admin.disconnect(), "admin disconnect");
    sockets.destroyAll();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  console.log("Kafka, published (not measured here):");
  for (const r of KAFKA_REFERENCE) {
    console.log(
      `  ${r.recordsPerSec.toLocaleString("en-US")} records/s, ${r.mbPerSec} MB/s: ${r.setup}`,
    );
  }
  const l = KAFKA_REFERENCE_LATENCY;
  console.log(`  end-to-end latency p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, p99.9 ${l.p999Ms} ms`);
  console.log(`  source: ${KREPS_2014}`);
  const brokers = process.env.KAFKA_BROKERS;
  if (brokers === undefined || brokers === "") {
    console.log("\nKAFKA_BROKERS is not set: no live run.");
  } else {
    let peers: PeerResult[];
    try {
      peers = await runKafkaLive({
        quick,
        brokers,
        progress: (scenario, run, of, rate) =>
          console.error(
            `  ${scenario}: ${run}/${of}${rate === undefined ? "" : ` ${Math.round(rate)}/s`}`,
          ),
      });
    } catch (err) {
      console.error(`kafka live: ${(err as Error).message}`);
      process.exit(1);
    }
    for (const p of peers) {
      console.log(
        `${p.name} ${p.scenario}: ${Math.round(p.recordsPerSec)} records/s, ${
          p.mbPerSec.toFixed(1)
        } MB/s`,
      );
    }
  }
}
