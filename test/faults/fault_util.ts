/**
 * Helpers for the fault tests (disk full, crash under load) and for scripts/soak.ts: a size-limited
 * tmpfs mount, raw RecordBatch v2 payloads, and the crash-under-load round (concurrent JSON
 * producers plus a committing consumer group, SIGKILL at a seeded random moment, restart on the
 * same data dir, then every acknowledged record and commit is checked).
 *
 * Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import {
  createTopic,
  expectStatus,
  fetchAll,
  highWatermarks,
  type Json,
  json,
  sleep,
  startServer,
} from "../http/server_harness.ts";
import { prngFloat } from "../test_util.ts";

// ---------------------------------------------------------------------------------------------
// tmpfs

/** True when this process runs as root (uid 0), so it may mount a tmpfs. */
export function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/** Runs a command; returns its exit code and stderr (never throws for a non-zero exit). */
export async function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  } catch (err) {
    return { code: -1, stderr: String(err) };
  }
}

/** Mounts a tmpfs of `sizeMiB` MiB on `dir`; false when it cannot (not root, no mount(8)). */
export async function mountTmpfs(dir: string, sizeMiB: number): Promise<boolean> {
  if (!isRoot()) return false;
  const r = await run("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir]);
  return r.code === 0;
}

/** Unmounts `dir` (lazily, so a straggling descriptor cannot make the test leak a mount). */
export async function unmount(dir: string): Promise<void> {
  const r = await run("umount", [dir]);
  if (r.code !== 0) await run("umount", ["-l", dir]);
}

/** True when mounting a tmpfs works here (root and mount(8) allowed); probes a scratch dir. */
export async function canMountTmpfs(): Promise<boolean> {
  if (!isRoot()) return false;
  const dir = await Deno.makeTempDir({ prefix: "sluice-mount-probe-" });
  try {
    const ok = await mountTmpfs(dir, 1);
    if (ok) await unmount(dir);
    return ok;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Payloads

/** One RecordBatch v2 of `records` records whose values are `tag-i` padded to `valueBytes`. */
export function makeBatch(tag: string, records: number, valueBytes: number): Uint8Array {
  const inputs = [];
  for (let i = 0; i < records; i++) {
    const head = `${tag}-${i}-`;
    inputs.push({ key: `${tag}-${i}`, value: head.padEnd(valueBytes, "x") });
  }
  return encodeRecordBatch(inputs, { timestampMs: Date.now() });
}

// ---------------------------------------------------------------------------------------------
// Crash under load

export interface CrashRoundOptions {
  seed: number;
  /** flush.policy of the topics. */
  flushPolicy: "always" | "none";
  /** Kill the server this long after the load starts: uniform in [min, max). */
  killAfterMinMs: number;
  killAfterMaxMs: number;
  producers: number;
  topics: number;
  partitions: number;
  /** Records per JSON produce request. */
  batchRecords: number;
  /** Data dir reused across the rounds of one run; the caller removes it. */
  dataDir: string;
  /** Prefix of topic and group names, unique per run so rounds on one dir do not mix. */
  prefix: string;
  log?: (line: string) => void;
}

export interface CrashRoundResult {
  ackedRecords: number;
  ackedCommits: number;
  killedAfterMs: number;
  verifiedRecords: number;
}

interface Acked {
  partition: number;
  offset: number;
  value: string;
}

/**
 * One round: start the server on `dataDir`, create the topics (if absent), run `producers`
 * concurrent JSON producers and one group consumer that commits, SIGKILL the server after a
 * seeded random delay, restart it, and check that every acknowledged record is at its acknowledged
 * offset exactly once, that offsets are contiguous from 0 to the high watermark, and that the
 * group's committed offsets equal the last acknowledged commit of each partition.
 *
 * Under flush.policy none a SIGKILL (not a power cut) keeps every written byte in the page cache,
 * so the same guarantees hold; only a machine crash could lose the unflushed tail.
 */
export async function crashRound(
  options: CrashRoundOptions,
  round: number,
  /** The values acknowledged in earlier rounds on the same dir, by "topic/partition". */
  ledger: Map<string, Acked[]>,
  /** Last acknowledged commit by "topic/partition", carried over rounds. */
  commits: Map<string, number>,
): Promise<CrashRoundResult> {
  const random = prngFloat(options.seed);
  const log = options.log ?? (() => {});
  const topics = Array.from({ length: options.topics }, (_, i) => `${options.prefix}-t${i}`);
  const group = `${options.prefix}-g`;
  let server = await startServer({ dataDir: options.dataDir });
  let acked = 0;
  let ackedCommits = 0;
  const killAfterMs = Math.floor(
    options.killAfterMinMs + random() * (options.killAfterMaxMs - options.killAfterMinMs),
  );
  try {
    for (const topic of topics) {
      const res = await json(`${server.url}/v1/topics/${topic}`);
      if (res.status === 404) {
        await createTopic(server, topic, options.partitions, {
          "flush.policy": options.flushPolicy,
        });
      } else expectStatus(res, 200, `describe ${topic}`);
    }

    let stop = false;
    const url = server.url;
    const producer = async (p: number) => {
      let seq = 0;
      while (!stop) {
        const topic = topics[(p + seq) % topics.length];
        const partition = seq % options.partitions;
        const values = Array.from(
          { length: options.batchRecords },
          (_, i) => `r${round}-p${p}-s${seq}-${i}`,
        );
        seq++;
        let res: Response;
        try {
          res = await fetch(`${url}/v1/topics/${topic}/records`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ records: values.map((value) => ({ value, partition })) }),
          });
        } catch {
          return; // the server is gone: this request was never acknowledged
        }
        let body: Json;
        try {
          body = await res.json();
        } catch {
          return; // cut mid-response: not acknowledged
        }
        if (res.status !== 200) {
          throw new Error(`produce ${topic}: ${res.status} ${JSON.stringify(body)}`);
        }
        const offsets = body.offsets as { partition: number; offset: number }[];
        assert.equal(offsets.length, values.length, "one offset per record");
        const key = `${topic}/${partition}`;
        let list = ledger.get(key);
        if (list === undefined) ledger.set(key, list = []);
        for (let i = 0; i < values.length; i++) {
          assert.equal(offsets[i].partition, partition, "acknowledged partition");
          list.push({ partition, offset: offsets[i].offset, value: values[i] });
        }
        acked += values.length;
      }
    };

    /** A commit sent but not answered when the kill came may or may not be stored. */
    const inFlight = new Map<string, number>();
    /** Refused commits, for the failure message. */
    const refusedCommits: string[] = [];
    const consumer = async () => {
      let memberId: string | undefined;
      while (!stop) {
        try {
          if (memberId === undefined) {
            const res = await fetch(`${url}/v1/groups/${group}/members`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ topics, autoOffsetReset: "earliest" }),
            });
            const body = await res.json();
            if (res.status !== 200) throw new Error(`join: ${res.status} ${JSON.stringify(body)}`);
            memberId = body.memberId;
          }
          const res = await fetch(
            `${url}/v1/groups/${group}/members/${memberId}/records?maxWaitMs=50&maxBytes=65536`,
          );
          const body = await res.json();
          if (res.status !== 200) {
            memberId = undefined; // rebalanced or expired: join again
            continue;
          }
          const next = new Map<string, { topic: string; partition: number; offset: number }>();
          for (const r of body.records as Json[]) {
            const k = `${r.topic}/${r.partition}`;
            const offset = Math.max(next.get(k)?.offset ?? 0, r.offset + 1);
            next.set(k, { topic: r.topic, partition: r.partition, offset });
          }
          if (next.size === 0) continue;
          const offsets = [...next.values()];
          for (const o of offsets) inFlight.set(`${o.topic}/${o.partition}`, o.offset);
          const c = await fetch(`${url}/v1/groups/${group}/offsets`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ memberId, generation: body.generation, offsets }),
          });
          const cbody = await c.json();
          if (c.status === 200) {
            for (const o of offsets) commits.set(`${o.topic}/${o.partition}`, o.offset);
            ackedCommits++;
          } else {
            refusedCommits.push(`${c.status} ${JSON.stringify(offsets)} ${JSON.stringify(cbody)}`);
            memberId = undefined;
          }
          inFlight.clear();
        } catch {
          return; // the server is gone
        }
      }
    };

    const workers = [
      ...Array.from({ length: options.producers }, (_, p) => producer(p)),
      consumer(),
    ];
    await sleep(killAfterMs);
    server.proc.kill("SIGKILL");
    await server.exited;
    stop = true;
    await Promise.all(workers);
    await server.stop().catch(() => {});
    log(
      `round ${round} seed ${options.seed} flush.policy ${options.flushPolicy}: ` +
        `SIGKILL after ${killAfterMs} ms, ${acked} records and ${ackedCommits} commits acknowledged`,
    );

    server = await startServer({ dataDir: options.dataDir });
    let verified = 0;
    for (const topic of topics) {
      const hws = await highWatermarks(server, topic);
      for (let partition = 0; partition < options.partitions; partition++) {
        const key = `${topic}/${partition}`;
        const records = await fetchAll(server, topic, partition);
        assert.equal(
          records.length,
          hws[partition],
          `${key}: records from 0 to the high watermark`,
        );
        records.forEach((r: Json, i: number) => {
          assert.equal(r.offset, i, `${key}: offsets contiguous at ${i}`);
        });
        const seen = new Map<string, number>();
        for (const r of records) {
          const v = String(r.value);
          assert.ok(!seen.has(v), `${key}: value ${v} stored twice (${seen.get(v)}, ${r.offset})`);
          seen.set(v, r.offset);
        }
        for (const a of ledger.get(key) ?? []) {
          assert.equal(
            records[a.offset]?.value,
            a.value,
            `${key}: acknowledged ${a.value} at offset ${a.offset} (seed ${options.seed})`,
          );
          verified++;
        }
      }
    }
    const res = await json(`${server.url}/v1/groups/${group}/offsets`);
    if (commits.size > 0) {
      expectStatus(res, 200, `offsets of ${group}`);
      const stored = new Map<string, number>();
      for (const o of res.body.offsets as Json[]) {
        stored.set(`${o.topic}/${o.partition}`, o.offset);
      }
      for (const [k, offset] of commits) {
        const got = stored.get(k);
        if (got !== undefined && got !== offset && got === inFlight.get(k)) {
          commits.set(k, got); // the unanswered commit landed: later rounds expect it
          continue;
        }
        assert.equal(
          got,
          offset,
          `${group} ${k}: last acknowledged commit (seed ${options.seed}); refused commits: ${
            refusedCommits.slice(-5).join("; ")
          }`,
        );
      }
    }
    return {
      ackedRecords: acked,
      ackedCommits,
      killedAfterMs: killAfterMs,
      verifiedRecords: verified,
    };
  } finally {
    await server.stop("SIGKILL").catch(() => {});
  }
}

/** Runs `rounds` crash rounds on one fresh data dir; seeds derive from `seed`. */
export async function crashRun(
  base: Omit<CrashRoundOptions, "seed" | "dataDir" | "prefix">,
  seed: number,
  rounds: number,
  dataDir: string,
): Promise<CrashRoundResult[]> {
  const ledger = new Map<string, Acked[]>();
  const commits = new Map<string, number>();
  const results: CrashRoundResult[] = [];
  const prefix = `crash-${base.flushPolicy}`;
  for (let round = 0; round < rounds; round++) {
    results.push(
      await crashRound(
        { ...base, seed: (seed + round * 7919) >>> 0, dataDir, prefix },
        round,
        ledger,
        commits,
      ),
    );
  }
  return results;
}
