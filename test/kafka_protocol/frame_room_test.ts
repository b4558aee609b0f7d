/**
 * frame_room.ts: a response frame's small chunks go into the room around fresh read memory, the
 * frame's bytes and order unchanged, no record byte copied, and nothing written where another view
 * (or memory without room) could see it.
 */
import assert from "node:assert/strict";
import { intoRoom } from "../../src/kafka_protocol/frame_room.ts";
import { roomAround } from "../../src/byte_room.ts";
import {
  READ_ROOM_AFTER_BYTES,
  READ_ROOM_BEFORE_BYTES,
  unfilledBytes,
} from "../../src/storage/read_buffer.ts";

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

/** Fresh read memory holding `n` bytes (as a log read returns them). */
function records(n: number, seed: number): Uint8Array {
  const r = unfilledBytes(n);
  r.set(bytes(n, seed));
  return r;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("frame_room: small chunks into the room around read memory", async (t) => {
  await t.step("fresh read memory has the room the layout says, other memory none", () => {
    const r = unfilledBytes(1000);
    assert.deepEqual(roomAround(r), {
      before: READ_ROOM_BEFORE_BYTES,
      after: READ_ROOM_AFTER_BYTES,
    });
    assert.deepEqual(roomAround(r.subarray(100, 200)), {
      before: READ_ROOM_BEFORE_BYTES + 100,
      after: READ_ROOM_AFTER_BYTES + 800,
    });
    assert.equal(roomAround(new Uint8Array(1000)), undefined);
    assert.equal(roomAround(bytes(10, 1).subarray(2)), undefined);
  });

  await t.step("one partition: prefix, head, records, tail leave as one view of the read", () => {
    const rec = records(4000, 3);
    const chunks = [bytes(9, 10), bytes(70, 20), rec, bytes(3, 30)];
    const expected = concat(chunks);
    const out = intoRoom(chunks);
    assert.equal(out.length, 1);
    assert.equal(out[0].buffer, rec.buffer, "the read's own buffer: the records were not copied");
    assert.deepEqual(out[0], expected);
  });

  await t.step("two partitions: each records view takes what is around it", () => {
    const r1 = records(3000, 5);
    const r2 = records(2000, 6);
    const chunks = [bytes(80, 1), r1, bytes(50, 2), r2, bytes(3, 3)];
    const expected = concat(chunks);
    const out = intoRoom(chunks);
    assert.equal(out.length, 2);
    assert.equal(out[0].buffer, r1.buffer);
    assert.equal(out[1].buffer, r2.buffer);
    assert.equal(out[0].length, 80 + 3000 + 50, "the chunk between went after the first records");
    assert.deepEqual(concat(out), expected);
  });

  await t.step("what does not fit stays a chunk, in its place", () => {
    const r1 = records(3000, 7);
    const r2 = records(3000, 8);
    const head = bytes(READ_ROOM_BEFORE_BYTES + 1, 9); // more than the room before
    const between = bytes(READ_ROOM_AFTER_BYTES + 1, 10); // more than the room after
    const chunks = [head, r1, between, r2, bytes(3, 11)];
    const expected = concat(chunks);
    const out = intoRoom(chunks);
    assert.equal(out[0], head);
    assert.equal(out.length, 2 + 1, "head alone; r1; between before r2 with the tail after it");
    assert.equal(out[1], r1);
    assert.equal(out[2].length, between.length + 3000 + 3);
    assert.deepEqual(concat(out), expected);
  });

  await t.step("small chunks that overflow the room after go before the next records", () => {
    const r1 = records(1000, 12);
    const r2 = records(1000, 13);
    const a = bytes(READ_ROOM_AFTER_BYTES - 10, 14);
    const b = bytes(20, 15); // a fits after r1, b no longer does: b and all after it wait
    const c = bytes(5, 16);
    const chunks = [r1, a, b, c, r2];
    const out = intoRoom(chunks);
    assert.equal(out.length, 2);
    assert.equal(out[0].length, 1000 + a.length);
    assert.equal(out[1].length, b.length + c.length + 1000);
    assert.deepEqual(concat(out), concat(chunks));
  });

  await t.step("two views of one read: both as they are, no byte of the buffer written", () => {
    const r = records(3000, 17);
    const whole = new Uint8Array(r.buffer).slice();
    const v1 = r.subarray(0, 1000);
    const v2 = r.subarray(1000, 3000);
    const chunks = [bytes(40, 18), v1, bytes(3, 19), v2, bytes(3, 20)];
    const out = intoRoom(chunks);
    assert.deepEqual(concat(out), concat(chunks));
    assert.ok(out.includes(v1) && out.includes(v2));
    assert.deepEqual(new Uint8Array(r.buffer), whole);
  });

  await t.step("memory without room (a lent buffer, the encoder's own) is left alone", () => {
    const lent = new Uint8Array(5000);
    lent.set(bytes(5000, 21));
    const before = lent.slice();
    const chunks = [bytes(30, 22), lent.subarray(100, 4100), bytes(3, 23)];
    const out = intoRoom(chunks);
    assert.deepEqual(out, chunks);
    assert.deepEqual(lent, before);
  });

  await t.step("a read of no bytes, and empty chunks, change nothing", () => {
    const empty = unfilledBytes(0);
    const chunks = [bytes(12, 24), new Uint8Array(0), empty, bytes(3, 25)];
    const out = intoRoom(chunks);
    assert.deepEqual(concat(out), concat(chunks));
  });
});
