/**
 * Differential cases: DescribeConfigs, DescribeCluster (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import { type CaseContext, TOPIC_A, TOPIC_B, UNKNOWN_TOPIC } from "../case_context.ts";
import { withUnknownTag } from "../differential_lib.ts";

/** The DescribeConfigs cases. */
export async function describeConfigsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  const configured = `configured-v${versions("CreateTopics").at(-1)}`;
  for (const v of versions("DescribeConfigs")) {
    const r = (resourceType: number, resourceName: string, keys: string[] | null = null) => ({
      resourceType,
      resourceName,
      configurationKeys: keys,
    });
    const c = (label: string, resources: Struct[], extra = {}, more = {}) =>
      check({
        api: "DescribeConfigs",
        version: v,
        label,
        body: { resources, includeSynonyms: false, includeDocumentation: false, ...extra },
        ...more,
      });
    const named = ["retention.ms", "cleanup.policy", "max.message.bytes", "no.such.config"];
    await c("topic, every config", [r(2, TOPIC_A)]);
    await c("topic, named configs", [r(2, TOPIC_A, named)]);
    await c("topic created with a config", [r(2, configured, ["retention.ms"])]);
    await c("unknown topic", [r(2, UNKNOWN_TOPIC)]);
    await c("broker, named configs", [
      r(4, "0", ["num.partitions", "auto.create.topics.enable", "broker.id"]),
    ]);
    await c("broker, every config", [r(4, "0")]);
    await c("another broker", [r(4, "7")]);
    await c("broker name not a number", [r(4, "x")]);
    await c("cluster-wide broker defaults", [r(4, "")]);
    await c("unknown resource type", [r(99, "x")]);
    await c("topic and broker", [r(2, TOPIC_B, ["retention.ms"]), r(4, "0", ["num.partitions"])]);
    if (v >= 1) {
      await c("synonyms", [r(2, configured, ["retention.ms"])], { includeSynonyms: true });
      await c("synonyms of defaults", [r(2, configured)], { includeSynonyms: true });
    }
    if (v >= 3) {
      await c("documentation", [r(2, TOPIC_A, ["retention.ms"])], { includeDocumentation: true });
    }
    if (v >= 4) {
      await c("unknown tagged field", [r(2, TOPIC_A, ["retention.ms"])], {}, {
        mutate: withUnknownTag,
      });
    }
  }
}

/** The DescribeCluster cases. */
export async function describeClusterCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  for (const v of versions("DescribeCluster")) {
    const c = (label: string, body: Struct, more = {}) =>
      check({ api: "DescribeCluster", version: v, label, body, ...more });
    await c("brokers", { includeClusterAuthorizedOperations: false, endpointType: 1 });
    await c("authorized operations", {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    if (v >= 1) {
      await c("controllers", { includeClusterAuthorizedOperations: false, endpointType: 2 });
      await c("unknown endpoint type", {
        includeClusterAuthorizedOperations: false,
        endpointType: 9,
      });
    }
    await c("unknown tagged field", {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    }, {
      mutate: withUnknownTag,
    });
  }
}
