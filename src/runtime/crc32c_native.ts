/**
 * Loads Sluice's own CRC-32C kernel (native/crc32c.c, built by scripts/build_native.ts into
 * native/build/) through the runtime's FFI: Deno.dlopen on Deno (needs --allow-ffi), bun:ffi on
 * Bun. Any failure (no library built, another OS, no FFI permission, a CPU without SSE4.2 and
 * PCLMULQDQ) answers null with the reason; src/record/crc32c.ts then uses another implementation
 * and checks whatever it gets against known vectors before using it.
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { checkoutUrl } from "./checkout.ts";
import { loadModule } from "./lazy_module.ts";

/** CRC-32C of `data` continuing from `initial` (an unsigned 32-bit CRC); unsigned result. */
export type Crc32cFn = (data: Uint8Array, initial: number) => number;

export type KernelLoad =
  | { kernel: Crc32cFn; path: string }
  | { kernel: null; reason: string };

/** The library's file name on this OS, or undefined where the build script does not build one. */
export function crc32cLibraryName(platform: string = process.platform): string | undefined {
  if (platform === "linux") return "libsluice_crc32c.so";
  if (platform === "darwin") return "libsluice_crc32c.dylib";
  return undefined;
}

/** native/build/<library> beside this checkout's src/, when the module is a local file. */
export function crc32cLibraryPath(): string | undefined {
  const name = crc32cLibraryName();
  if (name === undefined) return undefined;
  const url = checkoutUrl(`native/build/${name}`);
  return url.protocol === "file:" ? fileURLToPath(url) : undefined;
}

/**
 * The kernel takes its length as a u32 (a fast FFI call on both runtimes); longer inputs are cut
 * into pieces of this many bytes, chained through `initial`.
 */
const CALL_BYTES_MAX = 1 << 30;

interface RawKernel {
  available(): number;
  crc(initial: number, data: Uint8Array, length: number): number;
}

/** The kernel's CRC over inputs of any length, `initial` signed or unsigned. */
function kernelFn(crc: RawKernel["crc"]): Crc32cFn {
  return (data, initial) => {
    const len = data.length;
    // Empty inputs never reach the library: a zero-length view may have no backing pointer.
    if (len === 0) return initial >>> 0;
    if (len <= CALL_BYTES_MAX) return crc(initial >>> 0, data, len) >>> 0;
    let state = initial >>> 0;
    for (let at = 0; at < len; at += CALL_BYTES_MAX) {
      const piece = data.subarray(at, Math.min(len, at + CALL_BYTES_MAX));
      state = crc(state, piece, piece.length) >>> 0;
    }
    return state;
  };
}

interface BunFfi {
  dlopen(path: string, symbols: Record<string, unknown>): {
    symbols: {
      sluice_crc32c_available(): number;
      sluice_crc32c(initial: number, data: Uint8Array, length: number): number;
    };
  };
}

/**
 * Opens the library synchronously (Deno.dlopen; bun:ffi through require), so that crc32c.ts can
 * load it on its first checksum rather than at start-up: on Deno the open alone compiles the fast
 * call's trampoline, about 3 MB of a server's idle RSS (issue 17).
 */
function openRaw(path: string): RawKernel {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Bun !== undefined) {
    const ffi = loadModule<BunFfi>("bun:ffi");
    const lib = ffi.dlopen(path, {
      sluice_crc32c_available: { args: [], returns: "i32" },
      sluice_crc32c: { args: ["u32", "ptr", "u32"], returns: "u32" },
    });
    const s = lib.symbols;
    return { available: () => s.sluice_crc32c_available(), crc: s.sluice_crc32c };
  }
  if (g.Deno !== undefined) {
    // Asked first, so that a run without --allow-ffi falls back instead of prompting on a terminal.
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
      throw new Error("FFI not allowed (--allow-ffi)");
    }
    const lib = Deno.dlopen(
      path,
      {
        sluice_crc32c_available: { parameters: [], result: "i32" },
        sluice_crc32c: { parameters: ["u32", "buffer", "u32"], result: "u32" },
      } as const,
    );
    const s = lib.symbols;
    return {
      available: () => s.sluice_crc32c_available(),
      crc: (initial, data, length) => s.sluice_crc32c(initial, data, length),
    };
  }
  throw new Error("no FFI on this runtime");
}

/**
 * Whether native code may be loaded without asking: on Deno, --allow-ffi was given (without it a
 * native addon's import would prompt on a terminal); elsewhere (Bun) always.
 */
export function ffiGranted(): boolean {
  const g = globalThis as { Deno?: unknown };
  if (g.Deno === undefined) return true;
  return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/** Opens the kernel at `path` (default crc32cLibraryPath()), or says why it cannot be used. */
export function loadCrc32cKernel(path = crc32cLibraryPath()): Promise<KernelLoad> {
  return Promise.resolve(loadCrc32cKernelSync(path));
}

/** loadCrc32cKernel, synchronously. */
export function loadCrc32cKernelSync(path = crc32cLibraryPath()): KernelLoad {
  if (path === undefined) return { kernel: null, reason: "no library for this platform" };
  let raw: RawKernel;
  try {
    raw = openRaw(path);
  } catch (err) {
    // Not built (no gcc), no --allow-ffi, or a library for another machine.
    return { kernel: null, reason: `cannot open ${path}: ${(err as Error).message}` };
  }
  if (raw.available() !== 1) {
    return { kernel: null, reason: "the CPU lacks SSE4.2 or PCLMULQDQ, or is not x86-64" };
  }
  return { kernel: kernelFn(raw.crc), path };
}

/**
 * The library's batch checker (native/batch_check.c): every batch's CRC-32C checked on a helper
 * thread while the caller writes the same bytes (src/storage/log_append.ts). One per isolate: it
 * owns a slot of the library's, with a helper thread of its own.
 */
export interface NativeBatchCheck {
  /** The library's slot this checker owns (0 for the first in the process). */
  readonly slot: number;
  /**
   * Hands `bytes` (RecordBatch v2 batches whose framing the caller checked) to the helper; false
   * when it did not take them (a job under way): the caller checks them itself. When true, `join`
   * must be called before `bytes` is let go of or its CRC-covered bytes change.
   */
  start(bytes: Uint8Array): boolean;
  /**
   * Waits for the job: -1 when every CRC matches, -2 when the batches do not tile, else the first
   * bad batch's byte position.
   */
  join(): number;
}

interface BatchCheckSymbols {
  sluice_batch_check_open(): number;
  sluice_batch_check_start(slot: number, data: Uint8Array, length: number): number;
  sluice_batch_check_join(slot: number): number;
}

interface BunBatchCheckFfi {
  dlopen(path: string, symbols: Record<string, unknown>): { symbols: BatchCheckSymbols };
}

function openBatchCheck(path: string): BatchCheckSymbols | null {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Bun !== undefined) {
    return loadModule<BunBatchCheckFfi>("bun:ffi").dlopen(path, {
      sluice_batch_check_open: { args: [], returns: "i32" },
      sluice_batch_check_start: { args: ["i32", "ptr", "u32"], returns: "i32" },
      sluice_batch_check_join: { args: ["i32"], returns: "i32" },
    }).symbols;
  }
  if (g.Deno !== undefined) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") return null;
    return Deno.dlopen(
      path,
      {
        sluice_batch_check_open: { parameters: [], result: "i32" },
        sluice_batch_check_start: { parameters: ["i32", "buffer", "u32"], result: "i32" },
        sluice_batch_check_join: { parameters: ["i32"], result: "i32" },
      } as const,
    ).symbols;
  }
  return null;
}

/**
 * Opens a batch checker of the library at `path` (default crc32cLibraryPath()), or null: no
 * library, no FFI, a library built before the checker existed, or no slot or thread left. A second
 * open of the file the kernel came from (the same mapping), made only when a log first writes a
 * large append, so that a server that never does pays nothing for it.
 */
export function loadNativeBatchCheckSync(path = crc32cLibraryPath()): NativeBatchCheck | null {
  if (path === undefined) return null;
  let s: BatchCheckSymbols | null;
  try {
    s = openBatchCheck(path);
  } catch {
    return null; // not built, or built before native/batch_check.c: the caller checks inline
  }
  if (s === null) return null;
  const slot = s.sluice_batch_check_open();
  if (slot < 0) return null;
  return {
    slot,
    start: (bytes) => s.sluice_batch_check_start(slot, bytes, bytes.length) === 1,
    join: () => s.sluice_batch_check_join(slot),
  };
}
