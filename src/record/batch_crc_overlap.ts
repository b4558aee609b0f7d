/**
 * The CRC-32C check of a large append, run on a helper thread while the append writes the same
 * bytes (src/storage/log_append.ts): native/batch_check.c, loaded by
 * src/runtime/crc32c_native.ts. Used only where the kernel is the CRC-32C in use (crc32c.ts: built,
 * loaded, self-tested; SLUICE_CRC32C=node-rs or portable rules it out), and only after the checker
 * itself passed a self-test here: a batch with a bad CRC must be found, a good one passed.
 *
 * Measured on the 2-core VM (Deno 2.9.6), µs per append of 16 KiB batches, write alone / CRC then
 * write / CRC beside the write: 1 MiB 179-192 / 234-254 / 210-228; 512 KiB 93 / 126 / 113;
 * 256 KiB 52 / 68 / 70. Waking the helper and sharing the memory bus cost more than the overlap
 * saves below CRC_OVERLAP_BYTES_MIN (src/limits.ts). `deno task bench --scenario embedded`,
 * embedded.produce.1KiB.none over file.write.1KiB: 0.72-0.73 before, 0.79-0.86 after (5 runs).
 */
import { loadNativeBatchCheckSync, type NativeBatchCheck } from "../runtime/crc32c_native.ts";
import { crc32c, loadCrc32c } from "./crc32c.ts";

export type { NativeBatchCheck };

let checker: NativeBatchCheck | null | undefined;
let jobs = 0;

/** The native overlapped checker, loaded on the first call; null where it cannot serve. */
export function overlappedBatchCheck(): NativeBatchCheck | null {
  if (checker === undefined) {
    const loaded = loadCrc32c() === "kernel" ? loadNativeBatchCheckSync() : null;
    checker = loaded !== null && batchCheckSelfTest(loaded)
      ? {
        slot: loaded.slot,
        start: (bytes) => {
          const taken = loaded.start(bytes);
          if (taken) jobs++;
          return taken;
        },
        join: loaded.join,
      }
      : null;
  }
  return checker;
}

/** Jobs this isolate's helper thread took (for tests). */
export function overlappedBatchCheckJobs(): number {
  return jobs;
}

/** Layout offsets the test batches need (RecordBatch v2, record_batch.ts). */
const BATCH_LENGTH_AT = 8;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;

/**
 * Two batches of 100 and 4,000 bytes in an ArrayBuffer of its own (never moved by the collector):
 * both good, then the second's last byte changed after its CRC was set.
 */
export function batchCheckSelfTest(check: NativeBatchCheck): boolean {
  const sizes = [100, 4_000];
  const bytes = new Uint8Array(new ArrayBuffer(sizes[0] + sizes[1]));
  const dv = new DataView(bytes.buffer);
  let pos = 0;
  for (const size of sizes) {
    for (let i = ATTRIBUTES_AT; i < size; i++) bytes[pos + i] = (i * 31 + size) & 0xff;
    dv.setInt32(pos + BATCH_LENGTH_AT, size - 12);
    dv.setInt8(pos + MAGIC_AT, 2);
    dv.setUint32(pos + CRC_AT, crc32c(bytes.subarray(pos + ATTRIBUTES_AT, pos + size)));
    pos += size;
  }
  if (!check.start(bytes) || check.join() !== -1) return false;
  bytes[bytes.length - 1] ^= 1;
  return check.start(bytes) && check.join() === sizes[0];
}
