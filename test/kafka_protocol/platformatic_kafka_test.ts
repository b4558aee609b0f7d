/**
 * @platformatic/kafka 2.12 (a pure-JavaScript Kafka client, from npm through deno.json) against
 * the real server over its Kafka listener, in this process:
 *
 * - its Admin creates topics (CreateTopics), lists them (Metadata), deletes one (DeleteTopics),
 *   lists groups by type (ListGroups v5: an HTTP group is a `consumer` group), describes a classic
 *   one (DescribeGroups); each checked over HTTP too;
 * - an idempotent producer (acks=-1) with gzip, lz4 and no compression, keys and headers, and
 *   the Java-compatible murmur2 partitioner: every record where the HTTP API puts its key, the
 *   stored batches with the codec, one producer id and contiguous sequences, the records over HTTP
 *   equal to what was sent;
 * - a consumer group of two (the classic protocol, and KIP-848's consumer protocol): their
 *   assignments split the partitions, every record consumed once, commits read back
 *   (OffsetFetch) and over HTTP; one leaves, the other is given every partition and resumes the
 *   leaver's from its commits.
 *
 * Short session timeouts and heartbeat intervals keep it fast. Nothing here is skipped (the client
 * comes from npm).
 */
import assert from "node:assert/strict";
import {
  Admin,
  compatibilityPartitioner,
  Consumer,
  type Message,
  type MessagesStream,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import { partitionForKey } from "../../src/record/murmur2.ts";
import {
  fetchAll,
  highWatermarks,
  type Json,
  json,
  sleep,
  topicUrl,
} from "../http/server_harness.ts";
import { allBatches, waitFor as waitForWithin, withKafkaServer } from "./kafka_harness.ts";

const encoder = new TextEncoder();
const CODEC_IDS = { none: 0, gzip: 1, lz4: 3 } as const;
type Codec = keyof typeof CODEC_IDS;

/** Polls `check` until it returns true, failing with `what()` after `timeoutMs`. */
/** This client's rebalances are slow: 20 s to reach each state. */
const waitFor = (what: () => string, check: () => boolean | Promise<boolean>) =>
  waitForWithin(what, check, 20_000);

Deno.test({
  name: "@platformatic/kafka: admin creates, lists and deletes topics, lists and describes groups",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const admin = new Admin({ clientId: "pk-admin", bootstrapBrokers: [server.bootstrap] });
    try {
      const created = await admin.createTopics({
        topics: ["pk-a", "pk-b"],
        partitions: 3,
        replicas: 1,
      });
      assert.deepEqual(
        created.map((c) => [c.name, c.partitions, c.replicas]).sort(),
        [["pk-a", 3, 1], ["pk-b", 3, 1]],
      );
      assert.deepEqual((await admin.listTopics()).sort(), ["pk-a", "pk-b"]);
      assert.deepEqual(await highWatermarks(server.server, "pk-b"), [0, 0, 0], "pk-b over HTTP");

      await admin.deleteTopics({ topics: ["pk-b"] });
      assert.deepEqual(await admin.listTopics(), ["pk-a"]);
      const gone = await json(topicUrl(server.server, "pk-b"));
      assert.equal(gone.status, 404, `pk-b over HTTP after DeleteTopics: ${gone.text}`);

      // A group made over HTTP (a KIP-848 `consumer` group) is listed by type.
      const join = await json(`${server.httpUrl}/v1/groups/pk-http-group/members`, {
        method: "POST",
        json: { topics: ["pk-a"] },
      });
      assert.equal(join.status, 200, join.text);
      const groups = await admin.listGroups({ types: ["classic", "consumer"] });
      assert.deepEqual(
        [...groups.values()].map((g) => [g.id, g.groupType, g.protocolType]),
        [["pk-http-group", "consumer", "consumer"]],
      );
      assert.equal((await admin.listGroups()).size, 0, "no classic group (the default filter)");
    } finally {
      await admin.close();
    }
  });
});

interface Member {
  name: string;
  consumer: Consumer<string, string, string, string>;
  stream?: MessagesStream<string, string, string, string>;
  /** The last message consumed per partition (for its commit). */
  last: Map<number, Message<string, string, string, string>>;
  /** Fetches its stream completed (its "fetch" event). */
  fetches: number;
}

/** The producer and group case with either group protocol. */
async function groupCase(t: Deno.TestContext, protocol: "classic" | "consumer"): Promise<void> {
  // The consumer protocol's heartbeat interval is the coordinator's (5 s by default): shorter here.
  const args = protocol === "consumer" ? ["--consumer-group-heartbeat-interval-ms", "300"] : [];
  await withKafkaServer({ args }, async (server) => {
    const topic = "pk-orders";
    const groupId = `pk-group-${protocol}`;
    const PARTITIONS = 3;
    const ALL = [0, 1, 2];
    const admin = new Admin({ clientId: "pk-admin", bootstrapBrokers: [server.bootstrap] });
    const producer = new Producer({
      clientId: "pk-producer",
      bootstrapBrokers: [server.bootstrap],
      serializers: stringSerializers,
      idempotent: true,
      acks: -1,
      partitioner: compatibilityPartitioner,
    });
    const members: Member[] = [];
    const consumed: { member: string; partition: number; offset: number; text: string }[] = [];
    const sent: { key: string; value: string; codec: Codec; partition: number }[] = [];

    const send = async (codec: Codec, n: number) => {
      const messages = [];
      for (let i = 0; i < n; i++) {
        const seq = sent.length;
        const key = `pk-${seq % 29}`;
        const value = `platformatic ${codec} ${seq} ${"p".repeat(seq % 40)} ü`;
        sent.push({
          key,
          value,
          codec,
          partition: partitionForKey(encoder.encode(key), PARTITIONS),
        });
        messages.push({
          topic,
          key,
          value,
          headers: new Map([["seq", String(seq)], ["codec", codec]]),
        });
      }
      const res = await producer.send({ messages, compression: codec });
      return res.offsets ?? [];
    };
    const startMember = async (name: string): Promise<Member> => {
      const base = {
        clientId: name,
        groupId,
        bootstrapBrokers: [server.bootstrap],
        deserializers: stringDeserializers,
        maxWaitTime: 100,
      };
      const consumer = protocol === "classic"
        ? new Consumer({
          ...base,
          sessionTimeout: 6000,
          rebalanceTimeout: 6000,
          heartbeatInterval: 300,
        })
        : new Consumer({ ...base, groupProtocol: "consumer" });
      const m: Member = { name, consumer, last: new Map(), fetches: 0 };
      m.stream = await consumer.consume({
        topics: [topic],
        mode: "committed",
        fallbackMode: "earliest",
        autocommit: false,
      });
      m.stream.on("fetch", () => m.fetches++);
      m.stream.on("data", (msg: Message<string, string, string, string>) => {
        m.last.set(msg.partition, msg);
        consumed.push({
          member: name,
          partition: msg.partition,
          offset: Number(msg.offset),
          text: `${msg.key}=${msg.value} ${JSON.stringify(msg.headerEntries)}`,
        });
      });
      members.push(m);
      return m;
    };
    /**
     * Waits until each member's stream has completed two fetches from now: one begun after its
     * assignment changed. @platformatic/kafka hands on what a fetch begun before a change brings
     * (a partition it has just revoked, or one whose offset the change's OffsetFetch then resets
     * to the last commit): records produced while that fetch is out would be read twice, by the
     * client's design (at least once), not through the broker. Kafka 4.4 gives the same.
     */
    const settled = async (live: Member[]) => {
      const from = live.map((m) => m.fetches);
      await waitFor(
        () => `fetches ${live.map((m) => m.fetches)} from ${from}`,
        () => live.every((m, i) => m.fetches >= from[i] + 2),
      );
    };
    /** The member's current partitions of the topic. */
    const now = (m: Member) =>
      [...(m.consumer.assignments?.find((a) => a.topic === topic)?.partitions ?? [])].sort();
    const expectedText = (e: (typeof sent)[number], seq: number) =>
      `${e.key}=${e.value} ${JSON.stringify([["seq", String(seq)], ["codec", e.codec]])}`;
    const sentOn = (p: number) =>
      sent.map((e, seq) => ({ ...e, seq })).filter((e) => e.partition === p);
    const commitAll = async (m: Member) => {
      for (const msg of m.last.values()) await msg.commit();
    };
    const httpCommits = async () => {
      const res = await json(`${server.httpUrl}/v1/groups/${groupId}/offsets`);
      assert.equal(res.status, 200, res.text);
      return (res.body.offsets as Json[]).filter((o) => o.topic === topic)
        .map((o) => ({ partition: o.partition, offset: Number(o.offset) }))
        .sort((x, y) => x.partition - y.partition);
    };

    try {
      await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
      const a = await startMember("pk-a");
      const b = await startMember("pk-b");

      await t.step("two members split the partitions", async () => {
        await waitFor(
          () => `assignments a ${now(a)} b ${now(b)}`,
          () =>
            now(a).length > 0 && now(b).length > 0 &&
            [...now(a), ...now(b)].sort().join() === ALL.join(),
        );
        await settled([a, b]);
      });

      await t.step("idempotent producer: gzip, lz4, none; murmur2 partitions", async () => {
        for (const codec of ["gzip", "lz4", "none", "gzip"] as const) {
          const offsets = await send(codec, 120);
          assert.ok(
            offsets.length > 0,
            `send ${codec}: offsets ${offsets.map((o) => `${o.partition}@${o.offset}`)}`,
          );
        }
        assert.deepEqual(
          await highWatermarks(server.server, topic),
          ALL.map((p) => sentOn(p).length),
          "every record on murmur2(key)'s partition, once",
        );
        const producerIds = new Set<number>();
        for (const p of ALL) {
          const batches = await allBatches(server, topic, p);
          assert.deepEqual(
            batches.map((b) => b.compression),
            [1, 3, 0, 1],
            `partition ${p}: one batch per send, with its codec`,
          );
          let next = 0;
          for (const b of batches) {
            producerIds.add(b.producerId);
            assert.equal(b.baseSequence, next, `partition ${p}: contiguous sequences`);
            next += b.lastOffsetDelta + 1;
          }
        }
        assert.equal(producerIds.size, 1, `one producer id: ${[...producerIds]}`);
        assert.ok([...producerIds][0] >= 0, "an idempotent producer id");
        for (const p of ALL) {
          const records = await fetchAll(server.server, topic, p);
          const want = sentOn(p);
          assert.equal(records.length, want.length, `partition ${p}: records over HTTP`);
          records.forEach((r: Json, i: number) => {
            const headers = (r.headers as Json[]).map((h) => [h.key, h.value]);
            assert.deepEqual(
              [r.key, r.value, headers],
              [want[i].key, want[i].value, [["seq", String(want[i].seq)], [
                "codec",
                want[i].codec,
              ]]],
              `HTTP ${p}@${i}`,
            );
          });
        }
      });

      await t.step("the two consume every record once, by partition owner; commits", async () => {
        await waitFor(
          () => `consumed ${consumed.length} of ${sent.length}`,
          () => consumed.length >= sent.length,
        );
        for (const p of ALL) {
          const mine = consumed.filter((c) => c.partition === p);
          const owner = now(a).includes(p) ? "pk-a" : "pk-b";
          assert.deepEqual(
            mine.map((c) => c.offset),
            sentOn(p).map((_, i) => i),
            `partition ${p}: ${mine.map((c) => `${c.member}@${c.offset}`)}`,
          );
          assert.deepEqual(mine.map((c) => c.member), mine.map(() => owner), `${p}: its owner`);
          assert.deepEqual(
            mine.map((c) => c.text),
            sentOn(p).map((e) => expectedText(e, e.seq)),
            `partition ${p}: contents`,
          );
        }
        await commitAll(a);
        await commitAll(b);
        const expected = ALL.map((partition) => ({ partition, offset: sentOn(partition).length }));
        assert.deepEqual(await httpCommits(), expected, "commits over HTTP");
        const listed = await a.consumer.listCommittedOffsets({
          topics: [{ topic, partitions: ALL }],
        });
        assert.deepEqual(
          (listed.get(topic) ?? []).map(Number),
          expected.map((e) => e.offset),
          "commits read back by OffsetFetch",
        );
        const groups = await admin.listGroups({ types: ["classic", "consumer"] });
        const group = groups.get(groupId);
        assert.deepEqual([group?.groupType, group?.state], [protocol, "Stable"], "ListGroups");
        if (protocol === "classic") {
          const described = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
          assert.deepEqual(
            [...(described?.members.values() ?? [])].map((m) => m.clientId).sort(),
            ["pk-a", "pk-b"],
            "DescribeGroups: the two members",
          );
        }
      });

      await t.step(
        "b leaves: a takes every partition and resumes b's from its commits",
        async () => {
          await b.consumer.close(true);
          members.splice(members.indexOf(b), 1);
          await waitFor(
            () => `a's assignment ${now(a)}`,
            () => now(a).join() === ALL.join(),
          );
          await settled([a]);
          const before = consumed.length;
          await send("lz4", 90);
          await waitFor(
            () => `consumed ${consumed.length} of ${sent.length}`,
            () => consumed.length >= sent.length,
          );
          await sleep(300); // a re-read, if any, has time to show
          const later = consumed.slice(before);
          assert.equal(later.length, 90, "only the new records");
          assert.ok(later.every((c) => c.member === "pk-a"), "all to a");
          const ids = consumed.map((c) => `${c.partition}:${c.offset}`);
          assert.equal(new Set(ids).size, ids.length, "no record consumed twice");
          await commitAll(a);
          assert.deepEqual(
            await httpCommits(),
            ALL.map((partition) => ({ partition, offset: sentOn(partition).length })),
            "commits over HTTP after the leave",
          );
        },
      );
    } finally {
      for (const m of members) await m.consumer.close(true).catch(() => {});
      await producer.close().catch(() => {});
      await admin.close().catch(() => {});
    }
  });
}

Deno.test({
  name: "@platformatic/kafka: idempotent producer, a classic group of two with commits and a leave",
  sanitizeResources: false,
  sanitizeOps: false,
}, (t) => groupCase(t, "classic"));

Deno.test({
  name: "@platformatic/kafka: the same with groupProtocol consumer (KIP-848)",
  sanitizeResources: false,
  sanitizeOps: false,
}, (t) => groupCase(t, "consumer"));
