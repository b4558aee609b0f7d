/**
 * HTTP service endpoints (API.md "Service"): /healthz, Prometheus /metrics with the counters and
 * gauges the broker keeps, /openapi.json and /docs; plus the process contract: SLUICE_HOST,
 * SLUICE_PORT and SLUICE_DATA_DIR in place of the flags.
 */
import assert from "node:assert/strict";
import {
  createTopic,
  expectStatus,
  fetchRecords,
  json,
  listTree,
  produce,
  startServer,
  withServer,
} from "./server_harness.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition format; asserts every sample line is well formed. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(sampleLine);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2];
      }
    }
    const raw = m[3];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    assert.ok(!Number.isNaN(value) || raw === "NaN", `sample value ${raw} in ${line}`);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

function sum(samples: Sample[]): number {
  return samples.reduce((n, s) => n + s.value, 0);
}

Deno.test("HTTP service: /healthz, /metrics, /openapi.json and /docs", async (t) => {
  await withServer({}, async (server) => {
    await t.step("GET /healthz is 200 {status: ok}", async () => {
      const res = await json(`${server.url}/healthz`);
      expectStatus(res, 200, "healthz");
      assert.equal(res.body.status, "ok");
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    });

    await createTopic(server, "m", 2);
    await produce(server, "m", {
      records: [
        { value: "one", partition: 0 },
        { value: "two", partition: 0 },
        { value: "three", partition: 1 },
      ],
    });
    await fetchRecords(server, "m", 0, { offset: 0 });
    await json(`${server.url}/v1/topics/nope`);

    await t.step("GET /metrics is Prometheus text with the broker's series", async () => {
      const res = await json(`${server.url}/metrics`);
      expectStatus(res, 200, "metrics");
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
      const s = parseMetrics(res.text);

      assert.equal(sum(find(s, "sluice_records_in_total", { topic: "m" })), 3, "records in");
      assert.ok(sum(find(s, "sluice_bytes_in_total", { topic: "m" })) > 0, "bytes in");
      assert.ok(sum(find(s, "sluice_records_out_total")) >= 2, "records out");

      const requests = find(s, "sluice_http_requests_total");
      assert.ok(requests.length > 0, "sluice_http_requests_total present");
      for (const r of requests) {
        assert.ok("route" in r.labels && "status" in r.labels, JSON.stringify(r.labels));
        assert.ok(
          !r.labels.route.includes("/m/") && !r.labels.route.endsWith("/m"),
          `route label is the route pattern, not the URL: ${r.labels.route}`,
        );
      }
      assert.ok(sum(requests.filter((r) => r.labels.status === "200")) >= 2, "200s counted");
      assert.ok(sum(requests.filter((r) => r.labels.status === "201")) >= 1, "201 counted");
      assert.ok(sum(requests.filter((r) => r.labels.status === "404")) >= 1, "404 counted");

      const buckets = find(s, "sluice_http_request_duration_seconds_bucket");
      assert.ok(buckets.length > 0, "duration histogram buckets");
      assert.ok(buckets.some((b) => b.labels.le === "+Inf"), "+Inf bucket");
      assert.ok(find(s, "sluice_http_request_duration_seconds_count").length > 0, "_count");
      assert.ok(find(s, "sluice_http_request_duration_seconds_sum").length > 0, "_sum");

      const leo = (p: string) => find(s, "sluice_log_end_offset", { topic: "m", partition: p });
      assert.equal(sum(leo("0")), 2, "log end offset m/0");
      assert.equal(sum(leo("1")), 1, "log end offset m/1");
      const size0 = find(s, "sluice_log_size_bytes", { topic: "m", partition: "0" });
      assert.equal(size0.length, 1, "log size of m/0");
      assert.ok(size0[0].value > 0);
      const polls = find(s, "sluice_open_long_polls");
      assert.equal(polls.length, 1, "sluice_open_long_polls");
      assert.equal(polls[0].value, 0);

      for (
        const name of [
          "sluice_records_in_total",
          "sluice_http_requests_total",
          "sluice_log_end_offset",
          "sluice_open_long_polls",
        ]
      ) {
        assert.match(res.text, new RegExp(`^# TYPE ${name} `, "m"), `# TYPE line for ${name}`);
      }
      assert.match(res.text, /^# TYPE sluice_http_request_duration_seconds histogram$/m);
    });

    await t.step("counters only grow", async () => {
      await produce(server, "m", { records: [{ value: "four", partition: 1 }] });
      const s = parseMetrics((await json(`${server.url}/metrics`)).text);
      assert.equal(sum(find(s, "sluice_records_in_total", { topic: "m" })), 4);
      assert.equal(sum(find(s, "sluice_log_end_offset", { topic: "m", partition: "1" })), 2);
    });

    await t.step("labels stay bounded: route patterns, existing topics only", async () => {
      for (let i = 0; i < 5; i++) await json(`${server.url}/junk-${i}/path`);
      for (let i = 0; i < 3; i++) {
        await json(`${server.url}/v1/topics/ghost-${i}/records`, {
          method: "POST",
          json: { records: [{ value: "x" }] },
        });
      }
      const text = (await json(`${server.url}/metrics`)).text;
      assert.doesNotMatch(text, /junk-\d/, "an unrouted path is not a label value");
      assert.doesNotMatch(text, /ghost-\d/, "an unknown topic is not a label value");
    });

    await t.step("a deleted topic's gauges go away", async () => {
      const del = await json(`${server.url}/v1/topics/m`, { method: "DELETE" });
      expectStatus(del, 204, "delete m");
      const s = parseMetrics((await json(`${server.url}/metrics`)).text);
      assert.equal(find(s, "sluice_log_end_offset", { topic: "m" }).length, 0);
      assert.equal(find(s, "sluice_log_size_bytes", { topic: "m" }).length, 0);
    });

    await t.step("GET /openapi.json is an OpenAPI 3 document of the API", async () => {
      const res = await json(`${server.url}/openapi.json`);
      expectStatus(res, 200, "openapi.json");
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(typeof res.body.openapi, "string");
      assert.ok(res.body.openapi.startsWith("3."), `openapi ${res.body.openapi}`);
      assert.equal(typeof res.body.info?.title, "string", "info.title");
      const paths = Object.keys(res.body.paths ?? {});
      for (
        const p of [
          "/v1/topics",
          "/v1/topics/{topic}",
          "/v1/topics/{topic}/records",
          "/v1/topics/{topic}/partitions/{partition}/records",
          "/v1/topics/{topic}/partitions/{partition}/batches",
          "/v1/topics/{topic}/partitions/{partition}/stream",
          "/v1/topics/{topic}/partitions/{partition}/offsets",
        ]
      ) {
        // The partition parameter may be named {p} or {partition}.
        const alt = p.replace("{partition}", "{p}");
        assert.ok(paths.includes(p) || paths.includes(alt), `paths has ${p}: ${paths.join(", ")}`);
      }
      const topics = res.body.paths["/v1/topics"];
      assert.ok(topics.get && topics.post, "GET and POST /v1/topics documented");
    });

    await t.step("GET /docs is an HTML page that loads /openapi.json", async () => {
      const res = await fetch(`${server.url}/docs`);
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(text, /<html/i);
      assert.match(text, /openapi\.json/);
    });
  });
});

Deno.test("HTTP service: SLUICE_HOST, SLUICE_PORT and SLUICE_DATA_DIR replace the flags", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-http-env-" });
  try {
    const server = await startServer({
      noDefaultFlags: true,
      dataDir,
      env: {
        SLUICE_HOST: "127.0.0.1",
        SLUICE_PORT: "0",
        SLUICE_DATA_DIR: dataDir,
        SLUICE_KAFKA_PORT: "0",
      },
    });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      assert.ok(server.printedDataDir.includes(dataDir.split("/").at(-1)!));
      expectStatus(await json(`${server.url}/healthz`), 200, "healthz");
      await createTopic(server, "envtopic", 1);
      assert.ok(
        (await listTree(dataDir)).includes("topics/envtopic"),
        "topic written under SLUICE_DATA_DIR",
      );
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("HTTP service: flags win over the environment", async () => {
  const flagDir = await Deno.makeTempDir({ prefix: "sluice-http-flag-" });
  const envDir = await Deno.makeTempDir({ prefix: "sluice-http-envlost-" });
  try {
    await withServer({ dataDir: flagDir, env: { SLUICE_DATA_DIR: envDir } }, async (server) => {
      await createTopic(server, "flagtopic", 1);
      assert.ok((await listTree(flagDir)).includes("topics/flagtopic"));
      assert.deepEqual(await listTree(envDir), []);
    });
  } finally {
    await Deno.remove(flagDir, { recursive: true });
    await Deno.remove(envDir, { recursive: true });
  }
});
