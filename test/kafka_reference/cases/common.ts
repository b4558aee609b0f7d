/**
 * Request pieces the differential cases share: record batches with fixed contents and the
 * consumer protocol's subscription and assignment bytes.
 */
import { encode } from "../../../src/kafka_protocol/codec.ts";
import {
  CONSUMER_PROTOCOL_ASSIGNMENT,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
} from "../../../src/kafka_protocol/messages/consumer_protocol.ts";
import { encodeRecordBatch, utf8 } from "../../../src/record/record_batch.ts";
import { concat } from "../../kafka_protocol/kafka_wire_util.ts";
import { T0 } from "../case_context.ts";

export function int16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, n);
  return b;
}

/** A consumer-protocol subscription (v0) to `topics`, as a Java consumer sends in JoinGroup. */
export function subscription(topics: string[]): Uint8Array {
  return concat(int16(0), encode(CONSUMER_PROTOCOL_SUBSCRIPTION, 0, { topics, userData: null }));
}

/** A consumer-protocol assignment (v0) of `partitions` of `topic`. */
export function assignment(topic: string, partitions: number[]): Uint8Array {
  return concat(
    int16(0),
    encode(CONSUMER_PROTOCOL_ASSIGNMENT, 0, {
      assignedPartitions: [{ topic, partitions }],
      userData: null,
    }),
  );
}

let batchCount = 0;
/** One RecordBatch v2 of `n` keyed records with fixed timestamps (T0 + k seconds). */
export function batch(
  n: number,
  options: { producerId?: number; producerEpoch?: number; baseSequence?: number } = {},
): Uint8Array {
  const b = ++batchCount;
  return encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({
      key: utf8(`key-${b}-${i}`),
      value: `value-${b}-${i}`,
      timestamp: T0 + (b * 10 + i) * 1000,
      headers: i === 0 ? [{ key: "h", value: utf8("v") }] : [],
    })),
    { timestampMs: T0, ...options },
  );
}
