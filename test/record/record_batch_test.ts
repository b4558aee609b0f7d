import assert from "node:assert/strict";
import { isSluiceError, SluiceError } from "../../src/errors.ts";
import { BATCH_BYTES_MAX, HEADERS_PER_RECORD_MAX } from "../../src/limits.ts";
import { COMPRESSION_CODECS, type CompressionCodec } from "../../src/record/compression.ts";
import { crc32c } from "../../src/record/crc32c.ts";
import {
  ATTRIBUTES_AT,
  BASE_OFFSET_AT,
  BASE_SEQUENCE_AT,
  BASE_TIMESTAMP_AT,
  baseOffsetAt,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  type BatchOptions,
  type BatchProblem,
  batchSizeAt,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  compressionAt,
  CRC_AT,
  decodeBatches,
  type DecodedBatch,
  decodeRecordBatch,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_AT,
  lastOffsetDeltaAt,
  LOG_OVERHEAD,
  MAGIC_AT,
  MAX_TIMESTAMP_AT,
  maxTimestampAt,
  PARTITION_LEADER_EPOCH_AT,
  PRODUCER_EPOCH_AT,
  PRODUCER_ID_AT,
  type RecordInput,
  RECORDS_COUNT_AT,
  recordsCountAt,
  throwBatchProblem,
  utf8,
  utf8Length,
  viewOf,
} from "../../src/record/record_batch.ts";
import { assertBytes, randomBytes, toHex } from "../test_util.ts";

const MiB = 1024 * 1024;
const NOW_MS = 1_732_406_400_000;
const CODECS: [string, CompressionCodec][] = [
  ["none", COMPRESSION_CODECS.none],
  ["gzip", COMPRESSION_CODECS.gzip],
  ["lz4", COMPRESSION_CODECS.lz4],
];
const ALL_CHECKS = CHECK_CRC | CHECK_COUNTS;
const textDecoder = new TextDecoder();

/** Checks every record against its input: offset, timestamp, key, value, headers. */
function assertRecords(
  batch: DecodedBatch,
  inputs: readonly RecordInput[],
  options: BatchOptions,
): void {
  assert.equal(batch.records.length, inputs.length, "record count");
  const baseOffset = options.baseOffset ?? 0;
  for (let i = 0; i < inputs.length; i++) {
    const got = batch.records[i];
    const want = inputs[i];
    assert.equal(got.offset, baseOffset + i, `record ${i} offset`);
    assert.equal(got.timestamp, want.timestamp ?? options.timestampMs, `record ${i} timestamp`);
    assertBytes(got.key, want.key ?? null, `record ${i} key`);
    assertBytes(got.value, want.value, `record ${i} value`);
    const headers = want.headers ?? [];
    assert.equal(got.headers.length, headers.length, `record ${i} header count`);
    for (let h = 0; h < headers.length; h++) {
      assert.equal(got.headers[h].key, headers[h].key, `record ${i} header ${h} key`);
      assertBytes(got.headers[h].value, headers[h].value, `record ${i} header ${h} value`);
    }
  }
}

function encode(records: readonly RecordInput[], options: BatchOptions): Uint8Array {
  const batch = encodeRecordBatch(records, options);
  // Every batch the encoder writes must pass the strictest check.
  assert.equal(
    checkBatch(batch, viewOf(batch), 0, batch.length, BATCH_BYTES_MAX, ALL_CHECKS),
    batch.length,
  );
  return batch;
}

function roundTrip(
  records: readonly RecordInput[],
  options: BatchOptions,
): { bytes: Uint8Array; batch: DecodedBatch } {
  const bytes = encode(records, options);
  const batch = decodeRecordBatch(bytes);
  assertRecords(batch, records, options);
  assert.equal(batch.compression, options.compression ?? 0);
  assert.equal(batch.sizeBytes, bytes.length);
  return { bytes, batch };
}

function writeInt64At(dv: DataView, at: number, value: number): void {
  dv.setBigInt64(at, BigInt(value));
}

function readInt64At(dv: DataView, at: number): bigint {
  return dv.getBigInt64(at);
}

/** Rewrites the CRC so that a deliberate change passes the CRC check and reaches later checks. */
function fixCrc(batch: Uint8Array): Uint8Array {
  viewOf(batch).setUint32(CRC_AT, crc32c(batch.subarray(ATTRIBUTES_AT)));
  return batch;
}

function check(batch: Uint8Array, checks = ALL_CHECKS, maxBatchBytes = BATCH_BYTES_MAX) {
  return checkBatch(batch, viewOf(batch), 0, batch.length, maxBatchBytes, checks);
}

function assertProblem(result: number | BatchProblem, pattern: RegExp, what: string): void {
  assert.equal(typeof result, "object", `${what}: expected a problem, got size ${result}`);
  const problem = result as BatchProblem;
  assert.equal(problem.tooLarge, false, `${what}: tooLarge`);
  assert.match(problem.reason, pattern, what);
}

function assertCode(fn: () => unknown, code: SluiceError["code"], what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SluiceError, `${what}: ${err}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  });
}

/** A mixed set: headers (one with a null value), null and empty keys and values, unicode. */
function mixedRecords(): RecordInput[] {
  return [
    {
      key: utf8("k0"),
      value: utf8("v0"),
      headers: [
        { key: "trace", value: utf8("abc") },
        { key: "null-header", value: null },
        { key: "empty-header", value: new Uint8Array(0) },
        { key: "trace", value: utf8("duplicate key, second value") },
      ],
    },
    { key: null, value: utf8("null key") },
    { key: utf8("null value"), value: null },
    { value: utf8("key omitted") },
    { key: new Uint8Array(0), value: new Uint8Array(0) },
    { key: null, value: null },
    {
      key: utf8("ключ-🔑"),
      value: utf8("värde ✓ 值 🎉"),
      headers: [{ key: "ヘッダー-🙂", value: utf8("ü") }, { key: "", value: utf8("empty key") }],
    },
    { key: utf8("binary"), value: new Uint8Array([0, 0xff, 0x80, 0x7f, 0]) },
  ];
}

Deno.test("encodeRecordBatch() and decodeRecordBatch() round trip", async (t) => {
  for (const [name, compression] of CODECS) {
    await t.step(`${name}: headers, null and empty keys and values, unicode`, () => {
      const { batch } = roundTrip(mixedRecords(), { timestampMs: NOW_MS, compression });
      assert.equal(batch.records[6].headers[0].key, "ヘッダー-🙂");
      assert.equal(textDecoder.decode(batch.records[6].value!), "värde ✓ 值 🎉");
      assert.equal(batch.records[0].headers[1].value, null);
    });

    await t.step(`${name}: two 1 MiB values`, () => {
      // Random bytes do not compress, text does: both paths through the codec.
      const random = randomBytes(MiB, 11);
      const sentence = "a log is an append-only sequence of records. ";
      const text = utf8(sentence.repeat(Math.ceil(MiB / sentence.length))).subarray(0, MiB);
      assert.equal(text.length, MiB);
      const records = [{ key: utf8("random"), value: random }, { key: utf8("text"), value: text }];
      const { bytes } = roundTrip(records, { timestampMs: NOW_MS, compression });
      if (compression === COMPRESSION_CODECS.none) assert.ok(bytes.length > 2 * MiB);
      else assert.ok(bytes.length < 2 * MiB - 512 * 1024, `${name} packed to ${bytes.length}`);
    });

    await t.step(`${name}: 10,000 records`, () => {
      const records: RecordInput[] = [];
      for (let i = 0; i < 10_000; i++) {
        records.push({
          key: i % 7 === 0 ? null : utf8(`key-${i}`),
          value: utf8(`value-${i}-${"x".repeat(i % 50)}`),
          headers: i % 100 === 0 ? [{ key: "n", value: utf8(String(i)) }] : undefined,
          timestamp: NOW_MS + i,
        });
      }
      const options = { timestampMs: 0, compression, baseOffset: 5_000_000 };
      const { bytes, batch } = roundTrip(records, options);
      assert.equal(batch.lastOffsetDelta, 9_999);
      assert.equal(batch.records[9_999].offset, 5_009_999);
      assert.equal(batch.maxTimestamp, NOW_MS + 9_999);
      const dv = viewOf(bytes);
      assert.equal(recordsCountAt(dv, 0), 10_000);
      assert.equal(lastOffsetDeltaAt(dv, 0), 9_999);
    });

    await t.step(`${name}: header lengths count UTF-8 bytes, lone surrogates included`, () => {
      // A lone surrogate is written as U+FFFD (3 bytes); the sizer must count the same 3 bytes.
      const keys = ["a", "é", "€", "😀", "a😀b", "\ud800", "x\udc00", "\ud83d", "😀\ud83d"];
      const records = keys.map((key) => ({ value: utf8(key), headers: [{ key, value: null }] }));
      const bytes = encode(records, { timestampMs: NOW_MS, compression });
      const batch = decodeRecordBatch(bytes);
      for (let i = 0; i < keys.length; i++) {
        assert.equal(batch.records[i].headers[0].key, new TextDecoder().decode(utf8(keys[i])));
        assert.equal(utf8Length(keys[i]), utf8(keys[i]).length, `utf8Length ${keys[i]}`);
      }
    });
  }
});

Deno.test("encodeRecordBatch() timestamps", async (t) => {
  await t.step("records without a timestamp take timestampMs", () => {
    const records = [{ value: utf8("a") }, { value: utf8("b") }];
    const { bytes, batch } = roundTrip(records, { timestampMs: NOW_MS });
    assert.equal(batch.baseTimestamp, NOW_MS);
    assert.equal(batch.maxTimestamp, NOW_MS);
    assert.equal(batch.timestampType, 0);
    assert.equal(maxTimestampAt(viewOf(bytes), 0), NOW_MS);
  });

  for (const [name, compression] of CODECS) {
    await t.step(`${name}: explicit timestamps, negative deltas, defaults mixed in`, () => {
      // The first record sets baseTimestamp (as Kafka's producer does), so earlier records after
      // it have negative deltas; maxTimestamp is the largest, wherever it sits.
      const records: RecordInput[] = [
        { value: utf8("first"), timestamp: NOW_MS },
        { value: utf8("earlier"), timestamp: NOW_MS - 5 },
        { value: utf8("much earlier"), timestamp: NOW_MS - 86_400_000 * 365 },
        { value: utf8("latest"), timestamp: NOW_MS + 123_456 },
        { value: utf8("default") },
        { value: utf8("epoch"), timestamp: 0 },
      ];
      const options = { timestampMs: NOW_MS + 7, compression };
      const { bytes, batch } = roundTrip(records, options);
      assert.equal(batch.baseTimestamp, NOW_MS);
      assert.equal(batch.maxTimestamp, NOW_MS + 123_456);
      const dv = viewOf(bytes);
      assert.equal(dv.getUint32(BASE_TIMESTAMP_AT), Math.floor(NOW_MS / 2 ** 32));
      assert.equal(dv.getUint32(BASE_TIMESTAMP_AT + 4), NOW_MS % 2 ** 32);
      assert.equal(maxTimestampAt(dv, 0), NOW_MS + 123_456);
    });
  }

  await t.step("a record timestamp before the first one by more than 2^31 ms round trips", () => {
    const records = [
      { value: utf8("a"), timestamp: 2 ** 45 },
      { value: utf8("b"), timestamp: 1 },
      { value: utf8("c"), timestamp: -1 },
    ];
    const { batch } = roundTrip(records, { timestampMs: NOW_MS });
    assert.equal(batch.records[2].timestamp, -1);
  });

  await t.step("LogAppendTime batches report maxTimestamp for every record", () => {
    const records = [{ value: utf8("a"), timestamp: 10 }, { value: utf8("b"), timestamp: 20 }];
    const bytes = encode(records, { timestampMs: NOW_MS });
    const dv = viewOf(bytes);
    dv.setInt16(ATTRIBUTES_AT, dv.getInt16(ATTRIBUTES_AT) | 0x08);
    writeInt64At(dv, MAX_TIMESTAMP_AT, NOW_MS);
    const batch = decodeRecordBatch(fixCrc(bytes));
    assert.equal(batch.timestampType, 1);
    assert.deepEqual(batch.records.map((r) => r.timestamp), [NOW_MS, NOW_MS]);
  });
});

Deno.test("encodeRecordBatch() header fields", async (t) => {
  for (const [name, compression] of CODECS) {
    await t.step(`${name}: every field at Kafka's byte position`, () => {
      const records = mixedRecords();
      const bytes = encode(records, {
        timestampMs: NOW_MS,
        compression,
        baseOffset: 2 ** 45 + 3,
        partitionLeaderEpoch: 17,
        producerId: 2 ** 40 + 5,
        producerEpoch: 32_767,
        baseSequence: 2 ** 31 - 1,
        isTransactional: true,
      });
      const dv = viewOf(bytes);
      assert.equal(readInt64At(dv, BASE_OFFSET_AT), 2n ** 45n + 3n);
      assert.equal(dv.getInt32(BATCH_LENGTH_AT), bytes.length - 12);
      assert.equal(dv.getInt32(PARTITION_LEADER_EPOCH_AT), 17);
      assert.equal(bytes[16], 2, "magic at byte 16");
      assert.equal(dv.getUint32(17), crc32c(bytes.subarray(21)), "CRC at 17 over 21..end");
      assert.equal(dv.getInt16(21), compression | 0x10, "attributes: codec and transactional");
      assert.equal(dv.getInt32(23), records.length - 1, "lastOffsetDelta");
      assert.equal(readInt64At(dv, 27), BigInt(NOW_MS), "baseTimestamp");
      assert.equal(readInt64At(dv, 35), BigInt(NOW_MS), "maxTimestamp");
      assert.equal(readInt64At(dv, 43), 2n ** 40n + 5n, "producerId");
      assert.equal(dv.getInt16(51), 32_767, "producerEpoch");
      assert.equal(dv.getInt32(53), 2 ** 31 - 1, "baseSequence");
      assert.equal(dv.getInt32(57), records.length, "recordsCount");

      const batch = decodeRecordBatch(bytes);
      assert.equal(batch.baseOffset, 2 ** 45 + 3);
      assert.equal(batch.partitionLeaderEpoch, 17);
      assert.equal(batch.producerId, 2 ** 40 + 5);
      assert.equal(batch.producerEpoch, 32_767);
      assert.equal(batch.baseSequence, 2 ** 31 - 1);
      assert.equal(batch.isTransactional, true);
      assert.equal(batch.isControl, false);
      assert.equal(batch.attributes, compression | 0x10);
      assert.equal(batch.crc, dv.getUint32(CRC_AT));
      assert.equal(batch.records[0].offset, 2 ** 45 + 3);
      assert.equal(batch.records[7].offset, 2 ** 45 + 10);
    });
  }

  await t.step("defaults: no producer (-1), epoch -1, offset 0, not transactional", () => {
    const bytes = encode([{ value: utf8("x") }], { timestampMs: NOW_MS });
    const dv = viewOf(bytes);
    assert.equal(readInt64At(dv, BASE_OFFSET_AT), 0n);
    assert.equal(dv.getInt32(PARTITION_LEADER_EPOCH_AT), -1);
    assert.equal(readInt64At(dv, PRODUCER_ID_AT), -1n);
    assert.equal(dv.getInt16(PRODUCER_EPOCH_AT), -1);
    assert.equal(dv.getInt32(BASE_SEQUENCE_AT), -1);
    assert.equal(dv.getInt16(ATTRIBUTES_AT), 0);
    const batch = decodeRecordBatch(bytes);
    assert.equal(batch.producerId, -1);
    assert.equal(batch.isTransactional, false);
  });

  await t.step("an uncompressed record is byte-exact after the 61-byte header", () => {
    // length 7 (0e), attributes 00, tsDelta 0 (00), offsetDelta 0 (00), key null (01),
    // value length 1 (02) "a" (61), no headers (00).
    const bytes = encode([{ key: null, value: utf8("a") }], { timestampMs: NOW_MS });
    assert.equal(bytes.length, BATCH_HEADER_BYTES + 8);
    assert.equal(toHex(bytes.subarray(BATCH_HEADER_BYTES)), "0e000000010261" + "00");
    // A second record: tsDelta -1 (01), offsetDelta 1 (02), key "k" (02 6b), value empty (00),
    // one header (02) "h" (02 68) with a null value (01): body 10 bytes (14).
    const two = encode([{ value: utf8("a") }, {
      key: utf8("k"),
      value: new Uint8Array(0),
      headers: [{ key: "h", value: null }],
      timestamp: NOW_MS - 1,
    }], { timestampMs: NOW_MS });
    assert.equal(toHex(two.subarray(BATCH_HEADER_BYTES + 8)), "1400010202" + "6b00020268" + "01");
  });

  await t.step("header helpers read a batch at a non-zero position", () => {
    const a = encode([{ value: utf8("a") }], { timestampMs: 5, baseOffset: 100 });
    const b = encode([{ value: utf8("b") }, { value: utf8("c"), timestamp: 9 }], {
      timestampMs: 7,
      baseOffset: 2 ** 33,
      compression: COMPRESSION_CODECS.lz4,
    });
    const both = new Uint8Array(3 + a.length + b.length);
    both.set(a, 3);
    both.set(b, 3 + a.length);
    const dv = viewOf(both.subarray(3));
    const pos = a.length;
    assert.equal(batchSizeAt(dv, 0), a.length);
    assert.equal(batchSizeAt(dv, pos), b.length);
    assert.equal(baseOffsetAt(dv, 0), 100);
    assert.equal(baseOffsetAt(dv, pos), 2 ** 33);
    assert.equal(lastOffsetDeltaAt(dv, pos), 1);
    assert.equal(recordsCountAt(dv, pos), 2);
    assert.equal(maxTimestampAt(dv, 0), 5);
    assert.equal(maxTimestampAt(dv, pos), 9);
    assert.equal(compressionAt(dv, 0), COMPRESSION_CODECS.none);
    assert.equal(compressionAt(dv, pos), COMPRESSION_CODECS.lz4);
    const view = both.subarray(3);
    assert.equal(checkBatch(view, dv, pos, view.length, BATCH_BYTES_MAX, ALL_CHECKS), b.length);
    // `end` bounds the batch, not the array: one byte short is a truncated batch.
    assertProblem(
      checkBatch(view, dv, pos, view.length - 1, BATCH_BYTES_MAX, ALL_CHECKS),
      /runs past the end/,
      "end short by one",
    );
  });
});

Deno.test("encodeRecordBatch() refuses bad input", async (t) => {
  await t.step("no records", () => {
    assertCode(() => encodeRecordBatch([], { timestampMs: 0 }), "INVALID_REQUEST", "empty");
  });

  await t.step("more headers than HEADERS_PER_RECORD_MAX", () => {
    const headers = Array.from({ length: HEADERS_PER_RECORD_MAX + 1 }, () => ({
      key: "h",
      value: null,
    }));
    assertCode(
      () => encodeRecordBatch([{ value: null, headers }], { timestampMs: 0 }),
      "INVALID_REQUEST",
      "headers",
    );
    // Exactly the limit is fine, and decodes.
    const ok = encode([{ value: null, headers: headers.slice(1) }], { timestampMs: 0 });
    assert.equal(decodeRecordBatch(ok).records[0].headers.length, HEADERS_PER_RECORD_MAX);
  });

  await t.step("codecs Sluice does not write: snappy and zstd", () => {
    for (const codec of [COMPRESSION_CODECS.snappy, COMPRESSION_CODECS.zstd]) {
      assertCode(
        () => encodeRecordBatch([{ value: utf8("x") }], { timestampMs: 0, compression: codec }),
        "UNSUPPORTED_COMPRESSION",
        `codec ${codec}`,
      );
    }
  });
});

Deno.test("checkBatch()", async (t) => {
  const records = mixedRecords();
  const batches = CODECS.map(([name, compression]) =>
    [name, encode(records, { timestampMs: NOW_MS, compression })] as const
  );

  await t.step("a good batch returns its size under every combination of checks", () => {
    for (const [name, bytes] of batches) {
      for (const checks of [0, CHECK_CRC, CHECK_COUNTS, ALL_CHECKS]) {
        assert.equal(check(bytes, checks), bytes.length, `${name} checks ${checks}`);
      }
    }
  });

  await t.step("a flipped bit in any byte from 17 to the end fails the CRC", () => {
    for (const [name, bytes] of batches) {
      for (let at = CRC_AT; at < bytes.length; at++) {
        for (const mask of [0x01, 0x80]) {
          const bad = bytes.slice();
          bad[at] ^= mask;
          const result = check(bad, CHECK_CRC);
          // A flip in the codec, count or delta fields may be caught by an earlier check; every
          // flip must be caught by something.
          assert.equal(typeof result, "object", `${name}: flip ${mask} at ${at} went unnoticed`);
          if (at >= BATCH_HEADER_BYTES || at < ATTRIBUTES_AT) {
            assertProblem(result, /CRC-32C mismatch/, `${name}: flip at ${at}`);
          }
        }
      }
    }
  });

  await t.step(
    "without CHECK_CRC a flipped record byte passes (the CRC is what catches it)",
    () => {
      const bytes = batches[0][1].slice();
      bytes[BATCH_HEADER_BYTES + 3] ^= 0x40;
      assert.equal(check(bytes, CHECK_COUNTS), bytes.length);
      assertProblem(check(bytes, CHECK_CRC), /CRC-32C mismatch/, "with CRC");
    },
  );

  await t.step("every truncation is a problem, never tooLarge", () => {
    for (const [name, bytes] of batches) {
      for (let length = 0; length < bytes.length; length++) {
        const pattern = length < BATCH_HEADER_BYTES ? /a batch header needs 61/ : /runs past/;
        assertProblem(check(bytes.subarray(0, length)), pattern, `${name} cut to ${length}`);
      }
    }
  });

  await t.step("magic other than 2 is refused (magic is outside the CRC)", () => {
    for (const magic of [0, 1, 3, -1]) {
      const bad = batches[0][1].slice();
      viewOf(bad).setInt8(MAGIC_AT, magic);
      assertProblem(check(bad), new RegExp(`magic ${magic},`), `magic ${magic}`);
      assertProblem(check(bad, 0), /magic/, `magic ${magic} without CRC check`);
    }
  });

  await t.step("batchLength shorter than a header is refused", () => {
    for (const batchLength of [-1, 0, 48, -(2 ** 31)]) {
      const bad = batches[0][1].slice();
      viewOf(bad).setInt32(BATCH_LENGTH_AT, batchLength);
      assertProblem(check(bad), /shorter than a header/, `batchLength ${batchLength}`);
    }
  });

  await t.step("batchLength past the end, within the limit, is corrupt", () => {
    const bad = batches[0][1].slice();
    viewOf(bad).setInt32(BATCH_LENGTH_AT, bad.length - LOG_OVERHEAD + 1);
    assertProblem(check(bad), /runs past the end/, "one byte too long");
  });

  await t.step("batchLength beyond maxBatchBytes is tooLarge, capped at BATCH_BYTES_MAX", () => {
    const bytes = batches[0][1];
    const r = check(bytes, ALL_CHECKS, bytes.length - 1);
    assert.equal(typeof r, "object");
    assert.equal((r as BatchProblem).tooLarge, true);
    assert.equal(check(bytes, ALL_CHECKS, bytes.length), bytes.length, "exactly the limit");
    // A config above the hard cap does not lift it.
    const huge = new Uint8Array(BATCH_BYTES_MAX + 1);
    huge.set(bytes);
    viewOf(huge).setInt32(BATCH_LENGTH_AT, BATCH_BYTES_MAX + 1 - LOG_OVERHEAD);
    const capped = check(huge, ALL_CHECKS, Number.MAX_SAFE_INTEGER);
    assert.equal((capped as BatchProblem).tooLarge, true);
    // A length claiming more bytes than there are is corruption, not a size refusal.
    const lying = bytes.slice();
    viewOf(lying).setInt32(BATCH_LENGTH_AT, BATCH_BYTES_MAX);
    const claimed = check(lying, ALL_CHECKS, Number.MAX_SAFE_INTEGER);
    assert.equal((claimed as BatchProblem).tooLarge, false);
    assert.match((claimed as BatchProblem).reason, /runs past the end/);
  });

  await t.step("CHECK_COUNTS requires lastOffsetDelta = recordsCount - 1 >= 0", () => {
    const n = records.length;
    const cases: [number, number][] = [[n, n], [n - 2, n], [0, n], [0, 0], [5, 0]];
    for (const [lastOffsetDelta, count] of cases) {
      const bad = batches[0][1].slice();
      const dv = viewOf(bad);
      dv.setInt32(LAST_OFFSET_DELTA_AT, lastOffsetDelta);
      dv.setInt32(RECORDS_COUNT_AT, count);
      fixCrc(bad);
      const what = `lastOffsetDelta ${lastOffsetDelta}, count ${count}`;
      assertProblem(check(bad, ALL_CHECKS), /want count - 1/, what);
      assert.equal((check(bad, ALL_CHECKS) as BatchProblem).invalid, true, what);
      // Kafka finds a CRC that does not match first (CORRUPT_MESSAGE, not INVALID_RECORD).
      bad[bad.length - 1] ^= 1;
      assertProblem(check(bad, ALL_CHECKS), /CRC-32C mismatch/, `${what}, bad CRC`);
      assert.equal((check(bad, ALL_CHECKS) as BatchProblem).invalid, undefined, what);
      bad[bad.length - 1] ^= 1;
      // Compacted batches legitimately have gaps: without CHECK_COUNTS they pass.
      assert.equal(check(bad, CHECK_CRC), bad.length, `${what} without CHECK_COUNTS`);
    }
  });

  await t.step("negative counts and undefined codec ids are refused whatever the checks", () => {
    for (const [at, value] of [[LAST_OFFSET_DELTA_AT, -1], [RECORDS_COUNT_AT, -1]]) {
      const bad = batches[0][1].slice();
      viewOf(bad).setInt32(at, value);
      assertProblem(check(fixCrc(bad), 0), /recordsCount/, `field at ${at} = ${value}`);
    }
    for (const codec of [5, 6, 7]) {
      const bad = batches[0][1].slice();
      viewOf(bad).setInt16(ATTRIBUTES_AT, codec);
      assertProblem(check(fixCrc(bad), 0), /codec id/, `codec ${codec}`);
    }
  });
});

Deno.test("throwBatchProblem() separates RECORD_TOO_LARGE, INVALID_RECORD, CORRUPT_BATCH", async (t) => {
  const bytes = encode(mixedRecords(), { timestampMs: NOW_MS });

  await t.step("too large", () => {
    const problem = check(bytes, ALL_CHECKS, 100) as BatchProblem;
    assert.throws(() => throwBatchProblem(problem, 4096), (err: unknown) => {
      assert.ok(isSluiceError(err, "RECORD_TOO_LARGE"), String(err));
      assert.equal(err.details?.position, 4096);
      assert.match(err.message, /batch at byte 4096: .*exceeds the limit of 100/);
      return true;
    });
  });

  await t.step("corrupt", () => {
    const bad = bytes.slice();
    bad[bad.length - 1] ^= 1;
    const problem = check(bad) as BatchProblem;
    assert.throws(() => throwBatchProblem(problem, 0), (err: unknown) => {
      assert.ok(isSluiceError(err, "CORRUPT_BATCH"), String(err));
      assert.equal(err.details?.position, 0);
      assert.match(err.message, /CRC-32C mismatch/);
      return true;
    });
  });

  await t.step("counts Kafka refuses: INVALID_RECORD", () => {
    for (const [lastOffsetDelta, count] of [[-56, 3], [3, 3], [999, 1000]]) {
      const bad = bytes.slice();
      viewOf(bad).setInt32(LAST_OFFSET_DELTA_AT, lastOffsetDelta);
      viewOf(bad).setInt32(RECORDS_COUNT_AT, count);
      const problem = check(fixCrc(bad)) as BatchProblem;
      assert.throws(() => throwBatchProblem(problem, 0), (err: unknown) => {
        assert.ok(isSluiceError(err, "INVALID_RECORD"), String(err));
        assert.match(err.message, /recordsCount/);
        return true;
      });
    }
  });

  await t.step("decodeRecordBatch() throws the same codes", () => {
    const bad = bytes.slice();
    bad[bad.length - 1] ^= 1;
    assertCode(() => decodeRecordBatch(bad), "CORRUPT_BATCH", "bad CRC");
    // The CRC check can be skipped: the flipped byte then shows up in the last record's value
    // (0, 0xff, 0x80, 0x7f, 0 followed by a zero header count).
    const flipped = bytes.slice();
    flipped[flipped.length - 2] ^= 0x11;
    assertCode(() => decodeRecordBatch(flipped), "CORRUPT_BATCH", "bad CRC in a value");
    const unchecked = decodeRecordBatch(flipped, false);
    assert.deepEqual([...unchecked.records[7].value!], [0, 0xff, 0x80, 0x7f, 0x11]);
    const huge = bytes.slice();
    viewOf(huge).setInt32(BATCH_LENGTH_AT, BATCH_BYTES_MAX);
    assertCode(() => decodeRecordBatch(huge), "CORRUPT_BATCH", "a length past the end");
    assertCode(() => decodeRecordBatch(bytes.subarray(0, 60)), "CORRUPT_BATCH", "60 bytes");
  });
});

Deno.test("decodeRecordBatch() refuses corrupt records behind a valid CRC", async (t) => {
  const records = [{ key: utf8("k"), value: utf8("v") }, { key: null, value: utf8("w") }];

  await t.step("a record length running past the batch", () => {
    const bad = encode(records, { timestampMs: NOW_MS });
    bad[BATCH_HEADER_BYTES] = 0x7e; // 63 bytes: more than the batch holds
    assertCode(() => decodeRecordBatch(fixCrc(bad)), "CORRUPT_BATCH", "length");
  });

  await t.step("a key length running past its record", () => {
    const bad = encode(records, { timestampMs: NOW_MS });
    // length, attributes, tsDelta, offsetDelta, then the key length.
    bad[BATCH_HEADER_BYTES + 4] = 0x10;
    assertCode(() => decodeRecordBatch(fixCrc(bad)), "CORRUPT_BATCH", "key length");
  });

  await t.step("more records claimed than present", () => {
    const bad = encode(records, { timestampMs: NOW_MS });
    viewOf(bad).setInt32(RECORDS_COUNT_AT, 3);
    assertCode(() => decodeRecordBatch(fixCrc(bad)), "CORRUPT_BATCH", "count 3");
  });

  await t.step("fewer records claimed than present leaves stray bytes", () => {
    const bad = encode(records, { timestampMs: NOW_MS });
    viewOf(bad).setInt32(RECORDS_COUNT_AT, 1);
    assertCode(() => decodeRecordBatch(fixCrc(bad)), "CORRUPT_BATCH", "count 1");
  });

  await t.step("a null header key", () => {
    const bad = encode([{ value: null, headers: [{ key: "h", value: null }] }], {
      timestampMs: NOW_MS,
    });
    // record: length, attrs, ts, offset, key -1, value -1, count 1, key length 1 (02) -> -1 (01).
    assert.equal(bad[BATCH_HEADER_BYTES + 7], 0x02);
    bad[BATCH_HEADER_BYTES + 7] = 0x01;
    assertCode(() => decodeRecordBatch(fixCrc(bad)), "CORRUPT_BATCH", "null header key");
  });
});

Deno.test("decodeBatches()", async (t) => {
  const a = encode([{ value: utf8("a0") }, { value: utf8("a1") }], {
    timestampMs: 1,
    baseOffset: 0,
  });
  const b = encode([{ value: utf8("b0") }], {
    timestampMs: 2,
    baseOffset: 2,
    compression: COMPRESSION_CODECS.gzip,
  });
  const c = encode(mixedRecords(), {
    timestampMs: 3,
    baseOffset: 3,
    compression: COMPRESSION_CODECS.lz4,
  });
  const all = new Uint8Array(a.length + b.length + c.length);
  all.set(a, 0);
  all.set(b, a.length);
  all.set(c, a.length + b.length);

  await t.step("decodes every batch of a concatenation, in order", () => {
    const batches = decodeBatches(all);
    assert.deepEqual(batches.map((x) => x.baseOffset), [0, 2, 3]);
    assert.deepEqual(batches.map((x) => x.compression), [0, 1, 3]);
    assert.deepEqual(batches.map((x) => x.sizeBytes), [a.length, b.length, c.length]);
    const offsets = batches.flatMap((x) => x.records.map((r) => r.offset));
    assert.deepEqual(offsets, Array.from({ length: 11 }, (_, i) => i));
    assertRecords(batches[2], mixedRecords(), { timestampMs: 3, baseOffset: 3 });
    assert.equal(textDecoder.decode(batches[1].records[0].value!), "b0");
  });

  await t.step("empty input is no batches", () => {
    assert.deepEqual(decodeBatches(new Uint8Array(0)), []);
  });

  await t.step("stray trailing bytes, a truncated last batch, a bad length", () => {
    for (const extra of [1, 11, 12, 60]) {
      const tail = new Uint8Array(all.length + extra);
      tail.set(all);
      assertCode(() => decodeBatches(tail), "CORRUPT_BATCH", `${extra} stray bytes`);
    }
    assertCode(() => decodeBatches(all.subarray(0, all.length - 1)), "CORRUPT_BATCH", "cut");
    const bad = all.slice();
    viewOf(bad).setInt32(a.length + BATCH_LENGTH_AT, 10);
    assertCode(() => decodeBatches(bad), "CORRUPT_BATCH", "second batch length 10");
  });

  await t.step("a CRC failure in any batch fails the range unless verifyCrc is false", () => {
    const bad = all.slice();
    // First record of the first batch: length, attributes, tsDelta, offsetDelta, key -1, value
    // length, then "a0": turn the "a" into "b".
    assert.equal(bad[BATCH_HEADER_BYTES + 6], 0x61);
    bad[BATCH_HEADER_BYTES + 6] ^= 0x03;
    assertCode(() => decodeBatches(bad), "CORRUPT_BATCH", "CRC of the first batch");
    const unchecked = decodeBatches(bad, false);
    assert.equal(unchecked.length, 3);
    assert.equal(textDecoder.decode(unchecked[0].records[0].value!), "b0");
    const badLast = all.slice();
    badLast[badLast.length - 1] ^= 0x01;
    assertCode(() => decodeBatches(badLast), "CORRUPT_BATCH", "CRC of the last batch");
  });
});

Deno.test("compression failures surface as typed errors", async (t) => {
  const records = Array.from({ length: 40 }, (_, i) => ({
    key: utf8(`k${i}`),
    value: utf8(`value ${i} `.repeat(20)),
  }));

  await t.step("snappy and zstd batches decode to UNSUPPORTED_COMPRESSION", () => {
    for (const codec of [COMPRESSION_CODECS.snappy, COMPRESSION_CODECS.zstd]) {
      // A gzip batch relabelled: a well-formed header with a payload Sluice cannot read.
      const bytes = encode(records, { timestampMs: NOW_MS, compression: COMPRESSION_CODECS.gzip });
      viewOf(bytes).setInt16(ATTRIBUTES_AT, codec);
      fixCrc(bytes);
      // Stored as bytes, such a batch is valid: only decoding needs the codec.
      assert.equal(check(bytes), bytes.length);
      assert.throws(() => decodeRecordBatch(bytes), (err: unknown) => {
        assert.ok(isSluiceError(err, "UNSUPPORTED_COMPRESSION"), String(err));
        assert.equal(err.details?.codec, codec);
        return true;
      });
    }
  });

  for (const [name, compression] of CODECS.slice(1)) {
    const good = encode(records, { timestampMs: NOW_MS, compression });

    /** Replaces the compressed section and rewrites length and CRC, so only the payload is bad. */
    const withPayload = (payload: Uint8Array): Uint8Array => {
      const out = new Uint8Array(BATCH_HEADER_BYTES + payload.length);
      out.set(good.subarray(0, BATCH_HEADER_BYTES));
      out.set(payload, BATCH_HEADER_BYTES);
      viewOf(out).setInt32(BATCH_LENGTH_AT, out.length - LOG_OVERHEAD);
      return fixCrc(out);
    };
    const payload = good.subarray(BATCH_HEADER_BYTES);

    await t.step(`${name}: a broken payload with a valid CRC is CORRUPT_BATCH`, () => {
      const badMagic = payload.slice();
      badMagic[0] ^= 0xff;
      const cases: [string, Uint8Array][] = [
        ["bad magic", badMagic],
        ["truncated", payload.subarray(0, payload.length >> 1)],
        // gzip: the last byte of the ISIZE trailer. LZ4: the last data byte; a frame missing only
        // its 4-byte EndMark still decodes in lz4-napi 2.10 (every data byte is there).
        ["last data byte missing", payload.subarray(0, payload.length - (name === "lz4" ? 5 : 1))],
        ["random bytes", randomBytes(payload.length, 3)],
        ["empty", new Uint8Array(0)],
        ["plain records, not compressed", encode(records, { timestampMs: NOW_MS }).subarray(61)],
      ];
      for (const [what, p] of cases) {
        const bad = withPayload(p);
        assert.equal(check(bad), bad.length, `${what}: the header is fine`);
        assertCode(() => decodeRecordBatch(bad), "CORRUPT_BATCH", `${name} ${what}`);
      }
    });

    await t.step(`${name}: no single-byte corruption crashes the decoder`, () => {
      // LZ4 frames from lz4-napi carry no content checksum, so some flips decode to other bytes
      // (Kafka relies on the batch CRC for that); what must never happen is a raw error.
      let refused = 0;
      for (let at = 0; at < payload.length; at++) {
        const p = payload.slice();
        p[at] ^= 0x5a;
        try {
          decodeRecordBatch(withPayload(p));
        } catch (err) {
          assert.ok(isSluiceError(err, "CORRUPT_BATCH"), `flip at ${at}: ${err}`);
          refused++;
        }
      }
      assert.ok(refused > payload.length / 4, `${name}: only ${refused} flips refused`);
    });
  }
});

Deno.test("encodeRecordBatch() writes string keys and values as UTF-8 in place", () => {
  const values = [
    "",
    "ascii",
    "a".repeat(256),
    "b".repeat(257), // past the ASCII loop: encodeInto
    "ü€𝄞 mixed",
    "\ud800 lone surrogate",
    "é".repeat(1000),
  ];
  const batch = encodeRecordBatch(
    values.map((v, i) => ({ key: i % 2 === 0 ? v : null, value: v })),
    { timestampMs: 1 },
  );
  const { records } = decodeRecordBatch(batch);
  const enc = new TextEncoder();
  values.forEach((v, i) => {
    assertBytes(records[i].value, enc.encode(v), `value ${i}`);
    assertBytes(records[i].key, i % 2 === 0 ? enc.encode(v) : null, `key ${i}`);
  });
  // The same records given as bytes encode to the same batch.
  const asBytes = encodeRecordBatch(
    values.map((v, i) => ({ key: i % 2 === 0 ? enc.encode(v) : null, value: enc.encode(v) })),
    { timestampMs: 1 },
  );
  assert.deepEqual(batch, asBytes);
});
