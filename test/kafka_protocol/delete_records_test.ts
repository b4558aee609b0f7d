/**
 * DeleteRecords on the Kafka wire (handlers/delete_records.ts, src/broker/delete_records.ts), in
 * process on one node:
 * - every served version (0-2) with frames from our own tables: the low watermark answered, -1 as
 *   the high watermark, an offset at or below the start changing nothing, and the error codes
 *   (OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED) per partition;
 * - what reads see afterwards: ListOffsets earliest, Fetch's log_start_offset and
 *   OFFSET_OUT_OF_RANGE below it, a kafkajs consumer from the beginning;
 * - kafkajs's admin.deleteTopicRecords and fetchTopicOffsets, and its refusals;
 * - SASL/PLAIN: the admin right on the topic is needed (Kafka's DELETE).
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { Broker } from "../../src/broker/broker.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  DELETE_RECORDS_REQUEST,
  DELETE_RECORDS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_records.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import {
  LIST_OFFSETS_REQUEST,
  LIST_OFFSETS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_offsets.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { Authenticator, TokenSet } from "../../src/security/tokens.ts";
import { tempDir } from "../test_util.ts";
import { callOnce as call } from "./kafka_wire_util.ts";

const ADMIN_SECRET = "admin-secret-000000000001";
const APP_SECRET = "app-secret-0000000000002";
const TOKENS = {
  tokens: [
    {
      name: "admin",
      token: ADMIN_SECRET,
      allow: [{ topic: "*", ops: ["read", "write", "admin"] }],
    },
    { name: "app", token: APP_SECRET, allow: [{ topic: "*", ops: ["read", "write"] }] },
  ],
};

interface Setup {
  broker: Broker;
  listener: KafkaListener;
  close(): Promise<void>;
}

async function setup(auth?: Authenticator): Promise<Setup> {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-kafka-delrec-"), logger });
  const listener = await startKafkaListener(broker, { host: "127.0.0.1", port: 0, logger, auth });
  return {
    broker,
    listener,
    async close() {
      await listener.close();
      await broker.close();
    },
  };
}

/** A topic with `counts[p]` records in partition p, one batch of 5 records at a time. */
async function topicWith(broker: Broker, name: string, counts: number[]): Promise<void> {
  await broker.createTopic(name, counts.length, { "segment.bytes": 1024 });
  for (let p = 0; p < counts.length; p++) {
    for (let i = 0; i < counts[p]; i += 5) {
      const n = Math.min(5, counts[p] - i);
      await broker.produce(
        name,
        Array.from({ length: n }, (_, j) => ({ value: `${name}-${p}-${i + j}`, partition: p })),
      );
    }
  }
}

function deleteBody(topics: [string, [number, bigint][]][], timeoutMs = 5000): Struct {
  return {
    topics: topics.map(([name, partitions]) => ({
      name,
      partitions: partitions.map(([partitionIndex, offset]) => ({ partitionIndex, offset })),
    })),
    timeoutMs,
  };
}

/** `[partition, lowWatermark, errorCode]` of each partition of the answer's topic `name`. */
function answersOf(body: Struct, name: string): [number, bigint, number][] {
  const topic = (body.topics as Struct[]).find((t) => t.name === name);
  assert.ok(topic !== undefined, `no answer for ${name}: ${JSON.stringify(body, bigints)}`);
  return (topic.partitions as Struct[]).map((p) => [
    p.partitionIndex as number,
    p.lowWatermark as bigint,
    p.errorCode as number,
  ]);
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

async function earliest(port: number, topic: string, partition: number): Promise<bigint> {
  const body = await call(port, LIST_OFFSETS_REQUEST, LIST_OFFSETS_RESPONSE, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -2n }] }],
  });
  const p = ((body.topics as Struct[])[0].partitions as Struct[])[0];
  assert.equal(p.errorCode, KafkaError.NONE);
  return p.offset as bigint;
}

async function fetchAt(port: number, topic: string, offset: bigint): Promise<Struct> {
  const body = await call(port, FETCH_REQUEST, FETCH_RESPONSE, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{
      topic,
      partitions: [{
        partition: 0,
        currentLeaderEpoch: -1,
        fetchOffset: offset,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      }],
    }],
    forgottenTopicsData: [],
    rackId: "",
  });
  return ((body.responses as Struct[])[0].partitions as Struct[])[0];
}

/**
 * kafkajs's refusal of deleteTopicRecords: its retrier wraps the KafkaJSDeleteTopicRecordsError,
 * which lists each partition's broker error, as the cause of a non-retriable one.
 */
function assertPartitionError(e: Error, type: string): true {
  const cause = (e.cause ?? e) as Error & { partitions?: { error: { type: string } }[] };
  assert.equal(cause.name, "KafkaJSDeleteTopicRecordsError", String(e));
  assert.deepEqual(cause.partitions?.map((p) => p.error.type), [type]);
  return true;
}

function kafkajs(port: number, sasl?: { username: string; password: string }): Kafka {
  return new Kafka({
    clientId: "delete-records-test",
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 50 },
    sasl: sasl === undefined ? undefined : { mechanism: "plain", ...sasl },
  });
}

Deno.test("DeleteRecords on the wire, every version", async (t) => {
  const s = await setup();
  const port = s.listener.port;
  try {
    await topicWith(s.broker, "dr", [40, 10]);

    await t.step("v0, v1, v2 delete before the offset and answer the low watermark", async () => {
      for (const [version, offset] of [[0, 3n], [1, 12n], [2, 27n]] as const) {
        const body = await call(
          port,
          DELETE_RECORDS_REQUEST,
          DELETE_RECORDS_RESPONSE,
          version,
          deleteBody([["dr", [[0, offset]]]]),
        );
        assert.equal(body.throttleTimeMs, 0);
        assert.deepEqual(answersOf(body, "dr"), [[0, offset, KafkaError.NONE]], `v${version}`);
        assert.equal(await earliest(port, "dr", 0), offset);
      }
    });

    await t.step("-1 deletes up to the high watermark", async () => {
      const body = await call(
        port,
        DELETE_RECORDS_REQUEST,
        DELETE_RECORDS_RESPONSE,
        2,
        deleteBody([["dr", [[1, -1n]]]]),
      );
      assert.deepEqual(answersOf(body, "dr"), [[1, 10n, KafkaError.NONE]]);
      assert.equal(await earliest(port, "dr", 1), 10n);
    });

    await t.step("an offset at or below the start changes nothing", async () => {
      const body = await call(
        port,
        DELETE_RECORDS_REQUEST,
        DELETE_RECORDS_RESPONSE,
        1,
        deleteBody([["dr", [[0, 5n], [1, 0n]]]]),
      );
      assert.deepEqual(answersOf(body, "dr"), [[0, 27n, 0], [1, 10n, 0]]);
    });

    await t.step("error codes per partition; nothing else changes", async () => {
      for (const version of [0, 1, 2]) {
        const body = await call(
          port,
          DELETE_RECORDS_REQUEST,
          DELETE_RECORDS_RESPONSE,
          version,
          deleteBody([
            ["dr", [[0, 41n], [0, -2n], [2, 0n], [-1, 0n], [1, 10n]]],
            ["no-such-topic", [[0, 0n]]],
            ["bad/name", [[0, 0n]]],
          ]),
        );
        assert.deepEqual(answersOf(body, "dr"), [
          [0, -1n, KafkaError.OFFSET_OUT_OF_RANGE],
          [0, -1n, KafkaError.OFFSET_OUT_OF_RANGE],
          [2, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          [-1, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          [1, 10n, KafkaError.NONE],
        ], `v${version}`);
        assert.deepEqual(answersOf(body, "no-such-topic"), [
          [0, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
        ]);
        assert.deepEqual(answersOf(body, "bad/name"), [
          [0, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
        ]);
      }
      assert.equal(await earliest(port, "dr", 0), 27n);
      assert.ok(!s.broker.topics.list().some((t) => t.name === "no-such-topic"));
    });

    await t.step(
      "Fetch below the start is OFFSET_OUT_OF_RANGE; at it, log_start_offset",
      async () => {
        const below = await fetchAt(port, "dr", 26n);
        assert.equal(below.errorCode, KafkaError.OFFSET_OUT_OF_RANGE);
        const at = await fetchAt(port, "dr", 27n);
        assert.equal(at.errorCode, KafkaError.NONE);
        assert.equal(at.logStartOffset, 27n);
        assert.equal(at.highWatermark, 40n);
        assert.ok((at.records as Uint8Array).length > 0);
      },
    );

    await t.step("a kafkajs consumer from the beginning starts at the low watermark", async () => {
      const consumer = kafkajs(port).consumer({ groupId: "dr-readers" });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: "dr", fromBeginning: true });
        const seen: number[] = [];
        let resolve!: () => void;
        const done = new Promise<void>((r) => resolve = r);
        await consumer.run({
          eachMessage: ({ partition, message }) => {
            if (partition === 0) seen.push(Number(message.offset));
            if (seen.length === 13) resolve();
            return Promise.resolve();
          },
        });
        await done;
        assert.deepEqual(seen, Array.from({ length: 13 }, (_, i) => 27 + i));
      } finally {
        await consumer.disconnect();
      }
    });
  } finally {
    await s.close();
  }
});

Deno.test("kafkajs admin.deleteTopicRecords", async (t) => {
  const s = await setup();
  const port = s.listener.port;
  const admin = kafkajs(port).admin();
  await admin.connect();
  try {
    await topicWith(s.broker, "kjs", [30, 30]);
    // kafkajs's admin finds the partitions' leaders in the metadata it has loaded.
    await admin.fetchTopicMetadata({ topics: ["kjs"] });

    await t.step("deletes per partition; fetchTopicOffsets shows the low watermark", async () => {
      await admin.deleteTopicRecords({
        topic: "kjs",
        partitions: [{ partition: 0, offset: "17" }, { partition: 1, offset: "-1" }],
      });
      const offsets = await admin.fetchTopicOffsets("kjs");
      const byPartition = Object.fromEntries(offsets.map((o) => [o.partition, [o.low, o.high]]));
      assert.deepEqual(byPartition, { 0: ["17", "30"], 1: ["30", "30"] });
    });

    await t.step("an offset past the high watermark is refused", async () => {
      await assert.rejects(
        admin.deleteTopicRecords({ topic: "kjs", partitions: [{ partition: 0, offset: "31" }] }),
        (e: Error) => assertPartitionError(e, "OFFSET_OUT_OF_RANGE"),
      );
      assert.equal(await earliest(port, "kjs", 0), 17n);
    });
  } finally {
    await admin.disconnect();
    await s.close();
  }
});

Deno.test("DeleteRecords needs the admin right on the topic", async (t) => {
  const s = await setup(new Authenticator(TokenSet.parse(JSON.stringify(TOKENS))));
  const port = s.listener.port;
  try {
    await topicWith(s.broker, "guarded", [20]);

    await t.step("read and write are not enough: TOPIC_AUTHORIZATION_FAILED", async () => {
      const admin = kafkajs(port, { username: "app", password: APP_SECRET }).admin();
      await admin.connect();
      try {
        await admin.fetchTopicMetadata({ topics: ["guarded"] });
        await assert.rejects(
          admin.deleteTopicRecords({
            topic: "guarded",
            partitions: [{ partition: 0, offset: "5" }],
          }),
          (e: Error) => assertPartitionError(e, "TOPIC_AUTHORIZATION_FAILED"),
        );
      } finally {
        await admin.disconnect();
      }
      assert.equal(s.broker.offsetFor("guarded", 0, "earliest"), 0);
    });

    await t.step("admin deletes", async () => {
      const admin = kafkajs(port, { username: "admin", password: ADMIN_SECRET }).admin();
      await admin.connect();
      try {
        await admin.fetchTopicMetadata({ topics: ["guarded"] });
        await admin.deleteTopicRecords({
          topic: "guarded",
          partitions: [{ partition: 0, offset: "5" }],
        });
      } finally {
        await admin.disconnect();
      }
      assert.equal(s.broker.offsetFor("guarded", 0, "earliest"), 5);
    });
  } finally {
    await s.close();
  }
});
