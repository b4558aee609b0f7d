/**
 * The codec's fast paths (src/kafka_protocol/codec/plan.ts, the short-ASCII string paths in
 * reader.ts and encode.ts) give exactly what the general paths give: strings on both sides of the
 * 64-character bound, with and without non-ASCII characters, are the bytes TextEncoder makes and
 * decode back to themselves; a default an absent field takes is a fresh array or struct in every
 * decoded message, never one shared between messages; plans of one table at several versions do
 * not mix.
 */
import assert from "node:assert/strict";
import { decode, encode, type Struct } from "../../src/kafka_protocol/codec.ts";
import { FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import { METADATA_REQUEST } from "../../src/kafka_protocol/messages/metadata.ts";
import { REQUEST_HEADER } from "../../src/kafka_protocol/messages/request_header.ts";

const utf8 = new TextEncoder();

/** A v1 request header (classic int16 string) as bytes, built by hand. */
function headerV1(clientId: string): Uint8Array {
  const id = utf8.encode(clientId);
  const out = new Uint8Array(10 + id.length);
  const view = new DataView(out.buffer);
  view.setInt16(0, 3); // Metadata
  view.setInt16(2, 4);
  view.setInt32(4, 77);
  view.setInt16(8, id.length);
  out.set(id, 10);
  return out;
}

const STRINGS = [
  "",
  "a",
  "rdkafka",
  "x".repeat(63),
  "y".repeat(64),
  "z".repeat(65),
  "x".repeat(200),
  "control \u0000\u0001\u007f chars",
  "café",
  "événements",
  "a".repeat(63) + "é",
  "é" + "a".repeat(70),
  "日本語のトピック",
  "emoji 🎉",
];

Deno.test("kafka codec: short ASCII and other strings take the same bytes both ways", async (t) => {
  await t.step("encoding writes what TextEncoder writes", () => {
    for (const s of STRINGS) {
      const bytes = encode(REQUEST_HEADER, 1, {
        requestApiKey: 3,
        requestApiVersion: 4,
        correlationId: 77,
        clientId: s,
      });
      assert.deepEqual(bytes, headerV1(s), JSON.stringify(s));
    }
  });

  await t.step("decoding gives the string back, classic and compact", () => {
    for (const s of STRINGS) {
      assert.equal(decode(REQUEST_HEADER, 1, headerV1(s)).clientId, s, JSON.stringify(s));
      const topics = [{ name: s }, { name: "plain" }];
      const body = encode(METADATA_REQUEST, 9, { topics, includeTopicAuthorizedOperations: true });
      const back = decode(METADATA_REQUEST, 9, body);
      assert.deepEqual((back.topics as Struct[]).map((x) => x.name), [s, "plain"]);
    }
  });

  await t.step("a short string that is not UTF-8 is still INVALID_UTF8", () => {
    const bad = headerV1("abc");
    bad[11] = 0xc3; // a lead byte followed by an ASCII byte
    assert.throws(() => decode(REQUEST_HEADER, 1, bad), { reason: "INVALID_UTF8" });
  });
});

Deno.test("kafka codec: defaults of absent fields are fresh in every message", () => {
  // Metadata v0 has no topic ids and no authorized-operations flags; v4 has no topic ids.
  const v0 = encode(METADATA_REQUEST, 0, { topics: [{ name: "a" }] });
  const first = decode(METADATA_REQUEST, 0, v0);
  const second = decode(METADATA_REQUEST, 0, v0);
  const firstId = (first.topics as Struct[])[0].topicId as Uint8Array;
  const secondId = (second.topics as Struct[])[0].topicId as Uint8Array;
  assert.deepEqual(firstId, new Uint8Array(16));
  assert.notEqual(firstId, secondId, "one uuid default shared by two messages");
  firstId[0] = 9;
  assert.equal(secondId[0], 0);
  assert.equal(decode(METADATA_REQUEST, 0, v0).allowAutoTopicCreation, true);

  // A tagged struct (divergingEpoch) not sent takes its default struct, a fresh one each time.
  const response = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [{
      topic: "t",
      partitions: [{
        partitionIndex: 0,
        errorCode: 0,
        highWatermark: 5n,
        records: new Uint8Array(0),
      }],
    }],
  };
  const bytes = encode(FETCH_RESPONSE, 12, response);
  const a = decode(FETCH_RESPONSE, 12, bytes);
  const b = decode(FETCH_RESPONSE, 12, bytes);
  const pa = ((a.responses as Struct[])[0].partitions as Struct[])[0];
  const pb = ((b.responses as Struct[])[0].partitions as Struct[])[0];
  assert.deepEqual(pa.divergingEpoch, { epoch: -1, endOffset: -1n });
  assert.notEqual(pa.divergingEpoch, pb.divergingEpoch, "one struct default shared");
  (pa.divergingEpoch as { epoch: number }).epoch = 3;
  assert.equal((pb.divergingEpoch as Struct).epoch, -1);
});

Deno.test("kafka codec: one table at several versions, interleaved, keeps each version's layout", () => {
  const value = { topics: [{ name: "orders" }], allowAutoTopicCreation: false };
  const expected = new Map<number, Uint8Array>();
  for (let v = 0; v <= 11; v++) expected.set(v, encode(METADATA_REQUEST, v, value));
  // Sizes differ where the layout does: v0 has only the topic list, v4 adds the flag.
  assert.notEqual(expected.get(0)!.length, expected.get(4)!.length);
  for (let round = 0; round < 3; round++) {
    for (let v = 11; v >= 0; v--) {
      assert.deepEqual(encode(METADATA_REQUEST, v, value), expected.get(v), `v${v}`);
      const back = decode(METADATA_REQUEST, v, expected.get(v)!);
      assert.equal((back.topics as Struct[])[0].name, "orders");
      assert.equal(back.allowAutoTopicCreation, v >= 4 ? false : true, `v${v}`);
    }
  }
});
