/**
 * A compacted topic over Kafka's protocol against the real server process: created with
 * cleanup.policy=compact by kafkajs, written with many updates per key and tombstones, cleaned in
 * the background by the server's cleaner, read back from offset 0 by a kafkajs consumer (each
 * key's latest value, in offset order) and by kcat; keyless records refused, DeleteRecords refused
 * by the policy, the policy altered to compact,delete, the cleaner's figures in /metrics.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ConfigResourceTypes, Kafka, logLevel } from "kafkajs";
import { json } from "../http/server_harness.ts";
import { kcatAvailable, waitFor, withKafkaServer } from "./kafka_harness.ts";

const KEYS = 50;
const ROUNDS = 40;

function kafkaOf(bootstrap: string): Kafka {
  return new Kafka({
    clientId: "compacted-test",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 50 },
  });
}

/** The latest value of each key after `ROUNDS` rounds: tombstones for every fifth key. */
function expected(): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (let k = 0; k < KEYS; k++) out.set(`k${k}`, k % 5 === 0 ? null : `v${k}-${ROUNDS - 1}`);
  return out;
}

Deno.test({
  name: "a compacted topic over Kafka's protocol: cleaned in the background, read from 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await withKafkaServer({ args: ["--log-cleaner-backoff-ms", "50"] }, async (server) => {
      const kafka = kafkaOf(server.bootstrap);
      const admin = kafka.admin();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await admin.connect();
      await producer.connect();
      try {
        await t.step("created with cleanup.policy=compact over CreateTopics", async () => {
          await admin.createTopics({
            topics: [{
              topic: "table",
              numPartitions: 1,
              configEntries: [
                { name: "cleanup.policy", value: "compact" },
                { name: "segment.bytes", value: "16384" },
                { name: "min.cleanable.dirty.ratio", value: "0.01" },
                // Tombstones readable for an hour: still there when this test reads.
                { name: "delete.retention.ms", value: "3600000" },
              ],
            }],
          });
        });

        await t.step("a record without a key is refused, nothing written", async () => {
          await assert.rejects(
            producer.send({ topic: "table", acks: -1, messages: [{ value: "no key" }] }),
            /failed the validation|INVALID_RECORD/i,
          );
          const d = await json(`${server.httpUrl}/v1/topics/table`);
          assert.equal(d.body.partitions[0].highWatermark, 0);
        });

        await t.step(
          "many updates per key, tombstones last: cleaned in the background",
          async () => {
            for (let round = 0; round < ROUNDS; round++) {
              await producer.send({
                topic: "table",
                acks: -1,
                messages: Array.from({ length: KEYS }, (_, k) => ({
                  key: `k${k}`,
                  value: round === ROUNDS - 1 && k % 5 === 0 ? null : `v${k}-${round}`,
                })),
              });
            }
            const before = await json(`${server.httpUrl}/v1/topics/table`);
            assert.equal(before.body.partitions[0].highWatermark, KEYS * ROUNDS);
            await waitFor(() => "the cleaner reclaims bytes", async () => {
              const m = await (await fetch(`${server.httpUrl}/metrics`)).text();
              const line = m.split("\n").find((l) =>
                l.startsWith(
                  'sluice_log_cleaner_bytes_reclaimed_total{topic="table",partition="0"}',
                )
              );
              return line !== undefined && Number(line.split(" ").at(-1)) > 0;
            }, 30_000);
          },
        );

        await t.step(
          "a consumer from offset 0 sees each key's latest value, in offset order",
          async () => {
            const consumer = kafka.consumer({ groupId: "compacted-reader" });
            await consumer.connect();
            const seen: { key: string; value: string | null; offset: number }[] = [];
            try {
              await consumer.subscribe({ topic: "table", fromBeginning: true });
              await consumer.run({
                eachMessage: ({ message }) => {
                  seen.push({
                    key: message.key!.toString(),
                    value: message.value === null ? null : message.value.toString(),
                    offset: Number(message.offset),
                  });
                  return Promise.resolve();
                },
              });
              // The last record of the log (the final round's last key) is never cleaned away.
              await waitFor(
                () => `consumed ${seen.length}`,
                () => seen.some((r) => r.offset === KEYS * ROUNDS - 1),
                30_000,
              );
            } finally {
              await consumer.disconnect();
            }
            assert.ok(seen.length < KEYS * ROUNDS, `compacted: ${seen.length} records read`);
            for (let i = 1; i < seen.length; i++) assert.ok(seen[i].offset > seen[i - 1].offset);
            const latest = new Map<string, string | null>();
            for (const r of seen) latest.set(r.key, r.value);
            assert.deepEqual(latest, expected());
          },
        );

        if (kcatAvailable) {
          await t.step("kcat reads the same latest values", () => {
            const out = spawnSync("kcat", [
              "-C",
              "-b",
              server.bootstrap,
              "-t",
              "table",
              "-o",
              "beginning",
              "-e",
              "-Z",
              "-f",
              "%k=%s\\n",
            ], { encoding: "utf8", timeout: 30_000 });
            assert.equal(out.status, 0, out.stderr);
            const latest = new Map<string, string | null>();
            for (const line of out.stdout.split("\n").filter((l) => l.length > 0)) {
              const [k, v] = line.split("=");
              latest.set(k, v === "NULL" ? null : v);
            }
            assert.deepEqual(latest, expected());
          });
        }

        await t.step("DeleteRecords on a compact-only topic: POLICY_VIOLATION", async () => {
          // kafkajs's admin finds the partitions' leaders in the metadata it has loaded.
          await admin.fetchTopicMetadata({ topics: ["table"] });
          await assert.rejects(
            admin.deleteTopicRecords({
              topic: "table",
              partitions: [{ partition: 0, offset: "10" }],
            }),
            // kafkajs names each partition's broker error in the cause of a non-retriable one.
            (e: Error) => {
              const cause = (e.cause ?? e) as Error & {
                partitions?: { error: { type: string } }[];
              };
              assert.deepEqual(cause.partitions?.map((p) => p.error.type), ["POLICY_VIOLATION"]);
              return true;
            },
          );
        });

        await t.step(
          "altered to compact,delete over AlterConfigs: DeleteRecords allowed again",
          async () => {
            await admin.alterConfigs({
              validateOnly: false,
              resources: [{
                type: ConfigResourceTypes.TOPIC,
                name: "table",
                configEntries: [
                  { name: "cleanup.policy", value: "compact,delete" },
                  { name: "segment.bytes", value: "16384" },
                ],
              }],
            });
            const described = await admin.describeConfigs({
              includeSynonyms: false,
              resources: [{
                type: ConfigResourceTypes.TOPIC,
                name: "table",
                configNames: ["cleanup.policy"],
              }],
            });
            assert.equal(described.resources[0].configEntries[0].configValue, "compact,delete");
            await admin.deleteTopicRecords({
              topic: "table",
              partitions: [{ partition: 0, offset: "10" }],
            });
          },
        );
      } finally {
        await producer.disconnect();
        await admin.disconnect();
      }
    });
  },
});
