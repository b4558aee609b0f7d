/**
 * The cleaner's record walk (src/record/record_walk.ts) and what the cleaner does with it:
 * RecordSpans against the full decoder on random batches (null keys and values, long keys, gzip,
 * more records than its first arrays hold, damage), and cleans of random keyed logs with
 * tombstones, on real files, against a reference model of "the latest record per key".
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import {
  BATCH_HEADER_BYTES,
  batchSizeAt,
  decodeBatches,
  decodeRecordBatch,
  encodeRecordBatch,
  type RecordInput,
  recordsCountAt,
  viewOf,
} from "../../src/record/record_batch.ts";
import { recordsSection } from "../../src/record/record_cursor.ts";
import { RecordSpans } from "../../src/record/record_walk.ts";
import { CleanerManager } from "../../src/storage/cleaner/cleaner_manager.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { segmentFileStem } from "../../src/storage/segment.ts";
import { tempDir } from "../test_util.ts";
import { keyedBatch, type KeyedRecord, liveView, readAllRecords } from "./compaction_util.ts";

/** xorshift32: the same random logs on every run. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function bytesOf(random: (n: number) => number, length: number): Uint8Array {
  return new Uint8Array(length).map(() => random(256));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test("RecordSpans: the same fields as the decoder, on random batches", async (t) => {
  const spans = new RecordSpans();

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    await t.step(`seed ${seed}`, () => {
      const random = rng(seed * 7919);
      const count = seed === 6 ? 700 : 1 + random(120); // 700: past the first 256-record arrays
      const base = 1_700_000_000_000;
      const records: RecordInput[] = [];
      for (let i = 0; i < count; i++) {
        const keyKind = random(10);
        records.push({
          key: keyKind === 0
            ? null
            : bytesOf(random, keyKind === 1 ? 200 + random(200) : random(20)),
          value: random(5) === 0 ? null : bytesOf(random, random(300)),
          timestamp: base + random(100_000) - 50_000,
        });
      }
      const compression = seed % 2 === 0 ? 1 : 0; // gzip or none
      const batch = encodeRecordBatch(records, {
        timestampMs: base,
        baseOffset: 1000 * seed,
        compression,
      });
      const dv = viewOf(batch);
      const decoded = decodeRecordBatch(batch);
      const { section, start, end } = recordsSection(batch, dv, 0, batchSizeAt(dv, 0));
      spans.walk(section, start, end, recordsCountAt(dv, 0));
      assert.equal(spans.count, count);
      assert.equal(spans.start[0], start, "the first record starts the section");
      assert.equal(spans.end[count - 1], end, "the last one ends it");
      for (let i = 0; i < count; i++) {
        const r = decoded.records[i];
        if (i > 0) assert.equal(spans.start[i], spans.end[i - 1], `record ${i} follows`);
        assert.equal(decoded.baseOffset + spans.offsetDelta[i], r.offset, `offset of ${i}`);
        assert.equal(decoded.baseTimestamp + spans.timestampDelta[i], r.timestamp);
        if (r.key === null) {
          assert.equal(spans.keyLength[i], -1, `null key of ${i}`);
        } else {
          const key = section.subarray(spans.keyStart[i], spans.keyStart[i] + spans.keyLength[i]);
          assert.ok(sameBytes(key, r.key), `key of ${i}`);
        }
        assert.equal(spans.valueLength[i], r.value === null ? -1 : r.value.length, `value ${i}`);
      }
    });
  }

  await t.step("damage: fewer records than the header says, or a record cut short", () => {
    const batch = encodeRecordBatch(
      [{ key: "a", value: "1" }, { key: "b", value: "2" }],
      { timestampMs: 1 },
    );
    const end = batch.length;
    const isCorrupt = (err: unknown) => isSluiceError(err) && err.code === "CORRUPT_BATCH";
    assert.throws(() => spans.walk(batch, BATCH_HEADER_BYTES, end, 3), isCorrupt);
    assert.throws(() => spans.walk(batch, BATCH_HEADER_BYTES, end - 1, 2), isCorrupt);
    assert.throws(() => spans.walk(batch, BATCH_HEADER_BYTES, end, 1), isCorrupt);
    spans.walk(batch, BATCH_HEADER_BYTES, end, 2);
    assert.equal(spans.count, 2);
  });
});

const BASE_MS = 1_700_000_000_000;
const DELETE_RETENTION_MS = 60_000;

interface Written {
  offset: number;
  key: string;
  value: string | null;
}

/** Whether the batch holding `offset` has a delete horizon, and which (-1: none). */
function horizonOf(log: PartitionLog, offset: number): number {
  const read = log.read(offset, 1)!;
  const batch = decodeBatches(read.bytes)[0];
  return (batch.attributes & 0x40) === 0 ? -1 : batch.baseTimestamp;
}

/**
 * Checks the log against the model after a clean that covered the offsets below `cleanedEnd`:
 * below it, exactly the latest record of each key among the offsets below it (a tombstone among
 * them only while its delete horizon has not passed, and then in a batch that has one); from it
 * on, every record written. Every record read back is the one written at its offset.
 */
function checkAgainstModel(
  log: PartitionLog,
  written: readonly Written[],
  cleanedEnd: number,
  nowMs: number,
): void {
  const latest = new Map<string, Written>();
  for (const w of written) if (w.offset < cleanedEnd) latest.set(w.key, w);
  const byOffset = new Map(written.map((w) => [w.offset, w]));
  const read = readAllRecords(log);
  const present = new Set<number>();
  for (const r of read) {
    const w = byOffset.get(r.offset);
    assert.ok(w !== undefined, `offset ${r.offset} was written`);
    assert.equal(r.key, w.key, `key at ${r.offset}`);
    assert.equal(r.value, w.value, `value at ${r.offset}`);
    present.add(r.offset);
    if (r.offset < cleanedEnd) {
      assert.equal(
        latest.get(w.key)?.offset,
        r.offset,
        `offset ${r.offset}: the latest of its key`,
      );
      if (r.value === null) {
        // Kept: its batch got a horizon from this clean or an earlier one, not passed yet.
        const horizon = horizonOf(log, r.offset);
        assert.ok(horizon > nowMs, `tombstone ${r.offset}: horizon ${horizon} after ${nowMs}`);
      }
    }
  }
  for (const w of written) {
    if (w.offset >= cleanedEnd) {
      assert.ok(present.has(w.offset), `offset ${w.offset}, not cleaned yet, is there`);
    } else if (latest.get(w.key) === w && w.value !== null) {
      assert.ok(present.has(w.offset), `offset ${w.offset}, the latest of ${w.key}, is there`);
    }
  }
  // What a consumer reading everything ends with is what was written.
  assert.deepEqual(liveView(read), liveView(written));
}

Deno.test("compaction of random keyed logs with tombstones: the latest record per key", async (t) => {
  const config: Partial<LogConfig> = {
    compact: true,
    delete: false,
    segmentBytes: 4096,
    indexIntervalBytes: 512,
    deleteRetentionMs: DELETE_RETENTION_MS,
  };
  // 1 KiB of offset map holds 36 keys, fewer than the 60 written: partial cleans.
  for (const [seed, dedupeBufferBytes] of [[11, 1 << 16], [12, 1 << 16], [13, 1024], [14, 1024]]) {
    await t.step(`seed ${seed}, offset map of ${dedupeBufferBytes} bytes`, async () => {
      const random = rng(seed);
      const dir = tempDir("sluice-cleaner-walk-");
      const clock = new ManualClock(BASE_MS);
      const logger = new MemoryLogger();
      const log = await PartitionLog.open(dir, { config, clock, logger });
      const manager = new CleanerManager({ clock, logger, dedupeBufferBytes });
      manager.register(log);
      const written: Written[] = [];
      let removed = 0;
      try {
        for (let round = 0; round < 6; round++) {
          for (let b = 0; b < 25; b++) {
            const records: KeyedRecord[] = [];
            const n = 1 + random(30);
            for (let i = 0; i < n; i++) {
              const key = `key-${random(60)}${"x".repeat(random(3) * 40)}`;
              const value = random(6) === 0 ? null : `v${round}-${b}-${i}-${random(1000)}`;
              records.push({ key, value });
            }
            const compression = random(4) === 0 ? 1 : 0;
            const r = await log.append(
              keyedBatch(records, { timestampMs: clock.nowMs(), compression }),
            );
            records.forEach((rec, i) =>
              written.push({ offset: r.baseOffset + i, key: rec.key!, value: rec.value })
            );
            log.updateHighWatermark(log.logEndOffset);
          }
          // The last rounds run past the delete horizons the first ones set.
          if (round >= 3) clock.advance(DELETE_RETENTION_MS + 1);
          const result = await manager.cleanNow(log);
          assert.ok(result.cleaned, `round ${round} cleaned`);
          removed += result.counters.tombstonesRemoved;
          checkAgainstModel(log, written, result.firstDirtyOffset, clock.nowMs());
        }
        assert.ok(removed > 0, "tombstones went once their horizon passed");
        // The model holds on reopen too (the cleaned segments' indexes and checkpoint).
        await log.close();
        const reopened = await PartitionLog.open(dir, { config, clock, logger });
        try {
          assert.deepEqual(liveView(readAllRecords(reopened)), liveView(written));
        } finally {
          await reopened.close();
        }
      } finally {
        await manager.stop();
        await log.close();
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }
});

Deno.test("a clean checks every batch's CRC once: damage in the dirty or the clean part stops it", async (t) => {
  const config: Partial<LogConfig> = {
    compact: true,
    delete: false,
    segmentBytes: 2048,
    indexIntervalBytes: 256,
  };
  /** A log of `rounds` values of 20 keys, cleaned once if `cleanFirst`, then `more` rounds. */
  async function damaged(cleanFirst: boolean, segmentOf: (log: PartitionLog) => number) {
    const dir = tempDir("sluice-cleaner-crc-");
    const clock = new ManualClock(BASE_MS);
    const logger = new MemoryLogger();
    let log = await PartitionLog.open(dir, { config, clock, logger });
    const fill = async (tag: string) => {
      for (let round = 0; round < 10; round++) {
        for (let k = 0; k < 20; k += 5) {
          const records = [0, 1, 2, 3, 4].map((i) => ({
            key: `k${k + i}`,
            value: `${tag}-${round}-${k + i}`,
          }));
          await log.append(keyedBatch(records, { timestampMs: clock.nowMs() }));
          log.updateHighWatermark(log.logEndOffset);
        }
      }
    };
    await fill("v");
    if (cleanFirst) {
      const manager = new CleanerManager({ clock, logger, dedupeBufferBytes: 1 << 16 });
      manager.register(log);
      assert.ok((await manager.cleanNow(log)).cleaned);
      await manager.stop();
    }
    await fill("w");
    const base = segmentOf(log);
    await log.close();
    // A byte of the first batch's last record (its value), which only the CRC covers.
    const path = `${dir}/${segmentFileStem(base)}.log`;
    const bytes = Deno.readFileSync(path);
    const size = viewOf(bytes).getInt32(8) + 12;
    bytes[size - 2] ^= 0xff;
    Deno.writeFileSync(path, bytes);
    log = await PartitionLog.open(dir, { config, clock, logger });
    const manager = new CleanerManager({ clock, logger, dedupeBufferBytes: 1 << 16 });
    manager.register(log);
    try {
      await assert.rejects(
        () => manager.cleanNow(log),
        (e) => isSluiceError(e) && e.code === "CORRUPT_LOG" && e.details?.file === path,
      );
      assert.deepEqual(
        [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cleaned")),
        [],
        "nothing of the failed clean is left",
      );
    } finally {
      await manager.stop();
      await log.close();
      Deno.removeSync(dir, { recursive: true });
    }
  }

  await t.step("in the dirty part: the map pass finds it", async () => {
    await damaged(false, (log) => log.segments()[1].baseOffset);
  });

  await t.step("in the part cleaned before: the filter pass finds it", async () => {
    // The first segment, cleaned by the first clean: below the second clean's first dirty offset.
    await damaged(true, (log) => {
      assert.ok(log.segments()[0].baseOffset < log.compaction.checkpoint.firstDirtyOffset);
      return log.segments()[0].baseOffset;
    });
  });
});
