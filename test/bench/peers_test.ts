/**
 * The peer benchmarks against the real servers (scripts/install-peers.sh installs them; each test
 * is ignored when its binary is not on PATH): a tiny workload gives positive figures for the
 * Sluice scenario it is set beside, and afterwards the server process is gone and its temporary
 * directory deleted. A peer whose binary is absent gives no result and no error.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PEER_NAMES, peersAvailable, runPeerBench } from "../../bench/peers.ts";

const PEERS_MODULE = join(
  dirname(dirname(dirname(fileURLToPath(import.meta.url)))),
  "bench/peers.ts",
);
const RECORDS = 2_000;
const RECORD_SIZES = [100, 1024];

/**
 * Processes working in a directory whose name starts with `prefix` (bench/peers.ts starts each
 * server with its data directory as its cwd; Redis rewrites its command line, so argv won't do).
 */
function processesIn(prefix: string): { pid: number; cwd: string }[] {
  const found: { pid: number; cwd: string }[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cwd: string;
    try {
      cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue; // exited while we looked, or not ours to read
    }
    if (cwd.startsWith(join(tmpdir(), prefix))) found.push({ pid: Number(entry), cwd });
  }
  return found;
}

function isRunning(pid: number): boolean {
  try {
    // A zombie still has /proc/<pid>; its state letter is Z.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function tempEntries(prefix: string): Set<string> {
  return new Set(fs.readdirSync(tmpdir()).filter((name) => name.startsWith(prefix)));
}

Deno.test("peersAvailable() lists redis-streams and nats-jetstream with a version or null", () => {
  const peers = peersAvailable();
  assert.deepEqual(peers.map((p) => p.name), [...PEER_NAMES]);
  for (const p of peers) {
    assert.ok(p.version === null || /^\d+\.\d+/.test(p.version), `${p.name}: ${p.version}`);
  }
});

for (const { name, version } of peersAvailable()) {
  Deno.test({
    name: `runPeerBench() measures ${name} and leaves no process or directory behind`,
    ignore: version === null,
    fn: async () => {
      const prefix = `sluice-peer-${name}-`;
      const before = tempEntries(prefix);
      assert.deepEqual(processesIn(prefix), [], "no server left from an earlier run");
      const progress: { scenario: string; run: number; of: number; rate: number }[] = [];
      const servers = new Map<number, string>();
      const results = await runPeerBench({
        quick: true,
        peers: [name],
        records: RECORDS,
        recordSizes: RECORD_SIZES,
        progress: (scenario, run, of, rate) => {
          progress.push({ scenario, run, of, rate: rate ?? NaN });
          // While the runs go on, the server runs on the data directory it was given.
          for (const p of processesIn(prefix)) servers.set(p.pid, p.cwd);
        },
      });

      assert.equal(results.length, RECORD_SIZES.length);
      for (const [i, r] of results.entries()) {
        const size = RECORD_SIZES[i];
        const label = size === 100 ? "100B" : "1KiB";
        assert.equal(r.name, name);
        assert.equal(r.version, version);
        assert.equal(r.scenario, `http.produce.${label}.batch`);
        assert.ok(Number.isFinite(r.recordsPerSec) && r.recordsPerSec > 0, `${r.recordsPerSec}`);
        assert.ok(Math.abs(r.mbPerSec - r.recordsPerSec * size / 1e6) < 1e-6 * r.mbPerSec);
        assert.equal(r.params.records, RECORDS);
        assert.equal(r.params.recordValueBytes, size);
        assert.ok(Number(r.params.measuredRuns) >= 3);
        assert.equal(r.ratioToSluice, undefined, "bench/main.ts fills it in");
        const runs = progress.filter((p) => p.scenario === `peer.${name}.produce.${label}`);
        assert.deepEqual(
          runs.map((p) => [p.run, p.of]),
          Array.from({ length: runs.length }, (_, k) => [k + 1, r.params.measuredRuns]),
        );
        assert.ok(runs.length >= 3 && runs.every((p) => p.rate > 0));
      }

      assert.equal(servers.size, 1, `one server process: ${[...servers.keys()]}`);
      const [[pid, dataDir]] = [...servers];
      assert.ok(dataDir.startsWith(join(tmpdir(), prefix)), `data dir ${dataDir}`);
      assert.equal(isRunning(pid), false, `server pid ${pid} still runs`);
      assert.equal(fs.existsSync(dataDir), false, `${dataDir} still exists`);
      assert.deepEqual(tempEntries(prefix), before, "no temporary directory left behind");
    },
  });
}

Deno.test("runPeerBench() skips a peer whose binary is not on PATH, without an error", () => {
  // A child with an empty PATH: neither redis-server nor nats-server can be found there.
  const script = `
    import { peersAvailable, runPeerBench } from ${JSON.stringify(PEERS_MODULE)};
    const results = await runPeerBench({ quick: true, records: 1000, progress: () => {} });
    console.log(JSON.stringify({ available: peersAvailable(), results }));
  `;
  const out = execFileSync(Deno.execPath(), ["eval", "--ext=ts", script], {
    encoding: "utf8",
    env: { ...Deno.env.toObject(), PATH: "/nonexistent", NO_COLOR: "1" },
    timeout: 60_000,
  });
  const { available, results } = JSON.parse(out.trim().split("\n").at(-1)!);
  assert.deepEqual(available, PEER_NAMES.map((name) => ({ name, version: null })));
  assert.deepEqual(results, []);
});
