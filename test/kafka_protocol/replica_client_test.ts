/**
 * The replica client (src/kafka_protocol/replica_client.ts, replica_connection.ts) against real
 * Sluice servers (`src/main.ts serve`, Kafka listener on `--kafka-port auto`): a follower's Fetch
 * (replica id 1) returns byte for byte what a consumer's Fetch returns, long polls, typed
 * per-partition errors, divergingEpoch, OffsetForLeaderEpoch; one connection with one ApiVersions
 * for many calls, concurrent calls queued on it; and whole-request failures typed
 * (CLUSTER_UNAVAILABLE naming the broker, with a reason): a refused connection, a silent listener,
 * a stopped (SIGSTOP) leader, an aborted call, an oversized answer, a leader killed mid-fetch, and
 * the reconnection to it once restarted on the same port; SASL/PLAIN with --auth.
 *
 * Today's server answers a replica's fetch as a consumer's (up to the high watermark, which on
 * one node is the log end), so the two must return the same bytes.
 */
import assert from "node:assert/strict";
import type {
  BrokerEndpoint,
  ReplicaFetchPartition,
  ReplicaFetchRequest,
} from "../../src/cluster/replica_transport.ts";
import { isSluiceError, type SluiceError } from "../../src/errors.ts";
import type { Struct } from "../../src/kafka_protocol/codec.ts";
import { ERROR_CODES } from "../../src/errors.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import { kafkaCodeFor, sluiceCodeFor } from "../../src/kafka_protocol/errors.ts";
import { FETCH_REQUEST, FETCH_RESPONSE } from "../../src/kafka_protocol/messages/fetch.ts";
import { PRODUCE_REQUEST, PRODUCE_RESPONSE } from "../../src/kafka_protocol/messages/produce.ts";
import { KafkaReplicaClient } from "../../src/kafka_protocol/replica_client.ts";
import { REPLICA_QUEUED_CALLS_MAX } from "../../src/limits.ts";
import { COMPRESSION_CODECS } from "../../src/record/compression.ts";
import { decodeBatches, encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { createTopic } from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import { type KafkaServer, startKafkaServer, waitFor, withKafkaServer } from "./kafka_harness.ts";
import { RawClient } from "./kafka_wire_util.ts";

const NODE_ID = 1;
const REPLICA_ID = 2;

function leaderOf(server: KafkaServer): BrokerEndpoint {
  return { nodeId: NODE_ID, host: "127.0.0.1", port: server.kafkaPort };
}

function part(
  topic: string,
  partition: number,
  fetchOffset: number,
  extra: Partial<ReplicaFetchPartition> = {},
): ReplicaFetchPartition {
  return {
    topic,
    partition,
    fetchOffset,
    currentLeaderEpoch: 0,
    lastFetchedEpoch: -1,
    logStartOffset: 0,
    partitionMaxBytes: 1 << 20,
    ...extra,
  };
}

function fetchRequest(
  partitions: ReplicaFetchPartition[],
  extra: Partial<ReplicaFetchRequest> = {},
): ReplicaFetchRequest {
  return {
    replicaId: REPLICA_ID,
    replicaEpoch: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 4 << 20,
    partitions,
    ...extra,
  };
}

function batchOf(values: string[], gzip = false): Uint8Array {
  return encodeRecordBatch(
    values.map((v, i) => ({ key: utf8(`k${i}`), value: utf8(v), headers: [] })),
    { timestampMs: 1_700_000_000_000, compression: gzip ? COMPRESSION_CODECS.gzip : undefined },
  );
}

/** Produces one batch with acks=all; returns its base offset. */
async function produce(raw: RawClient, topic: string, partition: number, batch: Uint8Array) {
  const res = await raw.call(PRODUCE_REQUEST, PRODUCE_RESPONSE, 7, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
  const p = ((res.responses as Struct[])[0].partitionResponses as Struct[])[0];
  assert.equal(p.errorCode, 0, `produce to ${topic}/${partition}`);
  return Number(p.baseOffset as bigint);
}

/** A consumer's Fetch v12 (replica id -1) of one partition from `offset`: its records bytes. */
async function consumerFetch(raw: RawClient, topic: string, partition: number, offset: number) {
  const res = await raw.call(FETCH_REQUEST, FETCH_RESPONSE, 12, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 4 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{
      topic,
      partitions: [{
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(offset),
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      }],
    }],
    forgottenTopicsData: [],
    rackId: "",
  });
  const p = ((res.responses as Struct[])[0].partitions as Struct[])[0];
  assert.equal(p.errorCode, 0, "consumer fetch");
  return p.records as Uint8Array;
}

/** Asserts `promise` rejects with a SluiceError of `code` naming the broker (and `reason`). */
async function rejectsTyped(
  promise: Promise<unknown>,
  code: string,
  leader: BrokerEndpoint,
  reason?: string | readonly string[],
): Promise<SluiceError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(isSluiceError(caught), `a SluiceError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.details?.broker, leader.nodeId, caught.message);
  assert.ok(caught.message.includes(`${leader.host}:${leader.port}`), caught.message);
  if (reason !== undefined) {
    const reasons = typeof reason === "string" ? [reason] : reason;
    assert.ok(reasons.includes(caught.details?.reason as string), caught.message);
  }
  return caught;
}

/** One counter of the server's /metrics (0 when absent). */
async function metric(server: KafkaServer, line: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const hit = text.split("\n").find((l) => l.startsWith(`${line} `));
  return hit === undefined ? 0 : Number(hit.slice(line.length + 1));
}

const API_VERSIONS = 'sluice_kafka_requests_total{api="ApiVersions"}';
const LONG_POLLS = "sluice_open_long_polls";

Deno.test("KafkaReplicaClient against a real server", async (t) => {
  await withKafkaServer({}, async (server) => {
    await createTopic(server.server, "orders", 2);
    const raw = await RawClient.connect(server.kafkaPort);
    const client = new KafkaReplicaClient({ clientId: "replica-test" });
    const leader = leaderOf(server);
    try {
      // A plain, a gzip and a large (> 4 KiB: sent by reference) batch.
      await produce(raw, "orders", 0, batchOf(["a", "b"]));
      await produce(raw, "orders", 0, batchOf(["c", "d", "e"], true));
      await produce(raw, "orders", 0, batchOf(["x".repeat(6000)]));
      const logEnd = 6;

      await t.step("a replica fetch from 0 returns the consumer fetch's bytes", async () => {
        const [r, ...rest] = await client.fetch(leader, fetchRequest([part("orders", 0, 0)]));
        assert.equal(rest.length, 0);
        assert.equal(r.error, undefined);
        assert.equal(r.topic, "orders");
        assert.equal(r.partition, 0);
        assert.equal(r.highWatermark, logEnd);
        assert.equal(r.logStartOffset, 0);
        assert.equal(r.logEndOffset, -1);
        assert.equal(r.divergingEpoch, undefined);
        assert.deepEqual(r.records, await consumerFetch(raw, "orders", 0, 0));
        const batches = decodeBatches(r.records);
        assert.deepEqual(batches.map((b) => b.baseOffset), [0, 2, 5]);
        assert.equal(new TextDecoder().decode(batches[1].records[2].value!), "e");
        // Handed on as a view of the answer's frame, not a copy of it.
        assert.ok(r.records.byteOffset > 0, "records start inside the frame");
        assert.ok(r.records.buffer.byteLength > r.records.length);
        // From the middle: the batch holding offset 3 and the rest.
        const [mid] = await client.fetch(leader, fetchRequest([part("orders", 0, 3)]));
        assert.deepEqual(mid.records, await consumerFetch(raw, "orders", 0, 3));
        assert.deepEqual(decodeBatches(mid.records).map((b) => b.baseOffset), [2, 5]);
      });

      await t.step("unknown partitions and topics are typed; the rest answers", async () => {
        const results = await client.fetch(
          leader,
          fetchRequest([
            part("orders", 0, logEnd),
            part("orders", 7, 0),
            part("nope", 0, 0),
            part("orders", 1, 0),
          ]),
        );
        const seen = results.map((r) => [r.topic, r.partition, r.error ?? "ok", r.records.length]);
        assert.deepEqual(seen, [
          ["orders", 0, "ok", 0],
          ["orders", 7, "PARTITION_NOT_FOUND", 0],
          ["orders", 1, "ok", 0],
          ["nope", 0, "PARTITION_NOT_FOUND", 0],
        ]);
        assert.equal(results[1].highWatermark, -1);
      });

      await t.step("leader epochs: fenced, unknown, and a diverging last epoch", async () => {
        const results = await client.fetch(
          leader,
          fetchRequest([
            part("orders", 0, 1, { currentLeaderEpoch: 5 }),
            // A follower that holds epoch 0 up to 8: this log's epoch 0 ends at 6.
            part("orders", 0, logEnd + 2, { currentLeaderEpoch: 0, lastFetchedEpoch: 0 }),
          ]),
        );
        assert.equal(results[0].error, "UNKNOWN_LEADER_EPOCH");
        assert.equal(results[1].error, undefined);
        assert.equal(results[1].records.length, 0);
        assert.deepEqual(results[1].divergingEpoch, { epoch: 0, endOffset: logEnd });
      });

      await t.step("offsetsForLeaderEpoch: epoch 0 ends at the log end", async () => {
        const answers = await client.offsetsForLeaderEpoch(leader, REPLICA_ID, [
          { topic: "orders", partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
          { topic: "orders", partition: 1, currentLeaderEpoch: -1, leaderEpoch: 0 },
          { topic: "orders", partition: 9, currentLeaderEpoch: -1, leaderEpoch: 0 },
          { topic: "orders", partition: 0, currentLeaderEpoch: 4, leaderEpoch: 0 },
        ]);
        assert.deepEqual(answers, [
          { topic: "orders", partition: 0, leaderEpoch: 0, endOffset: logEnd },
          { topic: "orders", partition: 1, leaderEpoch: 0, endOffset: 0 },
          {
            topic: "orders",
            partition: 9,
            leaderEpoch: -1,
            endOffset: -1,
            error: "PARTITION_NOT_FOUND",
          },
          {
            topic: "orders",
            partition: 0,
            leaderEpoch: -1,
            endOffset: -1,
            error: "UNKNOWN_LEADER_EPOCH",
          },
        ]);
      });

      await t.step("long poll: a fetch at the log end returns when a record arrives", async () => {
        const polling = client.fetch(
          leader,
          fetchRequest([part("orders", 0, logEnd)], { maxWaitMs: 20_000, minBytes: 1 }),
        );
        polling.catch(() => {}); // awaited below; no unhandled rejection if a wait fails first
        await waitFor(
          () => "the leader to hold the fetch",
          async () => await metric(server, LONG_POLLS) === 1,
        );
        const offset = await produce(raw, "orders", 0, batchOf(["late"]));
        assert.equal(offset, logEnd);
        const [r] = await polling;
        // Had the leader answered before the record (or at its timeout), records would be empty.
        const batches = decodeBatches(r.records);
        assert.deepEqual(batches.map((b) => b.baseOffset), [logEnd]);
        assert.equal(new TextDecoder().decode(batches[0].records[0].value!), "late");
        assert.equal(r.highWatermark, logEnd + 1);
      });

      await t.step("concurrent calls queue on one connection, one ApiVersions", async () => {
        const calls = Array.from(
          { length: 8 },
          (_, i) =>
            i % 4 === 3
              ? client.offsetsForLeaderEpoch(leader, REPLICA_ID, [
                { topic: "orders", partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
              ])
              : client.fetch(leader, fetchRequest([part("orders", 0, i)])),
        );
        const answers = await Promise.all(calls);
        for (let i = 0; i < answers.length; i++) {
          const a = answers[i][0];
          if (i % 4 === 3) assert.equal("endOffset" in a && a.endOffset, logEnd + 1);
          else {
            assert.ok("records" in a);
            assert.deepEqual(a.records, await consumerFetch(raw, "orders", 0, i), `call ${i}`);
          }
        }
        assert.equal(await metric(server, API_VERSIONS), 1);
      });

      await t.step("calls past REPLICA_QUEUED_CALLS_MAX waiting are refused", async () => {
        const calls = Array.from(
          { length: REPLICA_QUEUED_CALLS_MAX + 2 },
          () => client.fetch(leader, fetchRequest([part("orders", 0, 0)])),
        );
        const settled = await Promise.allSettled(calls);
        // One in flight, REPLICA_QUEUED_CALLS_MAX waiting, the last refused at once.
        assert.ok(settled.slice(0, -1).every((s) => s.status === "fulfilled"));
        const last = settled[settled.length - 1];
        assert.equal(last.status, "rejected");
        await rejectsTyped(Promise.reject(last.reason), "TOO_MANY_REQUESTS", leader, "queue_full");
      });

      await t.step("an answer over responseBytesMax is a bad answer", async () => {
        const small = new KafkaReplicaClient({ responseBytesMax: 64 });
        try {
          await rejectsTyped(
            small.fetch(leader, fetchRequest([part("orders", 0, 0)])),
            "CLUSTER_UNAVAILABLE",
            leader,
            "bad_answer",
          );
        } finally {
          await small.close();
        }
      });

      await t.step("an aborted long poll rejects typed; the next call reconnects", async () => {
        const before = await metric(server, API_VERSIONS);
        const abort = new AbortController();
        const polling = client.fetch(
          leader,
          fetchRequest([part("orders", 0, logEnd + 1)], { maxWaitMs: 20_000, minBytes: 1 }),
          abort.signal,
        );
        // A call queued behind it is not disturbed by its abort.
        const queued = client.offsetsForLeaderEpoch(leader, REPLICA_ID, [
          { topic: "orders", partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
        ]);
        abort.abort();
        await rejectsTyped(polling, "CLUSTER_UNAVAILABLE", leader, "aborted");
        assert.equal((await queued)[0].endOffset, logEnd + 1);
        assert.equal(await metric(server, API_VERSIONS), before + 1);
        // Aborted before it starts: rejected at once.
        await rejectsTyped(
          client.fetch(leader, fetchRequest([part("orders", 0, 0)]), AbortSignal.abort()),
          "CLUSTER_UNAVAILABLE",
          leader,
          "aborted",
        );
      });

      await t.step(
        "a stopped leader times out typed; once resumed, the next call works",
        async () => {
          const impatient = new KafkaReplicaClient({ requestTimeoutMs: 1000 });
          try {
            await impatient.fetch(leader, fetchRequest([part("orders", 0, 0)]));
            server.server.proc.kill("SIGSTOP");
            try {
              await rejectsTyped(
                impatient.fetch(leader, fetchRequest([part("orders", 0, 0)])),
                "CLUSTER_UNAVAILABLE",
                leader,
                "timeout",
              );
            } finally {
              server.server.proc.kill("SIGCONT");
            }
            const [r] = await impatient.fetch(leader, fetchRequest([part("orders", 0, 0)]));
            assert.deepEqual(r.records, await consumerFetch(raw, "orders", 0, 0));
          } finally {
            await impatient.close();
          }
        },
      );

      await t.step("after close() every call rejects client_closed", async () => {
        await client.close();
        await rejectsTyped(
          client.fetch(leader, fetchRequest([part("orders", 0, 0)])),
          "CLUSTER_UNAVAILABLE",
          leader,
          "client_closed",
        );
      });
    } finally {
      await client.close();
      raw.close();
    }
  });
});

Deno.test("KafkaReplicaClient: a leader killed mid-fetch, restarted on its port", async (t) => {
  const dataDir = tempDir("sluice-replica-client-");
  let server = await startKafkaServer({ dataDir });
  const port = server.kafkaPort;
  const leader = leaderOf(server);
  const client = new KafkaReplicaClient();
  const restart = async () => {
    server = await startKafkaServer({ dataDir, args: ["--kafka-port", String(port)] });
    assert.equal(server.kafkaPort, port);
  };
  try {
    await createTopic(server.server, "events", 1);
    const raw = await RawClient.connect(port);
    await produce(raw, "events", 0, batchOf(["one", "two"]));
    raw.close();
    const [first] = await client.fetch(leader, fetchRequest([part("events", 0, 0)]));
    assert.deepEqual(decodeBatches(first.records).map((b) => b.records.length), [2]);

    await t.step("killed mid-fetch: the long poll rejects typed", async () => {
      const polling = client.fetch(
        leader,
        fetchRequest([part("events", 0, 2)], { maxWaitMs: 25_000, minBytes: 1 }),
      );
      polling.catch(() => {}); // awaited below
      // Killed while it holds the fetch (its only long poll).
      await waitFor(
        () => "the leader to hold the fetch",
        async () => await metric(server, LONG_POLLS) === 1,
      );
      await server.stop("SIGKILL");
      // Lost before any answer on a used connection: tried once more, and refused.
      await rejectsTyped(polling, "CLUSTER_UNAVAILABLE", leader, ["closed", "connect"]);
      await rejectsTyped(
        client.fetch(leader, fetchRequest([part("events", 0, 0)])),
        "CLUSTER_UNAVAILABLE",
        leader,
        "connect",
      );
    });

    await t.step("the next call reaches the leader restarted on the same port", async () => {
      await restart();
      const [r] = await client.fetch(leader, fetchRequest([part("events", 0, 0)]));
      assert.equal(r.error, undefined);
      assert.deepEqual(r.records, first.records);
    });

    await t.step("a connection the restarted leader dropped is replaced at once", async () => {
      assert.equal(await server.stop(), 0);
      await restart();
      // The client's connection is to the previous process: the call still succeeds.
      const answers = await client.offsetsForLeaderEpoch(leader, REPLICA_ID, [
        { topic: "events", partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
      ]);
      assert.deepEqual(answers, [{ topic: "events", partition: 0, leaderEpoch: 0, endOffset: 2 }]);
      assert.equal(await metric(server, API_VERSIONS), 1);
    });
  } finally {
    await client.close();
    await server.stop().catch(() => {});
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("KafkaReplicaClient: connection failures are typed", async (t) => {
  await t.step("a refused connection", async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const client = new KafkaReplicaClient();
    const leader = { nodeId: 7, host: "127.0.0.1", port };
    try {
      await rejectsTyped(
        client.fetch(leader, fetchRequest([part("t", 0, 0)])),
        "CLUSTER_UNAVAILABLE",
        leader,
        "connect",
      );
    } finally {
      await client.close();
    }
  });

  await t.step("a listener that never answers ApiVersions", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    const leader = { nodeId: 8, host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port };
    const client = new KafkaReplicaClient({ connectTimeoutMs: 300 });
    try {
      await rejectsTyped(
        client.offsetsForLeaderEpoch(leader, REPLICA_ID, []),
        "CLUSTER_UNAVAILABLE",
        leader,
        "timeout",
      );
      assert.equal(held.length, 1);
    } finally {
      await client.close();
      listener.close();
      await accepting.catch(() => {});
      for (const c of held) c.close();
    }
  });
});

Deno.test("KafkaReplicaClient: SASL/PLAIN against a server with --auth", async (t) => {
  const dir = tempDir("sluice-replica-auth-");
  const tokens = {
    tokens: [
      { name: "admin", token: "admin-secret-0000000001", allow: [{ topic: "*", ops: ["admin"] }] },
      {
        name: "replica",
        token: "replica-secret-000000002",
        allow: [{ topic: "*", ops: ["read"] }],
      },
    ],
  };
  Deno.writeTextFileSync(`${dir}/auth.json`, JSON.stringify(tokens));
  try {
    await withKafkaServer({ args: ["--auth", `${dir}/auth.json`] }, async (server) => {
      const res = await fetch(`${server.httpUrl}/v1/topics`, {
        method: "POST",
        headers: {
          authorization: "Bearer admin-secret-0000000001",
          "content-type": "application/json",
        },
        body: JSON.stringify({ name: "secured", partitions: 1 }),
      });
      await res.body?.cancel();
      assert.equal(res.status, 201);
      const leader = leaderOf(server);

      await t.step("the right password fetches", async () => {
        const client = new KafkaReplicaClient({
          username: "replica",
          password: "replica-secret-000000002",
        });
        try {
          const [r] = await client.fetch(leader, fetchRequest([part("secured", 0, 0)]));
          assert.equal(r.error, undefined);
          assert.equal(r.highWatermark, 0);
        } finally {
          await client.close();
        }
      });

      await t.step("a wrong password is UNAUTHENTICATED", async () => {
        const client = new KafkaReplicaClient({ username: "replica", password: "wrong" });
        try {
          const err = await rejectsTyped(
            client.fetch(leader, fetchRequest([part("secured", 0, 0)])),
            "UNAUTHENTICATED",
            leader,
          );
          assert.ok(!err.message.includes("wrong"), "the password is not in the message");
        } finally {
          await client.close();
        }
      });

      await t.step("no credentials: the leader closes the connection", async () => {
        const client = new KafkaReplicaClient();
        try {
          await rejectsTyped(
            client.fetch(leader, fetchRequest([part("secured", 0, 0)])),
            "CLUSTER_UNAVAILABLE",
            leader,
            "closed",
          );
        } finally {
          await client.close();
        }
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("sluiceCodeFor reads a leader's Kafka error codes back as Sluice's", () => {
  // Every code Sluice sends reads back as a code that is sent as the same Kafka code.
  for (const code of ERROR_CODES) {
    const kafka = kafkaCodeFor(code);
    assert.equal(kafkaCodeFor(sluiceCodeFor(kafka)), kafka, code);
  }
  // Where one Kafka code stands for several, the broader name; a code never sent is INTERNAL.
  assert.equal(sluiceCodeFor(KafkaError.UNKNOWN_TOPIC_OR_PARTITION), "PARTITION_NOT_FOUND");
  assert.equal(sluiceCodeFor(KafkaError.KAFKA_STORAGE_ERROR), "STORAGE_ERROR");
  assert.equal(sluiceCodeFor(KafkaError.REQUEST_TIMED_OUT), "CLUSTER_UNAVAILABLE");
  assert.equal(sluiceCodeFor(KafkaError.FENCED_LEADER_EPOCH), "FENCED_LEADER_EPOCH");
  assert.equal(sluiceCodeFor(KafkaError.NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER");
  assert.equal(sluiceCodeFor(KafkaError.UNKNOWN_TOPIC_ID), "INTERNAL");
});
