/**
 * HTTP topics API (API.md "Topics"): create, list, describe, delete; topic-name validation that
 * never touches the disk outside `<data-dir>/topics/<valid name>`; duplicate, unknown and
 * bad-config errors.
 */
import assert from "node:assert/strict";
import {
  assertErrorShape,
  createTopic,
  describeTopic,
  expectError,
  expectStatus,
  type Json,
  json,
  listTree,
  rawRequest,
  topicUrl,
  withServer,
} from "./server_harness.ts";

/** `partitions` of a GET /v1/topics entry: a count, or the list of partitions. */
function partitionCount(p: Json): number {
  return Array.isArray(p) ? p.length : Number(p);
}

function assertDescription(d: Json, name: string, partitions: number, what: string): void {
  assert.equal(d.name, name, `${what}: name`);
  assert.equal(typeof d.config, "object", `${what}: config is an object`);
  assert.ok(Array.isArray(d.partitions), `${what}: partitions is an array`);
  assert.equal(d.partitions.length, partitions, `${what}: partition count`);
  const sorted = (d.partitions as Json[]).slice().sort((a, b) => a.partition - b.partition);
  sorted.forEach((p, i) => {
    assert.equal(p.partition, i, `${what}: partition ids are 0..n-1`);
    assert.equal(p.logStartOffset, 0, `${what}: logStartOffset of a new partition`);
    assert.equal(p.highWatermark, 0, `${what}: highWatermark of a new partition`);
    assert.equal(typeof p.sizeBytes, "number", `${what}: sizeBytes`);
  });
}

Deno.test("HTTP topics: create, list, describe and delete", async (t) => {
  await withServer({}, async (server) => {
    await t.step("an empty server lists no topics", async () => {
      const res = await json(`${server.url}/v1/topics`);
      expectStatus(res, 200, "list");
      assert.deepEqual(res.body.topics, []);
    });

    await t.step("POST /v1/topics returns 201 with the topic's description", async () => {
      const res = await json(`${server.url}/v1/topics`, {
        method: "POST",
        json: { name: "orders", partitions: 3 },
      });
      expectStatus(res, 201, "create orders");
      assertDescription(res.body, "orders", 3, "create response");
      const described = await describeTopic(server, "orders");
      assertDescription(described, "orders", 3, "describe");
      assert.deepEqual(res.body, described, "create response = GET description");
    });

    await t.step("partitions defaults to 1", async () => {
      const res = await json(`${server.url}/v1/topics`, {
        method: "POST",
        json: { name: "single" },
      });
      expectStatus(res, 201, "create single");
      assertDescription(res.body, "single", 1, "default partitions");
    });

    await t.step("config keys (numbers or numeric strings) show in the description", async () => {
      const d = await createTopic(server, "configured", 2, {
        "retention.ms": 60000,
        "retention.bytes": "1048576",
        "segment.bytes": 1048576,
        "segment.ms": "3600000",
        "max.message.bytes": 2000,
        "compression.type": "lz4",
        "cleanup.policy": "delete",
        "flush.policy": "interval",
        "flush.ms": "250",
      });
      for (const desc of [d, await describeTopic(server, "configured")]) {
        const c = desc.config;
        assert.equal(Number(c["retention.ms"]), 60000);
        assert.equal(Number(c["retention.bytes"]), 1048576);
        assert.equal(Number(c["segment.bytes"]), 1048576);
        assert.equal(Number(c["segment.ms"]), 3600000);
        assert.equal(Number(c["max.message.bytes"]), 2000);
        assert.equal(c["compression.type"], "lz4");
        assert.equal(c["cleanup.policy"], "delete");
        assert.equal(c["flush.policy"], "interval");
        assert.equal(Number(c["flush.ms"]), 250);
      }
      for (const policy of ["none", "always"]) {
        const p = await createTopic(server, `flush-${policy}`, 1, { "flush.policy": policy });
        assert.equal(p.config["flush.policy"], policy);
      }
      const none = await createTopic(server, "compression-none", 1, { "compression.type": "none" });
      assert.equal(none.config["compression.type"], "none");
    });

    await t.step("GET /v1/topics lists every topic with its partitions", async () => {
      const res = await json(`${server.url}/v1/topics`);
      expectStatus(res, 200, "list");
      const byName = new Map<string, number>(
        (res.body.topics as Json[]).map((x) => [x.name, partitionCount(x.partitions)]),
      );
      assert.deepEqual(
        [...byName.keys()].sort(),
        ["compression-none", "configured", "flush-always", "flush-none", "orders", "single"],
      );
      assert.equal(byName.get("orders"), 3);
      assert.equal(byName.get("single"), 1);
      assert.equal(byName.get("configured"), 2);
    });

    await t.step("ten concurrent creates of one name: one 201, nine 409", async () => {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          json(`${server.url}/v1/topics`, {
            method: "POST",
            json: { name: "race", partitions: 1 + (i % 3) },
          })),
      );
      const statuses = answers.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, ...Array(9).fill(409)], JSON.stringify(statuses));
      for (const r of answers.filter((r) => r.status === 409)) {
        expectError(r, 409, "TOPIC_EXISTS", "concurrent create");
      }
      const winner = answers.find((r) => r.status === 201)!;
      assert.equal(
        (await describeTopic(server, "race")).partitions.length,
        winner.body.partitions.length,
        "the topic is the one the 201 described",
      );
      expectStatus(await json(topicUrl(server, "race"), { method: "DELETE" }), 204, "delete race");
    });

    await t.step(
      "a duplicate name is 409 TOPIC_EXISTS and leaves the topic as it was",
      async () => {
        const res = await json(`${server.url}/v1/topics`, {
          method: "POST",
          json: { name: "orders", partitions: 5 },
        });
        expectError(res, 409, "TOPIC_EXISTS", "duplicate");
        assert.equal((await describeTopic(server, "orders")).partitions.length, 3);
      },
    );

    await t.step("unknown topics are 404 TOPIC_NOT_FOUND for GET and DELETE", async () => {
      expectError(await json(topicUrl(server, "nope")), 404, "TOPIC_NOT_FOUND", "GET unknown");
      expectError(
        await json(topicUrl(server, "nope"), { method: "DELETE" }),
        404,
        "TOPIC_NOT_FOUND",
        "DELETE unknown",
      );
    });

    await t.step("DELETE returns 204, removes the topic and its files", async () => {
      const produced = await json(`${topicUrl(server, "single")}/records`, {
        method: "POST",
        json: { records: [{ value: "x" }] },
      });
      expectStatus(produced, 200, "produce before delete");
      const res = await json(topicUrl(server, "single"), { method: "DELETE" });
      expectStatus(res, 204, "delete");
      assert.equal(res.text, "", "204 has no body");
      expectError(await json(topicUrl(server, "single")), 404, "TOPIC_NOT_FOUND", "after delete");
      const list = await json(`${server.url}/v1/topics`);
      assert.ok(!(list.body.topics as Json[]).some((x) => x.name === "single"));
      await assert.rejects(
        Deno.stat(`${server.dataDir}/topics/single`),
        Deno.errors.NotFound,
        "topic dir removed",
      );
      expectError(
        await json(topicUrl(server, "single"), { method: "DELETE" }),
        404,
        "TOPIC_NOT_FOUND",
        "second delete",
      );
    });

    await t.step("a deleted name can be created again, empty", async () => {
      const d = await createTopic(server, "single", 2);
      assertDescription(d, "single", 2, "recreated");
      const r = await json(
        `${topicUrl(server, "single")}/partitions/0/records?offset=earliest`,
      );
      expectStatus(r, 200, "fetch recreated");
      assert.deepEqual(r.body.records, []);
    });
  });
});

Deno.test("HTTP topics: invalid names are 400 INVALID_TOPIC_NAME and touch no file", async (t) => {
  const parent = await Deno.makeTempDir({ prefix: "sluice-http-names-" });
  const dataDir = `${parent}/data`;
  await Deno.mkdir(dataDir);
  try {
    await withServer({ dataDir }, async (server) => {
      await createTopic(server, "valid", 1);
      const longest = "a".repeat(249);
      await createTopic(server, longest, 1);
      await createTopic(server, "Az09._-", 1);
      const before = await listTree(parent);

      const invalid: [string, unknown][] = [
        ["empty", ""],
        ["dot", "."],
        ["dot dot", ".."],
        ["parent traversal", "../x"],
        ["two levels up", "../../x"],
        ["slash", "a/b"],
        ["backslash", "a\\b"],
        ["absolute", "/tmp/x"],
        ["250 characters", "a".repeat(250)],
        ["encoded dot dot", "%2e%2e"],
        ["encoded traversal", "..%2f..%2fx"],
        ["space", "a b"],
        ["NUL", "a\u0000b"],
        ["newline", "a\nb"],
        ["unicode é", "tópico"],
        ["unicode CJK", "日本"],
        ["emoji", "🚀"],
        ["fullwidth dot", "\uff0e\uff0e"],
        ["colon", "a:b"],
        ["asterisk", "a*"],
      ];
      for (const [what, name] of invalid) {
        await t.step(`${what} (${JSON.stringify(name).slice(0, 40)})`, async () => {
          const res = await json(`${server.url}/v1/topics`, {
            method: "POST",
            json: { name, partitions: 1 },
          });
          expectError(res, 400, "INVALID_TOPIC_NAME", `name ${JSON.stringify(name)}`);
        });
      }

      await t.step("a name that is not a string is 400", async () => {
        for (const name of [42, null, ["a"], { a: 1 }, true]) {
          const res = await json(`${server.url}/v1/topics`, {
            method: "POST",
            json: { name, partitions: 1 },
          });
          expectStatus(res, 400, `name ${JSON.stringify(name)}`);
          assertErrorShape(res, `name ${JSON.stringify(name)}`);
          assert.ok(
            ["INVALID_TOPIC_NAME", "INVALID_REQUEST"].includes(res.body.error.code),
            `name ${JSON.stringify(name)}: code ${res.body.error.code}`,
          );
        }
        const missing = await json(`${server.url}/v1/topics`, {
          method: "POST",
          json: { partitions: 1 },
        });
        expectStatus(missing, 400, "missing name");
        assertErrorShape(missing, "missing name");
      });

      await t.step("dot-segment and encoded paths never reach outside the data dir", async () => {
        // Raw request targets, because fetch() would resolve "%2e%2e" and "..".
        const targets = [
          "/v1/topics/%2e%2e",
          "/v1/topics/%2E%2E",
          "/v1/topics/..%2f..%2fx",
          "/v1/topics/..%2F..",
          "/v1/topics/%2e",
          "/v1/topics/a%00b",
          "/v1/topics/..%5c..%5cx",
        ];
        for (const target of targets) {
          for (const method of ["GET", "DELETE"]) {
            const res = await rawRequest(server, method, target);
            assert.ok(
              res.status === 400 || res.status === 404,
              `${method} ${target}: want 400 or 404, got ${res.status} ${res.text.slice(0, 300)}`,
            );
          }
          const produced = await rawRequest(
            server,
            "POST",
            `${target}/records`,
            { "content-type": "application/json" },
            JSON.stringify({ records: [{ value: "x" }] }),
          );
          assert.ok(
            produced.status === 400 || produced.status === 404,
            `POST ${target}/records: want 400 or 404, got ${produced.status} ${produced.text}`,
          );
        }
        // The listing still answers, with the three valid topics.
        const list = await json(`${server.url}/v1/topics`);
        assert.deepEqual(
          (list.body.topics as Json[]).map((x) => x.name).sort(),
          ["Az09._-", "valid", longest].sort(),
        );
      });

      await t.step("nothing was created or removed on disk", async () => {
        const after = await listTree(parent);
        assert.deepEqual(after, before, "tree under the data dir's parent is unchanged");
        assert.deepEqual(
          (await listTree(`${dataDir}/topics`)).filter((p) => !p.includes("/")).sort(),
          ["Az09._-", "valid", longest].sort(),
          "only topics/<valid> dirs",
        );
        assert.deepEqual(
          (await listTree(parent)).filter((p) => !p.startsWith("data")),
          [],
          "no entries beside the data dir",
        );
      });
    });
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("HTTP topics: bad create requests are 400 and create nothing", async (t) => {
  await withServer({}, async (server) => {
    const invalidConfigs: [string, Record<string, unknown>][] = [
      ["unknown key", { "foo.bar": 1 }],
      ["unknown key beside a valid one", { "retention.ms": 1000, "segment.bytez": 1000 }],
      ["compression.type gzip", { "compression.type": "gzip" }],
      ["compression.type zstd", { "compression.type": "zstd" }],
      ["compression.type number", { "compression.type": 3 }],
      ["cleanup.policy shred", { "cleanup.policy": "shred" }],
      ["cleanup.policy compact,shred", { "cleanup.policy": "compact,shred" }],
      ["cleanup.policy empty", { "cleanup.policy": "" }],
      ["cleanup.policy not a string", { "cleanup.policy": 1 }],
      ["flush.policy sometimes", { "flush.policy": "sometimes" }],
      ["retention.ms not numeric", { "retention.ms": "abc" }],
      ["retention.ms fractional", { "retention.ms": 1.5 }],
      ["retention.ms below -1", { "retention.ms": -2 }],
      ["retention.ms empty string", { "retention.ms": "" }],
      ["retention.ms boolean", { "retention.ms": true }],
      ["retention.bytes below -1", { "retention.bytes": -5 }],
      ["segment.bytes negative", { "segment.bytes": -5 }],
      ["segment.bytes zero", { "segment.bytes": 0 }],
      ["segment.bytes past 2^31-1", { "segment.bytes": 2 ** 31 }],
      ["segment.ms zero", { "segment.ms": 0 }],
      ["max.message.bytes zero", { "max.message.bytes": 0 }],
      ["max.message.bytes huge", { "max.message.bytes": 1e30 }],
      ["flush.ms negative", { "flush.ms": -1 }],
      ["flush.ms numeric string with junk", { "flush.ms": "10ms" }],
    ];
    for (const [what, config] of invalidConfigs) {
      await t.step(`config ${what} -> 400 INVALID_CONFIG`, async () => {
        const res = await json(`${server.url}/v1/topics`, {
          method: "POST",
          json: { name: "cfg", partitions: 1, config },
        });
        expectError(res, 400, "INVALID_CONFIG", `config ${JSON.stringify(config)}`);
      });
    }

    await t.step("config that is not an object -> 400", async () => {
      for (const config of ["retention.ms=1", [1], 5]) {
        const res = await json(`${server.url}/v1/topics`, {
          method: "POST",
          json: { name: "cfg", partitions: 1, config },
        });
        expectStatus(res, 400, `config ${JSON.stringify(config)}`);
        assertErrorShape(res, `config ${JSON.stringify(config)}`);
      }
    });

    const badPartitions: unknown[] = [0, -1, 1.5, "3", null, 1e9, "many"];
    for (const partitions of badPartitions) {
      await t.step(`partitions ${JSON.stringify(partitions)} -> 400`, async () => {
        const res = await json(`${server.url}/v1/topics`, {
          method: "POST",
          json: { name: "parts", partitions },
        });
        expectStatus(res, 400, `partitions ${JSON.stringify(partitions)}`);
        assertErrorShape(res, `partitions ${JSON.stringify(partitions)}`);
        assert.ok(
          ["INVALID_REQUEST", "INVALID_CONFIG"].includes(res.body.error.code),
          `partitions ${JSON.stringify(partitions)}: code ${res.body.error.code}`,
        );
      });
    }

    await t.step("malformed JSON, a non-object body and an empty body -> 400", async () => {
      for (const body of ['{"name":"x"', "[]", '"orders"', "", "null"]) {
        const res = await json(`${server.url}/v1/topics`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        expectError(res, 400, "INVALID_REQUEST", `body ${JSON.stringify(body)}`);
      }
    });

    await t.step("nothing was created by the rejected requests", async () => {
      const list = await json(`${server.url}/v1/topics`);
      expectStatus(list, 200, "list");
      assert.deepEqual(list.body.topics, []);
      let entries: string[] = [];
      try {
        entries = await listTree(`${server.dataDir}/topics`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      assert.deepEqual(entries, [], "no topic dirs");
    });
  });
});
