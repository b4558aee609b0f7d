/**
 * HTTP bad input (API.md "Errors"): a table of refused requests, each answered with its 4xx status
 * and code in the `{"error":{"code","message"}}` shape, never a 5xx, and nothing written: after
 * every case the high watermarks and the topic list are what they were.
 */
import assert from "node:assert/strict";
import { crc32c } from "../../src/record/crc32c.ts";
import {
  CRC_AT,
  encodeRecordBatch,
  RECORDS_COUNT_AT,
  utf8,
} from "../../src/record/record_batch.ts";
import {
  assertErrorShape,
  createTopic,
  expectStatus,
  highWatermarks,
  type Json,
  json,
  produce,
  RECORDBATCH_TYPE,
  withServer,
} from "./server_harness.ts";

const MAX_REQUEST_BYTES = 100_000;

interface Case {
  what: string;
  method?: string;
  /** Path and query, after the server's URL. */
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON with Content-Type application/json. */
  json?: unknown;
  body?: string | Uint8Array | (() => ReadableStream<Uint8Array>);
  status: number;
  /** The error code, or the codes any of which is acceptable where API.md leaves it open. */
  code: string | string[];
  /** Other acceptable [status, code] answers, where API.md leaves it open. */
  or?: [number, string][];
}

const good = encodeRecordBatch(
  [{ key: utf8("k"), value: utf8("v".repeat(100)) }, { value: utf8("second") }],
  { timestampMs: 1_700_000_000_000 },
);

function mutate(batch: Uint8Array, fn: (b: Uint8Array, dv: DataView) => void): Uint8Array {
  const out = batch.slice();
  fn(out, new DataView(out.buffer));
  return out;
}

/** Rewrites the CRC-32C so that only the intended defect remains. */
function fixCrc(b: Uint8Array, dv: DataView): void {
  dv.setUint32(CRC_AT, crc32c(b.subarray(21)));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const badCrc = mutate(good, (b) => {
  b[b.length - 1] ^= 0xff;
});
const big = encodeRecordBatch([{ value: new Uint8Array(2000).fill(0x61) }], {
  timestampMs: 1_700_000_000_000,
});
const oversizedBatch = encodeRecordBatch([{ value: new Uint8Array(150_000).fill(0x62) }], {
  timestampMs: 1_700_000_000_000,
});

const P0 = "/v1/topics/bad/partitions/0";

const CASES: Case[] = [
  // --- unknown topic / partition
  {
    what: "produce to an unknown topic",
    method: "POST",
    path: "/v1/topics/nope/records",
    json: { records: [{ value: "x" }] },
    status: 404,
    code: "TOPIC_NOT_FOUND",
  },
  {
    what: "fetch from an unknown topic",
    path: "/v1/topics/nope/partitions/0/records?offset=0",
    status: 404,
    code: "TOPIC_NOT_FOUND",
  },
  {
    what: "post a batch to an unknown topic",
    method: "POST",
    path: "/v1/topics/nope/partitions/0/batches",
    headers: { "content-type": RECORDBATCH_TYPE },
    body: good,
    status: 404,
    code: "TOPIC_NOT_FOUND",
  },
  {
    what: "timestamp lookup on an unknown topic",
    path: "/v1/topics/nope/partitions/0/offsets?timestamp=0",
    status: 404,
    code: "TOPIC_NOT_FOUND",
  },
  {
    what: "stream from an unknown topic",
    path: "/v1/topics/nope/partitions/0/stream?offset=0",
    status: 404,
    code: "TOPIC_NOT_FOUND",
  },
  {
    what: "fetch from partition 2 of 2",
    path: "/v1/topics/bad/partitions/2/records?offset=0",
    status: 404,
    code: "PARTITION_NOT_FOUND",
  },
  {
    what: "fetch from partition 99999",
    path: "/v1/topics/bad/partitions/99999/records?offset=0",
    status: 404,
    code: "PARTITION_NOT_FOUND",
  },
  {
    what: "post a batch to partition 2 of 2",
    method: "POST",
    path: "/v1/topics/bad/partitions/2/batches",
    headers: { "content-type": RECORDBATCH_TYPE },
    body: good,
    status: 404,
    code: "PARTITION_NOT_FOUND",
  },
  {
    what: "timestamp lookup on partition 2 of 2",
    path: "/v1/topics/bad/partitions/2/offsets?timestamp=0",
    status: 404,
    code: "PARTITION_NOT_FOUND",
  },
  {
    what: "stream from partition 2 of 2",
    path: "/v1/topics/bad/partitions/2/stream?offset=0",
    status: 404,
    code: "PARTITION_NOT_FOUND",
  },
  {
    what: "non-numeric partition in the path",
    path: "/v1/topics/bad/partitions/abc/records?offset=0",
    status: 400,
    code: "INVALID_REQUEST",
    or: [[404, "PARTITION_NOT_FOUND"]],
  },
  {
    what: "negative partition in the path",
    path: "/v1/topics/bad/partitions/-1/records?offset=0",
    status: 400,
    code: "INVALID_REQUEST",
    or: [[404, "PARTITION_NOT_FOUND"]],
  },
  {
    what: "fractional partition in the path",
    method: "POST",
    path: "/v1/topics/bad/partitions/0.5/batches",
    headers: { "content-type": RECORDBATCH_TYPE },
    body: good,
    status: 400,
    code: "INVALID_REQUEST",
    or: [[404, "PARTITION_NOT_FOUND"]],
  },
  {
    what: "record for partition 2 of 2 after a valid record (all or nothing)",
    method: "POST",
    path: "/v1/topics/bad/records",
    json: { records: [{ value: "ok", partition: 0 }, { value: "no", partition: 2 }] },
    status: 404,
    code: "PARTITION_NOT_FOUND",
  },
  {
    what: "record partition -1",
    method: "POST",
    path: "/v1/topics/bad/records",
    json: { records: [{ value: "no", partition: -1 }] },
    status: 400,
    code: "INVALID_REQUEST",
    or: [[404, "PARTITION_NOT_FOUND"]],
  },
  {
    what: "record partition 0.5",
    method: "POST",
    path: "/v1/topics/bad/records",
    json: { records: [{ value: "no", partition: 0.5 }] },
    status: 400,
    code: "INVALID_REQUEST",
  },
  {
    what: "record partition as a string",
    method: "POST",
    path: "/v1/topics/bad/records",
    json: { records: [{ value: "no", partition: "zero" }] },
    status: 400,
    code: "INVALID_REQUEST",
  },
  // --- offsets and fetch parameters
  ...["-1", "1.5", "1e30", "abc", "", "NaN", "Infinity"].map((offset): Case => ({
    what: `fetch offset=${JSON.stringify(offset)}`,
    path: `${P0}/records?offset=${encodeURIComponent(offset)}`,
    status: 400,
    code: "INVALID_REQUEST",
  })),
  {
    what: "fetch offset past the log end (hw + 1)",
    path: `${P0}/records?offset=4`,
    status: 416,
    code: "OFFSET_OUT_OF_RANGE",
  },
  {
    what: "fetch offset far past the log end",
    path: `${P0}/records?offset=1000000`,
    status: 416,
    code: "OFFSET_OUT_OF_RANGE",
  },
  {
    what: "binary fetch offset past the log end",
    path: `${P0}/records?offset=4`,
    headers: { accept: RECORDBATCH_TYPE },
    status: 416,
    code: "OFFSET_OUT_OF_RANGE",
  },
  {
    what: "stream offset=-1",
    path: `${P0}/stream?offset=-1`,
    status: 400,
    code: "INVALID_REQUEST",
  },
  {
    what: "stream offset=abc",
    path: `${P0}/stream?offset=abc`,
    status: 400,
    code: "INVALID_REQUEST",
  },
  ...[
    ["maxBytes", "-1"],
    ["maxBytes", "abc"],
    ["maxBytes", "1.5"],
    ["maxWaitMs", "-1"],
    ["maxWaitMs", "30001"],
    ["maxWaitMs", "abc"],
    ["minBytes", "-1"],
    ["minBytes", "x"],
  ].map(([name, value]): Case => ({
    what: `fetch ${name}=${value}`,
    path: `${P0}/records?offset=0&${name}=${value}`,
    status: 400,
    code: "INVALID_REQUEST",
  })),
  {
    what: "timestamp lookup timestamp=abc",
    path: `${P0}/offsets?timestamp=abc`,
    status: 400,
    code: "INVALID_REQUEST",
  },
  {
    what: "timestamp lookup timestamp=1.5",
    path: `${P0}/offsets?timestamp=1.5`,
    status: 400,
    code: "INVALID_REQUEST",
  },
  // --- JSON bodies
  ...['{"records":[', "{records:[]}", "[]", "null", '"x"', "", "[".repeat(100_000)].map(
    (body): Case => ({
      what: `produce body ${JSON.stringify(body.slice(0, 20))}`,
      method: "POST",
      path: "/v1/topics/bad/records",
      headers: { "content-type": "application/json" },
      body,
      status: 400,
      code: "INVALID_REQUEST",
    }),
  ),
  {
    what: "produce body that is not UTF-8",
    method: "POST",
    path: "/v1/topics/bad/records",
    headers: { "content-type": "application/json" },
    body: concat(utf8('{"records":[{"value":"'), new Uint8Array([0xff, 0xfe, 0xc3]), utf8('"}]}')),
    status: 400,
    code: "INVALID_REQUEST",
  },
  ...([
    ["no records field", {}],
    ["empty records array", { records: [] }],
    ["records not an array", { records: "x" }],
    ["a null record", { records: [null] }],
    ["a number record", { records: [1] }],
    ["a record without value", { records: [{ key: "k" }] }],
    ["a number value without valueEncoding", { records: [{ value: 42 }] }],
    ["an object value without valueEncoding", { records: [{ value: { a: 1 } }] }],
    ["a number key", { records: [{ key: 7, value: "v" }] }],
    ["valueEncoding hex", { valueEncoding: "hex", records: [{ value: "00" }] }],
    ["keyEncoding json", { keyEncoding: "json", records: [{ key: "k", value: "v" }] }],
    ["invalid base64 after a valid record", {
      valueEncoding: "base64",
      records: [{ value: "AAAA" }, { value: "!!!not base64!!!" }],
    }],
    ["invalid base64 key", { keyEncoding: "base64", records: [{ key: "%%%", value: "v" }] }],
    ["headers a string", { records: [{ value: "v", headers: "h" }] }],
    ["header value a number", { records: [{ value: "v", headers: { h: 5 } }] }],
    ["header entry without key", { records: [{ value: "v", headers: [{ value: "x" }] }] }],
    ["header key a number", { records: [{ value: "v", headers: [{ key: 1, value: "x" }] }] }],
    ["timestamp a string", { records: [{ value: "v", timestamp: "now" }] }],
    ["timestamp fractional", { records: [{ value: "v", timestamp: 1.5 }] }],
    ["timestamp negative", { records: [{ value: "v", timestamp: -5 }] }],
  ] as [string, unknown][]).map(([what, body]): Case => ({
    what: `produce ${what}`,
    method: "POST",
    path: "/v1/topics/bad/records",
    json: body,
    status: 400,
    code: "INVALID_REQUEST",
  })),
  // --- content types
  {
    what: "produce JSON sent as text/plain",
    method: "POST",
    path: "/v1/topics/bad/records",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ records: [{ value: "x" }] }),
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  {
    what: "produce JSON sent as a record batch",
    method: "POST",
    path: "/v1/topics/bad/records",
    headers: { "content-type": RECORDBATCH_TYPE },
    body: JSON.stringify({ records: [{ value: "x" }] }),
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  {
    what: "batch sent as application/json",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": "application/json" },
    body: good,
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  {
    what: "batch sent as application/octet-stream",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": "application/octet-stream" },
    body: good,
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  {
    what: "batch sent without a content type",
    method: "POST",
    path: `${P0}/batches`,
    body: good,
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  {
    what: "create topic sent as text/plain",
    method: "POST",
    path: "/v1/topics",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ name: "plain", partitions: 1 }),
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
  },
  // --- request size
  {
    what: "produce body over --max-request-bytes",
    method: "POST",
    path: "/v1/topics/bad/records",
    json: { records: [{ value: "x".repeat(MAX_REQUEST_BYTES + 1000) }] },
    status: 413,
    code: "REQUEST_TOO_LARGE",
  },
  {
    what: "produce body over --max-request-bytes without Content-Length (chunked)",
    method: "POST",
    path: "/v1/topics/bad/records",
    headers: { "content-type": "application/json" },
    body: () =>
      ReadableStream.from(
        (function* () {
          yield utf8('{"records":[');
          for (let i = 0; i < 200; i++) yield utf8(`{"value":"${"y".repeat(1000)}"},`);
          yield utf8('{"value":"end"}]}');
        })(),
      ),
    status: 413,
    code: "REQUEST_TOO_LARGE",
  },
  {
    what: "batch body over --max-request-bytes",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: oversizedBatch,
    status: 413,
    code: "REQUEST_TOO_LARGE",
  },
  {
    what: "create-topic body over --max-request-bytes",
    method: "POST",
    path: "/v1/topics",
    json: { name: "huge", partitions: 1, padding: "z".repeat(MAX_REQUEST_BYTES) },
    status: 413,
    code: "REQUEST_TOO_LARGE",
  },
  // --- raw batches
  {
    what: "batch with a bad CRC",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: badCrc,
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "valid batch followed by one with a bad CRC (all or nothing)",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: concat(good, badCrc),
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "batch truncated inside its header (30 bytes)",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: good.slice(0, 30),
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "batch truncated inside its records",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: good.slice(0, good.length - 5),
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "valid batch followed by 7 stray bytes",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: concat(good, new Uint8Array([1, 2, 3, 4, 5, 6, 7])),
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "batch with magic 1",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: mutate(good, (b) => {
      b[16] = 1;
    }),
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "batch whose length is shorter than a header",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: mutate(good, (_b, dv) => dv.setInt32(8, 10)),
    status: 400,
    code: "CORRUPT_BATCH",
  },
  {
    what: "batch whose recordsCount disagrees with lastOffsetDelta (CRC fixed)",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: mutate(good, (b, dv) => {
      dv.setInt32(RECORDS_COUNT_AT, 5);
      fixCrc(b, dv);
    }),
    status: 400,
    code: "INVALID_RECORD",
  },
  {
    what: "empty batch body",
    method: "POST",
    path: `${P0}/batches`,
    headers: { "content-type": RECORDBATCH_TYPE },
    body: new Uint8Array(),
    status: 400,
    code: ["CORRUPT_BATCH", "INVALID_REQUEST"],
  },
  {
    what: "batch over the topic's max.message.bytes (1000)",
    method: "POST",
    path: "/v1/topics/tiny/partitions/0/batches",
    headers: { "content-type": RECORDBATCH_TYPE },
    body: big,
    status: 413,
    code: "RECORD_TOO_LARGE",
  },
  {
    what: "JSON record over the topic's max.message.bytes (1000)",
    method: "POST",
    path: "/v1/topics/tiny/records",
    json: { records: [{ value: "x".repeat(2000) }] },
    status: 413,
    code: "RECORD_TOO_LARGE",
  },
];

async function send(url: string, c: Case): Promise<Json> {
  const headers = new Headers(c.headers);
  let body: BodyInit | undefined;
  if (c.json !== undefined) {
    body = JSON.stringify(c.json);
    headers.set("content-type", "application/json");
  } else if (typeof c.body === "function") {
    body = c.body();
  } else {
    body = c.body as BodyInit | undefined;
  }
  return await json(`${url}${c.path}`, { method: c.method ?? "GET", headers, body });
}

Deno.test("HTTP bad input: every case is its 4xx, never a 5xx, and writes nothing", async (t) => {
  await withServer({ args: ["--max-request-bytes", String(MAX_REQUEST_BYTES)] }, async (server) => {
    await createTopic(server, "bad", 2);
    await createTopic(server, "tiny", 1, { "max.message.bytes": 1000 });
    await produce(server, "bad", {
      records: ["a", "b", "c"].map((value) => ({ value, partition: 0 })),
    });

    const snapshot = async () => ({
      bad: await highWatermarks(server, "bad"),
      tiny: await highWatermarks(server, "tiny"),
      topics: ((await json(`${server.url}/v1/topics`)).body.topics as Json[])
        .map((x) => x.name)
        .sort(),
    });
    const initial = await snapshot();
    assert.deepEqual(initial, { bad: [3, 0], tiny: [0], topics: ["bad", "tiny"] });

    for (const c of CASES) {
      await t.step(c.what, async () => {
        // Compared per case, so one case that writes does not fail every later one.
        const before = await snapshot();
        const res = await send(server.url, c);
        assert.ok(
          res.status < 500,
          `${c.what}: ${res.status} is a 5xx; body ${res.text.slice(0, 300)}`,
        );
        const allowed: [number, string][] = [
          ...(Array.isArray(c.code) ? c.code : [c.code]).map((code): [number, string] => [
            c.status,
            code,
          ]),
          ...(c.or ?? []),
        ];
        assertErrorShape(res, c.what);
        assert.ok(
          allowed.some(([s, code]) => s === res.status && code === res.body.error.code),
          `${c.what}: got ${res.status} ${res.body.error.code} (${res.body.error.message}), ` +
            `want ${allowed.map(([s, code]) => `${s} ${code}`).join(" or ")}`,
        );
        assert.deepEqual(await snapshot(), before, `${c.what}: nothing written`);
      });
    }

    await t.step("unrouted methods and paths are 4xx with the error shape", async () => {
      const before = await snapshot();
      const probes: [string, string][] = [
        ["PUT", "/v1/topics"],
        ["PATCH", "/v1/topics/bad"],
        ["GET", "/v1/topics/bad/partitions/0/batches"],
        ["DELETE", "/v1/topics/bad/records"],
        ["GET", "/v1/nothing"],
        ["POST", "/"],
        ["POST", "/healthz"],
      ];
      for (const [method, path] of probes) {
        const res = await json(`${server.url}${path}`, { method });
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${method} ${path}: ${res.status} ${res.text.slice(0, 200)}`,
        );
        assertErrorShape(res, `${method} ${path}`);
      }
      assert.deepEqual(await snapshot(), before);
    });

    await t.step("a body just under the limit and a charset parameter are accepted", async () => {
      const [hw0] = await highWatermarks(server, "bad");
      const res = await json(`${server.url}/v1/topics/bad/records`, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({
          records: [{ value: "x".repeat(MAX_REQUEST_BYTES - 1000), partition: 0 }],
        }),
      });
      expectStatus(res, 200, "90 KB produce under a 100 KB limit");
      assert.deepEqual(res.body.offsets, [{ partition: 0, offset: hw0 }]);
      const batch = await json(`${server.url}${P0}/batches`, {
        method: "POST",
        headers: { "content-type": RECORDBATCH_TYPE },
        body: good as Uint8Array<ArrayBuffer>,
      });
      expectStatus(batch, 200, "a valid batch after all the refused ones");
      assert.equal(batch.body.baseOffset, hw0 + 1);
    });
  });
});
