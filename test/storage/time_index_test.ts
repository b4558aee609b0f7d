import assert from "node:assert/strict";
import { tempDir } from "../test_util.ts";
import { TimeIndex } from "../../src/storage/time_index.ts";

const tmp = () => tempDir("sluice-timeindex-");

Deno.test("TimeIndex", async (t) => {
  await t.step("maybeAppend() keeps timestamps and offsets strictly increasing", () => {
    const index = new TimeIndex(`${tmp()}/a.timeindex`, 0, 16);
    index.maybeAppend(1000, 5);
    index.maybeAppend(1000, 9); // same timestamp: skipped
    index.maybeAppend(900, 12); // older: skipped
    index.maybeAppend(1200, 5); // same offset: skipped
    index.maybeAppend(1500, 20);
    assert.equal(index.entries, 2);
    assert.equal(index.lastTimestamp, 1500);
    assert.equal(index.lastOffset, 20);
  });

  await t.step("lookupBefore() finds the last entry strictly older than the target", () => {
    const index = new TimeIndex(`${tmp()}/a.timeindex`, 100, 16);
    index.maybeAppend(1000, 110);
    index.maybeAppend(2000, 120);
    index.maybeAppend(3000, 130);
    assert.equal(index.lookupBefore(500), undefined);
    assert.equal(index.lookupBefore(1000), undefined);
    assert.equal(index.lookupBefore(1001), 110);
    assert.equal(index.lookupBefore(2000), 110);
    assert.equal(index.lookupBefore(2500), 120);
    assert.equal(index.lookupBefore(10_000), 130);
  });

  await t.step("the file holds 12-byte big-endian entries and reloads", () => {
    const path = `${tmp()}/b.timeindex`;
    const index = new TimeIndex(path, 1000, 16);
    index.maybeAppend(1_700_000_000_123, 1003);
    index.persist(true);
    const bytes = Deno.readFileSync(path);
    assert.equal(bytes.length, 12);
    const dv = new DataView(bytes.buffer);
    assert.equal(dv.getBigInt64(0), 1_700_000_000_123n);
    assert.equal(dv.getUint32(8), 3);
    const reloaded = new TimeIndex(path, 1000, 16, bytes);
    assert.equal(reloaded.lastTimestamp, 1_700_000_000_123);
    assert.equal(reloaded.lastOffset, 1003);
  });

  await t.step("truncateToOffset() drops entries at or after the offset", () => {
    const index = new TimeIndex(`${tmp()}/c.timeindex`, 0, 16);
    for (let i = 1; i <= 5; i++) index.maybeAppend(i * 100, i * 10);
    index.truncateToOffset(30);
    assert.equal(index.entries, 2);
    assert.equal(index.lastOffset, 20);
  });
});
