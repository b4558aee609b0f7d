/**
 * HTTP produce and fetch (API.md "Produce" and "Fetch"): JSON records as strings, base64 and JSON
 * values, raw RecordBatch bytes stored and served unchanged, Kafka's key partitioning (checked
 * against kafkajs's Java-compatible partitioner), sticky partitions for unkeyed records,
 * earliest/latest, maxBytes paging and the timestamp lookup.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import kafkajs from "kafkajs";
import { COMPRESSION_CODECS } from "../../src/record/compression.ts";
import {
  decodeBatches,
  encodeRecordBatch,
  type RecordInput,
  utf8,
} from "../../src/record/record_batch.ts";
import { assertBytes, prng, randomBytes } from "../test_util.ts";
import {
  bytes,
  createTopic,
  describeTopic,
  expectError,
  expectStatus,
  fetchAll,
  fetchBatches,
  fetchRecords,
  fromBase64,
  highWatermarks,
  type Json,
  json,
  partitionUrl,
  postBatches,
  produce,
  RECORDBATCH_TYPE,
  toBase64,
  topicUrl,
  withServer,
} from "./server_harness.ts";

/** kafkajs's partitioner (Kafka's Java DefaultPartitioner for keyed records). */
function kafkaPartition(topic: string, partitions: number, key: string | Uint8Array): number {
  const partitioner = kafkajs.Partitioners.JavaCompatiblePartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  const k = typeof key === "string" ? key : Buffer.from(key);
  return partitioner({ topic, partitionMetadata, message: { key: k, value: null } });
}

const BYTES_0_255 = Uint8Array.from({ length: 256 }, (_, i) => i);
const BYTES_255_0 = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);

Deno.test("HTTP produce/fetch: JSON records read back identically", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "json", 1);

    await t.step("string keys, values and headers (object and array forms)", async () => {
      const before = Date.now();
      const offsets = await produce(server, "json", {
        records: [
          { key: "k1", value: "hello", headers: { h1: "v1", h2: "v2" } },
          { value: "wörld ✓ 日本 🚀" },
          { key: null, value: null },
          {
            key: "k2",
            value: "",
            headers: [{ key: "dup", value: "a" }, { key: "dup", value: null }, {
              key: "ü",
              value: "ß",
            }],
          },
          { key: "k3", value: "with timestamp", timestamp: 1_700_000_000_123 },
        ],
      });
      const after = Date.now();
      assert.deepEqual(offsets, [0, 1, 2, 3, 4].map((offset) => ({ partition: 0, offset })));

      const r = await fetchRecords(server, "json", 0, { offset: 0 });
      assert.equal(r.nextOffset, 5);
      assert.equal(r.highWatermark, 5);
      const recs = r.records as Json[];
      assert.deepEqual(recs.map((x) => x.offset), [0, 1, 2, 3, 4]);
      assert.deepEqual(recs.map((x) => x.key), ["k1", null, null, "k2", "k3"]);
      assert.deepEqual(recs.map((x) => x.value), [
        "hello",
        "wörld ✓ 日本 🚀",
        null,
        "",
        "with timestamp",
      ]);
      assert.deepEqual(recs[0].headers, [{ key: "h1", value: "v1" }, { key: "h2", value: "v2" }]);
      assert.deepEqual(recs[1].headers, []);
      assert.deepEqual(recs[3].headers, [
        { key: "dup", value: "a" },
        { key: "dup", value: null },
        { key: "ü", value: "ß" },
      ]);
      for (const x of recs.slice(0, 4)) {
        assert.ok(
          x.timestamp >= before - 1 && x.timestamp <= after + 1,
          `timestamp ${x.timestamp} within [${before}, ${after}]`,
        );
      }
      assert.equal(recs[4].timestamp, 1_700_000_000_123);
    });

    await t.step("only records at or after the requested offset are returned", async () => {
      for (let from = 0; from <= 5; from++) {
        const r = await fetchRecords(server, "json", 0, { offset: from });
        assert.deepEqual(
          (r.records as Json[]).map((x) => x.offset),
          [0, 1, 2, 3, 4].filter((o) => o >= from),
          `offset=${from}`,
        );
        assert.equal(r.highWatermark, 5);
        assert.equal(r.nextOffset, 5);
      }
    });

    await t.step("base64 keys and values hold any bytes", async () => {
      const offsets = await produce(server, "json", {
        keyEncoding: "base64",
        valueEncoding: "base64",
        records: [
          { key: toBase64(BYTES_255_0), value: toBase64(BYTES_0_255) },
          { key: toBase64(new Uint8Array()), value: toBase64(new Uint8Array([0xff, 0xfe, 0])) },
          { key: null, value: null },
        ],
      });
      assert.deepEqual(offsets.map((o) => o.offset), [5, 6, 7]);

      const r = await fetchRecords(server, "json", 0, {
        offset: 5,
        keyEncoding: "base64",
        valueEncoding: "base64",
      });
      const recs = r.records as Json[];
      assert.equal(recs.length, 3);
      assertBytes(fromBase64(recs[0].key), BYTES_255_0, "key 255..0");
      assertBytes(fromBase64(recs[0].value), BYTES_0_255, "value 0..255");
      assert.equal(recs[1].key, "", "empty key is an empty string, not null");
      assertBytes(fromBase64(recs[1].value), new Uint8Array([0xff, 0xfe, 0]), "value ff fe 00");
      assert.equal(recs[2].key, null);
      assert.equal(recs[2].value, null);

      // The same bytes through the binary fetch.
      const { batches } = await fetchBatches(server, "json", 0, 5);
      const decoded = batches.flatMap((b) => b.records).filter((x) => x.offset >= 5);
      assert.equal(decoded.length, 3);
      assertBytes(decoded[0].key, BYTES_255_0, "binary fetch key");
      assertBytes(decoded[0].value, BYTES_0_255, "binary fetch value");
      assertBytes(decoded[1].key, new Uint8Array(), "binary fetch empty key");
      assert.equal(decoded[2].key, null);
      assert.equal(decoded[2].value, null);
    });

    await t.step("valueEncoding json stores the JSON text and serves it back", async () => {
      const value = { a: 1, b: [true, null, "x"], c: { d: "é" } };
      const offsets = await produce(server, "json", {
        valueEncoding: "json",
        records: [{ key: "j", value }, { value: 42 }, { value: "str" }, { value: [1, 2] }],
      });
      assert.deepEqual(offsets.map((o) => o.offset), [8, 9, 10, 11]);
      const asJson = await fetchRecords(server, "json", 0, { offset: 8, valueEncoding: "json" });
      assert.deepEqual(
        (asJson.records as Json[]).map((x) => x.value),
        [value, 42, "str", [1, 2]],
      );
      const asString = await fetchRecords(server, "json", 0, { offset: 8 });
      assert.deepEqual(
        (asString.records as Json[]).map((x) => JSON.parse(x.value)),
        [value, 42, "str", [1, 2]],
        "default encoding serves the stored JSON text",
      );
      const asStringExplicit = await fetchRecords(server, "json", 0, {
        offset: 8,
        valueEncoding: "string",
        keyEncoding: "string",
      });
      assert.deepEqual(asStringExplicit.records, asString.records);
      assert.equal(asStringExplicit.records[0].key, "j");
    });

    await t.step("binary fetch serves the JSON-produced records as RecordBatch v2", async () => {
      const { body, batches, headers } = await fetchBatches(server, "json", 0, 0);
      assert.match(headers.get("content-type") ?? "", /^application\/vnd\.kafka\.recordbatch/);
      assert.equal(headers.get("sluice-next-offset"), "12");
      assert.equal(headers.get("sluice-high-watermark"), "12");
      assert.ok(body.length > 0);
      const records = batches.flatMap((b) => b.records);
      assert.deepEqual(records.map((x) => x.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      assertBytes(records[0].key, utf8("k1"), "key k1");
      assertBytes(records[0].value, utf8("hello"), "value hello");
      assert.deepEqual(
        records[0].headers.map((h) => [h.key, new TextDecoder().decode(h.value!)]),
        [["h1", "v1"], ["h2", "v2"]],
      );
      assert.equal(records[3].headers[1].value, null, "null header value");
      assert.equal(records[4].timestamp, 1_700_000_000_123);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(records[8].value!)), {
        a: 1,
        b: [true, null, "x"],
        c: { d: "é" },
      });
    });
  });
});

Deno.test("HTTP produce/fetch: headerEncoding base64 carries header values of any bytes", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "headers", 1);
    await t.step("produced as base64, fetched as base64: the same bytes", async () => {
      const offsets = await produce(server, "headers", {
        headerEncoding: "base64",
        records: [
          {
            value: "v",
            headers: [
              { key: "bin", value: toBase64(BYTES_255_0) },
              { key: "none", value: null },
            ],
          },
          { value: "w", headers: { text: toBase64(utf8("plain é")) } },
        ],
      });
      assert.deepEqual(offsets.map((o) => o.offset), [0, 1]);
      const r = await fetchRecords(server, "headers", 0, { offset: 0, headerEncoding: "base64" });
      const recs = r.records as Json[];
      assert.equal(recs[0].value, "v", "values keep their own encoding");
      assert.equal(recs[0].headers[0].key, "bin");
      assertBytes(fromBase64(recs[0].headers[0].value), BYTES_255_0, "binary header value");
      assert.deepEqual(recs[0].headers[1], { key: "none", value: null });
      assertBytes(fromBase64(recs[1].headers[0].value), utf8("plain é"), "text header as bytes");
      // The stored bytes themselves, through the binary fetch.
      const { batches } = await fetchBatches(server, "headers", 0, 0);
      assertBytes(batches[0].records[0].headers[0].value!, BYTES_255_0, "stored header value");
    });
    await t.step("fetched without it: text header values as strings", async () => {
      const r = await fetchRecords(server, "headers", 0, { offset: 1 });
      assert.deepEqual((r.records as Json[])[0].headers, [{ key: "text", value: "plain é" }]);
    });
    await t.step("a header value that is not base64: 400, nothing written", async () => {
      const res = await json(`${server.url}/v1/topics/headers/records`, {
        method: "POST",
        body: JSON.stringify({
          headerEncoding: "base64",
          records: [{ value: "x", headers: { bad: "not base64!" } }],
        }),
        headers: { "content-type": "application/json" },
      });
      expectError(res, 400, "INVALID_REQUEST", "bad base64 header");
      assert.match(res.body.error.message, /records\.0\.headers\.bad is not valid base64/);
      const hw = await highWatermarks(server, "headers");
      assert.deepEqual(hw, [2]);
    });
  });
});

Deno.test("HTTP produce/fetch: raw batches are stored and served byte for byte", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "raw", 2);
    const rand = prng(7);
    const records: RecordInput[] = [
      { key: utf8("a"), value: BYTES_0_255, headers: [{ key: "h", value: BYTES_255_0 }] },
      { key: null, value: randomBytes(1000, rand), timestamp: 1_700_000_000_500 },
      { key: BYTES_255_0, value: null, headers: [{ key: "n", value: null }] },
    ];
    const plain = encodeRecordBatch(records, { timestampMs: 1_700_000_000_000 });
    const lz4 = encodeRecordBatch(
      Array.from({ length: 50 }, (_, i) => ({ key: utf8(`k${i}`), value: utf8("x".repeat(200)) })),
      { timestampMs: 1_700_000_001_000, compression: COMPRESSION_CODECS.lz4 },
    );

    await t.step("POST batches returns baseOffset and lastOffset", async () => {
      const res = await postBatches(server, "raw", 1, plain);
      expectStatus(res, 200, "post plain batch");
      assert.equal(res.body.baseOffset, 0);
      assert.equal(res.body.lastOffset, 2);
      const two = await postBatches(server, "raw", 1, concat(lz4, plain));
      expectStatus(two, 200, "post two batches in one body");
      assert.equal(two.body.baseOffset, 3);
      assert.equal(two.body.lastOffset, 3 + 50 + 3 - 1);
      assert.deepEqual(await highWatermarks(server, "raw"), [0, 56]);
    });

    await t.step("binary fetch returns the stored batches with assigned base offsets", async () => {
      const { body, headers } = await fetchBatches(server, "raw", 1, 0);
      assert.equal(headers.get("sluice-high-watermark"), "56");
      assert.equal(headers.get("sluice-next-offset"), "56");
      const expected = concat(
        withBaseOffset(plain, 0),
        withBaseOffset(lz4, 3),
        withBaseOffset(plain, 53),
      );
      assertBytes(
        body,
        expected,
        "stored batches = posted batches with patched baseOffset and leader epoch",
      );
    });

    await t.step("a binary fetch from inside a batch starts at that batch", async () => {
      const { body } = await fetchBatches(server, "raw", 1, 10);
      assertBytes(
        body,
        concat(withBaseOffset(lz4, 3), withBaseOffset(plain, 53)),
        "fetch at offset 10 (inside the lz4 batch)",
      );
    });

    await t.step("JSON fetch decodes raw (and lz4) batches", async () => {
      const all = await fetchAll(server, "raw", 1, {
        keyEncoding: "base64",
        valueEncoding: "base64",
      });
      assert.deepEqual(all.map((x) => x.offset), Array.from({ length: 56 }, (_, i) => i));
      assert.equal(all[0].key, toBase64(utf8("a")));
      assert.equal(all[0].value, toBase64(BYTES_0_255));
      assert.deepEqual(all[0].headers.length, 1);
      assert.equal(all[0].headers[0].key, "h");
      assert.equal(all[1].timestamp, 1_700_000_000_500);
      assert.equal(all[1].key, null);
      assertBytes(fromBase64(all[1].value), records[1].value, "random value");
      assert.equal(all[2].value, null);
      assert.deepEqual(all[2].headers, [{ key: "n", value: null }]);
      for (let i = 0; i < 50; i++) {
        assert.equal(all[3 + i].key, toBase64(utf8(`k${i}`)));
        assert.equal(all[3 + i].timestamp, 1_700_000_001_000);
      }
      const strings = await fetchRecords(server, "raw", 1, { offset: 3 });
      assert.equal(strings.records[0].key, "k0");
      assert.equal(strings.records[0].value, "x".repeat(200));
    });

    await t.step("JSON-produced records interleave with raw batches", async () => {
      const offsets = await produce(server, "raw", {
        records: [{ value: "json", partition: 1 }],
      });
      assert.deepEqual(offsets, [{ partition: 1, offset: 56 }]);
      const res = await postBatches(server, "raw", 1, plain);
      expectStatus(res, 200, "post after JSON produce");
      assert.equal(res.body.baseOffset, 57);
      const r = await fetchRecords(server, "raw", 1, { offset: 56 });
      assert.deepEqual((r.records as Json[]).map((x) => x.offset), [56, 57, 58, 59]);
      assert.equal(r.records[0].value, "json");
      assert.equal(r.records[1].key, "a");
      assert.deepEqual(await highWatermarks(server, "raw"), [0, 60]);
    });

    await t.step("an idempotent producer's batch is deduplicated over HTTP too", async () => {
      const idem = (values: string[], baseSequence: number) =>
        encodeRecordBatch(values.map((v) => ({ key: null, value: utf8(v) })), {
          timestampMs: 1_700_000_002_000,
          producerId: 4242,
          producerEpoch: 0,
          baseSequence,
        });
      const first = await postBatches(server, "raw", 0, idem(["one", "two"], 0));
      expectStatus(first, 200, "first idempotent batch");
      assert.deepEqual([first.body.baseOffset, first.body.lastOffset], [0, 1]);
      const retry = await postBatches(server, "raw", 0, idem(["one", "two"], 0));
      expectStatus(retry, 200, "a retry is answered as a success");
      assert.deepEqual([retry.body.baseOffset, retry.body.lastOffset], [0, 1], "first offsets");
      const gap = await postBatches(server, "raw", 0, idem(["gap"], 7));
      expectStatus(gap, 409, "a sequence gap");
      assert.equal(gap.body.error.code, "OUT_OF_ORDER_SEQUENCE");
      assert.deepEqual(await highWatermarks(server, "raw"), [2, 60], "nothing written twice");
    });
  });
});

Deno.test("HTTP produce: keyed records go to Kafka's partition and keep per-key order", async (t) => {
  await withServer({}, async (server) => {
    const partitions = 6;
    await createTopic(server, "keyed", partitions);
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    const rounds = 3;

    await t.step("each offset's partition is murmur2(key) % 6 as kafkajs computes it", async () => {
      for (let round = 0; round < rounds; round++) {
        const offsets = await produce(server, "keyed", {
          records: keys.map((key) => ({ key, value: `${key}:${round}` })),
        });
        assert.equal(offsets.length, keys.length);
        offsets.forEach((o, i) => {
          assert.equal(
            o.partition,
            kafkaPartition("keyed", partitions, keys[i]),
            `partition of ${keys[i]}`,
          );
        });
      }
      // Not all on one partition: the hash spreads 200 keys over all 6.
      const used = new Set(keys.map((k) => kafkaPartition("keyed", partitions, k)));
      assert.equal(used.size, partitions);
    });

    await t.step("offsets within a request are in request order per partition", async () => {
      const hw = await highWatermarks(server, "keyed");
      const offsets = await produce(server, "keyed", {
        records: keys.slice(0, 40).map((key) => ({ key, value: "order" })),
      });
      const next = hw.slice();
      for (const o of offsets) {
        assert.equal(o.offset, next[o.partition], `next offset on partition ${o.partition}`);
        next[o.partition]++;
      }
      assert.deepEqual(await highWatermarks(server, "keyed"), next);
    });

    await t.step("every partition holds only its keys, each key's values in order", async () => {
      const seen = new Map<string, string[]>();
      for (let p = 0; p < partitions; p++) {
        for (const r of await fetchAll(server, "keyed", p)) {
          assert.equal(kafkaPartition("keyed", partitions, r.key), p, `${r.key} on partition ${p}`);
          if (r.value === "order") continue;
          const list = seen.get(r.key) ?? [];
          list.push(r.value);
          seen.set(r.key, list);
        }
      }
      assert.equal(seen.size, keys.length);
      for (const key of keys) {
        assert.deepEqual(seen.get(key), [0, 1, 2].map((round) => `${key}:${round}`), key);
      }
    });

    await t.step("unicode and empty-string keys hash their UTF-8 bytes", async () => {
      const odd = ["", "ключ", "日本語", "🔑", "é", "a".repeat(1000)];
      const offsets = await produce(server, "keyed", {
        records: odd.map((key) => ({ key, value: "odd" })),
      });
      offsets.forEach((o, i) => {
        assert.equal(
          o.partition,
          kafkaPartition("keyed", partitions, odd[i]),
          `key ${JSON.stringify(odd[i].slice(0, 10))}`,
        );
      });
    });

    await t.step("binary (base64) keys also follow murmur2 of their bytes", async () => {
      const rand = prng(99);
      const binKeys = Array.from({ length: 50 }, (_, i) => randomBytes(1 + (i % 17), rand));
      const offsets = await produce(server, "keyed", {
        keyEncoding: "base64",
        records: binKeys.map((k) => ({ key: toBase64(k), value: "bin" })),
      });
      offsets.forEach((o, i) => {
        assert.equal(o.partition, kafkaPartition("keyed", partitions, binKeys[i]), `bin key ${i}`);
      });
    });

    await t.step("an explicit partition wins over the key", async () => {
      const key = keys[0];
      const natural = kafkaPartition("keyed", partitions, key);
      const other = (natural + 1) % partitions;
      const hw = await highWatermarks(server, "keyed");
      const offsets = await produce(server, "keyed", {
        records: [
          { key, value: "explicit", partition: other },
          { value: "explicit-unkeyed", partition: 0 },
          { value: "explicit-unkeyed-5", partition: 5 },
        ],
      });
      assert.deepEqual(offsets, [
        { partition: other, offset: hw[other] },
        { partition: 0, offset: hw[0] + (other === 0 ? 1 : 0) },
        { partition: 5, offset: hw[5] + (other === 5 ? 1 : 0) },
      ]);
      const r = await fetchRecords(server, "keyed", other, { offset: offsets[0].offset });
      assert.equal(r.records[0].key, key);
      assert.equal(r.records[0].value, "explicit");
    });
  });
});

Deno.test("HTTP produce: unkeyed records of one request share one (sticky) partition", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "sticky", 6);
    await t.step("20 requests of 25 unkeyed records: one partition per request", async () => {
      const used = new Set<number>();
      for (let req = 0; req < 20; req++) {
        const hw = await highWatermarks(server, "sticky");
        const offsets = await produce(server, "sticky", {
          records: Array.from({ length: 25 }, (_, i) => ({ value: `r${req}-${i}` })),
        });
        const p = offsets[0].partition;
        assert.ok(Number.isInteger(p) && p >= 0 && p < 6, `partition ${p} in range`);
        used.add(p);
        assert.deepEqual(
          offsets,
          Array.from({ length: 25 }, (_, i) => ({ partition: p, offset: hw[p] + i })),
          `request ${req}: one partition, consecutive offsets`,
        );
        const r = await fetchRecords(server, "sticky", p, { offset: hw[p] });
        assert.deepEqual(
          (r.records as Json[]).map((x) => x.value),
          Array.from({ length: 25 }, (_, i) => `r${req}-${i}`),
        );
      }
      assert.ok(used.size >= 1);
    });

    await t.step("unkeyed records mixed with keyed ones still share one partition", async () => {
      const offsets = await produce(server, "sticky", {
        records: [
          { value: "u1" },
          { key: "key-1", value: "k1" },
          { value: "u2" },
          { key: "key-2", value: "k2" },
          { value: "u3", key: null },
        ],
      });
      const unkeyed = [offsets[0], offsets[2], offsets[4]];
      assert.equal(new Set(unkeyed.map((o) => o.partition)).size, 1, JSON.stringify(offsets));
      assert.equal(offsets[1].partition, kafkaPartition("sticky", 6, "key-1"));
      assert.equal(offsets[3].partition, kafkaPartition("sticky", 6, "key-2"));
    });
  });
});

Deno.test("HTTP produce: concurrency, compression and size limits", async (t) => {
  await withServer({}, async (server) => {
    await t.step("50 concurrent requests get unique, contiguous offsets", async () => {
      await createTopic(server, "busy", 1);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          produce(server, "busy", {
            records: [{ value: `a${i}` }, { value: `b${i}` }, { value: `c${i}` }],
          })),
      );
      const all = answers.flat().map((o) => o.offset).sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 150 }, (_, i) => i));
      answers.forEach((offsets, i) => {
        assert.deepEqual(
          offsets.map((o) => o.offset),
          [offsets[0].offset, offsets[0].offset + 1, offsets[0].offset + 2],
          `request ${i}: its records are adjacent and in order`,
        );
      });
      const stored = await fetchAll(server, "busy", 0);
      answers.forEach((offsets, i) => {
        assert.equal(stored[offsets[0].offset].value, `a${i}`);
        assert.equal(stored[offsets[2].offset].value, `c${i}`);
      });
    });

    await t.step("a compression.type lz4 topic stores JSON-produced batches as LZ4", async () => {
      await createTopic(server, "lz4", 1, { "compression.type": "lz4" });
      const value = "compressible ".repeat(100);
      await produce(server, "lz4", {
        records: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value })),
      });
      const { batches, body } = await fetchBatches(server, "lz4", 0, 0);
      assert.deepEqual(batches.map((b) => b.compression), [COMPRESSION_CODECS.lz4]);
      assert.ok(body.length < 20 * value.length / 4, `${body.length} bytes: compressed`);
      const described = await describeTopic(server, "lz4");
      assert.equal(described.partitions[0].sizeBytes, body.length, "sizeBytes = stored bytes");
      const r = await fetchRecords(server, "lz4", 0, { offset: 0 });
      assert.deepEqual((r.records as Json[]).map((x) => x.value), Array(20).fill(value));
    });

    await t.step("a raw uncompressed batch to an lz4 topic is stored as sent", async () => {
      const batch = encodeRecordBatch([{ value: utf8("raw".repeat(100)) }], {
        timestampMs: 1_700_000_000_000,
      });
      const res = await postBatches(server, "lz4", 0, batch);
      expectStatus(res, 200, "post raw batch to lz4 topic");
      const { body } = await fetchBatches(server, "lz4", 0, res.body.baseOffset);
      assertBytes(body, withBaseOffset(batch, res.body.baseOffset), "never re-encoded");
    });

    await t.step("sizeBytes grows with the log", async () => {
      await createTopic(server, "sized", 1);
      assert.equal((await describeTopic(server, "sized")).partitions[0].sizeBytes, 0);
      await produce(server, "sized", { records: [{ value: "x".repeat(1000) }] });
      const size = (await describeTopic(server, "sized")).partitions[0].sizeBytes;
      assert.ok(size > 1000 && size < 1200, `sizeBytes ${size}`);
    });

    await t.step("a 1.5 MB record fits the default 16 MiB request limit", async () => {
      await createTopic(server, "big", 1, { "max.message.bytes": 4 * 1024 * 1024 });
      const value = "y".repeat(1_500_000);
      assert.deepEqual(await produce(server, "big", { records: [{ value }] }), [
        { partition: 0, offset: 0 },
      ]);
      const r = await fetchRecords(server, "big", 0, { offset: 0 });
      assert.equal(r.records[0].value, value, "a record larger than maxBytes is still returned");
    });

    await t.step("a body over 16 MiB is 413 REQUEST_TOO_LARGE by default", async () => {
      const res = await json(`${topicUrl(server, "big")}/records`, {
        method: "POST",
        json: { records: [{ value: "z".repeat(16 * 1024 * 1024) }] },
      });
      expectError(res, 413, "REQUEST_TOO_LARGE", "17 MB body");
      assert.deepEqual(await highWatermarks(server, "big"), [1]);
    });
  });
});

Deno.test("HTTP fetch: earliest, latest, maxBytes paging and timestamp lookup", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "seek", 1);
    const base = 1_700_000_000_000;
    // Ten requests (likely ten batches) with increasing timestamps base + 1000 * i.
    for (let i = 0; i < 10; i++) {
      await produce(server, "seek", {
        records: [
          { value: `v${2 * i}`, timestamp: base + 1000 * i },
          { value: `v${2 * i + 1}`, timestamp: base + 1000 * i + 500 },
        ],
      });
    }

    await t.step("an empty partition answers earliest and latest with no records", async () => {
      await createTopic(server, "empty", 1);
      for (const offset of ["earliest", "latest", "0"]) {
        const r = await fetchRecords(server, "empty", 0, { offset });
        assert.deepEqual(r.records, [], `offset=${offset}`);
        assert.equal(r.highWatermark, 0);
        assert.equal(r.nextOffset, 0);
      }
    });

    await t.step("offset=earliest starts at the log start", async () => {
      const r = await fetchRecords(server, "seek", 0, { offset: "earliest" });
      assert.equal(r.records[0].offset, 0);
      assert.equal(r.records[0].value, "v0");
      assert.equal(r.highWatermark, 20);
    });

    await t.step("offset=latest returns nothing yet and nextOffset = high watermark", async () => {
      const r = await fetchRecords(server, "seek", 0, { offset: "latest" });
      assert.deepEqual(r.records, []);
      assert.equal(r.nextOffset, 20);
      assert.equal(r.highWatermark, 20);
      const at = await fetchRecords(server, "seek", 0, { offset: 20 });
      assert.deepEqual(at.records, []);
      assert.equal(at.nextOffset, 20);
    });

    await t.step("a small maxBytes pages through every record exactly once", async () => {
      let offset = 0;
      const values: string[] = [];
      let rounds = 0;
      while (offset < 20) {
        const r = await fetchRecords(server, "seek", 0, { offset, maxBytes: 1 });
        assert.ok(r.records.length >= 1, `maxBytes=1 still returns a record at ${offset}`);
        assert.equal(r.records[0].offset, offset);
        assert.equal(r.nextOffset, r.records.at(-1).offset + 1);
        values.push(...(r.records as Json[]).map((x) => x.value));
        offset = r.nextOffset;
        rounds++;
      }
      assert.ok(rounds > 1, "maxBytes=1 needed more than one fetch");
      assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => `v${i}`));
    });

    await t.step("a binary fetch honours maxBytes with whole batches", async () => {
      const first = await fetchBatches(server, "seek", 0, 0, "&maxBytes=1");
      assert.ok(first.batches.length >= 1);
      const next = Number(first.headers.get("sluice-next-offset"));
      assert.ok(next > 0 && next < 20, `Sluice-Next-Offset ${next}`);
      assert.equal(first.headers.get("sluice-high-watermark"), "20");
      const big = await bytes(`${partitionUrl(server, "seek", 0)}/records?offset=0`, {
        headers: { accept: RECORDBATCH_TYPE },
      });
      assert.equal(
        decodeBatches(big.body).flatMap((b) => b.records).length,
        20,
        "default maxBytes (1 MiB) returns all 20",
      );
    });

    await t.step("/offsets?timestamp= finds the first offset at or after T", async () => {
      const lookup = async (timestamp: string | number) => {
        const res = await json(`${partitionUrl(server, "seek", 0)}/offsets?timestamp=${timestamp}`);
        expectStatus(res, 200, `offsets?timestamp=${timestamp}`);
        return res.body.offset;
      };
      assert.equal(await lookup(0), 0);
      assert.equal(await lookup(base), 0);
      assert.equal(await lookup(base + 1), 1, "inside the first batch");
      assert.equal(await lookup(base + 500), 1);
      assert.equal(await lookup(base + 501), 2);
      assert.equal(await lookup(base + 3000), 6);
      assert.equal(await lookup(base + 9500), 19);
      assert.equal(await lookup("earliest"), 0);
      assert.equal(await lookup("latest"), 20);
    });
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A copy of `batch` with its int64 baseOffset (bytes 0..7, outside the CRC) set. */
/** A posted batch as stored: its base offset assigned, partitionLeaderEpoch stamped 0. */
function withBaseOffset(batch: Uint8Array, baseOffset: number): Uint8Array {
  const out = batch.slice();
  new DataView(out.buffer).setBigInt64(0, BigInt(baseOffset));
  new DataView(out.buffer).setInt32(12, 0);
  return out;
}
