import assert from "node:assert/strict";
import { tempDir } from "../test_util.ts";
import { OffsetIndex } from "../../src/storage/offset_index.ts";

const tmp = () => tempDir("sluice-index-");

Deno.test("OffsetIndex", async (t) => {
  await t.step("lookup() returns position 0 when empty", () => {
    const index = new OffsetIndex(`${tmp()}/a.index`, 100, 16);
    assert.equal(index.lookup(100), 0);
    assert.equal(index.lookup(5_000), 0);
    assert.equal(index.lastOffset, 100);
  });

  await t.step("lookup() returns the largest entry <= target", () => {
    const index = new OffsetIndex(`${tmp()}/a.index`, 1000, 16);
    index.append(1010, 4096);
    index.append(1020, 8200);
    index.append(1035, 12400);
    assert.equal(index.lookup(1000), 0); // below the first entry: the segment start
    assert.equal(index.lookup(1009), 0);
    assert.equal(index.lookup(1010), 4096);
    assert.equal(index.lookup(1019), 4096);
    assert.equal(index.lookup(1020), 8200);
    assert.equal(index.lookup(1034), 8200);
    assert.equal(index.lookup(1035), 12400);
    assert.equal(index.lookup(99_999), 12400);
  });

  await t.step("append() refuses entries that do not increase", () => {
    const index = new OffsetIndex(`${tmp()}/a.index`, 0, 16);
    index.append(10, 100);
    assert.throws(() => index.append(10, 200), /must increase/);
    assert.throws(() => index.append(11, 100), /must increase/);
  });

  await t.step("grows past its initial capacity up to maxEntries", () => {
    const index = new OffsetIndex(`${tmp()}/a.index`, 0, 1000);
    for (let i = 1; i <= 1000; i++) index.append(i * 3, i * 4096);
    assert.equal(index.isFull, true);
    assert.throws(() => index.append(5000, 5000 * 4096), /full/);
    for (let i = 1; i <= 1000; i++) assert.equal(index.lookup(i * 3 + 1), i * 4096);
  });

  await t.step("the file is the array's image: 8-byte big-endian entries", () => {
    const path = `${tmp()}/b.index`;
    const index = new OffsetIndex(path, 500, 16);
    index.append(501, 4100);
    index.append(600, 0x01020304);
    index.persist(true);
    const bytes = Deno.readFileSync(path);
    assert.deepEqual([...bytes], [0, 0, 0, 1, 0, 0, 0x10, 0x04, 0, 0, 0, 100, 1, 2, 3, 4]);
    const reloaded = new OffsetIndex(path, 500, 16, bytes);
    assert.equal(reloaded.entries, 2);
    assert.equal(reloaded.lookup(650), 0x01020304);
  });

  await t.step("persist() writes only new entries and truncation shrinks the file", () => {
    const path = `${tmp()}/c.index`;
    const index = new OffsetIndex(path, 0, 64);
    for (let i = 1; i <= 10; i++) index.append(i, i * 100);
    index.persist(false);
    assert.equal(Deno.statSync(path).size, 80);
    index.append(11, 1100);
    index.persist(false);
    assert.equal(Deno.statSync(path).size, 88);
    index.truncateToPosition(500); // keeps positions < 500
    assert.equal(index.entries, 4);
    index.persist(true);
    assert.equal(Deno.statSync(path).size, 32);
  });

  await t.step("sanityCheck() rejects entries past the log's end", () => {
    const index = new OffsetIndex(`${tmp()}/d.index`, 0, 16);
    index.append(5, 5000);
    assert.equal(index.sanityCheck(10_000), undefined);
    assert.match(index.sanityCheck(4000) ?? "", /past the log's end/);
  });

  await t.step("sanityCheck() rejects non-increasing entries loaded from disk", () => {
    const image = new Uint8Array(16);
    const dv = new DataView(image.buffer);
    dv.setUint32(0, 5);
    dv.setUint32(4, 100);
    dv.setUint32(8, 4); // offset goes backwards
    dv.setUint32(12, 200);
    const index = new OffsetIndex(`${tmp()}/e.index`, 0, 16, image);
    assert.match(index.sanityCheck(1000) ?? "", /does not increase/);
  });
});
