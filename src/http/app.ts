/**
 * The HTTP front: a Hono app that translates API.md's routes into broker calls. It validates at
 * the edge (zod schemas, content types, body size), maps every typed error once (error_handler.ts)
 * and documents itself from the same schemas (/openapi.json, /docs). The schemas and the document
 * load on first use, not at start-up (schema_loader.ts, openapi_document.ts). On a cluster's broker, a
 * request for a partition led elsewhere is forwarded to its leader (forwarding.ts).
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Broker } from "../broker/broker.ts";
import { ByteBudget } from "../byte_budget.ts";
import { SluiceError } from "../errors.ts";
import {
  HTTP_BODY_BUFFER_POOLED_BYTES_MAX,
  HTTP_BODY_BUFFERS_POOLED_MAX,
  HTTP_FETCH_BYTES_MAX,
  HTTP_FORWARD_TIMEOUT_MS,
  HTTP_FORWARDS_IN_FLIGHT_MAX,
  HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX,
  REQUEST_BYTES_DEFAULT,
  REQUESTS_IN_FLIGHT_MAX,
  SSE_STREAMS_MAX,
} from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { Authenticator } from "../security/tokens.ts";
import { authMiddleware } from "./auth.ts";
import { BodyBuffers } from "./body.ts";
import { ProducePartitioner } from "./cluster_produce.ts";
import { errorResponse } from "./error_handler.ts";
import { Forwarder } from "./forwarding.ts";
import type { FetchLike } from "../runtime/http_client.ts";
import { HttpMetrics } from "./metrics.ts";
import { registerClusterRoutes } from "./routes/cluster.ts";
import { registerConsoleRoutes } from "./routes/console.ts";
import { registerDeleteRecordsRoutes } from "./routes/delete_records.ts";
import { registerGroupRoutes } from "./routes/groups.ts";
import { registerGroupAdminRoutes } from "./routes/group_admin.ts";
import { registerRecordRoutes } from "./routes/records.ts";
import { registerServiceRoutes } from "./routes/service.ts";
import { registerStreamRoutes } from "./routes/stream.ts";
import { registerStatsStreamRoutes } from "./routes/stats_stream.ts";
import { registerTopicRoutes } from "./routes/topics.ts";
import { loadSchemas, schemasLoaded } from "./schema_loader.ts";

export interface AppOptions {
  logger: Logger;
  /** Request bodies larger than this are refused with 413 REQUEST_TOO_LARGE. */
  maxRequestBytes?: number;
  /** Server-Sent Events streams open at once. */
  sseStreamsMax?: number;
  /** Requests served at once (REQUESTS_IN_FLIGHT_MAX). */
  requestsInFlightMax?: number;
  /** Bearer-token auth (auth.ts); without it every route is open. */
  auth?: Authenticator;
  /** Largest fetch response; a larger maxBytes is clamped (HTTP_FETCH_BYTES_MAX). */
  fetchBytesMax?: number;
  /** Fetch response bytes not yet taken by clients (HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX). */
  responseBytesMax?: number;
  /** Cluster mode: requests forwarded to leaders at once (HTTP_FORWARDS_IN_FLIGHT_MAX). */
  forwardsInFlightMax?: number;
  /** Cluster mode: a forwarded request's time beyond its own wait (HTTP_FORWARD_TIMEOUT_MS). */
  forwardTimeoutMs?: number;
  /** Cluster mode: fetch() for forwarded requests (HTTPS trusting the cluster's certificates). */
  forwardFetch?: FetchLike;
}

/** What every route module needs. */
export interface AppContext {
  app: Hono;
  broker: Broker;
  logger: Logger;
  metrics: HttpMetrics;
  sseStreamsMax: number;
  /** Aborted when the server shuts down: streams end, long polls return. */
  shutdown: AbortSignal;
  /** Largest request body (413 REQUEST_TOO_LARGE past it; body.ts readBody). */
  maxRequestBytes: number;
  /** Produce bodies' buffers, reused once their append has settled (body.ts BodyBuffers). */
  bodyBuffers: BodyBuffers;
  /** Largest fetch response (a larger maxBytes is clamped). */
  fetchBytesMax: number;
  /** Fetch response bodies not yet taken by their clients (records.ts, body.ts leasedBody). */
  responseBytes: ByteBudget;
  /** Cluster mode: requests for partitions led elsewhere go to their leaders. */
  forwarder: Forwarder;
  /** Unkeyed records' sticky partitions, for produce requests split across leaders. */
  partitioner: ProducePartitioner;
}

export interface SluiceApp {
  fetch: (request: Request) => Response | Promise<Response>;
  metrics: HttpMetrics;
  /** Ends open streams; call before closing the broker. */
  beginShutdown(): void;
}

export function createApp(broker: Broker, options: AppOptions): SluiceApp {
  const app = new Hono({ strict: true });
  const metrics = new HttpMetrics();
  const shutdown = new AbortController();
  const { logger } = options;
  const maxRequestBytes = options.maxRequestBytes ?? REQUEST_BYTES_DEFAULT;

  const inFlightMax = options.requestsInFlightMax ?? REQUESTS_IN_FLIGHT_MAX;
  app.use("*", async (c, next) => {
    const started = performance.now();
    if (metrics.inFlight >= inFlightMax && c.req.path !== "/healthz") {
      c.res = errorResponse(
        c,
        new SluiceError("TOO_MANY_REQUESTS", `${inFlightMax} requests are already being served`),
        logger,
      );
      metrics.observe("*", c.req.method, 429, (performance.now() - started) / 1e3);
      return;
    }
    metrics.inFlight++;
    try {
      await next();
    } finally {
      metrics.inFlight--;
    }
    metrics.observe(
      c.req.routePath,
      c.req.method,
      c.res.status,
      (performance.now() - started) / 1e3,
    );
  });
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: maxRequestBytes,
      onError: (c) =>
        errorResponse(
          c,
          new SluiceError(
            "REQUEST_TOO_LARGE",
            `request bodies are limited to ${maxRequestBytes} bytes`,
          ),
          logger,
        ),
    }),
  );
  // The zod schemas load with the first API request (schema_loader.ts), before the auth check and
  // the handlers, which take them synchronously; after that this is one boolean test.
  app.use("/v1/*", async (_c, next) => {
    if (!schemasLoaded()) await loadSchemas();
    await next();
  });
  registerConsoleRoutes(app); // before auth: the console's files hold no data (routes/console.ts)
  // After bodyLimit: the auth check may read a body (a topic or group request names topics).
  if (options.auth !== undefined) app.use("*", authMiddleware(options.auth, broker, logger));
  app.onError((err, c) => errorResponse(c, err, logger));
  app.notFound((c) =>
    errorResponse(
      c,
      new SluiceError("NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`),
      logger,
    )
  );

  const ctx: AppContext = {
    app,
    broker,
    logger,
    metrics,
    sseStreamsMax: options.sseStreamsMax ?? SSE_STREAMS_MAX,
    shutdown: shutdown.signal,
    maxRequestBytes,
    bodyBuffers: new BodyBuffers(HTTP_BODY_BUFFERS_POOLED_MAX, HTTP_BODY_BUFFER_POOLED_BYTES_MAX),
    fetchBytesMax: options.fetchBytesMax ?? HTTP_FETCH_BYTES_MAX,
    responseBytes: new ByteBudget(options.responseBytesMax ?? HTTP_RESPONSE_BYTES_IN_FLIGHT_MAX),
    forwarder: new Forwarder(broker, {
      inFlightMax: options.forwardsInFlightMax ?? HTTP_FORWARDS_IN_FLIGHT_MAX,
      timeoutMs: options.forwardTimeoutMs ?? HTTP_FORWARD_TIMEOUT_MS,
      fetch: options.forwardFetch,
      shutdown: shutdown.signal,
    }),
    partitioner: new ProducePartitioner(),
  };
  metrics.responseBytes = ctx.responseBytes;
  metrics.addSource(() => ctx.forwarder.render());
  registerServiceRoutes(ctx);
  registerTopicRoutes(ctx);
  registerClusterRoutes(ctx);
  registerRecordRoutes(ctx);
  registerDeleteRecordsRoutes(ctx);
  registerStreamRoutes(ctx);
  registerStatsStreamRoutes(ctx);
  registerGroupRoutes(ctx);
  registerGroupAdminRoutes(ctx);

  return {
    fetch: (request) => app.fetch(request),
    metrics,
    beginShutdown: () => shutdown.abort(),
  };
}
