/**
 * Helpers of the compaction tests (compaction_test.ts, compaction_crash_test.ts and its child):
 * keyed batches, reading a whole log back record by record, and the latest record per key.
 * Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import type { CompressionCodec } from "../../src/record/compression.ts";
import {
  decodeBatches,
  encodeRecordBatch,
  type RecordInput,
} from "../../src/record/record_batch.ts";
import type { PartitionLog } from "../../src/storage/partition_log.ts";

const decoder = new TextDecoder();

/** A record to write: a null value is a tombstone. */
export interface KeyedRecord {
  key: string | null;
  value: string | null;
}

export interface BatchSettings {
  timestampMs: number;
  compression?: CompressionCodec;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

export function keyedBatch(records: readonly KeyedRecord[], settings: BatchSettings): Uint8Array {
  const inputs: RecordInput[] = records.map((r, i) => ({
    key: r.key,
    value: r.value,
    timestamp: settings.timestampMs + i,
  }));
  return encodeRecordBatch(inputs, {
    timestampMs: settings.timestampMs,
    compression: settings.compression,
    producerId: settings.producerId,
    producerEpoch: settings.producerEpoch,
    baseSequence: settings.baseSequence,
  });
}

/** One record as read back, with the batch that held it. */
export interface ReadRecord {
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
  batchBaseOffset: number;
  batchLastOffset: number;
  compression: number;
  recordsInBatch: number;
}

/**
 * Every record from the log start to the log end, read with read() in steps of `maxBytes`:
 * batches' offsets must increase, records' too, and each read must move on.
 */
export function readAllRecords(log: PartitionLog, maxBytes = 64 * 1024): ReadRecord[] {
  const out: ReadRecord[] = [];
  let offset = log.logStartOffset;
  let lastBatchEnd = -1;
  while (offset < log.logEndOffset) {
    const read = log.read(offset, maxBytes);
    assert.ok(read !== undefined, `read(${offset}) below the log end ${log.logEndOffset}`);
    assert.ok(read.nextOffset > offset, `read(${offset}) moves on`);
    for (const batch of decodeBatches(read.bytes)) {
      assert.ok(
        batch.baseOffset > lastBatchEnd,
        `batch at ${batch.baseOffset} after ${lastBatchEnd}`,
      );
      const last = batch.baseOffset + batch.lastOffsetDelta;
      lastBatchEnd = last;
      for (const r of batch.records) {
        assert.ok(r.offset <= last, `record ${r.offset} inside its batch`);
        if (out.length > 0) assert.ok(r.offset > out[out.length - 1].offset, "offsets increase");
        out.push({
          offset: r.offset,
          key: r.key === null ? null : decoder.decode(r.key),
          value: r.value === null ? null : decoder.decode(r.value),
          timestamp: r.timestamp,
          batchBaseOffset: batch.baseOffset,
          batchLastOffset: last,
          compression: batch.compression,
          recordsInBatch: batch.records.length,
        });
      }
    }
    offset = read.nextOffset;
  }
  return out;
}

/** The latest record per key, in offset order of those latest records. */
export function latestByKey(
  records: readonly { offset: number; key: string | null; value: string | null }[],
): Map<string, { offset: number; value: string | null }> {
  const latest = new Map<string, { offset: number; value: string | null }>();
  for (const r of records) {
    if (r.key === null) continue;
    latest.delete(r.key);
    latest.set(r.key, { offset: r.offset, value: r.value });
  }
  return latest;
}

/** The live view a consumer that reads everything ends with: latest per key, tombstones gone. */
export function liveView(
  records: readonly { offset: number; key: string | null; value: string | null }[],
): Map<string, string> {
  const view = new Map<string, string>();
  for (const [key, { value }] of latestByKey(records)) {
    if (value !== null) view.set(key, value);
  }
  return view;
}
