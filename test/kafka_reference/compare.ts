/**
 * The differential test's comparison (see differential_lib.ts): a decoded answer as a plain tree,
 * normalized (what differs by nature between two clusters replaced), and the field-by-field
 * differences of two such trees, with paths naming elements of unordered arrays by their key.
 */
import type { Struct, Value } from "../../src/kafka_protocol/codec.ts";
import type { ApiTables, Peer } from "./differential_lib.ts";

// ---------------------------------------------------------------------------------------------
// Normalization: a decoded answer as a plain tree, with what differs by nature replaced.

export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

/** A field one side has and the other has not. */
export const ABSENT = "<absent>";

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** RecordBatch v2 headers, the records section compared as bytes (a trailing partial batch too). */
export function batchesOf(bytes: Uint8Array): Plain {
  const out: Plain[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 61) {
      out.push({ partial: hex(bytes.subarray(at)) });
      break;
    }
    const size = 12 + dv.getInt32(at + 8);
    if (at + size > bytes.length) {
      out.push({ partialBatchOfBytes: size, have: bytes.length - at });
      break;
    }
    out.push({
      baseOffset: Number(dv.getBigInt64(at)),
      batchLength: size - 12,
      partitionLeaderEpoch: dv.getInt32(at + 12),
      magic: dv.getInt8(at + 16),
      crc: dv.getUint32(at + 17),
      attributes: dv.getInt16(at + 21),
      lastOffsetDelta: dv.getInt32(at + 23),
      baseTimestamp: Number(dv.getBigInt64(at + 27)),
      maxTimestamp: Number(dv.getBigInt64(at + 35)),
      producerId: Number(dv.getBigInt64(at + 43)),
      producerEpoch: dv.getInt16(at + 51),
      baseSequence: dv.getInt32(at + 53),
      recordCount: dv.getInt32(at + 57),
      records: hex(bytes.subarray(at + 61, at + size)),
    });
    at += size;
  }
  return out;
}

const UUID_PATTERN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Fields dropped before comparing: error messages are compared by their codes only. */
const DROPPED_FIELDS = new Set(["errorMessage", "batchIndexErrorMessage"]);

export interface NormalizeOptions {
  /** Extra unordered arrays for this case (path to key field), over the API's own. */
  unordered?: Readonly<Record<string, string>>;
  /** Field names whose values are generated ids on each side: a value >= 0 becomes "<id>". */
  generated?: readonly string[];
}

/** The decoded answer `body` of `api` from `peer` as a plain tree, normalized. */
export function normalize(
  api: ApiTables,
  peer: Peer,
  body: Struct,
  options: NormalizeOptions = {},
): Plain {
  const unordered = { ...api.unordered, ...options.unordered };
  const generated = new Set(options.generated ?? []);
  const scalar = (name: string, v: Value): Plain => {
    if (typeof v === "bigint") {
      v = Number.isSafeInteger(Number(v)) ? Number(v) : `${v}n`;
    }
    if (generated.has(name) && typeof v === "number" && v >= 0) return "<id>";
    if (name === "throttleTimeMs" && typeof v === "number" && v >= 0) return "<throttle>";
    if (name === "port" && v === peer.port) return "<port>";
    if (name === "clusterId" && v === peer.clusterId) return "<cluster id>";
    if (name === "sessionId" && typeof v === "number" && v !== 0) return "<session id>";
    if (typeof v === "string") {
      // Generated ids not learned by a case (a classic member id is "<client id>-<UUID>").
      return peer.aliases.get(v) ?? v.replace(UUID_PATTERN, "<uuid>");
    }
    if (v instanceof Uint8Array) {
      if (name === "records") return batchesOf(v);
      if (name === "topicId" || (v.length === 16 && name.endsWith("Id"))) {
        if (v.every((b) => b === 0)) return "<zero uuid>";
        const topic = peer.topicIds.get(hex(v));
        return topic !== undefined ? `<id of ${topic}>` : "<unknown uuid>";
      }
      return `0x${hex(v)}`;
    }
    return v as Plain;
  };
  const walk = (v: Value, name: string, shape: string): Plain => {
    if (Array.isArray(v)) {
      const elements = v.map((e) => walk(e as Value, name, `${shape}[]`));
      const key = unordered[shape];
      if (key === undefined) return elements;
      const labelOf = (e: Plain) =>
        key === "" ? String(e) : String((e as Record<string, Plain>)?.[key] ?? "?");
      const sorted = [...elements].sort((a, b) =>
        labelOf(a) < labelOf(b) ? -1 : labelOf(a) > labelOf(b) ? 1 : 0
      );
      if (key === "") return sorted;
      const out: Record<string, Plain> = {};
      for (const e of sorted) {
        let label = `[${labelOf(e)}]`;
        for (let n = 2; label in out; n++) label = `[${labelOf(e)}#${n}]`;
        out[label] = e;
      }
      return out;
    }
    if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
      const out: Record<string, Plain> = {};
      for (const [k, field] of Object.entries(v as Struct)) {
        if (DROPPED_FIELDS.has(k)) continue;
        out[k] = walk(field, k, shape === "" ? k : `${shape}.${k}`);
      }
      return out;
    }
    return scalar(name, v);
  };
  const out: Record<string, Plain> = {};
  for (const [k, field] of Object.entries(body)) {
    if (DROPPED_FIELDS.has(k)) continue;
    out[k] = walk(field, k, k);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Differences.

export interface Difference {
  readonly path: string;
  readonly kafka: Plain;
  readonly sluice: Plain;
}

function isRecord(v: Plain): v is Record<string, Plain> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function join(path: string, key: string): string {
  if (key.startsWith("[")) return `${path}${key}`;
  return path === "" ? key : `${path}.${key}`;
}

/** Every leaf where the two trees differ; a subtree one side lacks is one difference. */
export function differences(kafka: Plain, sluice: Plain, path = ""): Difference[] {
  if (Array.isArray(kafka) && Array.isArray(sluice)) {
    const out: Difference[] = [];
    for (let i = 0; i < Math.max(kafka.length, sluice.length); i++) {
      out.push(
        ...differences(
          i < kafka.length ? kafka[i] : ABSENT,
          i < sluice.length ? sluice[i] : ABSENT,
          `${path}[${i}]`,
        ),
      );
    }
    return out;
  }
  if (isRecord(kafka) && isRecord(sluice)) {
    const out: Difference[] = [];
    const keys = [...new Set([...Object.keys(kafka), ...Object.keys(sluice)])];
    for (const k of keys) {
      out.push(
        ...differences(
          k in kafka ? kafka[k] : ABSENT,
          k in sluice ? sluice[k] : ABSENT,
          join(path, k),
        ),
      );
    }
    return out;
  }
  if (JSON.stringify(kafka) === JSON.stringify(sluice)) return [];
  return [{ path, kafka, sluice }];
}
