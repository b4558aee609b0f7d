/**
 * Streaming consume over Server-Sent Events: one event per record (`id:` offset, `data:` the
 * record as JSON), pushed as records are appended, resuming after `Last-Event-ID`.
 *
 * Back-pressure: the loop reads at most SSE_BUFFER_BYTES_MAX of batches at a time and awaits each
 * write, which waits while the client is not reading; a slow client therefore slows its own
 * reads of the log and never grows the server's memory. Streams are bounded (SSE_STREAMS_MAX).
 *
 * On a cluster's broker, a stream of a partition led elsewhere is the leader's stream, forwarded
 * (forwarding.ts) and counted against this broker's SSE_STREAMS_MAX: it ends when the leader's
 * does (the leader went away, or stopped leading), and the client reconnects with Last-Event-ID.
 */
import { streamSSE } from "hono/streaming";
import { highWatermark } from "../../broker/fetch_reader.ts";
import { isSluiceError, SluiceError } from "../../errors.ts";
import { SSE_BUFFER_BYTES_MAX } from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { readParams, readQuery } from "../body.ts";
import { toErrorResponse } from "../error_handler.ts";
import { encodingsOf, recordsToJson } from "../records_json.ts";
import type { OpenApiRegistry } from "../openapi.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";

/** How long one wait for data lasts before a keep-alive comment goes out. */
const KEEPALIVE_MS = 15_000;

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeStreamRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}/partitions/{partition}/stream",
    summary: "Server-Sent Events: one event per record, pushed as records are appended",
    request: { params: s.PartitionParams, query: s.StreamQuery },
    responses: {
      200: { description: "an event stream", content: { "text/event-stream": { schema: {} } } },
      default: {
        description: "an error",
        content: { "application/json": { schema: s.ErrorResponse } },
      },
    },
  });
}

export function registerStreamRoutes(ctx: AppContext): void {
  const { app, broker, forwarder, logger, metrics } = ctx;

  app.get("/v1/topics/:topic/partitions/:partition/stream", async (c) => {
    const { topic, partition } = readParams(c, schemas().PartitionParams);
    const q = readQuery(c, schemas().StreamQuery);
    const leader = forwarder.leaderFor(c, topic, partition);
    if (leader !== undefined) {
      if (metrics.openStreams >= ctx.sseStreamsMax) {
        throw new SluiceError("TOO_MANY_REQUESTS", `${ctx.sseStreamsMax} streams are already open`);
      }
      metrics.openStreams++;
      const url = new URL(c.req.url);
      return await forwarder.forward(c, leader, {
        path: url.pathname + url.search,
        method: "GET",
        waitMs: 0,
        stream: true,
        onEnd: () => metrics.openStreams--,
      });
    }
    const log = broker.topics.get(topic).partition(partition); // 400/404 as JSON, before streaming
    const lastEventId = c.req.header("last-event-id");
    let offset: number;
    if (lastEventId !== undefined && /^\d{1,16}$/.test(lastEventId.trim())) {
      offset = Number(lastEventId.trim()) + 1;
    } else if (q.offset === "earliest" || q.offset === undefined) {
      offset = log.logStartOffset;
    } else if (q.offset === "latest") {
      offset = highWatermark(log);
    } else {
      offset = q.offset;
    }
    if (metrics.openStreams >= ctx.sseStreamsMax) {
      throw new SluiceError("TOO_MANY_REQUESTS", `${ctx.sseStreamsMax} streams are already open`);
    }
    metrics.openStreams++;
    const clientGone = c.req.raw.signal;
    return streamSSE(c, async (stream) => {
      const stop = AbortSignal.any([clientGone, ctx.shutdown]);
      stream.onAbort(() => {});
      try {
        while (!stop.aborted && !stream.aborted && !stream.closed) {
          const result = await broker.fetch(topic, partition, {
            offset,
            maxBytes: SSE_BUFFER_BYTES_MAX,
            maxWaitMs: KEEPALIVE_MS,
            signal: stop,
          });
          const records = recordsToJson(
            result.bytes,
            result.offset,
            encodingsOf(q),
          );
          for (const r of records) {
            if (stop.aborted) break;
            await stream.writeSSE({ id: String(r.offset), data: JSON.stringify(r) });
          }
          if (records.length === 0 && !stop.aborted) await stream.write(": keep-alive\n\n");
          offset = result.nextOffset;
        }
      } catch (err) {
        if (!stream.closed) {
          const { body } = toErrorResponse(err, logger);
          await stream.writeSSE({ event: "error", data: JSON.stringify(body) }).catch(() => {});
        }
        if (!isSluiceError(err)) logger.error("stream failed", { error: String(err) });
      } finally {
        metrics.openStreams--;
      }
    });
  });
}
