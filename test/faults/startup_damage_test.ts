/**
 * A server starts around damage in its data dir: a damaged topic.json, a damaged group snapshot.
 * Damage takes offline at most what it is in, is reported naming the file, and never stops the
 * server (found by an adversarial test: each of these stopped start-up or exhausted descriptors).
 */
import assert from "node:assert/strict";
import { createTopic, fetchAll, json, produce, startServer } from "../http/server_harness.ts";

Deno.test("a server starts around damage", async (t) => {
  await t.step("a topic.json claiming 100,000 partitions leaves that topic out", async () => {
    let server = await startServer();
    const dataDir = server.dataDir;
    try {
      await createTopic(server, "good", 2);
      await createTopic(server, "claims", 3);
      await produce(server, "good", { records: [{ partition: 1, value: "kept" }] });
      assert.equal(await server.stop(), 0);

      const metaPath = `${dataDir}/topics/claims/topic.json`;
      const meta = JSON.parse(Deno.readTextFileSync(metaPath));
      Deno.writeTextFileSync(metaPath, JSON.stringify({ ...meta, partitions: 100_000 }));

      server = await startServer({ dataDir });
      assert.deepEqual((await fetchAll(server, "good", 1)).map((r) => r.value), ["kept"]);
      const claims = await json(`${server.url}/v1/topics/claims`);
      assert.equal(claims.status, 404, "the damaged topic is not served");
      assert.match(server.stderr(), /unreadable topic\.json/);
      assert.ok(server.stderr().includes(metaPath), "the log names the file");
      const dirs = [...Deno.readDirSync(`${dataDir}/topics/claims`)].filter((e) => e.isDirectory);
      assert.equal(dirs.length, 3, "no partition was created for the claimed count");
    } finally {
      await server.stop().catch(() => {});
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  });
});
