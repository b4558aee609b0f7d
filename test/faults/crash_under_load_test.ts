/**
 * Crash under load against the real server: 4 concurrent JSON producers (small batches) on 2
 * topics of 2 partitions plus one consumer-group member that commits what it reads; the server is
 * SIGKILLed at a seeded random moment and restarted on the same data dir, 3 rounds per flush
 * policy. After each restart every acknowledged record must be at its acknowledged offset exactly
 * once, offsets contiguous, and the group's offsets equal the last acknowledged commit.
 *
 * The seed is printed; replay a failure with `SLUICE_CRASH_SEED=<seed>`.
 */
import { tempDir } from "../test_util.ts";
import { type CrashRoundOptions, crashRun } from "./fault_util.ts";

const ROUNDS = 3;
const SEED = Number(Deno.env.get("SLUICE_CRASH_SEED") ?? (Date.now() % 0x7fff_ffff));

const BASE: Omit<CrashRoundOptions, "seed" | "dataDir" | "prefix" | "flushPolicy"> = {
  // A server start takes ~0.3 s; killing 0.2-1.2 s into the load keeps 6 rounds under 30 s.
  killAfterMinMs: 200,
  killAfterMaxMs: 1_200,
  producers: 4,
  topics: 2,
  partitions: 2,
  batchRecords: 5,
  log: (line) => console.log(line),
};

for (const flushPolicy of ["always", "none"] as const) {
  Deno.test({
    name:
      `crash under load (flush.policy ${flushPolicy}): acknowledged records and commits survive`,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    console.log(`crash under load: seed ${SEED} (SLUICE_CRASH_SEED to replay)`);
    const dataDir = tempDir(`sluice-crash-${flushPolicy}-`);
    await crashRun({ ...BASE, flushPolicy }, SEED, ROUNDS, dataDir);
  });
}
