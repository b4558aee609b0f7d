/**
 * CI's short run of the Kafka protocol fuzzers (fixed seed; set SLUICE_FUZZ_SEED to a number, or
 * to anything else for a random seed, printed): the table codec on mutated messages, and a real
 * listener under valid, mutated and malformed request frames. `deno task fuzz --target kafka` runs
 * them at length; see kafka_fuzz_lib.ts for the oracles.
 */
import assert from "node:assert/strict";
import { caseSeed, runSeedFromEnv } from "./fuzz_lib.ts";
import { kafkaDecodeCase, KafkaFuzzer } from "./kafka_fuzz_lib.ts";

const DECODE_CASES = 3_000;
const LISTENER_CASES = 300;
const FAILURES_SHOWN_MAX = 5;

const runSeed = runSeedFromEnv(0x5eed_0004);
if (Deno.env.get("SLUICE_FUZZ_SEED") !== undefined) console.log(`fuzz run seed ${runSeed}`);

function report(target: string, failures: string[]): void {
  assert.equal(
    failures.length,
    0,
    `${failures.length} ${target} fuzz failures (run seed ${runSeed}):\n` +
      failures.slice(0, FAILURES_SHOWN_MAX).join("\n"),
  );
}

Deno.test("Kafka codec on mutated messages: a value or a KafkaCodecError, fast; round trips", () => {
  const failures: string[] = [];
  for (let i = 0; i < DECODE_CASES; i++) {
    const seed = caseSeed(runSeed ^ 4, i);
    const problem = kafkaDecodeCase(seed);
    if (problem !== undefined) {
      failures.push(`seed ${seed} (--target kafka-decode --replay ${seed}): ${problem}`);
    }
  }
  report("kafka-decode", failures);
});

Deno.test("Kafka listener under fuzzed frames: answers in order or closes, no hang, offsets add up", async () => {
  const fuzzer = await KafkaFuzzer.start();
  const failures: string[] = [];
  try {
    for (let i = 0; i < LISTENER_CASES; i++) {
      const seed = caseSeed(runSeed ^ 5, i);
      const problem = await fuzzer.run(seed).catch((err) => `fuzzer error: ${err}`);
      if (problem !== undefined) {
        failures.push(`seed ${seed} (--target kafka-listener --replay ${seed}): ${problem}`);
      }
    }
  } finally {
    await fuzzer.close();
  }
  report("kafka-listener", failures);
});
