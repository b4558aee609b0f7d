/**
 * CRC-32C throughput: a byte-at-a-time table (the textbook baseline, defined here only), the
 * slice-by-8 portable code, the @node-rs/crc32 addon called directly, and `crc32c` as the broker
 * calls it (which routes short inputs to the portable code). A last group sweeps short lengths to
 * find where the addon's fixed per-call cost stops dominating: that sets SMALL_INPUT_BYTES in
 * src/record/crc32c.ts.
 *
 * Run: deno run -A bench/crc32c_bench.ts   (SLUICE_CRC32C=portable makes `crc32c` portable)
 * `--quick` (or SLUICE_BENCH_QUICK=1, as bench/main.ts passes it) skips the byte table and the
 * crossover sweep, for the under-a-minute suite.
 */
import { bench, do_not_optimize, group, run } from "mitata";
import { crc32c, crc32cImplementation, crc32cPortable } from "../src/record/crc32c.ts";
import { randomBytes } from "./bench_util.ts";

const POLY = 0x82f63b78;
const BYTE_TABLE = new Int32Array(256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  BYTE_TABLE[b] = c;
}

/** One table lookup per byte: the baseline slice-by-8 has to beat. */
function crc32cByteTable(data: Uint8Array, initial = 0): number {
  let crc = ~initial;
  for (let i = 0; i < data.length; i++) crc = BYTE_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

type NativeFn = (input: Uint8Array, initialState?: number | null) => number;
let native: NativeFn | null = null;
try {
  native = (await import("@node-rs/crc32")).crc32c as NativeFn;
} catch (err) {
  console.error(`@node-rs/crc32 did not load, native rows skipped: ${err}`);
}

const quick = Deno.args.includes("--quick") || Deno.env.get("SLUICE_BENCH_QUICK") === "1";

const KiB = 1024;
const MiB = 1024 * KiB;

interface Impl {
  name: string;
  fn: (data: Uint8Array) => number;
}

const impls: Impl[] = [
  ...(quick ? [] : [{ name: "byte-table", fn: (d: Uint8Array) => crc32cByteTable(d) }]),
  { name: "slice-by-8", fn: (d) => crc32cPortable(d) },
];
if (native) {
  const n = native;
  impls.push({ name: "native", fn: (d) => n(d, 0) >>> 0 });
}
impls.push({ name: `crc32c() [${crc32cImplementation()}]`, fn: (d) => crc32c(d) });

/** alias -> which implementation and how many bytes, to turn mitata's ns into MiB/s. */
const rows = new Map<string, { impl: string; size: string; bytes: number }>();

function addGroup(label: string, bytes: number, implList: Impl[]): void {
  const data = randomBytes(bytes, bytes + 1);
  // Every implementation must agree before its speed means anything.
  const expected = crc32cByteTable(data);
  for (const impl of implList) {
    if (impl.fn(data) !== expected) throw new Error(`${impl.name} disagrees at ${label}`);
  }
  group(label, () => {
    for (const impl of implList) {
      const alias = `${impl.name} @ ${label}`;
      rows.set(alias, { impl: impl.name, size: label, bytes });
      bench(alias, () => do_not_optimize(impl.fn(data)));
    }
  });
}

addGroup("100 B", 100, impls);
addGroup("4 KiB", 4 * KiB, impls);
addGroup("1 MiB", MiB, impls);

// Crossover sweep: only the two candidates for short inputs.
const sweep = impls.filter((i) => i.name === "slice-by-8" || i.name === "native");
if (!quick) {
  for (const n of [16, 64, 128, 192, 256, 320, 384, 512]) {
    addGroup(`${n} B`, n, sweep);
  }
}

const result = await run();

const table: string[] = [];
table.push(`crc32c implementation in use: ${crc32cImplementation()}`);
table.push("size      implementation          avg ns/call       MiB/s");
for (const trial of result.benchmarks) {
  const row = rows.get(trial.alias);
  const stats = trial.runs[0]?.stats;
  if (!row || !stats) continue;
  const mibPerSec = row.bytes / MiB / (stats.avg / 1e9);
  table.push(
    `${row.size.padEnd(9)} ${row.impl.padEnd(22)} ${stats.avg.toFixed(1).padStart(12)} ${
      mibPerSec.toFixed(1).padStart(11)
    }`,
  );
}
console.log(`\n${table.join("\n")}`);
