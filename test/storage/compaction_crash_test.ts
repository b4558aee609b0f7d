/**
 * Crash safety of log compaction (segment_swap.ts): a child process (compaction_crash_child.ts)
 * cleans a log and kills itself with SIGKILL at a named step of the clean (the first or the
 * second time it reaches it: a clean of several groups swaps several times), while appending.
 * Reopened here, the log must hold the old segments or the new ones, never a mix: every record
 * read is the one written at its offset, the latest value of every key is the one last written,
 * every acknowledged append is there, nothing is damaged and no `.cleaned` or `.swap` file is
 * left. A clean after the reopen must then work, and leave the same latest values.
 */
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/logger.ts";
import { CleanerManager } from "../../src/storage/cleaner/cleaner_manager.ts";
import { SWAP_STEPS, type SwapStep } from "../../src/storage/cleaner/segment_swap.ts";
import type { LogConfig } from "../../src/storage/log_config.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir } from "../test_util.ts";
import { keyedBatch, latestByKey, readAllRecords } from "./compaction_util.ts";

const childPath = new URL("./compaction_crash_child.ts", import.meta.url).pathname;
const SEGMENT_BYTES = 2048;
const CONFIG: Partial<LogConfig> = { compact: true, delete: false, segmentBytes: SEGMENT_BYTES };

interface Written {
  offset: number;
  key: string;
  value: string | null;
}

/**
 * A log of several segments: keys updated over rounds, some deleted, cleaned once here (so that
 * the child's clean merges the small cleaned segments: groups of several, several swaps), then
 * updated again. Returns what it holds.
 */
async function writeLog(dir: string): Promise<Written[]> {
  const logger = new MemoryLogger();
  const log = await PartitionLog.open(dir, { config: CONFIG, logger });
  const written: Written[] = [];
  const rounds = async (from: number, to: number) => {
    for (let round = from; round < to; round++) {
      for (let k = 0; k < 40; k += 4) {
        const records = [0, 1, 2, 3].map((i) => {
          const key = `k${k + i}`;
          const deleted = round % 6 === 5 && (k + i) % 7 === 0;
          return { key, value: deleted ? null : `r${round}-${key}-${"x".repeat((k + i) % 13)}` };
        });
        const r = await log.append(keyedBatch(records, { timestampMs: Date.now() }));
        records.forEach((rec, i) => written.push({ offset: r.baseOffset + i, ...rec }));
      }
    }
    log.updateHighWatermark(log.logEndOffset);
  };
  await rounds(0, 12);
  const manager = new CleanerManager({ logger, dedupeBufferBytes: 1 << 20 });
  manager.register(log);
  assert.equal((await manager.cleanNow(log)).cleaned, true);
  await rounds(12, 24);
  await log.close();
  return written;
}

/** Runs the child to its kill (or its end); returns its acknowledged appends and how it ended. */
async function runChild(
  dir: string,
  step: SwapStep,
  occurrence: number,
): Promise<{ acks: Written[]; killed: boolean; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", childPath, dir, step, String(occurrence), String(SEGMENT_BYTES)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const output = await child.output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const acks: Written[] = [];
  let finished = false;
  // A last line cut by the kill has no newline: dropped.
  const lines = stdout.split("\n").slice(0, -1);
  for (const line of lines) {
    if (line === "finished") {
      finished = true;
      continue;
    }
    const m = /^ack (\d+) (live-\d+)$/.exec(line);
    assert.ok(m !== null, `child line ${JSON.stringify(line)}`);
    acks.push({ offset: Number(m[1]), key: m[2], value: m[2] });
  }
  const killed = output.signal === "SIGKILL";
  assert.ok(killed || (finished && output.code === 0), `child ended ${output.code}: ${stderr}`);
  return { acks, killed, stderr };
}

/** The reopened log holds exactly what `written` says, plus perhaps unacknowledged appends. */
function check(log: PartitionLog, written: readonly Written[], what: string): void {
  assert.deepEqual(log.damage, [], `${what}: no damage`);
  const byOffset = new Map(written.map((w) => [w.offset, w]));
  const read = readAllRecords(log);
  for (const r of read) {
    const w = byOffset.get(r.offset);
    if (w === undefined) {
      // An append the child made but did not live to acknowledge.
      assert.ok(
        r.key !== null && /^live-\d+$/.test(r.key) && r.value === r.key,
        `${what}: ${r.offset}`,
      );
      continue;
    }
    assert.equal(r.key, w.key, `${what}: key at ${r.offset}`);
    assert.equal(r.value, w.value, `${what}: value at ${r.offset}`);
  }
  const latest = latestByKey(read);
  for (const [key, want] of latestByKey(written)) {
    const got = latest.get(key);
    if (want.value === null && got === undefined) continue; // a tombstone past its horizon
    assert.deepEqual(got, want, `${what}: latest of ${key}`);
  }
  const files = [...Deno.readDirSync(log.dir)].map((e) => e.name);
  assert.deepEqual(files.filter((n) => /\.(cleaned|swap|deleted)$/.test(n)), [], `${what}: files`);
}

Deno.test("compaction: SIGKILL at any step of a clean leaves old segments or new", async (t) => {
  for (const step of SWAP_STEPS) {
    for (const occurrence of step === "done" ? [1] : [1, 2]) {
      await t.step(`${step} #${occurrence}`, async () => {
        const dir = tempDir("sluice-compact-crash-");
        const written = await writeLog(dir);
        const child = await runChild(dir, step, occurrence);
        assert.ok(child.killed, `the child reached ${step} #${occurrence}: ${child.stderr}`);
        const all = [...written, ...child.acks];
        const logger = new MemoryLogger();
        const log = await PartitionLog.open(dir, { config: CONFIG, logger });
        const what = `killed at ${step} #${occurrence}`;
        check(log, all, what);
        assert.deepEqual(logger.events.filter((e) => e.level === "error"), [], what);
        // The log cleans again after the crash, to the same latest values.
        log.updateHighWatermark(log.logEndOffset);
        const manager = new CleanerManager({ logger, dedupeBufferBytes: 1 << 20 });
        manager.register(log);
        assert.equal((await manager.cleanNow(log)).cleaned, true);
        check(log, all, `${what}, cleaned again`);
        await log.close();
        const reopened = await PartitionLog.open(dir, { config: CONFIG, logger });
        check(reopened, all, `${what}, reopened`);
        await reopened.close();
        Deno.removeSync(dir, { recursive: true });
      });
    }
  }
});
