/**
 * CI's short run of the HTTP fuzzer against the real server (fixed seed; set SLUICE_FUZZ_SEED to a
 * number, or to anything else for a random seed, printed). `deno task fuzz` runs it at length.
 */
import assert from "node:assert/strict";
import { withServer } from "../http/server_harness.ts";
import { caseSeed, HttpFuzzer, runSeedFromEnv } from "./fuzz_lib.ts";

const HTTP_CASES = 1_500;
const FAILURES_SHOWN_MAX = 5;

const runSeed = runSeedFromEnv(0x5eed_0003);
if (Deno.env.get("SLUICE_FUZZ_SEED") !== undefined) console.log(`fuzz run seed ${runSeed}`);

Deno.test("HTTP API under fuzzed requests: no 5xx, no hang, error shape, rejected writes nothing", async () => {
  await withServer({}, async (server) => {
    const fuzzer = new HttpFuzzer(server);
    await fuzzer.setup();
    const failures: string[] = [];
    for (let i = 0; i < HTTP_CASES; i++) {
      const seed = caseSeed(runSeed ^ 3, i);
      const problem = await fuzzer.run(seed).catch((err) => `fuzzer error: ${err}`);
      if (problem !== undefined) failures.push(`seed ${seed}: ${problem}`);
    }
    const last = await fuzzer.check();
    if (last !== undefined) failures.push(`final check: ${last}`);
    assert.equal(
      failures.length,
      0,
      `${failures.length} HTTP fuzz failures (run seed ${runSeed}):\n` +
        failures.slice(0, FAILURES_SHOWN_MAX).join("\n"),
    );
  });
});
