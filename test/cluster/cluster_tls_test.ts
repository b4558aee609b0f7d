/**
 * A cluster whose listeners are TLS (--tls-cert/--tls-key, one self-signed certificate shared by
 * the brokers): followers replicate over TLS (acks=all with a full ISR), clients connect with TLS,
 * and HTTP requests are forwarded between brokers over HTTPS.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { makeSelfSignedCert, opensslAvailable } from "../test_util.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";

announceEtcdSkip();

if (!opensslAvailable) console.warn("SKIPPED: openssl is not installed (cluster TLS test)");

Deno.test({
  name: "cluster over TLS: replication, clients and HTTP forwarding all on TLS",
  ignore: !etcdAvailable || !opensslAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cert = makeSelfSignedCert("sluice-cluster-tls-");
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--tls-cert", cert.certPath, "--tls-key", cert.keyPath],
    });
    const client = Deno.createHttpClient({ caCerts: [cert.pem] });
    try {
      const kafka = new Kafka({
        clientId: "cluster-tls",
        brokers: cluster.bootstrap(),
        logLevel: logLevel.NOTHING,
        ssl: { ca: [cert.pem] },
        retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const admin = kafka.admin();
      await admin.connect();
      await t.step("followers replicate over TLS: acks=all with three in sync", async () => {
        await admin.createTopics({
          topics: [{
            topic: "sealed",
            numPartitions: 1,
            replicationFactor: 3,
            configEntries: [{ name: "min.insync.replicas", value: "3" }],
          }],
          waitForLeaders: true,
        });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic: "sealed",
          acks: -1,
          messages: Array.from({ length: 10 }, (_, i) => ({ value: `s${i}` })),
        });
        await producer.disconnect();
        const p = (await admin.fetchTopicMetadata({ topics: ["sealed"] })).topics[0].partitions[0];
        assert.equal(p.isr.length, 3);
      });
      await t.step("an HTTPS request to a follower is forwarded to the leader", async () => {
        const p = (await admin.fetchTopicMetadata({ topics: ["sealed"] })).topics[0].partitions[0];
        const follower = [...cluster.brokers.values()].find((b) => b.nodeId !== p.leader)!;
        assert.match(follower.url, /^https:/);
        const res = await waitFor("a forwarded produce", async () => {
          const r = await fetch(`${follower.url}/v1/topics/sealed/records`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ records: [{ value: "over https" }] }),
            client,
          });
          const body = await r.json();
          return r.status === 200 ? { r, body } : undefined;
        });
        // Appended on the leader after the ten records above: the follower forwarded it (a JSON
        // produce is split by leader, cluster_produce.ts, its answer the leaders' offsets).
        assert.equal(res.body.offsets[0].offset, 10);
        const read = await fetch(
          `${follower.url}/v1/topics/sealed/partitions/0/records?offset=10`,
          {
            client,
          },
        );
        assert.equal(read.headers.get("sluice-forwarded-to"), String(p.leader));
        const records = await read.json();
        assert.equal(records.records[0].value, "over https");
      });
      await admin.disconnect();
    } finally {
      client.close();
      await cluster.stop();
    }
  },
});
