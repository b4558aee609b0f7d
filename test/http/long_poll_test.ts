/**
 * HTTP long poll and server-sent events (API.md "Fetch"): a fetch at the log end with maxWaitMs
 * is woken by an append (not by the timer), returns empty after maxWaitMs when nothing comes, and
 * SSE streams push one event per record with `id:` = offset and resume from Last-Event-ID.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  expectStatus,
  fetchRecords,
  type Json,
  json,
  partitionUrl,
  produce,
  sleep,
  SseReader,
  withServer,
} from "./server_harness.ts";

/** The value of an unlabelled (or first matching) sample in Prometheus text. */
function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

Deno.test("HTTP long poll: woken by an append, or empty after maxWaitMs", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "lp", 2);

    await t.step("a fetch at the log end returns as soon as a record is produced", async () => {
      const t0 = performance.now();
      const waiting = fetchRecords(server, "lp", 0, { offset: 0, maxWaitMs: 5000 });
      await sleep(200);
      await produce(server, "lp", { records: [{ value: "wake", partition: 0 }] });
      const r = await waiting;
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 2000, `woken after ${elapsed.toFixed(0)} ms, want < 2000`);
      assert.ok(elapsed >= 150, `returned after ${elapsed.toFixed(0)} ms: it did wait`);
      assert.equal(r.records.length, 1);
      assert.equal(r.records[0].offset, 0);
      assert.equal(r.records[0].value, "wake");
      assert.equal(r.nextOffset, 1);
      assert.equal(r.highWatermark, 1);
    });

    await t.step("offset=latest waits for the next record", async () => {
      const t0 = performance.now();
      const waiting = fetchRecords(server, "lp", 0, { offset: "latest", maxWaitMs: 5000 });
      await sleep(200);
      await produce(server, "lp", { records: [{ value: "next", partition: 0 }] });
      const r = await waiting;
      assert.ok(performance.now() - t0 < 2000);
      assert.deepEqual((r.records as Json[]).map((x) => [x.offset, x.value]), [[1, "next"]]);
    });

    await t.step("with nothing produced it returns empty after maxWaitMs", async () => {
      const t0 = performance.now();
      const r = await fetchRecords(server, "lp", 0, { offset: 2, maxWaitMs: 300 });
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 280, `returned after ${elapsed.toFixed(0)} ms, want >= 280`);
      assert.ok(elapsed < 2000, `returned after ${elapsed.toFixed(0)} ms, want < 2000`);
      assert.deepEqual(r.records, []);
      assert.equal(r.nextOffset, 2);
      assert.equal(r.highWatermark, 2);
    });

    await t.step("maxWaitMs=0 (the default) answers at once", async () => {
      const t0 = performance.now();
      const r = await fetchRecords(server, "lp", 0, { offset: 2 });
      assert.ok(performance.now() - t0 < 250, "no wait without maxWaitMs");
      assert.deepEqual(r.records, []);
    });

    await t.step("an append to another partition does not wake the poll", async () => {
      const t0 = performance.now();
      const waiting = fetchRecords(server, "lp", 1, { offset: 0, maxWaitMs: 600 });
      await sleep(100);
      await produce(server, "lp", { records: [{ value: "elsewhere", partition: 0 }] });
      const r = await waiting;
      const elapsed = performance.now() - t0;
      assert.deepEqual(r.records, []);
      assert.ok(elapsed >= 570, `partition 1 poll returned after ${elapsed.toFixed(0)} ms`);
    });

    await t.step("data already there is returned without waiting", async () => {
      const t0 = performance.now();
      const r = await fetchRecords(server, "lp", 0, { offset: 0, maxWaitMs: 5000 });
      assert.ok(performance.now() - t0 < 1000, "no wait when records exist");
      assert.equal(r.records.length, 3);
    });

    await t.step("minBytes holds the answer until enough bytes or maxWaitMs", async () => {
      const t0 = performance.now();
      const waiting = fetchRecords(server, "lp", 0, {
        offset: 3,
        maxWaitMs: 700,
        minBytes: 1_000_000,
      });
      await sleep(100);
      await produce(server, "lp", { records: [{ value: "small", partition: 0 }] });
      const r = await waiting;
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 650, `minBytes not reached, returned after ${elapsed.toFixed(0)} ms`);
      assert.deepEqual((r.records as Json[]).map((x) => x.value), ["small"]);
    });

    await t.step("deleting the topic ends its waiting polls without a 5xx", async () => {
      await createTopic(server, "gone", 1);
      const t0 = performance.now();
      const waiting = json(`${partitionUrl(server, "gone", 0)}/records?offset=0&maxWaitMs=3000`);
      await sleep(100);
      expectStatus(
        await json(`${server.url}/v1/topics/gone`, { method: "DELETE" }),
        204,
        "delete gone",
      );
      const r = await waiting;
      assert.ok(
        r.status === 200 || r.status === 404,
        `poll on a deleted topic: ${r.status} ${r.text.slice(0, 200)}`,
      );
      if (r.status === 200) assert.deepEqual(r.body.records, []);
      assert.ok(performance.now() - t0 < 4000);
    });

    await t.step("many waiting polls are counted and all woken by one append", async () => {
      const polls = Array.from(
        { length: 5 },
        () => fetchRecords(server, "lp", 1, { offset: "latest", maxWaitMs: 5000 }),
      );
      let open: number | undefined;
      for (let i = 0; i < 40; i++) {
        const m = await json(`${server.url}/metrics`);
        open = metricValue(m.text, "sluice_open_long_polls");
        if (open !== undefined && open >= 5) break;
        await sleep(50);
      }
      assert.ok(open !== undefined && open >= 5, `sluice_open_long_polls = ${open}, want >= 5`);
      const t0 = performance.now();
      await produce(server, "lp", { records: [{ value: "all", partition: 1 }] });
      const results = await Promise.all(polls);
      assert.ok(performance.now() - t0 < 2000);
      for (const r of results) {
        assert.deepEqual((r.records as Json[]).map((x) => x.value), ["all"]);
      }
      const after = await json(`${server.url}/metrics`);
      assert.equal(metricValue(after.text, "sluice_open_long_polls"), 0);
    });
  });
});

Deno.test("HTTP SSE stream: one event per record, resumable with Last-Event-ID", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "sse", 1);
    const streamUrl = `${partitionUrl(server, "sse", 0)}/stream`;

    await t.step("events arrive as records are produced, id = offset", async () => {
      const res = await fetch(`${streamUrl}?offset=0`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      const sse = new SseReader(res.body!);
      try {
        await sleep(100);
        const offsets = await produce(server, "sse", {
          records: [{ key: "a", value: "one" }, { value: "two" }, {
            value: "three",
            headers: { h: "v" },
          }],
        });
        assert.deepEqual(offsets.map((o) => o.offset), [0, 1, 2]);
        for (let i = 0; i < 3; i++) {
          const ev = await sse.next(3000);
          assert.equal(ev.id, String(i));
          const rec = JSON.parse(ev.data);
          assert.equal(rec.offset, i);
          assert.equal(rec.value, ["one", "two", "three"][i]);
          assert.equal(typeof rec.timestamp, "number");
          assert.ok("key" in rec && "headers" in rec, `record fields: ${ev.data}`);
        }
        // A later produce is pushed on the same connection.
        await produce(server, "sse", { records: [{ value: "four" }] });
        const ev = await sse.next(3000);
        assert.equal(ev.id, "3");
        assert.equal(JSON.parse(ev.data).value, "four");
      } finally {
        await sse.close();
      }
    });

    await t.step("a new stream from offset 1 replays stored records first", async () => {
      const res = await fetch(`${streamUrl}?offset=1`);
      const sse = new SseReader(res.body!);
      try {
        const ids = [];
        for (let i = 0; i < 3; i++) ids.push((await sse.next(3000)).id);
        assert.deepEqual(ids, ["1", "2", "3"]);
      } finally {
        await sse.close();
      }
    });

    await t.step("reconnecting with Last-Event-ID resumes after that id", async () => {
      const res = await fetch(`${streamUrl}?offset=0`, { headers: { "last-event-id": "1" } });
      assert.equal(res.status, 200);
      const sse = new SseReader(res.body!);
      try {
        assert.equal((await sse.next(3000)).id, "2");
        assert.equal((await sse.next(3000)).id, "3");
        await produce(server, "sse", { records: [{ value: "five" }] });
        const ev = await sse.next(3000);
        assert.equal(ev.id, "4");
        assert.equal(JSON.parse(ev.data).value, "five");
      } finally {
        await sse.close();
      }
    });

    await t.step("a closed stream does not stop the server from serving", async () => {
      const res = await json(`${partitionUrl(server, "sse", 0)}/records?offset=0`);
      expectStatus(res, 200, "fetch after SSE clients left");
      assert.equal(res.body.records.length, 5);
    });

    await t.step("an event's data is the record exactly as the JSON fetch shows it", async () => {
      const fetched = await fetchRecords(server, "sse", 0, { offset: 0 });
      const res = await fetch(`${streamUrl}?offset=0`);
      const sse = new SseReader(res.body!);
      try {
        for (const record of fetched.records as Json[]) {
          const ev = await sse.next(3000);
          assert.deepEqual(JSON.parse(ev.data), record, `event ${ev.id}`);
        }
      } finally {
        await sse.close();
      }
    });
  });
});
