/**
 * Differential cases: Metadata, Metadata: internal topics (see ../differential_test.ts).
 */
import { type CaseContext, TOPIC_A, TOPIC_B, UNKNOWN_TOPIC } from "../case_context.ts";
import { withUnknownTag } from "../differential_lib.ts";

/** The Metadata cases. */
export async function metadataCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const request = (v: number, topics: string[] | null, auto = false) => ({
    topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
    allowAutoTopicCreation: auto,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  // Before anything creates more topics (auto-creation below, groups' internal topic).
  for (const v of versions("Metadata")) {
    await check({ api: "Metadata", version: v, label: "all topics", body: request(v, null) });
  }
  for (const v of versions("Metadata")) {
    if (v >= 1) {
      await check({ api: "Metadata", version: v, label: "no topics", body: request(v, []) });
    }
    await check({
      api: "Metadata",
      version: v,
      label: "two topics",
      body: request(v, [TOPIC_A, TOPIC_B]),
    });
    if (v >= 4) {
      await check({
        api: "Metadata",
        version: v,
        label: "unknown topic, no auto-creation",
        body: request(v, [UNKNOWN_TOPIC]),
      });
    }
    await check({
      api: "Metadata",
      version: v,
      label: "invalid topic name",
      body: request(v, ["bad/name"]),
    });
    if (v >= 8) {
      await check({
        api: "Metadata",
        version: v,
        label: "authorized operations",
        body: {
          ...request(v, [TOPIC_A]),
          includeClusterAuthorizedOperations: true,
          includeTopicAuthorizedOperations: true,
        },
      });
    }
    if (v >= 9) {
      await check({
        api: "Metadata",
        version: v,
        label: "unknown tagged field",
        body: request(v, [TOPIC_B]),
        mutate: withUnknownTag,
      });
    }
    await check({
      api: "Metadata",
      version: v,
      label: "unknown topic, auto-created",
      body: request(v, [`auto-v${v}`], true),
    });
  }
}

/** The Metadata: internal topics cases. */
export async function internalTopicCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  for (const v of versions("Metadata").filter((v) => v >= 4)) {
    await check({
      api: "Metadata",
      version: v,
      label: "internal topic",
      body: {
        topics: [{ name: "__consumer_offsets" }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
    });
  }
}
