import assert from "node:assert/strict";
import { expiredSegmentCount, type RetainedSegment } from "../../src/storage/retention.ts";

function seg(sizeBytes: number, maxTimestampMs: number, mtimeMs = 0): RetainedSegment {
  return { sizeBytes, maxTimestampMs, lastModifiedMs: () => mtimeMs };
}

Deno.test("expiredSegmentCount()", async (t) => {
  await t.step("time: deletes the expired prefix and stops at the first young segment", () => {
    const segments = [seg(10, 100), seg(10, 200), seg(10, 900), seg(10, 300), seg(10, 50)];
    // now 1000, retention 750: newest older than 250 expires -> 100, 200; 900 stops the prefix.
    assert.equal(expiredSegmentCount(segments, { retentionMs: 750, retentionBytes: -1 }, 1000), 2);
  });

  await t.step("time: never the active (last) segment", () => {
    const segments = [seg(10, 1), seg(10, 2)];
    assert.equal(expiredSegmentCount(segments, { retentionMs: 0, retentionBytes: -1 }, 1e12), 1);
    assert.equal(
      expiredSegmentCount([seg(10, 1)], { retentionMs: 0, retentionBytes: -1 }, 1e12),
      0,
    );
  });

  await t.step("time: a segment without timestamps ages by its file's mtime", () => {
    const segments = [seg(10, -1, 100), seg(10, -1, 5000), seg(10, 10)];
    assert.equal(expiredSegmentCount(segments, { retentionMs: 1000, retentionBytes: -1 }, 3000), 1);
  });

  await t.step("size: deletes oldest while the rest is still >= retention.bytes", () => {
    const segments = [seg(100, 0), seg(100, 0), seg(100, 0), seg(50, 0)];
    // Kafka's rule, delete while total - oldest >= cap: 350 - 100 = 250 >= 200 goes,
    // 250 - 100 = 150 < 200 stays.
    assert.equal(expiredSegmentCount(segments, { retentionMs: -1, retentionBytes: 200 }, 0), 1);
    assert.equal(expiredSegmentCount(segments, { retentionMs: -1, retentionBytes: 150 }, 0), 2);
    assert.equal(expiredSegmentCount(segments, { retentionMs: -1, retentionBytes: 0 }, 0), 3);
  });

  await t.step("-1 disables both rules; the longer prefix wins when both apply", () => {
    const segments = [seg(100, 0), seg(100, 0), seg(100, 5000), seg(100, 5000)];
    assert.equal(expiredSegmentCount(segments, { retentionMs: -1, retentionBytes: -1 }, 1e12), 0);
    const both = { retentionMs: 1000, retentionBytes: 250 };
    assert.equal(expiredSegmentCount(segments, both, 3000), 2); // time says 2, size says 1
  });
});
