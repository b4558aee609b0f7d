/**
 * Damage that open must survive (findings A and B of the reliability issue): a broken batch length
 * at byte 0 of a closed or last segment, a flipped baseOffset (which the CRC does not cover), a
 * recovery checkpoint that does not match the log, stray and missing segment files. Each case
 * damages a cleanly closed log on disk, reopens it and checks that open does not throw, that the
 * damage is reported (logger and `log.damage`, naming file and position), that reads elsewhere
 * still work, that a consumer walking the log never gets an empty answer below the high watermark,
 * and that the high watermark never moves past the data.
 */
import assert from "node:assert/strict";
import { isSluiceError, SluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { segmentFileStem } from "../../src/storage/segment.ts";
import { tempDir } from "../test_util.ts";

/** Segments of ~4 KiB with an index entry every 512 bytes: 40 batches span several segments. */
const CONFIG: Partial<LogConfig> = {
  segmentBytes: 4096,
  indexIntervalBytes: 512,
  flushPolicy: "none",
};
const BATCHES = 60;
const RECORDS_PER_BATCH = 3;

interface Placed {
  baseOffset: number;
  lastOffset: number;
  segment: number;
  position: number;
  size: number;
}

function open(dir: string, logger = new MemoryLogger()): Promise<PartitionLog> {
  return PartitionLog.open(dir, { config: CONFIG, logger });
}

function batch(tag: string): Uint8Array {
  const records = [];
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    records.push({ value: new TextEncoder().encode(`${tag}-${i}-${"v".repeat(80)}`) });
  }
  return encodeRecordBatch(records, { timestampMs: 1_700_000_000_000 });
}

/** A cleanly closed log of BATCHES batches; where each landed. */
async function cleanLog(): Promise<{ dir: string; placed: Placed[]; segments: number[] }> {
  const dir = tempDir("sluice-damage-");
  const log = await open(dir);
  const placed: Placed[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const bytes = batch(`b${b}`);
    const r = await log.append(bytes);
    const last = log.segments().at(-1)!;
    placed.push({
      baseOffset: r.baseOffset,
      lastOffset: r.lastOffset,
      segment: last.baseOffset,
      position: last.sizeBytes - bytes.length,
      size: bytes.length,
    });
  }
  const segments = log.segments().map((s) => s.baseOffset);
  await log.close();
  assert.ok(segments.length >= 4, `want several segments, got ${segments.length}`);
  return { dir, placed, segments };
}

function logPath(dir: string, base: number): string {
  return `${dir}/${segmentFileStem(base)}.log`;
}

function writeBytesAt(path: string, position: number, bytes: Uint8Array): void {
  const file = Deno.openSync(path, { read: true, write: true });
  try {
    file.seekSync(position, Deno.SeekMode.Start);
    assert.equal(file.writeSync(bytes), bytes.length);
  } finally {
    file.close();
  }
}

function flipByte(path: string, position: number): void {
  const file = Deno.openSync(path, { read: true, write: true });
  try {
    const one = new Uint8Array(1);
    file.seekSync(position, Deno.SeekMode.Start);
    file.readSync(one);
    one[0] ^= 0x5a;
    file.seekSync(position, Deno.SeekMode.Start);
    file.writeSync(one);
  } finally {
    file.close();
  }
}

function be32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function isCorruptAt(file: string, position: number) {
  return (err: unknown) => {
    assert.ok(isSluiceError(err, "CORRUPT_LOG"), `want CORRUPT_LOG, got ${err}`);
    assert.equal(err.details?.file, file);
    assert.equal(err.details?.position, position);
    return true;
  };
}

/** Reads the batch holding `offset` (one batch); undefined when the read failed typed. */
function readOne(log: PartitionLog, offset: number): { first: number; next: number } | undefined {
  try {
    const r = log.read(offset, 1);
    assert.ok(r !== undefined, `read(${offset}) below the high watermark answered nothing`);
    const [b] = decodeBatches(r.bytes);
    assert.ok(b.baseOffset <= offset || b.baseOffset === r.firstOffset);
    return { first: r.firstOffset, next: r.nextOffset };
  } catch (err) {
    assert.ok(err instanceof SluiceError, `read(${offset}) threw untyped ${err}`);
    assert.ok(
      err.code === "CORRUPT_LOG" || err.code === "OFFSET_OUT_OF_RANGE",
      `read(${offset}): ${err.code}`,
    );
    return undefined;
  }
}

/**
 * A consumer's walk from 0: every read either advances (nextOffset > offset) or fails typed, in
 * which case the walk resumes one past the offset (what a user seeking past damage does). Returns
 * the offsets of records served.
 */
function consumerWalk(log: PartitionLog): { served: number; failed: number[] } {
  let offset = log.logStartOffset;
  let served = 0;
  const failed: number[] = [];
  for (let steps = 0; offset < log.logEndOffset; steps++) {
    assert.ok(steps < 100_000, "walk does not end");
    const r = readOne(log, offset);
    if (r === undefined) {
      failed.push(offset);
      offset++;
      continue;
    }
    assert.ok(r.next > offset, `read(${offset}) does not advance: next ${r.next}`);
    served += r.next - Math.max(offset, r.first);
    offset = r.next;
  }
  return { served, failed };
}

function damageAt(log: PartitionLog, file: string, position?: number): boolean {
  return log.damage.some((d) =>
    d.file === file && (position === undefined || d.position === position)
  );
}

function errorsNaming(logger: MemoryLogger, file: string): number {
  return logger.events.filter((e) => e.level !== "info" && e.fields?.file === file).length;
}

Deno.test("A: a broken batch length at byte 0 of a segment does not stop open", async (t) => {
  for (const where of ["middle", "last"] as const) {
    for (const length of [0x7fffffff, 0]) {
      await t.step(`length ${length} at byte 0 of the ${where} segment`, async () => {
        const { dir, placed, segments } = await cleanLog();
        const base = where === "middle" ? segments[1] : segments.at(-1)!;
        const file = logPath(dir, base);
        // The batch length is the i32 after the 8-byte baseOffset.
        writeBytesAt(file, 8, be32(length));
        const logger = new MemoryLogger();
        const log = await open(dir, logger);
        try {
          const hw = placed.at(-1)!.lastOffset + 1;
          assert.equal(log.logEndOffset, hw, "nothing truncated, the high watermark kept");
          assert.ok(damageAt(log, file, 0), `damage reported: ${JSON.stringify(log.damage)}`);
          assert.ok(errorsNaming(logger, file) > 0, "logged naming the file");
          const first = placed.find((p) => p.segment === base)!;
          assert.throws(() => log.read(first.baseOffset, 1), isCorruptAt(file, 0));
          for (const p of placed.filter((p) => p.segment !== base)) {
            assert.deepEqual(readOne(log, p.baseOffset), {
              first: p.baseOffset,
              next: p.lastOffset + 1,
            });
          }
          consumerWalk(log);
          const more = await log.append(batch("after"));
          assert.equal(more.baseOffset, hw, "appends continue at the end");
        } finally {
          await log.close();
        }
        // A second open reports it again and still serves the rest.
        const again = await open(dir);
        assert.ok(damageAt(again, file, 0));
        await again.close();
      });
    }
  }
});

Deno.test("A: PartitionLog.offline() and openOrOffline() keep a broken partition apart", async (t) => {
  await t.step("offline(): every read and write fails with a typed storage error", async () => {
    const dir = tempDir("sluice-offline-");
    const cause = new Error("EIO: input/output error, read");
    const log = PartitionLog.offline(dir, cause, { logger: new MemoryLogger() });
    assert.equal(log.state, "offline");
    assert.equal(log.logStartOffset, 0);
    assert.equal(log.logEndOffset, 0);
    assert.deepEqual(log.segments(), []);
    const offline = (err: unknown) => {
      assert.ok(isSluiceError(err, "STORAGE_ERROR"), String(err));
      assert.equal(err.details?.offline, true);
      assert.match(err.message, /offline/);
      assert.match(err.message, /EIO/);
      return true;
    };
    assert.throws(() => log.read(0), offline);
    assert.throws(() => log.offsetForTimestamp(0), offline);
    await assert.rejects(log.append(batch("x")), offline);
    await assert.rejects(log.flush(), offline);
    await assert.rejects(log.checkpoint(), offline);
    assert.equal(await log.deleteExpiredSegments(), 0);
    await log.close();
  });
  await t.step("openOrOffline(): an open that throws gives an offline log", async () => {
    const parent = tempDir("sluice-offline-");
    const notADir = `${parent}/file`;
    Deno.writeTextFileSync(notADir, "x");
    const logger = new MemoryLogger();
    const log = await PartitionLog.openOrOffline(`${notADir}/0`, { config: CONFIG, logger });
    assert.equal(log.state, "offline");
    assert.ok(logger.events.some((e) => e.level === "error"), "the failure is logged");
    assert.throws(() => log.read(0), (e) => isSluiceError(e, "STORAGE_ERROR"));
    await log.close();
  });
  await t.step("openOrOffline() of a healthy dir is an ordinary log", async () => {
    const log = await PartitionLog.openOrOffline(tempDir("sluice-offline-"), { config: CONFIG });
    assert.equal(log.state, "online");
    assert.equal((await log.append(batch("a"))).baseOffset, 0);
    await log.close();
  });
});

Deno.test("B1: a flipped baseOffset is reported, never an empty answer below the HW", async (t) => {
  for (const which of ["last batch", "a middle batch"] as const) {
    await t.step(`in the ${which} of the last segment`, async () => {
      const { dir, placed, segments } = await cleanLog();
      const inLast = placed.filter((p) => p.segment === segments.at(-1)!);
      const bad = which === "last batch" ? inLast.at(-1)! : inLast[Math.floor(inLast.length / 2)];
      const file = logPath(dir, bad.segment);
      flipByte(file, bad.position + 6); // a low byte of the 8-byte baseOffset
      const logger = new MemoryLogger();
      const log = await open(dir, logger);
      try {
        const hw = placed.at(-1)!.lastOffset + 1;
        assert.equal(log.logEndOffset, hw);
        for (let o = bad.baseOffset; o <= bad.lastOffset; o++) {
          assert.throws(() => log.read(o, 1), isCorruptAt(file, bad.position));
        }
        assert.ok(damageAt(log, file, bad.position), JSON.stringify(log.damage));
        const walk = consumerWalk(log);
        assert.equal(walk.served, hw - (bad.lastOffset - bad.baseOffset + 1));
        for (const p of placed.filter((p) => p !== bad)) {
          assert.deepEqual(readOne(log, p.baseOffset), {
            first: p.baseOffset,
            next: p.lastOffset + 1,
          });
        }
      } finally {
        await log.close();
      }
    });
  }
});

Deno.test("B2: a recovery checkpoint that does not match the log is ignored", async (t) => {
  const cases: [string, (cp: Record<string, number>, last: Placed) => void][] = [
    ["offset past the log end", (cp) => (cp.offset += 5)],
    ["offset one short", (cp) => (cp.offset -= 1)],
    ["position inside the last batch", (cp, last) => (cp.position = last.position + 10)],
    ["position past the file end", (cp) => (cp.position += 1000)],
    ["segment that does not exist", (cp) => (cp.segment += 1)],
  ];
  for (const [name, damage] of cases) {
    await t.step(name, async () => {
      const { dir, placed } = await cleanLog();
      const path = `${dir}/${CHECKPOINT_FILE}`;
      const cp = JSON.parse(Deno.readTextFileSync(path));
      damage(cp, placed.at(-1)!);
      Deno.writeTextFileSync(path, JSON.stringify(cp));
      const logger = new MemoryLogger();
      const log = await open(dir, logger);
      try {
        const hw = placed.at(-1)!.lastOffset + 1;
        assert.equal(log.logEndOffset, hw, "the high watermark is the data's end");
        for (const p of placed) {
          assert.deepEqual(readOne(log, p.baseOffset), {
            first: p.baseOffset,
            next: p.lastOffset + 1,
          });
        }
        assert.ok(errorsNaming(logger, path) > 0, `warned: ${JSON.stringify(logger.events)}`);
        assert.ok(damageAt(log, path), JSON.stringify(log.damage));
        assert.equal((await log.append(batch("more"))).baseOffset, hw);
      } finally {
        await log.close();
      }
    });
  }
});

Deno.test("B3/B4: stray, deleted and emptied segment files", async (t) => {
  for (const name of ["99999999999999999999", "00000000000000100000"]) {
    await t.step(`a stray empty ${name}.log does not move the log end`, async () => {
      const { dir, placed } = await cleanLog();
      const stray = `${dir}/${name}.log`;
      Deno.writeFileSync(stray, new Uint8Array(0));
      const logger = new MemoryLogger();
      const log = await open(dir, logger);
      try {
        const hw = placed.at(-1)!.lastOffset + 1;
        assert.equal(log.logEndOffset, hw);
        assert.ok(damageAt(log, stray), JSON.stringify(log.damage));
        assert.ok(errorsNaming(logger, stray) > 0);
        assert.equal((await log.append(batch("next"))).baseOffset, hw);
        assert.equal(consumerWalk(log).failed.length, 0);
      } finally {
        await log.close();
      }
      const again = await open(dir);
      assert.equal(again.logEndOffset, placed.at(-1)!.lastOffset + 1 + RECORDS_PER_BATCH);
      await again.close();
    });
  }
  for (const how of ["deleted", "emptied"] as const) {
    await t.step(
      `a ${how} middle segment is reported as a gap; reads advance past it`,
      async () => {
        const { dir, placed, segments } = await cleanLog();
        const gone = segments[1];
        const next = segments[2];
        if (how === "deleted") {
          for (const suffix of [".log", ".index", ".timeindex"]) {
            Deno.removeSync(`${dir}/${segmentFileStem(gone)}${suffix}`);
          }
        } else {
          Deno.truncateSync(logPath(dir, gone), 0);
        }
        const logger = new MemoryLogger();
        const log = await open(dir, logger);
        try {
          const hw = placed.at(-1)!.lastOffset + 1;
          assert.equal(log.logEndOffset, hw);
          const gap = log.damage.find((d) => d.file === logPath(dir, next));
          assert.ok(gap, `gap reported at ${logPath(dir, next)}: ${JSON.stringify(log.damage)}`);
          assert.match(gap.reason, new RegExp(`${gone}`));
          assert.ok(errorsNaming(logger, logPath(dir, next)) > 0);
          // An offset in the gap advances to the first offset after it (as over a compacted hole).
          const r = log.read(gone, 1);
          assert.ok(r !== undefined);
          assert.equal(r.firstOffset, next);
          const walk = consumerWalk(log);
          assert.equal(walk.failed.length, 0);
          assert.equal(walk.served, hw - (next - gone));
        } finally {
          await log.close();
        }
      },
    );
  }
  await t.step("a segment whose first batch does not match its name is reported", async () => {
    const { dir, segments } = await cleanLog();
    const file = logPath(dir, segments[2]);
    flipByte(file, 7); // baseOffset of the first batch
    const log = await open(dir);
    try {
      assert.ok(damageAt(log, file, 0), JSON.stringify(log.damage));
      assert.throws(() => log.read(segments[2], 1), isCorruptAt(file, 0));
    } finally {
      await log.close();
    }
  });
});
