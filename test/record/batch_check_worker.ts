/**
 * A worker of test/record/batch_check_isolates_test.ts: opens a batch checker in its own isolate,
 * runs `jobs` good and bad jobs through it and posts its slot and answers; its owner then
 * terminates it, which makes Deno close the isolate's library handle.
 */
import { loadNativeBatchCheckSync } from "../../src/runtime/crc32c_native.ts";
import { crc32c } from "../../src/record/crc32c.ts";

interface Job {
  jobs: number;
}

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown): void;
};

self.onmessage = (e) => {
  const check = loadNativeBatchCheckSync();
  if (check === null) {
    self.postMessage({ slot: null, answers: [] });
    return;
  }
  const bytes = new Uint8Array(new ArrayBuffer(600_000));
  const dv = new DataView(bytes.buffer);
  for (let i = 21; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  dv.setInt32(8, bytes.length - 12);
  dv.setUint32(17, crc32c(bytes.subarray(21)));
  const answers: number[] = [];
  for (let i = 0; i < e.data.jobs; i++) {
    const bad = i % 2 === 1;
    if (bad) bytes[1000] ^= 1;
    if (!check.start(bytes)) answers.push(-99);
    else answers.push(check.join());
    if (bad) bytes[1000] ^= 1;
  }
  self.postMessage({ slot: check.slot, answers });
};
