/**
 * The native batch checker across isolates (native/batch_check.c): workers that open a checker,
 * use it and end, one after another. Deno closes a worker's library handle when it ends; the
 * helper threads run the library's code and wait on its state, so the library must stay mapped:
 * each worker gets a slot of its own (a library unloaded and loaded again would hand out slot 0
 * again, beside a helper thread left waiting on state that was reset), and every job's answer is
 * right. Runs in a child process so that no other isolate holds the library open meanwhile.
 */
import assert from "node:assert/strict";
import { cpuHasCrcKernel, gccAvailable } from "../test_util.ts";

const CHILD = `
const url = new URL("./test/record/batch_check_worker.ts", "file://" + Deno.cwd() + "/");
const results = [];
for (let w = 0; w < 4; w++) {
  const worker = new Worker(url.href, { type: "module" });
  const answer = await new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.postMessage({ jobs: 40 });
  });
  worker.terminate();
  results.push(answer);
  // Let the terminated isolate go, and its library handle with it.
  await new Promise((r) => setTimeout(r, 50));
}
console.log(JSON.stringify(results));
`;

Deno.test({
  name: "batch checker: workers one after another each get a slot, every answer right",
  ignore: !(gccAvailable && cpuHasCrcKernel),
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=js", CHILD],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A hang is the failure this guards against: give up after 60 s, far above the ~1 s it takes.
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const out = await child.output();
    clearTimeout(timer);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the child failed or hung: ${stderr}`);
    const results = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      slot: number | null;
      answers: number[];
    }[];
    assert.deepEqual(results.map((r) => r.slot), [0, 1, 2, 3]);
    for (const r of results) {
      assert.deepEqual(r.answers, Array.from({ length: 40 }, (_, i) => (i % 2 ? 0 : -1)));
    }
  },
});
