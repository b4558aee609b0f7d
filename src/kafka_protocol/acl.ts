/**
 * The token ACLs of src/security/acl.ts applied to Kafka requests (README "Security"): a handler asks
 * `may(context, kind, name, op)` before it touches a topic or a group. Without authentication on
 * the listener (context.principal null) everything is allowed.
 *
 * | API                                           | needs                                     |
 * | Produce                                       | write on the topic (auto-creation too)    |
 * | Fetch, ListOffsets                            | read on the topic                         |
 * | Metadata                                      | lists topics with any right; a named topic without one is TOPIC_AUTHORIZATION_FAILED; auto-creation needs write or admin |
 * | CreateTopics, DeleteTopics, DeleteRecords     | admin on the topic                        |
 * | JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch | read on the group              |
 * | OffsetCommit                                  | read on the group and on each topic       |
 * | OffsetFetch                                   | read on each topic (all topics: filtered) |
 * | FindCoordinator (group)                       | read on the group                         |
 * | DescribeGroups, DeleteGroups                  | admin on the group (ListGroups filters)   |
 * | OffsetDelete                                  | admin on the group and read on each topic |
 * | OffsetForLeaderEpoch                          | any right on the topic (Kafka's DESCRIBE) |
 * | DescribeConfigs                               | a topic: any right on it; the broker: admin on topic "*" (CLUSTER_AUTHORIZATION_FAILED) |
 * | DescribeCluster                               | any authenticated principal               |
 * | InitProducerId, ApiVersions                   | any authenticated principal               |
 *
 * A missing right is TOPIC_AUTHORIZATION_FAILED (29) per topic or partition, or
 * GROUP_AUTHORIZATION_FAILED (30) for a group, as Kafka answers.
 */
import { allows, AUTH_OPS, type AuthOp } from "../security/acl.ts";
import type { RequestContext } from "./apis.ts";

export function may(
  context: RequestContext,
  kind: "topic" | "group",
  name: string,
  op: AuthOp,
): boolean {
  return context.principal === null || allows(context.principal, kind, name, op);
}

/** Any right (read, write or admin) on the topic: what Metadata needs to show it. */
export function mayAny(context: RequestContext, kind: "topic" | "group", name: string): boolean {
  return AUTH_OPS.some((op) => may(context, kind, name, op));
}

/** The message of an authorization failure (the principal's name, never a secret). */
export function denied(
  context: RequestContext,
  kind: "topic" | "group",
  name: string,
  op: AuthOp,
): string {
  return `principal "${context.principal?.name}" may not ${op} ${kind} ${JSON.stringify(name)}`;
}
