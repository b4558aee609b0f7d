/**
 * RecordsJsonWriter (src/http/records_json_writer.ts) against the path it replaces on the fetch
 * routes: JSON.stringify of recordsToJson's objects. The two must give the same bytes for every
 * kind of field (text that is and is not UTF-8, escapes, byte-order marks, base64, JSON values,
 * headers), for compressed, LogAppendTime and control batches, and for a read that starts inside
 * a batch; damaged batches must fail as before.
 */
import assert from "node:assert/strict";
import { SluiceError } from "../../src/errors.ts";
import { type FieldEncodings, recordsToJson } from "../../src/http/records_json.ts";
import { RecordsJsonWriter } from "../../src/http/records_json_writer.ts";
import { COMPRESSION_CODECS } from "../../src/record/compression.ts";
import { crc32c } from "../../src/record/crc32c.ts";
import {
  ATTRIBUTES_AT,
  CRC_AT,
  encodeRecordBatch,
  type RecordInput,
  TIMESTAMP_TYPE_BIT,
  viewOf,
} from "../../src/record/record_batch.ts";
import { CONTROL_ATTRIBUTE } from "../../src/record/record_cursor.ts";
import { concat } from "../kafka_protocol/kafka_wire_util.ts";

/** A small deterministic generator (mulberry32), so a failure is reproducible. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();
/** Fatal: the writer's output must be UTF-8 itself, not bytes a lenient decode would mend. */
const strict = new TextDecoder("utf-8", { fatal: true });

/** Field contents that exercise every branch of the writer's text and base64 paths. */
const SAMPLES: readonly (Uint8Array | string)[] = [
  "",
  "plain ascii",
  'quote " and backslash \\ and slash /',
  "controls \b\t\n\f\r \u0000 \u0001 \u001f \u007f end",
  "é ü ß 日本語 emoji 😀 \u2028 \u2029",
  "\ufeffstarts with a byte-order mark",
  "\ufeff",
  '{"a": [1, 2.5, "x"], "b": null}',
  "[1,2,3]",
  "12",
  new Uint8Array([0xff, 0xfe, 0x41]), // not UTF-8
  new Uint8Array([0x41, 0xc3]), // truncated sequence at the end
  new Uint8Array([0xe0, 0x80, 0x80]), // overlong
  new Uint8Array([0xed, 0xa0, 0x80]), // a surrogate
  new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
  new Uint8Array([0xf0, 0x9f, 0x98, 0x80, 0x22]), // valid 4 bytes, then a quote
  new Uint8Array([0xc0, 0xaf]), // overlong slash
  new Uint8Array([0xef, 0xbb, 0xbf, 0xff]), // a mark, then not UTF-8
  new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8]),
  new Uint8Array([0xfb]),
  new Uint8Array([0xfb, 0xff]),
];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)];
}

function field(rnd: () => number): Uint8Array | string | null {
  const r = rnd();
  if (r < 0.1) return null;
  if (r < 0.2) {
    const bytes = new Uint8Array(Math.floor(rnd() * 300));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
    return bytes;
  }
  return pick(rnd, SAMPLES);
}

function records(rnd: () => number, n: number): RecordInput[] {
  return Array.from({ length: n }, () => {
    const headerCount = rnd() < 0.5 ? 0 : Math.floor(rnd() * 4);
    return {
      key: field(rnd),
      value: field(rnd),
      timestamp: rnd() < 0.2 ? undefined : 1_700_000_000_000 + Math.floor(rnd() * 1e6) - 5e5,
      headers: Array.from({ length: headerCount }, () => {
        const key = pick(rnd, SAMPLES);
        const value = field(rnd);
        return {
          key: typeof key === "string" ? key : new TextDecoder().decode(key),
          value: typeof value === "string" ? enc.encode(value) : value,
        };
      }),
    };
  });
}

/** Sets attribute bits on an encoded batch and seals it again (the CRC covers the attributes). */
function withAttributes(batch: Uint8Array, bits: number): Uint8Array {
  const dv = viewOf(batch);
  dv.setInt16(ATTRIBUTES_AT, dv.getInt16(ATTRIBUTES_AT) | bits);
  dv.setUint32(CRC_AT, crc32c(batch.subarray(ATTRIBUTES_AT)));
  return batch;
}

/** Batches at consecutive offsets from 100: plain, gzip, lz4, LogAppendTime and control ones. */
function log(rnd: () => number, batches: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 100;
  for (let b = 0; b < batches; b++) {
    const rs = records(rnd, 1 + Math.floor(rnd() * 20));
    const kind = rnd();
    const compression = kind < 0.2
      ? COMPRESSION_CODECS.gzip
      : kind < 0.4
      ? COMPRESSION_CODECS.lz4
      : COMPRESSION_CODECS.none;
    let batch = encodeRecordBatch(rs, {
      baseOffset: offset,
      compression,
      timestampMs: 1_699_999_999_000,
    });
    const flags = rnd();
    if (flags < 0.15) batch = withAttributes(batch, TIMESTAMP_TYPE_BIT);
    else if (flags < 0.25) batch = withAttributes(batch, CONTROL_ATTRIBUTE);
    parts.push(batch);
    offset += rs.length;
  }
  return concat(...parts);
}

function written(
  bytes: Uint8Array,
  from: number,
  encodings: FieldEncodings,
  prefix?: string,
): string {
  const w = new RecordsJsonWriter(encodings);
  w.raw('{"records":[');
  w.writeRecords(bytes, from, prefix);
  w.raw('],"nextOffset":7}');
  return strict.decode(w.finish());
}

function expected(bytes: Uint8Array, from: number, encodings: FieldEncodings): string {
  return JSON.stringify({ records: recordsToJson(bytes, from, encodings), nextOffset: 7 });
}

const ENCODINGS: readonly FieldEncodings[] = [
  { key: "string", value: "string", header: "string" },
  { key: "base64", value: "base64", header: "base64" },
  { key: "string", value: "base64", header: "base64" },
  { key: "base64", value: "string", header: "string" },
];

Deno.test("RecordsJsonWriter writes what JSON.stringify(recordsToJson(...)) wrote", async (t) => {
  await t.step("random batches, every encoding, reads from inside a batch", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = random(seed);
      const bytes = log(rnd, 1 + Math.floor(rnd() * 6));
      for (const encodings of ENCODINGS) {
        for (const from of [0, 100, 100 + Math.floor(rnd() * 40), 1_000_000]) {
          assert.equal(
            written(bytes, from, encodings),
            expected(bytes, from, encodings),
            `seed ${seed}, from ${from}, ${JSON.stringify(encodings)}`,
          );
        }
      }
    }
  });

  await t.step("values that hold JSON are written back compact", () => {
    const values = ['{ "a" : [ 1 , 2 ] }', " 12 ", '"text"', "null", "[]", '{"é":"😀\\n"}'];
    const bytes = encodeRecordBatch(values.map((value) => ({ value })), {
      baseOffset: 5,
      timestampMs: 1,
    });
    const encodings: FieldEncodings = { key: "string", value: "json", header: "string" };
    const text = written(bytes, 0, encodings);
    assert.equal(text, expected(bytes, 0, encodings));
    assert.match(text, /"value":\{"a":\[1,2\]\}/);
  });

  await t.step("a prefix opens every record, as the group fetch's topic and partition", () => {
    const bytes = encodeRecordBatch([{ value: "a" }, { key: "k", value: "b" }], {
      baseOffset: 0,
      timestampMs: 1_000,
    });
    const w = new RecordsJsonWriter({ key: "string", value: "string", header: "string" });
    w.raw("[");
    w.writeRecords(bytes, 0, '"topic":"t\\"1","partition":3,');
    w.writeRecords(bytes, 1, '"topic":"u","partition":0,');
    w.raw("]");
    assert.equal(w.records, 3);
    assert.deepEqual(JSON.parse(strict.decode(w.finish())), [
      {
        topic: 't"1',
        partition: 3,
        offset: 0,
        timestamp: 1_000,
        key: null,
        value: "a",
        headers: [],
      },
      {
        topic: 't"1',
        partition: 3,
        offset: 1,
        timestamp: 1_000,
        key: "k",
        value: "b",
        headers: [],
      },
      { topic: "u", partition: 0, offset: 1, timestamp: 1_000, key: "k", value: "b", headers: [] },
    ]);
  });

  await t.step("large fields grow the buffer past its first size", () => {
    const big = "\u0001".repeat(200_000) + "x".repeat(100_000) + "é".repeat(50_000);
    const bytes = encodeRecordBatch([{ key: big, value: enc.encode(big) }], {
      baseOffset: 0,
      timestampMs: 1,
    });
    for (const encodings of ENCODINGS) {
      assert.equal(written(bytes, 0, encodings), expected(bytes, 0, encodings));
    }
  });
});

Deno.test("RecordsJsonWriter refuses damaged batches and values that are not JSON", async (t) => {
  const good = encodeRecordBatch([{ value: "one" }, { value: "two" }], {
    baseOffset: 0,
    timestampMs: 1,
  });
  const encodings: FieldEncodings = { key: "string", value: "string", header: "string" };

  await t.step("a flipped byte is CORRUPT_LOG, found before anything is written", () => {
    const bad = concat(good, good.slice());
    bad[bad.length - 2] ^= 0x40; // the second batch's last value byte
    const w = new RecordsJsonWriter(encodings);
    assert.throws(
      () => w.writeRecords(bad, 0),
      (e: unknown) => e instanceof SluiceError && e.code === "CORRUPT_LOG",
    );
    assert.equal(w.records, 0);
  });

  await t.step("a truncated batch is CORRUPT_LOG", () => {
    assert.throws(
      () => new RecordsJsonWriter(encodings).writeRecords(good.subarray(0, good.length - 1), 0),
      (e: unknown) => e instanceof SluiceError && e.code === "CORRUPT_LOG",
    );
  });

  await t.step("valueEncoding=json on a value that is not JSON is INVALID_REQUEST", () => {
    assert.throws(
      () =>
        new RecordsJsonWriter({ key: "string", value: "json", header: "string" })
          .writeRecords(good, 0),
      (e: unknown) =>
        e instanceof SluiceError && e.code === "INVALID_REQUEST" && /offset 0 is not JSON/.test(
          e.message,
        ),
    );
  });
});
