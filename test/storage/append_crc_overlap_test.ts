/**
 * A large append's CRCs checked on the helper thread beside its write (native/batch_check.c,
 * src/record/batch_crc_overlap.ts, src/storage/log_append.ts): the checker's answers, and a
 * PartitionLog that refuses exactly what the check-first path refuses, leaves no byte of a refused
 * append in its files, and keeps what it took across a reopen.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError, SluiceError } from "../../src/errors.ts";
import { CRC_OVERLAP_BYTES_MIN } from "../../src/limits.ts";
import { MemoryLogger } from "../../src/logger.ts";
import {
  batchCheckSelfTest,
  overlappedBatchCheck,
  overlappedBatchCheckJobs,
} from "../../src/record/batch_crc_overlap.ts";
import { crc32c, crc32cImplementation, loadCrc32c } from "../../src/record/crc32c.ts";
import {
  CRC_AT,
  decodeBatches,
  encodeRecordBatch,
  type RecordInput,
} from "../../src/record/record_batch.ts";
import { checkAppendBatches } from "../../src/storage/append_rules.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { LogFiles } from "../../src/storage/log_files.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { Segment, segmentFileStem } from "../../src/storage/segment.ts";
import { concat } from "../kafka_protocol/kafka_wire_util.ts";
import { cpuHasCrcKernel, gccAvailable, prng, randomBytes, tempDir } from "../test_util.ts";

const BASE_MS = 1_700_000_000_000;
const KiB = 1024;

/** The kernel must be in use where it can be built and run (`deno task test` builds it first). */
const kernelExpected = gccAvailable && cpuHasCrcKernel;

function openLog(dir: string, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
  return PartitionLog.open(dir, {
    config,
    clock: new ManualClock(BASE_MS),
    logger: new MemoryLogger(),
  });
}

/** A batch of `count` keyed records of `valueBytes` seeded bytes each. */
function batch(count: number, valueBytes: number, seed: number, keyed = true): Uint8Array {
  const next = prng(seed);
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    records.push({
      key: keyed ? new TextEncoder().encode(`k${seed}-${i}`) : null,
      value: randomBytes(valueBytes, next),
      timestamp: BASE_MS + i,
    });
  }
  return encodeRecordBatch(records, { timestampMs: BASE_MS });
}

/** Three batches of ~300 KB: one append of ~900 KB, above CRC_OVERLAP_BYTES_MIN. */
function largeAppend(seed: number, keyed = true): Uint8Array {
  const bytes = concat(
    batch(300, 1000, seed, keyed),
    batch(300, 1000, seed + 1, keyed),
    batch(300, 1000, seed + 2, keyed),
  );
  assert.ok(bytes.length >= CRC_OVERLAP_BYTES_MIN);
  return bytes;
}

/** Position of the `k`th batch of `bytes`. */
function batchAt(bytes: Uint8Array, k: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  for (let i = 0; i < k; i++) pos += 12 + dv.getInt32(pos + 8);
  return pos;
}

/** What the check-first path says of `bytes` (appends under CRC_OVERLAP_BYTES_MIN take it). */
function checkFirstRefusal(bytes: Uint8Array, checks?: number): SluiceError {
  const copy = bytes.slice();
  const tally = { batches: 0, records: 0, maxTimestampMs: -1 };
  try {
    checkAppendBatches(copy, new DataView(copy.buffer), 1024 * KiB + 12, tally, checks);
  } catch (err) {
    assert.ok(isSluiceError(err));
    return err as SluiceError;
  }
  assert.fail("the check-first path took the bytes");
}

function recordsOf(bytes: Uint8Array) {
  return decodeBatches(bytes).flatMap((b) => b.records);
}

function logBytes(dir: string): number {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".log"))
    .reduce((n, e) => n + Deno.statSync(join(dir, e.name)).size, 0);
}

function logFiles(dir: string): number {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".log")).length;
}

async function refusal(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSluiceError(err), `expected a SluiceError, got ${err}`);
    return err as SluiceError;
  }
  assert.fail("the append was taken");
}

Deno.test({
  name: "the native batch checker",
  ignore: !kernelExpected,
  fn: async (t) => {
    loadCrc32c();
    assert.equal(crc32cImplementation, "kernel");
    const check = overlappedBatchCheck();
    assert.ok(check !== null, "the checker loads where the kernel does");

    await t.step("passes its self-test and finds the first bad batch of many", () => {
      assert.ok(batchCheckSelfTest(check));
      const next = prng(7);
      const sizes = Array.from({ length: 60 }, () => 61 + (next() % 40_000));
      const bytes = new Uint8Array(new ArrayBuffer(sizes.reduce((a, b) => a + b, 0)));
      bytes.set(randomBytes(bytes.length, next));
      const dv = new DataView(bytes.buffer);
      const starts: number[] = [];
      let pos = 0;
      for (const size of sizes) {
        starts.push(pos);
        dv.setInt32(pos + 8, size - 12);
        dv.setUint32(pos + CRC_AT, crc32c(bytes.subarray(pos + 21, pos + size)));
        pos += size;
      }
      assert.ok(check.start(bytes));
      assert.equal(check.join(), -1);
      for (const k of [0, 1, 29, 59]) {
        // The batch's last byte, then its first covered one: both inside the CRC's range.
        for (const at of [starts[k] + sizes[k] - 1, starts[k] + 21]) {
          bytes[at] ^= 0x40;
          assert.ok(check.start(bytes));
          assert.equal(check.join(), starts[k], `batch ${k}, byte ${at}`);
          bytes[at] ^= 0x40;
        }
      }
      // Bytes the CRC does not cover (baseOffset, partitionLeaderEpoch) change nothing.
      bytes[starts[3]] ^= 0xff;
      bytes[starts[3] + 13] ^= 0xff;
      assert.ok(check.start(bytes));
      assert.equal(check.join(), -1);
      // A length that runs past the end: not a tiling.
      dv.setInt32(starts[59] + 8, sizes[59]);
      assert.ok(check.start(bytes));
      assert.equal(check.join(), -2);
      dv.setInt32(starts[59] + 8, 10);
      assert.ok(check.start(bytes));
      assert.equal(check.join(), -2);
    });

    await t.step("takes one job at a time", () => {
      const bytes = new Uint8Array(new ArrayBuffer(4096));
      new DataView(bytes.buffer).setInt32(8, 4096 - 12);
      new DataView(bytes.buffer).setUint32(CRC_AT, crc32c(bytes.subarray(21)));
      assert.ok(check.start(bytes));
      assert.equal(check.start(bytes), false, "a second job while one is under way");
      assert.equal(check.join(), -1);
      assert.ok(check.start(bytes), "free again after the join");
      assert.equal(check.join(), -1);
    });
  },
});

Deno.test({
  name: "PartitionLog: a large append's CRCs checked beside its write",
  ignore: !kernelExpected,
  fn: async (t) => {
    await t.step(
      "takes good appends, refuses a bad CRC as check-first does, keeps no byte",
      async () => {
        const dir = tempDir("sluice-overlap-");
        const log = await openLog(dir);
        const first = largeAppend(1);
        const jobs0 = overlappedBatchCheckJobs();
        // A new log's first append creates its files: checked first, not beside.
        assert.equal((await log.append(first.slice())).baseOffset, 0);
        assert.equal(overlappedBatchCheckJobs(), jobs0);
        const second = await log.append(largeAppend(10));
        assert.equal(second.baseOffset, 900);
        assert.equal(second.records, 900);
        assert.equal(overlappedBatchCheckJobs(), jobs0 + 1, "the second append's CRCs went beside");
        const size = logBytes(dir);

        for (const k of [0, 2]) {
          const bad = largeAppend(20 + k);
          const at = batchAt(bad, k) + 30_000;
          bad[at] ^= 0x01;
          const want = checkFirstRefusal(bad);
          assert.equal(want.code, "CORRUPT_BATCH");
          assert.match(want.message, /CRC-32C mismatch/);
          const jobs = overlappedBatchCheckJobs();
          const got = await refusal(log.append(bad));
          assert.equal(overlappedBatchCheckJobs(), jobs + 1, "checked beside the write");
          assert.equal(got.code, want.code);
          assert.equal(got.message, want.message);
          assert.deepEqual(got.details, want.details);
          assert.equal(log.logEndOffset, 1800);
          assert.equal(logBytes(dir), size, "the write was cut back");
        }

        const third = largeAppend(30);
        const taken = await log.append(third.slice());
        assert.equal(taken.baseOffset, 1800);
        const records = recordsOf(log.read(1800, 4 * 1024 * KiB)!.bytes);
        assert.equal(records.length, 900);
        assert.deepEqual(records[899].value, recordsOf(third)[899].value);
        await log.close();

        // A crash between the write and the check's answer leaves the append without its first
        // baseOffset and batchLength (written last): the reopen cuts it whole, even batch 0,
        // whose CRC is good.
        const closedSize = logBytes(dir);
        const refused = largeAppend(35);
        refused[batchAt(refused, 1) + 9_999] ^= 0x20;
        const segment = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".log"))!.name;
        const file = Deno.openSync(join(dir, segment), { write: true });
        file.seekSync(closedSize + 12, Deno.SeekMode.Start);
        file.writeSync(refused.subarray(12));
        file.close();
        assert.equal(logBytes(dir), closedSize + refused.length);
        const reopened = await openLog(dir);
        assert.equal(reopened.logEndOffset, 2700);
        assert.equal(logBytes(dir), closedSize, "recovery cut the refused bytes");
        assert.equal(recordsOf(reopened.read(1800, 4 * 1024 * KiB)!.bytes).length, 900);
        await reopened.close();
      },
    );

    await t.step("reports a bad CRC before what the later checks find, as Kafka does", async () => {
      const dir = tempDir("sluice-overlap-order-");
      const log = await openLog(dir, { compact: true });
      await log.append(batch(2, 10, 1));
      // Keyless records and a bad CRC: CORRUPT_BATCH, not INVALID_RECORD.
      const keyless = largeAppend(40, false);
      const good = await refusal(log.append(keyless.slice()));
      assert.equal(good.code, "INVALID_RECORD", "keyless with good CRCs");
      keyless[batchAt(keyless, 1) + 100] ^= 0x10;
      const bad = await refusal(log.append(keyless));
      assert.equal(bad.code, "CORRUPT_BATCH");
      assert.equal(bad.message, checkFirstRefusal(keyless).message);
      // Counts that do not add up in a batch whose CRC is also bad: CORRUPT_BATCH.
      const counts = largeAppend(50);
      const at = batchAt(counts, 1);
      const dv = new DataView(counts.buffer);
      dv.setInt32(at + 57, 5); // recordsCount, under the CRC: resealed
      const end = batchAt(counts, 2);
      dv.setUint32(at + CRC_AT, crc32c(counts.subarray(at + 21, end)));
      const countsOnly = await refusal(log.append(counts.slice()));
      assert.equal(countsOnly.code, "INVALID_RECORD");
      counts[at + 1000] ^= 0x08;
      const both = await refusal(log.append(counts));
      assert.equal(both.code, "CORRUPT_BATCH");
      assert.equal(log.logEndOffset, 2);
      await log.close();
    });

    await t.step(
      "an append that must roll is checked first: no new segment for a refusal",
      async () => {
        const dir = tempDir("sluice-overlap-roll-");
        const log = await openLog(dir, { segmentBytes: 2 * 1024 * KiB });
        await log.append(largeAppend(60));
        await log.append(largeAppend(61));
        assert.equal(logFiles(dir), 1);
        const bad = largeAppend(62);
        bad[batchAt(bad, 2) + 500] ^= 0x02;
        const jobs = overlappedBatchCheckJobs();
        assert.equal((await refusal(log.append(bad))).code, "CORRUPT_BATCH");
        assert.equal(overlappedBatchCheckJobs(), jobs, "checked before the roll");
        assert.equal(logFiles(dir), 1, "no segment rolled for a refused append");
        assert.equal((await log.append(largeAppend(63))).baseOffset, 1800);
        assert.equal(logFiles(dir), 2);
        await log.close();
      },
    );

    await t.step("a follower's large append is checked beside its write too", async () => {
      const dir = tempDir("sluice-overlap-follower-");
      const leader = await openLog(tempDir("sluice-overlap-leader-"));
      await leader.append(largeAppend(70));
      await leader.append(largeAppend(71));
      const follower = await openLog(dir);
      const fromLeader = leader.read(0, 8 * 1024 * KiB)!.bytes;
      const firstEnd = batchAt(fromLeader, 3);
      await follower.appendReplicated(fromLeader.slice(0, firstEnd));
      const rest = fromLeader.slice(firstEnd);
      rest[batchAt(rest, 1) + 777] ^= 0x04;
      const size = logBytes(dir);
      const jobs = overlappedBatchCheckJobs();
      assert.equal((await refusal(follower.appendReplicated(rest))).code, "CORRUPT_BATCH");
      assert.equal(overlappedBatchCheckJobs(), jobs + 1);
      assert.equal(logBytes(dir), size);
      rest[batchAt(rest, 1) + 777] ^= 0x04;
      assert.equal((await follower.appendReplicated(rest)).lastOffset, 1799);
      await leader.close();
      await follower.close();
    });
  },
});

Deno.test("Segment.append with a check beside it writes the first batch's head last", () => {
  const dir = tempDir("sluice-overlap-head-");
  const settings = {
    indexIntervalBytes: 4096,
    segmentIndexBytes: 1 << 20,
    maxMessageBytes: 1 << 20,
  };
  const segment = Segment.create(dir, 0, settings, BASE_MS, new LogFiles(8));
  const first = batch(3, 10, 1);
  segment.append(first, new DataView(first.buffer), 3);
  const path = join(dir, `${segmentFileStem(0)}.log`);
  const start = segment.sizeBytes;
  assert.equal(Deno.statSync(path).size, start);
  const bytes = batch(50, 100, 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  dv.setBigInt64(0, 3n);
  let seen: Uint8Array | undefined;
  const refusal = new SluiceError("CORRUPT_BATCH", "refused by the test");
  assert.throws(
    () =>
      segment.append(bytes, dv, 53, () => {
        seen = Deno.readFileSync(path).subarray(start);
        return refusal;
      }),
    (err) => err === refusal,
  );
  assert.equal(seen!.length, bytes.length, "the body was written before the answer");
  assert.deepEqual(seen!.subarray(0, 12), new Uint8Array(12), "the head not yet");
  assert.deepEqual(seen!.subarray(12), bytes.subarray(12));
  assert.equal(Deno.statSync(path).size, start, "a refusal cuts the file back");
  assert.equal(segment.nextOffset, 3);
  segment.append(bytes, dv, 53, () => undefined);
  assert.deepEqual(Deno.readFileSync(path).subarray(start), bytes, "the head written once taken");
  assert.equal(segment.nextOffset, 53);
  segment.close();
});
