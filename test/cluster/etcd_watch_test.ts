/**
 * src/cluster/etcd_watch.ts against a real etcd 3.4 (etcd_server.ts): a watch on a prefix sees its
 * puts and deletes in revision order and nothing outside it; it resumes without losing or
 * repeating a change after a cut connection (tcp_proxy.ts) and after etcd restarts; a lease's
 * expiry is a delete; revisions compacted away lead to onReset; close() leaves nothing running
 * (Deno's sanitizers check every step). And the line splitter of the stream, alone.
 */
import assert from "node:assert/strict";
import {
  EtcdClient,
  type EtcdWatch,
  type EtcdWatchEvent,
  type EtcdWatchOptions,
} from "../../src/cluster/etcd.ts";
import { LineBuffer } from "../../src/cluster/etcd_watch.ts";
import { isSluiceError } from "../../src/errors.ts";
import { waitFor } from "../kafka_protocol/kafka_harness.ts";
import { randomBytes } from "../test_util.ts";
import { announceEtcdSkip, etcdAvailable, startEtcd } from "./etcd_server.ts";
import { startTcpProxy } from "./tcp_proxy.ts";

announceEtcdSkip();

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a watch delivered, reset to and reported. */
class Recorder {
  readonly batches: { events: EtcdWatchEvent[]; revision: number }[] = [];
  readonly resets: number[] = [];
  readonly errors: { err: Error; retrying: boolean }[] = [];

  get events(): EtcdWatchEvent[] {
    return this.batches.flatMap((b) => b.events);
  }

  /** Each change as "put /k@rev" or "delete /k@rev". */
  seen(): string[] {
    return this.events.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}`);
  }

  options(fromRevision: number, more: Partial<EtcdWatchOptions> = {}): EtcdWatchOptions {
    return {
      fromRevision,
      onEvents: (events, revision) => {
        this.batches.push({ events, revision });
      },
      onError: (err, retrying) => {
        this.errors.push({ err, retrying });
      },
      retryMinMs: 20,
      retryMaxMs: 200,
      ...more,
    };
  }

  describe(): string {
    return JSON.stringify({
      seen: this.seen(),
      resets: this.resets,
      errors: this.errors.map((e) => `${e.retrying ? "retrying" : "stopped"}: ${e.err.message}`),
    });
  }
}

/** Deletes `key` in a txn, for the revision of the delete. */
async function deleteAt(client: EtcdClient, key: string): Promise<number> {
  return (await client.txn([], [{ op: "delete", key }])).revision;
}

/** etcd's compaction (POST /v3/kv/compaction), waiting until it has been applied. */
async function compact(endpoint: string, revision: number): Promise<void> {
  const r = await fetch(`${endpoint}/v3/kv/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision: String(revision), physical: true }),
  });
  assert.equal(r.status, 200, await r.text());
}

Deno.test("LineBuffer: lines across chunks, several in one, the last without its newline", () => {
  const lines = new LineBuffer(64);
  const all: string[] = [];
  const feed = (text: string | undefined) => {
    const chunk = text === undefined ? undefined : encoder.encode(text);
    for (let l = lines.next(chunk); l !== undefined; l = lines.next(undefined)) {
      all.push(decoder.decode(l));
    }
  };
  feed('{"a":1}\n{"b"');
  feed(":2}");
  feed("\n\n{");
  feed('"c":3}\n{"d":4}\n{"e"');
  feed(undefined);
  assert.deepEqual(all, ['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}']);
  assert.equal(decoder.decode(lines.rest()), '{"e"');
  assert.equal(lines.rest(), undefined);
  // An incomplete line over the cap is refused, however it arrives.
  const small = new LineBuffer(10);
  assert.equal(small.next(encoder.encode("12345")), undefined);
  assert.throws(() => small.next(encoder.encode("678901")), /ETCD_WATCH_LINE_BYTES_MAX \(10/);
  assert.equal(new TextDecoder().decode(new LineBuffer(10).next(encoder.encode("1234\n"))), "1234");
});

Deno.test("etcd watch: fromRevision below 1 is INVALID_REQUEST", () => {
  const client = new EtcdClient("http://127.0.0.1:1");
  assert.throws(
    () => client.watch("/a/", { fromRevision: 0, onEvents() {} }),
    (err) => isSluiceError(err, "INVALID_REQUEST"),
  );
});

Deno.test({
  name: "etcd watch against a real etcd",
  ignore: !etcdAvailable,
  async fn(t) {
    const etcd = await startEtcd();
    const client = new EtcdClient(etcd.endpoint);
    const port = Number(new URL(etcd.endpoint).port);
    /** Runs `body` with a watch and closes it whatever happens. */
    const watching = async (
      watch: EtcdWatch,
      body: (watch: EtcdWatch) => Promise<void>,
    ): Promise<void> => {
      try {
        await body(watch);
      } finally {
        await watch.close();
      }
    };
    try {
      await t.step(
        "puts and deletes under the prefix, in revision order, nothing else",
        async () => {
          const from = (await client.revision()) + 1;
          const rec = new Recorder();
          const big = randomBytes(300_000, 7); // one answer longer than a chunk of the stream
          const expected: string[] = [];
          await watching(client.watch("/w/", rec.options(from)), async (watch) => {
            expected.push(`put /w/a@${await client.put("/w/a", "one")}`);
            await client.put("/x", "outside");
            await client.put("/w", "outside");
            await client.put("/w0", "outside: the prefix's range end");
            expected.push(`put /w/b@${await client.put("/w/b", big)}`);
            expected.push(`delete /w/a@${await deleteAt(client, "/w/a")}`);
            const both = await client.txn([], [
              { op: "put", key: "/w/c", value: "three" },
              { op: "put", key: "/w/d", value: "four" },
            ]);
            expected.push(`put /w/c@${both.revision}`, `put /w/d@${both.revision}`);
            await waitFor(() => rec.describe(), () => rec.events.length >= 5);
            assert.deepEqual(rec.seen(), expected);
            const [a, b, deleted] = rec.events;
            assert.equal(decoder.decode(a.kv.value), "one");
            assert.equal(a.kv.version, 1);
            assert.deepEqual(b.kv.value, big);
            assert.deepEqual(deleted.kv.value, new Uint8Array(0));
            const last = rec.batches[rec.batches.length - 1];
            assert.deepEqual(
              last.events.map((e) => e.kv.key),
              ["/w/c", "/w/d"],
              "one txn, one call",
            );
            for (const batch of rec.batches) {
              assert.equal(batch.revision, batch.events[batch.events.length - 1].kv.modRevision);
            }
            assert.equal(watch.revision, both.revision);
            assert.deepEqual(rec.errors, []);
          });
          // A watch from the same revision, started after the fact, replays the same history.
          const again = new Recorder();
          await watching(client.watch("/w/", again.options(from)), async () => {
            await waitFor(() => again.describe(), () => again.events.length >= 5);
            assert.deepEqual(again.seen(), expected);
          });
        },
      );

      await t.step("a lease's expiry is a delete event", async () => {
        const lease = await client.grantLease(2);
        const from = (await client.revision()) + 1;
        const rec = new Recorder();
        await watching(client.watch("/l/", rec.options(from)), async () => {
          await client.put("/l/broker", "b", { lease: lease.id });
          await waitFor(() => rec.describe(), () => rec.events.length >= 2, 20_000);
          assert.deepEqual(rec.events.map((e) => [e.type, e.kv.key]), [
            ["put", "/l/broker"],
            ["delete", "/l/broker"],
          ]);
          assert.equal(rec.events[0].kv.lease, lease.id);
        });
      });

      await t.step(
        "a cut connection: the changes made meanwhile arrive once, in order",
        async () => {
          const proxy = startTcpProxy(port);
          const rec = new Recorder();
          const from = (await client.revision()) + 1;
          try {
            const viaProxy = new EtcdClient(proxy.endpoint);
            await watching(viaProxy.watch("/p/", rec.options(from)), async () => {
              const expected = [`put /p/1@${await client.put("/p/1", "1")}`];
              await waitFor(() => rec.describe(), () => rec.events.length >= 1);
              proxy.cut();
              await waitFor(() => rec.describe(), () => rec.errors.length >= 1);
              expected.push(`put /p/2@${await client.put("/p/2", "2")}`);
              expected.push(`delete /p/1@${await deleteAt(client, "/p/1")}`);
              proxy.heal();
              await waitFor(() => rec.describe(), () => rec.events.length >= 3);
              expected.push(`put /p/3@${await client.put("/p/3", "3")}`);
              await waitFor(() => rec.describe(), () => rec.events.length >= 4);
              assert.deepEqual(rec.seen(), expected);
              assert.ok(rec.errors.every((e) => e.retrying), rec.describe());
              assert.ok(rec.errors.every((e) => isSluiceError(e.err, "CLUSTER_UNAVAILABLE")));
              assert.ok(proxy.passed >= 2, "the watch connected again");
            });
          } finally {
            await proxy.close();
          }
        },
      );

      await t.step("compacted while cut: onReset at the current revision, then on", async () => {
        const proxy = startTcpProxy(port);
        const rec = new Recorder();
        const from = (await client.revision()) + 1;
        let reread: string[] = [];
        const onReset = async (revision: number) => {
          reread = (await client.range("/q/", { revision })).kvs.map((kv) => kv.key);
          rec.resets.push(revision);
        };
        try {
          const viaProxy = new EtcdClient(proxy.endpoint);
          await watching(viaProxy.watch("/q/", rec.options(from, { onReset })), async (watch) => {
            const first = `put /q/1@${await client.put("/q/1", "1")}`;
            await waitFor(() => rec.describe(), () => rec.events.length >= 1);
            proxy.cut();
            await waitFor(() => rec.describe(), () => rec.errors.length >= 1);
            await client.put("/q/2", "2");
            const gone = await deleteAt(client, "/q/1");
            await compact(etcd.endpoint, gone);
            proxy.heal();
            await waitFor(() => rec.describe(), () => rec.resets.length >= 1);
            assert.ok(rec.resets[0] >= gone, rec.describe());
            assert.deepEqual(reread, ["/q/2"], "the re-read holds what the events missed");
            const after = `put /q/3@${await client.put("/q/3", "3")}`;
            await waitFor(() => rec.describe(), () => rec.events.length >= 2);
            assert.deepEqual(rec.seen(), [first, after]);
            assert.deepEqual(rec.resets.length, 1);
            assert.equal(watch.revision, rec.events[1].kv.modRevision);
          });
        } finally {
          await proxy.close();
        }
      });

      await t.step("from a compacted revision without onReset: stopped, and said so", async () => {
        const rec = new Recorder();
        await watching(client.watch("/q/", rec.options(1)), async () => {
          await waitFor(() => rec.describe(), () => rec.errors.length >= 1);
          assert.equal(rec.errors.length, 1);
          assert.equal(rec.errors[0].retrying, false);
          assert.match(rec.errors[0].err.message, /revision 1 was compacted.*no onReset/);
          assert.deepEqual(rec.events, []);
        });
      });

      await t.step("etcd restarted: the watch resumes, nothing lost or repeated", async () => {
        const rec = new Recorder();
        const from = (await client.revision()) + 1;
        await watching(client.watch("/r/", rec.options(from)), async () => {
          const expected = [`put /r/1@${await client.put("/r/1", "1")}`];
          await waitFor(() => rec.describe(), () => rec.events.length >= 1);
          await etcd.restart();
          expected.push(`put /r/2@${await client.put("/r/2", "2")}`);
          expected.push(`delete /r/1@${await deleteAt(client, "/r/1")}`);
          await waitFor(() => rec.describe(), () => rec.events.length >= 3, 20_000);
          assert.deepEqual(rec.seen(), expected);
          assert.ok(rec.errors.length >= 1, "the lost stream was reported");
          assert.ok(rec.errors.every((e) => e.retrying), rec.describe());
        });
      });

      await t.step(
        "an etcd that does not answer: retried after the timeout, then current",
        async () => {
          const impatient = new EtcdClient(etcd.endpoint, { timeoutMs: 300 });
          const rec = new Recorder();
          const from = (await client.revision()) + 1;
          await etcd.pause();
          await watching(impatient.watch("/s/", rec.options(from)), async () => {
            try {
              await waitFor(() => rec.describe(), () => rec.errors.length >= 1);
              assert.match(rec.errors[0].err.message, /no watch set up within 300 ms/);
            } finally {
              etcd.resume();
            }
            const expected = [`put /s/1@${await client.put("/s/1", "1")}`];
            await waitFor(() => rec.describe(), () => rec.events.length >= 1);
            assert.deepEqual(rec.seen(), expected);
          });
        },
      );

      await t.step("a handler that throws stops the watch, said so", async () => {
        const from = (await client.revision()) + 1;
        const rec = new Recorder();
        const options = rec.options(from, {
          onEvents: () => {
            throw new Error("handler bug");
          },
        });
        await watching(client.watch("/h/", options), async (watch) => {
          await client.put("/h/1", "1");
          await waitFor(() => rec.describe(), () => rec.errors.length >= 1);
          assert.deepEqual(rec.errors.map((e) => [e.err.message, e.retrying]), [
            ["handler bug", false],
          ]);
          assert.equal(watch.revision, from - 1, "the failed batch does not count as delivered");
        });
      });
    } finally {
      await etcd.stop();
    }
  },
});

Deno.test("etcd watch: close() during the wait between attempts ends it at once", async () => {
  // A port just freed: nothing listens there.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const rec = new Recorder();
  const watch = new EtcdClient(`http://127.0.0.1:${port}`).watch(
    "/a/",
    rec.options(1, { retryMinMs: 60_000 }),
  );
  await waitFor(() => rec.describe(), () => rec.errors.length >= 1);
  assert.ok(isSluiceError(rec.errors[0].err, "CLUSTER_UNAVAILABLE"));
  assert.equal(rec.errors[0].retrying, true);
  const started = Date.now();
  await watch.close();
  assert.ok(Date.now() - started < 5_000, "close() cut the 60 s pause short");
  await watch.close(); // twice is fine
});
