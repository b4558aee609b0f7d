import assert from "node:assert/strict";
import { tempDir as makeTemp } from "../test_util.ts";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError, type SluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import {
  decodeBatches,
  encodeRecordBatch,
  type RecordInput,
  utf8,
} from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";

const BASE_MS = 1_700_000_000_000;

function tempDir(): string {
  return makeTemp("sluice-log-");
}

async function openLog(
  dir: string,
  config: Partial<LogConfig> = {},
  clock = new ManualClock(BASE_MS),
): Promise<PartitionLog> {
  return await PartitionLog.open(dir, { config, clock, logger: new MemoryLogger() });
}

/** A batch of `count` records whose values name their position: "<tag>-<i>". */
function batch(count: number, tag: string, timestampMs = BASE_MS, valueBytes = 0): Uint8Array {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const pad = valueBytes > 0 ? "x".repeat(valueBytes) : "";
    records.push({
      key: utf8(`k${i}`),
      value: utf8(`${tag}-${i}${pad}`),
      timestamp: timestampMs + i,
    });
  }
  return encodeRecordBatch(records, { timestampMs });
}

function assertCode(err: unknown, code: string): boolean {
  assert.ok(isSluiceError(err), `expected a SluiceError, got ${err}`);
  assert.equal((err as SluiceError).code, code);
  return true;
}

Deno.test("PartitionLog.append()", async (t) => {
  await t.step("assigns contiguous offsets across batches of one append", async () => {
    const log = await openLog(tempDir());
    const bytes = new Uint8Array([...batch(3, "a"), ...batch(5, "b")]);
    const first = await log.append(bytes);
    assert.deepEqual(first, {
      baseOffset: 0,
      lastOffset: 7,
      batches: 2,
      records: 8,
      bytes: bytes.length,
    });
    const second = await log.append(batch(2, "c"));
    assert.equal(second.baseOffset, 8);
    assert.equal(log.logEndOffset, 10);
    const records = decodeBatches(log.read(0, 1 << 20)!.bytes).flatMap((b) => b.records);
    assert.deepEqual(records.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(new TextDecoder().decode(records[4].value!), "b-1");
    await log.close();
  });

  await t.step("writes nothing when any batch of an append fails its check", async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    await log.append(batch(2, "ok"));
    const sizeBefore = log.sizeBytes;
    const bad = batch(4, "bad");
    bad[bad.length - 1] ^= 0xff; // breaks the CRC
    const both = new Uint8Array([...batch(3, "fine"), ...bad]);
    await assert.rejects(log.append(both), (e) => assertCode(e, "CORRUPT_BATCH"));
    const truncated = batch(3, "cut").subarray(0, 70);
    await assert.rejects(log.append(truncated), (e) => assertCode(e, "CORRUPT_BATCH"));
    await assert.rejects(log.append(new Uint8Array(0)), (e) => assertCode(e, "INVALID_REQUEST"));
    assert.equal(log.logEndOffset, 2);
    assert.equal(log.sizeBytes, sizeBefore);
    assert.equal(Deno.statSync(`${dir}/00000000000000000000.log`).size, sizeBefore);
    await log.close();
  });

  await t.step("refuses a batch over max.message.bytes with RECORD_TOO_LARGE", async () => {
    const log = await openLog(tempDir(), { maxMessageBytes: 1000 });
    await assert.rejects(
      log.append(batch(1, "big", BASE_MS, 2000)),
      (e) => assertCode(e, "RECORD_TOO_LARGE"),
    );
    assert.equal(log.logEndOffset, 0);
    await log.close();
  });

  await t.step("rolls a new segment before segment.bytes would be exceeded", async () => {
    const log = await openLog(tempDir(), { segmentBytes: 4096 });
    for (let i = 0; i < 20; i++) await log.append(batch(5, `r${i}`, BASE_MS, 100));
    const segments = log.segments();
    assert.ok(segments.length > 3, `want several segments, got ${segments.length}`);
    for (let i = 0; i < segments.length; i++) {
      assert.ok(segments[i].sizeBytes <= 4096);
      if (i > 0) assert.equal(segments[i].baseOffset, segments[i - 1].nextOffset);
    }
    assert.equal(segments.at(-1)!.nextOffset, 100);
    await log.close();
  });

  await t.step("rolls on segment.ms measured by record timestamps", async () => {
    const log = await openLog(tempDir(), { segmentMs: 60_000 });
    await log.append(batch(1, "a", BASE_MS));
    await log.append(batch(1, "b", BASE_MS + 59_000));
    assert.equal(log.segments().length, 1);
    await log.append(batch(1, "c", BASE_MS + 60_000));
    assert.deepEqual(log.segments().map((s) => s.baseOffset), [0, 2]);
    await log.close();
  });

  await t.step("fails with LOG_CLOSED after close()", async () => {
    const log = await openLog(tempDir());
    await log.close();
    await assert.rejects(log.append(batch(1, "late")), (e) => assertCode(e, "LOG_CLOSED"));
  });
});

Deno.test("PartitionLog.read()", async (t) => {
  const dir = tempDir();
  // Small segments and index interval so the log has many segments and index entries; batch
  // sizes vary so index entries fall at irregular offsets.
  const log = await openLog(dir, { segmentBytes: 8192, indexIntervalBytes: 512 });
  const ids: string[] = [];
  for (let b = 0; b < 120; b++) {
    const count = 1 + (b * 7) % 9;
    const records: RecordInput[] = [];
    for (let i = 0; i < count; i++) {
      const id = `b${b}r${i}`;
      ids.push(id);
      records.push({
        value: utf8(id.padEnd(10 + (b % 5) * 30, ".")),
        timestamp: BASE_MS + b * 1000,
      });
    }
    await log.append(encodeRecordBatch(records, { timestampMs: BASE_MS }));
  }

  await t.step("returns the batch holding every offset of a multi-segment log", () => {
    assert.ok(log.segments().length >= 4);
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const r = log.read(offset, 1);
      assert.ok(r !== undefined, `offset ${offset}`);
      const [first] = decodeBatches(r.bytes);
      const hit = first.records.find((rec) => rec.offset === offset);
      assert.ok(hit, `offset ${offset} not in the first returned batch`);
      assert.equal(new TextDecoder().decode(hit.value!).replace(/\.+$/, ""), ids[offset]);
      assert.equal(r.highWatermark, log.logEndOffset);
    }
  });

  await t.step("returns whole batches up to maxBytes, at least one", () => {
    const one = log.read(0, 1)!;
    assert.equal(decodeBatches(one.bytes).length, 1);
    const many = log.read(0, 4000)!;
    assert.ok(many.bytes.length <= 4000);
    const batches = decodeBatches(many.bytes);
    assert.ok(batches.length > 1);
    assert.equal(many.nextOffset, batches.at(-1)!.baseOffset + batches.at(-1)!.lastOffsetDelta + 1);
  });

  await t.step("reading from each nextOffset walks every record once", () => {
    let offset = 0;
    let seen = 0;
    for (let reads = 0; reads < 10_000; reads++) {
      const r = log.read(offset, 3000);
      if (r === undefined) break;
      for (const b of decodeBatches(r.bytes)) {
        for (const rec of b.records) if (rec.offset >= offset) seen++;
      }
      offset = r.nextOffset;
    }
    assert.equal(seen, ids.length);
    assert.equal(offset, log.logEndOffset);
  });

  await t.step("returns undefined at the log end and OFFSET_OUT_OF_RANGE past it", () => {
    assert.equal(log.read(log.logEndOffset), undefined);
    assert.throws(
      () => log.read(log.logEndOffset + 1),
      (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"),
    );
    assert.throws(() => log.read(-1), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
  });

  await t.step("upTo bounds what is seen: no batch at or past it, undefined from it", () => {
    // Every batch boundary below the end, as the log assigned them.
    const bounds: number[] = [];
    for (let offset = 0; offset < log.logEndOffset;) {
      bounds.push(offset);
      offset = decodeBatches(log.read(offset, 1)!.bytes)[0].lastOffsetDelta + offset + 1;
    }
    for (const upTo of [bounds[1], bounds[40], bounds[bounds.length - 1]]) {
      for (const from of [0, bounds[1] - 1, upTo - 1]) {
        // Reads stop at a segment's end too: walk on from each nextOffset until undefined.
        let offset = from;
        for (let r = log.read(offset, 1 << 20, upTo); r !== undefined;) {
          for (const b of decodeBatches(r.bytes)) assert.ok(b.baseOffset < upTo, `below ${upTo}`);
          assert.ok(r.nextOffset <= upTo);
          assert.equal(r.highWatermark, upTo);
          offset = r.nextOffset;
          r = log.read(offset, 1 << 20, upTo);
        }
        assert.equal(offset, upTo, `from ${from} up to ${upTo}`);
      }
      assert.equal(log.read(upTo, 1 << 20, upTo), undefined);
      assert.equal(log.read(log.logEndOffset, 1 << 20, upTo), undefined);
    }
    // A bound past the end is the end; one at or below the start reads nothing.
    assert.equal(log.read(0, 1 << 20, log.logEndOffset + 5)!.highWatermark, log.logEndOffset);
    assert.equal(log.read(0, 1 << 20, 0), undefined);
  });

  await t.step("offsetForTimestamp() finds the first record at or after a time", () => {
    // Batch b carries timestamp BASE_MS + b * 1000 on all its records.
    let firstOfBatch = 0;
    for (let b = 0; b < 120; b++) {
      assert.equal(log.offsetForTimestamp(BASE_MS + b * 1000), firstOfBatch, `batch ${b}`);
      if (b > 0) assert.equal(log.offsetForTimestamp(BASE_MS + b * 1000 - 500), firstOfBatch);
      firstOfBatch += 1 + (b * 7) % 9;
    }
    assert.equal(log.offsetForTimestamp(0), 0);
    assert.equal(log.offsetForTimestamp(BASE_MS + 200_000), undefined);
  });

  await t.step("a clean reopen serves the same reads", async () => {
    const end = log.logEndOffset;
    const before = log.read(333, 2000)!.bytes.slice();
    const byTime = log.offsetForTimestamp(BASE_MS + 50_500);
    await log.close();
    const reopened = await openLog(dir, { segmentBytes: 8192, indexIntervalBytes: 512 });
    assert.equal(reopened.logEndOffset, end);
    assert.deepEqual(reopened.read(333, 2000)!.bytes, before);
    assert.equal(reopened.offsetForTimestamp(BASE_MS + 50_500), byTime);
    const next = await reopened.append(batch(2, "after"));
    assert.equal(next.baseOffset, end);
    await reopened.close();
  });
});

Deno.test("PartitionLog flush policies", async (t) => {
  await t.step("always: concurrent appends share fsyncs (group commit)", async () => {
    const log = await openLog(tempDir(), { flushPolicy: "always" });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append(batch(2, `g${i}`))),
    );
    assert.deepEqual(results.map((r) => r.baseOffset), Array.from({ length: 50 }, (_, i) => i * 2));
    assert.ok(log.fsyncRounds >= 1 && log.fsyncRounds <= 3, `fsync rounds ${log.fsyncRounds}`);
    await log.append(batch(1, "alone"));
    const rounds = log.fsyncRounds;
    await log.append(batch(1, "alone-again"));
    assert.equal(log.fsyncRounds, rounds + 1, "a lone append under always gets its own fsync");
    await log.close();
  });

  await t.step("interval: fsync happens once flush.ms has passed", async () => {
    const clock = new ManualClock(BASE_MS);
    const log = await openLog(tempDir(), { flushPolicy: "interval", flushMs: 1000 }, clock);
    await log.append(batch(3, "i"));
    await log.append(batch(3, "j"));
    assert.equal(log.fsyncRounds, 0);
    clock.advance(999);
    assert.equal(log.fsyncRounds, 0);
    clock.advance(1);
    await log.flush(); // waits for the round the timer started
    assert.ok(log.fsyncRounds >= 1);
    await log.close();
  });

  await t.step("none: appends never wait for an fsync", async () => {
    const log = await openLog(tempDir(), { flushPolicy: "none" });
    for (let i = 0; i < 10; i++) await log.append(batch(2, `n${i}`));
    assert.equal(log.fsyncRounds, 0);
    await log.close();
  });
});

Deno.test("PartitionLog retention", async (t) => {
  const HOUR = 3_600_000;

  await t.step(
    "retention.ms deletes exactly the expired segments, never the active one",
    async () => {
      const clock = new ManualClock(BASE_MS + 10 * HOUR);
      const log = await openLog(tempDir(), { segmentBytes: 1024, retentionMs: 5 * HOUR }, clock);
      // Segment k holds records stamped k hours after BASE_MS; each batch fills most of a segment.
      for (let k = 0; k < 8; k++) await log.append(batch(3, `h${k}`, BASE_MS + k * HOUR, 200));
      const before = log.segments();
      assert.equal(before.length, 8);
      // now = BASE + 10h: segments whose newest record is older than BASE + 5h expire: k = 0..4.
      const deleted = await log.deleteExpiredSegments(clock.nowMs());
      assert.equal(deleted, 5);
      assert.equal(log.logStartOffset, before[5].baseOffset);
      assert.equal(log.segments().length, 3);
      for (const s of before.slice(0, 5)) {
        const name = String(s.baseOffset).padStart(20, "0");
        assert.equal(existsSync(`${log.dir}/${name}.log`), false);
        assert.equal(existsSync(`${log.dir}/${name}.index`), false);
      }
      assert.throws(() => log.read(0), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
      assert.ok(log.read(log.logStartOffset) !== undefined);
      // Far in the future everything but the active segment goes.
      assert.equal(await log.deleteExpiredSegments(clock.nowMs() + 100 * HOUR), 2);
      assert.equal(log.segments().length, 1);
      await log.close();
    },
  );

  await t.step(
    "retention.bytes deletes the oldest segments while the rest still exceeds it",
    async () => {
      const log = await openLog(tempDir(), { segmentBytes: 1024, retentionBytes: 2000 });
      for (let k = 0; k < 6; k++) await log.append(batch(3, `s${k}`, BASE_MS, 200));
      const sizes = log.segments().map((s) => s.sizeBytes);
      const total = sizes.reduce((a, b) => a + b, 0);
      await log.deleteExpiredSegments();
      const left = log.segments();
      const leftTotal = left.reduce((a, s) => a + s.sizeBytes, 0);
      assert.ok(leftTotal >= 2000 || left.length === 1, `kept ${leftTotal} bytes`);
      assert.ok(leftTotal - left[0].sizeBytes < 2000, "one more deletion would still be allowed");
      assert.ok(leftTotal < total);
      await log.close();
    },
  );

  await t.step("the retention timer runs on the log's clock", async () => {
    const clock = new ManualClock(BASE_MS);
    const log = await openLog(
      tempDir(),
      { segmentBytes: 1024, retentionMs: HOUR, retentionCheckIntervalMs: 60_000 },
      clock,
    );
    for (let k = 0; k < 3; k++) await log.append(batch(3, `t${k}`, BASE_MS, 200));
    assert.equal(log.segments().length, 3);
    await log.flush();
    clock.advance(2 * HOUR); // the check due at +1 min finds nothing expired yet
    await new Promise((r) => setTimeout(r, 5)); // it reschedules itself a minute from now
    assert.equal(log.segments().length, 3);
    clock.advance(60_000);
    for (let i = 0; i < 100 && log.segments().length > 1; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(log.segments().length, 1);
    await log.close();
  });
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
