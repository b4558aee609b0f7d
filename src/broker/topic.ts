/**
 * A topic as the broker serves it: its metadata (name, partition count, effective config and
 * overrides, id) and one partition log per partition, with its counters for /metrics.
 */
import { SluiceError } from "../errors.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../limits.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import type { TopicConfig } from "./topic_config.ts";
import type { TopicOverrides } from "./topic_overrides.ts";

export interface TopicMeta {
  name: string;
  partitions: number;
  /** The effective config: the server's topic defaults with the overrides over them. */
  config: TopicConfig;
  /** The keys set on the topic itself (topic_overrides.ts). */
  overrides: TopicOverrides;
  createdMs: number;
  id: string;
}

/** Per-topic counters for /metrics. */
export class TopicStats {
  recordsIn = 0;
  bytesIn = 0;
  recordsOut = 0;
  bytesOut = 0;
}

export class Topic {
  readonly stats = new TopicStats();
  #deleted = false;
  readonly #logs: PartitionLog[];

  constructor(readonly meta: TopicMeta, logs: PartitionLog[]) {
    this.#logs = logs;
  }

  /** One log per partition; CreatePartitions adds to it (TopicRegistry.addPartitions). */
  get logs(): readonly PartitionLog[] {
    return this.#logs;
  }

  /** The new partitions' logs, in order, once they are on disk and in topic.json. */
  addLogs(logs: readonly PartitionLog[]): void {
    this.#logs.push(...logs);
    this.meta.partitions = this.#logs.length;
  }

  get name(): string {
    return this.meta.name;
  }

  get config(): TopicConfig {
    return this.meta.config;
  }

  get deleted(): boolean {
    return this.#deleted;
  }

  markDeleted(): void {
    this.#deleted = true;
  }

  /** The partition's log; PARTITION_NOT_FOUND for anything but an integer in range. */
  partition(p: number): PartitionLog {
    if (this.#deleted) throw topicNotFound(this.name);
    if (!Number.isInteger(p) || p < 0 || p >= this.logs.length) {
      throw new SluiceError(
        "PARTITION_NOT_FOUND",
        `topic ${this.name} has partitions 0..${this.logs.length - 1}, not ${p}`,
        { topic: this.name, partition: String(p) },
      );
    }
    return this.logs[p];
  }
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic name rule; throws INVALID_TOPIC_NAME. */
export function validateTopicName(name: unknown): string {
  if (typeof name !== "string" || !TOPIC_NAME.test(name) || name === "." || name === "..") {
    const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 300)) : typeof name;
    throw new SluiceError(
      "INVALID_TOPIC_NAME",
      `topic name ${shown} is invalid: use 1-249 characters of [a-zA-Z0-9._-], not "." or ".."`,
    );
  }
  return name;
}

/** A topic directory found at start that is not served, and why. */
export interface UnservedTopic {
  topic: string;
  file: string;
  reason: string;
}

/** CreatePartitions' count for `topic`, checked as Kafka does; INVALID_PARTITIONS. */
export function checkPartitionCount(topic: Topic, count: unknown): number {
  const now = topic.logs.length;
  if (typeof count !== "number" || !Number.isInteger(count)) {
    throw new SluiceError("INVALID_PARTITIONS", `partition count ${count} is not an integer`);
  }
  if (count === now) {
    throw new SluiceError("INVALID_PARTITIONS", `Topic already has ${now} partition(s).`);
  }
  if (count < now) {
    throw new SluiceError(
      "INVALID_PARTITIONS",
      `The topic ${topic.name} currently has ${now} partition(s); ${count} would not be an increase.`,
    );
  }
  if (count > PARTITIONS_PER_TOPIC_MAX) {
    throw new SluiceError(
      "INVALID_PARTITIONS",
      `a topic has at most ${PARTITIONS_PER_TOPIC_MAX} partitions, not ${count}`,
    );
  }
  return count;
}

export function topicNotFound(name: string): SluiceError {
  return new SluiceError("TOPIC_NOT_FOUND", `topic ${name} does not exist`, { topic: name });
}
