import assert from "node:assert/strict";
import { loadModule, moduleLoaded } from "../../src/runtime/lazy_module.ts";
import { compress, COMPRESSION_CODECS, decompress } from "../../src/record/compression.ts";
import { crc32c, crc32cPortable } from "../../src/record/crc32c.ts";

Deno.test("lazy modules", async (t) => {
  await t.step("the codecs and the crc32c addon are not loaded until a batch needs them", () => {
    // Importing the record codecs (as the server does at start) loads none of them.
    assert.equal(moduleLoaded("node:zlib"), false);
    assert.equal(moduleLoaded("lz4-napi"), false);
    assert.equal(moduleLoaded("@node-rs/crc32"), false);

    const small = new Uint8Array(100).fill(7);
    assert.equal(crc32c(small), crc32cPortable(small));
    assert.equal(moduleLoaded("@node-rs/crc32"), false, "short inputs stay on the portable code");
    const large = new Uint8Array(4096).map((_, i) => i * 31);
    assert.equal(crc32c(large), crc32cPortable(large));
    assert.equal(moduleLoaded("@node-rs/crc32"), true);

    const records = new TextEncoder().encode("sluice ".repeat(200));
    const gz = compress(COMPRESSION_CODECS.gzip, records);
    assert.equal(moduleLoaded("node:zlib"), true);
    assert.equal(moduleLoaded("lz4-napi"), false);
    assert.deepEqual(decompress(COMPRESSION_CODECS.gzip, gz), records);
    const lz = compress(COMPRESSION_CODECS.lz4, records);
    assert.equal(moduleLoaded("lz4-napi"), true);
    assert.deepEqual(decompress(COMPRESSION_CODECS.lz4, lz), records);
  });

  await t.step("a module loads once; a failed load keeps its error", () => {
    assert.equal(loadModule("node:zlib"), loadModule("node:zlib"));
    const missing = "sluice-no-such-package-for-test";
    assert.throws(() => loadModule(missing));
    assert.equal(moduleLoaded(missing), true);
    let first: unknown;
    let second: unknown;
    try {
      loadModule(missing);
    } catch (err) {
      first = err;
    }
    try {
      loadModule(missing);
    } catch (err) {
      second = err;
    }
    assert.ok(first instanceof Error);
    assert.equal(first, second);
  });
});
