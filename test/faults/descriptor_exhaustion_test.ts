/**
 * Running out of file descriptors is a refusal, never a crash: a real server started under
 * `ulimit -n 256` is flooded with more idle HTTP and Kafka connections than it has descriptors,
 * from 127.0.0.1. It stays alive, answers /healthz during the flood (from 127.0.0.2: the flood's
 * address is at its per-address bound) and after it, its connection gauges return to 0, and a
 * real produce and fetch work afterwards, on both listeners.
 *
 * The second case sets the connection bounds above the descriptor budget (SLUICE_MAX_*), so
 * accept() itself meets EMFILE: both listeners must keep accepting once descriptors free up
 * (before the fix, Deno.serve's accept loop ended the process and node:net's stopped for good).
 */
import assert from "node:assert/strict";
import {
  API_VERSIONS_REQUEST,
  API_VERSIONS_RESPONSE,
} from "../../src/kafka_protocol/messages/api_versions.ts";
import { METADATA_REQUEST, METADATA_RESPONSE } from "../../src/kafka_protocol/messages/metadata.ts";
import { gauge, isAlive, openIdle, rawHttp } from "../../scripts/soak_flood.ts";
import {
  fetchRecords,
  json,
  type RunningServer,
  sleep,
  startServer,
} from "../http/server_harness.ts";
import { callOnce } from "../kafka_protocol/kafka_wire_util.ts";

const DESCRIPTORS = 256;
/** More connections per listener than the server has descriptors. */
const FLOOD = 300;
/** Generous bound for the server to settle after the flood closes. */
const SETTLE_MS = 15_000;
const ADMIN_SECRET = "flood-admin-secret-0123456789";

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

/** Retries `fn` until it resolves (SETTLE_MS at most); a refusal while descriptors free is fine. */
async function eventually<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err}`);
      await sleep(100);
    }
  }
}

async function start(auth: boolean, env: Record<string, string> = {}): Promise<{
  server: RunningServer;
  httpPort: number;
  kafkaPort: number;
  headers: Record<string, string>;
}> {
  const dataDir = await Deno.makeTempDir({ prefix: "sluice-fd-" });
  const args = ["--kafka-port", "auto"];
  if (auth) {
    const path = `${dataDir}.auth.json`;
    Deno.writeTextFileSync(
      path,
      JSON.stringify({
        tokens: [{
          name: "admin",
          token: ADMIN_SECRET,
          allow: [{ topic: "*", ops: ["read", "write", "admin"] }],
        }],
      }),
    );
    args.push("--auth", path);
  }
  const server = await startServer({ dataDir, args, env, descriptorLimit: DESCRIPTORS });
  const kafkaLine = server.stdoutLines.find((l) => l.startsWith("sluice kafka listening on "));
  assert.ok(kafkaLine, `kafka line in ${server.stdoutLines.join("\n")}`);
  return {
    server,
    httpPort: Number(new URL(server.url).port),
    kafkaPort: Number(kafkaLine.split(":").pop()),
    headers: auth ? { authorization: `Bearer ${ADMIN_SECRET}` } : {},
  };
}

/** Stops the server; asserts a clean exit unless the test already failed (not to mask that). */
async function stop(server: RunningServer, failed: boolean): Promise<void> {
  const code = await server.stop().catch(() => -1);
  await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
  await Deno.remove(`${server.dataDir}.auth.json`).catch(() => {});
  if (!failed) {
    assert.equal(code, 0, `exit code after SIGTERM; stderr:\n${server.stderr().slice(-2000)}`);
  }
}

function assertAlive(server: RunningServer, what: string): void {
  assert.ok(
    isAlive(server.proc.pid),
    `${what}: the server died; stderr:\n${server.stderr().slice(-2000)}`,
  );
}

/** Polls /metrics until no flood connection is left: HTTP 1 (this request), Kafka 0. */
async function waitForGauges(
  httpPort: number,
  headers: Record<string, string>,
): Promise<string> {
  const deadline = Date.now() + SETTLE_MS;
  let last = "";
  while (Date.now() < deadline) {
    try {
      last = (await rawHttp(httpPort, "/metrics", { headers })).body;
      if (
        gauge(last, 'sluice_listener_connections{listener="http"}') === 1 &&
        gauge(last, 'sluice_listener_connections{listener="kafka"}') === 0 &&
        gauge(last, "sluice_kafka_connections") === 0
      ) return last;
    } catch { /* refused or reset while settling: try again */ }
    await sleep(100);
  }
  throw new Error(
    `connection gauges did not return to 0 within ${SETTLE_MS} ms:\n${
      last.split("\n").filter((l) => l.includes("connections")).join("\n")
    }`,
  );
}

function refusals(metrics: string, listener: string, reason: string): number {
  return gauge(
    metrics,
    `sluice_listener_connections_refused_total{listener="${listener}",reason="${reason}"}`,
  ) ?? 0;
}

/** A produce and a fetch over HTTP, and a Kafka request on a fresh connection. */
async function produceAndFetch(
  server: RunningServer,
  kafkaPort: number,
  headers: Record<string, string>,
  kafka: boolean,
): Promise<void> {
  const created = await json(`${server.url}/v1/topics`, {
    method: "POST",
    headers,
    json: { name: "after-flood", partitions: 1 },
  });
  assert.equal(created.status, 201, created.text);
  const produced = await json(`${server.url}/v1/topics/after-flood/records`, {
    method: "POST",
    headers,
    json: { records: [{ key: "k", value: "still here" }] },
  });
  assert.equal(produced.status, 200, produced.text);
  if (Object.keys(headers).length === 0) {
    const r = await fetchRecords(server, "after-flood", 0, { offset: 0 });
    assert.equal(r.records[0].value, "still here");
  } else {
    const r = await json(`${server.url}/v1/topics/after-flood/partitions/0/records?offset=0`, {
      headers,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.records[0].value, "still here");
  }
  const versions = await withTimeout(
    callOnce(kafkaPort, API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE, 0, {}),
    5_000,
    "Kafka ApiVersions after the flood",
  );
  assert.equal(versions.errorCode, 0);
  if (kafka) {
    const md = await withTimeout(
      callOnce(kafkaPort, METADATA_REQUEST, METADATA_RESPONSE, 1, {
        topics: [{ name: "after-flood" }],
      }),
      5_000,
      "Kafka Metadata after the flood",
    );
    assert.equal((md.topics as { errorCode: number }[])[0].errorCode, 0);
  }
}

Deno.test("descriptor exhaustion: floods beyond the descriptor limit are refused", async (t) => {
  for (const auth of [true, false]) {
    await t.step(`default bounds, --auth ${auth ? "on" : "off"}`, async () => {
      const { server, httpPort, kafkaPort, headers } = await start(auth);
      let failed = true;
      try {
        const [http, kafka] = await Promise.all([
          openIdle(httpPort, FLOOD),
          openIdle(kafkaPort, FLOOD),
        ]);
        try {
          assertAlive(server, "during the flood");
          // A refused connection is accepted, then closed: its close may land after the
          // connect resolved, so wait for it (bounded) rather than assume it has happened.
          const until = Date.now() + SETTLE_MS;
          while (!(http.refused > 0 && kafka.refused > 0) && Date.now() < until) await sleep(50);
          assert.ok(
            http.refused > 0 && kafka.refused > 0,
            `the flood meets its bounds (refused: http ${http.refused}, kafka ${kafka.refused})`,
          );
          // The flood's address is at its bound; another address still gets in.
          const h = await rawHttp(httpPort, "/healthz", { localAddress: "127.0.0.2" });
          assert.equal(h.status, 200);
          // A refused HTTP connection is told why.
          const refused = await rawHttp(httpPort, "/healthz");
          assert.equal(refused.status, 429, refused.body);
        } finally {
          http.close();
          kafka.close();
        }
        const metrics = await waitForGauges(httpPort, headers);
        assert.ok(refusals(metrics, "http", "address_limit") > 0, "http address_limit counted");
        assert.ok(refusals(metrics, "kafka", "address_limit") > 0, "kafka address_limit counted");
        const h = await rawHttp(httpPort, "/healthz");
        assert.equal(h.status, 200);
        await produceAndFetch(server, kafkaPort, headers, !auth);
        assertAlive(server, "after the flood");
        const warnings = server.stderr().split("\n").filter((l) =>
          l.includes("refusing connections")
        );
        assert.ok(warnings.length >= 1 && warnings.length <= 4, `rate-limited: ${warnings.length}`);
        failed = false;
      } finally {
        await stop(server, failed);
      }
    });
  }

  await t.step("bounds above the budget: accept meets EMFILE on both listeners", async () => {
    const env = {
      SLUICE_MAX_HTTP_CONNECTIONS: "1000",
      SLUICE_MAX_HTTP_CONNECTIONS_PER_ADDRESS: "1000",
      SLUICE_MAX_KAFKA_CONNECTIONS: "1000",
      SLUICE_MAX_KAFKA_CONNECTIONS_PER_ADDRESS: "1000",
    };
    const { server, httpPort, kafkaPort } = await start(false, env);
    let failed = true;
    try {
      // Kafka alone first: its listener must accept again once the flood is gone.
      const kafka = await openIdle(kafkaPort, FLOOD);
      assertAlive(server, "during the Kafka flood");
      kafka.close();
      // Refused (closed) while the server still closes the flood's sockets; then answered.
      await eventually("Kafka ApiVersions after a flood past EMFILE", () =>
        withTimeout(
          callOnce(kafkaPort, API_VERSIONS_REQUEST, API_VERSIONS_RESPONSE, 0, {}),
          5_000,
          "Kafka ApiVersions",
        ));
      const http = await openIdle(httpPort, FLOOD);
      assertAlive(server, "during the HTTP flood");
      http.close();
      const metrics = await waitForGauges(httpPort, {});
      assert.ok(
        refusals(metrics, "kafka", "descriptors") > 0 &&
          refusals(metrics, "http", "descriptors") > 0,
        `descriptor refusals counted:\n${
          metrics.split("\n").filter((l) => l.includes("refused")).join("\n")
        }`,
      );
      await produceAndFetch(server, kafkaPort, {}, true);
      failed = false;
    } finally {
      await stop(server, failed);
    }
  });
});
