/**
 * Prometheus text exposition (format 0.0.4) for /metrics: request counts and a latency histogram
 * per route, and at scrape time the broker's per-topic counters and per-partition gauges. Route
 * labels are Hono's route patterns, so label cardinality is bounded by the number of routes.
 */
import type { LogCleanerStats } from "../broker/topic_registry.ts";
import type { Broker, LogSummary } from "../broker/broker.ts";
import type { ByteBudget } from "../byte_budget.ts";

const DURATION_BUCKETS_S = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

interface RouteStats {
  /** `route="...",method="..."`, escaped once. */
  labels: string;
  bucketCounts: number[];
  count: number;
  sumSeconds: number;
  /** Requests by status, in the order first seen. */
  statuses: Map<number, StatusCount>;
}

interface StatusCount {
  /** `route="...",method="...",status="..."`, escaped once. */
  labels: string;
  n: number;
}

function label(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export class HttpMetrics {
  /** Route -> method -> its series: a request's lookup builds no string. */
  readonly #routes = new Map<string, Map<string, RouteStats>>();
  /** Every (route, method) series, in the order first seen. */
  readonly #durations: RouteStats[] = [];
  /** Every (route, method, status) counter, in the order first seen. */
  readonly #requests: StatusCount[] = [];
  openStreams = 0;
  /** Requests being served right now. */
  inFlight = 0;
  /** Fetch response bytes not yet taken by clients (app.ts). */
  responseBytes: ByteBudget | undefined;
  /** More families rendered after these (the Kafka listener's). */
  readonly #sources: (() => string)[] = [];

  addSource(render: () => string): void {
    this.#sources.push(render);
  }

  /**
   * Counts one request. Called once per request: after a series' first request it only looks up
   * maps and adds (no label strings built, nothing allocated).
   */
  observe(route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.#routes.get(route);
    if (byMethod === undefined) this.#routes.set(route, byMethod = new Map());
    let stats = byMethod.get(method);
    if (stats === undefined) {
      stats = {
        labels: `route="${label(route)}",method="${label(method)}"`,
        bucketCounts: DURATION_BUCKETS_S.map(() => 0),
        count: 0,
        sumSeconds: 0,
        statuses: new Map(),
      };
      byMethod.set(method, stats);
      this.#durations.push(stats);
    }
    let counter = stats.statuses.get(status);
    if (counter === undefined) {
      counter = { labels: `${stats.labels},status="${status}"`, n: 0 };
      stats.statuses.set(status, counter);
      this.#requests.push(counter);
    }
    counter.n++;
    const buckets = stats.bucketCounts;
    for (let i = 0; i < DURATION_BUCKETS_S.length; i++) {
      if (seconds <= DURATION_BUCKETS_S[i]) buckets[i]++;
    }
    stats.count++;
    stats.sumSeconds += seconds;
  }

  render(broker: Broker): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family("sluice_http_requests_total", "counter", "HTTP requests by route, method and status.");
    for (const { labels, n } of this.#requests) {
      lines.push(`sluice_http_requests_total{${labels}} ${n}`);
    }
    family("sluice_http_request_duration_seconds", "histogram", "HTTP request latency.");
    for (const s of this.#durations) {
      const key = s.labels;
      DURATION_BUCKETS_S.forEach((le, i) => {
        lines.push(
          `sluice_http_request_duration_seconds_bucket{${key},le="${le}"} ${s.bucketCounts[i]}`,
        );
      });
      lines.push(`sluice_http_request_duration_seconds_bucket{${key},le="+Inf"} ${s.count}`);
      lines.push(`sluice_http_request_duration_seconds_sum{${key}} ${s.sumSeconds}`);
      lines.push(`sluice_http_request_duration_seconds_count{${key}} ${s.count}`);
    }

    const topics = broker.topics.list();
    const perTopic = (name: string, help: string, pick: (t: typeof topics[number]) => number) => {
      family(name, "counter", help);
      for (const t of topics) lines.push(`${name}{topic="${label(t.name)}"} ${pick(t)}`);
    };
    perTopic("sluice_records_in_total", "Records appended.", (t) => t.stats.recordsIn);
    perTopic("sluice_bytes_in_total", "Batch bytes appended.", (t) => t.stats.bytesIn);
    perTopic("sluice_records_out_total", "Records fetched.", (t) => t.stats.recordsOut);
    perTopic("sluice_bytes_out_total", "Batch bytes fetched.", (t) => t.stats.bytesOut);

    // Each log's summary: a lazy partition not used since start is not loaded by a scrape.
    const summaries = topics.map((t) => t.logs.map((log) => log.summary()));
    const perPartition = (name: string, help: string, pick: (s: LogSummary) => number) => {
      family(name, "gauge", help);
      topics.forEach((t, i) => {
        summaries[i].forEach((s, p) => {
          lines.push(`${name}{topic="${label(t.name)}",partition="${p}"} ${pick(s)}`);
        });
      });
    };
    perPartition("sluice_log_end_offset", "Log end offset.", (s) => s.logEndOffset);
    perPartition("sluice_log_start_offset", "Log start offset.", (s) => s.logStartOffset);
    perPartition("sluice_log_size_bytes", "Bytes in the partition's segments.", (s) => s.sizeBytes);
    perPartition("sluice_log_segments", "Segments of the partition.", (s) => s.segments);
    perPartition(
      "sluice_log_offline",
      "1 when the partition could not be opened (reads and writes fail), else 0.",
      (s) => s.state === "offline" ? 1 : 0,
    );
    perPartition(
      "sluice_log_read_only",
      "1 when the partition refuses writes until a restart (a full disk at start), else 0.",
      (s) => s.state === "read-only" ? 1 : 0,
    );
    perPartition(
      "sluice_log_damage",
      "Damaged places found in the partition's files (see the topic's description).",
      (s) => s.damageCount,
    );
    // The log cleaner, per partition of the compacted topics (cleanup.policy with compact).
    const compacted = topics.filter((t) => t.logs.some((l) => l.config.compact));
    const cleanerFamily = (
      name: string,
      type: string,
      help: string,
      pick: (s: LogCleanerStats) => number,
    ) => {
      family(name, type, help);
      for (const t of compacted) {
        t.logs.forEach((log, p) => {
          const stats = broker.topics.cleaner.stats(log);
          if (stats === undefined) return;
          lines.push(`${name}{topic="${label(t.name)}",partition="${p}"} ${pick(stats)}`);
        });
      }
    };
    cleanerFamily(
      "sluice_log_cleaner_dirty_ratio",
      "gauge",
      "Dirty bytes over the closed segments' bytes (cleaned above min.cleanable.dirty.ratio).",
      (s) => s.dirtyRatio,
    );
    cleanerFamily(
      "sluice_log_cleaner_bytes_reclaimed_total",
      "counter",
      "Bytes the cleaner removed from the partition.",
      (s) => s.bytesReclaimedTotal,
    );
    cleanerFamily("sluice_log_cleaner_runs_total", "counter", "Cleans finished.", (s) => s.runs);
    cleanerFamily(
      "sluice_log_cleaner_last_run_timestamp_ms",
      "gauge",
      "When the last clean ended (ms since the epoch; -1 before the first).",
      (s) => s.lastRunMs,
    );
    cleanerFamily(
      "sluice_log_cleaner_last_duration_ms",
      "gauge",
      "How long the last clean took.",
      (s) => s.lastDurationMs,
    );
    cleanerFamily(
      "sluice_log_cleaner_uncleanable",
      "gauge",
      "1 when a clean failed (damage, storage) and the cleaner skips the partition, else 0.",
      (s) => s.uncleanable ? 1 : 0,
    );

    family("sluice_topics_unserved", "gauge", "Topic directories not served (topic.json).");
    for (const u of broker.topics.unserved) {
      lines.push(`sluice_topics_unserved{topic="${label(u.topic)}"} 1`);
    }
    family("sluice_log_files_open", "gauge", "Segment file descriptors open (a bounded LRU).");
    lines.push(`sluice_log_files_open ${broker.logFilesOpen}`);

    family("sluice_open_long_polls", "gauge", "Fetches waiting for data.");
    lines.push(`sluice_open_long_polls ${broker.waiters.open}`);
    family("sluice_open_streams", "gauge", "Server-Sent Events streams open.");
    lines.push(`sluice_open_streams ${this.openStreams}`);
    family("sluice_http_requests_in_flight", "gauge", "Requests being served.");
    lines.push(`sluice_http_requests_in_flight ${this.inFlight}`);
    if (this.responseBytes !== undefined) {
      family(
        "sluice_http_response_bytes_in_flight",
        "gauge",
        "Bytes of fetch responses not yet taken by their clients.",
      );
      lines.push(`sluice_http_response_bytes_in_flight ${this.responseBytes.used}`);
      family(
        "sluice_http_response_bytes_in_flight_max",
        "gauge",
        "The budget of that gauge (HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX).",
      );
      lines.push(`sluice_http_response_bytes_in_flight_max ${this.responseBytes.capacity}`);
    }
    return lines.join("\n") + "\n" + this.#sources.map((render) => render()).join("");
  }
}
