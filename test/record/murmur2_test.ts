import assert from "node:assert/strict";
import { murmur2, partitionForKey, toPositive } from "../../src/record/murmur2.ts";
import { fromHex } from "../test_util.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/murmur2.json", import.meta.url)),
) as { hashes: Record<string, number> };

const ENCODER = new TextEncoder();
const entries = Object.entries(fixture.hashes);

/**
 * The fixture has no key of length 1 mod 4, so the `case 1` arm of Java's switch would go
 * unchecked. These values were printed by Kafka's Utils.murmur2 copied into a Java program
 * (kafkajs, src/producer/partitioners/defaultJava/Test.java and murmur2.spec.js; not the older
 * default/murmur2.spec.js, whose values are kafkajs's pre-2.0 non-Java-compatible hash).
 */
const JAVA_HASHES: Record<string, number> = {
  "0": 971027396,
  "1": -1993445489,
  "128": -326012175,
  "2187": -1508407203,
  "16384": -325739742,
  "78125": -1654490814,
  "279936": 1462227128,
  "823543": -2014198330,
  "2097152": 607668903,
  "4782969": -1182699775,
  "10000000": -1830336757,
  "19487171": -1603849305,
  "35831808": -857013643,
  "62748517": -1167431028,
  "105413504": -381294639,
  "170859375": -1658323481,
  "100:48069": 1009543857,
};

/**
 * Keys with bytes >= 0x80, where Java's sign-extending `byte` needs the `& 0xff` masks: values
 * from kafkajs's Long-based port of the same Java code (the default partitioner's murmur2.js),
 * which agreed with this module on 20,000 random binary keys of length 0..66.
 */
const HIGH_BYTE_HASHES: Record<string, number> = {
  "ff": -311467685,
  "80fe": 1316928818,
  "fffefd": 998637092,
  "ffffffff": 644171429,
  "00ff80017f": 1264344236,
  "deadbeefcafebabe01": -1473444590,
  "e282ac": -1352192002,
  "f09f9880": 131881617,
};

Deno.test("murmur2", async (t) => {
  await t.step("Kafka UtilsTest vectors", () => {
    assert.ok(entries.length >= 6);
    for (const [key, hash] of entries) {
      assert.equal(murmur2(ENCODER.encode(key)), hash, key);
    }
  });

  await t.step("Java-generated vectors cover every tail length", () => {
    for (const [key, hash] of Object.entries(JAVA_HASHES)) {
      assert.equal(murmur2(ENCODER.encode(key)), hash, key);
    }
    // Java's switch fall-through is only exercised if keys of length 0, 1, 2 and 3 mod 4 appear.
    const keys = [...entries.map(([key]) => key), ...Object.keys(JAVA_HASHES)];
    const tails = new Set(keys.map((key) => ENCODER.encode(key).length % 4));
    assert.deepEqual([...tails].sort(), [0, 1, 2, 3]);
  });

  await t.step("bytes >= 0x80 are read unsigned", () => {
    for (const [hex, hash] of Object.entries(HIGH_BYTE_HASHES)) {
      assert.equal(murmur2(fromHex(hex)), hash, hex);
    }
  });

  await t.step("result is a signed 32-bit int", () => {
    let sawNegative = false;
    for (let n = 0; n < 2000; n++) {
      const h = murmur2(ENCODER.encode(`key-${n}`));
      assert.equal(h, h | 0);
      if (h < 0) sawNegative = true;
    }
    assert.ok(sawNegative);
  });

  await t.step("reads only the view, not its backing buffer", () => {
    for (const [key, hash] of entries) {
      const bytes = ENCODER.encode(key);
      const backing = new Uint8Array(bytes.length + 8).fill(0xaa);
      backing.set(bytes, 3);
      const view = backing.subarray(3, 3 + bytes.length);
      assert.equal(murmur2(view), hash, key);
    }
  });

  await t.step("empty key", () => {
    // No Java vector for it; kafkajs's Long-based port gives 275646681 (h = seed ^ 0, then only
    // the final mixes), and computing it must not read out of bounds.
    assert.equal(murmur2(new Uint8Array(0)), 275646681);
    assert.equal(murmur2(new Uint8Array(8).subarray(4, 4)), 275646681);
  });
});

Deno.test("toPositive", async (t) => {
  await t.step("clears the sign bit only", () => {
    assert.equal(toPositive(0), 0);
    assert.equal(toPositive(5), 5);
    assert.equal(toPositive(-1), 0x7fffffff);
    // Math.abs(-2^31) stays negative in Java; Kafka masks instead, mapping it to 0.
    assert.equal(toPositive(-2147483648), 0);
    assert.equal(toPositive(-790332482), -790332482 & 0x7fffffff);
    assert.equal(toPositive(-790332482), 1357151166);
  });
});

Deno.test("partitionForKey", async (t) => {
  await t.step("matches (hash & 0x7fffffff) % n from the vectors", () => {
    for (const [key, hash] of entries) {
      for (const n of [1, 2, 3, 7, 10, 12, 100, 1000]) {
        assert.equal(
          partitionForKey(ENCODER.encode(key), n),
          (hash & 0x7fffffff) % n,
          `${key} n=${n}`,
        );
      }
    }
  });

  await t.step("known values", () => {
    // From the fixture hashes: toPositive(-790332482) = 1357151166, toPositive(479470107) = itself.
    assert.equal(partitionForKey(ENCODER.encode("foobar"), 10), 6);
    assert.equal(partitionForKey(ENCODER.encode("foobar"), 3), 1357151166 % 3);
    assert.equal(partitionForKey(ENCODER.encode("abc"), 10), 7);
    assert.equal(partitionForKey(ENCODER.encode("21"), 12), (-973932308 & 0x7fffffff) % 12);
  });

  await t.step("always in range", () => {
    for (let n = 0; n < 500; n++) {
      const p = partitionForKey(ENCODER.encode(`k${n}`), 7);
      assert.ok(Number.isInteger(p) && p >= 0 && p < 7);
    }
  });
});
