/**
 * HeldAnswers (src/kafka_protocol/held_answers.ts): held answers leave in one write with the next,
 * in order; an answer nobody flushes is written by the end of the event loop's turn; the bounds
 * refuse what would pass them; take() gives back what is held and nothing is written after it.
 */
import assert from "node:assert/strict";
import {
  HeldAnswers,
  HOLD_ANSWERS_MAX,
  HOLD_BYTES_MAX,
} from "../../src/kafka_protocol/held_answers.ts";

function recorder() {
  const writes: Uint8Array[][] = [];
  const held = new HeldAnswers((chunks) => {
    writes.push(chunks);
    return Promise.resolve();
  });
  return { writes, held };
}

const answer = (
  ...bytes: number[]
) => [Uint8Array.of(...bytes.slice(0, 1)), Uint8Array.of(...bytes.slice(1))];
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("held answers", async (t) => {
  await t.step("two held and a third flushed go out in one write, in order", async () => {
    const { writes, held } = recorder();
    const a = answer(1, 2), b = answer(3, 4), c = answer(5, 6);
    assert.equal(held.tryHold(a), true);
    assert.equal(held.tryHold(b), true);
    assert.equal(held.size, 2);
    await held.flush(c);
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0], [...a, ...b, ...c]);
    assert.equal(held.size, 0);
    await tick();
    assert.equal(writes.length, 1, "the timer wrote nothing more");
  });

  await t.step(
    "an answer nobody flushes is written by the next turn of the event loop",
    async () => {
      const { writes, held } = recorder();
      const a = answer(7, 8);
      assert.equal(held.tryHold(a), true);
      assert.equal(writes.length, 0);
      await tick();
      assert.deepEqual(writes, [a]);
      assert.equal(held.size, 0);
    },
  );

  await t.step(
    "the byte and count bounds refuse, and a flush with nothing held writes only the answer",
    async () => {
      const { writes, held } = recorder();
      assert.equal(held.tryHold([new Uint8Array(HOLD_BYTES_MAX + 1)]), false);
      assert.equal(held.size, 0);
      for (let i = 0; i < HOLD_ANSWERS_MAX; i++) assert.equal(held.tryHold(answer(i, i)), true);
      assert.equal(held.tryHold(answer(9, 9)), false, "one past the count");
      held.take();
      assert.equal(held.tryHold([new Uint8Array(HOLD_BYTES_MAX - 10)]), true);
      assert.equal(held.tryHold([new Uint8Array(11)]), false, "one byte past the bound");
      held.take();
      const big = [new Uint8Array(HOLD_BYTES_MAX * 4)];
      await held.flush(big);
      assert.deepEqual(writes, [big]);
      await tick();
      assert.equal(writes.length, 1);
    },
  );

  await t.step("take() hands back what is held; nothing is written after it", async () => {
    const { writes, held } = recorder();
    const a = answer(1, 1), b = answer(2, 2);
    held.tryHold(a);
    held.tryHold(b);
    assert.deepEqual(held.take(), [...a, ...b]);
    await tick();
    await tick();
    assert.equal(writes.length, 0);
    await held.flush();
    assert.equal(writes.length, 0, "an empty flush writes nothing");
  });
});
