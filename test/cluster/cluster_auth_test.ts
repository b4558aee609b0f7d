/**
 * A cluster with --auth: the brokers replicate with their own token (--inter-broker-user and
 * SLUICE_INTER_BROKER_PASSWORD) over SASL/PLAIN, clients authenticate with theirs, and a
 * follower's fetch (replica id set) needs the admin right on the topic: a read-only token is
 * refused with TOPIC_AUTHORIZATION_FAILED. A cluster with --auth but no broker credentials does not
 * start.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { KafkaReplicaClient } from "../../src/kafka_protocol/replica_client.ts";
import { startServer } from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";

announceEtcdSkip();

const SECRETS = {
  broker: "broker-secret-00000000001",
  app: "app-secret-000000000000002",
  reader: "reader-secret-00000000003",
} as const;

function authFile(): string {
  const path = `${tempDir("sluice-cluster-auth-")}/auth.json`;
  Deno.writeTextFileSync(
    path,
    JSON.stringify({
      tokens: [
        {
          name: "broker",
          token: SECRETS.broker,
          allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
            group: "*",
            ops: ["read", "admin"],
          }],
        },
        {
          name: "app",
          token: SECRETS.app,
          allow: [{ topic: "*", ops: ["read", "write", "admin"] }, { group: "*", ops: ["read"] }],
        },
        { name: "reader", token: SECRETS.reader, allow: [{ topic: "*", ops: ["read"] }] },
      ],
    }),
  );
  return path;
}

Deno.test({
  name: "cluster auth: brokers replicate with their own token; a follower's fetch needs admin",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const auth = authFile();
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--auth", auth, "--inter-broker-user", "broker"],
      env: { SLUICE_INTER_BROKER_PASSWORD: SECRETS.broker },
    });
    try {
      const kafka = new Kafka({
        clientId: "auth-app",
        brokers: cluster.bootstrap(),
        logLevel: logLevel.NOTHING,
        sasl: { mechanism: "plain", username: "app", password: SECRETS.app },
        retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const admin = kafka.admin();
      await admin.connect();

      await t.step("a replicated topic takes acks=all writes: the followers fetch", async () => {
        await admin.createTopics({
          topics: [{ topic: "secured", numPartitions: 1, replicationFactor: 3 }],
          waitForLeaders: true,
        });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic: "secured",
          acks: -1,
          messages: Array.from({ length: 20 }, (_, i) => ({ value: `s${i}` })),
        });
        await producer.disconnect();
        const meta = await admin.fetchTopicMetadata({ topics: ["secured"] });
        assert.equal(meta.topics[0].partitions[0].isr.length, 3);
        const offsets = await admin.fetchTopicOffsets("secured");
        assert.equal(offsets[0].high, "20");
      });

      await t.step("a follower's fetch with a read-only token is refused", async () => {
        const meta = await admin.fetchTopicMetadata({ topics: ["secured"] });
        const leader = meta.topics[0].partitions[0].leader;
        const [host, port] = cluster.brokers.get(leader)!.kafka.split(":");
        const fetchAs = async (username: string, password: string) => {
          const client = new KafkaReplicaClient({ username, password });
          try {
            const [r] = await client.fetch({ nodeId: leader, host, port: Number(port) }, {
              replicaId: leader === 1 ? 2 : 1,
              replicaEpoch: -1,
              maxWaitMs: 0,
              minBytes: 0,
              maxBytes: 1 << 20,
              partitions: [{
                topic: "secured",
                partition: 0,
                fetchOffset: 0,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
                logStartOffset: 0,
                partitionMaxBytes: 1 << 20,
              }],
            });
            return r;
          } finally {
            await client.close();
          }
        };
        const refused = await fetchAs("reader", SECRETS.reader);
        assert.equal(refused.error, "FORBIDDEN");
        assert.equal(refused.records.length, 0);
        const served = await waitFor("the broker token's fetch", async () => {
          const r = await fetchAs("broker", SECRETS.broker);
          return r.error === undefined && r.records.length > 0 ? r : undefined;
        });
        assert.ok(served.records.length > 0);
      });
      await admin.disconnect();
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "cluster auth: --auth without the brokers' credentials refuses to start",
  ignore: !etcdAvailable,
  async fn() {
    const message = await startServer({
      noDefaultFlags: true,
      args: [
        "--port",
        "0",
        "--kafka-port",
        "auto",
        "--node-id",
        "1",
        "--etcd",
        "http://127.0.0.1:9",
        "--auth",
        authFile(),
        "--data-dir",
        tempDir("sluice-cluster-noauth-"),
      ],
    }).then(() => assert.fail("started"), (err: Error) => err.message);
    assert.match(message, /exit code 2/);
    assert.match(message, /needs the brokers' own credentials/);
  },
});
