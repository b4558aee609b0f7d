import assert from "node:assert/strict";
import { compressFrameSync } from "lz4-napi";
import { isSluiceError } from "../../src/errors.ts";
import { DECOMPRESSED_BATCH_BYTES_MAX } from "../../src/limits.ts";
import {
  compress,
  COMPRESSION_CODECS,
  decompress,
  lz4FrameBound,
} from "../../src/record/compression.ts";

Deno.test("lz4FrameBound()", async (t) => {
  await t.step("bounds a real frame's output from its block headers", () => {
    const plain = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 31) % 7);
    const frame = compress(COMPRESSION_CODECS.lz4, plain);
    const bound = lz4FrameBound(frame);
    assert.ok(bound >= plain.length, `bound ${bound} < ${plain.length}`);
    assert.ok(bound <= plain.length + 4 * 1024 * 1024, `bound ${bound} is loose`);
    assert.deepEqual(decompress(COMPRESSION_CODECS.lz4, frame), plain);
  });

  await t.step("refuses a frame that would expand past the limit, before decompressing", () => {
    // One 64 KiB block of zeros compresses to a few hundred bytes; repeated, the frame stays
    // small while claiming far more output than DECOMPRESSED_BATCH_BYTES_MAX.
    const one = new Uint8Array(compressFrameSync(new Uint8Array(64 * 1024) as never));
    const dv = new DataView(one.buffer, one.byteOffset, one.byteLength);
    const headerBytes = 7; // magic, FLG, BD, HC (no content size, no dict id)
    assert.equal(one[4] & 0x09, 0, "this test assumes no content size and no dict id");
    const blockBytes = 4 + (dv.getUint32(headerBytes, true) & 0x7fffffff);
    const copies = Math.ceil(DECOMPRESSED_BATCH_BYTES_MAX / (64 * 1024)) + 16;
    const bomb = new Uint8Array(headerBytes + copies * blockBytes + 4);
    bomb.set(one.subarray(0, headerBytes));
    for (let i = 0; i < copies; i++) {
      bomb.set(one.subarray(headerBytes, headerBytes + blockBytes), headerBytes + i * blockBytes);
    }
    assert.ok(bomb.length < 32 * 1024 * 1024);
    assert.ok(lz4FrameBound(bomb) > DECOMPRESSED_BATCH_BYTES_MAX);
    assert.throws(
      () => decompress(COMPRESSION_CODECS.lz4, bomb),
      (e) => isSluiceError(e, "CORRUPT_BATCH") && /more than/.test(e.message),
    );
  });

  await t.step("refuses malformed frames with CORRUPT_BATCH", () => {
    const frame = compress(COMPRESSION_CODECS.lz4, new TextEncoder().encode("hello ".repeat(100)));
    const cases = [
      frame.subarray(0, 5), // header cut short
      frame.subarray(0, frame.length - 4), // no EndMark
      Uint8Array.from([0, 1, 2, 3, ...frame.subarray(4)]), // bad magic
    ];
    for (const c of cases) {
      assert.throws(() => lz4FrameBound(c), (e) => isSluiceError(e, "CORRUPT_BATCH"));
    }
  });
});

Deno.test("compress() and decompress() round trip gzip", () => {
  const plain = new TextEncoder().encode("gzip ".repeat(1000));
  const packed = compress(COMPRESSION_CODECS.gzip, plain);
  assert.ok(packed.length < plain.length);
  assert.deepEqual(decompress(COMPRESSION_CODECS.gzip, packed), plain);
});
