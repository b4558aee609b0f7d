/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's RecordBatch v2: it
 * covers every byte from the `attributes` field to the end of the batch.
 *
 * Two implementations compute the same function:
 * - native: @node-rs/crc32 (Rust, hardware CRC instructions: ~5,700 MiB/s at 1 MiB here, 4.7x the
 *   portable code), loaded on the first input long enough to use it (runtime/lazy_module.ts: an
 *   idle server does not hold the addon) and guarded, so that a missing prebuilt binary, or a
 *   runtime denying native addons, falls back to the portable code instead of failing;
 * - portable: slice-by-8 in plain TypeScript, 8 KiB of tables built once at module load.
 *
 * Setting SLUICE_CRC32C=portable forces the portable path (to test it, or to rule out the addon).
 * The environment is read through src/runtime/process.ts, the only code that touches the process.
 *
 * Values are unsigned 32-bit numbers, and `initial` chains: crc32c(b, crc32c(a)) === crc32c(a + b).
 */
import { loadModule } from "../runtime/lazy_module.ts";
import { envVar } from "../runtime/process.ts";

const POLY = 0x82f63b78;

/**
 * Tables for slice-by-8, flattened: TABLES[k * 256 + b] is the CRC of byte b followed by k zero
 * bytes. One flat Int32Array keeps every lookup a single typed-array index (no nested arrays).
 */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
}

/** Pure TypeScript CRC-32C, slice-by-8: eight bytes per step through eight independent tables. */
export function crc32cPortable(data: Uint8Array, initial = 0): number {
  const t = TABLES;
  let crc = ~initial;
  let i = 0;
  const len = data.length;
  const end8 = len - (len & 7);
  while (i < end8) {
    const lo = crc ^
      (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    crc = t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]];
    i += 8;
  }
  while (i < len) crc = t[(crc ^ data[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

type NativeCrc32c = (input: Uint8Array, initialState?: number | null) => number;

function wantPortable(): boolean {
  // Deno without --allow-env reads undefined here; the default (native when available) applies.
  return envVar("SLUICE_CRC32C") === "portable";
}

function loadNative(): NativeCrc32c | null {
  if (wantPortable()) return null;
  try {
    const fn = loadModule<{ crc32c: NativeCrc32c }>("@node-rs/crc32").crc32c;
    // A binary that loads but computes something else (wrong build, ABI mismatch) must not be used:
    // check the standard "123456789" vector, 0xE3069283, and a view with a non-zero byteOffset.
    const probe = new Uint8Array([0, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]);
    if (fn(probe.subarray(1)) >>> 0 !== 0xe3069283) return null;
    return fn;
  } catch {
    // No prebuilt binary for this platform, or the runtime refused the addon (Deno without
    // --allow-ffi): the portable code is correct everywhere, only slower.
    return null;
  }
}

/** The addon, once asked for: undefined until the first input of SMALL_INPUT_BYTES or more. */
let native: NativeCrc32c | null | undefined;

function nativeCrc(): NativeCrc32c | null {
  if (native === undefined) native = loadNative();
  return native;
}

/**
 * Which implementation `crc32c` uses for inputs of SMALL_INPUT_BYTES (256) bytes and more (asking
 * loads the addon, as the first such input would).
 */
export function crc32cImplementation(): "native" | "portable" {
  return nativeCrc() ? "native" : "portable";
}

/**
 * Below this length `crc32c` uses the portable code even when the addon is loaded: one N-API call
 * has a fixed cost of ~130-180 ns in Deno 2.9 (argument conversion, typed-array lookup), while
 * slice-by-8 costs ~0.8 ns/byte. Measured with bench/crc32c_bench.ts (Deno 2.9.6, x86-64, 2 cores;
 * avg per call, portable / native): 16 B 16 / 177 ns; 64 B 52 / 141 ns; 128 B 103 / 168 ns;
 * 192 B 151 / 183 ns; 256 B 215 / 190 ns; 384 B 297 / 208 ns. The lines cross between 192 and
 * 256 bytes. A RecordBatch with one small record is ~70-120 bytes after the CRC field, so the
 * commonest single-message produce stays on the cheaper path.
 */
const SMALL_INPUT_BYTES = 256;

/** CRC-32C of `data`, continuing from `initial` (the CRC of the bytes before it, default 0). */
export function crc32c(data: Uint8Array, initial = 0): number {
  if (data.length < SMALL_INPUT_BYTES) return crc32cPortable(data, initial);
  const fn = native === undefined ? nativeCrc() : native;
  if (fn === null) return crc32cPortable(data, initial);
  return fn(data, initial >>> 0) >>> 0;
}
