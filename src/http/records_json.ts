/**
 * Records between JSON and bytes, for the fronts that must show records. Only the batches a fetch
 * returned are decoded, and only records at or after the requested offset are shown.
 */
import { Buffer } from "node:buffer";
import { SluiceError } from "../errors.ts";
import {
  CHECK_CRC,
  checkBatch,
  decodeBatches,
  type DecodedBatch,
  type RecordHeader,
  viewOf,
} from "../record/record_batch.ts";
import type { ProduceRecord } from "../broker/broker.ts";
import type { z } from "@hono/zod-openapi";
import type { ProduceBody } from "./schemas.ts";

export type KeyEncoding = "string" | "base64";
export type ValueEncoding = "string" | "base64" | "json";

/** How a fetch shows keys, values and header values (each query's `*Encoding`, "string" unset). */
export interface FieldEncodings {
  key: KeyEncoding;
  value: ValueEncoding;
  header: KeyEncoding;
}

/** A query's or body's encodings, each "string" when not given. */
export function encodingsOf(q: {
  keyEncoding?: KeyEncoding;
  valueEncoding?: ValueEncoding;
  headerEncoding?: KeyEncoding;
}): FieldEncodings {
  return {
    key: q.keyEncoding ?? "string",
    value: q.valueEncoding ?? "string",
    header: q.headerEncoding ?? "string",
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fromBase64(text: string, where: string): Uint8Array {
  if (!BASE64.test(text)) throw new SluiceError("INVALID_REQUEST", `${where} is not valid base64`);
  const buf = Buffer.from(text, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** A key or value as the encoder takes it: strings stay strings (UTF-8 written in place). */
function encodeField(
  value: unknown,
  encoding: ValueEncoding,
  where: string,
): Uint8Array | string | null {
  if (encoding === "json") return value === null ? null : JSON.stringify(value);
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") {
    throw new SluiceError(
      "INVALID_REQUEST",
      `${where} must be a string or null with ${encoding} encoding (valueEncoding "json" takes any JSON)`,
    );
  }
  return encoding === "base64" ? fromBase64(value, where) : value;
}

/** Keys are hashed by the partitioner, so they are bytes. */
function encodeKey(value: unknown, encoding: KeyEncoding, where: string): Uint8Array | null {
  const key = encodeField(value, encoding, where);
  return typeof key === "string" ? encoder.encode(key) : key;
}

/** A produce request's records as the broker takes them. */
export function toProduceRecords(body: z.output<typeof ProduceBody>): ProduceRecord[] {
  const keyEncoding = body.keyEncoding ?? "string";
  const valueEncoding = body.valueEncoding ?? "string";
  const headerEncoding = body.headerEncoding ?? "string";
  return body.records.map((r, i) => {
    let headers: RecordHeader[] | undefined;
    const headerValue = (value: string | null, where: string) =>
      value === null
        ? null
        : headerEncoding === "base64"
        ? fromBase64(value, where)
        : encoder.encode(value);
    if (Array.isArray(r.headers)) {
      headers = r.headers.map((h, j) => ({
        key: h.key,
        value: headerValue(h.value, `records.${i}.headers.${j}.value`),
      }));
    } else if (r.headers !== undefined) {
      headers = Object.entries(r.headers).map(([key, value]) => ({
        key,
        value: headerValue(value, `records.${i}.headers.${key}`),
      }));
    }
    return {
      key: encodeKey(r.key ?? null, keyEncoding, `records.${i}.key`),
      value: encodeField(r.value ?? null, valueEncoding, `records.${i}.value`),
      headers,
      partition: r.partition,
      timestamp: r.timestamp,
    };
  });
}

export interface RecordJson {
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
  headers: { key: string; value: string | null }[];
}

function showField(bytes: Uint8Array | null, encoding: ValueEncoding, offset: number): unknown {
  if (bytes === null) return null;
  if (encoding === "base64") return Buffer.from(bytes).toString("base64");
  const text = decoder.decode(bytes);
  if (encoding === "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new SluiceError(
      "INVALID_REQUEST",
      `the value at offset ${offset} is not JSON; fetch it with valueEncoding=string or base64`,
      { offset },
    );
  }
}

/** Decodes whole batches into JSON records, keeping those at or after `fromOffset`. */
export function recordsToJson(
  bytes: Uint8Array,
  fromOffset: number,
  encodings: FieldEncodings,
): RecordJson[] {
  const out: RecordJson[] = [];
  decodeInto(bytes, fromOffset, encodings, (r) => out.push(r));
  return out;
}

/**
 * Checks every batch of a read (whole batches, as the log returns them) with its CRC-32C: the log
 * does not check on read by default (verifyCrcOnRead, as Kafka's broker, whose consumers check),
 * and for a JSON answer this server is the consumer. A batch failing it was damaged on disk since
 * it was appended: CORRUPT_LOG (500), not the client's CORRUPT_BATCH.
 */
export function checkStoredBatches(bytes: Uint8Array): void {
  const dv = viewOf(bytes);
  for (let pos = 0; pos < bytes.length;) {
    const checked = checkBatch(bytes, dv, pos, bytes.length, Number.MAX_SAFE_INTEGER, CHECK_CRC);
    if (typeof checked !== "number") {
      throw new SluiceError("CORRUPT_LOG", `a stored batch is damaged: ${checked.reason}`, {
        position: pos,
      });
    }
    pos += checked;
  }
}

/**
 * The stored batches of a read, decoded once each is CRC-32C checked (checkStoredBatches).
 */
function storedBatches(bytes: Uint8Array): DecodedBatch[] {
  checkStoredBatches(bytes);
  // What the CRC covers is as appended; a payload that was stored so (an undecodable codec
  // frame) stays the error decoding gives it, as before.
  return decodeBatches(bytes, false);
}

function decodeInto(
  bytes: Uint8Array,
  fromOffset: number,
  encodings: FieldEncodings,
  emit: (r: RecordJson) => void,
): void {
  const headerBase64 = encodings.header === "base64";
  for (const batch of storedBatches(bytes)) {
    if (batch.isControl) continue;
    for (const r of batch.records) {
      if (r.offset < fromOffset) continue;
      emit({
        offset: r.offset,
        timestamp: r.timestamp,
        key: showField(r.key, encodings.key, r.offset),
        value: showField(r.value, encodings.value, r.offset),
        headers: r.headers.length === 0 ? [] : r.headers.map((h) => ({
          key: h.key,
          value: h.value === null
            ? null
            : headerBase64
            ? Buffer.from(h.value).toString("base64")
            : decoder.decode(h.value),
        })),
      });
    }
  }
}
