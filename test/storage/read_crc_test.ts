/**
 * verifyCrcOnRead (off by default, as Kafka's broker): a byte flipped on disk in a flushed segment
 * after its batch was appended is served as stored when it is off (the consumer's own CRC check
 * finds it), is CORRUPT_LOG naming file and position when it is on (also turned on in a running
 * log), and recovery finds it whatever the setting: a damaged batch past the recovery checkpoint
 * is truncated at open.
 */
import assert from "node:assert/strict";
import { isSluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import {
  DEFAULT_LOG_CONFIG,
  type LogConfig,
  resolveLogConfig,
} from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { segmentFileStem } from "../../src/storage/segment.ts";
import { tempDir } from "../test_util.ts";

/** Segments of ~4 KiB with an index entry every 512 bytes. */
const CONFIG: Partial<LogConfig> = { segmentBytes: 4096, indexIntervalBytes: 512 };
const BATCHES = 40;
const VALUE = "v".repeat(80);

interface Placed {
  baseOffset: number;
  lastOffset: number;
  segment: number;
  position: number;
  size: number;
}

function batch(tag: string): Uint8Array {
  const records = [0, 1, 2].map((i) => ({
    value: new TextEncoder().encode(`${tag}-${i}-${VALUE}`),
  }));
  return encodeRecordBatch(records, { timestampMs: 1_700_000_000_000 });
}

/** A cleanly closed log of BATCHES batches over several segments; where each landed. */
async function cleanLog(): Promise<{ dir: string; placed: Placed[] }> {
  const dir = tempDir("sluice-read-crc-");
  const log = await PartitionLog.open(dir, { config: CONFIG, logger: new MemoryLogger() });
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
  assert.ok(log.segments().length >= 4, "several segments");
  await log.close();
  return { dir, placed };
}

function logPath(dir: string, base: number): string {
  return `${dir}/${segmentFileStem(base)}.log`;
}

/** Flips a byte of the last record's value of `p` (inside the CRC's range); the file's bytes. */
function damageValue(dir: string, p: Placed): void {
  const path = logPath(dir, p.segment);
  const bytes = Deno.readFileSync(path);
  const at = p.position + p.size - 10; // in the value, before its header count
  assert.equal(bytes[at], "v".charCodeAt(0), "the byte is inside a value");
  bytes[at] ^= 0x01;
  Deno.writeFileSync(path, bytes);
}

function stored(dir: string, p: Placed): Uint8Array {
  return Deno.readFileSync(logPath(dir, p.segment)).subarray(p.position, p.position + p.size);
}

/** A batch in the middle of a closed segment, with a batch before it in that segment. */
function middleOf(placed: Placed[]): Placed {
  const second = placed.find((p) => p.segment !== placed[0].segment)!;
  const inSegment = placed.filter((p) => p.segment === second.segment);
  assert.ok(inSegment.length >= 3);
  return inSegment[1];
}

function open(dir: string, config: Partial<LogConfig> = {}, logger = new MemoryLogger()) {
  return PartitionLog.open(dir, { config: { ...CONFIG, ...config }, logger });
}

Deno.test("verifyCrcOnRead: off by default; on, a damaged batch is CORRUPT_LOG; recovery checks it always", async (t) => {
  await t.step("the default is off; a value that is not a boolean is INVALID_CONFIG", () => {
    assert.equal(DEFAULT_LOG_CONFIG.verifyCrcOnRead, false);
    assert.equal(resolveLogConfig().verifyCrcOnRead, false);
    assert.equal(resolveLogConfig({ verifyCrcOnRead: true }).verifyCrcOnRead, true);
    assert.throws(
      () => resolveLogConfig({ verifyCrcOnRead: "yes" as unknown as boolean }),
      (e) => isSluiceError(e, "INVALID_CONFIG"),
    );
  });

  await t.step(
    "off: the damaged batch is served as stored and the consumer's check finds it",
    async () => {
      const { dir, placed } = await cleanLog();
      const bad = middleOf(placed);
      damageValue(dir, bad);
      const log = await open(dir);
      try {
        const r = log.read(bad.baseOffset, 1)!;
        assert.equal(r.firstOffset, bad.baseOffset);
        assert.deepEqual(r.bytes, stored(dir, bad), "the bytes as they are on disk");
        assert.throws(() => decodeBatches(r.bytes), (e) => isSluiceError(e, "CORRUPT_BATCH"));
        assert.equal(log.damage.length, 0, "nothing reported: nothing checked");
        // Every other batch reads and decodes with its CRC checked.
        for (const p of placed) {
          if (p === bad) continue;
          const other = log.read(p.baseOffset, 1)!;
          assert.equal(decodeBatches(other.bytes)[0].baseOffset, p.baseOffset);
        }
      } finally {
        await log.close();
      }
    },
  );

  await t.step(
    "on: the read is CORRUPT_LOG naming file and position, noted; reads around it work",
    async () => {
      const { dir, placed } = await cleanLog();
      const bad = middleOf(placed);
      const before = placed[placed.indexOf(bad) - 1];
      damageValue(dir, bad);
      const log = await open(dir, { verifyCrcOnRead: true });
      try {
        assert.equal(log.damage.length, 0, "open does not re-check a flushed segment's CRCs");
        assert.throws(() => log.read(bad.baseOffset + 1, 1), (e) => {
          assert.ok(isSluiceError(e, "CORRUPT_LOG"), `want CORRUPT_LOG, got ${e}`);
          assert.equal(e.details?.file, logPath(dir, bad.segment));
          assert.equal(e.details?.position, bad.position);
          assert.match(e.message, /CRC/);
          return true;
        });
        assert.deepEqual(log.damage.map((d) => [d.file, d.position]), [
          [logPath(dir, bad.segment), bad.position],
        ]);
        // A read from the batch before ends before the damaged one; the one after reads.
        const r = log.read(before.baseOffset, 1 << 20)!;
        assert.equal(r.nextOffset, bad.baseOffset);
        assert.equal(decodeBatches(r.bytes).length, 1);
        const after = log.read(bad.lastOffset + 1, 1)!;
        assert.equal(after.firstOffset, bad.lastOffset + 1);
      } finally {
        await log.close();
      }
    },
  );

  await t.step("turned on in a running log (updateConfig), the next read checks", async () => {
    const { dir, placed } = await cleanLog();
    const bad = middleOf(placed);
    damageValue(dir, bad);
    const log = await open(dir);
    try {
      assert.ok(log.read(bad.baseOffset, 1) !== undefined);
      log.updateConfig({ verifyCrcOnRead: true });
      assert.throws(() => log.read(bad.baseOffset, 1), (e) => isSluiceError(e, "CORRUPT_LOG"));
      log.updateConfig({ verifyCrcOnRead: false });
      assert.deepEqual(log.read(bad.baseOffset, 1)!.bytes, stored(dir, bad));
    } finally {
      await log.close();
    }
  });

  for (const verifyCrcOnRead of [false, true]) {
    await t.step(
      `recovery truncates at a damaged batch past the checkpoint (verifyCrcOnRead ${verifyCrcOnRead})`,
      async () => {
        const { dir, placed } = await cleanLog();
        const lastSegment = placed.at(-1)!.segment;
        const inLast = placed.filter((p) => p.segment === lastSegment);
        assert.ok(inLast.length >= 2, "two batches in the last segment");
        const bad = inLast[1];
        damageValue(dir, bad);
        Deno.removeSync(`${dir}/${CHECKPOINT_FILE}`); // as after a crash: every segment re-checked
        const logger = new MemoryLogger();
        const log = await open(dir, { verifyCrcOnRead }, logger);
        try {
          assert.equal(log.logEndOffset, bad.baseOffset, "the log ends before the damaged batch");
          const warning = logger.events.find((e) => e.message.includes("truncating"));
          assert.ok(warning !== undefined, "recovery warned");
          assert.equal(warning.fields?.file, logPath(dir, bad.segment));
          assert.equal(warning.fields?.position, bad.position);
          assert.match(String(warning.fields?.reason), /CRC/);
          assert.equal(Deno.statSync(logPath(dir, bad.segment)).size, bad.position);
          const r = log.read(inLast[0].baseOffset, 1 << 20)!;
          assert.equal(r.nextOffset, bad.baseOffset);
          assert.equal(decodeBatches(r.bytes).length, 1);
        } finally {
          await log.close();
        }
      },
    );
  }
});
