/**
 * Seeded fuzzing of the Kafka wire protocol (src/kafka_protocol/): two targets with their oracles.
 *
 * 1. {@link kafkaDecodeCase}: the table codec. A random-but-valid value of a random table (request,
 *    response, header or consumer-protocol table) at a random valid version is encoded, must decode
 *    back to `normalize(value)`, and is then mutated (bit flips, byte inserts and deletes,
 *    truncations, length and count fields set to huge, negative or off-by-one values, varint
 *    garbage) and decoded again: the only allowed outcomes are a value (which must re-encode and
 *    round-trip) or a thrown KafkaCodecError, within {@link KAFKA_DECODE_SLOW_MS} (a count claiming
 *    2^31 elements is refused fast, not allocated).
 * 2. {@link KafkaFuzzer}: a real listener (in-process Broker + startKafkaListener on port 0, in a
 *    temporary directory). Each case sends one to four request frames on a fresh or reused
 *    connection: valid requests of random APIs and versions (topics among a few, small partitions
 *    and offsets, real RecordBatch bytes, valid or mutated), mutated frames, size prefixes that lie,
 *    unknown API keys, unsupported versions, garbage. The fuzzer cuts the byte stream into frames
 *    exactly as the server must and predicts each frame's fate with the same tables: a response
 *    (with its correlation id, in order, decoding as the API's response table at that version), no
 *    response (Produce acks=0) or a closed connection (bad size, unknown key, unsupported version,
 *    malformed body). Oracles:
 *    - every predicted response arrives, in order, with the right correlation id, well-formed;
 *      a predicted close happens (EOF), and a well-formed request never closes the connection;
 *    - nothing takes longer than {@link KAFKA_REQUEST_TIMEOUT_MS} beyond the waits a request may
 *      legitimately ask for (Fetch max_wait_ms is kept at 100 ms or less, mutated frames included;
 *      the listener's groups cap rebalance timeouts at {@link FUZZ_REBALANCE_TIMEOUT_MS});
 *    - after every case a separate healthy connection still answers ApiVersions;
 *    - no "kafka request failed" (an unexpected handler error) or other error is logged;
 *    - log end offsets only grow by what successful Produce responses reported (the records of the
 *      batch sent), each success at the offset the model allows, checked against the broker after
 *      every case; produces nobody hears back from (acks=0, cut off by a close) may add their
 *      records or nothing (log_end_model.ts); a refused partition writes nothing;
 *    - a Produce is never answered success for records Kafka refuses (not exactly one well-formed
 *      RecordBatch v2, baseOffset not 0, a CRC that does not match, recordsCount not
 *      lastOffsetDelta + 1), and a batch whose CRC does not match is refused with CORRUPT_MESSAGE
 *      (2) or INVALID_RECORD (87) unless an earlier check (topic, partition, acks, transactional
 *      id) refused the whole partition first.
 *
 * Every case runs from its own seed (printed on failure): `deno run -A scripts/fuzz.ts --target
 * kafka-decode --replay SEED` (exact) or `--target kafka-listener --replay SEED` (the listener keeps
 * state between cases, topics' offsets and groups, so a replay resends the case's bytes, not the
 * state it met). Not a test file.
 */
import { Broker } from "../../src/broker/broker.ts";
import {
  decode,
  decodePrefix,
  encode,
  type FieldSchema,
  type FieldType,
  inRange,
  KafkaCodecError,
  type MessageSchema,
  normalize,
  type ScalarType,
  type Struct,
  type Value,
} from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import {
  kafkaApis,
  type KafkaListener,
  startKafkaListener,
} from "../../src/kafka_protocol/listener.ts";
import { API_VERSIONS_RESPONSE } from "../../src/kafka_protocol/messages/api_versions.ts";
import {
  CONSUMER_PROTOCOL_ASSIGNMENT,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
} from "../../src/kafka_protocol/messages/consumer_protocol.ts";
import {
  REQUEST_HEADER,
  requestHeaderVersion,
  RESPONSE_HEADER,
  responseHeaderVersion,
} from "../../src/kafka_protocol/messages/request_header.ts";
import { KAFKA_FRAME_BYTES_MAX } from "../../src/limits.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import { fuzzBatchBytes, Rng, validBatch } from "./fuzz_lib.ts";
import {
  batchesOf,
  LogEndModel,
  mergeUnanswered,
  type ProduceSuccess,
  refusableRecords,
} from "./log_end_model.ts";

/** A decode case (encode, round trip, a few decodes of mutated bytes) slower than this fails. */
export const KAFKA_DECODE_SLOW_MS = 1000;
/** A response (or close) later than this, beyond the waits a request asks for, is a hang. */
export const KAFKA_REQUEST_TIMEOUT_MS = 5_000;
/** The fuzzed listener's cap on rebalance timeouts: JoinGroup and SyncGroup wait at most this. */
export const FUZZ_REBALANCE_TIMEOUT_MS = 250;
/** Fetch max_wait_ms the fuzzer sends at most (a mutated frame asking more is patched down). */
export const FUZZ_FETCH_WAIT_MS_MAX = 100;

// ---------------------------------------------------------------------------------------------
// Tables

/** Every table the decode fuzzer picks from: each served API's request and response tables. */
export const DECODE_TABLES: readonly MessageSchema[] = [
  ...[...servedApis().values()].flatMap((api) => [api.request, api.response]),
  REQUEST_HEADER,
  RESPONSE_HEADER,
  CONSUMER_PROTOCOL_SUBSCRIPTION,
  CONSUMER_PROTOCOL_ASSIGNMENT,
];

function versionsOf(range: string): number[] {
  const out: number[] = [];
  for (let v = 0; v <= 20; v++) if (inRange(range, v)) out.push(v);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Random values that walk a table

const INT_EDGES = [
  0,
  1,
  -1,
  2,
  -2,
  0x7f,
  -0x80,
  0x80,
  0xff,
  0x7fff,
  -0x8000,
  0x8000,
  0xffff,
  1_000_000,
  1_000_001,
  0x7fff_ffff,
  -0x8000_0000,
];
const BIGINT_EDGES = [
  0n,
  1n,
  -1n,
  -2n,
  1_700_000_000_000n,
  2n ** 31n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];
const STRINGS = [
  "",
  "a",
  "kf-a",
  "consumer",
  "range",
  "é☃",
  "\u{1F600}",
  "\u0000",
  "x".repeat(300),
];
const CHARS = [..."abcxyz019-_.é☃\u{1F600}\u0000 /"];

function randomInt(rng: Rng, bits: 8 | 16 | 32): number {
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1) - 1;
  const roll = rng.int(3);
  if (roll === 0) return rng.int(12) - 2;
  if (roll === 1) {
    const edges = INT_EDGES.filter((e) => e >= lo && e <= hi);
    return rng.pick(edges);
  }
  return lo + rng.int(hi - lo + 1);
}

function randomBigInt(rng: Rng): bigint {
  const roll = rng.int(3);
  if (roll === 0) return BigInt(rng.int(20) - 2);
  if (roll === 1) return rng.pick(BIGINT_EDGES);
  return BigInt.asIntN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
}

function randomString(rng: Rng): string {
  if (rng.chance(0.4)) return rng.pick(STRINGS);
  let s = "";
  for (let n = rng.int(16); n > 0; n--) s += rng.pick(CHARS);
  return s;
}

/** Overrides a field's random value (the listener fuzzer's idea of a plausible request). */
export type Hint = (path: string, field: FieldSchema, version: number) => Value | undefined;

interface Mode {
  version: number;
  flexible: boolean;
  nullable: boolean;
}

function fieldMode(field: FieldSchema, version: number, flexible: boolean): Mode {
  return {
    version,
    flexible: flexible &&
      (field.flexibleVersions === undefined || inRange(field.flexibleVersions, version)),
    nullable: inRange(field.nullableVersions, version),
  };
}

function randomScalar(rng: Rng, type: ScalarType, mode: Mode): Value {
  switch (type) {
    case "int8":
      return randomInt(rng, 8);
    case "int16":
      return randomInt(rng, 16);
    case "int32":
    case "varint":
      return randomInt(rng, 32);
    case "int64":
    case "varlong":
      return randomBigInt(rng);
    case "bool":
      return rng.chance(0.5);
    case "uuid":
      return rng.chance(0.5) ? new Uint8Array(16) : rng.bytes(16);
    case "string":
      return mode.nullable && rng.chance(0.15) ? null : randomString(rng);
    case "bytes":
      return mode.nullable && rng.chance(0.15) ? null : rng.bytes(rng.int(24));
    case "records":
      if (rng.chance(0.1)) return null;
      return rng.chance(0.5) ? validBatch(rng) : rng.bytes(rng.int(24));
  }
}

function randomOf(
  rng: Rng,
  type: FieldType,
  mode: Mode,
  path: string,
  field: FieldSchema,
  hint: Hint | undefined,
  depth: number,
): Value {
  const hinted = hint?.(path, field, mode.version);
  // A hint of null counts only where the version allows it (records always may be null).
  if (hinted !== undefined && (hinted !== null || mode.nullable || type === "records")) {
    return hinted;
  }
  if (typeof type === "string") return randomScalar(rng, type, mode);
  if ("struct" in type) {
    return randomStruct(rng, type.struct, mode.version, mode.flexible, hint, path, depth + 1);
  }
  if (mode.nullable && rng.chance(0.15)) return null;
  const count = depth > 3 ? rng.int(2) : rng.int(4);
  const element = type.array;
  const out: Value[] = [];
  const elementMode = { ...mode, nullable: false };
  for (let i = 0; i < count; i++) {
    out.push(
      typeof element === "string"
        ? (hint?.(`${path}[]`, field, mode.version) ?? randomScalar(rng, element, elementMode))
        : randomStruct(rng, element, mode.version, mode.flexible, hint, path, depth + 1),
    );
  }
  return out;
}

/** A random value of `fields` at `version`; tagged fields set about half of the time. */
export function randomStruct(
  rng: Rng,
  fields: readonly FieldSchema[],
  version: number,
  flexible: boolean,
  hint?: Hint,
  path = "",
  depth = 0,
): Struct {
  const out: Record<string, Value> = {};
  for (const field of fields) {
    const fieldPath = `${path}.${field.name}`;
    if (!inRange(field.versions, version)) {
      // Fields absent in this version are ignored by the encoder; sometimes give one anyway.
      if (typeof field.type === "string" && rng.chance(0.05)) {
        out[field.name] = randomScalar(rng, field.type, { version, flexible, nullable: false });
      }
      continue;
    }
    const tagged = flexible && field.tag !== undefined && inRange(field.taggedVersions, version);
    if (tagged && rng.chance(0.5)) continue;
    const mode = fieldMode(field, version, flexible);
    out[field.name] = randomOf(rng, field.type, mode, fieldPath, field, hint, depth);
  }
  return out;
}

/** A random valid value of `schema` at `version`. */
export function randomMessage(
  rng: Rng,
  schema: MessageSchema,
  version: number,
  hint?: Hint,
): Struct {
  return randomStruct(
    rng,
    schema.fields,
    version,
    inRange(schema.flexibleVersions, version),
    hint,
    schema.name,
  );
}

// ---------------------------------------------------------------------------------------------
// Layout: where the length, count and tagged-field size prefixes of an encoded value are, so
// mutations can hit them (walks the table as codec.ts writes it).

export interface LengthSite {
  at: number;
  kind: "int16" | "int32" | "uvarint";
  width: number;
}

const utf8Encoder = new TextEncoder();

function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function uvarlongSize(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

const defaultCache = new Map<FieldSchema, Map<number, Value>>();

/** The value the codec takes for `field` at `version` when it is absent. */
function defaultOf(field: FieldSchema, version: number): Value {
  let byVersion = defaultCache.get(field);
  if (byVersion === undefined) defaultCache.set(field, byVersion = new Map());
  if (!byVersion.has(version)) {
    const schema = { name: "d", validVersions: "0+", flexibleVersions: "none", fields: [field] };
    byVersion.set(version, normalize(schema, version, {})[field.name]);
  }
  return byVersion.get(version)!;
}

function isStructValue(v: Value): v is Struct {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** codec.ts's isDefault: when a tagged field is left out. */
function isDefault(value: Value, def: Value): boolean {
  if (Array.isArray(value)) return value.length === 0 && Array.isArray(def) && def.length === 0;
  if (value instanceof Uint8Array) {
    return def instanceof Uint8Array && def.length === value.length &&
      value.every((b, i) => b === def[i]);
  }
  if (isStructValue(value)) {
    if (!isStructValue(def)) return false;
    const keys = new Set([...Object.keys(value), ...Object.keys(def)]);
    for (const k of keys) {
      if (!(k in value) || !(k in def) || !isDefault(value[k], def[k])) return false;
    }
    return true;
  }
  return value === def;
}

function lengthSite(
  sites: LengthSite[],
  at: number,
  mode: Mode,
  length: number,
  wide: boolean,
): number {
  const site: LengthSite = mode.flexible
    ? { at, kind: "uvarint", width: uvarintSize(length + 1) }
    : wide
    ? { at, kind: "int32", width: 4 }
    : { at, kind: "int16", width: 2 };
  sites.push(site);
  return site.width;
}

function scalarSize(
  type: ScalarType,
  value: Value,
  mode: Mode,
  at: number,
  sites: LengthSite[],
): number {
  switch (type) {
    case "int8":
    case "bool":
      return 1;
    case "int16":
      return 2;
    case "int32":
      return 4;
    case "int64":
      return 8;
    case "uuid":
      return 16;
    case "varint": {
      const v = value as number;
      return uvarintSize(((v << 1) ^ (v >> 31)) >>> 0);
    }
    case "varlong": {
      const v = value as bigint;
      return uvarlongSize(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)));
    }
    case "string": {
      if (value === null) return lengthSite(sites, at, mode, -1, false);
      const n = utf8Encoder.encode(value as string).length;
      return lengthSite(sites, at, mode, n, false) + n;
    }
    case "bytes":
    case "records": {
      if (value === null) return lengthSite(sites, at, mode, -1, true);
      const n = (value as Uint8Array).length;
      return lengthSite(sites, at, mode, n, true) + n;
    }
  }
}

function typeSize(
  type: FieldType,
  value: Value,
  mode: Mode,
  at: number,
  sites: LengthSite[],
): number {
  if (typeof type === "string") return scalarSize(type, value, mode, at, sites);
  if ("struct" in type) {
    // A nullable struct starts with an int8 marker: -1 null, 1 present.
    if (mode.nullable && value === null) return 1;
    const marker = mode.nullable ? 1 : 0;
    return marker +
      structSize(type.struct, value as Struct, mode.version, mode.flexible, at + marker, sites);
  }
  if (value === null) return lengthSite(sites, at, mode, -1, true);
  const items = value as readonly Value[];
  let pos = at + lengthSite(sites, at, mode, items.length, true);
  const element = type.array;
  for (const item of items) {
    pos += typeof element === "string"
      ? scalarSize(element, item, { ...mode, nullable: false }, pos, sites)
      : structSize(element, item as Struct, mode.version, mode.flexible, pos, sites);
  }
  return pos - at;
}

function structSize(
  fields: readonly FieldSchema[],
  value: Struct,
  version: number,
  flexible: boolean,
  at: number,
  sites: LengthSite[],
): number {
  let pos = at;
  const tagged: FieldSchema[] = [];
  for (const field of fields) {
    if (!inRange(field.versions, version)) continue;
    if (flexible && field.tag !== undefined && inRange(field.taggedVersions, version)) {
      tagged.push(field);
      continue;
    }
    const v = field.name in value ? value[field.name] : defaultOf(field, version);
    pos += typeSize(field.type, v, fieldMode(field, version, flexible), pos, sites);
  }
  if (!flexible) return pos - at;
  const present = tagged
    .filter((f) => f.name in value && !isDefault(value[f.name], defaultOf(f, version)))
    .sort((a, b) => a.tag! - b.tag!);
  sites.push({ at: pos, kind: "uvarint", width: uvarintSize(present.length) });
  pos += uvarintSize(present.length);
  for (const field of present) {
    pos += uvarintSize(field.tag!);
    const inner: LengthSite[] = [];
    const size = typeSize(
      field.type,
      value[field.name],
      fieldMode(field, version, flexible),
      0,
      inner,
    );
    sites.push({ at: pos, kind: "uvarint", width: uvarintSize(size) });
    pos += uvarintSize(size);
    for (const s of inner) sites.push({ ...s, at: s.at + pos });
    pos += size;
  }
  return pos - at;
}

/** The length prefixes of `encode(schema, version, value)` and its total size. */
export function layoutOf(
  schema: MessageSchema,
  version: number,
  value: Struct,
): { size: number; sites: LengthSite[] } {
  const sites: LengthSite[] = [];
  const size = structSize(
    schema.fields,
    value,
    version,
    inRange(schema.flexibleVersions, version),
    0,
    sites,
  );
  return { size, sites };
}

// ---------------------------------------------------------------------------------------------
// Byte mutators

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function uvarintBytes(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return new Uint8Array(out);
}

const VARINT_GARBAGE = [
  [0xff, 0xff, 0xff, 0xff, 0x0f], // 2^32 - 1
  [0xff, 0xff, 0xff, 0xff, 0x1f], // 33 bits
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // six bytes
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // eleven bytes
  [0x80], // never ends (at the end of the input)
  [0x80, 0x00], // non-minimal zero
  [0xfe, 0xff, 0xff, 0xff, 0x07], // 2^31 - 2 as a count
];
const INT32_LIES = [-1, -2, -0x8000_0000, 0x7fff_ffff, 0x7fff_fffe, 1_000_000, 1_000_001, 0x10000];
const INT16_LIES = [-1, -2, -0x8000, 0x7fff, 0x4000];
const UVARINT_LIES = [0, 0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 1_000_001, 1_000_002, 10_001];

/** Rewrites one length prefix: a huge, negative or nudged value, or varint garbage. */
function tweakSite(rng: Rng, b: Uint8Array, site: LengthSite, applied: string[]): Uint8Array {
  if (site.at + site.width > b.length) return b;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (site.kind === "int16") {
    const out = b.slice();
    const v = rng.chance(0.6) ? rng.pick(INT16_LIES) : dv.getInt16(site.at) + rng.int(5) - 2;
    new DataView(out.buffer).setInt16(site.at, v);
    applied.push(`int16@${site.at}=${v}`);
    return out;
  }
  if (site.kind === "int32") {
    const out = b.slice();
    const v = rng.chance(0.6) ? rng.pick(INT32_LIES) : dv.getInt32(site.at) + rng.int(5) - 2;
    new DataView(out.buffer).setInt32(site.at, v | 0);
    applied.push(`int32@${site.at}=${v | 0}`);
    return out;
  }
  let replacement: Uint8Array;
  if (rng.chance(0.4)) {
    replacement = new Uint8Array(rng.pick(VARINT_GARBAGE));
    applied.push(`uvarint@${site.at}=garbage`);
  } else {
    let current = 0;
    for (let i = site.width - 1; i >= 0; i--) current = current * 128 + (b[site.at + i] & 0x7f);
    const v = rng.chance(0.6) ? rng.pick(UVARINT_LIES) : Math.max(0, current + rng.int(5) - 2);
    replacement = uvarintBytes(v);
    applied.push(`uvarint@${site.at}=${v}`);
  }
  return concat(b.subarray(0, site.at), replacement, b.subarray(site.at + site.width));
}

/** 1-3 mutations of `b`, length prefixes (`sites`) favoured; `applied` names them. */
export function mutateMessage(
  rng: Rng,
  b: Uint8Array,
  sites: readonly LengthSite[],
  applied: string[],
): Uint8Array {
  let out = b;
  // Sites stay valid until a mutation moves bytes; after that they are only a guess.
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const roll = rng.int(10);
    if (roll <= 3 && sites.length > 0) {
      out = tweakSite(rng, out, rng.pick(sites), applied);
    } else if (roll === 4) {
      out = out.slice();
      const flips = 1 + rng.int(4);
      for (let i = 0; i < flips && out.length > 0; i++) {
        out[rng.int(out.length)] ^= 1 << rng.int(8);
      }
      applied.push("bitFlip");
    } else if (roll === 5) {
      const at = rng.int(out.length + 1);
      out = out.slice(0, at);
      applied.push(`truncate@${at}`);
    } else if (roll === 6) {
      const at = rng.int(out.length + 1);
      out = concat(out.subarray(0, at), rng.bytes(1 + rng.int(8)), out.subarray(at));
      applied.push(`insert@${at}`);
    } else if (roll === 7) {
      const at = rng.int(out.length + 1);
      out = concat(out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + rng.int(8))));
      applied.push(`delete@${at}`);
    } else if (roll === 8) {
      const at = rng.int(out.length + 1);
      const garbage = new Uint8Array(rng.pick(VARINT_GARBAGE));
      out = concat(out.subarray(0, at), garbage, out.subarray(Math.min(out.length, at + 1)));
      applied.push(`varint@${at}`);
    } else {
      out = out.slice();
      if (out.length > 0) out[rng.int(out.length)] = rng.pick([0, 0xff, 0x7f, 0x80, 0x01]);
      applied.push("byteSet");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Deep equality for decoded values (bigint, Uint8Array, null, arrays, structs)

function sameValue(a: Value, b: Value, path: string): string | undefined {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) {
      return `${path}: ${show(a)} vs ${show(b)}`;
    }
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return `${path}[${i}]: ${a[i]} vs ${b[i]}`;
    }
    return undefined;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
      return `${path}: ${show(a)} vs ${show(b)}`;
    }
    for (let i = 0; i < a.length; i++) {
      const d = sameValue(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isStructValue(a) || isStructValue(b)) {
    if (!isStructValue(a) || !isStructValue(b)) return `${path}: ${show(a)} vs ${show(b)}`;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      if (!(k in a) || !(k in b)) return `${path}.${k}: present in only one`;
      const d = sameValue(a[k], b[k], `${path}.${k}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : `${path}: ${show(a)} vs ${show(b)}`;
}

function show(v: Value): string {
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (Array.isArray(v)) return `array(${v.length})`;
  return isStructValue(v) ? "struct" : String(v);
}

function hex(b: Uint8Array, max = 128): string {
  const shown = Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, "0")).join("");
  return `${b.length} bytes ${shown}${b.length > max ? "..." : ""}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
}

// ---------------------------------------------------------------------------------------------
// Target 1: the codec

/** Outcomes of mutated decodes so far (a value, or each KafkaCodecError reason): for reports. */
export const KAFKA_DECODE_STATS: Record<string, number> = {};

/** One decode case from `seed`; undefined when every oracle holds, else what failed. */
export function kafkaDecodeCase(seed: number): string | undefined {
  const rng = new Rng(seed);
  const schema = rng.pick(DECODE_TABLES);
  const versions = versionsOf(schema.validVersions);
  const version = rng.pick(versions);
  const where = `${schema.name} v${version}`;
  const value = randomMessage(rng, schema, version);
  let bytes: Uint8Array;
  try {
    bytes = encode(schema, version, value);
  } catch (err) {
    return `${where}: encoding a generated value threw ${describe(err)}`;
  }
  const layout = layoutOf(schema, version, value);
  if (layout.size !== bytes.length) {
    return `${where}: fuzzer layout says ${layout.size} bytes, encoder wrote ${bytes.length}`;
  }
  const started = performance.now();
  try {
    const back = decode(schema, version, bytes);
    const diff = sameValue(back, normalize(schema, version, value), "");
    if (diff !== undefined) return `${where}: round trip differs at ${diff}; bytes ${hex(bytes)}`;
  } catch (err) {
    return `${where}: decoding its own encoding threw ${describe(err)}; bytes ${hex(bytes)}`;
  }
  const applied: string[] = [];
  const mutated = mutateMessage(rng, bytes, layout.sites, applied);
  const problems: string[] = [];
  const attempt = (v: number) => {
    let decoded: Struct;
    try {
      decoded = decode(schema, v, mutated);
    } catch (err) {
      if (err instanceof KafkaCodecError) {
        KAFKA_DECODE_STATS[err.reason] = (KAFKA_DECODE_STATS[err.reason] ?? 0) + 1;
      } else problems.push(`decode v${v} threw ${describe(err)}`);
      return;
    }
    KAFKA_DECODE_STATS.decoded = (KAFKA_DECODE_STATS.decoded ?? 0) + 1;
    // What decodes is a value of the table: it encodes, and that round-trips.
    try {
      const again = encode(schema, v, decoded);
      const diff = sameValue(decode(schema, v, again), normalize(schema, v, decoded), "");
      if (diff !== undefined) problems.push(`decoded value v${v} does not round-trip: ${diff}`);
    } catch (err) {
      problems.push(`decoded value v${v} does not re-encode: ${describe(err)}`);
    }
  };
  attempt(version);
  // The same bytes read as another version (a client and broker that disagree).
  const other = rng.pick(versions);
  if (rng.chance(0.3)) attempt(other);
  const elapsedMs = performance.now() - started;
  if (elapsedMs > KAFKA_DECODE_SLOW_MS) {
    // A collector pause is not a slow decoder: time the mutated decodes alone, once more.
    const again = performance.now();
    for (const v of [version, other]) {
      try {
        decode(schema, v, mutated);
      } catch { /* judged above */ }
    }
    const alone = performance.now() - again;
    if (alone > KAFKA_DECODE_SLOW_MS) {
      problems.push(`case took ${elapsedMs.toFixed(0)} ms (decodes alone ${alone.toFixed(0)} ms)`);
    }
  }
  if (problems.length === 0) return undefined;
  return `${where}: ${problems.join("; ")} [mutations: ${applied.join(",")}] input ${hex(mutated)}`;
}

// ---------------------------------------------------------------------------------------------
// Target 2: the listener

/** Topics created up front, with their partition counts. */
export const KAFKA_FIXTURE_TOPICS: Readonly<Record<string, number>> = { "kf-a": 1, "kf-b": 3 };
const OTHER_TOPICS = ["kf-auto-0", "kf-auto-1", "", "bad/name", "..", "t".repeat(250), "nope"];
const NEW_TOPICS = ["kf-new-0", "kf-new-1", "kf-new-2", "kf-a", "bad name", ""];
const GROUPS = ["kf-g0", "kf-g1", "", "g".repeat(300)];
const DEFAULT_PARTITIONS = 2;

const API_VERSIONS_KEY = 18;
/** KIP-511's rule for ApiVersions v3's client software name and version. */
const CLIENT_SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;
const FETCH_KEY = 1;
const PRODUCE_KEY = 0;
const JOIN_GROUP_KEY = 11;
const SYNC_GROUP_KEY = 14;
const DELETE_TOPICS_KEY = 20;
const INIT_PRODUCER_ID_KEY = 22;

interface ServedApi {
  key: number;
  name: string;
  versions: string;
  request: MessageSchema;
  response: MessageSchema;
}

/** The served APIs and versions, as the listener registers them. */
function servedApis(): Map<number, ServedApi> {
  // kafkaApis only stores the context in closures: a stub is enough to read the registry.
  const registry = kafkaApis({} as Parameters<typeof kafkaApis>[0]);
  const out = new Map<number, ServedApi>();
  for (const r of registry.supportedRanges()) {
    const api = registry.get(r.apiKey)!;
    out.set(r.apiKey, {
      key: api.key,
      name: api.name,
      versions: api.versions,
      request: api.request,
      response: api.response,
    });
  }
  return out;
}

/** What the server must do with one frame. */
type Fate =
  | {
    kind: "response";
    correlationId: number;
    api: ServedApi;
    version: number;
    /** ApiVersions at a version not served: answered v0 with UNSUPPORTED_VERSION. */
    unsupported: boolean;
    body: Struct | undefined;
    /** Extra milliseconds the request may legitimately wait. */
    waitMs: number;
  }
  | { kind: "silent"; api: ServedApi; body: Struct }
  | { kind: "close"; why: string; framing: boolean };

interface Frame {
  /** Exactly what is sent: size prefix and all. */
  bytes: Uint8Array;
  note: string;
}

class SocketReader {
  #buf: Uint8Array = new Uint8Array(0);
  constructor(readonly conn: Deno.Conn) {}

  /** The next size-prefixed frame, or null on EOF or a reset. */
  async next(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#buf.length >= 4) {
        const size = new DataView(this.#buf.buffer, this.#buf.byteOffset).getInt32(0);
        if (size < 0) throw new Error(`response frame size ${size}`);
        if (this.#buf.length >= 4 + size) {
          const frame = this.#buf.slice(4, 4 + size);
          this.#buf = this.#buf.slice(4 + size);
          return frame;
        }
      }
      const chunk = new Uint8Array(65536);
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        return null;
      }
      if (n === null) return null;
      this.#buf = concat(this.#buf, chunk.subarray(0, n));
    }
  }

  get buffered(): number {
    return this.#buf.length;
  }
}

class Connection {
  readonly reader: SocketReader;
  timedOut = false;
  closed = false;
  constructor(readonly conn: Deno.Conn) {
    this.reader = new SocketReader(conn);
  }
  static async open(port: number): Promise<Connection> {
    return new Connection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async write(bytes: Uint8Array): Promise<boolean> {
    try {
      let at = 0;
      while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
      return true;
    } catch {
      return false; // the server closed first: what follows is checked by reading
    }
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** Errors that refuse a whole Produce partition before its batches are looked at. */
const PRODUCE_EARLY_ERRORS: ReadonlySet<number> = new Set([
  KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  KafkaError.INVALID_TOPIC_EXCEPTION,
  KafkaError.INVALID_REQUIRED_ACKS,
  KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
]);

export interface KafkaFuzzerOptions {
  /** Keep the temporary data directory (default: removed on close). */
  keepDataDir?: boolean;
}

/** The Kafka listener under fuzzed frames; see the file comment for its oracles. */
export class KafkaFuzzer {
  cases = 0;
  requests = 0;
  /** Frames by predicted fate, and produce outcomes: for reports. */
  readonly stats: Record<string, number> = {};
  readonly #apis = servedApis();
  #healthy!: Connection;
  #reused: Connection | undefined;
  /** Log end offsets the answers account for (log_end_model.ts). */
  readonly #ends = new LogEndModel();
  /** Members seen in JoinGroup answers: [group, memberId, generation]. */
  #members: [string, string, number][] = [];
  /** Unanswered produces of the last two cases, whose appends may land late. */
  #carried: Map<string, Map<number, number>>[] = [];
  /** The case being run deletes topics (log ends may drop to 0). */
  #deletes = false;
  /** Producer ids InitProducerId handed out. */
  #producerIds: number[] = [];
  #correlation = 0;

  private constructor(
    readonly broker: Broker,
    readonly listener: KafkaListener,
    readonly logger: MemoryLogger,
    readonly dataDir: string,
    readonly options: KafkaFuzzerOptions,
  ) {}

  /** A broker and listener in a fresh temporary directory, fixture topics created. */
  static async start(options: KafkaFuzzerOptions = {}): Promise<KafkaFuzzer> {
    const dataDir = await Deno.makeTempDir({ prefix: "sluice-fuzz-kafka-" });
    const logger = new MemoryLogger();
    const broker = await Broker.open({
      dataDir,
      logger,
      classicGroups: {
        initialRebalanceDelayMs: 0,
        maxSessionTimeoutMs: 1_500,
        maxRebalanceTimeoutMs: FUZZ_REBALANCE_TIMEOUT_MS,
      },
    });
    const listener = await startKafkaListener(broker, {
      host: "127.0.0.1",
      port: 0,
      logger,
      autoCreateTopics: true,
      defaultPartitions: DEFAULT_PARTITIONS,
    });
    const fuzzer = new KafkaFuzzer(broker, listener, logger, dataDir, options);
    for (const [name, partitions] of Object.entries(KAFKA_FIXTURE_TOPICS)) {
      await broker.createTopic(name, partitions, {});
    }
    fuzzer.#healthy = await Connection.open(listener.port);
    fuzzer.#ends.reset(fuzzer.#snapshotEnds());
    return fuzzer;
  }

  async close(): Promise<void> {
    this.#healthy.close();
    this.#reused?.close();
    await this.listener.close();
    await this.broker.close();
    if (!this.options.keepDataDir) await Deno.remove(this.dataDir, { recursive: true });
  }

  // ------------------------------------------------------------------------------------------
  // Generating requests

  #topic(rng: Rng): string {
    return rng.chance(0.8) ? rng.pick(Object.keys(KAFKA_FIXTURE_TOPICS)) : rng.pick(OTHER_TOPICS);
  }

  #member(rng: Rng): [string, string, number] | undefined {
    return this.#members.length > 0 && rng.chance(0.6) ? rng.pick(this.#members) : undefined;
  }

  /** Plausible values for the fields that matter to the handlers. */
  #hint(rng: Rng): Hint {
    let member: [string, string, number] | undefined;
    const groupMember = () => member ??= this.#member(rng);
    return (path, field) => {
      const name = field.name;
      if (rng.chance(0.05)) return undefined; // now and then anything the table allows
      if (path.startsWith("CreateTopicsRequest.topics")) {
        if (name === "name" && path === "CreateTopicsRequest.topics.name") {
          return rng.pick(NEW_TOPICS);
        }
        if (name === "numPartitions") return rng.pick([1, 2, 3, -1, 0, -5, 1025, 0x7fff_ffff]);
        if (name === "replicationFactor") return rng.pick([1, -1, 1, 3, 0]);
        if (name === "assignments") return rng.chance(0.9) ? [] : undefined;
        if (name === "configs") {
          return rng.chance(0.7) ? [] : [{
            name: rng.pick(["retention.ms", "segment.bytes", "nope", "flush.policy"]),
            value: rng.pick(["1000", "-1", "x", null, "always", "99999999999999999999"]),
          }];
        }
      }
      if (path.startsWith("DeleteTopicsRequest")) {
        // Fixtures rarely: most deletes hit topics the fuzz made up, or none.
        if (path.endsWith("topicNames[]") || path.endsWith("topics.name")) {
          return rng.chance(0.05) ? rng.pick(Object.keys(KAFKA_FIXTURE_TOPICS)) : rng.pick([
            ...OTHER_TOPICS,
            ...NEW_TOPICS.filter((t) => !(t in KAFKA_FIXTURE_TOPICS)),
          ]);
        }
        if (name === "timeoutMs") return 5_000;
      }
      if ((name === "groups" || name === "groupsNames") && path.endsWith("[]")) {
        return rng.pick(GROUPS);
      }
      switch (name) {
        case "topic":
          return this.#topic(rng);
        case "name":
          if (
            path.endsWith("topics.name") || path.endsWith("topicData.name") ||
            path.endsWith("forgottenTopicsData.topic")
          ) return this.#topic(rng);
          if (path.endsWith("protocols.name")) return rng.pick(["range", "roundrobin", ""]);
          return undefined;
        case "index":
        case "partition":
        case "partitionIndex":
        case "partitionIndexes":
          if (path.endsWith("[]") || field.type === "int32") {
            return rng.chance(0.85) ? rng.int(3) : rng.pick([3, -1, 7, 0x7fff_ffff]);
          }
          return undefined;
        case "records":
          return this.#records(rng);
        case "acks":
          return rng.chance(0.85) ? rng.pick([-1, 1]) : rng.pick([0, 2, -2]);
        case "transactionalId":
          return rng.chance(0.9) ? null : "tx";
        case "timeoutMs":
          return 5_000;
        case "maxWaitMs":
          return rng.pick([0, 0, 0, 10, 50, FUZZ_FETCH_WAIT_MS_MAX, -1]);
        case "minBytes":
          return rng.pick([0, 1, 1, 100, 1 << 20, -1]);
        case "maxBytes":
        case "partitionMaxBytes":
          return rng.pick([1 << 20, 1 << 20, 0, 1, 100, -1, 0x7fff_ffff]);
        case "fetchOffset":
        case "committedOffset":
          return rng.pick([0n, 0n, 1n, 3n, 10n, -1n, -2n, 2n ** 53n + 1n, 2n ** 63n - 1n]);
        case "timestamp":
          return rng.pick([-1n, -2n, -3n, 0n, 1_700_000_000_000n, 2n ** 62n]);
        case "logStartOffset":
          return -1n;
        case "isolationLevel":
          return rng.pick([0, 0, 1, 2]);
        case "replicaId":
          return rng.chance(0.9) ? -1 : rng.pick([0, 1, -2]);
        case "sessionId":
          return rng.chance(0.9) ? 0 : 7;
        case "sessionEpoch":
          return rng.chance(0.9) ? -1 : 3;
        case "groupId":
        case "key":
          return rng.pick(GROUPS);
        case "coordinatorKeys":
          return path.endsWith("[]") ? rng.pick(GROUPS) : undefined;
        case "keyType":
          return rng.pick([0, 0, 1, 2]);
        case "memberId":
          if (path.endsWith("assignments.memberId")) {
            return groupMember()?.[1] ?? "";
          }
          return rng.chance(0.3) ? "" : groupMember()?.[1] ?? randomString(rng);
        case "generationId":
        case "generationIdOrMemberEpoch":
          return rng.chance(0.7) ? groupMember()?.[2] ?? -1 : rng.pick([-1, 0, 1, 2]);
        case "groupInstanceId":
          return rng.chance(0.9) ? null : "static-1";
        case "sessionTimeoutMs":
          return rng.pick([100, 500, 1_000, 1_500, 50, 10_000]);
        case "rebalanceTimeoutMs":
          return rng.pick([100, 200, -1, 60_000]);
        case "protocolType":
          return rng.chance(0.8) ? "consumer" : rng.pick([null, "", "connect"]);
        case "protocolName":
          return rng.chance(0.5) ? null : "range";
        case "metadata":
          if (path.endsWith("protocols.metadata")) {
            return consumerBytes(CONSUMER_PROTOCOL_SUBSCRIPTION, {
              topics: [this.#topic(rng)],
            }, rng);
          }
          return undefined;
        case "assignment":
          return consumerBytes(CONSUMER_PROTOCOL_ASSIGNMENT, {
            assignedPartitions: [{ topic: this.#topic(rng), partitions: [0] }],
          }, rng);
        case "committedMetadata":
          return rng.pick([null, "", "m", "x".repeat(5000)]);
        case "transactionTimeoutMs":
          return 60_000;
        case "producerId":
          return -1n;
        case "producerEpoch":
          return -1;
        case "topicId":
          return new Uint8Array(16);
        default:
          return undefined;
      }
    };
  }

  #records(rng: Rng): Uint8Array | null {
    const roll = rng.int(20);
    if (roll === 0) return null;
    if (roll === 1) return new Uint8Array(0);
    if (roll <= 3) {
      // An idempotent producer's batch: a known or made-up id, sequences that repeat and skip.
      const producerId = this.#producerIds.length > 0 && rng.chance(0.8)
        ? rng.pick(this.#producerIds)
        : rng.int(5);
      const batch = encodeRecordBatch(
        [{ key: null, value: rng.bytes(rng.int(16)) }, { key: null, value: null }].slice(
          0,
          1 + rng.int(2),
        ),
        {
          timestampMs: 1_700_000_000_000,
          producerId,
          producerEpoch: rng.chance(0.9) ? 0 : rng.pick([1, -1]),
          baseSequence: rng.int(4),
        },
      );
      return rng.chance(0.1) ? concat(batch, validBatch(rng)) : batch;
    }
    // A client's batch starts at offset 0 (Kafka refuses any other): now and then it does not.
    const zeroBased = (b: Uint8Array) => {
      if (rng.chance(0.9)) new DataView(b.buffer, b.byteOffset).setBigInt64(0, 0n);
      return b;
    };
    if (roll <= 9) return zeroBased(validBatch(rng));
    if (roll <= 11) return concat(zeroBased(validBatch(rng)), validBatch(rng));
    return fuzzBatchBytes(rng, []);
  }

  /** A valid request frame of `api` at `version`, with the body's length sites (frame offsets). */
  #request(
    rng: Rng,
    api: ServedApi,
    version: number,
    correlationId: number,
  ): { bytes: Uint8Array; sites: LengthSite[]; body: Struct } {
    const body = randomMessage(rng, api.request, version, this.#hint(rng));
    const hv = requestHeaderVersion(api.request, version);
    const headerValue = {
      requestApiKey: api.key,
      requestApiVersion: version,
      correlationId,
      clientId: rng.chance(0.8) ? "kafka-fuzz" : rng.pick([null, "", "é☃"]),
    };
    const header = encode(REQUEST_HEADER, hv, headerValue);
    const payload = encode(api.request, version, body);
    const sites = [
      ...layoutOf(REQUEST_HEADER, hv, headerValue).sites.map((s) => ({ ...s, at: s.at + 4 })),
      ...layoutOf(api.request, version, body).sites.map((s) => ({
        ...s,
        at: s.at + 4 + header.length,
      })),
    ];
    const bytes = new Uint8Array(4 + header.length + payload.length);
    new DataView(bytes.buffer).setInt32(0, header.length + payload.length);
    bytes.set(header, 4);
    bytes.set(payload, 4 + header.length);
    return { bytes, sites, body };
  }

  #frame(rng: Rng): Frame {
    const correlationId = ++this.#correlation;
    const apis = [...this.#apis.values()];
    const roll = rng.int(20);
    if (roll < 12) {
      // Produce and Fetch more often; group waits rarer (each may wait a rebalance timeout).
      let api = rng.chance(0.3)
        ? this.#apis.get(PRODUCE_KEY)!
        : rng.chance(0.15)
        ? this.#apis.get(FETCH_KEY)!
        : rng.pick(apis);
      if ((api.key === JOIN_GROUP_KEY || api.key === SYNC_GROUP_KEY) && rng.chance(0.5)) {
        api = rng.pick(apis);
      }
      const version = rng.pick(versionsOf(api.versions));
      const { bytes } = this.#request(rng, api, version, correlationId);
      return { bytes, note: `${api.name} v${version} #${correlationId}` };
    }
    if (roll < 17) {
      // A mutated valid request: the body alone (size prefix fixed up) or the whole frame.
      const api = rng.pick(apis);
      const version = rng.pick(versionsOf(api.versions));
      const { bytes, sites } = this.#request(rng, api, version, correlationId);
      const applied: string[] = [];
      if (rng.chance(0.6)) {
        const inner = mutateMessage(
          rng,
          bytes.subarray(4),
          sites.map((s) => ({ ...s, at: s.at - 4 })),
          applied,
        );
        const out = new Uint8Array(4 + inner.length);
        new DataView(out.buffer).setInt32(0, inner.length);
        out.set(inner, 4);
        return { bytes: out, note: `mutated ${api.name} v${version} [${applied.join(",")}]` };
      }
      const prefix: LengthSite = { at: 0, kind: "int32", width: 4 };
      const out = mutateMessage(rng, bytes, [prefix, ...sites], applied);
      return { bytes: out, note: `mutated frame ${api.name} v${version} [${applied.join(",")}]` };
    }
    return this.#special(rng, correlationId);
  }

  /** Frames every server must refuse or answer specially. */
  #special(rng: Rng, correlationId: number): Frame {
    const headerOnly = (key: number, version: number, extra: Uint8Array = new Uint8Array()) => {
      const body = concat(
        new Uint8Array([key >> 8, key & 0xff, (version >> 8) & 0xff, version & 0xff]),
        new Uint8Array([
          correlationId >>> 24,
          (correlationId >> 16) & 0xff,
          (correlationId >> 8) & 0xff,
          correlationId & 0xff,
        ]),
        new Uint8Array([0, 1, 0x78]), // client id "x"
        extra,
      );
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setInt32(0, body.length);
      out.set(body, 4);
      return out;
    };
    switch (rng.int(8)) {
      case 0: {
        const key = rng.pick([4, 5, 6, 7, 15, 16, 17, 20, 21, 60, 0x7fff, -1, -32768]);
        return { bytes: headerOnly(key, 0, new Uint8Array([0])), note: `unknown key ${key}` };
      }
      case 1: {
        const api = rng.pick([...this.#apis.values()]);
        const [lo] = versionsOf(api.versions);
        const hi = versionsOf(api.versions).at(-1)!;
        const version = rng.pick([lo - 1, hi + 1, hi + 7, -1, 0x7fff]);
        return {
          bytes: headerOnly(api.key, version, rng.bytes(rng.int(8))),
          note: `${api.name} unsupported v${version}`,
        };
      }
      case 2: {
        const version = rng.pick([4, 5, 9, 100, -1]);
        return {
          bytes: headerOnly(
            API_VERSIONS_KEY,
            version,
            rng.chance(0.5) ? new Uint8Array([0]) : rng.bytes(5),
          ),
          note: `ApiVersions unsupported v${version}`,
        };
      }
      case 3: {
        const size = rng.pick([-1, 0, 4, 7, -0x8000_0000, KAFKA_FRAME_BYTES_MAX + 1, 0x7fff_ffff]);
        const out = new Uint8Array(4 + rng.int(12));
        new DataView(out.buffer).setInt32(0, size);
        return { bytes: out, note: `size prefix ${size}` };
      }
      case 4: {
        // A served key and version, then garbage for a body.
        const api = rng.pick([...this.#apis.values()]);
        const version = rng.pick(versionsOf(api.versions));
        const garbage = rng.bytes(rng.int(40));
        return {
          bytes: headerOnly(api.key, version, garbage),
          note: `${api.name} v${version} garbage body`,
        };
      }
      case 5: {
        const n = 8 + rng.int(40);
        const out = concat(new Uint8Array(4), rng.bytes(n));
        new DataView(out.buffer).setInt32(0, n);
        return { bytes: out, note: "random frame" };
      }
      case 6:
        return { bytes: rng.bytes(1 + rng.int(60)), note: "random bytes" };
      default: {
        // A valid request whose size prefix claims more or less than it has.
        const api = rng.pick([...this.#apis.values()]);
        const version = rng.pick(versionsOf(api.versions));
        const { bytes } = this.#request(rng, api, version, correlationId);
        const out = bytes.slice();
        const lie = rng.pick([-3, -1, 1, 2, 100]);
        new DataView(out.buffer).setInt32(0, bytes.length - 4 + lie);
        return { bytes: out, note: `${api.name} v${version} size ${lie > 0 ? "+" : ""}${lie}` };
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Predicting what the server does

  /** Cuts `stream` into frames as the server does; each complete frame's fate, in order. */
  #predict(stream: Uint8Array): { fates: Fate[]; partial: boolean } {
    const fates: Fate[] = [];
    const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
    let pos = 0;
    while (pos < stream.length) {
      if (pos + 4 > stream.length) return { fates, partial: true };
      const size = dv.getInt32(pos);
      if (size < 8 || size > KAFKA_FRAME_BYTES_MAX) {
        fates.push({ kind: "close", why: `frame size ${size}`, framing: true });
        return { fates, partial: false };
      }
      if (pos + 4 + size > stream.length) return { fates, partial: true };
      const frame = stream.subarray(pos + 4, pos + 4 + size);
      const fate = this.#fate(frame);
      fates.push(fate);
      pos += 4 + size;
      if (fate.kind === "close") {
        // The server cuts every frame it has received before serving them: a bad size prefix
        // further on may close the connection first, so what comes before is only a prefix.
        if (this.#framingErrorFrom(dv, pos)) (fate as { framing: boolean }).framing = true;
        return { fates, partial: false };
      }
    }
    return { fates, partial: false };
  }

  #framingErrorFrom(dv: DataView, pos: number): boolean {
    while (pos + 4 <= dv.byteLength) {
      const size = dv.getInt32(pos);
      if (size < 8 || size > KAFKA_FRAME_BYTES_MAX) return true;
      pos += 4 + size;
    }
    return false;
  }

  #fate(frame: Uint8Array): Fate {
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const key = dv.getInt16(0);
    const version = dv.getInt16(2);
    const correlationId = dv.getInt32(4);
    const api = this.#apis.get(key);
    if (api === undefined) return { kind: "close", why: `unknown key ${key}`, framing: false };
    if (!inRange(api.versions, version)) {
      if (key === API_VERSIONS_KEY) {
        return {
          kind: "response",
          correlationId,
          api,
          version: 0,
          unsupported: true,
          body: undefined,
          waitMs: 0,
        };
      }
      return { kind: "close", why: `${api.name} v${version} unsupported`, framing: false };
    }
    let body: Struct;
    let bodyAt: number;
    try {
      const h = decodePrefix(REQUEST_HEADER, requestHeaderVersion(api.request, version), frame, 0);
      bodyAt = h.position;
      const b = decodePrefix(api.request, version, frame, h.position);
      // Bytes after the body are ignored, as Kafka ignores them (server.ts).
      body = b.value;
    } catch (err) {
      if (err instanceof KafkaCodecError) {
        return { kind: "close", why: `malformed ${api.name} v${version}`, framing: false };
      }
      throw err;
    }
    let waitMs = 0;
    if (key === FETCH_KEY) {
      // A long poll is legal: keep it short (maxWaitMs is the second int32 of v4-12 bodies).
      const maxWait = body.maxWaitMs as number;
      if (maxWait > FUZZ_FETCH_WAIT_MS_MAX) {
        dv.setInt32(bodyAt + 4, FUZZ_FETCH_WAIT_MS_MAX);
        body = { ...body, maxWaitMs: FUZZ_FETCH_WAIT_MS_MAX };
      }
      waitMs = FUZZ_FETCH_WAIT_MS_MAX;
    }
    if (key === JOIN_GROUP_KEY || key === SYNC_GROUP_KEY) waitMs = 4 * FUZZ_REBALANCE_TIMEOUT_MS;
    if (key === PRODUCE_KEY) {
      if (body.acks === 0) return { kind: "silent", api, body };
    }
    return { kind: "response", correlationId, api, version, unsupported: false, body, waitMs };
  }

  // ------------------------------------------------------------------------------------------
  // Running a case

  /** One case from `seed`: undefined when every oracle held, else what failed and how. */
  async run(seed: number): Promise<string | undefined> {
    const rng = new Rng(seed);
    this.cases++;
    const frames: Frame[] = [];
    for (let n = 1 + rng.int(rng.chance(0.7) ? 2 : 4); n > 0; n--) frames.push(this.#frame(rng));
    let stream = concat(...frames.map((f) => f.bytes));
    let { fates, partial } = this.#predict(stream);
    const stays = !partial && fates.every((f) => f.kind !== "close");
    // After an acks=0 produce the sentinel is the barrier that shows it was served.
    if (stays && (rng.chance(0.7) || fates.some((f) => f.kind === "silent"))) {
      // A last ApiVersions: its answer coming next shows nothing was answered twice or late.
      const api = this.#apis.get(API_VERSIONS_KEY)!;
      const sentinel = this.#request(rng, api, rng.int(4), ++this.#correlation).bytes;
      frames.push({ bytes: sentinel, note: "sentinel ApiVersions" });
      stream = concat(stream, sentinel);
      ({ fates, partial } = this.#predict(stream));
    }
    this.requests += fates.length;
    for (const f of fates) {
      const k = f.kind === "close" ? `close(${f.why.split(" ")[0]})` : f.kind;
      this.stats[k] = (this.stats[k] ?? 0) + 1;
    }
    if (partial) this.stats.partial = (this.stats.partial ?? 0) + 1;
    const sent = () =>
      `\n  frames: ${frames.map((f) => `${f.note} ${hex(f.bytes, 64)}`).join("\n  frames: ")}`;

    this.#deletes = fates.some((f) => f.kind === "response" && f.api.key === DELETE_TOPICS_KEY);
    const reuse = this.#reused !== undefined && rng.chance(0.5);
    const conn = reuse ? this.#reused! : await Connection.open(this.listener.port);
    if (reuse) this.#reused = undefined;
    const startEnds = this.#snapshotEnds();
    const budget = KAFKA_REQUEST_TIMEOUT_MS +
      fates.reduce((n, f) => n + (f.kind === "response" ? f.waitMs : 0), 0);
    const timer = setTimeout(() => {
      conn.timedOut = true;
      conn.close();
    }, budget);
    let problem: string | undefined;
    // Fates from this index on were not seen through (no answer read): their produces may append.
    let unread = fates.length;
    try {
      // Sent in one to three writes, so frames and prefixes straddle reads.
      const cuts = [0, rng.int(stream.length + 1), rng.int(stream.length + 1), stream.length]
        .sort((a, b) => a - b);
      const writing = (async () => {
        for (let i = 0; i + 1 < cuts.length; i++) {
          if (cuts[i] === cuts[i + 1]) continue;
          if (!await conn.write(stream.subarray(cuts[i], cuts[i + 1]))) return;
        }
      })();
      ({ problem, unread } = await this.#readFates(conn, fates, startEnds));
      await writing;
    } catch (err) {
      problem = `fuzzer error: ${describe(err)}`;
    } finally {
      clearTimeout(timer);
    }
    if (problem === undefined && conn.timedOut) problem = `timed out after ${budget} ms`;
    if (stays && !conn.closed && problem === undefined && rng.chance(0.6)) {
      this.#reused?.close();
      this.#reused = conn;
    } else conn.close();

    for (const f of fates.slice(unread)) {
      if (f.kind !== "close" && f.api.key === PRODUCE_KEY) this.#noteUnanswered(f.body!);
    }
    // Appends nothing waited for (acks=0 with no barrier after it, Produce frames cut off by a
    // close or left unread after a failure) may land after this check: their records stay
    // allowed for the next two cases.
    const unwaited = partial || problem !== undefined || fates.some((f) => f.kind === "close");
    const after = await this.#afterCase();
    this.#carried = [...this.#carried.slice(-1), unwaited ? this.#ends.unanswered : new Map()];
    this.#ends.reset(this.#snapshotEnds(), mergeUnanswered(...this.#carried));
    if (after !== undefined) problem = problem === undefined ? after : `${problem}; ${after}`;
    return problem === undefined ? undefined : `${problem}${sent()}`;
  }

  #snapshotEnds(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const t of this.broker.topics.list()) out.set(t.name, t.logs.map((l) => l.logEndOffset));
    return out;
  }

  /**
   * Reads the answers `fates` predict, in order. Returns what went wrong, and the index of the
   * first fate not seen through (its answer and those after it unread: their produces may still
   * append, unanswered).
   */
  async #readFates(
    conn: Connection,
    fates: Fate[],
    startEnds: Map<string, number[]>,
  ): Promise<{ problem: string | undefined; unread: number }> {
    const closeAt = fates.findIndex((f) => f.kind === "close");
    const framingClose = closeAt >= 0 && (fates[closeAt] as { framing: boolean }).framing;
    const failed = (i: number, problem: string) => ({
      problem: `frame ${i}: ${problem}`,
      unread: i,
    });
    for (let i = 0; i < fates.length; i++) {
      const fate = fates[i];
      if (fate.kind === "silent") {
        // Served before the next answer (a connection's requests are served in order).
        this.#noteUnanswered(fate.body);
        continue;
      }
      if (fate.kind === "close") {
        // Frames after it are never served.
        const frame = await conn.reader.next();
        if (conn.timedOut) return failed(i, `${fate.why}: connection not closed (hang)`);
        if (frame !== null) return failed(i, `${fate.why}: expected a close, got a response`);
        return { problem: undefined, unread: fates.length };
      }
      const frame = await conn.reader.next();
      if (frame === null) {
        if (conn.timedOut) {
          return failed(i, `no response to ${fate.api.name} v${fate.version} (hang)`);
        }
        // A bad size prefix later in the stream may close before earlier frames are answered
        // (or while one is being served: a Produce may append, unanswered; acks=0 ones too).
        if (framingClose) return { problem: undefined, unread: i };
        return failed(
          i,
          `${fate.api.name} v${fate.version} #${fate.correlationId}: ` +
            `connection closed instead of a response${this.#closeReason()}`,
        );
      }
      const p = this.#checkResponse(frame, fate, startEnds);
      if (p !== undefined) return failed(i, p);
    }
    return { problem: undefined, unread: fates.length }; // a partial frame waits for its rest
  }

  #closeReason(): string {
    const e = [...this.logger.events].reverse().find((e) =>
      e.message === "closing kafka connection" || e.message === "kafka request failed"
    );
    return e === undefined ? "" : ` (logged: ${e.message} ${JSON.stringify(e.fields)})`;
  }

  #checkResponse(
    frame: Uint8Array,
    fate: Extract<Fate, { kind: "response" }>,
    startEnds: Map<string, number[]>,
  ): string | undefined {
    const what = `${fate.api.name} v${fate.version} #${fate.correlationId}`;
    if (frame.length < 4) return `${what}: response frame of ${frame.length} bytes`;
    const id = new DataView(frame.buffer, frame.byteOffset).getInt32(0);
    if (id !== fate.correlationId) return `${what}: response has correlation id ${id}`;
    const response = fate.unsupported ? API_VERSIONS_RESPONSE : fate.api.response;
    let body: Struct;
    try {
      const hv = responseHeaderVersion(response, fate.version);
      const h = decodePrefix(RESPONSE_HEADER, hv, frame, 0);
      body = decode(response, fate.version, frame.subarray(h.position));
    } catch (err) {
      return `${what}: response does not decode: ${describe(err)} ${hex(frame)}`;
    }
    if (fate.unsupported) {
      return body.errorCode === KafkaError.UNSUPPORTED_VERSION
        ? undefined
        : `${what}: unsupported ApiVersions answered error ${body.errorCode}`;
    }
    switch (fate.api.key) {
      case API_VERSIONS_KEY: {
        // v3+: KIP-511's names, else INVALID_REQUEST (42), as Kafka answers.
        const named = fate.version < 3 ||
          (CLIENT_SOFTWARE.test(fate.body!.clientSoftwareName as string) &&
            CLIENT_SOFTWARE.test(fate.body!.clientSoftwareVersion as string));
        const want = named ? 0 : KafkaError.INVALID_REQUEST;
        return body.errorCode === want
          ? undefined
          : `${what}: error ${body.errorCode}, want ${want}`;
      }
      case PRODUCE_KEY:
        return this.#checkProduce(what, fate.body!, body);
      case FETCH_KEY:
        return this.#checkFetch(what, fate.version, fate.body!, body, startEnds);
      case JOIN_GROUP_KEY: {
        const group = fate.body!.groupId as string;
        const code = body.errorCode as number;
        if ((code === 0 || code === KafkaError.MEMBER_ID_REQUIRED) && body.memberId !== "") {
          this.#members.push([group, body.memberId as string, body.generationId as number]);
          if (this.#members.length > 8) this.#members.shift();
        }
        return undefined;
      }
      case DELETE_TOPICS_KEY:
        // A deleted topic starts again from offset 0 if anything creates it again.
        for (const r of body.responses as { name: string | null; errorCode: number }[]) {
          if (r.errorCode === 0 && r.name !== null) this.#ends.deleted(r.name);
        }
        return undefined;
      case INIT_PRODUCER_ID_KEY:
        if (body.errorCode === 0) {
          this.#producerIds.push(Number(body.producerId as bigint));
          if (this.#producerIds.length > 4) this.#producerIds.shift();
        }
        return undefined;
      default:
        return undefined;
    }
  }

  /**
   * Produce: answers mirror the request; successes move the model (log_end_model.ts), records
   * Kafka refuses never succeed, bad CRCs are refused as Kafka refuses them.
   */
  #checkProduce(what: string, request: Struct, response: Struct): string | undefined {
    const topics = request.topicData as { name: string; partitionData: Struct[] }[];
    const answers = response.responses as { name: string; partitionResponses: Struct[] }[];
    if (answers.length !== topics.length) {
      return `${what}: ${answers.length} topics answered, ${topics.length} sent`;
    }
    // Successes by topic and partition: a request may name a partition more than once.
    const successes = new Map<string, Map<number, ProduceSuccess[]>>();
    for (let i = 0; i < topics.length; i++) {
      const t = topics[i];
      const a = answers[i];
      if (a.name !== t.name || a.partitionResponses.length !== t.partitionData.length) {
        return `${what}: topic ${i} answered as ${JSON.stringify(a.name)} with ` +
          `${a.partitionResponses.length} partitions, sent ${JSON.stringify(t.name)} with ` +
          `${t.partitionData.length}`;
      }
      for (let j = 0; j < t.partitionData.length; j++) {
        const sent = t.partitionData[j];
        const got = a.partitionResponses[j];
        const partition = sent.index as number;
        const where = `${what}: ${JSON.stringify(t.name)}[${partition}]`;
        if (got.index !== partition) return `${where}: answered as partition ${got.index}`;
        const { batches } = batchesOf(sent.records as Uint8Array | null);
        const code = got.errorCode as number;
        const badCrc = batches.some((b) => !b.crcOk);
        const stat = `produce error ${code}${badCrc ? " (bad crc)" : ""}`;
        this.stats[stat] = (this.stats[stat] ?? 0) + 1;
        if (code !== KafkaError.NONE) {
          if (code === KafkaError.UNKNOWN_SERVER_ERROR) {
            return `${where}: UNKNOWN_SERVER_ERROR ${JSON.stringify(got.errorMessage)}`;
          }
          if (
            badCrc && !PRODUCE_EARLY_ERRORS.has(code) && code !== KafkaError.CORRUPT_MESSAGE &&
            code !== KafkaError.INVALID_RECORD
          ) {
            return `${where}: a batch with a bad CRC refused with error ${code} ` +
              `(${JSON.stringify(got.errorMessage)}), not CORRUPT_MESSAGE or INVALID_RECORD`;
          }
          continue;
        }
        const refusable = refusableRecords(sent.records as Uint8Array | null);
        if (refusable !== undefined) {
          return `${where}: accepted ${refusable} (${
            hex((sent.records as Uint8Array | null) ?? new Uint8Array(), 80)
          })`;
        }
        let byPartition = successes.get(t.name);
        if (byPartition === undefined) successes.set(t.name, byPartition = new Map());
        let list = byPartition.get(partition);
        if (list === undefined) byPartition.set(partition, list = []);
        list.push({
          baseOffset: Number(got.baseOffset as bigint),
          records: batches[0].records,
          idempotent: batches[0].idempotent,
        });
      }
    }
    for (const [topic, byPartition] of successes) {
      for (const [partition, list] of byPartition) {
        const problem = this.#ends.answered(topic, partition, list);
        if (problem !== undefined) {
          return `${what}: ${JSON.stringify(topic)}[${partition}]: ${problem}`;
        }
      }
    }
    return undefined;
  }

  #checkFetch(
    what: string,
    version: number,
    request: Struct,
    response: Struct,
    startEnds: Map<string, number[]>,
  ): string | undefined {
    const topics = request.topics as { topic: string; partitions: Struct[] }[];
    const answers = response.responses as { topic: string; partitions: Struct[] }[];
    // v7+ with an epoch other than 0 and -1 names a fetch session (KIP-227): an unknown one or a
    // wrong epoch is a top-level error with no partitions; an incremental answer holds only the
    // session's partitions with news, so it cannot mirror the request.
    const epoch = request.sessionEpoch as number;
    if (version >= 7 && epoch !== 0 && epoch !== -1) {
      const code = response.errorCode as number;
      if (
        code === KafkaError.FETCH_SESSION_ID_NOT_FOUND ||
        code === KafkaError.INVALID_FETCH_SESSION_EPOCH
      ) {
        return answers.length === 0 ? undefined : `${what}: session error ${code} with partitions`;
      }
      return code === KafkaError.NONE ? undefined : `${what}: top-level error ${code}`;
    }
    if (answers.length !== topics.length) {
      return `${what}: ${answers.length} topics answered, ${topics.length} asked`;
    }
    for (let i = 0; i < topics.length; i++) {
      const asked = topics[i].partitions;
      const got = answers[i].partitions;
      if (got.length !== asked.length) {
        return `${what}: topic ${i}: ${got.length} partitions answered, ${asked.length} asked`;
      }
      for (let j = 0; j < got.length; j++) {
        if (got[j].partitionIndex !== asked[j].partition) {
          return `${what}: partition ${asked[j].partition} answered as ${got[j].partitionIndex}`;
        }
        if (got[j].errorCode !== KafkaError.NONE) continue;
        // The high watermark lies between the case's start and what produces account for now.
        const before = startEnds.get(topics[i].topic)?.[asked[j].partition as number];
        const hw = Number(got[j].highWatermark as bigint);
        if (before !== undefined && hw < before && !this.#deletes) {
          return `${what}: high watermark ${hw} below ${before}, the log end before the case`;
        }
      }
    }
    return undefined;
  }

  /** A produce nobody hears back from: each partition's records may append, or not. */
  #noteUnanswered(body: Struct): void {
    for (const t of body.topicData as { name: string; partitionData: Struct[] }[]) {
      for (const p of t.partitionData) {
        this.#ends.noteUnanswered(t.name, p.index as number, p.records as Uint8Array | null);
      }
    }
  }

  /** The oracles after a case: a healthy connection answers, nothing logged, offsets add up. */
  async #afterCase(): Promise<string | undefined> {
    const problems: string[] = [];
    const health = await this.#healthCheck();
    if (health !== undefined) problems.push(health);
    for (const e of this.logger.events) {
      if (e.level === "error") {
        problems.push(`logged error: ${e.message} ${JSON.stringify(e.fields)}`);
      }
    }
    this.logger.events.length = 0;
    problems.push(...this.#ends.check(this.#snapshotEnds()));
    return problems.length === 0 ? undefined : problems.join("; ");
  }

  async #healthCheck(): Promise<string | undefined> {
    const api = this.#apis.get(API_VERSIONS_KEY)!;
    const id = ++this.#correlation;
    const version = id % 4;
    const header = encode(REQUEST_HEADER, requestHeaderVersion(api.request, version), {
      requestApiKey: API_VERSIONS_KEY,
      requestApiVersion: version,
      correlationId: id,
      clientId: "health",
    });
    const payload = encode(api.request, version, {
      clientSoftwareName: "sluice-fuzz",
      clientSoftwareVersion: "1.0",
    });
    const frame = concat(new Uint8Array(4), header, payload);
    new DataView(frame.buffer).setInt32(0, header.length + payload.length);
    const conn = this.#healthy;
    const timer = setTimeout(() => {
      conn.timedOut = true;
      conn.close();
    }, KAFKA_REQUEST_TIMEOUT_MS);
    try {
      await conn.write(frame);
      const response = await conn.reader.next();
      if (response === null) {
        return conn.timedOut
          ? `healthy connection: no ApiVersions answer in ${KAFKA_REQUEST_TIMEOUT_MS} ms`
          : "healthy connection closed";
      }
      const got = new DataView(response.buffer).getInt32(0);
      if (got !== id) return `healthy connection: correlation id ${got}, sent ${id}`;
      const body = decode(API_VERSIONS_RESPONSE, version, response.subarray(4));
      if (body.errorCode !== 0) return `healthy connection: ApiVersions error ${body.errorCode}`;
      return undefined;
    } finally {
      clearTimeout(timer);
      if (conn.timedOut || conn.closed) {
        // Keep checking with a new one; the failure is already reported.
        conn.close();
        this.#healthy = await Connection.open(this.listener.port);
      }
    }
  }
}

/** A consumer-protocol blob: int16 version then the table's value (sometimes garbage). */
function consumerBytes(schema: MessageSchema, value: Struct, rng: Rng): Uint8Array {
  if (rng.chance(0.15)) return rng.bytes(rng.int(12));
  const version = rng.int(4);
  const body = encode(schema, version, value);
  const out = new Uint8Array(2 + body.length);
  new DataView(out.buffer).setInt16(0, version);
  out.set(body, 2);
  return out;
}
