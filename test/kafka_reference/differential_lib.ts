/**
 * The machinery of the differential test (differential_test.ts): one request frame, built once by
 * our tables, goes to a real Kafka broker and to Sluice; both answers are decoded by our tables,
 * normalized (what differs by nature between two clusters: ports, cluster ids, topic ids,
 * generated member and producer ids, throttle times, error message text, the order of arrays
 * whose order Kafka does not specify) and compared field by field. Every difference is then
 * either allowed by an entry of the test's KNOWN_DIFFERENCES (each pointing to a row of
 * docs/kafka_differences.md) or a failure; an entry that no longer matches anything is a failure
 * too, so the list only shrinks.
 *
 * A request that must carry an id one side generated (a member id, a topic id, an epoch) is
 * built per side from one template ({@link CaseSpec.body} as a function of the {@link Peer}).
 * Paths name fields as `topics[orders].partitions[0].errorCode`: an array whose order Kafka leaves
 * open is sorted and its elements named by their key (`[orders]`), any other array by index.
 * Not a test file itself.
 */
import {
  decode,
  type MessageSchema,
  type Struct,
  type Value,
} from "../../src/kafka_protocol/codec.ts";
import {
  ALTER_CONFIGS_REQUEST,
  ALTER_CONFIGS_RESPONSE,
  INCREMENTAL_ALTER_CONFIGS_REQUEST,
  INCREMENTAL_ALTER_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/alter_configs.ts";
import {
  API_VERSIONS_REQUEST,
  API_VERSIONS_RESPONSE,
} from "../../src/kafka_protocol/messages/api_versions.ts";
import {
  CONSUMER_GROUP_DESCRIBE_REQUEST,
  CONSUMER_GROUP_DESCRIBE_RESPONSE,
} from "../../src/kafka_protocol/messages/consumer_group_describe.ts";
import {
  CONSUMER_GROUP_HEARTBEAT_REQUEST,
  CONSUMER_GROUP_HEARTBEAT_RESPONSE,
} from "../../src/kafka_protocol/messages/consumer_group_heartbeat.ts";
import {
  CREATE_PARTITIONS_REQUEST,
  CREATE_PARTITIONS_RESPONSE,
} from "../../src/kafka_protocol/messages/create_partitions.ts";
import {
  CREATE_TOPICS_REQUEST,
  CREATE_TOPICS_RESPONSE,
} from "../../src/kafka_protocol/messages/create_topics.ts";
import {
  DELETE_GROUPS_REQUEST,
  DELETE_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_groups.ts";
import {
  DELETE_RECORDS_REQUEST,
  DELETE_RECORDS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_records.ts";
import {
  DELETE_TOPICS_REQUEST,
  DELETE_TOPICS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_topics.ts";
import {
  DESCRIBE_CLUSTER_REQUEST,
  DESCRIBE_CLUSTER_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_cluster.ts";
import {
  DESCRIBE_CONFIGS_REQUEST,
  DESCRIBE_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_configs.ts";
import {
  DESCRIBE_GROUPS_REQUEST,
  DESCRIBE_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_groups.ts";
import { SizePrefixedFrames } from "../../scripts/size_prefixed_frames.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import {
  FIND_COORDINATOR_REQUEST,
  FIND_COORDINATOR_RESPONSE,
} from "../../src/kafka_protocol/messages/find_coordinator.ts";
import {
  HEARTBEAT_REQUEST,
  HEARTBEAT_RESPONSE,
} from "../../src/kafka_protocol/messages/heartbeat.ts";
import {
  INIT_PRODUCER_ID_REQUEST,
  INIT_PRODUCER_ID_RESPONSE,
} from "../../src/kafka_protocol/messages/init_producer_id.ts";
import {
  OFFSET_FOR_LEADER_EPOCH_REQUEST,
  OFFSET_FOR_LEADER_EPOCH_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_for_leader_epoch.ts";
import {
  JOIN_GROUP_REQUEST,
  JOIN_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/join_group.ts";
import {
  LEAVE_GROUP_REQUEST,
  LEAVE_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/leave_group.ts";
import {
  LIST_GROUPS_REQUEST,
  LIST_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_groups.ts";
import {
  LIST_OFFSETS_REQUEST,
  LIST_OFFSETS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_offsets.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import {
  OFFSET_COMMIT_REQUEST,
  OFFSET_COMMIT_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_commit.ts";
import {
  OFFSET_DELETE_REQUEST,
  OFFSET_DELETE_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_delete.ts";
import {
  OFFSET_FETCH_REQUEST,
  OFFSET_FETCH_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_fetch.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import {
  SYNC_GROUP_REQUEST,
  SYNC_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/sync_group.ts";
import type { CaseResult } from "./allowlist.ts";
import { differences, hex, normalize, type NormalizeOptions, type Plain } from "./compare.ts";
import { concat, ourRequestFrame } from "../kafka_protocol/kafka_wire_util.ts";
import {
  RESPONSE_HEADER,
  responseHeaderVersion,
} from "../../src/kafka_protocol/messages/request_header.ts";

export * from "./compare.ts";
export * from "./allowlist.ts";

// ---------------------------------------------------------------------------------------------
// The APIs compared, with the arrays whose order Kafka leaves open.

export interface ApiTables {
  readonly request: MessageSchema;
  readonly response: MessageSchema;
  /**
   * Arrays compared as sets: the array's path (indices left out: `topics[].partitions`) to the
   * field naming an element, or "" for an array of scalars (sorted by value).
   */
  readonly unordered: Readonly<Record<string, string>>;
}

export const APIS = {
  ApiVersions: {
    request: API_VERSIONS_REQUEST,
    response: API_VERSIONS_RESPONSE,
    unordered: { apiKeys: "apiKey", supportedFeatures: "name", finalizedFeatures: "name" },
  },
  Metadata: {
    request: METADATA_REQUEST,
    response: METADATA_RESPONSE,
    unordered: {
      brokers: "nodeId",
      topics: "name",
      "topics[].partitions": "partitionIndex",
      "topics[].partitions[].replicaNodes": "",
      "topics[].partitions[].isrNodes": "",
      "topics[].partitions[].offlineReplicas": "",
    },
  },
  Produce: {
    request: PRODUCE_REQUEST,
    response: PRODUCE_RESPONSE,
    unordered: { responses: "name", "responses[].partitionResponses": "index" },
  },
  Fetch: {
    request: FETCH_REQUEST,
    response: FETCH_RESPONSE,
    unordered: { responses: "topic", "responses[].partitions": "partitionIndex" },
  },
  ListOffsets: {
    request: LIST_OFFSETS_REQUEST,
    response: LIST_OFFSETS_RESPONSE,
    unordered: { topics: "name", "topics[].partitions": "partitionIndex" },
  },
  FindCoordinator: {
    request: FIND_COORDINATOR_REQUEST,
    response: FIND_COORDINATOR_RESPONSE,
    unordered: { coordinators: "key" },
  },
  JoinGroup: {
    request: JOIN_GROUP_REQUEST,
    response: JOIN_GROUP_RESPONSE,
    unordered: { members: "memberId" },
  },
  SyncGroup: { request: SYNC_GROUP_REQUEST, response: SYNC_GROUP_RESPONSE, unordered: {} },
  Heartbeat: { request: HEARTBEAT_REQUEST, response: HEARTBEAT_RESPONSE, unordered: {} },
  LeaveGroup: {
    request: LEAVE_GROUP_REQUEST,
    response: LEAVE_GROUP_RESPONSE,
    unordered: { members: "memberId" },
  },
  OffsetCommit: {
    request: OFFSET_COMMIT_REQUEST,
    response: OFFSET_COMMIT_RESPONSE,
    unordered: { topics: "name", "topics[].partitions": "partitionIndex" },
  },
  OffsetFetch: {
    request: OFFSET_FETCH_REQUEST,
    response: OFFSET_FETCH_RESPONSE,
    unordered: {
      topics: "name",
      "topics[].partitions": "partitionIndex",
      groups: "groupId",
      "groups[].topics": "name",
      "groups[].topics[].partitions": "partitionIndex",
    },
  },
  DescribeGroups: {
    request: DESCRIBE_GROUPS_REQUEST,
    response: DESCRIBE_GROUPS_RESPONSE,
    unordered: { groups: "groupId", "groups[].members": "memberId" },
  },
  ListGroups: {
    request: LIST_GROUPS_REQUEST,
    response: LIST_GROUPS_RESPONSE,
    unordered: { groups: "groupId" },
  },
  CreateTopics: {
    request: CREATE_TOPICS_REQUEST,
    response: CREATE_TOPICS_RESPONSE,
    unordered: { topics: "name", "topics[].configs": "name" },
  },
  DeleteTopics: {
    request: DELETE_TOPICS_REQUEST,
    response: DELETE_TOPICS_RESPONSE,
    unordered: { responses: "name" },
  },
  DeleteRecords: {
    request: DELETE_RECORDS_REQUEST,
    response: DELETE_RECORDS_RESPONSE,
    unordered: { topics: "name", "topics[].partitions": "partitionIndex" },
  },
  InitProducerId: {
    request: INIT_PRODUCER_ID_REQUEST,
    response: INIT_PRODUCER_ID_RESPONSE,
    unordered: {},
  },
  OffsetForLeaderEpoch: {
    request: OFFSET_FOR_LEADER_EPOCH_REQUEST,
    response: OFFSET_FOR_LEADER_EPOCH_RESPONSE,
    unordered: { topics: "topic", "topics[].partitions": "partition" },
  },
  DescribeConfigs: {
    request: DESCRIBE_CONFIGS_REQUEST,
    response: DESCRIBE_CONFIGS_RESPONSE,
    unordered: { results: "resourceName", "results[].configs": "name" },
  },
  AlterConfigs: {
    request: ALTER_CONFIGS_REQUEST,
    response: ALTER_CONFIGS_RESPONSE,
    unordered: { responses: "resourceName" },
  },
  IncrementalAlterConfigs: {
    request: INCREMENTAL_ALTER_CONFIGS_REQUEST,
    response: INCREMENTAL_ALTER_CONFIGS_RESPONSE,
    unordered: { responses: "resourceName" },
  },
  CreatePartitions: {
    request: CREATE_PARTITIONS_REQUEST,
    response: CREATE_PARTITIONS_RESPONSE,
    unordered: { results: "name" },
  },
  DeleteGroups: {
    request: DELETE_GROUPS_REQUEST,
    response: DELETE_GROUPS_RESPONSE,
    unordered: { results: "groupId" },
  },
  OffsetDelete: {
    request: OFFSET_DELETE_REQUEST,
    response: OFFSET_DELETE_RESPONSE,
    unordered: { topics: "name", "topics[].partitions": "partitionIndex" },
  },
  DescribeCluster: {
    request: DESCRIBE_CLUSTER_REQUEST,
    response: DESCRIBE_CLUSTER_RESPONSE,
    unordered: { brokers: "brokerId" },
  },
  ConsumerGroupHeartbeat: {
    request: CONSUMER_GROUP_HEARTBEAT_REQUEST,
    response: CONSUMER_GROUP_HEARTBEAT_RESPONSE,
    unordered: {
      "assignment.topicPartitions": "topicId",
      "assignment.topicPartitions[].partitions": "",
    },
  },
  ConsumerGroupDescribe: {
    request: CONSUMER_GROUP_DESCRIBE_REQUEST,
    response: CONSUMER_GROUP_DESCRIBE_RESPONSE,
    unordered: {
      groups: "groupId",
      "groups[].members": "memberId",
      "groups[].members[].subscribedTopicNames": "",
      "groups[].members[].assignment.topicPartitions": "topicName",
      "groups[].members[].assignment.topicPartitions[].partitions": "",
      "groups[].members[].targetAssignment.topicPartitions": "topicName",
      "groups[].members[].targetAssignment.topicPartitions[].partitions": "",
    },
  },
} as const satisfies Record<string, ApiTables>;

export type ApiName = keyof typeof APIS;

/** The API name of an api key, for the coverage check. */
export function apiNameOf(apiKey: number): ApiName | undefined {
  for (const [name, tables] of Object.entries(APIS)) {
    if (tables.request.apiKey === apiKey) return name as ApiName;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Outcomes of one request on one side.

export type Outcome =
  | { readonly kind: "response"; readonly body: Struct; readonly version: number }
  /** The broker closed the connection instead of answering. */
  | { readonly kind: "closed" }
  /** No answer, as asked (acks=0): the next request on the connection was answered first. */
  | { readonly kind: "none" }
  | { readonly kind: "timeout" }
  /** An answer our tables could not read. */
  | { readonly kind: "undecodable"; readonly error: string };

const READ_TIMEOUT_MS = 15_000;

/** One connection: frames out, size-prefixed frames back, reads bounded by a timeout. */
class Connection {
  readonly #frames = new SizePrefixedFrames();
  #pending: Promise<number | null> | undefined;
  #chunk = new Uint8Array(65536);
  closed = false;
  constructor(readonly conn: Deno.TcpConn) {}

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** The next frame (size removed), null when closed, "timeout" when none came in time. */
  async readFrame(timeoutMs: number): Promise<Uint8Array | null | "timeout"> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const frame = this.#frames.take();
      if (frame !== undefined) return frame;
      if (this.closed) return null;
      this.#pending ??= this.conn.read(this.#chunk).catch(() => null);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), Math.max(0, deadline - performance.now()));
      });
      const n = await Promise.race([this.#pending, late]);
      clearTimeout(timer);
      if (n === "late") return "timeout";
      this.#pending = undefined;
      if (n === null) {
        this.closed = true;
        return null;
      }
      this.#frames.push(this.#chunk.subarray(0, n));
    }
  }

  close(): void {
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** What the normalization needs to know of one side, learned as the test goes. */
export class Peer {
  /** Generated strings (member ids) by the label both sides' values are replaced with. */
  readonly aliases = new Map<string, string>();
  /** Topic ids (hex) to the topic's name. */
  readonly topicIds = new Map<string, string>();
  /** Numbers this side chose that later requests must carry (member epochs), by name. */
  readonly values = new Map<string, number>();
  #conns = new Map<string, Connection>();

  constructor(
    readonly name: "kafka" | "sluice",
    readonly port: number,
    readonly clusterId: string,
  ) {}

  alias(value: unknown, label: string): void {
    if (typeof value === "string" && value !== "") this.aliases.set(value, label);
  }

  /** This side's generated string behind `label` (see {@link alias}). */
  id(label: string): string {
    for (const [value, l] of this.aliases) if (l === label) return value;
    throw new Error(`${this.name} has no id labelled ${label}`);
  }

  /** A number learned from this side's answers (see {@link values}). */
  value(name: string): number {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`${this.name} has no value named ${name}`);
    return v;
  }

  /** This side's id of `topic`. */
  topicId(topic: string): Uint8Array {
    for (const [h, name] of this.topicIds) {
      if (name === topic) return Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
    }
    throw new Error(`${this.name} has no topic id for ${topic}`);
  }

  learnTopicId(id: Value | undefined, topic: string): void {
    if (id instanceof Uint8Array && id.some((b) => b !== 0)) this.topicIds.set(hex(id), topic);
  }

  async #connection(name: string): Promise<Connection> {
    let c = this.#conns.get(name);
    if (c === undefined || c.closed) {
      c = new Connection(await Deno.connect({ hostname: "127.0.0.1", port: this.port }));
      this.#conns.set(name, c);
    }
    return c;
  }

  /**
   * Sends `frame` on the named connection (opened when needed) and reads its answer. Without
   * `expectResponse` (acks=0), an ApiVersions v0 request follows on the same connection and its
   * answer coming first means none was sent.
   */
  async exchange(
    frame: Uint8Array,
    correlationId: number,
    options: { conn?: string; expectResponse?: boolean; timeoutMs?: number } = {},
  ): Promise<Uint8Array | "closed" | "none" | "timeout"> {
    const c = await this.#connection(options.conn ?? "main");
    try {
      await c.write(frame);
    } catch {
      c.close();
      return "closed";
    }
    const timeoutMs = options.timeoutMs ?? READ_TIMEOUT_MS;
    if (options.expectResponse === false) {
      const probeId = correlationId + 1_000_000;
      await c.write(ourRequestFrame(API_VERSIONS_REQUEST, 0, {}, "probe", probeId));
      const first = await c.readFrame(timeoutMs);
      if (first === null) return "closed";
      if (first === "timeout") {
        c.close();
        return "timeout";
      }
      const id = new DataView(first.buffer, first.byteOffset).getInt32(0);
      if (id === probeId) return "none";
      await c.readFrame(timeoutMs); // the probe's answer
      return first;
    }
    const answer = await c.readFrame(timeoutMs);
    if (answer === "timeout") {
      c.close();
      return "timeout";
    }
    return answer ?? "closed";
  }

  close(): void {
    for (const c of this.#conns.values()) c.close();
    this.#conns.clear();
  }
}

/** Reads an answer frame: the header's correlation id must match; ApiVersions may answer v0. */
export function readAnswer(
  api: ApiTables,
  version: number,
  frame: Uint8Array,
  correlationId: number,
): Outcome {
  try {
    const hv = responseHeaderVersion(api.response, version);
    const headerBytes = hv === 0 ? 4 : 5;
    const header = decode(RESPONSE_HEADER, hv, frame.subarray(0, headerBytes));
    if (header.correlationId !== correlationId) {
      return {
        kind: "undecodable",
        error: `correlation id ${header.correlationId}, sent ${correlationId}`,
      };
    }
    const bytes = frame.subarray(headerBytes);
    // ApiVersions answers a version it does not serve with a v0 body (UNSUPPORTED_VERSION).
    if (api.request.apiKey === 18 && bytes.length >= 2 && bytes[0] === 0 && bytes[1] === 35) {
      return { kind: "response", body: decode(api.response, 0, bytes), version: 0 };
    }
    return { kind: "response", body: decode(api.response, version, bytes), version };
  } catch (err) {
    return { kind: "undecodable", error: (err as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------
// The driver: one frame to both sides, both answers compared.

export interface CaseSpec extends NormalizeOptions {
  readonly api: ApiName;
  readonly version: number;
  /** What the case is ("unknown topic"); with the API and version it names the case. */
  readonly label: string;
  /**
   * The request body. A function when the request must carry ids each side generated (member
   * ids, topic ids): then each side gets its own frame, the same but for those ids.
   */
  readonly body: Struct | ((peer: Peer) => Struct);
  /** The connection to use on each side (default "main"); group flows keep one per member. */
  readonly conn?: string;
  /** False when no answer is due (Produce acks=0). */
  readonly expectResponse?: boolean;
  /** Rewrites the frame built from `body` (unknown tagged fields, a version we cannot encode). */
  readonly mutate?: (frame: Uint8Array) => Uint8Array;
  /** Learns generated ids from a side's decoded answer before it is normalized. */
  readonly learn?: (peer: Peer, body: Struct) => void;
  readonly timeoutMs?: number;
  /** Not a compared case: preparation (the answers are returned, not recorded). */
  readonly prepare?: boolean;
}

export interface Exchanged {
  readonly kafka: Outcome;
  readonly sluice: Outcome;
  /** The decoded bodies (undefined when that side did not answer). */
  readonly k: Struct | undefined;
  readonly s: Struct | undefined;
}

function outcomeTree(o: Outcome): Plain {
  return o.kind === "undecodable" ? `<undecodable: ${o.error}>` : `<${o.kind}>`;
}

export class Differ {
  readonly results: CaseResult[] = [];
  #correlation = 1000;
  #ids = new Set<string>();

  constructor(readonly kafka: Peer, readonly sluice: Peer, readonly clientId: string) {}

  /** Sends the same frame to both sides, compares (unless `prepare`) and returns the answers. */
  async check(spec: CaseSpec): Promise<Exchanged> {
    const api = APIS[spec.api];
    const correlationId = ++this.#correlation;
    const frameFor = (peer: Peer) => {
      const body = typeof spec.body === "function" ? spec.body(peer) : spec.body;
      const frame = ourRequestFrame(api.request, spec.version, body, this.clientId, correlationId);
      return spec.mutate ? spec.mutate(frame) : frame;
    };
    const kafkaFrame = frameFor(this.kafka);
    const sluiceFrame = typeof spec.body === "function" ? frameFor(this.sluice) : kafkaFrame;
    const options = {
      conn: spec.conn,
      expectResponse: spec.expectResponse,
      timeoutMs: spec.timeoutMs,
    };
    const [k, s] = await Promise.all([
      this.kafka.exchange(kafkaFrame, correlationId, options),
      this.sluice.exchange(sluiceFrame, correlationId, options),
    ]);
    const outcome = (answer: typeof k): Outcome =>
      answer instanceof Uint8Array
        ? readAnswer(api, spec.version, answer, correlationId)
        : { kind: answer };
    const kafka = outcome(k);
    const sluice = outcome(s);
    const bodyOf = (o: Outcome) => (o.kind === "response" ? o.body : undefined);
    if (spec.learn) {
      if (kafka.kind === "response") spec.learn(this.kafka, kafka.body);
      if (sluice.kind === "response") spec.learn(this.sluice, sluice.body);
    }
    if (!spec.prepare) {
      const id = `${spec.api} v${spec.version} ${spec.label}`;
      if (this.#ids.has(id)) throw new Error(`two cases named "${id}"`);
      this.#ids.add(id);
      const tree = (peer: Peer, o: Outcome) =>
        o.kind === "response" ? normalize(api, peer, o.body, spec) : outcomeTree(o);
      const kt = tree(this.kafka, kafka);
      const st = tree(this.sluice, sluice);
      const diffs = kafka.kind === "response" && sluice.kind === "response"
        ? differences(kt, st)
        : JSON.stringify(kt) === JSON.stringify(st)
        ? []
        : [{ path: "(outcome)", kafka: kt, sluice: st }];
      this.results.push({
        api: spec.api,
        version: spec.version,
        label: spec.label,
        id,
        kafka,
        sluice,
        differences: diffs,
      });
    }
    return { kafka, sluice, k: bodyOf(kafka), s: bodyOf(sluice) };
  }
}

/**
 * A flexible request with an unknown tagged field (tag 999, 3 bytes) in its body's top-level
 * tagged section, which must be ignored: the body's last byte is that section's count (0 when
 * the table wrote no tagged field).
 */
export function withUnknownTag(frame: Uint8Array): Uint8Array {
  if (frame[frame.length - 1] !== 0) throw new Error("the body ends with tagged fields");
  // count 1, tag 999 (uvarint e7 07), size 3, the bytes
  const tagged = new Uint8Array([1, 0xe7, 0x07, 3, 0xab, 0xcd, 0xef]);
  const out = concat(frame.subarray(0, frame.length - 1), tagged);
  new DataView(out.buffer).setInt32(0, out.length - 4);
  return out;
}

/** The frame with its header's api version replaced (a version our tables cannot encode). */
export function withApiVersion(version: number): (frame: Uint8Array) => Uint8Array {
  return (frame) => {
    const out = frame.slice();
    new DataView(out.buffer).setInt16(6, version);
    return out;
  };
}
