/**
 * `sluice serve` runs the real server (the same as `deno task start`), `sluice bench` hands its
 * flags to the bench suite's own process, and the `sluice` binary that README.md documents
 * (`deno install -g -A -n sluice --config deno.json src/cli/sluice/main.ts`) installs into a
 * temporary root and works against a server.
 */
import assert from "node:assert/strict";
import { withServer } from "../http/server_harness.ts";
import { findBun } from "../test_util.ts";
import { ok, REPO, sluice } from "./sluice_harness.ts";

const MAIN = new URL("../../src/cli/sluice/main.ts", import.meta.url).pathname;
/** First start compiles the server's modules; 60 s covers a cold cache on a loaded machine. */
const START_TIMEOUT_MS = 60_000;

Deno.test("sluice serve: the server answers the client; SIGTERM stops it with 0", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-cli-serve-" });
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--kafka-port",
      "0",
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const drainErr = (async () => {
    let text = "";
    for (let r = await stderr.read(); !r.done; r = await stderr.read()) text += r.value;
    return text;
  })();
  const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    let url: string | undefined;
    const deadline = setTimeout(() => proc.kill("SIGKILL"), START_TIMEOUT_MS);
    while (url === undefined) {
      const r = await lines.read();
      if (r.done) break;
      seen += r.value;
      url = seen.match(/^sluice listening on (http:\/\/\S+) /m)?.[1];
    }
    clearTimeout(deadline);
    assert.ok(url !== undefined, `listening line; stdout: ${seen}`);
    ok(await sluice(["topic", "create", "served", "--url", url!]), "create");
    const out = ok(await sluice(["topic", "list", "--url", url!]), "list");
    assert.match(out, /^served\s+1$/m);
    proc.kill("SIGTERM");
    const status = await proc.status;
    assert.equal(status.code, 0, await drainErr);
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch { /* ended */ }
    await proc.status;
    await lines.cancel().catch(() => {});
    await drainErr;
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("sluice bench: its flags reach the bench suite, its exit status comes back", async () => {
  const r = await sluice(["bench", "--no-such-flag"], { cwd: REPO });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown argument --no-such-flag/);
  assert.match(r.stderr, /usage: deno task bench/);
});

Deno.test("the installed sluice binary (README's deno install) works", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "sluice-cli-install-" });
  try {
    await t.step(
      "deno install -g -A -n sluice --config deno.json src/cli/sluice/main.ts",
      async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "install",
            "-g",
            "-A",
            "-n",
            "sluice",
            "--root",
            root,
            "--config",
            "deno.json",
            "src/cli/sluice/main.ts",
          ],
          cwd: REPO,
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        assert.ok((await Deno.stat(`${root}/bin/sluice`)).isFile);
      },
    );
    await withServer({}, async (server) => {
      await t.step("run from elsewhere: help, create, produce, consume", async () => {
        const bin = `${root}/bin/sluice`;
        const opts = { executable: bin, cwd: root };
        assert.match(ok(await sluice(["--help"], opts), "help"), /^Usage: sluice <command>/);
        const env = { SLUICE_URL: server.url };
        ok(await sluice(["topic", "create", "inst"], { ...opts, env }), "create");
        ok(await sluice(["produce", "inst"], { ...opts, env, stdin: "one\ntwo\n" }), "produce");
        const out = ok(await sluice(["consume", "inst", "-e"], { ...opts, env }), "consume");
        assert.equal(out, "one\ntwo\n");
      });
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const bun = findBun();

Deno.test({
  name: "sluice on Bun: produce, consume with a format, consume -g, an error",
  ignore: bun === undefined,
  fn: async () => {
    await withServer({}, async (server) => {
      const opts = { executable: bun!, env: { SLUICE_URL: server.url } };
      const run = (...args: string[]) => sluice([MAIN, ...args], opts);
      ok(await run("topic", "create", "b", "-p", "2"), "create");
      const produced = await sluice([MAIN, "produce", "b", "-K", ":"], {
        ...opts,
        stdin: "k1:v1\nk2:v2\n",
      });
      ok(produced, "produce");
      const out = ok(await run("consume", "b", "-e", "-f", "%k=%s\\n"), "consume");
      assert.deepEqual(out.trimEnd().split("\n").sort(), ["k1=v1", "k2=v2"]);
      const grouped = ok(await run("consume", "b", "-g", "gb", "-e", "--json"), "consume -g");
      assert.equal(grouped.trimEnd().split("\n").map((l) => JSON.parse(l)).length, 2);
      const missing = await run("topic", "describe", "nope");
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^sluice: TOPIC_NOT_FOUND: /);
    });
  },
});
