/**
 * A restart on a full disk (a 4 MiB tmpfs; needs root, ignored otherwise). Found by an adversarial
 * test: after a SIGKILL, a restart with the disk full exited with `No space left on device (os
 * error 28)` naming no file, and still did with 4 KiB freed. Wanted: the server starts read-only
 * (reads served, writes refused with 507 naming the file), and writes come back after a restart
 * with space.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  fetchAll,
  json,
  produce,
  type RunningServer,
  startServer,
} from "../http/server_harness.ts";
import { tempDir } from "../test_util.ts";
import { canMountTmpfs, mountTmpfs, unmount } from "./fault_util.ts";

const mountable = await canMountTmpfs();

/** Writes `path` in 64 KiB chunks until the file system is full; returns the bytes written. */
function fillDisk(path: string): number {
  const file = Deno.openSync(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  let written = 0;
  try {
    for (let i = 0; i < 100_000; i++) {
      try {
        written += file.writeSync(chunk);
      } catch (err) {
        if (String(err).includes("os error 28")) {
          // The last chunk may have fit partly; fill the rest byte by byte.
          for (let j = 0; j < 65536; j++) {
            try {
              written += file.writeSync(chunk.subarray(0, 1));
            } catch {
              return written;
            }
          }
          return written;
        }
        throw err;
      }
    }
  } finally {
    file.close();
  }
  throw new Error("the disk never filled");
}

Deno.test({
  name: "restart on a full disk: read-only, reads served, writes 507 naming the file",
  ignore: !mountable,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const mnt = tempDir("sluice-fullrestart-");
  assert.ok(await mountTmpfs(mnt, 4), "mount tmpfs");
  let server: RunningServer | undefined;
  try {
    const dataDir = `${mnt}/data`;
    await Deno.mkdir(dataDir);
    server = await startServer({ dataDir });
    await createTopic(server, "orders", 2);
    const acked = Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: `v${i}` }));
    await produce(server, "orders", { records: acked });
    const commit = await json(`${server.url}/v1/groups/billing/members`, {
      method: "POST",
      json: { topics: ["orders"] },
    });
    assert.equal(commit.status, 200, commit.text);
    // SIGKILL: the restart has recovery to do, and recovery writes (checkpoints, indexes).
    await server.stop("SIGKILL");
    fillDisk(`${mnt}/filler`);

    server = await startServer({ dataDir });
    assert.match(server.stderr(), /read-only/, "the log says the server is read-only");
    const health = await fetch(`${server.url}/healthz`);
    await health.body?.cancel();
    assert.equal(health.status, 200);
    for (const p of [0, 1]) {
      assert.deepEqual(
        (await fetchAll(server, "orders", p)).map((r) => r.value),
        acked.filter((r) => r.partition === p).map((r) => r.value),
        `partition ${p} reads back`,
      );
    }
    const write = await json(`${server.url}/v1/topics/orders/records`, {
      method: "POST",
      json: { records: [{ partition: 0, value: "more" }] },
    });
    assert.equal(write.status, 507, write.text);
    assert.equal(write.body.error.code, "INSUFFICIENT_STORAGE");
    assert.match(write.body.error.message, new RegExp(`${mnt}/data/\\S+`), "names the file");
    const create = await json(`${server.url}/v1/topics`, {
      method: "POST",
      json: { name: "new", partitions: 1 },
    });
    assert.ok(create.status === 507, `create on a full disk: ${create.text}`);
    assert.equal(await server.stop(), 0, `SIGTERM on a full disk exits 0:\n${server.stderr()}`);

    // With space again, a restart takes writes.
    Deno.removeSync(`${mnt}/filler`);
    server = await startServer({ dataDir });
    await produce(server, "orders", { records: [{ partition: 0, value: "more" }] });
    const values = (await fetchAll(server, "orders", 0)).map((r) => r.value);
    assert.equal(values.at(-1), "more");
    assert.equal(values.length, 11);
    assert.equal(await server.stop(), 0);
    server = undefined;
  } finally {
    await server?.stop("SIGKILL").catch(() => {});
    await unmount(mnt);
    await Deno.remove(mnt, { recursive: true }).catch(() => {});
  }
});
