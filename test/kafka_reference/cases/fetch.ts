/**
 * Differential cases: Fetch, ListOffsets (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import {
  type Any,
  type CaseContext,
  T0,
  TOPIC_A,
  TOPIC_B,
  TOPIC_EMPTY,
  UNKNOWN_TOPIC,
} from "../case_context.ts";
import { type CaseSpec, withUnknownTag } from "../differential_lib.ts";

/** The Fetch cases. */
export async function fetchCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  // High watermarks after preparation and Produce, learned from Kafka's answer (ListOffsets).
  const latest = await check({
    api: "ListOffsets",
    version: 1,
    label: "",
    prepare: true,
    body: {
      replicaId: -1,
      topics: [{
        name: TOPIC_A,
        partitions: [0, 1, 2].map((p) => ({ partitionIndex: p, timestamp: -1n })),
      }],
    },
  });
  const hw0 = Number(
    (latest.k as Any).topics[0].partitions.find((p: Any) => p.partitionIndex === 0).offset,
  );
  const fetch = (partitions: [string, number, number, number?][], extra = {}) => ({
    replicaId: -1,
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [...new Set(partitions.map((p) => p[0]))].map((topic) => ({
      topic,
      partitions: partitions.filter((p) => p[0] === topic).map(([, partition, offset, max]) => ({
        partition,
        fetchOffset: BigInt(offset),
        partitionMaxBytes: max ?? 1024 * 1024,
        currentLeaderEpoch: -1,
        logStartOffset: -1n,
      })),
    })),
    forgottenTopicsData: [],
    rackId: "",
    ...extra,
  });
  for (const v of versions("Fetch")) {
    const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
      check({ api: "Fetch", version: v, label, body, ...more });
    await c(
      "three partitions from 0",
      fetch([[TOPIC_A, 0, 0], [TOPIC_A, 1, 0], [TOPIC_A, 2, 0]]),
    );
    await c("inside a batch", fetch([[TOPIC_A, 0, 3]]));
    await c("at the high watermark", fetch([[TOPIC_A, 0, hw0]]));
    await c("past the high watermark", fetch([[TOPIC_A, 0, hw0 + 100]]));
    await c("negative offset", fetch([[TOPIC_A, 0, -1]]));
    await c("empty partition", fetch([[TOPIC_EMPTY, 0, 0]]));
    await c("unknown topic", fetch([[UNKNOWN_TOPIC, 0, 0]]));
    await c("unknown partition", fetch([[TOPIC_A, 9, 0]]));
    await c("partition max bytes under one batch", fetch([[TOPIC_A, 0, 0, 10]]));
    await c(
      "max bytes under one batch",
      fetch([[TOPIC_A, 0, 0], [TOPIC_A, 1, 0]], { maxBytes: 10 }),
    );
    await c("read_committed", fetch([[TOPIC_A, 1, 0]], { isolationLevel: 1 }));
    if (v >= 7) {
      await c("new fetch session", fetch([[TOPIC_B, 0, 0]], { sessionEpoch: 0 }));
      await c(
        "unknown fetch session",
        fetch([[TOPIC_B, 0, 0]], { sessionId: 123456, sessionEpoch: 1 }),
      );
    }
    if (v >= 9) {
      const future = fetch([[TOPIC_A, 0, 0]]) as Any;
      future.topics[0].partitions[0].currentLeaderEpoch = 99;
      await c("leader epoch from the future", future);
    }
    if (v >= 12) {
      await c("unknown tagged field", fetch([[TOPIC_B, 0, 0]]), { mutate: withUnknownTag });
    }
  }
}

/** The ListOffsets cases. */
export async function listOffsetsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const list = (partitions: [string, number, bigint][], extra: Struct = {}) => ({
    replicaId: -1,
    isolationLevel: 0,
    topics: [...new Set(partitions.map((p) => p[0]))].map((name) => ({
      name,
      partitions: partitions.filter((p) => p[0] === name).map((
        [, partitionIndex, timestamp],
      ) => ({
        partitionIndex,
        timestamp,
        currentLeaderEpoch: -1,
      })),
    })),
    ...extra,
  });
  const all = (ts: bigint): [string, number, bigint][] => [0, 1, 2].map((p) => [TOPIC_A, p, ts]);
  for (const v of versions("ListOffsets")) {
    const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
      check({ api: "ListOffsets", version: v, label, body, ...more });
    await c("earliest", list(all(-2n)));
    await c("latest", list(all(-1n)));
    await c("by timestamp", list([[TOPIC_A, 0, BigInt(T0 + 25_000)], [TOPIC_B, 0, BigInt(T0)]]));
    await c("timestamp after every record", list([[TOPIC_A, 0, BigInt(T0 + 1e9)]]));
    await c(
      "empty partition",
      list([[TOPIC_EMPTY, 0, -2n], [TOPIC_EMPTY, 1, BigInt(T0)]]),
    );
    await c("empty partition, latest", list([[TOPIC_EMPTY, 0, -1n]]));
    await c("unknown topic", list([[UNKNOWN_TOPIC, 0, -1n]]));
    await c("unknown partition", list([[TOPIC_A, 9, -1n]]));
    if (v >= 2) await c("read_committed, latest", list(all(-1n), { isolationLevel: 1 }));
    if (v >= 4) {
      const future = list([[TOPIC_A, 0, -1n]]) as Any;
      future.topics[0].partitions[0].currentLeaderEpoch = 99;
      await c("leader epoch from the future", future);
    }
    if (v >= 6) await c("unknown tagged field", list(all(-1n)), { mutate: withUnknownTag });
  }
}
