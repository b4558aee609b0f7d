/**
 * The same code runs on Bun: the storage demo (record codec, native CRC-32C and LZ4, partition
 * log, recovery checkpoint) under Bun. .ci/run installs Bun from npm; elsewhere the test runs when
 * a `bun` binary is found (PATH, SLUICE_BUN, or node_modules/.bin) and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import { findBun } from "../test_util.ts";
import { Kafka, logLevel } from "kafkajs";

const bun = findBun();
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "Bun runs the storage demo with the native CRC-32C and LZ4 addons",
  ignore: bun === undefined,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "sluice-bun-" });
    const out = await new Deno.Command(bun!, {
      args: [
        "run",
        "src/main.ts",
        "demo",
        "--data-dir",
        dataDir,
        "--records",
        "5000",
        "--compression",
        "lz4",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(text, /appended 5000 records/);
    assert.match(text, /reopened: offsets 0\.\.4999/);

    const probe = await new Deno.Command(bun!, {
      args: [
        "-e",
        'const m = await import("./src/record/crc32c.ts"); m.loadCrc32c(); ' +
        "console.log(m.crc32cImplementation, " +
        'm.crc32c(new TextEncoder().encode("123456789")));',
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    // The kernel (native/crc32c.c over bun:ffi) when built, else the @node-rs/crc32 addon.
    assert.match(new TextDecoder().decode(probe.stdout).trim(), /^(kernel|node-rs) 3808858755$/);
    await Deno.remove(dataDir, { recursive: true });
  },
});

Deno.test({
  name: "Bun serves the HTTP API and the Kafka listener, then stops cleanly on SIGTERM",
  ignore: bun === undefined,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "sluice-bun-serve-" });
    const proc = new Deno.Command(bun!, {
      args: [
        "run",
        "src/main.ts",
        "serve",
        "--port",
        "0",
        "--kafka-port",
        "auto",
        "--data-dir",
        dataDir,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const deadline = Date.now() + 20_000;
    while (!/ listening on (http:\/\/\S+)/.test(seen) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const url = /listening on (http:\/\/\S+)/.exec(seen)?.[1];
    try {
      assert.ok(url, `no listening line from bun: ${seen}`);
      const created = await fetch(`${url}/v1/topics`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "bun-orders", partitions: 2 }),
      });
      assert.equal(created.status, 201);
      await created.body?.cancel();
      const produced = await fetch(`${url}/v1/topics/bun-orders/records`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ records: [{ value: "from bun", partition: 1 }] }),
      });
      assert.deepEqual(await produced.json(), { offsets: [{ partition: 1, offset: 0 }] });
      const fetched = await fetch(`${url}/v1/topics/bun-orders/partitions/1/records?offset=0`);
      const body = await fetched.json();
      assert.equal(body.records[0].value, "from bun");
      assert.equal(body.nextOffset, 1);

      // A RecordBatch POSTed as bytes (body.ts readBody on Bun), read back as JSON.
      const batch = encodeRecordBatch(
        Array.from({ length: 300 }, (_, i) => ({ key: null, value: utf8(`bun batch ${i}`) })),
        { timestampMs: 1_700_000_000_000 },
      );
      const appended = await fetch(`${url}/v1/topics/bun-orders/partitions/1/batches`, {
        method: "POST",
        headers: { "content-type": "application/vnd.kafka.recordbatch" },
        body: batch as Uint8Array<ArrayBuffer>,
      });
      assert.deepEqual(await appended.json(), { baseOffset: 1, lastOffset: 300 });
      const batchRead = await fetch(
        `${url}/v1/topics/bun-orders/partitions/1/records?offset=300&maxBytes=1000000`,
      );
      const batchBody = await batchRead.json();
      assert.equal(batchBody.records.at(-1).value, "bun batch 299");
      assert.equal(batchBody.nextOffset, 301);

      // A Kafka client's record, produced through the listener on Bun, read back over HTTP.
      const kafkaAddress = /sluice kafka listening on (\S+:\d+)/.exec(seen)?.[1];
      assert.ok(kafkaAddress, `no kafka listening line from bun: ${seen}`);
      const kafka = new Kafka({ brokers: [kafkaAddress], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      const [sent] = await producer.send({
        topic: "bun-orders",
        acks: -1,
        messages: [{ key: "k", value: "from kafkajs", partition: 0 }],
      });
      await producer.disconnect();
      assert.equal(sent.errorCode, 0);
      const viaHttp = await fetch(`${url}/v1/topics/bun-orders/partitions/0/records?offset=0`);
      const kafkaBody = await viaHttp.json();
      assert.equal(kafkaBody.records[0].value, "from kafkajs");
      assert.equal(kafkaBody.records[0].key, "k");
    } finally {
      proc.kill("SIGTERM");
      const status = await proc.status;
      await reader.cancel().catch(() => {});
      assert.equal(status.code, 0, "a SIGTERM stop exits 0");
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
