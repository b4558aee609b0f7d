/**
 * The command line as a new user meets it (issue 18), as real processes: `--help` prints the usage
 * and exits 0; a bad argument still exits 2; a start that fails (the HTTP port taken, a full disk)
 * prints one line naming the address or the file and what was being done, then exits 1 by itself,
 * never a stack trace, never "shutdown failed". The full-disk case mounts a small tmpfs (root
 * only; skipped with a note otherwise).
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { canMountTmpfs, mountTmpfs, unmount } from "../faults/fault_util.ts";
import { tempDir } from "../test_util.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
/** A start that fails must end by itself; generous for a loaded machine (a cold start compiles). */
const EXIT_DEADLINE_MS = 60_000;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `src/main.ts ARGS` to its end (killed after the deadline: the test then fails). */
async function runMain(args: string[]): Promise<Outcome> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => proc.kill("SIGKILL"), EXIT_DEADLINE_MS);
  try {
    const out = await proc.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

function assertCleanFailure(out: Outcome, what: string): void {
  assert.equal(out.code, 1, `${what}: exit code; stderr:\n${out.stderr}`);
  assert.doesNotMatch(out.stderr, /shutdown failed/, what);
  assert.doesNotMatch(out.stderr, /^\s+at /m, `${what}: no stack trace`);
}

Deno.test("command line: help, bad arguments, failed starts", async (t) => {
  for (const args of [["--help"], ["-h"], ["help"], ["serve", "--help"]]) {
    await t.step(`${args.join(" ")} prints the usage and exits 0`, async () => {
      const out = await runMain(args);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /usage: src\/main\.ts serve \[--host H\] \[--port P\]/);
      assert.match(out.stdout, /--data-dir DIR/);
      assert.equal(out.stderr, "");
    });
  }

  await t.step("the top-level help names every command", async () => {
    const out = await runMain(["--help"]);
    assert.match(out.stdout, /src\/main\.ts demo /);
    assert.match(out.stdout, /src\/main\.ts help \| --help \| -h/);
  });

  await t.step("an unknown argument or command is exit 2 with the usage", async () => {
    const bad = await runMain(["--no-such-flag"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^unknown argument --no-such-flag\nusage:/);
    const cmd = await runMain(["frobnicate"]);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /unknown command frobnicate; use serve \(the default\), demo or help/);
  });

  await t.step("the HTTP port taken: exit 1 naming the address", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const dir = tempDir("sluice-cli-port-");
      const out = await runMain([
        "serve",
        "--port",
        String(port),
        "--kafka-port",
        "0",
        "--data-dir",
        dir,
      ]);
      assertCleanFailure(out, "port taken");
      assert.match(
        out.stderr,
        new RegExp(
          `^sluice: cannot start: listening for HTTP on 127\\.0\\.0\\.1:${port}: `,
          "m",
        ),
      );
      assert.match(out.stderr, /--port sets another/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});

const mountable = await canMountTmpfs();
if (!mountable) console.log("skipping the full-disk start test: mounting a tmpfs needs root");

Deno.test({
  name: "command line: a first start on a full disk exits 1 naming the file",
  ignore: !mountable,
}, async () => {
  const mnt = tempDir("sluice-cli-full-");
  assert.ok(await mountTmpfs(mnt, 1), "mount tmpfs");
  try {
    // Fill the disk: the data dir's first files (the Kafka listener's cluster id) cannot be written.
    const filler = await Deno.open(`${mnt}/filler`, { write: true, create: true });
    const chunk = new Uint8Array(4096);
    try {
      for (let i = 0; i < 1024; i++) await filler.write(chunk);
    } catch (err) {
      assert.match(String(err), /os error 28|ENOSPC/i);
    } finally {
      filler.close();
    }
    const out = await runMain([
      "serve",
      "--port",
      "0",
      "--kafka-port",
      "auto",
      "--data-dir",
      `${mnt}/data`,
    ]);
    assertCleanFailure(out, "full disk");
    const line = out.stderr.split("\n").find((l) => l.startsWith("sluice: "));
    assert.ok(line !== undefined, out.stderr);
    assert.match(line, /^sluice: cannot start: write .*\/data\/cluster_id\.tmp: /, "op and file");
    assert.match(line, /The disk is full: free some space/);
    assert.doesNotMatch(line, /listening for Kafka|--kafka-port/, "not blamed on the port");
  } finally {
    await unmount(mnt);
  }
});
