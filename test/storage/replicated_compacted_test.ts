/**
 * A follower's copy of a compacted leader's log (PartitionLog.appendReplicated, append_rules.ts
 * checkReplicatedOffsets, LogCompaction.allowGaps) when the clean removed no whole batch: every
 * batch the leader kept is contiguous with the one before it, but holds fewer records than its
 * offsets span. Such a segment must be marked compacted as one with gaps between batches is:
 * recovery holds an unmarked segment to one record per offset (CHECK_COUNTS), and would take the
 * first such batch for a torn write after a crash, truncating the log there and deleting every
 * segment after it.
 */
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches } from "../../src/record/record_batch.ts";
import { CleanerManager } from "../../src/storage/cleaner/cleaner_manager.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir } from "../test_util.ts";
import { keyedBatch, readAllRecords } from "./compaction_util.ts";

const BASE_MS = 1_700_000_000_000;
/** Small segments, so that the 30 batches span several on both sides. */
const CONFIG: Partial<LogConfig> = { segmentBytes: 1024, indexIntervalBytes: 256 };

Deno.test("a follower of a compacted leader whose batches lost records, not whole batches", async (t) => {
  const leader = await PartitionLog.open(tempDir("sluice-compacted-leader-"), {
    config: { ...CONFIG, compact: true },
    logger: new MemoryLogger(),
  });
  const followerDir = tempDir("sluice-compacted-follower-");
  const follower = await PartitionLog.open(followerDir, {
    config: { ...CONFIG, compact: true },
    logger: new MemoryLogger(),
  });
  try {
    // Each batch updates keys a and b and writes one key of its own: a clean keeps every batch,
    // each with its own key only (and the last one whole).
    for (let i = 0; i < 30; i++) {
      await leader.append(keyedBatch([
        { key: "a", value: `a${i}` },
        { key: "b", value: `b${i}` },
        { key: `own${i}`, value: `own${i}-${"x".repeat(20)}` },
      ], { timestampMs: BASE_MS + i * 10 }));
    }
    leader.updateHighWatermark(leader.logEndOffset);
    const cleaner = new CleanerManager({ logger: new MemoryLogger() });
    cleaner.register(leader);
    assert.ok((await cleaner.cleanNow(leader)).cleaned);

    await t.step("taken as read: contiguous batches, some holding fewer records", async () => {
      let offset = 0;
      let next = 0;
      let partial = 0;
      while (offset < leader.logEndOffset) {
        const read = leader.read(offset, 1 << 20)!;
        for (const b of decodeBatches(read.bytes)) {
          assert.equal(b.baseOffset, next, "no whole batch was removed");
          next = b.baseOffset + b.lastOffsetDelta + 1;
          if (b.records.length < b.lastOffsetDelta + 1) partial++;
        }
        await follower.appendReplicated(read.bytes.slice());
        offset = read.nextOffset;
      }
      assert.ok(partial >= 20, `${partial} batches hold fewer records than offsets`);
      assert.equal(follower.logEndOffset, leader.logEndOffset);
      assert.ok(follower.segments().length > 1, "over several segments");
    });

    await t.step("reopened after a crash before any recovery checkpoint: all kept", async () => {
      const expected = readAllRecords(follower);
      // A crash copy: the files as they are, without the checkpoint a clean close writes.
      const crashed = tempDir("sluice-compacted-crashed-");
      for (const e of Deno.readDirSync(followerDir)) {
        if (e.isFile && e.name !== CHECKPOINT_FILE) {
          Deno.copyFileSync(`${followerDir}/${e.name}`, `${crashed}/${e.name}`);
        }
      }
      const logger = new MemoryLogger();
      const reopened = await PartitionLog.open(crashed, { config: CONFIG, logger });
      try {
        assert.deepEqual(
          logger.events.filter((e) => e.level !== "info"),
          [],
          "recovery truncated nothing, deleted nothing",
        );
        assert.deepEqual(reopened.damage, []);
        assert.equal(reopened.logEndOffset, leader.logEndOffset);
        assert.deepEqual(readAllRecords(reopened), expected);
        assert.deepEqual(readAllRecords(reopened), readAllRecords(leader));
      } finally {
        await reopened.close();
      }
    });
  } finally {
    await follower.close();
    await leader.close();
  }
});
