/**
 * The leader-epoch cache (src/storage/leader_epochs.ts), kept in the partition's recovery
 * checkpoint: Kafka's semantics for assign, truncation and end offsets; on disk with each
 * checkpoint, completed from the batches after a crash, cut with a torn tail, moved with the log
 * start, rebuilt from the batches when the checkpoint has none.
 */
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/logger.ts";
import {
  decodeBatches,
  encodeRecordBatch,
  PARTITION_LEADER_EPOCH_AT,
  utf8,
} from "../../src/record/record_batch.ts";
import { LeaderEpochCache, parseLeaderEpochs } from "../../src/storage/leader_epochs.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { prngFloat, tempDir } from "../test_util.ts";

function batch(count: number, tag: string): Uint8Array {
  const records = [];
  for (let i = 0; i < count; i++) records.push({ value: utf8(`${tag}-${i}`), timestamp: 1000 + i });
  return encodeRecordBatch(records, { timestampMs: 1000 });
}

function open(dir: string, config: Partial<LogConfig> = {}, logger = new MemoryLogger()) {
  return PartitionLog.open(dir, { config, logger });
}

/** The recovery checkpoint's leader epochs. */
function onDisk(dir: string): unknown {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${CHECKPOINT_FILE}`)).leaderEpochs;
}

/** Rewrites the recovery checkpoint's leader epochs (undefined: none). */
function setOnDisk(dir: string, epochs: unknown): void {
  const cp = JSON.parse(Deno.readTextFileSync(`${dir}/${CHECKPOINT_FILE}`));
  cp.leaderEpochs = epochs;
  Deno.writeTextFileSync(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(cp));
}

Deno.test("LeaderEpochCache", async (t) => {
  await t.step("assign adds larger epochs, drops contradicted entries", () => {
    const c = new LeaderEpochCache();
    assert.equal(c.latestEpoch, -1);
    assert.equal(c.assign(0, 0), true);
    assert.equal(c.assign(0, 5), false, "the latest epoch again changes nothing");
    assert.equal(c.assign(2, 10), true);
    assert.equal(c.assign(4, 20), true);
    assert.deepEqual(c.entries, [
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
      { epoch: 4, startOffset: 20 },
    ]);
    // Epoch 3 at 15 contradicts epoch 4 at 20 (a larger epoch earlier): 4 goes.
    assert.equal(c.assign(3, 15), true);
    assert.deepEqual(c.entries.map((e) => e.epoch), [0, 2, 3]);
    // Epoch 5 starting at 10 contradicts every entry starting at or after 10.
    assert.equal(c.assign(5, 10), true);
    assert.deepEqual(c.entries, [{ epoch: 0, startOffset: 0 }, { epoch: 5, startOffset: 10 }]);
    assert.throws(() => c.assign(-1, 0), RangeError);
  });

  await t.step("endOffsetFor answers as Kafka's endOffsetFor", () => {
    const c = new LeaderEpochCache();
    assert.deepEqual(c.endOffsetFor(0, 9), { leaderEpoch: -1, endOffset: -1 }, "empty");
    c.assign(2, 10);
    c.assign(5, 30);
    c.assign(7, 40);
    const end = (e: number) => c.endOffsetFor(e, 55);
    assert.deepEqual(end(7), { leaderEpoch: 7, endOffset: 55 }, "latest: the log end");
    assert.deepEqual(end(5), { leaderEpoch: 5, endOffset: 40 });
    assert.deepEqual(end(6), { leaderEpoch: 5, endOffset: 40 }, "unknown: the floor epoch");
    assert.deepEqual(end(3), { leaderEpoch: 2, endOffset: 30 });
    assert.deepEqual(end(1), { leaderEpoch: 1, endOffset: 10 }, "older than any: itself");
    assert.deepEqual(end(8), { leaderEpoch: -1, endOffset: -1 }, "newer than any");
    assert.deepEqual(end(-1), { leaderEpoch: -1, endOffset: -1 }, "UNDEFINED_EPOCH");
    assert.equal(c.epochForOffset(9), -1);
    assert.equal(c.epochForOffset(10), 2);
    assert.equal(c.epochForOffset(39), 5);
    assert.equal(c.epochForOffset(1000), 7);
  });

  await t.step("truncation from the end and from the start", () => {
    const c = new LeaderEpochCache([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
      { epoch: 3, startOffset: 20 },
    ]);
    assert.equal(c.truncateFromEnd(25), false);
    assert.equal(c.truncateFromEnd(20), true);
    assert.deepEqual(c.entries.map((e) => e.epoch), [1, 2]);
    assert.equal(c.truncateFromStart(0), false);
    assert.equal(c.truncateFromStart(12), true);
    assert.deepEqual(c.entries, [{ epoch: 2, startOffset: 12 }]);
    assert.equal(c.truncateFromStart(12), false);
  });

  await t.step("the checkpoint's list; bad lists are refused with a reason", () => {
    assert.deepEqual(parseLeaderEpochs([[0, 0], [3, 1200]]), [
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 1200 },
    ]);
    assert.deepEqual(parseLeaderEpochs([]), []);
    for (
      const bad of [null, "0 0", [[0]], [[0, -1]], [[-1, 0]], [[3, 5], [2, 9]], [[1, 5], [2, 5]]]
    ) {
      assert.equal(typeof parseLeaderEpochs(bad), "string", JSON.stringify(bad));
    }
  });
});

Deno.test("PartitionLog leader epochs", async (t) => {
  await t.step(
    "a new log starts epoch 0 at 0; on disk with each recovery checkpoint",
    async () => {
      const dir = tempDir("sluice-epochs-");
      const log = await open(dir);
      assert.deepEqual(log.leaderEpochs(), [{ epoch: 0, startOffset: 0 }]);
      assert.throws(() => onDisk(dir), Deno.errors.NotFound, "nothing written at open");
      await log.checkpoint();
      assert.deepEqual(onDisk(dir), [[0, 0]]);
      await log.append(batch(3, "a"));
      log.becomeLeader(4);
      await log.append(batch(2, "b"));
      assert.deepEqual(onDisk(dir), [[0, 0]], "nothing written on the append path");
      await log.checkpoint();
      assert.deepEqual(onDisk(dir), [[0, 0], [4, 3]]);
      const stamped = decodeBatches(log.read(0, 1 << 20)!.bytes).map((b) => b.partitionLeaderEpoch);
      assert.deepEqual(stamped, [0, 4]);
      assert.deepEqual(log.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 3 });
      assert.deepEqual(log.endOffsetForEpoch(2), { leaderEpoch: 0, endOffset: 3 });
      assert.deepEqual(log.endOffsetForEpoch(4), { leaderEpoch: 4, endOffset: 5 });
      assert.deepEqual(log.endOffsetForEpoch(5), { leaderEpoch: -1, endOffset: -1 });
      assert.equal(log.epochForOffset(2), 0);
      assert.equal(log.epochForOffset(3), 4);
      assert.throws(() => log.becomeLeader(3), /not a valid successor/);
      await log.close();
      const again = await open(dir);
      assert.equal(again.leaderEpoch, 4, "the latest epoch carries over");
      assert.deepEqual(again.leaderEpochs(), [
        { epoch: 0, startOffset: 0 },
        { epoch: 4, startOffset: 3 },
      ]);
      await again.close();
    },
  );

  await t.step("without epochs in the checkpoint, they come from the batches", async () => {
    const dir = tempDir("sluice-epochs-");
    const log = await open(dir);
    await log.append(batch(2, "a"));
    log.becomeLeader(1);
    await log.append(batch(2, "b"));
    log.becomeLeader(3);
    await log.append(batch(1, "c"));
    await log.close();
    const want = [[0, 0], [1, 2], [3, 4]];
    assert.deepEqual(onDisk(dir), want);
    for (
      const damage of [
        () => setOnDisk(dir, undefined), // a checkpoint from before epochs were kept
        () => setOnDisk(dir, [[3, 0], [1, 2]]), // damaged: not increasing
        () => Deno.removeSync(`${dir}/${CHECKPOINT_FILE}`), // no checkpoint: all recovered
      ]
    ) {
      damage();
      const logger = new MemoryLogger();
      const reopened = await open(dir, {}, logger);
      assert.deepEqual(onDisk(dir), want, "written with the checkpoint after recovery");
      assert.equal(reopened.leaderEpoch, 3);
      assert.ok(logger.events.some((e) => e.message.includes("reading them from the batches")));
      await reopened.close();
    }
  });

  await t.step("a rebuild over many segments finds each epoch's first batch", async () => {
    const dir = tempDir("sluice-epochs-");
    const config = { segmentBytes: batch(1, "x").length * 3 };
    const log = await open(dir, config);
    const epochs = [0, 0, 0, 0, 0, 0, 0, 2, 2, 5, 5, 5, 5, 5, 5, 5, 9];
    for (let i = 0; i < epochs.length; i++) {
      if (epochs[i] !== log.leaderEpoch) log.becomeLeader(epochs[i]);
      await log.append(batch(1, `r${i}`));
    }
    assert.ok(log.segments().length >= 5, `${log.segments().length} segments`);
    const want = [
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 7 },
      { epoch: 5, startOffset: 9 },
      { epoch: 9, startOffset: 16 },
    ];
    assert.deepEqual(log.leaderEpochs(), want);
    await log.close();
    setOnDisk(dir, undefined);
    const reopened = await open(dir, config);
    assert.deepEqual(reopened.leaderEpochs(), want);
    await reopened.close();
  });

  await t.step(
    "after a crash, the epochs past the recovery checkpoint come from the batches",
    async () => {
      const dir = tempDir("sluice-epochs-");
      const log = await open(dir);
      await log.append(batch(3, "a"));
      await log.checkpoint(); // file: epoch 0 from 0; recovery checkpoint at 3
      log.becomeLeader(4);
      await log.append(batch(2, "b"));
      log.becomeLeader(6);
      await log.append(batch(1, "c"));
      // The files as a process crash leaves them: no close, no checkpoint since offset 3.
      const image = tempDir("sluice-epochs-crash-");
      Deno.mkdirSync(image, { recursive: true });
      for (const e of Deno.readDirSync(dir)) {
        Deno.copyFileSync(
          `${dir}/${e.name}`,
          `${image}/${e.name}`,
        );
      }
      assert.deepEqual(onDisk(image), [[0, 0]], "the checkpoint before epochs 4 and 6");
      const reopened = await open(image);
      const want = [
        { epoch: 0, startOffset: 0 },
        { epoch: 4, startOffset: 3 },
        { epoch: 6, startOffset: 5 },
      ];
      assert.deepEqual(reopened.leaderEpochs(), want);
      assert.equal(reopened.leaderEpoch, 6);
      assert.deepEqual(onDisk(image), [[0, 0], [4, 3], [6, 5]], "written after recovery");
      await reopened.close();
      await log.close();
    },
  );

  await t.step("a torn tail cut at recovery takes its epochs with it", async () => {
    let dir = tempDir("sluice-epochs-");
    const log = await open(dir);
    await log.append(batch(3, "a"));
    log.becomeLeader(2);
    await log.checkpoint(); // at offset 3, with epoch 2 from 3
    await log.append(batch(2, "b"));
    // A crash image whose last batch (epoch 2's only one) is torn: its last byte gone.
    const image = tempDir("sluice-epochs-crash-");
    Deno.mkdirSync(image, { recursive: true });
    for (const e of Deno.readDirSync(dir)) {
      Deno.copyFileSync(`${dir}/${e.name}`, `${image}/${e.name}`);
    }
    await log.close();
    assert.deepEqual(onDisk(image), [[0, 0], [2, 3]]);
    const segment = `${image}/${"0".repeat(20)}.log`;
    const bytes = Deno.readFileSync(segment);
    Deno.writeFileSync(segment, bytes.subarray(0, bytes.length - 1));
    dir = image;
    const reopened = await open(dir);
    assert.equal(reopened.logEndOffset, 3);
    // Epoch 2's only batch was cut: its entry goes with it, and epoch 2 (reached, perhaps shown
    // to clients) starts again at the new log end: never back to an older epoch.
    assert.deepEqual(reopened.leaderEpochs(), [
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 3 },
    ]);
    assert.equal(reopened.leaderEpoch, 2);
    assert.deepEqual(reopened.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 3 });
    await reopened.close();
    const named = await PartitionLog.open(dir, { leaderEpoch: 5, logger: new MemoryLogger() });
    assert.deepEqual(named.leaderEpochs(), [
      { epoch: 0, startOffset: 0 },
      { epoch: 5, startOffset: 3 },
    ]);
    await named.close();
  });

  await t.step("retention moving the log start moves the first epoch's start", async () => {
    const dir = tempDir("sluice-epochs-");
    const one = batch(1, "x").length;
    const log = await open(dir, { segmentBytes: one * 2 });
    for (let i = 0; i < 4; i++) await log.append(batch(1, `e0-${i}`));
    log.becomeLeader(1);
    for (let i = 0; i < 4; i++) await log.append(batch(1, `e1-${i}`));
    assert.ok(log.segments().length >= 4, `${log.segments().length} segments`);
    await log.deleteSegmentsBefore(3);
    const start = log.logStartOffset;
    assert.ok(start > 0 && start < 4, `log start ${start}`);
    const want = [{ epoch: 0, startOffset: start }, { epoch: 1, startOffset: 4 }];
    assert.deepEqual(log.leaderEpochs(), want);
    await log.checkpoint();
    assert.deepEqual(onDisk(dir), [[0, start], [1, 4]]);
    await log.deleteSegmentsBefore(6);
    assert.deepEqual(log.leaderEpochs(), [{ epoch: 1, startOffset: log.logStartOffset }]);
    await log.close();
    const reopened = await open(dir, { segmentBytes: one * 2 });
    assert.deepEqual(reopened.leaderEpochs(), [{ epoch: 1, startOffset: reopened.logStartOffset }]);
    await reopened.close();
  });

  await t.step("batches appended are stamped in place with the log's epoch", async () => {
    const dir = tempDir("sluice-epochs-");
    const log = await open(dir);
    log.becomeLeader(7);
    const b = batch(1, "z");
    await log.append(b);
    assert.equal(new DataView(b.buffer).getInt32(PARTITION_LEADER_EPOCH_AT), 7);
    assert.deepEqual(log.leaderEpochs(), [{ epoch: 7, startOffset: 0 }]);
    await log.close();
  });
});

/** Every batch of the log, from its start: [base offset, stamped epoch]. */
function stampedEpochs(log: PartitionLog): [number, number][] {
  const out: [number, number][] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const read = log.read(offset, 1 << 20)!;
    for (const b of decodeBatches(read.bytes)) out.push([b.baseOffset, b.partitionLeaderEpoch]);
    offset = read.nextOffset;
  }
  return out;
}

/** What the cache must say of a log whose batches carry `stamped` (each epoch's first batch). */
function expectedEntries(stamped: [number, number][]): { epoch: number; startOffset: number }[] {
  const out: { epoch: number; startOffset: number }[] = [];
  for (const [offset, epoch] of stamped) {
    if (out.length === 0 || epoch > out[out.length - 1].epoch) {
      out.push({ epoch, startOffset: offset });
    }
  }
  return out;
}

Deno.test("leader epochs survive crash images at random points (seeded)", async () => {
  const seed = Number(Deno.env.get("EPOCH_SEED") ?? 20261203);
  const random = prngFloat(seed);
  const config = { segmentBytes: batch(3, "x").length * 4 };
  for (let round = 0; round < 8; round++) {
    const dir = tempDir("sluice-epochs-fuzz-");
    const log = await open(dir, config);
    const images: string[] = [];
    for (let step = 0; step < 40; step++) {
      const r = random();
      if (r < 0.6) await log.append(batch(1 + Math.floor(random() * 3), `s${step}`));
      else if (r < 0.75) log.becomeLeader(log.leaderEpoch + 1 + Math.floor(random() * 3));
      else if (r < 0.85) await log.checkpoint();
      else {
        // A crash image: the files as they are now; sometimes with the last batch torn.
        const image = tempDir("sluice-epochs-image-");
        Deno.mkdirSync(image, { recursive: true });
        for (const e of Deno.readDirSync(dir)) {
          Deno.copyFileSync(`${dir}/${e.name}`, `${image}/${e.name}`);
        }
        // A new log has no .log file before its first append.
        const last = [...Deno.readDirSync(image)].map((e) => e.name).filter((n) =>
          n.endsWith(".log")
        ).sort().at(-1);
        if (random() < 0.5 && last !== undefined) {
          const bytes = Deno.readFileSync(`${image}/${last}`);
          const cut = Math.floor(random() * Math.min(bytes.length, 40));
          Deno.writeFileSync(`${image}/${last}`, bytes.subarray(0, bytes.length - cut));
        }
        images.push(image);
      }
    }
    await log.close();
    for (const dirToCheck of [dir, ...images]) {
      const reopened = await open(dirToCheck, config);
      try {
        const stamped = stampedEpochs(reopened);
        const want = expectedEntries(stamped);
        const got = reopened.leaderEpochs().filter((e) => e.startOffset < reopened.logEndOffset);
        assert.deepEqual(got, want, `seed ${seed} round ${round}: ${dirToCheck}`);
        for (const [offset, epoch] of stamped) {
          assert.equal(reopened.epochForOffset(offset), epoch, `offset ${offset}`);
        }
        // Each epoch ends where the next begins, the last at the log end.
        for (let k = 0; k < want.length; k++) {
          assert.deepEqual(reopened.endOffsetForEpoch(want[k].epoch), {
            leaderEpoch: want[k].epoch,
            endOffset: want[k + 1]?.startOffset ?? reopened.logEndOffset,
          });
        }
        // Appends go on in the latest epoch known, never in an older one.
        assert.ok(reopened.leaderEpoch >= (want.at(-1)?.epoch ?? 0));
      } finally {
        await reopened.close();
      }
    }
  }
});
