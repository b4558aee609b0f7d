// deno-lint-ignore-file no-explicit-any
/**
 * DescribeConfigs, DescribeCluster and OffsetDelete (handlers/configs.ts, handlers/admin.ts):
 * - in process, every served version with frames from our own tables: a topic's configs with
 *   their sources and types, key filters, the broker's settings, unknown topics and resource
 *   types; the cluster; offsets deleted per partition only from a group without members;
 * - the rights each needs with authentication (the handlers called with a principal);
 * - the real server with kafkajs's admin client: describeConfigs of a topic created over HTTP with
 *   a config, and describeCluster.
 */
import assert from "node:assert/strict";
import { ConfigResourceTypes, Kafka, logLevel } from "kafkajs";
import { Broker } from "../../src/broker/broker.ts";
import { KAFKA_INERT_TOPIC_CONFIGS } from "../../src/broker/kafka_topic_configs.ts";
import type { RequestContext } from "../../src/kafka_protocol/apis.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import type { KafkaContext } from "../../src/kafka_protocol/context.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { offsetDeleteHandler } from "../../src/kafka_protocol/handlers/admin.ts";
import {
  describeClusterHandler,
  describeConfigsHandler,
} from "../../src/kafka_protocol/handlers/configs.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import {
  DESCRIBE_CLUSTER_REQUEST,
  DESCRIBE_CLUSTER_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_cluster.ts";
import {
  DESCRIBE_CONFIGS_REQUEST,
  DESCRIBE_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_configs.ts";
import {
  OFFSET_DELETE_REQUEST,
  OFFSET_DELETE_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_delete.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { createTopic } from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import { withKafkaServer } from "./kafka_harness.ts";
import { callOnce } from "./kafka_wire_util.ts";

const call = (...args: Parameters<typeof callOnce>): Promise<any> => callOnce(...args);

const INT32_MIN = -2147483648;

async function setup() {
  const dataDir = tempDir("sluice-kafka-configs-");
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir, logger });
  const listener: KafkaListener = await startKafkaListener(broker, {
    host: "127.0.0.1",
    port: 0,
    logger,
    defaultPartitions: 3,
  });
  return {
    broker,
    listener,
    logger,
    async close() {
      await listener.close();
      await broker.close();
    },
  };
}

Deno.test("DescribeConfigs in process", async (t) => {
  const env = await setup();
  const port = env.listener.port;
  try {
    await env.broker.createTopic("orders", 2, {
      "retention.ms": 3600000,
      "cleanup.policy": "delete",
    });
    for (let version = 0; version <= 4; version++) {
      await t.step(`v${version}: every key of a topic, with sources and types`, async () => {
        const res = await call(port, DESCRIBE_CONFIGS_REQUEST, DESCRIBE_CONFIGS_RESPONSE, version, {
          resources: [{ resourceType: 2, resourceName: "orders", configurationKeys: null }],
          includeSynonyms: true,
          includeDocumentation: true,
        });
        assert.equal(res.results.length, 1);
        const r = res.results[0];
        assert.deepEqual([r.errorCode, r.errorMessage, r.resourceType, r.resourceName], [
          0,
          null,
          2,
          "orders",
        ]);
        const byName = new Map(r.configs.map((c: Struct) => [c.name, c]));
        assert.deepEqual(
          [...byName.keys()].sort(),
          [
            "cleanup.policy",
            "compression.type",
            "flush.ms",
            "flush.policy",
            "index.interval.bytes",
            "max.message.bytes",
            "retention.bytes",
            "retention.ms",
            "segment.bytes",
            "segment.index.bytes",
            "segment.ms",
            // Kafka's configs kept without effect (src/broker/kafka_topic_configs.ts).
            ...Object.keys(KAFKA_INERT_TOPIC_CONFIGS),
          ].sort(),
        );
        const retention = byName.get("retention.ms") as any;
        const segment = byName.get("segment.bytes") as any;
        const cleanup = byName.get("cleanup.policy") as any;
        assert.equal(retention.value, "3600000");
        assert.equal(cleanup.value, "delete");
        assert.equal(
          segment.value,
          String(env.broker.topics.get("orders")!.config["segment.bytes"]),
        );
        for (const c of r.configs) {
          assert.equal(c.readOnly, false, "topic configs change with AlterConfigs");
          assert.equal(c.isSensitive, false);
        }
        if (version === 0) {
          assert.equal(retention.isDefault, false);
          assert.equal(segment.isDefault, true);
          assert.equal(cleanup.isDefault, false, "set on the topic, if to its default: Kafka's");
        } else {
          assert.equal(retention.configSource, 1);
          assert.equal(segment.configSource, 5);
          // Synonyms (asked): the topic's own value, then Kafka's broker-level name for the
          // default, where Kafka has one with a value (none for retention.ms: log.retention.hours).
          assert.deepEqual(retention.synonyms, [{
            name: "retention.ms",
            value: "3600000",
            source: 1,
          }]);
          assert.deepEqual(segment.synonyms, [
            { name: "log.segment.bytes", value: segment.value, source: 5 },
          ]);
          assert.equal(cleanup.configSource, 1);
          assert.deepEqual(cleanup.synonyms, [
            { name: "cleanup.policy", value: "delete", source: 1 },
            { name: "log.cleanup.policy", value: "delete", source: 5 },
          ]);
        }
        if (version >= 3) {
          assert.deepEqual([retention.configType, segment.configType, cleanup.configType], [
            5,
            3,
            7,
          ]);
          assert.equal(typeof retention.documentation, "string");
        }
      });
    }

    await t.step("keys filter; no documentation unless asked", async () => {
      const res = await call(port, DESCRIBE_CONFIGS_REQUEST, DESCRIBE_CONFIGS_RESPONSE, 4, {
        resources: [
          {
            resourceType: 2,
            resourceName: "orders",
            configurationKeys: ["retention.ms", "no.such.key"],
          },
          { resourceType: 2, resourceName: "orders", configurationKeys: [] },
        ],
      });
      assert.deepEqual(res.results[0].configs.map((c: Struct) => [c.name, c.documentation]), [
        ["retention.ms", null],
      ]);
      assert.equal(
        res.results[1].configs.length,
        11 + Object.keys(KAFKA_INERT_TOPIC_CONFIGS).length,
        "an empty list: every key, as Kafka reads it",
      );
    });

    await t.step("the broker, unknown topics, other brokers and resource types", async () => {
      const res = await call(port, DESCRIBE_CONFIGS_REQUEST, DESCRIBE_CONFIGS_RESPONSE, 2, {
        resources: [
          { resourceType: 4, resourceName: "0", configurationKeys: null },
          { resourceType: 4, resourceName: "", configurationKeys: ["num.partitions"] },
          { resourceType: 2, resourceName: "missing", configurationKeys: null },
          { resourceType: 4, resourceName: "1", configurationKeys: null },
          { resourceType: 3, resourceName: "g", configurationKeys: null },
        ],
      });
      const [broker, clusterDefaults, missing, other, group] = res.results;
      assert.equal(broker.errorCode, 0);
      assert.deepEqual(
        broker.configs.map((c: Struct) => [c.name, c.value, c.configSource]),
        [
          ["broker.id", "0", 5],
          ["auto.create.topics.enable", "true", 5],
          ["num.partitions", "3", 4],
        ],
      );
      // "" names the cluster-wide dynamic defaults: Sluice has none.
      assert.deepEqual([clusterDefaults.errorCode, clusterDefaults.configs], [0, []]);
      assert.equal(missing.errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
      assert.deepEqual(missing.configs, []);
      assert.equal(other.errorCode, KafkaError.INVALID_REQUEST);
      assert.equal(group.errorCode, KafkaError.INVALID_REQUEST);
      assert.equal(group.resourceType, 3);
    });
  } finally {
    await env.close();
  }
});

Deno.test("DescribeCluster in process", async (t) => {
  const env = await setup();
  const port = env.listener.port;
  try {
    for (const version of [0, 1]) {
      await t.step(`v${version}`, async () => {
        const res = await call(port, DESCRIBE_CLUSTER_REQUEST, DESCRIBE_CLUSTER_RESPONSE, version, {
          includeClusterAuthorizedOperations: false,
        });
        assert.equal(res.errorCode, 0);
        assert.equal(res.controllerId, 0);
        assert.match(res.clusterId, /\S/);
        assert.deepEqual(res.brokers, [{ brokerId: 0, host: "127.0.0.1", port, rack: null }]);
        assert.equal(res.clusterAuthorizedOperations, INT32_MIN);
      });
    }
    await t.step("authorized operations when asked; no controller endpoint", async () => {
      const asked = await call(port, DESCRIBE_CLUSTER_REQUEST, DESCRIBE_CLUSTER_RESPONSE, 1, {
        includeClusterAuthorizedOperations: true,
      });
      assert.equal(asked.clusterAuthorizedOperations, 8096, "every cluster operation, as Kafka");
      const controller = await call(port, DESCRIBE_CLUSTER_REQUEST, DESCRIBE_CLUSTER_RESPONSE, 1, {
        endpointType: 2,
      });
      assert.equal(controller.errorCode, KafkaError.MISMATCHED_ENDPOINT_TYPE);
      assert.deepEqual([controller.brokers, controller.clusterId, controller.controllerId], [
        [],
        "",
        -1,
      ]);
      const unknown = await call(port, DESCRIBE_CLUSTER_REQUEST, DESCRIBE_CLUSTER_RESPONSE, 1, {
        endpointType: 9,
      });
      assert.equal(unknown.errorCode, KafkaError.UNSUPPORTED_ENDPOINT_TYPE);
    });
  } finally {
    await env.close();
  }
});

Deno.test("OffsetDelete in process", async (t) => {
  const env = await setup();
  const port = env.listener.port;
  const offsetDelete = (body: Struct) =>
    call(port, OFFSET_DELETE_REQUEST, OFFSET_DELETE_RESPONSE, 0, body);
  try {
    await env.broker.createTopic("orders", 3, {});
    await env.broker.offsets.commit("g", [
      { topic: "orders", partition: 0, offset: 5 },
      { topic: "orders", partition: 1, offset: 6 },
      { topic: "orders", partition: 2, offset: 7 },
    ]);

    await t.step("deletes the named partitions; unknown topics per partition", async () => {
      const res = await offsetDelete({
        groupId: "g",
        topics: [
          { name: "orders", partitions: [{ partitionIndex: 1 }, { partitionIndex: 2 }] },
          { name: "missing", partitions: [{ partitionIndex: 0 }] },
        ],
      });
      assert.equal(res.errorCode, 0);
      assert.deepEqual(res.topics, [
        {
          name: "orders",
          partitions: [{ partitionIndex: 1, errorCode: 0 }, { partitionIndex: 2, errorCode: 0 }],
        },
        { name: "missing", partitions: [{ partitionIndex: 0, errorCode: 3 }] },
      ]);
      assert.deepEqual(env.broker.offsets.offsetsOf("g"), [
        { topic: "orders", partition: 0, offset: 5 },
      ]);
      // Again: nothing left there, still no error (as Kafka).
      const again = await offsetDelete({
        groupId: "g",
        topics: [{ name: "orders", partitions: [{ partitionIndex: 1 }] }],
      });
      assert.deepEqual([again.errorCode, again.topics[0].partitions[0].errorCode], [0, 0]);
    });

    await t.step("an unknown group is GROUP_ID_NOT_FOUND", async () => {
      const res = await offsetDelete({
        groupId: "nobody",
        topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }] }],
      });
      assert.deepEqual([res.errorCode, res.topics], [KafkaError.GROUP_ID_NOT_FOUND, []]);
    });

    await t.step(
      "a group with members keeps the offsets of the topics it subscribes to (KIP-496)",
      async () => {
        await env.broker.createTopic("other", 2, {});
        await env.broker.offsets.commit("g", [
          { topic: "other", partition: 0, offset: 3 },
          { topic: "other", partition: 1, offset: 4 },
        ]);
        const member = await env.broker.groups.join("g", { topics: ["orders"] });
        const res = await offsetDelete({
          groupId: "g",
          topics: [
            { name: "orders", partitions: [{ partitionIndex: 0 }] },
            { name: "other", partitions: [{ partitionIndex: 1 }, { partitionIndex: 2 }] },
          ],
        });
        assert.equal(res.errorCode, 0);
        assert.deepEqual(res.topics, [
          {
            name: "orders",
            partitions: [{ partitionIndex: 0, errorCode: KafkaError.GROUP_SUBSCRIBED_TO_TOPIC }],
          },
          {
            name: "other",
            partitions: [
              { partitionIndex: 1, errorCode: 0 },
              { partitionIndex: 2, errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION },
            ],
          },
        ]);
        assert.equal(env.broker.offsets.committed("g", "orders", 0), 5);
        assert.equal(env.broker.offsets.committed("g", "other", 0), 3);
        assert.equal(env.broker.offsets.committed("g", "other", 1), undefined);
        await env.broker.groups.leave("g", member.memberId);
        const after = await offsetDelete({
          groupId: "g",
          topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }] }],
        });
        assert.deepEqual([after.errorCode, after.topics[0].partitions[0].errorCode], [0, 0]);
        assert.equal(env.broker.offsets.committed("g", "orders", 0), undefined);
      },
    );

    await t.step("a classic group of another protocol type is NON_EMPTY_GROUP", async () => {
      // The join waits at the rebalance barrier; the group has its member meanwhile.
      const joining = env.broker.groups.classic.joinGroup({
        groupId: "connect-like",
        memberId: "",
        groupInstanceId: null,
        clientId: "c",
        clientHost: "127.0.0.1",
        protocolType: "connect",
        protocols: [{ name: "default", metadata: new Uint8Array(0) }],
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 30_000,
        requireKnownMemberId: false,
      });
      assert.ok(env.broker.groups.hasMembers("connect-like"));
      const res = await offsetDelete({
        groupId: "connect-like",
        topics: [{ name: "orders", partitions: [{ partitionIndex: 0 }] }],
      });
      assert.deepEqual([res.errorCode, res.topics], [KafkaError.NON_EMPTY_GROUP, []]);
      assert.equal((await joining).error, "NONE");
    });
  } finally {
    await env.close();
  }
});

Deno.test("DescribeConfigs, DescribeCluster and OffsetDelete with authentication", async (t) => {
  const env = await setup();
  const ctx: KafkaContext = {
    broker: env.broker,
    groups: env.listener.groups,
    consumerGroups: env.listener.consumerGroups,
    producerIds: undefined as never,
    fetchSessions: undefined as never,
    settings: {
      advertisedHost: "127.0.0.1",
      advertisedPort: env.listener.port,
      clusterId: "c",
      autoCreateTopics: true,
      defaultPartitions: 1,
    },
    logger: env.logger,
  };
  const as = (name: string, rules: unknown[]): RequestContext => ({
    apiVersion: 0,
    clientId: null,
    clientHost: "/127.0.0.1",
    remote: "127.0.0.1:1",
    principal: { name, rules: rules as any },
    sasl: undefined as any,
  });
  try {
    await env.broker.createTopic("orders", 1, {});
    await env.broker.createTopic("secret", 1, {});
    await env.broker.offsets.commit("g", [
      { topic: "orders", partition: 0, offset: 1 },
      { topic: "secret", partition: 0, offset: 2 },
    ]);

    await t.step(
      "DescribeConfigs: any right on a topic; admin on topic * for the broker",
      async () => {
        const reader = as("reader", [{ topic: "orders", ops: ["read"] }]);
        const res = await describeConfigsHandler(ctx)({
          resources: [
            { resourceType: 2, resourceName: "orders", configurationKeys: null },
            { resourceType: 2, resourceName: "secret", configurationKeys: null },
            { resourceType: 4, resourceName: "0", configurationKeys: null },
          ],
        }, reader) as any;
        assert.deepEqual(res.results.map((r: Struct) => r.errorCode), [
          0,
          KafkaError.TOPIC_AUTHORIZATION_FAILED,
          KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        ]);
        const admin = as("admin", [{ topic: "*", ops: ["admin"] }]);
        const ok = await describeConfigsHandler(ctx)({
          resources: [{ resourceType: 4, resourceName: "0", configurationKeys: null }],
        }, admin) as any;
        assert.equal(ok.results[0].errorCode, 0);
        const cluster = await describeClusterHandler(ctx)({
          includeClusterAuthorizedOperations: true,
        }, reader) as any;
        assert.equal(cluster.errorCode, 0);
        assert.equal(cluster.clusterAuthorizedOperations, (1 << 8) | (1 << 12));
      },
    );

    await t.step("OffsetDelete: admin on the group, read on each topic", async () => {
      const body = {
        groupId: "g",
        topics: [
          { name: "orders", partitions: [{ partitionIndex: 0 }] },
          { name: "secret", partitions: [{ partitionIndex: 0 }] },
        ],
      };
      const noGroup = as("x", [{ topic: "*", ops: ["read"] }]);
      const refused = await offsetDeleteHandler(ctx)(body, noGroup) as any;
      assert.equal(refused.errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
      const groupAdmin = as("y", [{ group: "g", ops: ["admin"] }, {
        topic: "orders",
        ops: ["read"],
      }]);
      const res = await offsetDeleteHandler(ctx)(body, groupAdmin) as any;
      assert.equal(res.errorCode, 0);
      assert.deepEqual(
        res.topics.map((t: Struct) => [t.name, (t.partitions as Struct[])[0].errorCode]),
        [
          ["orders", 0],
          ["secret", KafkaError.TOPIC_AUTHORIZATION_FAILED],
        ],
      );
      assert.deepEqual(env.broker.offsets.offsetsOf("g"), [
        { topic: "secret", partition: 0, offset: 2 },
      ]);
    });
  } finally {
    await env.close();
  }
});

Deno.test("kafkajs admin: describeConfigs and describeCluster against the server", async () => {
  await withKafkaServer({}, async (server) => {
    const kafka = new Kafka({
      clientId: "kjs-configs",
      brokers: [server.bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      await createTopic(server.server, "configured", 2, {
        "retention.ms": 7200000,
        "max.message.bytes": 65536,
      });
      const described = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: "configured" }],
        includeSynonyms: false,
      });
      assert.equal(described.resources.length, 1);
      const r = described.resources[0];
      assert.deepEqual([r.errorCode, r.resourceName], [0, "configured"]);
      const entries = new Map(r.configEntries.map((e) => [e.configName, e]));
      assert.equal(entries.get("retention.ms")?.configValue, "7200000");
      assert.equal(entries.get("retention.ms")?.isDefault, false);
      assert.equal(entries.get("max.message.bytes")?.configValue, "65536");
      assert.equal(entries.get("segment.bytes")?.isDefault, true);
      assert.equal(entries.get("cleanup.policy")?.configValue, "delete");

      const filtered = await admin.describeConfigs({
        resources: [{
          type: ConfigResourceTypes.TOPIC,
          name: "configured",
          configNames: ["retention.ms"],
        }],
        includeSynonyms: false,
      });
      assert.deepEqual(
        filtered.resources[0].configEntries.map((e) => [e.configName, e.configValue]),
        [["retention.ms", "7200000"]],
      );

      const cluster = await admin.describeCluster();
      assert.equal(cluster.controller, 0);
      assert.deepEqual(cluster.brokers.map((b) => [b.nodeId, b.port]), [[0, server.kafkaPort]]);
      assert.match(cluster.clusterId, /\S/);
    } finally {
      await admin.disconnect();
    }
  });
});
