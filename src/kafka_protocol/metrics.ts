/**
 * The Kafka listener's Prometheus families, rendered into /metrics beside the HTTP ones: requests
 * and their latency per API, open connections, and connections closed by Sluice per reason
 * (a fixed set, so label cardinality stays bounded).
 */

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
  connections = 0;

  observe(api: string, seconds: number): void {
    let stats = this.#apis.get(api);
    if (stats === undefined) this.#apis.set(api, stats = { count: 0, sumSeconds: 0 });
    stats.count++;
    stats.sumSeconds += seconds;
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
    return lines.join("\n") + "\n";
  }
}
