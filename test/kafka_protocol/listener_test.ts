/**
 * The Kafka listener over real sockets, with frames built by our own tables: framing, ordering,
 * version negotiation, what closes a connection (and that nothing else is affected), produce and
 * fetch of raw batches, acks=0, idempotent retries, auto-creation. Real third-party clients are in
 * kcat_test.ts, kafkajs_test.ts and confluent_kafka_test.ts.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  API_VERSIONS_REQUEST,
  API_VERSIONS_RESPONSE,
} from "../../src/kafka_protocol/messages/api_versions.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import {
  INIT_PRODUCER_ID_REQUEST,
  INIT_PRODUCER_ID_RESPONSE,
} from "../../src/kafka_protocol/messages/init_producer_id.ts";
import {
  LIST_OFFSETS_REQUEST,
  LIST_OFFSETS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_offsets.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";
import { concat, RawClient } from "./kafka_wire_util.ts";

async function setup(options: { autoCreate?: boolean; idleMs?: number } = {}) {
  const dataDir = tempDir("sluice-kafka-listener-");
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir, logger });
  const listener: KafkaListener = await startKafkaListener(broker, {
    host: "127.0.0.1",
    port: 0,
    logger,
    autoCreateTopics: options.autoCreate ?? true,
    defaultPartitions: 2,
    idleMs: options.idleMs,
  });
  return {
    broker,
    listener,
    logger,
    dataDir,
    async close() {
      await listener.close();
      await broker.close();
    },
  };
}

function batchOf(values: string[], extra: Partial<Parameters<typeof encodeRecordBatch>[1]> = {}) {
  return encodeRecordBatch(
    values.map((v, i) => ({ key: utf8(`k${i}`), value: utf8(v), headers: [] })),
    { timestampMs: 1_700_000_000_000, ...extra },
  );
}

function produceBody(topic: string, partition: number, records: Uint8Array, acks = -1): Struct {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

function fetchBody(topic: string, partition: number, offset: number, maxWaitMs = 0): Struct {
  return {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{
      topic,
      partitions: [{
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(offset),
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      }],
    }],
    forgottenTopicsData: [],
    rackId: "",
  };
}

type Partition = Record<string, unknown> & { records: Uint8Array | null; errorCode: number };
const partitionOf = (fetch: Struct) =>
  ((fetch.responses as Struct[])[0].partitions as Partition[])[0];

Deno.test("Kafka listener", async (t) => {
  const s = await setup();
  const port = s.listener.port;
  try {
    await t.step("ApiVersions v0 and v3 list every served API with its range", async () => {
      const c = await RawClient.connect(port);
      try {
        for (const v of [0, 3]) {
          const body: Struct = v === 3
            ? { clientSoftwareName: "test", clientSoftwareVersion: "1.0" }
            : {};
          const r = await c.call(API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE, v, body);
          assert.equal(r.errorCode, 0);
          const keys = r.apiKeys as { apiKey: number; minVersion: number; maxVersion: number }[];
          const byKey = new Map(keys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
          assert.deepEqual(byKey.get(0), [3, 9], "Produce");
          assert.deepEqual(byKey.get(1), [4, 12], "Fetch");
          assert.deepEqual(byKey.get(18), [0, 3], "ApiVersions");
          for (const k of [2, 3, 8, 9, 10, 11, 12, 13, 14, 19, 22]) {
            assert.ok(byKey.has(k), `key ${k}`);
          }
        }
      } finally {
        c.close();
      }
    });

    await t.step(
      "an ApiVersions version past ours answers v0 with UNSUPPORTED_VERSION",
      async () => {
        const c = await RawClient.connect(port);
        try {
          // v9 of a request that is empty in every version we know: header v2, empty body.
          const frame = new Uint8Array([
            0,
            0,
            0,
            0x0d, // size 13
            0,
            18,
            0,
            9, // ApiVersions v9
            0,
            0,
            0,
            42, // correlation id
            0,
            1,
            0x78, // client id "x"
            0, // header tagged fields
            0, // body tagged fields
          ]);
          await c.send(frame);
          const response = await c.readFrame();
          assert.ok(response !== null);
          const { correlationId, body } = RawClient.parse(response, API_VERSIONS_RESPONSE, 0);
          assert.equal(correlationId, 42);
          assert.equal(body.errorCode, KafkaError.UNSUPPORTED_VERSION);
          // Only ApiVersions' own range, as Kafka answers (what the client needs to ask again).
          assert.deepEqual(body.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
        } finally {
          c.close();
        }
      },
    );

    await t.step("Metadata advertises the listener as the one broker, node 0", async () => {
      await s.broker.createTopic("meta", 3, {});
      const c = await RawClient.connect(port);
      try {
        for (const v of [0, 1, 4, 8, 9, 11]) {
          const r = await c.call(METADATA_REQUEST, METADATA_RESPONSE, v, {
            topics: [{ name: "meta" }],
            allowAutoTopicCreation: false,
          });
          const brokers = r.brokers as { nodeId: number; host: string; port: number }[];
          assert.deepEqual(brokers.map((b) => [b.nodeId, b.host, b.port]), [[
            0,
            "127.0.0.1",
            port,
          ]]);
          const topics = r.topics as { name: string; errorCode: number; partitions: Struct[] }[];
          assert.equal(topics[0].errorCode, 0);
          assert.deepEqual(topics[0].partitions.map((p) => [p.partitionIndex, p.leaderId]), [
            [0, 0],
            [1, 0],
            [2, 0],
          ]);
        }
      } finally {
        c.close();
      }
    });

    await t.step(
      "Produce appends the client's batch as it is; Fetch returns the same bytes",
      async () => {
        const c = await RawClient.connect(port);
        try {
          const batch = batchOf(["a", "b", "c"]);
          const sent = batch.slice();
          for (const v of [3, 7, 9]) {
            const r = await c.call(
              PRODUCE_REQUEST,
              PRODUCE_RESPONSE,
              v,
              produceBody("meta", 1, batch.slice()),
            );
            const p = ((r.responses as Struct[])[0].partitionResponses as Struct[])[0];
            assert.equal(p.errorCode, 0, `v${v}`);
            assert.equal(p.baseOffset, BigInt(3 * [3, 7, 9].indexOf(v)), `v${v} base offset`);
          }
          for (const v of [4, 11, 12]) {
            const r = await c.call(FETCH_REQUEST, FETCH_RESPONSE, v, fetchBody("meta", 1, 0));
            const p = partitionOf(r);
            assert.equal(p.errorCode, 0);
            assert.equal(p.highWatermark, 9n);
            const batches = decodeBatches(p.records!);
            assert.deepEqual(batches.map((b) => b.baseOffset), [0, 3, 6]);
            // Byte-identical to what was sent, apart from the base offset and the partition
            // leader epoch (bytes 12-15, 0 here) the log stamps, which the CRC does not cover.
            const stored = p.records!.subarray(0, sent.length);
            assert.deepEqual(stored.subarray(8, 12), sent.subarray(8, 12));
            assert.deepEqual([...stored.subarray(12, 16)], [0, 0, 0, 0]);
            assert.deepEqual(stored.subarray(16), sent.subarray(16));
          }
        } finally {
          c.close();
        }
      },
    );

    await t.step("Fetch waits for data up to max_wait_ms and is woken by a produce", async () => {
      const c = await RawClient.connect(port);
      const p2 = await RawClient.connect(port);
      try {
        const started = performance.now();
        const waiting = c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("meta", 2, 0, 5000));
        await new Promise((r) => setTimeout(r, 100));
        await p2.call(
          PRODUCE_REQUEST,
          PRODUCE_RESPONSE,
          7,
          produceBody("meta", 2, batchOf(["late"])),
        );
        const r = await waiting;
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 4000, `woken by the append, not the timeout (${elapsed} ms)`);
        assert.equal(decodeBatches(partitionOf(r).records!)[0].records[0].value!.length, 4);
        const empty = await c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("meta", 2, 1, 200));
        assert.equal(partitionOf(empty).records?.length ?? 0, 0, "nothing after 200 ms");
        // min_bytes 0: answered at once, whatever max_wait_ms says (Kafka's rule).
        const at = performance.now();
        const now = await c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, {
          ...fetchBody("meta", 2, 1, 5000),
          minBytes: 0,
        });
        assert.equal(partitionOf(now).records?.length ?? 0, 0);
        assert.ok(performance.now() - at < 2000, "min_bytes 0 does not wait");
      } finally {
        c.close();
        p2.close();
      }
    });

    await t.step("a long poll on a topic deleted meanwhile is answered, not dropped", async () => {
      await s.broker.createTopic("doomed", 1, {});
      const c = await RawClient.connect(port);
      try {
        const waiting = c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("doomed", 0, 0, 5000));
        await new Promise((r) => setTimeout(r, 100));
        await s.broker.deleteTopic("doomed");
        const p = partitionOf(await waiting);
        assert.notEqual(p.errorCode, KafkaError.NONE, "an error the client acts on");
        const again = await c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("doomed", 0, 0));
        assert.equal(partitionOf(again).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
      } finally {
        c.close();
      }
    });

    await t.step(
      "out-of-range fetch offsets and unknown partitions are per-partition errors",
      async () => {
        const c = await RawClient.connect(port);
        try {
          const r = await c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("meta", 0, 99));
          assert.equal(partitionOf(r).errorCode, KafkaError.OFFSET_OUT_OF_RANGE);
          const u = await c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("meta", 7, 0));
          assert.equal(partitionOf(u).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
          const l = await c.call(LIST_OFFSETS_REQUEST, LIST_OFFSETS_RESPONSE, 5, {
            replicaId: -1,
            isolationLevel: 0,
            topics: [{
              name: "meta",
              partitions: [
                { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -2n },
                { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1n },
                { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: 1_699_999_999_000n },
                { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: 1_800_000_000_000n },
              ],
            }],
          });
          const parts = (l.topics as Struct[])[0].partitions as Struct[];
          assert.deepEqual(parts.map((p) => p.offset), [0n, 9n, 0n, -1n]);
          assert.deepEqual(parts.map((p) => p.timestamp), [-1n, -1n, 1_700_000_000_000n, -1n]);
        } finally {
          c.close();
        }
      },
    );

    await t.step("pipelined requests are answered in order", async () => {
      const c = await RawClient.connect(port);
      try {
        const frames: Uint8Array[] = [];
        for (let i = 0; i < 50; i++) {
          frames.push(
            i % 2 === 0
              ? c.frame(PRODUCE_REQUEST, 7, produceBody("meta", 0, batchOf([`p${i}`])), 1000 + i)
              : c.frame(API_VERSIONS_REQUEST, 2, {}, 1000 + i),
          );
        }
        await c.send(concat(...frames));
        for (let i = 0; i < 50; i++) {
          const frame = await c.readFrame();
          assert.ok(frame !== null);
          const id = new DataView(frame.buffer).getInt32(0);
          assert.equal(id, 1000 + i);
        }
        const r = await c.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("meta", 0, 0));
        const values = decodeBatches(partitionOf(r).records!).map((b) =>
          new TextDecoder().decode(b.records[0].value!)
        );
        assert.deepEqual(values, Array.from({ length: 25 }, (_, i) => `p${2 * i}`));
      } finally {
        c.close();
      }
    });

    await t.step(
      "frames cut anywhere (inside the size prefix, inside the body), many to a chunk or larger than one, are served intact",
      async () => {
        const c = await RawClient.connect(port);
        try {
          // Distinct values of several sizes: a frame handed on as a view of its chunk must keep
          // its own bytes while later reads fill the rest of that chunk; every tenth is over 100
          // KiB, so read in place (frame_reader.ts), with small frames right behind it.
          const fill = (i: number) => i % 10 === 3 ? 150_000 + i : (i * 37) % 900;
          const values = Array.from(
            { length: 60 },
            (_, i) => `v${i}-${String.fromCharCode(97 + i % 26).repeat(fill(i))}`,
          );
          const frames = values.map((v, i) =>
            c.frame(PRODUCE_REQUEST, 7, produceBody("cuts", 0, batchOf([v])), i)
          );
          const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          frames.reduce((at, f) => (bytes.set(f, at), at + f.length), 0);
          // Pieces of 1, 2, 3 bytes (prefixes split), odd sizes, then the rest in one write.
          const sizes = [1, 2, 3, 1, 5, 7, 11, 13, 101, 257, 1031, 4099];
          let at = 0;
          for (const size of sizes) {
            await c.send(bytes.subarray(at, at + size));
            at += size;
            await new Promise((r) => setTimeout(r, 1));
          }
          await c.send(bytes.subarray(at));
          for (let i = 0; i < values.length; i++) {
            const frame = await c.readFrame();
            assert.ok(frame !== null, `answer ${i}`);
            assert.equal(new DataView(frame.buffer).getInt32(0), i);
          }
          const got: string[] = [];
          while (got.length < values.length) {
            const r = await c.call(
              FETCH_REQUEST,
              FETCH_RESPONSE,
              11,
              fetchBody("cuts", 0, got.length),
            );
            const batches = decodeBatches(partitionOf(r).records!);
            assert.ok(batches.length > 0);
            for (const b of batches) got.push(new TextDecoder().decode(b.records[0].value!));
          }
          assert.deepEqual(got, values);
        } finally {
          c.close();
        }
      },
    );

    await t.step(
      "a client far ahead is paused at the read-ahead bound, then served in full",
      async () => {
        const c = await RawClient.connect(port);
        try {
          // 300 requests (past KAFKA_QUEUED_REQUESTS_MAX) written before reading any answer.
          const frames = Array.from(
            { length: 300 },
            (_, i) => c.frame(PRODUCE_REQUEST, 7, produceBody("ahead", 0, batchOf([`r${i}`])), i),
          );
          const writing = (async () => {
            for (const f of frames) await c.send(f);
          })();
          for (let i = 0; i < 300; i++) {
            const frame = await c.readFrame();
            assert.ok(frame !== null, `answer ${i}`);
            assert.equal(new DataView(frame.buffer).getInt32(0), i);
          }
          await writing;
          assert.equal(s.broker.topics.get("ahead").logs[0].logEndOffset, 300);
        } finally {
          c.close();
        }
      },
    );

    await t.step("acks=0 gets no response, and the data is appended", async () => {
      const c = await RawClient.connect(port);
      try {
        await c.send(c.frame(PRODUCE_REQUEST, 7, produceBody("acks0", 0, batchOf(["x"]), 0), 7));
        // The next request's answer is the first frame back: nothing came for acks=0.
        await c.send(c.frame(API_VERSIONS_REQUEST, 0, {}, 8));
        const frame = await c.readFrame();
        assert.equal(new DataView(frame!.buffer).getInt32(0), 8);
        assert.equal(s.broker.topics.get("acks0").logs[0].logEndOffset, 1);
      } finally {
        c.close();
      }
    });

    await t.step("batch lengths that do not fit are CORRUPT_MESSAGE, nothing written", async () => {
      const c = await RawClient.connect(port);
      try {
        // -12 (size 0) once stalled the walk over the batches; -100 stepped before the start.
        for (const length of [-12, -100, 0, 48, 10_000]) {
          const batch = batchOf(["x"]);
          new DataView(batch.buffer).setInt32(8, length);
          const r = await c.call(
            PRODUCE_REQUEST,
            PRODUCE_RESPONSE,
            3,
            produceBody("fit", 0, batch),
          );
          const p = ((r.responses as Struct[])[0].partitionResponses as Struct[])[0];
          assert.equal(p.errorCode, KafkaError.CORRUPT_MESSAGE, `length ${length}`);
        }
        assert.equal(s.broker.topics.get("fit").logs[0].logEndOffset, 0);
      } finally {
        c.close();
      }
    });

    await t.step("an idempotent producer's retried batch is not appended twice", async () => {
      const c = await RawClient.connect(port);
      try {
        const init = await c.call(INIT_PRODUCER_ID_REQUEST, INIT_PRODUCER_ID_RESPONSE, 1, {
          transactionalId: null,
          transactionTimeoutMs: 60000,
        });
        assert.equal(init.errorCode, 0);
        const producerId = Number(init.producerId as bigint);
        const first = batchOf(["one", "two"], { producerId, producerEpoch: 0, baseSequence: 0 });
        const second = batchOf(["three"], { producerId, producerEpoch: 0, baseSequence: 2 });
        const gap = batchOf(["gap"], { producerId, producerEpoch: 0, baseSequence: 7 });
        const produce = async (b: Uint8Array) => {
          const r = await c.call(
            PRODUCE_REQUEST,
            PRODUCE_RESPONSE,
            7,
            produceBody("idem", 0, b.slice()),
          );
          return ((r.responses as Struct[])[0].partitionResponses as Struct[])[0];
        };
        assert.equal((await produce(first)).baseOffset, 0n);
        assert.equal((await produce(second)).baseOffset, 2n);
        const retry = await produce(first);
        assert.equal(retry.errorCode, 0, "a duplicate is answered as a success");
        assert.equal(retry.baseOffset, 0n, "with the offset it got the first time");
        assert.equal((await produce(gap)).errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert.equal(s.broker.topics.get("idem").logs[0].logEndOffset, 3, "nothing written twice");
      } finally {
        c.close();
      }
    });

    await t.step(
      "InitProducerId with a transactional id is refused, no id handed out",
      async () => {
        const c = await RawClient.connect(port);
        try {
          const init = await c.call(INIT_PRODUCER_ID_REQUEST, INIT_PRODUCER_ID_RESPONSE, 1, {
            transactionalId: "txn-1",
            transactionTimeoutMs: 60000,
          });
          assert.equal(init.errorCode, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
          assert.equal(init.producerId, -1n);
          assert.equal(init.producerEpoch, -1);
        } finally {
          c.close();
        }
      },
    );

    await t.step(
      "Metadata auto-creates a requested topic with the default partitions",
      async () => {
        const c = await RawClient.connect(port);
        try {
          const r = await c.call(METADATA_REQUEST, METADATA_RESPONSE, 8, {
            topics: [{ name: "auto-made" }],
            allowAutoTopicCreation: true,
          });
          const topic = (r.topics as Struct[])[0];
          assert.equal(topic.errorCode, 0);
          assert.equal((topic.partitions as unknown[]).length, 2);
          const bad = await c.call(METADATA_REQUEST, METADATA_RESPONSE, 8, {
            topics: [{ name: "bad/name" }],
            allowAutoTopicCreation: true,
          });
          assert.equal((bad.topics as Struct[])[0].errorCode, KafkaError.INVALID_TOPIC_EXCEPTION);
        } finally {
          c.close();
        }
      },
    );

    await t.step("bad frames close only their own connection, with a logged reason", async () => {
      const healthy = await RawClient.connect(port);
      try {
        const cases: [string, Uint8Array][] = [
          ["unknown API key", new Uint8Array([0, 0, 0, 10, 0x7f, 0x10, 0, 0, 0, 0, 0, 1, 0, 0])],
          ["oversize frame", new Uint8Array([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])],
          ["negative size", new Uint8Array([0xff, 0xff, 0xff, 0xff])],
          // Metadata v1 whose topics array claims a million entries in 4 bytes.
          [
            "malformed body",
            new Uint8Array([0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 5, 0xff, 0xff, 0, 0x0f, 0x42, 0x40]),
          ],
          [
            "unsupported Produce version",
            new Uint8Array([0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]),
          ],
        ];
        for (const [what, bytes] of cases) {
          const before = s.logger.events.length;
          const bad = await RawClient.connect(port);
          // Good requests pipelined ahead of the bad frame, in the same write: each is answered
          // before the close, as Kafka answers every request before a bad one.
          const ahead = Array.from(
            { length: 20 },
            (_, i) => bad.frame(API_VERSIONS_REQUEST, 2, {}, 500 + i),
          );
          await bad.send(concat(...ahead, bytes));
          for (let i = 0; i < ahead.length; i++) {
            const frame = await bad.readFrame();
            assert.ok(frame !== null, `${what}: request ${i} ahead of it answered`);
            assert.equal(new DataView(frame.buffer).getInt32(0), 500 + i, `${what}: in order`);
          }
          assert.equal(await bad.readFrame(), null, `${what}: closed`);
          bad.close();
          const logged = s.logger.events.slice(before).find((e) =>
            e.message === "closing kafka connection"
          );
          assert.ok(logged, `${what}: reason logged`);
          const r = await healthy.call(API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE, 1, {});
          assert.equal(r.errorCode, 0, `${what}: other connections unaffected`);
        }
        const metrics = s.listener.metrics.render();
        for (
          const [reason, n] of [
            ["unknown_api", 1],
            ["frame_size", 2],
            ["malformed", 1],
            ["unsupported_version", 1],
            ["server_error", 0],
          ] as const
        ) {
          assert.ok(
            metrics.includes(`sluice_kafka_connections_closed_total{reason="${reason}"} ${n}\n`),
            `${reason} closes counted: ${metrics}`,
          );
        }
        assert.match(metrics, /sluice_kafka_requests_total\{api="Produce"\} [1-9]\d*\n/);
        assert.match(metrics, /sluice_kafka_connections 1\n/, "only the healthy one is open");
      } finally {
        healthy.close();
      }
    });
  } finally {
    await s.close();
  }
});

Deno.test("Kafka listener without auto-creation answers UNKNOWN_TOPIC_OR_PARTITION", async () => {
  const s = await setup({ autoCreate: false });
  const c = await RawClient.connect(s.listener.port);
  try {
    const r = await c.call(
      PRODUCE_REQUEST,
      PRODUCE_RESPONSE,
      7,
      produceBody("nope", 0, batchOf(["x"])),
    );
    const p = ((r.responses as Struct[])[0].partitionResponses as Struct[])[0];
    assert.equal(p.errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
    assert.throws(() => s.broker.topics.get("nope"));
  } finally {
    c.close();
    await s.close();
  }
});

Deno.test("Kafka listener closes idle connections, never one with a request waiting", async () => {
  const s = await setup({ idleMs: 300 });
  const idle = await RawClient.connect(s.listener.port);
  const polling = await RawClient.connect(s.listener.port);
  try {
    await s.broker.createTopic("quiet", 1, {});
    const started = performance.now();
    // A long poll three times the idle time: its connection is busy, not idle.
    const poll = polling.call(FETCH_REQUEST, FETCH_RESPONSE, 11, fetchBody("quiet", 0, 0, 1000));
    assert.equal(await idle.readFrame(), null, "the silent connection is closed");
    const r = await poll;
    assert.equal(partitionOf(r).errorCode, 0);
    assert.ok(performance.now() - started >= 900, "the long poll ran its course");
    assert.match(
      s.listener.metrics.render(),
      /^sluice_kafka_connections_closed_total\{reason="idle"\} 1$/m,
    );
  } finally {
    idle.close();
    polling.close();
    await s.close();
  }
});
