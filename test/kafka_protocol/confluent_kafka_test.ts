/**
 * confluent-kafka (librdkafka's Python binding, Debian's python3-confluent-kafka on librdkafka
 * 2.0.2, run by /usr/bin/python3) against the real server over its Kafka listener, through
 * confluent_kafka_client.py: an idempotent producer (acks=all, enable.idempotence=true, lz4,
 * murmur2 partitioner) produces N keyed records with headers and flushes; a high-level consumer
 * in a group reads them all back (auto.offset.reset=earliest) and commits; a second member of the
 * group finds nothing left. Counts, contents, order, delivery reports and commits are checked
 * here, and the group's committed offsets over HTTP; a second case starts a group on an
 * auto-created topic.
 *
 * Skipped (with a warning) only when /usr/bin/python3 cannot import confluent_kafka:
 * scripts/install-kafka-clients.sh.
 */
import assert from "node:assert/strict";
import { partitionForKey } from "../../src/record/murmur2.ts";
import { createTopic, fetchAll, highWatermarks, type Json, json } from "../http/server_harness.ts";
import {
  announceSkip,
  confluentKafkaAvailable,
  expectSuccess,
  type KafkaServer,
  run,
  SYSTEM_PYTHON,
  withKafkaServer,
} from "./kafka_harness.ts";

announceSkip(confluentKafkaAvailable, `python3-confluent-kafka (for ${SYSTEM_PYTHON})`);

const SCRIPT = new URL("./confluent_kafka_client.py", import.meta.url).pathname;
const encoder = new TextEncoder();

/** Runs the Python client and returns its JSON report (failing with its stderr and the server's). */
async function runClient(
  server: KafkaServer,
  topic: string,
  group: string,
  count: number,
): Promise<Json> {
  const result = await run(
    SYSTEM_PYTHON,
    [SCRIPT, server.bootstrap, topic, group, String(count)],
    { timeoutMs: 90_000, env: { PYTHONDONTWRITEBYTECODE: "1" } },
  );
  expectSuccess(result, `confluent_kafka_client.py ${topic}`, server);
  try {
    return JSON.parse(result.stdout);
  } catch {
    assert.fail(`client printed no JSON:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

function valueOf(i: number): { key: string; value: string } {
  return { key: `ck-${i % 101}`, value: `confluent value ${i} ${"y".repeat(i % 64)} ü` };
}

/** The assertions both cases share: delivery, consumption, commits. */
function checkReport(
  server: KafkaServer,
  report: Json,
  partitions: number,
  count: number,
): number[] {
  const why = `\nclient errors: ${
    JSON.stringify(report.errors)
  }\nserver stderr (tail):\n${server.stderrTail()}`;
  assert.deepEqual(report.errors, [], `librdkafka reported errors${why}`);
  assert.equal(report.metadata.error, null, `topic metadata error${why}`);
  assert.deepEqual(report.metadata.brokers, [server.bootstrap], "advertised broker");
  assert.deepEqual(
    report.metadata.partitions,
    [...Array(partitions).keys()],
    "partitions the client sees",
  );

  // Producer: every record delivered once, to murmur2(key)'s partition, at increasing offsets.
  assert.equal(report.produce.not_flushed, 0, `records still queued after flush${why}`);
  const delivered: Json[] = report.produce.delivered;
  assert.equal(delivered.length, count, "one delivery report per record");
  const failed = delivered.filter((d) => d.error !== null);
  assert.deepEqual(failed.slice(0, 5), [], `delivery failures (${failed.length})${why}`);
  const nextOffset = Array(partitions).fill(0);
  for (const d of delivered) {
    assert.equal(
      d.partition,
      partitionForKey(encoder.encode(d.key), partitions),
      `key ${d.key}: murmur2 partition`,
    );
  }
  // Per partition, delivery reports come in produce order with offsets 0, 1, 2, ...
  for (const d of delivered) {
    assert.equal(d.offset, nextOffset[d.partition], `delivery offset on partition ${d.partition}`);
    nextOffset[d.partition]++;
  }

  // Consumer: exactly the produced records, each partition in order, headers intact.
  const records: Json[] = report.consume.records;
  assert.deepEqual(report.consume.assigned, [...Array(partitions).keys()], "consumer assignment");
  assert.equal(records.length, count, `records consumed${why}`);
  const expectedByPartition: { key: string; value: string; seq: number }[][] = Array.from(
    { length: partitions },
    () => [],
  );
  for (let i = 0; i < count; i++) {
    const e = valueOf(i);
    expectedByPartition[partitionForKey(encoder.encode(e.key), partitions)].push({ ...e, seq: i });
  }
  for (let p = 0; p < partitions; p++) {
    const got = records.filter((r) => r.partition === p);
    const expected = expectedByPartition[p];
    assert.equal(got.length, expected.length, `partition ${p}: records consumed`);
    got.forEach((r, i) => {
      assert.equal(r.offset, i, `partition ${p}: offset #${i}`);
      if (r.key !== expected[i].key || r.value !== expected[i].value) {
        assert.fail(
          `partition ${p} offset ${i}: ${r.key}=${r.value}, expected ` +
            `${expected[i].key}=${expected[i].value}`,
        );
      }
      assert.deepEqual(
        r.headers,
        [["seq", String(expected[i].seq)], ["origin", "confluent-kafka"]],
        `partition ${p} offset ${i}: headers`,
      );
    });
  }

  // Commit: the next offset to read, per partition, and read back by OffsetFetch.
  const expectedCommits = nextOffset.map((offset, partition) => ({ partition, offset }));
  assert.deepEqual(
    (report.consume.commit as Json[]).map((c) => ({ partition: c.partition, offset: c.offset }))
      .sort((a, b) => a.partition - b.partition),
    expectedCommits.filter((c) => c.offset > 0),
    `commit result${why}`,
  );
  for (const c of report.consume.commit) assert.equal(c.error, null, `commit of ${c.partition}`);
  assert.deepEqual(
    report.consume.committed,
    expectedCommits.map((c) => c.offset > 0 ? c : { partition: c.partition, offset: -1001 }),
    "committed offsets read back by OffsetFetch (-1001: none)",
  );

  // A later member starts at the commits: every partition assigned, nothing re-read.
  assert.deepEqual(report.resume.assigned, [...Array(partitions).keys()], "resume: assignment");
  assert.equal(report.resume.records, 0, "a later member re-read committed records");
  console.log(
    `confluent-kafka: produced ${count} in ${report.produce.ms} ms, consumed in ` +
      `${report.consume.ms} ms`,
  );
  return nextOffset;
}

/** GET /v1/groups/{group}/offsets: the group's commits as the HTTP front shows them. */
async function checkHttpOffsets(
  server: KafkaServer,
  group: string,
  topic: string,
  expected: number[],
): Promise<void> {
  const res = await json(`${server.httpUrl}/v1/groups/${encodeURIComponent(group)}/offsets`);
  assert.equal(res.status, 200, `GET /v1/groups/${group}/offsets: ${res.text}`);
  const got = (res.body.offsets as Json[]).filter((o) => o.topic === topic)
    .sort((a, b) => a.partition - b.partition);
  assert.deepEqual(
    got.map((o) => ({ partition: o.partition, offset: Number(o.offset), lag: Number(o.lag) })),
    expected.map((offset, partition) => ({ partition, offset, lag: 0 }))
      .filter((o) => o.offset > 0),
    `commits made over Kafka, seen over HTTP: ${res.text}`,
  );
}

Deno.test({
  name: "confluent-kafka: idempotent acks=all producer, group consumer, commits (3 partitions)",
  ignore: !confluentKafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const topic = "ck-orders";
    const group = "ck-group";
    const COUNT = 3000;
    await createTopic(server.server, topic, 3);
    const report = await runClient(server, topic, group, COUNT);
    const next = checkReport(server, report, 3, COUNT);
    assert.deepEqual(await highWatermarks(server.server, topic), next, "high watermarks over HTTP");
    await checkHttpOffsets(server, group, topic, next);

    // The idempotent producer's records over HTTP: the same contents (a spot check).
    const p0 = await fetchAll(server.server, topic, 0);
    const firstOnP0 = [...Array(COUNT).keys()].map(valueOf)
      .find((e) => partitionForKey(encoder.encode(e.key), 3) === 0)!;
    assert.equal(p0[0].key, firstOnP0.key, "HTTP: first key on partition 0");
    assert.equal(p0[0].value, firstOnP0.value, "HTTP: first value on partition 0");
  });
});

Deno.test({
  name: "confluent-kafka: a topic auto-created by the producer's metadata request (1 partition)",
  ignore: !confluentKafkaAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const topic = "ck-auto";
    const report = await runClient(server, topic, "ck-auto-group", 200);
    const next = checkReport(server, report, 1, 200);
    await checkHttpOffsets(server, "ck-auto-group", topic, next);
  });
});
