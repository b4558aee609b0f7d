/**
 * OffsetForLeaderEpoch's tables (src/kafka_protocol/messages/offset_for_leader_epoch.ts): every
 * version round trips, and the v2 and v4 layouts byte for byte, written by hand from Kafka's
 * OffsetForLeaderEpochRequest.json / Response.json (v4 is flexible: compact strings and arrays,
 * tagged-field sections).
 */
import assert from "node:assert/strict";
import { decode, encode } from "../../src/kafka_protocol/codec.ts";
import {
  OFFSET_FOR_LEADER_EPOCH_REQUEST,
  OFFSET_FOR_LEADER_EPOCH_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_for_leader_epoch.ts";
import { assertRoundTrip, versionsOf } from "./kafka_wire_util.ts";

const REQUEST = {
  replicaId: -1,
  topics: [{ topic: "t", partitions: [{ partition: 2, currentLeaderEpoch: 5, leaderEpoch: 4 }] }],
};
const RESPONSE = {
  throttleTimeMs: 0,
  topics: [{
    topic: "t",
    partitions: [{ errorCode: 0, partition: 2, leaderEpoch: 4, endOffset: 300n }],
  }],
};

const i32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const i64 = (n: number) => [0, 0, 0, 0, ...i32(n)];

Deno.test("OffsetForLeaderEpoch tables", async (t) => {
  await t.step("every version round trips", () => {
    assert.deepEqual(versionsOf(OFFSET_FOR_LEADER_EPOCH_REQUEST), [0, 1, 2, 3, 4]);
    for (const v of versionsOf(OFFSET_FOR_LEADER_EPOCH_REQUEST)) {
      assertRoundTrip(OFFSET_FOR_LEADER_EPOCH_REQUEST, v, REQUEST);
      assertRoundTrip(OFFSET_FOR_LEADER_EPOCH_RESPONSE, v, RESPONSE);
    }
  });

  await t.step("v2: current leader epoch, no replica id; throttle time", () => {
    const request = [
      ...i32(1), // topics
      0,
      1,
      0x74, // "t"
      ...i32(1), // partitions
      ...i32(2), // partition
      ...i32(5), // currentLeaderEpoch
      ...i32(4), // leaderEpoch
    ];
    assert.deepEqual([...encode(OFFSET_FOR_LEADER_EPOCH_REQUEST, 2, REQUEST)], request);
    const response = [
      ...i32(0), // throttleTimeMs
      ...i32(1),
      0,
      1,
      0x74,
      ...i32(1),
      0,
      0, // errorCode
      ...i32(2), // partition
      ...i32(4), // leaderEpoch
      ...i64(300), // endOffset
    ];
    assert.deepEqual([...encode(OFFSET_FOR_LEADER_EPOCH_RESPONSE, 2, RESPONSE)], response);
  });

  await t.step("v4: flexible, with the replica id", () => {
    const request = [
      ...i32(-1), // replicaId
      2, // topics: compact array of 1
      2,
      0x74, // "t": compact string
      2, // partitions
      ...i32(2),
      ...i32(5),
      ...i32(4),
      0, // partition tags
      0, // topic tags
      0, // request tags
    ];
    assert.deepEqual([...encode(OFFSET_FOR_LEADER_EPOCH_REQUEST, 4, REQUEST)], request);
    assert.deepEqual(
      decode(OFFSET_FOR_LEADER_EPOCH_REQUEST, 4, Uint8Array.from(request)),
      REQUEST,
    );
    const response = [
      ...i32(0),
      2,
      2,
      0x74,
      2,
      0,
      0,
      ...i32(2),
      ...i32(4),
      ...i64(300),
      0,
      0,
      0,
    ];
    assert.deepEqual([...encode(OFFSET_FOR_LEADER_EPOCH_RESPONSE, 4, RESPONSE)], response);
  });
});
