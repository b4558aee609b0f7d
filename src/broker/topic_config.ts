/**
 * Topic configs as Kafka names them, validated at the broker's edge, and their mapping to
 * the storage layer's LogConfig. Values may come as numbers or as numeric strings (Kafka's admin
 * tools send strings). Kafka's other standard topic configs are accepted, checked and kept as
 * strings but change nothing yet (kafka_topic_configs.ts says why, for each). Unknown keys are
 * refused, so a typo never silently means "default".
 */
import { SluiceError } from "../errors.ts";
import { BATCH_BYTES_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN } from "../limits.ts";
import { DEFAULT_LOG_CONFIG, type LogConfig, resolveLogConfig } from "../storage/log_config.ts";
import {
  checkKafkaInertTopicConfig,
  isKafkaInertTopicConfig,
  type KafkaInertTopicConfigKey,
} from "./kafka_topic_configs.ts";

/** cleanup.policy as Kafka keeps a list: items trimmed, empty ones and repeats dropped. */
function cleanupPolicy(text: string): string {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  return [...new Set(items)].join(",");
}

/** Whether a topic's cleanup.policy holds `item`. */
export function hasPolicy(config: Readonly<TopicConfig>, item: "compact" | "delete"): boolean {
  return config["cleanup.policy"].split(",").includes(item);
}

/** A Kafka long config (kept as a string) as a number: Long.MAX and beyond clamp to 2^53 - 1. */
function longOf(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n;
}

/**
 * What one config key takes: a Kafka int or long (a number, or a numeric string as Kafka's admin
 * tools send) within [min, max], or one of a few words. Checked by hand, not with zod: the broker
 * is part of every server's start-up, and zod is several MB of idle RSS (issue 17).
 */
type KeyRule =
  | { kind: "int"; min: number; max: number }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "cleanup" };

const int = (min: number, max: number): KeyRule => ({ kind: "int", min, max });

/** The keys Sluice acts on, each with what it takes (every one optional). */
const KEY_RULES: Readonly<Record<string, KeyRule>> = {
  "retention.ms": int(-1, Number.MAX_SAFE_INTEGER),
  "retention.bytes": int(-1, Number.MAX_SAFE_INTEGER),
  "segment.bytes": int(SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX),
  "segment.ms": int(1, Number.MAX_SAFE_INTEGER),
  "segment.index.bytes": int(8, SEGMENT_BYTES_MAX),
  "index.interval.bytes": int(0, SEGMENT_BYTES_MAX),
  "max.message.bytes": int(61, BATCH_BYTES_MAX),
  "compression.type": { kind: "enum", values: ["producer", "none", "lz4"] },
  "cleanup.policy": { kind: "cleanup" },
  "flush.policy": { kind: "enum", values: ["none", "interval", "always"] },
  "flush.ms": int(0, Number.MAX_SAFE_INTEGER),
};

const INTEGER_TEXT = /^-?\d+$/;
const CLEANUP_POLICY = /^(compact|delete)(,(compact|delete))?$/;

/** One key's value as the config keeps it; throws the message of what is wrong with it. */
function checkValue(rule: KeyRule, value: unknown): unknown {
  switch (rule.kind) {
    case "int": {
      let n: number;
      if (typeof value === "number") n = value;
      else if (typeof value === "string" && INTEGER_TEXT.test(value)) n = Number(value);
      else throw new Error(`expected an integer, received ${describe(value)}`);
      if (!Number.isInteger(n)) throw new Error(`expected an integer, received ${n}`);
      if (n < rule.min) throw new Error(`too small: expected a number >= ${rule.min}`);
      if (n > rule.max) throw new Error(`too big: expected a number <= ${rule.max}`);
      return n;
    }
    case "enum":
      if (typeof value === "string" && rule.values.includes(value)) return value;
      throw new Error(`expected one of ${rule.values.map((v) => `"${v}"`).join("|")}`);
    case "cleanup": {
      if (typeof value !== "string") {
        throw new Error(`expected a string, received ${describe(value)}`);
      }
      const policy = cleanupPolicy(value);
      if (!CLEANUP_POLICY.test(policy)) {
        throw new Error("a list of compact and delete: delete, compact, or compact,delete");
      }
      return policy;
    }
  }
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/** A partial config of the keys Sluice acts on; throws INVALID_CONFIG naming the first bad key. */
function checkKeys(input: unknown): Partial<TopicConfig> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new SluiceError(
      "INVALID_CONFIG",
      `topic config : expected an object, received ${describe(input)}`,
      { key: "" },
    );
  }
  const out: Record<string, unknown> = {};
  const entries = input as Record<string, unknown>;
  for (const [key, rule] of Object.entries(KEY_RULES)) {
    const value = entries[key];
    if (value === undefined) continue;
    try {
      out[key] = checkValue(rule, value);
    } catch (err) {
      throw new SluiceError("INVALID_CONFIG", `topic config ${key}: ${(err as Error).message}`, {
        key,
      });
    }
  }
  const unknown = Object.keys(entries).filter((k) => !Object.hasOwn(KEY_RULES, k));
  if (unknown.length > 0) {
    const key = unknown.join(", ");
    throw new SluiceError("INVALID_CONFIG", `unknown topic config ${key}`, { key });
  }
  return out as Partial<TopicConfig>;
}

/** What a topic config may be given as: numbers or numeric strings, Kafka's names. */
export type TopicConfigInput = Partial<Record<keyof TopicConfig, string | number>>;

/**
 * A topic's effective config: every key Sluice acts on present, and the Kafka configs it keeps
 * without acting on them (kafka_topic_configs.ts) where they were set.
 */
export interface TopicConfig extends Partial<Record<KafkaInertTopicConfigKey, string>> {
  "retention.ms": number;
  "retention.bytes": number;
  "segment.bytes": number;
  "segment.ms": number;
  "segment.index.bytes": number;
  "index.interval.bytes": number;
  "max.message.bytes": number;
  /**
   * How Sluice's own batches (HTTP produce) are compressed: "producer" and "none" uncompressed,
   * "lz4" LZ4. Kafka clients' batches are stored as they were sent whatever it says (Kafka's
   * "producer"; Sluice does not recompress them).
   */
  "compression.type": "producer" | "none" | "lz4";
  /**
   * delete (retention deletes old segments), compact (the cleaner keeps each key's latest record;
   * records without a key are refused), or both, as Kafka's list ("compact,delete").
   */
  "cleanup.policy": string;
  "flush.policy": LogConfig["flushPolicy"];
  "flush.ms": number;
}

export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = Object.freeze({
  "retention.ms": DEFAULT_LOG_CONFIG.retentionMs,
  "retention.bytes": DEFAULT_LOG_CONFIG.retentionBytes,
  "segment.bytes": DEFAULT_LOG_CONFIG.segmentBytes,
  "segment.ms": DEFAULT_LOG_CONFIG.segmentMs,
  "segment.index.bytes": DEFAULT_LOG_CONFIG.segmentIndexBytes,
  "index.interval.bytes": DEFAULT_LOG_CONFIG.indexIntervalBytes,
  "max.message.bytes": DEFAULT_LOG_CONFIG.maxMessageBytes,
  "compression.type": "producer",
  "cleanup.policy": "delete",
  "flush.policy": DEFAULT_LOG_CONFIG.flushPolicy,
  "flush.ms": DEFAULT_LOG_CONFIG.flushMs,
});

/** Validates user input and fills defaults; throws INVALID_CONFIG naming the first bad key. */
export function parseTopicConfig(
  input: unknown,
  defaults: Readonly<TopicConfig> = DEFAULT_TOPIC_CONFIG,
  options: { replicated?: boolean } = {},
): TopicConfig {
  const own: Record<string, unknown> = {};
  const kept: Partial<Record<KafkaInertTopicConfigKey, string>> = {};
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    for (const [k, v] of Object.entries(input)) {
      if (isKafkaInertTopicConfig(k)) {
        kept[k] = checkKafkaInertTopicConfig(k, v, options.replicated);
      } else own[k] = v;
    }
  }
  const parsed = checkKeys(
    typeof input === "object" && input !== null && !Array.isArray(input) ? own : input ?? {},
  );
  const config = { ...defaults } as TopicConfig;
  for (const [k, v] of Object.entries(parsed)) {
    if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
  }
  Object.assign(config, kept);
  toLogConfig(config); // cross-field checks of the storage layer
  return config;
}

export function toLogConfig(config: TopicConfig): LogConfig {
  return resolveLogConfig({
    retentionMs: config["retention.ms"],
    retentionBytes: config["retention.bytes"],
    segmentBytes: config["segment.bytes"],
    segmentMs: config["segment.ms"],
    segmentIndexBytes: config["segment.index.bytes"],
    indexIntervalBytes: config["index.interval.bytes"],
    maxMessageBytes: config["max.message.bytes"],
    flushPolicy: config["flush.policy"],
    flushMs: config["flush.ms"],
    compact: hasPolicy(config, "compact"),
    delete: hasPolicy(config, "delete"),
    deleteRetentionMs: longOf(config["delete.retention.ms"], DEFAULT_LOG_CONFIG.deleteRetentionMs),
    minCompactionLagMs: longOf(
      config["min.compaction.lag.ms"],
      DEFAULT_LOG_CONFIG.minCompactionLagMs,
    ),
    maxCompactionLagMs: longOf(
      config["max.compaction.lag.ms"],
      DEFAULT_LOG_CONFIG.maxCompactionLagMs,
    ),
    minCleanableDirtyRatio: Number(
      config["min.cleanable.dirty.ratio"] ?? DEFAULT_LOG_CONFIG.minCleanableDirtyRatio,
    ),
  });
}
