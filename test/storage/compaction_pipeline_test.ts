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

function filesWith(dir: string, suffix: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(suffix));
}

Deno.test("compaction: groups written ahead of their swaps", async (t) => {
  await t.step("the next group is written before the last one commits", async () => {
    const dir = tempDir("pipeline");
    const logger = new MemoryLogger();
    const { log, written } = await writeLog(dir, logger, 40);
    const groups = log.segments().length - 1;
    assert.ok(groups >= 4, `several groups: ${groups}`);
    const steps: SwapStep[] = [];
    const manager = new CleanerManager({
      logger,
      dedupeBufferBytes: 1 << 20,
      hook: (step) => steps.push(step),
    });
    manager.register(log);
    const result = await manager.cleanNow(log);
    assert.equal(result.cleaned, true);
    assert.equal(result.counters.segmentsWritten, groups);
    assert.equal(steps.filter((s) => s === "committed").length, groups);
    // Group 2 is written before group 1 is committed, and so on; each commit after its sync.
    const writing = steps.flatMap((s, i) => s === "writing" ? [i] : []);
    const committed = steps.flatMap((s, i) => s === "committed" ? [i] : []);
    const cleaned = steps.flatMap((s, i) => s === "cleaned" ? [i] : []);
    for (let g = 0; g + 1 < groups; g++) {
      assert.ok(writing[g + 1] < committed[g], `group ${g + 2} written before ${g + 1} commits`);
    }
    for (let g = 0; g < groups; g++) assert.ok(cleaned[g] < committed[g], `group ${g + 1}`);
    assert.deepEqual(filesWith(dir, ".cleaned"), []);
    assert.deepEqual(latestByKey(readAllRecords(log)), latestByKey(written));
    await log.close();
    const reopened = await PartitionLog.open(dir, { logger });
    assert.deepEqual(reopened.damage, []);
    assert.deepEqual(latestByKey(readAllRecords(reopened)), latestByKey(written));
    await reopened.close();
  });

  await t.step("an abort with a group written and not swapped removes its files", async () => {
    const dir = tempDir("pipeline-abort");
    const logger = new MemoryLogger();
    const { log, written } = await writeLog(dir, logger, 40);
    const before = readAllRecords(log);
    let writings = 0;
    let closing: Promise<void> | undefined;
    const manager = new CleanerManager({
      logger,
      dedupeBufferBytes: 1 << 20,
      hook: (step) => {
        // The second group is being written, the first waits for its swap: close aborts.
        if (step === "writing" && ++writings === 2) closing = log.close();
      },
    });
    manager.register(log);
    const result = await manager.cleanNow(log);
    assert.equal(result.aborted, true);
    assert.equal(result.cleaned, false);
    assert.ok(closing !== undefined, "the clean reached its second group");
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
});
