/**
 * The produce command's line splitter (src/cli/sluice/produce.ts LineBuffer): the same lines as
 * String.split for any chunking of the input, with one- and several-byte delimiters, a delimiter
 * cut across chunks, empty lines, and a last line without its delimiter.
 */
import assert from "node:assert/strict";
import { LineBuffer } from "../../src/cli/sluice/produce.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function splitInChunks(text: string, delimiter: string, sizes: () => number): string[] {
  const bytes = enc.encode(text);
  const lines = new LineBuffer(enc.encode(delimiter));
  const out: string[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, sizes());
    lines.push(bytes.subarray(at, at + n));
    at += n;
    for (let l = lines.next(); l !== undefined; l = lines.next()) out.push(dec.decode(l));
  }
  out.push(dec.decode(lines.rest()));
  return out;
}

Deno.test("LineBuffer: the lines of String.split, whatever the chunks", async (t) => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const delimiter of ["\n", "|", "\r\n", "<sep>"]) {
    await t.step(JSON.stringify(delimiter), () => {
      for (let round = 0; round < 200; round++) {
        const parts = Array.from({ length: random(40) }, () => "x".repeat(random(300)));
        const text = parts.join(delimiter) + (random(2) === 0 ? delimiter : "");
        const want = text.split(delimiter);
        assert.deepEqual(splitInChunks(text, delimiter, () => 1 + random(70)), want);
        assert.deepEqual(splitInChunks(text, delimiter, () => 1), want, "byte by byte");
        assert.deepEqual(splitInChunks(text, delimiter, () => 1 << 20), want, "one chunk");
      }
    });
  }
  await t.step("a line longer than the buffer grows it; pendingLength counts it", () => {
    const lines = new LineBuffer(enc.encode("\n"));
    const big = new Uint8Array(200_000).fill(65);
    for (let i = 0; i < big.length; i += 1000) {
      lines.push(big.subarray(i, i + 1000));
      assert.equal(lines.next(), undefined);
    }
    assert.equal(lines.pendingLength, 200_000);
    lines.push(enc.encode("\nrest"));
    assert.equal(lines.next()?.length, 200_000);
    assert.equal(dec.decode(lines.rest()), "rest");
  });
});
