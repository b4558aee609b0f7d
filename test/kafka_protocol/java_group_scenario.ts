/**
 * The group scenario the Java client tests run for each group protocol: three consumers in one
 * group on a 6-partition topic consume 600 records, each exactly once by the group (commits after
 * every poll and on revocation); then one member leaves (clean close), one is SIGKILLed while
 * records keep coming, and the last one takes over the crashed member's partitions (after its
 * session timeout) and consumes everything produced afterwards. At-least-once across the crash:
 * a record may be delivered twice only if the crashed member received it and had not printed a
 * commit covering it. Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import { createTopic } from "../http/server_harness.ts";
import type { KafkaServer } from "./kafka_harness.ts";
import {
  consumeArgs,
  type JavaClient,
  javaProduce,
  type JavaRecord,
  startJavaClient,
} from "./java_harness.ts";

const PARTITIONS = 6;
const FIRST = 600;
const SECOND = 600;

const id = (r: { p: number; o: number }) => `${r.p}/${r.o}`;

/** Consumed (p/o) -> how many times, over every client given. */
function deliveries(clients: JavaClient[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of clients) for (const r of c.records) out.set(id(r), (out.get(id(r)) ?? 0) + 1);
  return out;
}

/** The last committed offset per partition that the client printed. */
function lastCommits(client: JavaClient): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of client.events) {
    if (e.event !== "committed" || e.offsets === undefined) continue;
    for (const [p, o] of Object.entries(e.offsets)) out.set(Number(p), o);
  }
  return out;
}

export interface ScenarioOptions {
  protocol: "classic" | "consumer";
  topic: string;
  group: string;
  /** Classic only: the consumer's session.timeout.ms (the consumer protocol's is the server's). */
  sessionTimeoutMs?: number;
  assignor?: string;
}

export async function threeMembersLeaveAndCrash(
  server: KafkaServer,
  options: ScenarioOptions,
): Promise<void> {
  await createTopic(server.server, options.topic, PARTITIONS);
  // Half before the members start (the first member may read some alone), half once the three
  // share the partitions.
  const produced1 = await javaProduce(server.bootstrap, options.topic, FIRST / 2, 0);
  const start = (name: string) =>
    startJavaClient(
      name,
      consumeArgs(server.bootstrap, {
        topic: options.topic,
        group: options.group,
        protocol: options.protocol,
        clientId: name,
        sessionTimeoutMs: options.sessionTimeoutMs,
        assignor: options.assignor,
      }),
    );
  const [a, b, c] = await Promise.all([start("a"), start("b"), start("c")]);
  const all = [a, b, c];
  const context = () =>
    all.map((x) => `${x.name}: ${x.records.length} records, events ${JSON.stringify(x.events)}`)
      .join("\n") + `\nserver stderr:\n${server.stderrTail(30)}`;
  const owned = (x: JavaClient) => {
    const set = new Set<number>();
    for (const e of x.events) {
      if (e.event === "assigned") { for (const p of e.partitions ?? []) set.add(p); }
      if (e.event === "revoked" || e.event === "lost") {
        for (const p of e.partitions ?? []) set.delete(p);
      }
    }
    return set;
  };
  const shared = (members: JavaClient[]) => () =>
    members.every((x) => owned(x).size > 0) &&
    members.reduce((n, x) => n + owned(x).size, 0) === PARTITIONS;
  try {
    // Phase 1: the three share the six partitions; every record of the first 600 once.
    await c.waitFor("a, b and c to share the six partitions", shared(all), 90_000);
    produced1.push(...await javaProduce(server.bootstrap, options.topic, FIRST / 2, FIRST / 2));
    const want1 = new Set(produced1.map(id));
    await c.waitFor(
      "the group to consume the first 600 records",
      () => [...want1].every((k) => deliveries(all).has(k)),
      120_000,
    );
    const dup1 = [...deliveries(all)].filter(([, n]) => n > 1);
    assert.deepEqual(dup1, [], `phase 1: duplicates\n${context()}`);

    // Phase 2: a leaves cleanly; b and c share the six partitions.
    assert.equal(await a.stop(), 0, `a's clean stop\n${a.stderr().slice(-3000)}`);
    assert.ok(a.events.some((e) => e.event === "closed"), "a closed");
    await c.waitFor(
      "b and c to share the six partitions after a left",
      shared([b, c]),
      90_000,
    );

    // Phase 3: more records; b is SIGKILLed once it has consumed some of them.
    const producing = javaProduce(server.bootstrap, options.topic, SECOND, FIRST);
    const isNew = (r: JavaRecord) => Number(r.v?.slice(2)) >= FIRST;
    await b.waitFor("b to consume a record of the second batch", () => b.records.some(isNew));
    await b.kill();
    const produced2 = await producing;
    const want = new Set([...produced1, ...produced2].map(id));
    await c.waitFor(
      "c to take over and the group to consume all 1200 records",
      () => [...want].every((k) => deliveries(all).has(k)),
      120_000,
    );
    assert.equal(owned(c).size, PARTITIONS, `c owns every partition\n${context()}`);

    // No loss, nothing extra; a duplicate only from b's uncommitted tail.
    const got = deliveries(all);
    assert.deepEqual([...got.keys()].filter((k) => !want.has(k)), [], "only produced records");
    const bCommits = lastCommits(b);
    const bGot = new Set(b.records.map(id));
    for (const [k, n] of got) {
      if (n === 1) continue;
      const [p, o] = k.split("/").map(Number);
      assert.equal(n, 2, `${k} delivered ${n} times\n${context()}`);
      assert.ok(bGot.has(k), `${k} delivered twice but not to the crashed member\n${context()}`);
      const committed = bCommits.get(p) ?? -1;
      assert.ok(
        o >= committed,
        `${k} delivered twice though b had committed ${committed} on partition ${p}\n${context()}`,
      );
    }
    // Every record's key and value arrive as produced.
    const byId = new Map([...produced1, ...produced2].map((r) => [id(r), r]));
    for (const x of all) {
      for (const r of x.records) {
        assert.equal(r.k, byId.get(id(r))?.k, `key of ${id(r)}`);
        assert.equal(r.v, byId.get(id(r))?.v, `value of ${id(r)}`);
      }
    }
    const dups = [...got.values()].filter((n) => n > 1).length;
    const failedCommits = all.flatMap((x) =>
      x.events.filter((e) => e.event === "commit_failed").map((e) => `${x.name}: ${e.error}`)
    );
    console.log(
      `${options.protocol}: records a=${a.records.length} b=${b.records.length} ` +
        `c=${c.records.length}; redelivered after b's crash: ${dups}; failed commits: ` +
        `${failedCommits.length ? failedCommits.join("; ") : "none"}`,
    );
    assert.equal(await c.stop(), 0, `c's clean stop\n${c.stderr().slice(-3000)}`);
  } finally {
    await Promise.all(all.map((x) => x.kill()));
  }
}
