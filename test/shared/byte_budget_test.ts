import assert from "node:assert/strict";
import { ByteBudget, ByteLease } from "../../src/byte_budget.ts";
import { BYTE_BUDGET_OVERDRAW_FACTOR } from "../../src/limits.ts";

Deno.test("ByteBudget and ByteLease", async (t) => {
  await t.step("takeUpTo grants what is free, tryTake all or nothing", () => {
    const b = new ByteBudget(100);
    assert.equal(b.takeUpTo(60), 60);
    assert.equal(b.takeUpTo(60), 40);
    assert.equal(b.takeUpTo(1), 0);
    assert.equal(b.tryTake(1), false);
    b.release(100);
    assert.equal(b.tryTake(150), true, "a single holder larger than the budget proceeds alone");
    assert.equal(b.tryTake(1), false);
  });

  await t.step("overdraw is allowed only below its cap", () => {
    const b = new ByteBudget(100);
    b.takeUpTo(100);
    assert.equal(b.mayOverdraw, true);
    b.force(100 * BYTE_BUDGET_OVERDRAW_FACTOR - 100 - 1);
    assert.equal(b.mayOverdraw, true);
    b.force(1);
    assert.equal(b.mayOverdraw, false, "at the cap a fetch reads nothing");
    b.release(1);
    assert.equal(b.mayOverdraw, true);
  });

  await t.step("a lease gives back exactly what it holds, once", () => {
    const b = new ByteBudget(100);
    const lease = new ByteLease(b);
    lease.takeUpTo(30);
    lease.force(10);
    assert.equal(lease.held, 40);
    lease.release(100);
    lease.releaseAll();
    assert.equal(b.used, 0);
    assert.equal(lease.held, 0);
  });
});
