/**
 * kafkajs 2.2.4 (a pure-JavaScript Kafka client) against the real server over its Kafka listener:
 * lz4 (the @2l/kafkajs-lz4 codec) and gzip batches read back by kafkajs and over HTTP; an
 * idempotent producer's batches carrying its producer id and contiguous sequences; a consumer
 * group of two members consuming every record exactly once with auto-commit, a third member's
 * join rebalancing both (each rejoins, in a new generation), a member leaving rebalancing at once,
 * and committed offsets visible over HTTP and resumed from by a later member.
 *
 * Short session timeouts, heartbeat intervals and retries keep it fast. kafkajs comes from npm,
 * so nothing here is skipped.
 */
import assert from "node:assert/strict";
import lz4Module from "@2l/kafkajs-lz4";
import {
  type Admin,
  CompressionCodecs,
  CompressionTypes,
  type Consumer,
  type EachMessagePayload,
  Kafka,
  type LogEntry,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { createTopic, fetchAll, highWatermarks, type Json, json } from "../http/server_harness.ts";
import { allBatches, type KafkaServer, waitFor, withKafkaServer } from "./kafka_harness.ts";

// CommonJS interop: at run time the default import is the codec class itself (module.exports);
// the package's .d.ts describes an ES module whose `default` is the class.
const LZ4Codec = ((lz4Module as unknown as { default?: unknown }).default ??
  lz4Module) as typeof lz4Module.default;
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec;

const encoder = new TextEncoder();

/** kafkajs's log lines, kept for failure messages (it logs nothing to the console here). */
class ClientLog {
  readonly lines: string[] = [];
  readonly logCreator = () => (entry: LogEntry) => {
    const { message, ...extra } = entry.log;
    this.lines.push(`${entry.label} [${entry.namespace}] ${message} ${JSON.stringify(extra)}`);
    if (this.lines.length > 400) this.lines.shift();
  };
  tail(n = 40): string {
    return this.lines.slice(-n).join("\n");
  }
}

function client(server: KafkaServer, log: ClientLog, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [server.bootstrap],
    logLevel: logLevel.WARN,
    logCreator: log.logCreator,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/** What to add to an assertion message: kafkajs's log and the server's stderr. */
function context(server: KafkaServer, log: ClientLog): string {
  return `\nkafkajs log (tail):\n${log.tail()}\nserver stderr (tail):\n${server.stderrTail()}`;
}

/** Polls `check` until it returns true, failing with `what()` after `timeoutMs`. */
Deno.test({
  name: "kafkajs: lz4 and gzip batches are stored compressed and read back by kafkajs and HTTP",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const log = new ClientLog();
    const kafka = client(server, log, "kjs-compression");
    const topic = "kjs-compressed";
    await createTopic(server.server, topic, 2);
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const sent: { key: string; value: string; codec: string }[] = [];
    try {
      const rounds = [
        ["lz4", CompressionTypes.LZ4],
        ["gzip", CompressionTypes.GZIP],
        ["lz4", CompressionTypes.LZ4],
        ["none", CompressionTypes.None],
        ["gzip", CompressionTypes.GZIP],
      ] as const;
      for (const [round, [name, compression]] of rounds.entries()) {
        const messages = [];
        for (let i = 0; i < 200; i++) {
          const key = `k${i % 17}`;
          const value = `${name} round ${round} #${i} ${"payload ".repeat(i % 25)}ü`;
          sent.push({ key, value, codec: name });
          messages.push({ key, value, headers: { codec: name, i: String(i) } });
        }
        const res = await producer.send({ topic, compression, acks: -1, messages });
        assert.equal(res.length, 2, `one result per partition: ${JSON.stringify(res)}`);
        for (const r of res) assert.equal(r.errorCode, 0, `produce ${name}: ${JSON.stringify(r)}`);
      }
    } catch (err) {
      assert.fail(`kafkajs produce failed: ${err}${context(server, log)}`);
    } finally {
      await producer.disconnect();
    }

    // The stored batches keep the producer's codec (Sluice never re-encodes).
    const codecs = new Set<number>();
    for (const p of [0, 1]) {
      const batches = await allBatches(server, topic, p);
      assert.equal(batches.length, 5, `partition ${p}: one batch per send`);
      batches.forEach((b) => codecs.add(b.compression));
      assert.deepEqual(
        batches.map((b) => b.compression),
        [3, 1, 3, 0, 1],
        `partition ${p}: batch codecs (lz4=3, gzip=1, none=0)`,
      );
    }

    // Over HTTP (Sluice decodes both), per partition in send order.
    const hw = await highWatermarks(server.server, topic);
    assert.equal(hw[0] + hw[1], sent.length, `high watermarks ${hw}`);
    for (const p of [0, 1]) {
      const expected = sent.filter((m) => partitionForKey(encoder.encode(m.key), 2) === p);
      const records = await fetchAll(server.server, topic, p);
      assert.equal(records.length, expected.length, `partition ${p}: records over HTTP`);
      records.forEach((r: Json, i: number) => {
        if (r.key !== expected[i].key || r.value !== expected[i].value) {
          assert.fail(
            `HTTP partition ${p} offset ${i}: ${r.key}:${r.value}, expected ` +
              `${expected[i].key}:${expected[i].value}`,
          );
        }
        assert.equal(r.headers[0].value, expected[i].codec, `HTTP ${p}@${i}: codec header`);
      });
    }

    // Read back by a kafkajs consumer (decompressing lz4 with the same codec).
    const consumer = kafka.consumer({
      groupId: "kjs-compression-reader",
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    const got: { partition: number; offset: number; key: string; value: string; codec: string }[] =
      [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ partition, message }: EachMessagePayload) => {
          got.push({
            partition,
            offset: Number(message.offset),
            key: message.key?.toString() ?? "",
            value: message.value?.toString() ?? "",
            codec: message.headers?.codec?.toString() ?? "",
          });
          return Promise.resolve();
        },
      });
      await waitFor(
        () => `kafkajs consumer read ${got.length} of ${sent.length}${context(server, log)}`,
        () => got.length >= sent.length,
        20_000,
      );
    } finally {
      await consumer.disconnect();
    }
    assert.equal(got.length, sent.length, "no record read twice");
    for (const p of [0, 1]) {
      const expected = sent.filter((m) => partitionForKey(encoder.encode(m.key), 2) === p);
      const mine = got.filter((g) => g.partition === p);
      assert.deepEqual(
        mine.map((g) => g.offset),
        expected.map((_, i) => i),
        `partition ${p}: offsets in order`,
      );
      assert.deepEqual(
        mine.map((g) => `${g.key}:${g.value}:${g.codec}`),
        expected.map((m) => `${m.key}:${m.value}:${m.codec}`),
        `partition ${p}: contents`,
      );
    }
  });
});

Deno.test({
  name: "kafkajs: an idempotent producer's batches carry its producer id and contiguous sequences",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const log = new ClientLog();
    const kafka = client(server, log, "kjs-idempotent");
    const topic = "kjs-idempotent";
    await createTopic(server.server, topic, 2);
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const perPartition = [0, 0];
    try {
      await producer.connect();
      for (let round = 0; round < 6; round++) {
        const messages = [];
        for (let i = 0; i < 50 + round * 10; i++) {
          const key = `id-${round}-${i}`;
          perPartition[partitionForKey(encoder.encode(key), 2)]++;
          messages.push({ key, value: `round ${round} message ${i}` });
        }
        await producer.send({
          topic,
          messages,
          acks: -1,
          compression: round % 2 === 0 ? CompressionTypes.LZ4 : CompressionTypes.None,
        });
      }
    } catch (err) {
      assert.fail(`idempotent produce failed: ${err}${context(server, log)}`);
    } finally {
      await producer.disconnect();
    }
    const hw = await highWatermarks(server.server, topic);
    assert.deepEqual(hw, perPartition, "every record exactly once, none duplicated");

    let producerId: number | undefined;
    for (const p of [0, 1]) {
      const batches = await allBatches(server, topic, p);
      assert.equal(batches.length, 6, `partition ${p}: one batch per send`);
      let nextSequence = 0;
      for (const b of batches) {
        assert.ok(b.producerId >= 0, `partition ${p}: batch has a producer id (${b.producerId})`);
        producerId ??= b.producerId;
        assert.equal(b.producerId, producerId, `partition ${p}: one producer id throughout`);
        assert.equal(b.producerEpoch, 0, `partition ${p}: producer epoch`);
        assert.equal(b.baseSequence, nextSequence, `partition ${p}: sequences are contiguous`);
        nextSequence += b.lastOffsetDelta + 1;
      }
    }
  });
});

interface Member {
  name: string;
  consumer: Consumer;
  /** GROUP_JOIN events, with the time each was seen. */
  joins: { at: number; memberId: string; assignment: number[] }[];
  /** The generation of this member's latest heartbeat (-1 before any). */
  generation: number;
  /** Records this member processed: "partition:offset". */
  seen: string[];
}

Deno.test({
  name: "kafkajs: a consumer group consumes exactly once, rebalances on join and leave, commits",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await withKafkaServer({}, async (server) => {
    const log = new ClientLog();
    const kafka = client(server, log, "kjs-group");
    const topic = "kjs-group";
    const groupId = "kjs-group-g1";
    const PARTITIONS = 4;
    const ALL = [0, 1, 2, 3];
    const members: Member[] = [];
    const delivered = new Map<string, string[]>(); // "partition:offset" -> who processed it
    let admin: Admin | undefined;
    let producer: Producer | undefined;

    const startMember = async (name: string): Promise<Member> => {
      const consumer = kafka.consumer({
        groupId,
        sessionTimeout: 10_000,
        rebalanceTimeout: 5000,
        heartbeatInterval: 200,
        maxWaitTimeInMs: 100,
        retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const m: Member = { name, consumer, joins: [], generation: -1, seen: [] };
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const assignment = (e.payload.memberAssignment[topic] ?? []).slice().sort();
        m.joins.push({ at: Date.now(), memberId: e.payload.memberId, assignment });
      });
      consumer.on(consumer.events.HEARTBEAT, (e) => {
        m.generation = e.payload.groupGenerationId;
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: 100,
        eachMessage: ({ partition, message }: EachMessagePayload) => {
          const id = `${partition}:${message.offset}`;
          m.seen.push(id);
          const who = delivered.get(id) ?? [];
          who.push(name);
          delivered.set(id, who);
          return Promise.resolve();
        },
      });
      members.push(m);
      return m;
    };
    const latest = (m: Member) => m.joins.at(-1)?.assignment ?? [];
    /** The live members' latest assignments split the partitions between them. */
    const settled = (live: Member[]) => {
      const all = live.flatMap(latest).sort();
      return live.every((m) => latest(m).length > 0) && all.join() === ALL.join();
    };
    const describe = (live: Member[]) =>
      live.map((m) => `${m.name}: gen ${m.generation}, joins ${JSON.stringify(m.joins)}`)
        .join("\n") + context(server, log);
    const duplicates = () => [...delivered].filter(([, who]) => who.length > 1);
    let produced = 0;
    const produceSome = async (n: number) => {
      const messages = [];
      for (let i = 0; i < n; i++) {
        messages.push({ key: `key-${produced + i}`, value: `value ${produced + i}` });
      }
      await producer!.send({ topic, messages, compression: CompressionTypes.GZIP });
      produced += n;
    };
    const committedOverHttp = async () => {
      const res = await json(`${server.httpUrl}/v1/groups/${groupId}/offsets`);
      return res;
    };
    const waitCommitted = async (what: string) => {
      const hw = await highWatermarks(server.server, topic);
      let last: Json;
      await waitFor(
        () => `${what}: committed offsets over HTTP ${JSON.stringify(last)} vs HW ${hw}`,
        async () => {
          const res = await committedOverHttp();
          last = res.body ?? res.text;
          if (res.status !== 200) return false;
          const offs = new Map<number, number>(
            (res.body.offsets as Json[]).filter((o) => o.topic === topic)
              .map((o) => [o.partition, Number(o.offset)]),
          );
          return ALL.every((p) => offs.get(p) === hw[p]);
        },
      );
      return hw;
    };

    try {
      admin = kafka.admin();
      await admin.connect();
      await t.step("CreateTopics from kafkajs's admin", async () => {
        const created = await admin!.createTopics({
          topics: [{ topic, numPartitions: PARTITIONS }],
          waitForLeaders: true,
        });
        assert.equal(created, true, `createTopics: ${context(server, log)}`);
        assert.equal((await highWatermarks(server.server, topic)).length, PARTITIONS);
      });
      producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();

      const [a, b] = await Promise.all([startMember("A"), startMember("B")]);

      await t.step("two members split the partitions and consume each record once", async () => {
        await waitFor(() => `A and B never settled:\n${describe([a, b])}`, () => settled([a, b]));
        await produceSome(400);
        await waitFor(
          () => `consumed ${delivered.size} of ${produced}:\n${describe([a, b])}`,
          () => delivered.size >= produced,
        );
        assert.deepEqual(duplicates(), [], "no record processed twice");
        assert.ok(
          a.seen.length > 0 && b.seen.length > 0,
          `both consumed: A ${a.seen.length}, ` +
            `B ${b.seen.length}`,
        );
        for (const m of [a, b]) {
          for (const id of m.seen) {
            const p = Number(id.split(":")[0]);
            assert.ok(latest(m).includes(p), `${m.name} consumed ${id} outside its assignment`);
          }
        }
        const hw = await waitCommitted("after the first 400");
        assert.equal(hw.reduce((x, y) => x + y, 0), 400);
        const fetched = await admin!.fetchOffsets({ groupId, topics: [topic] });
        assert.deepEqual(
          fetched[0].partitions.map((p) => [p.partition, Number(p.offset)]).sort(),
          ALL.map((p) => [p, hw[p]]),
          "OffsetFetch from kafkajs's admin agrees with HTTP",
        );
        const res = await committedOverHttp();
        for (const o of res.body.offsets as Json[]) {
          assert.equal(o.lag, 0, `lag over HTTP after everything was committed: ${res.text}`);
        }
      });

      let c: Member | undefined;
      await t.step("a third member's join rebalances both earlier members", async () => {
        await waitFor(
          () => `A and B not heartbeating in one generation:\n${describe([a, b])}`,
          () => a.generation >= 0 && a.generation === b.generation,
        );
        const generationBefore = a.generation;
        const joinedBefore = Date.now();
        c = await startMember("C");
        await waitFor(
          () => `A, B and C never settled:\n${describe([a, b, c!])}`,
          () =>
            a.joins.some((j) => j.at >= joinedBefore) && b.joins.some((j) =>
              j.at >= joinedBefore
            ) &&
            settled([a, b, c!]),
        );
        await waitFor(
          () => `A and B not heartbeating in a new generation:\n${describe([a, b, c!])}`,
          () => a.generation > generationBefore && b.generation > generationBefore,
        );
        await waitFor(
          () => `the three members' generations differ:\n${describe([a, b, c!])}`,
          () => a.generation === b.generation && b.generation === c!.generation,
        );
        await produceSome(300);
        await waitFor(
          () => `consumed ${delivered.size} of ${produced}:\n${describe([a, b, c!])}`,
          () => delivered.size >= produced,
        );
        assert.deepEqual(duplicates(), [], "no record processed twice across the rebalance");
        assert.ok(c.seen.length > 0, "C consumed from its partitions");
        await waitCommitted("after 300 more with three members");

        // The HTTP API shows the Kafka group: its members, their topics and partitions.
        const view = await json(`${server.httpUrl}/v1/groups/${groupId}`);
        const body = view.body as {
          protocol: string;
          state: string;
          assignor: string;
          members: { memberId: string; assignment: { topic: string; partition: number }[] }[];
        };
        assert.equal(view.status, 200);
        assert.equal(body.protocol, "classic");
        assert.equal(body.state, "Stable");
        assert.equal(body.members.length, 3);
        const owned = body.members.flatMap((m) => m.assignment.map((tp) => tp.partition));
        assert.deepEqual(owned.sort(), [0, 1, 2, 3], "every partition owned once");
        const joined = await fetch(`${server.httpUrl}/v1/groups/${groupId}/members`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ topics: [topic] }),
        });
        assert.equal(joined.status, 409, "an HTTP member cannot join a Kafka group");
        await joined.body?.cancel();
      });

      await t.step("a stopped member leaves: the others rebalance at once", async () => {
        const generationBefore = a.generation;
        const leftAt = Date.now();
        await c!.consumer.disconnect();
        members.splice(members.indexOf(c!), 1);
        // Well inside the 10 s session timeout: the LeaveGroup, not an expiry, moved them.
        await waitFor(
          () => `A and B did not rejoin after C left:\n${describe([a, b])}`,
          () =>
            a.joins.some((j) => j.at >= leftAt) && b.joins.some((j) => j.at >= leftAt) &&
            settled([a, b]),
          5000,
        );
        await waitFor(
          () => `no new generation after C left:\n${describe([a, b])}`,
          () => a.generation > generationBefore && b.generation > generationBefore,
          5000,
        );
        await produceSome(100);
        await waitFor(
          () => `consumed ${delivered.size} of ${produced}:\n${describe([a, b])}`,
          () => delivered.size >= produced,
        );
        assert.deepEqual(duplicates(), [], "no record processed twice after the leave");
        await waitCommitted("after C left");
      });

      await t.step("after everyone leaves, a new member resumes from the commits", async () => {
        await Promise.all([a.consumer.disconnect(), b.consumer.disconnect()]);
        members.length = 0;
        const joinedAt = Date.now();
        const d = await startMember("D");
        await waitFor(
          () => `D did not get every partition:\n${describe([d])}`,
          () => settled([d]),
          5000,
        );
        // Only the members that left held the group: D's join did not wait out their sessions.
        assert.ok(
          d.joins[0].at - joinedAt < 4000,
          `D's first join took ${d.joins[0].at - joinedAt} ms`,
        );
        const before = delivered.size;
        await produceSome(20);
        await waitFor(
          () => `D consumed ${d.seen.length}:\n${describe([d])}`,
          () => delivered.size >= produced,
        );
        assert.equal(delivered.size - before, 20, "D read only the new records");
        assert.equal(d.seen.length, 20, "D resumed at the committed offsets, re-reading nothing");
        assert.deepEqual(duplicates(), []);
        await waitCommitted("D's commits");
      });
    } finally {
      await Promise.all(members.map((m) => m.consumer.disconnect().catch(() => {})));
      await producer?.disconnect().catch(() => {});
      await admin?.disconnect().catch(() => {});
    }
  });
});
