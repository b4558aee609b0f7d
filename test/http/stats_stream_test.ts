/**
 * GET /v1/stream/stats (src/http/routes/stats_stream.ts) against the real server with --auth: the
 * event's format and live rates while records are produced, refusal without a valid token, each
 * token seeing only the topics and groups it has rights on, `?group=`, the bad-query answer, the
 * client limit (--max-streams) and the cleanup when clients go away: no stream and no timer left,
 * as /metrics counts them.
 */
import assert from "node:assert/strict";
import { tempDir } from "../test_util.ts";
import { expectError, json, type RunningServer, SseReader, startServer } from "./server_harness.ts";

const SECRETS = {
  admin: "stats-admin-secret-00000001",
  reader: "stats-reader-secret-0000002",
  nothing: "stats-nothing-secret-000003",
} as const;
type Who = keyof typeof SECRETS;

const TOKENS = {
  tokens: [
    {
      name: "admin",
      token: SECRETS.admin,
      allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
        group: "*",
        ops: ["read", "admin"],
      }],
    },
    {
      name: "reader",
      token: SECRETS.reader,
      allow: [{ topic: "orders*", ops: ["read"] }, { group: "billing-*", ops: ["read"] }],
    },
    { name: "nothing", token: SECRETS.nothing, allow: [] },
  ],
};

/** Generous: a loaded 2-core machine; every wait is for an event the server must send. */
const EVENT_WAIT_MS = 15_000;
const STREAMS_MAX = 3;

interface StatsEvent {
  t: number;
  intervalMs: number;
  topics: {
    topic: string;
    produceRecords: number | null;
    produceBytes: number | null;
    fetchRecords: number | null;
    fetchBytes: number | null;
  }[];
  topicsOmitted: number;
  groups: {
    group: string;
    lagSum: number;
    partitions: { topic: string; partition: number; offset: number; lag: number | null }[];
  }[];
  groupsOmitted: number;
  groupPartitionsOmitted: number;
}

function auth(who: Who): Record<string, string> {
  return { authorization: `Bearer ${SECRETS[who]}` };
}

async function call(server: RunningServer, method: string, path: string, body?: unknown) {
  const res = await json(`${server.url}${path}`, {
    method,
    headers: auth("admin"),
    ...(body === undefined ? {} : { json: body }),
  });
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

/** Opens a stats stream as `who`; the response must be an event stream. */
async function open(server: RunningServer, who: Who, query = "intervalMs=200") {
  const res = await fetch(`${server.url}/v1/stream/stats?${query}`, { headers: auth(who) });
  assert.equal(res.status, 200, `stream as ${who}: ${res.status}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  return new SseReader(res.body!);
}

async function nextStats(reader: SseReader): Promise<StatsEvent> {
  const e = await reader.next(EVENT_WAIT_MS);
  assert.equal(e.event, "stats");
  assert.match(e.id ?? "", /^\d+$/);
  assert.ok(!e.data.includes("\n"), "one line of JSON");
  return JSON.parse(e.data);
}

/** Reads events until `accept` returns true for one (or the wait ends: the test fails). */
async function until(
  reader: SseReader,
  what: string,
  accept: (e: StatsEvent) => boolean,
): Promise<StatsEvent> {
  const deadline = Date.now() + EVENT_WAIT_MS * 2;
  let last: StatsEvent | undefined;
  while (Date.now() < deadline) {
    last = await nextStats(reader);
    if (accept(last)) return last;
  }
  throw new Error(`no event with ${what}; the last: ${JSON.stringify(last)}`);
}

async function gauge(server: RunningServer, name: string): Promise<number> {
  const res = await json(`${server.url}/metrics`, { headers: auth("admin") });
  const m = res.text.match(new RegExp(`^${name} (\\d+)$`, "m"));
  assert.ok(m, `no ${name} on /metrics`);
  return Number(m[1]);
}

Deno.test({
  name: "stats stream: live rates and lag, filtered by the token, bounded, cleaned up",
  sanitizeResources: false,
  fn: async (t) => {
    const dir = tempDir("sluice-stats-stream-");
    Deno.writeTextFileSync(`${dir}/tokens.json`, JSON.stringify(TOKENS));
    const server = await startServer({
      args: ["--auth", `${dir}/tokens.json`, "--max-streams", String(STREAMS_MAX)],
    });
    const readers: SseReader[] = [];
    try {
      await call(server, "POST", "/v1/topics", { name: "orders", partitions: 2 });
      await call(server, "POST", "/v1/topics", { name: "secret", partitions: 1 });
      await call(server, "POST", "/v1/topics/orders/records", {
        records: Array.from({ length: 10 }, (_, i) => ({ value: `o${i}`, partition: i % 2 })),
      });
      await call(server, "POST", "/v1/topics/secret/records", {
        records: [{ value: "s0" }, { value: "s1" }],
      });
      await call(server, "PUT", "/v1/groups/billing-1/offsets", {
        offsets: [
          { topic: "orders", partition: 0, offset: 2 },
          { topic: "orders", partition: 1, offset: 5 },
          { topic: "secret", partition: 0, offset: 1 },
        ],
      });
      await call(server, "PUT", "/v1/groups/audit/offsets", {
        offsets: [{ topic: "orders", partition: 0, offset: 0 }],
      });

      await t.step("without a valid token: 401, no stream", async () => {
        const none = await json(`${server.url}/v1/stream/stats`);
        expectError(none, 401, "UNAUTHENTICATED", "no token");
        const wrong = await json(`${server.url}/v1/stream/stats`, {
          headers: { authorization: "Bearer not-a-known-secret-000000" },
        });
        expectError(wrong, 401, "UNAUTHENTICATED", "unknown token");
        assert.equal(await gauge(server, "sluice_http_stats_streams_open"), 0);
      });

      await t.step("the OpenAPI document has it, as text/event-stream", async () => {
        const doc = await json(`${server.url}/openapi.json`);
        const op = doc.body.paths["/v1/stream/stats"]?.get;
        assert.ok(op, "documented");
        assert.ok(op.responses["200"].content["text/event-stream"]);
        assert.deepEqual(op.parameters.map((p: { name: string }) => p.name).sort(), [
          "group",
          "intervalMs",
        ]);
      });

      await t.step("a bad intervalMs is 400 INVALID_REQUEST", async () => {
        const bad = await json(`${server.url}/v1/stream/stats?intervalMs=soon`, {
          headers: auth("admin"),
        });
        assert.equal(bad.status, 400, bad.text);
      });

      await t.step(
        "admin: every topic and group; rates appear while records are produced",
        async () => {
          const reader = await open(server, "admin");
          readers.push(reader);
          const first = await nextStats(reader);
          assert.equal(first.intervalMs, 0);
          assert.deepEqual(first.topics.map((x) => x.topic).sort(), ["orders", "secret"]);
          for (const x of first.topics) assert.equal(x.produceRecords, null, "no rate yet");
          assert.deepEqual(first.groups.map((g) => g.group), ["audit", "billing-1"]);
          const billing = first.groups[1];
          assert.deepEqual(billing.partitions, [
            { topic: "orders", partition: 0, offset: 2, lag: 3 },
            { topic: "orders", partition: 1, offset: 5, lag: 0 },
            { topic: "secret", partition: 0, offset: 1, lag: 1 },
          ]);
          assert.equal(billing.lagSum, 4);
          assert.equal(first.topicsOmitted, 0);
          assert.equal(first.groupsOmitted, 0);
          assert.equal(first.groupPartitionsOmitted, 0);

          // Produce until an event shows orders' produce rate (a rate is the difference of two
          // readings, so the records must land between two events).
          let producing = true;
          const producer = (async () => {
            while (producing) {
              await call(server, "POST", "/v1/topics/orders/records", {
                records: Array.from({ length: 20 }, (_, i) => ({ value: `p${i}`, partition: 0 })),
              });
              await new Promise((r) => setTimeout(r, 50));
            }
          })();
          try {
            const live = await until(
              reader,
              "orders' produce rate above 0",
              (e) => (e.topics.find((x) => x.topic === "orders")?.produceRecords ?? 0) > 0,
            );
            const orders = live.topics.find((x) => x.topic === "orders")!;
            assert.ok(orders.produceBytes! > orders.produceRecords!, "bytes/s > records/s");
            assert.ok(live.intervalMs > 0);
            assert.equal(live.topics.find((x) => x.topic === "secret")?.produceRecords, 0);
            // The lag grows with orders' partition 0.
            const lag = live.groups.find((g) => g.group === "billing-1")!.partitions[0].lag!;
            assert.ok(lag > 3, `lag ${lag}`);
          } finally {
            producing = false;
            await producer;
          }
          // Fetching shows as the fetch rate.
          await call(server, "GET", "/v1/topics/orders/partitions/1/records?offset=0");
          await until(
            reader,
            "orders' fetch rate above 0",
            (e) => (e.topics.find((x) => x.topic === "orders")?.fetchRecords ?? 0) > 0,
          );
        },
      );

      await t.step(
        "a token sees only the topics, groups and partitions it has rights on",
        async () => {
          const reader = await open(server, "reader");
          readers.push(reader);
          const e = await nextStats(reader);
          assert.deepEqual(e.topics.map((x) => x.topic), ["orders"]);
          assert.deepEqual(e.groups.map((g) => g.group), ["billing-1"]);
          assert.deepEqual(
            e.groups[0].partitions.map((p) => `${p.topic}-${p.partition}`),
            ["orders-0", "orders-1"],
            "not secret's partition",
          );
          assert.doesNotMatch(JSON.stringify(e), /secret/);

          const nothing = await open(server, "nothing");
          const empty = await nextStats(nothing);
          assert.deepEqual(empty.topics, []);
          assert.deepEqual(empty.groups, []);
          await nothing.close();
        },
      );

      await t.step("?group= limits the lag to one group", async () => {
        // The previous step's third stream is closed by its client; the server frees its slot
        // when it sees the close, which may be after this step begins (3 at most at once).
        await waitForGauge(server, "sluice_http_stats_streams_open", 2);
        const reader = await open(server, "admin", "intervalMs=200&group=audit");
        const e = await nextStats(reader);
        assert.deepEqual(e.groups.map((g) => g.group), ["audit"]);
        assert.equal(e.topics.length, 2, "the topics' rates are still there");
        await reader.close();
      });

      await t.step(`past --max-streams ${STREAMS_MAX}, 429 TOO_MANY_REQUESTS`, async () => {
        // Two open (admin, reader); one more fits, then the limit.
        await waitForGauge(server, "sluice_http_stats_streams_open", 2);
        readers.push(await open(server, "admin"));
        const refused = await json(`${server.url}/v1/stream/stats`, { headers: auth("admin") });
        expectError(refused, 429, "TOO_MANY_REQUESTS", "a fourth stream");
        assert.equal(await gauge(server, "sluice_http_stats_streams_open"), STREAMS_MAX);
      });

      await t.step("clients that go away leave no stream and no timer", async () => {
        assert.ok(await gauge(server, "sluice_http_stats_stream_timers") <= STREAMS_MAX);
        for (const r of readers.splice(0)) await r.close();
        await waitForGauge(server, "sluice_http_stats_streams_open", 0);
        await waitForGauge(server, "sluice_http_stats_stream_timers", 0);
        await waitForGauge(server, "sluice_open_streams", 0);
        // And the limit is free again.
        const again = await open(server, "reader");
        await nextStats(again);
        await again.close();
        await waitForGauge(server, "sluice_http_stats_stream_timers", 0);
      });
    } finally {
      for (const r of readers) await r.close();
      const code = await server.stop();
      assert.equal(code, 0, server.stderr());
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});

/** Polls /metrics until gauge `name` is `want` (fails after a generous deadline). */
async function waitForGauge(server: RunningServer, name: string, want: number): Promise<void> {
  const deadline = Date.now() + EVENT_WAIT_MS;
  let got = -1;
  while (Date.now() < deadline) {
    got = await gauge(server, name);
    if (got === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${name} stayed ${got}, not ${want}`);
}
