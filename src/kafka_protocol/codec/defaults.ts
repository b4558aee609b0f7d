/**
 * Field defaults: the value a field takes in a version it does not exist in, the value a tagged
 * field is left out of the wire for, and {@link normalize}, what a round trip yields.
 */
import {
  type FieldSchema,
  inRange,
  isStruct,
  type MessageSchema,
  type Struct,
  type Value,
} from "./schema.ts";

export function defaultFor(field: FieldSchema, version: number): Value {
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

/** True when `value` equals `def` (deeply): a tagged field with that value is not written. */
export function isDefault(value: Value, def: Value): boolean {
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
