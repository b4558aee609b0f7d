/**
 * The `rebalance` scenarios: 4 members in a fresh group, one leaves; the time until the others
 * learn the new generation from their heartbeats and their fetch loops, and the DELETE's time in
 * the server from /metrics (bench/group_bench.ts describes both variants).
 */
import { figure } from "../bench_util.ts";
import type { Server } from "../bench_server.ts";
import {
  CAUGHT_UP_FETCH_WAIT_MS,
  CONSUMING_FETCH_WAIT_MS,
  FETCH_MAX_BYTES,
  FETCHES_BEFORE_LEAVE,
  p50Max,
  PARTITIONS,
  type Plan,
  REBALANCE_MEMBERS,
  REBALANCE_TIMEOUT_MS,
  RUN_TIMEOUT_MS,
} from "./plan.ts";
import type { GroupRebalanceResult } from "./results.ts";
import {
  call,
  commitBody,
  type FetchBody,
  groupUrl,
  heartbeat,
  HttpError,
  joinAll,
  leave,
  memberUrl,
  type MemberView,
  nextOffsets,
} from "./requests.ts";

/**
 * A member's fetch-commit loop that follows rebalances as a client would: it takes the generation
 * a fetch reports, and when a commit is refused (ILLEGAL_GENERATION) it heartbeats and commits
 * again what it still owns. `generationSeenAt` records when it first saw each generation.
 */
class LoopingMember {
  fetches = 0;
  /** Why the loop ended before stop(), if it did. */
  failure: unknown;
  readonly generationSeenAt = new Map<number, number>();
  readonly #stop = new AbortController();
  #done: Promise<void> | undefined;

  constructor(
    readonly url: string,
    readonly group: string,
    readonly view: MemberView,
    readonly fetchMaxWaitMs: number,
  ) {}

  start(signal: AbortSignal, onFetch: () => void): void {
    this.#done = this.#loop(AbortSignal.any([signal, this.#stop.signal]), onFetch);
  }

  /** Ends the loop: at once, aborting the request in flight (a long poll may last seconds). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
    this.throwIfFailed();
  }

  /** A loop that failed (an HTTP error, a timeout) fails the repetition. */
  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async #loop(signal: AbortSignal, onFetch: () => void): Promise<void> {
    try {
      await this.#consume(signal, onFetch);
    } catch (err) {
      if (!this.#stop.signal.aborted) this.failure = err ?? new Error("member loop failed");
    }
  }

  async #consume(signal: AbortSignal, onFetch: () => void): Promise<void> {
    const records = `${memberUrl(this.url, this.group, this.view)}/records` +
      `?maxBytes=${FETCH_MAX_BYTES}&maxWaitMs=${this.fetchMaxWaitMs}`;
    const offsets = `${groupUrl(this.url, this.group)}/offsets`;
    while (!signal.aborted) {
      const body = await call<FetchBody>("GET", records, undefined, signal);
      this.#see(body.generation);
      this.fetches++;
      onFetch();
      if (body.records.length === 0) continue;
      const next = nextOffsets(body);
      try {
        await call("POST", offsets, commitBody(this.view, next), signal);
      } catch (err) {
        if (!(err instanceof HttpError && err.code === "ILLEGAL_GENERATION")) throw err;
        const hb = await heartbeat(this.url, this.group, this.view, signal);
        this.#see(hb.generation);
        this.view.assignment = hb.assignment;
        const owned = new Set(hb.assignment.map((tp) => tp.partition));
        for (const p of [...next.keys()]) if (!owned.has(p)) next.delete(p);
        // What moved away is read again by its new owner from the last commit: at-least-once.
        if (next.size > 0) await call("POST", offsets, commitBody(this.view, next), signal);
      }
    }
  }

  #see(generation: number): void {
    if (!this.generationSeenAt.has(generation)) {
      this.generationSeenAt.set(generation, performance.now());
    }
    this.view.generation = Math.max(this.view.generation, generation);
  }
}

/** The values of the /metrics lines this suite reads. */
async function scrape(
  url: string,
): Promise<{ leaveSum: number; leaveCount: number; polls: number }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const labels = `{route="/v1/groups/:group/members/:member",method="DELETE"}`;
  return {
    leaveSum: value(`sluice_http_request_duration_seconds_sum${labels}`),
    leaveCount: value(`sluice_http_request_duration_seconds_count${labels}`),
    polls: value("sluice_open_long_polls"),
  };
}

/** Heartbeats back to back until the member is told a generation after `old`; returns when. */
async function pollHeartbeat(
  url: string,
  group: string,
  member: MemberView,
  old: number,
  signal: AbortSignal,
): Promise<{ at: number; polls: number }> {
  const deadline = performance.now() + REBALANCE_TIMEOUT_MS;
  for (let polls = 1; performance.now() < deadline; polls++) {
    const hb = await heartbeat(url, group, member, signal);
    if (hb.generation > old) return { at: performance.now(), polls };
  }
  throw new Error(
    `${group}: no heartbeat showed a generation after ${old} within ${REBALANCE_TIMEOUT_MS} ms`,
  );
}

/** Polls `ready` every millisecond until it holds; fails after REBALANCE_TIMEOUT_MS. */
async function waitUntil(what: string, ready: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + REBALANCE_TIMEOUT_MS;
  while (!(await ready())) {
    if (performance.now() > deadline) {
      throw new Error(`${what}: not within ${REBALANCE_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

interface LeaveSample {
  heartbeatMs: number;
  fetchLoopMs: number;
  deleteMs: number;
  deleteServerMs: number;
  heartbeatPolls: number;
}

/**
 * How the members are busy when one leaves: `consuming` reads the filled topic from the start
 * (each member has done FETCHES_BEFORE_LEAVE fetches and keeps going); `caught-up` joins at the
 * end of the topic and waits in long polls (every one open in the server) for records that never
 * come.
 */
type LeaveMode = "consuming" | "caught-up";

const LEAVE_MODES: Record<LeaveMode, { reset: "earliest" | "latest"; fetchMaxWaitMs: number }> = {
  consuming: { reset: "earliest", fetchMaxWaitMs: CONSUMING_FETCH_WAIT_MS },
  "caught-up": { reset: "latest", fetchMaxWaitMs: CAUGHT_UP_FETCH_WAIT_MS },
};

async function leaveOnce(server: Server, group: string, mode: LeaveMode): Promise<LeaveSample> {
  const url = server.url;
  const { reset, fetchMaxWaitMs } = LEAVE_MODES[mode];
  const views = await joinAll(url, group, REBALANCE_MEMBERS, reset);
  const old = views[0].generation;
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  const members = views.map((v) => new LoopingMember(url, group, v, fetchMaxWaitMs));
  for (const m of members) m.start(signal, () => {});
  const healthy = () => {
    for (const m of members) m.throwIfFailed();
    return true;
  };
  try {
    if (mode === "consuming") {
      await waitUntil(
        `${group}: ${FETCHES_BEFORE_LEAVE} fetches each`,
        () => healthy() && members.every((m) => m.fetches >= FETCHES_BEFORE_LEAVE),
      );
    } else {
      await waitUntil(
        `${group}: ${REBALANCE_MEMBERS} long polls open`,
        async () => healthy() && (await scrape(url)).polls >= REBALANCE_MEMBERS,
      );
    }
    const [leaver, ...rest] = members;
    await leaver.stop(); // a consumer stops polling, then leaves
    const before = await scrape(url);
    const t0 = performance.now();
    const deleted = leave(url, group, leaver.view).then(() => performance.now());
    const polled = await Promise.all(
      rest.map((m) => pollHeartbeat(url, group, m.view, old, signal)),
    );
    const deletedAt = await deleted;
    const after = await scrape(url);
    if (after.leaveCount - before.leaveCount !== 1) {
      throw new Error(`${group}: ${after.leaveCount - before.leaveCount} DELETEs counted, want 1`);
    }
    // A loop sees it in its next fetch's answer; a long poll is ended by the rebalance.
    await waitUntil(
      `${group}: fetch loops see generation ${old + 1}`,
      () => healthy() && rest.every((m) => m.generationSeenAt.has(old + 1)),
    );
    const loopAt = Math.max(...rest.map((m) => m.generationSeenAt.get(old + 1)!));
    for (const m of rest) await m.stop();
    for (const m of rest) await leave(url, group, m.view);
    return {
      heartbeatMs: Math.max(...polled.map((p) => p.at)) - t0,
      fetchLoopMs: loopAt - t0,
      deleteMs: deletedAt - t0,
      deleteServerMs: (after.leaveSum - before.leaveSum) * 1000,
      heartbeatPolls: Math.max(...polled.map((p) => p.polls)),
    };
  } finally {
    // Idempotent after a clean repetition; after a failure, no loop outlives it.
    for (const m of members) await m.stop().catch(() => {});
  }
}

export async function benchRebalance(
  server: Server,
  plan: Plan,
  runId: () => number,
): Promise<GroupRebalanceResult[]> {
  const results: GroupRebalanceResult[] = [];
  for (const mode of ["consuming", "caught-up"] as const) {
    const samples: LeaveSample[] = [];
    for (let run = 0; run < plan.rebalanceWarmupRuns + plan.rebalanceRuns; run++) {
      const sample = await leaveOnce(server, `bench-rebalance-${runId()}`, mode);
      if (run >= plan.rebalanceWarmupRuns) samples.push(sample);
    }
    const { reset, fetchMaxWaitMs } = LEAVE_MODES[mode];
    results.push({
      suite: "groups",
      name: `rebalance/leave-${mode}`,
      group: "rebalance",
      description: mode === "consuming"
        ? `${REBALANCE_MEMBERS} members reading the topic from its start; one stops and DELETEs ` +
          "itself, the others heartbeat back to back until told the new generation"
        : `${REBALANCE_MEMBERS} members at the end of the topic, each in a long poll; one stops ` +
          "and DELETEs itself, the others heartbeat back to back until told the new generation",
      params: {
        members: REBALANCE_MEMBERS,
        partitions: PARTITIONS,
        autoOffsetReset: reset,
        fetchMaxBytes: FETCH_MAX_BYTES,
        fetchMaxWaitMs,
        ...(mode === "consuming" ? { fetchesBeforeLeave: FETCHES_BEFORE_LEAVE } : {}),
      },
      warmupRuns: plan.rebalanceWarmupRuns,
      measuredRuns: samples.length,
      heartbeatMs: p50Max(samples.map((s) => s.heartbeatMs)),
      fetchLoopMs: p50Max(samples.map((s) => s.fetchLoopMs)),
      deleteMs: p50Max(samples.map((s) => s.deleteMs)),
      deleteServerMs: p50Max(samples.map((s) => s.deleteServerMs)),
      heartbeatPollsMedian: figure(samples.map((s) => s.heartbeatPolls)).median,
    });
  }
  return results;
}
