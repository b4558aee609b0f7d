/**
 * The Kafka listener fuzzer's log end accounting (log_end_model.ts): what unanswered produces may
 * add, what answered ones must show, and that a write nobody accounts for is caught.
 */
import assert from "node:assert/strict";
import { crc32c } from "../../src/record/crc32c.ts";
import {
  CRC_AT,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_AT,
  RECORDS_COUNT_AT,
} from "../../src/record/record_batch.ts";
import {
  appendableRecords,
  LogEndModel,
  mergeUnanswered,
  refusableRecords,
} from "./log_end_model.ts";

function batch(n: number, producerId = -1): Uint8Array {
  return encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({ key: null, value: new Uint8Array([i]) })),
    { timestampMs: 1_700_000_000_000, producerId, producerEpoch: 0, baseSequence: 0 },
  );
}

/** `b` with its header's lastOffsetDelta and recordsCount set, the CRC made to match again. */
function withCounts(b: Uint8Array, lastOffsetDelta: number, count: number): Uint8Array {
  const out = b.slice();
  const dv = new DataView(out.buffer);
  dv.setInt32(LAST_OFFSET_DELTA_AT, lastOffsetDelta);
  dv.setInt32(RECORDS_COUNT_AT, count);
  dv.setUint32(CRC_AT, crc32c(out.subarray(21)));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const ends = (entries: [string, number[]][]) => new Map(entries);

Deno.test("log end model", async (t) => {
  await t.step("what one partition's records may append: Kafka's rules, else nothing", () => {
    assert.equal(appendableRecords(batch(6)), 6);
    assert.equal(appendableRecords(batch(2, 7)), 2);
    // The batch the fuzz failure sent: CRC right, lastOffsetDelta -56 (Kafka: INVALID_RECORD).
    assert.equal(appendableRecords(withCounts(batch(3), -56, 3)), 0);
    assert.equal(appendableRecords(withCounts(batch(3), 3, 3)), 0); // count 3, offsets for 4
    assert.equal(appendableRecords(withCounts(batch(3), -1, 0)), 0);
    assert.equal(appendableRecords(concat(batch(1), batch(1))), 0); // one batch per partition
    const based = batch(2);
    new DataView(based.buffer).setBigInt64(0, 5n); // outside the CRC
    assert.equal(appendableRecords(based), 0);
    assert.match(refusableRecords(based)!, /baseOffset/);
    const badCrc = batch(2);
    badCrc[badCrc.length - 1] ^= 1;
    assert.equal(appendableRecords(badCrc), 0);
    assert.equal(appendableRecords(batch(2).subarray(0, 40)), 0);
    assert.equal(appendableRecords(null), 0);
    assert.equal(refusableRecords(batch(6)), undefined);
    assert.match(refusableRecords(withCounts(batch(3), -56, 3))!, /lastOffsetDelta -56/);
    assert.match(refusableRecords(concat(batch(1), batch(1)))!, /2 batches/);
    assert.match(refusableRecords(badCrc)!, /CRC/);
  });

  await t.step("an acks=0 produce before an answered one: the answer may start later", () => {
    // The fuzz failure's sequence: acks=0 [p0: 6 records, p1: the bad batch], then acks=1 p0.
    const m = new LogEndModel();
    m.reset(ends([["kf-b", [5, 9, 0]]]));
    m.noteUnanswered("kf-b", 0, batch(6));
    m.noteUnanswered("kf-b", 1, withCounts(batch(3), -56, 3));
    assert.equal(
      m.answered("kf-b", 0, [{ baseOffset: 11, records: 8, idempotent: false }]),
      undefined,
    );
    assert.deepEqual(m.check(ends([["kf-b", [19, 9, 0]]])), []);
    // The bad batch adds nothing, and neither did the acks=0 batch beyond its 6 records.
    assert.match(m.check(ends([["kf-b", [19, 10, 0]]]))[0], /"kf-b"\[1\] log end offset 10/);
    assert.match(m.check(ends([["kf-b", [20, 9, 0]]]))[0], /account for 19$/);
  });

  await t.step("unanswered records may land or not, never more", () => {
    const m = new LogEndModel();
    m.reset(ends([["t", [5]]]));
    m.noteUnanswered("t", 0, batch(6));
    assert.deepEqual(m.check(ends([["t", [5]]])), []);
    assert.deepEqual(m.check(ends([["t", [11]]])), []);
    assert.match(m.check(ends([["t", [12]]]))[0], /account for 5 \(\+ up to 6 unanswered\)/);
    assert.match(m.check(ends([["t", [4]]]))[0], /log end offset 4/);
  });

  await t.step("an answer outside what the unanswered records allow is refused", () => {
    const m = new LogEndModel();
    m.reset(ends([["t", [5]]]));
    m.noteUnanswered("t", 0, batch(2));
    assert.match(
      m.answered("t", 0, [{ baseOffset: 8, records: 1, idempotent: false }])!,
      /base offset 8, the log ended at 5 \(\+ up to 2 unanswered\)/,
    );
    assert.match(
      m.answered("t", 0, [{ baseOffset: 4, records: 1, idempotent: false }])!,
      /base offset 4/,
    );
    // Landed before the answer: the rest of the allowance is used up.
    assert.equal(m.answered("t", 0, [{ baseOffset: 7, records: 1, idempotent: false }]), undefined);
    assert.match(
      m.answered("t", 0, [{ baseOffset: 9, records: 1, idempotent: false }])!,
      /the log ended at 8$/,
    );
    assert.deepEqual(m.check(ends([["t", [8]]])), []);
  });

  await t.step("an answered error writes nothing: a write nobody accounts for is caught", () => {
    const m = new LogEndModel();
    m.reset(ends([["t", [227]]]));
    // No note, no answer: an append the broker answered with an error.
    assert.deepEqual(m.check(ends([["t", [233]]])), [
      `"t"[0] log end offset 233, but successful produces account for 227`,
    ]);
  });

  await t.step("a request naming a partition twice: answers tile the log in any order", () => {
    const m = new LogEndModel();
    m.reset(ends([["t", [0]]]));
    assert.equal(
      m.answered("t", 0, [
        { baseOffset: 3, records: 2, idempotent: false },
        { baseOffset: 0, records: 3, idempotent: false },
      ]),
      undefined,
    );
    assert.deepEqual(m.check(ends([["t", [5]]])), []);
    assert.match(
      m.answered("t", 0, [
        { baseOffset: 5, records: 2, idempotent: false },
        { baseOffset: 5, records: 3, idempotent: false },
      ])!,
      /base offset 5, the log ended at 7/,
    );
  });

  await t.step("an idempotent retry is answered with its first offsets, inside the log", () => {
    const m = new LogEndModel();
    m.reset(ends([["t", [10]]]));
    assert.equal(m.answered("t", 0, [{ baseOffset: 4, records: 2, idempotent: true }]), undefined);
    assert.match(
      m.answered("t", 0, [{ baseOffset: 9, records: 2, idempotent: true }])!,
      /duplicate answered at offsets 9\.\.10, past the log end 10/,
    );
    // A non-idempotent batch below the end is never a duplicate.
    assert.match(
      m.answered("t", 0, [{ baseOffset: 4, records: 2, idempotent: false }])!,
      /base offset 4/,
    );
    assert.deepEqual(m.check(ends([["t", [10]]])), []);
  });

  await t.step("carried records of earlier cases, a created topic, a deleted one", () => {
    const m = new LogEndModel();
    const carried = mergeUnanswered(
      new Map([["t", new Map([[0, 2]])]]),
      new Map([["t", new Map([[0, 3]])], ["new", new Map([[1, 4]])]]),
    );
    m.reset(ends([["t", [1]]]), carried);
    assert.deepEqual(m.check(ends([["t", [6]], ["new", [0, 4]]])), []);
    assert.equal(m.check(ends([["t", [7]], ["new", [0, 0]]])).length, 1);
    m.noteUnanswered("kf-x", 0, batch(1));
    assert.deepEqual([...m.unanswered.get("kf-x")!], [[0, 1]]);
    m.deleted("t");
    assert.deepEqual(m.check(ends([["t", [0]]])), []);
  });
});
