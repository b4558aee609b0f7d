/**
 * The Kafka side-by-side suite's workload (bench/kafka_side_bench.ts explains it): record counts,
 * sizes, acks, the clients' settings and the JVM options, the same against Sluice and Kafka, and
 * the scenario names.
 */
import { sizeLabel } from "../bench_util.ts";
import { CONSUMER_SETTINGS, PRODUCER_SETTINGS } from "../kafka_client/settings.ts";

export type Acks = "1" | "all";
/** librdkafka through confluent-kafka (Python), librdkafka through node-rdkafka, Kafka's tools. */
export type Client = "librdkafka" | "node-rdkafka" | "java";
export type Mode = "produce" | "consume" | "e2e-latency";
export type Target = "sluice" | "kafka";

export interface KafkaSidePlan {
  /** Records a produce (and its consume) run moves. */
  records: number;
  recordSizes: number[];
  /** Producer acks; consumers read the topic the first acks' produce wrote. */
  acks: Acks[];
  /** Messages EndToEndLatency sends, one at a time. */
  e2eRecords: number;
  e2eRecordSize: number;
  /** Rounds of the whole matrix (the median is reported); each round uses fresh topics. */
  rounds: number;
  /**
   * Records each server takes, unmeasured, before the matrix (produced and consumed by the first
   * client, the first size): a JVM broker compiles its hot paths on first use; 0: none.
   */
  warmupRecords: number;
  clients: Client[];
}

/** The full run: 1,000,000 records of 100 B and 1 KiB, acks=1 and acks=all. */
export const FULL_PLAN: KafkaSidePlan = {
  records: 1_000_000,
  recordSizes: [100, 1024],
  acks: ["1", "all"],
  e2eRecords: 5_000,
  e2eRecordSize: 100,
  rounds: 1,
  warmupRecords: 500_000,
  clients: ["librdkafka", "node-rdkafka", "java"],
};

/** --quick: 100,000 x 100 B, acks=1 only (about 1-2 min on 2 cores, both servers' start-up in). */
export const QUICK_PLAN: KafkaSidePlan = {
  records: 100_000,
  recordSizes: [100],
  acks: ["1"],
  e2eRecords: 1_000,
  e2eRecordSize: 100,
  rounds: 1,
  warmupRecords: 50_000,
  clients: ["librdkafka", "node-rdkafka", "java"],
};

/**
 * The librdkafka producer's settings (the kafka-client suite's: linger.ms=5, 1 MiB batches), for
 * both librdkafka clients.
 */
export function librdkafkaProducerSettings(acks: Acks): Record<string, string | number | boolean> {
  return { ...PRODUCER_SETTINGS, acks };
}
export const LIBRDKAFKA_CONSUMER_SETTINGS = CONSUMER_SETTINGS;

/**
 * Kafka's Java tools' own defaults but acks (batch.size 16 KiB, linger.ms 5, idempotence on when
 * acks=all, off with acks=1): the tools as Kafka ships them.
 */
export function javaProducerProps(acks: Acks): Record<string, string> {
  return { acks };
}

/**
 * The JVM options Kafka's own scripts give the perf tools: kafka-producer-perf-test.sh and
 * kafka-consumer-perf-test.sh set -Xmx512M; kafka-run-class.sh's default performance options
 * (G1, both JIT tiers). Our launcher's own tool default (serial GC, C1 only) suits short admin
 * commands, not a throughput test.
 */
export const JAVA_TOOL_ENV: Record<string, string> = {
  KAFKA_HEAP_OPTS: "-Xmx512M",
  KAFKA_JVM_PERFORMANCE_OPTS: "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 " +
    "-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent " +
    "-XX:MaxInlineLevel=15 -Djava.awt.headless=true",
};

/** The broker's heap as kafka-server-start.sh sets it when KAFKA_HEAP_OPTS is unset. */
export const KAFKA_BROKER_ENV: Record<string, string> = {
  KAFKA_HEAP_OPTS: "-Xmx1G -Xms1G",
};

/** A client run: at worst 1,000,000 x 1 KiB at 10,000 records/s, plus a JVM's start. */
export const CLIENT_TIMEOUT_MS = 150_000;
/** EndToEndLatency: 5,000 round trips at 20 ms each at worst. */
export const E2E_TIMEOUT_MS = 150_000;
/** kafkajs admin calls (topic creation) and the probes. */
export const ADMIN_TIMEOUT_MS = 30_000;

export const SCENARIO_PREFIX = "vs-kafka";

/**
 * `vs-kafka.produce.100B.acks-1.librdkafka`, `vs-kafka.consume.1KiB.java`,
 * `vs-kafka.e2e-latency.100B.acks-1.java`.
 */
export function scenarioName(mode: Mode, size: number, client: Client, acks?: Acks): string {
  const a = acks === undefined ? "" : `.acks-${acks}`;
  return `${SCENARIO_PREFIX}.${mode}.${sizeLabel(size)}${a}.${client}`;
}
