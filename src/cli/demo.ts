/**
 * `src/main.ts demo`: a storage demo on the embedded default data dir. It appends batches to a
 * partition log in ./data/demo/0, reads them all back, reopens the log and prints what it measured.
 *
 * Flags: --data-dir DIR (env SLUICE_DATA_DIR, default ./data), --records N (default 200000),
 * --record-bytes B (default 100), --compression none|lz4|gzip.
 */
import { encodeRecordBatch, type RecordInput } from "../record/record_batch.ts";
import { COMPRESSION_CODECS, type CompressionName } from "../record/compression.ts";
import { PartitionLog } from "../storage/partition_log.ts";
import { envVar, exitProcess } from "../runtime/process.ts";
import { joinPath } from "../runtime/fs.ts";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function demo(args: string[]): Promise<void> {
  const dataDir = flag(args, "data-dir") ?? envVar("SLUICE_DATA_DIR") ?? "./data";
  const records = Number(flag(args, "records") ?? 200_000);
  const recordBytes = Number(flag(args, "record-bytes") ?? 100);
  const compression = (flag(args, "compression") ?? "none") as CompressionName;
  if (!(compression in COMPRESSION_CODECS) || !(records > 0) || !(recordBytes >= 0)) {
    console.error(
      "usage: src/main.ts demo [--data-dir DIR] [--records N] [--record-bytes B] " +
        "[--compression none|lz4|gzip]",
    );
    exitProcess(2);
  }
  const dir = joinPath(dataDir, "demo", "0");
  const log = await PartitionLog.open(dir);
  console.log(`sluice storage demo: log in ${dir}, starting at offset ${log.logEndOffset}`);

  const perBatch = 1000;
  const value = new Uint8Array(recordBytes).fill(0x61);
  const batchRecords: RecordInput[] = Array.from({ length: perBatch }, () => ({ value }));
  let t0 = performance.now();
  let bytes = 0;
  for (let done = 0; done < records; done += perBatch) {
    const batch = encodeRecordBatch(batchRecords.slice(0, Math.min(perBatch, records - done)), {
      timestampMs: Date.now(),
      compression: COMPRESSION_CODECS[compression] as 0 | 1 | 3,
    });
    bytes += batch.length;
    await log.append(batch);
  }
  const appendMs = performance.now() - t0;
  console.log(
    `appended ${records} records (${(bytes / 1e6).toFixed(1)} MB on disk) in ` +
      `${appendMs.toFixed(0)} ms: ${(records / appendMs * 1000).toFixed(0)} records/s`,
  );

  t0 = performance.now();
  let offset = log.logStartOffset;
  let readBytes = 0;
  for (;;) {
    const r = log.read(offset, 1024 * 1024);
    if (r === undefined) break;
    readBytes += r.bytes.length;
    offset = r.nextOffset;
  }
  const readMs = performance.now() - t0;
  console.log(
    `read ${(readBytes / 1e6).toFixed(1)} MB of batches back in ${readMs.toFixed(0)} ms: ` +
      `${(readBytes / readMs / 1e3).toFixed(0)} MB/s`,
  );
  await log.close();
  const reopened = await PartitionLog.open(dir);
  console.log(
    `reopened: offsets ${reopened.logStartOffset}..${reopened.logEndOffset - 1}, ` +
      `${reopened.segments().length} segment(s), ${(reopened.sizeBytes / 1e6).toFixed(1)} MB`,
  );
  await reopened.close();
}
