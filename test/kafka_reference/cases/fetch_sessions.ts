/**
 * Differential cases: fetch sessions (KIP-227), Fetch v7+ against Kafka 4.4. Each version runs one
 * session's life on both sides: made by a full fetch, incremental fetches (nothing new, a partition
 * moved back, the same again, a partition added, forgotten, an unknown partition answered at every
 * fetch), a wrong epoch, closed with epoch -1, then unknown; and an empty session, and an unknown
 * id with epoch 1 and with session id 0; at the newest version, a topic deleted while in a
 * session. Each side's session id is learned from its own answer and sent back to it (session ids
 * are normalized to `<session id>`).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import type { Peer } from "../differential_lib.ts";
import { type Any, type CaseContext, TOPIC_A, TOPIC_B, TOPIC_EMPTY } from "../case_context.ts";

type Partition = [topic: string, partition: number, offset: number];

function fetchBody(
  partitions: Partition[],
  sessionId: number,
  sessionEpoch: number,
  forgotten: [string, number[]][] = [],
): Struct {
  const topics = [...new Set(partitions.map((p) => p[0]))];
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId,
    sessionEpoch,
    topics: topics.map((topic) => ({
      topic,
      partitions: partitions.filter((p) => p[0] === topic).map(([, partition, offset]) => ({
        partition,
        fetchOffset: BigInt(offset),
        partitionMaxBytes: 1024 * 1024,
        currentLeaderEpoch: -1,
        logStartOffset: -1n,
      })),
    })),
    forgottenTopicsData: forgotten.map(([topic, partitions]) => ({ topic, partitions })),
    rackId: "",
  };
}

export async function fetchSessionCases(c: CaseContext): Promise<void> {
  // The high watermarks both sides have (prepared alike): asked, not assumed.
  const latest = await c.check({
    api: "ListOffsets",
    version: 1,
    label: "",
    prepare: true,
    body: {
      replicaId: -1,
      topics: [TOPIC_A, TOPIC_B].map((name) => ({
        name,
        partitions: (name === TOPIC_A ? [0, 1, 2] : [0]).map((p) => ({
          partitionIndex: p,
          timestamp: -1n,
        })),
      })),
    },
  });
  c.prepared("ListOffsets", latest, (b) => b.topics.every((t: Any) => t.partitions[0].offset > 0));
  const hw = (topic: string, p: number) =>
    Number(
      (latest.k as Any).topics.find((t: Any) => t.name === topic).partitions
        .find((x: Any) => x.partitionIndex === p).offset,
    );
  const SESSION = "fetchSession";
  const learn = (peer: Peer, b: Struct) => {
    if ((b.sessionId as number) !== 0) peer.values.set(SESSION, b.sessionId as number);
  };
  for (const v of c.versions("Fetch").filter((v) => v >= 7)) {
    const check = (label: string, body: Struct | ((peer: Peer) => Struct)) =>
      c.check({ api: "Fetch", version: v, label, body, learn });
    /** A request in this version's session (each side its own id). */
    const inSession = (
      label: string,
      epoch: number,
      partitions: Partition[] = [],
      forgotten: [string, number[]][] = [],
    ) => check(label, (peer) => fetchBody(partitions, peer.value(SESSION), epoch, forgotten));

    const full = await check(
      "session: full fetch",
      fetchBody([[TOPIC_A, 0, 0], [TOPIC_A, 1, hw(TOPIC_A, 1)], [TOPIC_EMPTY, 0, 0]], 0, 0),
    );
    c.prepared("a session on both", full, (b) => b.errorCode === 0 && b.sessionId !== 0);
    // The client moved past partition 0's records: nothing is new anywhere.
    await inSession("session: nothing new", 1, [[TOPIC_A, 0, hw(TOPIC_A, 0)]]);
    await inSession("session: nothing named", 2);
    await inSession("session: a partition moved back", 3, [[TOPIC_A, 1, 0]]);
    // The session keeps the offset it was given: the same records again.
    await inSession("session: the same request again", 4);
    await inSession("session: a partition added", 5, [[TOPIC_B, 0, hw(TOPIC_B, 0)]]);
    await inSession("session: partitions forgotten", 6, [], [[TOPIC_A, [1]], [TOPIC_B, [0]]]);
    await inSession("session: an unknown partition added", 7, [[TOPIC_A, 9, 0]]);
    await inSession("session: the unknown partition again", 8);
    await inSession("session: an epoch from the past", 3);
    await inSession("session: an epoch from the future", 99);
    await inSession("session: epoch -1 closes it", -1, [[TOPIC_A, 0, 0]]);
    await inSession("session: closed, then used", 9);
    await check("session: an unknown id", fetchBody([[TOPIC_B, 0, 0]], 123457, 1));
    await check("session: id 0 with epoch 1", fetchBody([[TOPIC_B, 0, 0]], 0, 1));
    const empty = await check("session: a full fetch of nothing", fetchBody([], 0, 0));
    c.prepared("an empty session on both", empty, (b) => b.sessionId !== 0);
    // With nothing left, the session closes and the answer has no session.
    await inSession("session: the empty session used", 1);
  }
  await deletedTopicCases(c, hw(TOPIC_B, 0));
}

/**
 * A topic deleted while in a session (newest version only): both answer its partition
 * UNKNOWN_TOPIC_OR_PARTITION at every incremental fetch until the client forgets it. Kafka's
 * brokers learn of a deletion asynchronously, so the first incremental fetches are polled (on both
 * sides alike, so the epochs stay the same) until both answer so.
 */
async function deletedTopicCases(c: CaseContext, hwB: number): Promise<void> {
  const v = c.served("Fetch").max;
  const topic = "session-deleted";
  const SESSION = "deletedSession";
  const EPOCH = "deletedEpoch";
  const created = await c.check({
    api: "CreateTopics",
    version: 5,
    label: "",
    prepare: true,
    body: {
      topics: [{
        name: topic,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      }],
      timeoutMs: 30_000,
      validateOnly: false,
    },
  });
  c.prepared("CreateTopics", created, (b) => b.topics[0].errorCode === 0);
  await c.until("ListOffsets: the new topic ready", {
    api: "ListOffsets",
    version: 1,
    label: "",
    body: {
      replicaId: -1,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    },
  }, (b) => b.topics[0].partitions[0].errorCode === 0);
  const full = await c.check({
    api: "Fetch",
    version: v,
    label: "session: full fetch of a topic to delete",
    body: fetchBody([[topic, 0, 0], [TOPIC_B, 0, hwB]], 0, 0),
    learn: (peer, b) => {
      peer.values.set(SESSION, b.sessionId as number);
      peer.values.set(EPOCH, 1);
    },
  });
  c.prepared("a session on both", full, (b) => b.errorCode === 0 && b.sessionId !== 0);
  const deleted = await c.check({
    api: "DeleteTopics",
    version: 4,
    label: "",
    prepare: true,
    body: { topicNames: [topic], timeoutMs: 30_000 },
  });
  c.prepared("DeleteTopics", deleted, (b) => b.responses[0].errorCode === 0);
  /** The next incremental fetch of that session, each side at its own epoch. */
  const next = (forgotten: [string, number[]][] = []) => (peer: Peer) => {
    const epoch = peer.value(EPOCH);
    peer.values.set(EPOCH, epoch + 1);
    return fetchBody([], peer.value(SESSION), epoch, forgotten);
  };
  const UNKNOWN_TOPIC_OR_PARTITION = 3;
  await c.until(
    "the deleted topic's partition answered UNKNOWN_TOPIC_OR_PARTITION",
    { api: "Fetch", version: v, label: "", body: next() },
    (b) =>
      b.errorCode === 0 &&
      b.responses.some((t: Any) =>
        t.topic === topic && t.partitions[0].errorCode === UNKNOWN_TOPIC_OR_PARTITION
      ),
  );
  await c.check({ api: "Fetch", version: v, label: "session: a deleted topic", body: next() });
  await c.check({
    api: "Fetch",
    version: v,
    label: "session: the deleted topic forgotten",
    body: next([[topic, [0]]]),
  });
}
