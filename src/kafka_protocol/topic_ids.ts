/**
 * Kafka topic ids (the 16-byte UUIDs of Metadata v10+, ConsumerGroupHeartbeat and
 * ConsumerGroupDescribe) for Sluice's topics: the random UUID a topic got at creation (topic.json's
 * `id`); a topic stored before ids existed gets one derived from its name (SHA-256, shaped as a
 * version-4 UUID), stable across restarts. A deleted and recreated topic gets a new id.
 */
import { createHash } from "node:crypto";
import type { Topic, TopicRegistry } from "../broker/topic_registry.ts";

export const ZERO_UUID = new Uint8Array(16);

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseUuid(text: string): Uint8Array | undefined {
  if (!UUID_TEXT.test(text)) return undefined;
  const hex = text.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const cache = new WeakMap<Topic, Uint8Array>();

/** The topic's id as Kafka's 16 bytes (never all zeros: Kafka's "no id"). */
export function topicIdOf(topic: Topic): Uint8Array {
  let id = cache.get(topic);
  if (id !== undefined) return id;
  id = parseUuid(topic.meta.id);
  if (id === undefined || id.every((b) => b === 0)) {
    id = new Uint8Array(createHash("sha256").update(`sluice-topic:${topic.name}`).digest())
      .slice(0, 16);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
  }
  cache.set(topic, id);
  return id;
}

/** Hex of 16 bytes, as a map key. */
export function uuidKey(id: Uint8Array): string {
  let s = "";
  for (const b of id) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The live topic with this id, or undefined (unknown, or deleted). */
export function topicById(topics: TopicRegistry, id: Uint8Array): Topic | undefined {
  const key = uuidKey(id);
  return topics.list().find((t) => uuidKey(topicIdOf(t)) === key);
}
