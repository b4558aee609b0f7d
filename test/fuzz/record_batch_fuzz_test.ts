/**
 * CI's short run of the RecordBatch decoder and PartitionLog.append fuzzers (fixed seed; set
 * SLUICE_FUZZ_SEED to a number, or to anything else for a random seed, printed). `deno task
 * fuzz` runs the same cases at length.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { silentLogger } from "../../src/logger.ts";
import { PartitionLog } from "../../src/storage/partition_log.ts";
import { tempDir } from "../test_util.ts";
import { caseSeed, decoderCase, logCase, runSeedFromEnv } from "./fuzz_lib.ts";

const DECODER_CASES = 3_000;
const LOG_CASES = 400;
const FAILURES_SHOWN_MAX = 5;

const runSeed = runSeedFromEnv(0x5eed_0001);
if (Deno.env.get("SLUICE_FUZZ_SEED") !== undefined) console.log(`fuzz run seed ${runSeed}`);

function report(target: string, failures: string[]): void {
  assert.equal(
    failures.length,
    0,
    `${failures.length} ${target} fuzz failures (run seed ${runSeed}):\n` +
      failures.slice(0, FAILURES_SHOWN_MAX).join("\n"),
  );
}

Deno.test("decodeRecordBatch() on mutated batches returns or throws SluiceError, fast", () => {
  const failures: string[] = [];
  for (let i = 0; i < DECODER_CASES; i++) {
    const seed = caseSeed(runSeed ^ 1, i);
    const problem = decoderCase(seed);
    if (problem !== undefined) {
      failures.push(
        `seed ${seed} (deno run -A scripts/fuzz.ts --target decoder --replay ${seed}): ${problem}`,
      );
    }
  }
  report("decoder", failures);
});

Deno.test("PartitionLog.append() of mutated batches writes all or nothing", async () => {
  const dir = tempDir("sluice-fuzz-log-");
  const log = await PartitionLog.open(dir, {
    config: { flushPolicy: "none" },
    clock: new ManualClock(1_700_000_000_000),
    logger: silentLogger,
  });
  const failures: string[] = [];
  try {
    for (let i = 0; i < LOG_CASES; i++) {
      const seed = caseSeed(runSeed ^ 2, i);
      const problem = await logCase(log, dir, seed);
      if (problem !== undefined) {
        failures.push(`seed ${seed} (--target log --replay ${seed}): ${problem}`);
      }
    }
  } finally {
    await log.close();
  }
  report("log", failures);
});
