/**
 * RecordBatch v2 compatibility against code no one here wrote: the kafkajs 2.2.4 client's own
 * encoder and decoder (its internal protocol modules, loaded from the npm package), and fixtures
 * it produced. Only this file imports kafkajs; src/ never does.
 *
 * kafkajs has no LZ4 codec of its own: like its users, we register one built on lz4-napi's frame
 * functions, which is how test/fixtures/recordbatch-lz4.bin was made.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { CompressionCodecs, CompressionTypes } from "kafkajs";
import { RecordBatch as kafkaRecordBatchUntyped } from "kafkajs/src/protocol/recordBatch/v0/index.js";
import kafkaDecodeBatchUntyped from "kafkajs/src/protocol/recordBatch/v0/decoder.js";
import KafkaDecoderUntyped from "kafkajs/src/protocol/decoder.js";
import kafkaRecordUntyped from "kafkajs/src/protocol/recordBatch/record/v0/index.js";
import { compressFrameSync, decompressFrameSync } from "lz4-napi";
import { BATCH_BYTES_MAX } from "../../src/limits.ts";
import {
  COMPRESSION_CODECS,
  type CompressionCodec,
  decompress,
} from "../../src/record/compression.ts";
import {
  ATTRIBUTES_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  type BatchOptions,
  CHECK_COUNTS,
  CHECK_CRC,
  checkBatch,
  CRC_AT,
  decodeBatches,
  type DecodedBatch,
  decodeRecordBatch,
  encodeRecordBatch,
  PARTITION_LEADER_EPOCH_AT,
  type RecordHeader,
  type RecordInput,
  utf8,
  viewOf,
} from "../../src/record/record_batch.ts";
import { assertBytes } from "../test_util.ts";

// --- kafkajs internals, typed as far as this file uses them ----------------------------------

/** kafkajs's protocol Encoder: `buffer` is the bytes written so far. */
interface KafkaEncoder {
  readonly buffer: Buffer;
}

type KafkaHeaderValue = string | Buffer;

/** Input of kafkajs's Record v0 encoder (src/protocol/recordBatch/record/v0/index.js). */
interface KafkaRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, KafkaHeaderValue | KafkaHeaderValue[]>;
}

/** Input of kafkajs's RecordBatch v0 encoder (src/protocol/recordBatch/v0/index.js). */
interface KafkaBatchInput {
  compression: number;
  firstOffset?: bigint;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch?: number;
  lastOffsetDelta: number;
  transactional?: boolean;
  producerId?: bigint;
  producerEpoch?: number;
  firstSequence?: number;
  records: KafkaEncoder[];
}

/** What kafkajs's RecordBatch decoder yields; 64-bit fields come back as decimal strings. */
interface KafkaDecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
}

interface KafkaDecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  timestampType: number;
  records: KafkaDecodedRecord[];
}

interface KafkaCodec {
  compress(encoder: KafkaEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const kafkaRecordBatch = kafkaRecordBatchUntyped as (
  input: KafkaBatchInput,
) => Promise<KafkaEncoder>;
const kafkaRecord = kafkaRecordUntyped as (input: KafkaRecordInput) => KafkaEncoder;
const kafkaDecodeBatch = kafkaDecodeBatchUntyped as (decoder: unknown) => Promise<
  KafkaDecodedBatch
>;
const KafkaDecoder = KafkaDecoderUntyped as new (buffer: Buffer) => unknown;

(CompressionCodecs as Record<number, () => KafkaCodec>)[CompressionTypes.LZ4] = () => ({
  compress: (encoder) => Promise.resolve(compressFrameSync(encoder.buffer)),
  decompress: (buffer) => Promise.resolve(decompressFrameSync(buffer)),
});

// --- helpers -----------------------------------------------------------------------------------

const CODECS: [string, CompressionCodec][] = [
  ["none", COMPRESSION_CODECS.none],
  ["gzip", COMPRESSION_CODECS.gzip],
  ["lz4", COMPRESSION_CODECS.lz4],
];
const NOW_MS = 1_732_406_400_000;
const textDecoder = new TextDecoder();

/** The records section as plain bytes, whatever the codec (to compare two encoders' output). */
function recordsSection(batch: Uint8Array): Uint8Array {
  const codec = viewOf(batch).getInt16(ATTRIBUTES_AT) & 7;
  return decompress(codec, batch.subarray(BATCH_HEADER_BYTES));
}

function checkAll(bytes: Uint8Array): number | object {
  return checkBatch(
    bytes,
    viewOf(bytes),
    0,
    bytes.length,
    BATCH_BYTES_MAX,
    CHECK_CRC | CHECK_COUNTS,
  );
}

async function kafkaDecode(bytes: Uint8Array): Promise<KafkaDecodedBatch> {
  return await kafkaDecodeBatch(new KafkaDecoder(Buffer.from(bytes)));
}

/** kafkajs's header object for a Sluice header list: a repeated key becomes an array. */
function expectedKafkaHeaders(
  headers: readonly RecordHeader[],
): Record<string, Uint8Array | null | (Uint8Array | null)[]> {
  const out: Record<string, Uint8Array | null | (Uint8Array | null)[]> = {};
  for (const h of headers) {
    const prior = out[h.key];
    if (prior === undefined) out[h.key] = h.value;
    else if (Array.isArray(prior)) prior.push(h.value);
    else out[h.key] = [prior, h.value];
  }
  return out;
}

function assertKafkaHeaders(
  actual: KafkaDecodedRecord["headers"],
  headers: readonly RecordHeader[],
  what: string,
): void {
  const expected = expectedKafkaHeaders(headers);
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${what}: header keys`);
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key];
    if (Array.isArray(want)) {
      assert.ok(Array.isArray(got), `${what}: header ${key} is an array`);
      assert.equal(got.length, want.length, `${what}: header ${key} count`);
      want.forEach((w, i) => assertBytes(got[i], w, `${what}: header ${key}[${i}]`));
    } else {
      assert.ok(!Array.isArray(got), `${what}: header ${key} is single`);
      assertBytes(got, want, `${what}: header ${key}`);
    }
  }
}

/** Checks what kafkajs decoded against what Sluice was asked to encode, field by field. */
function assertKafkaDecoded(
  got: KafkaDecodedBatch,
  records: readonly RecordInput[],
  options: BatchOptions,
  what: string,
): void {
  const baseOffset = options.baseOffset ?? 0;
  const timestamps = records.map((r) => r.timestamp ?? options.timestampMs);
  assert.equal(got.firstOffset, String(baseOffset), `${what}: firstOffset`);
  assert.equal(got.firstTimestamp, String(timestamps[0]), `${what}: firstTimestamp`);
  assert.equal(got.maxTimestamp, String(Math.max(...timestamps)), `${what}: maxTimestamp`);
  assert.equal(got.partitionLeaderEpoch, options.partitionLeaderEpoch ?? -1, `${what}: epoch`);
  assert.equal(got.lastOffsetDelta, records.length - 1, `${what}: lastOffsetDelta`);
  assert.equal(got.producerId, String(options.producerId ?? -1), `${what}: producerId`);
  assert.equal(got.producerEpoch, options.producerEpoch ?? -1, `${what}: producerEpoch`);
  assert.equal(got.firstSequence, options.baseSequence ?? -1, `${what}: firstSequence`);
  assert.equal(got.inTransaction, options.isTransactional ?? false, `${what}: inTransaction`);
  assert.equal(got.isControlBatch, false, `${what}: isControlBatch`);
  assert.equal(got.timestampType, 0, `${what}: timestampType (CreateTime)`);
  assert.equal(got.records.length, records.length, `${what}: record count`);
  for (let i = 0; i < records.length; i++) {
    const r = got.records[i];
    const w = `${what}: record ${i}`;
    assert.equal(r.offset, String(baseOffset + i), `${w} offset`);
    assert.equal(r.timestamp, String(timestamps[i]), `${w} timestamp`);
    assertBytes(r.key, records[i].key ?? null, `${w} key`);
    assertBytes(r.value, records[i].value, `${w} value`);
    assertKafkaHeaders(r.headers, records[i].headers ?? [], w);
  }
}

/** A mixed set: null/empty keys and values, unicode, repeated and null-valued headers. */
function mixedRecords(): RecordInput[] {
  return [
    {
      key: utf8("k0"),
      value: utf8("v0"),
      headers: [
        { key: "trace", value: utf8("abc") },
        { key: "null-header", value: null },
        { key: "empty-header", value: new Uint8Array(0) },
        { key: "trace", value: utf8("second trace") },
      ],
      timestamp: NOW_MS,
    },
    { key: null, value: utf8("null key"), timestamp: NOW_MS - 1_000 },
    { key: utf8("tombstone"), value: null },
    { key: new Uint8Array(0), value: new Uint8Array(0), timestamp: NOW_MS + 5_000 },
    {
      key: utf8("ключ-🔑"),
      value: utf8("värde ✓ 值 🎉"),
      headers: [{ key: "ヘッダー-🙂", value: utf8("ü") }],
    },
    { key: utf8("binary"), value: new Uint8Array([0, 0xff, 0x80, 0x7f, 0]) },
  ];
}

// --- a. fixtures kafkajs wrote -----------------------------------------------------------------

interface FixtureRecord {
  offsetDelta: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

interface Fixture {
  firstOffset: number;
  baseTimestamp: number;
  records: FixtureRecord[];
  [file: string]: unknown;
}

const fixtureDir = new URL("../fixtures/", import.meta.url);
const fixture = JSON.parse(
  await Deno.readTextFile(new URL("recordbatch.json", fixtureDir)),
) as Fixture;

async function readFixture(name: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(`recordbatch-${name}.bin`, fixtureDir));
}

/** The fixture's records as Sluice encoder input. */
function fixtureInputs(): RecordInput[] {
  return fixture.records.map((r) => ({
    key: r.key === null ? null : utf8(r.key),
    value: r.value === null ? null : utf8(r.value),
    headers: Object.entries(r.headers).map(([key, value]) => ({ key, value: utf8(value) })),
    timestamp: r.timestamp,
  }));
}

function assertMatchesFixture(batch: DecodedBatch, what: string): void {
  assert.equal(batch.baseOffset, fixture.firstOffset, `${what}: baseOffset`);
  assert.equal(batch.baseTimestamp, fixture.baseTimestamp, `${what}: baseTimestamp`);
  const timestamps = fixture.records.map((r) => r.timestamp);
  assert.equal(batch.maxTimestamp, Math.max(...timestamps), `${what}: maxTimestamp`);
  assert.equal(batch.records.length, fixture.records.length, `${what}: count`);
  assert.equal(batch.lastOffsetDelta, fixture.records.length - 1, `${what}: lastOffsetDelta`);
  for (let i = 0; i < fixture.records.length; i++) {
    const want = fixture.records[i];
    const got = batch.records[i];
    const w = `${what}: record ${i}`;
    assert.equal(got.offset, fixture.firstOffset + want.offsetDelta, `${w} offset`);
    assert.equal(got.timestamp, want.timestamp, `${w} timestamp`);
    assert.equal(got.key === null ? null : textDecoder.decode(got.key), want.key, `${w} key`);
    assert.equal(
      got.value === null ? null : textDecoder.decode(got.value),
      want.value,
      `${w} value`,
    );
    assert.deepEqual(
      got.headers.map((h) => [h.key, h.value === null ? null : textDecoder.decode(h.value)]),
      Object.entries(want.headers),
      `${w} headers`,
    );
  }
}

Deno.test("kafkajs fixtures decode with Sluice", async (t) => {
  assert.equal(fixture.records.length, 10);
  // The fixture itself must hold the cases it claims, or the comparisons below prove less.
  assert.ok(fixture.records.some((r) => r.key === null), "a null key");
  assert.ok(fixture.records.some((r) => r.value === null), "a null value");
  assert.ok(fixture.records.some((r) => r.value === ""), "an empty value");
  assert.ok(fixture.records.some((r) => Object.keys(r.headers).length > 1), "headers");
  assert.ok(fixture.records.some((r) => /[^ -~]/.test(r.value ?? "")), "unicode");

  const all: Uint8Array[] = [];
  for (const [name, codec] of CODECS) {
    const bytes = await readFixture(name);
    all.push(bytes);
    const meta = fixture[`recordbatch-${name}.bin`] as {
      bytes: number;
      attributesCompression: number;
    };

    await t.step(`${name}: every record, the codec and the CRC match`, () => {
      assert.equal(meta.attributesCompression, codec);
      assert.equal(bytes.length, meta.bytes);
      // kafkajs computed this CRC with its own CRC-32C: agreeing cross-checks ours.
      assert.equal(checkAll(bytes), bytes.length);
      const batch = decodeRecordBatch(bytes);
      assert.equal(batch.compression, codec);
      assert.equal(batch.attributes & 7, codec);
      assert.equal(batch.sizeBytes, bytes.length);
      // kafkajs's defaults for a non-idempotent producer.
      assert.equal(batch.producerId, -1);
      assert.equal(batch.producerEpoch, 0);
      assert.equal(batch.baseSequence, 0);
      assert.equal(batch.partitionLeaderEpoch, 0);
      assert.equal(batch.isTransactional, false);
      assertMatchesFixture(batch, name);
    });

    await t.step(`${name}: Sluice writes the same records section for the same input`, () => {
      const options: BatchOptions = {
        timestampMs: 0,
        compression: codec,
        partitionLeaderEpoch: 0,
        producerEpoch: 0,
        baseSequence: 0,
      };
      const ours = encodeRecordBatch(fixtureInputs(), options);
      assertBytes(recordsSection(ours), recordsSection(bytes), `${name} records section`);
      // Uncompressed, the whole batch is byte-identical, CRC included.
      if (codec === COMPRESSION_CODECS.none) assertBytes(ours, bytes, "none: whole batch");
      // Compressed, the length and CRC depend on the compressor's output; every other header
      // byte (offset, epoch, magic, attributes .. recordsCount) must agree.
      for (const [from, to] of [[0, BATCH_LENGTH_AT], [PARTITION_LEADER_EPOCH_AT, CRC_AT]]) {
        assertBytes(ours.subarray(from, to), bytes.subarray(from, to), `${name}: ${from}..${to}`);
      }
      assertBytes(
        ours.subarray(ATTRIBUTES_AT, BATCH_HEADER_BYTES),
        bytes.subarray(ATTRIBUTES_AT, BATCH_HEADER_BYTES),
        `${name}: attributes..recordsCount`,
      );
    });
  }

  await t.step("decodeBatches() reads the three fixtures back to back", () => {
    const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of all) {
      joined.set(b, at);
      at += b.length;
    }
    const batches = decodeBatches(joined);
    assert.deepEqual(batches.map((b) => b.compression), [0, 1, 3]);
    batches.forEach((b, i) => assertMatchesFixture(b, `batch ${i}`));
  });
});

// --- b. kafkajs decodes what Sluice encodes ----------------------------------------------------

Deno.test("kafkajs decodes batches Sluice encoded", async (t) => {
  for (const [name, compression] of CODECS) {
    await t.step(`${name}: mixed records and every header field`, async () => {
      const records = mixedRecords();
      const options: BatchOptions = {
        timestampMs: NOW_MS + 1,
        compression,
        baseOffset: 2 ** 40 + 7,
        partitionLeaderEpoch: 3,
        producerId: 2 ** 40 + 5,
        producerEpoch: 2,
        baseSequence: 1_000,
        isTransactional: true,
      };
      const bytes = encodeRecordBatch(records, options);
      assertKafkaDecoded(await kafkaDecode(bytes), records, options, name);
    });

    await t.step(`${name}: producer defaults`, async () => {
      const records = [{ value: utf8("only") }];
      const options: BatchOptions = { timestampMs: NOW_MS, compression };
      assertKafkaDecoded(
        await kafkaDecode(encodeRecordBatch(records, options)),
        records,
        options,
        name,
      );
    });

    await t.step(`${name}: 1,000 records of 1 KiB and one 1 MiB value`, async () => {
      const records: RecordInput[] = [];
      for (let i = 0; i < 1_000; i++) {
        const value = new Uint8Array(1024);
        for (let j = 0; j < value.length; j++) value[j] = (i * 31 + j * 7) & 0xff;
        records.push({ key: utf8(`key-${i}`), value, timestamp: NOW_MS + i * 3 });
      }
      const big = new Uint8Array(1024 * 1024);
      for (let j = 0; j < big.length; j++) big[j] = (j * 2_654_435_761) >>> 24;
      records.push({ key: null, value: big, timestamp: NOW_MS - 1 });
      const options: BatchOptions = { timestampMs: 0, compression, baseOffset: 123 };
      assertKafkaDecoded(
        await kafkaDecode(encodeRecordBatch(records, options)),
        records,
        options,
        name,
      );
    });

    await t.step(`${name}: timestamp deltas of ±(2^53 - 1)`, async () => {
      // An independent varlong decoder (kafkajs uses BigInt) for the widest deltas Sluice allows.
      const records = [
        { value: utf8("max"), timestamp: Number.MAX_SAFE_INTEGER },
        { value: utf8("zero"), timestamp: 0 },
        { value: utf8("2^40"), timestamp: 2 ** 40 },
      ];
      const options: BatchOptions = { timestampMs: 0, compression };
      const bytes = encodeRecordBatch(records, options);
      assertKafkaDecoded(await kafkaDecode(bytes), records, options, name);
      assert.deepEqual(decodeRecordBatch(bytes).records.map((r) => r.timestamp), [
        Number.MAX_SAFE_INTEGER,
        0,
        2 ** 40,
      ]);
    });
  }
});

// --- c. Sluice decodes what kafkajs encodes ----------------------------------------------------

interface KafkaMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, KafkaHeaderValue | KafkaHeaderValue[]>;
  timestamp?: number;
}

interface KafkaProducerFields {
  compression: number;
  firstOffset?: bigint;
  partitionLeaderEpoch?: number;
  producerId?: bigint;
  producerEpoch?: number;
  firstSequence?: number;
  transactional?: boolean;
  /** Overrides the produce path's choice (the smallest timestamp) to force negative deltas. */
  firstTimestamp?: number;
}

/**
 * Builds a batch the way kafkajs's Produce v3 request does (partitionsEncoder in
 * src/protocol/requests/produce/v3/request.js): records get offsetDelta i and a timestamp delta
 * from the first (smallest) timestamp, then RecordBatch v0 compresses them as one block.
 */
async function kafkajsBatch(
  messages: readonly KafkaMessage[],
  fields: KafkaProducerFields,
): Promise<{ bytes: Uint8Array; firstTimestamp: number }> {
  const dateNow = NOW_MS;
  // kafkajs sorts with the default (string) comparison; all timestamps here have 13 digits.
  const stamped = messages.map((m) => m.timestamp).filter((ts) => ts != null).sort();
  const timestamps = stamped.length === 0 ? [dateNow] : stamped as number[];
  const firstTimestamp = fields.firstTimestamp ?? timestamps[0];
  const maxTimestamp = timestamps[timestamps.length - 1];
  const records = messages.map((m, i) =>
    kafkaRecord({
      key: m.key,
      value: m.value,
      headers: m.headers,
      offsetDelta: i,
      timestampDelta: (m.timestamp || dateNow) - firstTimestamp,
    })
  );
  const batch = await kafkaRecordBatch({
    compression: fields.compression,
    records,
    firstOffset: fields.firstOffset,
    partitionLeaderEpoch: fields.partitionLeaderEpoch,
    firstTimestamp,
    maxTimestamp,
    producerId: fields.producerId,
    producerEpoch: fields.producerEpoch,
    firstSequence: fields.firstSequence,
    transactional: fields.transactional,
    lastOffsetDelta: records.length - 1,
  });
  return { bytes: new Uint8Array(batch.buffer), firstTimestamp };
}

function toBytes(v: string | Buffer | null): Uint8Array | null {
  if (v === null) return null;
  return typeof v === "string" ? utf8(v) : new Uint8Array(v);
}

/** kafkajs writes a header object's keys in order, an array value as one header per element. */
function flattenHeaders(headers: KafkaMessage["headers"]): RecordHeader[] {
  return Object.entries(headers ?? {}).flatMap(([key, v]) =>
    (Array.isArray(v) ? v : [v]).map((value) => ({ key, value: toBytes(value) }))
  );
}

function assertSluiceDecoded(
  batch: DecodedBatch,
  messages: readonly KafkaMessage[],
  firstOffset: number,
  firstTimestamp: number,
  what: string,
): void {
  assert.equal(batch.records.length, messages.length, `${what}: count`);
  assert.equal(batch.baseOffset, firstOffset, `${what}: baseOffset`);
  assert.equal(batch.baseTimestamp, firstTimestamp, `${what}: baseTimestamp`);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const r = batch.records[i];
    const w = `${what}: record ${i}`;
    assert.equal(r.offset, firstOffset + i, `${w} offset`);
    assert.equal(r.timestamp, m.timestamp || NOW_MS, `${w} timestamp`);
    assertBytes(r.key, toBytes(m.key), `${w} key`);
    assertBytes(r.value, toBytes(m.value), `${w} value`);
    const headers = flattenHeaders(m.headers);
    assert.equal(r.headers.length, headers.length, `${w} header count`);
    headers.forEach((h, j) => {
      assert.equal(r.headers[j].key, h.key, `${w} header ${j} key`);
      assertBytes(r.headers[j].value, h.value, `${w} header ${j} value`);
    });
  }
}

function kafkaMessages(): KafkaMessage[] {
  return [
    {
      key: "k0",
      value: "v0",
      headers: { trace: ["t1", "t2"], "content-type": "text/plain", bin: Buffer.from([0, 255]) },
      timestamp: NOW_MS + 20,
    },
    { key: null, value: "null key", timestamp: NOW_MS },
    { key: "tombstone", value: null, timestamp: NOW_MS + 5 },
    { key: "", value: "", headers: { "": "" } },
    { key: Buffer.from("ключ-🔑"), value: "värde ✓ 值 🎉", headers: { "ヘッダー-🙂": "ü" } },
    { key: "binary", value: Buffer.from([0, 0xff, 0x80, 0x7f, 0]), timestamp: NOW_MS + 9 },
  ];
}

Deno.test("Sluice decodes batches kafkajs encoded", async (t) => {
  for (const [name, compression] of CODECS) {
    await t.step(`${name}: the produce path's batch`, async () => {
      const messages = kafkaMessages();
      const fields: KafkaProducerFields = {
        compression,
        firstOffset: 2n ** 40n + 1n,
        partitionLeaderEpoch: 9,
        producerId: 2n ** 33n + 4n,
        producerEpoch: 3,
        firstSequence: 77,
        transactional: true,
      };
      const { bytes, firstTimestamp } = await kafkajsBatch(messages, fields);
      assert.equal(firstTimestamp, NOW_MS);
      assert.equal(checkAll(bytes), bytes.length, "kafkajs's CRC passes Sluice's check");
      const batch = decodeRecordBatch(bytes);
      assert.equal(batch.compression, compression);
      assert.equal(batch.partitionLeaderEpoch, 9);
      assert.equal(batch.producerId, 2 ** 33 + 4);
      assert.equal(batch.producerEpoch, 3);
      assert.equal(batch.baseSequence, 77);
      assert.equal(batch.isTransactional, true);
      assert.equal(batch.maxTimestamp, NOW_MS + 20);
      assert.equal(batch.lastOffsetDelta, messages.length - 1);
      assertSluiceDecoded(batch, messages, 2 ** 40 + 1, NOW_MS, name);
    });

    await t.step(`${name}: negative timestamp deltas`, async () => {
      const messages: KafkaMessage[] = [
        { key: "a", value: "a", timestamp: NOW_MS },
        { key: "b", value: "b", timestamp: NOW_MS - 86_400_000 },
        { key: "c", value: "c", timestamp: NOW_MS - 1 },
      ];
      const { bytes } = await kafkajsBatch(messages, { compression, firstTimestamp: NOW_MS });
      assertSluiceDecoded(decodeRecordBatch(bytes), messages, 0, NOW_MS, name);
    });

    await t.step(`${name}: 2,000 records, the same section as Sluice writes`, async () => {
      const messages: KafkaMessage[] = [];
      for (let i = 0; i < 2_000; i++) {
        messages.push({
          key: i % 5 === 0 ? null : `key-${i}`,
          value: `value-${i}-${"z".repeat(i % 300)}`,
          headers: i % 50 === 0 ? { i: String(i) } : undefined,
          timestamp: NOW_MS + i,
        });
      }
      const { bytes } = await kafkajsBatch(messages, { compression, producerEpoch: 0 });
      const batch = decodeRecordBatch(bytes);
      assertSluiceDecoded(batch, messages, 0, NOW_MS, name);
      // Same records through Sluice's encoder: identical plain records section.
      const ours = encodeRecordBatch(
        messages.map((m) => ({
          key: toBytes(m.key),
          value: toBytes(m.value),
          headers: flattenHeaders(m.headers),
          timestamp: m.timestamp,
        })),
        { timestampMs: 0, compression, partitionLeaderEpoch: 0, producerEpoch: 0, baseSequence: 0 },
      );
      assertBytes(recordsSection(ours), recordsSection(bytes), `${name} records section`);
      if (compression === COMPRESSION_CODECS.none) assertBytes(ours, bytes, "whole batch");
    });
  }
});
