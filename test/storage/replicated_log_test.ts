/**
 * The follower side of a partition log (src/storage/partition_log.ts, log_truncation.ts,
 * replica_state.ts): appendReplicated of a leader's batches as they are, becomeFollower,
 * truncateTo and truncateFullyAndStartAt (durable, across segments, through a reopen and a
 * SIGKILL), and the high watermark kept in the recovery checkpoint.
 *
 * The leader here is a real PartitionLog; its batches are read back from it, so a follower gets
 * exactly the bytes a replica fetch would bring.
 */
import assert from "node:assert/strict";
import { isSluiceError, type SluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import {
  baseOffsetAt,
  batchSizeAt,
  decodeBatches,
  encodeRecordBatch,
  lastOffsetDeltaAt,
  PARTITION_LEADER_EPOCH_AT,
  utf8,
  viewOf,
  writeInt64,
} from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { type AppendResult, PartitionLog } from "../../src/storage/partition_log.ts";
import { assertBytes, tempDir as makeTemp } from "../test_util.ts";

const BASE_MS = 1_700_000_000_000;
/** Small segments and a dense index, so a few dozen batches span several of each. */
const CONFIG: Partial<LogConfig> = { segmentBytes: 1024, indexIntervalBytes: 256 };
const childPath = new URL("./truncate_child.ts", import.meta.url).pathname;

function tempDir(): string {
  return makeTemp("sluice-replicated-");
}

function openLog(
  dir: string,
  config: Partial<LogConfig> = CONFIG,
  logger = new MemoryLogger(),
): Promise<PartitionLog> {
  return PartitionLog.open(dir, { config, logger });
}

/** A batch of `count` records, values "<tag>-<i>", timestamps from `timestampMs` up. */
function batch(count: number, tag: string, timestampMs = BASE_MS): Uint8Array {
  const records = [];
  for (let i = 0; i < count; i++) {
    records.push({ value: utf8(`${tag}-${i}-${"v".repeat(30)}`), timestamp: timestampMs + i });
  }
  return encodeRecordBatch(records, { timestampMs });
}

/** A batch as a leader would send it: at `baseOffset`, stamped with `epoch`. */
function leaderBatch(count: number, baseOffset: number, epoch: number, tag: string): Uint8Array {
  const bytes = batch(count, tag, BASE_MS + baseOffset * 10);
  const dv = viewOf(bytes);
  writeInt64(dv, 0, baseOffset);
  dv.setInt32(PARTITION_LEADER_EPOCH_AT, epoch);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface Stored {
  bytes: Uint8Array;
  base: number;
  last: number;
  epoch: number;
}

/** Every batch of `log` from its start, as stored (copies). */
function storedBatches(log: PartitionLog): Stored[] {
  const out: Stored[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = log.read(offset, 1 << 20)!;
    const bytes = read.bytes.slice();
    const dv = viewOf(bytes);
    for (let pos = 0; pos < bytes.length; pos += batchSizeAt(dv, pos)) {
      const base = baseOffsetAt(dv, pos);
      out.push({
        bytes: bytes.slice(pos, pos + batchSizeAt(dv, pos)),
        base,
        last: base + lastOffsetDeltaAt(dv, pos),
        epoch: dv.getInt32(pos + PARTITION_LEADER_EPOCH_AT),
      });
    }
    offset = read.nextOffset;
  }
  return out;
}

/** The whole log's bytes, start to end, as reads return them. */
function logBytes(log: PartitionLog): Uint8Array {
  return concat(...storedBatches(log).map((b) => b.bytes));
}

/**
 * A leader's log: epoch 1 for 14 batches, then epoch 3 for 14 more, of 1-5 records each, over
 * several 1 KiB segments. Left open.
 */
async function leaderLog(dir: string, config: Partial<LogConfig> = CONFIG): Promise<PartitionLog> {
  const log = await openLog(dir, config);
  log.becomeLeader(1);
  for (let i = 0; i < 14; i++) await log.append(batch(1 + i % 5, `e1.${i}`, BASE_MS + i * 10));
  log.becomeLeader(3);
  for (let i = 0; i < 14; i++) {
    await log.append(batch(1 + (i + 2) % 5, `e3.${i}`, BASE_MS + 1000 + i * 10));
  }
  return log;
}

/** The files of `dir` with these suffixes, sorted. */
function filesOf(dir: string, ...suffixes: string[]): string[] {
  return [...Deno.readDirSync(dir)]
    .map((e) => e.name)
    .filter((n) => suffixes.some((s) => n.endsWith(s)))
    .sort();
}

function checkpointOf(dir: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${CHECKPOINT_FILE}`));
}

function epochPairs(log: PartitionLog): number[][] {
  return log.leaderEpochs().map((e) => [e.epoch, e.startOffset]);
}

function assertCode(err: unknown, code: string): boolean {
  assert.ok(isSluiceError(err), `expected a SluiceError, got ${err}`);
  assert.equal((err as SluiceError).code, code, (err as Error).message);
  return true;
}

/** Warnings and errors a logger saw. */
function complaints(logger: MemoryLogger): string[] {
  return logger.events.filter((e) => e.level !== "info").map((e) => e.message);
}

Deno.test("PartitionLog.appendReplicated()", async (t) => {
  await t.step("a follower fed its leader's batches one by one has the same files", async () => {
    const leaderDir = tempDir();
    const leader = await leaderLog(leaderDir);
    const stored = storedBatches(leader);
    const followerDir = tempDir();
    const follower = await openLog(followerDir);
    for (const b of stored) {
      const result = await follower.appendReplicated(b.bytes.slice());
      assert.deepEqual(result, {
        baseOffset: b.base,
        lastOffset: b.last,
        batches: 1,
        records: b.last - b.base + 1,
        bytes: b.bytes.length,
      });
    }
    assert.equal(follower.logEndOffset, leader.logEndOffset);
    assert.ok(leader.segments().length >= 4, "the leader's log spans several segments");
    assert.deepEqual(follower.segments(), leader.segments());
    assert.deepEqual(follower.leaderEpochs(), leader.leaderEpochs());
    assert.deepEqual(epochPairs(follower), [[1, 0], [3, stored[14].base]]);
    assert.equal(follower.leaderEpoch, 0, "the batches' epochs do not change the leader epoch");
    await leader.close();
    await follower.close();
    const names = filesOf(leaderDir, ".log", ".index", ".timeindex");
    assert.deepEqual(filesOf(followerDir, ".log", ".index", ".timeindex"), names);
    for (const name of names) {
      assertBytes(
        Deno.readFileSync(`${followerDir}/${name}`),
        Deno.readFileSync(`${leaderDir}/${name}`),
        name,
      );
    }
  });

  await t.step("fed as fetch answers bring them (several batches a call): same bytes", async () => {
    const leader = await leaderLog(tempDir());
    const dir = tempDir();
    const follower = await openLog(dir);
    follower.becomeFollower(3);
    let calls = 0;
    for (let offset = 0; offset < leader.logEndOffset; calls++) {
      const read = leader.read(offset, 700)!;
      await follower.appendReplicated(read.bytes.slice());
      offset = read.nextOffset;
    }
    assert.ok(calls < storedBatches(leader).length, "some calls carried several batches");
    assertBytes(logBytes(follower), logBytes(leader), "the follower's log");
    assert.deepEqual(follower.leaderEpochs(), leader.leaderEpochs());
    assert.equal(follower.leaderEpoch, 3);
    await follower.close();
    const reopened = await openLog(dir);
    assertBytes(logBytes(reopened), logBytes(leader), "the follower's log, reopened");
    assert.deepEqual(reopened.leaderEpochs(), leader.leaderEpochs());
    await reopened.close();
    await leader.close();
  });

  await t.step("overlaps and bad batches are refused, and nothing is written", async () => {
    const leader = await leaderLog(tempDir());
    const stored = storedBatches(leader);
    const dir = tempDir();
    const follower = await openLog(dir);
    for (const b of stored.slice(0, 5)) await follower.appendReplicated(b.bytes.slice());
    const end = follower.logEndOffset;
    const size = follower.sizeBytes;
    const epochs = epochPairs(follower);
    const unchanged = (what: string) => {
      assert.equal(follower.logEndOffset, end, what);
      assert.equal(follower.sizeBytes, size, what);
      assert.deepEqual(epochPairs(follower), epochs, what);
      const onDisk = filesOf(dir, ".log").reduce(
        (n, name) => n + Deno.statSync(`${dir}/${name}`).size,
        0,
      );
      assert.equal(onDisk, size, `${what}: the .log files hold nothing more`);
    };
    await assert.rejects(follower.appendReplicated(stored[4].bytes.slice()), (e) => {
      assertCode(e, "OFFSET_OUT_OF_RANGE");
      const details = (e as SluiceError).details!;
      assert.equal(details.expectedOffset, end);
      assert.equal(details.baseOffset, stored[4].base);
      return true;
    });
    unchanged("an overlap");
    await assert.rejects(
      follower.appendReplicated(concat(stored[5].bytes, stored[4].bytes)),
      (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"),
    );
    unchanged("a good batch, then an overlap");
    const badCrc = stored[5].bytes.slice();
    badCrc[badCrc.length - 1] ^= 0xff;
    await assert.rejects(follower.appendReplicated(badCrc), (e) => assertCode(e, "CORRUPT_BATCH"));
    unchanged("a bad CRC");
    await assert.rejects(
      follower.appendReplicated(stored[5].bytes.slice(0, 40)),
      (e) => assertCode(e, "CORRUPT_BATCH"),
    );
    unchanged("a torn batch");
    await assert.rejects(
      follower.appendReplicated(leaderBatch(2, end - 1, 8, "overlap")),
      (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"),
    );
    unchanged("a refused batch of a new epoch teaches nothing");
    await follower.appendReplicated(stored[5].bytes.slice());
    assert.equal(follower.logEndOffset, stored[5].last + 1);
    await follower.close();
    await leader.close();
  });

  await t.step("a compacted leader's gaps are taken, as Kafka's follower takes them", async () => {
    const leader = await leaderLog(tempDir());
    const stored = storedBatches(leader);
    const dir = tempDir();
    const follower = await openLog(dir);
    for (const b of stored.slice(0, 3)) await follower.appendReplicated(b.bytes.slice());
    // Batches 3 and 5 gone, as a clean of the leader's log would have removed them.
    await follower.appendReplicated(concat(stored[4].bytes, stored[6].bytes));
    assert.equal(follower.logEndOffset, stored[6].last + 1);
    const inGap = follower.read(stored[3].base, 1 << 20)!;
    assert.equal(inGap.firstOffset, stored[4].base, "a read in a gap answers the next batch");
    await follower.appendReplicated(stored[7].bytes.slice());
    await follower.close();
    // Reopened without a clean close's checkpoint as well: the gaps are allowed, not damage.
    for (const file of filesOf(dir, "recovery-checkpoint")) Deno.removeSync(`${dir}/${file}`);
    const reopened = await openLog(dir);
    assert.deepEqual(reopened.damage, []);
    assert.equal(reopened.logEndOffset, stored[7].last + 1);
    assert.equal(reopened.read(stored[5].base, 1 << 20)!.firstOffset, stored[6].base);
    await reopened.close();
    await leader.close();
  });

  await t.step("the epoch cache learns the batches' epochs, as Kafka's follower", async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    log.becomeFollower(5);
    await log.appendReplicated(concat(leaderBatch(2, 0, 2, "a"), leaderBatch(2, 2, 2, "b")));
    assert.deepEqual(epochPairs(log), [[2, 0]], "epoch 2 from offset 0 replaces the open's 0");
    await log.appendReplicated(leaderBatch(2, 4, 4, "c"));
    await log.appendReplicated(leaderBatch(2, 6, -1, "no epoch"));
    assert.deepEqual(epochPairs(log), [[2, 0], [4, 4]], "a batch without an epoch teaches none");
    assert.equal(log.leaderEpoch, 5);
    assert.deepEqual(log.endOffsetForEpoch(2), { leaderEpoch: 2, endOffset: 4 });
    assert.equal(log.epochForOffset(7), 4);
    // This node led epoch 6 without writing in it; the leader of epoch 7 never had epoch 6's
    // entry: its batch of epoch 5 at the log end removes it (Kafka's assign).
    log.becomeLeader(6);
    assert.deepEqual(epochPairs(log), [[2, 0], [4, 4], [6, 8]]);
    log.becomeFollower(7);
    await log.appendReplicated(leaderBatch(1, 8, 5, "d"));
    assert.deepEqual(epochPairs(log), [[2, 0], [4, 4], [5, 8]]);
    await log.close();
    const reopened = await openLog(dir);
    assert.deepEqual(epochPairs(reopened), [[2, 0], [4, 4], [5, 8]]);
    await reopened.close();
  });

  await t.step("flush policy, listener and max.message.bytes", async () => {
    const seen: AppendResult[] = [];
    const log = await PartitionLog.open(tempDir(), {
      config: { ...CONFIG, flushPolicy: "always", maxMessageBytes: 200 },
      logger: new MemoryLogger(),
      onAppend: (_log, result) => seen.push(result),
    });
    const big = leaderBatch(8, 0, 1, "big");
    assert.ok(big.length > 200);
    await assert.rejects(log.append(big.slice()), (e) => assertCode(e, "RECORD_TOO_LARGE"));
    const rounds = log.fsyncRounds;
    const result = await log.appendReplicated(big);
    assert.ok(log.fsyncRounds > rounds, "under flush.policy always it waited for an fsync");
    assert.deepEqual(seen, [result]);
    assert.deepEqual(result, {
      baseOffset: 0,
      lastOffset: 7,
      batches: 1,
      records: 8,
      bytes: big.length,
    });
    await log.close();
  });
});

Deno.test("PartitionLog.becomeFollower()", async (t) => {
  await t.step("sets the leader epoch, never back; becomeLeader after it works", async () => {
    const log = await openLog(tempDir());
    log.becomeFollower(3);
    assert.equal(log.leaderEpoch, 3);
    assert.deepEqual(epochPairs(log), [[0, 0]], "no epoch starts in the cache");
    assert.throws(() => log.becomeFollower(2), (e) => assertCode(e, "INVALID_REQUEST"));
    assert.throws(() => log.becomeFollower(3.5), (e) => assertCode(e, "INVALID_REQUEST"));
    log.becomeFollower(3);
    log.becomeLeader(3);
    assert.deepEqual(epochPairs(log), [[3, 0]]);
    await log.append(batch(2, "x"));
    assert.equal(viewOf(log.read(0)!.bytes).getInt32(PARTITION_LEADER_EPOCH_AT), 3);
    await log.close();
    assert.throws(() => log.becomeFollower(4), (e) => assertCode(e, "LOG_CLOSED"));
  });
});

Deno.test("PartitionLog.truncateTo()", async (t) => {
  await t.step("mid-log, inside a batch, across segments; then a clean reopen", async () => {
    const dir = tempDir();
    const log = await leaderLog(dir);
    const stored = storedBatches(log);
    const segments = log.segments();
    // An epoch-1 batch of several records, not its segment's first, in the second segment on.
    const cut = stored.find((b) =>
      b.epoch === 1 && b.last > b.base &&
      segments.some((s, i) => i >= 1 && s.baseOffset < b.base && b.last < s.nextOffset)
    )!;
    assert.ok(cut !== undefined);
    const holding = segments.findIndex((s) => s.baseOffset <= cut.base && cut.last < s.nextOffset);
    assert.ok(holding < segments.length - 2, "segments after the cut one go");
    log.updateHighWatermark(log.logEndOffset);
    const gone = filesOf(dir, ".log", ".index", ".timeindex")
      .filter((n) => Number(n.slice(0, 20)) > cut.base);
    assert.ok(gone.length >= 6);

    assert.equal(await log.truncateTo(cut.base + 1), cut.base, "the batch holding it goes too");
    assert.equal(log.logEndOffset, cut.base);
    assert.deepEqual(
      log.segments().map((s) => s.baseOffset),
      segments.slice(0, holding + 1).map((s) => s.baseOffset),
    );
    for (const name of gone) assert.ok(!filesOf(dir, name).includes(name), `${name} deleted`);
    const kept = stored.filter((b) => b.base < cut.base);
    assertBytes(logBytes(log), concat(...kept.map((b) => b.bytes)), "what is left");
    const inCut = kept.filter((b) => b.base >= segments[holding].baseOffset);
    const position = inCut.reduce((n, b) => n + b.bytes.length, 0);
    assert.equal(Deno.statSync(`${dir}/${filesOf(dir, ".log").at(-1)}`).size, position);
    assert.deepEqual(epochPairs(log), [[1, 0]], "epoch 3's entry is cut with its batches");
    assert.equal(log.highWatermark, cut.base);
    const max = log.recordWithMaxTimestamp()!;
    assert.equal(max.offset, cut.base - 1, "the newest record left is the last one");
    // Durable: the checkpoint names the new end.
    const cp = checkpointOf(dir);
    assert.equal(cp.offset, cut.base);
    assert.equal(cp.segment, segments[holding].baseOffset);
    assert.equal(cp.position, position);
    assert.deepEqual(cp.leaderEpochs, [[1, 0]]);
    assert.equal(cp.highWatermark, cut.base);
    await log.close();

    const logger = new MemoryLogger();
    const reopened = await openLog(dir, CONFIG, logger);
    assert.deepEqual(complaints(logger), []);
    assert.deepEqual(reopened.damage, []);
    assert.equal(reopened.logEndOffset, cut.base);
    assertBytes(logBytes(reopened), concat(...kept.map((b) => b.bytes)), "reopened");
    assert.deepEqual(epochPairs(reopened), [[1, 0]]);
    assert.deepEqual(reopened.recordWithMaxTimestamp(), max);
    assert.equal(reopened.highWatermark, cut.base);
    reopened.becomeLeader(4);
    assert.equal((await reopened.append(batch(2, "after"))).baseOffset, cut.base);
    await reopened.close();
  });

  await t.step("to a segment's base offset: that segment stays, empty", async () => {
    const dir = tempDir();
    const log = await leaderLog(dir);
    const third = log.segments()[2];
    assert.equal(await log.truncateTo(third.baseOffset), third.baseOffset);
    assert.equal(log.segments().length, 3);
    assert.equal(log.segments()[2].sizeBytes, 0);
    await log.close();
    const logger = new MemoryLogger();
    const reopened = await openLog(dir, CONFIG, logger);
    assert.deepEqual(complaints(logger), []);
    assert.equal(reopened.logEndOffset, third.baseOffset);
    assert.equal(reopened.segments().length, 3);
    await reopened.append(batch(1, "next"));
    assert.equal(reopened.segments().length, 3, "the empty segment takes the next append");
    await reopened.close();
  });

  await t.step("at or past the log end: no change but an epoch begun at the end", async () => {
    const dir = tempDir();
    const log = await leaderLog(dir);
    const bytes = logBytes(log);
    const end = log.logEndOffset;
    log.becomeLeader(4);
    assert.deepEqual(epochPairs(log).at(-1), [4, end]);
    assert.equal(await log.truncateTo(end + 5), end);
    assert.equal(await log.truncateTo(end), end);
    assertBytes(logBytes(log), bytes, "unchanged");
    assert.deepEqual(epochPairs(log).at(-1)?.[0], 3, "as Kafka's, the empty epoch 4 goes");
    await log.close();
  });

  await t.step("below the log start: the log starts again there", async () => {
    const dir = tempDir();
    const log = await leaderLog(dir);
    const start = log.segments()[2].baseOffset;
    await log.deleteSegmentsBefore(start);
    assert.equal(log.logStartOffset, start);
    assert.equal(await log.truncateTo(3), 3);
    assert.equal(log.logStartOffset, 3);
    assert.equal(log.logEndOffset, 3);
    assert.deepEqual(filesOf(dir, ".log"), ["00000000000000000003.log"]);
    assert.deepEqual(epochPairs(log), []);
    await log.close();
  });

  await t.step("refused on closed or offline logs, bad offsets, and while one runs", async () => {
    const offline = PartitionLog.offline(tempDir(), new Error("disk gone"), {
      logger: new MemoryLogger(),
    });
    await assert.rejects(offline.truncateTo(0), (e) => assertCode(e, "STORAGE_ERROR"));
    await assert.rejects(offline.truncateFullyAndStartAt(0), (e) => assertCode(e, "STORAGE_ERROR"));
    assert.throws(() => offline.updateHighWatermark(0), (e) => assertCode(e, "STORAGE_ERROR"));
    assert.equal(offline.highWatermark, 0);

    const log = await leaderLog(tempDir());
    await assert.rejects(log.truncateTo(-1), (e) => assertCode(e, "INVALID_REQUEST"));
    await assert.rejects(log.truncateTo(1.5), (e) => assertCode(e, "INVALID_REQUEST"));
    await assert.rejects(log.truncateFullyAndStartAt(-2), (e) => assertCode(e, "INVALID_REQUEST"));
    const first = log.truncateTo(20);
    await assert.rejects(log.truncateTo(10), (e) => assertCode(e, "TOO_MANY_REQUESTS"));
    await assert.rejects(log.truncateFullyAndStartAt(0), (e) => assertCode(e, "TOO_MANY_REQUESTS"));
    assert.ok(await first <= 20);
    assert.ok(await log.truncateTo(10) <= 10, "the next one runs once the first is done");
    await log.close();
    await assert.rejects(log.truncateTo(0), (e) => assertCode(e, "LOG_CLOSED"));
  });

  await t.step("waits for a running flush round before it cuts", async () => {
    const log = await openLog(tempDir(), { ...CONFIG, flushPolicy: "always" });
    await log.append(batch(3, "a"));
    const order: string[] = [];
    const appended = log.append(batch(3, "b")).then(() => order.push("append"));
    const truncated = log.truncateTo(2).then((end) => order.push(`truncate ${end}`));
    await Promise.all([appended, truncated]);
    assert.deepEqual(order, ["append", "truncate 0"]);
    assert.equal(log.logEndOffset, 0);
    await log.close();
  });

  await t.step("a close before the cut refuses it, and waits for it to settle", async () => {
    const dir = tempDir();
    const log = await openLog(dir, { ...CONFIG, flushPolicy: "always" });
    await log.append(batch(3, "a"));
    const order: string[] = [];
    const appended = log.append(batch(3, "b")).then(() => order.push("append"));
    const truncated = log.truncateTo(2).catch((e) => {
      assertCode(e, "LOG_CLOSED");
      order.push("truncate refused");
    });
    const closed = log.close().then(() => order.push("close"));
    await Promise.all([appended, truncated, closed]);
    assert.deepEqual(order, ["append", "truncate refused", "close"]);
    const reopened = await openLog(dir);
    assert.equal(reopened.logEndOffset, 6);
    await reopened.close();
  });
});

Deno.test("PartitionLog.truncateFullyAndStartAt()", async (t) => {
  await t.step("then appendReplicated at that offset; a reopen keeps it", async () => {
    const dir = tempDir();
    const log = await leaderLog(dir);
    log.updateHighWatermark(30);
    await log.truncateFullyAndStartAt(1000);
    assert.equal(log.logStartOffset, 1000);
    assert.equal(log.logEndOffset, 1000);
    assert.deepEqual(log.segments().map((s) => [s.baseOffset, s.sizeBytes]), [[1000, 0]]);
    assert.deepEqual(filesOf(dir, ".log", ".index", ".timeindex"), [
      "00000000000000001000.index",
      "00000000000000001000.log",
      "00000000000000001000.timeindex",
    ]);
    assert.deepEqual(epochPairs(log), []);
    assert.equal(log.highWatermark, 1000);
    const cp = checkpointOf(dir);
    assert.deepEqual([cp.offset, cp.segment, cp.position, cp.highWatermark], [1000, 1000, 0, 1000]);
    assert.deepEqual(cp.leaderEpochs, []);

    const next = concat(leaderBatch(3, 1000, 7, "x"), leaderBatch(2, 1003, 7, "y"));
    const result = await log.appendReplicated(next);
    assert.deepEqual([result.baseOffset, result.lastOffset], [1000, 1004]);
    assert.deepEqual(epochPairs(log), [[7, 1000]]);
    assert.throws(() => log.read(999), (e) => assertCode(e, "OFFSET_OUT_OF_RANGE"));
    await log.close();
    const logger = new MemoryLogger();
    const reopened = await openLog(dir, CONFIG, logger);
    assert.deepEqual(complaints(logger), []);
    assert.equal(reopened.logStartOffset, 1000);
    assertBytes(logBytes(reopened), next, "the log after the restart");
    assert.deepEqual(epochPairs(reopened), [[7, 1000]]);
    assert.deepEqual(
      decodeBatches(reopened.read(1003)!.bytes).flatMap((b) => b.records.map((r) => r.offset)),
      [1003, 1004],
    );
    await reopened.close();
  });

  await t.step("at the first segment's base: the same file, emptied", async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    await log.append(batch(4, "a"));
    await log.truncateFullyAndStartAt(0);
    assert.deepEqual(log.segments().map((s) => [s.baseOffset, s.sizeBytes]), [[0, 0]]);
    assert.equal(Deno.statSync(`${dir}/00000000000000000000.log`).size, 0);
    await log.close();
    const reopened = await openLog(dir);
    assert.equal(reopened.logEndOffset, 0);
    await reopened.close();
  });
});

Deno.test("PartitionLog.highWatermark", async (t) => {
  await t.step("survives close and reopen; clamped to the log", async () => {
    const dir = tempDir();
    const log = await openLog(dir);
    assert.equal(log.highWatermark, 0);
    await log.append(batch(10, "a"));
    assert.equal(log.highWatermark, 0, "appends do not move it");
    assert.equal(log.updateHighWatermark(7), 7);
    assert.equal(log.updateHighWatermark(50), 10, "not past the log end");
    assert.equal(log.updateHighWatermark(-3), 0, "not below the log start");
    assert.throws(() => log.updateHighWatermark(NaN), (e) => assertCode(e, "INVALID_REQUEST"));
    log.updateHighWatermark(7);
    await log.close();
    assert.equal(checkpointOf(dir).highWatermark, 7);
    const reopened = await openLog(dir);
    assert.equal(reopened.highWatermark, 7);
    await reopened.close();
  });

  await t.step("truncation lowers it; a full truncation sets it", async () => {
    const log = await openLog(tempDir());
    for (let i = 0; i < 5; i++) await log.append(batch(2, `b${i}`));
    log.updateHighWatermark(10);
    assert.equal(await log.truncateTo(5), 4);
    assert.equal(log.highWatermark, 4);
    await log.truncateFullyAndStartAt(20);
    assert.equal(log.highWatermark, 20);
    await log.close();
  });

  await t.step("retention moves it up with the log start", async () => {
    const log = await leaderLog(tempDir());
    log.updateHighWatermark(1);
    await log.deleteSegmentsBefore(log.segments()[1].nextOffset);
    assert.ok(log.logStartOffset > 1);
    assert.equal(log.highWatermark, log.logStartOffset);
    await log.close();
  });

  await t.step(
    "an old checkpoint gives the log end; none, or a bad one, the log start",
    async () => {
      const dir = tempDir();
      const log = await leaderLog(dir);
      const end = log.logEndOffset;
      log.updateHighWatermark(5);
      await log.close();
      const cp = checkpointOf(dir);
      delete cp.highWatermark;
      Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(cp));
      let reopened = await openLog(dir);
      assert.equal(reopened.highWatermark, end, "a single node's log: all of it was committed");
      assert.equal(reopened.logEndOffset, end);
      await reopened.close();

      const again = checkpointOf(dir);
      again.highWatermark = "twelve";
      Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(again));
      const logger = new MemoryLogger();
      reopened = await openLog(dir, CONFIG, logger);
      assert.equal(reopened.highWatermark, 0);
      assert.ok(complaints(logger).some((m) => m.includes("high watermark")));
      assert.equal(reopened.logEndOffset, end, "the rest of the checkpoint is still used");
      await reopened.close();

      Deno.removeSync(`${dir}/${CHECKPOINT_FILE}`);
      reopened = await openLog(dir);
      assert.equal(reopened.highWatermark, 0);
      await reopened.close();
    },
  );
});

/** Runs truncate_child.ts on `dir`, kills it with SIGKILL once it printed its line; the line. */
async function truncateInChild(
  dir: string,
  offset: number,
  bytesFile?: string,
): Promise<{ truncatedTo: number; end: number; epochs: number[][] }> {
  const args = ["run", "-A", childPath, dir, String(offset)];
  if (bytesFile !== undefined) args.push(bytesFile);
  const child = new Deno.Command(Deno.execPath(), {
    args,
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
  const m = /^done (\d+) (\d+) (.*)$/.exec(text.split("\n")[0]);
  assert.ok(m !== null, `child printed ${JSON.stringify(text)}: ${errText}`);
  return { truncatedTo: Number(m[1]), end: Number(m[2]), epochs: JSON.parse(m[3]) };
}

Deno.test("a crash right after truncateTo resolves", async (t) => {
  await t.step("reopens with the tail gone", async () => {
    const dir = tempDir();
    const leader = await leaderLog(dir);
    const stored = storedBatches(leader);
    await leader.close();
    const firstOf3 = stored.findIndex((b) => b.epoch === 3);
    const cut = stored[firstOf3 + 2];
    const child = await truncateInChild(dir, cut.base + 1);
    assert.equal(child.truncatedTo, cut.base);
    assert.deepEqual(child.epochs, [[1, 0], [3, stored[firstOf3].base]]);

    const cp = checkpointOf(dir);
    assert.equal(cp.offset, cut.base, "the truncation moved the checkpoint to the new end");
    assert.deepEqual(cp.leaderEpochs, child.epochs);
    const logger = new MemoryLogger();
    const log = await openLog(dir, CONFIG, logger);
    assert.deepEqual(logger.events.filter((e) => e.level === "error"), []);
    assert.equal(log.logEndOffset, cut.base);
    const kept = stored.filter((b) => b.base < cut.base);
    assertBytes(logBytes(log), concat(...kept.map((b) => b.bytes)), "after the crash");
    assert.deepEqual(epochPairs(log), child.epochs);
    await log.close();
  });

  await t.step("a new leader's batches after it keep their epoch, not the cut tail's", async () => {
    const dir = tempDir();
    const leader = await leaderLog(dir);
    const stored = storedBatches(leader);
    await leader.close();
    // Another leader's history: from where epoch 3 began here, the same batches in epoch 2. Same
    // sizes, same offsets, same segments: the checkpoint the leader's close wrote matches the log
    // again once they are appended, and it must not be the one the next open trusts (its epochs
    // say 3 from there).
    const tail = stored.filter((b) => b.epoch === 3);
    const theirs = concat(...tail.map((b) => b.bytes));
    const dv = viewOf(theirs);
    for (let pos = 0; pos < theirs.length; pos += batchSizeAt(dv, pos)) {
      dv.setInt32(pos + PARTITION_LEADER_EPOCH_AT, 2);
    }
    const bytesFile = `${tempDir()}/batches`;
    Deno.writeFileSync(bytesFile, theirs);
    const child = await truncateInChild(dir, tail[0].base, bytesFile);
    assert.equal(child.truncatedTo, tail[0].base);
    assert.equal(child.end, stored.at(-1)!.last + 1);
    assert.deepEqual(child.epochs, [[1, 0], [2, tail[0].base]]);

    const logger = new MemoryLogger();
    const log = await openLog(dir, CONFIG, logger);
    assert.deepEqual(logger.events.filter((e) => e.level === "error"), []);
    assert.equal(log.logEndOffset, child.end);
    const kept = stored.filter((b) => b.epoch !== 3);
    assertBytes(logBytes(log), concat(...kept.map((b) => b.bytes), theirs), "after the crash");
    assert.deepEqual(epochPairs(log), [[1, 0], [2, tail[0].base]]);
    await log.close();
  });
});
