/**
 * The HTTP front's forwarding (src/http/forwarding.ts) in process, without etcd: the app over a
 * stand-in broker whose cluster view says which broker leads each partition, and a stand-in leader
 * (a real HTTP server) that holds requests until told to answer. What is sent to the leader, the
 * in-flight bound, the timeout, an unreachable or dead leader, one hop at most. The same front on
 * a real cluster: test/http/cluster_http_test.ts.
 */
import assert from "node:assert/strict";
import type { Broker } from "../../src/broker/broker.ts";
import { SluiceError } from "../../src/errors.ts";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/logger.ts";
import { expectError, expectStatus } from "../http/server_harness.ts";
import { waitFor } from "./cluster_harness.ts";

Deno.test("HTTP forwarding: in-flight bound, timeout, unreachable or dead leader, headers sent", async (t) => {
  let release!: () => void;
  let released = new Promise<void>((r) => release = r);
  const seen: Headers[] = [];
  const leader = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(req.headers);
    if (new URL(req.url).searchParams.get("timestamp") === "0") await released;
    return Response.json({ offset: 7 });
  });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close(); // nothing listens there now
  const brokers = new Map<number, { value: { nodeId: number; httpUrl?: string } }>([
    [2, { value: { nodeId: 2, httpUrl: `http://127.0.0.1:${leader.addr.port}` } }],
    [3, { value: { nodeId: 3, httpUrl: `http://127.0.0.1:${closedPort}` } }],
  ]);
  const leaderOf = new Map([[0, 2], [1, 3], [2, 4]]); // partition 2: broker 4 is not live
  const stub = {
    cluster: {
      nodeId: 1,
      metadata: {
        brokers,
        partition: (_topic: string, p: number) => ({
          value: { leader: leaderOf.get(p), leaderEpoch: 1, replicas: [2], isr: [2] },
        }),
      },
    },
    groups: {},
    // What the broker says of a partition it does not lead.
    offsetFor: () => {
      throw new SluiceError("NOT_LEADER_OR_FOLLOWER", "this broker (1) does not lead it");
    },
  } as unknown as Broker;
  const app = createApp(stub, {
    logger: silentLogger,
    forwardsInFlightMax: 2,
    forwardTimeoutMs: 300,
  });
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await app.fetch(new Request(`http://sluice.test${path}`, { headers }));
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
  };
  const offsets = (p: number, ts: string) =>
    `/v1/topics/orders/partitions/${p}/offsets?timestamp=${ts}`;
  try {
    await t.step("what goes to the leader: the route's headers and the hop header", async () => {
      const res = await get(offsets(0, "latest"), {
        authorization: "Bearer secret",
        cookie: "session=1",
        "x-other": "y",
      });
      expectStatus(res, 200, "forwarded offsets");
      assert.equal(res.body.offset, 7);
      assert.equal(res.headers.get("sluice-forwarded-to"), "2");
      const sent = seen.at(-1)!;
      assert.equal(sent.get("authorization"), "Bearer secret");
      assert.equal(sent.get("sluice-forwarded"), "1");
      assert.equal(sent.get("cookie"), null);
      assert.equal(sent.get("x-other"), null);
    });

    await t.step("past HTTP_FORWARDS_IN_FLIGHT_MAX: 429 before anything is sent", async () => {
      const before = seen.length;
      const held = [get(offsets(0, "0")), get(offsets(0, "0"))];
      await waitFor(
        "two held requests at the leader",
        () => seen.length === before + 2 || undefined,
      );
      const refused = await get(offsets(0, "latest"));
      expectError(refused, 429, "TOO_MANY_REQUESTS", "a third forward");
      assert.equal(seen.length, before + 2, "the refused request never reached the leader");
      release();
      for (const res of await Promise.all(held)) expectStatus(res, 200, "a held forward");
      const again = await get(offsets(0, "latest"));
      expectStatus(again, 200, "a forward once the others are answered");
    });

    await t.step("a leader that does not answer in time: 504 REQUEST_TIMED_OUT", async () => {
      released = new Promise<void>((r) => release = r);
      const res = await get(offsets(0, "0"));
      expectError(res, 504, "REQUEST_TIMED_OUT", "a held forward past its timeout");
      assert.equal(res.body.error.details.leader, 2);
      release();
    });

    await t.step("a leader that cannot be reached, or is not live: 503, retriable", async () => {
      const unreachable = await get(offsets(1, "latest"));
      expectError(unreachable, 503, "LEADER_NOT_AVAILABLE", "a leader nothing listens for");
      const dead = await get(offsets(2, "latest"));
      expectError(dead, 503, "LEADER_NOT_AVAILABLE", "a leader that is not live");
      assert.match(dead.body.error.message, /broker 4\b.*is not live/);
    });

    await t.step("a request forwarded once is served here, not sent on", async () => {
      const before = seen.length;
      const res = await get(offsets(0, "latest"), { "sluice-forwarded": "2" });
      expectError(res, 421, "NOT_LEADER_OR_FOLLOWER", "a forwarded request at a non-leader");
      assert.equal(seen.length, before);
    });
  } finally {
    release();
    await leader.shutdown();
  }
});
