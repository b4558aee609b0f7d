/**
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch: the wire side of
 * src/broker/groups/classic/ (the classic protocol, client-side assignment relayed as bytes),
 * whose error names (ClassicGroupError) become wire codes here. Commits go to the broker's one
 * offset store, so a group's offsets read the same over Kafka and over HTTP. For a KIP-848
 * consumer group (src/broker/groups/consumer_coordinator.ts) OffsetCommit and OffsetFetch (v9+) check the
 * member id and member epoch there first (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH; OffsetCommit
 * before v9 is UNSUPPORTED_VERSION for such a group); OffsetFetch v8+ answers several groups, each
 * as a single-group request would be.
 *
 * With authentication each needs read on the group (GROUP_AUTHORIZATION_FAILED otherwise);
 * OffsetCommit and OffsetFetch also read on each topic (TOPIC_AUTHORIZATION_FAILED per partition;
 * an OffsetFetch of all topics leaves out those without it).
 */
import type {
  ClassicGroupError,
  ClassicOffsetFetchResult,
} from "../../broker/groups/classic/types.ts";
import { may } from "../acl.ts";
import type { Handler } from "../apis.ts";
import type { Struct } from "../codec.ts";
import type { KafkaContext } from "../context.ts";
import { KafkaError } from "../error_codes.ts";
import { consumerGroupErrorCode } from "./consumer_groups.ts";

const EMPTY = new Uint8Array(0);
const GROUP_DENIED = KafkaError.GROUP_AUTHORIZATION_FAILED;

/** The wire code of a classic coordinator's error name. */
export function classicGroupErrorCode(error: ClassicGroupError): number {
  return KafkaError[error];
}

export function joinGroupHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const { apiVersion, clientId, clientHost } = context;
    if (!may(context, "group", body.groupId as string, "read")) {
      return {
        throttleTimeMs: 0,
        errorCode: GROUP_DENIED,
        generationId: -1,
        protocolType: null,
        protocolName: apiVersion >= 7 ? null : "",
        leader: "",
        memberId: "",
        members: [],
      };
    }
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
      errorCode: classicGroupErrorCode(result.error),
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
  return async (body, context) => {
    if (!may(context, "group", body.groupId as string, "read")) {
      return {
        throttleTimeMs: 0,
        errorCode: GROUP_DENIED,
        protocolType: null,
        protocolName: null,
        assignment: EMPTY,
      };
    }
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
      errorCode: classicGroupErrorCode(result.error),
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  };
}

export function heartbeatHandler(ctx: KafkaContext): Handler {
  return (body, context) => {
    if (!may(context, "group", body.groupId as string, "read")) {
      return Promise.resolve({ throttleTimeMs: 0, errorCode: GROUP_DENIED });
    }
    const result = ctx.groups.heartbeat({
      groupId: body.groupId as string,
      generationId: body.generationId as number,
      memberId: body.memberId as string,
      groupInstanceId: body.groupInstanceId as string | null,
    });
    return Promise.resolve({ throttleTimeMs: 0, errorCode: classicGroupErrorCode(result.error) });
  };
}

export function leaveGroupHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const apiVersion = context.apiVersion;
    if (!may(context, "group", body.groupId as string, "read")) {
      return { throttleTimeMs: 0, errorCode: GROUP_DENIED, members: [] };
    }
    // v0-2 name one member; v3+ a batch of members (static members by instance id).
    const members = apiVersion >= 3
      ? (body.members as { memberId: string; groupInstanceId: string | null }[])
      : [{ memberId: body.memberId as string, groupInstanceId: null }];
    const result = await ctx.groups.leaveGroup({ groupId: body.groupId as string, members });
    const answers = result.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      errorCode: classicGroupErrorCode(m.error),
    }));
    const topLevel = classicGroupErrorCode(result.error);
    const errorCode = apiVersion >= 3 ? topLevel : topLevel || (answers[0]?.errorCode ?? 0);
    return { throttleTimeMs: 0, errorCode, members: answers };
  };
}

/** Each topic's partition answers, one entry per topic as asked (parts answered apart merged). */
function inRequestOrder(
  requested: readonly { name: string; partitions: readonly { partitionIndex: number }[] }[],
  answered: readonly {
    name: string;
    partitions: { partitionIndex: number; errorCode: number }[];
  }[],
): { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] {
  const byTopic = new Map<string, Map<number, number>>();
  for (const t of answered) {
    let m = byTopic.get(t.name);
    if (m === undefined) byTopic.set(t.name, m = new Map());
    for (const p of t.partitions) m.set(p.partitionIndex, p.errorCode);
  }
  return requested.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partitionIndex,
      errorCode: byTopic.get(t.name)?.get(p.partitionIndex) ?? KafkaError.UNKNOWN_SERVER_ERROR,
    })),
  }));
}

/** The topic's partition count, 0 when it does not exist (or its name is not valid). */
function partitionCount(ctx: KafkaContext, topic: string): number {
  try {
    return ctx.broker.topics.get(topic).logs.length;
  } catch {
    return 0;
  }
}

export function offsetCommitHandler(ctx: KafkaContext): Handler {
  return async (body, context) => {
    const requested = body.topics as {
      name: string;
      partitions: {
        partitionIndex: number;
        committedOffset: bigint;
        committedMetadata: string | null;
      }[];
    }[];
    const denied = (t: (typeof requested)[number], errorCode: number) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
    });
    if (!may(context, "group", body.groupId as string, "read")) {
      return { throttleTimeMs: 0, topics: requested.map((t) => denied(t, GROUP_DENIED)) };
    }
    // Kafka's order: not authorized, then not existing (UNKNOWN_TOPIC_OR_PARTITION, per
    // partition: an unknown topic, or a partition past its count), then the commit.
    const refused: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] =
      [];
    const topics: typeof requested = [];
    for (const t of requested) {
      if (!may(context, "topic", t.name, "read")) {
        refused.push(denied(t, KafkaError.TOPIC_AUTHORIZATION_FAILED));
        continue;
      }
      const count = partitionCount(ctx, t.name);
      const known = t.partitions.filter((p) => p.partitionIndex >= 0 && p.partitionIndex < count);
      if (known.length < t.partitions.length) {
        refused.push({
          name: t.name,
          partitions: t.partitions.filter((p) => !known.includes(p)).map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
          })),
        });
      }
      if (known.length > 0) topics.push({ ...t, partitions: known });
    }
    if (topics.length === 0 && refused.length > 0) {
      return { throttleTimeMs: 0, topics: inRequestOrder(requested, refused) };
    }
    const groupId = body.groupId as string;
    // A KIP-848 consumer group checks its member and epoch; the classic coordinator writes.
    let memberChecked = false;
    if (ctx.consumerGroups.knows(groupId) && !ctx.groups.hasActiveGroup(groupId)) {
      const error = ctx.consumerGroups.validateCommit(
        groupId,
        body.memberId as string,
        body.generationIdOrMemberEpoch as number,
        context.apiVersion,
      );
      if (error !== undefined && error !== "NONE") {
        return {
          throttleTimeMs: 0,
          topics: inRequestOrder(requested, [
            ...topics.map((t) => denied(t, consumerGroupErrorCode(error))),
            ...refused,
          ]),
        };
      }
      memberChecked = error === "NONE";
    }
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
    }, memberChecked);
    const committed = result.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: classicGroupErrorCode(p.error),
      })),
    }));
    return { throttleTimeMs: 0, topics: inRequestOrder(requested, [...committed, ...refused]) };
  };
}

export function offsetFetchHandler(ctx: KafkaContext): Handler {
  const one = offsetFetchOneGroup(ctx);
  return async (body, context) => {
    if (context.apiVersion < 8) return await one(body, context);
    // v8+: several groups, each answered as a v7 request would be, plus the member check (v9).
    const groups = body.groups as {
      groupId: string;
      memberId: string | null;
      memberEpoch: number;
      topics: { name: string; partitionIndexes: number[] }[] | null;
    }[];
    const answers: Struct[] = [];
    for (const g of groups) {
      const check = ctx.consumerGroups.knows(g.groupId) && !ctx.groups.hasActiveGroup(g.groupId)
        ? ctx.consumerGroups.validateFetch(g.groupId, g.memberId, g.memberEpoch)
        : undefined;
      if (check !== undefined && check !== "NONE") {
        answers.push({ groupId: g.groupId, topics: [], errorCode: consumerGroupErrorCode(check) });
        continue;
      }
      const r = await one({ groupId: g.groupId, topics: g.topics }, context) as Struct;
      answers.push({ groupId: g.groupId, topics: r.topics, errorCode: r.errorCode });
    }
    return { throttleTimeMs: 0, groups: answers };
  };
}

function offsetFetchOneGroup(ctx: KafkaContext): Handler {
  return (body, context) => {
    const requested = body.topics as { name: string; partitionIndexes: number[] }[] | null;
    const denied = (t: { name: string; partitionIndexes: number[] }, errorCode: number) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: -1n,
        committedLeaderEpoch: -1,
        metadata: null,
        errorCode,
      })),
    });
    if (!may(context, "group", body.groupId as string, "read")) {
      // v1 has no top-level error: each requested partition carries it.
      return Promise.resolve({
        throttleTimeMs: 0,
        topics: (requested ?? []).map((t) => denied(t, GROUP_DENIED)),
        errorCode: GROUP_DENIED,
      } as Struct);
    }
    const readable = (name: string) => may(context, "topic", name, "read");
    const topics = requested === null ? null : requested.filter((t) => readable(t.name));
    const refused = (requested ?? []).filter((t) => !readable(t.name))
      .map((t) => denied(t, KafkaError.TOPIC_AUTHORIZATION_FAILED));
    const noneReadable = topics !== null && topics.length === 0 && refused.length > 0;
    const result: ClassicOffsetFetchResult = noneReadable
      ? { topics: [], error: "NONE" }
      : ctx.groups.fetchOffsets(body.groupId as string, topics);
    const fetched = result.topics.filter((t) => readable(t.name)).map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        committedOffset: p.committedOffset,
        metadata: p.metadata,
        errorCode: classicGroupErrorCode(p.error),
      })),
    }));
    return Promise.resolve({
      throttleTimeMs: 0,
      topics: [...fetched, ...refused],
      errorCode: classicGroupErrorCode(result.error),
    } as Struct);
  };
}
