/**
 * `PATCH /v1/topics/{topic}` (API.md "Topics"): configs merged into the topic's own (null: back to
 * the default), partitions grown, bad input refused with nothing changed, the change kept across
 * a restart of the real server process; and the route in the OpenAPI document.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  describeTopic,
  expectError,
  expectStatus,
  json,
  produce,
  startServer,
  topicUrl,
  withServer,
} from "./server_harness.ts";
import { tempDir } from "../test_util.ts";

Deno.test("PATCH /v1/topics/{topic}: configs and partitions", async (t) => {
  const dataDir = tempDir("sluice-patch-");
  await withServer({ dataDir }, async (server) => {
    await createTopic(server, "orders", 2, { "retention.ms": 3600000 });
    const patch = (body: unknown) =>
      json(topicUrl(server, "orders"), { method: "PATCH", json: body });

    await t.step(
      "configs merge into the overrides; null returns a key to its default",
      async () => {
        let res = await patch({
          config: { "segment.bytes": 1048576, "max.message.bytes": "4096" },
        });
        expectStatus(res, 200, "patch configs");
        assert.deepEqual(res.body.overrides, {
          "max.message.bytes": "4096",
          "retention.ms": "3600000",
          "segment.bytes": "1048576",
        });
        assert.equal(res.body.config["segment.bytes"], 1048576);
        res = await patch({ config: { "retention.ms": null } });
        expectStatus(res, 200, "patch null");
        assert.equal(res.body.config["retention.ms"], 604800000);
        assert.equal(res.body.overrides["retention.ms"], undefined);
      },
    );

    await t.step("the new max.message.bytes acts on produce at once", async () => {
      const res = await json(`${topicUrl(server, "orders")}/records`, {
        method: "POST",
        json: { records: [{ value: "x".repeat(5000), partition: 0 }] },
      });
      assert.equal(res.status, 413, res.text);
    });

    await t.step("bad input: 400 with the code, and nothing changed", async () => {
      const before = await describeTopic(server, "orders");
      expectError(await patch({ config: { "no.such.config": 1 } }), 400, "INVALID_CONFIG", "key");
      expectError(await patch({ config: { "segment.bytes": -5 } }), 400, "INVALID_CONFIG", "value");
      expectError(await patch({ partitions: 1 }), 400, "INVALID_PARTITIONS", "fewer");
      expectError(await patch({}), 400, "INVALID_REQUEST", "empty");
      expectError(await patch({ config: {}, extra: 1 }), 400, "INVALID_REQUEST", "unknown field");
      // Both at once: a bad count leaves the configs as they were too.
      expectError(
        await patch({ config: { "retention.ms": 1000 }, partitions: 2 }),
        400,
        "INVALID_PARTITIONS",
        "configs and a bad count",
      );
      const missing = await json(topicUrl(server, "nope"), {
        method: "PATCH",
        json: { partitions: 3 },
      });
      expectError(missing, 404, "TOPIC_NOT_FOUND", "unknown topic");
      assert.deepEqual(await describeTopic(server, "orders"), before);
    });

    await t.step("partitions grow; records go to the new ones", async () => {
      const res = await patch({ partitions: 4 });
      expectStatus(res, 200, "grow");
      assert.equal(res.body.partitions.length, 4);
      await produce(server, "orders", { records: [{ value: "to-3", partition: 3 }] });
      const d = await describeTopic(server, "orders");
      assert.equal(d.partitions[3].highWatermark, 1);
    });

    await t.step("the OpenAPI document has the route", async () => {
      const doc = await json(`${server.url}/openapi.json`);
      expectStatus(doc, 200, "openapi");
      assert.ok(doc.body.paths["/v1/topics/{topic}"].patch, "PATCH documented");
    });
  });

  await t.step("kept across a restart of the server", async () => {
    const server = await startServer({ dataDir });
    try {
      const d = await describeTopic(server, "orders");
      assert.equal(d.partitions.length, 4);
      assert.deepEqual(d.overrides, { "max.message.bytes": "4096", "segment.bytes": "1048576" });
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
