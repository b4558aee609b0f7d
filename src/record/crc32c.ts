/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's RecordBatch v2: it
 * covers every byte from the `attributes` field to the end of the batch.
 *
 * Three implementations compute the same function; the first that loads and passes its self-test
 * (known vectors, a misaligned view, chaining, against the portable code) is used:
 * - kernel: Sluice's own C kernel (native/crc32c.c: SSE4.2 CRC32 over three interleaved streams,
 *   joined by carry-less multiplies), built by `deno task native` (and before `deno task start` and
 *   `deno task test` when gcc is present) and loaded through FFI by src/runtime/crc32c_native.ts;
 *   ~20 GB/s at 1 MiB here, 3.5x the addon. Needs --allow-ffi, x86-64 with SSE4.2 and PCLMULQDQ;
 * - node-rs: the @node-rs/crc32 addon (Rust, hardware CRC instructions: ~5.5-6 GB/s at 1 MiB),
 *   loaded with a guarded require so that a missing prebuilt binary, or a runtime denying native
 *   addons, falls back instead of failing;
 * - portable: slice-by-8 in plain TypeScript, 8 KiB of tables built once at module load.
 *
 * The choice is made on the first checksum (or loadCrc32c), not at import: see loadCrc32c.
 *
 * SLUICE_CRC32C=kernel|node-rs|portable loads only that one (to test it, or to rule out the
 * others); one that cannot load then leaves the portable code. `crc32cImplementation` says which
 * is in use. The environment is read through src/runtime/process.ts, the only code that touches
 * the process.
 *
 * Values are unsigned 32-bit numbers, and `initial` chains: crc32c(b, crc32c(a)) === crc32c(a + b).
 */
import { type Crc32cFn, ffiGranted, loadCrc32cKernelSync } from "../runtime/crc32c_native.ts";
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

/** The implementations, fastest first. */
export type Crc32cImplementation = "kernel" | "node-rs" | "portable";

export type { Crc32cFn };

function forcedImplementation(): Crc32cImplementation | undefined {
  // Deno without --allow-env reads undefined here; the default (fastest available) applies.
  const v = envVar("SLUICE_CRC32C");
  return v === "kernel" || v === "node-rs" || v === "portable" ? v : undefined;
}

/** "123456789" at byteOffset 1, so a kernel ignoring the view's offset fails. */
const CHECK_VECTOR = new Uint8Array([0, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39])
  .subarray(1);

/**
 * A fast implementation is used only if it computes the same function as the portable code: a
 * binary that loads but computes something else (wrong build, ABI mismatch, a broken stream join)
 * must not check batches. Vectors: the standard "123456789" (0xE3069283) on a misaligned view, and
 * a 13,300-byte pseudo-random buffer at byteOffset 3, whole and as two chained pieces, which takes
 * the kernel through each size of its three-stream blocks (3 x 4096, 3 x 256, 3 x 64 bytes), its
 * 8-byte steps and its last bytes.
 */
export function crc32cSelfTest(fn: Crc32cFn): boolean {
  if (fn(CHECK_VECTOR, 0) !== 0xe3069283) return false;
  if (fn(new Uint8Array(0), 0x12345678) !== 0x12345678) return false;
  const backing = new Uint8Array(13_303);
  let x = 0x9e3779b9;
  for (let i = 0; i < backing.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    backing[i] = x;
  }
  const data = backing.subarray(3);
  const want = crc32cPortable(data);
  if (fn(data, 0) !== want) return false;
  return fn(data.subarray(4_321), fn(data.subarray(0, 4_321), 0)) === want;
}

function loadNodeRs(): Crc32cFn | null {
  // Deno without --allow-ffi: loading the addon would prompt on a terminal, and fail elsewhere.
  if (!ffiGranted()) return null;
  try {
    const mod = loadModule<{ crc32c: (input: Uint8Array, initialState?: number | null) => number }>(
      "@node-rs/crc32",
    );
    const addon = mod.crc32c;
    return (data, initial) => addon(data, initial >>> 0) >>> 0;
  } catch {
    // No prebuilt binary for this platform, or the runtime refused the addon (Deno without
    // --allow-ffi).
    return null;
  }
}

/** Why the kernel is not in use, when it is not (see `crc32cKernelRefusal`). */
let kernelRefusal: string | null = null;

function loadKernel(): Crc32cFn | null {
  const load = loadCrc32cKernelSync();
  if (load.kernel !== null) return load.kernel;
  kernelRefusal = load.reason; // not built, no --allow-ffi, no SSE4.2: the others serve
  return null;
}

/** Every fast implementation that loaded and passed its self-test, fastest first. */
function loadFast(): Map<Crc32cImplementation, Crc32cFn> {
  const forced = forcedImplementation();
  const loaded = new Map<Crc32cImplementation, Crc32cFn>();
  if (forced === "portable" || forced === "node-rs") kernelRefusal = `SLUICE_CRC32C=${forced}`;
  if (forced === "portable") return loaded;
  if (forced === undefined || forced === "kernel") {
    const fn = loadKernel();
    if (fn !== null && crc32cSelfTest(fn)) loaded.set("kernel", fn);
    else if (fn !== null) kernelRefusal = "the library failed its self-test";
  }
  // The addon is the kernel's fallback: with the kernel in use it is not loaded (about 8 MB of
  // idle RSS); loadEveryCrc32c loads it for comparisons.
  if ((forced === undefined && !loaded.has("kernel")) || forced === "node-rs") {
    const fn = loadNodeRs();
    if (fn !== null && crc32cSelfTest(fn)) loaded.set("node-rs", fn);
  }
  return loaded;
}

/*
 * The fast implementation is chosen and loaded on the first checksum (or loadCrc32c), not when
 * this module is imported: opening the kernel (Deno.dlopen compiles its fast-call trampoline) and
 * running the self-tests cost a server about 4 MB of idle RSS that one which never checks a batch
 * need not pay (issue 17). Until then the bindings below say "portable"; they are live bindings,
 * updated by the load.
 */
let fast: Map<Crc32cImplementation, Crc32cFn> | undefined;
let fastFn: Crc32cFn | null = null;
let smallBytes = 0;

/** Which implementation `crc32c` uses for inputs of `crc32cSmallInputBytes` bytes and more. */
export let crc32cImplementation: Crc32cImplementation = "portable";

/**
 * Why the kernel is not in use (not built, no --allow-ffi, the CPU, its self-test, SLUICE_CRC32C),
 * or null when it is: for a start-up log or a bug report.
 */
export let crc32cKernelRefusal: string | null = null;

/**
 * Every implementation loaded in this process, fastest first, the portable code last: for tests
 * and benchmarks that compare them. With SLUICE_CRC32C set, only that one (and the portable code).
 */
export let crc32cImplementations: ReadonlyMap<Crc32cImplementation, Crc32cFn> = new Map([
  ["portable", crc32cPortable],
]);

/** The length from which `crc32c` calls the implementation in use rather than the portable code. */
export let crc32cSmallInputBytes = 0;

/**
 * Chooses and loads the fast implementation, once (the first `crc32c` call does it too); returns
 * the one in use. Synchronous on both runtimes.
 */
export function loadCrc32c(): Crc32cImplementation {
  if (fast !== undefined) return crc32cImplementation;
  fast = loadFast();
  crc32cImplementation = fast.keys().next().value ?? "portable";
  fastFn = fast.get(crc32cImplementation) ?? null;
  crc32cKernelRefusal = kernelRefusal;
  crc32cImplementations = new Map([...fast, ["portable", crc32cPortable]]);
  crc32cSmallInputBytes = crc32cImplementation === "kernel"
    ? KERNEL_SMALL_INPUT_BYTES
    : crc32cImplementation === "node-rs"
    ? NODE_RS_SMALL_INPUT_BYTES
    : 0;
  smallBytes = crc32cSmallInputBytes;
  return crc32cImplementation;
}

/**
 * crc32cImplementations plus the @node-rs/crc32 addon when the kernel left it unloaded (unless
 * SLUICE_CRC32C rules it out): for tests and benchmarks that compare every implementation.
 */
export function loadEveryCrc32c(): Promise<ReadonlyMap<Crc32cImplementation, Crc32cFn>> {
  loadCrc32c();
  const loaded = fast!;
  const forced = forcedImplementation();
  if (loaded.has("node-rs") || (forced !== undefined && forced !== "node-rs")) {
    return Promise.resolve(crc32cImplementations);
  }
  const fn = loadNodeRs();
  if (fn === null || !crc32cSelfTest(fn)) return Promise.resolve(crc32cImplementations);
  return Promise.resolve(new Map([...loaded, ["node-rs", fn], ["portable", crc32cPortable]]));
}

/**
 * Below this length `crc32c` uses the portable code even when a fast implementation is loaded: a
 * call across FFI or N-API has a fixed cost, while slice-by-8 costs ~0.8 ns/byte.
 *
 * node-rs: one N-API call costs ~130-180 ns in Deno 2.9 (argument conversion, typed-array
 * lookup). Measured with bench/crc32c_bench.ts (Deno 2.9.6, x86-64, 2 cores; avg per call,
 * portable / node-rs): 16 B 16 / 177 ns; 64 B 52 / 141 ns; 128 B 103 / 168 ns; 192 B 151 / 183 ns;
 * 256 B 215 / 190 ns; 384 B 297 / 208 ns. The lines cross between 192 and 256 bytes.
 *
 * kernel: one FFI call costs ~20 ns on Deno 2.9 (Deno.dlopen's fast calls) and on Bun 1.4 (bun:ffi):
 * best of 300 runs of 2,000 calls on a view at byteOffset 1, same machine, ns per call, portable /
 * kernel / node-rs, Deno then Bun: 8 B 15 / 21 / 117, 15 / 23 / 149; 24 B 25 / 25 / 119,
 * 24 / 24 / 154; 32 B 29 / 27 / 120, 29 / 24 / 150; 64 B 49 / 29 / 125, 48 / 28 / 155; 1 KiB
 * 617 / 71 / 289, 611 / 73 / 321. The lines cross between 24 and 32 bytes; every RecordBatch is
 * longer (its header after the CRC alone is 40 bytes), so batches go to the kernel.
 */
const NODE_RS_SMALL_INPUT_BYTES = 256;
const KERNEL_SMALL_INPUT_BYTES = 32;

/** CRC-32C of `data`, continuing from `initial` (the CRC of the bytes before it, default 0). */
export function crc32c(data: Uint8Array, initial = 0): number {
  if (fast === undefined) loadCrc32c();
  if (fastFn === null || data.length < smallBytes) return crc32cPortable(data, initial);
  return fastFn(data, initial);
}
