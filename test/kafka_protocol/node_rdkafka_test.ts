/**
 * node-rdkafka 3.6 (librdkafka 2.12, built from npm by scripts/install-node-rdkafka.sh) against
 * the real server over its Kafka listener, through node_rdkafka_client.mjs run by Node (node-rdkafka
 * is a NAN addon, which Deno cannot load):
 *
 * - metadata of all topics (librdkafka >= 2.1 asks with null topics, Metadata v9+): every topic
 *   created over HTTP, with its partitions, and nothing else;
 * - idempotent producers (acks=all, enable.idempotence=true, murmur2_random) with lz4 and gzip
 *   (and no compression): one delivery report per record at contiguous offsets; the stored
 *   batches keep the codec, the producer id and contiguous sequences; the records over HTTP equal
 *   what was sent (keys, values, headers);
 * - a consumer group of two (the classic protocol, and KIP-848's consumer protocol, which
 *   librdkafka 2.12 speaks): every record consumed exactly once between them, commits read back;
 *   one leaves, the other is given every partition and resumes the leaver's from its commits
 *   (nothing re-read, later records all read); the commits over HTTP;
 * - zstd: stored as sent (codec 4) and read back by node-rdkafka (the HTTP front decodes none,
 *   gzip and lz4 only: a zstd batch over HTTP's JSON is 400 UNSUPPORTED_COMPRESSION);
 * - partitioner=murmur2_random puts keyed records where the HTTP API does (partitionForKey).
 *
 * Skipped loudly when node-rdkafka is not built (a failure under SLUICE_REQUIRE_KAFKA_CLIENTS=1).
 */
import assert from "node:assert/strict";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { compressionAt } from "../../src/record/record_batch.ts";
import {
  bytes,
  createTopic,
  fetchAll,
  highWatermarks,
  type Json,
  json,
  partitionUrl,
  RECORDBATCH_TYPE,
} from "../http/server_harness.ts";
import {
  allBatches,
  announceSkip,
  expectSuccess,
  type KafkaServer,
  NODE_RDKAFKA_DIR,
  nodeRdkafkaAvailable,
  run,
  withKafkaServer,
} from "./kafka_harness.ts";

announceSkip(
  nodeRdkafkaAvailable,
  `node-rdkafka (built in ${NODE_RDKAFKA_DIR})`,
  "scripts/install-node-rdkafka.sh",
);

const SCRIPT = new URL("./node_rdkafka_client.mjs", import.meta.url).pathname;
const encoder = new TextEncoder();
const CODEC_IDS: Record<string, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** Runs the Node client with a scenario; its JSON report (failing with both sides' stderr). */
async function runClient(server: KafkaServer, spec: Record<string, unknown>): Promise<Json> {
  const result = await run(
    "node",
    [SCRIPT, NODE_RDKAFKA_DIR, JSON.stringify({ bootstrap: server.bootstrap, ...spec })],
    { timeoutMs: 120_000 },
  );
  expectSuccess(result, `node_rdkafka_client.mjs ${spec.scenario}`, server);
  try {
    return JSON.parse(result.stdout);
  } catch {
    assert.fail(`client printed no JSON:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** What the client sent as record `seq` (its key, value and codec). */
function sent(seq: number, codec: string) {
  return {
    key: `nr-${seq % 37}`,
    value: `node-rdkafka ${codec} ${seq} ${"z".repeat(seq % 50)} ü`,
    headers: [["seq", String(seq)], ["codec", codec]],
  };
}

/** The group scenario with either group protocol, checked end to end. */
async function groupCase(t: Deno.TestContext, protocol: "classic" | "consumer"): Promise<void> {
  // The consumer protocol's heartbeat interval is the coordinator's (5 s by default): shorter here.
  const args = protocol === "consumer" ? ["--consumer-group-heartbeat-interval-ms", "300"] : [];
  await withKafkaServer({ args }, async (server) => {
    const topic = "nr-orders";
    const group = `nr-group-${protocol}`;
    const PARTITIONS = 3;
    const PER_CODEC = 400;
    const CODECS = ["lz4", "gzip"];
    const LATER = 150;
    const TOTAL = PER_CODEC * CODECS.length + LATER;
    await createTopic(server.server, topic, PARTITIONS);
    await createTopic(server.server, "nr-other", 2);
    await createTopic(server.server, "nr-single", 1);
    const report = await runClient(server, {
      scenario: "group",
      topic,
      group,
      partitions: PARTITIONS,
      perCodec: PER_CODEC,
      codecs: CODECS,
      later: LATER,
      protocol,
    });
    const why = `\nclient errors: ${
      JSON.stringify(report.errors)
    }\nserver stderr (tail):\n${server.stderrTail()}`;
    const all = [...Array(PARTITIONS).keys()];
    // What was sent, in order, and where murmur2 puts each.
    const expected = [...Array(TOTAL).keys()].map((seq) => {
      const codec = seq < PER_CODEC * CODECS.length ? CODECS[Math.floor(seq / PER_CODEC)] : "none";
      const e = sent(seq, codec);
      return { ...e, codec, partition: partitionForKey(encoder.encode(e.key), PARTITIONS) };
    });
    const expectedOn = (p: number) => expected.filter((e) => e.partition === p);

    await t.step("no client errors", () => {
      assert.deepEqual(report.errors, [], `librdkafka reported errors${why}`);
    });

    await t.step("metadata of all topics (null topics): every topic, nothing else", () => {
      assert.deepEqual(report.metadata.brokers, [server.bootstrap], "advertised broker");
      assert.deepEqual(report.metadata.topics, [
        { name: "nr-orders", partitions: [0, 1, 2] },
        { name: "nr-other", partitions: [0, 1] },
        { name: "nr-single", partitions: [0] },
      ]);
    });

    await t.step("delivery reports: every record once, murmur2's partition, contiguous", () => {
      const delivered: Json[] = report.produce.delivered;
      assert.equal(delivered.length, TOTAL, "one delivery report per record");
      const failed = delivered.filter((d) => d.error !== null);
      assert.deepEqual(failed.slice(0, 5), [], `delivery failures (${failed.length})${why}`);
      for (const p of all) {
        const mine = delivered.filter((d) => d.partition === p);
        assert.deepEqual(
          mine.map((d) => d.key),
          expectedOn(p).map((e) => e.key),
          `partition ${p}: keys in produce order`,
        );
        assert.deepEqual(mine.map((d) => d.offset), mine.map((_, i) => i), `partition ${p}`);
      }
    });

    await t.step(
      "stored batches: the producers' codecs, producer ids, contiguous sequences",
      async () => {
        const hw = await highWatermarks(server.server, topic);
        assert.deepEqual(hw, all.map((p) => expectedOn(p).length), "high watermarks");
        const producerIds = new Set<number>();
        for (const p of all) {
          const batches = await allBatches(server, topic, p);
          const codecs = new Set(batches.map((b) => b.compression));
          assert.deepEqual(
            [...codecs].sort(),
            [...CODECS, "none"].map((c) => CODEC_IDS[c]).sort(),
            `partition ${p}: batch codecs`,
          );
          // Per producer: sequences from 0, contiguous; one producer id per producer.
          const next = new Map<number, number>();
          for (const b of batches) {
            assert.ok(b.producerId >= 0, `partition ${p}: idempotent batch (${b.producerId})`);
            producerIds.add(b.producerId);
            assert.equal(b.baseSequence, next.get(b.producerId) ?? 0, `partition ${p}: sequence`);
            next.set(b.producerId, b.baseSequence + b.lastOffsetDelta + 1);
          }
        }
        assert.equal(producerIds.size, CODECS.length + 1, "one producer id per producer");
      },
    );

    await t.step("records over HTTP equal what was sent", async () => {
      for (const p of all) {
        const records = await fetchAll(server.server, topic, p);
        const want = expectedOn(p);
        assert.equal(records.length, want.length, `partition ${p}: records over HTTP`);
        records.forEach((r: Json, i: number) => {
          const got = {
            key: r.key,
            value: r.value,
            headers: (r.headers as Json[]).map((h) => [h.key, h.value]),
          };
          const { key, value, headers } = want[i];
          assert.deepEqual(got, { key, value, headers }, `HTTP ${p}@${i}`);
        });
      }
    });

    await t.step("the group of two consumed every record once; the leaver's resumed", () => {
      const split = report.split;
      assert.deepEqual(
        [...split.a, ...split.b].sort(),
        all,
        `assignments ${JSON.stringify(split)}`,
      );
      const consumed: Json[] = report.consumed;
      const ids = consumed.map((c) => `${c.partition}:${c.offset}`);
      assert.equal(new Set(ids).size, ids.length, "no record consumed twice");
      assert.equal(consumed.length, TOTAL, `records consumed${why}`);
      for (const p of all) {
        const mine = consumed.filter((c) => c.partition === p);
        assert.deepEqual(
          mine.map((c) => c.offset),
          expectedOn(p).map((_, i) => i),
          `partition ${p}: offsets in order`,
        );
        mine.forEach((c, i) => {
          const { key, value, headers } = expectedOn(p)[i];
          assert.deepEqual(
            { key: c.key, value: c.value, headers: c.headers },
            { key, value, headers },
            `consumed ${p}@${i}`,
          );
          // Before the leave, each partition's records went to its owner; after, all to a.
          const before = i < expectedOn(p).filter((e) => e.codec !== "none").length;
          const owner = before ? (split.a.includes(p) ? "a" : "b") : "a";
          assert.equal(c.member, owner, `consumed ${p}@${i}: by its owner`);
        });
      }
      assert.deepEqual(report.afterLeave.assignments.at(-1), all, "a owns all after b left");
    });

    await t.step("commits: read back by each member, and over HTTP", async () => {
      const firstRound = all.map((p) => expectedOn(p).filter((e) => e.codec !== "none").length);
      const byMember = [...report.committedByMember.a, ...report.committedByMember.b]
        .sort((x: Json, y: Json) => x.partition - y.partition);
      assert.deepEqual(
        byMember,
        all.map((partition) => ({ partition, offset: firstRound[partition] })),
        "each member's commits, read back by OffsetFetch",
      );
      const end = all.map((p) => expectedOn(p).length);
      assert.deepEqual(
        report.afterLeave.committed,
        all.map((partition) => ({ partition, offset: end[partition] })),
        "the remaining member's commits",
      );
      const res = await json(`${server.httpUrl}/v1/groups/${group}/offsets`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        (res.body.offsets as Json[]).filter((o) => o.topic === topic)
          .map((o) => ({ partition: o.partition, offset: Number(o.offset) }))
          .sort((x, y) => x.partition - y.partition),
        all.map((partition) => ({ partition, offset: end[partition] })),
        `commits over HTTP: ${res.text}`,
      );
    });
    console.log(`node-rdkafka: produced ${TOTAL - LATER} in ${report.produce.ms} ms`);
  });
}

Deno.test({
  name: "node-rdkafka: metadata, idempotent lz4/gzip producers, a classic group of two",
  ignore: !nodeRdkafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, (t) => groupCase(t, "classic"));

Deno.test({
  name: "node-rdkafka: the same with group.protocol=consumer (KIP-848, librdkafka >= 2.12)",
  ignore: !nodeRdkafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, (t) => groupCase(t, "consumer"));

Deno.test({
  name: "node-rdkafka: partitioner=murmur2_random puts keyed records where the HTTP API does",
  ignore: !nodeRdkafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const topic = "nr-keys";
    const PARTITIONS = 7;
    await createTopic(server.server, topic, PARTITIONS);
    const keys = [...Array(60).keys()].map((i) => `user-${i * 7919}`);
    const report = await runClient(server, { scenario: "partitioners", topic, keys });
    assert.deepEqual(report.errors, [], `client errors\n${server.stderrTail()}`);
    const where = (p: number) => partitionForKey(encoder.encode(`${keys[p]}`), PARTITIONS);
    assert.equal(report.murmur2.length, keys.length, "one delivery report per key");
    for (const d of report.murmur2 as Json[]) {
      assert.equal(d.error, null, `delivery of ${d.key}`);
      assert.equal(d.partition, where(keys.indexOf(d.key)), `murmur2_random: key ${d.key}`);
    }
    // The same keys produced over HTTP land on the same partitions.
    const res = await json(`${server.httpUrl}/v1/topics/${topic}/records`, {
      method: "POST",
      json: { records: keys.map((key) => ({ key, value: `http ${key}` })) },
    });
    assert.equal(res.status, 200, res.text);
    for (let p = 0; p < PARTITIONS; p++) {
      const records = await fetchAll(server.server, topic, p);
      const viaHttp = records.filter((r: Json) => r.value.startsWith("http ")).map((r: Json) =>
        r.key
      );
      const viaMurmur2 = records.filter((r: Json) => r.value.startsWith("murmur2 "))
        .map((r: Json) => r.key);
      assert.deepEqual(viaMurmur2, viaHttp, `partition ${p}: murmur2_random's keys = HTTP's keys`);
    }
    // The default (consistent_random: CRC32) need not agree; how often it does is only reported.
    const agree = (report.default as Json[]).filter((d) =>
      d.partition === where(keys.indexOf(d.key))
    );
    console.log(
      `node-rdkafka: consistent_random agrees with murmur2 on ${agree.length}/${keys.length} keys`,
    );
  });
});

Deno.test({
  name: "node-rdkafka: zstd batches are stored as sent and read back by node-rdkafka",
  ignore: !nodeRdkafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const topic = "nr-zstd";
    const COUNT = 300;
    await createTopic(server.server, topic, 1);
    const report = await runClient(server, { scenario: "zstd", topic, count: COUNT });
    assert.deepEqual(report.errors, [], `client errors\n${server.stderrTail()}`);
    assert.equal(report.delivered.length, COUNT, "one delivery report per record");
    report.delivered.forEach((d: Json, i: number) => {
      assert.deepEqual([d.error, d.offset], [null, i], `delivery #${i}`);
    });
    assert.deepEqual(
      (report.consumed as Json[]).map((c) => [c.offset, c.key, c.value]),
      [...Array(COUNT).keys()].map((i) => [i, `nr-${i % 37}`, sent(i, "zstd").value]),
      "read back by node-rdkafka",
    );
    // The stored bytes: every batch zstd (codec 4), walked by its length field.
    const res = await bytes(`${partitionUrl(server.server, topic, 0)}/records?offset=0`, {
      headers: { accept: RECORDBATCH_TYPE },
    });
    assert.equal(res.status, 200);
    const dv = new DataView(res.body.buffer, res.body.byteOffset, res.body.byteLength);
    const codecs = [];
    for (let pos = 0; pos + 12 <= dv.byteLength; pos += 12 + dv.getInt32(pos + 8)) {
      codecs.push(compressionAt(dv, pos));
    }
    assert.ok(codecs.length > 0, "stored batches");
    assert.deepEqual(codecs, codecs.map(() => 4), "every stored batch is zstd");
  });
});
