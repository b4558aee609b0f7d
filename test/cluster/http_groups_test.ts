/**
 * HTTP consumer groups in a real three-broker cluster: any broker takes a group's requests and
 * forwards them to the group's coordinator (the leader of its `__consumer_offsets` partition);
 * the coordinator reads the members' partitions wherever they are led (here each partition has
 * one replica, so two of three are read from other brokers); commits are replicated, so when the
 * coordinator is SIGKILLed the new one has the group, its member and its offsets, and the member
 * reads on from where it committed.
 */
import assert from "node:assert/strict";
import { type Json, json } from "../http/server_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { type ClusterBroker, TestCluster, waitFor } from "./cluster_harness.ts";

announceEtcdSkip();

const TOPIC = "hg";
const GROUP = "hg-readers";

function someBroker(cluster: TestCluster, i: number): ClusterBroker {
  const all = [...cluster.brokers.values()];
  return all[i % all.length];
}

Deno.test({
  name: "cluster HTTP groups: any broker serves a group, reads span leaders, commits survive",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({
      brokers: 3,
      args: ["--broker-session-timeout-ms", "3000"],
    });
    try {
      const b1 = someBroker(cluster, 0);
      await waitFor("three brokers", async () => {
        const view = await json(`${b1.url}/v1/cluster`);
        return view.body?.brokers?.length === 3 ? true : undefined;
      });
      const created = await json(`${b1.url}/v1/topics`, {
        method: "POST",
        json: { name: TOPIC, partitions: 3, replicationFactor: 1 },
      });
      assert.equal(created.status, 201, created.text);
      const produce = async (from: number, n: number) => {
        const res = await json(`${someBroker(cluster, from).url}/v1/topics/${TOPIC}/records`, {
          method: "POST",
          json: {
            records: Array.from({ length: n }, (_, i) => ({
              value: `h${from + i}`,
              partition: (from + i) % 3,
            })),
          },
        });
        assert.equal(res.status, 200, res.text);
      };
      await waitFor("every partition led", async () => {
        const view = await json(`${b1.url}/v1/cluster`);
        const t = view.body?.topics?.find((x: Json) => x.name === TOPIC);
        return t?.partitions?.every((p: Json) => p.leader > 0) ? true : undefined;
      });
      await produce(0, 30);

      let memberId = "";
      let generation = 0;
      const seen: string[] = [];
      const readAll = async (via: number, want: number) => {
        await waitFor(`${want} records`, async () => {
          const res = await json(
            `${
              someBroker(cluster, via).url
            }/v1/groups/${GROUP}/members/${memberId}/records?maxWaitMs=500`,
          );
          if (res.status !== 200) return undefined;
          for (const r of res.body.records) seen.push(r.value);
          return seen.length >= want ? true : undefined;
        }, 60_000);
      };

      await t.step("a member joins through one broker and reads through another", async () => {
        const joined = await waitFor("the join", async () => {
          const res = await json(`${b1.url}/v1/groups/${GROUP}/members`, {
            method: "POST",
            json: { topics: [TOPIC], autoOffsetReset: "earliest" },
          });
          return res.status === 200 ? res.body : undefined;
        });
        memberId = joined.memberId;
        generation = joined.generation;
        assert.equal(joined.assignment.length, 3);
        await readAll(1, 30);
        assert.deepEqual(
          [...seen].sort(),
          Array.from({ length: 30 }, (_, i) => `h${i}`).sort(),
          "every record, from every leader",
        );
      });

      await t.step(
        "its commit through a third broker is the group's offsets everywhere",
        async () => {
          const committed = await json(`${someBroker(cluster, 2).url}/v1/groups/${GROUP}/offsets`, {
            method: "POST",
            json: {
              memberId,
              generation,
              offsets: [0, 1, 2].map((p) => ({ topic: TOPIC, partition: p, offset: 10 })),
            },
          });
          assert.equal(committed.status, 200, committed.text);
          for (const b of cluster.brokers.values()) {
            const offsets = await json(`${b.url}/v1/groups/${GROUP}/offsets`);
            assert.equal(offsets.status, 200, offsets.text);
            assert.deepEqual(
              offsets.body.offsets.map((o: Json) => [o.partition, o.offset, o.lag]),
              [[0, 10, 0], [1, 10, 0], [2, 10, 0]],
            );
          }
        },
      );

      await t.step(
        "the coordinator SIGKILLed: the new one has the member and its offsets",
        async () => {
          // The answer names the broker that served it when it was forwarded; else b1 did.
          const described = await fetch(`${b1.url}/v1/groups/${GROUP}`);
          await described.body?.cancel();
          const served = Number(described.headers.get("sluice-forwarded-to") ?? b1.nodeId);
          assert.ok(cluster.brokers.has(served), "served by a live broker");
          await cluster.killBroker(served, "SIGKILL");
          // Partitions the dead broker led are gone with it (one replica each): produce to the
          // others, and read on from the commits.
          const survivors = await waitFor("the group served again", async () => {
            const res = await json(`${someBroker(cluster, 0).url}/v1/groups/${GROUP}/offsets`);
            return res.status === 200 ? res.body.offsets : undefined;
          }, 60_000);
          assert.deepEqual(
            survivors.map((o: Json) => [o.partition, o.offset]),
            [[0, 10], [1, 10], [2, 10]],
          );
          const desc = await waitFor("the restored member", async () => {
            const res = await json(`${someBroker(cluster, 1).url}/v1/groups/${GROUP}`);
            return res.status === 200 && res.body.members.some((m: Json) => m.memberId === memberId)
              ? res.body
              : undefined;
          }, 60_000);
          assert.equal(desc.protocol, "consumer");
        },
      );
    } finally {
      await cluster.stop();
    }
  },
});
