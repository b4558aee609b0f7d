/** Consumer group routes (API.md "Consumer groups"). */
import type { Context, Next } from "hono";
import { FETCH_WAIT_MS_MAX, GROUPS_LIST_MAX, READ_BYTES_DEFAULT } from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { ByteLease } from "../../byte_budget.ts";
import { leaseBudget, leasedBody, readJson, readParams, readQuery } from "../body.ts";
import { errorResponses, jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import { encodingsOf } from "../records_json.ts";
import { RecordsJsonWriter } from "../records_json_writer.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeGroupRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "get",
    path: "/v1/groups",
    summary:
      "List the groups: state, protocol, protocol type and member count (Kafka's ListGroups)",
    request: { query: s.GroupListQuery },
    responses: { 200: jsonResponse(s.GroupList, "the groups, sorted by id"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "post",
    path: "/v1/groups/{group}/members",
    summary: "Join a consumer group; partitions are reassigned at once",
    request: {
      params: s.GroupParams,
      body: { content: { "application/json": { schema: s.JoinBody } } },
    },
    responses: { 200: jsonResponse(s.MemberResponse, "the member"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "post",
    path: "/v1/groups/{group}/members/{member}/heartbeat",
    summary: "Keep the member alive; returns its generation and assignment",
    request: { params: s.MemberParams },
    responses: { 200: jsonResponse(s.HeartbeatResponse, "generation"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "get",
    path: "/v1/groups/{group}/members/{member}/records",
    summary: "Records from the member's partitions, from its committed offsets",
    request: { params: s.MemberParams, query: s.MemberFetchQuery },
    responses: { 200: jsonResponse(s.MemberFetchResponse, "records"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "post",
    path: "/v1/groups/{group}/offsets",
    summary: "Commit offsets (the next offset to read) atomically",
    request: {
      params: s.GroupParams,
      body: { content: { "application/json": { schema: s.CommitBody } } },
    },
    responses: { 200: jsonResponse(s.GroupOffsetsResponse, "committed"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "get",
    path: "/v1/groups/{group}/offsets",
    summary: "Committed offsets with lag",
    request: { params: s.GroupParams },
    responses: { 200: jsonResponse(s.GroupOffsetsResponse, "offsets"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "delete",
    path: "/v1/groups/{group}/members/{member}",
    summary: "Leave the group; its partitions go to the other members",
    request: { params: s.MemberParams },
    responses: { 204: { description: "left" }, ...errorResponses(s) },
  });

  r.registerPath({
    method: "get",
    path: "/v1/groups/{group}",
    summary: "Describe a group: generation, state, members and assignments",
    request: { params: s.GroupParams },
    responses: { 200: jsonResponse(s.GroupDescription, "the group"), ...errorResponses(s) },
  });
}

export function registerGroupRoutes(
  { app, broker, fetchBytesMax, forwarder, responseBytes }: AppContext,
): void {
  const groups = broker.groups;

  // In a cluster every group request goes to the group's coordinator (the leader of its offsets
  // partition): served here when this broker is it, else forwarded there (forwarding.ts).
  const toCoordinator = async (c: Context, next: Next) => {
    const target = await forwarder.coordinatorFor(c, c.req.param("group") ?? "");
    if (target === undefined) return await next();
    const wait = Number(new URL(c.req.url).searchParams.get("maxWaitMs") ?? 0);
    const url = new URL(c.req.url);
    return await forwarder.forward(c, target, {
      path: url.pathname + url.search,
      method: c.req.method as "GET" | "POST" | "DELETE",
      body: c.req.method === "GET" || c.req.method === "HEAD"
        ? undefined
        : c.req.raw.body ?? undefined,
      waitMs: Number.isFinite(wait) && wait > 0 ? Math.min(wait, FETCH_WAIT_MS_MAX) : 0,
      followClient: true,
    });
  };
  // Not forwarded: in a cluster each broker lists the groups it coordinates, as Kafka's ListGroups.
  app.get("/v1/groups", (c) => {
    const { after } = readQuery(c, schemas().GroupListQuery);
    const { groups: listed, more } = groups.list(after, GROUPS_LIST_MAX);
    return c.json({ groups: listed, next: more ? listed[listed.length - 1].group : null });
  });

  app.use("/v1/groups/:group", toCoordinator);
  app.use("/v1/groups/:group/*", toCoordinator);

  app.post("/v1/groups/:group/members", async (c) => {
    const { group } = readParams(c, schemas().GroupParams);
    const body = await readJson(c, schemas().JoinBody);
    return c.json(await groups.join(group, body));
  });

  app.post("/v1/groups/:group/members/:member/heartbeat", (c) => {
    const { group, member } = readParams(c, schemas().MemberParams);
    const view = groups.heartbeat(group, member);
    return c.json({
      generation: view.generation,
      assignment: view.assignment,
      rebalance: view.rebalance,
    });
  });

  app.get("/v1/groups/:group/members/:member/records", async (c) => {
    const { group, member } = readParams(c, schemas().MemberParams);
    const q = readQuery(c, schemas().MemberFetchQuery);
    // Bounded as a plain fetch is (records.ts): the read asks the response budget, and the body
    // holds its bytes there until the client has taken them.
    const lease = new ByteLease(responseBytes);
    let body: Uint8Array;
    try {
      const result = await groups.fetch(group, member, {
        // Clamped as a plain fetch is (HTTP_FETCH_BYTES_MAX): a larger ask gets less, not a 400.
        maxBytes: Math.min(q.maxBytes ?? READ_BYTES_DEFAULT, fetchBytesMax),
        maxWaitMs: q.maxWaitMs ?? 0,
        signal: (q.maxWaitMs ?? 0) > 0 ? c.req.raw.signal : undefined,
        budget: leaseBudget(lease),
      });
      // Written straight from the batches (records_json_writer.ts): no object per record.
      const json = new RecordsJsonWriter(encodingsOf(q));
      json.raw('{"records":[');
      for (const part of result.parts) {
        const where = `"topic":${JSON.stringify(part.topic)},"partition":${part.partition},`;
        json.writeRecords(part.bytes, part.fromOffset, where);
      }
      json.raw(
        `],"generation":${JSON.stringify(result.generation)},"assignment":${
          JSON.stringify(result.assignment)
        },"rebalance":${JSON.stringify(result.rebalance)}}`,
      );
      body = json.finish();
    } catch (err) {
      lease.releaseAll();
      throw err;
    }
    // A stream of the writer's own buffer: the runtime copies a Uint8Array body whole first.
    return c.body(leasedBody(body, lease), 200, {
      "content-type": "application/json",
      "content-length": String(body.length),
    });
  });

  app.post("/v1/groups/:group/offsets", async (c) => {
    const { group } = readParams(c, schemas().GroupParams);
    const body = await readJson(c, schemas().CommitBody);
    await groups.commit(group, body);
    return c.json({ offsets: body.offsets });
  });

  app.get("/v1/groups/:group/offsets", (c) => {
    const { group } = readParams(c, schemas().GroupParams);
    return c.json({ offsets: groups.offsets(group) });
  });

  app.delete("/v1/groups/:group/members/:member", async (c) => {
    const { group, member } = readParams(c, schemas().MemberParams);
    await groups.leave(group, member);
    return c.body(null, 204);
  });

  app.get("/v1/groups/:group", (c) => {
    const { group } = readParams(c, schemas().GroupParams);
    return c.json(groups.describe(group));
  });
}
