/**
 * Differential cases: Produce (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { concat } from "../../kafka_protocol/kafka_wire_util.ts";
import { type CaseContext, TOPIC_A, TOPIC_B, TOPIC_BATCHES } from "../case_context.ts";
import { withUnknownTag } from "../differential_lib.ts";
import { batch } from "./common.ts";

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
