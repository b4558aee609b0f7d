/**
 * Server-wide bounds, each named in src/limits.ts with a default and settable: requests in flight
 * (--max-in-flight), request body bytes (--max-request-bytes, see bad_input_test.ts), records per
 * request, partitions per topic, waiting long polls.
 */
import assert from "node:assert/strict";
import { PARTITIONS_PER_TOPIC_MAX, RECORDS_PER_REQUEST_MAX } from "../../src/limits.ts";
import { withServer } from "./server_harness.ts";

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
