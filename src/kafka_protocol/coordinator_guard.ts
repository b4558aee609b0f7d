/**
 * Group requests in a cluster go to the group's coordinator, the leader of its
 * `__consumer_offsets` partition (src/broker/groups/replicated_offsets.ts). A group request that
 * reaches another broker is answered, as Kafka answers it, with NOT_COORDINATOR (or
 * COORDINATOR_LOAD_IN_PROGRESS while this broker is still loading the partition), and the client
 * asks FindCoordinator again. On one node every group is this broker's: the guard lets all
 * through.
 *
 * guardGroups(ctx, api, handler) wraps a group API's handler: requests for one group (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetDelete, ConsumerGroupHeartbeat, OffsetFetch
 * before v8) are answered with the error in the shape the response has for it; requests for
 * several groups (OffsetFetch v8+, DescribeGroups, DeleteGroups, ConsumerGroupDescribe) are passed
 * on with only the groups coordinated here, and the others answered with their error.
 */
import type { Handler, RequestContext } from "./apis.ts";
import type { Struct } from "./codec.ts";
import type { KafkaContext } from "./context.ts";
import { KafkaError } from "./error_codes.ts";

/** The error for a group this broker does not coordinate now, or undefined when it does. */
export function coordinatorError(ctx: KafkaContext, group: string): number | undefined {
  switch (ctx.broker.groupCoordination(group)) {
    case "yes":
      return undefined;
    case "loading":
      return KafkaError.COORDINATOR_LOAD_IN_PROGRESS;
    case "no":
      return KafkaError.NOT_COORDINATOR;
  }
}

type GroupApi =
  | "JoinGroup"
  | "SyncGroup"
  | "Heartbeat"
  | "LeaveGroup"
  | "OffsetCommit"
  | "OffsetFetch"
  | "OffsetDelete"
  | "DescribeGroups"
  | "DeleteGroups"
  | "ConsumerGroupHeartbeat"
  | "ConsumerGroupDescribe";

/** OffsetCommit's and OffsetDelete's answer: the error on every partition asked. */
function perPartition(body: Struct, code: number, topicField: "topics"): Struct {
  const topics = (body[topicField] as Struct[] | undefined) ?? [];
  return {
    errorCode: code,
    topics: topics.map((t) => ({
      name: t.name,
      partitions: ((t.partitions as Struct[] | undefined) ?? []).map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: code,
      })),
    })),
  };
}

export function guardGroups(ctx: KafkaContext, api: GroupApi, handler: Handler): Handler {
  return async (body: Struct, context: RequestContext) => {
    // One node: every group is this broker's (checked per call: the broker is read only then).
    if (!ctx.broker.replicated) return await handler(body, context);
    switch (api) {
      case "JoinGroup":
      case "SyncGroup":
      case "Heartbeat":
      case "LeaveGroup":
      case "ConsumerGroupHeartbeat": {
        const code = coordinatorError(ctx, body.groupId as string);
        if (code === undefined) return await handler(body, context);
        return { errorCode: code, memberId: body.memberId ?? "", members: [] };
      }
      case "OffsetCommit":
      case "OffsetDelete": {
        const code = coordinatorError(ctx, body.groupId as string);
        if (code === undefined) return await handler(body, context);
        return perPartition(body, code, "topics");
      }
      case "OffsetFetch": {
        const groups = body.groups as Struct[] | undefined;
        if (context.apiVersion < 8 || groups === undefined) {
          const code = coordinatorError(ctx, body.groupId as string);
          return code === undefined
            ? await handler(body, context)
            : { errorCode: code, topics: [] };
        }
        const refused = groups.filter((g) =>
          coordinatorError(ctx, g.groupId as string) !== undefined
        );
        if (refused.length === 0) return await handler(body, context);
        const served = groups.filter((g) => !refused.includes(g));
        const answer = served.length === 0
          ? { groups: [] as Struct[] }
          : await handler({ ...body, groups: served }, context) as { groups: Struct[] };
        return {
          ...answer,
          groups: [
            ...answer.groups,
            ...refused.map((g) => ({
              groupId: g.groupId,
              topics: [],
              errorCode: coordinatorError(ctx, g.groupId as string),
            })),
          ],
        };
      }
      case "DescribeGroups":
      case "DeleteGroups":
      case "ConsumerGroupDescribe": {
        const field = api === "DescribeGroups"
          ? "groups"
          : api === "DeleteGroups"
          ? "groupsNames"
          : "groupIds";
        const ids = (body[field] as string[] | undefined) ?? [];
        const refused = ids.filter((id) => coordinatorError(ctx, id) !== undefined);
        if (refused.length === 0) return await handler(body, context);
        const served = ids.filter((id) => !refused.includes(id));
        const answer = served.length === 0
          ? {}
          : await handler({ ...body, [field]: served }, context) as Struct;
        const listField = api === "DeleteGroups" ? "results" : "groups";
        const list = (answer[listField] as Struct[] | undefined) ?? [];
        const errors = refused.map((id) =>
          api === "DeleteGroups"
            ? { groupId: id, errorCode: coordinatorError(ctx, id) }
            : { groupId: id, errorCode: coordinatorError(ctx, id), members: [] }
        );
        return { ...answer, [listField]: [...list, ...errors] };
      }
    }
  };
}
