/**
 * Differential cases: DeleteRecords (see ../differential_test.ts). A topic of their own, prepared
 * here on both sides (2 partitions: 6 records in 3 batches in 0, 4 in 1), so that the records the
 * cases delete are no other group's. Each version deletes a little more of partition 0, inside a
 * batch and at a batch's start; -1 is the high watermark; an offset at or below the start answers
 * the low watermark unchanged; past the high watermark and below -1 are OFFSET_OUT_OF_RANGE;
 * unknown topics and partitions UNKNOWN_TOPIC_OR_PARTITION; ListOffsets' earliest agrees after.
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { type Any, type CaseContext, UNKNOWN_TOPIC } from "../case_context.ts";
import { type CaseSpec, withUnknownTag } from "../differential_lib.ts";
import { batch } from "./common.ts";

const TOPIC = "diff-delete-records";

/** [topic, partition, offset] */
type Ask = [string, number, bigint];

function request(asks: Ask[], timeoutMs = 5_000): Struct {
  return {
    topics: [...new Set(asks.map((a) => a[0]))].map((name) => ({
      name,
      partitions: asks.filter((a) => a[0] === name).map(([, partitionIndex, offset]) => ({
        partitionIndex,
        offset,
      })),
    })),
    timeoutMs,
  };
}

async function prepare(c: CaseContext): Promise<void> {
  const created = await c.check({
    api: "CreateTopics",
    version: 5,
    label: "",
    prepare: true,
    body: {
      topics: [{
        name: TOPIC,
        numPartitions: 2,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      }],
      timeoutMs: 30_000,
      validateOnly: false,
    },
  });
  c.prepared("CreateTopics", created, (b) => b.topics.every((tp: Any) => tp.errorCode === 0));
  await c.until("ListOffsets: the partitions ready", {
    api: "ListOffsets",
    version: 1,
    label: "",
    body: {
      replicaId: -1,
      topics: [{
        name: TOPIC,
        partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })),
      }],
    },
  }, (b) => b.topics.every((tp: Any) => tp.partitions.every((p: Any) => p.errorCode === 0)));
  for (const [partition, records] of [[0, 2], [0, 3], [0, 1], [1, 4]] as const) {
    const produced = await c.check({
      api: "Produce",
      version: 9,
      label: "",
      prepare: true,
      body: {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30_000,
        topicData: [{
          name: TOPIC,
          partitionData: [{ index: partition, records: batch(records) }],
        }],
      },
    });
    c.prepared(
      "Produce",
      produced,
      (b) =>
        b.responses.every((r: Any) => r.partitionResponses.every((p: Any) => p.errorCode === 0)),
    );
  }
}

/** The DeleteRecords cases. */
export async function deleteRecordsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  await prepare(c);
  // Partition 0: batches [0, 1], [2, 4], [5]; each version moves its start further.
  const starts = [1n, 2n, 4n];
  for (const v of versions("DeleteRecords")) {
    const q = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
      check({ api: "DeleteRecords", version: v, label, body, ...more });
    const start = starts[v] ?? 5n;
    await q(`partition 0 before ${start}`, request([[TOPIC, 0, start]]));
    await q("below the start: unchanged", request([[TOPIC, 0, 0n]]));
    await q("at the start: unchanged", request([[TOPIC, 0, start]]));
    await q("past the high watermark", request([[TOPIC, 0, 7n]]));
    await q("offset -2", request([[TOPIC, 0, -2n]]));
    await q("unknown topic", request([[UNKNOWN_TOPIC, 0, 0n]]));
    await q("unknown partition", request([[TOPIC, 2, 0n], [TOPIC, -1, 0n]]));
    await q(
      "several partitions and topics",
      request([[TOPIC, 0, start], [TOPIC, 1, 0n], [UNKNOWN_TOPIC, 0, 1n], [TOPIC, 3, 0n]]),
    );
    await q("no topics", request([]));
    if (v >= 2) {
      await q("unknown tagged field", request([[TOPIC, 0, 0n]]), { mutate: withUnknownTag });
    }
    await check({
      api: "ListOffsets",
      version: 7,
      label: `earliest after DeleteRecords v${v}`,
      body: {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, timestamp: -2n }] }],
      },
    });
  }
  const last = versions("DeleteRecords").at(-1)!;
  await check({
    api: "DeleteRecords",
    version: last,
    label: "-1: up to the high watermark",
    body: request([[TOPIC, 1, -1n]]),
  });
  await check({
    api: "DeleteRecords",
    version: last,
    label: "every record of partition 0",
    body: request([[TOPIC, 0, 6n]]),
  });
}
