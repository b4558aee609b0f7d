/**
 * OffsetCommit's per-partition answers, in process (the handler on a real Broker in a temp dir),
 * as Kafka's KafkaApis gives them: a topic that does not exist, or a partition past a topic's
 * count, is UNKNOWN_TOPIC_OR_PARTITION and not stored, while the rest of the request is
 * committed; each topic is answered once, in request order.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { RequestContext } from "../../src/kafka_protocol/apis.ts";
import type { KafkaContext } from "../../src/kafka_protocol/context.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { offsetCommitHandler } from "../../src/kafka_protocol/handlers/groups.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { tempDir } from "../test_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("OffsetCommit: unknown topics and partitions are UNKNOWN_TOPIC_OR_PARTITION", async () => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir: tempDir("sluice-offset-commit-"), logger });
  const ctx = {
    broker,
    logger,
    groups: broker.groups.classic,
    consumerGroups: broker.groups.consumer,
  } as unknown as KafkaContext;
  const context: RequestContext = {
    apiVersion: 8,
    clientId: null,
    clientHost: "/127.0.0.1",
    remote: "127.0.0.1:1",
    principal: null,
    sasl: undefined as Any,
  };
  try {
    await broker.createTopic("orders", 2, {});
    const commit = (partitionIndex: number, committedOffset: bigint) => ({
      partitionIndex,
      committedOffset,
      committedLeaderEpoch: -1,
      committedMetadata: null,
    });
    const res = await offsetCommitHandler(ctx)({
      groupId: "simple",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        { name: "nope", partitions: [commit(0, 5n)] },
        { name: "orders", partitions: [commit(0, 0n), commit(7, 1n), commit(1, 0n)] },
      ],
    }, context) as Any;
    assert.deepEqual(res.topics, [
      {
        name: "nope",
        partitions: [{ partitionIndex: 0, errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION }],
      },
      {
        name: "orders",
        partitions: [
          { partitionIndex: 0, errorCode: KafkaError.NONE },
          { partitionIndex: 7, errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION },
          { partitionIndex: 1, errorCode: KafkaError.NONE },
        ],
      },
    ]);
    assert.deepEqual(
      broker.offsets.offsetsOf("simple").map((o) => `${o.topic}/${o.partition}@${o.offset}`).sort(),
      ["orders/0@0", "orders/1@0"],
      "only the partitions that exist are stored",
    );
  } finally {
    await broker.close();
  }
});
