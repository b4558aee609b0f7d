/**
 * Group administration over HTTP (API.md "Consumer groups"), what `sluice group delete` and
 * `sluice group reset-offsets` call, under Kafka's rules for both: only a group without members.
 *
 * - `DELETE /v1/groups/{group}` forgets the group's committed offsets and stored membership, as
 *   Kafka's DeleteGroups (the Kafka front's handler does the same): 409 GROUP_NOT_EMPTY while it
 *   has members of either protocol, 404 GROUP_NOT_FOUND when nothing is stored for it.
 * - `PUT /v1/groups/{group}/offsets` sets committed offsets of an empty group, as
 *   kafka-consumer-groups --reset-offsets does with an OffsetCommit outside any generation: 409
 *   GROUP_NOT_EMPTY while it has members, 404 for a topic or partition that does not exist. The
 *   offsets are written as given (the client chooses them: earliest, latest, by time, shifted);
 *   a member that joins later starts from them.
 *
 * In a cluster both go to the group's coordinator (the middleware of groups.ts forwards every
 * /v1/groups/{group}... request), whose offset store replicates them.
 */
import { SluiceError } from "../../errors.ts";
import type { AppContext } from "../app.ts";
import { readJson, readParams } from "../body.ts";
import { errorResponses, jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";

function notEmpty(group: string, what: string): SluiceError {
  return new SluiceError(
    "GROUP_NOT_EMPTY",
    `group ${group} has members: ${what} only a group without members (stop its consumers first)`,
    { group },
  );
}

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeGroupAdminRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "delete",
    path: "/v1/groups/{group}",
    summary: "Delete a group without members: its committed offsets and stored membership",
    request: { params: s.GroupParams },
    responses: { 204: { description: "deleted" }, ...errorResponses(s) },
  });

  r.registerPath({
    method: "put",
    path: "/v1/groups/{group}/offsets",
    summary: "Set a group's committed offsets (reset-offsets); only a group without members",
    request: {
      params: s.GroupParams,
      body: { content: { "application/json": { schema: s.ResetOffsetsBody } } },
    },
    responses: { 200: jsonResponse(s.GroupOffsetsResponse, "set"), ...errorResponses(s) },
  });
}

export function registerGroupAdminRoutes({ app, broker, logger }: AppContext): void {
  const groups = broker.groups;

  app.delete("/v1/groups/:group", async (c) => {
    const { group } = readParams(c, schemas().GroupParams);
    if (groups.hasMembers(group)) throw notEmpty(group, "delete takes");
    const forgotten = groups.consumer.deleteIfEmpty(group);
    const deleted = await broker.offsets.deleteGroup(group) || forgotten;
    groups.forgetEmpty(group);
    if (!deleted) {
      throw new SluiceError("GROUP_NOT_FOUND", `group ${group} does not exist`, { group });
    }
    logger.info("deleted group", { group, via: "http" });
    return c.body(null, 204);
  });

  app.put("/v1/groups/:group/offsets", async (c) => {
    const { group } = readParams(c, schemas().GroupParams);
    const { offsets } = await readJson(c, schemas().ResetOffsetsBody);
    for (const o of offsets) broker.topics.get(o.topic).partition(o.partition); // 400/404
    if (groups.hasMembers(group)) throw notEmpty(group, "reset-offsets takes");
    await broker.offsets.commit(group, offsets);
    logger.info("reset group offsets", { group, partitions: offsets.length, via: "http" });
    return c.json({ offsets });
  });
}
