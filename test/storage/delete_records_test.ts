/**
 * DeleteRecords on a partition log (src/storage/log_start.ts, PartitionLog.deleteRecordsBefore):
 * the log start offset inside a segment, whole segments below it deleted (never the active one,
 * which is rolled away when every record it holds is deleted), reads below it refused, the start
 * kept in the recovery checkpoint through a reopen and a SIGKILL, retention and truncation moving
 * it, and never down.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError, type SluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir as makeTemp } from "../test_util.ts";

const BASE_MS = 1_700_000_000_000;
/** Small segments: the 20 batches of {@link filledLog} span several. */
const CONFIG: Partial<LogConfig> = { segmentBytes: 1024, indexIntervalBytes: 256 };
const RECORDS_PER_BATCH = 5;
const childPath = new URL("./delete_records_child.ts", import.meta.url).pathname;

function tempDir(): string {
  return makeTemp("sluice-delrec-");
}

function openLog(
  dir: string,
  config: Partial<LogConfig> = CONFIG,
  clock = new ManualClock(BASE_MS),
): Promise<PartitionLog> {
  return PartitionLog.open(dir, { config, clock, logger: new MemoryLogger() });
}

function batch(tag: string, timestampMs = BASE_MS): Uint8Array {
  const records = [];
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    records.push({ value: utf8(`${tag}-${i}-${"v".repeat(30)}`), timestamp: timestampMs + i });
  }
  return encodeRecordBatch(records, { timestampMs });
}

/** A log of `batches` batches of 5 records, its high watermark at its end (as a broker sets it). */
async function filledLog(
  dir: string,
  batches = 20,
  config: Partial<LogConfig> = CONFIG,
  clock?: ManualClock,
): Promise<PartitionLog> {
  const log = await openLog(dir, config, clock);
  for (let i = 0; i < batches; i++) await log.append(batch(`b${i}`, BASE_MS + i * 10));
  log.updateHighWatermark(log.logEndOffset);
  return log;
}

function assertCode(err: unknown, code: string): boolean {
  assert.ok(isSluiceError(err), `expected a SluiceError, got ${err}`);
  assert.equal((err as SluiceError).code, code, (err as Error).message);
  return true;
}

function checkpointOf(dir: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${CHECKPOINT_FILE}`));
}

function logFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".log")).sort();
}

/** The offsets of the records a read from `offset` returns (whole batches). */
function offsetsRead(log: PartitionLog, offset: number): number[] {
  const read = log.read(offset, 1 << 20);
  if (read === undefined) return [];
  return decodeBatches(read.bytes).flatMap((b) => b.records.map((r) => r.offset));
}

Deno.test("PartitionLog.deleteRecordsBefore()", async (t) => {
  await t.step(
    "inside a segment: reads below are refused, a read at it gets its batch",
    async () => {
      const log = await filledLog(tempDir(), 3, { segmentBytes: 1 << 20 });
      assert.equal(log.segments().length, 1);
      assert.equal(await log.deleteRecordsBefore(7), 7);
      assert.equal(log.logStartOffset, 7);
      assert.equal(log.segments()[0].baseOffset, 0, "the segment holding offset 7 stays");
      assert.throws(() => log.read(6), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
      assert.throws(() => log.read(0), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
      const read = log.read(7)!;
      assert.equal(read.firstOffset, 5, "the whole batch holding the start, as Kafka answers");
      assert.equal(read.logStartOffset, 7);
      assert.deepEqual(offsetsRead(log, 7).slice(0, 5), [5, 6, 7, 8, 9]);
      assert.equal(checkpointOf(log.dir).logStartOffset, 7, "durable before it resolved");
      await log.close();
    },
  );

  await t.step("deletes the whole segments below it, never the one holding it", async () => {
    const dir = tempDir();
    const log = await filledLog(dir);
    const segments = log.segments();
    assert.ok(segments.length >= 4, `${segments.length} segments`);
    const target = segments[2].baseOffset + 2; // inside the third segment
    const before = logFiles(dir);
    assert.equal(await log.deleteRecordsBefore(target), target);
    assert.deepEqual(log.segments(), segments.slice(2));
    assert.deepEqual(logFiles(dir), before.slice(2));
    assert.equal(log.logStartOffset, target);
    assert.throws(() => log.read(target - 1), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
    assert.equal(log.read(target)!.firstOffset <= target, true);
    await log.close();
  });

  await t.step("an offset at a segment's end deletes that segment too", async () => {
    const log = await filledLog(tempDir());
    const segments = log.segments();
    assert.equal(await log.deleteRecordsBefore(segments[1].nextOffset), segments[2].baseOffset);
    assert.deepEqual(log.segments(), segments.slice(2));
    await log.close();
  });

  await t.step("every record: the active segment is rolled away, appends go on", async () => {
    const dir = tempDir();
    const log = await filledLog(dir);
    const end = log.logEndOffset;
    assert.equal(await log.deleteRecordsBefore(end), end);
    assert.deepEqual(log.segments().map((s) => [s.baseOffset, s.nextOffset, s.sizeBytes]), [
      [end, end, 0],
    ]);
    assert.deepEqual(logFiles(dir), [`${String(end).padStart(20, "0")}.log`]);
    assert.equal(log.read(end), undefined);
    assert.throws(() => log.read(end - 1), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
    const appended = await log.append(batch("after"));
    assert.equal(appended.baseOffset, end);
    log.updateHighWatermark(log.logEndOffset);
    assert.deepEqual(offsetsRead(log, end), [end, end + 1, end + 2, end + 3, end + 4]);
    await log.close();
  });

  await t.step(
    "never moves down; refuses offsets past the high watermark, writing nothing",
    async () => {
      const dir = tempDir();
      const log = await filledLog(dir, 4, { segmentBytes: 1 << 20 });
      assert.equal(await log.deleteRecordsBefore(12), 12);
      const checkpoint = Deno.readTextFileSync(`${dir}/${CHECKPOINT_FILE}`);
      assert.equal(await log.deleteRecordsBefore(3), 12, "a lower offset changes nothing");
      assert.equal(await log.deleteRecordsBefore(12), 12);
      log.updateHighWatermark(15); // below the log end (20), as before an ISR catches up
      for (const bad of [16, 20, 21, -1, -2, 1.5, Number.NaN, 2 ** 53]) {
        await assert.rejects(
          log.deleteRecordsBefore(bad),
          (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"),
        );
      }
      assert.equal(log.logStartOffset, 12);
      assert.equal(Deno.readTextFileSync(`${dir}/${CHECKPOINT_FILE}`), checkpoint);
      assert.equal(await log.deleteRecordsBefore(15), 15, "up to the high watermark");
      await log.close();
    },
  );

  await t.step("calls at once all resolve, once durable, to the highest start", async () => {
    const log = await filledLog(tempDir());
    const answers = await Promise.all([5, 40, 22, 40, 3].map((o) => log.deleteRecordsBefore(o)));
    // Each answers the log start once it is durable: by then the second call had moved it to 40.
    assert.deepEqual(answers, [40, 40, 40, 40, 40]);
    assert.equal(log.logStartOffset, 40);
    assert.equal(checkpointOf(log.dir).logStartOffset, 40);
    await log.close();
  });

  await t.step("the leader-epoch cache is cut at it", async () => {
    const log = await openLog(tempDir(), { segmentBytes: 1 << 20 });
    log.becomeLeader(1);
    for (let i = 0; i < 3; i++) await log.append(batch(`e1.${i}`));
    log.becomeLeader(4);
    for (let i = 0; i < 3; i++) await log.append(batch(`e4.${i}`));
    log.updateHighWatermark(log.logEndOffset);
    await log.deleteRecordsBefore(8);
    assert.deepEqual(log.leaderEpochs().map((e) => [e.epoch, e.startOffset]), [[1, 8], [4, 15]]);
    await log.deleteRecordsBefore(20);
    assert.deepEqual(log.leaderEpochs().map((e) => [e.epoch, e.startOffset]), [[4, 20]]);
    await log.close();
  });

  await t.step("an offline or closed log refuses it, typed", async () => {
    const offline = PartitionLog.offline(tempDir(), new Error("EIO"));
    await assert.rejects(offline.deleteRecordsBefore(0), (e) => assertCode(e, "STORAGE_ERROR"));
    const log = await filledLog(tempDir(), 2);
    await log.close();
    await assert.rejects(log.deleteRecordsBefore(1), (e) => assertCode(e, "LOG_CLOSED"));
  });
});

Deno.test("the log start offset across opens", async (t) => {
  await t.step("a reopen starts where DeleteRecords left it, inside a segment", async () => {
    const dir = tempDir();
    const log = await filledLog(dir);
    const target = log.segments()[1].baseOffset + 3;
    await log.deleteRecordsBefore(target);
    await log.close();
    const reopened = await openLog(dir);
    assert.equal(reopened.logStartOffset, target);
    assert.throws(() => reopened.read(target - 1), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
    assert.ok(reopened.read(target)!.firstOffset <= target);
    assert.equal(reopened.highWatermark, 100);
    await reopened.close();
  });

  await t.step("an older checkpoint without the field starts at the first segment", async () => {
    const dir = tempDir();
    const log = await filledLog(dir, 3, { segmentBytes: 1 << 20 });
    await log.deleteRecordsBefore(6);
    await log.close();
    const checkpoint = checkpointOf(dir);
    delete checkpoint.logStartOffset;
    Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(checkpoint));
    const reopened = await openLog(dir);
    assert.equal(reopened.logStartOffset, 0);
    assert.deepEqual(offsetsRead(reopened, 0).slice(0, 3), [0, 1, 2]);
    await reopened.close();
  });

  await t.step("segments below a checkpointed start are deleted at open", async () => {
    const dir = tempDir();
    const log = await filledLog(dir);
    const segments = log.segments();
    await log.close();
    // As after a crash between DeleteRecords' checkpoint and its deletions.
    const checkpoint = checkpointOf(dir);
    const target = segments[2].baseOffset + 1;
    checkpoint.logStartOffset = target;
    Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(checkpoint));
    const reopened = await openLog(dir);
    assert.equal(reopened.logStartOffset, target);
    assert.deepEqual(reopened.segments(), segments.slice(2));
    assert.equal(logFiles(dir).length, segments.length - 2);
    assert.equal(checkpointOf(dir).logStartOffset, target);
    await reopened.close();
    const again = await openLog(dir);
    assert.equal(again.logStartOffset, target);
    assert.equal(again.damage.length, 0, JSON.stringify(again.damage));
    await again.close();
  });

  await t.step("a checkpointed start past the log end is clamped to it", async () => {
    const dir = tempDir();
    const log = await filledLog(dir, 2, { segmentBytes: 1 << 20 });
    await log.close();
    const checkpoint = checkpointOf(dir);
    checkpoint.logStartOffset = 1000;
    Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(checkpoint));
    const reopened = await openLog(dir);
    assert.equal(reopened.logStartOffset, 10);
    assert.equal(reopened.read(10), undefined);
    await reopened.close();
  });

  await t.step("survives a SIGKILL right after it resolved (flush.policy none)", async () => {
    const dir = tempDir();
    const log = await filledLog(dir);
    const segments = log.segments();
    await log.close();
    const target = segments[1].baseOffset + 2;
    const { start, firstBase } = await deleteInChild(dir, target);
    assert.equal(start, target);
    assert.equal(firstBase, segments[1].baseOffset);
    const reopened = await openLog(dir);
    assert.equal(reopened.logStartOffset, target);
    assert.deepEqual(reopened.segments(), segments.slice(1));
    assert.throws(() => reopened.read(target - 1), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
    assert.equal(reopened.logEndOffset, 100);
    await reopened.close();
  });
});

Deno.test("the log start offset with retention and truncation", async (t) => {
  await t.step("retention moves it past a DeleteRecords start: the larger of both", async () => {
    const log = await filledLog(tempDir());
    const segments = log.segments();
    await log.deleteRecordsBefore(segments[0].baseOffset + 2);
    // retention.bytes that keeps only the last two segments.
    const keep = segments.at(-1)!.sizeBytes + segments.at(-2)!.sizeBytes;
    await log.close(); // reopened with retention.bytes on
    const reopened = await openLog(log.dir, { ...CONFIG, retentionBytes: keep });
    assert.equal(reopened.logStartOffset, segments[0].baseOffset + 2);
    await reopened.deleteExpiredSegments();
    assert.equal(reopened.logStartOffset, segments.at(-2)!.baseOffset);
    assert.equal(await reopened.deleteRecordsBefore(3), segments.at(-2)!.baseOffset);
    await reopened.close();
  });

  await t.step("a DeleteRecords start past retention's stays", async () => {
    const clock = new ManualClock(BASE_MS + 3_600_000);
    const log = await filledLog(tempDir(), 20, { ...CONFIG, retentionMs: 60_000 }, clock);
    const segments = log.segments();
    const target = segments.at(-1)!.baseOffset + 1;
    await log.deleteRecordsBefore(target);
    assert.equal(await log.deleteExpiredSegments(clock.nowMs()), 0);
    assert.equal(log.logStartOffset, target);
    await log.close();
  });

  await t.step("the timed retention run deletes what lies below the start", async () => {
    const clock = new ManualClock(BASE_MS);
    const dir = tempDir();
    const log = await filledLog(dir, 20, { ...CONFIG, retentionMs: 3_600_000 * 1000 }, clock);
    const segments = log.segments();
    await log.close();
    const checkpoint = checkpointOf(dir);
    checkpoint.logStartOffset = segments[1].nextOffset;
    Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(checkpoint));
    // Open deletes them too; here the run finds the start set and nothing else expired.
    const reopened = await openLog(dir, { ...CONFIG, retentionMs: 3_600_000 * 1000 }, clock);
    assert.deepEqual(reopened.segments(), segments.slice(2));
    assert.equal(await reopened.deleteExpiredSegments(clock.nowMs()), 0);
    await reopened.close();
  });

  await t.step("truncation below the start brings it down to the new end", async () => {
    const log = await filledLog(tempDir(), 4, { segmentBytes: 1 << 20 });
    await log.deleteRecordsBefore(12);
    log.becomeFollower(1);
    assert.equal(await log.truncateTo(11), 10);
    assert.equal(log.logStartOffset, 10);
    assert.equal(log.logEndOffset, 10);
    assert.equal(log.read(10), undefined);
    assert.equal(checkpointOf(log.dir).logStartOffset, 10);
    await log.close();
  });

  await t.step("truncateFullyAndStartAt sets it", async () => {
    const dir = tempDir();
    const log = await filledLog(dir, 4, { segmentBytes: 1 << 20 });
    await log.deleteRecordsBefore(12);
    log.becomeFollower(1);
    await log.truncateFullyAndStartAt(500);
    assert.equal(log.logStartOffset, 500);
    await log.close();
    const reopened = await openLog(dir);
    assert.equal(reopened.logStartOffset, 500);
    assert.equal(reopened.logEndOffset, 500);
    await reopened.close();
  });

  await t.step("truncation above the start leaves it", async () => {
    const log = await filledLog(tempDir(), 4, { segmentBytes: 1 << 20 });
    await log.deleteRecordsBefore(7);
    log.becomeFollower(1);
    assert.equal(await log.truncateTo(15), 15);
    assert.equal(log.logStartOffset, 7);
    await log.close();
  });
});

/** Runs delete_records_child.ts on `dir`, SIGKILLs it once it printed its line; the line. */
async function deleteInChild(
  dir: string,
  offset: number,
): Promise<{ start: number; firstBase: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", childPath, dir, String(offset)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  const status = await child.status;
  const errText = await stderr;
  assert.equal(status.signal, "SIGKILL", `child status ${JSON.stringify(status)}: ${errText}`);
  const m = /^done (\d+) (\d+)$/.exec(text.split("\n")[0]);
  assert.ok(m !== null, `child printed ${JSON.stringify(text)}: ${errText}`);
  return { start: Number(m[1]), firstBase: Number(m[2]) };
}
