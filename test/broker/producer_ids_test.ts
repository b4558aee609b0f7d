import assert from "node:assert/strict";
import { isSluiceError } from "../../src/errors.ts";
import {
  initProducerId,
  PRODUCER_EPOCH_INITIAL,
  PRODUCER_ID_BLOCK_SIZE_DEFAULT,
  PRODUCER_ID_MAX,
  PRODUCER_IDS_FILE,
  ProducerIdAllocator,
} from "../../src/broker/producer_ids.ts";
import { tempDir } from "../test_util.ts";

function markOf(dir: string): string {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${PRODUCER_IDS_FILE}`)).nextBlockStart;
}

Deno.test("ProducerIdAllocator", async (t) => {
  await t.step("hands out 0, 1, 2, ... and writes the mark once per block", () => {
    const dir = tempDir("sluice-pid-");
    const a = ProducerIdAllocator.open(dir, { blockSize: 10 });
    assert.equal(a.blockWrites, 0, "opening writes nothing");
    for (let i = 0; i < 25; i++) assert.equal(a.allocate(), BigInt(i));
    assert.equal(a.blockWrites, 3);
    assert.equal(markOf(dir), "30");
    assert.equal(a.nextId, 25n);
    assert.equal(a.reservedEnd, 30n);
  });

  await t.step("default block size is named and used", () => {
    const dir = tempDir("sluice-pid-");
    const a = ProducerIdAllocator.open(dir);
    assert.equal(a.allocate(), 0n);
    assert.equal(markOf(dir), String(PRODUCER_ID_BLOCK_SIZE_DEFAULT));
  });

  await t.step("unique and monotonic across many reopens", () => {
    const dir = tempDir("sluice-pid-");
    const seen = new Set<bigint>();
    let last = -1n;
    let writes = 0;
    for (let round = 0; round < 20; round++) {
      const a = ProducerIdAllocator.open(dir, { blockSize: 7 });
      // Varying counts: some rounds end mid-block, some exactly at a block end.
      const count = (round * 5) % 17;
      for (let i = 0; i < count; i++) {
        const id = a.allocate();
        assert.ok(id > last, `round ${round}: ${id} after ${last}`);
        assert.ok(!seen.has(id), `round ${round}: ${id} handed out twice`);
        seen.add(id);
        last = id;
      }
      writes += a.blockWrites;
      assert.ok(a.blockWrites <= Math.ceil(count / 7), `round ${round}: ${a.blockWrites} writes`);
    }
    assert.ok(seen.size > 100);
    assert.ok(writes < seen.size / 3, `${writes} writes for ${seen.size} ids`);
  });

  await t.step("many allocations: one file write per block", () => {
    const dir = tempDir("sluice-pid-");
    const a = ProducerIdAllocator.open(dir, { blockSize: 1000 });
    for (let i = 0; i < 100_000; i++) a.allocate();
    assert.equal(a.blockWrites, 100);
    assert.equal(a.nextId, 100_000n);
    const b = ProducerIdAllocator.open(dir, { blockSize: 1000 });
    assert.equal(b.allocate(), 100_000n);
  });

  await t.step("a crash mid-block skips the rest of the block, never reuses an id", () => {
    const dir = tempDir("sluice-pid-");
    const a = ProducerIdAllocator.open(dir, { blockSize: 100 });
    const path = `${dir}/${PRODUCER_IDS_FILE}`;
    assert.equal(a.allocate(), 0n);
    const afterFirst = Deno.readTextFileSync(path);
    const mtime = Deno.statSync(path).mtime?.getTime();
    for (let i = 1; i < 60; i++) a.allocate();
    // The file was not rewritten inside the block.
    assert.equal(Deno.readTextFileSync(path), afterFirst);
    assert.equal(Deno.statSync(path).mtime?.getTime(), mtime);
    // "Crash": the instance is dropped without any shutdown, and a torn temp file is left over.
    Deno.writeTextFileSync(`${path}.tmp`, '{"version":1,"nextBl');
    const b = ProducerIdAllocator.open(dir, { blockSize: 100 });
    assert.equal(b.allocate(), 100n, "ids 60..99 were possibly handed out: skipped");
    assert.equal(markOf(dir), "200");
  });

  await t.step("ids past 2^53 stay exact", () => {
    const dir = tempDir("sluice-pid-");
    const start = (1n << 60n) + 3n;
    Deno.writeTextFileSync(
      `${dir}/${PRODUCER_IDS_FILE}`,
      JSON.stringify({ version: 1, nextBlockStart: start.toString() }),
    );
    const a = ProducerIdAllocator.open(dir, { blockSize: 2 });
    assert.equal(a.allocate(), start);
    assert.equal(a.allocate(), start + 1n);
    assert.equal(a.allocate(), start + 2n);
    assert.equal(markOf(dir), (start + 4n).toString());
  });

  await t.step("refuses to go past int64 max", () => {
    const dir = tempDir("sluice-pid-");
    Deno.writeTextFileSync(
      `${dir}/${PRODUCER_IDS_FILE}`,
      JSON.stringify({ version: 1, nextBlockStart: (PRODUCER_ID_MAX - 1n).toString() }),
    );
    const a = ProducerIdAllocator.open(dir, { blockSize: 10 });
    assert.equal(a.allocate(), PRODUCER_ID_MAX - 1n);
    assert.throws(() => a.allocate(), (err) => isSluiceError(err, "INTERNAL"));
  });

  await t.step("a damaged mark file refuses to open", () => {
    for (
      const content of [
        "not json",
        "{}",
        '{"version":1,"nextBlockStart":12}',
        '{"version":1,"nextBlockStart":"-1"}',
        '{"version":1,"nextBlockStart":"99999999999999999999"}',
        '{"version":2,"nextBlockStart":"1"}',
      ]
    ) {
      const dir = tempDir("sluice-pid-");
      Deno.writeTextFileSync(`${dir}/${PRODUCER_IDS_FILE}`, content);
      assert.throws(
        () => ProducerIdAllocator.open(dir),
        (err) => isSluiceError(err, "CORRUPT_LOG"),
        content,
      );
    }
  });

  await t.step("creates its directory; rejects a bad block size", () => {
    const dir = `${tempDir("sluice-pid-")}/nested/meta`;
    const a = ProducerIdAllocator.open(dir, { blockSize: 1 });
    assert.equal(a.allocate(), 0n);
    assert.equal(a.allocate(), 1n);
    assert.equal(a.blockWrites, 2);
    for (const blockSize of [0, -1, 1.5, 10_000_000]) {
      assert.throws(
        () => ProducerIdAllocator.open(dir, { blockSize }),
        (err) => isSluiceError(err, "INVALID_CONFIG"),
      );
    }
  });
});

Deno.test("initProducerId()", async (t) => {
  await t.step("an idempotent producer gets a fresh id at epoch 0", () => {
    const a = ProducerIdAllocator.open(tempDir("sluice-pid-"), { blockSize: 5 });
    const first = initProducerId(a, null);
    const second = initProducerId(a, undefined);
    assert.deepEqual(first, { producerId: 0n, producerEpoch: PRODUCER_EPOCH_INITIAL });
    assert.equal(second.producerId, 1n);
    assert.equal(second.producerEpoch, 0);
  });

  await t.step("a transactional id is refused without allocating", () => {
    const a = ProducerIdAllocator.open(tempDir("sluice-pid-"), { blockSize: 5 });
    assert.throws(
      () => initProducerId(a, "txn-1"),
      (err) => isSluiceError(err, "TRANSACTIONAL_ID_UNSUPPORTED"),
    );
    assert.equal(a.nextId, 0n);
    assert.equal(a.blockWrites, 0);
  });
});
