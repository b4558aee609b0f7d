/**
 * Child program for crash_overlap_test.ts: appends of two ~330 KB batches (checked beside their
 * write: CRC_OVERLAP_BYTES_MIN) to a PartitionLog until it is killed; every third append has a
 * byte of its second batch damaged after its CRC was set, and must be refused whole.
 *
 * `deno run -A crash_overlap_child.ts <dir> <tag>`
 *
 * Record values are `<tag>.<append>.<i>|` then padding. Before each append it prints
 * `try <append> good|bad`; after it, `ack <baseOffset> <lastOffset> <append> <jobs>` (jobs: the
 * appends checked beside their write so far) or `refused <append> <code>`.
 */
import { isSluiceError } from "../../src/errors.ts";
import { overlappedBatchCheckJobs } from "../../src/record/batch_crc_overlap.ts";
import { encodeRecordBatch, type RecordInput } from "../../src/record/record_batch.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";

/** Records per batch; two batches an append. */
export const RECORDS_PER_BATCH = 300;
const PAD = "p".repeat(1_080);
const encoder = new TextEncoder();

/** The value of record `i` of append `append`. */
export function overlapValue(tag: string, append: number, i: number): string {
  return `${tag}.${append}.${i}|${PAD}`;
}

function batch(tag: string, append: number, first: number): Uint8Array {
  const records: RecordInput[] = [];
  for (let i = first; i < first + RECORDS_PER_BATCH; i++) {
    records.push({ value: encoder.encode(overlapValue(tag, append, i)) });
  }
  return encodeRecordBatch(records, { timestampMs: Date.now() });
}

async function main([dir, tag]: string[]): Promise<void> {
  const log = await PartitionLog.open(dir, { config: { flushPolicy: "none" } });
  for (let append = 0;; append++) {
    const a = batch(tag, append, 0);
    const b = batch(tag, append, RECORDS_PER_BATCH);
    const bytes = new Uint8Array(a.length + b.length);
    bytes.set(a);
    bytes.set(b, a.length);
    const bad = append % 3 === 2;
    if (bad) bytes[a.length + b.length - 7] ^= 0x01; // inside b's last value: b's CRC fails
    console.log(`try ${append} ${bad ? "bad" : "good"}`);
    try {
      const r = await log.append(bytes);
      console.log(`ack ${r.baseOffset} ${r.lastOffset} ${append} ${overlappedBatchCheckJobs()}`);
    } catch (err) {
      console.log(`refused ${append} ${isSluiceError(err) ? err.code : String(err)}`);
    }
    if (append % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

if (import.meta.main) {
  main(Deno.args).catch((err) => {
    console.error(`crash_overlap_child failed: ${err?.stack ?? err}`);
    Deno.exit(1);
  });
}
