/**
 * SIGKILL of a real process whose appends have their CRCs checked beside their write
 * (src/storage/log_append.ts, native/batch_check.c): crash_overlap_child.ts appends two ~330 KB
 * batches at a time, every third append with a damaged second batch, and is killed at a random
 * moment after some appends. The reopened log must hold every acknowledged append at its offsets,
 * no record of a refused append, and every append it holds whole (both batches): the first batch's
 * head is written last, so an append cut by the kill before its check answered leaves nothing that
 * recovery keeps. Three rounds on one log, each reopened and checked.
 */
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/logger.ts";
import { decodeBatches } from "../../src/record/record_batch.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { cpuHasCrcKernel, gccAvailable, prng, tempDir } from "../test_util.ts";
import { overlapValue, RECORDS_PER_BATCH } from "./crash_overlap_child.ts";

const CHILD = new URL("./crash_overlap_child.ts", import.meta.url).pathname;
const RECORDS_PER_APPEND = 2 * RECORDS_PER_BATCH;
/** Acknowledged appends before the kill is armed. */
const ACKS_BEFORE_KILL = 8;
/** The kill comes at most this long after that, at a seeded random moment. */
const KILL_DELAY_MS_MAX = 25;
const seed = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 1_000_000_007);
const seedNote = `(CRASH_SEED=${seed})`;

interface ChildRun {
  acks: Map<number, { base: number; last: number }>;
  refused: Map<number, string>;
  tried: Map<number, "good" | "bad">;
  jobs: number;
}

async function runAndKill(dir: string, tag: string, killDelayMs: number): Promise<ChildRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, tag],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const run: ChildRun = { acks: new Map(), refused: new Map(), tried: new Map(), jobs: 0 };
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let killed = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    const lines = buffered.split("\n");
    buffered = lines.pop()!; // a line cut by the kill is not a statement
    for (const line of lines) {
      const [word, a, b, c, d] = line.split(" ");
      if (word === "try") run.tried.set(Number(a), b as "good" | "bad");
      else if (word === "ack") {
        run.acks.set(Number(c), { base: Number(a), last: Number(b) });
        run.jobs = Number(d);
      } else if (word === "refused") run.refused.set(Number(a), b);
      else assert.fail(`unexpected child line: ${line}`);
    }
    if (!killed && run.acks.size >= ACKS_BEFORE_KILL) {
      killed = true;
      setTimeout(() => child.kill("SIGKILL"), killDelayMs);
    }
  }
  const status = await child.status;
  const errText = await stderr;
  assert.equal(status.signal, "SIGKILL", `child status ${JSON.stringify(status)}: ${errText}`);
  return run;
}

/** Every record of the log, as [tag, append, i] in offset order; contiguous offsets checked. */
function readAll(log: PartitionLog): [string, number, number][] {
  const out: [string, number, number][] = [];
  let offset = 0;
  while (offset < log.logEndOffset) {
    const read = log.read(offset, 4 * 1024 * 1024)!;
    for (const batch of decodeBatches(read.bytes)) {
      for (const r of batch.records) {
        assert.equal(r.offset, out.length, "records are contiguous");
        const text = new TextDecoder().decode(r.value!);
        const [tag, append, i] = text.slice(0, text.indexOf("|")).split(".");
        assert.equal(text, overlapValue(tag, Number(append), Number(i)), `value at ${r.offset}`);
        out.push([tag, Number(append), Number(i)]);
      }
    }
    offset = read.nextOffset;
  }
  return out;
}

Deno.test({
  name:
    "SIGKILL during appends checked beside their write: acks kept, refused and cut appends gone",
  ignore: !(gccAvailable && cpuHasCrcKernel),
  fn: async (t) => {
    const dir = tempDir("sluice-crash-overlap-");
    const random = prng(seed);
    let before: [string, number, number][] = [];
    for (let round = 1; round <= 3; round++) {
      await t.step(`round ${round} ${seedNote}`, async () => {
        const tag = `r${round}`;
        const run = await runAndKill(dir, tag, random() % KILL_DELAY_MS_MAX);
        assert.ok(run.jobs >= ACKS_BEFORE_KILL, `appends checked beside the write: ${run.jobs}`);
        for (const [append, kind] of run.tried) {
          if (kind === "bad" && run.refused.has(append)) {
            assert.equal(run.refused.get(append), "CORRUPT_BATCH");
          }
          if (kind === "bad") assert.ok(!run.acks.has(append), `bad append ${append} acked`);
          if (kind === "good") assert.ok(!run.refused.has(append), `good append ${append} refused`);
        }

        const logger = new MemoryLogger();
        const log = await PartitionLog.open(dir, { logger });
        const records = readAll(log);
        await log.close();
        assert.deepEqual(logger.events.filter((e) => e.level === "error"), []);
        assert.deepEqual(records.slice(0, before.length), before, "earlier rounds kept");
        for (const [append, ack] of run.acks) {
          assert.equal(ack.last - ack.base + 1, RECORDS_PER_APPEND);
          for (let i = 0; i < RECORDS_PER_APPEND; i++) {
            assert.deepEqual(records[ack.base + i], [tag, append, i], `acked append ${append}`);
          }
        }
        // Every append held is whole and was not a bad one; this round's follow in order.
        let at = before.length;
        let lastAppend = -1;
        while (at < records.length) {
          const [rTag, append] = records[at];
          assert.equal(rTag, tag);
          assert.ok(append > lastAppend, `append ${append} after ${lastAppend}`);
          assert.notEqual(run.tried.get(append), "bad", `refused append ${append} in the log`);
          for (let i = 0; i < RECORDS_PER_APPEND; i++) {
            assert.deepEqual(records[at + i], [tag, append, i], `append ${append} is whole`);
          }
          lastAppend = append;
          at += RECORDS_PER_APPEND;
        }
        before = records;
      });
    }
  },
});
