/**
 * Crash and corruption tests for PartitionLog recovery (log_loader.ts, segment.ts).
 *
 * The crash tests SIGKILL a real child process (crash_child.ts) while it appends, then reopen the
 * log here: every acknowledged record must be at its acknowledged offset. The corruption tests
 * damage files of a log written in this process (torn tail, flipped bytes, lost or damaged indexes)
 * and check what the next open keeps, truncates, rebuilds and reports.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { SluiceError } from "../../src/errors.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches, encodeRecordBatch } from "../../src/record/record_batch.ts";
import type { FlushPolicy, LogConfig } from "../../src/storage/log_config.ts";
import { CHECKPOINT_FILE } from "../../src/storage/log_loader.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { segmentFileStem } from "../../src/storage/segment.ts";
import { type Ack, idOf, parseAck, valueFor } from "./crash_child.ts";
import { prngFloat } from "../test_util.ts";

const encoder = new TextEncoder();
const childPath = new URL("./crash_child.ts", import.meta.url).pathname;

/** Seed of every random choice here; set CRASH_SEED to replay a failure. */
const seed = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 1_000_000_007);
const seedNote = `(CRASH_SEED=${seed})`;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function segmentPath(dir: string, baseOffset: number, suffix: string): string {
  return `${dir}/${segmentFileStem(baseOffset)}${suffix}`;
}

// ---------------------------------------------------------------------------------------------
// Reading a whole log back.

interface LogContent {
  /** ids[offset]: the id of the record at that offset. */
  ids: string[];
  batches: { baseOffset: number; lastOffset: number }[];
}

/**
 * Reads every record from offset 0 and checks the log is contiguous (each record's offset is the
 * previous one plus 1, ending at logEndOffset) and each value is exactly what its id dictates.
 */
function readAll(log: PartitionLog): LogContent {
  assert.equal(log.logStartOffset, 0);
  const ids: string[] = [];
  const batches: LogContent["batches"] = [];
  let offset = 0;
  while (offset < log.logEndOffset) {
    const read = log.read(offset, 256 * 1024);
    assert.ok(read !== undefined, `read(${offset}) below logEndOffset ${log.logEndOffset}`);
    assert.equal(read.firstOffset, offset);
    for (const batch of decodeBatches(read.bytes)) {
      assert.equal(batch.baseOffset, ids.length, "batches are contiguous");
      for (const r of batch.records) {
        assert.equal(r.offset, ids.length, "records are contiguous");
        const id = idOf(r.value);
        assert.equal(new TextDecoder().decode(r.value!), valueFor(id), `value at ${r.offset}`);
        ids.push(id);
      }
      batches.push({ baseOffset: batch.baseOffset, lastOffset: ids.length - 1 });
    }
    assert.equal(read.nextOffset, ids.length);
    offset = read.nextOffset;
  }
  assert.equal(ids.length, log.logEndOffset, "records end at logEndOffset");
  assert.equal(log.read(log.logEndOffset), undefined);
  return { ids, batches };
}

/** Ids of the form `<tag>.<loop>.<seq>`: per tag and loop, seqs in log order are 0, 1, 2, ... */
function assertPrefixClosed(ids: string[]): void {
  const nextSeq = new Map<string, number>();
  for (let offset = 0; offset < ids.length; offset++) {
    const m = /^(.+\.\d+)\.(\d+)$/.exec(ids[offset]);
    if (m === null) continue;
    const want = nextSeq.get(m[1]) ?? 0;
    assert.equal(Number(m[2]), want, `record ${ids[offset]} at offset ${offset} ${seedNote}`);
    nextSeq.set(m[1], want + 1);
  }
}

function assertNoDuplicates(ids: string[]): void {
  const seen = new Map<string, number>();
  ids.forEach((id, offset) => {
    assert.ok(!seen.has(id), `${id} at offsets ${seen.get(id)} and ${offset} ${seedNote}`);
    seen.set(id, offset);
  });
}

function assertAcked(ids: string[], acks: Ack[]): void {
  for (const ack of acks) {
    for (let i = 0; i < ack.ids.length; i++) {
      assert.equal(
        ids[ack.baseOffset + i],
        ack.ids[i],
        `acknowledged ${ack.ids[i]} at offset ${ack.baseOffset + i} ${seedNote}`,
      );
    }
  }
}

function warnings(logger: MemoryLogger, level = "warn"): MemoryLogger["events"] {
  return logger.events.filter((e) => e.level === level);
}

// ---------------------------------------------------------------------------------------------
// The child process.

/** Complete lines of a byte stream; a last line without its newline (cut by a kill) is dropped. */
class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #lines: string[] = [];

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  async next(): Promise<string | undefined> {
    while (this.#lines.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += value;
      const parts = this.#buffer.split("\n");
      this.#buffer = parts.pop()!;
      this.#lines.push(...parts);
    }
    return this.#lines.shift();
  }
}

const CHILD_SEGMENT_BYTES = 64 * 1024;
/** Acks to read from each child before the kill: enough to span several 64 KiB segments. */
const ACKS_BEFORE_KILL = 300;
/** The kill comes this long (at most) after the acks above, at a random moment. */
const KILL_DELAY_MS_MAX = 40;

interface CrashRounds {
  dir: string;
  policy: FlushPolicy;
  rounds: number;
  /** The child's checkpointIntervalMs in round i (so checkpoints land at different moments). */
  checkpointIntervalMs: (round: number) => number;
  random: () => number;
}

/** Runs one child until it has acknowledged enough, kills it with SIGKILL, returns its acks. */
async function runChildAndKill(
  dir: string,
  policy: FlushPolicy,
  tag: string,
  checkpointIntervalMs: number,
  killDelayMs: number,
): Promise<{ acks: Ack[]; segmentsAtKill: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      childPath,
      dir,
      policy,
      String(CHILD_SEGMENT_BYTES),
      tag,
      String(checkpointIntervalMs),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = new LineReader(child.stdout);
  const acks: Ack[] = [];
  /** Lines that are not acks: asserted on after the child is gone, so nothing leaks. */
  const garbled: string[] = [];
  const take = (line: string) => {
    const ack = parseAck(line);
    if (ack === undefined) garbled.push(line);
    else acks.push(ack);
  };
  let line = await lines.next();
  for (; line !== undefined && acks.length < ACKS_BEFORE_KILL; line = await lines.next()) {
    take(line);
  }
  const killed = line !== undefined;
  if (killed) {
    take(line!);
    await delay(killDelayMs);
    child.kill("SIGKILL");
    // Lines written before the kill are acknowledgements too.
    for (line = await lines.next(); line !== undefined; line = await lines.next()) take(line);
  }
  const status = await child.status;
  const errText = await stderr;
  assert.ok(killed, `child exited after ${acks.length} acks: ${errText}`);
  assert.equal(status.signal, "SIGKILL", `child status ${JSON.stringify(status)}: ${errText}`);
  assert.deepEqual(garbled, [], "every complete line the child printed is an ack");
  let segmentsAtKill = 0;
  for (const entry of Deno.readDirSync(dir)) if (entry.name.endsWith(".log")) segmentsAtKill++;
  return { acks, segmentsAtKill };
}

/**
 * Kill, verify, continue: each round a child appends on top of what is there and is killed; the
 * log reopened here must hold every acknowledged record, contiguously, and take appends at its end;
 * a second, clean reopen must change nothing.
 */
async function crashRounds(o: CrashRounds): Promise<void> {
  const config: Partial<LogConfig> = { segmentBytes: CHILD_SEGMENT_BYTES, flushPolicy: "always" };
  const acks: Ack[] = [];
  /** What the log held after the previous round's clean close: it must never change. */
  let before: string[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const tag = `${o.policy}${round}`;
    const killDelayMs = Math.floor(o.random() * KILL_DELAY_MS_MAX);
    const run = await runChildAndKill(
      o.dir,
      o.policy,
      tag,
      o.checkpointIntervalMs(round),
      killDelayMs,
    );
    acks.push(...run.acks);
    assert.ok(run.segmentsAtKill >= 2, `only ${run.segmentsAtKill} segment(s) at the kill`);

    const logger = new MemoryLogger();
    const log = await PartitionLog.open(o.dir, { config, logger });
    const { ids } = readAll(log);
    assert.deepEqual(warnings(logger, "error"), [], `recovery errors ${seedNote}`);
    assert.deepEqual(ids.slice(0, before.length), before, `earlier rounds kept ${seedNote}`);
    assertAcked(ids, acks);
    assertNoDuplicates(ids);
    assertPrefixClosed(ids);
    assert.ok(ids.length >= before.length + ACKS_BEFORE_KILL);

    const logEndOffset = log.logEndOffset;
    const selfId = `test-round-${round}`;
    const appended = await log.append(
      encodeRecordBatch([{ value: encoder.encode(valueFor(selfId)) }], { timestampMs: Date.now() }),
    );
    assert.equal(appended.baseOffset, logEndOffset, "appends continue at logEndOffset");
    assert.equal(log.logEndOffset, logEndOffset + 1);
    await log.close();

    const cleanLogger = new MemoryLogger();
    const reopened = await PartitionLog.open(o.dir, { config, logger: cleanLogger });
    const again = readAll(reopened);
    await reopened.close();
    assert.deepEqual(again.ids, [...ids, selfId], `clean reopen changed the log ${seedNote}`);
    assert.deepEqual(warnings(cleanLogger), [], "a clean reopen warns about nothing");
    assert.deepEqual(warnings(cleanLogger, "error"), []);
    before = again.ids;
  }
}

Deno.test("PartitionLog survives SIGKILL of a writer with flush.policy always", async (t) => {
  const random = prngFloat(seed);
  const dir = await Deno.makeTempDir({ prefix: "sluice-crash-always-" });
  try {
    await t.step("3 rounds of kill, verify every ack, append, clean reopen", async () => {
      await crashRounds({
        dir,
        policy: "always",
        rounds: 3,
        // Round 1 checkpoints only on rolls, round 2 after every fsync, round 3 every 20 ms.
        checkpointIntervalMs: (round) => [60_000, 0, 20][round - 1],
        random,
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PartitionLog loses nothing acknowledged on SIGKILL with flush.policy none", async (t) => {
  const random = prngFloat(seed + 1);
  const dir = await Deno.makeTempDir({ prefix: "sluice-crash-none-" });
  try {
    await t.step("2 rounds: the page cache outlives the process", async () => {
      await crashRounds({
        dir,
        policy: "none",
        rounds: 2,
        checkpointIntervalMs: (round) => [60_000, 0][round - 1],
        random,
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Corruption of a log written in this process.

/** Small segments and a small index interval, so a few hundred batches span several segments. */
const LOCAL_CONFIG: Partial<LogConfig> = {
  segmentBytes: 8 * 1024,
  indexIntervalBytes: 512,
  flushPolicy: "none",
};

interface BatchModel {
  baseOffset: number;
  lastOffset: number;
  ids: string[];
  /** Record timestamps, one per id. */
  timestampsMs: number[];
  /** Base offset of the segment holding the batch and the batch's byte position in it. */
  segment: number;
  position: number;
  sizeBytes: number;
}

function openLocal(
  dir: string,
  logger: MemoryLogger,
  clock: ManualClock,
  config: Partial<LogConfig> = {},
): Promise<PartitionLog> {
  return PartitionLog.open(dir, { config: { ...LOCAL_CONFIG, ...config }, logger, clock });
}

/**
 * Appends `count` batches of 1-5 records (ids `<tag>-<batch>-<i>`), one at a time, each record
 * 1 ms newer than the one before; returns where each batch landed.
 */
async function fillLog(
  log: PartitionLog,
  clock: ManualClock,
  count: number,
  tag: string,
  random: () => number,
): Promise<BatchModel[]> {
  const out: BatchModel[] = [];
  for (let b = 0; b < count; b++) {
    const n = 1 + Math.floor(random() * 5);
    const ids: string[] = [];
    const timestampsMs: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(`${tag}-${b}-${i}`);
      timestampsMs.push(clock.nowMs() + i);
    }
    const bytes = encodeRecordBatch(
      ids.map((id, i) => ({ value: encoder.encode(valueFor(id)), timestamp: timestampsMs[i] })),
      { timestampMs: clock.nowMs() },
    );
    const sizeBytes = bytes.length;
    const result = await log.append(bytes);
    const last = log.segments().at(-1)!;
    out.push({
      baseOffset: result.baseOffset,
      lastOffset: result.lastOffset,
      ids,
      timestampsMs,
      segment: last.baseOffset,
      position: last.sizeBytes - sizeBytes,
      sizeBytes,
    });
    clock.advance(n + 1);
  }
  return out;
}

function idsOf(model: BatchModel[]): string[] {
  return model.flatMap((b) => b.ids);
}

/** Every offset reads back (maxBytes 1: exactly one batch) as the batch that holds it. */
function assertEveryOffsetReads(log: PartitionLog, model: BatchModel[]): void {
  for (const batch of model) {
    for (let offset = batch.baseOffset; offset <= batch.lastOffset; offset++) {
      const read = log.read(offset, 1);
      assert.ok(read !== undefined, `read(${offset})`);
      assert.equal(read.firstOffset, batch.baseOffset, `read(${offset}).firstOffset`);
      assert.equal(read.nextOffset, batch.lastOffset + 1, `read(${offset}).nextOffset`);
      const decoded = decodeBatches(read.bytes);
      assert.equal(decoded.length, 1);
      assert.deepEqual(decoded[0].records.map((r) => idOf(r.value)), batch.ids);
    }
  }
}

/** The first offset whose timestamp is >= ts, per the model. */
function expectedOffsetForTimestamp(model: BatchModel[], ts: number): number | undefined {
  for (const b of model) {
    for (let i = 0; i < b.ids.length; i++) if (b.timestampsMs[i] >= ts) return b.baseOffset + i;
  }
  return undefined;
}

function assertOffsetsForTimestamps(log: PartitionLog, model: BatchModel[]): void {
  const probes = [0, Number.MAX_SAFE_INTEGER];
  for (const b of model) for (const ts of b.timestampsMs) probes.push(ts - 1, ts, ts + 1);
  for (const ts of probes) {
    assert.equal(
      log.offsetForTimestamp(ts),
      expectedOffsetForTimestamp(model, ts),
      `offsetForTimestamp(${ts})`,
    );
  }
}

function flipByte(path: string, position: number): void {
  const file = Deno.openSync(path, { read: true, write: true });
  try {
    const one = new Uint8Array(1);
    file.seekSync(position, Deno.SeekMode.Start);
    assert.equal(file.readSync(one), 1);
    one[0] ^= 0x5a;
    file.seekSync(position, Deno.SeekMode.Start);
    assert.equal(file.writeSync(one), 1);
  } finally {
    file.close();
  }
}

/** Copies the files of a (flat) log directory, as a crash would leave them on disk. */
function copyDirSync(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const entry of Deno.readDirSync(from)) {
    if (entry.isFile) {
      Deno.writeFileSync(`${to}/${entry.name}`, Deno.readFileSync(`${from}/${entry.name}`));
    }
  }
}

/**
 * Why a rebuilt index file is not right, or undefined: an offset index is a function of the log,
 * so it must come back byte for byte; a time index must exist and hold whole 12-byte entries.
 */
function indexFileProblem(path: string, original: Uint8Array): string | undefined {
  let rebuilt: Uint8Array;
  try {
    rebuilt = Deno.readFileSync(path);
  } catch {
    return `${path} is missing`;
  }
  if (path.endsWith(".timeindex")) {
    if (rebuilt.length > 0 && rebuilt.length % 12 === 0) return undefined;
    return `${path} has ${rebuilt.length} bytes`;
  }
  if (rebuilt.length === original.length && rebuilt.every((b, i) => b === original[i])) {
    return undefined;
  }
  return `${path} has ${rebuilt.length} bytes, not the ${original.length} it had`;
}

/** A record's value starts 61 (header) + a few (record preamble) bytes into its batch. */
const VALUE_BYTE_IN_BATCH = 61 + 12;

/** A multi-segment log written and closed cleanly in a fresh temp dir. */
async function cleanLog(
  tag: string,
  batches: number,
  random: () => number,
): Promise<{ dir: string; model: BatchModel[]; clock: ManualClock }> {
  const dir = await Deno.makeTempDir({ prefix: `sluice-${tag}-` });
  const clock = new ManualClock();
  const log = await openLocal(dir, new MemoryLogger(), clock);
  const model = await fillLog(log, clock, batches, tag, random);
  // The active segment gets index entries too, so losing them is observable: a batch is at most
  // 61 + 5 * 260 bytes, so 8 intervals of 512 bytes hold at least 2 entries.
  const activeBytesMin = 8 * LOCAL_CONFIG.indexIntervalBytes!;
  for (let extra = 0; log.segments().at(-1)!.sizeBytes < activeBytesMin; extra++) {
    model.push(...await fillLog(log, clock, 1, `${tag}+${extra}`, random));
  }
  await log.close();
  const segments = new Set(model.map((b) => b.segment));
  assert.ok(segments.size >= 4, `want several segments, got ${segments.size}`);
  return { dir, model, clock };
}

Deno.test("PartitionLog.open() truncates a log cut mid-batch to the last whole batch", async (t) => {
  const random = prngFloat(seed + 2);
  // Cut points inside the last batch: in its length field, in its header, one byte short.
  const cuts: [string, (size: number) => number][] = [
    ["in the length field", () => 9],
    ["in the header", () => 40],
    ["one byte before its end", (size) => size - 1],
  ];
  const cases = cuts.flatMap(([name, cutAt]) =>
    [true, false].map((checkpoint) => ({ name, cutAt, checkpoint }))
  );
  for (const { name, cutAt, checkpoint } of cases) {
    const how = checkpoint ? "a checkpoint past the cut" : "no recovery checkpoint";
    await t.step(`cut ${name}, with ${how}`, async () => {
      const { dir, model, clock } = await cleanLog("cut", 80, random);
      try {
        const last = model.at(-1)!;
        const logPath = segmentPath(dir, last.segment, ".log");
        const cut = last.position + cutAt(last.sizeBytes);
        await Deno.truncate(logPath, cut);
        if (!checkpoint) await Deno.remove(`${dir}/${CHECKPOINT_FILE}`);

        const logger = new MemoryLogger();
        const log = await openLocal(dir, logger, clock);
        assert.equal(log.logEndOffset, last.baseOffset, "the torn batch is gone");
        assert.equal((await Deno.stat(logPath)).size, last.position, "file cut to whole batches");
        const truncation = warnings(logger).find((e) =>
          e.fields?.file === logPath && e.fields?.position === last.position
        );
        assert.ok(
          truncation,
          `a warning names ${logPath}@${last.position}: ${JSON.stringify(logger.events)}`,
        );
        const kept = model.slice(0, -1);
        assert.deepEqual(readAll(log).ids, idsOf(kept));

        const more = await fillLog(log, clock, 3, "after", random);
        assert.equal(more[0].baseOffset, last.baseOffset, "appends continue at the cut");
        await log.close();
        const reopened = await openLocal(dir, new MemoryLogger(), clock);
        assert.deepEqual(readAll(reopened).ids, idsOf([...kept, ...more]));
        await reopened.close();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("PartitionLog.open() truncates at a corrupt batch after the recovery checkpoint", async (t) => {
  const random = prngFloat(seed + 3);

  /**
   * A log whose recovery checkpoint sits in an early segment, copied while still open (as a crash
   * would leave it); then `pick` chooses the batch (after the checkpoint) whose value byte flips.
   */
  async function corruptTail(
    pick: (after: BatchModel[]) => BatchModel,
  ): Promise<void> {
    const dir = await Deno.makeTempDir({ prefix: "sluice-tail-" });
    const crashed = `${dir}/crashed`;
    try {
      const clock = new ManualClock();
      const log = await openLocal(`${dir}/live`, new MemoryLogger(), clock);
      const head = await fillLog(log, clock, 30, "head", random);
      await log.checkpoint();
      const checkpoint = Deno.readFileSync(`${dir}/live/${CHECKPOINT_FILE}`);
      const tail = await fillLog(log, clock, 120, "tail", random);
      copyDirSync(`${dir}/live`, crashed);
      // Rolls in the tail flush and move the checkpoint in the background (whether that happened
      // before the copy depends on timing): put back the one from before the tail, a state a
      // crash right after that checkpoint leaves.
      Deno.writeFileSync(`${crashed}/${CHECKPOINT_FILE}`, checkpoint);
      await log.close();

      const point = JSON.parse(Deno.readTextFileSync(`${crashed}/${CHECKPOINT_FILE}`));
      const model = [...head, ...tail];
      const after = model.filter((b) =>
        b.segment > point.segment || (b.segment === point.segment && b.position >= point.position)
      );
      assert.equal(point.offset, tail[0].baseOffset, "checkpoint where checkpoint() put it");
      assert.ok(new Set(after.map((b) => b.segment)).size >= 3, "the tail spans segments");
      const bad = pick(after);
      const logPath = segmentPath(crashed, bad.segment, ".log");
      flipByte(logPath, bad.position + VALUE_BYTE_IN_BATCH);

      const logger = new MemoryLogger();
      const reopened = await openLocal(crashed, logger, clock);
      assert.equal(reopened.logEndOffset, bad.baseOffset, "truncated at the bad batch");
      const kept = model.filter((b) => b.baseOffset < bad.baseOffset);
      assert.deepEqual(readAll(reopened).ids, idsOf(kept), "earlier batches intact");
      const warning = warnings(logger).find((e) =>
        e.fields?.file === logPath && e.fields?.position === bad.position
      );
      assert.ok(
        warning,
        `a warning names ${logPath}@${bad.position}: ${JSON.stringify(logger.events)}`,
      );
      assert.match(String(warning.fields?.reason), /CRC/);
      for (const b of model) {
        if (b.segment > bad.segment) {
          assert.equal(
            await Deno.stat(segmentPath(crashed, b.segment, ".log")).catch(() => undefined),
            undefined,
            `segment ${b.segment} after the truncation is deleted`,
          );
        }
      }
      const more = await fillLog(reopened, clock, 20, "more", random);
      assert.equal(more[0].baseOffset, bad.baseOffset);
      await reopened.close();
      const again = await openLocal(crashed, new MemoryLogger(), clock);
      assert.deepEqual(readAll(again).ids, idsOf([...kept, ...more]));
      await again.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }

  await t.step("bad batch in the last segment", async () => {
    await corruptTail((after) => {
      const lastSegment = after.at(-1)!.segment;
      const inLast = after.filter((b) => b.segment === lastSegment);
      return inLast[Math.floor(inLast.length / 2)];
    });
  });
  await t.step("bad batch in an earlier segment: later segments are dropped", async () => {
    await corruptTail((after) => {
      const segments = [...new Set(after.map((b) => b.segment))];
      const middle = after.filter((b) => b.segment === segments[1]);
      return middle[Math.floor(middle.length / 3)];
    });
  });
});

Deno.test("PartitionLog.open() rebuilds deleted .index and .timeindex files", async (t) => {
  const random = prngFloat(seed + 4);
  const { dir, model, clock } = await cleanLog("noindex", 120, random);
  try {
    const segments = [...new Set(model.map((b) => b.segment))];
    const originals = new Map<string, Uint8Array>();
    for (const s of segments) {
      for (const suffix of [".index", ".timeindex"]) {
        const path = segmentPath(dir, s, suffix);
        originals.set(path, Deno.readFileSync(path));
        Deno.removeSync(path);
      }
    }
    const logger = new MemoryLogger();
    const log = await openLocal(dir, logger, clock);
    await t.step("reads at every offset return the batch holding it", () => {
      assert.equal(log.logEndOffset, model.at(-1)!.lastOffset + 1);
      assertEveryOffsetReads(log, model);
    });
    await t.step("offsetForTimestamp finds the first record at or after a time", () => {
      assertOffsetsForTimestamps(log, model);
    });
    await log.close();
    await t.step("the index files exist again after close, the offset index as it was", () => {
      const problems = [...originals].map(([path, original]) => indexFileProblem(path, original))
        .filter((p) => p !== undefined);
      assert.deepEqual(problems, []);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PartitionLog.open() detects and rebuilds a damaged index file", async (t) => {
  const random = prngFloat(seed + 5);
  const damages: [string, (segments: number[]) => number, string, (b: Uint8Array) => Uint8Array][] =
    [
      ["garbage .index of a closed segment", (s) => s[1], ".index", (b) => b.fill(0xab)],
      ["garbage .index of the last segment", (s) => s.at(-1)!, ".index", (b) => b.fill(0xab)],
      [
        ".index of a closed segment with a partial entry",
        (s) => s[1],
        ".index",
        (b) => Uint8Array.of(...b, 1, 2, 3),
      ],
      [
        ".index of a closed segment with entries swapped",
        (s) => s[1],
        ".index",
        (b) => Uint8Array.of(...b.subarray(8, 16), ...b.subarray(0, 8), ...b.subarray(16)),
      ],
      ["garbage .timeindex of a closed segment", (s) => s[1], ".timeindex", (b) => b.fill(0xab)],
    ];
  for (const [name, pickSegment, suffix, damage] of damages) {
    await t.step(name, async () => {
      const { dir, model, clock } = await cleanLog("badindex", 120, random);
      try {
        const segments = [...new Set(model.map((b) => b.segment))];
        const path = segmentPath(dir, pickSegment(segments), suffix);
        const original = Deno.readFileSync(path);
        assert.ok(original.length >= 16, `${path} has entries to damage`);
        Deno.writeFileSync(path, damage(original.slice()));

        const logger = new MemoryLogger();
        const log = await openLocal(dir, logger, clock);
        assert.equal(log.logEndOffset, model.at(-1)!.lastOffset + 1, "nothing truncated");
        assertEveryOffsetReads(log, model);
        assertOffsetsForTimestamps(log, model);
        await log.close();
        const reported = logger.events.some((e) => e.level !== "info" && e.fields?.file === path);
        assert.deepEqual(
          { reported, problem: indexFileProblem(path, original) },
          { reported: true, problem: undefined },
          `damage to ${path} is reported and rebuilt: ${JSON.stringify(logger.events)}`,
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

/** Reads check each batch's CRC-32C here (verifyCrcOnRead; off, test/storage/read_crc_test.ts). */
Deno.test("PartitionLog reports, and does not truncate, a corrupt batch below the checkpoint", async (t) => {
  const random = prngFloat(seed + 6);
  const { dir, model, clock } = await cleanLog("flushed", 120, random);
  try {
    const first = model.filter((b) => b.segment === 0);
    const bad = first[Math.floor(first.length / 2)];
    const logPath = segmentPath(dir, 0, ".log");
    flipByte(logPath, bad.position + VALUE_BYTE_IN_BATCH);

    const logger = new MemoryLogger();
    const log = await openLocal(dir, logger, clock, { verifyCrcOnRead: true });
    let logEndOffset = log.logEndOffset;
    try {
      await t.step("open truncates nothing", () => {
        assert.equal(log.logEndOffset, model.at(-1)!.lastOffset + 1);
        assert.deepEqual(log.segments().map((s) => s.baseOffset), [
          ...new Set(model.map((b) => b.segment)),
        ]);
      });
      await t.step("reading the bad batch throws CORRUPT_LOG naming file and position", () => {
        for (let offset = bad.baseOffset; offset <= bad.lastOffset; offset++) {
          assert.throws(() => log.read(offset), (err: unknown) => {
            assert.ok(err instanceof SluiceError, String(err));
            assert.equal(err.code, "CORRUPT_LOG");
            assert.equal(err.details?.file, logPath);
            assert.equal(err.details?.position, bad.position);
            return true;
          });
        }
      });
      await t.step("every other batch still reads", () => {
        assertEveryOffsetReads(log, model.filter((b) => b !== bad));
        // A read from before the bad batch stops short of it rather than serving it.
        const before = model[model.indexOf(bad) - 1];
        const read = log.read(before.baseOffset, 1024 * 1024);
        assert.ok(read !== undefined);
        assert.equal(read.nextOffset, bad.baseOffset);
      });
      await t.step("appends still work", async () => {
        const more = await fillLog(log, clock, 5, "more", random);
        assert.equal(more[0].baseOffset, model.at(-1)!.lastOffset + 1);
        logEndOffset = more.at(-1)!.lastOffset + 1;
      });
    } finally {
      await log.close();
    }
    await t.step("a second open still truncates nothing", async () => {
      const again = await openLocal(dir, new MemoryLogger(), clock, { verifyCrcOnRead: true });
      assert.equal(again.logEndOffset, logEndOffset);
      assert.throws(() => again.read(bad.baseOffset), SluiceError);
      await again.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Resolves `promise`, or rejects after `ms` saying what hung (the timer is always cleared). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not resolve within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("PartitionLog.flush() queued as the previous flush resolves still completes", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sluice-flush-chain-" });
  const log = await PartitionLog.open(dir, {
    config: { flushPolicy: "always" },
    logger: new MemoryLogger(),
  });
  const batch = () =>
    encodeRecordBatch([{ value: encoder.encode(valueFor("chain")) }], { timestampMs: 0 });
  try {
    await log.append(batch());
    // An acknowledged append must never wait on a later, unrelated flush to be acknowledged.
    await t.step("append() right after an awaited flush() resolves", async () => {
      await log.flush();
      const appended = await within(log.append(batch()), 2000, "append() after flush()");
      assert.equal(appended.baseOffset, 1);
    });
    await t.step("flush().then(() => flush()) resolves", async () => {
      await within(log.flush().then(() => log.flush()), 2000, "a chained flush()");
    });
  } finally {
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
