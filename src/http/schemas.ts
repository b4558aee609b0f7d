/**
 * zod schemas for every body and query the HTTP API takes. Handlers validate with them (see
 * body.ts), and the same schemas generate /openapi.json, so the docs cannot drift from the checks.
 */
import { z } from "@hono/zod-openapi";
import {
  FETCH_WAIT_MS_MAX,
  GROUP_OFFSETS_PER_REQUEST_MAX,
  HTTP_PRODUCE_TIMEOUT_MS_MAX,
  READ_BYTES_MAX,
  RECORDS_PER_REQUEST_MAX,
} from "../limits.ts";

/** A non-negative integer given as a query string (no sign, exponent or fraction). */
const queryInt = (min: number, max: number) =>
  z.string().regex(/^\d{1,16}$/, "a non-negative integer").transform(Number).pipe(
    z.number().int().min(min).max(max),
  );

export const TopicParams = z.object({ topic: z.string().openapi({ example: "orders" }) });
export const PartitionParams = TopicParams.extend({
  partition: z.string().regex(/^\d{1,9}$/, "a partition number").transform(Number)
    .openapi({ type: "integer", example: "0" }),
});

/**
 * Request bodies are strict: a field the API does not know (a typo such as "vlaue" or
 * "autoOffsetRest") is 400 INVALID_REQUEST naming it, never silently dropped.
 */
export const CreateTopicBody = z.strictObject({
  name: z.string().openapi({ example: "orders" }),
  partitions: z.number().int().optional().openapi({ example: 3 }),
  /** Cluster mode: replicas per partition (the cluster's default when absent); 1 on one node. */
  replicationFactor: z.number().int().optional().openapi({ example: 3 }),
  // Values are checked by the topic config schema (INVALID_CONFIG names the key).
  config: z.record(z.string(), z.unknown()).optional().openapi({
    example: { "retention.ms": 604800000, "compression.type": "lz4" },
  }),
}).openapi("CreateTopic");

export const PartitionInfo = z.object({
  partition: z.number().int(),
  logStartOffset: z.number().int(),
  highWatermark: z.number().int(),
  sizeBytes: z.number().int(),
  /** online; read-only (a full disk at start: reads served, writes refused); offline. */
  state: z.enum(["online", "read-only", "offline"]),
  /** Why the partition is read-only or offline. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Damage found in its files (file, byte position, reason), the first 100; when any. */
  damage: z.array(z.object({ file: z.string(), position: z.number().int(), reason: z.string() }))
    .optional(),
  damageCount: z.number().int().optional(),
});

export const TopicDescription = z.object({
  name: z.string(),
  /** The effective config: every key, from the topic, the server's defaults or the built-in. */
  config: z.record(z.string(), z.union([z.string(), z.number()])),
  /** The keys the topic sets itself (creation, PATCH, Kafka's AlterConfigs), as strings. */
  overrides: z.record(z.string(), z.string()),
  partitions: z.array(PartitionInfo),
}).openapi("Topic");

/**
 * `PATCH /v1/topics/{topic}`: `config` is merged into the topic's overrides (a key set to null
 * goes back to its default, as JSON Merge Patch has it); `partitions` grows the topic to that
 * many (never fewer). At least one of them.
 */
export const PatchTopicBody = z.strictObject({
  config: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).optional().openapi({
    example: { "retention.ms": 3600000, "segment.bytes": null },
  }),
  partitions: z.number().int().optional().openapi({ example: 6 }),
}).refine((b) => b.config !== undefined || b.partitions !== undefined, {
  message: "give config, partitions or both",
}).openapi("PatchTopic");

export const TopicList = z.object({
  topics: z.array(z.object({ name: z.string(), partitions: z.number().int() })),
});

export const Encoding = z.enum(["string", "base64"]);
export const ValueEncoding = z.enum(["string", "base64", "json"]);

const HeaderInput = z.union([
  z.record(z.string(), z.string().nullable()),
  z.array(z.object({ key: z.string(), value: z.string().nullable() })),
]);

export const ProduceRecordInput = z.strictObject({
  key: z.string().nullable().optional(),
  value: z.unknown().openapi({ description: "string or null; any JSON with valueEncoding=json" }),
  headers: HeaderInput.optional(),
  partition: z.number().int().min(0).optional(),
  timestamp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

export const ProduceBody = z.strictObject({
  records: z.array(ProduceRecordInput).min(1).max(RECORDS_PER_REQUEST_MAX),
  keyEncoding: Encoding.optional(),
  valueEncoding: ValueEncoding.optional(),
  headerEncoding: Encoding.optional().openapi({
    description: "header values: string (UTF-8, the default) or base64 (any bytes)",
  }),
}).openapi("Produce");

/** How a produce is acknowledged: `all` (the default) or `1`; see API.md "Produce". */
export const ProduceQuery = z.object({
  acks: z.enum(["all", "-1", "1"]).optional().openapi({
    description: "all (default): every in-sync replica has the records; 1: the leader has them",
  }),
  timeoutMs: queryInt(1, HTTP_PRODUCE_TIMEOUT_MS_MAX).optional().openapi({
    description: "how long acks=all waits for the in-sync replicas (default 30000)",
  }),
});

export const ProduceResponse = z.object({
  offsets: z.array(z.object({ partition: z.number().int(), offset: z.number().int() })),
});

export const AppendResponse = z.object({
  baseOffset: z.number().int(),
  lastOffset: z.number().int(),
});

export const OffsetQueryValue = z.union([
  z.enum(["earliest", "latest"]),
  queryInt(0, Number.MAX_SAFE_INTEGER),
], { error: "expected an offset (a non-negative integer), earliest or latest" });

export const FetchQuery = z.object({
  offset: OffsetQueryValue.optional().openapi({ description: "a number, earliest or latest" }),
  maxBytes: queryInt(1, READ_BYTES_MAX).optional(),
  maxWaitMs: queryInt(0, FETCH_WAIT_MS_MAX).optional(),
  minBytes: queryInt(1, READ_BYTES_MAX).optional(),
  keyEncoding: Encoding.optional(),
  valueEncoding: ValueEncoding.optional(),
  headerEncoding: Encoding.optional().openapi({
    description: "header values: string (UTF-8, lossy for other bytes; the default) or base64",
  }),
});

export const RecordOutput = z.object({
  offset: z.number().int(),
  timestamp: z.number().int(),
  key: z.unknown(),
  value: z.unknown(),
  headers: z.array(z.object({ key: z.string(), value: z.string().nullable() })),
});

export const FetchResponse = z.object({
  records: z.array(RecordOutput),
  nextOffset: z.number().int(),
  highWatermark: z.number().int(),
});

export const StreamQuery = z.object({
  offset: OffsetQueryValue.optional(),
  keyEncoding: Encoding.optional(),
  valueEncoding: ValueEncoding.optional(),
  headerEncoding: Encoding.optional().openapi({
    description: "header values: string (UTF-8, lossy for other bytes; the default) or base64",
  }),
});

const TIMESTAMP_ACCEPTED =
  "ms since the epoch (a non-negative integer), earliest or latest (Kafka's -2 and -1 too)";

/** `offsets?timestamp=`: Kafka's ListOffsets takes -2 for earliest and -1 for latest; so does this. */
export const OffsetsQuery = z.object({
  timestamp: z.union([
    z.enum(["earliest", "latest"]),
    z.literal("-2").transform(() => "earliest" as const),
    z.literal("-1").transform(() => "latest" as const),
    queryInt(0, Number.MAX_SAFE_INTEGER),
  ], {
    error: (issue) =>
      issue.input === undefined
        ? `required: ${TIMESTAMP_ACCEPTED}`
        : `expected ${TIMESTAMP_ACCEPTED}`,
  })
    .openapi({ description: TIMESTAMP_ACCEPTED, type: "string", example: "latest" }),
});

export const OffsetResponse = z.object({ offset: z.number().int().nullable() });

export const DeleteRecordsBody = z.strictObject({
  /** Records before this offset are deleted; -1: every committed record (the high watermark). */
  beforeOffset: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).openapi({ example: 1200 }),
}).openapi("DeleteRecords");

export const DeleteRecordsResponse = z.object({
  topic: z.string(),
  partition: z.number().int(),
  /** The partition's first offset now (its log start; in a cluster, the least of its replicas'). */
  lowWatermark: z.number().int(),
});

export const ClusterDescription = z.object({
  /** False on one node: then node 0 is the only broker, the controller, and leads everything. */
  clusterMode: z.boolean(),
  nodeId: z.number().int(),
  /** The controller's node id; -1 while none is elected. */
  controller: z.number().int(),
  brokers: z.array(z.object({
    nodeId: z.number().int(),
    host: z.string(),
    /** The Kafka listener's port; null when this broker has none (or, on one node, unknown). */
    kafkaPort: z.number().int().nullable(),
    /** The HTTP API's base URL; null when the broker has no HTTP listener. */
    httpUrl: z.string().nullable(),
    live: z.boolean(),
  })),
  topics: z.array(z.object({
    name: z.string(),
    partitions: z.array(z.object({
      partition: z.number().int(),
      /** The leader's node id; -1 when the partition has no leader now. */
      leader: z.number().int(),
      leaderEpoch: z.number().int(),
      replicas: z.array(z.number().int()),
      isr: z.array(z.number().int()),
    })),
  })),
}).openapi("Cluster");

export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
}).openapi("Error");

/** GET /v1/stream/stats (routes/stats_stream.ts). */
export const StatsStreamQuery = z.object({
  intervalMs: z.coerce.number().int().positive().optional(),
  group: z.string().min(1).max(255).optional(),
});

export const GroupParams = z.object({ group: z.string().openapi({ example: "billing" }) });
export const MemberParams = GroupParams.extend({ member: z.string() });

const TopicPartitionSchema = z.object({ topic: z.string(), partition: z.number().int() });

export const JoinBody = z.strictObject({
  topics: z.array(z.string()).min(1).max(1000),
  assignor: z.enum(["range", "roundrobin", "uniform"]).optional(),
  sessionTimeoutMs: z.number().int().optional(),
  autoOffsetReset: z.enum(["earliest", "latest"]).optional(),
}).openapi("JoinGroup");

export const MemberResponse = z.object({
  memberId: z.string(),
  generation: z.number().int(),
  assignment: z.array(TopicPartitionSchema),
});

export const HeartbeatResponse = z.object({
  generation: z.number().int(),
  assignment: z.array(TopicPartitionSchema),
  rebalance: z.boolean(),
});

export const MemberFetchQuery = z.object({
  maxBytes: queryInt(1, READ_BYTES_MAX).optional(),
  maxWaitMs: queryInt(0, FETCH_WAIT_MS_MAX).optional(),
  keyEncoding: Encoding.optional(),
  valueEncoding: ValueEncoding.optional(),
  headerEncoding: Encoding.optional().openapi({
    description: "header values: string (UTF-8, lossy for other bytes; the default) or base64",
  }),
});

export const MemberFetchResponse = z.object({
  records: z.array(RecordOutput.extend({ topic: z.string(), partition: z.number().int() })),
  generation: z.number().int(),
  assignment: z.array(TopicPartitionSchema),
  rebalance: z.boolean(),
});

export const CommitBody = z.strictObject({
  memberId: z.string(),
  generation: z.number().int(),
  offsets: z.array(z.strictObject({
    topic: z.string(),
    partition: z.number().int().min(0),
    offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })).min(1).max(10_000),
}).openapi("CommitOffsets");

/** PUT /v1/groups/{group}/offsets: an empty group's committed offsets, set (group_admin.ts). */
export const ResetOffsetsBody = z.strictObject({
  offsets: z.array(z.object({
    topic: z.string(),
    partition: z.number().int().min(0),
    offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })).min(1).max(GROUP_OFFSETS_PER_REQUEST_MAX),
}).openapi("ResetOffsets");

export const GroupOffsetsResponse = z.object({
  offsets: z.array(z.object({
    topic: z.string(),
    partition: z.number().int(),
    offset: z.number().int(),
    lag: z.number().int().nullable(),
  })),
});

export const GroupListQuery = z.object({
  /** List the groups whose ids sort after this one (the previous answer's `next`). */
  after: z.string().optional(),
});

const GroupState = z.enum([
  "Empty",
  "Assigning",
  "Reconciling",
  "Stable",
  "PreparingRebalance",
  "CompletingRebalance",
]);

export const GroupList = z.object({
  groups: z.array(z.object({
    group: z.string(),
    state: GroupState,
    /** "consumer" (KIP-848: HTTP members, Kafka consumers with group.protocol=consumer) or "classic". */
    protocol: z.enum(["consumer", "classic"]),
    /** Kafka's protocol type: "consumer" for consumers, a classic group's own, "" unknown. */
    protocolType: z.string(),
    /** How many members the group has now. */
    members: z.number().int(),
  })),
  /** Set when more groups follow: ask again with `?after=` this id. */
  next: z.string().nullable(),
}).openapi("GroupList");

export const GroupDescription = z.object({
  group: z.string(),
  generation: z.number().int(),
  /** Consumer protocol: Empty, Assigning, Reconciling, Stable; classic: Kafka's four states. */
  state: GroupState,
  assignor: z.string(),
  /**
   * "consumer": HTTP members and Kafka consumers with group.protocol=consumer (they may share a
   * group); "classic": Kafka consumers with JoinGroup/SyncGroup.
   */
  protocol: z.enum(["consumer", "classic"]),
  members: z.array(z.object({
    memberId: z.string(),
    /** "http" or "kafka". */
    kind: z.enum(["http", "kafka"]),
    topics: z.array(z.string()),
    assignment: z.array(TopicPartitionSchema),
  })),
}).openapi("Group");

/** What `GET /` answers (routes/service.ts). */
export const IndexResponse = z.object({
  service: z.string(),
  links: z.record(z.string(), z.string()),
}).openapi("Index");

export const HealthResponse = z.object({ status: z.literal("ok") });

/** /metrics' body: Prometheus text. */
export const MetricsText = z.string();
