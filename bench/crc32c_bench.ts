/**
 * CRC-32C throughput: a byte-at-a-time table (the textbook baseline, defined here only), each
 * implementation src/record/crc32c.ts loaded (kernel: native/crc32c.c over FFI; node-rs: the
 * @node-rs/crc32 addon; portable: slice-by-8) called directly, and `crc32c` as the broker calls it
 * (which routes short inputs to the portable code), at 100 B, 1 KiB, 16 KiB and 1 MiB. A last
 * group sweeps short lengths to find where a fast implementation's fixed per-call cost stops
 * dominating: that sets the *_SMALL_INPUT_BYTES of src/record/crc32c.ts.
 *
 * Run: deno task native && deno run -A bench/crc32c_bench.ts
 * (SLUICE_CRC32C=kernel|node-rs|portable loads only that one). "best GB/s" is from mitata's fastest
 * sample: on a shared machine, the code's speed when it has a core; the average includes the waits.
 * `--quick` (or SLUICE_BENCH_QUICK=1, as bench/main.ts passes it) skips the byte table and the
 * crossover sweep, for the under-a-minute suite.
 */
import { bench, do_not_optimize, group, run } from "mitata";
import {
  crc32c,
  crc32cImplementation,
  crc32cSmallInputBytes,
  loadCrc32c,
  loadEveryCrc32c,
} from "../src/record/crc32c.ts";
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

const quick = Deno.args.includes("--quick") || Deno.env.get("SLUICE_BENCH_QUICK") === "1";

const KiB = 1024;
const MiB = 1024 * KiB;

interface Impl {
  name: string;
  fn: (data: Uint8Array) => number;
}

const impls: Impl[] = [
  ...(quick ? [] : [{ name: "byte-table", fn: (d: Uint8Array) => crc32cByteTable(d) }]),
];
for (const [name, fn] of await loadEveryCrc32c()) {
  impls.push({ name: name === "portable" ? "slice-by-8" : name, fn: (d) => fn(d, 0) });
}
impls.push({ name: `crc32c() [${loadCrc32c()}]`, fn: (d) => crc32c(d) });

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
addGroup("1 KiB", KiB, impls);
addGroup("16 KiB", 16 * KiB, impls);
addGroup("1 MiB", MiB, impls);

// Crossover sweep: the implementations called directly, not `crc32c()`, nor the byte table.
const sweep = impls.filter((i) => i.name !== "byte-table" && !i.name.startsWith("crc32c()"));
if (!quick) {
  for (const n of [8, 16, 32, 64, 128, 192, 256, 384, 512]) {
    addGroup(`${n} B`, n, sweep);
  }
}

const result = await run();

const table: string[] = [];
table.push(
  `crc32c implementation in use: ${crc32cImplementation} (from ${crc32cSmallInputBytes} bytes)`,
);
table.push("size      implementation          avg ns/call       MiB/s        GB/s   best GB/s");
for (const trial of result.benchmarks) {
  const row = rows.get(trial.alias);
  const stats = trial.runs[0]?.stats;
  if (!row || !stats) continue;
  const mibPerSec = row.bytes / MiB / (stats.avg / 1e9);
  const gbPerSec = row.bytes / stats.avg;
  const bestGbPerSec = row.bytes / stats.min;
  table.push(
    `${row.size.padEnd(9)} ${row.impl.padEnd(22)} ${stats.avg.toFixed(1).padStart(12)} ${
      mibPerSec.toFixed(1).padStart(11)
    } ${gbPerSec.toFixed(2).padStart(11)} ${bestGbPerSec.toFixed(2).padStart(11)}`,
  );
}
console.log(`\n${table.join("\n")}`);
