/**
 * DeleteRecords over HTTP (API.md "Delete records"): `POST
 * /v1/topics/{topic}/partitions/{partition}/delete-records` with `{"beforeOffset": n}` deletes the
 * partition's records before offset n (-1: the high watermark, every committed record) and answers
 * `{"topic","partition","lowWatermark"}`, the partition's first offset now. The broker does it
 * (src/broker/delete_records.ts): durable before the answer; an offset past the high watermark is
 * 416 OFFSET_OUT_OF_RANGE, a bad body 400, an unknown topic or partition 404, all writing nothing.
 *
 * On a cluster's broker the request goes to the partition's leader (forwarding.ts), the body
 * checked first; the leader answers once every live replica has deleted the records, or 504
 * REQUEST_TIMED_OUT after DELETE_RECORDS_TIMEOUT_MS_DEFAULT (deleted on the leader all the same).
 */
import type { Context } from "hono";
import { DELETE_RECORDS_TIMEOUT_MS_DEFAULT } from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { readJson, readParams } from "../body.ts";
import { errorResponses, jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";

/** The request's path and query string, as a forwarded request names them. */
function pathAndQuery(c: Context): string {
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeDeleteRecordsRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "post",
    path: "/v1/topics/{topic}/partitions/{partition}/delete-records",
    summary: "Delete a partition's records before an offset (-1: the high watermark)",
    request: {
      params: s.PartitionParams,
      body: { content: { "application/json": { schema: s.DeleteRecordsBody } } },
    },
    responses: {
      200: jsonResponse(s.DeleteRecordsResponse, "the partition's low watermark, its first offset"),
      ...errorResponses(s),
    },
  });
}

export function registerDeleteRecordsRoutes({ app, broker, forwarder }: AppContext): void {
  app.post("/v1/topics/:topic/partitions/:partition/delete-records", async (c) => {
    const { topic, partition } = readParams(c, schemas().PartitionParams);
    broker.topics.get(topic).partition(partition); // 400/404 before the body is read
    const { beforeOffset } = await readJson(c, schemas().DeleteRecordsBody);
    const leader = forwarder.leaderFor(c, topic, partition);
    if (leader !== undefined) {
      return await forwarder.forward(c, leader, {
        path: pathAndQuery(c),
        method: "POST",
        body: JSON.stringify({ beforeOffset }),
        contentType: "application/json",
        waitMs: DELETE_RECORDS_TIMEOUT_MS_DEFAULT,
      });
    }
    const lowWatermark = await broker.deleteRecords(topic, partition, beforeOffset);
    return c.json({ topic, partition, lowWatermark });
  });
}
