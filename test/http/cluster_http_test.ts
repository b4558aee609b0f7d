/**
 * The HTTP API on a real cluster (three `serve` processes on a real etcd, real HTTP): any broker
 * takes any request. Produce through a broker that leads none or some of a topic's partitions and
 * read everything back through another; batches, fetch (a long poll too), offsets and the SSE
 * stream of a partition through a broker that does not lead it; `GET /v1/cluster` the same from
 * every broker; a request forwarded once is never forwarded again (421); acks=all by default;
 * after the leader is SIGKILLed, requests work again once a new leader is elected. A second test
 * gives each broker its own token file and shows that the leader checks a forwarded request's
 * token again. A third shows `GET /v1/cluster` and the produce options on one node. The bounds of
 * forwarding are tested in process in test/cluster/http_forwarding_test.ts.
 */
import assert from "node:assert/strict";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import { announceEtcdSkip, etcdAvailable } from "../cluster/etcd_server.ts";
import { type ClusterBroker, TestCluster, waitFor } from "../cluster/cluster_harness.ts";
import {
  createTopic,
  expectError,
  expectStatus,
  type Json,
  json,
  withServer,
} from "./server_harness.ts";

announceEtcdSkip();

const RECORD_BATCH_TYPE = "application/vnd.kafka.recordbatch";
const utf8 = new TextEncoder();

interface PartitionView {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

async function clusterView(b: ClusterBroker, token?: string): Promise<Json> {
  const res = await json(`${b.url}/v1/cluster`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  expectStatus(res, 200, `GET /v1/cluster on broker ${b.nodeId}`);
  return res.body;
}

function partitionsOf(view: Json, topic: string): PartitionView[] {
  return view.topics.find((t: Json) => t.name === topic)?.partitions ?? [];
}

/** Waits until `topic` has `partitions` partitions, each led and with `isr` in-sync replicas. */
async function waitForLeaders(
  b: ClusterBroker,
  topic: string,
  partitions: number,
  isr: number,
): Promise<PartitionView[]> {
  return await waitFor(`leaders of ${topic} on broker ${b.nodeId}`, async () => {
    const ps = partitionsOf(await clusterView(b), topic);
    return ps.length === partitions && ps.every((p) => p.leader > 0 && p.isr.length === isr)
      ? ps
      : undefined;
  });
}

function partitionUrl(b: ClusterBroker, topic: string, partition: number): string {
  return `${b.url}/v1/topics/${topic}/partitions/${partition}`;
}

/** Every record of a partition from offset 0, read through `b`. */
async function readAll(b: ClusterBroker, topic: string, partition: number): Promise<Json[]> {
  const res = await json(`${partitionUrl(b, topic, partition)}/records?offset=0&maxBytes=8000000`);
  expectStatus(res, 200, `fetch ${topic}-${partition} through broker ${b.nodeId}`);
  return res.body.records;
}

async function produce(
  b: ClusterBroker,
  topic: string,
  records: Json[],
  query = "",
  headers: Record<string, string> = {},
) {
  return await json(`${b.url}/v1/topics/${topic}/records${query}`, {
    method: "POST",
    headers,
    json: { records },
  });
}

Deno.test({
  name: "HTTP in a cluster: any broker takes any request, forwarded to the partition's leader",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000", "--replica-lag-time-max-ms", "10000"],
    });
    try {
      const brokers = () => [...cluster.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
      const broker = (id: number) => cluster.brokers.get(id)!;
      /** A live broker (the lowest node id), asked where any would do. */
      const any = () => brokers()[0];

      let orders: PartitionView[] = [];
      await t.step(
        "topics are created from any broker; GET /v1/cluster agrees everywhere",
        async () => {
          // A broker serves once it has joined; its view shows the others once their keys reach it.
          for (const b of brokers()) {
            await waitFor(`three brokers in broker ${b.nodeId}'s view`, async () => {
              return (await clusterView(b)).brokers.length === 3 ? true : undefined;
            });
          }
          const created = await json(`${broker(1).url}/v1/topics`, {
            method: "POST",
            json: { name: "orders", partitions: 3, replicationFactor: 3 },
          });
          expectStatus(created, 201, "create orders on broker 1");
          const two = await json(`${broker(2).url}/v1/topics`, {
            method: "POST",
            json: { name: "pair", partitions: 2, replicationFactor: 3 },
          });
          expectStatus(two, 201, "create pair on broker 2");
          const tooMany = await json(`${broker(3).url}/v1/topics`, {
            method: "POST",
            json: { name: "wide", partitions: 1, replicationFactor: 4 },
          });
          expectError(tooMany, 400, "INVALID_REPLICATION_FACTOR", "replication factor 4 of 3");

          orders = await waitForLeaders(any(), "orders", 3, 3);
          await waitForLeaders(any(), "pair", 2, 3);
          // Every broker's view, once settled, is the same but for its own node id.
          const views = await Promise.all(
            brokers().map((b) =>
              waitFor(`a settled view on broker ${b.nodeId}`, async () => {
                const v = await clusterView(b);
                const settled = v.brokers.length === 3 && v.controller > 0 &&
                  partitionsOf(v, "orders").every((p) => p.isr.length === 3) &&
                  partitionsOf(v, "pair").every((p) => p.isr.length === 3);
                return settled ? v : undefined;
              })
            ),
          );
          for (const [i, v] of views.entries()) {
            assert.equal(v.clusterMode, true);
            assert.equal(v.nodeId, brokers()[i].nodeId);
            assert.deepEqual({ ...v, nodeId: 0 }, { ...views[0], nodeId: 0 });
          }
          const v = views[0];
          assert.deepEqual(
            v.brokers.map((x: Json) => [x.nodeId, `${x.host}:${x.kafkaPort}`, x.httpUrl, x.live]),
            brokers().map((b) => [b.nodeId, b.kafka, b.url, true]),
          );
          assert.deepEqual(v.topics.map((x: Json) => x.name), ["orders", "pair"]);
          // Leaders spread: with three partitions over three brokers, each leads one.
          assert.deepEqual(orders.map((p) => p.leader).sort(), [1, 2, 3]);
          for (const p of orders) {
            assert.equal(p.replicas.length, 3);
            assert.equal(p.leader, p.replicas[0]);
          }
        },
      );

      const leaderOf = (p: number) => orders.find((x) => x.partition === p)!.leader;

      await t.step("produce through a broker that leads none of the partitions", async () => {
        const pair = partitionsOf(await clusterView(any()), "pair");
        const leaders = pair.map((p) => p.leader);
        assert.equal(new Set(leaders).size, 2, `pair's two partitions have two leaders`);
        const outsider = brokers().find((b) => !leaders.includes(b.nodeId))!;
        const reader = brokers().find((b) => b !== outsider)!;
        const records = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
        records.push(
          { value: "pinned-0", partition: 0 } as Json,
          { value: "pinned-1", partition: 1 } as Json,
        );
        const res = await produce(outsider, "pair", records);
        expectStatus(res, 200, "produce through the outsider");
        const offsets = res.body.offsets as { partition: number; offset: number }[];
        assert.equal(offsets.length, records.length);
        for (const [i, r] of records.entries()) {
          const expected = (r as Json).partition ?? partitionForKey(utf8.encode(r.key!), 2);
          assert.equal(offsets[i].partition, expected, `record ${i}'s partition`);
        }
        for (const p of [0, 1]) {
          const got = await readAll(reader, "pair", p);
          const sent = records.filter((_, i) => offsets[i].partition === p);
          assert.deepEqual(got.map((r) => r.value), sent.map((r) => r.value), `pair-${p}`);
          assert.deepEqual(
            got.map((r) => r.offset),
            offsets.filter((o) => o.partition === p).map((o) => o.offset),
          );
        }
      });

      await t.step(
        "produce through a broker that leads some partitions, in request order",
        async () => {
          const records: Json[] = [];
          for (let i = 0; i < 30; i++) records.push({ key: `order-${i}`, value: `o${i}` });
          for (let i = 0; i < 5; i++) records.push({ value: `unkeyed-${i}` });
          records.push({ value: "explicit", partition: 2 });
          const res = await produce(any(), "orders", records);
          expectStatus(res, 200, "produce through broker 1");
          const offsets = res.body.offsets as { partition: number; offset: number }[];
          const unkeyed = new Set(offsets.slice(30, 35).map((o) => o.partition));
          assert.equal(unkeyed.size, 1, "a request's unkeyed records stick to one partition");
          assert.equal(offsets[35].partition, 2);
          const partitions = new Set(offsets.map((o) => o.partition));
          assert.deepEqual([...partitions].sort(), [0, 1, 2], "every leader got a share");
          for (const reader of brokers()) {
            for (const p of [0, 1, 2]) {
              const got = new Map((await readAll(reader, "orders", p)).map((r) => [r.offset, r]));
              for (const [i, o] of offsets.entries()) {
                if (o.partition !== p) continue;
                assert.equal(got.get(o.offset)?.value, records[i].value, `orders-${p}@${o.offset}`);
              }
            }
          }
        },
      );

      await t.step("batches, fetch, long poll and offsets through a non-leader", async () => {
        const p = 0;
        const leader = broker(leaderOf(p));
        const other = brokers().find((b) => b.nodeId !== leader.nodeId)!;
        const batch = encodeRecordBatch([{ key: null, value: "as-bytes" }], { timestampMs: 1 });
        const appended = await json(`${partitionUrl(other, "orders", p)}/batches`, {
          method: "POST",
          headers: { "content-type": RECORD_BATCH_TYPE },
          body: batch as Uint8Array<ArrayBuffer>,
        });
        expectStatus(appended, 200, "batches through a non-leader");
        assert.equal(appended.headers.get("sluice-forwarded-to"), String(leader.nodeId));
        const at = appended.body.baseOffset as number;

        const raw = await fetch(`${partitionUrl(other, "orders", p)}/records?offset=${at}`, {
          headers: { accept: RECORD_BATCH_TYPE },
        });
        const bytes = new Uint8Array(await raw.arrayBuffer());
        assert.equal(raw.status, 200);
        assert.equal(raw.headers.get("content-type"), RECORD_BATCH_TYPE);
        assert.equal(raw.headers.get("sluice-next-offset"), String(at + 1));
        assert.equal(bytes.length, batch.length, "the stored batch, handed on as bytes");

        const latest = await json(`${partitionUrl(other, "orders", p)}/offsets?timestamp=latest`);
        expectStatus(latest, 200, "offsets through a non-leader");
        assert.equal(latest.body.offset, at + 1);
        const byTime = await json(`${partitionUrl(other, "orders", p)}/offsets?timestamp=0`);
        expectStatus(byTime, 200, "offsets by timestamp through a non-leader");
        assert.equal(byTime.body.offset, 0);

        // A long poll through a non-leader waits on the leader and is woken by an append.
        const poll = json(
          `${partitionUrl(other, "orders", p)}/records?offset=${at + 1}&maxWaitMs=20000`,
        );
        await waitFor("the forwarded long poll to be waiting", async () => {
          const m = await (await fetch(`${other.url}/metrics`)).text();
          return /sluice_http_forwards_in_flight [1-9]/.test(m) ? true : undefined;
        });
        const woke = await produce(broker(leaderOf(2)), "orders", [{
          value: "wake",
          partition: p,
        }]);
        expectStatus(woke, 200, "the append that wakes the poll");
        const polled = await poll;
        expectStatus(polled, 200, "the long poll");
        assert.deepEqual(polled.body.records.map((r: Json) => r.value), ["wake"]);
        assert.equal(polled.headers.get("sluice-forwarded-to"), String(leader.nodeId));
      });

      await t.step("the SSE stream of a partition through a non-leader", async () => {
        const p = 1;
        const other = brokers().find((b) => b.nodeId !== leaderOf(p))!;
        const expected = (await readAll(broker(leaderOf(p)), "orders", p)).map((r) => r.offset);
        assert.ok(expected.length > 0);
        const controller = new AbortController();
        const res = await fetch(`${partitionUrl(other, "orders", p)}/stream?offset=earliest`, {
          signal: controller.signal,
        });
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
        assert.equal(res.headers.get("sluice-forwarded-to"), String(leaderOf(p)));
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        const ids = () => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
        while (ids().length < expected.length) {
          const { done, value } = await reader.read();
          if (done) break;
          text += value;
        }
        assert.deepEqual(ids().slice(0, expected.length), expected);
        const open = await (await fetch(`${other.url}/metrics`)).text();
        assert.match(open, /^sluice_open_streams 1$/m, "counted where it was forwarded from");
        await reader.cancel();
        controller.abort();
        // The forwarding broker counted the stream against its own bound, and let it go.
        await waitFor("the forwarded stream to be closed", async () => {
          const m = await (await fetch(`${other.url}/metrics`)).text();
          return /^sluice_open_streams 0$/m.test(m) ? true : undefined;
        });
      });

      await t.step("a forwarded request is never forwarded again: 421 where it lands", async () => {
        const p = 0;
        const other = brokers().find((b) => b.nodeId !== leaderOf(p))!;
        const hop = { "sluice-forwarded": "99" };
        const fetched = await json(`${partitionUrl(other, "orders", p)}/records?offset=0`, {
          headers: hop,
        });
        expectError(fetched, 421, "NOT_LEADER_OR_FOLLOWER", "a forwarded fetch at a non-leader");
        assert.equal(fetched.body.error.details.leader, leaderOf(p));
        assert.equal(fetched.headers.get("sluice-forwarded-to"), null);
        const produced = await produce(other, "orders", [{ value: "x", partition: p }], "", hop);
        expectError(produced, 421, "NOT_LEADER_OR_FOLLOWER", "a forwarded produce at a non-leader");
        // Nothing was written by the refused produce.
        const before = await readAll(broker(leaderOf(p)), "orders", p);
        assert.ok(before.every((r) => r.value !== "x"));
        // The leader serves a forwarded request as its own.
        const led = await json(
          `${partitionUrl(broker(leaderOf(p)), "orders", p)}/offsets?timestamp=latest`,
          {
            headers: hop,
          },
        );
        expectStatus(led, 200, "a forwarded request at the leader");
      });

      await t.step("produce is acks=all unless the request says acks=1", async () => {
        const made = await json(`${broker(1).url}/v1/topics`, {
          method: "POST",
          json: {
            name: "strict",
            partitions: 1,
            replicationFactor: 3,
            config: { "min.insync.replicas": 3 },
          },
        });
        expectStatus(made, 201, "create strict");
        const [state] = await waitForLeaders(any(), "strict", 1, 3);
        const bad = await produce(any(), "strict", [{ value: "x" }], "?acks=2");
        expectError(bad, 400, "INVALID_REQUEST", "acks=2");
        // A follower out of the cluster shrinks the ISR to 2, under min.insync.replicas 3.
        const follower = state.replicas.find((id) => id !== state.leader)!;
        await cluster.killBroker(follower, "SIGTERM");
        const via = brokers().find((b) => b.nodeId !== state.leader)!;
        await waitFor("the ISR to shrink", async () => {
          const [s] = partitionsOf(await clusterView(via), "strict");
          return s.isr.length === 2 ? true : undefined;
        });
        const all = await produce(via, "strict", [{ value: "all" }]);
        expectError(all, 503, "NOT_ENOUGH_REPLICAS", "acks=all (the default) with 2 of 3 in sync");
        assert.deepEqual(all.body.error.details.offsets, [{ partition: 0, offset: null }]);
        const one = await produce(via, "strict", [{ value: "one" }], "?acks=1");
        expectStatus(one, 200, "acks=1 with 2 of 3 in sync");
        await cluster.startBroker(follower);
        await waitForLeaders(any(), "strict", 1, 3);
      });

      await t.step(
        "after the leader is SIGKILLed, requests work again once one is elected",
        async () => {
          orders = await waitForLeaders(any(), "orders", 3, 3);
          const p = 0;
          const dead = leaderOf(p);
          const before = await readAll(broker(dead), "orders", p);
          await cluster.killBroker(dead, "SIGKILL");
          const via = brokers()[0];
          const elected = await waitFor("a new leader of orders-0", async () => {
            const [s] = partitionsOf(await clusterView(via), "orders").filter((x) =>
              x.partition === p
            );
            return s.leader > 0 && s.leader !== dead ? s.leader : undefined;
          });
          for (const b of brokers()) {
            const res = await waitFor(`a produce through broker ${b.nodeId}`, async () => {
              const r = await produce(b, "orders", [{ value: `after-${b.nodeId}`, partition: p }]);
              return r.status === 200 ? r : undefined;
            });
            assert.equal(res.body.offsets[0].partition, p);
          }
          // Everything acknowledged before the kill (acks=all) is there, read through either broker.
          for (const b of brokers()) {
            const got = await readAll(b, "orders", p);
            assert.deepEqual(
              got.slice(0, before.length).map((r) => r.value),
              before.map((r) => r.value),
            );
            assert.deepEqual(
              got.slice(before.length).map((r) => r.value).sort(),
              brokers().map((x) => `after-${x.nodeId}`).sort(),
            );
          }
          const view = await clusterView(via);
          assert.equal(view.brokers.length, 2);
          assert.equal(partitionsOf(view, "orders")[p].leader, elected);
        },
      );
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test({
  name: "HTTP in a cluster with --auth: a forwarded request's token is checked again by the leader",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    // The brokers replicate with the admin token (--inter-broker-user); the topic here has one
    // replica per partition, so each partition's leader is the only broker that may take it.
    const cluster = await TestCluster.start({
      brokers: 0,
      args: ["--inter-broker-user", "admin"],
      env: { SLUICE_INTER_BROKER_PASSWORD: "admin-secret-000" },
    });
    try {
      const admin = {
        name: "admin",
        token: "admin-secret-000",
        allow: [{ topic: "*", ops: ["read", "write", "admin"] }],
      };
      const files = new Map<number, string>();
      for (const id of [1, 2]) {
        const writer = {
          name: "writer",
          token: "writer-secret-00",
          // Broker 2 lets the writer read only: a produce that broker 1 allows, broker 2 refuses.
          allow: [{ topic: "t*", ops: id === 1 ? ["read", "write"] : ["read"] }],
        };
        const tokens = id === 1
          ? [admin, writer, {
            name: "stranger",
            token: "only-on-broker-1",
            allow: [{ topic: "*", ops: ["read"] }],
          }]
          : [admin, writer];
        const file = `${cluster.dir}/tokens-${id}.json`;
        await Deno.mkdir(cluster.dir, { recursive: true });
        await Deno.writeTextFile(file, JSON.stringify({ tokens }));
        files.set(id, file);
      }
      const b1 = await cluster.startBroker(1, ["--auth", files.get(1)!]);
      const b2 = await cluster.startBroker(2, ["--auth", files.get(2)!]);
      const as = (token: string) => ({ authorization: `Bearer ${token}` });

      await waitFor("both brokers in broker 1's view", async () => {
        const res = await json(`${b1.url}/v1/cluster`, { headers: as("admin-secret-000") });
        return res.body?.brokers?.length === 2 ? true : undefined;
      });
      const created = await json(`${b1.url}/v1/topics`, {
        method: "POST",
        headers: as("admin-secret-000"),
        json: { name: "t1", partitions: 2, replicationFactor: 1 },
      });
      expectStatus(created, 201, "create t1");
      const parts = await waitFor("t1's leaders", async () => {
        const res = await json(`${b1.url}/v1/cluster`, { headers: as("admin-secret-000") });
        const ps: PartitionView[] = res.body?.topics?.find((x: Json) =>
          x.name === "t1"
        )?.partitions ?? [];
        return ps.length === 2 && ps.every((p) => p.leader > 0) ? ps : undefined;
      });
      const onB2 = parts.find((p) => p.leader === 2);
      const onB1 = parts.find((p) => p.leader === 1);
      assert.ok(onB1 !== undefined && onB2 !== undefined, "one partition on each broker");

      await t.step("the forwarding broker checks first: no token is 401 there", async () => {
        const res = await produce(b1, "t1", [{ value: "x", partition: onB2.partition }]);
        expectError(res, 401, "UNAUTHENTICATED", "no token");
        assert.equal(res.headers.get("sluice-forwarded-to"), null);
      });

      await t.step("a right the leader does not give is 403 from the leader", async () => {
        const res = await produce(
          b1,
          "t1",
          [{ value: "x", partition: onB2.partition }],
          "",
          as("writer-secret-00"),
        );
        expectError(res, 403, "FORBIDDEN", "writer's produce forwarded to broker 2");
        const here = await produce(
          b1,
          "t1",
          [{ value: "x", partition: onB1.partition }],
          "",
          as("writer-secret-00"),
        );
        expectStatus(here, 200, "writer's produce to broker 1's own partition");
        const batch = encodeRecordBatch([{ key: null, value: "b" }], { timestampMs: 1 });
        const batches = await json(`${partitionUrl(b1, "t1", onB2.partition)}/batches`, {
          method: "POST",
          headers: { ...as("writer-secret-00"), "content-type": RECORD_BATCH_TYPE },
          body: batch as Uint8Array<ArrayBuffer>,
        });
        expectError(batches, 403, "FORBIDDEN", "writer's batches forwarded to broker 2");
        assert.equal(batches.headers.get("sluice-forwarded-to"), "2");
      });

      await t.step("a token the leader does not know is 401 from the leader", async () => {
        const res = await json(`${partitionUrl(b1, "t1", onB2.partition)}/records?offset=0`, {
          headers: as("only-on-broker-1"),
        });
        expectError(res, 401, "UNAUTHENTICATED", "broker 1's token at broker 2");
        assert.equal(res.headers.get("sluice-forwarded-to"), "2");
      });

      await t.step("allowed on both: forwarded and served", async () => {
        const produced = await produce(
          b2,
          "t1",
          [{ value: "by-admin", partition: onB1.partition }],
          "",
          as("admin-secret-000"),
        );
        expectStatus(produced, 200, "admin's produce through broker 2");
        const res = await json(`${partitionUrl(b2, "t1", onB1.partition)}/records?offset=0`, {
          headers: as("writer-secret-00"),
        });
        expectStatus(res, 200, "writer's read through broker 2");
        assert.equal(res.headers.get("sluice-forwarded-to"), "1");
        assert.deepEqual(res.body.records.map((r: Json) => r.value), ["x", "by-admin"]);
        // GET /v1/cluster lists only the topics a token has a right on.
        const none = await json(`${b2.url}/v1/cluster`, { headers: as("writer-secret-00") });
        expectStatus(none, 200, "cluster view for the writer");
        assert.deepEqual(none.body.topics.map((x: Json) => x.name), ["t1"]);
        assert.equal(none.body.brokers.length, 2);
      });
    } finally {
      await cluster.stop();
    }
  },
});

Deno.test("HTTP on one node: GET /v1/cluster, acks and replicationFactor", async (t) => {
  await withServer({}, async (server) => {
    await createTopic(server, "solo", 2);
    await t.step("GET /v1/cluster: node 0 is the only broker and leads everything", async () => {
      const res = await json(`${server.url}/v1/cluster`);
      expectStatus(res, 200, "GET /v1/cluster");
      assert.deepEqual(res.body, {
        clusterMode: false,
        nodeId: 0,
        controller: 0,
        brokers: [{
          nodeId: 0,
          host: "127.0.0.1",
          kafkaPort: null,
          httpUrl: server.url,
          live: true,
        }],
        topics: [{
          name: "solo",
          partitions: [0, 1].map((partition) => ({
            partition,
            leader: 0,
            leaderEpoch: res.body.topics[0].partitions[partition].leaderEpoch,
            replicas: [0],
            isr: [0],
          })),
        }],
      });
    });
    await t.step("acks=1 and acks=all both answer; anything else is 400", async () => {
      const url = `${server.url}/v1/topics/solo/records`;
      for (const q of ["", "?acks=1", "?acks=all", "?acks=-1&timeoutMs=5000"]) {
        const res = await json(url + q, { method: "POST", json: { records: [{ value: q }] } });
        expectStatus(res, 200, `produce${q}`);
      }
      for (const q of ["?acks=0", "?acks=yes", "?timeoutMs=0", "?timeoutMs=999999999"]) {
        const res = await json(url + q, { method: "POST", json: { records: [{ value: q }] } });
        expectError(res, 400, "INVALID_REQUEST", `produce${q}`);
      }
    });
    await t.step("replicationFactor other than 1 is 400 on one node", async () => {
      const res = await json(`${server.url}/v1/topics`, {
        method: "POST",
        json: { name: "replicated", replicationFactor: 3 },
      });
      expectError(res, 400, "INVALID_REPLICATION_FACTOR", "replicationFactor 3 on one node");
      const one = await json(`${server.url}/v1/topics`, {
        method: "POST",
        json: { name: "single", replicationFactor: 1 },
      });
      expectStatus(one, 201, "replicationFactor 1 on one node");
    });
    await t.step("a request with the hop header is served as any other", async () => {
      const res = await json(`${server.url}/v1/topics/solo/partitions/0/offsets?timestamp=latest`, {
        headers: { "sluice-forwarded": "3" },
      });
      expectStatus(res, 200, "hop header on one node");
    });
  });
});
