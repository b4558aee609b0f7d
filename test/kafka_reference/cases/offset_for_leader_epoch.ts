/**
 * Differential cases: OffsetForLeaderEpoch, and the leader-epoch checks of Fetch and ListOffsets
 * (see ../differential_test.ts). Both sides lead every partition in epoch 0 from its creation:
 * epoch 0 ends at the log end, -1 and epochs newer than any are UNDEFINED (-1 / -1), a
 * `currentLeaderEpoch` of 99 is UNKNOWN_LEADER_EPOCH and one of -2 (older than 0, and not -1's "no
 * check") FENCED_LEADER_EPOCH.
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { type CaseContext, TOPIC_A, TOPIC_B, TOPIC_EMPTY, UNKNOWN_TOPIC } from "../case_context.ts";
import { type CaseSpec, withUnknownTag } from "../differential_lib.ts";

/** [topic, partition, leaderEpoch, currentLeaderEpoch?] */
type Ask = [string, number, number, number?];

function request(asks: Ask[], extra: Struct = {}): Struct {
  return {
    replicaId: -1,
    topics: [...new Set(asks.map((a) => a[0]))].map((topic) => ({
      topic,
      partitions: asks.filter((a) => a[0] === topic).map(([, partition, leaderEpoch, current]) => ({
        partition,
        currentLeaderEpoch: current ?? -1,
        leaderEpoch,
      })),
    })),
    ...extra,
  };
}

export async function offsetForLeaderEpochCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  for (const v of versions("OffsetForLeaderEpoch")) {
    const q = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
      check({ api: "OffsetForLeaderEpoch", version: v, label, body, ...more });
    await q("epoch 0 of three partitions", request([0, 1, 2].map((p) => [TOPIC_A, p, 0])));
    await q("epoch 0 of two topics", request([[TOPIC_A, 0, 0], [TOPIC_B, 0, 0]]));
    await q("empty partition", request([[TOPIC_EMPTY, 0, 0], [TOPIC_EMPTY, 1, 0]]));
    await q("undefined epoch -1", request([[TOPIC_A, 0, -1]]));
    await q("epoch newer than any", request([[TOPIC_A, 0, 5]]));
    await q("epoch -5", request([[TOPIC_A, 1, -5]]));
    await q("unknown topic", request([[UNKNOWN_TOPIC, 0, 0]]));
    await q("unknown partition", request([[TOPIC_A, 9, 0], [TOPIC_A, 0, 0]]));
    await q("no topics", request([]));
    if (v >= 2) {
      await q("current leader epoch 0", request([[TOPIC_A, 0, 0, 0]]));
      await q("current leader epoch from the future", request([[TOPIC_A, 0, 0, 99]]));
      await q("current leader epoch from the past", request([[TOPIC_A, 0, 0, -2]]));
      await q(
        "fenced and unknown partitions together",
        request([[TOPIC_A, 0, 0, 99], [TOPIC_A, 1, 0, 0], [TOPIC_A, 9, 0, 0]]),
      );
    }
    if (v >= 3) {
      await q("replica id -2 (debug consumer)", request([[TOPIC_A, 0, 0]], { replicaId: -2 }));
    }
    if (v >= 4) {
      await q("unknown tagged field", request([[TOPIC_B, 0, 0]]), { mutate: withUnknownTag });
    }
  }

  // Fetch and ListOffsets with the current leader epoch (their other cases are in fetch.ts).
  const fetch = (currentLeaderEpoch: number, lastFetchedEpoch = -1, fetchOffset = 0n): Struct => ({
    replicaId: -1,
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{
      topic: TOPIC_A,
      partitions: [{
        partition: 0,
        fetchOffset,
        partitionMaxBytes: 1024 * 1024,
        currentLeaderEpoch,
        lastFetchedEpoch,
        logStartOffset: -1n,
      }],
    }],
    forgottenTopicsData: [],
    rackId: "",
  });
  for (const v of versions("Fetch").filter((v) => v >= 9)) {
    const f = (label: string, body: Struct) => check({ api: "Fetch", version: v, label, body });
    await f("current leader epoch 0", fetch(0));
    // Kafka's FetchRequest reads any negative epoch as none given: no check.
    await f("leader epoch -2", fetch(-2));
    if (v >= 12) {
      await f("last fetched epoch 0", fetch(0, 0));
      await f("last fetched epoch newer than any", fetch(0, 5));
      // Past the end of epoch 0 (the log end, 6): the client's log diverges there.
      await f("last fetched epoch 0, offset past its end", fetch(0, 0, 10n));
      await f("last fetched epoch -5", fetch(-1, -5));
    }
  }
  const list = (currentLeaderEpoch: number, timestamp: bigint): Struct => ({
    replicaId: -1,
    isolationLevel: 0,
    topics: [{
      name: TOPIC_A,
      partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch }],
    }],
  });
  for (const v of versions("ListOffsets").filter((v) => v >= 4)) {
    const l = (label: string, body: Struct) =>
      check({ api: "ListOffsets", version: v, label, body });
    await l("current leader epoch 0, earliest", list(0, -2n));
    await l("current leader epoch 0, latest", list(0, -1n));
    await l("leader epoch from the past", list(-2, -1n));
  }
}
