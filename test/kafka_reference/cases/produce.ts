/**
 * Differential cases: Produce (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { crc32c } from "../../../src/record/crc32c.ts";
import {
  ATTRIBUTES_AT,
  BASE_OFFSET_AT,
  CRC_AT,
  LAST_OFFSET_DELTA_AT,
  RECORDS_COUNT_AT,
} from "../../../src/record/record_batch.ts";
import { concat } from "../../kafka_protocol/kafka_wire_util.ts";
import { type CaseContext, TOPIC_A, TOPIC_B, TOPIC_BATCHES } from "../case_context.ts";
import { withUnknownTag } from "../differential_lib.ts";
import { batch } from "./common.ts";

/** `b` with lastOffsetDelta and recordsCount set, its CRC made to match again. */
function withCounts(b: Uint8Array, lastOffsetDelta: number, count: number): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setInt32(LAST_OFFSET_DELTA_AT, lastOffsetDelta);
  dv.setInt32(RECORDS_COUNT_AT, count);
  dv.setUint32(CRC_AT, crc32c(b.subarray(ATTRIBUTES_AT)));
  return b;
}

/** The Produce cases. */
export async function produceCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const produce = (acks: number, topicData: Struct[]) => ({
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData,
  });
  for (const v of versions("Produce")) {
    await check({
      api: "Produce",
      version: v,
      label: "acks=1",
      body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(2) }] }]),
    });
    await check({
      api: "Produce",
      version: v,
      label: "acks=-1, two partitions",
      body: produce(-1, [{
        name: TOPIC_A,
        partitionData: [{ index: 1, records: batch(1) }, { index: 2, records: batch(2) }],
      }]),
    });
    await check({
      api: "Produce",
      version: v,
      label: "acks=0",
      expectResponse: false,
      body: produce(0, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(1) }] }]),
    });
    await check({
      api: "Produce",
      version: v,
      label: "unknown topic",
      body: produce(1, [{
        name: `produce-unknown-v${v}`,
        partitionData: [{ index: 0, records: batch(1) }],
      }]),
    });
    await check({
      api: "Produce",
      version: v,
      label: "unknown partition",
      body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 7, records: batch(1) }] }]),
    });
    await check({
      api: "Produce",
      version: v,
      label: "acks=2",
      body: produce(2, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(1) }] }]),
    });
    const corrupt = batch(1);
    corrupt[corrupt.length - 1] ^= 0xff; // the CRC covers it
    await check({
      api: "Produce",
      version: v,
      label: "corrupt CRC",
      body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 0, records: corrupt }] }]),
    });
    await check({
      api: "Produce",
      version: v,
      label: "two batches for one partition",
      body: produce(1, [{
        name: TOPIC_BATCHES,
        partitionData: [{ index: 0, records: concat(batch(1), batch(1)) }],
      }]),
    });
    // Records Kafka refuses whole (INVALID_RECORD, or CORRUPT_MESSAGE when the CRC is wrong too,
    // which Kafka checks first), all written nowhere: the fuzzer's refused acks=0 batch among them.
    const refused: [string, Uint8Array][] = [
      ["lastOffsetDelta -56, CRC right", withCounts(batch(3), -56, 3)],
      ["recordsCount 3 with lastOffsetDelta 3", withCounts(batch(3), 3, 3)],
      ["recordsCount 1000 in 3 records' bytes", withCounts(batch(3), 999, 1000)],
      ["bad counts and a bad CRC", withCounts(batch(3), -56, 3)],
      ["baseOffset 5", batch(2)],
      ["baseOffset 5 and a bad CRC", batch(2)],
    ];
    refused[3][1][refused[3][1].length - 1] ^= 0xff;
    new DataView(refused[4][1].buffer).setBigInt64(BASE_OFFSET_AT, 5n);
    new DataView(refused[5][1].buffer).setBigInt64(BASE_OFFSET_AT, 5n);
    refused[5][1][refused[5][1].length - 1] ^= 0xff;
    for (const [label, records] of refused) {
      await check({
        api: "Produce",
        version: v,
        label,
        body: produce(1, [{ name: TOPIC_BATCHES, partitionData: [{ index: 0, records }] }]),
      });
    }
    const producerId = 7_000 + v;
    const first = batch(2, { producerId, producerEpoch: 0, baseSequence: 0 });
    const idempotent = (label: string, records: Uint8Array) =>
      check({
        api: "Produce",
        version: v,
        label,
        body: produce(-1, [{ name: TOPIC_B, partitionData: [{ index: 0, records }] }]),
      });
    await idempotent("idempotent, first batch", first);
    await idempotent("idempotent, the same batch again", first);
    await idempotent(
      "idempotent, a sequence gap",
      batch(1, { producerId, producerEpoch: 0, baseSequence: 5 }),
    );
    await idempotent(
      "idempotent, new producer at sequence 3",
      batch(1, { producerId: producerId + 100, producerEpoch: 0, baseSequence: 3 }),
    );
    if (v >= 9) {
      await check({
        api: "Produce",
        version: v,
        label: "unknown tagged field",
        body: produce(1, [{ name: TOPIC_B, partitionData: [{ index: 0, records: batch(1) }] }]),
        mutate: withUnknownTag,
      });
    }
  }
}
