/** Produce, fetch and offset routes (API.md "Produce" and "Fetch"). */
import { SluiceError } from "../../errors.ts";
import { READ_BYTES_DEFAULT } from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { errorResponses, jsonResponse } from "../openapi.ts";
import { readJson, readParams, readQuery } from "../body.ts";
import { recordsToJson, toProduceRecords } from "../records_json.ts";
import {
  AppendResponse,
  FetchQuery,
  FetchResponse,
  OffsetResponse,
  OffsetsQuery,
  PartitionParams,
  ProduceBody,
  ProduceResponse,
  TopicParams,
} from "../schemas.ts";

/** Kafka RecordBatch v2 bytes, as stored on disk and sent on Kafka's wire. */
export const RECORD_BATCH_TYPE = "application/vnd.kafka.recordbatch";

export function registerRecordRoutes({ app, broker }: AppContext): void {
  const r = app.openAPIRegistry;

  r.registerPath({
    method: "post",
    path: "/v1/topics/{topic}/records",
    summary: "Produce records (JSON); keyed records go to murmur2(key) % partitions",
    request: {
      params: TopicParams,
      body: { content: { "application/json": { schema: ProduceBody } } },
    },
    responses: {
      200: jsonResponse(ProduceResponse, "offsets in request order"),
      ...errorResponses,
    },
  });
  app.post("/v1/topics/:topic/records", async (c) => {
    const { topic } = readParams(c, TopicParams);
    broker.topics.get(topic); // 400/404 before the body is read
    const body = await readJson(c, ProduceBody);
    const offsets = await broker.produce(topic, toProduceRecords(body));
    return c.json({ offsets });
  });

  r.registerPath({
    method: "post",
    path: "/v1/topics/{topic}/partitions/{partition}/batches",
    summary: "Append Kafka RecordBatch v2 batches as bytes",
    request: {
      params: PartitionParams,
      body: { content: { [RECORD_BATCH_TYPE]: { schema: { type: "string", format: "binary" } } } },
    },
    responses: { 200: jsonResponse(AppendResponse, "offsets assigned"), ...errorResponses },
  });
  app.post("/v1/topics/:topic/partitions/:partition/batches", async (c) => {
    const { topic, partition } = readParams(c, PartitionParams);
    broker.topics.get(topic).partition(partition);
    const type = c.req.header("content-type") ?? "";
    if (type.split(";")[0].trim().toLowerCase() !== RECORD_BATCH_TYPE) {
      throw new SluiceError(
        "UNSUPPORTED_MEDIA_TYPE",
        `this route takes Content-Type ${RECORD_BATCH_TYPE}, not ${JSON.stringify(type)}`,
      );
    }
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const result = await broker.appendBatches(topic, partition, bytes);
    return c.json({ baseOffset: result.baseOffset, lastOffset: result.lastOffset });
  });

  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}/partitions/{partition}/records",
    summary: "Fetch records from an offset; long-polls up to maxWaitMs. " +
      `With Accept: ${RECORD_BATCH_TYPE}, the stored batches as bytes.`,
    request: { params: PartitionParams, query: FetchQuery },
    responses: {
      200: {
        description: "records",
        content: {
          "application/json": { schema: FetchResponse },
          [RECORD_BATCH_TYPE]: { schema: { type: "string", format: "binary" } },
        },
      },
      ...errorResponses,
    },
  });
  app.get("/v1/topics/:topic/partitions/:partition/records", async (c) => {
    const { topic, partition } = readParams(c, PartitionParams);
    const q = readQuery(c, FetchQuery);
    const result = await broker.fetch(topic, partition, {
      offset: q.offset ?? "earliest",
      maxBytes: q.maxBytes ?? READ_BYTES_DEFAULT,
      maxWaitMs: q.maxWaitMs ?? 0,
      minBytes: q.minBytes ?? 1,
      // Only a waiting fetch needs to hear of a client that went away; reading request.signal
      // costs Deno an abort per response.
      signal: (q.maxWaitMs ?? 0) > 0 ? c.req.raw.signal : undefined,
    });
    if ((c.req.header("accept") ?? "").includes(RECORD_BATCH_TYPE)) {
      // The stored bytes as they are: no decoding, no re-encoding.
      return c.body(result.bytes as Uint8Array<ArrayBuffer>, 200, {
        "content-type": RECORD_BATCH_TYPE,
        "sluice-next-offset": String(result.nextOffset),
        "sluice-high-watermark": String(result.highWatermark),
      });
    }
    return c.json({
      records: recordsToJson(
        result.bytes,
        result.offset,
        q.keyEncoding ?? "string",
        q.valueEncoding ?? "string",
      ),
      nextOffset: result.nextOffset,
      highWatermark: result.highWatermark,
    });
  });

  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}/partitions/{partition}/offsets",
    summary: "The first offset whose timestamp is >= timestamp (or earliest/latest)",
    request: { params: PartitionParams, query: OffsetsQuery },
    responses: {
      200: jsonResponse(OffsetResponse, "the offset, null when no record is that new"),
      ...errorResponses,
    },
  });
  app.get("/v1/topics/:topic/partitions/:partition/offsets", (c) => {
    const { topic, partition } = readParams(c, PartitionParams);
    const { timestamp } = readQuery(c, OffsetsQuery);
    return c.json({ offset: broker.offsetFor(topic, partition, timestamp) ?? null });
  });
}
