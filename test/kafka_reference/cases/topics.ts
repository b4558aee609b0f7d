/**
 * Differential cases: CreateTopics, DeleteTopics (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import {
  type Any,
  type CaseContext,
  TOPIC_A,
  UNKNOWN_TOPIC,
  UNKNOWN_UUID,
} from "../case_context.ts";
import { type Peer, withUnknownTag } from "../differential_lib.ts";

/** The CreateTopics cases. */
export async function createTopicsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const topic = (name: string, numPartitions: number, replicationFactor: number, extra = {}) => ({
    name,
    numPartitions,
    replicationFactor,
    assignments: [],
    configs: [],
    ...extra,
  });
  for (const v of versions("CreateTopics")) {
    const c = (label: string, topics: Struct[], validateOnly = false, more = {}) =>
      check({
        api: "CreateTopics",
        version: v,
        label,
        body: { topics, timeoutMs: 30_000, validateOnly },
        learn: (p: Peer, b: Any) => {
          for (const tp of b.topics) p.learnTopicId(tp.topicId, tp.name);
        },
        ...more,
      });
    await c("new topic", [topic(`created-v${v}`, 2, 1)]);
    if (v >= 1) await c("validate only", [topic(`validated-v${v}`, 2, 1)], true);
    await c("existing topic", [topic(TOPIC_A, 3, 1)]);
    await c("invalid name", [topic("bad/name", 1, 1)]);
    await c("name '..'", [topic("..", 1, 1)]);
    await c("name of 250 characters", [topic("x".repeat(250), 1, 1)]);
    await c("zero partitions", [topic(`zero-v${v}`, 0, 1)]);
    await c("replication factor 3", [topic(`rf3-v${v}`, 1, 3)]);
    await c("unknown config", [
      topic(`bad-config-v${v}`, 1, 1, { configs: [{ name: "no.such.config", value: "1" }] }),
    ]);
    await c("invalid config value", [
      topic(`bad-value-v${v}`, 1, 1, { configs: [{ name: "retention.ms", value: "soon" }] }),
    ]);
    await c("with a config", [
      topic(`configured-v${v}`, 1, 1, { configs: [{ name: "retention.ms", value: "3600000" }] }),
    ]);
    if (v >= 4) await c("default partitions and replication", [topic(`defaults-v${v}`, -1, -1)]);
    await c("manual assignment", [
      topic(`assigned-v${v}`, -1, -1, {
        assignments: [{ partitionIndex: 0, brokerIds: [0] }, {
          partitionIndex: 1,
          brokerIds: [0],
        }],
      }),
    ]);
    await c("assignment to an unknown broker", [
      topic(`unknown-broker-v${v}`, -1, -1, {
        assignments: [{ partitionIndex: 0, brokerIds: [7] }],
      }),
    ]);
    await c("same topic twice", [topic(`twice-v${v}`, 1, 1), topic(`twice-v${v}`, 1, 1)]);
    await c("no topics", []);
    if (v >= 5) {
      await c("unknown tagged field", [topic(TOPIC_A, 3, 1)], false, { mutate: withUnknownTag });
    }
  }
}

/** The DeleteTopics cases. */
export async function deleteTopicsCases(c: CaseContext): Promise<void> {
  const { check, versions, kafkaServes } = c;
  for (const v of versions("DeleteTopics")) {
    const zero = new Uint8Array(16);
    const del = (...names: string[]): Struct =>
      v >= 6
        ? { topics: names.map((name) => ({ name, topicId: zero })), timeoutMs: 30_000 }
        : { topicNames: names, timeoutMs: 30_000 };
    const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
      check({ api: "DeleteTopics", version: v, label, body, ...more });
    await c("existing topic", del(`delete-v${v}`));
    await c("unknown topic", del(UNKNOWN_TOPIC));
    await c("existing and unknown", del(`delete2-v${v}`, UNKNOWN_TOPIC));
    await c("invalid name", del("bad/name"));
    if (v >= 4) await c("unknown tagged field", del(UNKNOWN_TOPIC), { mutate: withUnknownTag });
    if (v >= 6) {
      await c("by topic id", (p) => ({
        topics: [{ name: null, topicId: p.topicId("delete-by-id") }],
        timeoutMs: 30_000,
      }));
      await c("unknown topic id", {
        topics: [{ name: null, topicId: UNKNOWN_UUID }],
        timeoutMs: 30_000,
      });
      await c("neither name nor id", {
        topics: [{ name: null, topicId: zero }],
        timeoutMs: 30_000,
      });
    }
  }
  await check({
    api: "Metadata",
    version: versions("Metadata").at(-1)!,
    label: "deleted topics",
    body: {
      topics: versions("DeleteTopics").filter((v) => kafkaServes("DeleteTopics", v))
        .map((v) => ({ name: `delete-v${v}` })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    },
  });
}
