/**
 * The `latency` scenarios: single-record JSON produce, sequential and in an open loop at a fixed
 * request rate (bench/http_bench.ts).
 */
import { percentile } from "../bench_util.ts";
import type { Server } from "../bench_server.ts";
import { LATENCY_TARGET_P99_MS, PACED_REQUESTS_PER_SEC, type Plan } from "./plan.ts";
import type { HttpBenchResult } from "./results.ts";
import { createTopic, expectOk, produceJson } from "./requests.ts";
import { type Payloads, repeat, summarize } from "./runs.ts";

/** Open loop: request i is sent at t0 + i / rate whatever the earlier ones are doing. */
async function pacedProduce(
  url: string,
  topic: string,
  body: string,
  requests: number,
  signal: AbortSignal,
  latenciesMs: number[] | undefined,
): Promise<{ lateMsMax: number }> {
  const intervalMs = 1000 / PACED_REQUESTS_PER_SEC;
  const target = `${url}/v1/topics/${topic}/records`;
  const inFlight: Promise<void>[] = [];
  let lateMsMax = 0;
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const started = performance.now();
    lateMsMax = Math.max(lateMsMax, started - due);
    inFlight.push(
      fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal,
      }).then(async (res) => {
        await expectOk(res, `produce to ${topic}`);
        latenciesMs?.push(performance.now() - started);
      }),
    );
  }
  await Promise.all(inFlight);
  return { lateMsMax };
}

function latencySummary(latenciesMs: number[]): NonNullable<HttpBenchResult["latencyMs"]> {
  latenciesMs.sort((a, b) => a - b);
  return {
    p50: percentile(latenciesMs, 50),
    p99: percentile(latenciesMs, 99),
    p999: percentile(latenciesMs, 99.9),
    max: latenciesMs[latenciesMs.length - 1],
    samples: latenciesMs.length,
  };
}

export async function benchLatency(
  server: Server,
  plan: Plan,
  p: Payloads,
): Promise<HttpBenchResult[]> {
  const topic = "bench-latency";
  await createTopic(server.url, topic, 1);
  const bodyBytes = new TextEncoder().encode(p.singleJsonBody).length;
  const params = { clients: 1, partitions: 1, recordsPerRequest: 1, requestBytes: bodyBytes };
  const results: HttpBenchResult[] = [];

  const sequential: number[] = [];
  const n = plan.latencyRequestsPerRun;
  const samples = await repeat(plan, server.pid, async (signal, measured) => {
    await produceJson(server.url, topic, p.singleJsonBody, n, signal, measured ? sequential : []);
    return { records: n, bytes: n * bodyBytes, requests: n };
  });
  const seq = latencySummary(sequential);
  const { recordsPerSec: _, mbPerSec: __, ...seqSummary } = summarize(samples, plan);
  results.push({
    suite: "http",
    name: "latency/sequential",
    group: "latency",
    description: "1 client, single-record JSON produce, each sent when the last answered",
    params: { ...params, requestsPerRun: n },
    ...seqSummary,
    latencyMs: seq,
    target: { text: `p99 < ${LATENCY_TARGET_P99_MS} ms`, met: seq.p99 < LATENCY_TARGET_P99_MS },
  });

  const paced: number[] = [];
  const m = plan.pacedRequestsPerRun;
  let lateMsMax = 0;
  const pacedSamples = await repeat(plan, server.pid, async (signal, measured) => {
    const r = await pacedProduce(
      server.url,
      topic,
      p.singleJsonBody,
      m,
      signal,
      measured ? paced : undefined,
    );
    if (measured) lateMsMax = Math.max(lateMsMax, r.lateMsMax);
    return { records: m, bytes: m * bodyBytes, requests: m };
  });
  const pacedLatency = latencySummary(paced);
  const { recordsPerSec: _r, mbPerSec: _m, ...pacedSummary } = summarize(pacedSamples, plan);
  results.push({
    suite: "http",
    name: `latency/${PACED_REQUESTS_PER_SEC}rps`,
    group: "latency",
    description: `single-record JSON produce, open loop at ${PACED_REQUESTS_PER_SEC} requests/s ` +
      "(latency from each send)",
    params: {
      ...params,
      requestsPerRun: m,
      requestsPerSecTarget: PACED_REQUESTS_PER_SEC,
      sendLateMsMax: Math.round(lateMsMax * 100) / 100,
    },
    ...pacedSummary,
    latencyMs: pacedLatency,
    target: {
      text: `p99 < ${LATENCY_TARGET_P99_MS} ms`,
      met: pacedLatency.p99 < LATENCY_TARGET_P99_MS,
    },
  });
  return results;
}
