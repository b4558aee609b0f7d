/**
 * The CRC-32C kernel's life outside the arithmetic (test/record/crc32c_test.ts checks that): the
 * build script (scripts/build_native.ts) with and without a compiler, the loader
 * (src/runtime/crc32c_native.ts) on good and bad files, the choice src/record/crc32c.ts makes and
 * SLUICE_CRC32C's, in child processes, and the kernel under Bun's FFI.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { crc32cPortable } from "../../src/record/crc32c.ts";
import { crc32cLibraryName, loadCrc32cKernel } from "../../src/runtime/crc32c_native.ts";
import {
  cpuHasCrcKernel,
  findBun,
  gccAvailable,
  prng,
  randomBytes,
  tempDir,
} from "../test_util.ts";

const ROOT = new URL("../../", import.meta.url);
const BUILD_SCRIPT = new URL("scripts/build_native.ts", ROOT).pathname;
const LIBRARY = crc32cLibraryName(Deno.build.os);
const DECODER = new TextDecoder();

const gcc = gccAvailable;
const cpuHasKernel = cpuHasCrcKernel;

async function build(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      BUILD_SCRIPT,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: DECODER.decode(out.stderr) };
}

/** Why the last childImplementation's kernel was not used (crc32cKernelRefusal), or null. */
let childRefusal: string | null = null;

/** A child Deno that imports crc32c.ts and prints the implementation in use and a CRC. */
async function childImplementation(permissions: string[], forced: string): Promise<string> {
  const moduleUrl = new URL("src/record/crc32c.ts", ROOT).href;
  const script = `import * as m from ${JSON.stringify(moduleUrl)};\n` +
    `const v = m.crc32c(new TextEncoder().encode("123456789".repeat(100)));\n` +
    `console.log(m.crc32cImplementation + " " + v);\n` +
    `console.log(JSON.stringify(m.crc32cKernelRefusal));\n`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...permissions, "-"],
    cwd: ROOT,
    // The child inherits this process's environment: blank the variable rather than omit it.
    env: { SLUICE_CRC32C: forced },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, DECODER.decode(out.stderr));
  const [line, refusal] = DECODER.decode(out.stdout).trim().split("\n");
  childRefusal = JSON.parse(refusal);
  return line;
}

Deno.test({
  name: "crc32c kernel: build, load, choice",
  ignore: LIBRARY === undefined,
  fn: async (t) => {
    const dir = tempDir("sluice-crc-kernel-");
    const expected = crc32cPortable(new TextEncoder().encode("123456789".repeat(100)));

    await t.step({
      name: "the build script builds a library the loader opens and the kernel computes CRC-32C",
      ignore: !gcc,
      fn: async () => {
        const first = await build(["--out", dir]);
        assert.equal(first.code, 0, first.stderr);
        assert.doesNotMatch(first.stderr, /warning/i, "native/crc32c.c compiles without warnings");
        const path = join(dir, LIBRARY!);
        const load = await loadCrc32cKernel(path);
        if (!cpuHasKernel) {
          assert.equal(load.kernel, null);
          return;
        }
        assert.ok(load.kernel !== null, "reason" in load ? load.reason : "");
        const next = prng(31);
        const data = randomBytes(100_000, next);
        for (let i = 0; i < 50; i++) {
          const offset = next() % 32;
          const len = next() % (data.length - offset);
          const view = data.subarray(offset, offset + len);
          assert.equal(
            load.kernel(view, 7),
            crc32cPortable(view, 7),
            `offset ${offset} len ${len}`,
          );
        }
        // Up to date: not rebuilt; --force: rebuilt (renamed into place: a new inode).
        const before = Deno.statSync(path).ino;
        assert.equal((await build(["--out", dir])).code, 0);
        assert.equal(Deno.statSync(path).ino, before);
        assert.equal((await build(["--out", dir, "--force"])).code, 0);
        assert.notEqual(Deno.statSync(path).ino, before, "rebuilt");
        // No temporary file left beside it.
        assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [LIBRARY]);
      },
    });

    await t.step("no compiler: an error alone, a debug line under --if-possible", async () => {
      const out = join(dir, "none");
      const env = { CC: "sluice-no-such-cc", SLUICE_DEBUG: "" };
      const alone = await build(["--out", out], env);
      assert.equal(alone.code, 1);
      assert.match(alone.stderr, /no C compiler \(sluice-no-such-cc\) found/);
      const quiet = await build(["--out", out, "--if-possible"], env);
      assert.equal(quiet.code, 0);
      assert.equal(quiet.stderr, "");
      const debug = await build(["--out", out, "--if-possible"], { ...env, SLUICE_DEBUG: "1" });
      assert.equal(debug.code, 0);
      assert.equal(JSON.parse(debug.stderr).level, "debug");
      assert.equal((await loadCrc32cKernel(join(out, LIBRARY!))).kernel, null);
    });

    await t.step("a failing compiler: exit 1 alone, a warning under --if-possible", async () => {
      const out = join(dir, "failing");
      const env = { CC: "false" }; // runs and exits 1, as gcc on a compile error
      assert.equal((await build(["--out", out], env)).code, 1);
      const quiet = await build(["--out", out, "--if-possible"], env);
      assert.equal(quiet.code, 0);
      assert.equal(JSON.parse(quiet.stderr).level, "warn");
      assert.deepEqual([...Deno.readDirSync(out)], [], "nothing left behind");
    });

    await t.step(
      "a build dir that cannot be made: exit 1 alone, 0 under --if-possible",
      async () => {
        const file = join(dir, "a-file");
        Deno.writeTextFileSync(file, "");
        const out = join(file, "build"); // under a regular file: ENOTDIR, even for root
        const alone = await build(["--out", out]);
        assert.equal(alone.code, 1);
        assert.match(alone.stderr, /cannot create/);
        const quiet = await build(["--out", out, "--if-possible"]);
        assert.equal(quiet.code, 0, quiet.stderr);
        assert.equal(JSON.parse(quiet.stderr).level, "warn");
      },
    );

    await t.step("the loader refuses a missing file and a file that is no library", async () => {
      const missing = await loadCrc32cKernel(join(dir, "missing.so"));
      assert.equal(missing.kernel, null);
      assert.match("reason" in missing ? missing.reason : "", /cannot open/);
      const junk = join(dir, "junk.so");
      Deno.writeTextFileSync(junk, "not an ELF file");
      assert.equal((await loadCrc32cKernel(junk)).kernel, null);
    });

    await t.step({
      name: "crc32c.ts picks the kernel, SLUICE_CRC32C forces each, no --allow-ffi falls back",
      ignore: !gcc,
      fn: async () => {
        // Build (or find up to date) the library crc32c.ts loads: native/build/.
        const built = await build([]);
        assert.equal(built.code, 0, built.stderr);
        const ffi = ["--allow-read", "--allow-env", "--allow-ffi"];
        const best = cpuHasKernel ? "kernel" : "node-rs";
        assert.equal(await childImplementation(ffi, ""), `${best} ${expected}`);
        if (cpuHasKernel) assert.equal(childRefusal, null);
        assert.equal(await childImplementation(ffi, "kernel"), `${best} ${expected}`);
        assert.equal(await childImplementation(ffi, "node-rs"), `node-rs ${expected}`);
        assert.equal(childRefusal, "SLUICE_CRC32C=node-rs");
        assert.equal(await childImplementation(ffi, "portable"), `portable ${expected}`);
        // An unknown value is the default.
        assert.equal(await childImplementation(ffi, "fastest"), `${best} ${expected}`);
        // Deno without --allow-ffi refuses both the library and the addon.
        const noFfi = ["--allow-read", "--allow-env"];
        assert.equal(await childImplementation(noFfi, ""), `portable ${expected}`);
        assert.match(childRefusal ?? "", /FFI not allowed/);
        assert.equal(await childImplementation(noFfi, "kernel"), `portable ${expected}`);
      },
    });

    Deno.removeSync(dir, { recursive: true });
  },
});

const bun = findBun();

Deno.test({
  name: "crc32c kernel under Bun's FFI agrees with the portable code; the batch checker loads",
  ignore: bun === undefined || !gcc || !cpuHasKernel,
  fn: async () => {
    const built = await build([]);
    assert.equal(built.code, 0, built.stderr);
    // Lengths and offsets from a seeded generator; Bun prints one line per disagreement.
    const script = `
      const m = await import("./src/record/crc32c.ts");
      m.loadCrc32c();
      const k = m.crc32cImplementations.get("kernel");
      if (!k) { console.log("no kernel"); process.exit(0); }
      let x = 12345, bad = 0;
      const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
      const data = new Uint8Array(80000).map(() => next() & 255);
      for (let i = 0; i < 300; i++) {
        const off = next() % 64, len = next() % 70001, init = next();
        const v = data.subarray(off, off + len);
        if (k(v, init) !== m.crc32cPortable(v, init)) { bad++; console.log("bad", off, len); }
      }
      const o = await import("./src/record/batch_crc_overlap.ts");
      const c = o.overlappedBatchCheck();
      console.log(m.crc32cImplementation, "bad", bad, "checker", c !== null && o.batchCheckSelfTest(c));`;
    const out = await new Deno.Command(bun!, {
      args: ["-e", script],
      cwd: ROOT,
      env: { SLUICE_CRC32C: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, DECODER.decode(out.stderr));
    // The batch checker (native/batch_check.c) loads through bun:ffi too and passes its self-test.
    assert.equal(DECODER.decode(out.stdout).trim(), "kernel bad 0 checker true");
  },
});
