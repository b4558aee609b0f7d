/**
 * kcat (librdkafka's command-line client, Debian's kcat 1.7.1 on librdkafka 2.0.2) against the
 * real server over its Kafka listener: 10,000 keyed records with headers produced from a file and
 * consumed back whole and in order, keys on the partitions Kafka's murmur2 partitioner picks,
 * `kcat -L -J` metadata, auto-creation, compressed batches, and records crossing between the
 * Kafka and HTTP fronts in both directions.
 *
 * Skipped (with a warning) only when kcat is not installed: scripts/install-kafka-clients.sh.
 */
import assert from "node:assert/strict";
import { partitionForKey } from "../../src/record/murmur2.ts";
import {
  createTopic,
  fetchAll,
  highWatermarks,
  type Json,
  produce,
} from "../http/server_harness.ts";
import {
  announceSkip,
  expectSuccess,
  type KafkaServer,
  kcatAvailable,
  run,
  withKafkaServer,
} from "./kafka_harness.ts";

announceSkip(kcatAvailable, "kcat");

const encoder = new TextEncoder();

/** Common kcat flags: the broker, quiet, and short timeouts so a hang fails fast. */
function kcatArgs(server: KafkaServer, ...args: string[]): string[] {
  return [
    "-b",
    server.bootstrap,
    "-q",
    "-X",
    "socket.timeout.ms=10000",
    "-X",
    "topic.metadata.refresh.interval.ms=1000",
    ...args,
  ];
}

interface KcatLine {
  partition: number;
  offset: number;
  key: string;
  value: string;
  headers: string;
}

/** `%p\t%o\t%k\t%s\t%h\n` lines (keys, values and headers here hold no tab or newline). */
function parseLines(stdout: string): KcatLine[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) => {
    const f = l.split("\t");
    assert.equal(f.length, 5, `kcat output line has 5 tab-separated fields: ${JSON.stringify(l)}`);
    return {
      partition: Number(f[0]),
      offset: Number(f[1]),
      key: f[2],
      value: f[3],
      headers: f[4],
    };
  });
}

/** `kcat -C -J` lines: one JSON envelope per record. */
function parseJsonLines(stdout: string): Json[] {
  return stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

Deno.test({
  name: "kcat: 10,000 keyed records with headers, produced from a file and consumed back",
  ignore: !kcatAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({}, async (server) => {
    const topic = "kcat-keyed";
    const PARTITIONS = 3;
    const N = 10_000;
    await createTopic(server.server, topic, PARTITIONS);

    // key:value lines; a value may hold the delimiter (only the first ':' splits), UTF-8, and
    // every 997th is 20 KB so batches are of mixed sizes.
    const sent: { key: string; value: string }[] = [];
    for (let i = 0; i < N; i++) {
      const key = `user-${(i * 7919) % 613}`;
      const filler = i % 997 === 0 ? "z".repeat(20_000) : "x".repeat(i % 40);
      sent.push({ key, value: `v${i}:${filler}:ü€ ${key}` });
    }
    const file = await Deno.makeTempFile({ prefix: "sluice-kcat-", suffix: ".txt" });
    try {
      await Deno.writeTextFile(file, sent.map((m) => `${m.key}:${m.value}\n`).join(""));
      const produced = await run("kcat", [
        ...kcatArgs(server, "-P", "-t", topic, "-K:", "-H", "trace=abc-123", "-H", "src=kcat ü"),
        "-X",
        "partitioner=murmur2_random",
        "-X",
        "linger.ms=20",
        "-l",
        file,
      ], { timeoutMs: 60_000 });
      expectSuccess(produced, "kcat -P -l FILE (10,000 keyed records)", server);
      console.log(`kcat produced ${N} records in ${produced.ms} ms`);
    } finally {
      await Deno.remove(file).catch(() => {});
    }

    const hw = await highWatermarks(server.server, topic);
    assert.equal(
      hw.reduce((a, b) => a + b, 0),
      N,
      `high watermarks over HTTP after kcat's produce: ${hw.join(", ")}`,
    );

    const consumed = await run(
      "kcat",
      kcatArgs(server, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%p\t%o\t%k\t%s\t%h\n"),
      { timeoutMs: 60_000 },
    );
    expectSuccess(consumed, "kcat -C -e", server);
    console.log(`kcat consumed ${N} records in ${consumed.ms} ms`);
    const lines = parseLines(consumed.stdout);
    assert.equal(lines.length, N, `kcat -C read ${lines.length} records, ${N} were produced`);

    // Every partition's records in offset order 0..n-1, and in the order they were sent: the
    // subsequence of `sent` whose keys murmur2 puts on that partition, exactly.
    const byPartition = new Map<number, KcatLine[]>();
    for (const l of lines) {
      assert.ok(l.partition >= 0 && l.partition < PARTITIONS, `partition ${l.partition}`);
      const list = byPartition.get(l.partition) ?? [];
      list.push(l);
      byPartition.set(l.partition, list);
    }
    for (let p = 0; p < PARTITIONS; p++) {
      const got = byPartition.get(p) ?? [];
      assert.equal(got.length, hw[p], `partition ${p}: records read vs high watermark`);
      got.forEach((l, i) => assert.equal(l.offset, i, `partition ${p}: offset of record #${i}`));
      const expected = sent.filter((m) => partitionForKey(encoder.encode(m.key), PARTITIONS) === p);
      assert.equal(got.length, expected.length, `partition ${p}: count vs murmur2 partitioning`);
      for (let i = 0; i < expected.length; i++) {
        if (got[i].key !== expected[i].key || got[i].value !== expected[i].value) {
          assert.fail(
            `partition ${p} offset ${i}: got ${got[i].key}:${got[i].value.slice(0, 80)}, ` +
              `expected ${expected[i].key}:${expected[i].value.slice(0, 80)}`,
          );
        }
        if (got[i].headers !== "trace=abc-123,src=kcat ü") {
          assert.fail(`partition ${p} offset ${i}: headers ${JSON.stringify(got[i].headers)}`);
        }
      }
    }

    // Per-key stability, whatever the partitioner: one key, one partition.
    const keyPartition = new Map<string, number>();
    for (const l of lines) {
      const seen = keyPartition.get(l.key);
      if (seen !== undefined && seen !== l.partition) {
        assert.fail(`key ${l.key} is on partitions ${seen} and ${l.partition}`);
      }
      keyPartition.set(l.key, l.partition);
    }
    assert.equal(keyPartition.size, 613, "distinct keys");

    // The same records over HTTP (one partition, spot check of contents and headers).
    const http = await fetchAll(server.server, topic, 1);
    assert.equal(http.length, hw[1], "HTTP fetch of partition 1: count");
    const p1 = byPartition.get(1)!;
    for (const i of [0, Math.floor(http.length / 2), http.length - 1]) {
      assert.equal(http[i].key, p1[i].key, `HTTP partition 1 offset ${i}: key`);
      assert.equal(http[i].value, p1[i].value, `HTTP partition 1 offset ${i}: value`);
      assert.deepEqual(
        http[i].headers,
        [{ key: "trace", value: "abc-123" }, { key: "src", value: "kcat ü" }],
        `HTTP partition 1 offset ${i}: headers`,
      );
    }

    // kcat -L -J: the broker's advertised host:port and the topic with its 3 partitions.
    const meta = await run("kcat", kcatArgs(server, "-L", "-J"), { timeoutMs: 30_000 });
    expectSuccess(meta, "kcat -L -J", server);
    const md = JSON.parse(meta.stdout);
    assert.deepEqual(
      md.brokers.map((b: Json) => b.name),
      [server.bootstrap],
      `kcat -L -J brokers: ${JSON.stringify(md.brokers)}`,
    );
    const t = md.topics.find((x: Json) => x.topic === topic);
    assert.ok(t, `kcat -L -J lists ${topic}: ${meta.stdout}`);
    assert.equal(t.error, undefined, `topic error in metadata: ${JSON.stringify(t)}`);
    assert.deepEqual(
      t.partitions.map((p: Json) => p.partition).sort(),
      [0, 1, 2],
      `partitions of ${topic}`,
    );
    for (const p of t.partitions) {
      assert.equal(p.leader, md.brokers[0].id, `leader of partition ${p.partition}`);
    }

    // The Kafka listener's families are part of the server's /metrics.
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    assert.match(metrics, /^sluice_kafka_requests_total\{api="Produce"\} [1-9]\d*$/m);
    assert.match(metrics, /^sluice_kafka_requests_total\{api="Fetch"\} [1-9]\d*$/m);
    assert.match(metrics, /^sluice_kafka_requests_total\{api="Metadata"\} [1-9]\d*$/m);
    assert.match(metrics, /^sluice_records_in_total\{topic="[^"]+"\} 10000$/m);
  });
});

Deno.test({
  name: "kcat: a produce to an unknown topic auto-creates it with --default-partitions",
  ignore: !kcatAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withKafkaServer({ args: ["--default-partitions", "2"] }, async (server) => {
    const topic = "kcat-auto";
    const produced = await run(
      "kcat",
      kcatArgs(server, "-P", "-t", topic, "-K:", "-X", "partitioner=murmur2_random"),
      { stdin: "a:1\nb:2\nc:3\nd:4\n", timeoutMs: 30_000 },
    );
    expectSuccess(produced, "kcat -P to an unknown topic", server);

    const meta = await run("kcat", kcatArgs(server, "-L", "-J", "-t", topic), {
      timeoutMs: 30_000,
    });
    expectSuccess(meta, "kcat -L -J -t", server);
    const t = JSON.parse(meta.stdout).topics.find((x: Json) => x.topic === topic);
    assert.ok(t, `auto-created ${topic} listed: ${meta.stdout}`);
    assert.equal(
      t.partitions.length,
      2,
      `auto-created with --default-partitions 2: ${meta.stdout}`,
    );

    const hw = await highWatermarks(server.server, topic);
    assert.deepEqual(hw.reduce((a, b) => a + b, 0), 4, `records over HTTP: ${hw}`);
    for (const [key, value] of [["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]]) {
      const p = partitionForKey(encoder.encode(key), 2);
      const records = await fetchAll(server.server, topic, p);
      assert.ok(
        records.some((r) => r.key === key && r.value === value),
        `${key}:${value} on partition ${p} over HTTP: ${JSON.stringify(records)}`,
      );
    }
  });
});

Deno.test({
  name: "kcat: gzip, lz4, snappy and zstd batches from librdkafka are stored and read back",
  ignore: !kcatAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await withKafkaServer({}, async (server) => {
    // gzip and lz4 are Sluice's own codecs (its HTTP front decodes them); snappy and zstd it
    // stores as bytes, so a Kafka client still reads them back (the HTTP front may refuse them).
    for (const codec of ["gzip", "lz4", "snappy", "zstd"]) {
      await t.step(codec, async () => {
        const topic = `kcat-${codec}`;
        await createTopic(server.server, topic, 1);
        const lines: string[] = [];
        for (let i = 0; i < 500; i++) {
          lines.push(`k${i % 10}:${codec} record ${i} ${"abc".repeat(i % 30)}`);
        }
        const produced = await run(
          "kcat",
          kcatArgs(server, "-P", "-t", topic, "-K:", "-z", codec, "-X", "linger.ms=50"),
          { stdin: lines.join("\n") + "\n", timeoutMs: 30_000 },
        );
        expectSuccess(produced, `kcat -P -z ${codec}`, server);
        const consumed = await run(
          "kcat",
          kcatArgs(
            server,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-f",
            "%p\t%o\t%k\t%s\t%h\n",
          ),
          { timeoutMs: 30_000 },
        );
        expectSuccess(consumed, `kcat -C of ${codec} batches`, server);
        const got = parseLines(consumed.stdout);
        assert.equal(got.length, lines.length, `${codec}: records read back`);
        got.forEach((l, i) => {
          assert.equal(l.offset, i, `${codec}: offset #${i}`);
          assert.equal(`${l.key}:${l.value}`, lines[i], `${codec}: record ${i}`);
        });
        if (codec === "gzip" || codec === "lz4") {
          const http = await fetchAll(server.server, topic, 0);
          assert.equal(http.length, lines.length, `${codec}: records over HTTP`);
          assert.equal(
            `${http[499].key}:${http[499].value}`,
            lines[499],
            `${codec}: last over HTTP`,
          );
        }
      });
    }
  });
});

Deno.test({
  name:
    "kcat and HTTP: a record written over HTTP is read by kcat, and one written by kcat over HTTP",
  ignore: !kcatAvailable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await withKafkaServer({}, async (server) => {
    const topic = "cross";
    await createTopic(server.server, topic, 1);

    await t.step("HTTP -> kcat", async () => {
      const offsets = await produce(server.server, topic, {
        records: [
          {
            key: "http-key",
            value: "written over HTTP ü",
            headers: [{ key: "origin", value: "http" }, { key: "n", value: "1" }],
            timestamp: 1_700_000_000_123,
          },
          { key: null, value: "second, no key" },
        ],
      });
      assert.deepEqual(offsets, [{ partition: 0, offset: 0 }, { partition: 0, offset: 1 }]);
      const consumed = await run(
        "kcat",
        kcatArgs(server, "-C", "-t", topic, "-o", "beginning", "-e", "-J"),
        { timeoutMs: 30_000 },
      );
      expectSuccess(consumed, "kcat -C -J of records written over HTTP", server);
      const got = parseJsonLines(consumed.stdout);
      assert.equal(got.length, 2, `kcat read: ${consumed.stdout}`);
      assert.equal(got[0].key, "http-key");
      assert.equal(got[0].payload, "written over HTTP ü");
      assert.deepEqual(
        got[0].headers,
        ["origin", "http", "n", "1"],
        "headers as kcat -J shows them",
      );
      assert.equal(got[0].offset, 0);
      assert.equal(got[0].partition, 0);
      assert.equal(got[0].ts, 1_700_000_000_123, "the timestamp given over HTTP");
      assert.equal(got[1].key, null, "a null key stays null");
      assert.equal(got[1].payload, "second, no key");
      assert.equal(got[1].offset, 1);
    });

    await t.step("kcat -> HTTP", async () => {
      const produced = await run(
        "kcat",
        kcatArgs(server, "-P", "-t", topic, "-p", "0", "-K:", "-H", "origin=kcat"),
        { stdin: "kcat-key:written by kcat: ok\n", timeoutMs: 30_000 },
      );
      expectSuccess(produced, "kcat -P", server);
      const records = await fetchAll(server.server, topic, 0);
      assert.equal(records.length, 3, `records over HTTP: ${JSON.stringify(records)}`);
      const r = records[2];
      assert.equal(r.offset, 2);
      assert.equal(r.key, "kcat-key");
      assert.equal(r.value, "written by kcat: ok");
      assert.deepEqual(r.headers, [{ key: "origin", value: "kcat" }]);
      assert.ok(
        Math.abs(r.timestamp - Date.now()) < 60_000,
        `kcat's record timestamp ${r.timestamp} is about now`,
      );
    });
  });
});
