/**
 * A server starts around damage in its data dir: a damaged topic.json, a damaged group snapshot.
 * Damage takes offline at most what it is in, is reported naming the file, and never stops the
 * server (found by an adversarial test: each of these stopped start-up or exhausted descriptors).
 */
import assert from "node:assert/strict";
import {
  createTopic,
  describeTopic,
  fetchAll,
  json,
  partitionUrl,
  produce,
  type RunningServer,
  startServer,
} from "../http/server_harness.ts";
import { startKafkaServer } from "../kafka_protocol/kafka_harness.ts";
import { RawClient } from "../kafka_protocol/kafka_wire_util.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";

/** Runs `fn` on a server over a data dir prepared by `prepare` (a first server, then stopped). */
async function afterDamage(
  prepare: (server: RunningServer) => Promise<void>,
  damage: (dataDir: string) => void,
  fn: (server: RunningServer) => Promise<void>,
): Promise<void> {
  let server = await startServer();
  const dataDir = server.dataDir;
  try {
    await prepare(server);
    assert.equal(await server.stop(), 0);
    damage(dataDir);
    server = await startServer({ dataDir });
    await fn(server);
  } finally {
    await server.stop().catch(() => {});
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

async function metric(server: RunningServer, line: string): Promise<boolean> {
  const res = await fetch(`${server.url}/metrics`);
  return (await res.text()).split("\n").includes(line);
}

const values = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ partition: 0, value: `${tag}-${i}-${"x".repeat(200)}` }));

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

  await t.step("a batch length of 0x7fffffff at byte 0 of a middle segment", async () => {
    let segments: string[] = [];
    await afterDamage(
      async (server) => {
        await createTopic(server, "rolled", 1, { "segment.bytes": 2048 });
        await createTopic(server, "other", 1);
        for (let i = 0; i < 8; i++) {
          await produce(server, "rolled", { records: values(5, `b${i}`) });
        }
        await produce(server, "other", { records: [{ value: "fine" }] });
      },
      (dataDir) => {
        const dir = `${dataDir}/topics/rolled/0`;
        segments = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".log"))
          .sort();
        assert.ok(segments.length >= 3, `several segments: ${segments}`);
        const file = Deno.openSync(`${dir}/${segments[1]}`, { write: true });
        file.seekSync(8, Deno.SeekMode.Start); // baseOffset (8 bytes), then the batch length
        file.writeSync(new Uint8Array([0x7f, 0xff, 0xff, 0xff]));
        file.close();
      },
      async (server) => {
        assert.deepEqual((await fetchAll(server, "other", 0)).map((r) => r.value), ["fine"]);
        const first = await json(`${partitionUrl(server, "rolled", 0)}/records?offset=0`);
        assert.equal(first.status, 200, "the segment before the damage is served");
        const middle = Number(segments[1].slice(0, 20));
        const hit = await json(`${partitionUrl(server, "rolled", 0)}/records?offset=${middle}`);
        assert.equal(hit.status, 500, `a read of the damaged batch: ${hit.text}`);
        assert.equal(hit.body.error.code, "CORRUPT_LOG");
        assert.ok(hit.text.includes(segments[1]), "the error names the file");
        const desc = await describeTopic(server, "rolled");
        assert.ok(desc.partitions[0].damageCount >= 1, JSON.stringify(desc.partitions[0]));
        assert.ok(
          desc.partitions[0].damage.some((d: { file: string }) => d.file.endsWith(segments[1])),
          "the description names the damaged file",
        );
        assert.ok(await metric(server, 'sluice_log_damage{topic="rolled",partition="0"} 1'));
        // Appends still work: the damage is in a closed segment.
        await produce(server, "rolled", { records: values(1, "after") });
      },
    );
  });

  await t.step("a partition that cannot be opened is offline; its topic stays up", async () => {
    await afterDamage(
      async (server) => {
        await createTopic(server, "split", 3);
        await produce(server, "split", {
          records: [0, 1, 2].map((p) => ({ partition: p, value: `v${p}` })),
        });
      },
      (dataDir) => {
        // Partition 1 becomes a plain file (it cannot be opened), partition 2 disappears.
        Deno.removeSync(`${dataDir}/topics/split/1`, { recursive: true });
        Deno.writeTextFileSync(`${dataDir}/topics/split/1`, "not a directory");
        Deno.removeSync(`${dataDir}/topics/split/2`, { recursive: true });
      },
      async (server) => {
        assert.deepEqual((await fetchAll(server, "split", 0)).map((r) => r.value), ["v0"]);
        const desc = await describeTopic(server, "split");
        assert.deepEqual(desc.partitions.map((p: { state: string }) => p.state), [
          "online",
          "offline",
          "offline",
        ]);
        for (const p of [1, 2]) {
          const read = await json(`${partitionUrl(server, "split", p)}/records?offset=0`);
          assert.equal(read.status, 500, `partition ${p} read: ${read.text}`);
          assert.equal(read.body.error.code, "STORAGE_ERROR");
          const write = await json(`${server.url}/v1/topics/split/records`, {
            method: "POST",
            json: { records: [{ partition: p, value: "lost?" }] },
          });
          assert.ok(write.status >= 500, `partition ${p} write refused: ${write.text}`);
          assert.ok(await metric(server, `sluice_log_offline{topic="split",partition="${p}"} 1`));
        }
        assert.ok(
          !Deno.statSync(`${server.dataDir}/topics/split/1`).isDirectory,
          "nothing was created in place of the broken partition",
        );
        assert.throws(() => Deno.statSync(`${server.dataDir}/topics/split/2`));
        await produce(server, "split", { records: [{ partition: 0, value: "still" }] });
      },
    );
  });

  await t.step("a group snapshot of valid JSON with wrong types", async () => {
    await afterDamage(
      async (server) => {
        await createTopic(server, "orders", 1);
        const join = await json(`${server.url}/v1/groups/billing/members`, {
          method: "POST",
          json: { topics: ["orders"] },
        });
        assert.equal(join.status, 200, join.text);
      },
      (dataDir) => {
        Deno.writeTextFileSync(
          `${dataDir}/groups/snapshot.json`,
          '{"version":1,"offset":0,"offsets":[],"groups":[["billing",null]]}',
        );
      },
      async (server) => {
        assert.match(server.stderr(), /unreadable offsets snapshot/);
        const res = await json(`${server.url}/v1/groups/billing/offsets`);
        assert.ok(res.status === 200 || res.status === 404, res.text);
      },
    );
  });
});

Deno.test("Kafka Metadata shows an offline partition without a leader", async () => {
  const kafka = await startKafkaServer();
  let server = kafka.server;
  try {
    await createTopic(server, "split", 2);
    assert.equal(await server.stop(), 0);
    Deno.removeSync(`${kafka.dataDir}/topics/split/1`, { recursive: true });
    Deno.writeTextFileSync(`${kafka.dataDir}/topics/split/1`, "not a directory");
    const again = await startKafkaServer({ dataDir: kafka.dataDir });
    server = again.server;
    const client = await RawClient.connect(again.kafkaPort);
    try {
      const answer = await client.call(METADATA_REQUEST, METADATA_RESPONSE, 9, {
        topics: [{ name: "split" }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      // deno-lint-ignore no-explicit-any
      const parts = (answer.topics as any[])[0].partitions;
      assert.deepEqual(
        // deno-lint-ignore no-explicit-any
        parts.map((p: any) => [p.partitionIndex, p.errorCode, p.leaderId]),
        [[0, 0, 0], [1, 5, -1]],
      );
    } finally {
      client.close();
    }
  } finally {
    await server.stop().catch(() => {});
    await Deno.remove(kafka.dataDir, { recursive: true }).catch(() => {});
  }
});
