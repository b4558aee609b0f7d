/**
 * Many partitions under a low descriptor limit, through a real server. Found by an adversarial
 * test: 19 topics of 1,024 partitions (one descriptor each) left the 20th create failing with
 * EMFILE without releasing what it opened; segment rolls then failed with 500 and the next
 * connection killed the process. Here the server runs under `ulimit -n 512` and holds 2 topics of
 * 1,024 partitions (each partition with a segment roll behind it): every create succeeds, every
 * partition takes and serves records, and fresh connections are still served.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  describeTopic,
  fetchAll,
  json,
  produce,
  startServer,
} from "../http/server_harness.ts";

const DESCRIPTORS = 512;
const TOPICS = 2;
const PARTITIONS = 1024;

Deno.test("2 x 1,024 partitions under ulimit -n 512", async () => {
  const server = await startServer({ descriptorLimit: DESCRIPTORS });
  try {
    for (let t = 0; t < TOPICS; t++) {
      // Small segments: the second produce rolls every partition (a new segment file each).
      await createTopic(server, `wide-${t}`, PARTITIONS, { "segment.bytes": 200 });
      for (let round = 0; round < 2; round++) {
        const records = Array.from({ length: PARTITIONS }, (_, p) => ({
          partition: p,
          value: `t${t}-p${p}-r${round}-${"x".repeat(60)}`,
        }));
        await produce(server, `wide-${t}`, { records });
      }
    }
    for (let t = 0; t < TOPICS; t++) {
      const desc = await describeTopic(server, `wide-${t}`);
      assert.ok(desc.partitions.every((p: { highWatermark: number }) => p.highWatermark === 2));
      for (const p of [0, 511, 1023]) {
        const got = await fetchAll(server, `wide-${t}`, p);
        assert.deepEqual(
          got.map((r: { value: string }) => r.value.slice(0, 20)),
          [`t${t}-p${p}-r0-`, `t${t}-p${p}-r1-`].map((v) => `${v}${"x".repeat(20)}`.slice(0, 20)),
        );
      }
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const open = Number(/^sluice_log_files_open (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(open <= DESCRIPTORS / 2, `segment descriptors open: ${open}`);
    // Fresh connections are served: the descriptors left are enough for them.
    const health = await Promise.all(
      Array.from({ length: 20 }, () => json(`${server.url}/healthz`)),
    );
    assert.ok(health.every((h) => h.status === 200));
    assert.equal(await server.stop(), 0, server.stderr());
  } finally {
    await server.stop().catch(() => {});
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  }
});
