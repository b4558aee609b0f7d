/**
 * Shared by alter_configs_test.ts and create_partitions_test.ts: a Broker with its Kafka listener
 * in process on a temporary data dir, which can be restarted on the same dir (the listener's port
 * changes then), and the requests those tests send around the one they test: DescribeConfigs of a
 * topic (value and source per key), Produce of keyed records with a fixed old CreateTime, ListOffsets
 * earliest and latest, Metadata of a topic, and a SASL/PLAIN login on a raw connection. Not a test
 * file itself.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { MessageSchema, Struct } from "../../src/kafka_protocol/codec.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  DESCRIBE_CONFIGS_REQUEST,
  DESCRIBE_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_configs.ts";
import {
  LIST_OFFSETS_REQUEST,
  LIST_OFFSETS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_offsets.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import {
  SASL_AUTHENTICATE_REQUEST,
  SASL_AUTHENTICATE_RESPONSE,
  SASL_HANDSHAKE_REQUEST,
  SASL_HANDSHAKE_RESPONSE,
} from "../../src/kafka_protocol/messages/sasl.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { Authenticator, TokenSet } from "../../src/security/tokens.ts";
import { tempDir } from "../test_util.ts";
import { callOnce, RawClient } from "./kafka_wire_util.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

/** One request on a fresh connection, the answer decoded loosely for assertions. */
export const call = (
  port: number,
  request: MessageSchema,
  response: MessageSchema,
  version: number,
  body: Struct,
): Promise<Any> => callOnce(port, request, response, version, body);

/** CreateTime of the records {@link produce} writes: long before now (a retention of hours expires them). */
export const OLD_TIMESTAMP_MS = 1_700_000_000_000;

/** DescribeConfigs' config_source codes the tests look for. */
export const SOURCE = { TOPIC: 1, SERVER: 4, DEFAULT: 5 } as const;

/** A Broker and its Kafka listener in process; `restart` reopens both on the same data dir. */
export class InProcessNode {
  broker!: Broker;
  listener!: KafkaListener;
  readonly logger = new MemoryLogger();

  private constructor(readonly dataDir: string, readonly auth?: Authenticator) {}

  /** `tokens`: an auth file's JSON; the listener then wants SASL/PLAIN and enforces its rights. */
  static async start(options: { tokens?: unknown } = {}): Promise<InProcessNode> {
    const auth = options.tokens === undefined
      ? undefined
      : new Authenticator(TokenSet.parse(JSON.stringify(options.tokens)));
    const node = new InProcessNode(tempDir("sluice-alter-topics-"), auth);
    await node.#open();
    return node;
  }

  get port(): number {
    return this.listener.port;
  }

  async #open(): Promise<void> {
    this.broker = await Broker.open({ dataDir: this.dataDir, logger: this.logger });
    this.listener = await startKafkaListener(this.broker, {
      host: "127.0.0.1",
      port: 0,
      logger: this.logger,
      auth: this.auth,
    });
  }

  /** Closes the listener and the broker, then opens both again on the same data dir. */
  async restart(): Promise<void> {
    await this.close();
    await this.#open();
  }

  async close(): Promise<void> {
    await this.listener.close();
    await this.broker.close();
  }
}

/** A topic's configs as DescribeConfigs v4 shows them: name to value and source. */
export async function describeTopic(
  port: number,
  topic: string,
): Promise<Map<string, { value: string; source: number }>> {
  const res = await call(port, DESCRIBE_CONFIGS_REQUEST, DESCRIBE_CONFIGS_RESPONSE, 4, {
    resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  assert.equal(res.results[0].errorCode, 0, `DescribeConfigs ${topic}`);
  return new Map(
    res.results[0].configs.map((c: Any) => [c.name, { value: c.value, source: c.configSource }]),
  );
}

/** The value and source of `keys` of a topic, for one deepEqual. */
export async function configsOf(
  port: number,
  topic: string,
  keys: readonly string[],
): Promise<Record<string, [string, number]>> {
  const all = await describeTopic(port, topic);
  const out: Record<string, [string, number]> = {};
  for (const k of keys) {
    const e = all.get(k);
    assert.ok(e !== undefined, `${topic} has no config ${k}`);
    out[k] = [e.value, e.source];
  }
  return out;
}

/**
 * Produces one batch of `records` keyed records (values of `valueBytes` bytes, CreateTime
 * {@link OLD_TIMESTAMP_MS}) to a partition with Produce v9; returns the base offset.
 */
export async function produce(
  port: number,
  topic: string,
  partition: number,
  options: { records?: number; valueBytes?: number; key?: string } = {},
): Promise<number> {
  const n = options.records ?? 1;
  const batch = encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({
      key: utf8(options.key ?? `k${i}`),
      value: "v".repeat(options.valueBytes ?? 10),
      timestamp: OLD_TIMESTAMP_MS + i,
    })),
    { timestampMs: OLD_TIMESTAMP_MS },
  );
  const res = await call(port, PRODUCE_REQUEST, PRODUCE_RESPONSE, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
  const p = res.responses[0].partitionResponses[0];
  assert.equal(p.errorCode, 0, `produce to ${topic}/${partition}`);
  return Number(p.baseOffset);
}

/** ListOffsets v1 of one partition at `timestamp` (-2 earliest, -1 latest): the offset. */
export async function offsetAt(
  port: number,
  topic: string,
  partition: number,
  timestamp: -1 | -2,
): Promise<number> {
  const res = await call(port, LIST_OFFSETS_REQUEST, LIST_OFFSETS_RESPONSE, 1, {
    replicaId: -1,
    topics: [{
      name: topic,
      partitions: [{ partitionIndex: partition, timestamp: BigInt(timestamp) }],
    }],
  });
  const p = res.topics[0].partitions[0];
  assert.equal(p.errorCode, 0, `ListOffsets ${topic}/${partition}`);
  return Number(p.offset);
}

/** Metadata v9 of one topic: its error code and partitions (index, leader), sorted. */
export async function metadataOf(
  port: number,
  topic: string,
): Promise<{ errorCode: number; partitions: [number, number][] }> {
  const res = await call(port, METADATA_REQUEST, METADATA_RESPONSE, 9, {
    topics: [{ name: topic }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const t = res.topics[0];
  const partitions: [number, number][] = t.partitions
    .map((p: Any) => [p.partitionIndex, p.leaderId] as [number, number])
    .sort((a: [number, number], b: [number, number]) => a[0] - b[0]);
  return { errorCode: t.errorCode, partitions };
}

/** A raw connection logged in with SASL/PLAIN as `name` (SaslHandshake v1, SaslAuthenticate v1). */
export async function loggedIn(port: number, name: string, secret: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  const hello = await client.call(SASL_HANDSHAKE_REQUEST, SASL_HANDSHAKE_RESPONSE, 1, {
    mechanism: "PLAIN",
  });
  assert.equal(hello.errorCode, 0, "SaslHandshake");
  const auth = await client.call(SASL_AUTHENTICATE_REQUEST, SASL_AUTHENTICATE_RESPONSE, 1, {
    authBytes: utf8(`\0${name}\0${secret}`),
  });
  assert.equal(auth.errorCode, 0, `SaslAuthenticate as ${name}: ${auth.errorMessage}`);
  return client;
}
