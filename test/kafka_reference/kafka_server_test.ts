/**
 * The reference Kafka broker itself (test/kafka_reference/kafka_server.ts): Apache Kafka 4.4 from
 * Maven Central's jars starts as a single combined KRaft node, its own tools create a topic,
 * produce 10 keyed records and read them back, and stop() leaves no process and no directory.
 * Skipped loudly when scripts/install-kafka.sh has not run (a failure under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1, as in CI).
 */
import assert from "node:assert/strict";
import {
  announceKafkaSkip,
  apiVersionsAnswers,
  KAFKA_TOOLS,
  kafkaAvailable,
  kafkaVersion,
  randomClusterId,
  startKafka,
} from "./kafka_server.ts";

announceKafkaSkip();

/** Whether a process with this pid exists (Linux: /proc/PID; the JVM was reaped by then). */
function processExists(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

Deno.test("randomClusterId: 22 characters of base64url, a version-4 UUID, fresh each time", () => {
  // 2000 ids: about 31 would start with "-" (1 in 64), which StorageTool reads as an option.
  const ids = new Set(Array.from({ length: 2000 }, () => randomClusterId()));
  assert.equal(ids.size, 2000);
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    const bytes = Uint8Array.from(
      atob(id.replaceAll("-", "+").replaceAll("_", "/") + "=="),
      (c) => c.charCodeAt(0),
    );
    assert.equal(bytes.length, 16);
    assert.equal(bytes[6] >> 4, 4, `version nibble of ${id}`);
  }
});

Deno.test({
  name:
    "Apache Kafka 4.4 runs from its jars: topic, 10 keyed records produced and consumed, stopped",
  ignore: !kafkaAvailable,
  async fn(t) {
    const kafka = await startKafka();
    console.log(`Kafka ${kafkaVersion} answered on ${kafka.bootstrap} after ${kafka.startMs} ms`);
    let stoppedCleanly = false;
    try {
      const topic = "reference-orders";
      const why = (what: string, r: { code: number; stderr: string }) =>
        `${what} exited ${r.code}\nstderr:\n${r.stderr.slice(-4000)}\n${kafka.logTail(30)}`;

      await t.step("kafka-topics creates a topic with 3 partitions and lists it", async () => {
        const created = await kafka.runClass(KAFKA_TOOLS.topics, [
          "--bootstrap-server",
          kafka.bootstrap,
          "--create",
          "--topic",
          topic,
          "--partitions",
          "3",
          "--replication-factor",
          "1",
        ], { timeoutMs: 60_000 });
        assert.equal(created.code, 0, why("kafka-topics --create", created));
        const described = await kafka.runClass(KAFKA_TOOLS.topics, [
          "--bootstrap-server",
          kafka.bootstrap,
          "--describe",
          "--topic",
          topic,
        ], { timeoutMs: 60_000 });
        assert.equal(described.code, 0, why("kafka-topics --describe", described));
        assert.match(described.stdout, new RegExp(`Topic: ${topic}\\s.*PartitionCount: 3`));
        const partitionLines = described.stdout.split("\n").filter((l) =>
          /\sPartition: \d/.test(l)
        );
        assert.equal(partitionLines.length, 3, described.stdout);
      });

      const sent = Array.from({ length: 10 }, (_, i) => ({ key: `key-${i % 4}`, value: `v-${i}` }));

      await t.step("the console producer sends 10 keyed records (acks=all)", async () => {
        const produced = await kafka.runClass(KAFKA_TOOLS.consoleProducer, [
          "--bootstrap-server",
          kafka.bootstrap,
          "--topic",
          topic,
          "--request-required-acks",
          "all",
          "--reader-property",
          "parse.key=true",
          "--reader-property",
          "key.separator=:",
        ], { stdin: sent.map((r) => `${r.key}:${r.value}\n`).join(""), timeoutMs: 60_000 });
        assert.equal(produced.code, 0, why("console producer", produced));
      });

      await t.step(
        "the console consumer reads the 10 back, keys on one partition each",
        async () => {
          const consumed = await kafka.runClass(KAFKA_TOOLS.consoleConsumer, [
            "--bootstrap-server",
            kafka.bootstrap,
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            "10",
            "--timeout-ms",
            "30000",
            "--formatter-property",
            "print.key=true",
            "--formatter-property",
            "print.partition=true",
            "--formatter-property",
            "print.offset=true",
            "--formatter-property",
            "key.separator=|",
          ], { timeoutMs: 60_000 });
          assert.equal(consumed.code, 0, why("console consumer", consumed));
          // DefaultMessageFormatter, its one separator set to "|": "Partition:P|Offset:O|KEY|VALUE"
          const lines = consumed.stdout.trimEnd().split("\n").filter((l) => l !== "");
          assert.equal(lines.length, 10, consumed.stdout);
          const records = lines.map((line) => {
            const m = line.match(/^Partition:(\d+)\|Offset:(\d+)\|([^|]*)\|(.*)$/);
            assert.ok(m, `unexpected consumer line: ${JSON.stringify(line)}`);
            return { partition: Number(m[1]), offset: Number(m[2]), key: m[3], value: m[4] };
          });
          const byValue = (a: { value: string }, b: { value: string }) =>
            a.value.localeCompare(b.value, "en", { numeric: true });
          assert.deepEqual(
            records.map(({ key, value }) => ({ key, value })).sort(byValue),
            [...sent].sort(byValue),
          );
          // One key, one partition; within it, the producer's order at consecutive offsets.
          const partitionOfKey = new Map<string, number>();
          for (const r of records) {
            assert.equal(partitionOfKey.get(r.key) ?? r.partition, r.partition, `key ${r.key}`);
            partitionOfKey.set(r.key, r.partition);
          }
          for (const p of new Set(records.map((r) => r.partition))) {
            const inP = records.filter((r) => r.partition === p);
            assert.deepEqual(inP.map((r) => r.offset), inP.map((_, i) => i), `partition ${p}`);
            const sentOrder = sent.filter((s) => inP.some((r) => r.value === s.value));
            assert.deepEqual(inP.map((r) => r.value), sentOrder.map((s) => s.value));
          }
        },
      );

      await t.step(
        "stop(): SIGTERM ends the JVM, its dir is removed, the port is closed",
        async () => {
          const { code, killed } = await kafka.stop();
          stoppedCleanly = true;
          assert.equal(killed, false, `Kafka needed SIGKILL\n${kafka.logTail(30)}`);
          // A JVM ended by SIGTERM runs its shutdown hooks and exits 143 (128 + 15).
          assert.ok(code === 0 || code === 143, `exit code ${code}`);
          assert.equal(processExists(kafka.pid), false, `pid ${kafka.pid} still exists`);
          assert.equal(await exists(kafka.dir), false, `${kafka.dir} still exists`);
          assert.equal(await apiVersionsAnswers(kafka.port), false, "the port still answers");
        },
      );
    } finally {
      if (!stoppedCleanly) await kafka.stop().catch(() => {});
    }
  },
});

Deno.test({
  name:
    "startKafka: a broker that cannot bind its port fails fast with its log; no process, no dir",
  ignore: !kafkaAvailable,
  async fn() {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (taken.addr as Deno.NetAddr).port;
      const started = performance.now();
      const err = await startKafka({ port }).then(
        (kafka) => kafka.stop().then(() => assert.fail("Kafka started on a port already taken")),
        (e: Error) => e,
      );
      const ms = performance.now() - started;
      assert.match(err.message, /exited \(\d+\) before answering/, err.message);
      assert.match(err.message, /Address already in use|BindException/, err.message);
      assert.ok(ms < 60_000, `took ${ms} ms`);
      const dir = err.message.match(/\(dir (\S+)\)/)?.[1];
      assert.ok(dir, err.message);
      assert.equal(await exists(dir), false, `${dir} still exists`);
    } finally {
      taken.close();
    }
  },
});

Deno.test({
  name:
    "startKafka: startup is bounded; past startTimeoutMs the JVM is stopped and the dir removed",
  ignore: !kafkaAvailable,
  async fn() {
    const err = await startKafka({ startTimeoutMs: 1 }).then(
      (kafka) => kafka.stop().then(() => assert.fail("Kafka answered within 1 ms")),
      (e: Error) => e,
    );
    assert.match(err.message, /did not answer ApiVersions on 127\.0\.0\.1:\d+ within 1 ms/);
    assert.match(err.message, /--- JVM stdout\+stderr \(tail\) ---/);
    const dir = err.message.match(/\(dir (\S+)\)/)?.[1];
    assert.ok(dir, err.message);
    assert.equal(await exists(dir), false, `${dir} still exists`);
  },
});
