/**
 * HttpMetrics.observe (src/http/metrics.ts): exact request counts per route, method and status,
 * and the latency histogram's buckets, sum and count, rendered for a real broker; label values
 * escaped once per series.
 */
import assert from "node:assert/strict";
import { Broker } from "../../src/broker/broker.ts";
import { HttpMetrics } from "../../src/http/metrics.ts";
import { MemoryLogger } from "../../src/logger.ts";

Deno.test("HttpMetrics.observe", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-metrics-observe-" });
  const broker = await Broker.open({ dataDir, logger: new MemoryLogger() });
  try {
    const m = new HttpMetrics();
    const batches = "/v1/topics/:topic/partitions/:partition/batches";
    for (let i = 0; i < 5; i++) m.observe(batches, "POST", 200, 0.0007);
    m.observe(batches, "POST", 400, 0.02);
    m.observe("/v1/topics", "GET", 200, 3);
    m.observe('odd"route\\', "GET", 404, 0.0001);
    const text = m.render(broker);
    const line = (name: string) => {
      const found = text.split("\n").filter((l) => l.startsWith(name + "{") || l === name);
      return found;
    };

    await t.step("one counter per route, method and status, in the order first seen", () => {
      assert.deepEqual(line("sluice_http_requests_total"), [
        `sluice_http_requests_total{route="${batches}",method="POST",status="200"} 5`,
        `sluice_http_requests_total{route="${batches}",method="POST",status="400"} 1`,
        `sluice_http_requests_total{route="/v1/topics",method="GET",status="200"} 1`,
        `sluice_http_requests_total{route="odd\\"route\\\\",method="GET",status="404"} 1`,
      ]);
    });

    await t.step("the histogram: cumulative buckets, sum and count per route and method", () => {
      const key = `route="${batches}",method="POST"`;
      const bucket = (le: string) =>
        text.split("\n").find((l) =>
          l.startsWith(`sluice_http_request_duration_seconds_bucket{${key},le="${le}"}`)
        );
      assert.match(bucket("0.0005")!, / 0$/);
      assert.match(bucket("0.001")!, / 5$/);
      assert.match(bucket("0.01")!, / 5$/);
      assert.match(bucket("0.025")!, / 6$/);
      assert.match(bucket("+Inf")!, / 6$/);
      const sum = text.split("\n").find((l) =>
        l.startsWith(`sluice_http_request_duration_seconds_sum{${key}}`)
      )!;
      assert.ok(Math.abs(Number(sum.split(" ")[1]) - (5 * 0.0007 + 0.02)) < 1e-9, sum);
      assert.ok(
        text.includes(`sluice_http_request_duration_seconds_count{${key}} 6\n`),
        "count of 6",
      );
      assert.ok(
        text.includes(
          `sluice_http_request_duration_seconds_count{route="/v1/topics",method="GET"} 1\n`,
        ),
      );
    });
  } finally {
    await broker.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
