/**
 * Seeded fuzzing for Sluice: a small PRNG wrapper, byte mutators for RecordBatch v2 (bit flips,
 * byte inserts and deletes, length-field tweaks, truncations, splices of valid batches, CRC
 * re-sealing so mutations reach the record decoder), random JSON bodies, query strings and path
 * segments, and the three fuzz targets with their oracles:
 *
 * 1. {@link decoderCase}: decodeRecordBatch / decodeBatches / checkBatch / decompress only return
 *    or throw SluiceError, and each case finishes within {@link CASE_SLOW_MS}.
 * 2. {@link LogFuzzer}: PartitionLog.append of mutated batches; a rejected append writes nothing
 *    (logEndOffset and the bytes on disk unchanged), an accepted one reads back byte-identical
 *    from byte 8 on (bytes 0-7 are the baseOffset the log patches).
 * 3. {@link HttpFuzzer}: the real server; never a 5xx, never a hang (see {@link REQUEST_TIMEOUT_MS}),
 *    every error body has API.md's shape, and high watermarks only move by what accepted
 *    requests reported (checked every {@link HttpFuzzer.checkEvery} requests, with the rejected
 *    requests since the last check in the failure message).
 *
 * Every case runs from its own seed ({@link caseSeed}), printed on failure, so one case replays
 * alone: `deno run -A scripts/fuzz.ts --target decoder --replay SEED`. Not a test file.
 */
import {
  BATCH_LENGTH_AT,
  batchSizeAt,
  CHECK_CRC,
  checkBatch,
  CRC_AT,
  decodeBatches,
  decodeRecordBatch,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_AT,
  type RecordInput,
  RECORDS_COUNT_AT,
  viewOf,
} from "../../src/record/record_batch.ts";
import {
  COMPRESSION_CODECS,
  type CompressionCodec,
  decompress,
} from "../../src/record/compression.ts";
import { crc32c } from "../../src/record/crc32c.ts";
import { isSluiceError, SluiceError } from "../../src/errors.ts";
import { BATCH_BYTES_MAX } from "../../src/limits.ts";
import { prng } from "../test_util.ts";

/**
 * A decoder case slower than this is reported: every input here is under 64 KiB, so a case near
 * this bound is a pathology (a loop that does not advance, quadratic work), not a slow machine. A
 * 330-byte gzip case took 177 ms on a 2-core machine at load 5, so the bound is well above that.
 */
export const CASE_SLOW_MS = 1000;
/**
 * A hang is a server that stops answering, not a slow request: while a request is unanswered the
 * fuzzer asks /healthz every {@link HANG_PROBE_EVERY_MS}; the request is a hang when a probe gets
 * no answer within this bound (the server is stalled), or when it is still unanswered after
 * {@link REQUEST_STUCK_MS} while the server answers probes (the request alone is stuck). A slow
 * machine makes a big request slower (a create of 1,024 partitions took 2.4 s at load 5 on two
 * cores before creates stopped making files) and its probes too, without failing the run.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How often an unanswered request's server is probed at /healthz. */
export const HANG_PROBE_EVERY_MS = 1_000;
/** A request unanswered this long while its server answers probes is stuck (a lost wakeup). */
export const REQUEST_STUCK_MS = 300_000;

// ---------------------------------------------------------------------------------------------
// Random numbers

/** A seeded generator with the helpers the mutators need (mulberry32 from test_util). */
export class Rng {
  readonly #next: () => number;
  constructor(readonly seed: number) {
    this.#next = prng(seed);
  }
  u32(): number {
    return this.#next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.#next() / 0x1_0000_0000) * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#next() & 0xff;
    return out;
  }
}

/** Seed of case `index` of a run: a splitmix-style mix, so neighbouring cases differ widely. */
export function caseSeed(runSeed: number, index: number): number {
  let z = (runSeed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The run seed: SLUICE_FUZZ_SEED (a number, or anything else for a random one) or `fixed`. */
export function runSeedFromEnv(fixed: number): number {
  const env = Deno.env.get("SLUICE_FUZZ_SEED");
  if (env === undefined) return fixed;
  const n = Number(env);
  return Number.isInteger(n) && env !== "" ? n >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Valid batches

const CODECS: readonly CompressionCodec[] = [
  COMPRESSION_CODECS.none,
  COMPRESSION_CODECS.gzip,
  COMPRESSION_CODECS.lz4,
];

function randomText(rng: Rng, maxChars: number): string {
  const alphabets = ["abcdefghij", "0123456789-_.", "é☃\u{1F600}\u0000\uFFFD"];
  let s = "";
  const n = rng.int(maxChars + 1);
  for (let i = 0; i < n; i++) {
    const a = rng.pick(alphabets);
    s += [...a][rng.int([...a].length)];
  }
  return s;
}

/** A valid batch of 1-8 small records, codec none, gzip or lz4 (or `codec`). */
export function validBatch(rng: Rng, codec?: CompressionCodec): Uint8Array {
  const records: RecordInput[] = [];
  const count = 1 + rng.int(8);
  for (let i = 0; i < count; i++) {
    records.push({
      key: rng.chance(0.3) ? null : randomText(rng, 12),
      value: rng.chance(0.1)
        ? null
        : rng.chance(0.5)
        ? randomText(rng, 40)
        : rng.bytes(rng.int(64)),
      headers: rng.chance(0.3)
        ? [{ key: randomText(rng, 6), value: rng.chance(0.2) ? null : rng.bytes(rng.int(8)) }]
        : undefined,
      timestamp: rng.chance(0.5) ? 1_700_000_000_000 + rng.int(1_000_000) : undefined,
    });
  }
  return encodeRecordBatch(records, {
    compression: codec ?? rng.pick(CODECS),
    timestampMs: 1_700_000_000_000,
    baseOffset: rng.chance(0.5) ? 0 : rng.int(1_000_000),
  });
}

// ---------------------------------------------------------------------------------------------
// Byte mutators. Each returns a new array; the input is never changed.

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Values that sit on the boundaries length and count checks compare against. */
const INTERESTING_INT32 = [
  0,
  1,
  -1,
  48,
  49,
  50,
  0x7f,
  0x80,
  0xff,
  0x7fff,
  0xffff,
  0x7fff_ffff,
  -0x8000_0000,
  BATCH_BYTES_MAX,
  BATCH_BYTES_MAX - 11,
];

export const MUTATORS = {
  bitFlip(rng: Rng, b: Uint8Array): Uint8Array {
    const out = b.slice();
    const flips = 1 + rng.int(4);
    for (let i = 0; i < flips && out.length > 0; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  byteSet(rng: Rng, b: Uint8Array): Uint8Array {
    const out = b.slice();
    if (out.length > 0) out[rng.int(out.length)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
    return out;
  },
  byteInsert(rng: Rng, b: Uint8Array): Uint8Array {
    const at = rng.int(b.length + 1);
    return concat(b.subarray(0, at), rng.bytes(1 + rng.int(8)), b.subarray(at));
  },
  byteDelete(rng: Rng, b: Uint8Array): Uint8Array {
    const at = rng.int(b.length + 1);
    return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(8))));
  },
  /** Overwrites one of the header's int32 counts or lengths with a boundary value or a nudge. */
  lengthTweak(rng: Rng, b: Uint8Array): Uint8Array {
    const out = b.slice();
    const at = rng.pick([BATCH_LENGTH_AT, RECORDS_COUNT_AT, LAST_OFFSET_DELTA_AT]);
    if (out.length < at + 4) return out;
    const dv = viewOf(out);
    const value = rng.chance(0.5)
      ? rng.pick(INTERESTING_INT32)
      : dv.getInt32(at) + rng.pick([-2, -1, 1, 2, 7, -7, 61, -61]);
    dv.setInt32(at, value | 0);
    return out;
  },
  /** Overwrites a byte in the records section with a varint-ish value (long runs, sign bits). */
  varintTweak(rng: Rng, b: Uint8Array): Uint8Array {
    const out = b.slice();
    if (out.length <= 61) return out;
    const at = 61 + rng.int(out.length - 61);
    const run = rng.pick([[0x80], [0xff, 0xff, 0xff, 0xff, 0x0f], [0x01], [0x7f], [0x00]]);
    for (let i = 0; i < run.length && at + i < out.length; i++) out[at + i] = run[i];
    return out;
  },
  truncate(rng: Rng, b: Uint8Array): Uint8Array {
    return b.slice(0, rng.int(b.length + 1));
  },
  /** Part of `b` followed by part of another valid batch. */
  splice(rng: Rng, b: Uint8Array): Uint8Array {
    const other = validBatch(rng);
    return concat(b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length + 1)));
  },
  /** `b` then a whole second batch, possibly cut short. */
  appendBatch(rng: Rng, b: Uint8Array): Uint8Array {
    const other = validBatch(rng);
    return concat(b, rng.chance(0.5) ? other : other.subarray(0, rng.int(other.length)));
  },
  duplicateChunk(rng: Rng, b: Uint8Array): Uint8Array {
    const from = rng.int(b.length + 1);
    const to = Math.min(b.length, from + rng.int(32));
    const at = rng.int(b.length + 1);
    return concat(b.subarray(0, at), b.subarray(from, to), b.subarray(at));
  },
  /** Replaces the compressed section's bytes with random ones (the codec still claims it). */
  garbleSection(rng: Rng, b: Uint8Array): Uint8Array {
    if (b.length <= 61) return b.slice();
    return concat(b.subarray(0, 61), rng.bytes(rng.int(b.length - 61 + 16)));
  },
} as const;

export type MutatorName = keyof typeof MUTATORS;
export const MUTATOR_NAMES = Object.keys(MUTATORS) as MutatorName[];

/** Rewrites the CRC and batchLength of the one batch in `b` so checkBatch lets it through. */
export function reseal(b: Uint8Array): Uint8Array {
  if (b.length < 61) return b;
  const dv = viewOf(b);
  dv.setInt32(BATCH_LENGTH_AT, b.length - 12);
  dv.setUint32(CRC_AT, crc32c(b.subarray(21)));
  return b;
}

/** 1-3 random mutations of `b`; `applied` collects their names for the failure message. */
export function mutate(rng: Rng, b: Uint8Array, applied: string[] = []): Uint8Array {
  let out = b;
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const name = rng.pick(MUTATOR_NAMES);
    applied.push(name);
    out = MUTATORS[name](rng, out);
  }
  return out;
}

/** A fuzz input: a mutated valid batch (half of them resealed), or random bytes. */
export function fuzzBatchBytes(rng: Rng, applied: string[]): Uint8Array {
  const roll = rng.int(10);
  if (roll === 0) {
    applied.push("random");
    return rng.bytes(rng.int(200));
  }
  const codec = rng.pick(CODECS);
  applied.push(`codec=${codec}`);
  let b = mutate(rng, validBatch(rng, codec), applied);
  // A CRC catches nearly every mutation; resealing sends half of them on to the record decoder.
  if (roll >= 5) {
    applied.push("reseal");
    b = reseal(b);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Target 1: the decoder

export interface CaseFailure {
  target: string;
  seed: number;
  message: string;
}

function describeThrow(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
}

function hexPreview(b: Uint8Array): string {
  const shown = Array.from(b.subarray(0, 96), (x) => x.toString(16).padStart(2, "0")).join("");
  return `${b.length} bytes ${shown}${b.length > 96 ? "..." : ""}`;
}

/** Runs `fn`; returns a message unless it returned or threw a SluiceError. */
function onlySluiceErrors(what: string, fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof SluiceError) return undefined;
    return `${what} threw ${describeThrow(err)}`;
  }
}

/** One decoder case from `seed`; undefined when every oracle holds, else what failed. */
export function decoderCase(seed: number): string | undefined {
  const rng = new Rng(seed);
  const applied: string[] = [];
  const input = fuzzBatchBytes(rng, applied);
  const started = performance.now();
  const problems: string[] = [];
  const note = (p: string | undefined) => {
    if (p !== undefined) problems.push(p);
  };
  note(onlySluiceErrors("decodeRecordBatch", () => decodeRecordBatch(input)));
  note(
    onlySluiceErrors("decodeRecordBatch(verifyCrc=false)", () => decodeRecordBatch(input, false)),
  );
  note(onlySluiceErrors("decodeBatches", () => decodeBatches(input)));
  note(onlySluiceErrors("checkBatch", () => {
    const checked = checkBatch(input, viewOf(input), 0, input.length, BATCH_BYTES_MAX, CHECK_CRC);
    if (typeof checked === "number" && input.length > 61) {
      // Passed its check: the codec path it names must only return or throw SluiceError.
      const codec = viewOf(input).getInt16(21) & 7;
      decompress(codec, input.subarray(61, checked));
    }
  }));
  note(onlySluiceErrors("decompress(gzip, section)", () => decompress(1, input.subarray(61))));
  note(onlySluiceErrors("decompress(lz4, section)", () => decompress(3, input.subarray(61))));
  note(onlySluiceErrors("decompress(lz4, whole)", () => decompress(3, input)));
  const elapsedMs = performance.now() - started;
  if (elapsedMs > CASE_SLOW_MS) problems.push(`case took ${elapsedMs.toFixed(0)} ms`);
  if (problems.length === 0) return undefined;
  return `${problems.join("; ")} [mutations: ${applied.join(",")}] input ${hexPreview(input)}`;
}

// ---------------------------------------------------------------------------------------------
// Target 2: PartitionLog.append

/** The parts of PartitionLog the log fuzzer uses (keeps this file free of storage imports). */
export interface FuzzLog {
  readonly logEndOffset: number;
  readonly sizeBytes: number;
  append(batches: Uint8Array): Promise<{ baseOffset: number; lastOffset: number }>;
  read(offset: number, maxBytes?: number): { bytes: Uint8Array } | undefined;
}

async function logFileBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".log")) total += (await Deno.stat(`${dir}/${e.name}`)).size;
  }
  return total;
}

/** One append case against `log` (in `dir`); undefined when the oracles hold. */
export async function logCase(
  log: FuzzLog,
  dir: string,
  seed: number,
): Promise<string | undefined> {
  const rng = new Rng(seed);
  const applied: string[] = [];
  const input = rng.chance(0.1) ? validBatch(rng) : fuzzBatchBytes(rng, applied);
  const original = input.slice(); // append patches baseOffset in place
  const endBefore = log.logEndOffset;
  const sizeBefore = log.sizeBytes;
  const fileBefore = await logFileBytes(dir);
  let result: { baseOffset: number; lastOffset: number };
  try {
    result = await log.append(input);
  } catch (err) {
    const where = `[mutations: ${applied.join(",")}] input ${hexPreview(original)}`;
    if (!isSluiceError(err)) return `append threw ${describeThrow(err)} ${where}`;
    const fileAfter = await logFileBytes(dir);
    if (
      log.logEndOffset !== endBefore || log.sizeBytes !== sizeBefore || fileAfter !== fileBefore
    ) {
      return `rejected append (${err.code}) changed the log: logEndOffset ${endBefore} -> ` +
        `${log.logEndOffset}, sizeBytes ${sizeBefore} -> ${log.sizeBytes}, file bytes ` +
        `${fileBefore} -> ${fileAfter} ${where}`;
    }
    return undefined;
  }
  const where = `[mutations: ${applied.join(",")}] input ${hexPreview(original)}`;
  if (result.baseOffset !== endBefore) return `accepted append at ${result.baseOffset} ${where}`;
  const read = log.read(result.baseOffset, original.length);
  if (read === undefined) return `accepted append reads back nothing ${where}`;
  const back = read.bytes.subarray(0, original.length);
  if (back.length !== original.length) {
    return `accepted append of ${original.length} bytes reads back ${back.length} ${where}`;
  }
  // Each batch's bytes 0-7 are the baseOffset the log assigns and 12-15 the partition leader
  // epoch it stamps (0: a single node; the CRC does not cover either); every other byte is the
  // client's.
  const patched = new Set<number>();
  for (let pos = 0; pos < original.length; pos += batchSizeAt(viewOf(original), pos)) {
    for (let i = 0; i < 8; i++) patched.add(pos + i);
    for (let i = 12; i < 16; i++) patched.add(pos + i);
    if (viewOf(back).getInt32(pos + 12) !== 0) {
      return `accepted append reads back leader epoch ${viewOf(back).getInt32(pos + 12)} ${where}`;
    }
  }
  for (let i = 0; i < original.length; i++) {
    if (!patched.has(i) && back[i] !== original[i]) {
      return `accepted append reads back byte ${i} as ${back[i]}, wrote ${original[i]} ${where}`;
    }
  }
  if (log.logEndOffset !== result.lastOffset + 1) {
    return `logEndOffset ${log.logEndOffset} after an append ending at ${result.lastOffset} ${where}`;
  }
  // What a consumer does next: a batch the log accepted decodes or fails as a SluiceError.
  return onlySluiceErrors("decodeBatches(read back)", () => decodeBatches(read.bytes));
}

// ---------------------------------------------------------------------------------------------
// Random JSON, query strings, path segments

const JSON_STRINGS = [
  "",
  "orders",
  "fz-a",
  "fz-b",
  ".",
  "..",
  "a".repeat(250),
  "../../etc/passwd",
  "\u0000",
  "é☃",
  "base64",
  "json",
  "string",
  "earliest",
  "latest",
  "range",
  "roundrobin",
  "lz4",
  "gzip",
  "always",
  "__proto__",
  "constructor",
  "AAAA",
  "!!!",
];
const JSON_NUMBERS = [0, -1, 1, 3, 1024, 1025, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, 1e308, -0];

/** Any JSON value, nested up to `depth`. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const kind = rng.int(depth <= 0 ? 5 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(JSON_NUMBERS);
    case 3:
      return rng.pick(JSON_STRINGS);
    case 4:
      return randomText(rng, 20);
    case 5: {
      const n = rng.int(4);
      return Array.from({ length: n }, () => randomJson(rng, depth - 1));
    }
    default: {
      const o: Record<string, unknown> = {};
      const keys = [...JSON_KEYS, randomText(rng, 8)];
      for (let i = rng.int(5); i > 0; i--) o[rng.pick(keys)] = randomJson(rng, depth - 1);
      return o;
    }
  }
}

const JSON_KEYS = [
  "name",
  "partitions",
  "config",
  "records",
  "key",
  "value",
  "headers",
  "partition",
  "timestamp",
  "valueEncoding",
  "keyEncoding",
  "topics",
  "assignor",
  "sessionTimeoutMs",
  "autoOffsetReset",
  "memberId",
  "generation",
  "offsets",
  "topic",
  "offset",
  "retention.ms",
  "segment.bytes",
  "max.message.bytes",
  "compression.type",
  "flush.policy",
];

/** Replaces, deletes or adds one value somewhere inside a JSON value. */
export function mutateJson(rng: Rng, value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== "object" || rng.chance(0.25)) {
    return randomJson(rng, 2);
  }
  if (Array.isArray(value)) {
    const out = value.slice();
    const roll = rng.int(5);
    if (out.length === 0 || roll === 0) out.push(randomJson(rng, 2));
    else if (roll === 1) out.splice(rng.int(out.length), 1);
    else {
      const i = rng.int(out.length);
      out[i] = mutateJson(rng, out[i], depth + 1);
    }
    return out;
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(out);
  const roll = rng.int(5);
  if (keys.length === 0 || roll === 0) out[rng.pick(JSON_KEYS)] = randomJson(rng, 2);
  else if (roll === 1) delete out[rng.pick(keys)];
  else {
    const k = rng.pick(keys);
    out[k] = mutateJson(rng, out[k], depth + 1);
  }
  return out;
}

/** Text mutations of a serialized body: truncations, stray bytes, BOMs, invalid UTF-8. */
export function mutateBodyText(rng: Rng, text: string): Uint8Array {
  const b = new TextEncoder().encode(text);
  switch (rng.int(5)) {
    case 0:
      return b.slice(0, rng.int(b.length + 1));
    case 1:
      return concat(new Uint8Array([0xef, 0xbb, 0xbf]), b);
    case 2:
      return MUTATORS.byteInsert(rng, b);
    case 3:
      return concat(b, new Uint8Array([0xc3]));
    default:
      return MUTATORS.bitFlip(rng, b);
  }
}

/** Path segments, already encoded for a URL (fetch() keeps %2e%2e; a raw request keeps `..`). */
export const PATH_SEGMENTS = [
  "fz-a",
  "fz-b",
  "nope",
  "",
  ".",
  "..",
  "%2e%2e",
  "%2E%2E%2F",
  "..%2f..%2fetc",
  "%2fetc%2fpasswd",
  "%00",
  "%ff",
  "%",
  "%zz",
  "a".repeat(300),
  "0",
  "1",
  "2",
  "3",
  "-1",
  "01",
  "1e3",
  "4294967296",
  "999999999",
  "9999999999",
  "%20",
  "x%3Fy",
  "%E2%98%83",
  "records",
  "partitions",
  "members",
  "offsets",
];

export function randomSegment(rng: Rng): string {
  if (rng.chance(0.8)) return rng.pick(PATH_SEGMENTS);
  return encodeURIComponent(randomText(rng, 10));
}

const QUERY_KEYS = [
  "offset",
  "maxBytes",
  "maxWaitMs",
  "minBytes",
  "timestamp",
  "partition",
  "x",
  "",
];
const QUERY_VALUES = [
  "",
  "0",
  "1",
  "-1",
  "earliest",
  "latest",
  "1e3",
  "0x10",
  "1.5",
  "9007199254740993",
  "99999999999999999",
  "67108864",
  "67108865",
  "NaN",
  "%00",
  "%",
  "a%20b",
  "200",
  "30001",
];

/**
 * A query string (with its `?`, or empty). maxWaitMs and minBytes stay off waits over 300 ms so
 * a legal long poll is not mistaken for a hang.
 */
export function randomQuery(rng: Rng): string {
  const n = rng.int(4);
  if (n === 0) return rng.chance(0.5) ? "" : "?";
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = rng.pick(QUERY_KEYS);
    let value = rng.chance(0.8) ? rng.pick(QUERY_VALUES) : encodeURIComponent(randomText(rng, 6));
    const asNumber = Number(value);
    if (key === "maxWaitMs" && /^\d+$/.test(value) && asNumber > 300 && asNumber <= 30_000) {
      value = "50";
    }
    parts.push(rng.chance(0.1) ? key : `${key}=${value}`);
  }
  return `?${parts.join(rng.chance(0.9) ? "&" : ";")}`;
}

// ---------------------------------------------------------------------------------------------
// Target 3: the HTTP API

/** The parts of the test harness's RunningServer the HTTP fuzzer uses. */
export interface FuzzServer {
  url: string;
}

/** Topics the HTTP fuzzer creates up front, with their partition counts. */
export const FIXTURE_TOPICS: Readonly<Record<string, number>> = { "fz-a": 1, "fz-b": 3 };

const JSON_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/jsonx",
  "text/plain",
  "",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/vnd.kafka.recordbatch",
];
const BATCH_TYPES = [
  "application/vnd.kafka.recordbatch",
  "application/vnd.kafka.recordbatch; v=2",
  "Application/Vnd.Kafka.RecordBatch",
  "application/octet-stream",
  "application/json",
  "",
];
const METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"];

interface Sent {
  method: string;
  path: string;
  status: number;
  code?: string;
}

/** What one response told the fuzzer: its status, parsed JSON body and content type. */
interface Reply {
  status: number;
  body: unknown;
  text: string;
  type: string;
}

function errorShapeProblem(r: Reply): string | undefined {
  const b = r.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  if (b === null || typeof b !== "object" || typeof b.error !== "object" || b.error === null) {
    return `error body is not {"error":{...}}: ${r.text.slice(0, 200)}`;
  }
  if (typeof b.error.code !== "string" || !/^[A-Z][A-Z0-9_]*$/.test(b.error.code)) {
    return `error.code ${JSON.stringify(b.error.code)} is not UPPER_SNAKE`;
  }
  if (typeof b.error.message !== "string" || b.error.message.length === 0) {
    return "error.message is not a non-empty string";
  }
  return undefined;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Fuzzes one running server. Keeps the high watermark every fixture partition should have (moved
 * only by what accepted produce requests reported) and compares it with the server's every
 * `checkEvery` cases.
 */
export class HttpFuzzer {
  readonly #expected = new Map<string, number[]>();
  #topicNames = new Set<string>();
  #since: Sent[] = [];
  cases = 0;
  requests = 0;

  constructor(readonly server: FuzzServer, readonly checkEvery = 20) {}

  /** Creates the fixture topics (with a record each) and records the starting state. */
  async setup(): Promise<void> {
    for (const [name, partitions] of Object.entries(FIXTURE_TOPICS)) {
      const created = await this.#send("POST", "/v1/topics", {
        type: "application/json",
        body: JSON.stringify({ name, partitions }),
      });
      if (created.status !== 201) throw new Error(`creating ${name}: ${created.text}`);
    }
    const list = await this.#send("GET", "/v1/topics", {});
    const topics = (list.body as { topics: { name: string }[] }).topics;
    this.#topicNames = new Set(topics.map((t) => t.name));
    for (const name of Object.keys(FIXTURE_TOPICS)) {
      this.#expected.set(name, await this.#watermarks(name));
    }
  }

  async #watermarks(topic: string): Promise<number[]> {
    const r = await this.#send("GET", `/v1/topics/${topic}`, {});
    if (r.status !== 200) throw new Error(`GET /v1/topics/${topic}: ${r.status} ${r.text}`);
    const parts = (r.body as { partitions: { partition: number; highWatermark: number }[] })
      .partitions;
    return parts.map((p) => p.highWatermark);
  }

  /** Compares the server's topics and watermarks with the model; a message on a mismatch. */
  async check(): Promise<string | undefined> {
    const since = this.#since;
    this.#since = [];
    const list = await this.#send("GET", "/v1/topics", {});
    const names = new Set((list.body as { topics: { name: string }[] }).topics.map((t) => t.name));
    const log = since.map((s) => `${s.method} ${s.path} -> ${s.status} ${s.code ?? ""}`).join(
      "\n  ",
    );
    const extra = [...names].filter((n) => !this.#topicNames.has(n));
    const missing = [...this.#topicNames].filter((n) => !names.has(n));
    if (extra.length > 0 || missing.length > 0) {
      this.#topicNames = names;
      return `topics changed: +[${extra}] -[${missing}]; requests since the last check:\n  ${log}`;
    }
    for (const [topic, expected] of this.#expected) {
      const actual = await this.#watermarks(topic);
      if (actual.join() !== expected.join()) {
        this.#expected.set(topic, actual);
        return `${topic} high watermarks ${actual} but accepted requests account for ${expected}; ` +
          `requests since the last check:\n  ${log}`;
      }
    }
    return undefined;
  }

  async #send(
    method: string,
    path: string,
    init: { type?: string; body?: BodyInit; accept?: string; raw?: boolean },
  ): Promise<Reply> {
    this.requests++;
    const headers: Record<string, string> = {};
    if (init.type !== undefined && init.type !== "") headers["content-type"] = init.type;
    if (init.accept !== undefined) headers["accept"] = init.accept;
    if (init.raw) {
      return await this.#sendRaw(method, path, headers, init.body as string | undefined);
    }
    const abort = new AbortController();
    const res = await this.#whileAlive(
      fetch(`${this.server.url}${path}`, {
        method,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : init.body,
        signal: abort.signal,
      }),
      abort,
    );
    const type = res.headers.get("content-type") ?? "";
    if (type.startsWith("text/event-stream")) {
      await res.body?.cancel();
      return { status: res.status, body: undefined, text: "", type };
    }
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, body, text, type };
  }

  /**
   * `pending`'s answer, probing /healthz while it is unanswered (see REQUEST_TIMEOUT_MS): rejects
   * with a TimeoutError (and aborts the request) when the server stops answering probes or the
   * request is stuck.
   */
  async #whileAlive(pending: Promise<Response>, abort: AbortController): Promise<Response> {
    const started = Date.now();
    const answered = pending.then((res) => ({ res }));
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), HANG_PROBE_EVERY_MS);
      });
      const done = await Promise.race([answered, tick]).finally(() => clearTimeout(timer));
      if (done !== undefined) return done.res;
      let why: string | undefined;
      if (Date.now() - started > REQUEST_STUCK_MS) {
        why = `unanswered after ${REQUEST_STUCK_MS} ms while the server answers /healthz`;
      } else {
        try {
          const probe = await fetch(`${this.server.url}/healthz`, {
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          await probe.body?.cancel();
        } catch (err) {
          why = `the server answered no /healthz probe within ${REQUEST_TIMEOUT_MS} ms: ${err}`;
        }
      }
      if (why !== undefined) {
        abort.abort();
        await answered.catch(() => {});
        throw new DOMException(why, "TimeoutError");
      }
    }
  }

  /** One request exactly as written over a fresh connection, for targets fetch() normalizes. */
  async #sendRaw(
    method: string,
    target: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Reply> {
    const { hostname, port } = new URL(this.server.url);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    let chunks = "";
    try {
      const bodyBytes = body === undefined ? undefined : new TextEncoder().encode(body);
      let head =
        `${method} ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      if (bodyBytes) head += `Content-Length: ${bodyBytes.length}\r\n`;
      await conn.write(
        concat(new TextEncoder().encode(`${head}\r\n`), bodyBytes ?? new Uint8Array()),
      );
      const decoder = new TextDecoder();
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks += decoder.decode(buf.subarray(0, n), { stream: true });
        // The stream route never ends by itself: its status line is all this needs.
        if (/content-type: text\/event-stream/i.test(chunks)) break;
      }
    } catch (err) {
      throw new Error(`raw ${method} ${target}: no full response in ${REQUEST_TIMEOUT_MS} ms`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* closed by the timer */ }
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(chunks)?.[1] ?? 0);
    const split = chunks.indexOf("\r\n\r\n");
    const headText = chunks.slice(0, split);
    let text = chunks.slice(split + 4);
    if (/transfer-encoding: chunked/i.test(headText)) {
      let out = "";
      for (let pos = 0;;) {
        const eol = text.indexOf("\r\n", pos);
        const size = parseInt(text.slice(pos, eol), 16);
        if (!(size > 0)) break;
        out += text.slice(eol + 2, eol + 2 + size);
        pos = eol + 2 + size + 2;
      }
      text = out;
    }
    const type = /content-type: ([^\r\n]*)/i.exec(headText)?.[1] ?? "";
    let parsed: unknown = undefined;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch { /* not JSON */ }
    return { status, body: parsed, text, type };
  }

  /** Sends one request and applies the per-response oracles. */
  async #request(
    method: string,
    path: string,
    init: { type?: string; body?: BodyInit; accept?: string; raw?: boolean },
  ): Promise<{ reply: Reply; problem?: string }> {
    let reply: Reply;
    try {
      reply = await this.#send(method, path, init);
    } catch (err) {
      const what = err instanceof DOMException && err.name === "TimeoutError"
        ? `a hang: ${err.message}`
        : describeThrow(err);
      return { reply: { status: 0, body: undefined, text: "", type: "" }, problem: what };
    }
    const code = (reply.body as { error?: { code?: string } } | undefined)?.error?.code;
    this.#since.push({ method, path, status: reply.status, code });
    if (this.#since.length > 200) this.#since.shift();
    if (reply.status === 0) return { reply, problem: "no status line" };
    if (reply.status >= 500) return { reply, problem: `status ${reply.status}: ${reply.text}` };
    if (reply.status >= 400 && method !== "HEAD") {
      const shape = errorShapeProblem(reply);
      if (shape !== undefined) return { reply, problem: `status ${reply.status}: ${shape}` };
    }
    return { reply };
  }

  /** One case from `seed`: undefined when every oracle held, else what failed and how. */
  async run(seed: number): Promise<string | undefined> {
    const rng = new Rng(seed);
    this.cases++;
    const kind = rng.int(6);
    const sent: string[] = [];
    let problem: string | undefined;
    const go = async (
      method: string,
      path: string,
      init: { type?: string; body?: BodyInit; accept?: string; raw?: boolean } = {},
    ): Promise<Reply> => {
      const bodyNote = typeof init.body === "string"
        ? ` body ${init.body.slice(0, 300)}`
        : init.body instanceof Uint8Array
        ? ` body ${hexPreview(init.body)}`
        : "";
      sent.push(`${method} ${path} type=${JSON.stringify(init.type ?? "")}${bodyNote}`);
      const { reply, problem: p } = await this.#request(method, path, init);
      problem ??= p;
      return reply;
    };
    switch (kind) {
      case 0:
        await this.#createTopic(rng, go);
        break;
      case 1:
        await this.#produceJson(rng, go);
        break;
      case 2:
        await this.#produceBatches(rng, go);
        break;
      case 3:
        await this.#fetch(rng, go);
        break;
      case 4:
        await this.#groups(rng, go);
        break;
      default:
        await this.#randomPath(rng, go);
    }
    if (problem === undefined && this.cases % this.checkEvery === 0) problem = await this.check();
    return problem === undefined ? undefined : `${problem}\n  sent: ${sent.join("\n  sent: ")}`;
  }

  #topicSegment(rng: Rng): string {
    return rng.chance(0.8) ? rng.pick(Object.keys(FIXTURE_TOPICS)) : randomSegment(rng);
  }

  #jsonBody(rng: Rng, base: unknown): { type: string; body: BodyInit } {
    const type = rng.chance(0.8) ? "application/json" : rng.pick(JSON_TYPES);
    const roll = rng.int(10);
    const value = roll < 2 ? base : roll < 8 ? mutateJson(rng, base) : randomJson(rng);
    const text = JSON.stringify(value) ?? "null";
    return {
      type,
      body: rng.chance(0.15) ? mutateBodyText(rng, text) as Uint8Array<ArrayBuffer> : text,
    };
  }

  /** Applies an accepted produce's reported offsets to the model. */
  #accepted(
    topic: string | undefined,
    offsets: { partition: number; offset: number }[],
  ): string | undefined {
    const expected = topic === undefined ? undefined : this.#expected.get(topic);
    if (expected === undefined) return `a produce to ${topic} was accepted`;
    const before = expected.slice();
    for (const { partition, offset } of offsets) {
      if (!(partition >= 0 && partition < expected.length)) {
        return `offset for partition ${partition}`;
      }
      if (offset < before[partition]) {
        return `partition ${partition} offset ${offset} below the high watermark ${
          before[partition]
        }`;
      }
      expected[partition] = Math.max(expected[partition], offset + 1);
    }
    return undefined;
  }

  async #createTopic(rng: Rng, go: Go): Promise<void> {
    const name = `fz-new-${rng.u32().toString(36)}`;
    const base = {
      name,
      partitions: 1 + rng.int(3),
      config: rng.chance(0.5) ? { "retention.ms": 60_000, "compression.type": "lz4" } : undefined,
    };
    const reply = await go("POST", "/v1/topics", this.#jsonBody(rng, base));
    if (reply.status === 201) {
      const created = (reply.body as { name?: string } | undefined)?.name ?? name;
      const del = await go("DELETE", `/v1/topics/${encodeURIComponent(created)}`);
      if (del.status !== 204) throw new Error(`could not delete ${created}: ${del.text}`);
    }
  }

  async #produceJson(rng: Rng, go: Go): Promise<void> {
    const segment = this.#topicSegment(rng);
    const records = Array.from({ length: 1 + rng.int(3) }, () => ({
      key: rng.chance(0.5) ? randomText(rng, 6) : null,
      value: randomText(rng, 20),
      ...(rng.chance(0.3) ? { partition: rng.int(4) } : {}),
    }));
    const base = { records, ...(rng.chance(0.2) ? { valueEncoding: "base64" } : {}) };
    const reply = await go("POST", `/v1/topics/${segment}/records`, this.#jsonBody(rng, base));
    if (reply.status === 200) {
      const offsets = (reply.body as { offsets?: { partition: number; offset: number }[] })
        ?.offsets ?? [];
      const p = this.#accepted(safeDecode(segment), offsets);
      if (p !== undefined) throw new Error(p);
    }
  }

  async #produceBatches(rng: Rng, go: Go): Promise<void> {
    const segment = this.#topicSegment(rng);
    const partition = rng.chance(0.85) ? String(rng.int(4)) : randomSegment(rng);
    const applied: string[] = [];
    const body = rng.chance(0.15)
      ? concat(validBatch(rng), rng.chance(0.5) ? validBatch(rng) : new Uint8Array())
      : fuzzBatchBytes(rng, applied);
    const type = rng.chance(0.85) ? "application/vnd.kafka.recordbatch" : rng.pick(BATCH_TYPES);
    const reply = await go("POST", `/v1/topics/${segment}/partitions/${partition}/batches`, {
      type,
      body: body as Uint8Array<ArrayBuffer>,
    });
    if (reply.status === 200) {
      const r = reply.body as { baseOffset: number; lastOffset: number };
      const p = this.#accepted(safeDecode(segment), [{
        partition: Number(partition),
        offset: r.baseOffset,
      }, { partition: Number(partition), offset: r.lastOffset }]);
      if (p !== undefined) throw new Error(p);
    }
  }

  async #fetch(rng: Rng, go: Go): Promise<void> {
    const segment = this.#topicSegment(rng);
    const partition = rng.chance(0.85) ? String(rng.int(4)) : randomSegment(rng);
    const route = rng.pick(["records", "records", "offsets", "stream"]);
    let query = randomQuery(rng);
    // A fetch that waits for data no one sends would wait maxWaitMs: keep it short.
    if (route === "records" && !/maxWaitMs=\d/.test(query)) {
      query += `${query.includes("?") ? "&" : "?"}maxWaitMs=0`;
    }
    await go("GET", `/v1/topics/${segment}/partitions/${partition}/${route}${query}`, {
      accept: rng.chance(0.3) ? "application/vnd.kafka.recordbatch" : undefined,
    });
  }

  async #groups(rng: Rng, go: Go): Promise<void> {
    const group = rng.chance(0.7) ? `fz-g${rng.int(3)}` : randomSegment(rng);
    const topics = Object.keys(FIXTURE_TOPICS);
    switch (rng.int(4)) {
      case 0: {
        const base = { topics: [rng.pick(topics)], sessionTimeoutMs: 1000 };
        await go("POST", `/v1/groups/${group}/members`, this.#jsonBody(rng, base));
        break;
      }
      case 1: {
        const base = {
          memberId: randomSegment(rng),
          generation: rng.int(3),
          offsets: [{ topic: rng.pick(topics), partition: rng.int(3), offset: rng.int(10) }],
        };
        await go("POST", `/v1/groups/${group}/offsets`, this.#jsonBody(rng, base));
        break;
      }
      case 2:
        await go("POST", `/v1/groups/${group}/members/${randomSegment(rng)}/heartbeat`);
        break;
      default: {
        let query = randomQuery(rng);
        if (!/maxWaitMs=\d/.test(query)) query += `${query.includes("?") ? "&" : "?"}maxWaitMs=0`;
        await go("GET", `/v1/groups/${group}/members/${randomSegment(rng)}/records${query}`);
      }
    }
  }

  async #randomPath(rng: Rng, go: Go): Promise<void> {
    const method = rng.pick(METHODS);
    const n = 1 + rng.int(6);
    const segments: string[] = [];
    const lead = rng.pick([["v1", "topics"], ["v1", "groups"], ["v1"], [], ["healthz"]]);
    segments.push(...lead);
    for (let i = segments.length; i < n; i++) {
      segments.push(rng.chance(0.5) ? randomSegment(rng) : rng.pick(["partitions", "records"]));
    }
    // Deleting a fixture topic by name is legal; deleting it through a traversal would be a bug.
    if (method === "DELETE" && segments.length === 3 && segments[1] === "topics") {
      if (safeDecode(segments[2]) !== undefined && safeDecode(segments[2])! in FIXTURE_TOPICS) {
        segments[2] = "nope";
      }
    }
    const path = `/${segments.join("/")}${rng.chance(0.3) ? randomQuery(rng) : ""}`;
    const raw = rng.chance(0.3);
    const withBody = method !== "GET" && method !== "HEAD" && rng.chance(0.5);
    const body = withBody ? this.#jsonBody(rng, randomJson(rng)) : undefined;
    await go(method, path, {
      raw,
      type: body?.type,
      body: raw && body !== undefined && typeof body.body !== "string" ? "{}" : body?.body,
    });
  }
}

type Go = (
  method: string,
  path: string,
  init?: { type?: string; body?: BodyInit; accept?: string; raw?: boolean },
) => Promise<Reply>;
