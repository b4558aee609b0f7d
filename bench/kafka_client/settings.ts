/**
 * The kafka-client suite's workload and client settings, the same against Sluice and against a
 * peer Kafka (bench/kafka_client_bench.ts explains each choice), and its scenario names.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** bench/, where kafka_client.py is. */
const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const CLIENT_SCRIPT = join(BENCH_DIR, "kafka_client.py");
/** Debian's interpreter, which has python3-confluent-kafka (a pyenv python3 on PATH may not). */
export const PYTHON_DEFAULT = "/usr/bin/python3";
export const PYTHON_ENV = "SLUICE_BENCH_PYTHON";

export const VALUE_BYTES = 100;
export const RECORDS_FULL = 1_000_000;
export const RECORDS_QUICK = 100_000;
/** Measured runs a direction: full, per client (kafkajs produces ~50,000 records/s: one run). */
export const RUNS_FULL: Record<ClientName, number> = { librdkafka: 3, kafkajs: 1 };
export const RUNS_QUICK = 1;
/** One direction of one run (1,000,000 records at the slowest plausible 10,000 records/s). */
export const CLIENT_TIMEOUT_MS = 120_000;
export const PROBE_TIMEOUT_MS = 10_000;
/** The client's stderr (librdkafka's log lines) kept for an error message. */
export const STDERR_CHARS_MAX = 4_096;

/** The producer's settings, the same against Sluice and Kafka (see the module doc). */
export const PRODUCER_SETTINGS: Record<string, string | number | boolean> = {
  "acks": "all",
  "linger.ms": 5,
  "batch.size": 1_048_576,
  "compression.type": "none",
  "enable.idempotence": false,
};
/** The consumer's settings beyond librdkafka's defaults. */
export const CONSUMER_SETTINGS: Record<string, string | number | boolean> = {
  "auto.offset.reset": "earliest",
  "enable.auto.commit": false,
  "queued.min.messages": 1_000_000,
};

/** kafkajs's producer and consumer settings (see the module doc). */
export const KAFKAJS_PRODUCER_SETTINGS: Record<string, string | number | boolean> = {
  "acks": -1,
  "compression": "none",
  "idempotent": false,
  "recordsPerSend": 8_000,
  "sendsInFlight": 4,
};
export const KAFKAJS_CONSUMER_SETTINGS: Record<string, string | number | boolean> = {
  "fromBeginning": true,
  "autoCommit": false,
  "maxBytesPerPartition": 1_048_576,
  "maxBytes": 52_428_800,
  "maxWaitTimeInMs": 500,
};
export const KAFKAJS_VERSION = "kafkajs 2.2.4";
export const KAFKAJS_VALUES_SEED = 42;
export const KAFKAJS_DISTINCT_VALUES = 1_000;

export type ClientName = "librdkafka" | "kafkajs";
export type Mode = "produce" | "consume";
export const MODES: readonly Mode[] = ["produce", "consume"];
export function scenarioName(mode: Mode, client: ClientName): string {
  return `kafka.${mode}.${VALUE_BYTES}B.${client}`;
}

export function settingsOf(
  client: ClientName,
  mode: Mode,
): Record<string, string | number | boolean> {
  if (client === "kafkajs") {
    return mode === "produce" ? KAFKAJS_PRODUCER_SETTINGS : KAFKAJS_CONSUMER_SETTINGS;
  }
  return mode === "produce" ? PRODUCER_SETTINGS : CONSUMER_SETTINGS;
}
