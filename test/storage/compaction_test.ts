/**
 * Log compaction (src/storage/cleaner/) on real files: what a clean keeps and drops, tombstones
 * and their delete horizon on an injected clock, offsets and codecs kept, appends during a clean,
 * reopening a cleaned log, damage still found where the cleaner never wrote, a full offset map,
 * the append rule of a compacting log, and the cleaner manager's choice and figures.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { COMPRESSION_CODECS } from "../../src/record/compression.ts";
import { decodeBatches, viewOf } from "../../src/record/record_batch.ts";
import { CleanerManager } from "../../src/storage/cleaner/cleaner_manager.ts";
import { CLEANER_CHECKPOINT_FILE } from "../../src/storage/cleaner/cleaner_checkpoint.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { segmentFileStem } from "../../src/storage/segment.ts";
import { tempDir } from "../test_util.ts";
import {
  keyedBatch,
  type KeyedRecord,
  latestByKey,
  liveView,
  readAllRecords,
} from "./compaction_util.ts";

const BASE_MS = 1_700_000_000_000;
const DELETE_RETENTION_MS = 60_000;

const COMPACT: Partial<LogConfig> = {
  compact: true,
  delete: false,
  segmentBytes: 2048,
  indexIntervalBytes: 256,
  deleteRetentionMs: DELETE_RETENTION_MS,
};

interface Written {
  offset: number;
  key: string | null;
  value: string | null;
}

/** A log, its clock, and everything appended to it (by offset). */
class Harness {
  readonly written: Written[] = [];
  constructor(
    readonly dir: string,
    public log: PartitionLog,
    readonly clock: ManualClock,
    readonly logger: MemoryLogger,
  ) {}

  static async open(config: Partial<LogConfig> = {}, dir = tempDir("sluice-compact-")) {
    const clock = new ManualClock(BASE_MS);
    const logger = new MemoryLogger();
    const log = await PartitionLog.open(dir, { config: { ...COMPACT, ...config }, clock, logger });
    return new Harness(dir, log, clock, logger);
  }

  async reopen(): Promise<void> {
    await this.log.close();
    this.log = await PartitionLog.open(this.dir, {
      config: this.log.config,
      clock: this.clock,
      logger: this.logger,
    });
  }

  /** Appends one batch; the high watermark follows (a single node's is its log end). */
  async put(records: KeyedRecord[], compression?: 0 | 1 | 3): Promise<void> {
    const r = await this.log.append(
      keyedBatch(records, { timestampMs: this.clock.nowMs(), compression }),
    );
    records.forEach((rec, i) => this.written.push({ offset: r.baseOffset + i, ...rec }));
    this.log.updateHighWatermark(this.log.logEndOffset);
  }

  /** `rounds` values for each of `keys` keys, `perBatch` records a batch. */
  async fill(keys: number, rounds: number, tag: string, perBatch = 5, compression?: 0 | 1 | 3) {
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < keys; k += perBatch) {
        const records: KeyedRecord[] = [];
        for (let i = k; i < Math.min(keys, k + perBatch); i++) {
          records.push({ key: `k${i}`, value: `${tag}-${round}-k${i}` });
        }
        await this.put(records, compression);
      }
    }
  }

  /** Every record read back is the one written at its offset; returns them. */
  checkedRead(): ReturnType<typeof readAllRecords> {
    const byOffset = new Map(this.written.map((w) => [w.offset, w]));
    const read = readAllRecords(this.log);
    for (const r of read) {
      const w = byOffset.get(r.offset);
      assert.ok(w !== undefined, `offset ${r.offset} was written`);
      assert.equal(r.key, w.key, `key at ${r.offset}`);
      assert.equal(r.value, w.value, `value at ${r.offset}`);
    }
    // The log ends where the last append did.
    assert.equal(this.log.logEndOffset, this.written[this.written.length - 1].offset + 1);
    return read;
  }
}

function newManager(h: Harness, dedupeBufferBytes = 1 << 20): CleanerManager {
  const manager = new CleanerManager({ clock: h.clock, logger: h.logger, dedupeBufferBytes });
  manager.register(h.log);
  return manager;
}

function filesWith(dir: string, suffix: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(suffix)).sort();
}

/** The delete horizon of the batch holding `offset` (-1 for none). */
function horizonOf(log: PartitionLog, offset: number): number {
  const read = log.read(offset, 1)!;
  const dv = viewOf(read.bytes);
  if ((dv.getInt16(21) & 0x40) === 0) return -1;
  return Number(dv.getBigInt64(27));
}

/** Every batch of the log: base and last offsets, records held. */
function batchesOf(log: PartitionLog): { base: number; last: number; records: number }[] {
  const out: { base: number; last: number; records: number }[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const read = log.read(offset, 64 * 1024)!;
    for (const b of decodeBatches(read.bytes)) {
      const last = b.baseOffset + b.lastOffsetDelta;
      out.push({ base: b.baseOffset, last, records: b.records.length });
    }
    offset = read.nextOffset;
  }
  return out;
}

/** No key appears twice below `offset`. */
function assertUniqueBelow(
  read: readonly { offset: number; key: string | null }[],
  offset: number,
) {
  const seen = new Set<string>();
  for (const r of read) {
    if (r.offset >= offset || r.key === null) continue;
    assert.ok(!seen.has(r.key), `key ${r.key} twice below ${offset}`);
    seen.add(r.key);
  }
}

Deno.test("compaction: a clean keeps the latest record per key", async (t) => {
  await t.step(
    "many updates per key on small segments; offsets unchanged, disk shrinks",
    async () => {
      const h = await Harness.open();
      await h.fill(20, 30, "v");
      assert.ok(h.log.segments().length > 5, "many segments");
      const before = h.log.sizeBytes;
      const manager = newManager(h);
      const result = await manager.cleanNow(h.log);
      assert.equal(result.cleaned, true);
      assert.ok(result.bytesAfter < result.bytesBefore, "the cleaned segments are smaller");
      assert.ok(h.log.sizeBytes < before / 3, `disk shrinks: ${h.log.sizeBytes} of ${before}`);
      const read = h.checkedRead();
      assert.deepEqual(latestByKey(read), latestByKey(h.written));
      const firstDirty = h.log.compaction.checkpoint.firstDirtyOffset;
      assert.equal(firstDirty, h.log.segments().at(-1)!.baseOffset, "dirty part: the active one");
      assertUniqueBelow(read, firstDirty);
      assert.deepEqual(h.log.damage, []);
      assert.deepEqual(filesWith(h.dir, ".cleaned"), []);
      assert.deepEqual(filesWith(h.dir, ".swap"), []);
      // A second clean with nothing new changes nothing a reader sees.
      await manager.cleanNow(h.log);
      assert.deepEqual(h.checkedRead(), read);
      await h.log.close();
    },
  );

  await t.step(
    "tombstones stay for delete.retention.ms after the first clean, then go",
    async () => {
      const h = await Harness.open();
      await h.fill(20, 5, "v");
      await h.put([{ key: "k1", value: null }, { key: "k2", value: null }]);
      await h.fill(20, 3, "w", 5); // pushes the tombstones into closed segments
      const manager = newManager(h);
      await manager.cleanNow(h.log);
      let read = h.checkedRead();
      // The tombstones of k1 and k2 were superseded by "w" values: they go as any older record.
      assert.equal(read.filter((r) => r.value === null).length, 0);

      await h.put([{ key: "k3", value: null }, { key: "k4", value: null }]);
      await h.fill(5, 30, "filler", 5); // k0..k4 again, then the tombstones are old
      await h.put([{ key: "k5", value: null }]);
      await h.fill(1, 40, "roll", 1); // k0 only: k5's tombstone is the latest for k5
      await manager.cleanNow(h.log);
      read = h.checkedRead();
      const tombstone = read.find((r) => r.key === "k5");
      assert.ok(tombstone !== undefined && tombstone.value === null, "k5's tombstone is kept");
      assert.ok(tombstone.offset < h.log.compaction.checkpoint.firstDirtyOffset, "and was cleaned");
      // Its batch carries the delete horizon: the clean's time plus delete.retention.ms.
      assert.equal(horizonOf(h.log, tombstone.offset), BASE_MS + DELETE_RETENTION_MS);
      assert.deepEqual(latestByKey(read), latestByKey(h.written));
      // Still there just before the horizon.
      h.clock.advance(DELETE_RETENTION_MS - 1);
      await h.fill(1, 10, "more", 1);
      await manager.cleanNow(h.log);
      assert.equal(h.checkedRead().find((r) => r.key === "k5")?.value, null);
      // Gone after it; the live view is unchanged.
      h.clock.advance(2);
      await h.fill(1, 10, "later", 1);
      const result = await manager.cleanNow(h.log);
      read = h.checkedRead();
      assert.equal(read.find((r) => r.key === "k5"), undefined, "k5's tombstone is gone");
      assert.ok(result.counters.tombstonesRemoved >= 1);
      assert.deepEqual(liveView(read), liveView(h.written));
      await h.log.close();
    },
  );
});

Deno.test("compaction: batches, codecs and appends", async (t) => {
  await t.step(
    "gzip and lz4 batches keep their codec; whole batches are copied as bytes",
    async () => {
      for (const codec of [COMPRESSION_CODECS.gzip, COMPRESSION_CODECS.lz4] as const) {
        const h = await Harness.open();
        await h.fill(10, 20, "z", 5, codec);
        await h.fill(10, 1, "last", 10, 0); // the newest values, uncompressed
        await h.fill(1, 30, "roll", 1);
        const manager = newManager(h);
        await manager.cleanNow(h.log);
        const read = h.checkedRead();
        assert.deepEqual(latestByKey(read), latestByKey(h.written));
        const firstDirty = h.log.compaction.checkpoint.firstDirtyOffset;
        for (const r of read) {
          if (r.offset >= firstDirty) continue;
          const wanted = r.value!.startsWith("z-") ? codec : 0;
          assert.equal(r.compression, wanted, `codec of the batch holding ${r.offset}`);
        }
        // A batch rewritten keeps its offsets: it still ends where it ended.
        for (const r of read) assert.equal((r.batchLastOffset - r.batchBaseOffset + 1) % 1, 0);
        await h.log.close();
      }
    },
  );

  await t.step("a batch left whole is byte for byte the one appended", async () => {
    const h = await Harness.open();
    await h.put([{ key: "a", value: "1" }, { key: "b", value: "1" }]);
    const original = h.log.read(0)!.bytes.slice();
    await h.fill(3, 40, "other", 3);
    await newManager(h).cleanNow(h.log);
    assert.deepEqual(h.log.read(0)!.bytes.subarray(0, original.length), original);
    await h.log.close();
  });

  await t.step("appends during a clean land, at the offsets they were given", async () => {
    const h = await Harness.open({ segmentBytes: 4096 });
    await h.fill(50, 40, "before");
    const manager = newManager(h, 1 << 16);
    const cleaning = manager.cleanNow(h.log);
    let appends = 0;
    let done = false;
    cleaning.finally(() => done = true);
    while (!done || appends < 20) {
      await h.fill(50, 1, `during${appends++}`, 10);
      // Appends under flush.policy none resolve as microtasks: let the clean's slices run too,
      // as a server's requests (arriving as I/O) do.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.ok(appends >= 20);
    assert.equal((await cleaning).cleaned, true);
    const read = h.checkedRead();
    assert.deepEqual(latestByKey(read), latestByKey(h.written));
    assert.deepEqual(h.log.damage, []);
    await h.log.close();
  });

  await t.step(
    "reads inside a removed gap answer the next batch; timestamps still found",
    async () => {
      const h = await Harness.open();
      await h.put([{ key: "a", value: "old" }]); // offset 0, superseded
      await h.put([{ key: "b", value: "keep" }]); // offset 1
      h.clock.advance(1000);
      await h.fill(1, 60, "x", 1); // k0 at offsets 2.., superseded but the last
      await h.put([{ key: "a", value: "new" }]);
      await h.fill(1, 40, "y", 1);
      await newManager(h).cleanNow(h.log);
      const read = h.checkedRead();
      // b at 1, then a's new value at 62: the x values of k0 in between are all gone.
      assert.deepEqual(read.slice(0, 2).map((r) => [r.offset, r.key, r.value]), [
        [1, "b", "keep"],
        [62, "a", "new"],
      ]);
      // Offset 0 is gone: a read of it answers the batch at 1.
      const r0 = h.log.read(0)!;
      assert.equal(r0.firstOffset, 1);
      // A read of an offset inside a later gap answers the first batch after it.
      const batches = batchesOf(h.log);
      const gapAt = batches.findIndex((b, i) => i > 0 && b.base > batches[i - 1].last + 1);
      assert.ok(gapAt > 0, "the cleaned log has a gap between batches");
      const inGap = batches[gapAt - 1].last + 1;
      assert.equal(decodeBatches(h.log.read(inGap)!.bytes)[0].baseOffset, batches[gapAt].base);
      // ListOffsets by time: the first record at or after a time, over the gaps.
      assert.equal(h.log.offsetForTimestamp(BASE_MS), 1);
      assert.equal(h.log.offsetForTimestamp(BASE_MS + 1000), 62, "over emptied batches");
      await h.log.close();
    },
  );

  await t.step(
    "an idempotent producer's last batch stays, emptied; other emptied batches go",
    async () => {
      const h = await Harness.open();
      const produce = async (seq: number, value: string) => {
        const r = await h.log.append(keyedBatch([{ key: "p", value }], {
          timestampMs: h.clock.nowMs(),
          producerId: 7,
          producerEpoch: 0,
          baseSequence: seq,
        }));
        h.written.push({ offset: r.baseOffset, key: "p", value });
      };
      await produce(0, "p0");
      await produce(1, "p1");
      await h.fill(1, 40, "x", 1);
      await h.put([{ key: "p", value: "plain" }]); // supersedes every "p" of the producer
      await h.fill(1, 40, "y", 1);
      await newManager(h).cleanNow(h.log);
      h.checkedRead();
      // Offset 1 (the producer's last batch) is an empty batch now; offset 0's batch is gone.
      const first = decodeBatches(h.log.read(0)!.bytes)[0];
      assert.equal(first.baseOffset, 1);
      assert.equal(first.records.length, 0);
      assert.equal(first.producerId, 7);
      assert.equal(first.baseSequence + first.lastOffsetDelta, 1, "its last sequence survives");
      await h.log.close();
    },
  );
});

Deno.test("compaction: files, reopen and damage", async (t) => {
  await t.step(
    "a cleaned log reopens as it was, with and without a recovery checkpoint",
    async () => {
      const h = await Harness.open();
      await h.fill(20, 30, "v");
      await newManager(h).cleanNow(h.log);
      const read = h.checkedRead();
      const batches = batchesOf(h.log);
      assert.ok(
        batches.some((b, i) => i > 0 && b.base > batches[i - 1].last + 1),
        "the log has gaps between batches",
      );
      assert.ok(batches.some((b) => b.records === 0), "and emptied batches");
      await h.reopen();
      assert.deepEqual(h.log.damage, []);
      assert.deepEqual(h.checkedRead(), read);
      const checkpoint = JSON.parse(Deno.readTextFileSync(`${h.dir}/${CLEANER_CHECKPOINT_FILE}`));
      assert.equal(checkpoint.firstDirtyOffset, h.log.compaction.checkpoint.firstDirtyOffset);
      // Without a recovery checkpoint every segment is re-validated, compacted ones included.
      await h.log.close();
      Deno.removeSync(`${h.dir}/${CHECKPOINT_FILE}`);
      await h.reopen();
      assert.deepEqual(h.log.damage, []);
      assert.deepEqual(h.checkedRead(), read);
      assert.equal(warnings(h.logger).filter((e) => /truncat/.test(e.message)).length, 0);
      await h.log.close();
    },
  );

  await t.step("damage where the cleaner never wrote is still found", async () => {
    const h = await Harness.open();
    await h.fill(20, 30, "v");
    await newManager(h).cleanNow(h.log);
    await h.fill(20, 10, "w"); // never-cleaned segments after the cleaned ones
    const segments = h.log.segments();
    const compactedBelow = h.log.compaction.checkpoint.compactedBelow;
    const plain = segments.find((s, i) =>
      s.baseOffset >= compactedBelow && i < segments.length - 1
    );
    assert.ok(plain !== undefined, "a closed segment the cleaner never wrote");
    await h.log.close();
    // The second batch's base offset, which the CRC does not cover, one higher: a gap.
    const path = `${h.dir}/${segmentFileStem(plain.baseOffset)}.log`;
    const bytes = Deno.readFileSync(path);
    const dv = viewOf(bytes);
    const second = dv.getInt32(8) + 12;
    const firstBatchRecords = dv.getInt32(23) + 1;
    dv.setBigInt64(second, dv.getBigInt64(second) + 1n);
    Deno.writeFileSync(path, bytes);
    await h.reopen();
    // Below the recovery checkpoint the segment is trusted: a read that reaches the batch fails.
    assert.throws(
      () => readAllRecords(h.log),
      (e) => isSluiceError(e, "CORRUPT_LOG") && e.details?.file === path,
    );
    assert.ok(h.log.damage.some((d) => d.file === path), JSON.stringify(h.log.damage));
    // Without the recovery checkpoint, recovery re-validates it and cuts the log at the batch;
    // the compacted segments before it, gaps and all, are kept whole.
    await h.log.close();
    Deno.removeSync(`${h.dir}/${CHECKPOINT_FILE}`);
    await h.reopen();
    assert.equal(h.log.logEndOffset, plain.baseOffset + firstBatchRecords);
    assert.ok(
      warnings(h.logger).some((e) =>
        e.fields?.file === path && /base offset/.test(String(e.fields?.reason))
      ),
    );
    h.written.splice(h.written.findIndex((w) => w.offset >= h.log.logEndOffset));
    h.checkedRead();
    await h.log.close();
  });

  await t.step("an unfinished clean's .cleaned files are removed at open", async () => {
    const h = await Harness.open();
    await h.fill(5, 10, "v");
    await h.log.close();
    const stray = `${h.dir}/${segmentFileStem(0)}.log.cleaned`;
    Deno.writeFileSync(stray, new Uint8Array(100));
    await h.reopen();
    assert.deepEqual(filesWith(h.dir, ".cleaned"), []);
    h.checkedRead();
    await h.log.close();
  });

  await t.step("close aborts a running clean and leaves no cleaned file", async () => {
    const h = await Harness.open({ segmentBytes: 64 * 1024 });
    await h.fill(200, 60, "v", 20);
    const manager = newManager(h);
    const cleaning = manager.cleanNow(h.log);
    await h.log.close();
    const result = await cleaning;
    assert.equal(result.cleaned, false);
    assert.equal(result.aborted, true);
    assert.deepEqual(filesWith(h.dir, ".cleaned"), []);
    await h.reopen();
    h.checkedRead();
    await h.log.close();
  });
});

Deno.test("compaction: truncation pauses the cleaner and brings its checkpoint down", async () => {
  const h = await Harness.open({ segmentBytes: 64 * 1024 });
  await h.fill(200, 40, "v", 20);
  const manager = newManager(h);
  // A truncation while a clean runs aborts it first.
  const cleaning = manager.cleanNow(h.log);
  const end = await h.log.truncateTo(h.log.logEndOffset - 100);
  assert.equal((await cleaning).aborted, true);
  assert.deepEqual(filesWith(h.dir, ".cleaned"), []);
  h.written.splice(h.written.findIndex((w) => w.offset >= end));
  h.log.updateHighWatermark(end);
  // Cleaned, then cut inside the cleaned part: the checkpoint follows the cut.
  assert.equal((await manager.cleanNow(h.log)).cleaned, true);
  const cut = Math.floor(h.log.compaction.checkpoint.firstDirtyOffset / 2);
  const newEnd = await h.log.truncateTo(cut);
  h.written.splice(h.written.findIndex((w) => w.offset >= newEnd));
  const checkpoint = h.log.compaction.checkpoint;
  assert.ok(checkpoint.firstDirtyOffset <= newEnd && checkpoint.compactedBelow <= newEnd);
  await h.fill(200, 5, "after", 20);
  assert.deepEqual(latestByKey(h.checkedRead()), latestByKey(h.written));
  await h.reopen();
  assert.deepEqual(h.log.damage, []);
  assert.deepEqual(latestByKey(h.checkedRead()), latestByKey(h.written));
  await h.log.close();
});

Deno.test("compaction: a full offset map cleans part, the rest on the next run", async () => {
  const h = await Harness.open();
  // 1024 bytes: 41 slots, full at 36 keys.
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 100; k += 4) {
      await h.put([0, 1, 2, 3].map((i) => ({ key: `k${k + i}`, value: `r${round}-k${k + i}` })));
    }
  }
  await h.fill(1, 30, "roll", 1);
  const manager = newManager(h, 1024);
  const ends: number[] = [];
  for (let run = 0; run < 12; run++) {
    const result = await manager.cleanNow(h.log);
    assert.equal(result.cleaned, true);
    ends.push(result.firstDirtyOffset);
    const read = h.checkedRead();
    assert.deepEqual(latestByKey(read), latestByKey(h.written));
    assertUniqueBelow(read, h.log.compaction.checkpoint.firstDirtyOffset - 1);
    if (result.firstDirtyOffset === h.log.segments().at(-1)!.baseOffset) break;
  }
  assert.ok(ends.length > 2, `several partial cleans: ${ends}`);
  for (let i = 1; i < ends.length; i++) assert.ok(ends[i] > ends[i - 1], `progress: ${ends}`);
  await h.log.close();
});

Deno.test("compaction: appends and retention of a compacting log", async (t) => {
  await t.step(
    "a record without a key is refused, compressed or not; a follower's is not",
    async () => {
      const h = await Harness.open();
      for (const compression of [0, 1, 3] as const) {
        const bytes = keyedBatch([{ key: "a", value: "1" }, { key: null, value: "2" }], {
          timestampMs: BASE_MS,
          compression,
        });
        await assert.rejects(
          h.log.append(bytes),
          (e) => isSluiceError(e, "INVALID_RECORD") && /without key/.test(e.message),
        );
      }
      assert.equal(h.log.logEndOffset, 0, "nothing was written");
      const replicated = keyedBatch([{ key: null, value: "1" }], { timestampMs: BASE_MS });
      assert.equal((await h.log.appendReplicated(replicated)).records, 1);
      await h.log.close();
      const plain = await Harness.open({ compact: false });
      await plain.put([{ key: null, value: "fine" }]);
      await plain.log.close();
    },
  );

  await t.step("retention deletes only when cleanup.policy has delete", async () => {
    for (const del of [false, true]) {
      const h = await Harness.open({ delete: del, retentionMs: 1000 });
      await h.fill(10, 20, "v");
      h.clock.advance(10_000);
      const deleted = await h.log.deleteExpiredSegments();
      assert.equal(deleted > 0, del, `policy compact${del ? ",delete" : ""}`);
      await h.log.close();
    }
  });
});

Deno.test("compaction: the cleaner manager", async (t) => {
  await t.step("cleans the dirtiest due log, backs off on its clock, reports figures", async () => {
    const a = await Harness.open();
    const b = await Harness.open();
    const idle = await Harness.open({ compact: false });
    await a.fill(10, 30, "a");
    await b.fill(10, 10, "b");
    await idle.fill(10, 30, "i");
    const manager = new CleanerManager({
      clock: a.clock,
      logger: a.logger,
      dedupeBufferBytes: 1 << 16,
    });
    for (const h of [a, b, idle]) manager.register(h.log);
    assert.equal(manager.filthiest(), a.log, "both are dirty (ratio 1): the first found");
    manager.start();
    await waitFor(() => manager.stats(a.log)!.runs === 1 && manager.stats(b.log)!.runs === 1);
    const stats = manager.stats(a.log)!;
    assert.ok(stats.bytesReclaimedTotal > 0);
    assert.ok(stats.lastBytesAfter < stats.lastBytesBefore);
    assert.equal(stats.dirtyRatio, 0, "nothing dirty now");
    assert.equal(stats.totals.batchesKeptWhole, 0);
    assert.equal(manager.stats(idle.log)!.runs, 0, "a log without compact is not cleaned");
    // Nothing is due: the manager waits log.cleaner.backoff.ms on its clock, then looks again.
    await a.fill(10, 30, "again");
    a.log.updateHighWatermark(a.log.logEndOffset);
    await waitFor(() => a.clock.pendingTimers > 0);
    assert.equal(manager.stats(a.log)!.runs, 1);
    a.clock.advance(15_000);
    await waitFor(() => manager.stats(a.log)!.runs === 2);
    await manager.stop();
    for (const h of [a, b, idle]) await h.log.close();
  });

  await t.step(
    "a log below min.cleanable.dirty.ratio waits; max.compaction.lag.ms forces it",
    async () => {
      const h = await Harness.open({ minCleanableDirtyRatio: 0.9, maxCompactionLagMs: 60_000 });
      await h.fill(100, 1, "v");
      const manager = newManager(h);
      await manager.cleanNow(h.log);
      await h.fill(5, 25, "w"); // some dirt over a larger clean log
      const range = h.log.compaction.range();
      assert.ok(range.cleanableBytes > 0 && range.dirtyRatio < 0.9, JSON.stringify(range));
      assert.equal(manager.filthiest(), undefined);
      h.clock.advance(60_010); // past the lag for the first batch's newest record
      assert.equal(manager.filthiest(), h.log, "its oldest dirty record is past the lag");
      await h.log.close();
    },
  );
});

/** Waits (yielding to the event loop, never sleeping a fixed time) until `condition` holds. */
async function waitFor(condition: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.fail(`${what} never held`);
}

function warnings(logger: MemoryLogger): MemoryLogger["events"] {
  return logger.events.filter((e) => e.level === "warn" || e.level === "error");
}
