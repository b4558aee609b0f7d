/**
 * Cluster mode: any broker takes any request. A request for a partition that another broker
 * leads is forwarded to that leader over HTTP, as pandaproxy's users expect of any node, and the
 * leader's answer (status, headers, body) is handed back as it comes, streamed, not buffered.
 *
 * - Where: the partition's leader in this broker's view of etcd (src/cluster/metadata.ts), at the
 *   `httpUrl` it registered. This broker leads it, the partition has no leader, or the view does
 *   not know it: served here, where the broker's typed error (LEADER_NOT_AVAILABLE, 404, ...)
 *   answers. A leader that is in no live broker's record (it died; the controller is moving its
 *   leaderships) is 503 LEADER_NOT_AVAILABLE at once: the client retries.
 * - One hop at most: a forwarded request carries `Sluice-Forwarded: <this node id>`, and a request
 *   that carries it is never forwarded again; it is served where it lands, so a leadership that
 *   moved meanwhile answers 421 NOT_LEADER_OR_FOLLOWER and the client retries.
 * - Who: the client's `Authorization` header goes along; the leader checks the token again (the
 *   forwarding broker checked it first, in the auth middleware). Only the headers a route reads
 *   are sent (HEADERS_FORWARDED); the answer gets `Sluice-Forwarded-To: <leader's node id>`.
 * - Bounds: HTTP_FORWARDS_IN_FLIGHT_MAX forwarded requests at once (one more is 429 before
 *   anything is sent; a forwarded stream counts against SSE_STREAMS_MAX instead), each answered
 *   within its own wait plus HTTP_FORWARD_TIMEOUT_MS (504 REQUEST_TIMED_OUT after it, as Kafka's
 *   request timeout: a write may or may not have happened); request bodies are already bounded by
 *   maxRequestBytes. A leader that cannot be reached is 503 LEADER_NOT_AVAILABLE.
 *
 * HTTPS between brokers trusts the runtime's roots plus the cluster's own certificates (the
 * server's, and --tls-ca's), so a cluster with self-signed certificates forwards too.
 */
import type { Context } from "hono";
import type { Broker } from "../broker/broker.ts";
import { NO_LEADER } from "../cluster/cluster_state.ts";
import { OFFSETS_TOPIC, offsetsPartitionFor } from "../broker/groups/replicated_offsets.ts";
import { SluiceError } from "../errors.ts";
import type { FetchLike } from "../runtime/http_client.ts";

/** A request forwarded once carries this header (the forwarding broker's node id). */
export const FORWARDED_HEADER = "sluice-forwarded";
/** A forwarded request's answer carries this header: the node id of the broker that served it. */
export const FORWARDED_TO_HEADER = "sluice-forwarded-to";

/** The request headers a forwarded request keeps: what the routes and the auth check read. */
const HEADERS_FORWARDED = ["authorization", "content-type", "accept", "last-event-id"];
/** Answer headers that describe one connection, not the answer: never handed on. */
const HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

/** Statuses whose answers carry no body (the Response constructor refuses one). */
const NO_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** A broker to forward to. */
export interface ForwardTarget {
  nodeId: number;
  httpUrl: string;
}

export interface ForwardRequest {
  /** Path and query on the leader, from the leading "/". */
  path: string;
  method: "GET" | "POST" | "DELETE";
  /** The body to send: bytes, or the client's request body streamed through. */
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Replaces the client's Content-Type (a body built here). */
  contentType?: string;
  /** How long the leader may wait on its own (maxWaitMs, an acks=all timeout); 0 for none. */
  waitMs: number;
  /** A stream: the timeout covers the answer's headers only, and the client going away ends it. */
  stream?: boolean;
  /** Pass the client's abort on (a long poll, a stream): otherwise the timeout ends the request. */
  followClient?: boolean;
  /** Called once when the forward is over (answered in full, failed or cancelled). */
  onEnd?: () => void;
}

export interface ForwarderOptions {
  inFlightMax: number;
  timeoutMs: number;
  /** Aborted when the server shuts down: forwarded streams and long polls end. */
  shutdown: AbortSignal;
  /** fetch() trusting the cluster's certificates (HTTPS between brokers); plain fetch by default. */
  fetch?: FetchLike;
}

export class Forwarder {
  #inFlight = 0;
  /** Forwarded requests per leader node id, for /metrics. */
  readonly #forwarded = new Map<number, number>();

  constructor(readonly broker: Broker, readonly options: ForwarderOptions) {}

  /** Forwarded requests not yet answered in full. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** This broker's node id, as the hop header names it. */
  get nodeId(): number {
    return this.broker.cluster?.nodeId ?? 0;
  }

  /** Whether this request may be forwarded: a cluster's broker, and not forwarded once already. */
  mayForward(c: Context): boolean {
    return this.broker.cluster !== undefined && c.req.header(FORWARDED_HEADER) === undefined;
  }

  /**
   * The leader to forward a request for `topic`/`partition` to, or undefined to serve it here
   * (see the module doc). Throws LEADER_NOT_AVAILABLE for a leader that is not live or has no
   * HTTP listener.
   */
  leaderFor(c: Context, topic: string, partition: number): ForwardTarget | undefined {
    const cluster = this.broker.cluster;
    if (cluster === undefined || !this.mayForward(c)) return undefined;
    const state = cluster.metadata.partition(topic, partition)?.value;
    if (state === undefined || state.leader === NO_LEADER || state.leader === cluster.nodeId) {
      return undefined;
    }
    const record = cluster.metadata.brokers.get(state.leader)?.value;
    if (record?.httpUrl === undefined) {
      throw new SluiceError(
        "LEADER_NOT_AVAILABLE",
        record === undefined
          ? `broker ${state.leader}, the leader of ${topic}-${partition}, is not live; ` +
            `a new leader is being elected`
          : `broker ${state.leader}, the leader of ${topic}-${partition}, has no HTTP listener`,
        { topic, partition, leader: state.leader },
      );
    }
    return { nodeId: state.leader, httpUrl: record.httpUrl };
  }

  /**
   * The broker to forward a request of consumer group `group` to (its coordinator: the leader of
   * its `__consumer_offsets` partition), or undefined to serve it here. Throws
   * COORDINATOR_LOAD_IN_PROGRESS while this broker loads the group, and COORDINATOR_NOT_AVAILABLE
   * semantics as LEADER_NOT_AVAILABLE when the coordinator is not live.
   */
  async coordinatorFor(c: Context, group: string): Promise<ForwardTarget | undefined> {
    const cluster = this.broker.cluster;
    if (cluster === undefined || !this.mayForward(c)) return undefined;
    const here = this.broker.groupCoordination(group);
    if (here === "yes") return undefined;
    if (here === "loading") {
      throw new SluiceError(
        "COORDINATOR_LOAD_IN_PROGRESS",
        `group ${group}'s offsets are still being loaded on this broker; retry`,
      );
    }
    await this.broker.ensureOffsetsTopic();
    const state = cluster.metadata.partition(OFFSETS_TOPIC, offsetsPartitionFor(group))?.value;
    const record = state === undefined || state.leader === NO_LEADER
      ? undefined
      : cluster.metadata.brokers.get(state.leader)?.value;
    if (record?.httpUrl === undefined || state!.leader === cluster.nodeId) {
      throw new SluiceError(
        "LEADER_NOT_AVAILABLE",
        `group ${group}'s coordinator is not available yet (being elected, or loading); retry`,
        { group },
      );
    }
    return { nodeId: state!.leader, httpUrl: record.httpUrl };
  }

  /**
   * Sends `request` to `target` and resolves with its answer as a Response to hand back (the body
   * streamed through). Throws TOO_MANY_REQUESTS, REQUEST_TIMED_OUT or LEADER_NOT_AVAILABLE.
   */
  async forward(c: Context, target: ForwardTarget, request: ForwardRequest): Promise<Response> {
    const counted = request.stream !== true;
    if (counted && this.#inFlight >= this.options.inFlightMax) {
      throw new SluiceError(
        "TOO_MANY_REQUESTS",
        `${this.options.inFlightMax} requests are already being forwarded to their leaders`,
      );
    }
    if (counted) this.#inFlight++;
    const release = () => {
      if (counted) this.#inFlight--;
    };
    const limitMs = request.waitMs + this.options.timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), limitMs);
    const signals = [timeout.signal, this.options.shutdown];
    if (request.followClient === true || request.stream === true) signals.push(c.req.raw.signal);
    const signal = AbortSignal.any(signals);
    let over = false;
    const ended = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      release();
      request.onEnd?.();
    };

    const headers = new Headers();
    for (const name of HEADERS_FORWARDED) {
      const value = c.req.header(name);
      if (value !== undefined) headers.set(name, value);
    }
    if (request.contentType !== undefined) headers.set("content-type", request.contentType);
    headers.set(FORWARDED_HEADER, String(this.nodeId));
    this.#forwarded.set(target.nodeId, (this.#forwarded.get(target.nodeId) ?? 0) + 1);

    let answer: Response;
    try {
      answer = await (this.options.fetch ?? fetch)(`${target.httpUrl}${request.path}`, {
        method: request.method,
        headers,
        body: request.body,
        signal,
        redirect: "manual",
        // A stream body goes out as it is read (fetch's half duplex), not gathered first.
        ...(request.body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (err) {
      ended();
      throw this.#failure(target, err, timeout.signal.aborted, limitMs);
    }
    if (request.stream === true) clearTimeout(timer);

    const out = new Headers();
    for (const [name, value] of answer.headers) {
      if (!HOP_HEADERS.has(name)) out.set(name, value);
    }
    // fetch() decoded a compressed body: its length and encoding no longer describe it.
    if (out.has("content-encoding")) {
      out.delete("content-encoding");
      out.delete("content-length");
    }
    out.set(FORWARDED_TO_HEADER, String(target.nodeId));
    // A status that has no body (204 after a delete, say) must be answered with none.
    const body = answer.body === null || NO_BODY_STATUSES.has(answer.status)
      ? null
      : endingWith(answer.body, ended, (err) =>
        this.#failure(target, err, timeout.signal.aborted, limitMs));
    if (body === null) {
      await answer.body?.cancel().catch(() => {});
      ended();
    }
    return new Response(body, { status: answer.status, headers: out });
  }

  /** Typed error for a forward that failed: timed out, or the leader could not be reached. */
  #failure(target: ForwardTarget, err: unknown, timedOut: boolean, limitMs: number): SluiceError {
    if (err instanceof SluiceError) return err;
    if (timedOut) {
      return new SluiceError(
        "REQUEST_TIMED_OUT",
        `broker ${target.nodeId} did not answer the forwarded request within ${limitMs} ms`,
        { leader: target.nodeId },
      );
    }
    if (this.options.shutdown.aborted) {
      return new SluiceError("LOG_CLOSED", "this broker is shutting down");
    }
    return new SluiceError(
      "LEADER_NOT_AVAILABLE",
      `broker ${target.nodeId} (${target.httpUrl}) could not be reached: ` +
        `${err instanceof Error ? err.message : String(err)}; retry`,
      { leader: target.nodeId },
    );
  }

  /** Prometheus families: forwarded requests by leader, and those in flight. */
  render(): string {
    const lines = [
      "# HELP sluice_http_forwarded_requests_total HTTP requests forwarded to a partition's leader, by leader node id.",
      "# TYPE sluice_http_forwarded_requests_total counter",
    ];
    for (const [leader, n] of this.#forwarded) {
      lines.push(`sluice_http_forwarded_requests_total{leader="${leader}"} ${n}`);
    }
    lines.push(
      "# HELP sluice_http_forwards_in_flight Forwarded HTTP requests not yet answered in full.",
      "# TYPE sluice_http_forwards_in_flight gauge",
      `sluice_http_forwards_in_flight ${this.#inFlight}`,
    );
    return lines.join("\n") + "\n";
  }
}

/**
 * `body` handed on chunk by chunk as the client reads, calling `ended` once when it is done,
 * failed or cancelled (the client went away: the leader's answer is cancelled too). A failure
 * midway ends the client's body with the typed error (the status is sent already).
 */
function endingWith(
  body: ReadableStream<Uint8Array>,
  ended: () => void,
  failure: (err: unknown) => SluiceError,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          ended();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        ended();
        controller.error(failure(err));
      }
    },
    async cancel(reason) {
      ended();
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
