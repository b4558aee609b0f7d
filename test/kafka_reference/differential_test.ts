/**
 * Sluice's Kafka answers compared with Apache Kafka 4.4's, request by request (see
 * differential_lib.ts for the machinery and docs/kafka_differences.md for what differs and why).
 *
 * One real Kafka broker (kafka_server.ts; node.id 0 like Sluice's single node) and one Sluice
 * listener get the same request frames, built once by our tables, after the same preparation
 * through the protocol (the same topics with the same partition counts, the same record batches
 * produced, the same groups joined). Every API and version Sluice serves runs at least once (the
 * test fails if one did not: no case is skipped silently), with the edge cases real clients send.
 * Both answers are decoded by our tables, normalized (differential_lib.ts's `normalize`) and
 * compared field by field; every difference must be listed in known_differences.ts with its row
 * of docs/kafka_differences.md, and every listed difference must still occur, so the list only
 * shrinks as Sluice's bugs are fixed.
 *
 * Requests that carry an id one side generated (a classic group's member id, a consumer member's
 * epoch, a producer id, a topic id) are built per side from one template, the same but for those
 * ids.
 *
 * About 1510 cases; 15-35 s on 2 loaded cores, Kafka's start (5-12 s) included.
 * DIFF_REPORT=1 prints every case's differences (allowed or not) after the run; DIFF_REPORT=FILE
 * writes every case with both decoded answers as JSON. Skipped loudly when Kafka is not installed
 * (scripts/install-kafka.sh); a failure under SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI.
 *
 * This file prepares both sides and runs the case groups of cases/*.ts in order (each a function
 * of a CaseContext, case_context.ts); a new API's cases go in a file of their own there.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { tempDir } from "../test_util.ts";
import {
  type Any,
  type CaseContext,
  CLIENT_ID,
  TOPIC_A,
  TOPIC_B,
  TOPIC_BATCHES,
  TOPIC_EMPTY,
} from "./case_context.ts";
import {
  alterConfigsCases,
  createPartitionsCases,
  incrementalAlterConfigsCases,
} from "./cases/alter_topics.ts";
import { apiVersionsCases } from "./cases/api_versions.ts";
import { joinSyncHeartbeatCases, leaveGroupCases, oldJoinCases } from "./cases/classic_groups.ts";
import { batch } from "./cases/common.ts";
import { describeClusterCases, describeConfigsCases } from "./cases/configs.ts";
import { consumerGroupCases } from "./cases/consumer_groups.ts";
import { fetchCases, listOffsetsCases } from "./cases/fetch.ts";
import { fetchSessionCases } from "./cases/fetch_sessions.ts";
import { offsetForLeaderEpochCases } from "./cases/offset_for_leader_epoch.ts";
import { findCoordinatorCases } from "./cases/find_coordinator.ts";
import { deleteGroupsCases, describeGroupsCases, listGroupsCases } from "./cases/group_admin.ts";
import { offsetCommitCases, offsetDeleteCases, offsetFetchCases } from "./cases/group_offsets.ts";
import { internalTopicCases, metadataCases } from "./cases/metadata.ts";
import { produceCases } from "./cases/produce.ts";
import { initProducerIdCases } from "./cases/producer_ids.ts";
import { createTopicsCases, deleteTopicsCases } from "./cases/topics.ts";
import { deleteRecordsCases } from "./cases/delete_records.ts";
import {
  type ApiName,
  apiNameOf,
  APIS,
  type CaseSpec,
  Differ,
  type Exchanged,
  judge,
  Peer,
  showDifference,
} from "./differential_lib.ts";
import {
  announceKafkaSkip,
  kafkaAvailable,
  type RunningKafka,
  startKafka,
} from "./kafka_server.ts";
import { KNOWN_DIFFERENCES } from "./known_differences.ts";

function versionsIn(range: { min: number; max: number }): number[] {
  return Array.from({ length: range.max - range.min + 1 }, (_, i) => range.min + i);
}

// ---------------------------------------------------------------------------------------------

announceKafkaSkip();

Deno.test({
  name: "Sluice answers as Apache Kafka 4.4 does, API by API (differential)",
  ignore: !kafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const started = performance.now();
    const logger = new MemoryLogger();
    const dataDir = tempDir("sluice-diff-");
    const [kafka, broker] = await Promise.all([
      startKafka({
        extraProps: {
          "node.id": 0, // Sluice's one node is 0: node ids compare as they are
          "offsets.topic.num.partitions": 1,
          "transaction.state.log.num.partitions": 1,
          // The prepared records carry old timestamps: Kafka's retention (7 days) would delete
          // them at its first check, log.initial.task.delay.ms (30 s) after start, mid-run on a
          // slow machine (seen in CI: diff-b's logStartOffset 47 against Sluice's 0); the
          // interval alone does not move that first check.
          "log.initial.task.delay.ms": 3_600_000,
          "log.retention.check.interval.ms": 3_600_000,
        },
      }),
      Broker.open({ dataDir, logger, classicGroups: { initialRebalanceDelayMs: 0 } }),
    ]);
    const listener = await startKafkaListener(broker, { host: "127.0.0.1", port: 0, logger });
    const sluiceClusterId = Deno.readTextFileSync(`${dataDir}/cluster_id`).trim();
    const k = new Peer("kafka", kafka.port, kafka.clusterId);
    const s = new Peer("sluice", listener.port, sluiceClusterId);
    const d = new Differ(k, s, CLIENT_ID);
    console.log(`Kafka answered after ${kafka.startMs} ms`);
    try {
      await runCases(t, d, kafka);
      await verdict(t, d);
    } finally {
      k.close();
      s.close();
      await listener.close();
      await broker.close();
      await kafka.stop();
      console.log(`differential test: ${Math.round(performance.now() - started)} ms in all`);
    }
  },
});

async function runCases(t: Deno.TestContext, d: Differ, kafka: RunningKafka): Promise<void> {
  const served = new Map<ApiName, { min: number; max: number }>();
  const kafkaServed = new Map<number, { min: number; max: number }>();
  /** The versions of `api` Sluice serves. */
  const versions = (api: ApiName) => versionsIn(served.get(api)!);
  const kafkaServes = (api: ApiName, v: number) => {
    const r = kafkaServed.get(APIS[api].request.apiKey);
    return r !== undefined && v >= r.min && v <= r.max;
  };
  /** Asserts a preparation step worked on both sides. */
  const prepared = (what: string, e: Exchanged, ok: (b: Any) => boolean) => {
    for (const [side, o] of [["kafka", e.kafka], ["sluice", e.sluice]] as const) {
      assert.ok(
        o.kind === "response" && ok(o.body),
        `preparation "${what}" failed on ${side}: ${JSON.stringify(o, replacer)}\n` +
          (side === "kafka" ? kafka.logTail(20) : ""),
      );
    }
  };
  const check = (spec: CaseSpec) => d.check(spec);
  /** Polls a preparation request on both sides until `ok` holds for both (Kafka is async). */
  const until = async (
    what: string,
    spec: CaseSpec,
    ok: (b: Any) => boolean,
    kafkaOnly = false,
  ) => {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const e = await check({ ...spec, prepare: true });
      const done = e.k !== undefined && e.s !== undefined && ok(e.k) && (kafkaOnly || ok(e.s));
      if (done) return e;
      if (performance.now() > deadline) {
        prepared(what, e, ok);
        return e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // -------------------------------------------------------------------------------------------
  await t.step("preparation: the same topics and records on both", async () => {
    const av = await check({
      api: "ApiVersions",
      version: 3,
      label: "",
      body: { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" },
      prepare: true,
    });
    prepared("ApiVersions", av, (b) => b.errorCode === 0);
    for (const entry of (av.s as Any).apiKeys) {
      const name = apiNameOf(entry.apiKey);
      if (name !== undefined) served.set(name, { min: entry.minVersion, max: entry.maxVersion });
    }
    for (const entry of (av.k as Any).apiKeys) {
      kafkaServed.set(entry.apiKey, { min: entry.minVersion, max: entry.maxVersion });
    }
    const created = await check({
      api: "CreateTopics",
      version: 5,
      label: "",
      prepare: true,
      body: {
        topics: [
          [TOPIC_A, 3],
          [TOPIC_B, 1],
          [TOPIC_EMPTY, 2],
          [TOPIC_BATCHES, 1],
          ...versions("DeleteTopics").flatMap((v) => [[`delete-v${v}`, 1], [`delete2-v${v}`, 2]]),
          ["delete-by-id", 1],
        ].map(([name, numPartitions]) => ({
          name,
          numPartitions,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 30_000,
        validateOnly: false,
      },
    });
    prepared("CreateTopics", created, (b) => b.topics.every((tp: Any) => tp.errorCode === 0));
    // Kafka's leaders are elected asynchronously after CreateTopics answers.
    await until("Metadata: every partition led", {
      api: "Metadata",
      version: served.get("Metadata")!.max, // v10+: with topic ids
      label: "",
      body: {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      learn: (peer, b: Any) => {
        for (const tp of b.topics) peer.learnTopicId(tp.topicId, tp.name);
      },
    }, (b) =>
      b.topics.length >= 3 &&
      b.topics.every((tp: Any) =>
        tp.errorCode === 0 && tp.partitions.every((p: Any) => p.leaderId >= 0)
      ));
    // A partition's leader may still be loading its log: ListOffsets says when it is ready.
    const createdTopics: [string, number][] = [
      [TOPIC_A, 3],
      [TOPIC_B, 1],
      [TOPIC_EMPTY, 2],
      [TOPIC_BATCHES, 1],
    ];
    await until("ListOffsets: every partition ready", {
      api: "ListOffsets",
      version: 1,
      label: "",
      body: {
        replicaId: -1,
        topics: createdTopics.map(([name, n]) => ({
          name,
          partitions: Array.from({ length: n }, (_, p) => ({ partitionIndex: p, timestamp: -1n })),
        })),
      },
    }, (b) => b.topics.every((tp: Any) => tp.partitions.every((p: Any) => p.errorCode === 0)));
    // One batch per partition and request (Kafka refuses more, see the Produce cases).
    for (
      const [topic, partition, records] of [
        [TOPIC_A, 0, 2],
        [TOPIC_A, 0, 3],
        [TOPIC_A, 0, 1],
        [TOPIC_A, 1, 5],
        [TOPIC_A, 2, 1],
        [TOPIC_B, 0, 4],
      ] as const
    ) {
      const produced = await check({
        api: "Produce",
        version: 9,
        label: "",
        prepare: true,
        body: {
          transactionalId: null,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [{
            name: topic,
            partitionData: [{ index: partition, records: batch(records) }],
          }],
        },
      });
      prepared(
        "Produce",
        produced,
        (b) =>
          b.responses.every((r: Any) => r.partitionResponses.every((p: Any) => p.errorCode === 0)),
      );
    }
  });

  const c: CaseContext = {
    t,
    d,
    kafka,
    versions,
    served: (api) => served.get(api)!,
    kafkaServes,
    check,
    prepared,
    until,
  };
  // Group by group, in this order: later groups see the state earlier ones left (topics deleted,
  // groups joined, offsets committed).
  const groups: [string, (c: CaseContext) => Promise<void>][] = [
    ["ApiVersions", apiVersionsCases],
    ["Metadata", metadataCases],
    ["Produce", produceCases],
    ["Fetch", fetchCases],
    ["ListOffsets", listOffsetsCases],
    ["OffsetForLeaderEpoch", offsetForLeaderEpochCases],
    ["FindCoordinator", findCoordinatorCases],
    ["JoinGroup, SyncGroup, Heartbeat", joinSyncHeartbeatCases],
    ["OffsetCommit", offsetCommitCases],
    ["OffsetFetch", offsetFetchCases],
    ["DescribeGroups", describeGroupsCases],
    ["ListGroups", listGroupsCases],
    ["ConsumerGroupHeartbeat, ConsumerGroupDescribe", consumerGroupCases],
    ["LeaveGroup", leaveGroupCases],
    ["JoinGroup: old versions and refused joins", oldJoinCases],
    ["DeleteGroups", deleteGroupsCases],
    ["OffsetDelete", offsetDeleteCases],
    ["CreateTopics", createTopicsCases],
    ["DeleteTopics", deleteTopicsCases],
    ["DeleteRecords", deleteRecordsCases],
    ["InitProducerId", initProducerIdCases],
    ["DescribeConfigs", describeConfigsCases],
    ["DescribeCluster", describeClusterCases],
    ["Metadata: internal topics", internalTopicCases],
    ["Fetch sessions", fetchSessionCases],
    ["AlterConfigs", alterConfigsCases],
    ["IncrementalAlterConfigs", incrementalAlterConfigsCases],
    ["CreatePartitions", createPartitionsCases],
  ];
  for (const [name, cases] of groups) await t.step(name, () => cases(c));

  // -------------------------------------------------------------------------------------------
  await t.step("every API and version Sluice serves ran", () => {
    const ran = new Set(d.results.map((r) => `${r.api} v${r.version}`));
    const missing = [...served.keys()].flatMap((api) =>
      versions(api).map((v) => `${api} v${v}`).filter((id) => !ran.has(id))
    );
    assert.deepEqual(missing, [], "served versions with no case");
    const untested = (Object.keys(APIS) as ApiName[]).filter((api) => !served.has(api));
    assert.deepEqual(untested, [], "APIs of the differential test that Sluice does not serve");
  });
}

/** Every difference allowed, every allowed one seen, every served API version exercised. */
async function verdict(t: Deno.TestContext, d: Differ): Promise<void> {
  const report = Deno.env.get("DIFF_REPORT");
  if (report) {
    const lines = d.results.flatMap((r) =>
      r.differences.map((x) => `${r.id}: ${showDifference(x)}`)
    );
    if (report === "1") console.log(lines.join("\n"));
    else Deno.writeTextFileSync(report, JSON.stringify(d.results, replacer, 1));
  }
  const { unexpected, stale } = judge(d.results, KNOWN_DIFFERENCES);
  await t.step("every difference is a known one", () => {
    assert.deepEqual(unexpected, [], `${unexpected.length} differences not in KNOWN_DIFFERENCES`);
  });
  await t.step("every known difference still occurs", () => {
    assert.deepEqual(stale, [], "KNOWN_DIFFERENCES entries to remove or correct");
  });
  await t.step("every known difference has its row in docs/kafka_differences.md, and back", () => {
    const docs = Deno.readTextFileSync(new URL("../../docs/kafka_differences.md", import.meta.url));
    const rows = new Set([...docs.matchAll(/^\| ([A-Z]{2}\d+) +\|/gm)].map((m) => m[1]));
    const cited = new Set(KNOWN_DIFFERENCES.map((k) => k.doc));
    assert.deepEqual([...cited].filter((id) => !rows.has(id)), [], "ids without a docs row");
    assert.deepEqual([...rows].filter((id) => !cited.has(id)), [], "docs rows no entry cites");
  });
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return v;
}
