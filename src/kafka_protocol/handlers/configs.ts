/**
 * DescribeConfigs and DescribeCluster: what Kafka's admin tools ask about topics and the cluster
 * (kafka-configs --describe, kafka-topics --describe, AdminClient.describeConfigs /
 * describeCluster in the Java, kafkajs and librdkafka clients).
 *
 * DescribeConfigs answers two resource types:
 * - TOPIC (2): every key of the topic's TopicConfig (Kafka's names, plus Sluice's flush.policy and
 *   flush.ms), the value as Kafka prints it, then Kafka's configs Sluice keeps without acting on
 *   them (src/broker/kafka_topic_configs.ts: the value set, else Kafka's default). config_source
 *   says where the value comes from, as Kafka's does: DYNAMIC_TOPIC_CONFIG (1) for a key the
 *   topic sets (its overrides: src/broker/topic_overrides.ts), STATIC_BROKER_CONFIG (4) for one
 *   the server's topicDefaults set, else DEFAULT_CONFIG (5). Topic configs are not read-only:
 *   AlterConfigs and IncrementalAlterConfigs change them (alter_topics.ts).
 * - BROKER (4), named "0" (the node id): broker.id, auto.create.topics.enable and
 *   num.partitions, STATIC_BROKER_CONFIG (4) when set away from the default, else DEFAULT_CONFIG.
 *   The server's topicDefaults (log.retention.ms and the like) are not shown: the broker does not
 *   keep them where the listener can read them. A broker named "" (Kafka's cluster-wide dynamic
 *   defaults) has no configs: Sluice has none.
 * Broker entries are read-only (the broker's settings are static), none is sensitive; synonyms
 * (when asked) are a topic config's own value when set, then the server's value (source 4) and
 * the built-in default (5) under the broker-level name Kafka gives them (the broker's settings
 * list none); config_type (v3+) is Kafka's type of the key; documentation (v3+) a short line when asked.
 * configuration_keys filters by name (null or empty: every key; unknown names are skipped, as Kafka
 * does). An unknown topic is UNKNOWN_TOPIC_OR_PARTITION for that resource, another broker id or
 * resource type INVALID_REQUEST.
 *
 * DescribeCluster: this broker (node 0 at the advertised host and port, no rack) as the only broker
 * and the controller, and the cluster id. A v1 request for the controller endpoint (endpoint_type
 * 2) is MISMATCHED_ENDPOINT_TYPE (there is no controller listener), another type
 * UNSUPPORTED_ENDPOINT_TYPE, as Kafka's broker answers.
 *
 * With authentication: describing a topic needs any right on it (TOPIC_AUTHORIZATION_FAILED), the
 * broker's configs admin on topic "*" (CLUSTER_AUTHORIZATION_FAILED), as /metrics over HTTP;
 * DescribeCluster needs only an authenticated principal, like Metadata's broker list.
 */
import { controllerId, liveBrokers, ownNodeId } from "../cluster_view.ts";
import { AUTHORIZED_OPERATIONS_UNKNOWN, clusterOperations } from "../authorized_operations.ts";
import { may, mayAny } from "../acl.ts";
import type { Handler, RequestContext } from "../apis.ts";
import type { Struct } from "../codec.ts";
import { KafkaError } from "../error_codes.ts";
import {
  AUTO_CREATE_TOPICS_DEFAULT,
  DEFAULT_PARTITIONS_DEFAULT,
  type KafkaContext,
} from "../context.ts";
import {
  KAFKA_INERT_TOPIC_CONFIGS,
  type KafkaInertTopicConfigKey,
} from "../../broker/kafka_topic_configs.ts";
import { DEFAULT_TOPIC_CONFIG, type TopicConfig } from "../../broker/topic_config.ts";
import type { TopicOverrides } from "../../broker/topic_overrides.ts";
import type { Topic } from "../../broker/topic_registry.ts";
import { isSluiceError } from "../../errors.ts";

/** Kafka's ConfigResource.Type codes. */
export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;

/** Kafka's DescribeConfigsResponse.ConfigSource codes. */
export const ConfigSource = {
  DYNAMIC_TOPIC_CONFIG: 1,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's DescribeConfigsResponse.ConfigType codes. */
export const ConfigType = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5, DOUBLE: 6, LIST: 7 } as const;

/** The topic named, or undefined when there is none (or the name is not a valid one). */
export function existingTopic(ctx: KafkaContext, name: string): Topic | undefined {
  try {
    return ctx.broker.topics.get(name);
  } catch (err) {
    if (isSluiceError(err, "TOPIC_NOT_FOUND") || isSluiceError(err, "INVALID_TOPIC_NAME")) {
      return undefined;
    }
    throw err;
  }
}

interface ConfigInfo {
  type: number;
  doc: string;
}

/** Every topic config key: its type as Kafka declares it (Sluice's own keys: their nature). */
type OwnTopicConfigKey = Exclude<keyof TopicConfig, KafkaInertTopicConfigKey>;

/** Kafka's config type codes for the kinds of kafka_topic_configs.ts. */
const INERT_KIND_TYPE = {
  long: ConfigType.LONG,
  int: ConfigType.INT,
  double: ConfigType.DOUBLE,
  boolean: ConfigType.BOOLEAN,
  list: ConfigType.LIST,
  enum: ConfigType.STRING,
} as const;

const TOPIC_CONFIGS: { readonly [K in OwnTopicConfigKey]: ConfigInfo } = {
  "retention.ms": {
    type: ConfigType.LONG,
    doc: "How long a segment's records are kept before it may be deleted (-1: no limit).",
  },
  "retention.bytes": {
    type: ConfigType.LONG,
    doc: "The size a partition may grow to before its oldest segments are deleted (-1: no limit).",
  },
  "segment.bytes": { type: ConfigType.INT, doc: "The size at which a segment is rolled." },
  "segment.ms": { type: ConfigType.LONG, doc: "The age at which a segment is rolled." },
  "segment.index.bytes": {
    type: ConfigType.INT,
    doc: "The size of a segment's offset and time indexes.",
  },
  "index.interval.bytes": {
    type: ConfigType.INT,
    doc: "Bytes of records between two offset index entries.",
  },
  "max.message.bytes": { type: ConfigType.INT, doc: "The largest record batch accepted." },
  "compression.type": {
    type: ConfigType.STRING,
    doc: "producer: batches are stored as the client sent them (HTTP produce writes them " +
      "uncompressed); none: the same; lz4: HTTP produce writes LZ4 batches. Kafka clients' " +
      "batches are never recompressed.",
  },
  "cleanup.policy": {
    type: ConfigType.LIST,
    doc: "What happens to old segments: delete (compaction is not supported yet).",
  },
  "flush.policy": {
    type: ConfigType.STRING,
    doc: "Sluice: when appends are fsynced (none, interval or always).",
  },
  "flush.ms": {
    type: ConfigType.LONG,
    doc: "Sluice: the fsync interval of flush.policy interval.",
  },
};

interface Entry {
  name: string;
  value: string;
  source: number;
  info: ConfigInfo;
  /** A topic config's built-in default (what its broker-level synonym holds). */
  defaultValue?: string;
  /** A topic config's value from the server's topicDefaults, when they set it. */
  serverValue?: string;
  readOnly: boolean;
}

/**
 * The broker-level config each topic config falls back to in Kafka, where Kafka 4.4 lists it as
 * a synonym (it does not for those whose broker default is null or in other units: retention.ms,
 * segment.ms, flush.ms...; nor for Sluice's own flush.policy).
 */
const BROKER_SYNONYMS: Readonly<Record<string, string>> = {
  "cleanup.policy": "log.cleanup.policy",
  "compression.type": "compression.type",
  "compression.gzip.level": "compression.gzip.level",
  "compression.lz4.level": "compression.lz4.level",
  "compression.zstd.level": "compression.zstd.level",
  "delete.retention.ms": "log.cleaner.delete.retention.ms",
  "file.delete.delay.ms": "log.segment.delete.delay.ms",
  "flush.messages": "log.flush.interval.messages",
  "index.interval.bytes": "log.index.interval.bytes",
  "local.retention.bytes": "log.local.retention.bytes",
  "local.retention.ms": "log.local.retention.ms",
  "max.compaction.lag.ms": "log.cleaner.max.compaction.lag.ms",
  "max.message.bytes": "message.max.bytes",
  "message.timestamp.after.max.ms": "log.message.timestamp.after.max.ms",
  "message.timestamp.before.max.ms": "log.message.timestamp.before.max.ms",
  "message.timestamp.type": "log.message.timestamp.type",
  "min.cleanable.dirty.ratio": "log.cleaner.min.cleanable.ratio",
  "min.compaction.lag.ms": "log.cleaner.min.compaction.lag.ms",
  "min.insync.replicas": "min.insync.replicas",
  "preallocate": "log.preallocate",
  "retention.bytes": "log.retention.bytes",
  "segment.bytes": "log.segment.bytes",
  "segment.index.bytes": "log.index.size.max.bytes",
  "unclean.leader.election.enable": "unclean.leader.election.enable",
};

/**
 * A config's synonyms (DescribeConfigs v1+ with include_synonyms), in Kafka's order: the topic's
 * own value when set, then the broker-level default it falls back to.
 */
function synonymsOf(e: Entry): Struct[] {
  const out: Struct[] = [];
  if (e.source === ConfigSource.DYNAMIC_TOPIC_CONFIG) {
    out.push({ name: e.name, value: e.value, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
  }
  const broker = BROKER_SYNONYMS[e.name];
  if (broker !== undefined && e.serverValue !== undefined) {
    out.push({ name: broker, value: e.serverValue, source: ConfigSource.STATIC_BROKER_CONFIG });
  }
  if (broker !== undefined && e.defaultValue !== undefined) {
    out.push({ name: broker, value: e.defaultValue, source: ConfigSource.DEFAULT_CONFIG });
  }
  return out;
}

/** Where a topic config's value comes from: the topic, the server's settings, or the default. */
function sourceOf(
  name: string,
  value: string,
  overrides: Readonly<TopicOverrides>,
  builtIn: string,
): number {
  if (Object.hasOwn(overrides, name)) return ConfigSource.DYNAMIC_TOPIC_CONFIG;
  return value === builtIn ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG;
}

function topicEntries(
  config: Readonly<TopicConfig>,
  overrides: Readonly<TopicOverrides>,
): Entry[] {
  const entry = (name: string, value: string, builtIn: string, info: ConfigInfo): Entry => {
    const source = sourceOf(name, value, overrides, builtIn);
    return {
      name,
      value,
      source,
      info,
      defaultValue: builtIn,
      // The server's value, seen only where the topic does not set the key (Kafka's synonyms
      // list every level; Sluice knows the server's only where it shows through).
      serverValue: source === ConfigSource.STATIC_BROKER_CONFIG ? value : undefined,
      readOnly: false,
    };
  };
  const own = (Object.keys(TOPIC_CONFIGS) as OwnTopicConfigKey[]).map((name) =>
    entry(name, String(config[name]), String(DEFAULT_TOPIC_CONFIG[name]), TOPIC_CONFIGS[name])
  );
  // Kafka's configs Sluice keeps without acting on them: set, or Kafka's default.
  const kept = (Object.keys(KAFKA_INERT_TOPIC_CONFIGS) as KafkaInertTopicConfigKey[]).map(
    (name) => {
      const info = KAFKA_INERT_TOPIC_CONFIGS[name];
      return entry(name, config[name] ?? info.default, info.default, {
        type: INERT_KIND_TYPE[info.kind],
        doc: info.doc,
      });
    },
  );
  return [...own, ...kept];
}

/**
 * A topic's configs as CreateTopics v5+ answers them (CreatableTopicConfigs): what DescribeConfigs
 * shows for the topic, in the shorter shape.
 */
export function createdTopicConfigs(
  config: Readonly<TopicConfig>,
  overrides: Readonly<TopicOverrides>,
): Struct[] {
  return topicEntries(config, overrides).map((e) => ({
    name: e.name,
    value: e.value,
    readOnly: e.readOnly,
    configSource: e.source,
    isSensitive: false,
  }));
}

function brokerEntries(ctx: KafkaContext): Entry[] {
  const source = (isDefault: boolean) =>
    isDefault ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG;
  const { autoCreateTopics, defaultPartitions } = ctx.settings;
  return [
    {
      name: "broker.id",
      value: String(ownNodeId(ctx.broker)),
      source: ConfigSource.DEFAULT_CONFIG,
      info: { type: ConfigType.INT, doc: "This broker's node id (always 0: a single broker)." },
      readOnly: true,
    },
    {
      name: "auto.create.topics.enable",
      value: String(autoCreateTopics),
      source: source(autoCreateTopics === AUTO_CREATE_TOPICS_DEFAULT),
      info: {
        type: ConfigType.BOOLEAN,
        doc: "Whether Metadata and Produce create a topic that does not exist.",
      },
      readOnly: true,
    },
    {
      name: "num.partitions",
      value: String(defaultPartitions),
      source: source(defaultPartitions === DEFAULT_PARTITIONS_DEFAULT),
      info: {
        type: ConfigType.INT,
        doc: "Partitions of an auto-created topic, and of CreateTopics with -1.",
      },
      readOnly: true,
    },
  ];
}

function describeResource(
  ctx: KafkaContext,
  context: RequestContext,
  resource: { resourceType: number; resourceName: string; configurationKeys: string[] | null },
  includeDocumentation: boolean,
  includeSynonyms: boolean,
): Struct {
  const { resourceType, resourceName } = resource;
  const result = (errorCode: number, errorMessage: string | null, entries: Entry[]) => {
    const keys = resource.configurationKeys;
    const wanted = keys === null || keys.length === 0 ? null : new Set(keys);
    return {
      errorCode,
      errorMessage,
      resourceType,
      resourceName,
      configs: entries.filter((e) => wanted === null || wanted.has(e.name)).map((e) => ({
        name: e.name,
        value: e.value,
        readOnly: e.readOnly,
        isDefault: e.source === ConfigSource.DEFAULT_CONFIG,
        configSource: e.source,
        isSensitive: false,
        synonyms: includeSynonyms ? synonymsOf(e) : [],
        configType: e.info.type,
        documentation: includeDocumentation ? e.info.doc : null,
      })),
    };
  };
  if (resourceType === RESOURCE_TOPIC) {
    if (!mayAny(context, "topic", resourceName)) {
      return result(
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        `principal "${context.principal?.name}" has no right on topic ${
          JSON.stringify(resourceName)
        }`,
        [],
      );
    }
    const topic = existingTopic(ctx, resourceName);
    if (topic === undefined) {
      return result(
        KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
        `topic ${JSON.stringify(resourceName)} does not exist`,
        [],
      );
    }
    return result(KafkaError.NONE, null, topicEntries(topic.config, topic.meta.overrides));
  }
  if (resourceType === RESOURCE_BROKER) {
    const self = ownNodeId(ctx.broker);
    if (resourceName !== "" && resourceName !== String(self)) {
      return result(
        KafkaError.INVALID_REQUEST,
        `unexpected broker id ${JSON.stringify(resourceName)}; this broker is ${self}`,
        [],
      );
    }
    if (!may(context, "topic", "*", "admin")) {
      return result(
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        `principal "${context.principal?.name}" may not describe the broker's configs`,
        [],
      );
    }
    // "" names the cluster-wide dynamic broker defaults, of which Sluice has none.
    return result(KafkaError.NONE, null, resourceName === "" ? [] : brokerEntries(ctx));
  }
  return result(
    KafkaError.INVALID_REQUEST,
    `resource type ${resourceType} is not supported; only topics (2) and the broker (4)`,
    [],
  );
}

export function describeConfigsHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const resources = body.resources as {
      resourceType: number;
      resourceName: string;
      configurationKeys: string[] | null;
    }[];
    const includeDocumentation = body.includeDocumentation === true;
    const includeSynonyms = body.includeSynonyms === true;
    return Promise.resolve({
      throttleTimeMs: 0,
      results: resources.map((r) =>
        describeResource(ctx, context, r, includeDocumentation, includeSynonyms)
      ),
    });
  };
}

export function describeClusterHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    const base = {
      throttleTimeMs: 0,
      endpointType: 1,
      clusterId: ctx.settings.clusterId,
      controllerId: controllerId(ctx.broker),
      brokers: liveBrokers(ctx).map((b) => ({
        brokerId: b.nodeId,
        host: b.host,
        port: b.port,
        rack: b.rack,
      })),
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
    };
    if (context.apiVersion >= 1 && body.endpointType !== 1) {
      // As Kafka's broker answers: controllers (2) are asked of a controller listener, which
      // Sluice has not; any other type is unknown. No cluster id or controller with either.
      const controllers = body.endpointType === 2;
      return Promise.resolve({
        ...base,
        errorCode: controllers
          ? KafkaError.MISMATCHED_ENDPOINT_TYPE
          : KafkaError.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: controllers
          ? "controllers are described by a controller listener; this one is a broker's (1)"
          : `endpoint type ${body.endpointType} is unknown`,
        clusterId: "",
        controllerId: -1,
        brokers: [],
      });
    }
    const clusterAuthorizedOperations = clusterOperations(
      context,
      body.includeClusterAuthorizedOperations === true,
    );
    return Promise.resolve({
      ...base,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      clusterAuthorizedOperations,
    });
  };
}
