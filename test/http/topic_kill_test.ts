/**
 * Topic creates and deletes survive a SIGKILL right after their answers: a create is durable in
 * the topic journal before it answers (src/broker/topic_journal.ts) and its directories are made
 * without fsyncs, so the restart applies the journal. The server is a real child process.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TOPIC_JOURNAL_FILE } from "../../src/broker/topic_journal.ts";
import {
  createTopic,
  describeTopic,
  expectStatus,
  json,
  produce,
  startServer,
  topicUrl,
} from "./server_harness.ts";

const TOPICS = 40;

Deno.test("HTTP topics: creates and deletes answered before a SIGKILL hold after it", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-topic-kill-" });
  try {
    let server = await startServer({ dataDir });
    try {
      await t.step(`${TOPICS} creates with configs, some deleted, then SIGKILL`, async () => {
        for (let i = 0; i < TOPICS; i++) {
          await createTopic(server, `k-${i}`, 1 + (i % 3), { "retention.ms": String(60_000 + i) });
        }
        for (let i = 0; i < TOPICS; i += 10) {
          const res = await json(topicUrl(server, `k-${i}`), { method: "DELETE" });
          expectStatus(res, 204, `delete k-${i}`);
        }
        // Deleted, then created again: the new one (no config) must win.
        await createTopic(server, "k-0", 2);
      });
    } finally {
      const code = await server.stop("SIGKILL");
      assert.notEqual(code, 0, "SIGKILL is not a clean exit");
    }
    assert.ok(existsSync(join(dataDir, TOPIC_JOURNAL_FILE)), "the journal is left for the restart");

    server = await startServer({ dataDir });
    try {
      await t.step("after the restart: each create and delete as answered", async () => {
        for (let i = 1; i < TOPICS; i++) {
          const res = await json(topicUrl(server, `k-${i}`));
          if (i % 10 === 0) {
            expectStatus(res, 404, `deleted k-${i}`);
            continue;
          }
          expectStatus(res, 200, `describe k-${i}`);
          assert.equal(res.body.partitions.length, 1 + (i % 3), `k-${i}`);
          assert.equal(String(res.body.config["retention.ms"]), String(60_000 + i), `k-${i}`);
        }
        const again = await describeTopic(server, "k-0");
        assert.equal(again.partitions.length, 2);
        assert.notEqual(String(again.config["retention.ms"]), "60000");
      });
      await t.step("every topic takes records", async () => {
        for (let i = 0; i < TOPICS; i++) {
          if (i % 10 === 0 && i > 0) continue;
          const offsets = await produce(server, `k-${i}`, { records: [{ value: `v${i}` }] });
          assert.equal(offsets[0].offset, 0, `k-${i}`);
        }
      });
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
