/**
 * The HTTP side of connection admission (src/runtime/accept.ts): the answer a refused plain-HTTP
 * connection gets, and the /metrics families of every listener's gate.
 */
import type { ConnectionStats, RefusalReason } from "../runtime/accept.ts";
import { HTTP_STATUS } from "./error_handler.ts";

const MESSAGES: Record<RefusalReason, string> = {
  listener_limit: "the server has its maximum of open connections; retry later",
  address_limit: "this address has its maximum of open connections; close one or retry later",
  descriptors: "the server is out of file descriptors; retry later",
  accept_error: "the connection could not be accepted; retry later",
};

const cache = new Map<RefusalReason, Uint8Array>();

/**
 * A whole HTTP/1.1 response for a refused connection, written before any request is read: 429
 * TOO_MANY_REQUESTS in API.md's error shape, `Retry-After: 1`, `Connection: close`.
 */
export function connectionRefusal(reason: RefusalReason): Uint8Array {
  let bytes = cache.get(reason);
  if (bytes !== undefined) return bytes;
  const body = JSON.stringify({ error: { code: "TOO_MANY_REQUESTS", message: MESSAGES[reason] } });
  const status = HTTP_STATUS.TOO_MANY_REQUESTS;
  bytes = new TextEncoder().encode(
    `HTTP/1.1 ${status} Too Many Requests\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
  );
  cache.set(reason, bytes);
  return bytes;
}

/** Prometheus families for the listeners' connections: open, bounds, refusals by reason. */
export function renderConnectionStats(listeners: readonly ConnectionStats[]): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family("sluice_listener_connections", "gauge", "Open connections admitted, by listener.");
  for (const l of listeners) {
    lines.push(`sluice_listener_connections{listener="${l.listener}"} ${l.open}`);
  }
  family("sluice_listener_connections_max", "gauge", "Most open connections, by listener.");
  for (const l of listeners) {
    lines.push(`sluice_listener_connections_max{listener="${l.listener}"} ${l.limits.max}`);
  }
  family(
    "sluice_listener_connections_per_address_max",
    "gauge",
    "Most open connections from one client address, by listener.",
  );
  for (const l of listeners) {
    lines.push(
      `sluice_listener_connections_per_address_max{listener="${l.listener}"} ${l.limits.perAddressMax}`,
    );
  }
  family(
    "sluice_listener_connections_refused_total",
    "counter",
    "Connections refused at accept, by listener and reason (logged at most every 10 s).",
  );
  for (const l of listeners) {
    for (const [reason, n] of l.refused) {
      lines.push(
        `sluice_listener_connections_refused_total{listener="${l.listener}",reason="${reason}"} ${n}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
