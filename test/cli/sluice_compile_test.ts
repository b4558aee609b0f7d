/**
 * The standalone `sluice` binary (`deno task compile`, scripts/compile.ts): built into a temporary
 * folder (deno compile where it can get its runtime, else bun build --compile; a few seconds with
 * bun), then run from another folder, without the source tree: `--help`, `sluice serve` on free
 * ports (its Kafka listener too, and the web console served from inside the binary), then `topic
 * create`, `topic list`, `produce` and `consume` against it, `bench` refused with a clear message,
 * and SIGTERM ending the server with 0. The native CRC-32C kernel is not in the binary (its
 * fallback computes the CRCs the produce and consume go through).
 *
 * Skipped, with a note, when neither compiler can build (no bun, and deno compile cannot download
 * its runtime); under SLUICE_REQUIRE_KAFKA_CLIENTS=1 (CI, which installs bun) that fails instead.
 */
import assert from "node:assert/strict";
import { ok, REPO, sluice } from "./sluice_harness.ts";

/** The build and a first start, generous for a loaded 2-core machine. */
const BUILD_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 60_000;

async function build(output: string): Promise<{ code: number; text: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO}scripts/compile.ts`, "--output", output],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "the standalone sluice binary: help, serve, topic create/list, produce, consume",
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sluice-compile-" });
    const bin = `${dir}/sluice`;
    const elsewhere = `${dir}/cwd`;
    await Deno.mkdir(elsewhere);
    try {
      const built = await build(bin);
      if (built.code !== 0 && /no bun/.test(built.text)) {
        if (Deno.env.get("SLUICE_REQUIRE_KAFKA_CLIENTS") === "1") {
          assert.fail(`no compiler could build the binary:\n${built.text}`);
        }
        console.warn(
          `SKIPPED: no compiler could build the sluice binary (no bun; deno compile cannot get ` +
            `its runtime here): scripts/install_runtime.sh bun installs bun.\n${built.text}`,
        );
        return;
      }
      await t.step("deno task compile builds it and says with what", () => {
        assert.equal(built.code, 0, built.text);
        assert.match(
          built.text,
          /^compile: built .*sluice with (deno compile|bun build --compile)/m,
        );
        console.log(built.text.match(/^compile: built .*$/m)?.[0]);
      });

      const opts = { executable: bin, cwd: elsewhere };
      await t.step("--help prints the usage; bench is refused", async () => {
        assert.match(ok(await sluice(["--help"], opts), "help"), /^Usage: sluice <command>/);
        const serveHelp = ok(await sluice(["serve", "--help"], opts), "serve --help");
        assert.match(serveHelp, /--data-dir DIR/);
        const bench = await sluice(["bench"], opts);
        assert.equal(bench.code, 1);
        assert.match(bench.stderr, /^sluice: NOT_FOUND: bench needs the source tree/);
      });

      await t.step("sluice serve, then the client commands against it", async () => {
        const proc = new Deno.Command(bin, {
          args: [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--kafka-port",
            "auto",
            "--data-dir",
            `${dir}/data`,
          ],
          cwd: elsewhere,
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
          const deadline = setTimeout(() => proc.kill("SIGKILL"), START_TIMEOUT_MS);
          while (
            !/^sluice kafka listening on /m.test(seen) || !/^sluice listening on /m.test(seen)
          ) {
            const r = await lines.read();
            if (r.done) break;
            seen += r.value;
          }
          clearTimeout(deadline);
          const url = seen.match(/^sluice listening on (http:\/\/\S+) /m)?.[1];
          assert.ok(url !== undefined, `listening line; stdout: ${seen}`);
          assert.match(seen, /^sluice kafka listening on 127\.0\.0\.1:\d+$/m);

          const env = { SLUICE_URL: url };
          ok(await sluice(["topic", "create", "bin", "-p", "2"], { ...opts, env }), "create");
          assert.match(ok(await sluice(["topic", "list"], { ...opts, env }), "list"), /^bin\s+2$/m);
          ok(
            await sluice(["produce", "bin", "-K", ":"], { ...opts, env, stdin: "a:one\nb:two\n" }),
            "produce",
          );
          const out = ok(
            await sluice(["consume", "bin", "-e", "-f", "%k=%s\\n"], { ...opts, env }),
            "consume",
          );
          assert.deepEqual(out.trimEnd().split("\n").sort(), ["a=one", "b=two"]);

          // The console's files come from inside the binary (no src/http/console/ here).
          for (
            const [path, type] of [["/console", "text/html"], [
              "/console/app.js",
              "text/javascript",
            ]]
          ) {
            const res: Response = await fetch(`${url}${path}`);
            const body = await res.text();
            assert.equal(res.status, 200, `${path}: ${body}`);
            assert.ok((res.headers.get("content-type") ?? "").startsWith(type), path);
            assert.ok(body.length > 100, path);
          }
          proc.kill("SIGTERM");
          assert.equal((await proc.status).code, 0, await drainErr);
        } finally {
          try {
            proc.kill("SIGKILL");
          } catch { /* ended */ }
          await proc.status;
          await lines.cancel().catch(() => {});
          await drainErr;
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
