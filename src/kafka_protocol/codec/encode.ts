/**
 * The encoder: walks a message's table for one version and writes each field (primitives:
 * writer.ts). Encoding a value of the wrong JS type is a programmer error (assert).
 *
 * Wire layouts of the composite types:
 *   varint / varlong          zigzag ((v << 1) ^ (v >> 31 or 63)), then uvarint / uvarlong
 *   bool                      1 byte, 0 = false, anything else = true
 *   uuid                      16 raw bytes
 *   string                    int16 length + UTF-8; null = length -1
 *   compact string            uvarint (length + 1) + UTF-8; null = 0
 *   bytes / records           int32 length + bytes; null = -1
 *   compact bytes / records   uvarint (length + 1) + bytes; null = 0
 *   array                     int32 count + elements; null = -1
 *   compact array             uvarint (count + 1) + elements; null = 0
 *   nullable struct           int8 -1 for null, else int8 1 and the struct
 *   tagged fields             uvarint count, then per field in ascending tag order: uvarint tag,
 *                             uvarint size, data; ends every struct (and the message) in a
 *                             flexible version. A field whose value is its default is left out.
 * The compact forms are used in a message's flexible versions (schema.ts modeFor).
 */
import { assert } from "../../errors.ts";
import { isDefault } from "./defaults.ts";
import { defaultOf, type FieldPlan, ON_WIRE, planFor } from "./plan.ts";
import {
  checkVersion,
  type FieldSchema,
  type FieldType,
  inRange,
  isStruct,
  type MessageSchema,
  type Mode,
  type ScalarType,
  type Struct,
  type Value,
} from "./schema.ts";
import { ASCII_FAST_BYTES_MAX } from "./reader.ts";
import { Writer } from "./writer.ts";

const textEncoder = new TextEncoder();

/** A string of at most ASCII_FAST_BYTES_MAX ASCII characters: written char by char (reader.ts). */
function isShortAscii(s: string): boolean {
  if (s.length > ASCII_FAST_BYTES_MAX) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** A length or count prefix: compact uvarint (n + 1), or int32 (`wide`) / int16; -1 is null. */
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
      if (isShortAscii(value)) {
        writeLength(w, mode, value.length, false);
        w.ascii(value);
        return;
      }
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
      // Records (a Fetch response's stored batches) by reference: never copied.
      if (type === "records") w.rawShared(value);
      else w.raw(value);
      return;
    }
  }
}

function writeType(
  w: Writer,
  type: FieldType,
  value: Value,
  mode: Mode,
  elementMode: Mode,
  name: string,
): void {
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
  for (const item of value as readonly Value[]) {
    if (typeof element === "string") writeScalar(w, element, item, elementMode, name);
    else {
      assert(isStruct(item), `${name}: struct element expected`);
      writeStruct(w, element, item, mode.version, mode.flexible);
    }
  }
}

function writeField(w: Writer, f: FieldPlan, value: Value): void {
  writeType(w, f.field.type, value, f.mode, f.elementMode, f.name);
}

/** A tagged field is written unless `value` leaves it out or holds its default. */
function taggedPresent(f: FieldPlan, value: Struct, version: number): boolean {
  return f.name in value && !isDefault(value[f.name], defaultOf(f, version));
}

/** The fields in table order, then (flexible) the tagged-field section (plan.ts). */
function writeStruct(
  w: Writer,
  fields: readonly FieldSchema[],
  value: Struct,
  version: number,
  flexible: boolean,
): void {
  const plan = planFor(fields, version, flexible);
  for (const f of plan.fields) {
    if (f.kind !== ON_WIRE) continue;
    writeField(w, f, f.name in value ? value[f.name] : defaultOf(f, version));
  }
  if (!flexible) return;
  let present = 0;
  for (const f of plan.tagged) if (taggedPresent(f, value, version)) present++;
  w.uvarint(present);
  if (present === 0) return;
  for (const f of plan.tagged) {
    if (!taggedPresent(f, value, version)) continue;
    const inner = new Writer();
    writeField(inner, f, value[f.name]);
    w.uvarint(f.field.tag!);
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
 * ZERO_COPY_MIN_BYTES (writer.ts) or more are referenced, not copied (a Fetch response's stored
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
