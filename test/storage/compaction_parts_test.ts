/**
 * The cleaner's parts on their own: the key digest (HalfSipHash reference vectors), the offset
 * map (latest offset per key, full at its load factor, cleared), the record cursor and a batch
 * rewritten with fewer records and a delete horizon.
 */
import assert from "node:assert/strict";
import {
  GrowableBytes,
  writeEmptyBatch,
  writeFilteredBatch,
} from "../../src/record/batch_rewrite.ts";
import { decodeRecordBatch, encodeRecordBatch, viewOf } from "../../src/record/record_batch.ts";
import { RecordCursor, recordsSection } from "../../src/record/record_cursor.ts";
import { OffsetMap } from "../../src/storage/cleaner/offset_map.ts";
import { HalfSipHash128 } from "../../src/storage/cleaner/siphash.ts";
import { toHex } from "../test_util.ts";

Deno.test("HalfSipHash128: the reference HalfSipHash-2-4 64-bit vectors, in each half", () => {
  // vectors_hsip64 of the reference implementation: key 00..07, message 00..(n-1).
  const want: Record<number, string> = {
    0: "218d1f59b9b83cc8",
    1: "be552412f8387315",
    4: "d5e78a175be52ea1",
    7: "ff202728b07bc684",
    8: "edfee820bce4858c",
    63: "2ea63c71bf326087",
  };
  const key = new Uint8Array(16).map((_, i) => i % 8);
  const hash = new HalfSipHash128(key, 2, 4);
  const out = new Int32Array(4);
  for (const [n, hex] of Object.entries(want)) {
    const message = new Uint8Array(Number(n)).map((_, i) => i);
    hash.hash(message, 0, message.length, out, 0);
    const bytes = new Uint8Array(16);
    const dv = viewOf(bytes);
    for (let i = 0; i < 4; i++) dv.setInt32(4 * i, out[i], true);
    assert.equal(toHex(bytes.subarray(0, 8)), hex, `first half, ${n} bytes`);
    assert.equal(toHex(bytes.subarray(8)), hex, `second half, ${n} bytes`);
  }
});

Deno.test("OffsetMap", async (t) => {
  const enc = new TextEncoder();
  const put = (map: OffsetMap, key: string, offset: number) => {
    const bytes = enc.encode(`..${key}`);
    map.put(bytes, 2, bytes.length - 2, offset);
  };
  const get = (map: OffsetMap, key: string) => {
    const bytes = enc.encode(key);
    return map.get(bytes, 0, bytes.length);
  };

  await t.step("keeps the latest offset per key; -1 for a key never put", () => {
    const map = new OffsetMap(64 * 1024);
    for (let offset = 0; offset < 1000; offset++) put(map, `k${offset % 100}`, offset);
    assert.equal(map.size, 100);
    for (let k = 0; k < 100; k++) assert.equal(get(map, `k${k}`), 900 + k);
    assert.equal(get(map, "nope"), -1);
    assert.equal(map.latestOffset, 999);
    put(map, "big", 2 ** 40 + 5);
    assert.equal(get(map, "big"), 2 ** 40 + 5, "offsets past 32 bits");
  });

  await t.step("full at its load factor; clear empties it", () => {
    const map = new OffsetMap(1024);
    assert.equal(map.slots, 41, "the largest prime of 1024 / 24");
    let n = 0;
    while (!map.isFull) put(map, `key-${n}`, n++);
    assert.equal(n, map.maxEntries);
    assert.equal(n, Math.floor(41 * 0.9));
    for (let i = 0; i < n; i++) assert.equal(get(map, `key-${i}`), i);
    map.clear();
    assert.equal(map.size, 0);
    assert.equal(map.latestOffset, -1);
    assert.equal(get(map, "key-0"), -1);
  });

  await t.step("cleared in steps: empty once the steps end", () => {
    const map = new OffsetMap(64 * 1024);
    for (let offset = 0; offset < 500; offset++) put(map, `k${offset}`, offset);
    map.clear(true);
    let steps = 1;
    while (!map.emptySome(1000)) steps++;
    assert.equal(steps, Math.ceil(map.slots * 6 / 1000), "1000 words a step");
    assert.equal(map.size, 0);
    for (let k = 0; k < 500; k += 7) assert.equal(get(map, `k${k}`), -1);
    put(map, "k1", 7);
    assert.equal(get(map, "k1"), 7);
  });

  await t.step("refuses a buffer too small to be a map", () => {
    assert.throws(() => new OffsetMap(100), /dedupe.buffer.size/);
  });
});

Deno.test("RecordCursor and a rewritten batch", async (t) => {
  const batch = encodeRecordBatch([
    { key: "a", value: "1", timestamp: 1000 },
    { key: "b", value: null, timestamp: 1005 },
    { key: null, value: "3", timestamp: 1010 },
  ], { timestampMs: 1000, baseOffset: 40, producerId: 9, producerEpoch: 2, baseSequence: 7 });

  await t.step("walks every record's fields", () => {
    const cursor = new RecordCursor();
    cursor.reset(batch, 61, batch.length, 3);
    const seen: [number, number, number, number][] = [];
    while (cursor.next()) {
      seen.push([cursor.offsetDelta, cursor.timestampDelta, cursor.keyLength, cursor.valueLength]);
    }
    assert.deepEqual(seen, [[0, 0, 1, 1], [1, 5, 1, -1], [2, 10, -1, 1]]);
    cursor.reset(batch, 61, batch.length, 4);
    assert.throws(() => {
      while (cursor.next()) { /* walks past the end */ }
    }, /runs past|varint/);
  });

  for (const compression of [0, 1, 3] as const) {
    await t.step(
      `keeps offsets and producer fields, sets the horizon (codec ${compression})`,
      () => {
        const src = encodeRecordBatch([
          { key: "a", value: "1", timestamp: 1000 },
          { key: "b", value: null, timestamp: 1005 },
          { key: "c", value: "3", timestamp: 1010 },
        ], { timestampMs: 1000, baseOffset: 40, compression, producerId: 9, baseSequence: 7 });
        // The records' start positions, found by walking the (decompressed) section.
        const records = compression === 0 ? src : decompressed(src);
        const start = compression === 0 ? 61 : 0;
        const cursor = new RecordCursor();
        cursor.reset(records, start, records.length, 3);
        const starts: number[] = [];
        while (cursor.next()) starts.push(cursor.start);
        const out = new GrowableBytes(16);
        writeFilteredBatch(
          out,
          new GrowableBytes(16),
          src,
          0,
          records,
          {
            starts: Int32Array.from([starts[1], starts[2]]),
            count: 2,
            maxTimestampMs: 1010,
          },
          90_000,
          cursor,
        );
        const rewritten = decodeRecordBatch(out.view());
        assert.equal(rewritten.baseOffset, 40);
        assert.equal(rewritten.lastOffsetDelta, 2, "the original last offset");
        assert.equal(rewritten.compression, compression);
        assert.equal(rewritten.producerId, 9);
        assert.equal(rewritten.baseSequence, 7);
        assert.equal(rewritten.baseTimestamp, 90_000, "the delete horizon");
        assert.equal(rewritten.attributes & 0x40, 0x40);
        assert.deepEqual(
          rewritten.records.map((r) => [r.offset, r.timestamp, r.value === null]),
          [[41, 1005, true], [42, 1010, false]],
        );
      },
    );
  }

  await t.step("an empty batch keeps offsets, producer fields and max timestamp", () => {
    const out = new GrowableBytes(16);
    writeEmptyBatch(out, batch, 0);
    const empty = decodeRecordBatch(out.view());
    assert.equal(empty.sizeBytes, 61);
    assert.deepEqual(
      [empty.baseOffset, empty.lastOffsetDelta, empty.records.length, empty.producerId],
      [40, 2, 0, 9],
    );
    assert.deepEqual([empty.producerEpoch, empty.baseSequence, empty.maxTimestamp], [2, 7, 1010]);
  });
});

/** The records section of a compressed batch, decompressed, as the cleaner sees it. */
function decompressed(batch: Uint8Array): Uint8Array {
  return recordsSection(batch, viewOf(batch), 0, batch.length).section;
}
