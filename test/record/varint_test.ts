import assert from "node:assert/strict";
import { isSluiceError } from "../../src/errors.ts";
import {
  ByteCursor,
  readVarint,
  readVarlong,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
} from "../../src/record/varint.ts";
import { fromHex, prng, toHex } from "../test_util.ts";

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const SAFE_MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/**
 * Zig-zag + LEB128 in BigInt arithmetic, exact for any int64: the reference the number-based code
 * is checked against (it shares no code with src/record/varint.ts).
 */
function referenceZigZag(value: bigint): string {
  let raw = value >= 0n ? value << 1n : ((-value) << 1n) - 1n;
  let hex = "";
  while (raw >= 0x80n) {
    hex += Number((raw & 0x7fn) | 0x80n).toString(16).padStart(2, "0");
    raw >>= 7n;
  }
  return hex + Number(raw).toString(16).padStart(2, "0");
}

function encodeVarint(value: number): string {
  const buf = new Uint8Array(16);
  const end = writeVarint(buf, 0, value);
  return toHex(buf.subarray(0, end));
}

function encodeVarlong(value: number): string {
  const buf = new Uint8Array(16);
  const end = writeVarlong(buf, 0, value);
  return toHex(buf.subarray(0, end));
}

function assertCorrupt(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => isSluiceError(err, "CORRUPT_BATCH"), message);
}

/** Values on both sides of every 7-bit group boundary of the zig-zag encoding, both signs. */
function boundaryValues(maxBits: number): number[] {
  const out = new Set<number>([0, 1, -1]);
  for (let bits = 6; bits <= maxBits; bits += 7) {
    const p = 2 ** bits;
    for (const v of [p - 1, p, p + 1, -p + 1, -p, -p - 1]) out.add(v);
  }
  return [...out];
}

const VARINT_CASES: [number, string][] = [
  [0, "00"],
  [-1, "01"],
  [1, "02"],
  [-2, "03"],
  [63, "7e"],
  [-64, "7f"],
  [64, "8001"],
  [-65, "8101"],
  [300, "d804"],
  [8191, "fe7f"],
  [-8192, "ff7f"],
  [8192, "808001"],
  [INT32_MAX, "feffffff0f"],
  [INT32_MIN, "ffffffff0f"],
];

const VARLONG_CASES: [number, string][] = [
  ...VARINT_CASES,
  [2 ** 31, "8080808010"],
  [-(2 ** 31) - 1, "8180808010"],
  [2 ** 40, "808080808040"],
  [-(2 ** 40), "ffffffffff3f"],
  [2 ** 52 + 1, "8280808080808010"],
  [-(2 ** 52) - 1, "8180808080808010"],
  [SAFE_MAX, "feffffffffffff1f"],
  [-SAFE_MAX, "fdffffffffffff1f"],
  [-(2 ** 53), "ffffffffffffff1f"],
];

Deno.test("varint", async (t) => {
  await t.step("writeVarint() writes Kafka's zig-zag encodings", () => {
    for (const [value, hex] of VARINT_CASES) assert.equal(encodeVarint(value), hex, `${value}`);
  });

  await t.step("readVarint() reads them back and advances past them", () => {
    for (const [value, hex] of VARINT_CASES) {
      // Framed by other bytes: the reader must start at pos and stop at the varint's end.
      const bytes = fromHex(`aa${hex}bb`);
      const cursor = new ByteCursor(bytes, 1);
      assert.equal(readVarint(cursor), value, hex);
      assert.equal(cursor.pos, 1 + hex.length / 2, hex);
    }
  });

  await t.step("varintSize() equals the bytes written, at every group boundary", () => {
    const values = boundaryValues(31).filter((v) => v >= INT32_MIN && v <= INT32_MAX);
    values.push(INT32_MAX, INT32_MIN);
    const buf = new Uint8Array(8);
    for (const v of values) {
      const end = writeVarint(buf, 0, v);
      assert.equal(varintSize(v), end, `size of ${v}`);
      assert.equal(toHex(buf.subarray(0, end)), referenceZigZag(BigInt(v)), `bytes of ${v}`);
      assert.equal(readVarint(new ByteCursor(buf, 0, end)), v, `round trip ${v}`);
    }
  });

  await t.step("random int32 round trips agree with the BigInt reference", () => {
    const next = prng(0x1234);
    const buf = new Uint8Array(8);
    for (let i = 0; i < 20_000; i++) {
      const v = next() | 0;
      const end = writeVarint(buf, 0, v);
      assert.equal(toHex(buf.subarray(0, end)), referenceZigZag(BigInt(v)), `${v}`);
      assert.equal(varintSize(v), end);
      const cursor = new ByteCursor(buf, 0, end);
      assert.equal(readVarint(cursor), v);
      assert.equal(cursor.pos, end);
    }
  });

  await t.step("writeVarint() returns the next position when writing mid-buffer", () => {
    const buf = new Uint8Array(10).fill(0xee);
    const end = writeVarint(buf, 3, 64);
    assert.equal(end, 5);
    assert.equal(toHex(buf), "eeeeee8001eeeeeeeeee");
  });

  await t.step("truncated varint is CORRUPT_BATCH and leaves pos unchanged", () => {
    for (const hex of ["", "80", "8080", "ffffffff"]) {
      const cursor = new ByteCursor(fromHex(hex));
      assertCorrupt(() => readVarint(cursor), `"${hex}"`);
      assert.equal(cursor.pos, 0);
    }
    // The cursor's end bounds the read, not the array: bytes past `end` belong to someone else.
    const bytes = fromHex("808001");
    assertCorrupt(() => readVarint(new ByteCursor(bytes, 0, 2)), "end inside the varint");
    assert.equal(readVarint(new ByteCursor(bytes, 0, 3)), 8192);
  });

  await t.step("a varint longer than 5 bytes is refused", () => {
    for (const hex of ["808080808000", "ffffffffff01", "8080808080808080808001"]) {
      const cursor = new ByteCursor(fromHex(hex));
      assertCorrupt(() => readVarint(cursor), hex);
      assert.equal(cursor.pos, 0);
    }
    // Five bytes is the longest legal form.
    assert.equal(readVarint(new ByteCursor(fromHex("ffffffff0f"))), INT32_MIN);
  });
});

Deno.test("varlong", async (t) => {
  await t.step("writeVarlong() writes Kafka's zig-zag encodings, up to ±(2^53 - 1)", () => {
    for (const [value, hex] of VARLONG_CASES) {
      assert.equal(hex, referenceZigZag(BigInt(value)), `table entry ${value}`);
      assert.equal(encodeVarlong(value), hex, `${value}`);
    }
  });

  await t.step("readVarlong() reads them back, keeping the sign", () => {
    for (const [value, hex] of VARLONG_CASES) {
      const bytes = fromHex(`aa${hex}bb`);
      const cursor = new ByteCursor(bytes, 1);
      assert.equal(readVarlong(cursor), value, hex);
      assert.equal(cursor.pos, 1 + hex.length / 2, hex);
    }
  });

  await t.step("varlongSize() equals the bytes written, at every group boundary", () => {
    const values = boundaryValues(53).filter((v) => Math.abs(v) <= SAFE_MAX);
    values.push(SAFE_MAX, -SAFE_MAX, -(2 ** 53));
    const buf = new Uint8Array(16);
    for (const v of values) {
      const end = writeVarlong(buf, 0, v);
      assert.equal(varlongSize(v), end, `size of ${v}`);
      assert.equal(toHex(buf.subarray(0, end)), referenceZigZag(BigInt(v)), `bytes of ${v}`);
      assert.equal(readVarlong(new ByteCursor(buf, 0, end)), v, `round trip ${v}`);
    }
  });

  await t.step("random safe integers round trip and agree with the BigInt reference", () => {
    const next = prng(0xbeef);
    const buf = new Uint8Array(16);
    for (let i = 0; i < 20_000; i++) {
      // A random magnitude of 0..53 bits, then a random sign: covers every encoded length.
      const bits = next() % 54;
      const magnitude = Math.floor((next() * 2 ** 21 + (next() >>> 11)) / 2 ** (53 - bits));
      const v = next() & 1 ? -magnitude : magnitude;
      if (Object.is(v, -0)) continue;
      const end = writeVarlong(buf, 0, v);
      assert.equal(toHex(buf.subarray(0, end)), referenceZigZag(BigInt(v)), `${v}`);
      assert.equal(varlongSize(v), end, `size of ${v}`);
      const cursor = new ByteCursor(buf, 0, end);
      assert.equal(readVarlong(cursor), v, `round trip ${v}`);
      assert.equal(cursor.pos, end);
    }
  });

  await t.step("truncated varlong is CORRUPT_BATCH and leaves pos unchanged", () => {
    for (const hex of ["", "80", "ffffffffff", "feffffffffffff"]) {
      const cursor = new ByteCursor(fromHex(hex));
      assertCorrupt(() => readVarlong(cursor), `"${hex}"`);
      assert.equal(cursor.pos, 0);
    }
    const bytes = fromHex("808080808040");
    assertCorrupt(() => readVarlong(new ByteCursor(bytes, 0, 5)), "end inside the varlong");
    assert.equal(readVarlong(new ByteCursor(bytes, 0, 6)), 2 ** 40);
  });

  await t.step("a varlong beyond ±2^53 or longer than 8 bytes is refused, not rounded", () => {
    const refused = [
      referenceZigZag(2n ** 53n + 1n), // 8 bytes, not a safe integer
      referenceZigZag(2n ** 55n - 1n), // 8 bytes, the largest 8 bytes can hold
      referenceZigZag(-(2n ** 55n)),
      referenceZigZag(2n ** 62n), // 9 bytes
      referenceZigZag(-(2n ** 63n)), // 10 bytes: Kafka's longest
      "80808080808080808000", // non-minimal 10-byte zero
    ];
    for (const hex of refused) {
      const cursor = new ByteCursor(fromHex(hex));
      assertCorrupt(() => readVarlong(cursor), hex);
      assert.equal(cursor.pos, 0, hex);
    }
  });
});
