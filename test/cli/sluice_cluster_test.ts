/**
 * `sluice` against a real three-broker cluster (test/cluster/cluster_harness.ts, needs etcd):
 * `cluster info` shows the brokers; topics, produce and consume work through any broker (which
 * forwards to the leaders); `consume -g` and `group describe|delete` through any broker (forwarded
 * to the group's coordinator); and `group list` lists every broker's groups, since each broker
 * lists only the groups it coordinates.
 */
import assert from "node:assert/strict";
import { type Json, json } from "../http/server_harness.ts";
import { type ClusterBroker, TestCluster, waitFor } from "../cluster/cluster_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "../cluster/etcd_server.ts";
import { failsWith, ok, sluice } from "./sluice_harness.ts";

announceEtcdSkip();

/** Groups made at most while looking for two coordinators. */
const GROUPS_MAX = 20;

Deno.test({
  name: "sluice in a cluster: info, topics, produce, consume and groups through any broker",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await TestCluster.start({ brokers: 3 });
    try {
      const brokers = [...cluster.brokers.values()];
      const via = (i: number): string[] => ["--url", brokers[i % brokers.length].url];
      await waitFor("three brokers", async () => {
        const view = await json(`${brokers[0].url}/v1/cluster`);
        return view.body?.brokers?.length === 3 ? true : undefined;
      });

      await t.step("cluster info: three live brokers and a controller", async () => {
        const body = JSON.parse(ok(await sluice(["cluster", "info", "--json", ...via(0)]), ""));
        assert.equal(body.clusterMode, true);
        assert.deepEqual(body.brokers.map((b: Json) => b.nodeId).sort(), [1, 2, 3]);
        const out = ok(await sluice(["cluster", "info", ...via(1)]), "table");
        assert.match(out, /^CLUSTER\s+yes$/m);
        for (const b of brokers) {
          assert.ok(out.includes(b.url), `${b.url} in\n${out}`);
        }
      });

      const lines = Array.from({ length: 30 }, (_, i) => `r${i}`);
      await t.step(
        "topic create on one broker, produce on another, consume on a third",
        async () => {
          ok(await sluice(["topic", "create", "ct", "-p", "3", "-r", "1", ...via(0)]), "create");
          await waitFor("every partition led", async () => {
            const view = await json(`${brokers[0].url}/v1/cluster`);
            const topic = view.body?.topics?.find((x: Json) => x.name === "ct");
            return topic?.partitions?.every((p: Json) => p.leader > 0) ? true : undefined;
          });
          ok(await sluice(["produce", "ct", ...via(1)], { stdin: lines.join("\n") }), "produce");
          const out = ok(await sluice(["consume", "ct", "-e", ...via(2)]), "consume");
          assert.deepEqual(out.trimEnd().split("\n").sort(), [...lines].sort());
          const listed = ok(await sluice(["topic", "list", ...via(2)]), "list");
          assert.match(listed, /^ct\s+3$/m);
        },
      );

      const byBroker = async (b: ClusterBroker): Promise<string[]> => {
        const res = await json(`${b.url}/v1/groups`);
        assert.equal(res.status, 200, res.text);
        return res.body.groups.map((g: Json) => g.group);
      };

      await t.step("group list: the groups of every broker's coordinator", async () => {
        const made: string[] = [];
        for (let i = 0; i < GROUPS_MAX; i++) {
          const group = `cg-${i}`;
          // The first use of a coordinator may find it loading: retried until it serves.
          await waitFor(`${group} consumed`, async () => {
            const r = await sluice(["consume", "ct", "-g", group, "-e", "-q", ...via(i)]);
            return r.code === 0 && r.stdout.trimEnd().split("\n").length === 30 ? true : undefined;
          }, 60_000);
          made.push(group);
          const lists = await Promise.all(brokers.map(byBroker));
          if (made.length >= 3 && lists.filter((l) => l.length > 0).length >= 2) break;
        }
        const lists = await Promise.all(brokers.map(byBroker));
        assert.ok(
          lists.filter((l) => l.length > 0).length >= 2,
          `groups on at least two coordinators: ${JSON.stringify(lists)}`,
        );
        for (const i of [0, 1, 2]) {
          const body = JSON.parse(ok(await sluice(["group", "list", "--json", ...via(i)]), "list"));
          assert.deepEqual(body.groups.map((g: Json) => g.group), [...made].sort());
        }
      });

      await t.step("group describe and delete through any broker", async () => {
        const out = ok(await sluice(["group", "describe", "cg-0", ...via(1)]), "describe");
        assert.match(out, /^STATE\s+Empty$/m);
        const rows = out.match(/^ct\s+\d\s+\d+\s+\d+\s+0\s+-$/gm) ?? [];
        assert.ok(rows.length > 0, out);
        const d = JSON.parse(
          ok(await sluice(["group", "describe", "cg-0", "--json", ...via(2)]), ""),
        );
        assert.equal(d.offsets.length, rows.length, "a row per committed partition");
        assert.equal(d.offsets.reduce((n: number, o: Json) => n + o.offset, 0), 30, "all 30");
        ok(await sluice(["group", "delete", "cg-0", ...via(2)]), "delete");
        failsWith(
          await sluice(["group", "describe", "cg-0", ...via(0)]),
          "GROUP_NOT_FOUND",
          "cg-0",
          "deleted",
        );
        const body = JSON.parse(ok(await sluice(["group", "list", "--json", ...via(0)]), ""));
        assert.ok(!body.groups.some((g: Json) => g.group === "cg-0"));
      });
    } finally {
      await cluster.stop();
    }
  },
});
