/**
 * Opening logs on a full disk (finding C): a real, size-limited tmpfs (as test/faults/disk_full_test
 * makes; needs root, ignored otherwise) filled to the last page. An open that must write (rebuilt
 * indexes, the recovery checkpoint) opens the log read-only instead of throwing: every batch
 * reads, appends fail with INSUFFICIENT_STORAGE naming the file; once space is freed, a reopen is
 * an ordinary log again.
 */
import assert from "node:assert/strict";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { canMountTmpfs, mountTmpfs, unmount } from "../faults/fault_util.ts";
import { tempDir } from "../test_util.ts";

const TMPFS_MIB = 4;
const CONFIG: Partial<LogConfig> = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 };
const BATCHES = 200;
/** Writes past this many 4 KiB chunks mean the filler never hit ENOSPC: a broken test. */
const FILL_CHUNKS_MAX = (TMPFS_MIB * 1024 * 1024) / 4096 + 16;

const mountable = await canMountTmpfs();

function batch(i: number): Uint8Array {
  const value = new TextEncoder().encode(`r${i}-${"x".repeat(1000)}`);
  return encodeRecordBatch([{ value }, { value }], { timestampMs: 1_700_000_000_000 + i });
}

/** Writes 4 KiB chunks to `path` until the file system refuses one (ENOSPC). */
function fillDisk(path: string): void {
  const file = Deno.openSync(path, { write: true, create: true, append: true });
  const chunk = new Uint8Array(4096).fill(1);
  try {
    for (let i = 0; i < FILL_CHUNKS_MAX; i++) {
      try {
        file.writeSync(chunk);
      } catch {
        // Last-page leftovers: a smaller write may still fit; take them too.
        for (let b = 2048; b >= 1; b >>= 1) {
          try {
            while (file.writeSync(chunk.subarray(0, b)) > 0) { /* until refused */ }
          } catch { /* next size */ }
        }
        return;
      }
    }
    assert.fail(`the disk did not fill within ${FILL_CHUNKS_MAX} chunks`);
  } finally {
    file.close();
  }
}

function isNoSpaceNaming(mnt: string) {
  return (err: unknown) => {
    assert.ok(isSluiceError(err, "INSUFFICIENT_STORAGE"), `want INSUFFICIENT_STORAGE: ${err}`);
    assert.ok(err.message.includes(mnt), `the message names the file: ${err.message}`);
    return true;
  };
}

Deno.test({
  name: "C: PartitionLog.open() on a full disk opens read-only instead of throwing",
  ignore: !mountable,
}, async (t) => {
  const mnt = tempDir("sluice-fullopen-");
  assert.ok(await mountTmpfs(mnt, TMPFS_MIB), "mount tmpfs");
  try {
    const dir = `${mnt}/log`;
    const log = await PartitionLog.open(dir, { config: CONFIG, logger: new MemoryLogger() });
    for (let i = 0; i < BATCHES; i++) await log.append(batch(i));
    const hw = log.logEndOffset;
    const segments = log.segments().map((s) => s.baseOffset);
    await log.close();
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    // As after a crash: no checkpoint, no index files; the next open must re-validate, rebuild
    // and write them all.
    Deno.removeSync(`${dir}/${CHECKPOINT_FILE}`);
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.endsWith("index")) Deno.removeSync(`${dir}/${e.name}`);
    }
    fillDisk(`${mnt}/filler`);

    await t.step("a recovering open on the full disk: read-only, reads served", async () => {
      const logger = new MemoryLogger();
      const full = await PartitionLog.open(dir, { config: CONFIG, logger });
      try {
        assert.equal(full.state, "read-only");
        assert.equal(full.failure?.code, "INSUFFICIENT_STORAGE");
        assert.ok(full.failure!.message.includes(mnt), full.failure!.message);
        assert.equal(full.logEndOffset, hw, "nothing truncated");
        let offset = 0;
        let records = 0;
        while (offset < hw) {
          const r = full.read(offset, 64 * 1024);
          assert.ok(r !== undefined, `read(${offset})`);
          for (const b of decodeBatches(r.bytes)) records += b.records.length;
          offset = r.nextOffset;
        }
        assert.equal(records, hw);
        await assert.rejects(full.append(batch(999)), isNoSpaceNaming(mnt));
        assert.ok(
          logger.events.some((e) => e.level === "error" && String(e.fields?.error).includes(mnt)),
          `logged naming the file: ${JSON.stringify(logger.events)}`,
        );
      } finally {
        await full.close();
      }
    });

    await t.step("a new partition on the full disk: open does not throw", async () => {
      const fresh = await PartitionLog.open(`${mnt}/new/0`, {
        config: CONFIG,
        logger: new MemoryLogger(),
      });
      try {
        assert.equal(fresh.read(0), undefined);
        await assert.rejects(fresh.append(batch(0)), isNoSpaceNaming(mnt));
      } finally {
        await fresh.close();
      }
    });

    await t.step("with space freed, a reopen is online and appends continue", async () => {
      Deno.removeSync(`${mnt}/filler`);
      const again = await PartitionLog.open(dir, { config: CONFIG, logger: new MemoryLogger() });
      try {
        assert.equal(again.state, "online");
        assert.equal((await again.append(batch(1000))).baseOffset, hw);
      } finally {
        await again.close();
      }
    });
  } finally {
    await unmount(mnt);
  }
});
