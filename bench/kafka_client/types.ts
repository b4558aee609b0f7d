/** What the kafka-client suite's runs, outcome and options hold, and what a client driver does. */
import type { ServerInfo } from "../bench_server.ts";
import type { PeerResult, ProgressFn, ScenarioResult } from "../types.ts";
import type { ClientName, Mode } from "./settings.ts";

/** What bench/kafka_client.py prints for one direction of one run. */
export interface ClientRun {
  mode: Mode;
  records: number;
  bytes: number;
  seconds: number;
  recordsPerSec: number;
  MBps: number;
  clientCpuSeconds: number;
  /** consume: from subscribe(), the group join included; joinSeconds is that join. */
  totalSeconds?: number;
  joinSeconds?: number;
  client: string;
  clientBinding: string;
  /** librdkafka's statistics: request round trips, batch sizes, bytes on the wire. */
  stats: Record<string, number>;
}

export interface TargetRun extends ClientRun {
  clientName: ClientName;
  target: "sluice" | "kafka";
  topic: string;
  /** The server's CPU seconds over the client process's life (Sluice only: a local pid). */
  serverCpuSeconds?: number;
}

export interface KafkaClientBenchOutcome {
  /** Why librdkafka did not run (no python3, no confluent_kafka): a note, not an error. */
  skipped?: string;
  /** Which clients ran. */
  clients: ClientName[];
  python: string;
  client?: { librdkafka: string; binding: string };
  records: number;
  recordSizeBytes: number;
  /** Measured runs a direction, per client. */
  measuredRuns: Partial<Record<ClientName, number>>;
  settings: Record<string, Record<string, string | number | boolean>>;
  /** The Sluice server's start and stop (exit code), when it ran. */
  server?: ServerInfo;
  /** host:port of the peer Kafka (KAFKA_BROKERS), when set. */
  kafkaBrokers?: string;
  /** Why the peer runs failed; the Sluice figures stand. */
  peerError?: string;
  runs: TargetRun[];
  scenarios: ScenarioResult[];
  peers: PeerResult[];
}

export interface KafkaClientBenchOptions {
  quick: boolean;
  progress?: ProgressFn;
  log?: (line: string) => void;
  /** host:port[,host:port] of a Kafka to run the same client against. */
  kafkaBrokers?: string;
  cpuProfileDir?: string;
  /** Adds the kafkajs runs (default true). */
  kafkajs?: boolean;
}
/** One client: one direction of one run, and a topic's clean-up on a real cluster. */
export interface Driver {
  name: ClientName;
  run(bootstrap: string, topic: string, mode: Mode, records: number): Promise<ClientRun>;
  deleteTopic(bootstrap: string, topic: string): Promise<void>;
}
