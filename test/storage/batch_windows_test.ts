/**
 * The cleaner's windows over a segment (src/storage/cleaner/batch_windows.ts) on a real log file:
 * every batch exactly once, in order, whatever the slice; with a window buffer, a batch the slice
 * cuts is read on to its end (a window is short of the slice by less than a batch header at most,
 * but at the segment's end), without one it waits for the next window; both give the same
 * batches.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../src/logger.ts";
import {
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  encodeRecordBatch,
  viewOf,
} from "../../src/record/record_batch.ts";
import { BatchWindows, WindowBuffer } from "../../src/storage/cleaner/batch_windows.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir } from "../test_util.ts";

interface Walked {
  batches: { base: number; bytes: Uint8Array }[];
  windowLengths: number[];
}

/** Byte equality (node:assert's deepEqual takes minutes over megabytes of typed arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assertSameBatches(got: Walked["batches"], want: Walked["batches"], what: string): void {
  assert.deepEqual(got.map((b) => b.base), want.map((b) => b.base), `${what}: base offsets`);
  got.forEach((b, i) => assert.ok(sameBytes(b.bytes, want[i].bytes), `${what}: batch ${i}`));
}

function walk(windows: BatchWindows): Walked {
  const out: Walked = { batches: [], windowLengths: [] };
  while (windows.next()) {
    out.windowLengths.push(windows.bytes.length);
    const dv = viewOf(windows.bytes);
    let pos = 0;
    while (pos < windows.bytes.length) {
      const size = dv.getInt32(pos + 8) + 12;
      out.batches.push({
        base: baseOffsetAt(dv, pos),
        bytes: windows.bytes.slice(pos, pos + size),
      });
      pos += size;
    }
  }
  return out;
}

Deno.test("cleaner windows: every batch once, a cut batch read on to its end", async (t) => {
  const dir = tempDir("sluice-windows-");
  const log = await PartitionLog.open(dir, { logger: silentLogger });
  try {
    // Batches of 40 B to ~40 KiB (a pseudo-random walk of sizes), keyed as a compacted log's.
    const written: Uint8Array[] = [];
    let x = 7;
    for (let i = 0; i < 300; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const records = 1 + (x % 4);
      const valueBytes = (x >>> 8) % 10_000;
      const batch = encodeRecordBatch(
        Array.from({ length: records }, (_, r) => ({
          key: `k${(i * 7 + r) % 50}`,
          value: new Uint8Array(valueBytes).fill(i & 0xff),
        })),
        { timestampMs: 1_700_000_000_000 },
      );
      await log.append(batch);
      written.push(batch.slice()); // as stored: the append wrote its offset into it
    }
    const segment = log.compaction.segments[0];
    const expected = walk(new BatchWindows(segment, 0, 0, true, false, undefined, 1 << 30));
    assert.equal(expected.batches.length, 300, "one window holds all of them");
    assert.ok(expected.batches.every((b, i) => sameBytes(b.bytes, written[i])), "as written");

    for (const slice of [1_000, 7_777, 64 * 1024]) {
      await t.step(`slice ${slice}: the same batches with and without a buffer`, () => {
        const buffer = new WindowBuffer();
        const buffered = walk(
          new BatchWindows(segment, 0, 0, true, false, undefined, slice, buffer),
        );
        const fresh = walk(new BatchWindows(segment, 0, 0, true, false, undefined, slice));
        assertSameBatches(buffered.batches, expected.batches, "buffered");
        assertSameBatches(fresh.batches, expected.batches, "fresh");
        const last = buffered.windowLengths.length - 1;
        buffered.windowLengths.forEach((length, i) => {
          // Short of the slice by less than a batch header at most: the next batch's size unread.
          if (i < last) {
            assert.ok(
              length > slice - BATCH_HEADER_BYTES,
              `window ${i}: ${length} B, slice ${slice}`,
            );
          }
        });
        assert.ok(
          fresh.windowLengths.some((length, i) =>
            i < fresh.windowLengths.length - 1 && length < slice
          ),
          "without a buffer some window ends before a batch the slice cut",
        );
        assert.ok(buffered.windowLengths.length < fresh.windowLengths.length, "fewer reads");
      });
    }
  } finally {
    await log.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
