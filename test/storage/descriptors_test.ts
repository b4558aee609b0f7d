/**
 * Segment descriptors are bounded (finding D): a child process under `ulimit -n 256` opens 300
 * logs of 3 segments each (900 .log files, 2,700 files with their indexes), appends to and reads
 * every one of them, reopens them all and reads again, with at most the descriptor cache's
 * capacity (half the limit) of segment files open; then, with every descriptor taken, creating a
 * log fails with TOO_MANY_OPEN_FILES naming the file and leaves nothing open.
 */
import assert from "node:assert/strict";
import { LogFiles } from "../../src/storage/log_files.ts";
import { tempDir } from "../test_util.ts";

const childPath = new URL("./descriptors_child.ts", import.meta.url).pathname;
const DESCRIPTOR_LIMIT = 256;
const PARTITIONS = 300;

Deno.test("D: more segment files than descriptors, under ulimit -n 256", async () => {
  const dir = tempDir("sluice-fds-");
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n ${DESCRIPTOR_LIMIT} && exec "$0" run -A "$1" "$2" "$3"`,
      Deno.execPath(),
      childPath,
      dir,
      String(PARTITIONS),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `child failed:\n${stderr.slice(-3000)}`);
  const seen = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  assert.equal(seen.capacity, DESCRIPTOR_LIMIT / 2, "capacity: half the process limit");
  assert.equal(seen.segments, PARTITIONS * 3, "every log has 3 segments");
  assert.equal(seen.recordsRead, PARTITIONS * 12);
  assert.equal(seen.recordsReread, PARTITIONS * 12);
  assert.ok(seen.openAfterReads <= seen.capacity, JSON.stringify(seen));
  assert.ok(seen.maxFds < DESCRIPTOR_LIMIT, JSON.stringify(seen));
  assert.equal(seen.createError, "TOO_MANY_OPEN_FILES");
  assert.equal(seen.createErrorNamesFile, true);
  assert.equal(seen.fdsLeakedByFailedCreate, 0, "a failed create leaves nothing open");
  assert.equal(seen.createdAfterwards, true);
});

Deno.test("LogFiles: a bounded LRU that never closes a descriptor with an fsync in flight", async (t) => {
  const dir = tempDir("sluice-lru-");
  await t.step("keeps at most capacity open, least recently used closed first", () => {
    const cache = new LogFiles(4);
    const files = Array.from({ length: 10 }, (_, i) => cache.file(`${dir}/f${i}`));
    for (const f of files) f.handle();
    assert.equal(cache.openCount, 4);
    assert.deepEqual(files.map((f) => f.isOpen), [...Array(6).fill(false), ...Array(4).fill(true)]);
    files[6].handle(); // now the most recent: f7 is the oldest
    files[0].handle();
    assert.equal(files[7].isOpen, false);
    assert.equal(files[6].isOpen, true);
    for (const f of files) f.close();
    assert.equal(cache.openCount, 0);
  });
  await t.step(
    "a pinned descriptor survives eviction and a close until its fsync ends",
    async () => {
      const cache = new LogFiles(4);
      const files = Array.from({ length: 8 }, (_, i) => cache.file(`${dir}/g${i}`));
      const syncing = files[0].sync();
      assert.equal(files[0].isPinned, true);
      for (const f of files.slice(1)) f.handle(); // 7 more opens through a cache of 4
      assert.equal(files[0].isOpen, true, "pinned: never evicted");
      files[0].close();
      assert.equal(files[0].isOpen, true, "closed by its owner while pinned: still open");
      await syncing;
      assert.equal(files[0].isOpen, false, "closed once the fsync ended");
      assert.equal(cache.pinnedCount, 0);
      assert.ok(cache.openCount <= 4);
      for (const f of files) f.close();
    },
  );
  await t.step("fsyncs past the pinned share wait their turn and all complete", async () => {
    const cache = new LogFiles(4); // pinnedMax 3
    const files = Array.from({ length: 12 }, (_, i) => cache.file(`${dir}/h${i}`));
    let maxPinned = 0;
    const syncs = files.map((f) =>
      f.sync().then(() => (maxPinned = Math.max(maxPinned, cache.pinnedCount)))
    );
    const probe = setInterval(() => (maxPinned = Math.max(maxPinned, cache.pinnedCount)), 0);
    await Promise.all(syncs);
    clearInterval(probe);
    assert.ok(maxPinned <= cache.pinnedMax, `pinned ${maxPinned} > ${cache.pinnedMax}`);
    assert.ok(cache.openCount <= 4);
    for (const f of files) f.close();
    assert.equal(cache.openCount, 0);
  });
});
