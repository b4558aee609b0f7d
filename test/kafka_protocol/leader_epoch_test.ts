/**
 * Leader epochs over the Kafka protocol, in process (the handlers on a real Broker in a temp dir),
 * with a partition whose log moved to epoch 3 after 3 records in epoch 0: what the differential
 * test (one epoch on both sides) cannot show. OffsetForLeaderEpoch's end offsets per epoch and its
 * fencing and rights; Fetch's currentLeaderEpoch and lastFetchedEpoch (divergingEpoch);
 * ListOffsets' epochs.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { RequestContext } from "../../src/kafka_protocol/apis.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import type { KafkaContext } from "../../src/kafka_protocol/context.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { FetchSessionCache } from "../../src/kafka_protocol/fetch_sessions.ts";
import { fetchHandler, listOffsetsHandler } from "../../src/kafka_protocol/handlers/fetch.ts";
import { offsetForLeaderEpochHandler } from "../../src/kafka_protocol/handlers/offset_for_leader_epoch.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

function context(apiVersion: number, principal: Any = null): RequestContext {
  return {
    apiVersion,
    clientId: null,
    clientHost: "/127.0.0.1",
    remote: "127.0.0.1:1",
    principal,
    sasl: undefined as Any,
  };
}

/** [topic, partition, leaderEpoch, currentLeaderEpoch] */
function epochsBody(asks: [string, number, number, number][]): Struct {
  return {
    replicaId: -1,
    topics: [...new Set(asks.map((a) => a[0]))].map((topic) => ({
      topic,
      partitions: asks.filter((a) => a[0] === topic).map(([, partition, leaderEpoch, current]) => ({
        partition,
        leaderEpoch,
        currentLeaderEpoch: current,
      })),
    })),
  };
}

function fetchBody(fetchOffset: number, currentLeaderEpoch: number, lastFetchedEpoch = -1): Struct {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{
      topic: "orders",
      partitions: [{
        partition: 0,
        currentLeaderEpoch,
        fetchOffset: BigInt(fetchOffset),
        lastFetchedEpoch,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      }],
    }],
    forgottenTopicsData: [],
    rackId: "",
  };
}

function listBody(timestamp: bigint, currentLeaderEpoch: number): Struct {
  return {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{
      name: "orders",
      partitions: [{ partitionIndex: 0, currentLeaderEpoch, timestamp }],
    }],
  };
}

Deno.test("leader epochs over the Kafka protocol", async (t) => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-epochs-kafka-"), logger });
  const fetchSessions = new FetchSessionCache({ clock: broker.clock });
  const ctx = { broker, logger, fetchSessions } as unknown as KafkaContext;
  try {
    await broker.createTopic("orders", 1, {});
    await broker.createTopic("secret", 1, {});
    for (let i = 0; i < 3; i++) {
      await broker.produce("orders", [{ value: utf8(`a${i}`), partition: 0 }]);
    }
    broker.topics.get("orders").partition(0).becomeLeader(3);
    for (let i = 0; i < 2; i++) {
      await broker.produce("orders", [{ value: utf8(`b${i}`), partition: 0 }]);
    }

    await t.step("OffsetForLeaderEpoch: each epoch's end", async () => {
      const res = await offsetForLeaderEpochHandler(ctx)(
        epochsBody([
          ["orders", 0, 0, -1],
          ["orders", 0, 1, -1],
          ["orders", 0, 3, -1],
          ["orders", 0, 4, -1],
          ["orders", 0, -1, -1],
          ["orders", 0, 3, 3],
        ]),
        context(4),
      ) as Any;
      const got = res.topics[0].partitions.map((p: Any) => [
        p.errorCode,
        p.leaderEpoch,
        Number(p.endOffset),
      ]);
      assert.deepEqual(got, [
        [0, 0, 3], // epoch 0 ends where epoch 3 starts
        [0, 0, 3], // an epoch the log skipped: the one before it
        [0, 3, 5], // the current epoch ends at the log end
        [0, -1, -1], // newer than any
        [0, -1, -1], // UNDEFINED_EPOCH
        [0, 3, 5],
      ]);
    });

    await t.step("OffsetForLeaderEpoch: fencing, unknown partitions, rights", async () => {
      const reader = { name: "reader", rules: [{ topic: "orders", ops: ["read"] }] };
      const res = await offsetForLeaderEpochHandler(ctx)(
        epochsBody([
          ["secret", 0, 0, -1],
          ["orders", 0, 0, 2],
          ["orders", 0, 0, 4],
          ["orders", 7, 0, -1],
        ]),
        context(4, reader),
      ) as Any;
      // Denied topics come after the others, as Kafka answers.
      assert.deepEqual(res.topics.map((t: Any) => t.topic), ["orders", "secret"]);
      assert.deepEqual(res.topics[0].partitions.map((p: Any) => p.errorCode), [
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      ]);
      assert.equal(res.topics[1].partitions[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
      for (const p of res.topics.flatMap((t: Any) => t.partitions)) {
        assert.equal(p.leaderEpoch, -1);
        assert.equal(p.endOffset, -1n);
      }
    });

    await t.step("Fetch: currentLeaderEpoch fenced, unknown, current", async () => {
      const fetch = async (body: Struct) =>
        ((await fetchHandler(ctx)(body, context(12))) as Any).responses[0].partitions[0];
      const fenced = await fetch(fetchBody(0, 0));
      assert.equal(fenced.errorCode, KafkaError.FENCED_LEADER_EPOCH);
      assert.equal(fenced.records.length, 0);
      assert.equal((await fetch(fetchBody(0, 9))).errorCode, KafkaError.UNKNOWN_LEADER_EPOCH);
      const current = await fetch(fetchBody(0, 3));
      assert.equal(current.errorCode, KafkaError.NONE);
      const epochs = decodeBatches(current.records).map((b) => b.partitionLeaderEpoch);
      assert.deepEqual(epochs, [0, 0, 0, 3, 3]);
    });

    await t.step("Fetch: lastFetchedEpoch past its end here answers divergingEpoch", async () => {
      const fetch = async (body: Struct) =>
        ((await fetchHandler(ctx)(body, context(12))) as Any).responses[0].partitions[0];
      // The client read epoch 0 up to offset 4: here epoch 0 ended at 3.
      const diverged = await fetch(fetchBody(4, 3, 0));
      assert.equal(diverged.errorCode, KafkaError.NONE);
      assert.deepEqual(diverged.divergingEpoch, { epoch: 0, endOffset: 3n });
      assert.equal(diverged.records.length, 0);
      // Within epoch 0's range, or in the current epoch: read as usual.
      const inside = await fetch(fetchBody(2, 3, 0));
      assert.equal(inside.divergingEpoch, undefined);
      assert.ok(inside.records.length > 0);
      const unknown = await fetch(fetchBody(4, 3, 7));
      assert.equal(unknown.errorCode, KafkaError.OFFSET_OUT_OF_RANGE);
    });

    await t.step("Fetch sessions keep each partition's epochs", async () => {
      const fetch = async (body: Struct) => (await fetchHandler(ctx)(body, context(12))) as Any;
      // A full fetch that makes a session, in the current epoch: records.
      const made = await fetch({ ...fetchBody(0, 3), sessionId: 0, sessionEpoch: 0 });
      assert.ok(made.sessionId > 0, "a session");
      assert.equal(made.responses[0].partitions[0].errorCode, KafkaError.NONE);
      // The client moves its position on and names an older current epoch: fenced.
      const fenced = await fetch({
        ...fetchBody(5, 1),
        sessionId: made.sessionId,
        sessionEpoch: 1,
      });
      assert.equal(fenced.responses[0].partitions[0].errorCode, KafkaError.FENCED_LEADER_EPOCH);
      // An incremental fetch naming no partition keeps the epoch the session remembers (1).
      const again = await fetch({
        ...fetchBody(5, 3),
        topics: [],
        sessionId: made.sessionId,
        sessionEpoch: 2,
      });
      assert.equal(again.responses[0].partitions[0].errorCode, KafkaError.FENCED_LEADER_EPOCH);
    });

    await t.step("ListOffsets: the epoch of each offset; fencing", async () => {
      const list = async (body: Struct) =>
        ((await listOffsetsHandler(ctx)(body, context(7))) as Any).topics[0].partitions[0];
      const earliest = await list(listBody(-2n, 3));
      assert.deepEqual([earliest.errorCode, earliest.offset, earliest.leaderEpoch], [0, 0n, 0]);
      const latest = await list(listBody(-1n, -1));
      assert.deepEqual([latest.errorCode, latest.offset, latest.leaderEpoch], [0, 5n, 3]);
      const fenced = await list(listBody(-1n, 1));
      assert.deepEqual([fenced.errorCode, fenced.offset, fenced.leaderEpoch], [
        KafkaError.FENCED_LEADER_EPOCH,
        -1n,
        -1,
      ]);
    });
  } finally {
    await broker.close();
  }
});
