import assert from "node:assert/strict";
import { crc32c, crc32cImplementation, crc32cPortable } from "../../src/record/crc32c.ts";
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

/** The addon itself, to compare against the portable code at every length (crc32c() keeps short
 * inputs on the portable path, so comparing through it alone would not exercise the addon there). */
type NativeFn = (input: Uint8Array, initialState?: number | null) => number;
let nativeFn: NativeFn | null = null;
try {
  nativeFn = (await import("@node-rs/crc32")).crc32c as NativeFn;
} catch {
  nativeFn = null;
}

const MiB = 1024 * 1024;
const ENCODER = new TextEncoder();
const repoRoot = new URL("../../", import.meta.url);

/** Runs a child Deno that imports the module and prints which implementation it picked. */
async function childImplementation(
  permissions: string[],
  env: Record<string, string>,
): Promise<string> {
  const moduleUrl = new URL("src/record/crc32c.ts", repoRoot).href;
  const script = `import { crc32c, crc32cImplementation } from ${JSON.stringify(moduleUrl)};\n` +
    `const v = crc32c(new TextEncoder().encode("123456789".repeat(100)));\n` +
    `console.log(crc32cImplementation() + " " + v);\n`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...permissions, "-"],
    cwd: repoRoot,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(ENCODER.encode(script));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("crc32c", async (t) => {
  await t.step("fixture vectors, both implementations", () => {
    assert.ok(fixture.cases.length >= 3);
    for (const c of fixture.cases) {
      const bytes = caseBytes(c);
      assert.equal(crc32c(bytes), c.crc, `crc32c ${c.ascii ?? c.hex}`);
      assert.equal(crc32cPortable(bytes), c.crc, `portable ${c.ascii ?? c.hex}`);
      if (nativeFn) assert.equal(nativeFn(bytes) >>> 0, c.crc, `native ${c.ascii ?? c.hex}`);
    }
  });

  await t.step("empty input returns initial unchanged", () => {
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32cPortable(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
    assert.equal(crc32cPortable(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
  });

  await t.step("results are unsigned 32-bit", () => {
    // 0xE3069283 has its top bit set: a signed result would be negative.
    const v = crc32c(ENCODER.encode("123456789"));
    assert.equal(v, 0xe3069283);
    assert.ok(v > 0x7fffffff);
    const next = prng(7);
    for (const len of [1, 100, 300, 5000]) {
      const data = randomBytes(len, next);
      for (const f of [crc32c, crc32cPortable]) {
        const r = f(data);
        assert.ok(Number.isInteger(r) && r >= 0 && r <= 0xffffffff, `${f.name} ${len}: ${r}`);
      }
    }
  });

  await t.step("native is loaded here unless forced off", () => {
    // This machine kind (linux x64 gnu) has a prebuilt binary; losing it silently would cost ~4x
    // on large batches, so its absence is a failure, not a fallback, in this test run.
    const forced = Deno.env.get("SLUICE_CRC32C") === "portable";
    if (nativeFn && !forced) assert.equal(crc32cImplementation(), "native");
    if (forced) assert.equal(crc32cImplementation(), "portable");
  });

  await t.step("native and portable agree on every length 0..1000", () => {
    const next = prng(0x5eed);
    const data = randomBytes(1000, next);
    for (let len = 0; len <= 1000; len++) {
      const view = data.subarray(0, len);
      const expected = crc32cPortable(view);
      assert.equal(crc32c(view), expected, `crc32c len ${len}`);
      if (nativeFn) assert.equal(nativeFn(view) >>> 0, expected, `native len ${len}`);
    }
  });

  await t.step("native and portable agree on multi-MiB buffers", () => {
    const next = prng(42);
    for (const len of [MiB, 3 * MiB + 5, 4 * MiB - 1]) {
      const data = randomBytes(len, next);
      const expected = crc32cPortable(data);
      assert.equal(crc32c(data), expected, `crc32c len ${len}`);
      if (nativeFn) assert.equal(nativeFn(data) >>> 0, expected, `native len ${len}`);
    }
  });

  await t.step("chaining with initial equals one pass", () => {
    const next = prng(99);
    const data = randomBytes(4096, next);
    const whole = crc32cPortable(data);
    // Split points cover both sides of the native/portable cut-over and of the 8-byte stride.
    for (const cut of [0, 1, 7, 8, 9, 63, 100, 255, 256, 257, 1000, 4095, 4096]) {
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      assert.equal(crc32c(b, crc32c(a)), whole, `crc32c cut ${cut}`);
      assert.equal(crc32cPortable(b, crc32cPortable(a)), whole, `portable cut ${cut}`);
      assert.equal(crc32c(b, crc32cPortable(a)), whole, `mixed cut ${cut}`);
    }
    // Three pieces, each fed the previous result.
    const parts = [data.subarray(0, 10), data.subarray(10, 2000), data.subarray(2000)];
    let crc = 0;
    for (const p of parts) crc = crc32c(p, crc);
    assert.equal(crc, whole);
  });

  await t.step("signed initial is accepted like its unsigned value", () => {
    const a = ENCODER.encode("12345");
    const b = ENCODER.encode("6789".repeat(200));
    const prefix = crc32c(a);
    assert.ok(prefix | 0, "non-zero prefix");
    assert.equal(crc32c(b, prefix | 0), crc32c(b, prefix));
    assert.equal(crc32cPortable(b, prefix | 0), crc32cPortable(b, prefix));
  });

  await t.step("subarray views with non-zero byteOffset", () => {
    const next = prng(1234);
    const backing = randomBytes(10_000, next);
    for (const [start, end] of [[1, 10], [3, 100], [5, 300], [7, 4099], [13, 9_999]]) {
      const view = backing.subarray(start, end);
      assert.ok(view.byteOffset > 0);
      const copy = view.slice();
      assert.equal(copy.byteOffset, 0);
      const expected = crc32cPortable(copy);
      assert.equal(crc32c(view), expected, `crc32c [${start}, ${end})`);
      assert.equal(crc32cPortable(view), expected, `portable [${start}, ${end})`);
      if (nativeFn) assert.equal(nativeFn(view) >>> 0, expected, `native [${start}, ${end})`);
    }
    // A view over a larger ArrayBuffer built from an offset, as a batch read from a segment is.
    const buf = new ArrayBuffer(1024);
    const bytes = new Uint8Array(buf, 512, 9);
    bytes.set(ENCODER.encode("123456789"));
    assert.equal(crc32c(bytes), 0xe3069283);
    const big = new Uint8Array(new ArrayBuffer(8192), 1, 4000);
    big.set(randomBytes(4000, next));
    assert.equal(crc32c(big), crc32cPortable(big.slice()));
  });

  await t.step("SLUICE_CRC32C=portable forces the portable path", async () => {
    const expected = crc32cPortable(ENCODER.encode("123456789".repeat(100)));
    const forced = await childImplementation(["--allow-read", "--allow-env", "--allow-ffi"], {
      SLUICE_CRC32C: "portable",
    });
    assert.equal(forced, `portable ${expected}`);
    if (nativeFn) {
      // The child inherits this process's environment: blank the variable rather than omit it.
      const normal = await childImplementation(
        ["--allow-read", "--allow-env", "--allow-ffi"],
        { SLUICE_CRC32C: "" },
      );
      assert.equal(normal, `native ${expected}`);
    }
  });

  await t.step("falls back to portable when the addon cannot load", async () => {
    // Deno without --allow-ffi refuses native addons: the import throws and must not propagate.
    const expected = crc32cPortable(ENCODER.encode("123456789".repeat(100)));
    assert.equal(await childImplementation(["--allow-read"], {}), `portable ${expected}`);
  });
});
