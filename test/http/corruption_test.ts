/**
 * A damaged closed segment, served with `--log-verify-crc-on-read true`: the server still starts,
 * reads that reach the damaged batch answer 500 CORRUPT_LOG naming the file and byte position (and
 * log it), every other offset still reads, produce still works; with the offset indexes deleted
 * too, they are rebuilt and the same holds. (Without the flag, the default, the stored bytes are
 * served as they are, as Kafka's broker serves them: test/storage/read_crc_test.ts; a JSON fetch,
 * which the server decodes, still checks each batch and answers CORRUPT_LOG.)
 */
import assert from "node:assert/strict";
import { baseOffsetAt, batchSizeAt, decodeBatches, viewOf } from "../../src/record/record_batch.ts";
import { tempDir } from "../test_util.ts";
import {
  bytes,
  createTopic,
  expectError,
  expectStatus,
  fetchBatches,
  json,
  partitionUrl,
  produce,
  RECORDBATCH_TYPE,
  type RunningServer,
  startServer,
} from "./server_harness.ts";

const TOPIC = "damaged";
/** 40 records of ~200 bytes, one batch each, roll a 4096-byte segment about every 15 records. */
const RECORDS = 40;
const SEGMENT_BYTES = 4096;
const VERIFY_CRC = ["--log-verify-crc-on-read", "true"];

function valueOf(offset: number): string {
  return `value-${offset}-` + "x".repeat(200);
}

/** The .log files of partition 0, sorted (their 20-digit names sort by base offset). */
async function segmentLogs(dataDir: string): Promise<string[]> {
  const dir = `${dataDir}/topics/${TOPIC}/0`;
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (/^\d{20}\.log$/.test(e.name)) names.push(e.name);
  }
  return names.sort().map((n) => `${dir}/${n}`);
}

async function checkReads(server: RunningServer, corruptOffset: number, what: string) {
  const url = partitionUrl(server, TOPIC, 0);
  for (let offset = 0; offset < RECORDS; offset++) {
    const res = await json(`${url}/records?offset=${offset}&maxBytes=1`);
    if (offset === corruptOffset) {
      expectError(res, 500, "CORRUPT_LOG", `${what}: JSON fetch @${offset}`);
      continue;
    }
    expectStatus(res, 200, `${what}: JSON fetch @${offset}`);
    assert.equal(res.body.records[0].offset, offset, `${what}: offset`);
    assert.equal(res.body.records[0].value, valueOf(offset), `${what}: value @${offset}`);
  }
}

Deno.test("a corrupt batch in a closed segment answers 500 CORRUPT_LOG; the rest is served", async (t) => {
  const dataDir = tempDir("sluice-corrupt-");
  let server = await startServer({ dataDir, args: VERIFY_CRC });
  let corruptOffset = -1;
  let corruptFile = "";
  let corruptPosition = -1;
  try {
    await t.step("write several segments and stop", async () => {
      await createTopic(server, TOPIC, 1, { "segment.bytes": SEGMENT_BYTES });
      for (let offset = 0; offset < RECORDS; offset++) {
        await produce(server, TOPIC, { records: [{ value: valueOf(offset) }] });
      }
      assert.equal(await server.stop(), 0);
      assert.ok((await segmentLogs(dataDir)).length >= 3, "at least three segments");
    });

    await t.step("flip a byte inside a record value of the first (closed) segment", async () => {
      corruptFile = (await segmentLogs(dataDir))[0];
      const log = await Deno.readFile(corruptFile);
      const dv = viewOf(log);
      // The second batch, so that an offset before it is in the same segment.
      const first = batchSizeAt(dv, 0);
      corruptPosition = first;
      corruptOffset = baseOffsetAt(dv, first);
      const size = batchSizeAt(dv, first);
      // A batch ends with the record's value then its header count (one varint byte, 0).
      const at = first + size - 10;
      assert.equal(log[at], "x".charCodeAt(0), "the byte is inside the value");
      log[at] ^= 0x01;
      await Deno.writeFile(corruptFile, log);
    });

    server = await startServer({ dataDir, args: VERIFY_CRC });
    const url = partitionUrl(server, TOPIC, 0);

    await t.step(
      "a fetch inside the corrupt batch answers 500 CORRUPT_LOG with file and position",
      async () => {
        const res = await json(`${url}/records?offset=${corruptOffset}`);
        expectError(res, 500, "CORRUPT_LOG", "JSON fetch of the corrupt batch");
        const name = corruptFile.split("/").pop()!;
        assert.ok(String(res.body.error.details?.file).endsWith(name), `details.file: ${res.text}`);
        assert.equal(res.body.error.details?.position, corruptPosition, `details.position`);
        const bin = await bytes(`${url}/records?offset=${corruptOffset}`, {
          headers: { accept: RECORDBATCH_TYPE },
        });
        assert.equal(bin.status, 500);
        const body = JSON.parse(new TextDecoder().decode(bin.body));
        assert.equal(body.error.code, "CORRUPT_LOG");
        assert.ok(String(body.error.details?.file).endsWith(name));
        assert.equal(body.error.details?.position, corruptPosition);
        assert.ok(server.stderr().includes(name), `stderr names the file:\n${server.stderr()}`);
      },
    );

    await t.step(
      "offsets before and after the corrupt batch still read (JSON and binary)",
      async () => {
        await checkReads(server, corruptOffset, "after restart");
        const before = await fetchBatches(server, TOPIC, 0, corruptOffset - 1);
        assert.equal(before.batches[0].baseOffset, corruptOffset - 1);
        const after = await fetchBatches(server, TOPIC, 0, corruptOffset + 1);
        assert.equal(after.batches[0].baseOffset, corruptOffset + 1);
      },
    );

    await t.step("produce still works and the server stays up", async () => {
      const offsets = await produce(server, TOPIC, { records: [{ value: "after" }] });
      assert.deepEqual(offsets, [{ partition: 0, offset: RECORDS }]);
      const res = await json(`${url}/records?offset=${RECORDS}`);
      expectStatus(res, 200, "fetch the new record");
      assert.equal(res.body.records[0].value, "after");
      expectStatus(await json(`${server.url}/healthz`), 200, "healthz");
    });
    assert.equal(await server.stop(), 0);

    await t.step(
      "with the .index files deleted, every offset but the corrupt one still reads",
      async () => {
        const dir = `${dataDir}/topics/${TOPIC}/0`;
        let deleted = 0;
        for await (const e of Deno.readDir(dir)) {
          if (e.name.endsWith(".index")) {
            await Deno.remove(`${dir}/${e.name}`);
            deleted++;
          }
        }
        assert.ok(deleted >= 3, `deleted ${deleted} index files`);
        server = await startServer({ dataDir, args: VERIFY_CRC });
        await checkReads(server, corruptOffset, "without indexes");
        const res = await json(`${partitionUrl(server, TOPIC, 0)}/records?offset=${RECORDS}`);
        expectStatus(res, 200, "the record produced after the damage");
        assert.equal(res.body.records[0].value, "after");
        expectStatus(await json(`${server.url}/healthz`), 200, "healthz");
        assert.equal(await server.stop(), 0);
      },
    );

    await t.step(
      "without the flag: binary fetches serve the stored bytes, JSON still answers CORRUPT_LOG",
      async () => {
        server = await startServer({ dataDir });
        const url = partitionUrl(server, TOPIC, 0);
        // The binary consumer (a Kafka client's way) gets the batch as stored, and its own check
        // finds the damage.
        const bin = await bytes(`${url}/records?offset=${corruptOffset}&maxBytes=1`, {
          headers: { accept: RECORDBATCH_TYPE },
        });
        assert.equal(bin.status, 200);
        assert.equal(baseOffsetAt(viewOf(bin.body), 0), corruptOffset);
        assert.throws(() => decodeBatches(bin.body), /CRC-32C mismatch/);
        // For a JSON answer the server decodes, so it is the consumer that checks.
        const res = await json(`${url}/records?offset=${corruptOffset}&maxBytes=1`);
        expectError(res, 500, "CORRUPT_LOG", "JSON fetch of the damaged batch, check on read off");
        const next = await json(`${url}/records?offset=${corruptOffset + 1}&maxBytes=1`);
        expectStatus(next, 200, "the next offset");
        assert.equal(next.body.records[0].value, valueOf(corruptOffset + 1));
        assert.equal(await server.stop(), 0);
      },
    );
  } finally {
    await server.stop().catch(() => {});
  }
});
