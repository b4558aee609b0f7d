/**
 * Helpers shared by the benches: deterministic pseudo-random numbers, bytes and strings
 * (xorshift32), so every run measures the same input (generation is setup, never inside a timed
 * section); the median/min/max figures, percentiles and rates they report; record size labels;
 * text tables; a promise with a deadline; and the command line of the suites that run on their own.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** Rates are decimal: 1 MB = 10^6 bytes (1 GB = 10^9 bytes). */
export const MB = 1e6;

/** xorshift32: a seeded PRNG returning uint32 values (seed 0 counts as 1, which xorshift needs). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** The same xorshift32 sequence as xorshift32(seed), scaled to floats in [0, 1). */
export function xorshiftFloat(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x1_0000_0000;
}

/**
 * `length` bytes, each the low byte of one xorshift32(seed) value: incompressible (no codec
 * shortcut recognises them), and the same on every run for a given seed. The step is written out
 * rather than calling xorshift32(): about twice as fast, which matters for the larger buffers.
 */
export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `count` ASCII strings of `length` letters and digits from xorshift32(seed), the same each run. */
export function asciiStrings(count: number, length: number, seed: number): string[] {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const next = xorshift32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    for (let j = 0; j < length; j++) s += alphabet[next() % alphabet.length];
    out.push(s);
  }
  return out;
}

/** median, min and max of the measured runs. */
export interface Figure {
  median: number;
  min: number;
  max: number;
}

/** The median of `values` (of the middle two for an even count). */
export function median(values: readonly number[]): number {
  return figure(values).median;
}

/** The median (of the middle two for an even count), min and max of `values`. */
export function figure(values: readonly number[]): Figure {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Nearest-rank percentile of an ascending array (a plain or a typed one). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/**
 * The figure of per-run rates: run i did `amounts[i]` in `seconds[i]`, or, when `amounts` is one
 * number, every run did that same amount.
 */
export function rates(amounts: number | readonly number[], seconds: readonly number[]): Figure {
  return figure(seconds.map((s, i) => (typeof amounts === "number" ? amounts : amounts[i]) / s));
}

/** p50, p99 and max of `values`, which this sorts in place (ascending). */
export function latencyOf(values: number[]): { p50: number; p99: number; max: number } {
  values.sort((a, b) => a - b);
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values[values.length - 1],
  };
}

/**
 * `100B`, `1KiB`, `10KiB`: a record value size as scenario and baseline names spell it (KiB only
 * for whole multiples of 1,024, so every label is an integer and a unit).
 */
export function sizeLabel(bytes: number): string {
  return bytes >= KiB && bytes % KiB === 0 ? `${bytes / KiB}KiB` : `${bytes}B`;
}

/** `n` with exactly `digits` decimals and thousands separators (en-US). */
export function fixed(n: number, digits: number): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Rows as text columns, each padded to its widest cell, two spaces apart; row 0 is the header. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd())
    .join("\n");
}

/** `promise`, or a rejection naming `what` after `ms`; `onTimeout` runs first (e.g. a destroy). */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no answer in ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a suite's run function takes (storage, http, groups). */
export interface BenchRunOptions {
  quick: boolean;
  /** Runs only the groups named (the suite's *_GROUPS); all when absent or empty. */
  scenarios?: readonly string[];
  /** Progress lines; default console.error. */
  log?: (line: string) => void;
}

/** Whether `opts` selects `group`: named in opts.scenarios, or no scenarios named at all. */
export function wantsGroup(opts: BenchRunOptions, group: string): boolean {
  return opts.scenarios === undefined || opts.scenarios.length === 0 ||
    opts.scenarios.includes(group);
}

/** opts.log, or console.error. */
export function progressLog(opts: BenchRunOptions): (line: string) => void {
  return opts.log ?? ((line: string) => console.error(line));
}

/** What http_bench.ts and group_bench.ts take on their command line when run on their own. */
export interface CliOptions {
  quick: boolean;
  scenarios: string[] | undefined;
  cpuProfileDir: string | undefined;
}

/**
 * `--quick` (or SLUICE_BENCH_QUICK=1), `--scenario A[,B...]` and `--cpu-prof-dir DIR` from `args`
 * (the arguments after the script).
 */
export function cliOptions(
  args: readonly string[],
  env: Record<string, string | undefined>,
): CliOptions {
  const valueOf = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const scenario = valueOf("--scenario");
  return {
    quick: args.includes("--quick") || env.SLUICE_BENCH_QUICK === "1",
    scenarios: scenario === undefined ? undefined : scenario.split(","),
    cpuProfileDir: valueOf("--cpu-prof-dir"),
  };
}
