/**
 * A broker that finds a local topic its etcd does not know (here: started again under another
 * --etcd-prefix, as a misconfiguration would) stops serving it but keeps its data, moved to
 * orphaned/ for an operator: etcd's word alone never erases a log.
 */
import assert from "node:assert/strict";
import { json } from "../http/server_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "./etcd_server.ts";
import { TestCluster, waitFor } from "./cluster_harness.ts";

announceEtcdSkip();

Deno.test({
  name: "cluster: a local topic etcd does not know is set aside, not deleted",
  ignore: !etcdAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await TestCluster.start({ brokers: 1 });
    try {
      const b = cluster.brokers.get(1)!;
      const created = await json(`${b.url}/v1/topics`, {
        method: "POST",
        json: { name: "keepme", partitions: 1 },
      });
      assert.equal(created.status, 201, created.text);
      const produced = await waitFor("a produce", async () => {
        const res = await json(`${b.url}/v1/topics/keepme/records`, {
          method: "POST",
          json: { records: [{ value: "precious" }] },
        });
        return res.status === 200 ? res : undefined;
      });
      assert.equal(produced.body.offsets[0].offset, 0);
      assert.equal(await cluster.killBroker(1, "SIGTERM"), 0);

      const again = await cluster.startBroker(1, ["--etcd-prefix", "/elsewhere/"]);
      const listed = await json(`${again.url}/v1/topics`);
      assert.ok(!listed.body.topics.some((t: { name: string }) => t.name === "keepme"));
      const orphaned = `${cluster.dataDir(1)}/orphaned`;
      const kept = [...Deno.readDirSync(orphaned)].map((e) => e.name);
      assert.equal(kept.length, 1);
      assert.match(kept[0], /^keepme-\d+$/);
      const logs = [...Deno.readDirSync(`${orphaned}/${kept[0]}/0`)].filter((e) =>
        e.name.endsWith(".log")
      );
      const bytes = Deno.readFileSync(`${orphaned}/${kept[0]}/0/${logs[0].name}`);
      assert.ok(new TextDecoder().decode(bytes).includes("precious"), "the record is still there");
    } finally {
      await cluster.stop();
    }
  },
});
