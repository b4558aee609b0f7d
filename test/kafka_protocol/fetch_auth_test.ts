/**
 * Fetch with authentication, in process (the handler on a real Broker in a temp dir): a partition
 * the principal may not read is TOPIC_AUTHORIZATION_FAILED and left out of the read, while the
 * readable ones long-poll as usual (Kafka's KafkaApis: only a fetch with nothing readable left
 * answers at once).
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { RequestContext } from "../../src/kafka_protocol/apis.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import type { KafkaContext } from "../../src/kafka_protocol/context.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { FetchSessionCache } from "../../src/kafka_protocol/fetch_sessions.ts";
import { fetchHandler } from "../../src/kafka_protocol/handlers/fetch.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

function fetchBody(topics: string[], maxWaitMs: number, session = [0, -1]): Struct {
  return {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: session[0],
    sessionEpoch: session[1],
    topics: topics.map((topic) => ({
      topic,
      partitions: [{
        partition: 0,
        currentLeaderEpoch: -1,
        fetchOffset: 0n,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      }],
    })),
    forgottenTopicsData: [],
    rackId: "",
  };
}

Deno.test("Kafka Fetch with a topic the principal may not read", async (t) => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-fetch-auth-"), logger });
  const fetchSessions = new FetchSessionCache({ clock: broker.clock });
  const ctx = { broker, logger, fetchSessions } as unknown as KafkaContext;
  const reader: RequestContext = {
    apiVersion: 12,
    clientId: null,
    clientHost: "/127.0.0.1",
    remote: "127.0.0.1:1",
    principal: { name: "reader", rules: [{ topic: "orders", ops: ["read"] }] } as Any,
    sasl: undefined as Any,
  };
  try {
    await broker.createTopic("orders", 1, {});
    await broker.createTopic("secret", 1, {});
    await broker.produce("secret", [{ value: utf8("hidden"), partition: 0 }]);

    await t.step(
      "the readable partition long-polls: an append to it is in the answer",
      async () => {
        const pending = fetchHandler(ctx)(fetchBody(["orders", "secret"], 30_000), reader);
        // Answered at once (the old behaviour), the response would hold no record of orders.
        await broker.produce("orders", [{ value: utf8("after"), partition: 0 }]);
        const res = await pending as Any;
        const [orders, secret] = res.responses;
        assert.equal(orders.partitions[0].errorCode, KafkaError.NONE);
        assert.ok(orders.partitions[0].records.length > 0, "the record appended during the wait");
        assert.equal(secret.partitions[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
        assert.equal(secret.partitions[0].records.length, 0, "nothing of the denied topic");
      },
    );

    await t.step("a fetch of denied topics only answers at once", async () => {
      const pending = fetchHandler(ctx)(fetchBody(["secret"], 30_000), reader);
      await new Promise((resolve) => setTimeout(resolve, 0));
      const waiting = broker.waiters.open;
      if (waiting > 0) broker.stopWaiting(); // do not sit out the 30 s before failing
      assert.equal(waiting, 0, "no long poll for a fetch with nothing readable");
      const res = await pending as Any;
      assert.equal(res.responses[0].partitions[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
    });

    await t.step("in a fetch session, rights are checked at every fetch", async () => {
      const first = await fetchHandler(ctx)(
        fetchBody(["orders", "secret"], 0, [0, 0]),
        reader,
      ) as Any;
      assert.notEqual(first.sessionId, 0);
      assert.equal(
        first.responses[1].partitions[0].errorCode,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
      );
      // The client moves to the end of orders; with nothing new there, only the denied partition
      // is answered, and at every fetch (Kafka's rule for partitions with errors).
      const end = first.responses[0].partitions[0].highWatermark;
      for (const epoch of [1, 2]) {
        const body = fetchBody(epoch === 1 ? ["orders"] : [], 0, [first.sessionId, epoch]) as Any;
        if (epoch === 1) body.topics[0].partitions[0].fetchOffset = end;
        const next = await fetchHandler(ctx)(body, reader) as Any;
        assert.equal(next.errorCode, KafkaError.NONE);
        assert.deepEqual(
          next.responses.map((r: Any) => [r.topic, r.partitions[0].errorCode]),
          [["secret", KafkaError.TOPIC_AUTHORIZATION_FAILED]],
        );
      }
      // Another principal with the session's id reads nothing it may not.
      const stranger: RequestContext = {
        ...reader,
        principal: { name: "stranger", rules: [] } as Any,
      };
      const guessed = await fetchHandler(ctx)(
        fetchBody([], 0, [first.sessionId, 3]),
        stranger,
      ) as Any;
      assert.deepEqual(
        guessed.responses.map((r: Any) => [r.topic, r.partitions[0].errorCode]),
        [["orders", KafkaError.TOPIC_AUTHORIZATION_FAILED], [
          "secret",
          KafkaError.TOPIC_AUTHORIZATION_FAILED,
        ]],
      );
      for (const r of guessed.responses) assert.equal(r.partitions[0].records.length, 0);
    });
  } finally {
    await broker.close();
  }
});
