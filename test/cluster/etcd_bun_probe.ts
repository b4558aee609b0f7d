/**
 * Run by etcd_bun_test.ts under Bun: the etcd client (put, get, txn, watch) against the etcd at
 * the endpoint given as the first argument. Prints one JSON line of what it saw, for the test
 * to assert; exits non-zero on any failure. Not a test file itself.
 */
import { absent, EtcdClient, type EtcdWatchEvent } from "../../src/cluster/etcd.ts";

const endpoint = process.argv[2];
const decoder = new TextDecoder();
const client = new EtcdClient(endpoint);

const from = (await client.revision()) + 1;
const events: EtcdWatchEvent[] = [];
const errors: string[] = [];
let arrived: () => void = () => {};
const enough = new Promise<void>((resolve) => (arrived = resolve));
const watch = client.watch("/bun/", {
  fromRevision: from,
  onEvents(batch) {
    events.push(...batch);
    if (events.length >= 4) arrived();
  },
  onError(err) {
    errors.push(err.message);
  },
});

const putRevision = await client.put("/bun/a", "from bun");
const got = await client.get("/bun/a");
const create = () =>
  client.txn([absent("/bun/topic")], [
    { op: "put", key: "/bun/topic", value: "t" },
    { op: "put", key: "/bun/topic/0", value: "p0" },
  ], [{ op: "range", key: "/bun/topic" }]);
const first = await create();
const second = await create();
const deleted = await client.txn([], [{ op: "delete", key: "/bun/a" }]);

const deadline = setTimeout(() => {
  console.error(`no 4 watch events within 10 s: ${JSON.stringify(events)} ${errors}`);
  process.exit(1);
}, 10_000);
await enough;
clearTimeout(deadline);
await watch.close();

console.log(JSON.stringify({
  runtime: "Bun" in globalThis ? "bun" : "not bun",
  putRevision,
  got: got === undefined ? null : decoder.decode(got.value),
  gotRevision: got?.modRevision,
  first: first.succeeded,
  second: second.succeeded,
  secondRange: second.succeeded ? null : second.responses[0].kvs.map((kv) => kv.key),
  deleteRevision: deleted.revision,
  events: events.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}`),
  errors,
}));
