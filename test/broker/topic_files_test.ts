/**
 * A topic's files (src/broker/topic_files.ts, src/storage/log_lazy.ts) on real directories: a
 * create makes directories only and survives a SIGKILL right after it answers; the first append
 * makes a partition's files; a restart after a clean close reads no partition until it is used;
 * a big create or delete lets other requests (/healthz) be answered while it runs.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { tempDir } from "../test_util.ts";
import { Broker } from "../../src/broker/broker.ts";
import { CLEAN_SHUTDOWN_FILE } from "../../src/broker/topic_files.ts";
import { createApp } from "../../src/http/app.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../../src/limits.ts";
import { MemoryLogger, silentLogger } from "../../src/logger.ts";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";

const openBroker = (dataDir: string) => Broker.open({ dataDir, logger: new MemoryLogger() });
const batch = (value: string) =>
  encodeRecordBatch([{ value: utf8(value) }], { timestampMs: 1_700_000_000_000 });
const files = (dir: string) => fs.readdirSync(dir).sort();
const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

Deno.test("topic files: created as directories, made by the first append, read at first use", async (t) => {
  const dir = tempDir("sluice-topic-files-");
  let broker = await openBroker(dir);
  try {
    await t.step(
      "a create makes the partition directories and topic.json, nothing more",
      async () => {
        const before = broker.logFilesOpen;
        const topic = await broker.createTopic("orders", 8, {});
        assert.equal(broker.logFilesOpen, before, "no log file held open by a new topic");
        assert.deepEqual(files(join(dir, "topics", "orders")), [
          "0",
          "1",
          "2",
          "3",
          "4",
          "5",
          "6",
          "7",
          "topic.json",
        ]);
        for (let p = 0; p < 8; p++) {
          assert.deepEqual(files(join(dir, "topics", "orders", `${p}`)), []);
        }
        // Offsets and state of a new partition are answered without files.
        assert.equal(topic.logs[3].logEndOffset, 0);
        assert.equal(topic.logs[3].state, "online");
        assert.deepEqual(files(join(dir, "topics", "orders", "3")), []);
      },
    );

    await t.step("the first append makes the partition's segment files", async () => {
      const log = broker.topics.get("orders").logs[2];
      const { baseOffset } = await log.append(batch("first"));
      assert.equal(baseOffset, 0);
      assert.deepEqual(files(join(dir, "topics", "orders", "2")), [
        "00000000000000000000.index",
        "00000000000000000000.log",
        "00000000000000000000.timeindex",
      ]);
      await log.append(batch("second"));
      assert.equal(log.logEndOffset, 2);
    });

    await t.step(
      "a clean close marks the data dir; a partition never written keeps no file",
      async () => {
        await broker.close();
        assert.ok(fs.existsSync(join(dir, CLEAN_SHUTDOWN_FILE)));
        assert.deepEqual(files(join(dir, "topics", "orders", "5")), []);
        assert.ok(files(join(dir, "topics", "orders", "2")).includes("recovery-checkpoint"));
      },
    );

    await t.step("after a clean close the logs are read at their first use", async () => {
      broker = await openBroker(dir);
      assert.ok(!fs.existsSync(join(dir, CLEAN_SHUTDOWN_FILE)), "the mark is taken at open");
      const logs = broker.topics.get("orders").logs;
      assert.ok(logs.every((l) => !l.loaded), "no partition read at start");
      // The log files' LRU counts this module's descriptors; /proc/self/fd would also count those
      // of test files running beside it in this process (deno test --parallel).
      const opened = broker.logFilesOpen;
      assert.equal(opened, 0, "no log file open at start");
      // A /metrics scrape reads the partitions' figures from their files and loads none of them.
      const metricsOf = async (partition: number) => {
        const app = createApp(broker, { logger: silentLogger });
        const res = await app.fetch(new Request("http://sluice/metrics"));
        assert.equal(res.status, 200);
        const text = await res.text();
        const value = (name: string) => {
          const m = new RegExp(`^${name}\\{topic="orders",partition="${partition}"\\} (\\S+)$`, "m")
            .exec(text);
          assert.ok(m, `${name} of orders/${partition} in ${text.slice(0, 200)}`);
          return Number(m[1]);
        };
        return [
          "sluice_log_end_offset",
          "sluice_log_start_offset",
          "sluice_log_size_bytes",
          "sluice_log_segments",
          "sluice_log_offline",
          "sluice_log_damage",
        ].map(value);
      };
      const unloaded = [await metricsOf(2), await metricsOf(5)];
      assert.ok(logs.every((l) => !l.loaded), "no partition loaded by a scrape");
      assert.equal(broker.logFilesOpen, 0, "no log file opened by a scrape");
      assert.equal(unloaded[0][0], 2, "the log end from the clean shutdown's checkpoint");
      assert.ok(unloaded[0][2] > 0, "the segment's bytes");
      // The same figures as the loaded logs give.
      assert.equal(logs[2].state, "online");
      assert.equal(logs[5].state, "online");
      assert.ok(logs[2].loaded && logs[5].loaded && !logs[1].loaded);
      assert.deepEqual([await metricsOf(2), await metricsOf(5)], unloaded);
      assert.deepEqual(unloaded[1], [0, 0, 0, 1, 0, 0], "a partition never written");
      const log = logs[2];
      assert.equal(log.logEndOffset, 2, "as loaded");
      assert.equal(log.highWatermark, 2, "the checkpoint's high watermark: the log end");
      assert.ok(log.loaded && !logs[1].loaded);
      assert.equal(log.read(0)?.firstOffset, 0);
      assert.equal(broker.logFilesOpen, opened + 1, "the read opened its segment, one descriptor");
      const more = await log.append(batch("third"));
      assert.equal(more.baseOffset, 2);
      assert.equal(broker.topics.get("orders").logs[6].logEndOffset, 0);
    });

    await t.step("after a crash (no mark) every log is opened and recovered at start", async () => {
      const logs = broker.topics.get("orders").logs;
      await logs[2].append(batch("fourth"));
      // A crash: the mark is not written; the log's checkpoint is behind its end.
      await broker.close();
      fs.rmSync(join(dir, CLEAN_SHUTDOWN_FILE));
      broker = await openBroker(dir);
      assert.equal(broker.topics.get("orders").logs[2].logEndOffset, 4);
    });

    await t.step(
      "a partition directory lost while closed is offline at its first use",
      async () => {
        await broker.close();
        fs.rmSync(join(dir, "topics", "orders", "4"), { recursive: true });
        broker = await openBroker(dir);
        const topic = broker.topics.get("orders");
        assert.equal(topic.logs[4].state, "offline");
        assert.ok(!fs.existsSync(join(dir, "topics", "orders", "4")), "nothing made in its place");
        assert.equal(topic.logs[2].logEndOffset, 4);
      },
    );
  } finally {
    await broker.close();
  }
});

Deno.test("topic files: a big create or delete lets /healthz be answered before it ends", async (t) => {
  const dir = tempDir("sluice-topic-stall-");
  const broker = await openBroker(dir);
  const app = createApp(broker, { logger: silentLogger });
  const partitions = PARTITIONS_PER_TOPIC_MAX;
  try {
    for (const op of ["create", "delete"] as const) {
      await t.step(`${op} of ${partitions} partitions`, async () => {
        const order: string[] = [];
        const request = op === "create"
          ? new Request("http://sluice/v1/topics", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "big", partitions }),
          })
          : new Request("http://sluice/v1/topics/big", { method: "DELETE" });
        const answered = Promise.resolve(app.fetch(request)).then(async (res) => {
          order.push(op);
          await res.body?.cancel();
          return res.status;
        });
        await macrotask(); // the request is being served
        const health = await app.fetch(new Request("http://sluice/healthz"));
        order.push("healthz");
        assert.equal(health.status, 200);
        await health.body?.cancel();
        assert.equal(await answered, op === "create" ? 201 : 204);
        assert.deepEqual(order, ["healthz", op]);
      });
    }
  } finally {
    app.beginShutdown();
    await broker.close();
  }
});

Deno.test("topic files: a topic survives a SIGKILL right after its create answers", async () => {
  const dir = tempDir("sluice-topic-kill-");
  const partitions = 16;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./topic_create_child.ts", import.meta.url).pathname, dir, "16"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const created: string[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (created.length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) created.push(line.replace(/^created /, ""));
  }
  child.kill("SIGKILL");
  await reader.cancel();
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", await stderr);
  assert.ok(created.length >= 3, `the child created ${created}: ${await stderr}`);
  const broker = await openBroker(dir);
  try {
    for (const name of created) {
      const topic = broker.topics.get(name);
      assert.equal(topic.logs.length, partitions);
      for (const log of topic.logs) assert.equal(log.state, "online", `${name} ${log.dir}`);
      const { baseOffset } = await topic.logs[partitions - 1].append(batch(name));
      assert.equal(baseOffset, 0);
    }
  } finally {
    await broker.close();
  }
});
