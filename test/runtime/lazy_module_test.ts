import assert from "node:assert/strict";
import { loadModule, moduleLoaded } from "../../src/runtime/lazy_module.ts";
import { compress, COMPRESSION_CODECS, decompress } from "../../src/record/compression.ts";

Deno.test("lazy modules", async (t) => {
  await t.step("the codecs are not loaded until a batch needs them", () => {
    // Importing the record codecs (as the server does at start) loads neither.
    assert.equal(moduleLoaded("node:zlib"), false);
    assert.equal(moduleLoaded("lz4-napi"), false);

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
