/**
 * ListOffsets v1-v10 over raw frames on a real listener: latest (-1), earliest (-2), the record
 * with the largest timestamp (-3, KIP-734: the first record holding it, even when later batches
 * carry smaller timestamps), the earliest local offset (-4, KIP-405: the log start here), the last
 * tiered offset (-5, KIP-1005) and the earliest pending upload (-6, v11): -1, nothing is tiered;
 * and a timestamp search; v10's timeout_ms
 * is read and ignored. Offsets found carry leader epoch 0, none found -1, as Kafka answers.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  LIST_OFFSETS_REQUEST,
  LIST_OFFSETS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_offsets.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";
import { callOnce } from "./kafka_wire_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("ListOffsets: latest, earliest, max timestamp, earliest local, latest tiered, search", async (t) => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-list-offsets-"), logger });
  const listener = await startKafkaListener(broker, { host: "127.0.0.1", port: 0, logger });
  try {
    await broker.createTopic("ts", 1, {});
    await broker.createTopic("empty", 1, {});
    // Three batches: timestamps 1000 1500 | 2000 9000 9000 | 3000: the max, 9000, first at
    // offset 3, and a later batch with a smaller one.
    const batch = (timestamps: number[]) =>
      encodeRecordBatch(
        timestamps.map((timestamp, i) => ({ value: utf8(`v${i}`), timestamp })),
        { timestampMs: 0 },
      );
    for (const ts of [[1000, 1500], [2000, 9000, 9000], [3000]]) {
      await broker.appendBatches("ts", 0, batch(ts));
    }
    const ask = async (version: number, topic: string, timestamp: bigint) => {
      const body = await callOnce(
        listener.port,
        LIST_OFFSETS_REQUEST,
        LIST_OFFSETS_RESPONSE,
        version,
        {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }],
          timeoutMs: 5000,
        },
      ) as Any;
      const p = body.topics[0].partitions[0];
      return [p.errorCode, p.offset, version >= 1 ? p.timestamp : undefined, p.leaderEpoch];
    };
    for (const version of [1, 4, 6, 7, 8, 9, 10, 11]) {
      await t.step(`v${version}`, async () => {
        const epoch = (e: number) => (version >= 4 ? e : -1); // before v4: the default
        assert.deepEqual(await ask(version, "ts", -1n), [0, 6n, -1n, epoch(0)], "latest");
        assert.deepEqual(await ask(version, "ts", -2n), [0, 0n, -1n, epoch(0)], "earliest");
        assert.deepEqual(await ask(version, "ts", 1600n), [0, 2n, 2000n, epoch(0)], "search");
        assert.deepEqual(await ask(version, "ts", 99999n), [0, -1n, -1n, epoch(-1)], "none");
        if (version >= 7) {
          assert.deepEqual(await ask(version, "ts", -3n), [0, 3n, 9000n, epoch(0)], "max");
          assert.deepEqual(await ask(version, "empty", -3n), [0, -1n, -1n, epoch(-1)], "empty");
        }
        if (version >= 8) {
          assert.deepEqual(await ask(version, "ts", -4n), [0, 0n, -1n, epoch(0)], "local");
        }
        if (version >= 9) {
          assert.deepEqual(await ask(version, "ts", -5n), [0, -1n, -1n, epoch(-1)], "tiered");
        }
        if (version >= 11) {
          assert.deepEqual(await ask(version, "ts", -6n), [0, -1n, -1n, epoch(-1)], "pending");
        }
        assert.deepEqual((await ask(version, "nope", -1n))[0], 3, "UNKNOWN_TOPIC_OR_PARTITION");
      });
    }
  } finally {
    await listener.close();
    await broker.close();
  }
});
