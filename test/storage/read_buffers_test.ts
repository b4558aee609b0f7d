/**
 * Where a read's bytes live: fresh memory that is not zero-filled (so every byte must come from
 * the file: the bytes equal the file's, whole batches, never more), or the buffer the caller lends
 * (`into`), overwritten by the next read lent it; and recovery, which re-validates a log in chunks
 * read into one buffer, grown for a batch larger than a chunk.
 */
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { segmentFileStem } from "../../src/storage/segment.ts";
import { randomBytes, tempDir } from "../test_util.ts";

const MiB = 1024 * 1024;

interface Placed {
  baseOffset: number;
  lastOffset: number;
  segment: number;
  position: number;
  size: number;
}

function logPath(dir: string, base: number): string {
  return `${dir}/${segmentFileStem(base)}.log`;
}

/** A closed log of `sizes.length` batches of one record each (values of those sizes). */
async function writeLog(
  config: Partial<LogConfig>,
  sizes: number[],
): Promise<{ dir: string; placed: Placed[] }> {
  const dir = tempDir("sluice-read-buffers-");
  const log = await PartitionLog.open(dir, { config, logger: new MemoryLogger() });
  const placed: Placed[] = [];
  for (const [i, size] of sizes.entries()) {
    const bytes = encodeRecordBatch([{ value: randomBytes(size, i + 1) }], {
      timestampMs: 1_700_000_000_000 + i,
    });
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
  await log.close();
  return { dir, placed };
}

/** The stored bytes of the batches placed[from .. to) (one segment). */
function storedRange(dir: string, placed: Placed[], from: number, to: number): Uint8Array {
  const first = placed[from];
  const last = placed[to - 1];
  assert.equal(first.segment, last.segment);
  const file = Deno.readFileSync(logPath(dir, first.segment));
  return file.slice(first.position, last.position + last.size);
}

/** The batches a read of `maxBytes` from placed[i] answers: as many whole ones as fit, one at least. */
function expectedEnd(placed: Placed[], i: number, maxBytes: number): number {
  let bytes = placed[i].size;
  let j = i + 1;
  while (
    j < placed.length && placed[j].segment === placed[i].segment &&
    bytes + placed[j].size <= maxBytes
  ) {
    bytes += placed[j].size;
    j++;
  }
  return j;
}

Deno.test("a read's bytes: the file's own, in fresh memory or in the buffer the caller lends", async (t) => {
  // Batches of 100-700 bytes, an index entry every 512 bytes, segments of ~16 KiB: a read window
  // (maxBytes + 512) often cuts the batch holding the offset, which is then read again.
  const sizes = Array.from({ length: 120 }, (_, i) => 100 + (i * 137) % 600);
  const { dir, placed } = await writeLog(
    { segmentBytes: 16 * 1024, indexIntervalBytes: 512 },
    sizes,
  );
  const log = await PartitionLog.open(dir, { logger: new MemoryLogger() });
  try {
    await t.step("fresh memory: every batch's bytes exactly, whole batches up to maxBytes", () => {
      for (const maxBytes of [1, 700, 3000]) {
        for (let i = 0; i < placed.length; i++) {
          const r = log.read(placed[i].baseOffset, maxBytes)!;
          const end = expectedEnd(placed, i, maxBytes);
          assert.equal(r.firstOffset, placed[i].baseOffset);
          assert.equal(r.nextOffset, placed[end - 1].lastOffset + 1, `maxBytes ${maxBytes} @${i}`);
          assert.deepEqual(r.bytes, storedRange(dir, placed, i, end), `maxBytes ${maxBytes} @${i}`);
        }
      }
    });

    await t.step("fresh memory: each read its own, kept by the caller; slice() copies", () => {
      const a = log.read(placed[0].baseOffset, 1)!;
      const b = log.read(placed[1].baseOffset, 1)!;
      assert.notEqual(a.bytes.buffer, b.bytes.buffer);
      assert.deepEqual(a.bytes, storedRange(dir, placed, 0, 1), "untouched by the next read");
      assert.equal(Object.getPrototypeOf(a.bytes), Uint8Array.prototype, "a plain Uint8Array");
      const copy = a.bytes.slice();
      copy[20] ^= 0xff;
      assert.deepEqual(a.bytes, storedRange(dir, placed, 0, 1));
    });

    await t.step(
      "a lent buffer: the bytes are a view of it; the next read lent it overwrites",
      () => {
        const into = new Uint8Array(8192).fill(0xa5);
        for (const maxBytes of [1, 700, 3000]) {
          for (let i = 0; i < placed.length; i++) {
            const r = log.read(placed[i].baseOffset, maxBytes, undefined, into)!;
            const end = expectedEnd(placed, i, maxBytes);
            assert.equal(r.bytes.buffer, into.buffer, `a view of the lent buffer @${i}`);
            assert.equal(r.nextOffset, placed[end - 1].lastOffset + 1);
            assert.deepEqual(
              r.bytes,
              storedRange(dir, placed, i, end),
              `maxBytes ${maxBytes} @${i}`,
            );
          }
        }
        const first = log.read(placed[0].baseOffset, 1, undefined, into)!;
        const kept = first.bytes.slice();
        const last = placed.at(-1)!; // in another segment: its window starts at another byte
        const second = log.read(last.baseOffset, 1, undefined, into)!;
        assert.equal(second.firstOffset, last.baseOffset);
        assert.notDeepEqual(first.bytes.subarray(0, 61), kept.subarray(0, 61), "overwritten");
        assert.deepEqual(kept, storedRange(dir, placed, 0, 1), "a copy made before stays");
      },
    );

    await t.step(
      "a lent buffer too small: fresh memory, the same bytes, the buffer untouched",
      () => {
        const into = new Uint8Array(64).fill(7);
        const r = log.read(placed[3].baseOffset, 3000, undefined, into)!;
        assert.notEqual(r.bytes.buffer, into.buffer);
        assert.deepEqual(r.bytes, storedRange(dir, placed, 3, expectedEnd(placed, 3, 3000)));
        assert.ok(into.every((b) => b === 7));
      },
    );
  } finally {
    await log.close();
  }
});

Deno.test("recovery re-validates in chunks read into one buffer, grown for a larger batch", async (t) => {
  // Written under max.message.bytes 8 MiB: batches of 1.5 MiB around one of 5 MiB, more than a
  // 4 MiB recovery chunk. Reopened under the default (1 MiB): the 5 MiB batch gets a chunk of
  // its own, read into the grown buffer, and the later chunks reuse it.
  const sizes = [1.5, 1.5, 1.5, 5, 1.5, 1.5, 1.5].map((m) => Math.floor(m * MiB));
  const written = { segmentBytes: 64 * MiB, maxMessageBytes: 8 * MiB };
  const { dir, placed } = await writeLog(written, sizes);
  const whole = Deno.readFileSync(logPath(dir, 0));

  await t.step("without a checkpoint every batch is re-checked and kept", async () => {
    Deno.removeSync(`${dir}/${CHECKPOINT_FILE}`);
    const logger = new MemoryLogger();
    const log = await PartitionLog.open(dir, { config: { segmentBytes: 64 * MiB }, logger });
    try {
      assert.equal(log.logEndOffset, placed.length);
      assert.deepEqual(logger.events.filter((e) => e.level !== "info"), []);
      for (const [i, p] of placed.entries()) {
        const r = log.read(p.baseOffset, 1)!;
        assert.deepEqual(r.bytes, whole.subarray(p.position, p.position + p.size), `batch ${i}`);
        assert.equal(decodeBatches(r.bytes)[0].records[0].value!.length, sizes[i]);
      }
    } finally {
      await log.close();
    }
  });

  await t.step("a damaged batch after the grown chunk is found and cut there", async () => {
    const bad = placed[5];
    const bytes = whole.slice();
    bytes[bad.position + bad.size - 100] ^= 0x10; // inside the value, covered by the CRC
    Deno.writeFileSync(logPath(dir, 0), bytes);
    Deno.removeSync(`${dir}/${CHECKPOINT_FILE}`);
    const logger = new MemoryLogger();
    const log = await PartitionLog.open(dir, { config: { segmentBytes: 64 * MiB }, logger });
    try {
      assert.equal(log.logEndOffset, bad.baseOffset);
      const warning = logger.events.find((e) => e.message.includes("truncating"));
      assert.equal(warning?.fields?.position, bad.position);
      assert.match(String(warning?.fields?.reason), /CRC/);
      const r = log.read(placed[4].baseOffset, 1)!;
      assert.deepEqual(r.bytes, whole.subarray(placed[4].position, bad.position));
    } finally {
      await log.close();
    }
  });
});
