/**
 * Topic configs as Kafka names them, validated with zod at the broker's edge, and their mapping to
 * the storage layer's LogConfig. Values may come as numbers or as numeric strings (Kafka's admin
 * tools send strings). Kafka's other standard topic configs are accepted, checked and kept as
 * strings but change nothing yet (kafka_topic_configs.ts says why, for each). Unknown keys are
 * refused, so a typo never silently means "default".
 */
import { z } from "zod";
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

const int = (min: number, max: number) =>
  z.union([z.number(), z.string().regex(/^-?\d+$/).transform(Number)]).pipe(
    z.number().int().min(min).max(max),
  );

export const TopicConfigSchema = z.strictObject({
  "retention.ms": int(-1, Number.MAX_SAFE_INTEGER).optional(),
  "retention.bytes": int(-1, Number.MAX_SAFE_INTEGER).optional(),
  "segment.bytes": int(SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX).optional(),
  "segment.ms": int(1, Number.MAX_SAFE_INTEGER).optional(),
  "segment.index.bytes": int(8, SEGMENT_BYTES_MAX).optional(),
  "index.interval.bytes": int(0, SEGMENT_BYTES_MAX).optional(),
  "max.message.bytes": int(61, BATCH_BYTES_MAX).optional(),
  "compression.type": z.enum(["producer", "none", "lz4"]).optional(),
  "cleanup.policy": z.string().transform(cleanupPolicy).pipe(
    z.string().regex(/^(compact|delete)(,(compact|delete))?$/, {
      message: "a list of compact and delete: delete, compact, or compact,delete",
    }),
  ).optional(),
  "flush.policy": z.enum(["none", "interval", "always"]).optional(),
  "flush.ms": int(0, Number.MAX_SAFE_INTEGER).optional(),
});

export type TopicConfigInput = z.input<typeof TopicConfigSchema>;

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
  const parsed = TopicConfigSchema.safeParse(
    typeof input === "object" && input !== null && !Array.isArray(input) ? own : input ?? {},
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".");
    const message = issue.code === "unrecognized_keys"
      ? `unknown topic config ${key}`
      : `topic config ${key}: ${issue.message}`;
    throw new SluiceError("INVALID_CONFIG", message, { key });
  }
  const config = { ...defaults } as TopicConfig;
  for (const [k, v] of Object.entries(parsed.data)) {
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
