/**
 * What the Kafka handlers share: the broker (idempotence included), the Kafka-protocol group
 * coordinators (classic and consumer), producer-id allocation, the fetch sessions, and the
 * listener's own settings.
 */
import type { Broker } from "../broker/broker.ts";
import type { ConsumerGroupCoordinator } from "../broker/groups/consumer_coordinator.ts";
import type { ClassicGroupCoordinator } from "../broker/groups/classic/coordinator.ts";
import type { ProducerIdAllocator } from "../broker/producer_ids.ts";
import type { Logger } from "../logger.ts";
import type { FetchSessionCache } from "./fetch_sessions.ts";

export interface KafkaListenerSettings {
  /** The address clients are told to connect to (Metadata, FindCoordinator). */
  advertisedHost: string;
  /** Set once the listener is bound (port 0 picks one). */
  advertisedPort: number;
  /** Stable per data dir (Metadata's cluster_id). */
  clusterId: string;
  /** auto.create.topics.enable: Metadata and Produce create missing topics. */
  autoCreateTopics: boolean;
  /** num.partitions: partitions of an auto-created topic, and of CreateTopics with -1. */
  defaultPartitions: number;
}

/** auto.create.topics.enable, as Kafka's default. */
export const AUTO_CREATE_TOPICS_DEFAULT = true;
/** num.partitions, as Kafka's default. */
export const DEFAULT_PARTITIONS_DEFAULT = 1;

/** The single broker's node id (Metadata's broker list, leader of every partition). */
export const NODE_ID = 0;

export interface KafkaContext {
  readonly broker: Broker;
  readonly groups: ClassicGroupCoordinator;
  /** KIP-848 `consumer`-protocol groups (ConsumerGroupHeartbeat). */
  readonly consumerGroups: ConsumerGroupCoordinator;
  readonly producerIds: ProducerIdAllocator;
  /** Incremental fetch sessions (KIP-227): the listener's protocol state. */
  readonly fetchSessions: FetchSessionCache;
  readonly settings: KafkaListenerSettings;
  readonly logger: Logger;
}
