/**
 * Fetch sessions (KIP-227) through a real Kafka listener, with frames built by our own tables: a
 * session made by a full fetch, incremental fetches that answer only what changed and still long
 * poll, forgotten partitions, a deleted topic, session errors, closing, a duplicate request
 * overtaken by the next epoch, the round robin of partitions under max_bytes, and the metrics.
 * Kafka's own answers to the same requests are compared in
 * test/kafka_reference/cases/fetch_sessions.ts; real clients in java_fetch_session_test.ts.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka_protocol/listener.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { utf8 } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";
import { RawClient } from "./kafka_wire_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

interface FetchOptions {
  sessionId?: number;
  epoch?: number;
  maxWaitMs?: number;
  maxBytes?: number;
  forgotten?: [string, number[]][];
}

/** A Fetch body: `partitions` as [topic, partition, fetch offset]. */
function fetchBody(partitions: [string, number, number][], o: FetchOptions = {}): Struct {
  const topics = [...new Set(partitions.map((p) => p[0]))];
  return {
    replicaId: -1,
    maxWaitMs: o.maxWaitMs ?? 0,
    minBytes: 1,
    maxBytes: o.maxBytes ?? 1 << 20,
    isolationLevel: 0,
    sessionId: o.sessionId ?? 0,
    sessionEpoch: o.epoch ?? -1,
    topics: topics.map((topic) => ({
      topic,
      partitions: partitions.filter((p) => p[0] === topic).map(([, partition, offset]) => ({
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(offset),
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      })),
    })),
    forgottenTopicsData: (o.forgotten ?? []).map(([topic, partitions]) => ({ topic, partitions })),
    rackId: "",
  };
}

/** The answered partitions as "topic/partition" with their record bytes, in answer order. */
function answered(res: Any): [string, number, number][] {
  return res.responses.flatMap((t: Any) =>
    t.partitions.map((
      p: Any,
    ) => [`${t.topic}/${p.partitionIndex}`, p.errorCode, p.records?.length ?? 0])
  );
}

const ALL = "s-all";

Deno.test("Kafka fetch sessions over the wire", async (t) => {
  const dataDir = tempDir("sluice-fetch-sessions-");
  const logger = new MemoryLogger();
  const broker = await Broker.open({ dataDir, logger });
  const listener: KafkaListener = await startKafkaListener(broker, {
    host: "127.0.0.1",
    port: 0,
    logger,
    autoCreateTopics: false,
  });
  const c = await RawClient.connect(listener.port);
  const call = (body: Struct, version = 12) => c.call(FETCH_REQUEST, FETCH_RESPONSE, version, body);
  try {
    await broker.createTopic(ALL, 3, {});
    for (let p = 0; p < 3; p++) await broker.produce(ALL, [{ value: utf8(`v${p}`), partition: p }]);

    let id = 0;
    let epoch = 0;
    await t.step(
      "a full fetch with epoch 0 answers every partition and a new session",
      async () => {
        const res = await call(
          fetchBody([[ALL, 0, 0], [ALL, 1, 0], [ALL, 2, 0]], { epoch: 0 }),
        ) as Any;
        assert.equal(res.errorCode, 0);
        assert.ok(res.sessionId > 0, `session id ${res.sessionId}`);
        assert.deepEqual(answered(res).map((a) => a[0]), [`${ALL}/0`, `${ALL}/1`, `${ALL}/2`]);
        for (const a of answered(res)) assert.ok(a[2] > 0, `${a[0]} has its record`);
        id = res.sessionId;
        epoch = 1;
        assert.equal(listener.metrics.fetchSessions!.size, 1);
      },
    );

    await t.step("an incremental fetch with nothing new answers no partition", async () => {
      // The client moves past the records it got; the high watermarks are those it was told.
      const res = await call(
        fetchBody([[ALL, 0, 1], [ALL, 1, 1], [ALL, 2, 1]], { sessionId: id, epoch: epoch++ }),
      ) as Any;
      assert.deepEqual([res.errorCode, res.sessionId, answered(res)], [0, id, []]);
      // And with no partition named at all (what a client sends when nothing changed).
      const again = await call(fetchBody([], { sessionId: id, epoch: epoch++ })) as Any;
      assert.deepEqual([again.errorCode, again.sessionId, answered(again)], [0, id, []]);
    });

    await t.step(
      "an incremental fetch long-polls and answers only the partition with news",
      async () => {
        const pending = call(fetchBody([], { sessionId: id, epoch: epoch++, maxWaitMs: 20_000 }));
        // Append once the fetch waits (it would answer at once, empty, had it not waited).
        const deadline = Date.now() + 10_000;
        while (broker.waiters.open === 0) {
          assert.ok(Date.now() < deadline, "the incremental fetch never waited");
          await new Promise((r) => setTimeout(r, 5));
        }
        await broker.produce(ALL, [{ value: utf8("news"), partition: 1 }]);
        const res = await pending as Any;
        const a = answered(res);
        assert.deepEqual(a.map((x) => [x[0], x[1]]), [[`${ALL}/1`, 0]]);
        assert.ok(a[0][2] > 0);
        assert.equal(res.responses[0].partitions[0].highWatermark, 2n);
      },
    );

    await t.step("a forgotten partition is no longer fetched", async () => {
      const res = await call(
        fetchBody([[ALL, 1, 2]], { sessionId: id, epoch: epoch++, forgotten: [[ALL, [2]]] }),
      ) as Any;
      assert.deepEqual(answered(res), []);
      await broker.produce(ALL, [{ value: utf8("unseen"), partition: 2 }]);
      const after = await call(fetchBody([], { sessionId: id, epoch: epoch++ })) as Any;
      assert.deepEqual(answered(after), [], "partition 2 has news but left the session");
      assert.equal(listener.metrics.fetchSessions!.partitions, 2);
    });

    await t.step(
      "a wrong epoch is INVALID_FETCH_SESSION_EPOCH, an unknown id …_NOT_FOUND",
      async () => {
        for (const bad of [epoch + 1, epoch - 1]) {
          const res = await call(fetchBody([[ALL, 0, 0]], { sessionId: id, epoch: bad })) as Any;
          assert.deepEqual(
            [res.errorCode, res.sessionId, res.responses.length],
            [KafkaError.INVALID_FETCH_SESSION_EPOCH, 0, 0],
          );
        }
        const res = await call(fetchBody([[ALL, 0, 0]], { sessionId: id ^ 1, epoch: 1 })) as Any;
        assert.deepEqual(
          [res.errorCode, res.sessionId, res.responses.length],
          [KafkaError.FETCH_SESSION_ID_NOT_FOUND, 0, 0],
        );
        // The session is still there, at the epoch it expected.
        const ok = await call(fetchBody([], { sessionId: id, epoch: epoch++ })) as Any;
        assert.equal(ok.errorCode, 0);
      },
    );

    await t.step("a request overtaken by the session's next epoch is answered 71", async () => {
      const waiting = call(fetchBody([], { sessionId: id, epoch: epoch++, maxWaitMs: 20_000 }));
      const deadline = Date.now() + 10_000;
      while (broker.waiters.open === 0) {
        assert.ok(Date.now() < deadline, "the incremental fetch never waited");
        await new Promise((r) => setTimeout(r, 5));
      }
      // A second connection sends the next epoch (a client that gave up on the first answer).
      const other = await RawClient.connect(listener.port);
      try {
        const next = await other.call(
          FETCH_REQUEST,
          FETCH_RESPONSE,
          12,
          fetchBody([], { sessionId: id, epoch: epoch++ }),
        ) as Any;
        assert.equal(next.errorCode, 0);
      } finally {
        other.close();
      }
      await broker.produce(ALL, [{ value: utf8("wake"), partition: 0 }]);
      const res = await waiting as Any;
      assert.deepEqual(
        [res.errorCode, res.sessionId, res.responses.length],
        [KafkaError.INVALID_FETCH_SESSION_EPOCH, id, 0],
      );
    });

    await t.step(
      "a partition that returned records goes last: the others are read first",
      async () => {
        // Every partition has records past these offsets; max_bytes 1 lets one batch through.
        const full = await call(
          fetchBody([[ALL, 0, 0], [ALL, 1, 0], [ALL, 2, 0]], { epoch: 0, maxBytes: 1 }),
        ) as Any;
        const s = full.sessionId;
        assert.notEqual(s, id);
        assert.ok(listener.metrics.fetchSessions!.get(id), "a new session closes no other");
        const order: string[] = [];
        for (let e = 1; e <= 3; e++) {
          const res = await call(fetchBody([], { sessionId: s, epoch: e, maxBytes: 1 })) as Any;
          const withRecords = answered(res).filter((a) => a[2] > 0).map((a) => a[0]);
          assert.equal(withRecords.length, 1, JSON.stringify(answered(res)));
          order.push(withRecords[0]);
        }
        // The full fetch keeps the request's order (as Kafka's); from then on a partition that
        // returned its batch goes last, so the one batch allowed goes round: without that, all
        // three answers would be partition 0's.
        assert.deepEqual(order, [`${ALL}/0`, `${ALL}/1`, `${ALL}/2`]);
        const closed = await call(fetchBody([], { sessionId: s, epoch: -1 })) as Any;
        assert.deepEqual([closed.errorCode, closed.sessionId], [0, 0]);
      },
    );

    await t.step(
      "a deleted topic is answered UNKNOWN_TOPIC_OR_PARTITION at every fetch",
      async () => {
        await broker.createTopic("s-doomed", 1, {});
        const full = await call(fetchBody([["s-doomed", 0, 0]], { epoch: 0 })) as Any;
        const s = full.sessionId;
        assert.ok(s > 0);
        await broker.deleteTopic("s-doomed");
        for (const e of [1, 2]) {
          const res = await call(fetchBody([], { sessionId: s, epoch: e })) as Any;
          assert.deepEqual(answered(res), [[
            "s-doomed/0",
            KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
            0,
          ]]);
        }
        // The client forgets it: the session is empty, so it closes, answered without a session.
        const forget = fetchBody([], { sessionId: s, epoch: 3, forgotten: [["s-doomed", [0]]] });
        const res = await call(forget) as Any;
        assert.deepEqual([res.errorCode, res.sessionId, answered(res)], [0, 0, []]);
        const gone = await call(fetchBody([], { sessionId: s, epoch: 4 })) as Any;
        assert.equal(gone.errorCode, KafkaError.FETCH_SESSION_ID_NOT_FOUND);
      },
    );

    await t.step("epoch -1 closes the session; v4-6 never get one", async () => {
      const res = await call(fetchBody([[ALL, 0, 0]], { sessionId: id, epoch: -1 })) as Any;
      assert.deepEqual([res.errorCode, res.sessionId, answered(res).length], [0, 0, 1]);
      assert.equal(listener.metrics.fetchSessions!.get(id), undefined);
      const after = await call(fetchBody([], { sessionId: id, epoch })) as Any;
      assert.equal(after.errorCode, KafkaError.FETCH_SESSION_ID_NOT_FOUND);
      for (const v of [4, 5, 6]) {
        const old = await call(fetchBody([[ALL, 0, 0]], { epoch: 0 }), v) as Any;
        assert.equal(answered(old).length, 1);
        assert.equal(listener.metrics.fetchSessions!.size, 0, `v${v} opened no session`);
      }
      assert.equal(listener.metrics.fetchSessions!.size, 0);
    });

    await t.step("/metrics counts sessions and fetches by kind", () => {
      const text = listener.metrics.render();
      const value = (line: string) => {
        const m = text.match(new RegExp(`^${line.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m"));
        assert.ok(m, `${line} in ${text}`);
        return Number(m[1]);
      };
      assert.equal(value("sluice_kafka_fetch_sessions"), 0);
      assert.equal(value("sluice_kafka_fetch_session_partitions"), 0);
      assert.equal(value('sluice_kafka_fetches_total{kind="full"}'), 3);
      assert.equal(value('sluice_kafka_fetches_total{kind="incremental"}'), 13);
      assert.equal(value('sluice_kafka_fetches_total{kind="session_error"}'), 5);
      assert.equal(value('sluice_kafka_fetches_total{kind="sessionless"}'), 6);
      assert.equal(value("sluice_kafka_fetch_session_evictions_total"), 0);
    });
  } finally {
    c.close();
    await listener.close();
    await broker.close();
  }
});
