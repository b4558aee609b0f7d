/**
 * A clean of several groups writes the next group while the last one's files are fsynced
 * (log_compaction.ts, group_filter.ts): a group is swapped in only once the next one is written.
 * Real files; the cleaner's step hook (segment_swap.ts) tells the order and triggers the abort.
 */
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/logger.ts";
import { CleanerManager } from "../../src/storage/cleaner/cleaner_manager.ts";
import type { SwapStep } from "../../src/storage/cleaner/segment_swap.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir } from "../test_util.ts";
import { keyedBatch, type KeyedRecord, latestByKey, readAllRecords } from "./compaction_util.ts";

const KEYS = 30;

/** A compacted log of many full segments: `rounds` values of each key, 5 records a batch. */
async function writeLog(dir: string, logger: MemoryLogger, rounds: number) {
  const log = await PartitionLog.open(dir, {
    config: { compact: true, delete: false, segmentBytes: 4096 },
    logger,
  });
  const written: (KeyedRecord & { offset: number })[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < KEYS; k += 5) {
      const records = [0, 1, 2, 3, 4].map((i) => ({
        key: `k${k + i}`,
        value: `r${round}-${"x".repeat((k + i) % 17)}`,
      }));
      const r = await log.append(keyedBatch(records, { timestampMs: Date.now() }));
      records.forEach((rec, i) => written.push({ offset: r.baseOffset + i, ...rec }));
    }
  }
  log.updateHighWatermark(log.logEndOffset);
  return { log, written };
}

/** A cleaner manager for `log` whose step hook is `hook`. */
function hookedManager(
  log: PartitionLog,
  logger: MemoryLogger,
  hook: (step: SwapStep) => void,
): CleanerManager {
  const manager = new CleanerManager({ logger, dedupeBufferBytes: 1 << 20, hook });
  manager.register(log);
  return manager;
}

function filesWith(dir: string, suffix: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(suffix));
}

Deno.test("compaction: groups written ahead of their swaps", async (t) => {
  await t.step("the next group is being written as the last one commits", async () => {
    const dir = tempDir("pipeline");
    const logger = new MemoryLogger();
    const { log, written } = await writeLog(dir, logger, 40);
    const groups = log.segments().length - 1;
    assert.ok(groups >= 4, `several groups: ${groups}`);
    const steps: SwapStep[] = [];
    // At each commit, the cleaned log files there (the next group's, already being written).
    const cleanedAtCommit: string[][] = [];
    const manager = hookedManager(log, logger, (step) => {
      steps.push(step);
      if (step === "committed") cleanedAtCommit.push(filesWith(dir, ".log.cleaned"));
    });
    const result = await manager.cleanNow(log);
    assert.equal(result.cleaned, true);
    assert.equal(result.counters.segmentsWritten, groups);
    assert.equal(cleanedAtCommit.length, groups);
    // Group g + 1's file exists when group g commits; nothing is left to write at the last one.
    const bases = log.segments().map((s) => s.baseOffset);
    for (let g = 0; g + 1 < groups; g++) {
      assert.deepEqual(
        cleanedAtCommit[g].map((n) => Number(n.slice(0, 20))),
        [bases[g + 1]],
        `group ${g + 2} written as group ${g + 1} commits`,
      );
    }
    assert.deepEqual(cleanedAtCommit[groups - 1], []);
    // Each group commits after its files are synced.
    const committed = steps.flatMap((s, i) => s === "committed" ? [i] : []);
    const cleaned = steps.flatMap((s, i) => s === "cleaned" ? [i] : []);
    for (let g = 0; g < groups; g++) assert.ok(cleaned[g] < committed[g], `group ${g + 1}`);
    assert.deepEqual(filesWith(dir, ".cleaned"), []);
    assert.deepEqual(latestByKey(readAllRecords(log)), latestByKey(written));
    await log.close();
    const reopened = await PartitionLog.open(dir, { logger });
    assert.deepEqual(reopened.damage, []);
    assert.deepEqual(latestByKey(readAllRecords(reopened)), latestByKey(written));
    await reopened.close();
  });

  await t.step("an abort before the first commit swaps nothing and leaves no file", async () => {
    const dir = tempDir("pipeline-abort");
    const logger = new MemoryLogger();
    const { log, written } = await writeLog(dir, logger, 40);
    const before = readAllRecords(log);
    let closing: Promise<void> | undefined;
    const manager = hookedManager(log, logger, (step) => {
      // The first group's files are synced, its swap about to start, the second group written
      // or being written: close aborts the clean.
      if (step === "cleaned" && closing === undefined) closing = log.close();
    });
    const result = await manager.cleanNow(log);
    assert.equal(result.aborted, true);
    assert.equal(result.cleaned, false);
    assert.ok(closing !== undefined, "the clean synced its first group");
    await closing;
    assert.deepEqual(filesWith(dir, ".cleaned"), []);
    assert.deepEqual(filesWith(dir, ".swap"), []);
    // Nothing was swapped in: the reopened log holds every record as written.
    const reopened = await PartitionLog.open(dir, { logger });
    assert.deepEqual(reopened.damage, []);
    assert.deepEqual(readAllRecords(reopened), before);
    assert.deepEqual(latestByKey(readAllRecords(reopened)), latestByKey(written));
    await reopened.close();
  });

  await t.step("retention while a swap's commit is fsynced takes the swap back", async () => {
    const dir = tempDir("pipeline-retention");
    const logger = new MemoryLogger();
    const { log, written } = await writeLog(dir, logger, 40);
    const firstEnd = log.segments()[0].nextOffset;
    // Rolls flush in the background, and retention waits for a flush that is running: with none
    // left, the deletion below happens within the hook's call, before the commit's fsync ends,
    // whatever the machine's load.
    await log.flush();
    let deleting: Promise<number> | undefined;
    const manager = hookedManager(log, logger, (step) => {
      // The first group's indexes are `.swap`, its log about to be: retention deletes the
      // oldest segment, the first group's, before the commit's directory fsync ends.
      if (step === "indexes-renamed" && deleting === undefined) {
        deleting = log.deleteSegmentsBefore(firstEnd);
      }
    });
    const result = await manager.cleanNow(log);
    assert.equal(await deleting, 1);
    assert.equal(result.aborted, true);
    assert.deepEqual(filesWith(dir, ".swap"), []);
    assert.deepEqual(filesWith(dir, ".cleaned"), []);
    assert.equal(log.logStartOffset, firstEnd);
    const kept = written.filter((w) => w.offset >= firstEnd);
    const read = readAllRecords(log);
    assert.deepEqual(
      read.map((r) => [r.offset, r.key, r.value]),
      kept.map((w) => [w.offset, w.key, w.value]),
    );
    await log.close();
    const reopened = await PartitionLog.open(dir, { logger });
    assert.deepEqual(reopened.damage, []);
    assert.equal(reopened.logStartOffset, firstEnd);
    assert.deepEqual(readAllRecords(reopened), read);
    // The next clean goes through.
    const again = new CleanerManager({ logger, dedupeBufferBytes: 1 << 20 });
    again.register(reopened);
    reopened.updateHighWatermark(reopened.logEndOffset);
    assert.equal((await again.cleanNow(reopened)).cleaned, true);
    assert.deepEqual(latestByKey(readAllRecords(reopened)), latestByKey(kept));
    await reopened.close();
  });
});
