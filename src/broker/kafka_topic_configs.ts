/**
 * Kafka's standard topic configs that Sluice accepts, checks and keeps, but that change nothing
 * on a single Sluice node today (Kafka's clients and tools set them when they create topics:
 * kafka-topics --config, Kafka Streams' internal topics, Connect, Terraform providers). Each is
 * validated as Kafka validates it (type and range; a value Sluice cannot honour is refused with
 * INVALID_CONFIG rather than kept and ignored), stored with the topic as the string Kafka shows,
 * and described by DescribeConfigs (its Kafka default when not set).
 *
 * The compaction settings among them (delete.retention.ms, min.compaction.lag.ms,
 * max.compaction.lag.ms, min.cleanable.dirty.ratio) act since compaction came: toLogConfig
 * (topic_config.ts) hands them to the log and its cleaner (src/storage/cleaner/). They are kept
 * here for their Kafka types, ranges and defaults.
 *
 * Why each of the others has no effect yet:
 * - replication settings (min.insync.replicas, unclean.leader.election.enable, the throttled
 *   replica lists): one node holds the only replica; min.insync.replicas above 1 is refused, since
 *   acks=all could never be met. In a cluster the first two act (src/cluster: the controller's
 *   elections and acks=all) and min.insync.replicas takes any positive int;
 * - file.delete.delay.ms, preallocate, segment.jitter.ms, flush.messages: storage tuning that
 *   Sluice's own segment and flush policies (flush.policy, flush.ms) decide;
 * - compression levels: Sluice stores batches as producers compressed them;
 * - message.timestamp.type: only CreateTime (the producer's timestamps, Kafka's default);
 *   message.timestamp.before.max.ms / after.max.ms: timestamps are not range-checked yet;
 * - tiered storage (remote.storage.enable false only; local.retention.*): no remote tier.
 */
import { SluiceError } from "../errors.ts";

type Kind = "long" | "int" | "double" | "boolean" | "list" | "enum";

export interface KafkaTopicConfigInfo {
  kind: Kind;
  /** Kafka's default, as DescribeConfigs shows it. */
  default: string;
  /** Bounds, inclusive (long and int kinds are checked as BigInt, so Kafka's Long.MAX fits). */
  min?: number | bigint;
  max?: number | bigint;
  /** kind "enum" (and "boolean" limits): the values accepted. */
  values?: readonly string[];
  doc: string;
}

/** Kafka's Long.MAX_VALUE, as its configs show it; long configs are checked as BigInt. */
const LONG_MAX = 9223372036854775807n;
const LONG_MAX_TEXT = "9223372036854775807";
const INT_MAX = 2 ** 31 - 1;

/** The configs below, by name. */
export type KafkaInertTopicConfigKey =
  | "delete.retention.ms"
  | "min.compaction.lag.ms"
  | "max.compaction.lag.ms"
  | "min.cleanable.dirty.ratio"
  | "min.insync.replicas"
  | "unclean.leader.election.enable"
  | "leader.replication.throttled.replicas"
  | "follower.replication.throttled.replicas"
  | "file.delete.delay.ms"
  | "preallocate"
  | "segment.jitter.ms"
  | "flush.messages"
  | "compression.gzip.level"
  | "compression.lz4.level"
  | "compression.zstd.level"
  | "message.timestamp.type"
  | "message.timestamp.before.max.ms"
  | "message.timestamp.after.max.ms"
  | "remote.storage.enable"
  | "local.retention.ms"
  | "local.retention.bytes";

export const KAFKA_INERT_TOPIC_CONFIGS: Readonly<
  Record<KafkaInertTopicConfigKey, Readonly<KafkaTopicConfigInfo>>
> = {
  "delete.retention.ms": {
    kind: "long",
    default: "86400000",
    min: 0,
    max: LONG_MAX,
    doc:
      "How long a tombstone stays readable in a compacted log after the clean that first kept it.",
  },
  "min.compaction.lag.ms": {
    kind: "long",
    default: "0",
    min: 0,
    max: LONG_MAX,
    doc: "The least age of a record before the cleaner may compact it away.",
  },
  "max.compaction.lag.ms": {
    kind: "long",
    default: LONG_MAX_TEXT,
    min: 1,
    max: LONG_MAX,
    doc: "The most age of a dirty record before its log is cleaned, however clean it is.",
  },
  "min.cleanable.dirty.ratio": {
    kind: "double",
    default: "0.5",
    min: 0,
    max: 1,
    doc: "The dirty share of a log's closed bytes above which the cleaner compacts it.",
  },
  "min.insync.replicas": {
    kind: "int",
    default: "1",
    min: 1,
    max: 1,
    doc: "Kafka: replicas acks=all waits for; a single node has 1 (more is refused).",
  },
  "unclean.leader.election.enable": {
    kind: "boolean",
    default: "false",
    doc: "Kafka: whether an out-of-sync replica may lead (one replica: no effect).",
  },
  "leader.replication.throttled.replicas": {
    kind: "list",
    default: "",
    doc: "Kafka: replicas throttled on the leader side (one replica: no effect).",
  },
  "follower.replication.throttled.replicas": {
    kind: "list",
    default: "",
    doc: "Kafka: replicas throttled on the follower side (one replica: no effect).",
  },
  "file.delete.delay.ms": {
    kind: "long",
    default: "60000",
    min: 0,
    max: LONG_MAX,
    doc: "Kafka: the delay before a deleted segment's files go (Sluice deletes at once).",
  },
  "preallocate": {
    kind: "boolean",
    default: "false",
    doc: "Kafka: preallocate segment files (Sluice does not: no effect).",
  },
  "segment.jitter.ms": {
    kind: "long",
    default: "0",
    min: 0,
    max: LONG_MAX,
    doc: "Kafka: random jitter subtracted from segment.ms (no effect).",
  },
  "flush.messages": {
    kind: "long",
    default: LONG_MAX_TEXT,
    min: 1,
    max: LONG_MAX,
    doc: "Kafka: fsync every N messages (Sluice: flush.policy and flush.ms decide).",
  },
  "compression.gzip.level": {
    kind: "int",
    default: "-1",
    min: -1,
    max: 9,
    doc: "Kafka: gzip level when the broker recompresses (Sluice stores batches as sent).",
  },
  "compression.lz4.level": {
    kind: "int",
    default: "9",
    min: 1,
    max: 17,
    doc: "Kafka: lz4 level when the broker recompresses (Sluice stores batches as sent).",
  },
  "compression.zstd.level": {
    kind: "int",
    default: "3",
    min: -131072,
    max: 22,
    doc: "Kafka: zstd level when the broker recompresses (Sluice stores batches as sent).",
  },
  "message.timestamp.type": {
    kind: "enum",
    default: "CreateTime",
    values: ["CreateTime"],
    doc: "Kafka: CreateTime or LogAppendTime; Sluice keeps the producer's (CreateTime) only.",
  },
  "message.timestamp.before.max.ms": {
    kind: "long",
    default: LONG_MAX_TEXT,
    min: 0,
    max: LONG_MAX,
    doc: "Kafka: how far in the past a timestamp may be (not checked yet: no effect).",
  },
  "message.timestamp.after.max.ms": {
    kind: "long",
    default: "3600000",
    min: 0,
    max: LONG_MAX,
    doc: "Kafka: how far in the future a timestamp may be (not checked yet: no effect).",
  },
  "remote.storage.enable": {
    kind: "boolean",
    default: "false",
    values: ["false"],
    doc: "Kafka: tiered storage; Sluice has no remote tier (true is refused).",
  },
  "local.retention.ms": {
    kind: "long",
    default: "-2",
    min: -2,
    max: LONG_MAX,
    doc: "Kafka: local retention under tiered storage (no remote tier: no effect).",
  },
  "local.retention.bytes": {
    kind: "long",
    default: "-2",
    min: -2,
    max: LONG_MAX,
    doc: "Kafka: local retention under tiered storage (no remote tier: no effect).",
  },
};

export function isKafkaInertTopicConfig(key: string): key is KafkaInertTopicConfigKey {
  return Object.hasOwn(KAFKA_INERT_TOPIC_CONFIGS, key);
}

/**
 * The value as Kafka shows it, or INVALID_CONFIG naming the key and what it takes. `replicated`
 * (a cluster's broker): min.insync.replicas takes any positive int, as Kafka's does.
 */
export function checkKafkaInertTopicConfig(
  key: KafkaInertTopicConfigKey,
  raw: unknown,
  replicated = false,
): string {
  let info: KafkaTopicConfigInfo = KAFKA_INERT_TOPIC_CONFIGS[key];
  if (replicated && key === "min.insync.replicas") info = { ...info, max: INT_MAX };
  const text = typeof raw === "string" ? raw.trim() : typeof raw === "number" ||
      typeof raw === "boolean"
    ? String(raw)
    : undefined;
  const refuse = (what: string): never => {
    throw new SluiceError("INVALID_CONFIG", `topic config ${key}: ${what}`, { key });
  };
  if (text === undefined) return refuse("a string, number or boolean");
  switch (info.kind) {
    case "long":
    case "int": {
      if (!/^-?\d{1,19}$/.test(text)) refuse(`an integer, not ${JSON.stringify(text)}`);
      const n = BigInt(text);
      const min = BigInt(info.min ?? -LONG_MAX - 1n);
      const max = BigInt(info.max ?? (info.kind === "int" ? INT_MAX : LONG_MAX));
      if (n < min || n > max) refuse(`in [${min}, ${max}], not ${text}`);
      return n.toString();
    }
    case "double": {
      const n = Number(text);
      if (
        text === "" || !Number.isFinite(n) || n < (info.min ?? -Infinity) ||
        n > (info.max ?? Infinity)
      ) {
        refuse(`a number in [${info.min}, ${info.max}], not ${JSON.stringify(text)}`);
      }
      return String(n);
    }
    case "boolean": {
      const b = text.toLowerCase();
      if (b !== "true" && b !== "false") refuse(`true or false, not ${JSON.stringify(text)}`);
      if (info.values !== undefined && !info.values.includes(b)) {
        refuse(`only ${info.values.join(", ")} on Sluice`);
      }
      return b;
    }
    case "enum":
      if (!info.values!.includes(text)) {
        refuse(`only ${info.values!.join(", ")} on Sluice, not ${JSON.stringify(text)}`);
      }
      return text;
    case "list":
      return text;
  }
}
