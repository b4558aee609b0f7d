/**
 * HTTP consumer groups (API.md "Consumer groups") against the real server process: join,
 * heartbeat, member fetch, commit, leave and describe with their shapes; every record once across
 * a group of 3 that commits after processing, and once per group for two groups; a replacement
 * resuming from the last commit of a member that died; long polls woken by data and by a
 * rebalance; 404 and 409 answers; and offsets, membership and generation rules after a restart.
 *
 * Session timeouts run on the server's real clock, so waits for an eviction poll with a generous
 * deadline instead of sleeping for a fixed time.
 */
import assert from "node:assert/strict";
import { tempDir } from "../test_util.ts";
import {
  createTopic,
  expectError,
  expectStatus,
  highWatermarks,
  type Json,
  json,
  type JsonResponse,
  produce,
  type RunningServer,
  sleep,
  startServer,
} from "./server_harness.ts";

interface TopicPartition {
  topic: string;
  partition: number;
}

interface Consumed extends TopicPartition {
  offset: number;
  value: string;
}

const groupUrl = (server: RunningServer, group: string) =>
  `${server.url}/v1/groups/${encodeURIComponent(group)}`;
const memberUrl = (server: RunningServer, group: string, member: string) =>
  `${groupUrl(server, group)}/members/${encodeURIComponent(member)}`;
const name = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

async function join(server: RunningServer, group: string, body: Json): Promise<Json> {
  const res = await json(`${groupUrl(server, group)}/members`, { method: "POST", json: body });
  expectStatus(res, 200, `join ${group}`);
  return res.body;
}

function heartbeat(server: RunningServer, group: string, member: string): Promise<JsonResponse> {
  return json(`${memberUrl(server, group, member)}/heartbeat`, { method: "POST" });
}

async function assignmentOf(server: RunningServer, group: string, member: string) {
  const res = await heartbeat(server, group, member);
  expectStatus(res, 200, `heartbeat ${member}`);
  return res.body as { generation: number; assignment: TopicPartition[]; rebalance: boolean };
}

async function memberFetch(
  server: RunningServer,
  group: string,
  member: string,
  query: Record<string, number> = {},
): Promise<Json> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  const res = await json(`${memberUrl(server, group, member)}/records?${qs}`);
  expectStatus(res, 200, `member fetch ${group}/${member}?${qs}`);
  return res.body;
}

function commit(
  server: RunningServer,
  group: string,
  memberId: string,
  generation: number,
  offsets: (TopicPartition & { offset: number })[],
): Promise<JsonResponse> {
  return json(`${groupUrl(server, group)}/offsets`, {
    method: "POST",
    json: { memberId, generation, offsets },
  });
}

async function groupOffsets(server: RunningServer, group: string): Promise<Json[]> {
  const res = await json(`${groupUrl(server, group)}/offsets`);
  expectStatus(res, 200, `offsets of ${group}`);
  return res.body.offsets;
}

async function describe(server: RunningServer, group: string): Promise<Json> {
  const res = await json(groupUrl(server, group));
  expectStatus(res, 200, `describe ${group}`);
  return res.body;
}

/** Per partition, the offset after the last record processed: what a consumer commits. */
function nextOffsets(records: readonly Consumed[]) {
  const next = new Map<string, TopicPartition & { offset: number }>();
  for (const r of records) {
    const offset = Math.max(next.get(name(r))?.offset ?? 0, r.offset + 1);
    next.set(name(r), { topic: r.topic, partition: r.partition, offset });
  }
  return [...next.values()];
}

/**
 * Every member in turn fetches, processes and commits what it got (with the generation the fetch
 * answered), until a whole round brings nothing. Returns every record delivered.
 */
async function consumeAll(
  server: RunningServer,
  group: string,
  members: readonly string[],
  maxBytes: number,
): Promise<Consumed[]> {
  const out: Consumed[] = [];
  for (let round = 0; round < 1_000; round++) {
    let got = 0;
    for (const m of members) {
      const body = await memberFetch(server, group, m, { maxBytes });
      const records = body.records as Consumed[];
      got += records.length;
      out.push(...records);
      if (records.length > 0) {
        const res = await commit(server, group, m, body.generation, nextOffsets(records));
        expectStatus(res, 200, `commit by ${m}`);
      }
    }
    if (got === 0) return out;
  }
  throw new Error("consumeAll: too many rounds");
}

/** Asserts each record of `topic` up to its high watermarks was delivered exactly once. */
async function assertExactlyOnce(
  server: RunningServer,
  topic: string,
  records: readonly Consumed[],
  what: string,
) {
  const seen = new Map<string, number>();
  for (const r of records) {
    assert.equal(r.topic, topic, what);
    const k = `${r.partition}@${r.offset}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  assert.deepEqual([...seen].filter(([, n]) => n > 1), [], `${what}: delivered twice`);
  const hws = await highWatermarks(server, topic);
  const missing: string[] = [];
  hws.forEach((hw, p) => {
    for (let o = 0; o < hw; o++) if (!seen.has(`${p}@${o}`)) missing.push(`${p}@${o}`);
  });
  assert.deepEqual(missing.slice(0, 20), [], `${what}: ${missing.length} never delivered`);
  assert.equal(records.length, hws.reduce((a, b) => a + b, 0), what);
}

/** Polls `check` every 100 ms until it is true; fails after `deadlineMs` (a generous bound). */
async function eventually(what: string, deadlineMs: number, check: () => Promise<boolean>) {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > deadlineMs) assert.fail(`${what}: not within ${deadlineMs} ms`);
    await sleep(100);
  }
}

Deno.test("HTTP consumer groups", async (t) => {
  const dataDir = tempDir("sluice-http-groups-");
  let server = await startServer({ dataDir });
  try {
    await createTopic(server, "orders", 6);
    const produced = await produce(server, "orders", {
      records: Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 41}`, value: `order-${i}` })),
    });
    assert.equal(produced.length, 300);

    await t.step("join, heartbeat, fetch, commit, offsets, describe and leave", async () => {
      await createTopic(server, "shapes", 2);
      await produce(server, "shapes", {
        records: [
          { key: "a", value: "v0", partition: 0, headers: [{ key: "h", value: "x" }] },
          { key: null, value: "v1", partition: 1 },
        ],
      });
      const joined = await join(server, "shapes-g", {
        topics: ["shapes"],
        autoOffsetReset: "earliest",
      });
      assert.deepEqual(Object.keys(joined).sort(), ["assignment", "generation", "memberId"]);
      assert.equal(typeof joined.memberId, "string");
      assert.ok(joined.memberId.length > 0);
      assert.equal(joined.generation, 1);
      assert.deepEqual(joined.assignment, [
        { topic: "shapes", partition: 0 },
        { topic: "shapes", partition: 1 },
      ]);
      const id = joined.memberId as string;

      const hb = await heartbeat(server, "shapes-g", id);
      expectStatus(hb, 200, "heartbeat");
      assert.deepEqual(hb.body, { generation: 1, assignment: joined.assignment, rebalance: false });

      const fetched = await memberFetch(server, "shapes-g", id);
      assert.equal(fetched.generation, 1);
      assert.equal(fetched.rebalance, false);
      const records = (fetched.records as Json[]).sort((x, y) => x.partition - y.partition);
      assert.equal(records.length, 2);
      for (const r of records) {
        assert.deepEqual(
          Object.keys(r).sort(),
          ["headers", "key", "offset", "partition", "timestamp", "topic", "value"],
        );
        assert.equal(typeof r.timestamp, "number");
      }
      assert.deepEqual(
        records.map((r) => [r.topic, r.partition, r.offset, r.key, r.value]),
        [["shapes", 0, 0, "a", "v0"], ["shapes", 1, 0, null, "v1"]],
      );
      assert.deepEqual(records[0].headers, [{ key: "h", value: "x" }]);

      const committed = await commit(server, "shapes-g", id, 1, [
        { topic: "shapes", partition: 0, offset: 1 },
      ]);
      expectStatus(committed, 200, "commit");
      assert.deepEqual(committed.body, { offsets: [{ topic: "shapes", partition: 0, offset: 1 }] });
      // lag = high watermark - committed; a partition never committed is not listed.
      await produce(server, "shapes", { records: [{ value: "v2", partition: 0 }] });
      assert.deepEqual(await groupOffsets(server, "shapes-g"), [
        { topic: "shapes", partition: 0, offset: 1, lag: 1 },
      ]);

      const d = await describe(server, "shapes-g");
      assert.equal(d.group, "shapes-g");
      assert.equal(d.generation, 1);
      assert.equal(d.state, "Stable");
      assert.equal(d.members.length, 1);
      assert.equal(d.members[0].memberId, id);
      assert.deepEqual(d.members[0].assignment, joined.assignment);

      const left = await json(memberUrl(server, "shapes-g", id), { method: "DELETE" });
      expectStatus(left, 204, "leave");
      assert.equal(left.text, "");
      const after = await describe(server, "shapes-g");
      assert.equal(after.state, "Empty");
      assert.equal(after.generation, 2, "a leave is a new generation");
      assert.deepEqual(after.members, []);
      assert.equal((await groupOffsets(server, "shapes-g"))[0].offset, 1, "commits stay");
    });

    const billing: string[] = [];
    await t.step("3 members on 6 partitions get 2 each and consume every record once", async () => {
      for (let i = 0; i < 3; i++) {
        const body = { topics: ["orders"], autoOffsetReset: "earliest" };
        billing.push((await join(server, "billing", body)).memberId);
      }
      const assigned = await Promise.all(billing.map((m) => assignmentOf(server, "billing", m)));
      assert.deepEqual(assigned.map((a) => a.generation), [3, 3, 3]);
      assert.deepEqual(assigned.map((a) => a.assignment.length), [2, 2, 2]);
      assert.deepEqual(
        assigned.flatMap((a) => a.assignment.map(name)).sort(),
        Array.from({ length: 6 }, (_, p) => `orders/${p}`),
      );
      // 300 records in one produce request: one ~50-record batch per partition, so every fetch
      // returns whole batches of one or two partitions.
      const got = await consumeAll(server, "billing", billing, 2048);
      await assertExactlyOnce(server, "orders", got, "billing");
      assert.deepEqual(
        got.map((r) => r.value).sort(),
        Array.from({ length: 300 }, (_, i) => `order-${i}`).sort(),
      );
      const offsets = await groupOffsets(server, "billing");
      assert.deepEqual(offsets.map((o) => o.offset), await highWatermarks(server, "orders"));
      assert.ok(offsets.every((o) => o.lag === 0), JSON.stringify(offsets));
    });

    await t.step("one of the 3 leaves: the other two cover all 6 partitions", async () => {
      const left = await json(memberUrl(server, "billing", billing[2]), { method: "DELETE" });
      expectStatus(left, 204, "leave");
      const assigned = await Promise.all(
        billing.slice(0, 2).map((m) => assignmentOf(server, "billing", m)),
      );
      assert.deepEqual(assigned.map((a) => [a.generation, a.rebalance]), [[4, true], [4, true]]);
      assert.deepEqual(
        assigned.flatMap((a) => a.assignment.map(name)).sort(),
        Array.from({ length: 6 }, (_, p) => `orders/${p}`),
      );
      billing.pop();
    });

    await t.step("a second group consumes every record too", async () => {
      const audit: string[] = [];
      for (let i = 0; i < 2; i++) {
        const body = { topics: ["orders"], assignor: "roundrobin", autoOffsetReset: "earliest" };
        audit.push((await join(server, "audit", body)).memberId);
      }
      await assertExactlyOnce(
        server,
        "orders",
        await consumeAll(server, "audit", audit, 4096),
        "audit",
      );
      for (const m of audit) {
        expectStatus(await json(memberUrl(server, "audit", m), { method: "DELETE" }), 204, "leave");
      }
    });

    await t.step(
      "a member killed before committing: its replacement resumes from the last commit",
      async () => {
        await createTopic(server, "jobs", 2);
        for (let p = 0; p < 2; p++) {
          // One record per request: one batch each, so small fetches stop between records.
          for (let i = 0; i < 12; i++) {
            await produce(server, "jobs", { records: [{ value: `job-${p}-${i}`, partition: p }] });
          }
        }
        const killed = await join(server, "workers", {
          topics: ["jobs"],
          autoOffsetReset: "earliest",
          sessionTimeoutMs: 2_000,
        });
        const first = (await memberFetch(server, "workers", killed.memberId, { maxBytes: 300 }))
          .records as Consumed[];
        assert.deepEqual([...new Set(first.map((r) => r.partition))].sort(), [0, 1]);
        expectStatus(
          await commit(server, "workers", killed.memberId, killed.generation, nextOffsets(first)),
          200,
          "commit of the processed part",
        );
        const committed = await groupOffsets(server, "workers");
        // Reads more, then dies without committing it (no leave, no more heartbeats).
        const unacked = (await memberFetch(server, "workers", killed.memberId, { maxBytes: 300 }))
          .records as Consumed[];
        assert.ok(unacked.length > 0);

        await eventually("the killed member is evicted", 10_000, async () => {
          return (await describe(server, "workers")).members.length === 0;
        });
        expectError(
          await heartbeat(server, "workers", killed.memberId),
          404,
          "MEMBER_NOT_FOUND",
          "evicted member",
        );
        // latest: without the commit it would start at the end and get nothing.
        const replacement = await join(server, "workers", { topics: ["jobs"] });
        const resumed = await consumeAll(server, "workers", [replacement.memberId], 300);
        for (const o of committed) {
          const offsets = resumed.filter((r) => r.partition === o.partition).map((r) => r.offset);
          assert.deepEqual(
            offsets,
            Array.from({ length: 12 - o.offset }, (_, i) => o.offset + i),
            `partition ${o.partition}: from the commit at ${o.offset}, nothing skipped`,
          );
        }
        const again = new Set(resumed.map((r) => `${r.partition}@${r.offset}`));
        for (const r of unacked) {
          assert.ok(again.has(`${r.partition}@${r.offset}`), "unacknowledged work comes again");
        }
      },
    );

    await t.step("a member long poll returns when data arrives and at a rebalance", async () => {
      await createTopic(server, "poll", 3);
      const m = await join(server, "pollers", { topics: ["poll"] });
      for (const p of [2, 0]) {
        const t0 = performance.now();
        const waiting = memberFetch(server, "pollers", m.memberId, { maxWaitMs: 20_000 });
        await sleep(200);
        await produce(server, "poll", { records: [{ value: `to-${p}`, partition: p }] });
        const body = await waiting;
        const elapsed = performance.now() - t0;
        assert.ok(elapsed < 10_000, `woken after ${elapsed.toFixed(0)} ms, not at maxWaitMs`);
        assert.deepEqual(body.records.map((r: Json) => [r.partition, r.value]), [[p, `to-${p}`]]);
      }
      const t0 = performance.now();
      const waiting = memberFetch(server, "pollers", m.memberId, { maxWaitMs: 20_000 });
      await sleep(200);
      const other = await join(server, "pollers", { topics: ["poll"] });
      const body = await waiting;
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 10_000, `woken after ${elapsed.toFixed(0)} ms by the rebalance`);
      assert.equal(body.rebalance, true);
      assert.equal(body.generation, other.generation);
      assert.deepEqual(body.records, []);
    });

    await t.step(
      "404 for unknown groups and members, 409 for stale or foreign commits",
      async () => {
        const hb = (g: string, m: string) => heartbeat(server, g, m);
        expectError(await hb("no-such-group", "m"), 404, "GROUP_NOT_FOUND", "heartbeat");
        expectError(await json(groupUrl(server, "no-such-group")), 404, "GROUP_NOT_FOUND", "get");
        expectError(
          await json(`${groupUrl(server, "no-such-group")}/offsets`),
          404,
          "GROUP_NOT_FOUND",
          "offsets",
        );
        expectError(
          await commit(server, "no-such-group", "m", 1, [{
            topic: "orders",
            partition: 0,
            offset: 0,
          }]),
          404,
          "GROUP_NOT_FOUND",
          "commit",
        );
        expectError(await hb("billing", "no-such-member"), 404, "MEMBER_NOT_FOUND", "heartbeat");
        expectError(
          await json(`${memberUrl(server, "billing", "no-such-member")}/records`),
          404,
          "MEMBER_NOT_FOUND",
          "member fetch",
        );
        expectError(
          await json(memberUrl(server, "billing", "no-such-member"), { method: "DELETE" }),
          404,
          "MEMBER_NOT_FOUND",
          "leave",
        );

        const [a, b] = billing;
        const mine = await assignmentOf(server, "billing", a);
        const theirs = await assignmentOf(server, "billing", b);
        const before = await groupOffsets(server, "billing");
        expectError(
          await commit(server, "billing", a, mine.generation - 1, [{
            ...mine.assignment[0],
            offset: 0,
          }]),
          409,
          "ILLEGAL_GENERATION",
          "stale generation",
        );
        expectError(
          await commit(server, "billing", a, mine.generation, [
            { ...mine.assignment[0], offset: 0 },
            { ...theirs.assignment[0], offset: 0 },
          ]),
          409,
          "ILLEGAL_GENERATION",
          "a partition of another member",
        );
        assert.deepEqual(
          await groupOffsets(server, "billing"),
          before,
          "a refused commit writes nothing",
        );
      },
    );

    await t.step("offsets, members and generation rules survive a restart", async () => {
      await createTopic(server, "ledger", 4);
      for (let i = 0; i < 40; i++) {
        await produce(server, "ledger", { records: [{ value: `entry-${i}`, partition: i % 4 }] });
      }
      const a = await join(server, "restart", {
        topics: ["ledger"],
        autoOffsetReset: "earliest",
        sessionTimeoutMs: 60_000,
      });
      const b = await join(server, "restart", {
        topics: ["ledger"],
        autoOffsetReset: "earliest",
        sessionTimeoutMs: 3_000,
      });
      const generation = b.generation as number;
      for (const m of [a.memberId, b.memberId]) {
        const mine = await assignmentOf(server, "restart", m);
        assert.equal(mine.assignment.length, 2);
        const body = await memberFetch(server, "restart", m);
        assert.equal(body.records.length, 20, "all 10 records of each of its 2 partitions");
        // Processed the first 4 of each partition when the server stops.
        const offsets = mine.assignment.map((tp) => ({ ...tp, offset: 4 }));
        expectStatus(await commit(server, "restart", m, generation, offsets), 200, "commit");
      }
      const offsetsBefore = await groupOffsets(server, "restart");
      const billingBefore = await groupOffsets(server, "billing");
      const describeBefore = await describe(server, "restart");
      const aAssignment = (await assignmentOf(server, "restart", a.memberId)).assignment;
      await assignmentOf(server, "restart", b.memberId); // b's last sign of life

      assert.equal(await server.stop(), 0, `exit code; stderr:\n${server.stderr()}`);
      server = await startServer({ dataDir });

      const describeAfter = await describe(server, "restart");
      assert.deepEqual(describeAfter, describeBefore, "same generation, member ids, assignment");
      assert.deepEqual(await groupOffsets(server, "restart"), offsetsBefore);
      assert.deepEqual(await groupOffsets(server, "billing"), billingBefore);

      const hb = await assignmentOf(server, "restart", a.memberId);
      assert.deepEqual(hb, { generation, assignment: aAssignment, rebalance: false });
      expectError(
        await commit(server, "restart", a.memberId, generation - 1, [{
          ...aAssignment[0],
          offset: 0,
        }]),
        409,
        "ILLEGAL_GENERATION",
        "a stale generation after the restart",
      );
      // Fetches resume from the commits.
      const resumed = (await memberFetch(server, "restart", a.memberId)).records as Consumed[];
      for (const tp of aAssignment) {
        const offsets = resumed.filter((r) => name(r) === name(tp)).map((r) => r.offset);
        assert.deepEqual(offsets, [4, 5, 6, 7, 8, 9], `${name(tp)} resumes at its commit`);
      }

      // b does not heartbeat again: 3 s after the restart it is evicted and a owns all 4.
      await eventually("b is evicted after its session timeout", 15_000, async () => {
        expectStatus(await heartbeat(server, "restart", a.memberId), 200, "a stays alive");
        return (await describe(server, "restart")).members.length === 1;
      });
      expectError(
        await heartbeat(server, "restart", b.memberId),
        404,
        "MEMBER_NOT_FOUND",
        "b after its session timeout",
      );
      const now = await assignmentOf(server, "restart", a.memberId);
      assert.equal(now.generation, generation + 1);
      assert.equal(now.assignment.length, 4);
      expectStatus(
        await commit(server, "restart", a.memberId, now.generation, [{
          ...aAssignment[0],
          offset: 0,
        }]),
        200,
        "the current generation commits",
      );
    });

    await t.step(
      "GET /v1/groups lists every group as GET /v1/groups/{group} shows it",
      async () => {
        const res = await json(`${server.url}/v1/groups`);
        expectStatus(res, 200, "list groups");
        assert.equal(res.body.next, null);
        const listed = res.body.groups as Json[];
        const ids = listed.map((g) => g.group);
        assert.deepEqual(ids, [...ids].sort(), "sorted by id");
        for (const g of ["billing", "restart", "shapes-g"]) assert.ok(ids.includes(g), g);
        for (const g of listed) {
          const d = await describe(server, g.group);
          assert.deepEqual(g, {
            group: d.group,
            state: d.state,
            protocol: d.protocol,
            protocolType: "consumer",
            members: d.members.length,
          });
        }
        assert.equal(listed.find((g) => g.group === "restart").members, 1);
        const after = await json(`${server.url}/v1/groups?after=${encodeURIComponent(ids[0])}`);
        expectStatus(after, 200, "list groups after the first");
        assert.deepEqual(after.body.groups, listed.slice(1));
      },
    );
  } finally {
    await server.stop().catch(() => -1);
  }
});
