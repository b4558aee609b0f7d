import assert from "node:assert/strict";
import { isSluiceError } from "../../src/errors.ts";
import { lockDataDir } from "../../src/runtime/dir_lock.ts";
import { tempDir } from "../test_util.ts";

Deno.test("lockDataDir()", async (t) => {
  await t.step("refuses a dir this process already holds, until released", () => {
    const dir = tempDir("sluice-lock-");
    const lock = lockDataDir(dir);
    assert.equal(Deno.readTextFileSync(`${dir}/.lock`).trim(), String(Deno.pid));
    assert.throws(() => lockDataDir(dir), (e) => isSluiceError(e, "STORAGE_ERROR"));
    lock.release();
    assert.throws(() => Deno.statSync(`${dir}/.lock`));
    lockDataDir(dir).release();
  });

  await t.step("refuses a dir held by another live process, naming its pid", async () => {
    const dir = tempDir("sluice-lock-");
    const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      Deno.writeTextFileSync(`${dir}/.lock`, `${other.pid}\n`);
      assert.throws(
        () => lockDataDir(dir),
        (e) => isSluiceError(e, "STORAGE_ERROR") && e.message.includes(String(other.pid)),
      );
    } finally {
      other.kill("SIGKILL");
      await other.status;
    }
  });

  await t.step("takes over a lock whose process is gone (after a crash)", async () => {
    const dir = tempDir("sluice-lock-");
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    Deno.writeTextFileSync(`${dir}/.lock`, `${dead.pid}\n`);
    const lock = lockDataDir(dir);
    assert.equal(Deno.readTextFileSync(`${dir}/.lock`).trim(), String(Deno.pid));
    lock.release();
  });
});
