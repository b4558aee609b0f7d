/**
 * The Kafka listener's Prometheus families, rendered into /metrics beside the HTTP ones: requests
 * and their latency per API, open connections, connections closed by Sluice per reason (a fixed
 * set, so label cardinality stays bounded), the bytes held in the memory budgets, and fetch
 * sessions (KIP-227): open, partitions held, evictions, refusals and fetches by kind.
 */
import type { ByteBudget } from "../byte_budget.ts";
import type { FetchSessionCache } from "./fetch_sessions.ts";

export const CLOSE_REASONS = [
  "malformed",
  "unknown_api",
  "unsupported_version",
  "frame_size",
  "connection_limit",
  "server_error",
  "tls_handshake",
  /** No request for KAFKA_CONNECTION_IDLE_MS (Kafka's connections.max.idle.ms). */
  "idle",
  /** A request other than ApiVersions or SASL before authentication, or revoked credentials. */
  "unauthenticated",
  /** SASL authentication failed (after its error response). */
  "authentication_failed",
] as const;
export type CloseReason = typeof CLOSE_REASONS[number];

interface ApiStats {
  count: number;
  sumSeconds: number;
}

export class KafkaMetrics {
  readonly #apis = new Map<string, ApiStats>();
  readonly #closed = new Map<CloseReason, number>(CLOSE_REASONS.map((r) => [r, 0]));
  /** Requests served with bytes after their body (ignored, as Kafka ignores them), by API. */
  readonly #trailing = new Map<string, number>();
  connections = 0;
  /** The listener's memory budgets (server.ts), once it runs. */
  budgets: { responses: ByteBudget; requests: ByteBudget } | undefined;
  /** The listener's fetch session cache (listener.ts). */
  fetchSessions: FetchSessionCache | undefined;

  observe(api: string, seconds: number): void {
    let stats = this.#apis.get(api);
    if (stats === undefined) this.#apis.set(api, stats = { count: 0, sumSeconds: 0 });
    stats.count++;
    stats.sumSeconds += seconds;
  }

  trailingBytes(api: string): void {
    this.#trailing.set(api, (this.#trailing.get(api) ?? 0) + 1);
  }

  /** Requests of `api` that had bytes after their body (tests). */
  trailing(api: string): number {
    return this.#trailing.get(api) ?? 0;
  }

  closed(reason: CloseReason): void {
    this.#closed.set(reason, (this.#closed.get(reason) ?? 0) + 1);
  }

  /** Requests served for `api` so far (tests). */
  requests(api: string): number {
    return this.#apis.get(api)?.count ?? 0;
  }

  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family("sluice_kafka_requests_total", "counter", "Kafka protocol requests served, by API.");
    for (const [api, s] of this.#apis) {
      lines.push(`sluice_kafka_requests_total{api="${api}"} ${s.count}`);
    }
    family(
      "sluice_kafka_request_duration_seconds",
      "summary",
      "Time from a request's frame to its response, by API (long polls included).",
    );
    for (const [api, s] of this.#apis) {
      lines.push(`sluice_kafka_request_duration_seconds_sum{api="${api}"} ${s.sumSeconds}`);
      lines.push(`sluice_kafka_request_duration_seconds_count{api="${api}"} ${s.count}`);
    }
    family(
      "sluice_kafka_requests_with_trailing_bytes_total",
      "counter",
      "Requests with bytes after their body, served with those bytes ignored (as Kafka does: " +
        "librdkafka 2.1+ sends 3 such bytes in a Metadata v9+ request for all topics), by API.",
    );
    for (const [api, n] of this.#trailing) {
      lines.push(`sluice_kafka_requests_with_trailing_bytes_total{api="${api}"} ${n}`);
    }
    family("sluice_kafka_connections", "gauge", "Open Kafka protocol connections.");
    lines.push(`sluice_kafka_connections ${this.connections}`);
    family(
      "sluice_kafka_connections_closed_total",
      "counter",
      "Kafka connections closed by Sluice, by reason (see the server log for each one).",
    );
    for (const [reason, n] of this.#closed) {
      lines.push(`sluice_kafka_connections_closed_total{reason="${reason}"} ${n}`);
    }
    if (this.budgets !== undefined) {
      const { responses, requests } = this.budgets;
      family(
        "sluice_kafka_response_bytes_in_flight",
        "gauge",
        "Bytes of Kafka responses not yet taken by their sockets (all connections).",
      );
      lines.push(`sluice_kafka_response_bytes_in_flight ${responses.used}`);
      family(
        "sluice_kafka_response_bytes_in_flight_max",
        "gauge",
        "The budget of that gauge (KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX).",
      );
      lines.push(`sluice_kafka_response_bytes_in_flight_max ${responses.capacity}`);
      family(
        "sluice_kafka_request_bytes_queued",
        "gauge",
        "Bytes of Kafka request frames received or being received and not yet served.",
      );
      lines.push(`sluice_kafka_request_bytes_queued ${requests.used}`);
      family(
        "sluice_kafka_request_bytes_queued_max",
        "gauge",
        "The budget of that gauge (KAFKA_QUEUED_REQUEST_BYTES_MAX).",
      );
      lines.push(`sluice_kafka_request_bytes_queued_max ${requests.capacity}`);
    }
    const sessions = this.fetchSessions;
    if (sessions !== undefined) {
      family(
        "sluice_kafka_fetch_sessions",
        "gauge",
        "Open incremental fetch sessions (KIP-227; at most KAFKA_FETCH_SESSIONS_MAX).",
      );
      lines.push(`sluice_kafka_fetch_sessions ${sessions.size}`);
      family(
        "sluice_kafka_fetch_session_partitions",
        "gauge",
        "Partitions held by all fetch sessions (at most KAFKA_FETCH_SESSION_PARTITIONS_TOTAL_MAX).",
      );
      lines.push(`sluice_kafka_fetch_session_partitions ${sessions.partitions}`);
      family(
        "sluice_kafka_fetch_session_evictions_total",
        "counter",
        "Fetch sessions evicted to make room for a new one.",
      );
      lines.push(`sluice_kafka_fetch_session_evictions_total ${sessions.evictions}`);
      family(
        "sluice_kafka_fetch_sessions_refused_total",
        "counter",
        "Full fetches that asked for a session and got none (cache full, or too many partitions).",
      );
      lines.push(`sluice_kafka_fetch_sessions_refused_total ${sessions.refused}`);
      family(
        "sluice_kafka_fetches_total",
        "counter",
        "Fetch requests by kind: sessionless (epoch -1), full (epoch 0, asking for a session), " +
          "incremental, session_error (unknown session or wrong epoch).",
      );
      for (const [kind, count] of Object.entries(sessions.fetches)) {
        lines.push(`sluice_kafka_fetches_total{kind="${kind}"} ${count}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}
