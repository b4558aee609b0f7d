import assert from "node:assert/strict";
import { isSluiceError } from "../../src/errors.ts";
import { DEFAULT_LOG_CONFIG, resolveLogConfig } from "../../src/storage/log_config.ts";

Deno.test("resolveLogConfig()", async (t) => {
  await t.step("fills Kafka's defaults", () => {
    const c = resolveLogConfig();
    assert.equal(c.segmentBytes, 1024 ** 3);
    assert.equal(c.indexIntervalBytes, 4096);
    assert.equal(c.retentionMs, 7 * 24 * 3600 * 1000);
    assert.equal(c.retentionBytes, -1);
    assert.equal(c.flushPolicy, "none");
    assert.deepEqual(resolveLogConfig({}), { ...DEFAULT_LOG_CONFIG });
  });

  await t.step("refuses out-of-range values with INVALID_CONFIG naming the key", () => {
    const bad = [
      { segmentBytes: 2 ** 31 },
      { segmentBytes: 10 },
      { retentionMs: -2 },
      { maxMessageBytes: 1.5 },
      { flushPolicy: "sometimes" as "none" },
    ];
    for (const overrides of bad) {
      assert.throws(
        () => resolveLogConfig(overrides),
        (e) => isSluiceError(e, "INVALID_CONFIG") && typeof e.details?.key === "string",
      );
    }
  });
});
