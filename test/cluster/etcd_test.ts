/**
 * src/cluster/etcd.ts against a real etcd 3.4 (etcd_server.ts): keys and values round trip as
 * bytes, prefix ranges in key order, compare-and-swap on a key's mod revision (exactly one of two
 * racing writers wins), leases that keep keys alive, end them when revoked and when they expire,
 * and CLUSTER_UNAVAILABLE, fast, for an etcd that is not there or does not answer.
 */
import assert from "node:assert/strict";
import { absent, EtcdClient, type EtcdCompare, prefixEnd } from "../../src/cluster/etcd.ts";
import { ETCD_TXN_OPS_MAX } from "../../src/limits.ts";
import { isSluiceError } from "../../src/errors.ts";
import { announceEtcdSkip, etcdAvailable, startEtcd } from "./etcd_server.ts";

announceEtcdSkip();

const decoder = new TextDecoder();

Deno.test("prefixEnd: the first key past every key with the prefix", () => {
  assert.deepEqual([...prefixEnd("a/")], [0x61, 0x30]);
  assert.deepEqual([...prefixEnd("a\u00ff")], [0x61, 0xc3, 0xc0]);
  assert.deepEqual([...prefixEnd("")], [0]);
});

Deno.test({
  name: "etcd client against a real etcd",
  ignore: !etcdAvailable,
  async fn(t) {
    const etcd = await startEtcd();
    const client = new EtcdClient(etcd.endpoint);
    try {
      await t.step(
        "put and get: bytes and text round trip; a missing key is undefined",
        async () => {
          assert.equal(await client.get("/sluice/none"), undefined);
          const bytes = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
          const r1 = await client.put("/sluice/bytes", bytes);
          const r2 = await client.put("/sluice/text", "héllo ☃");
          assert.ok(r2 > r1, `revisions grow: ${r1} then ${r2}`);
          const got = await client.get("/sluice/bytes");
          assert.deepEqual(got?.value, bytes);
          assert.equal(got?.modRevision, r1);
          assert.equal(got?.version, 1);
          assert.equal(decoder.decode((await client.get("/sluice/text"))!.value), "héllo ☃");
        },
      );

      await t.step("range: the keys under a prefix, in key order, nothing else", async () => {
        for (const k of ["/t/b", "/t/a", "/t/c", "/u/a", "/t"]) await client.put(k, k);
        const { kvs, more, revision } = await client.range("/t/");
        assert.deepEqual(kvs.map((kv) => kv.key), ["/t/a", "/t/b", "/t/c"]);
        assert.equal(more, false);
        assert.ok(revision >= kvs[2].modRevision);
        assert.deepEqual((await client.range("/none/")).kvs, []);
      });

      await t.step("delete: gone, and said so", async () => {
        assert.equal(await client.delete("/t/b"), true);
        assert.equal(await client.delete("/t/b"), false);
        assert.equal(await client.get("/t/b"), undefined);
      });

      await t.step("compare-and-swap on the mod revision", async () => {
        const created = await client.putIfRevision("/cas", "v1", 0);
        assert.equal(created.ok, true, "absent: revision 0 matches");
        const again = await client.putIfRevision("/cas", "v1 again", 0);
        assert.equal(again.ok, false, "exists now: revision 0 no longer matches");
        assert.equal(decoder.decode(again.current!.value), "v1");
        const rev = again.current!.modRevision;
        assert.equal((await client.putIfRevision("/cas", "v2", rev)).ok, true);
        assert.equal((await client.putIfRevision("/cas", "v3", rev)).ok, false, "stale revision");
        // Two writers racing from the same revision: exactly one wins.
        const now = (await client.get("/cas"))!;
        const results = await Promise.all(
          ["a", "b", "c", "d"].map((w) => client.putIfRevision("/cas", w, now.modRevision)),
        );
        assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
        const winner = ["a", "b", "c", "d"][results.findIndex((r) => r.ok)];
        assert.equal(decoder.decode((await client.get("/cas"))!.value), winner);
      });

      await t.step("txn: create-if-absent of several keys at once, all or none", async () => {
        const create = (config: string) =>
          client.txn(
            [absent("/topics/orders")],
            [
              { op: "put", key: "/topics/orders", value: config },
              { op: "put", key: "/partitions/orders/0", value: `${config} p0` },
              { op: "put", key: "/partitions/orders/1", value: `${config} p1` },
            ],
            [
              { op: "range", key: "/topics/orders" },
              { op: "range", key: "/partitions/orders/", prefix: true },
            ],
          );
        const first = await create("first");
        assert.equal(first.succeeded, true);
        assert.deepEqual(first.responses, [{ op: "put" }, { op: "put" }, { op: "put" }]);
        for (const key of ["/topics/orders", "/partitions/orders/0", "/partitions/orders/1"]) {
          const kv = (await client.get(key))!;
          assert.equal(kv.modRevision, first.revision, `${key}: written at the txn's revision`);
          assert.equal(kv.createRevision, first.revision);
        }
        // The compare fails now: nothing is written, and the failure branch's ranges answer.
        const second = await create("second");
        assert.equal(second.succeeded, false);
        assert.equal(second.revision, first.revision, "a failed compare writes nothing");
        if (second.succeeded) return;
        const [topic, partitions] = second.responses;
        assert.equal(topic.op, "range");
        assert.deepEqual(topic.kvs.map((kv) => decoder.decode(kv.value)), ["first"]);
        assert.deepEqual(
          partitions.kvs.map((kv) => [kv.key, decoder.decode(kv.value)]),
          [["/partitions/orders/0", "first p0"], ["/partitions/orders/1", "first p1"]],
        );
        assert.equal(partitions.more, false);
        assert.equal(decoder.decode((await client.get("/partitions/orders/1"))!.value), "first p1");
      });

      await t.step("txn: of racing registrations exactly one wins, whole", async () => {
        const writers = ["a", "b", "c", "d"];
        const results = await Promise.all(writers.map((w) =>
          client.txn([absent("/brokers/7")], [
            { op: "put", key: "/brokers/7", value: w },
            { op: "put", key: "/brokers/7/endpoint", value: `${w}:9092` },
          ])
        ));
        assert.equal(results.filter((r) => r.succeeded).length, 1, JSON.stringify(results));
        const winner = writers[results.findIndex((r) => r.succeeded)];
        assert.equal(decoder.decode((await client.get("/brokers/7"))!.value), winner);
        assert.equal(
          decoder.decode((await client.get("/brokers/7/endpoint"))!.value),
          `${winner}:9092`,
          "the losers' second key was not written either",
        );
        for (const r of results.filter((r) => !r.succeeded)) {
          assert.deepEqual(r.responses, [], "no failure branch: no answers");
        }
      });

      await t.step("txn: compares on each target and result; delete of a prefix", async () => {
        const rev = await client.put("/cmp/k", "m");
        await client.put("/cmp/k", "n"); // version 2
        const holds = async (compare: EtcdCompare) => (await client.txn([compare], [])).succeeded;
        const cases: [EtcdCompare, boolean][] = [
          [{ key: "/cmp/k", target: "version", cmp: "=", value: 2 }, true],
          [{ key: "/cmp/k", target: "version", cmp: ">", value: 2 }, false],
          [{ key: "/cmp/k", target: "create", cmp: "=", value: rev }, true],
          [{ key: "/cmp/k", target: "mod", cmp: ">", value: rev }, true],
          [{ key: "/cmp/k", target: "mod", cmp: "<", value: rev }, false],
          [{ key: "/cmp/k", target: "value", cmp: "=", value: "n" }, true],
          [{ key: "/cmp/k", target: "value", cmp: "!=", value: "n" }, false],
          [{ key: "/cmp/k", target: "value", cmp: "<", value: new Uint8Array([0x6f]) }, true],
          [absent("/cmp/k"), false],
          [absent("/cmp/none"), true],
          [{ key: "/cmp/none", target: "version", cmp: "=", value: 0 }, true],
        ];
        for (const [compare, expected] of cases) {
          assert.equal(await holds(compare), expected, JSON.stringify(compare));
        }
        await client.put("/cmp/l", "x");
        await client.put("/cmpx", "outside");
        const r = await client.txn(
          [{ key: "/cmp/k", target: "value", cmp: "=", value: "n" }],
          [
            { op: "range", key: "/cmp/", prefix: true },
            { op: "delete", key: "/cmp/", prefix: true },
            { op: "delete", key: "/cmp/none" },
            { op: "range", key: "/cmp/k" },
          ],
        );
        assert.equal(r.succeeded, true);
        if (!r.succeeded) return;
        assert.deepEqual(r.responses[0].kvs.map((kv) => kv.key), ["/cmp/k", "/cmp/l"]);
        assert.deepEqual(r.responses.slice(1), [
          { op: "delete", deleted: 2 },
          { op: "delete", deleted: 0 },
          { op: "range", kvs: [], more: false },
        ]);
        assert.deepEqual((await client.range("/cmp")).kvs.map((kv) => kv.key), ["/cmpx"]);
      });

      await t.step("txn: over ETCD_TXN_OPS_MAX operations is INVALID_REQUEST", async () => {
        const ops = Array.from(
          { length: ETCD_TXN_OPS_MAX + 1 },
          (_, i) => ({ op: "put", key: `/many/${i}`, value: "" }) as const,
        );
        await assert.rejects(
          () => client.txn([], ops),
          (err) =>
            isSluiceError(err, "INVALID_REQUEST") &&
            err.message.includes(`at most ${ETCD_TXN_OPS_MAX}`),
        );
        assert.deepEqual((await client.range("/many/")).kvs, [], "nothing was sent");
        const most = await client.txn([], ops.slice(0, ETCD_TXN_OPS_MAX));
        assert.equal(most.succeeded, true, "ETCD_TXN_OPS_MAX itself is etcd's default limit");
      });

      await t.step("a lease keeps its keys; revoking it deletes them", async () => {
        const lease = await client.grantLease(10);
        assert.ok(lease.ttl >= 10, `granted ${lease.ttl} s`);
        await client.put("/brokers/1", "broker one", { lease: lease.id });
        assert.equal((await client.get("/brokers/1"))?.lease, lease.id);
        assert.ok(await client.keepAlive(lease.id) > 0);
        await client.revokeLease(lease.id);
        assert.equal(await client.get("/brokers/1"), undefined);
        assert.equal(await client.keepAlive(lease.id), 0, "a revoked lease cannot be renewed");
      });

      await t.step("a lease not kept alive expires and takes its keys with it", async () => {
        const lease = await client.grantLease(2);
        await client.put("/brokers/2", "broker two", { lease: lease.id });
        const cas = await client.putIfRevision("/brokers/3", "three", 0, { lease: lease.id });
        assert.equal(cas.ok, true);
        const deadline = Date.now() + 20_000;
        while (await client.get("/brokers/2") !== undefined) {
          assert.ok(Date.now() < deadline, "the key outlived its lease by 20 s");
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(await client.get("/brokers/3"), undefined);
        assert.equal(await client.keepAlive(lease.id), 0);
      });

      await t.step(
        "an etcd that does not answer: CLUSTER_UNAVAILABLE within the timeout",
        async () => {
          const impatient = new EtcdClient(etcd.endpoint, { timeoutMs: 300 });
          await etcd.pause();
          try {
            const started = Date.now();
            await assert.rejects(
              () => impatient.get("/sluice/text"),
              (err) =>
                isSluiceError(err, "CLUSTER_UNAVAILABLE") && /within 300 ms/.test(err.message),
            );
            assert.ok(Date.now() - started < 5_000);
          } finally {
            etcd.resume();
          }
          // Back: the same client works again.
          assert.equal(decoder.decode((await impatient.get("/sluice/text"))!.value), "héllo ☃");
        },
      );
    } finally {
      await etcd.stop();
    }
  },
});

Deno.test("etcd client: no etcd at the endpoint is CLUSTER_UNAVAILABLE, naming it", async () => {
  // A port just freed: nothing listens there.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const client = new EtcdClient(`http://127.0.0.1:${port}/`, { timeoutMs: 2_000 });
  await assert.rejects(
    () => client.put("/k", "v"),
    (err) =>
      isSluiceError(err, "CLUSTER_UNAVAILABLE") &&
      err.message.includes(`http://127.0.0.1:${port} kv/put`),
  );
});
