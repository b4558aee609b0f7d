/**
 * What a new user meets first (issue 18), against the real server process: `GET /` points at the
 * rest, the OpenAPI document covers the service routes, `/docs` shows request bodies, a bad
 * `timestamp` says what is accepted (and Kafka's -1 / -2 work), and a field the API does not know
 * is refused, naming it, with nothing written.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  expectError,
  expectStatus,
  highWatermarks,
  json,
  partitionUrl,
  produce,
  withServer,
} from "./server_harness.ts";

Deno.test("the front door: index, docs, helpful refusals", async (t) => {
  await withServer({}, async (server) => {
    await t.step("GET / is a JSON index of where to go", async () => {
      const res = await json(`${server.url}/`);
      expectStatus(res, 200, "GET /");
      assert.equal(res.body.service, "sluice");
      assert.deepEqual(res.body.links, {
        docs: "/docs",
        openapi: "/openapi.json",
        topics: "/v1/topics",
        groups: "/v1/groups",
        cluster: "/v1/cluster",
        health: "/healthz",
        metrics: "/metrics",
      });
      // Every link answers.
      for (const path of Object.values(res.body.links) as string[]) {
        const r = await fetch(`${server.url}${path}`);
        await r.body?.cancel();
        assert.equal(r.status, 200, path);
      }
    });

    await t.step("/openapi.json describes /, /healthz and /metrics too", async () => {
      const doc = (await json(`${server.url}/openapi.json`)).body;
      for (const path of ["/", "/healthz", "/metrics", "/v1/groups", "/v1/topics"]) {
        assert.ok(doc.paths[path]?.get !== undefined || doc.paths[path]?.post !== undefined, path);
      }
      assert.ok(doc.paths["/metrics"].get.responses["200"].content["text/plain"]);
    });

    await t.step("/docs shows each route's request body and answer", async () => {
      const page = await (await fetch(`${server.url}/docs`)).text();
      assert.match(page, /<th>request body<\/th>/);
      // The produce body, spelled out down to a record's fields.
      assert.match(page, /\{records: \{key\?: string \| null, value\?: any/);
      assert.match(page, /\{name: string, partitions\?: integer/);
      assert.match(page, /application\/vnd\.kafka\.recordbatch/);
      // And each route's success answer: GET /v1/groups's list.
      assert.match(page, /<th>answer<\/th>/);
      assert.match(
        page,
        /200 <code>application\/json<\/code>: <code>\{groups: \{group: string, state:/,
      );
    });

    await createTopic(server, "orders", 1);
    await produce(server, "orders", { records: [{ value: "a" }, { value: "b" }] });
    const offsets = (t: string) =>
      json(`${partitionUrl(server, "orders", 0)}/offsets?timestamp=${t}`);

    await t.step(
      "offsets?timestamp: Kafka's -1 and -2, and a refusal saying what works",
      async () => {
        assert.deepEqual((await offsets("-1")).body, { offset: 2 });
        assert.deepEqual((await offsets("latest")).body, { offset: 2 });
        assert.deepEqual((await offsets("-2")).body, { offset: 0 });
        assert.deepEqual((await offsets("earliest")).body, { offset: 0 });
        for (const bad of ["-3", "yesterday", "1.5"]) {
          const res = await offsets(bad);
          expectError(res, 400, "INVALID_REQUEST", `timestamp=${bad}`);
          assert.match(res.body.error.message, /^timestamp: .*earliest or latest/, bad);
        }
        const fetchBad = await json(`${partitionUrl(server, "orders", 0)}/records?offset=-1`);
        expectError(fetchBad, 400, "INVALID_REQUEST", "offset=-1");
        assert.match(fetchBad.body.error.message, /^offset: .*earliest or latest/);
      },
    );

    await t.step("an unknown field is 400 naming it, and nothing is written", async () => {
      const url = `${server.url}/v1/topics/orders/records`;
      const typo = await json(url, {
        method: "POST",
        json: { records: [{ value: "ok" }, { key: "k", vlaue: "oops" }] },
      });
      expectError(typo, 400, "INVALID_REQUEST", "a record with vlaue");
      assert.match(typo.body.error.message, /^records\.1: unknown field "vlaue"$/);
      const missing = await json(url, { method: "POST", json: { records: [{ key: "k" }] } });
      expectError(missing, 400, "INVALID_REQUEST", "a record without value");
      assert.equal(missing.body.error.message, "records.0.value: required");
      const top = await json(url, {
        method: "POST",
        json: { records: [{ value: "ok" }], valueEncodng: "base64" },
      });
      expectError(top, 400, "INVALID_REQUEST", "valueEncodng");
      assert.match(top.body.error.message, /"valueEncodng"/);
      assert.deepEqual(await highWatermarks(server, "orders"), [2], "nothing written");

      const create = await json(`${server.url}/v1/topics`, {
        method: "POST",
        json: { name: "typo", partitons: 3 },
      });
      expectError(create, 400, "INVALID_REQUEST", "partitons");
      assert.match(create.body.error.message, /"partitons"/);
      expectError(await json(`${server.url}/v1/topics/typo`), 404, "TOPIC_NOT_FOUND", "not made");

      const joinTypo = await json(`${server.url}/v1/groups/g/members`, {
        method: "POST",
        json: { topics: ["orders"], autoOffsetRest: "earliest" },
      });
      expectError(joinTypo, 400, "INVALID_REQUEST", "autoOffsetRest");
      assert.match(joinTypo.body.error.message, /"autoOffsetRest"/);
      expectError(await json(`${server.url}/v1/groups/g`), 404, "GROUP_NOT_FOUND", "no group");

      const del = await json(`${partitionUrl(server, "orders", 0)}/delete-records`, {
        method: "POST",
        json: { beforeOffset: 1, force: true },
      });
      expectError(del, 400, "INVALID_REQUEST", "delete-records with force");
      const topic = (await json(`${server.url}/v1/topics/orders`)).body;
      assert.equal(topic.partitions[0].logStartOffset, 0, "nothing deleted");
    });

    await t.step("/metrics shows a group's lag per partition", async () => {
      const joined = await json(`${server.url}/v1/groups/lagging/members`, {
        method: "POST",
        json: { topics: ["orders"], autoOffsetReset: "earliest" },
      });
      expectStatus(joined, 200, "join");
      const commit = await json(`${server.url}/v1/groups/lagging/offsets`, {
        method: "POST",
        json: {
          memberId: joined.body.memberId,
          generation: joined.body.generation,
          offsets: [{ topic: "orders", partition: 0, offset: 1 }],
        },
      });
      expectStatus(commit, 200, "commit");
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const at = 'group="lagging",topic="orders",partition="0"';
      assert.match(text, new RegExp(`^sluice_consumer_group_committed_offset\\{${at}\\} 1$`, "m"));
      assert.match(text, new RegExp(`^sluice_consumer_group_lag\\{${at}\\} 1$`, "m"));
      assert.match(text, /^sluice_consumer_group_lag_sum\{group="lagging"\} 1$/m);
    });
  });
});
