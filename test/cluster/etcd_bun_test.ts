/**
 * The etcd client runs on Bun: etcd_bun_probe.ts, under Bun, puts, gets, creates keys in a txn
 * (twice: the second finds them), deletes one and watches it all against a real etcd, then prints
 * what it saw; this test asserts it against etcd's own answers. Bun is found as in
 * test/runtime/bun_test.ts (SLUICE_BUN, which .ci/run sets, PATH, or node_modules/.bin); the test
 * is skipped, saying so, without it.
 */
import assert from "node:assert/strict";
import { findBun } from "../test_util.ts";
import { EtcdClient } from "../../src/cluster/etcd.ts";
import { announceEtcdSkip, etcdAvailable, startEtcd } from "./etcd_server.ts";

const bun = findBun();
const ROOT = new URL("../../", import.meta.url).pathname;

announceEtcdSkip();
if (bun === undefined) {
  console.warn(
    "SKIPPED: the etcd client under Bun: no bun binary (set SLUICE_BUN, as .ci/run does, " +
      "or put bun on PATH)",
  );
}

Deno.test({
  name: "Bun: the etcd client puts, gets, runs a txn and watches against a real etcd",
  ignore: bun === undefined || !etcdAvailable,
  async fn() {
    const etcd = await startEtcd();
    try {
      const out = await new Deno.Command(bun!, {
        args: ["run", "test/cluster/etcd_bun_probe.ts", etcd.endpoint],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `bun exited ${out.code}: ${stderr}\n${etcd.logTail()}`);
      const seen = JSON.parse(new TextDecoder().decode(out.stdout));
      // What etcd itself holds now, read from Deno.
      const client = new EtcdClient(etcd.endpoint);
      const topic = (await client.get("/bun/topic"))!;
      const partition = (await client.get("/bun/topic/0"))!;
      assert.equal(await client.get("/bun/a"), undefined, "deleted under Bun");
      assert.equal(partition.modRevision, topic.modRevision, "one txn, one revision");
      assert.deepEqual(seen, {
        runtime: "bun",
        putRevision: seen.putRevision,
        got: "from bun",
        gotRevision: seen.putRevision,
        first: true,
        second: false,
        secondRange: ["/bun/topic"],
        deleteRevision: topic.modRevision + 1,
        events: [
          `put /bun/a@${seen.putRevision}`,
          `put /bun/topic@${topic.modRevision}`,
          `put /bun/topic/0@${topic.modRevision}`,
          `delete /bun/a@${topic.modRevision + 1}`,
        ],
        errors: [],
      });
      assert.equal(topic.modRevision, seen.putRevision + 1);
    } finally {
      await etcd.stop();
    }
  },
});
