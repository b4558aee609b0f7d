/**
 * The replication-lag sampler of the cluster suite: while a producer writes to a partition of
 * brokers-3, it reads each broker's log end offset of that partition from its GET /metrics
 * (`sluice_log_end_offset{topic,partition}`, which every broker exports for every replica it
 * holds, leader or follower) and measures, sample after sample:
 *
 * - offset lag: the leader's log end minus a follower's, the follower read right after the
 *   leader's answer. The follower may fetch in between, so this leans low.
 * - time lag: from sending the leader's request until a follower's log end reaches the offset
 *   the leader answered, the follower re-read every LAG_POLL_MS. This leans high, by up to one
 *   poll and a scrape's round trip (scrapeMs says how long those took), never low: the leader had
 *   that offset no earlier than the request was sent.
 *
 * Only samples during which the leader's log end moved count (not the producer's start-up, nor
 * an idle tail). The sampler adds load (a few scrapes every few ms on shared cores): a lag run's
 * records/s is not a throughput figure. Nothing is added to src: /metrics exists already.
 */
import { percentile } from "../bench_util.ts";
import { LAG_POLL_MS, LAG_SAMPLE_TIMEOUT_MS, LAG_SAMPLES_MAX } from "./plan.ts";
import type { Spread } from "./types.ts";

/** A bounded wait for one scrape. */
const SCRAPE_TIMEOUT_MS = 5_000;

/** Samples of one run, as they were taken. */
export interface LagSamples {
  offsetLag: number[];
  timeLagMs: number[];
  scrapeMs: number[];
  timedOut: number;
}

export function spreadOf(values: readonly number[]): Spread {
  if (values.length === 0) return { count: 0 };
  const sorted = Float64Array.from(values).sort();
  return {
    count: values.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/** The log end offset of `topic`/`partition` on the broker at `url`, and the round trip. */
async function logEnd(
  url: string,
  topic: string,
  partition: number,
): Promise<{ offset: number; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  const text = await r.text();
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`GET ${url}/metrics: HTTP ${r.status}`);
  const key = `sluice_log_end_offset{topic="${topic}",partition="${partition}"} `;
  const at = text.indexOf(key);
  if (at < 0) return { offset: 0, ms }; // the topic's log is not there yet
  const end = text.indexOf("\n", at);
  return { offset: Number(text.slice(at + key.length, end < 0 ? undefined : end)), ms };
}

/**
 * Samples until `stop()` is called; `done` resolves with the samples. `leaderUrl` and
 * `followerUrls` are the brokers' HTTP base URLs.
 */
export function sampleLag(
  leaderUrl: string,
  followerUrls: readonly string[],
  topic: string,
  partition = 0,
): { stop: () => void; done: Promise<LagSamples> } {
  let running = true;
  const samples: LagSamples = { offsetLag: [], timeLagMs: [], scrapeMs: [], timedOut: 0 };
  const full = () => samples.timeLagMs.length >= LAG_SAMPLES_MAX;
  const scraped = (ms: number) => {
    if (samples.scrapeMs.length < LAG_SAMPLES_MAX) samples.scrapeMs.push(ms);
  };
  const follow = async (url: string, target: number, t0: number) => {
    const first = await logEnd(url, topic, partition);
    scraped(first.ms);
    samples.offsetLag.push(Math.max(0, target - first.offset));
    let offset = first.offset;
    while (offset < target) {
      if (performance.now() - t0 > LAG_SAMPLE_TIMEOUT_MS) {
        samples.timedOut++;
        return;
      }
      await new Promise((r) => setTimeout(r, LAG_POLL_MS));
      const again = await logEnd(url, topic, partition);
      scraped(again.ms);
      offset = again.offset;
    }
    samples.timeLagMs.push(performance.now() - t0);
  };
  const done = (async () => {
    let previous = -1;
    while (running && !full()) {
      const t0 = performance.now();
      const leader = await logEnd(leaderUrl, topic, partition);
      scraped(leader.ms);
      if (leader.offset <= previous || leader.offset === 0) {
        // The producer has not started, or paused: no load to lag behind.
        previous = leader.offset;
        await new Promise((r) => setTimeout(r, LAG_POLL_MS));
        continue;
      }
      previous = leader.offset;
      await Promise.all(followerUrls.map((u) => follow(u, leader.offset, t0)));
    }
    return samples;
  })();
  return { stop: () => running = false, done };
}
