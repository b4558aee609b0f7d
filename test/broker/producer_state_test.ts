import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { isSluiceError } from "../../src/errors.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import {
  appendWithProducerState,
  inSequence,
  lastSequenceOf,
  loadFromLog,
  PRODUCER_BATCHES_CACHED,
  type ProducerBatchHeader,
  type ProducerCheck,
  ProducerStateTable,
  readProducerHeader,
  rebuildFromLog,
  tailStartOffset,
} from "../../src/broker/producer_state.ts";
import { decodeBatches, encodeRecordBatch, viewOf } from "../../src/record/record_batch.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir } from "../test_util.ts";

const BASE_MS = 1_700_000_000_000;
const INT32_MAX = 0x7fff_ffff;

function header(
  producerId: bigint,
  producerEpoch: number,
  baseSequence: number,
  records = 1,
  attributes = 0,
): ProducerBatchHeader {
  return {
    producerId,
    producerEpoch,
    baseSequence,
    lastOffsetDelta: records - 1,
    maxTimestamp: BASE_MS,
    attributes,
  };
}

function assertAppend(v: ProducerCheck, what = ""): void {
  assert.deepEqual(v, { kind: "append" }, what);
}

function assertError(v: ProducerCheck, code: ErrorCode, what = ""): void {
  assert.equal(v.kind, "error", `${what}: ${JSON.stringify(v)}`);
  if (v.kind === "error") assert.equal(v.code, code, `${what}: ${v.message}`);
}

function assertDuplicate(v: ProducerCheck, baseOffset: number, lastOffset: number): void {
  assert.equal(v.kind, "duplicate", JSON.stringify(v));
  if (v.kind === "duplicate") {
    assert.equal(v.baseOffset, baseOffset);
    assert.equal(v.lastOffset, lastOffset);
  }
}

/** A table fed batches of `records` records each from seq 0, at consecutive offsets. */
class Feeder {
  offset = 0;
  constructor(readonly table: ProducerStateTable) {}
  /** Checks (must say append) then records; returns the base offset. */
  append(h: ProducerBatchHeader): number {
    assertAppend(this.table.check(h), `seq ${h.baseSequence}`);
    const base = this.offset;
    this.table.record(h, base);
    this.offset += h.lastOffsetDelta + 1;
    return base;
  }
}

Deno.test("sequence helpers", async (t) => {
  await t.step("lastSequenceOf wraps past int32 max to 0", () => {
    assert.equal(lastSequenceOf(0, 0), 0);
    assert.equal(lastSequenceOf(10, 4), 14);
    assert.equal(lastSequenceOf(INT32_MAX, 0), INT32_MAX);
    assert.equal(lastSequenceOf(INT32_MAX, 1), 0);
    assert.equal(lastSequenceOf(INT32_MAX - 1, 3), 1);
  });
  await t.step("inSequence", () => {
    assert.ok(inSequence(4, 5));
    assert.ok(inSequence(INT32_MAX, 0));
    assert.ok(!inSequence(4, 4));
    assert.ok(!inSequence(4, 6));
    assert.ok(!inSequence(INT32_MAX - 1, 0));
  });
});

Deno.test("ProducerStateTable.check()", async (t) => {
  await t.step("a batch without a producer id is always appended", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    assertAppend(table.check(header(-1n, -1, -1)));
    table.record(header(-1n, -1, -1), 0);
    assert.equal(table.size, 0);
    assertAppend(table.check(header(-1n, -1, -1)));
  });

  await t.step("in-order sequences append; an unknown producer may start anywhere", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const f = new Feeder(table);
    f.append(header(7n, 0, 0, 3));
    f.append(header(7n, 0, 3, 2));
    f.append(header(7n, 0, 5, 1));
    // Unknown producer (state expired in Kafka terms): any sequence.
    f.append(header(8n, 2, 1234, 1));
    f.append(header(8n, 2, 1235, 1));
    assert.equal(table.size, 2);
    const snap = table.producer(7n)!;
    assert.equal(snap.epoch, 0);
    assert.deepEqual(snap.batches.map((b) => [b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset]), [
      [0, 2, 0, 2],
      [3, 4, 3, 4],
      [5, 5, 5, 5],
    ]);
  });

  await t.step("an exact retry of any of the last 5 batches is a duplicate", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const f = new Feeder(table);
    const bases: number[] = [];
    for (let i = 0; i < 8; i++) {
      f.append(header(99n, 0, i, 1)); // another producer interleaved
      bases.push(f.append(header(1n, 3, i * 2, 2)));
    }
    assert.equal(PRODUCER_BATCHES_CACHED, 5);
    for (let i = 3; i < 8; i++) {
      const v = table.check(header(1n, 3, i * 2, 2));
      assertDuplicate(v, bases[i], bases[i] + 1);
      if (v.kind === "duplicate") assert.equal(v.timestamp, BASE_MS);
    }
    // Older than the cached five: out of order, as in Kafka.
    for (let i = 0; i < 3; i++) {
      assertError(table.check(header(1n, 3, i * 2, 2)), "OUT_OF_ORDER_SEQUENCE");
    }
    // Same first sequence, different length: not a duplicate.
    assertError(table.check(header(1n, 3, 14, 1)), "OUT_OF_ORDER_SEQUENCE");
    // A duplicate appends nothing: the next batch still follows the last real one.
    assertAppend(table.check(header(1n, 3, 16, 1)));
  });

  await t.step("gaps and repeats are out of order", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const f = new Feeder(table);
    f.append(header(5n, 0, 0, 5)); // seqs 0..4
    assertError(table.check(header(5n, 0, 6, 1)), "OUT_OF_ORDER_SEQUENCE", "gap");
    assertError(
      table.check(header(5n, 0, 4, 1)),
      "OUT_OF_ORDER_SEQUENCE",
      "overlap",
    );
    assertError(table.check(header(5n, 0, 1000, 1)), "OUT_OF_ORDER_SEQUENCE");
    assertAppend(table.check(header(5n, 0, 5, 1)));
  });

  await t.step("a new epoch must start at sequence 0 and resets the cache", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const f = new Feeder(table);
    f.append(header(3n, 0, 0, 1));
    f.append(header(3n, 0, 1, 1));
    assertError(table.check(header(3n, 1, 2, 1)), "OUT_OF_ORDER_SEQUENCE");
    assertError(table.check(header(3n, 1, 5, 1)), "OUT_OF_ORDER_SEQUENCE");
    const base = f.append(header(3n, 1, 0, 1));
    assert.equal(table.producer(3n)!.epoch, 1);
    assert.equal(table.producer(3n)!.batches.length, 1);
    // The new epoch's seq 0 batch is the duplicate now, not epoch 0's.
    assertDuplicate(table.check(header(3n, 1, 0, 1)), base, base);
    f.append(header(3n, 1, 1, 1));
    // Epochs may jump by more than one.
    f.append(header(3n, 5, 0, 1));
  });

  await t.step("an older epoch is fenced, even as an exact retry", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const f = new Feeder(table);
    f.append(header(4n, 0, 0, 1));
    f.append(header(4n, 1, 0, 1));
    assertError(table.check(header(4n, 0, 0, 1)), "INVALID_PRODUCER_EPOCH", "retry");
    assertError(table.check(header(4n, 0, 1, 1)), "INVALID_PRODUCER_EPOCH", "next");
    assertError(table.check(header(4n, -1, 1, 1)), "INVALID_PRODUCER_EPOCH", "-1");
  });

  await t.step("sequences wrap past int32 max", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const f = new Feeder(table);
    f.append(header(6n, 0, INT32_MAX - 4, 3)); // .. INT32_MAX - 2
    const wrapping = f.append(header(6n, 0, INT32_MAX - 1, 4)); // INT32_MAX - 1 .. 1
    assert.equal(table.producer(6n)!.batches[1].lastSeq, 1);
    assertDuplicate(table.check(header(6n, 0, INT32_MAX - 1, 4)), wrapping, wrapping + 3);
    assertError(table.check(header(6n, 0, 0, 1)), "OUT_OF_ORDER_SEQUENCE");
    f.append(header(6n, 0, 2, 1));

    const t2 = new Feeder(new ProducerStateTable({ clock: new ManualClock(BASE_MS) }));
    t2.append(header(6n, 0, INT32_MAX, 1));
    // In the bytes, the sequence after int32 max can only read as negative: invalid.
    assertError(t2.table.check(header(6n, 0, -0x8000_0000, 1)), "INVALID_RECORD");
    t2.append(header(6n, 0, 0, 1));
  });

  await t.step("invalid batches: negative sequence, control, transactional", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    assertError(table.check(header(1n, 0, -1)), "INVALID_RECORD");
    assertError(table.check(header(1n, 0, 0, 1, 0x20)), "INVALID_RECORD");
    assertError(table.check(header(1n, 0, 0, 1, 0x10)), "INVALID_TXN_STATE");
    assertError(table.check(header(-1n, -1, -1, 1, 0x20)), "INVALID_RECORD");
    // Codec and timestamp-type bits are fine.
    assertAppend(table.check(header(1n, 0, 0, 1, 0x0b)));
  });
});

Deno.test("ProducerStateTable bounds", async (t) => {
  await t.step("least recently appended producers are evicted past maxProducers", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS), maxProducers: 3 });
    const f = new Feeder(table);
    f.append(header(1n, 0, 0));
    f.append(header(2n, 0, 0));
    f.append(header(3n, 0, 0));
    f.append(header(1n, 0, 1)); // 1 is now the most recent; 2 the least
    f.append(header(4n, 0, 0));
    assert.equal(table.size, 3);
    assert.equal(table.evictions, 1);
    assert.equal(table.producer(2n), undefined);
    assert.ok(table.producer(1n) && table.producer(3n) && table.producer(4n));
    // Evicted: any sequence is accepted again; the kept ones are still checked.
    assertAppend(table.check(header(2n, 0, 77)));
    assertError(table.check(header(3n, 0, 77)), "OUT_OF_ORDER_SEQUENCE");
    // Checking does not make a producer recent: 3 goes next.
    f.append(header(5n, 0, 0));
    assert.equal(table.producer(3n), undefined);
    assert.equal(table.size, 3);
  });

  await t.step("many producers stay within the bound", () => {
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS), maxProducers: 100 });
    for (let i = 0n; i < 10_000n; i++) table.record(header(i, 0, 0), Number(i));
    assert.equal(table.size, 100);
    assert.equal(table.evictions, 9900);
    assert.ok(table.producer(9999n));
    assert.equal(table.producer(9899n), undefined);
  });

  await t.step("idle producers expire after expirationMs", () => {
    const clock = new ManualClock(BASE_MS);
    const table = new ProducerStateTable({ clock, expirationMs: 1000 });
    const f = new Feeder(table);
    f.append(header(1n, 0, 0));
    clock.advance(500);
    f.append(header(2n, 0, 0));
    clock.advance(499);
    assertError(table.check(header(1n, 0, 5)), "OUT_OF_ORDER_SEQUENCE");
    clock.advance(1);
    // Producer 1 idled 1000 ms: forgotten, any sequence goes.
    assertAppend(table.check(header(1n, 0, 5)));
    assert.equal(table.producer(1n), undefined);
    assert.equal(table.expirations, 1);
    assertError(table.check(header(2n, 0, 5)), "OUT_OF_ORDER_SEQUENCE");
    clock.advance(500);
    assert.equal(table.removeExpired(), 1);
    assert.equal(table.size, 0);
  });

  await t.step("an append keeps a producer alive; new producers sweep expired ones", () => {
    const clock = new ManualClock(BASE_MS);
    const table = new ProducerStateTable({ clock, expirationMs: 1000 });
    const f = new Feeder(table);
    f.append(header(1n, 0, 0));
    f.append(header(2n, 0, 0));
    for (let i = 1; i <= 5; i++) {
      clock.advance(600);
      f.append(header(1n, 0, i));
    }
    assertError(table.check(header(1n, 0, 0)), "OUT_OF_ORDER_SEQUENCE");
    assert.equal(table.size, 2, "2 expired but is not swept yet");
    f.append(header(3n, 0, 0));
    assert.equal(table.size, 2);
    assert.equal(table.producer(2n), undefined);
  });

  await t.step("bad options are refused", () => {
    assert.throws(
      () => new ProducerStateTable({ maxProducers: 0 }),
      (e) => isSluiceError(e, "INVALID_CONFIG"),
    );
    assert.throws(
      () => new ProducerStateTable({ expirationMs: 0 }),
      (e) => isSluiceError(e, "INVALID_CONFIG"),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// With real batches and a real PartitionLog.

interface Producer {
  id: number;
  epoch: number;
  seq: number;
}

/** An encoded batch of `count` records from `p` at its current sequence (which then advances). */
function produce(p: Producer | null, count: number, tag: string, pad = 0): Uint8Array {
  const records = [];
  for (let i = 0; i < count; i++) {
    records.push({ key: `k${i}`, value: `${tag}-${i}${"x".repeat(pad)}` });
  }
  const bytes = encodeRecordBatch(records, {
    timestampMs: BASE_MS,
    producerId: p?.id ?? -1,
    producerEpoch: p?.epoch ?? -1,
    baseSequence: p?.seq ?? -1,
  });
  // Sequences wrap past int32 max to 0, as the producer's do.
  if (p !== null) {
    p.seq = lastSequenceOf(p.seq, count - 1) === INT32_MAX
      ? 0
      : lastSequenceOf(p.seq, count - 1) + 1;
  }
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function openLog(dir: string, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
  return await PartitionLog.open(dir, {
    config: { flushPolicy: "none", ...config },
    clock: new ManualClock(BASE_MS),
    logger: new MemoryLogger(),
  });
}

/** appendWithProducerState on a copy (the log patches baseOffsets in place; a retry resends). */
function send(table: ProducerStateTable, log: PartitionLog, bytes: Uint8Array) {
  return appendWithProducerState(table, log, bytes.slice());
}

Deno.test("readProducerHeader()", () => {
  const bytes = produce({ id: 2 ** 40 + 5, epoch: 7, seq: 123 }, 4, "h");
  const h = readProducerHeader(viewOf(bytes), 0);
  assert.equal(h.producerId, 2n ** 40n + 5n);
  assert.equal(h.producerEpoch, 7);
  assert.equal(h.baseSequence, 123);
  assert.equal(h.lastOffsetDelta, 3);
  assert.equal(h.maxTimestamp, BASE_MS);
  assert.equal(h.attributes, 0);
  // Reuses the target object.
  const again = readProducerHeader(viewOf(produce(null, 1, "n")), 0, h);
  assert.equal(again, h);
  assert.equal(h.producerId, -1n);
  assert.equal(h.baseSequence, -1);
});

Deno.test("appendWithProducerState()", async (t) => {
  await t.step("appends in order, answers a retry with the original offsets", async () => {
    const log = await openLog(tempDir("sluice-pstate-"));
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const p: Producer = { id: 42, epoch: 0, seq: 0 };
    const first = produce(p, 3, "a");
    const r1 = await send(table, log, first);
    assert.equal(r1.kind, "appended");
    await send(table, log, produce(null, 2, "plain"));
    const second = produce(p, 2, "b");
    const r2 = await send(table, log, second);
    assert.equal(r2.kind === "appended" && r2.result.baseOffset, 5);

    const end = log.logEndOffset;
    const dup = await send(table, log, first);
    assert.deepEqual(dup, { kind: "duplicate", baseOffset: 0, lastOffset: 2, timestamp: BASE_MS });
    assert.deepEqual(await send(table, log, second), {
      kind: "duplicate",
      baseOffset: 5,
      lastOffset: 6,
      timestamp: BASE_MS,
    });
    assert.equal(log.logEndOffset, end, "a duplicate appends nothing");

    const gap = await send(table, log, produce({ ...p, seq: p.seq + 1 }, 1, "gap"));
    assert.equal(gap.kind === "error" && gap.code, "OUT_OF_ORDER_SEQUENCE");
    assert.equal(log.logEndOffset, end, "an error appends nothing");
    await log.close();
  });

  await t.step("one batch per idempotent produce; plain multi-batch appends pass", async () => {
    const log = await openLog(tempDir("sluice-pstate-"));
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const p: Producer = { id: 1, epoch: 0, seq: 0 };
    const two = concat(produce(p, 1, "a"), produce(p, 1, "b"));
    const r = await send(table, log, two);
    assert.equal(r.kind === "error" && r.code, "INVALID_RECORD");
    const plain = await send(table, log, concat(produce(null, 1, "a"), produce(null, 2, "b")));
    assert.equal(plain.kind === "appended" && plain.result.records, 3);
    // Broken framing is the log's to reject, typed.
    await assert.rejects(
      send(table, log, produce(p, 1, "c").subarray(0, 70)),
      (e) => isSluiceError(e, "CORRUPT_BATCH"),
    );
    assert.equal(table.size, 0);
    await log.close();
  });
});

Deno.test("rebuildFromLog()", async (t) => {
  await t.step("after reopening the log, a retried batch is a duplicate", async () => {
    const dir = tempDir("sluice-pstate-");
    let log = await openLog(dir, { segmentBytes: 600 });
    let table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const a: Producer = { id: 10, epoch: 0, seq: 0 };
    const b: Producer = { id: 2 ** 33, epoch: 3, seq: INT32_MAX - 5 };
    const sentA: Uint8Array[] = [];
    const sentB: Uint8Array[] = [];
    for (let i = 0; i < 12; i++) {
      const ba = produce(a, 1 + (i % 3), `a${i}`);
      sentA.push(ba);
      assert.equal((await send(table, log, ba)).kind, "appended");
      await send(table, log, produce(null, 1, `n${i}`));
      const bb = produce(b, 2, `b${i}`);
      sentB.push(bb);
      assert.equal((await send(table, log, bb)).kind, "appended");
    }
    assert.ok(log.segments().length > 3, "several segments");
    const before = [table.producer(10n), table.producer(2n ** 33n)];
    await log.close();

    log = await openLog(dir, { segmentBytes: 600 });
    table = rebuildFromLog(log, 1 << 30, { clock: new ManualClock(BASE_MS) });
    assert.deepEqual(table.producer(10n)?.batches, before[0]?.batches);
    assert.deepEqual(table.producer(2n ** 33n)?.batches, before[1]?.batches);
    assert.equal(table.producer(2n ** 33n)?.epoch, 3);

    const end = log.logEndOffset;
    const storedA = [];
    for (let off = log.logStartOffset; off < end;) {
      const r = log.read(off, 1 << 20)!;
      for (const d of decodeBatches(r.bytes)) if (d.producerId === 10) storedA.push(d);
      off = r.nextOffset;
    }
    assert.equal(storedA.length, 12);
    // Retries of the last five: answered with the offsets the batches were stored at.
    for (let i = 7; i < 12; i++) {
      assert.deepEqual(await send(table, log, sentA[i]), {
        kind: "duplicate",
        baseOffset: storedA[i].baseOffset,
        lastOffset: storedA[i].baseOffset + storedA[i].lastOffsetDelta,
        timestamp: BASE_MS,
      }, `batch ${i}`);
    }
    const old = await send(table, log, sentA[6]);
    assert.equal(old.kind === "error" && old.code, "OUT_OF_ORDER_SEQUENCE");
    assert.equal((await send(table, log, sentB[11])).kind, "duplicate");
    assert.equal(log.logEndOffset, end, "no retry appended anything");

    // The producers continue where they left off (b across the int32 wrap).
    assert.equal((await send(table, log, produce(a, 1, "next"))).kind, "appended");
    assert.equal((await send(table, log, produce(b, 1, "next"))).kind, "appended");
    await log.close();
  });

  await t.step("scans only about maxBytes of the tail", async () => {
    const dir = tempDir("sluice-pstate-");
    const log = await openLog(dir, { segmentBytes: 2000 });
    const table = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const early: Producer = { id: 1, epoch: 0, seq: 0 };
    const late: Producer = { id: 2, epoch: 0, seq: 0 };
    await send(table, log, produce(early, 1, "e", 100));
    for (let i = 0; i < 60; i++) await send(table, log, produce(late, 1, `l${i}`, 100));
    assert.ok(log.segments().length >= 4);

    const start = tailStartOffset(log, 3000);
    assert.ok(start > 0 && start < log.logEndOffset, `start ${start}`);
    const partial = rebuildFromLog(log, 3000, { clock: new ManualClock(BASE_MS) });
    assert.equal(partial.producer(1n), undefined, "the early producer is outside the tail");
    assert.equal(partial.producer(2n)?.batches.length, PRODUCER_BATCHES_CACHED);

    const whole = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const scanned = loadFromLog(whole, log, log.sizeBytes);
    assert.equal(scanned, log.sizeBytes);
    assert.ok(whole.producer(1n));
    assert.equal(tailStartOffset(log, 0), log.logEndOffset);
    assert.equal(rebuildFromLog(log, 0).size, 0);
    await log.close();
  });

  await t.step("an empty log rebuilds an empty table", async () => {
    const log = await openLog(tempDir("sluice-pstate-"));
    assert.equal(rebuildFromLog(log).size, 0);
    await log.close();
  });

  await t.step("rebuild() and rebuildAsync() take chunks of whole batches", async () => {
    const p: Producer = { id: 9, epoch: 1, seq: 0 };
    const parts = [produce(p, 2, "a"), produce(null, 1, "n"), produce(p, 3, "b")];
    const chunk = concat(...parts);
    const dv = viewOf(chunk);
    // Give the batches offsets as the log would have.
    dv.setInt32(4, 100);
    const t1 = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    t1.rebuild([chunk]);
    assert.deepEqual(t1.producer(9n)?.batches.map((x) => [x.firstSeq, x.lastSeq, x.baseOffset]), [
      [0, 1, 100],
      [2, 4, 0],
    ]);
    const t2 = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    await t2.rebuildAsync((async function* () {
      yield chunk;
    })());
    assert.deepEqual(t2.producer(9n), t1.producer(9n));
    // A truncated chunk stops at the last whole batch.
    const t3 = new ProducerStateTable({ clock: new ManualClock(BASE_MS) });
    const consumed = t3.loadBatches(chunk.subarray(0, chunk.length - 1));
    assert.equal(consumed, parts[0].length + parts[1].length);
    assert.equal(t3.producer(9n)?.batches.length, 1);
  });
});
