/**
 * Topics for the cluster suite, created through kafkajs's admin client with the replication
 * factor and min.insync.replicas of their target before any client writes to them (the clients,
 * bench/kafka_client.py and failover_client.py, keep a topic that exists).
 */
import { Kafka, logLevel } from "kafkajs";
import { withTimeout } from "../bench_util.ts";
import { ADMIN_TIMEOUT_MS } from "./plan.ts";

/** One partition of `replicationFactor` replicas; resolves once it has a leader. */
export async function createTopic(
  bootstrap: string,
  topic: string,
  replicationFactor: number,
  minInsyncReplicas: number,
): Promise<void> {
  const admin = new Kafka({
    clientId: "sluice-cluster-bench",
    brokers: bootstrap.split(","),
    connectionTimeout: 3_000,
    requestTimeout: ADMIN_TIMEOUT_MS,
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 2_000 },
    logLevel: logLevel.NOTHING,
  }).admin();
  await withTimeout(admin.connect(), ADMIN_TIMEOUT_MS, `admin connect ${bootstrap}`);
  try {
    await withTimeout(
      admin.createTopics({
        topics: [{
          topic,
          numPartitions: 1,
          replicationFactor,
          configEntries: [{ name: "min.insync.replicas", value: String(minInsyncReplicas) }],
        }],
        waitForLeaders: true,
      }),
      ADMIN_TIMEOUT_MS,
      `create topic ${topic} on ${bootstrap}`,
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
