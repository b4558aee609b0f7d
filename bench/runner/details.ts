/**
 * The results file's shape beyond BenchReportStd (bench/types.ts): the `details` key, holding each
 * suite's own output and how the run went.
 */
import type { ClusterBenchOutcome } from "../cluster/types.ts";
import type { LatencyBenchResult } from "../kafka_latency_bench.ts";
import type { GroupBenchOutcome } from "../group_bench.ts";
import type { HttpBenchOutcome } from "../http_bench.ts";
import type { IndexBenchResult } from "../index_bench.ts";
import type { KAFKA_REFERENCE_LATENCY } from "../kafka_bench.ts";
import type { KafkaClientBenchOutcome } from "../kafka_client_bench.ts";
import type { KafkaSideOutcome } from "../kafka_side/types.ts";
import type { StorageBenchResult } from "../storage_bench.ts";
import type { BenchReportStd } from "../types.ts";

export interface ExternalSuiteResult {
  suite: "crc32c" | "record";
  file: string;
  mode: "function" | "subprocess" | "missing";
  ok: boolean;
  seconds: number;
  exitCode?: number;
  /** What the exported function returned, when it returned data. */
  result?: unknown;
  /** What the suite printed (a subprocess: stdout and stderr), colour-free. */
  output?: string;
  error?: string;
}

/** What `meta` has no room for: the host, the command, the run's length, the work tree state. */
export interface BenchRunInfo {
  hostname: string;
  argv: string[];
  runtime: { name: string; version: string; v8?: string; typescript?: string };
  os: { type: string; release: string; platform: string; arch: string };
  tempDir: string;
  tempDirFilesystem?: { device: string; type: string; mountedOn: string };
  /** Uncommitted changes in the work tree when the run started. */
  gitDirty?: boolean;
  crc32cImplementation: string;
  scenarios: string[];
  growth: boolean;
  kafka: boolean;
  finishedAt?: string;
  durationSeconds?: number;
  /** Wall seconds of each suite that ran, set-up included. */
  suiteSeconds: Record<string, number>;
}

export interface BenchDetails {
  run: BenchRunInfo;
  /** How entries converted from the older suites fill the report's fields. */
  notes: string[];
  /** Suites that did not run, and why. */
  skipped: { suite: string; reason: string }[];
  /** Suites that threw: the rest of the run went on, and the process exits 1. */
  errors: { suite: string; error: string }[];
  storage: StorageBenchResult[];
  index: IndexBenchResult[];
  external: ExternalSuiteResult[];
  /** The http suite: its results, the server's start and stop (exit code), the loopback note. */
  http?: HttpBenchOutcome;
  /** The groups suite: its results and its own server's start and stop (exit code). */
  groups?: GroupBenchOutcome;
  /** The kafka-client suite: every run, the settings, its server, the peer Kafka's outcome. */
  kafkaClient?: KafkaClientBenchOutcome;
  /** The kafka suite: Kafka 4.4 beside Sluice, every run, both servers, the goals. */
  kafkaSide?: KafkaSideOutcome;
  /** The cluster suite: every run, the lag samples' spread, each failover round, the goals. */
  cluster?: ClusterBenchOutcome;
  /** The kafka-latency suite: the consumer's max rate and each paced run's percentiles. */
  kafkaLatency?: LatencyBenchResult;
  /** Kafka's published end-to-end latency (KafkaReference has no latency fields). */
  kafkaReferenceLatency: typeof KAFKA_REFERENCE_LATENCY;
  /** Names the embedded suite reported that a storage figure would also have produced. */
  storageDuplicates: string[];
  /** The targets the storage and http suites check, one line each. */
  targets: { scenario: string; text: string; met: boolean }[];
}

/** The results file: exactly BenchReportStd, plus `details`. */
export interface BenchResultsFile extends BenchReportStd {
  details: BenchDetails;
}
