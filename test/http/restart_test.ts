/**
 * HTTP server restarts: topics, configs, records and offsets survive a graceful stop (SIGTERM or
 * SIGINT, exit code 0, in-flight requests finished) and a SIGKILL keeps every acknowledged record.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  describeTopic,
  expectStatus,
  fetchAll,
  highWatermarks,
  type Json,
  json,
  listTree,
  produce,
  type RunningServer,
  sleep,
  SseReader,
  startServer,
} from "./server_harness.ts";

async function snapshotTopic(server: RunningServer, topic: string, partitions: number) {
  const d = await describeTopic(server, topic);
  const records: Json[][] = [];
  for (let p = 0; p < partitions; p++) records.push(await fetchAll(server, topic, p));
  return { config: d.config, highWatermarks: await highWatermarks(server, topic), records };
}

Deno.test("HTTP restart: SIGTERM stops with exit code 0 and every record survives", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-http-restart-" });
  try {
    let server = await startServer({ dataDir });
    let before: Json;
    try {
      await t.step("the listening line names the data dir", () => {
        assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.notEqual(server.url, "http://127.0.0.1:0", "--port 0 picked a real port");
        assert.ok(
          server.printedDataDir.includes(dataDir.split("/").at(-1)!),
          `printed data dir ${server.printedDataDir}`,
        );
        assert.equal(
          server.stdoutLines.filter((l) => l.startsWith("sluice listening on")).length,
          1,
          "one listening line",
        );
      });

      await t.step("write topics, configs and records", async () => {
        await createTopic(server, "orders", 3, {
          "retention.ms": 123456,
          "flush.policy": "always",
        });
        await createTopic(server, "events", 1, { "compression.type": "lz4" });
        await createTopic(server, "doomed", 1);
        for (let round = 0; round < 5; round++) {
          await produce(server, "orders", {
            records: Array.from({ length: 20 }, (_, i) => ({
              key: `k${i}`,
              value: `r${round}-${i}`,
              headers: { round: String(round) },
            })),
          });
          await produce(server, "events", {
            records: Array.from({ length: 30 }, (_, i) => ({ value: `e${round}-${i}` })),
          });
        }
        const del = await json(`${server.url}/v1/topics/doomed`, { method: "DELETE" });
        expectStatus(del, 204, "delete doomed");
        before = {
          orders: await snapshotTopic(server, "orders", 3),
          events: await snapshotTopic(server, "events", 1),
        };
        assert.equal(before.events.highWatermarks[0], 150);
        assert.equal(
          before.orders.highWatermarks.reduce((a: number, b: number) => a + b, 0),
          100,
        );
      });
    } finally {
      const code = await server.stop("SIGTERM");
      assert.equal(code, 0, `exit code after SIGTERM; stderr:\n${server.stderr()}`);
      assert.equal(
        server.stdoutLines.length,
        1,
        `stdout holds only the listening line: ${JSON.stringify(server.stdoutLines)}`,
      );
    }

    server = await startServer({ dataDir });
    try {
      await t.step("after restart: same topics, configs, records and offsets", async () => {
        const list = await json(`${server.url}/v1/topics`);
        assert.deepEqual(
          (list.body.topics as Json[]).map((x) => x.name).sort(),
          ["events", "orders"],
          "doomed stays deleted",
        );
        assert.deepEqual(await snapshotTopic(server, "orders", 3), before.orders);
        assert.deepEqual(await snapshotTopic(server, "events", 1), before.events);
        const c = (await describeTopic(server, "orders")).config;
        assert.equal(Number(c["retention.ms"]), 123456);
        assert.equal(c["flush.policy"], "always");
        assert.equal((await describeTopic(server, "events")).config["compression.type"], "lz4");
      });

      await t.step("new records continue at the old high watermark", async () => {
        const offsets = await produce(server, "events", { records: [{ value: "after" }] });
        assert.deepEqual(offsets, [{ partition: 0, offset: 150 }]);
      });
    } finally {
      const code = await server.stop("SIGINT");
      assert.equal(code, 0, `exit code after SIGINT; stderr:\n${server.stderr()}`);
    }

    server = await startServer({ dataDir });
    try {
      await t.step("a SIGINT stop keeps records too", async () => {
        assert.deepEqual(await highWatermarks(server, "events"), [151]);
      });
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("HTTP restart: SIGTERM finishes in-flight requests before exiting", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-http-inflight-" });
  try {
    let server = await startServer({ dataDir });
    const acked: { value: string; partition: number; offset: number }[] = [];
    try {
      await createTopic(server, "inflight", 2);
      await t.step("a waiting long poll and concurrent produces get answers", async () => {
        const poll = json(
          `${server.url}/v1/topics/inflight/partitions/1/records?offset=0&maxWaitMs=3000`,
        );
        const produces = Array.from(
          { length: 30 },
          (_, i) =>
            json(`${server.url}/v1/topics/inflight/records`, {
              method: "POST",
              json: { records: [{ value: `p${i}`, partition: 0 }] },
            }).then((res) => {
              if (res.status === 200) acked.push({ value: `p${i}`, ...res.body.offsets[0] });
              return res.status;
            }, () => "connection error"),
        );
        await sleep(150);
        const t0 = performance.now();
        const code = await server.stop("SIGTERM");
        assert.equal(code, 0, `exit code; stderr:\n${server.stderr()}`);
        assert.ok(performance.now() - t0 < 10_000, "stopped within 10 s");
        const pollRes = await poll;
        assert.equal(pollRes.status, 200, "the in-flight long poll got an answer, not a reset");
        assert.deepEqual(pollRes.body.records, []);
        const statuses = await Promise.all(produces);
        assert.ok(
          statuses.every((s) => s === 200 || s === 503 || s === "connection error"),
          `produce statuses during shutdown: ${statuses}`,
        );
        assert.ok(acked.length > 0, "some produces were acknowledged");
      });
    } finally {
      await server.stop();
    }
    server = await startServer({ dataDir });
    try {
      await t.step("every acknowledged produce is there after restart", async () => {
        const stored = await fetchAll(server, "inflight", 0);
        const byOffset = new Map(stored.map((r) => [r.offset, r.value]));
        for (const a of acked) {
          assert.equal(a.partition, 0);
          assert.equal(byOffset.get(a.offset), a.value, `acked ${a.value}@${a.offset}`);
        }
      });
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("HTTP restart: after SIGKILL every acknowledged record is kept", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-http-kill-" });
  try {
    let server = await startServer({ dataDir });
    const expected: string[][] = [[], []];
    try {
      await t.step("produce, acknowledged, then SIGKILL", async () => {
        await createTopic(server, "durable", 2);
        await createTopic(server, "synced", 1, { "flush.policy": "always" });
        for (let i = 0; i < 40; i++) {
          const offsets = await produce(server, "durable", {
            records: [{ value: `d${i}`, partition: i % 2 }],
          });
          assert.equal(offsets[0].offset, expected[i % 2].length);
          expected[i % 2].push(`d${i}`);
        }
        const raw = await json(`${server.url}/v1/topics/synced/records`, {
          method: "POST",
          json: { records: Array.from({ length: 10 }, (_, i) => ({ value: `s${i}` })) },
        });
        expectStatus(raw, 200, "produce to synced");
        // Created just before the kill: topic.json is written by atomic rename.
        await createTopic(server, "late", 4);
      });
    } finally {
      const code = await server.stop("SIGKILL");
      assert.notEqual(code, 0, "SIGKILL is not a clean exit");
    }

    server = await startServer({ dataDir });
    try {
      await t.step("restart shows every acknowledged record and topic", async () => {
        for (let p = 0; p < 2; p++) {
          assert.deepEqual(
            (await fetchAll(server, "durable", p)).map((r) => r.value),
            expected[p],
            `durable/${p}`,
          );
        }
        assert.deepEqual(
          (await fetchAll(server, "synced", 0)).map((r) => r.value),
          Array.from({ length: 10 }, (_, i) => `s${i}`),
        );
        assert.equal((await describeTopic(server, "late")).partitions.length, 4);
        const offsets = await produce(server, "durable", {
          records: [{ value: "after", partition: 0 }],
        });
        assert.deepEqual(offsets, [{ partition: 0, offset: 20 }]);
      });
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("HTTP restart: open SSE streams and long polls do not hold up SIGTERM", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-http-sse-stop-" });
  try {
    const server = await startServer({ dataDir });
    let sse: SseReader | undefined;
    try {
      await createTopic(server, "live", 1);
      await produce(server, "live", { records: [{ value: "first" }] });
      const res = await fetch(`${server.url}/v1/topics/live/partitions/0/stream?offset=0`);
      sse = new SseReader(res.body!);
      assert.equal((await sse.next(3000)).id, "0");
      const poll = json(
        `${server.url}/v1/topics/live/partitions/0/records?offset=1&maxWaitMs=20000`,
      );
      await sleep(100);
      const t0 = performance.now();
      const code = await server.stop("SIGTERM");
      const elapsed = performance.now() - t0;
      assert.equal(code, 0, `exit code; stderr:\n${server.stderr()}`);
      assert.ok(elapsed < 5000, `stopped after ${elapsed.toFixed(0)} ms with an open stream`);
      const answered = await poll.catch((err) => ({ status: String(err) }));
      assert.equal(answered.status, 200, "the waiting long poll was answered");
      await assert.rejects(sse.next(1000), /SSE stream ended/, "the SSE stream was closed");
    } finally {
      await sse?.close();
      await server.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("HTTP restart: a log of many small segments reads back whole after restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-http-segments-" });
  try {
    let server = await startServer({ dataDir });
    try {
      await createTopic(server, "rolled", 1, { "segment.bytes": 1024 });
      for (let i = 0; i < 60; i++) {
        await produce(server, "rolled", { records: [{ key: `k${i}`, value: "v".repeat(200) }] });
      }
      const logs = (await listTree(`${dataDir}/topics/rolled/0`)).filter((f) => f.endsWith(".log"));
      assert.ok(logs.length >= 10, `${logs.length} segments for 60 batches of ~270 bytes`);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    server = await startServer({ dataDir });
    try {
      const all = await fetchAll(server, "rolled", 0, { maxBytes: 700 });
      assert.deepEqual(all.map((r) => r.key), Array.from({ length: 60 }, (_, i) => `k${i}`));
      for (const offset of [0, 17, 31, 59]) {
        const r = await fetchAll(server, "rolled", 0, {}, offset);
        assert.equal(r[0].offset, offset, `read from ${offset}`);
        assert.equal(r.length, 60 - offset);
      }
      assert.deepEqual(await produce(server, "rolled", { records: [{ value: "next" }] }), [
        { partition: 0, offset: 60 },
      ]);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
