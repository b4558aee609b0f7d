/** What the Kafka side-by-side suite's runs and outcome hold. */
import type { ServerInfo } from "../bench_server.ts";
import type { PeerResult, ProgressFn, ScenarioResult } from "../types.ts";
import type { Acks, Client, KafkaSidePlan, Mode, Target } from "./plan.ts";

/** One client process against one server. */
export interface SideRun {
  target: Target;
  client: Client;
  mode: Mode;
  recordSizeBytes: number;
  acks?: Acks;
  /** 1-based round of the matrix. */
  round: number;
  scenario: string;
  topic: string;
  records: number;
  /** The client's own clock (see the module doc of bench/kafka_side_bench.ts). */
  seconds: number;
  recordsPerSec: number;
  /** Record values, 10^6 B/s. */
  mbPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  /** The server's CPU seconds (user + system) over the client process's whole life. */
  serverCpuSeconds?: number;
  /** The server's VmRSS and VmHWM right after the client ended. */
  serverRssBytes?: number;
  serverHwmBytes?: number;
  /** Wall time of the client process, its start (a JVM's) included. */
  clientWallMs: number;
  /** The client's own figures beyond the above (ProducerPerformance's latencies, ...). */
  extra: Record<string, string | number>;
}

export interface KafkaServerInfo {
  version: string;
  bootstrap: string;
  pid: number;
  startMs: number;
  heapOpts: string;
  stopCode?: number;
  stopSignal?: string | null;
  killed?: boolean;
  /** VmRSS and VmHWM at the end, before the stop. */
  rssBytes?: number;
  hwmBytes?: number;
}

/** A goal of the side-by-side comparison and whether this run met it. */
export interface SideGoal {
  /** The scenario it is about, or `memory`. */
  scenario: string;
  text: string;
  met: boolean;
}

export interface KafkaSideOutcome {
  /** Why the suite did not run at all (no Kafka install): a note, not an error. */
  skipped?: string;
  /** Why one client did not run (no librdkafka for python3, no node-rdkafka built): a note. */
  clientSkipped: { client: Client; reason: string }[];
  plan: KafkaSidePlan;
  client?: {
    librdkafka?: string;
    binding?: string;
    /** node-rdkafka's librdkafka and node-rdkafka's own version. */
    nodeRdkafka?: { librdkafka: string; binding: string };
    java: string;
  };
  sluice?: ServerInfo & { rssBytes?: number; hwmBytes?: number };
  kafka?: KafkaServerInfo;
  runs: SideRun[];
  /** Sluice's rows (report.scenarios) and Kafka's beside them (report.peers). */
  scenarios: ScenarioResult[];
  peers: PeerResult[];
  goals: SideGoal[];
  /** Steps that failed (the others went on); the run fails. */
  errors: string[];
}

export interface KafkaSideOptions {
  quick: boolean;
  progress?: ProgressFn;
  log?: (line: string) => void;
  /** Overrides of the plan (the smoke test's tiny counts). */
  plan?: Partial<KafkaSidePlan>;
}
