/**
 * RecordBatch codec throughput: encode and decode 1,000-record batches (100 B and 1 KiB values,
 * uncompressed and LZ4), LZ4 frame compress/decompress of 1 MiB (compressible text and random
 * bytes), and checkBatch with CRC-32C on a 1 MiB batch, as the log runs it on every append.
 *
 * Figures: records/s for the batch rows, MiB/s of uncompressed bytes for all rows (for encode and
 * decode that is the records section, i.e. what the records cost on the wire uncompressed).
 *
 * Run: deno run -A bench/record_bench.ts
 */
import { bench, do_not_optimize, group, run } from "mitata";
import { compress, COMPRESSION_CODECS, decompress } from "../src/record/compression.ts";
import { loadCrc32c } from "../src/record/crc32c.ts";
import {
  BATCH_HEADER_BYTES,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  decodeRecordBatch,
  encodeRecordBatch,
  type RecordInput,
  viewOf,
} from "../src/record/record_batch.ts";
import { MAX_MESSAGE_BYTES_DEFAULT } from "../src/limits.ts";
import { randomBytes } from "./bench_util.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const RECORDS_PER_BATCH = 1_000;
const NOW_MS = 1_732_406_400_000;

/**
 * Log-line-like text: a fixed vocabulary with varying numbers, so LZ4 finds matches (about 3-5x)
 * without the degenerate ratio of a repeated single string.
 */
function compressibleText(length: number, seed: number): Uint8Array {
  const words = ["GET", "POST", "/api/v1/orders", "/api/v1/users", "status=200", "status=404"];
  const rand = randomBytes(length, seed);
  let s = "";
  for (let i = 0; s.length < length; i++) {
    const r = rand[i % rand.length];
    s += `${NOW_MS + i} ${words[r % words.length]} ${words[(r >> 3) % words.length]} ` +
      `latency_ms=${r} user=${(r * 7919) % 10_007}\n`;
  }
  return new TextEncoder().encode(s).subarray(0, length);
}

function makeRecords(valueBytes: number, seed: number): RecordInput[] {
  const text = compressibleText(RECORDS_PER_BATCH * valueBytes, seed);
  const records: RecordInput[] = [];
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    records.push({
      key: new TextEncoder().encode(`user-${(i * 7919) % 10_007}`),
      value: text.subarray(i * valueBytes, (i + 1) * valueBytes),
      timestamp: NOW_MS + i,
    });
  }
  return records;
}

interface Row {
  /** Uncompressed bytes one call moves. */
  bytes: number;
  /** Records one call moves; 0 for rows that are not about records. */
  records: number;
  note?: string;
}

/** Registers the benches, runs them, and prints records/s and MiB/s per row. */
export async function runRecordBench(): Promise<void> {
  const rows = new Map<string, Row>();
  const add = (alias: string, row: Row, fn: () => unknown): void => {
    rows.set(alias, row);
    bench(alias, () => do_not_optimize(fn()));
  };

  for (const valueBytes of [100, KiB]) {
    const records = makeRecords(valueBytes, valueBytes);
    const label = valueBytes === KiB ? "1 KiB" : `${valueBytes} B`;
    group(`1,000 records of ${label}`, () => {
      for (const [codecName, compression] of [["none", 0], ["lz4", 3]] as const) {
        const options = { timestampMs: NOW_MS, compression };
        const batch = encodeRecordBatch(records, options);
        // The records section before compression: what both rows move per call.
        const plainBytes = encodeRecordBatch(records, { timestampMs: NOW_MS }).length -
          BATCH_HEADER_BYTES;
        const row = { bytes: plainBytes, records: RECORDS_PER_BATCH };
        add(`encode ${label} ${codecName}`, row, () => encodeRecordBatch(records, options));
        add(`decode ${label} ${codecName}`, row, () => decodeRecordBatch(batch));
      }
    });
  }

  const text = compressibleText(MiB, 7);
  const random = randomBytes(MiB, 7);
  group("LZ4 frame, 1 MiB", () => {
    for (const [name, data] of [["text", text], ["random", random]] as const) {
      const packed = compress(COMPRESSION_CODECS.lz4, data);
      const ratio = (data.length / packed.length).toFixed(2);
      const row = { bytes: data.length, records: 0, note: `ratio ${ratio}x` };
      add(`lz4 compress ${name}`, row, () => compress(COMPRESSION_CODECS.lz4, data));
      add(`lz4 decompress ${name}`, row, () => decompress(COMPRESSION_CODECS.lz4, packed));
    }
  });

  // 1,000 records of ~1 KiB: a batch just under the default max.message.bytes (1 MiB + 12).
  const big = encodeRecordBatch(makeRecords(KiB - 32, 11), { timestampMs: NOW_MS });
  if (big.length > MAX_MESSAGE_BYTES_DEFAULT) throw new Error(`batch of ${big.length} bytes`);
  const bigView = viewOf(big);
  group(`checkBatch, ${(big.length / MiB).toFixed(2)} MiB batch`, () => {
    for (
      const [name, checks] of [["CRC", CHECK_CRC], [
        "CRC+counts",
        CHECK_CRC | CHECK_COUNTS,
      ]] as const
    ) {
      add(`checkBatch ${name}`, { bytes: big.length, records: RECORDS_PER_BATCH }, () => {
        const size = checkBatch(big, bigView, 0, big.length, MAX_MESSAGE_BYTES_DEFAULT, checks);
        if (size !== big.length) throw new Error(`checkBatch: ${JSON.stringify(size)}`);
        return size;
      });
    }
  });

  const result = await run();

  // Throughput from the median: on a shared machine the mean is pulled up by other processes.
  const lines = [
    `crc32c implementation: ${loadCrc32c()}`,
    "bench                       avg µs    p50 µs   records/s (p50)   MiB/s (p50)",
  ];
  for (const trial of result.benchmarks) {
    const row = rows.get(trial.alias);
    const stats = trial.runs[0]?.stats;
    if (!row || !stats) continue;
    const seconds = stats.p50 / 1e9;
    const recordsPerSec = row.records === 0 ? "" : Math.round(row.records / seconds).toString();
    lines.push(
      [
        trial.alias.padEnd(24),
        (stats.avg / 1e3).toFixed(1).padStart(9),
        (stats.p50 / 1e3).toFixed(1).padStart(9),
        recordsPerSec.padStart(17),
        (row.bytes / MiB / seconds).toFixed(1).padStart(13),
        row.note ?? "",
      ].join(" ").trimEnd(),
    );
  }
  console.log(`\n${lines.join("\n")}`);
}

if (import.meta.main) await runRecordBench();
