/**
 * Produce, fetch and offset routes (API.md "Produce" and "Fetch").
 *
 * A fetch's memory is bounded: maxBytes is clamped to ctx.fetchBytesMax, then to what the fetch
 * response budget grants right before the read (ctx.responseBytes, shared by every request); a
 * fetch granted less answers with what it got, at least its first batch, at once; once the budget
 * is overdrawn to its cap (BYTE_BUDGET_OVERDRAW_FACTOR: clients not reading what they asked for
 * hold it), a fetch is refused with 429 TOO_MANY_REQUESTS and reads nothing, so what slow readers
 * pin stays bounded. The body holds
 * its bytes in the budget until the client has taken them (body.ts leasedBody). A long poll holds
 * nothing while it waits: the broker's read path (Broker.fetch, the one Kafka's Fetch takes too)
 * reads, and when that is short of minBytes gives the bytes back, waits for appends, and reads
 * again, asking the lease right before each read.
 *
 * Writes are acks=all unless the request says `acks=1` (in a cluster: answered once every in-sync
 * replica has the records; on one node the same as 1). On a cluster's broker every route here
 * serves what this broker leads and forwards the rest to the partition's leader (forwarding.ts);
 * a JSON produce is split by leader (cluster_produce.ts).
 */
import type { BatchAppendResult, FetchResult, WriteOptions } from "../../broker/broker.ts";
import type { Context } from "hono";
import { ByteLease } from "../../byte_budget.ts";
import { SluiceError } from "../../errors.ts";
import { HTTP_PRODUCE_TIMEOUT_MS_DEFAULT, READ_BYTES_DEFAULT } from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { produceAcrossLeaders } from "../cluster_produce.ts";
import { errorResponses, jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import { leaseBudget, leasedBody, readBody, readJson, readParams, readQuery } from "../body.ts";
import { encodingsOf, toProduceRecords } from "../records_json.ts";
import { RecordsJsonWriter } from "../records_json_writer.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";

/** Kafka RecordBatch v2 bytes, as stored on disk and sent on Kafka's wire. */
export const RECORD_BATCH_TYPE = "application/vnd.kafka.recordbatch";

/** A request without a query string: acks=all and the default timeout (what zod would say). */
const DEFAULT_WRITE: { write: Required<WriteOptions>; query: string } = Object.freeze({
  write: Object.freeze({ acks: -1, timeoutMs: HTTP_PRODUCE_TIMEOUT_MS_DEFAULT }),
  query: `acks=all&timeoutMs=${HTTP_PRODUCE_TIMEOUT_MS_DEFAULT}`,
});

/** The produce query as the broker's write options, and as a forwarded share's query string. */
function writeOptions(c: Context): { write: Required<WriteOptions>; query: string } {
  if (!c.req.url.includes("?")) return DEFAULT_WRITE;
  const q = readQuery(c, schemas().ProduceQuery);
  const acks = q.acks === "1" ? 1 : -1;
  const timeoutMs = q.timeoutMs ?? HTTP_PRODUCE_TIMEOUT_MS_DEFAULT;
  return {
    write: { acks, timeoutMs },
    query: `acks=${acks === 1 ? "1" : "all"}&timeoutMs=${timeoutMs}`,
  };
}

/** A partition number as PartitionParams takes it. */
const PARTITION_NUMBER = /^\d{1,9}$/;

/**
 * PartitionParams for the produce hot path: the same values without a zod parse when the path is
 * well formed; anything else goes through readParams, for its error.
 */
function partitionParams(c: Context): { topic: string; partition: number } {
  const topic = c.req.param("topic");
  const partition = c.req.param("partition");
  if (typeof topic === "string" && typeof partition === "string") {
    if (PARTITION_NUMBER.test(partition)) return { topic, partition: Number(partition) };
  }
  return readParams(c, schemas().PartitionParams);
}

/** The request's path and query string, as a forwarded request names them. */
function pathAndQuery(c: Context): string {
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeRecordRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "post",
    path: "/v1/topics/{topic}/records",
    summary: "Produce records (JSON); keyed records go to murmur2(key) % partitions",
    request: {
      params: s.TopicParams,
      query: s.ProduceQuery,
      body: { content: { "application/json": { schema: s.ProduceBody } } },
    },
    responses: {
      200: jsonResponse(s.ProduceResponse, "offsets in request order"),
      ...errorResponses(s),
    },
  });

  r.registerPath({
    method: "post",
    path: "/v1/topics/{topic}/partitions/{partition}/batches",
    summary: "Append Kafka RecordBatch v2 batches as bytes",
    request: {
      params: s.PartitionParams,
      query: s.ProduceQuery,
      body: { content: { [RECORD_BATCH_TYPE]: { schema: { type: "string", format: "binary" } } } },
    },
    responses: { 200: jsonResponse(s.AppendResponse, "offsets assigned"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}/partitions/{partition}/records",
    summary: "Fetch records from an offset; long-polls up to maxWaitMs. " +
      `With Accept: ${RECORD_BATCH_TYPE}, the stored batches as bytes.`,
    request: { params: s.PartitionParams, query: s.FetchQuery },
    responses: {
      200: {
        description: "records",
        content: {
          "application/json": { schema: s.FetchResponse },
          [RECORD_BATCH_TYPE]: { schema: { type: "string", format: "binary" } },
        },
      },
      ...errorResponses(s),
    },
  });

  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}/partitions/{partition}/offsets",
    summary: "The first offset whose timestamp is >= timestamp (or earliest/latest)",
    request: { params: s.PartitionParams, query: s.OffsetsQuery },
    responses: {
      200: jsonResponse(s.OffsetResponse, "the offset, null when no record is that new"),
      ...errorResponses(s),
    },
  });
}

export function registerRecordRoutes(ctx: AppContext): void {
  const { app, broker, forwarder } = ctx;

  app.post("/v1/topics/:topic/records", async (c) => {
    const { topic } = readParams(c, schemas().TopicParams);
    const { write, query } = writeOptions(c);
    const known = broker.topics.get(topic); // 400/404 before the body is read
    const body = await readJson(c, schemas().ProduceBody);
    if (forwarder.mayForward(c)) {
      return await produceAcrossLeaders(ctx, c, known, body, write, query);
    }
    const offsets = await broker.produce(topic, toProduceRecords(body), write);
    return c.json({ offsets });
  });

  app.post("/v1/topics/:topic/partitions/:partition/batches", async (c) => {
    const { topic, partition } = partitionParams(c);
    const { write } = writeOptions(c);
    broker.topics.get(topic).partition(partition);
    const type = c.req.header("content-type") ?? "";
    if (type.split(";")[0].trim().toLowerCase() !== RECORD_BATCH_TYPE) {
      throw new SluiceError(
        "UNSUPPORTED_MEDIA_TYPE",
        `this route takes Content-Type ${RECORD_BATCH_TYPE}, not ${JSON.stringify(type)}`,
      );
    }
    const leader = forwarder.leaderFor(c, topic, partition);
    if (leader !== undefined) {
      return await forwarder.forward(c, leader, {
        path: pathAndQuery(c),
        method: "POST",
        // Streamed through as it arrives; bodyLimit has checked its Content-Length already.
        body: c.req.raw.bodyUsed
          ? new Uint8Array(await c.req.arrayBuffer())
          : c.req.raw.body ?? new Uint8Array(0),
        waitMs: write.timeoutMs,
      });
    }
    // The body's one buffer goes to the log as it is: checked, offsets patched in place, written
    // (synchronously, within appendBatches). The broker keeps no reference to the bytes once its
    // promise has settled, so the buffer then serves a later request.
    const bytes = await readBody(c, ctx.maxRequestBytes, ctx.bodyBuffers);
    let result: BatchAppendResult;
    try {
      result = await broker.appendBatches(topic, partition, bytes, write);
    } finally {
      ctx.bodyBuffers.give(bytes);
    }
    return c.json({ baseOffset: result.baseOffset, lastOffset: result.lastOffset });
  });

  app.get("/v1/topics/:topic/partitions/:partition/records", async (c) => {
    const { topic, partition } = readParams(c, schemas().PartitionParams);
    const q = readQuery(c, schemas().FetchQuery);
    const leader = forwarder.leaderFor(c, topic, partition);
    if (leader !== undefined) {
      return await forwarder.forward(c, leader, {
        path: pathAndQuery(c),
        method: "GET",
        waitMs: q.maxWaitMs ?? 0,
        followClient: (q.maxWaitMs ?? 0) > 0,
      });
    }
    const want = Math.min(q.maxBytes ?? READ_BYTES_DEFAULT, ctx.fetchBytesMax);
    const minBytes = q.minBytes ?? 1;
    const maxWaitMs = q.maxWaitMs ?? 0;
    const lease = new ByteLease(ctx.responseBytes);
    let result: FetchResult;
    let body: Uint8Array;
    try {
      result = await broker.fetch(topic, partition, {
        offset: q.offset ?? "earliest",
        maxBytes: want,
        minBytes,
        maxWaitMs,
        budget: leaseBudget(lease),
        // Only a waiting fetch needs to hear of a client that went away; reading request.signal
        // costs Deno an abort per response.
        signal: () => AbortSignal.any([c.req.raw.signal, ctx.shutdown]),
      });
      if ((c.req.header("accept") ?? "").includes(RECORD_BATCH_TYPE)) {
        body = result.bytes; // The stored bytes as they are: no decoding, no re-encoding.
      } else {
        // Written straight from the batches (records_json_writer.ts): no object per record.
        const json = new RecordsJsonWriter(encodingsOf(q));
        json.raw('{"records":[');
        json.writeRecords(result.bytes, result.offset);
        json.raw(`],"nextOffset":${result.nextOffset},"highWatermark":${result.highWatermark}}`);
        body = json.finish();
      }
    } catch (err) {
      lease.releaseAll();
      throw err;
    }
    if (body !== result.bytes) {
      return c.body(leasedBody(body, lease), 200, {
        "content-type": "application/json",
        "content-length": String(body.length),
      });
    }
    return c.body(leasedBody(body, lease), 200, {
      "content-type": RECORD_BATCH_TYPE,
      "content-length": String(body.length),
      "sluice-next-offset": String(result.nextOffset),
      "sluice-high-watermark": String(result.highWatermark),
    });
  });

  app.get("/v1/topics/:topic/partitions/:partition/offsets", async (c) => {
    const { topic, partition } = readParams(c, schemas().PartitionParams);
    const { timestamp } = readQuery(c, schemas().OffsetsQuery);
    const leader = forwarder.leaderFor(c, topic, partition);
    if (leader !== undefined) {
      return await forwarder.forward(c, leader, {
        path: pathAndQuery(c),
        method: "GET",
        waitMs: 0,
      });
    }
    return c.json({ offset: broker.offsetFor(topic, partition, timestamp) ?? null });
  });
}
