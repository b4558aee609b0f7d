/**
 * Request bodies (src/http/body.ts readBody, BodyBuffers): read whole and in order however they
 * arrive on the socket (in pieces, chunked without Content-Length), refused with 413 past the
 * limit (before reading when Content-Length says so), read into reused buffers that are never
 * handed out while lent; and through the real server, concurrent produce requests of distinct
 * batches stored byte for byte.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { BodyBuffers, readBody } from "../../src/http/body.ts";
import { errorResponse } from "../../src/http/error_handler.ts";
import { silentLogger } from "../../src/logger.ts";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { serve } from "../../src/runtime/serve.ts";
import {
  createTopic,
  fetchBatches,
  highWatermarks,
  json,
  postBatches,
  RECORDBATCH_TYPE,
  withServer,
} from "./server_harness.ts";

const MAX = 256 * 1024;

/** A checksum that sees order: sum of (i + 1) * byte, mod 2^32. */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum + (i + 1) * bytes[i]) >>> 0;
  return sum;
}

function pattern(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

interface Echo {
  length: number;
  sum: number;
  free: number;
}

async function withEchoServer(
  fn: (url: string, buffers: BodyBuffers) => Promise<void>,
): Promise<void> {
  const buffers = new BodyBuffers(2, MAX + 1);
  const app = new Hono();
  app.post("/echo", async (c) => {
    const body = await readBody(c, MAX, buffers);
    const echo = { length: body.length, sum: checksum(body) };
    await new Promise((resolve) => setTimeout(resolve, 1)); // still lent across a turn
    assert.equal(checksum(body), echo.sum, "a lent buffer changed");
    buffers.give(body);
    return c.json({ ...echo, free: buffers.size });
  });
  app.onError((err, c) => errorResponse(c, err, silentLogger));
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => app.fetch(request),
    onError: () => {},
  });
  try {
    await fn(`http://127.0.0.1:${server.port}`, buffers);
  } finally {
    await server.shutdown();
  }
}

/** Sends a request's head, then `body` in `pieces` writes a few ms apart; returns the response. */
async function sendInPieces(
  url: string,
  head: string,
  body: Uint8Array,
  pieces: number,
): Promise<string> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await writeAll(conn, new TextEncoder().encode(head));
    const step = Math.ceil(body.length / pieces);
    for (let at = 0; at < body.length; at += step) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await writeAll(conn, body.subarray(at, Math.min(body.length, at + step)));
    }
    return await readResponse(conn);
  } finally {
    conn.close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Reads one response: its head, then Content-Length bytes of body (or up to the close). */
async function readResponse(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1];
    if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) return text;
    const n = await conn.read(buf);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

function bodyOf(response: string): Echo & { error?: { code: string } } {
  return JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
}

Deno.test("readBody", async (t) => {
  await withEchoServer(async (url, buffers) => {
    await t.step("a body written in 12 pieces arrives whole and in order", async () => {
      const body = pattern(200_000, 1);
      const response = await sendInPieces(
        url,
        `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
        body,
        12,
      );
      assert.match(response, /^HTTP\/1\.1 200/);
      const echo = bodyOf(response);
      assert.equal(echo.length, body.length);
      assert.equal(echo.sum, checksum(body));
    });

    await t.step("a chunked body (no Content-Length) under the limit arrives whole", async () => {
      const parts = [pattern(70_000, 2), pattern(90_000, 3), pattern(1, 4)];
      const res = await fetch(`${url}/echo`, {
        method: "POST",
        body: ReadableStream.from(parts),
      });
      const echo = await res.json() as Echo;
      assert.equal(res.status, 200);
      const all = new Uint8Array(160_001);
      all.set(parts[0], 0);
      all.set(parts[1], 70_000);
      all.set(parts[2], 160_000);
      assert.equal(echo.length, all.length);
      assert.equal(echo.sum, checksum(all));
    });

    await t.step("a chunked body past the limit is 413 REQUEST_TOO_LARGE", async () => {
      const res = await fetch(`${url}/echo`, {
        method: "POST",
        body: ReadableStream.from([pattern(MAX, 5), pattern(10, 6)]),
      });
      const body = await res.json();
      assert.equal(res.status, 413);
      assert.equal(body.error.code, "REQUEST_TOO_LARGE");
    });

    await t.step("a body exactly at the limit is taken", async () => {
      const body = pattern(MAX, 7);
      const res = await fetch(`${url}/echo`, { method: "POST", body });
      const echo = await res.json() as Echo;
      assert.equal(res.status, 200);
      assert.equal(echo.sum, checksum(body));
    });

    await t.step("Content-Length past the limit is refused before any body byte", async () => {
      const { hostname, port } = new URL(url);
      const conn = await Deno.connect({ hostname, port: Number(port) });
      try {
        // The head alone: a server waiting for the body would never answer.
        await writeAll(
          conn,
          new TextEncoder().encode(
            `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
              `Content-Length: ${MAX + 1}\r\n\r\n`,
          ),
        );
        const response = await readResponse(conn);
        assert.match(response, /^HTTP\/1\.1 413/);
        assert.equal(bodyOf(response).error?.code, "REQUEST_TOO_LARGE");
      } finally {
        conn.close();
      }
    });

    await t.step("an empty body is empty", async () => {
      const res = await fetch(`${url}/echo`, { method: "POST" });
      const echo = await res.json() as Echo;
      assert.equal(echo.length, 0);
    });

    await t.step("concurrent bodies each get their own buffer, reused afterwards", async () => {
      const bodies = Array.from({ length: 6 }, (_, i) => pattern(100_000 + i, 10 + i));
      const echoes = await Promise.all(bodies.map(async (body) => {
        const res = await fetch(`${url}/echo`, { method: "POST", body });
        return await res.json() as Echo;
      }));
      echoes.forEach((echo, i) => {
        assert.equal(echo.length, bodies[i].length);
        assert.equal(echo.sum, checksum(bodies[i]), `body ${i}`);
      });
      assert.ok(buffers.size <= buffers.buffersMax, `${buffers.size} free buffers`);
      const again = pattern(100_000, 99);
      const res = await fetch(`${url}/echo`, { method: "POST", body: again });
      assert.equal((await res.json() as Echo).sum, checksum(again));
    });
  });
});

Deno.test("BodyBuffers", async (t) => {
  await t.step("takes back only what it lent, once, and holds at most buffersMax", () => {
    const buffers = new BodyBuffers(2, 1024 * 1024);
    const foreign = new Uint8Array(100);
    buffers.give(foreign);
    assert.equal(buffers.size, 0, "a buffer it never lent is not kept");
    const lent = [0, 1, 2].map(() => {
      const body = new Uint8Array(buffers.take(1000), 0, 1000);
      buffers.lend(body);
      return body;
    });
    assert.ok(lent[0].buffer.byteLength >= 1000);
    buffers.give(lent[0]);
    buffers.give(lent[0]);
    assert.equal(buffers.size, 1, "given twice, kept once");
    buffers.give(lent[1]);
    buffers.give(lent[2]);
    assert.equal(buffers.size, 2, "no more than buffersMax");
    const reused = buffers.take(1000);
    assert.ok(reused === lent[1].buffer || reused === lent[0].buffer, "a free buffer is reused");
    assert.equal(buffers.size, 1);
  });

  await t.step("a buffer too small or too large is not reused", () => {
    const buffers = new BodyBuffers(4, 128 * 1024);
    const small = new Uint8Array(buffers.take(10), 0, 10);
    buffers.lend(small);
    buffers.give(small);
    assert.equal(buffers.size, 1);
    const bigger = buffers.take(200 * 1024);
    assert.ok(bigger !== small.buffer && bigger.byteLength >= 200 * 1024);
    const big = new Uint8Array(bigger);
    buffers.lend(big);
    buffers.give(big);
    assert.equal(buffers.size, 1, "a buffer over bufferBytesMax is left to the GC");
  });
});

Deno.test("produce: concurrent batches of every size are stored byte for byte", async () => {
  await withServer({}, async (server) => {
    await createTopic(server, "bodies", 3);
    const batches = Array.from({ length: 24 }, (_, i) =>
      encodeRecordBatch(
        Array.from({ length: 1 + (i * 37) % 400 }, (_, r) => ({
          key: null,
          value: utf8(`batch ${i} record ${r} ${"v".repeat((i * 131 + r) % 500)}`),
        })),
        { timestampMs: 1_700_000_000_000 + i },
      ));
    // Eight at a time, over three partitions.
    for (let at = 0; at < batches.length; at += 8) {
      const answers = await Promise.all(
        batches.slice(at, at + 8).map((b, k) => postBatches(server, "bodies", (at + k) % 3, b)),
      );
      for (const a of answers) assert.equal(a.status, 200, a.text);
    }
    // The query's fast path (none) and its parse (given) say the same as before.
    const again = await json(`${server.url}/v1/topics/bodies/partitions/0/batches?acks=1`, {
      method: "POST",
      headers: { "content-type": RECORDBATCH_TYPE },
      body: batches[0] as Uint8Array<ArrayBuffer>,
    });
    assert.equal(again.status, 200, again.text);
    const bad = await json(`${server.url}/v1/topics/bodies/partitions/0/batches?acks=2`, {
      method: "POST",
      headers: { "content-type": RECORDBATCH_TYPE },
      body: batches[0] as Uint8Array<ArrayBuffer>,
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.error.code, "INVALID_REQUEST");
    const offsets = again.body as { baseOffset: number; lastOffset: number };
    assert.equal(offsets.lastOffset - offsets.baseOffset + 1, 1);
    const hw = await highWatermarks(server, "bodies");
    for (let p = 0; p < 3; p++) {
      const sent = batches.filter((_, i) => i % 3 === p);
      const records = batches.reduce((n, _, i) => i % 3 === p ? n + 1 + (i * 37) % 400 : n, 0);
      assert.equal(hw[p], records + (p === 0 ? 1 : 0)); // batch 0 went to partition 0 twice
      const { batches: stored } = await fetchBatches(server, "bodies", p, 0, "&maxBytes=8388608");
      assert.equal(stored.length, sent.length + (p === 0 ? 1 : 0), `partition ${p}`);
      // Concurrent requests to one partition land in any order: each batch is found by its text.
      const seen = new Set<number>();
      for (const s of stored) {
        const first = new TextDecoder().decode(s.records[0].value!);
        const i = Number(/^batch (\d+) /.exec(first)?.[1]);
        assert.equal(i % 3, p, `batch ${i} on partition ${p}`);
        assert.equal(s.records.length, 1 + (i * 37) % 400, `batch ${i}`);
        s.records.forEach((r, k) => {
          assert.equal(
            new TextDecoder().decode(r.value!),
            `batch ${i} record ${k} ${"v".repeat((i * 131 + k) % 500)}`,
          );
        });
        seen.add(i);
      }
      assert.equal(seen.size, sent.length, `every batch of partition ${p} once`);
    }
  });
});
