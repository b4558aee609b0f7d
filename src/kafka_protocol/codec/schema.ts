/**
 * The declarative tables' vocabulary: field and message schemas, the values they describe, and
 * version ranges.
 *
 * A table lists a message's fields in wire order, each with the versions it exists in. In a
 * message's flexible versions strings, bytes and arrays switch to their compact form and every
 * struct gets a tagged-field section, as in Kafka's generator; a field may opt out with
 * `flexibleVersions: "none"` (the request header's ClientId does, to stay readable by old
 * brokers). {@link modeFor} works out those per-field facts for one version.
 */
import { assert } from "../../errors.ts";
import { KafkaCodecError } from "./codec_error.ts";

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

export function isStruct(value: Value): value is Struct {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
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

/** UNSUPPORTED_VERSION unless `schema` has `version`. */
export function checkVersion(schema: MessageSchema, version: number): void {
  if (!Number.isInteger(version) || !inRange(schema.validVersions, version)) {
    throw new KafkaCodecError(
      "UNSUPPORTED_VERSION",
      `${schema.name} has no version ${version} (valid ${schema.validVersions})`,
      0,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Per-field facts for one version.

/** How one field is coded in one version. */
export interface Mode {
  readonly version: number;
  /** Compact lengths (and, for structs, a tagged-field section). */
  readonly flexible: boolean;
  readonly nullable: boolean;
}

export function modeFor(field: FieldSchema, version: number, messageFlexible: boolean): Mode {
  const flexible = messageFlexible &&
    (field.flexibleVersions === undefined || inRange(field.flexibleVersions, version));
  return { version, flexible, nullable: inRange(field.nullableVersions, version) };
}

/** True when the field goes in its struct's tagged section in this version. */
export function isTagged(field: FieldSchema, version: number, flexible: boolean): boolean {
  return flexible && field.tag !== undefined && inRange(field.taggedVersions, version);
}
