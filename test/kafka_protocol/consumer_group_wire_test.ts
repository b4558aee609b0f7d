/**
 * KIP-848 over the wire, in process: raw frames (our tables, one request per connection) to a
 * listener on a real Broker. ApiVersions advertises ConsumerGroupHeartbeat and
 * ConsumerGroupDescribe; Metadata gives each topic a stable non-zero id; a heartbeat's assignment
 * names topics by that id; OffsetCommit v9 and OffsetFetch v9 check the member epoch; ListGroups
 * v5, DescribeGroups and ConsumerGroupDescribe show the group; a classic JoinGroup on its id is
 * INCONSISTENT_GROUP_PROTOCOL and a heartbeat on a classic group's id GROUP_ID_NOT_FOUND;
 * DeleteGroups refuses it while it has members.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
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
  DELETE_GROUPS_REQUEST,
  DELETE_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/delete_groups.ts";
import {
  DESCRIBE_GROUPS_REQUEST,
  DESCRIBE_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/describe_groups.ts";
import {
  JOIN_GROUP_REQUEST,
  JOIN_GROUP_RESPONSE,
} from "../../src/kafka_protocol/messages/join_group.ts";
import {
  LIST_GROUPS_REQUEST,
  LIST_GROUPS_RESPONSE,
} from "../../src/kafka_protocol/messages/list_groups.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import {
  OFFSET_COMMIT_REQUEST,
  OFFSET_COMMIT_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_commit.ts";
import {
  OFFSET_FETCH_REQUEST,
  OFFSET_FETCH_RESPONSE,
} from "../../src/kafka_protocol/messages/offset_fetch.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { tempDir } from "../test_util.ts";
import { callOnce as call } from "./kafka_wire_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("consumer group protocol over raw frames", async (t) => {
  const logger = new MemoryLogger();
  const broker = await Broker.open({
    dataDir: tempDir("sluice-kip848-"),
    logger,
    consumerGroups: { heartbeatIntervalMs: 250 },
  });
  const listener: KafkaListener = await startKafkaListener(broker, {
    host: "127.0.0.1",
    port: 0,
    logger,
  });
  const port = listener.port;
  try {
    await broker.createTopic("orders", 3, {});
    let topicId: Uint8Array = new Uint8Array(16);

    await t.step("ApiVersions and Metadata", async () => {
      const versions = await call(port, API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE, 3, {
        clientSoftwareName: "sluice-test",
        clientSoftwareVersion: "1.0",
      }) as Any;
      const range = (key: number) =>
        versions.apiKeys.find((k: { apiKey: number }) => k.apiKey === key);
      assert.deepEqual(range(68), { apiKey: 68, minVersion: 0, maxVersion: 1 });
      assert.deepEqual(range(69), { apiKey: 69, minVersion: 0, maxVersion: 1 });
      assert.equal(range(8).maxVersion, 9);
      assert.equal(range(9).maxVersion, 9);
      assert.equal(range(16).maxVersion, 5);
      const meta = await call(port, METADATA_REQUEST, METADATA_RESPONSE, 11, {
        topics: [{ name: "orders", topicId: new Uint8Array(16) }],
      }) as Any;
      topicId = meta.topics[0].topicId;
      assert.ok(topicId.some((b: number) => b !== 0), "a non-zero topic id");
      const again = await call(port, METADATA_REQUEST, METADATA_RESPONSE, 10, {
        topics: [{ name: "orders", topicId: new Uint8Array(16) }],
      }) as Any;
      assert.deepEqual(again.topics[0].topicId, topicId, "stable");
    });

    const heartbeat = (body: Struct, version = 1) =>
      call(port, CONSUMER_GROUP_HEARTBEAT_REQUEST, CONSUMER_GROUP_HEARTBEAT_RESPONSE, version, {
        groupId: "kip848",
        rebalanceTimeoutMs: -1,
        ...body,
      }) as Promise<Any>;

    await t.step(
      "join, assignment by topic id, commit and fetch with the member epoch",
      async () => {
        const joined = await heartbeat({
          memberId: "member-a",
          memberEpoch: 0,
          rebalanceTimeoutMs: 60_000,
          subscribedTopicNames: ["orders"],
          topicPartitions: [],
        });
        assert.equal(joined.errorCode, 0, joined.errorMessage);
        assert.equal(joined.memberId, "member-a");
        assert.equal(joined.memberEpoch, 1);
        assert.equal(joined.heartbeatIntervalMs, 250);
        assert.deepEqual(joined.assignment.topicPartitions, [{ topicId, partitions: [0, 1, 2] }]);
        const steady = await heartbeat({ memberId: "member-a", memberEpoch: 1 });
        assert.equal(steady.assignment, null, "unchanged: null");

        const commit = (epoch: number, version = 9) =>
          call(port, OFFSET_COMMIT_REQUEST, OFFSET_COMMIT_RESPONSE, version, {
            groupId: "kip848",
            generationIdOrMemberEpoch: epoch,
            memberId: "member-a",
            topics: [{
              name: "orders",
              partitions: [{ partitionIndex: 1, committedOffset: 0n, committedMetadata: null }],
            }],
          }) as Promise<Any>;
        const code = (r: Any) => r.topics[0].partitions[0].errorCode;
        assert.equal(code(await commit(1)), KafkaError.NONE);
        assert.equal(code(await commit(2)), KafkaError.STALE_MEMBER_EPOCH);
        assert.equal(code(await commit(1, 8)), KafkaError.UNSUPPORTED_VERSION);
        assert.equal(broker.offsets.committed("kip848", "orders", 1), 0);

        const fetched = await call(port, OFFSET_FETCH_REQUEST, OFFSET_FETCH_RESPONSE, 9, {
          groups: [
            {
              groupId: "kip848",
              memberId: "member-a",
              memberEpoch: 1,
              topics: [{ name: "orders", partitionIndexes: [1] }],
            },
            { groupId: "kip848", memberId: "member-a", memberEpoch: 7, topics: null },
          ],
        }) as Any;
        assert.equal(fetched.groups[0].errorCode, 0);
        assert.equal(fetched.groups[0].topics[0].partitions[0].committedOffset, 0n);
        assert.equal(fetched.groups[1].errorCode, KafkaError.STALE_MEMBER_EPOCH);
      },
    );

    await t.step("describe and list it; one protocol per group id", async () => {
      const described = await call(
        port,
        CONSUMER_GROUP_DESCRIBE_REQUEST,
        CONSUMER_GROUP_DESCRIBE_RESPONSE,
        1,
        { groupIds: ["kip848", "missing"], includeAuthorizedOperations: false },
      ) as Any;
      const [g, missing] = described.groups;
      assert.equal(g.errorCode, 0);
      assert.equal(g.groupState, "Stable");
      assert.equal(g.assignorName, "uniform");
      assert.equal(g.members[0].memberId, "member-a");
      assert.equal(g.members[0].memberType, 1);
      assert.deepEqual(g.members[0].assignment.topicPartitions, [
        { topicId, topicName: "orders", partitions: [0, 1, 2] },
      ]);
      assert.equal(missing.errorCode, KafkaError.GROUP_ID_NOT_FOUND);

      const listed = await call(port, LIST_GROUPS_REQUEST, LIST_GROUPS_RESPONSE, 5, {
        typesFilter: ["consumer"],
      }) as Any;
      assert.deepEqual(listed.groups, [
        {
          groupId: "kip848",
          protocolType: "consumer",
          groupState: "Stable",
          groupType: "consumer",
        },
      ]);
      const classic = await call(port, DESCRIBE_GROUPS_REQUEST, DESCRIBE_GROUPS_RESPONSE, 5, {
        groups: ["kip848"],
      }) as Any;
      assert.equal(classic.groups[0].groupState, "Stable");
      assert.equal(classic.groups[0].protocolData, "uniform");

      const join = await call(port, JOIN_GROUP_REQUEST, JOIN_GROUP_RESPONSE, 5, {
        groupId: "kip848",
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: new Uint8Array(0) }],
      }) as Any;
      assert.equal(join.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL);
      const deleted = await call(port, DELETE_GROUPS_REQUEST, DELETE_GROUPS_RESPONSE, 2, {
        groupsNames: ["kip848"],
      }) as Any;
      assert.equal(deleted.results[0].errorCode, KafkaError.NON_EMPTY_GROUP);
    });

    await t.step("a second member: revoke before reassign, over the wire", async () => {
      const b = await heartbeat({
        memberId: "member-b",
        memberEpoch: 0,
        rebalanceTimeoutMs: 60_000,
        subscribedTopicNames: ["orders"],
        topicPartitions: [],
      });
      assert.equal(b.memberEpoch, 2);
      assert.deepEqual(b.assignment.topicPartitions, []);
      const a = await heartbeat({ memberId: "member-a", memberEpoch: 1 });
      assert.equal(a.memberEpoch, 1, "a revokes first");
      const kept: number[] = a.assignment.topicPartitions[0].partitions;
      assert.equal(kept.length, 2);
      const acked = await heartbeat({
        memberId: "member-a",
        memberEpoch: 1,
        topicPartitions: [{ topicId, partitions: kept }],
      });
      assert.equal(acked.memberEpoch, 2);
      const b2 = await heartbeat({ memberId: "member-b", memberEpoch: 2 });
      assert.deepEqual(b2.assignment.topicPartitions, [{
        topicId,
        partitions: [0, 1, 2].filter((p) => !kept.includes(p)),
      }]);
      // Both leave: the group is empty and may be deleted.
      for (const memberId of ["member-a", "member-b"]) {
        const left = await heartbeat({ memberId, memberEpoch: -1 });
        assert.equal(left.errorCode, 0);
        assert.equal(left.memberEpoch, -1);
      }
      const deleted = await call(port, DELETE_GROUPS_REQUEST, DELETE_GROUPS_RESPONSE, 2, {
        groupsNames: ["kip848"],
      }) as Any;
      assert.equal(deleted.results[0].errorCode, KafkaError.NONE);
      assert.equal(broker.offsets.committed("kip848", "orders", 1), undefined);
    });
  } finally {
    await listener.close();
    await broker.close();
  }
});
