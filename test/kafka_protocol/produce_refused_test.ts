/**
 * Produce over a real listener: records Kafka refuses write nothing, whether anyone hears of it
 * (acks=1) or not (acks=0), and what an acks=0 request did write is where the next answer starts.
 * This is the request sequence of a Kafka listener fuzz failure (kafka_fuzz_lib.ts, run seed 2,
 * case seed 1581637755): an acks=0 produce of a valid 6-record batch to one partition and a batch
 * whose CRC matches but whose lastOffsetDelta is -56 to another. Sluice wrote the 6 records and
 * nothing else, as Kafka 4.4 does; the fuzzer had counted the refused batch as -55 records.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import { API_VERSIONS_REQUEST } from "../../src/kafka_protocol/messages/api_versions.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { crc32c } from "../../src/record/crc32c.ts";
import {
  ATTRIBUTES_AT,
  CRC_AT,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_AT,
  RECORDS_COUNT_AT,
} from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";
import { RawClient } from "./kafka_wire_util.ts";

function batch(n: number): Uint8Array {
  return encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({ key: null, value: new Uint8Array([i]) })),
    { timestampMs: 1_700_000_000_000 },
  );
}

/** `b` with lastOffsetDelta and recordsCount set, its CRC made to match again. */
function withCounts(b: Uint8Array, lastOffsetDelta: number, count: number): Uint8Array {
  const out = b.slice();
  const dv = new DataView(out.buffer);
  dv.setInt32(LAST_OFFSET_DELTA_AT, lastOffsetDelta);
  dv.setInt32(RECORDS_COUNT_AT, count);
  dv.setUint32(CRC_AT, crc32c(out.subarray(ATTRIBUTES_AT)));
  return out;
}

function produce(topic: string, acks: number, partitions: [number, Uint8Array][]): Struct {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5_000,
    topicData: [{
      name: topic,
      partitionData: partitions.map(([index, records]) => ({ index, records })),
    }],
  };
}

type PartitionResponse = { index: number; errorCode: number; baseOffset: bigint };
const answers = (r: Struct) =>
  ((r.responses as Struct[])[0].partitionResponses as PartitionResponse[]).map((
    p,
  ) => [p.index, p.errorCode, Number(p.baseOffset)]);

Deno.test("Produce: refused records write nothing; acks=0 writes move the next base offset", async (t) => {
  const dataDir = tempDir("sluice-produce-refused-");
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir, logger });
  const listener = await startKafkaListener(broker, {
    host: "127.0.0.1",
    port: 0,
    logger,
    autoCreateTopics: false,
    defaultPartitions: 1,
  });
  await broker.createTopic("kf-b", 3, {});
  const ends = () => broker.topics.get("kf-b").logs.map((l) => l.logEndOffset);
  const c = await RawClient.connect(listener.port);
  try {
    await t.step(
      "acks=1: counts that do not add up are INVALID_RECORD, nothing written",
      async () => {
        for (const [lastOffsetDelta, count] of [[-56, 3], [3, 3], [-1, 0], [999, 1000]]) {
          const what = `lastOffsetDelta ${lastOffsetDelta}, recordsCount ${count}`;
          const bad = withCounts(batch(3), lastOffsetDelta, count);
          let r = await c.call(
            PRODUCE_REQUEST,
            PRODUCE_RESPONSE,
            8,
            produce("kf-b", 1, [[1, bad]]),
          );
          assert.deepEqual(answers(r), [[1, KafkaError.INVALID_RECORD, -1]], what);
          // Kafka checks the CRC first.
          bad[bad.length - 1] ^= 1;
          r = await c.call(PRODUCE_REQUEST, PRODUCE_RESPONSE, 8, produce("kf-b", 1, [[1, bad]]));
          assert.deepEqual(answers(r), [[1, KafkaError.CORRUPT_MESSAGE, -1]], `${what}, bad CRC`);
        }
        assert.deepEqual(ends(), [0, 0, 0]);
      },
    );

    await t.step(
      "acks=1: a batch whose baseOffset is not 0 is INVALID_RECORD, nothing written",
      async () => {
        for (const corruptToo of [false, true]) {
          const based = batch(2);
          new DataView(based.buffer).setBigInt64(0, 5n);
          if (corruptToo) based[based.length - 1] ^= 1; // Kafka checks the baseOffset first
          const r = await c.call(
            PRODUCE_REQUEST,
            PRODUCE_RESPONSE,
            9,
            produce("kf-b", -1, [[2, based]]),
          );
          assert.deepEqual(
            answers(r),
            [[2, KafkaError.INVALID_RECORD, -1]],
            `bad CRC ${corruptToo}`,
          );
        }
        assert.deepEqual(ends(), [0, 0, 0]);
      },
    );

    await t.step("acks=0: the valid batch is written, the refused one is not", async () => {
      await c.send(c.frame(
        PRODUCE_REQUEST,
        8,
        produce("kf-b", 0, [[0, batch(6)], [1, withCounts(batch(3), -56, 3)]]),
      ));
      // The connection's requests are served in order: this answer comes after the produce.
      await c.send(c.frame(API_VERSIONS_REQUEST, 0, {}));
      const frame = await c.readFrame();
      assert.ok(frame !== null, "the connection stays open");
      assert.deepEqual(ends(), [6, 0, 0]);
      const warned = logger.events.find((e) => e.message === "acks=0 produce failed");
      assert.equal(warned?.fields?.partition, 1);
    });

    await t.step("the next answered produce starts where the acks=0 records ended", async () => {
      const r = await c.call(
        PRODUCE_REQUEST,
        PRODUCE_RESPONSE,
        9,
        produce("kf-b", -1, [[0, batch(8)], [1, batch(2)]]),
      );
      assert.deepEqual(answers(r), [[0, KafkaError.NONE, 6], [1, KafkaError.NONE, 0]]);
      assert.deepEqual(ends(), [14, 2, 0]);
    });
  } finally {
    c.close();
    await listener.close();
    await broker.close();
  }
});
