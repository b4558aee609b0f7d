/**
 * kafkajs's `admin.resetOffsets({ earliest: true })` against the real server: it joins the group
 * with a throwaway consumer and commits offset -2 ("earliest") for every partition, which Kafka
 * stores as it is; before, Sluice refused the commit and the call never returned. After the reset
 * a consumer of the group reads every record again from the start.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { createTopic } from "../http/server_harness.ts";
import { withKafkaServer } from "./kafka_harness.ts";

const RECORDS = 20;

Deno.test("kafkajs admin.resetOffsets({ earliest: true }) returns, and the group reads again", async () => {
  await withKafkaServer({}, async (server) => {
    const kafka = new Kafka({
      clientId: "reset-test",
      brokers: [server.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const topic = "reset-me";
    const groupId = "reset-group";
    await createTopic(server.server, topic, 2);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
    await producer.disconnect();

    /** Runs a consumer of the group until it has `n` records; returns their values. */
    const consume = async (n: number) => {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500 });
      await consumer.connect();
      // fromBeginning is what kafkajs falls back on where a committed offset is negative (-2
      // included), as against Kafka; a committed offset >= 0 wins over it.
      await consumer.subscribe({ topic, fromBeginning: true });
      const values: string[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => done = resolve);
      await consumer.run({
        eachMessage: ({ message }) => {
          values.push(message.value!.toString());
          if (values.length >= n) done();
          return Promise.resolve();
        },
      });
      const timeout = setTimeout(done, 30_000);
      await all;
      clearTimeout(timeout);
      await consumer.disconnect();
      return values;
    };

    // The group reads the 20 and commits them, so without the reset a second run would start at
    // the end.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [{ partition: 0, offset: "0" }, { partition: 1, offset: "0" }],
      });
      assert.equal((await consume(RECORDS)).length, RECORDS);
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
      assert.equal(total, RECORDS, "the first run committed every record");

      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        admin.resetOffsets({ groupId, topic, earliest: true }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("resetOffsets never returned")), 30_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const reset = await admin.fetchOffsets({ groupId, topics: [topic] });
      assert.deepEqual(
        reset[0].partitions.map((p) => p.offset).sort(),
        ["-2", "-2"],
        "stored as committed: -2, earliest",
      );
      const again = await consume(RECORDS);
      assert.deepEqual(
        [...again].sort(),
        Array.from({ length: RECORDS }, (_, i) => `v${i}`).sort(),
        "every record read again from the start",
      );
    } finally {
      await admin.disconnect();
    }
  });
});
