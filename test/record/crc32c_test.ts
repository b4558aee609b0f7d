/**
 * CRC-32C: every implementation src/record/crc32c.ts loaded here (kernel, node-rs, portable)
 * against outside vectors (the standard check value, RFC 3720's, Kafka client batches) and against
 * the portable code at random lengths and offsets; `crc32c` itself as the broker calls it.
 * test/record/crc32c_kernel_test.ts covers the kernel's build, loading and selection.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  crc32c,
  type Crc32cFn,
  crc32cImplementation,
  crc32cImplementations,
  crc32cPortable,
  crc32cSelfTest,
} from "../../src/record/crc32c.ts";
import { crc32cLibraryPath } from "../../src/runtime/crc32c_native.ts";
import { fromHex, prng, randomBytes } from "../test_util.ts";

interface Crc32cCase {
  ascii?: string;
  hex?: string;
  crc: number;
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/crc32c.json", import.meta.url)),
) as { cases: Crc32cCase[] };

function caseBytes(c: Crc32cCase): Uint8Array {
  if (c.ascii !== undefined) return new TextEncoder().encode(c.ascii);
  return fromHex(c.hex ?? "");
}

/** RFC 3720 appendix B.4 (the two the fixture lacks, and the iSCSI Read PDU). */
const RFC3720: { bytes: Uint8Array; crc: number; name: string }[] = [
  { name: "32 ascending", bytes: Uint8Array.from({ length: 32 }, (_, i) => i), crc: 0x46dd794e },
  {
    name: "32 descending",
    bytes: Uint8Array.from({ length: 32 }, (_, i) => 31 - i),
    crc: 0x113fdb5c,
  },
  {
    name: "iSCSI Read (10) PDU",
    bytes: fromHex(
      "01c00000000000000000000000000000" + "14000000000004000000001400000018" +
        "28000000000000000200000000000000",
    ),
    crc: 0xd9963a56,
  },
];

/** The RecordBatch v2 fixtures kafkajs encoded: the CRC field at 17 covers bytes 21.. */
const KAFKA_BATCHES = await Promise.all(
  ["none", "gzip", "lz4"].map(async (kind) => ({
    kind,
    bytes: await Deno.readFile(new URL(`../fixtures/recordbatch-${kind}.bin`, import.meta.url)),
  })),
);

const IMPLS: [string, Crc32cFn][] = [
  ...crc32cImplementations,
  ["crc32c()", (d: Uint8Array, initial: number) => crc32c(d, initial)],
];

/** x86-64 Linux with SSE4.2 and PCLMULQDQ: where a built kernel must load. */
function cpuHasKernel(): boolean {
  if (Deno.build.arch !== "x86_64" || Deno.build.os !== "linux") return false;
  const flags = Deno.readTextFileSync("/proc/cpuinfo").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
  const set = new Set(flags.trim().split(/\s+/));
  return set.has("sse4_2") && set.has("pclmulqdq");
}

const MiB = 1024 * 1024;
const ENCODER = new TextEncoder();

Deno.test("crc32c", async (t) => {
  await t.step("the implementations loaded here", () => {
    // This machine kind (linux x64 gnu) has a prebuilt @node-rs/crc32; losing it silently would
    // cost ~4x on large batches, so its absence is a failure, not a fallback, in this test run.
    // A kernel built (`deno task test` builds it first) must load on a CPU that has its
    // instructions: one refused by its self-test is a broken kernel (crc32c_kernel_test.ts builds
    // it and checks the choice in child processes).
    const forced = Deno.env.get("SLUICE_CRC32C");
    if (!forced) assert.ok(crc32cImplementations.has("node-rs"), "node-rs loaded");
    const library = crc32cLibraryPath();
    const built = library !== undefined && existsSync(library);
    if (!forced && built && cpuHasKernel()) assert.equal(crc32cImplementation, "kernel");
    assert.ok(crc32cImplementations.has("portable"));
    assert.equal([...crc32cImplementations.keys()][0], crc32cImplementation);
  });

  await t.step("fixture and RFC 3720 vectors, every implementation", () => {
    assert.ok(fixture.cases.length >= 3);
    const cases = [
      ...fixture.cases.map((c) => ({ name: c.ascii ?? c.hex!, bytes: caseBytes(c), crc: c.crc })),
      ...RFC3720,
    ];
    for (const [name, fn] of IMPLS) {
      for (const c of cases) assert.equal(fn(c.bytes, 0), c.crc, `${name} ${c.name}`);
    }
  });

  await t.step("Kafka client batches carry the CRC every implementation computes", () => {
    for (const { kind, bytes } of KAFKA_BATCHES) {
      const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(17);
      // At an odd offset too, as a batch inside a produce request is.
      const shifted = new Uint8Array(bytes.length + 3);
      shifted.set(bytes, 3);
      for (const [name, fn] of IMPLS) {
        assert.equal(fn(bytes.subarray(21), 0), stored, `${name} ${kind}`);
        assert.equal(fn(shifted.subarray(3 + 21), 0), stored, `${name} ${kind} shifted`);
      }
    }
  });

  await t.step("empty input returns initial unchanged", () => {
    for (const [name, fn] of IMPLS) {
      assert.equal(fn(new Uint8Array(0), 0), 0, name);
      assert.equal(fn(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef, name);
      assert.equal(fn(new Uint8Array(10).subarray(10), 0x12345678), 0x12345678, name);
    }
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  await t.step("results are unsigned 32-bit", () => {
    // 0xE3069283 has its top bit set: a signed result would be negative.
    const v = crc32c(ENCODER.encode("123456789"));
    assert.equal(v, 0xe3069283);
    const next = prng(7);
    for (const len of [1, 100, 300, 5000, 70_000]) {
      const data = randomBytes(len, next);
      for (const [name, fn] of IMPLS) {
        const r = fn(data, 0);
        assert.ok(Number.isInteger(r) && r >= 0 && r <= 0xffffffff, `${name} ${len}: ${r}`);
      }
    }
  });

  await t.step("every length 0..1100 at offsets 0..15 agrees with the portable code", () => {
    const next = prng(0x5eed);
    const data = randomBytes(1200, next);
    for (let len = 0; len <= 1100; len++) {
      const offset = len & 15;
      const view = data.subarray(offset, offset + len);
      const expected = crc32cPortable(view);
      for (const [name, fn] of IMPLS) assert.equal(fn(view, 0), expected, `${name} len ${len}`);
    }
  });

  await t.step("random lengths 0..70000, misaligned offsets and initials", () => {
    const next = prng(0xc0ffee);
    const backing = randomBytes(70_000 + 64, next);
    for (let i = 0; i < 200; i++) {
      const offset = next() % 64;
      const len = next() % 70_001;
      const initial = next() >>> 0;
      const view = backing.subarray(offset, offset + len);
      const expected = crc32cPortable(view, initial);
      for (const [name, fn] of IMPLS) {
        assert.equal(fn(view, initial), expected, `${name} offset ${offset} len ${len}`);
      }
    }
  });

  await t.step("multi-MiB buffers", () => {
    const next = prng(42);
    for (const len of [MiB, 3 * MiB + 5, 4 * MiB - 1]) {
      const data = randomBytes(len, next);
      const expected = crc32cPortable(data);
      for (const [name, fn] of IMPLS) assert.equal(fn(data, 0), expected, `${name} len ${len}`);
    }
  });

  await t.step("chaining with initial equals one pass", () => {
    const next = prng(99);
    const data = randomBytes(40_000, next);
    const whole = crc32cPortable(data);
    // Cuts on both sides of the 8-byte stride, the small-input cut-overs and the kernel's blocks
    // of 3 x 64, 3 x 256 and 3 x 4096 bytes.
    const cuts = [0, 1, 7, 8, 9, 31, 32, 63, 100, 191, 192, 193, 255, 256, 257, 767, 768, 769];
    for (const cut of [...cuts, 1000, 4095, 4096, 12_287, 12_288, 12_289, 39_999, 40_000]) {
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      for (const [name, fn] of IMPLS) {
        assert.equal(fn(b, fn(a, 0)), whole, `${name} cut ${cut}`);
        assert.equal(fn(b, crc32cPortable(a)), whole, `${name} after portable, cut ${cut}`);
      }
    }
    // Three pieces, each fed the previous result.
    const parts = [data.subarray(0, 10), data.subarray(10, 2000), data.subarray(2000)];
    for (const [name, fn] of IMPLS) {
      let crc = 0;
      for (const p of parts) crc = fn(p, crc);
      assert.equal(crc, whole, name);
    }
  });

  await t.step("signed initial is accepted like its unsigned value", () => {
    const a = ENCODER.encode("123456789");
    const b = ENCODER.encode("6789".repeat(200));
    const prefix = crc32c(a);
    assert.ok(prefix > 0x7fffffff, "a prefix with its top bit set");
    for (const [name, fn] of IMPLS) assert.equal(fn(b, prefix | 0), fn(b, prefix), name);
  });

  await t.step("views over a larger ArrayBuffer, as a batch read from a segment is", () => {
    const buf = new ArrayBuffer(1024);
    const bytes = new Uint8Array(buf, 512, 9);
    bytes.set(ENCODER.encode("123456789"));
    const big = new Uint8Array(new ArrayBuffer(8192), 1, 4000);
    big.set(randomBytes(4000, prng(1234)));
    const expected = crc32cPortable(big.slice());
    for (const [name, fn] of IMPLS) {
      assert.equal(fn(bytes, 0), 0xe3069283, name);
      assert.equal(fn(big, 0), expected, name);
    }
  });

  await t.step("the self-test refuses a wrong implementation", () => {
    for (const [name, fn] of crc32cImplementations) assert.ok(crc32cSelfTest(fn), name);
    // Ignores the view's byteOffset (reads from the start of the buffer).
    const noOffset: Crc32cFn = (d, i) => crc32cPortable(new Uint8Array(d.buffer, 0, d.length), i);
    assert.equal(crc32cSelfTest(noOffset), false);
    // Right on short inputs, wrong past 4 KiB (a broken stream join).
    const longWrong: Crc32cFn = (d, i) => (crc32cPortable(d, i) ^ (d.length > 4096 ? 1 : 0)) >>> 0;
    assert.equal(crc32cSelfTest(longWrong), false);
    // Ignores `initial`.
    const noChain: Crc32cFn = (d) => crc32cPortable(d, 0);
    assert.equal(crc32cSelfTest(noChain), false);
  });
});
