/**
 * One consumer group, two kinds of member: Kafka's Java client with `group.protocol=consumer`
 * (KIP-848) and a member of Sluice's HTTP API, on a real server. What the README promises:
 *
 * - They share the group's partitions: the HTTP member's partitions move to the Java consumer at
 *   once when it joins, and back when it leaves; GET /v1/groups/{group} shows both kinds.
 * - Commits by either are the group's offsets: the Java consumer starts where the HTTP member
 *   committed, and the HTTP member where the Java consumer committed.
 * - Between rebalances each record goes to one member: every record once, none lost.
 *
 * Skipped, loudly, when the Java client is not installed; a failure in CI.
 */
import assert from "node:assert/strict";
import { createTopic, json } from "../http/server_harness.ts";
import { withKafkaServer } from "./kafka_harness.ts";
import {
  announceJavaSkip,
  consumeArgs,
  javaClientAvailable,
  javaProduce,
  startJavaClient,
} from "./java_harness.ts";

announceJavaSkip();

// deno-lint-ignore no-explicit-any
type Any = any;

const SERVER_ARGS = [
  "--consumer-group-session-timeout-ms",
  "6000",
  "--consumer-group-heartbeat-interval-ms",
  "300",
];

/** What the client owns now, from its assigned / revoked / lost events (incremental). */
function ownedBy(events: readonly { event: string; partitions?: number[] }[]): Set<number> {
  const owned = new Set<number>();
  for (const e of events) {
    if (e.event === "assigned") { for (const p of e.partitions ?? []) owned.add(p); }
    if (e.event === "revoked" || e.event === "lost") {
      for (const p of e.partitions ?? []) owned.delete(p);
    }
  }
  return owned;
}

interface HttpMember {
  id: string;
  generation: number;
  assignment: { topic: string; partition: number }[];
}

Deno.test({
  name: "java client and an HTTP member share one consumer-protocol group",
  ignore: !javaClientAvailable,
  fn: async () => {
    await withKafkaServer({ args: SERVER_ARGS }, async (server) => {
      const topic = "mixed";
      const group = "mixed-group";
      const base = `${server.httpUrl}/v1/groups/${group}`;
      await createTopic(server.server, topic, 4);
      const delivered: string[] = [];

      /** Heartbeat: the member's generation and assignment now. */
      const heartbeat = async (m: HttpMember) => {
        const res = await json(`${base}/members/${m.id}/heartbeat`, { method: "POST" });
        assert.equal(res.status, 200, res.text);
        m.generation = res.body.generation;
        m.assignment = res.body.assignment;
      };
      /** Fetches (raw batches) and commits until a fetch brings nothing. */
      const drain = async (m: HttpMember) => {
        for (let round = 0; round < 1000; round++) {
          const res = await fetch(
            `${base}/members/${m.id}/records?maxBytes=65536&maxWaitMs=0`,
            { headers: { accept: "application/json" } },
          );
          assert.equal(res.status, 200);
          const body = await res.json();
          const records = body.records as { partition: number; offset: number }[];
          if (records.length === 0) return;
          const next = new Map<number, number>();
          for (const r of records) {
            delivered.push(`${r.partition}/${r.offset}`);
            next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
          }
          await heartbeat(m);
          const commit = await json(`${base}/offsets`, {
            method: "POST",
            json: {
              memberId: m.id,
              generation: m.generation,
              offsets: [...next].map(([partition, offset]) => ({ topic, partition, offset })),
            },
          });
          assert.equal(commit.status, 200, commit.text);
        }
        throw new Error("drain: too many rounds");
      };

      // Phase 1: the HTTP member alone owns the 4 partitions and consumes the first 100.
      const first = await javaProduce(server.bootstrap, topic, 100);
      const joined = await json(`${base}/members`, {
        method: "POST",
        json: { topics: [topic], autoOffsetReset: "earliest", sessionTimeoutMs: 30_000 },
      });
      assert.equal(joined.status, 200, joined.text);
      const http: HttpMember = {
        id: joined.body.memberId,
        generation: joined.body.generation,
        assignment: joined.body.assignment,
      };
      assert.equal(http.assignment.length, 4);
      await drain(http);
      assert.equal(delivered.length, 100);

      // Phase 2: a Java consumer joins: two partitions each, at once for the HTTP member.
      const java = await startJavaClient(
        "java-mixed",
        consumeArgs(server.bootstrap, { topic, group, protocol: "consumer", clientId: "java" }),
      );
      try {
        await java.waitFor(
          "the Java consumer to get 2 partitions",
          () => ownedBy(java.events).size === 2,
          60_000,
        );
        await heartbeat(http);
        assert.equal(http.assignment.length, 2, "the HTTP member keeps 2 of 4");
        const described = await json(base);
        assert.equal(described.status, 200);
        assert.equal(described.body.protocol, "consumer");
        assert.deepEqual(
          described.body.members.map((m: Any) => m.kind).sort(),
          ["http", "kafka"],
        );
        const owned = described.body.members.flatMap((m: Any) =>
          m.assignment.map((tp: Any) => tp.partition)
        );
        assert.deepEqual(owned.sort(), [0, 1, 2, 3], "each partition owned once");

        // 200 more: each goes to one of the two, the Java consumer's start where the HTTP
        // member committed (it sees none of the first 100).
        const second = await javaProduce(server.bootstrap, topic, 200);
        const javaParts = new Set(
          [0, 1, 2, 3].filter((p) => !http.assignment.some((tp) => tp.partition === p)),
        );
        const wantJava = second.filter((r) => javaParts.has(r.p)).map((r) => `${r.p}/${r.o}`);
        await java.waitFor(
          "the Java consumer to read its partitions' share of the 200",
          () => wantJava.every((k) => java.records.some((r) => `${r.p}/${r.o}` === k)),
          60_000,
        );
        await drain(http);
        for (const r of java.records) delivered.push(`${r.p}/${r.o}`);
        const all = [...first, ...second].map((r) => `${r.p}/${r.o}`);
        assert.equal(delivered.length, new Set(delivered).size, "no record twice");
        assert.deepEqual([...delivered].sort(), [...all].sort(), "every record once");

        // Phase 3: the HTTP member leaves; the Java consumer takes all 4 and reads from the HTTP
        // member's commits on.
        const left = await fetch(`${base}/members/${http.id}`, { method: "DELETE" });
        assert.equal(left.status, 204);
        await java.waitFor(
          "the Java consumer to own all 4 partitions",
          () => ownedBy(java.events).size === 4,
          60_000,
        );
        const third = await javaProduce(server.bootstrap, topic, 100);
        const wantAll = third.map((r) => `${r.p}/${r.o}`);
        await java.waitFor(
          "the Java consumer to read all of the last 100",
          () => wantAll.every((k) => java.records.some((r) => `${r.p}/${r.o}` === k)),
          60_000,
        );
        const javaKeys = java.records.map((r) => `${r.p}/${r.o}`);
        assert.equal(javaKeys.length, new Set(javaKeys).size, "the Java consumer: no duplicate");
        const httpOnly = first.map((r) => `${r.p}/${r.o}`);
        assert.ok(
          httpOnly.every((k) => !javaKeys.includes(k)),
          "the Java consumer never re-reads what the HTTP member committed",
        );
        assert.equal(await java.stop(), 0, "clean stop");
      } finally {
        await java.kill();
      }
    });
  },
});
