/**
 * Disk full against the real server: its data dir is an 8 MiB tmpfs (needs root; ignored
 * otherwise). A topic with flush.policy always is filled with raw 32 KiB batches until a produce
 * fails; that failure must be 507 INSUFFICIENT_STORAGE in API.md's error shape, every
 * acknowledged batch must read back byte for byte with no half batch after it, reads must keep
 * working, topic creation and group commits on the full disk must not crash the server, and once
 * a filler file is deleted writes resume without a restart.
 */
import assert from "node:assert/strict";
import {
  assertErrorShape,
  createTopic,
  expectStatus,
  fetchBatches,
  highWatermarks,
  json,
  postBatches,
  type RunningServer,
  startServer,
} from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import { canMountTmpfs, makeBatch, mountTmpfs, unmount } from "./fault_util.ts";

const TMPFS_MIB = 8;
/** Deleted to free space once the disk is full: 2 MiB is ~60 batches of 32 KiB. */
const FILLER_BYTES = 2 * 1024 * 1024;
const RECORDS_PER_BATCH = 8;
const VALUE_BYTES = 4 * 1024;
/** 8 MiB / ~33 KiB per batch is ~250 batches; the bound only stops a broken test. */
const PRODUCE_ATTEMPTS_MAX = 2_000;

const mountable = await canMountTmpfs();

interface AckedBatch {
  baseOffset: number;
  lastOffset: number;
  bytes: number;
  tag: string;
}

/** Reads the whole partition as binary from 0; checks offsets and values against `acked`. */
async function checkLog(server: RunningServer, topic: string, acked: AckedBatch[]) {
  const [hw] = await highWatermarks(server, topic);
  const expectedRecords = acked.reduce((n, a) => n + a.lastOffset - a.baseOffset + 1, 0);
  assert.equal(hw, expectedRecords, "high watermark = acknowledged records");
  let offset = 0;
  let totalBytes = 0;
  let batchIndex = 0;
  for (let round = 0; offset < hw && round < 10_000; round++) {
    const { body, batches } = await fetchBatches(server, topic, 0, offset, "&maxBytes=1048576");
    assert.ok(batches.length > 0, `binary fetch at ${offset} returns batches`);
    totalBytes += body.length;
    for (const b of batches) {
      const a = acked[batchIndex++];
      assert.ok(a !== undefined, `batch at ${b.baseOffset} was never acknowledged`);
      assert.equal(b.baseOffset, a.baseOffset, `batch ${batchIndex - 1} baseOffset`);
      assert.equal(b.records.length, a.lastOffset - a.baseOffset + 1, `batch ${a.tag} count`);
      const dec = new TextDecoder();
      b.records.forEach((r, i) => {
        assert.ok(dec.decode(r.value!).startsWith(`${a.tag}-${i}-`), `batch ${a.tag} record ${i}`);
      });
      offset = b.baseOffset + b.records.length;
    }
  }
  assert.equal(offset, hw, "next offset after the last batch = high watermark");
  assert.equal(batchIndex, acked.length, "every acknowledged batch read back");
  const ackedBytes = acked.reduce((n, a) => n + a.bytes, 0);
  assert.equal(totalBytes, ackedBytes, "log bytes = sum of acknowledged batch sizes");
  return { hw, ackedBytes };
}

/** Sizes of the `.log` files under `dir`, summed. */
async function logFileBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) total += await logFileBytes(path);
    else if (e.name.endsWith(".log")) total += (await Deno.stat(path)).size;
  }
  return total;
}

Deno.test({
  name: "disk full: produce answers 507 INSUFFICIENT_STORAGE, keeps acknowledged data, recovers",
  ignore: !mountable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const mnt = tempDir("sluice-diskfull-");
  assert.ok(await mountTmpfs(mnt, TMPFS_MIB), "mount tmpfs");
  let server: RunningServer | undefined;
  try {
    const filler = `${mnt}/filler`;
    await Deno.writeFile(filler, new Uint8Array(FILLER_BYTES));
    const dataDir = `${mnt}/data`;
    await Deno.mkdir(dataDir);
    server = await startServer({ dataDir });
    const s = server;
    const topic = "full";
    await createTopic(s, topic, 1, { "flush.policy": "always" });
    const acked: AckedBatch[] = [];

    await t.step("produce until the disk is full: 507 INSUFFICIENT_STORAGE", async () => {
      let failure;
      for (let i = 0; i < PRODUCE_ATTEMPTS_MAX; i++) {
        const tag = `b${i}`;
        const batch = makeBatch(tag, RECORDS_PER_BATCH, VALUE_BYTES);
        const res = await postBatches(s, topic, 0, batch);
        if (res.status !== 200) {
          failure = res;
          break;
        }
        acked.push({
          baseOffset: res.body.baseOffset,
          lastOffset: res.body.lastOffset,
          bytes: batch.length,
          tag,
        });
      }
      assert.ok(failure !== undefined, `no failure within ${PRODUCE_ATTEMPTS_MAX} batches`);
      assert.equal(
        failure.status,
        507,
        `full disk: status ${failure.status} ${failure.text}\nstderr:\n${s.stderr().slice(-2000)}`,
      );
      assertErrorShape(failure, "full disk");
      assert.equal(failure.body.error.code, "INSUFFICIENT_STORAGE");
      assert.ok(acked.length > 10, `${acked.length} batches acknowledged before the disk filled`);
      // A retry twice as large on the still-full disk gets the same answer, not a 500 or a dead
      // log (a smaller one might fit in what the failed write left).
      const again = await postBatches(
        s,
        topic,
        0,
        makeBatch("retry", 2 * RECORDS_PER_BATCH, VALUE_BYTES),
      );
      assert.equal(again.status, 507, `retry on full disk: ${again.text}`);
    });

    await t.step("every acknowledged batch reads back, no half batch, reads work", async () => {
      const { ackedBytes } = await checkLog(s, topic, acked);
      assert.equal(await logFileBytes(dataDir), ackedBytes, ".log file sizes = acknowledged");
    });

    await t.step("topic creation and group commits on a full disk do not crash it", async () => {
      const created = await json(`${s.url}/v1/topics`, {
        method: "POST",
        json: { name: "more", partitions: 4, config: { "flush.policy": "always" } },
      });
      assert.ok(
        created.status === 201 || created.status === 507,
        `create topic on full disk: ${created.status} ${created.text}`,
      );
      if (created.status === 507) assertErrorShape(created, "create topic on full disk");
      const joined = await json(`${s.url}/v1/groups/g/members`, {
        method: "POST",
        json: { topics: [topic], autoOffsetReset: "earliest" },
      });
      // Joining writes group metadata, so it may be refused too; either way the server lives.
      assert.ok(
        joined.status === 200 || joined.status === 507,
        `join on full disk: ${joined.status} ${joined.text}`,
      );
      if (joined.status === 507) assertErrorShape(joined, "join on full disk");
      const committed = joined.status !== 200
        ? joined
        : await json(`${s.url}/v1/groups/g/offsets`, {
          method: "POST",
          json: {
            memberId: joined.body.memberId,
            generation: joined.body.generation,
            offsets: [{ topic, partition: 0, offset: 1 }],
          },
        });
      assert.ok(
        committed.status === 200 || committed.status === 507,
        `commit on full disk: ${committed.status} ${committed.text}`,
      );
      if (committed.status === 507) assertErrorShape(committed, "commit on full disk");
      const health = await json(`${s.url}/v1/topics/${topic}`);
      expectStatus(health, 200, "server alive after full-disk metadata writes");
      await checkLog(s, topic, acked);
    });

    await t.step("freeing space lets writes resume without a restart", async () => {
      await Deno.remove(filler);
      for (let i = 0; i < 10; i++) {
        const tag = `after${i}`;
        const batch = makeBatch(tag, RECORDS_PER_BATCH, VALUE_BYTES);
        const res = await postBatches(s, topic, 0, batch);
        expectStatus(res, 200, `produce after freeing space (${i})`);
        const prev = acked[acked.length - 1];
        assert.equal(res.body.baseOffset, prev.lastOffset + 1, "offsets continue");
        acked.push({
          baseOffset: res.body.baseOffset,
          lastOffset: res.body.lastOffset,
          bytes: batch.length,
          tag,
        });
      }
      await checkLog(s, topic, acked);
    });

    await t.step("a restart on the same dir finds exactly the acknowledged data", async () => {
      assert.equal(await s.stop(), 0, `exit code after SIGTERM; stderr:\n${s.stderr()}`);
      server = await startServer({ dataDir });
      await checkLog(server, topic, acked);
    });
  } finally {
    await server?.stop("SIGKILL").catch(() => {});
    await unmount(mnt);
  }
});
