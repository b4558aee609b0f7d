/**
 * The decoder: walks a message's table for one version and reads each field, in the layouts
 * encode.ts documents (primitives: reader.ts). Decoding never reads past the end of its input and
 * checks every length and count against what is left: bad bytes are a KafkaCodecError naming the
 * reason and position. Unknown tags in a tagged-field section are skipped (Kafka lets newer peers
 * add tagged fields freely); tags must ascend.
 */
import { KAFKA_ARRAY_LENGTH_MAX, KAFKA_TAGGED_FIELDS_MAX } from "../../limits.ts";
import { KafkaCodecError } from "./codec_error.ts";
import { defaultOf, type FieldPlan, ON_WIRE, planFor } from "./plan.ts";
import { Reader } from "./reader.ts";
import {
  checkVersion,
  type FieldSchema,
  type FieldType,
  inRange,
  type MessageSchema,
  type Mode,
  type ScalarType,
  type Struct,
  type Value,
} from "./schema.ts";

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
      // Records are nullable in every version (plan.ts gives their fields such a mode already).
      const nullableMode = type === "records" && !mode.nullable
        ? { ...mode, nullable: true }
        : mode;
      const length = readLength(r, nullableMode, true, name);
      if (length === -1) return null;
      // Records are a view into the request frame (appended as they are, offsets patched in
      // place); other byte strings are copied so a retained value does not pin the frame.
      return type === "records" ? r.view(length) : r.raw(length);
    }
  }
}

function readType(
  r: Reader,
  type: FieldType,
  mode: Mode,
  elementMode: Mode,
  name: string,
): Value {
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

function readField(r: Reader, f: FieldPlan): Value {
  return readType(r, f.field.type, f.mode, f.elementMode, f.name);
}

/** The fields in table order, then (flexible) the tagged-field section (plan.ts). */
function readStruct(
  r: Reader,
  fields: readonly FieldSchema[],
  version: number,
  flexible: boolean,
): Struct {
  const plan = planFor(fields, version, flexible);
  const out: Record<string, Value> = {};
  for (const f of plan.fields) {
    out[f.name] = f.kind === ON_WIRE ? readField(r, f) : defaultOf(f, version);
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
    const f = plan.byTag.get(tag);
    // Unknown tags are skipped: Kafka lets newer peers add tagged fields freely.
    if (f === undefined) continue;
    out[f.name] = readField(body, f);
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
