/**
 * One codec engine for Kafka wire messages, driven by declarative tables (see `messages/`).
 *
 * A table lists a message's fields in wire order, each with the versions it exists in. The engine
 * walks the table for one version; no message has a hand-written codec.
 *
 * Wire layout (all integers big-endian, as Kafka's protocol guide specifies):
 *   int8/16/32/64            fixed width, two's complement
 *   varint / varlong          zigzag, 7 bits a byte, at most 5 / 10 bytes
 *   bool                      1 byte, 0 = false, anything else = true
 *   uuid                      16 raw bytes
 *   string                    int16 length + UTF-8; null = length -1
 *   compact string            uvarint (length + 1) + UTF-8; null = 0
 *   bytes / records           int32 length + bytes; null = -1
 *   compact bytes / records   uvarint (length + 1) + bytes; null = 0
 *   array                     int32 count + elements; null = -1
 *   compact array             uvarint (count + 1) + elements; null = 0
 *   nullable struct           int8 -1 for null, else int8 1 and the struct
 *   tagged fields             uvarint count, then per field: uvarint tag, uvarint size, data;
 *                             ends every struct (and the message) in a flexible version.
 *
 * In a message's flexible versions strings, bytes and arrays switch to their compact form and
 * every struct gets a tagged-field section, as in Kafka's generator; a field may opt out with
 * `flexibleVersions: "none"` (the request header's ClientId does, to stay readable by old brokers).
 *
 * Decoding never reads past the end of its input: every read checks its bounds first and throws
 * {@link KafkaCodecError}. Encoding a value of the wrong JS type is a programmer error (assert).
 */

import { assert, SluiceError } from "../errors.ts";
import { KAFKA_ARRAY_LENGTH_MAX, KAFKA_TAGGED_FIELDS_MAX } from "../limits.ts";

export { KAFKA_ARRAY_LENGTH_MAX, KAFKA_TAGGED_FIELDS_MAX };

export type ScalarType =
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "varint"
  | "varlong"
  | "bool"
  | "uuid"
  | "string"
  | "bytes"
  | "records";

/** A field's type: a scalar, an array of scalars or structs, or one nested struct. */
export type FieldType =
  | ScalarType
  | { readonly array: ScalarType | readonly FieldSchema[] }
  | { readonly struct: readonly FieldSchema[] };

/** A version range as Kafka writes it: "3+", "0-8", "5", or "none". */
export type VersionRange = string;

export interface FieldSchema {
  /** camelCase key of the field in decoded values. */
  readonly name: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  /** Tag number; the field lives in the tagged section during `taggedVersions`. */
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** Overrides the message's flexible versions for this field (only "none" is used). */
  readonly flexibleVersions?: VersionRange;
  /** Value used when the field is absent in a version, and the tagged-field "omit" value. */
  readonly default?: Value;
}

export interface MessageSchema {
  readonly name: string;
  /** Absent for headers. */
  readonly apiKey?: number;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly fields: readonly FieldSchema[];
}

export type Value =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | null
  | readonly Value[]
  | Struct;
export interface Struct {
  readonly [name: string]: Value;
}

export const KAFKA_CODEC_ERROR_REASONS = [
  "TRUNCATED",
  "INVALID_LENGTH",
  "INVALID_VARINT",
  "INVALID_UTF8",
  "TOO_MANY_ELEMENTS",
  "TRAILING_BYTES",
  "UNSUPPORTED_VERSION",
  "NOT_NULLABLE",
] as const;
export type KafkaCodecErrorReason = typeof KAFKA_CODEC_ERROR_REASONS[number];

/** Bad bytes or an unsupported version: the peer's fault, answered with an error, never a crash. */
export class KafkaCodecError extends SluiceError {
  readonly reason: KafkaCodecErrorReason;

  constructor(reason: KafkaCodecErrorReason, message: string, position: number) {
    super("INVALID_REQUEST", message, { reason, position });
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Version ranges.

const rangeCache = new Map<string, readonly [number, number]>();

function parseRange(range: VersionRange): readonly [number, number] {
  let parsed = rangeCache.get(range);
  if (parsed !== undefined) return parsed;
  if (range === "none") parsed = [1, 0];
  else if (range.endsWith("+")) parsed = [Number(range.slice(0, -1)), Infinity];
  else if (range.includes("-")) {
    const [lo, hi] = range.split("-");
    parsed = [Number(lo), Number(hi)];
  } else parsed = [Number(range), Number(range)];
  assert(Number.isInteger(parsed[0]), `bad version range "${range}"`);
  rangeCache.set(range, parsed);
  return parsed;
}

/** True when `version` lies in `range` (an absent range holds no version). */
export function inRange(range: VersionRange | undefined, version: number): boolean {
  if (range === undefined) return false;
  const [lo, hi] = parseRange(range);
  return version >= lo && version <= hi;
}

function checkVersion(schema: MessageSchema, version: number): void {
  if (!Number.isInteger(version) || !inRange(schema.validVersions, version)) {
    throw new KafkaCodecError(
      "UNSUPPORTED_VERSION",
      `${schema.name} has no version ${version} (valid ${schema.validVersions})`,
      0,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Defaults.

function defaultFor(field: FieldSchema, version: number): Value {
  if (field.default !== undefined) return field.default;
  const type = field.type;
  if (typeof type === "object") {
    if ("array" in type) return [];
    return structDefault(type.struct, version);
  }
  switch (type) {
    case "int64":
    case "varlong":
      return 0n;
    case "bool":
      return false;
    case "uuid":
      return new Uint8Array(16);
    case "string":
      return "";
    case "bytes":
    case "records":
      return inRange(field.nullableVersions, version) ? null : new Uint8Array(0);
    default:
      return 0;
  }
}

function structDefault(fields: readonly FieldSchema[], version: number): Struct {
  const out: Record<string, Value> = {};
  for (const f of fields) out[f.name] = defaultFor(f, version);
  return out;
}

function isDefault(value: Value, def: Value): boolean {
  if (Array.isArray(value)) return value.length === 0 && Array.isArray(def) && def.length === 0;
  if (value instanceof Uint8Array) {
    return def instanceof Uint8Array && def.length === value.length &&
      value.every((b, i) => b === def[i]);
  }
  if (isStruct(value)) {
    if (!isStruct(def)) return false;
    const keys = new Set([...Object.keys(value), ...Object.keys(def)]);
    for (const k of keys) {
      if (!(k in value) || !(k in def) || !isDefault(value[k], def[k])) return false;
    }
    return true;
  }
  return value === def;
}

// ---------------------------------------------------------------------------------------------
// Writer.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Byte strings at least this long are not copied into the output: the writer keeps a reference
 * and emits them as their own chunk, so stored record batches go from log to socket as they are.
 */
export const ZERO_COPY_MIN_BYTES = 4096;

class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  /** Bytes of the current buffer in use. */
  length = 0;
  /** Finished chunks before the current buffer (zero-copy references and filled buffers). */
  readonly #chunks: Uint8Array[] = [];
  #chunkBytes = 0;

  #reserve(bytes: number): void {
    if (this.length + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  int8(v: number): void {
    this.#reserve(1);
    this.#view.setInt8(this.length, v);
    this.length += 1;
  }
  int16(v: number): void {
    this.#reserve(2);
    this.#view.setInt16(this.length, v);
    this.length += 2;
  }
  int32(v: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.length, v);
    this.length += 4;
  }
  int64(v: bigint): void {
    this.#reserve(8);
    this.#view.setBigInt64(this.length, v);
    this.length += 8;
  }
  uvarint(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `uvarint out of range: ${v}`);
    while (v >= 0x80) {
      this.int8Raw((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.int8Raw(v);
  }
  uvarlong(v: bigint): void {
    while (v >= 0x80n) {
      this.int8Raw(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.int8Raw(Number(v));
  }
  int8Raw(byte: number): void {
    this.#reserve(1);
    this.#buf[this.length++] = byte;
  }
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  /** Appends `bytes`; a long one by reference (see {@link ZERO_COPY_MIN_BYTES}). */
  rawShared(bytes: Uint8Array): void {
    if (bytes.length < ZERO_COPY_MIN_BYTES) return this.raw(bytes);
    if (this.length > 0) {
      this.#chunks.push(this.#buf.subarray(0, this.length));
      this.#chunkBytes += this.length;
      this.#buf = new Uint8Array(256);
      this.#view = new DataView(this.#buf.buffer);
      this.length = 0;
    }
    this.#chunks.push(bytes);
    this.#chunkBytes += bytes.length;
  }
  /** Every byte written so far. */
  get size(): number {
    return this.#chunkBytes + this.length;
  }
  /** The output as one array (copies shared chunks). */
  bytes(): Uint8Array {
    if (this.#chunks.length === 0) return this.#buf.slice(0, this.length);
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks()) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
  /** The output as chunks, shared byte strings by reference. */
  chunks(): Uint8Array[] {
    const out = [...this.#chunks];
    if (this.length > 0) out.push(this.#buf.subarray(0, this.length));
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Reader.

class Reader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  position: number;
  readonly end: number;

  constructor(bytes: Uint8Array, position: number, end: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = position;
    this.end = end;
  }

  need(n: number): void {
    if (n < 0 || this.position + n > this.end) {
      throw new KafkaCodecError(
        "TRUNCATED",
        `need ${n} bytes at position ${this.position}, have ${this.end - this.position}`,
        this.position,
      );
    }
  }
  int8(): number {
    this.need(1);
    return this.#view.getInt8(this.position++);
  }
  int16(): number {
    this.need(2);
    const v = this.#view.getInt16(this.position);
    this.position += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.#view.getInt32(this.position);
    this.position += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.#view.getBigInt64(this.position);
    this.position += 8;
    return v;
  }
  /** Unsigned varint of at most 5 bytes (32 bits). */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const byte = this.#bytes[this.position++];
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaCodecError("INVALID_VARINT", "varint longer than 32 bits", this.position);
  }
  /** Unsigned varlong of at most 10 bytes (64 bits). */
  uvarlong(): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const byte = this.#bytes[this.position++];
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffffffffffffn) break;
        return value;
      }
    }
    throw new KafkaCodecError("INVALID_VARINT", "varlong longer than 64 bits", this.position);
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.#bytes.slice(this.position, this.position + n);
    this.position += n;
    return out;
  }
  view(n: number): Uint8Array {
    this.need(n);
    const out = this.#bytes.subarray(this.position, this.position + n);
    this.position += n;
    return out;
  }
  utf8(n: number): string {
    this.need(n);
    const start = this.position;
    this.position += n;
    try {
      return textDecoder.decode(this.#bytes.subarray(start, start + n));
    } catch {
      throw new KafkaCodecError("INVALID_UTF8", `string at ${start} is not UTF-8`, start);
    }
  }
  sub(size: number): Reader {
    this.need(size);
    const reader = new Reader(this.#bytes, this.position, this.position + size);
    this.position += size;
    return reader;
  }
}

// ---------------------------------------------------------------------------------------------
// Field codec context: the per-field facts the engine needs for one version.

interface Mode {
  readonly version: number;
  readonly flexible: boolean;
  readonly nullable: boolean;
}

function modeFor(field: FieldSchema, version: number, messageFlexible: boolean): Mode {
  const flexible = messageFlexible &&
    (field.flexibleVersions === undefined || inRange(field.flexibleVersions, version));
  return { version, flexible, nullable: inRange(field.nullableVersions, version) };
}

function isTagged(field: FieldSchema, version: number, flexible: boolean): boolean {
  return flexible && field.tag !== undefined && inRange(field.taggedVersions, version);
}

// ---------------------------------------------------------------------------------------------
// Encoding.

function writeLength(w: Writer, mode: Mode, length: number, wide: boolean): void {
  if (mode.flexible) w.uvarint(length + 1);
  else if (wide) w.int32(length);
  else w.int16(length);
}

function writeScalar(w: Writer, type: ScalarType, value: Value, mode: Mode, name: string): void {
  switch (type) {
    case "int8":
    case "int16":
    case "int32":
    case "varint": {
      assert(typeof value === "number" && Number.isInteger(value), `${name}: integer expected`);
      if (type === "int8") w.int8(value);
      else if (type === "int16") w.int16(value);
      else if (type === "int32") w.int32(value);
      else w.uvarint(((value << 1) ^ (value >> 31)) >>> 0);
      return;
    }
    case "int64":
    case "varlong": {
      assert(typeof value === "bigint", `${name}: bigint expected`);
      if (type === "int64") w.int64(value);
      else w.uvarlong(BigInt.asUintN(64, (value << 1n) ^ (value >> 63n)));
      return;
    }
    case "bool":
      assert(typeof value === "boolean", `${name}: boolean expected`);
      w.int8(value ? 1 : 0);
      return;
    case "uuid":
      assert(value instanceof Uint8Array && value.length === 16, `${name}: 16-byte uuid expected`);
      w.raw(value);
      return;
    case "string": {
      if (value === null) {
        assert(mode.nullable, `${name}: not nullable in v${mode.version}`);
        writeLength(w, mode, -1, false);
        return;
      }
      assert(typeof value === "string", `${name}: string expected`);
      const utf8 = textEncoder.encode(value);
      assert(utf8.length <= 0x7fff, `${name}: string longer than 32767 bytes`);
      writeLength(w, mode, utf8.length, false);
      w.raw(utf8);
      return;
    }
    case "bytes":
    case "records": {
      if (value === null) {
        assert(mode.nullable || type === "records", `${name}: not nullable in v${mode.version}`);
        writeLength(w, mode, -1, true);
        return;
      }
      assert(value instanceof Uint8Array, `${name}: Uint8Array expected`);
      writeLength(w, mode, value.length, true);
      if (type === "records") w.rawShared(value);
      else w.raw(value);
      return;
    }
  }
}

function writeType(w: Writer, type: FieldType, value: Value, mode: Mode, name: string): void {
  if (typeof type === "string") return writeScalar(w, type, value, mode, name);
  if ("struct" in type) {
    // A nullable struct has an int8 marker first: -1 null, 1 present (Kafka's generator).
    if (mode.nullable) {
      w.int8(value === null ? -1 : 1);
      if (value === null) return;
    }
    assert(isStruct(value), `${name}: struct expected`);
    return writeStruct(w, type.struct, value, mode.version, mode.flexible);
  }
  if (value === null) {
    assert(mode.nullable, `${name}: not nullable in v${mode.version}`);
    writeLength(w, mode, -1, true);
    return;
  }
  assert(Array.isArray(value), `${name}: array expected`);
  writeLength(w, mode, value.length, true);
  const element = type.array;
  const elementMode: Mode = { ...mode, nullable: false };
  for (const item of value as readonly Value[]) {
    if (typeof element === "string") writeScalar(w, element, item, elementMode, name);
    else {
      assert(isStruct(item), `${name}: struct element expected`);
      writeStruct(w, element, item, mode.version, mode.flexible);
    }
  }
}

function isStruct(value: Value): value is Struct {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

function writeStruct(
  w: Writer,
  fields: readonly FieldSchema[],
  value: Struct,
  version: number,
  flexible: boolean,
): void {
  const tagged: FieldSchema[] = [];
  for (const field of fields) {
    if (!inRange(field.versions, version)) continue;
    if (isTagged(field, version, flexible)) {
      tagged.push(field);
      continue;
    }
    const v = field.name in value ? value[field.name] : defaultFor(field, version);
    writeType(w, field.type, v, modeFor(field, version, flexible), field.name);
  }
  if (!flexible) return;
  const present = tagged
    .filter((f) => f.name in value && !isDefault(value[f.name], defaultFor(f, version)))
    .sort((a, b) => a.tag! - b.tag!);
  w.uvarint(present.length);
  for (const field of present) {
    const inner = new Writer();
    writeType(inner, field.type, value[field.name], modeFor(field, version, flexible), field.name);
    w.uvarint(field.tag!);
    w.uvarint(inner.size);
    w.raw(inner.bytes());
  }
}

/** Encodes `value` as `schema` at `version`. Fields absent from `value` take their default. */
export function encode(schema: MessageSchema, version: number, value: Struct): Uint8Array {
  checkVersion(schema, version);
  const w = new Writer();
  writeStruct(w, schema.fields, value, version, inRange(schema.flexibleVersions, version));
  return w.bytes();
}

/**
 * Encodes like {@link encode} but returns chunks: `records` values of
 * {@link ZERO_COPY_MIN_BYTES} or more are referenced, not copied (a Fetch response's stored
 * batches go to the socket as they are).
 */
export function encodeChunks(
  schema: MessageSchema,
  version: number,
  value: Struct,
): Uint8Array[] {
  checkVersion(schema, version);
  const w = new Writer();
  writeStruct(w, schema.fields, value, version, inRange(schema.flexibleVersions, version));
  return w.chunks();
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/** Reads a length prefix; returns -1 for null. */
function readLength(r: Reader, mode: Mode, wide: boolean, name: string): number {
  const start = r.position;
  const length = mode.flexible ? r.uvarint() - 1 : wide ? r.int32() : r.int16();
  if (length < -1) {
    throw new KafkaCodecError("INVALID_LENGTH", `${name}: length ${length}`, start);
  }
  if (length === -1 && !mode.nullable) {
    throw new KafkaCodecError("NOT_NULLABLE", `${name}: null in v${mode.version}`, start);
  }
  return length;
}

function readScalar(r: Reader, type: ScalarType, mode: Mode, name: string): Value {
  switch (type) {
    case "int8":
      return r.int8();
    case "int16":
      return r.int16();
    case "int32":
      return r.int32();
    case "int64":
      return r.int64();
    case "varint": {
      const u = r.uvarint();
      return (u >>> 1) ^ -(u & 1);
    }
    case "varlong": {
      const u = r.uvarlong();
      return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
    }
    case "bool":
      return r.int8() !== 0;
    case "uuid":
      return r.raw(16);
    case "string": {
      const length = readLength(r, mode, false, name);
      return length === -1 ? null : r.utf8(length);
    }
    case "bytes":
    case "records": {
      const nullableMode = type === "records" ? { ...mode, nullable: true } : mode;
      const length = readLength(r, nullableMode, true, name);
      if (length === -1) return null;
      // Records are a view into the request frame (appended as they are, offsets patched in
      // place); other byte strings are copied so a retained value does not pin the frame.
      return type === "records" ? r.view(length) : r.raw(length);
    }
  }
}

function readType(r: Reader, type: FieldType, mode: Mode, name: string): Value {
  if (typeof type === "string") return readScalar(r, type, mode, name);
  if ("struct" in type) {
    if (mode.nullable && r.int8() < 0) return null;
    return readStruct(r, type.struct, mode.version, mode.flexible);
  }
  const start = r.position;
  const count = readLength(r, mode, true, name);
  if (count === -1) return null;
  // Every element takes at least one byte, so a count above the bytes left is a lie.
  if (count > KAFKA_ARRAY_LENGTH_MAX || count > r.end - r.position) {
    throw new KafkaCodecError("TOO_MANY_ELEMENTS", `${name}: ${count} elements`, start);
  }
  const element = type.array;
  const elementMode: Mode = { ...mode, nullable: false };
  const out: Value[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      typeof element === "string"
        ? readScalar(r, element, elementMode, name)
        : readStruct(r, element, mode.version, mode.flexible),
    );
  }
  return out;
}

function readStruct(
  r: Reader,
  fields: readonly FieldSchema[],
  version: number,
  flexible: boolean,
): Struct {
  const out: Record<string, Value> = {};
  const tagged = new Map<number, FieldSchema>();
  for (const field of fields) {
    if (!inRange(field.versions, version)) {
      out[field.name] = defaultFor(field, version);
    } else if (isTagged(field, version, flexible)) {
      out[field.name] = defaultFor(field, version);
      tagged.set(field.tag!, field);
    } else {
      out[field.name] = readType(r, field.type, modeFor(field, version, flexible), field.name);
    }
  }
  if (!flexible) return out;
  const start = r.position;
  const count = r.uvarint();
  if (count > KAFKA_TAGGED_FIELDS_MAX) {
    throw new KafkaCodecError("TOO_MANY_ELEMENTS", `${count} tagged fields`, start);
  }
  let lastTag = -1;
  for (let i = 0; i < count; i++) {
    const tagAt = r.position;
    const tag = r.uvarint();
    if (tag <= lastTag) {
      throw new KafkaCodecError("INVALID_LENGTH", `tag ${tag} out of order`, tagAt);
    }
    lastTag = tag;
    const size = r.uvarint();
    const body = r.sub(size);
    const field = tagged.get(tag);
    // Unknown tags are skipped: Kafka lets newer peers add tagged fields freely.
    if (field === undefined) continue;
    out[field.name] = readType(body, field.type, modeFor(field, version, flexible), field.name);
    if (body.position !== body.end) {
      throw new KafkaCodecError("INVALID_LENGTH", `tag ${tag}: size ${size} too big`, tagAt);
    }
  }
  return out;
}

/**
 * Decodes one `schema` value starting at `position`; returns it and the position after it.
 * Used to read a header and then the body that follows it in the same frame.
 */
export function decodePrefix(
  schema: MessageSchema,
  version: number,
  bytes: Uint8Array,
  position = 0,
): { value: Struct; position: number } {
  checkVersion(schema, version);
  const r = new Reader(bytes, position, bytes.length);
  const value = readStruct(r, schema.fields, version, inRange(schema.flexibleVersions, version));
  return { value, position: r.position };
}

/** Decodes `bytes` as exactly one `schema` value at `version`; trailing bytes are an error. */
export function decode(schema: MessageSchema, version: number, bytes: Uint8Array): Struct {
  const { value, position } = decodePrefix(schema, version, bytes, 0);
  if (position !== bytes.length) {
    throw new KafkaCodecError(
      "TRAILING_BYTES",
      `${schema.name} v${version}: ${bytes.length - position} bytes after the message`,
      position,
    );
  }
  return value;
}

/**
 * What `decode(encode(value))` yields: `value` with every field absent in `version` replaced by
 * its default, recursively. Tests compare round trips against it.
 */
export function normalize(schema: MessageSchema, version: number, value: Struct): Struct {
  return normalizeStruct(schema.fields, version, value);
}

function normalizeStruct(fields: readonly FieldSchema[], version: number, value: Struct): Struct {
  const out: Record<string, Value> = {};
  for (const field of fields) {
    const present = inRange(field.versions, version) && field.name in value;
    const v = present ? value[field.name] : defaultFor(field, version);
    const type = field.type;
    if (typeof type === "object" && "struct" in type && isStruct(v)) {
      out[field.name] = normalizeStruct(type.struct, version, v);
    } else if (typeof type === "object" && "array" in type && Array.isArray(v)) {
      const element = type.array;
      out[field.name] = typeof element === "string"
        ? v
        : (v as readonly Struct[]).map((item) => normalizeStruct(element, version, item));
    } else out[field.name] = v;
  }
  return out;
}
