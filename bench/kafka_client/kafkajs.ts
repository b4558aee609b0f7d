/** The kafkajs driver: kafkajs 2.2.4 in this process, labelled as the second client. */
import { Buffer } from "node:buffer";
import process from "node:process";
import { CompressionTypes, Kafka, logLevel, type Message } from "kafkajs";
import { randomBytes, withTimeout } from "../bench_util.ts";
import {
  CLIENT_TIMEOUT_MS,
  KAFKAJS_CONSUMER_SETTINGS,
  KAFKAJS_DISTINCT_VALUES,
  KAFKAJS_PRODUCER_SETTINGS,
  KAFKAJS_VALUES_SEED,
  KAFKAJS_VERSION,
  VALUE_BYTES,
} from "./settings.ts";
import type { ClientRun, Driver } from "./types.ts";

/** withTimeout at CLIENT_TIMEOUT_MS. */
function clientTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  return withTimeout(promise, CLIENT_TIMEOUT_MS, what);
}

function kafkajsClient(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "sluice-kafka-client-bench",
    brokers: bootstrap.split(",").map((b) => b.trim()),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  });
}

/** kafkajs in this process (its CPU is this process's). */
export function kafkajsDriver(): Driver {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const produce = async (kafka: Kafka, topic: string, records: number): Promise<ClientRun> => {
    const admin = kafka.admin();
    await clientTimeout(admin.connect(), "kafkajs admin connect");
    try {
      await clientTimeout(
        admin.createTopics({
          topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
          waitForLeaders: true,
        }),
        `kafkajs create topic ${topic}`,
      );
    } finally {
      await admin.disconnect();
    }
    const perSend = KAFKAJS_PRODUCER_SETTINGS.recordsPerSend as number;
    const inFlight = KAFKAJS_PRODUCER_SETTINGS.sendsInFlight as number;
    const all = Buffer.from(
      randomBytes(KAFKAJS_DISTINCT_VALUES * VALUE_BYTES, KAFKAJS_VALUES_SEED),
    );
    const values = Array.from(
      { length: KAFKAJS_DISTINCT_VALUES },
      (_, i) => all.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES),
    );
    const batch = (n: number): Message[] =>
      Array.from({ length: n }, (_, i) => ({ value: values[i % values.length] }));
    const full = batch(perSend);
    const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: false });
    await clientTimeout(producer.connect(), "kafkajs producer connect");
    try {
      const cpu0 = cpuNow();
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < records) {
          const n = Math.min(perSend, records - next);
          next += n;
          await producer.send({
            topic,
            acks: -1,
            compression: CompressionTypes.None,
            messages: n === perSend ? full : batch(n),
          });
        }
      };
      await clientTimeout(
        Promise.all(Array.from({ length: inFlight }, worker)),
        "kafkajs produce",
      );
      const seconds = (performance.now() - t0) / 1000;
      return {
        mode: "produce",
        records,
        bytes: records * VALUE_BYTES,
        seconds,
        recordsPerSec: records / seconds,
        MBps: (records * VALUE_BYTES) / seconds / 1e6,
        clientCpuSeconds: cpuNow() - cpu0,
        client: KAFKAJS_VERSION,
        clientBinding: "in the bench process (Deno)",
        stats: {},
      };
    } finally {
      await producer.disconnect();
    }
  };
  const consume = async (kafka: Kafka, topic: string, records: number): Promise<ClientRun> => {
    const c = KAFKAJS_CONSUMER_SETTINGS;
    const consumer = kafka.consumer({
      groupId: `${topic}-reader-kafkajs-${Date.now()}`,
      maxBytesPerPartition: c.maxBytesPerPartition as number,
      maxBytes: c.maxBytes as number,
      maxWaitTimeInMs: c.maxWaitTimeInMs as number,
      allowAutoTopicCreation: false,
    });
    let count = 0;
    let bytes = 0;
    let joinedAt = 0;
    let doneAt = 0;
    let done: () => void = () => {};
    const allRead = new Promise<void>((resolve) => done = resolve);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (joinedAt === 0) joinedAt = performance.now();
    });
    await clientTimeout(consumer.connect(), "kafkajs consumer connect");
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const cpu0 = cpuNow();
      const t0 = performance.now();
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          for (const m of batch.messages) bytes += m.value?.length ?? 0;
          count += batch.messages.length;
          if (count >= records && doneAt === 0) {
            doneAt = performance.now();
            done();
          }
          return Promise.resolve();
        },
      });
      await clientTimeout(allRead, `kafkajs consume (${count} of ${records} read)`);
      const cpu = cpuNow() - cpu0;
      const start = joinedAt || t0;
      const seconds = (doneAt - start) / 1000;
      return {
        mode: "consume",
        records: count,
        bytes,
        seconds,
        recordsPerSec: count / seconds,
        MBps: bytes / seconds / 1e6,
        clientCpuSeconds: cpu,
        totalSeconds: (doneAt - t0) / 1000,
        joinSeconds: (start - t0) / 1000,
        client: KAFKAJS_VERSION,
        clientBinding: "in the bench process (Deno)",
        stats: {},
      };
    } finally {
      await consumer.disconnect();
    }
  };
  return {
    name: "kafkajs",
    run: (bootstrap, topic, mode, records) => {
      const kafka = kafkajsClient(bootstrap);
      return mode === "produce" ? produce(kafka, topic, records) : consume(kafka, topic, records);
    },
    deleteTopic: async (bootstrap, topic) => {
      const admin = kafkajsClient(bootstrap).admin();
      await clientTimeout(admin.connect(), "kafkajs admin connect");
      try {
        await clientTimeout(admin.deleteTopics({ topics: [topic] }), `delete topic ${topic}`);
      } finally {
        await admin.disconnect();
      }
    },
  };
}
