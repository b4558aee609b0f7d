/**
 * A struct's table worked out for one version, once: which fields are on the wire, which take
 * their default, which live in the tagged section (and in what tag order), and each field's
 * {@link Mode}. Encoding and decoding walk this list instead of checking every field's version
 * ranges on every message (a produce request and a fetch response are encoded and decoded
 * thousands of times a second). Plans are kept per table (a WeakMap on the fields array) and per
 * version and flexibility; a table has a handful of versions, so each keeps a few.
 */
import { defaultFor } from "./defaults.ts";
import { type FieldSchema, inRange, isTagged, type Mode, modeFor, type Value } from "./schema.ts";

/** Where a field is in this version: on the wire in table order, absent, or in the tagged section. */
export const ON_WIRE = 0;
export const ABSENT = 1;
export const TAGGED = 2;

export interface FieldPlan {
  readonly field: FieldSchema;
  readonly name: string;
  readonly kind: typeof ON_WIRE | typeof ABSENT | typeof TAGGED;
  /** How the field is coded (a records field is always nullable, as Kafka's generator has it). */
  readonly mode: Mode;
  /** The mode of an array's elements: never null themselves. */
  readonly elementMode: Mode;
  /**
   * The field's default when it is immutable (a number, bigint, boolean, string or null), shared
   * by every message; `NO_SHARED_DEFAULT` when it is made fresh each time (an array, a struct,
   * bytes), so that no two messages share a mutable default.
   */
  readonly sharedDefault: Value | typeof NO_SHARED_DEFAULT;
}

export const NO_SHARED_DEFAULT: unique symbol = Symbol("no shared default");

export interface StructPlan {
  /** Every field, in table order. */
  readonly fields: readonly FieldPlan[];
  /** The tagged fields by tag (decoding). */
  readonly byTag: ReadonlyMap<number, FieldPlan>;
  /** The tagged fields in ascending tag order (encoding writes them so). */
  readonly tagged: readonly FieldPlan[];
}

const plans = new WeakMap<readonly FieldSchema[], Map<number, StructPlan>>();

/** The plan of `fields` at `version` in a flexible or non-flexible message. */
export function planFor(
  fields: readonly FieldSchema[],
  version: number,
  flexible: boolean,
): StructPlan {
  let byVersion = plans.get(fields);
  if (byVersion === undefined) {
    byVersion = new Map();
    plans.set(fields, byVersion);
  }
  const key = flexible ? -1 - version : version;
  let plan = byVersion.get(key);
  if (plan === undefined) {
    plan = build(fields, version, flexible);
    byVersion.set(key, plan);
  }
  return plan;
}

/** The field's default for a message: the shared one, or a fresh one. */
export function defaultOf(f: FieldPlan, version: number): Value {
  return f.sharedDefault === NO_SHARED_DEFAULT ? defaultFor(f.field, version) : f.sharedDefault;
}

function build(fields: readonly FieldSchema[], version: number, flexible: boolean): StructPlan {
  const all: FieldPlan[] = [];
  const byTag = new Map<number, FieldPlan>();
  for (const field of fields) {
    const kind = !inRange(field.versions, version)
      ? ABSENT
      : isTagged(field, version, flexible)
      ? TAGGED
      : ON_WIRE;
    const base = modeFor(field, version, flexible);
    const mode = field.type === "records" && !base.nullable ? { ...base, nullable: true } : base;
    const def = defaultFor(field, version);
    const f: FieldPlan = {
      field,
      name: field.name,
      kind,
      mode,
      elementMode: { ...base, nullable: false },
      sharedDefault: typeof def === "object" && def !== null ? NO_SHARED_DEFAULT : def,
    };
    all.push(f);
    if (kind === TAGGED) byTag.set(field.tag!, f);
  }
  const tagged = [...byTag.values()].sort((a, b) => a.field.tag! - b.field.tag!);
  return { fields: all, byTag, tagged };
}
