/**
 * A topic deleted while the same name is created (an HTTP create, or a Kafka Metadata that
 * auto-creates it): every answer must match the disk. Found by an adversarial test: the DELETE
 * answered 204 while a create reopened the deleted topic's directories, so the new topic served
 * the old records, its topic.json vanished with the delete's rename, a SIGTERM failed on a missing
 * recovery checkpoint and, after a restart, the records acknowledged into the new topic were gone.
 *
 * Each round: a topic with records, then DELETE and create of its name sent together. Whatever the
 * order the server picked, the records acknowledged afterwards must survive a SIGTERM and a
 * restart, and the old records must never come back.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, utf8 } from "../../src/record/record_batch.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import { tempDir } from "../test_util.ts";
import {
  createTopic,
  fetchAll,
  json,
  produce,
  type RunningServer,
  startServer,
} from "../http/server_harness.ts";
import { RawClient } from "../kafka_protocol/kafka_wire_util.ts";
import { startKafkaServer } from "../kafka_protocol/kafka_harness.ts";

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

async function values(broker: Broker, topic: string, partitions: number): Promise<string[]> {
  const out: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const got = await broker.fetch(topic, p, { offset: 0, maxBytes: 1 << 20 });
    for (const b of decodeBatches(got.bytes)) for (const r of b.records) out.push(text(r.value)!);
  }
  return out.sort();
}

Deno.test("delete and create of one name in the broker", async (t) => {
  await t.step(
    "a create sent while a delete closes its logs waits, then starts empty",
    async () => {
      const dir = tempDir("sluice-race-");
      const open = () =>
        Broker.open({ dataDir: dir, clock: new ManualClock(), logger: new MemoryLogger() });
      let broker = await open();
      for (let round = 0; round < 5; round++) {
        const partitions = round % 2 === 0 ? 3 : 300;
        await broker.createTopic("orders", partitions, {});
        await broker.produce("orders", [{ value: utf8(`old-${round}`) }]);
        // Neither awaited before the other starts: the create lands in the delete's window.
        const deleted = broker.deleteTopic("orders");
        const created = broker.createTopic("orders", partitions, {});
        await deleted;
        await created;
        const fresh = Array.from({ length: 10 }, (_, i) => ({ value: utf8(`new-${round}-${i}`) }));
        await broker.produce("orders", fresh);
        assert.deepEqual(
          await values(broker, "orders", partitions),
          fresh.map((r) => text(r.value)),
        );
        await broker.close();
        broker = await open();
        assert.deepEqual(
          await values(broker, "orders", partitions),
          fresh.map((r) => text(r.value)).sort(),
          `round ${round}: the acknowledged records survive a reopen, the deleted ones do not`,
        );
        await broker.deleteTopic("orders");
      }
      await broker.close();
    },
  );
});

/**
 * DELETE `topic` while `create` is sent again and again (it may find the topic still there) until
 * the DELETE has answered and one more create went through after it: one of them lands in the
 * delete's window, whatever the timing. The DELETE must answer 204.
 */
async function raceOnce(
  server: RunningServer,
  topic: string,
  /** One create; `worker` (0-3) is which of the four concurrent loops sends it. */
  create: (worker: number) => Promise<unknown>,
): Promise<void> {
  let deleted = false;
  const del = json(`${server.url}/v1/topics/${topic}`, { method: "DELETE" }).then((res) => {
    deleted = true;
    return res;
  });
  // Four clients at once, so that some create is always on its way while the delete closes logs.
  await Promise.all(Array.from({ length: 4 }, async (_, worker) => {
    for (let i = 0; i < 1000 && !deleted; i++) await create(worker);
  }));
  const d = await del;
  assert.equal(d.status, 204, `DELETE: ${d.text}`);
  await create(0);
}

/** Every record value of every partition, sorted. */
async function allValues(server: RunningServer, topic: string, partitions: number) {
  const out: string[] = [];
  for (let p = 0; p < partitions; p++) {
    for (const r of await fetchAll(server, topic, p)) out.push(r.value);
  }
  return out.sort();
}

async function checkAfterRestart(
  server: RunningServer,
  topic: string,
  acknowledged: string[],
): Promise<RunningServer> {
  assert.equal(await server.stop(), 0, `SIGTERM exits 0; stderr:\n${server.stderr()}`);
  const again = await startServer({ dataDir: server.dataDir });
  const desc = await json(`${again.url}/v1/topics/${topic}`);
  assert.equal(desc.status, 200, `the topic is still there after a restart: ${desc.text}`);
  const got = await allValues(again, topic, desc.body.partitions.length);
  assert.deepEqual(got, [...acknowledged].sort());
  return again;
}

Deno.test("delete and create of one name through a real server", async (t) => {
  await t.step("HTTP DELETE racing an HTTP create (3 and 300 partitions)", async () => {
    let server = await startServer();
    try {
      for (let round = 0; round < 4; round++) {
        const partitions = round % 2 === 0 ? 3 : 300;
        const topic = `race-${round}`;
        await createTopic(server, topic, partitions);
        // Records in every partition: the delete then has data to flush in each log it closes.
        const old = Array.from({ length: partitions }, (_, p) => ({ partition: p, value: "old" }));
        await produce(server, topic, { records: old });
        await raceOnce(server, topic, async () => {
          const res = await json(`${server.url}/v1/topics`, {
            method: "POST",
            json: { name: topic, partitions },
          });
          assert.ok(res.status === 201 || res.status === 409, `create: ${res.status} ${res.text}`);
        });
        const acked = Array.from({ length: 10 }, (_, i) => `new-${i}`);
        await produce(server, topic, { records: acked.map((value) => ({ value })) });
        assert.deepEqual(await allValues(server, topic, partitions), [...acked].sort());
        server = await checkAfterRestart(server, topic, acked);
      }
    } finally {
      await server.stop().catch(() => {});
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  });

  await t.step("HTTP DELETE racing a Kafka Metadata that auto-creates the name", async () => {
    const kafka = await startKafkaServer({ args: ["--default-partitions", "300"] });
    let server = kafka.server;
    try {
      const topic = "auto-race";
      await createTopic(server, topic, 300);
      const old = Array.from({ length: 300 }, (_, p) => ({ partition: p, value: "old" }));
      await produce(server, topic, { records: old });
      // Four connections opened first, so Metadata requests are on their way at once.
      const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(kafka.kafkaPort)));
      try {
        // One connection per loop: a RawClient reads its answers in order and takes one
        // request at a time (two calls on one socket would split each other's frames).
        await raceOnce(server, topic, async (worker) => {
          const client = clients[worker];
          const answer = await client.call(METADATA_REQUEST, METADATA_RESPONSE, 9, {
            topics: [{ name: topic }],
            allowAutoTopicCreation: true,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
          // The topic exists or is created: never an error because a delete was under way.
          const [found] = answer.topics as { errorCode: number }[];
          assert.equal(found.errorCode, 0, `Metadata: ${JSON.stringify(found).slice(0, 200)}`);
        });
      } finally {
        for (const c of clients) c.close();
      }
      const acked = Array.from({ length: 10 }, (_, i) => `new-${i}`);
      await produce(server, topic, { records: acked.map((value) => ({ value })) });
      server = await checkAfterRestart(server, topic, acked);
    } finally {
      await server.stop().catch(() => {});
      await Deno.remove(kafka.dataDir, { recursive: true }).catch(() => {});
    }
  });
});
