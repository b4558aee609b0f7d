/**
 * The `consume` scenarios: a fresh group per run reading the pre-filled topic with 1, 2 and 4
 * members, every record seen exactly once (bench/group_bench.ts describes the run).
 */
import { figure, latencyOf } from "../bench_util.ts";
import { cpuCores, cpuMeter, type CpuReading, type Server } from "../bench_server.ts";
import {
  EMPTY_FETCHES_MAX,
  FETCH_MAX_BYTES,
  MEMBER_COUNTS,
  PARTITIONS,
  type Plan,
  RUN_TIMEOUT_MS,
  TOPIC,
  VALUE_BYTES,
} from "./plan.ts";
import type { GroupConsumeResult } from "./results.ts";
import {
  call,
  commitBody,
  type FetchBody,
  groupUrl,
  joinAll,
  leave,
  memberUrl,
  type MemberView,
  nextOffsets,
} from "./requests.ts";

interface ConsumeTotals {
  records: number;
  fetches: number;
  fetchMs: number[];
  commitMs: number[];
}

/**
 * One member: fetch, check each record against `seen`, commit the next offsets, until its
 * partitions are read to their high watermarks.
 */
async function consumeMember(
  url: string,
  group: string,
  member: MemberView,
  hw: readonly number[],
  seen: readonly Uint8Array[],
  totals: ConsumeTotals,
  signal: AbortSignal,
): Promise<void> {
  const position = new Map(member.assignment.map((tp) => [tp.partition, 0]));
  const records = `${
    memberUrl(url, group, member)
  }/records?maxBytes=${FETCH_MAX_BYTES}&maxWaitMs=0`;
  const offsets = `${groupUrl(url, group)}/offsets`;
  let empty = 0;
  while ([...position].some(([p, next]) => next < hw[p])) {
    let t0 = performance.now();
    const body = await call<FetchBody>("GET", records, undefined, signal);
    totals.fetchMs.push(performance.now() - t0);
    totals.fetches++;
    if (body.generation !== member.generation) {
      throw new Error(
        `${group}: generation ${body.generation} during the run (joined at ` +
          `${member.generation}): a member was evicted or joined`,
      );
    }
    if (body.records.length === 0) {
      if (++empty > EMPTY_FETCHES_MAX) {
        throw new Error(`${group}: ${EMPTY_FETCHES_MAX} empty fetches at ${[...position]}`);
      }
      continue;
    }
    empty = 0;
    for (const r of body.records) {
      const bits = seen[r.partition];
      const inRange = r.offset >= 0 && r.offset < hw[r.partition];
      if (r.topic !== TOPIC || !position.has(r.partition) || !inRange) {
        throw new Error(`${group}: record ${r.topic}/${r.partition}@${r.offset} not assigned`);
      }
      if (bits[r.offset] !== 0) throw new Error(`${group}: ${r.partition}@${r.offset} twice`);
      bits[r.offset] = 1;
    }
    totals.records += body.records.length;
    const next = nextOffsets(body);
    for (const [p, o] of next) position.set(p, o);
    t0 = performance.now();
    await call("POST", offsets, commitBody(member, next), signal);
    totals.commitMs.push(performance.now() - t0);
  }
}

interface RunSample extends CpuReading {
  seconds: number;
  records: number;
  fetches: number;
}

async function consumeRun(
  server: Server,
  group: string,
  memberCount: number,
  hw: readonly number[],
  totals: ConsumeTotals,
): Promise<RunSample> {
  const members = await joinAll(server.url, group, memberCount, "earliest");
  const seen = hw.map((h) => new Uint8Array(h));
  const runTotals: ConsumeTotals = { records: 0, fetches: 0, fetchMs: [], commitMs: [] };
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  const cpu = cpuMeter(server.pid);
  const t0 = performance.now();
  await Promise.all(
    members.map((m) => consumeMember(server.url, group, m, hw, seen, runTotals, signal)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuUsed = cpu();

  const produced = hw.reduce((a, b) => a + b, 0);
  if (runTotals.records !== produced) {
    throw new Error(`${group}: consumed ${runTotals.records} records, produced ${produced}`);
  }
  const committed = await call<{ offsets: { partition: number; offset: number }[] }>(
    "GET",
    `${groupUrl(server.url, group)}/offsets`,
    undefined,
    undefined,
  );
  const byPartition = committed.offsets.sort((a, b) => a.partition - b.partition)
    .map((o) => o.offset);
  if (byPartition.join() !== hw.join()) {
    throw new Error(`${group}: committed ${byPartition}, high watermarks ${hw}`);
  }
  for (const m of members) await leave(server.url, group, m);

  totals.records += runTotals.records;
  totals.fetches += runTotals.fetches;
  totals.fetchMs.push(...runTotals.fetchMs);
  totals.commitMs.push(...runTotals.commitMs);
  return {
    seconds,
    records: runTotals.records,
    fetches: runTotals.fetches,
    ...cpuUsed,
  };
}

export async function benchConsume(
  server: Server,
  plan: Plan,
  hw: readonly number[],
  runId: () => number,
): Promise<GroupConsumeResult[]> {
  const results: GroupConsumeResult[] = [];
  for (const memberCount of MEMBER_COUNTS) {
    const samples: RunSample[] = [];
    const totals: ConsumeTotals = { records: 0, fetches: 0, fetchMs: [], commitMs: [] };
    for (let run = 0; run < plan.warmupRuns + plan.measuredRuns; run++) {
      const measured = run >= plan.warmupRuns;
      const discard: ConsumeTotals = { records: 0, fetches: 0, fetchMs: [], commitMs: [] };
      const group = `bench-consume-x${memberCount}-${runId()}`;
      const sample = await consumeRun(server, group, memberCount, hw, measured ? totals : discard);
      if (measured) samples.push(sample);
    }
    const seconds = samples.map((s) => s.seconds);
    results.push({
      suite: "groups",
      name: `consume/x${memberCount}`,
      group: "consume",
      description: `${memberCount} member(s) of a fresh group read the ${PARTITIONS}-partition ` +
        "topic to its end: JSON fetch, then commit, per loop",
      params: {
        members: memberCount,
        partitions: PARTITIONS,
        recordValueBytes: VALUE_BYTES,
        recordsPerRun: samples[0].records,
        fetchMaxBytes: FETCH_MAX_BYTES,
        fetchMaxWaitMs: 0,
        fetchesPerRun: Math.round(totals.fetches / samples.length),
        recordsPerFetch: Math.round(totals.records / totals.fetches),
      },
      warmupRuns: plan.warmupRuns,
      measuredRuns: samples.length,
      seconds: figure(seconds),
      recordsPerSec: figure(samples.map((s) => s.records / s.seconds)),
      fetchesPerSec: figure(samples.map((s) => s.fetches / s.seconds)),
      fetchMs: latencyOf(totals.fetchMs),
      commitMs: latencyOf(totals.commitMs),
      cpuCores: cpuCores(samples),
    });
  }
  return results;
}
