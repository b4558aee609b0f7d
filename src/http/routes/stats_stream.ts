/**
 * GET /v1/stream/stats: live statistics over Server-Sent Events for the web console's charts (and
 * any dashboard): every `intervalMs` (STATS_STREAM_INTERVAL_MS unless the client asks, clamped to
 * STATS_STREAM_INTERVAL_MIN_MS..STATS_STREAM_INTERVAL_MAX_MS) one `event: stats` whose data is one
 * line of JSON: per-topic produce and fetch records/s and bytes/s from the broker's own counters,
 * and per-group lag per partition (stats_stream.ts says the fields, the bounds and the filter by
 * the token's rights). `?group=NAME` limits the lag to one group.
 *
 * The stream starts with `retry: 2000` (EventSource's reconnect delay) and a comment, so headers
 * and a first byte go out at once; then the events themselves, at most STATS_STREAM_INTERVAL_MAX_MS
 * apart (below the usual proxy idle timeouts of 30 to 60 s), keep proxies from closing it. A client that
 * stops reading stalls its own stream only: the loop awaits each write before it arms its next
 * timer, so nothing queues up.
 *
 * Bounded: STATS_STREAMS_MAX of these at once, and each counts against SSE_STREAMS_MAX with the
 * record streams; past either, 429 TOO_MANY_REQUESTS. Each open stream holds exactly one timer
 * while it waits; a client that goes away (or the server shutting down) clears it at once. Both
 * counts are on /metrics: `sluice_http_stats_streams_open` and `sluice_http_stats_stream_timers`.
 *
 * The numbers are this broker's own: in a cluster, its counters (the partitions it leads and
 * serves) and the groups it coordinates, as its /metrics.
 */
import { streamSSE } from "hono/streaming";
import { SluiceError } from "../../errors.ts";
import {
  STATS_STREAM_INTERVAL_MAX_MS,
  STATS_STREAM_INTERVAL_MIN_MS,
  STATS_STREAM_INTERVAL_MS,
  STATS_STREAMS_MAX,
} from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { principalOf } from "../auth.ts";
import { readQuery } from "../body.ts";
import type { OpenApiRegistry } from "../openapi.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";
import { StatsSampler } from "../stats_stream.ts";

/** The stream's open count and timers, for /metrics and for tests of the cleanup. */
export class StatsStreamGauges {
  open = 0;
  timers = 0;

  render(): string {
    return [
      "# HELP sluice_http_stats_streams_open Live statistics streams open (GET /v1/stream/stats).\n",
      "# TYPE sluice_http_stats_streams_open gauge\n",
      `sluice_http_stats_streams_open ${this.open}\n`,
      "# HELP sluice_http_stats_stream_timers Timers the statistics streams hold (one per open " +
      "stream at most).\n",
      "# TYPE sluice_http_stats_stream_timers gauge\n",
      `sluice_http_stats_stream_timers ${this.timers}\n`,
    ].join("");
  }
}

/** Waits `ms`, or less if `signal` aborts; the timer is counted in `gauges` while armed. */
function pause(ms: number, signal: AbortSignal, gauges: StatsStreamGauges): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    gauges.timers++;
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      gauges.timers--;
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The OpenAPI description of the route (openapi_document.ts). */
export function describeStatsStreamRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "get",
    path: "/v1/stream/stats",
    summary: "Server-Sent Events: per-topic produce/fetch rates and per-group lag, pushed live",
    description: "One `event: stats` every intervalMs (default " +
      `${STATS_STREAM_INTERVAL_MS} ms, ${STATS_STREAM_INTERVAL_MIN_MS}..` +
      `${STATS_STREAM_INTERVAL_MAX_MS}); only the topics and groups the token may see ` +
      "(docs/API.md). At most " + `${STATS_STREAMS_MAX} at once (429 past it).`,
    request: { query: s.StatsStreamQuery },
    responses: {
      200: { description: "an event stream", content: { "text/event-stream": { schema: {} } } },
      default: {
        description: "an error",
        content: { "application/json": { schema: s.ErrorResponse } },
      },
    },
  });
}

export function registerStatsStreamRoutes(
  ctx: AppContext,
  streamsMax: number = STATS_STREAMS_MAX,
): StatsStreamGauges {
  const { app, broker, metrics } = ctx;
  const gauges = new StatsStreamGauges();
  metrics.addSource(() => gauges.render());

  app.get("/v1/stream/stats", (c) => {
    const q = readQuery(c, schemas().StatsStreamQuery);
    const intervalMs = Math.min(
      STATS_STREAM_INTERVAL_MAX_MS,
      Math.max(STATS_STREAM_INTERVAL_MIN_MS, q.intervalMs ?? STATS_STREAM_INTERVAL_MS),
    );
    if (gauges.open >= streamsMax) {
      throw new SluiceError(
        "TOO_MANY_REQUESTS",
        `${streamsMax} statistics streams are already open`,
      );
    }
    if (metrics.openStreams >= ctx.sseStreamsMax) {
      throw new SluiceError("TOO_MANY_REQUESTS", `${ctx.sseStreamsMax} streams are already open`);
    }
    const sampler = new StatsSampler(broker, principalOf(c.req.raw), q.group);
    gauges.open++;
    metrics.openStreams++;
    const ended = new AbortController();
    const stop = AbortSignal.any([c.req.raw.signal, ctx.shutdown, ended.signal]);
    c.header("cache-control", "no-store");
    c.header("x-accel-buffering", "no"); // nginx: pass each event on at once
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => ended.abort());
      let seq = 0;
      try {
        await stream.write(`retry: 2000\n: sluice stats every ${intervalMs} ms\n\n`);
        while (!stop.aborted && !stream.aborted && !stream.closed) {
          const event = sampler.next();
          await stream.writeSSE({ event: "stats", id: String(seq++), data: JSON.stringify(event) });
          await pause(intervalMs, stop, gauges);
        }
      } catch {
        // the client went away mid-write: nothing to tell it
      } finally {
        ended.abort();
        gauges.open--;
        metrics.openStreams--;
      }
    });
  });
  return gauges;
}
