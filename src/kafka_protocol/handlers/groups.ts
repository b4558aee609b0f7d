/**
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch: the wire side of
 * src/broker/kafka_group_coordinator.ts (the classic protocol, client-side assignment relayed as
 * bytes). Commits go to the broker's one offset store, so a group's offsets read the same over
 * Kafka and over HTTP.
 */
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";

export function joinGroupHandler(ctx: KafkaContext): Handler {
  return async (body, { apiVersion, clientId, clientHost }) => {
    const sessionTimeoutMs = body.sessionTimeoutMs as number;
    const result = await ctx.groups.joinGroup({
      groupId: body.groupId as string,
      memberId: body.memberId as string,
      groupInstanceId: body.groupInstanceId as string | null,
      protocolType: body.protocolType as string,
      protocols: body.protocols as { name: string; metadata: Uint8Array }[],
      sessionTimeoutMs,
      // v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
      rebalanceTimeoutMs: apiVersion >= 1 ? body.rebalanceTimeoutMs as number : sessionTimeoutMs,
      requireKnownMemberId: apiVersion >= 4,
      clientId: clientId ?? "",
      clientHost,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      protocolName: result.protocolName ?? (apiVersion >= 7 ? null : ""),
      leader: result.leader,
      memberId: result.memberId,
      members: result.members,
    };
  };
}

export function syncGroupHandler(ctx: KafkaContext): Handler {
  return async (body) => {
    const result = await ctx.groups.syncGroup({
      groupId: body.groupId as string,
      generationId: body.generationId as number,
      memberId: body.memberId as string,
      groupInstanceId: body.groupInstanceId as string | null,
      protocolType: body.protocolType as string | null,
      protocolName: body.protocolName as string | null,
      assignments: body.assignments as { memberId: string; assignment: Uint8Array }[],
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  };
}

export function heartbeatHandler(ctx: KafkaContext): Handler {
  return (body) => {
    const result = ctx.groups.heartbeat({
      groupId: body.groupId as string,
      generationId: body.generationId as number,
      memberId: body.memberId as string,
      groupInstanceId: body.groupInstanceId as string | null,
    });
    return Promise.resolve({ throttleTimeMs: 0, errorCode: result.errorCode });
  };
}

export function leaveGroupHandler(ctx: KafkaContext): Handler {
  return async (body, { apiVersion }) => {
    // v0-2 name one member; v3+ a batch of members (static members by instance id).
    const members = apiVersion >= 3
      ? (body.members as { memberId: string; groupInstanceId: string | null }[])
      : [{ memberId: body.memberId as string, groupInstanceId: null }];
    const result = await ctx.groups.leaveGroup({ groupId: body.groupId as string, members });
    const errorCode = apiVersion >= 3
      ? result.errorCode
      : result.errorCode || (result.members[0]?.errorCode ?? 0);
    return { throttleTimeMs: 0, errorCode, members: result.members };
  };
}

export function offsetCommitHandler(ctx: KafkaContext): Handler {
  return async (body) => {
    const topics = body.topics as {
      name: string;
      partitions: {
        partitionIndex: number;
        committedOffset: bigint;
        committedMetadata: string | null;
      }[];
    }[];
    const result = await ctx.groups.commitOffsets({
      groupId: body.groupId as string,
      generationId: body.generationIdOrMemberEpoch as number,
      memberId: body.memberId as string,
      groupInstanceId: body.groupInstanceId as string | null,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          committedOffset: p.committedOffset,
          metadata: p.committedMetadata,
        })),
      })),
    });
    return { throttleTimeMs: 0, topics: result.topics };
  };
}

export function offsetFetchHandler(ctx: KafkaContext): Handler {
  return (body) => {
    const topics = body.topics as { name: string; partitionIndexes: number[] }[] | null;
    const result = ctx.groups.fetchOffsets(body.groupId as string, topics);
    return Promise.resolve({
      throttleTimeMs: 0,
      topics: result.topics,
      errorCode: result.errorCode,
    } as Struct);
  };
}
