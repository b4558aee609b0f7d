import assert from "node:assert/strict";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

Deno.test("src/main.ts demo appends, reads back and reopens", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-main-" });
  const run = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "demo",
        "--data-dir",
        dataDir,
        "--records",
        "5000",
        "--compression",
        "lz4",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return text;
  };
  const first = await run();
  assert.match(first, /starting at offset 0\n/);
  assert.match(first, /appended 5000 records/);
  assert.match(first, /reopened: offsets 0\.\.4999, 1 segment\(s\)/);
  // A second run continues the same log where the first stopped.
  const second = await run();
  assert.match(second, /starting at offset 5000\n/);
  assert.match(second, /reopened: offsets 0\.\.9999/);
  await Deno.remove(dataDir, { recursive: true });
});
