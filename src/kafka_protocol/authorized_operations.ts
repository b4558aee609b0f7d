/**
 * Authorized operations (KIP-430): what a principal may do with a topic, a group or the cluster,
 * as the bit set of Kafka's AclOperation codes that Metadata (v8+), DescribeGroups (v3+),
 * ConsumerGroupDescribe and DescribeCluster answer when asked (INT32_MIN when not asked).
 *
 * Without authentication on the listener everything is allowed, and every operation of the
 * resource type is reported, as a Kafka broker without an authorizer does (topic 3576, group
 * 3400, cluster 8096). With tokens, each bit is the right Sluice's own checks (acl.ts) ask for:
 *
 * | resource | operation                                  | Sluice's right                  |
 * | -------- | ------------------------------------------ | ------------------------------- |
 * | topic    | READ                                       | read                            |
 * | topic    | WRITE                                      | write                           |
 * | topic    | DESCRIBE, DESCRIBE_CONFIGS                 | any right on the topic          |
 * | topic    | CREATE, DELETE, ALTER, ALTER_CONFIGS       | admin                           |
 * | group    | READ                                       | read                            |
 * | group    | DESCRIBE, DELETE, DESCRIBE_CONFIGS, ALTER_CONFIGS | admin                    |
 * | cluster  | DESCRIBE, IDEMPOTENT_WRITE                 | any authenticated principal     |
 * | cluster  | CREATE, ALTER, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS | admin on topic `*` |
 */
import type { AuthOp } from "../security/acl.ts";
import { may, mayAny } from "./acl.ts";
import type { RequestContext } from "./apis.ts";

/** Kafka's "not asked / not provided" (INT32_MIN). */
export const AUTHORIZED_OPERATIONS_UNKNOWN = -2147483648;

/** Kafka's AclOperation codes, as bits. */
const READ = 1 << 3;
const WRITE = 1 << 4;
const CREATE = 1 << 5;
const DELETE = 1 << 6;
const ALTER = 1 << 7;
const DESCRIBE = 1 << 8;
const CLUSTER_ACTION = 1 << 9;
const DESCRIBE_CONFIGS = 1 << 10;
const ALTER_CONFIGS = 1 << 11;
const IDEMPOTENT_WRITE = 1 << 12;

const TOPIC_ADMIN = CREATE | DELETE | ALTER | ALTER_CONFIGS;
const GROUP_ADMIN = DESCRIBE | DELETE | DESCRIBE_CONFIGS | ALTER_CONFIGS;
const CLUSTER_ADMIN = CREATE | ALTER | CLUSTER_ACTION | DESCRIBE_CONFIGS | ALTER_CONFIGS;

function bit(
  context: RequestContext,
  kind: "topic" | "group",
  name: string,
  op: AuthOp,
  b: number,
) {
  return may(context, kind, name, op) ? b : 0;
}

/** The topic's operations the principal may perform, or UNKNOWN when `asked` is false. */
export function topicOperations(context: RequestContext, topic: string, asked: boolean): number {
  if (!asked) return AUTHORIZED_OPERATIONS_UNKNOWN;
  return bit(context, "topic", topic, "read", READ) |
    bit(context, "topic", topic, "write", WRITE) |
    bit(context, "topic", topic, "admin", TOPIC_ADMIN) |
    (mayAny(context, "topic", topic) ? DESCRIBE | DESCRIBE_CONFIGS : 0);
}

/** The group's operations the principal may perform, or UNKNOWN when `asked` is false. */
export function groupOperations(context: RequestContext, group: string, asked: boolean): number {
  if (!asked) return AUTHORIZED_OPERATIONS_UNKNOWN;
  return bit(context, "group", group, "read", READ) |
    bit(context, "group", group, "admin", GROUP_ADMIN);
}

/** The cluster's operations the principal may perform, or UNKNOWN when `asked` is false. */
export function clusterOperations(context: RequestContext, asked: boolean): number {
  if (!asked) return AUTHORIZED_OPERATIONS_UNKNOWN;
  return DESCRIBE | IDEMPOTENT_WRITE | bit(context, "topic", "*", "admin", CLUSTER_ADMIN);
}
