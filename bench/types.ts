/**
 * The bench report's stable shape (issue: "The JSON ... stable, so results can be compared and
 * checked by scripts"). Every suite turns its figures into these records; bench/main.ts writes
 * them as bench/results/<timestamp>-<host>.json, a Markdown report and an SVG chart.
 *
 * Scenario names are dotted: `<where>.<what>.<record size>.<variant...>`, e.g.
 * `embedded.produce.1KiB.none`, `embedded.produce.100B.lz4.flush-always.x4`,
 * `http.fetch.100B.batch`, `embedded.e2e-latency.100B.rate-10pct`.
 */

export interface BenchMetaStd {
  runtime: string;
  runtimeVersion: string;
  os: string;
  cpu: string;
  cores: number;
  memoryBytes: number;
  filesystem: string;
  commit: string;
  startedAt: string;
  quick: boolean;
  /**
   * What new memory costs here (bench/runner/memory.ts): microseconds to touch a 4 KiB page of
   * fresh memory first and once resident, and whether the kernel hands freed pages back to a
   * host. Where the first is ~10 us, write-heavy figures pay it per page of new page cache.
   */
  freshMemory?: {
    firstTouchUsPerPage: number;
    residentUsPerPage: number;
    pagesReportedToHost: boolean;
  };
}

/** The physical limit a scenario is compared with: the same runtime doing plain file I/O. */
export interface BaselineResult {
  /** e.g. `file.write.1KiB`, `file.write-fsync.1KiB`, `file.read-cached.1KiB` */
  name: string;
  mbPerSec: number;
  runs: number[];
}

export interface RunFigure {
  recordsPerSec: number;
  mbPerSec: number;
  seconds: number;
}

export interface ScenarioResult {
  name: string;
  recordSizeBytes: number;
  /** Records per measured run. */
  records: number;
  /** Median of the measured runs. */
  recordsPerSec: number;
  mbPerSec: number;
  /** mbPerSec / the baseline's mbPerSec, or null when no baseline applies. */
  ratioToLimit: number | null;
  /** Name of the baseline in `baselines` that ratioToLimit refers to. */
  limit: string | null;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms?: number | null;
  runs: RunFigure[];
  /** Every parameter that shaped the workload (producers, compression, flush policy, seed...). */
  params: Record<string, string | number | boolean>;
}

/** A peer measured in the same run with the same record size and count. */
export interface PeerResult {
  /** `redis-streams`, `nats-jetstream`, `kafka` (live mode, or the `kafka` suite's own broker) */
  name: string;
  version: string;
  /** The Sluice scenario it is set beside, e.g. `http.produce.100B.batch`. */
  scenario: string;
  recordsPerSec: number;
  mbPerSec: number;
  /** Peer recordsPerSec / Sluice recordsPerSec for `scenario`, filled in by bench/main.ts. */
  ratioToSluice?: number | null;
  /** Latency percentiles, when the peer's row measured them (`vs-kafka.e2e-latency.*`). */
  p50Ms?: number | null;
  p99Ms?: number | null;
  params: Record<string, string | number | boolean>;
}

/** Kafka's published figures: "published, not measured here". */
export interface KafkaReference {
  source: string;
  setup: string;
  recordsPerSec: number;
  mbPerSec: number;
}

export interface BenchReportStd {
  meta: BenchMetaStd;
  baselines: BaselineResult[];
  scenarios: ScenarioResult[];
  peers: PeerResult[];
  kafkaReference: KafkaReference[];
}

/** Live progress: scenario, run k of n, records/s so far. */
export type ProgressFn = (
  scenario: string,
  run: number,
  of: number,
  recordsPerSec?: number,
) => void;

export interface SuiteOptions {
  quick: boolean;
  progress: ProgressFn;
}
