/**
 * A topic's config overrides: the keys set on the topic itself (at creation, by AlterConfigs or
 * IncrementalAlterConfigs, by `PATCH /v1/topics/{topic}`), as Kafka keeps them. The effective
 * config is the server's topic defaults with the overrides laid over them (parseTopicConfig), so a
 * key never set follows the server's default, and DescribeConfigs can say where each value comes
 * from: the topic (DYNAMIC_TOPIC_CONFIG), the server's settings (STATIC_BROKER_CONFIG) or the
 * built-in default (DEFAULT_CONFIG).
 *
 * Overrides are stored as the strings Kafka shows (`{"retention.ms": "3600000"}`), canonical: a
 * value is parsed and printed back, so "0100" is kept as "100" and two brokers compare equal
 * configs as equal.
 *
 * Changes, with Kafka's rules (ConfigAdminManager, KIP-339):
 * - AlterConfigs replaces the whole set: keys it leaves out go back to their defaults;
 * - IncrementalAlterConfigs applies operations: SET (0) a value, DELETE (1) the override (the key
 *   goes back to its default), APPEND (2) and SUBTRACT (3) items of a list config
 *   (cleanup.policy and the throttled-replica lists; INVALID_CONFIG for any other key), starting
 *   from the default when the key is not set.
 * A key named twice in one resource, or a null value (other than for DELETE), is INVALID_REQUEST;
 * an unknown key or a bad value INVALID_CONFIG; nothing is changed then.
 */
import { SluiceError } from "../errors.ts";
import { KAFKA_INERT_TOPIC_CONFIGS, type KafkaInertTopicConfigKey } from "./kafka_topic_configs.ts";
import { DEFAULT_TOPIC_CONFIG, parseTopicConfig, type TopicConfig } from "./topic_config.ts";

/** Keys set on the topic itself, as Kafka prints their values. */
export type TopicOverrides = Record<string, string>;

/** IncrementalAlterConfigs' operation codes (Kafka's AlterConfigOp.OpType). */
export const ConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

export interface ConfigChange {
  name: string;
  op: number;
  /** null only for DELETE. */
  value: string | null;
}

/** The list-typed topic configs: the only ones APPEND and SUBTRACT apply to. */
const LIST_CONFIGS: ReadonlySet<string> = new Set([
  "cleanup.policy",
  ...(Object.keys(KAFKA_INERT_TOPIC_CONFIGS) as KafkaInertTopicConfigKey[]).filter((k) =>
    KAFKA_INERT_TOPIC_CONFIGS[k].kind === "list"
  ),
]);

export interface ParsedOverrides {
  overrides: TopicOverrides;
  config: TopicConfig;
}

/**
 * Checks `input` (an object of config keys to numbers or strings) against `defaults` and returns
 * the canonical overrides with the effective config; INVALID_CONFIG naming the first bad key.
 */
export function parseOverrides(
  input: unknown,
  defaults: Readonly<TopicConfig> = DEFAULT_TOPIC_CONFIG,
  options: { replicated?: boolean } = {},
): ParsedOverrides {
  const config = parseTopicConfig(input, defaults, options);
  const overrides: TopicOverrides = {};
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    for (const key of Object.keys(input).sort()) {
      overrides[key] = String((config as unknown as Record<string, unknown>)[key]);
    }
  }
  return { overrides, config };
}

/**
 * The overrides a topic.json written before overrides were kept (a config with every key filled)
 * stands for: the keys whose value differs from the built-in default, as DescribeConfigs showed
 * them then.
 */
export function overridesFromFilled(filled: Readonly<TopicConfig>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const defaults = DEFAULT_TOPIC_CONFIG as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(filled)) {
    if (value !== undefined && value !== defaults[key]) out[key] = value;
  }
  return out;
}

function invalidRequest(message: string): SluiceError {
  return new SluiceError("INVALID_REQUEST", message);
}

/**
 * What Kafka's broker checks of one resource's changes before anything else (before rights, the
 * resource's type and existence): no key twice, and no null value (for IncrementalAlterConfigs,
 * other than with DELETE); INVALID_REQUEST otherwise.
 */
export function checkConfigNames(
  configs: readonly { name: string; value: string | null; configOperation?: number }[],
): void {
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.name)) throw invalidRequest("Error due to duplicate config keys");
    seen.add(c.name);
  }
  const nulls = configs.filter((c) => c.value === null && c.configOperation !== ConfigOp.DELETE);
  if (nulls.length > 0) {
    throw invalidRequest(`Null value not supported for : ${nulls.map((c) => c.name).join(", ")}`);
  }
}

/** AlterConfigs: the new set replaces the old one whole. Duplicates and nulls: INVALID_REQUEST. */
export function replaceOverrides(
  configs: readonly { name: string; value: string | null }[],
): Record<string, string> {
  checkConfigNames(configs);
  const out: Record<string, string> = {};
  for (const { name, value } of configs) out[name] = value!;
  return out;
}

function listItems(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * IncrementalAlterConfigs: `changes` applied to `current` (the topic's overrides), with the
 * built-in or server `defaults` as the base of a list that is not set. Returns the new overrides
 * (unchecked values: parseOverrides checks them).
 */
export function applyConfigChanges(
  current: Readonly<TopicOverrides>,
  changes: readonly ConfigChange[],
  defaults: Readonly<TopicConfig> = DEFAULT_TOPIC_CONFIG,
): Record<string, string> {
  checkConfigNames(changes.map((c) => ({ ...c, configOperation: c.op })));
  const next: Record<string, string> = { ...current };
  for (const c of changes) {
    switch (c.op) {
      case ConfigOp.SET:
        next[c.name] = c.value!;
        break;
      case ConfigOp.DELETE:
        delete next[c.name];
        break;
      case ConfigOp.APPEND:
      case ConfigOp.SUBTRACT: {
        if (!LIST_CONFIGS.has(c.name)) {
          // Kafka 4.4's controller's words (ConfigurationControlManager).
          const op = c.op === ConfigOp.APPEND ? "APPEND" : "SUBTRACT";
          throw new SluiceError(
            "INVALID_CONFIG",
            `Can't ${op} to key ${c.name} because its type is not LIST.`,
            { key: c.name },
          );
        }
        const base = next[c.name] ?? defaultText(c.name, defaults);
        const items = listItems(base);
        const given = listItems(c.value!);
        const result = c.op === ConfigOp.APPEND
          ? [...items, ...given.filter((v) => !items.includes(v))]
          : items.filter((v) => !given.includes(v));
        next[c.name] = result.join(",");
        break;
      }
      default:
        throw invalidRequest(`Unknown operations type ${c.op}`);
    }
  }
  return next;
}

/** The value a key has when the topic does not set it, as Kafka prints it ("" when none). */
function defaultText(key: string, defaults: Readonly<TopicConfig>): string {
  const own = (defaults as unknown as Record<string, unknown>)[key];
  if (own !== undefined) return String(own);
  const inert = (KAFKA_INERT_TOPIC_CONFIGS as Record<string, { default: string }>)[key];
  return inert?.default ?? "";
}
