/**
 * Server-wide bounds, each named in src/limits.ts with a default and settable: requests in flight
 * (--max-in-flight), request body bytes (--max-request-bytes, see bad_input_test.ts), records per
 * request, partitions per topic, waiting long polls (--max-long-polls), SSE streams (--max-streams)
 * and their memory under a slow reader, topics (--max-topics).
 */
import assert from "node:assert/strict";
import { PARTITIONS_PER_TOPIC_MAX, RECORDS_PER_REQUEST_MAX } from "../../src/limits.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import {
  createTopic,
  expectError,
  expectStatus,
  highWatermarks,
  type Json,
  json,
  listTree,
  partitionUrl,
  postBatches,
  produce,
  type RunningServer,
  sleep,
  SseReader,
  topicUrl,
  withServer,
} from "./server_harness.ts";

const J = { "content-type": "application/json" };

Deno.test("requests in flight beyond --max-in-flight get 429; /healthz still answers", async () => {
  await withServer({ args: ["--max-in-flight", "2"] }, async (server) => {
    const create = await fetch(`${server.url}/v1/topics`, {
      method: "POST",
      headers: J,
      body: JSON.stringify({ name: "lim" }),
    });
    assert.equal(create.status, 201);
    await create.body?.cancel();
    const polls = [0, 1].map(() =>
      fetch(`${server.url}/v1/topics/lim/partitions/0/records?offset=0&maxWaitMs=3000`)
    );
    await new Promise((r) => setTimeout(r, 300)); // both polls are waiting now
    const refused = await fetch(`${server.url}/v1/topics`);
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).error.code, "TOO_MANY_REQUESTS");
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    // A produce wakes the polls; then there is room again.
    const produced = await fetch(`${server.url}/v1/topics/lim/records`, {
      method: "POST",
      headers: J,
      body: JSON.stringify({ records: [{ value: "x" }] }),
    });
    assert.equal(produced.status, 429, "still full while both polls wait");
    await produced.body?.cancel();
    for (const p of await Promise.all(polls)) {
      assert.equal(p.status, 200);
      await p.body?.cancel();
    }
    const after = await fetch(`${server.url}/v1/topics`);
    assert.equal(after.status, 200);
    await after.body?.cancel();
  });
});

Deno.test("records per request and partitions per topic are bounded with 400", async () => {
  await withServer({}, async (server) => {
    const tooMany = await fetch(`${server.url}/v1/topics`, {
      method: "POST",
      headers: J,
      body: JSON.stringify({ name: "wide", partitions: PARTITIONS_PER_TOPIC_MAX + 1 }),
    });
    assert.equal(tooMany.status, 400);
    await tooMany.body?.cancel();
    const create = await fetch(`${server.url}/v1/topics`, {
      method: "POST",
      headers: J,
      body: JSON.stringify({ name: "many" }),
    });
    await create.body?.cancel();
    const records = Array.from({ length: RECORDS_PER_REQUEST_MAX + 1 }, () => ({ value: "" }));
    const big = await fetch(`${server.url}/v1/topics/many/records`, {
      method: "POST",
      headers: J,
      body: JSON.stringify({ records }),
    });
    assert.equal(big.status, 400);
    await big.body?.cancel();
    const topic = await (await fetch(`${server.url}/v1/topics/many`)).json();
    assert.equal(topic.partitions[0].highWatermark, 0, "nothing written");
  });
});

Deno.test("waiting fetches beyond --max-long-polls get 429; after a produce there is room again", async (t) => {
  await withServer({ args: ["--max-long-polls", "2"] }, async (server) => {
    await createTopic(server, "polls");
    const pollUrl = `${partitionUrl(server, "polls", 0)}/records?offset=0&maxWaitMs=3000`;
    const waiting = [json(pollUrl), json(pollUrl)];
    await sleep(300); // both polls are waiting now

    await t.step("a third waiting fetch is refused with TOO_MANY_REQUESTS", async () => {
      expectError(await json(pollUrl), 429, "TOO_MANY_REQUESTS", "third long poll");
    });

    await t.step("a produce wakes both polls; a new long poll is accepted", async () => {
      const woken = Date.now();
      await produce(server, "polls", { records: [{ value: "wake" }] });
      for (const res of await Promise.all(waiting)) {
        expectStatus(res, 200, "woken long poll");
        assert.equal(res.body.records.length, 1);
        assert.equal(res.body.records[0].value, "wake");
      }
      assert.ok(Date.now() - woken < 2500, "the polls were woken, not timed out");
      const next = json(`${partitionUrl(server, "polls", 0)}/records?offset=1&maxWaitMs=3000`);
      await sleep(200);
      await produce(server, "polls", { records: [{ value: "again" }] });
      const res = await next;
      expectStatus(res, 200, "new long poll");
      assert.equal(res.body.records[0].value, "again");
    });
  });
});

/** The `sluice_open_streams` gauge from /metrics. */
async function openStreams(server: RunningServer): Promise<number> {
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  const m = text.match(/^sluice_open_streams (\d+)$/m);
  assert.ok(m, `no sluice_open_streams in /metrics:\n${text.slice(0, 500)}`);
  return Number(m[1]);
}

/** Polls `probe` every 50 ms until it returns true; fails after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`${what} not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

Deno.test("SSE streams beyond --max-streams get 429; a closed stream frees its slot", async (t) => {
  await withServer({ args: ["--max-streams", "1"] }, async (server) => {
    await createTopic(server, "sse");
    await produce(server, "sse", { records: [{ value: "first" }] });
    const streamUrl = `${partitionUrl(server, "sse", 0)}/stream?offset=0`;
    const first = await fetch(streamUrl);
    assert.equal(first.status, 200);
    assert.match(first.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = new SseReader(first.body!);
    assert.equal(JSON.parse((await reader.next(5000)).data).value, "first");

    await t.step("a second stream is refused with TOO_MANY_REQUESTS", async () => {
      expectError(await json(streamUrl), 429, "TOO_MANY_REQUESTS", "second stream");
      assert.equal(await openStreams(server), 1);
    });

    await t.step("after the first client disconnects, a new stream is accepted", async () => {
      await reader.close();
      await waitFor("sluice_open_streams 0", 5000, async () => (await openStreams(server)) === 0);
      const again = await fetch(streamUrl);
      assert.equal(again.status, 200);
      const r = new SseReader(again.body!);
      assert.equal(JSON.parse((await r.next(5000)).data).value, "first");
      await r.close();
      await waitFor("sluice_open_streams 0", 5000, async () => (await openStreams(server)) === 0);
    });
  });
});

Deno.test("topics beyond --max-topics get 429 and nothing is created on disk", async () => {
  await withServer({ args: ["--max-topics", "2"] }, async (server) => {
    await createTopic(server, "t1");
    await createTopic(server, "t2", 3);
    const before = await listTree(server.dataDir);
    const res = await json(`${server.url}/v1/topics`, {
      method: "POST",
      json: { name: "t3", partitions: 2 },
    });
    expectError(res, 429, "TOO_MANY_REQUESTS", "third topic");
    assert.deepEqual(await listTree(server.dataDir), before, "the data dir is unchanged");
    assert.ok(!before.some((p) => p.includes("t3")));
    expectError(await json(topicUrl(server, "t3")), 404, "TOPIC_NOT_FOUND", "describe t3");
    const list = await json(`${server.url}/v1/topics`);
    assert.deepEqual(list.body.topics.map((x: Json) => x.name).sort(), ["t1", "t2"]);
  });
});

/** The process's resident set from /proc/<pid>/status, in bytes. */
async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(/^VmRSS:\s+(\d+) kB$/m);
  assert.ok(m, `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

Deno.test("a slow SSE client does not grow the server's memory; a fast one reads everything", {
  ignore: Deno.build.os !== "linux", // reads /proc
}, async (t) => {
  const MiB = 1024 * 1024;
  const valueBytes = 10 * 1024;
  const recordsPerBatch = 90; // ~0.9 MiB a batch, under max.message.bytes (1 MiB + 12)
  const batchesPerRequest = 8; // ~7.2 MiB a request, under --max-request-bytes (16 MiB)
  const requests = 9; // 72 batches, 6480 records, ~64 MiB
  const totalRecords = recordsPerBatch * batchesPerRequest * requests;
  await withServer({}, async (server) => {
    await createTopic(server, "big");
    const value = "v".repeat(valueBytes);
    const batch = encodeRecordBatch(
      Array.from({ length: recordsPerBatch }, () => ({ value })),
      { timestampMs: Date.now() },
    );
    const body = new Uint8Array(batch.length * batchesPerRequest);
    for (let i = 0; i < batchesPerRequest; i++) body.set(batch, i * batch.length);
    for (let i = 0; i < requests; i++) {
      expectStatus(await postBatches(server, "big", 0, body), 200, `append request ${i}`);
    }
    const producedBytes = body.length * requests;
    assert.ok(producedBytes > 60 * MiB, `produced ${producedBytes} bytes`);
    assert.deepEqual(await highWatermarks(server, "big"), [totalRecords]);

    const pid = server.proc.pid;
    const baselineBytes = await rssBytes(pid);
    const streamUrl = `${partitionUrl(server, "big", 0)}/stream?offset=0`;

    await t.step(
      "a client that stops reading holds the server's RSS near its baseline",
      async () => {
        const slow = await fetch(streamUrl);
        assert.equal(slow.status, 200);
        const reader = slow.body!.getReader();
        let readBytes = 0;
        while (readBytes < 4096) {
          const r = await reader.read();
          assert.ok(!r.done, "the stream ended early");
          readBytes += r.value.length;
        }
        // Stop reading (no cancel) and watch the server for ~3 s.
        let peakBytes = baselineBytes;
        for (let i = 0; i < 30; i++) {
          await sleep(100);
          peakBytes = Math.max(peakBytes, await rssBytes(pid));
        }
        const growthBytes = peakBytes - baselineBytes;
        assert.ok(
          growthBytes < 40 * MiB,
          `RSS grew ${(growthBytes / MiB).toFixed(1)} MiB over ${
            (baselineBytes / MiB).toFixed(1)
          } ` +
            `MiB with ${(producedBytes / MiB).toFixed(1)} MiB produced`,
        );
        await reader.cancel();
      },
    );

    await t.step("a fast client on another stream reads every record", async () => {
      const fast = await fetch(streamUrl);
      assert.equal(fast.status, 200);
      const reader = new SseReader(fast.body!);
      for (let offset = 0; offset < totalRecords; offset++) {
        const event = await reader.next(5000);
        assert.equal(event.id, String(offset));
        if (offset % 1000 === 0 || offset === totalRecords - 1) {
          const record = JSON.parse(event.data);
          assert.equal(record.offset, offset);
          assert.equal(record.value.length, valueBytes);
        }
      }
      await reader.close();
    });
  });
});
