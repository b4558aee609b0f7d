/**
 * Connection bounds on a real server (flags from SLUICE_* here): per client address and per
 * listener, on the HTTP and the Kafka port. Connections over a bound are refused at once (HTTP:
 * a 429 with Retry-After, then a close; Kafka: a close, as Kafka does), counted in /metrics by
 * reason, while the connections already open keep working.
 */
import assert from "node:assert/strict";
import {
  API_VERSIONS_REQUEST,
  API_VERSIONS_RESPONSE,
} from "../../src/kafka_protocol/messages/api_versions.ts";
import { CONNECTION_REFUSAL_LOG_INTERVAL_MS } from "../../src/limits.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { ConnectionGate } from "../../src/runtime/accept.ts";
import { gauge, openIdle, rawHttp } from "../../scripts/soak_flood.ts";
import { sleep, startServer } from "../http/server_harness.ts";
import { concat, ourRequestFrame, parseResponse } from "../kafka_protocol/kafka_wire_util.ts";

const PER_ADDRESS = 5;
const MAX = 8;
const READ_TIMEOUT_MS = 10_000;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/**
 * Reads from `conn` until `done(buffer)` says a whole message is in; null when the peer closes
 * first. Rejects after READ_TIMEOUT_MS.
 */
async function readUntil(
  conn: Deno.Conn,
  done: (b: Uint8Array) => boolean,
): Promise<Uint8Array | null> {
  let buf: Uint8Array = new Uint8Array(0);
  const deadline = Date.now() + READ_TIMEOUT_MS;
  while (!done(buf)) {
    const chunk = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(chunk).finally(() => clearTimeout(timer)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("read timed out")), deadline - Date.now());
      }),
    ]);
    if (n === null) return null;
    buf = concat(buf, chunk.subarray(0, n));
  }
  return buf;
}

/** GET /healthz on an open keep-alive connection; the status. */
async function healthzOn(conn: Deno.Conn): Promise<number> {
  await writeAll(conn, new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const res = await readUntil(conn, (b) => {
    const t = new TextDecoder().decode(b);
    const end = t.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const len = Number(t.match(/content-length: (\d+)/i)?.[1] ?? 0);
    return b.length >= end + 4 + len;
  });
  assert.ok(res !== null, "keep-alive connection closed");
  return Number(new TextDecoder().decode(res).split(" ")[1]);
}

/** ApiVersions v0 on an open Kafka connection; its error code, or null when the peer closed. */
async function apiVersionsOn(conn: Deno.Conn): Promise<number | null> {
  await writeAll(conn, ourRequestFrame(API_VERSIONS_REQUEST, 0, {})).catch(() => {});
  const res = await readUntil(conn, (b) => {
    if (b.length < 4) return false;
    return b.length >= 4 + new DataView(b.buffer, b.byteOffset).getInt32(0);
  }).catch((err) => {
    if (err instanceof Deno.errors.ConnectionReset) return null;
    throw err;
  });
  if (res === null) return null;
  return parseResponse(res.subarray(4), API_VERSIONS_RESPONSE, 0).body.errorCode as number;
}

function refusals(metrics: string, listener: string, reason: string): number {
  return gauge(
    metrics,
    `sluice_listener_connections_refused_total{listener="${listener}",reason="${reason}"}`,
  ) ?? 0;
}

Deno.test("connection bounds per address and per listener", async (t) => {
  const server = await startServer({
    args: ["--kafka-port", "auto"],
    env: {
      SLUICE_MAX_HTTP_CONNECTIONS: String(MAX),
      SLUICE_MAX_HTTP_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS),
      SLUICE_MAX_KAFKA_CONNECTIONS: String(MAX),
      SLUICE_MAX_KAFKA_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS),
    },
  });
  const httpPort = Number(new URL(server.url).port);
  const kafkaPort = Number(
    server.stdoutLines.find((l) => l.startsWith("sluice kafka listening on "))?.split(":").pop(),
  );
  const opened: Deno.Conn[] = [];
  let failed = true;
  try {
    await t.step("HTTP: the sixth connection from one address is refused with 429", async () => {
      const conns: Deno.Conn[] = [];
      for (let i = 0; i < PER_ADDRESS; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: httpPort });
        opened.push(c);
        conns.push(c);
        assert.equal(await healthzOn(c), 200, `connection ${i + 1}`);
      }
      const refused = await rawHttp(httpPort, "/healthz");
      assert.equal(refused.status, 429, refused.body);
      assert.equal(JSON.parse(refused.body).error.code, "TOO_MANY_REQUESTS");
      for (const c of conns) assert.equal(await healthzOn(c), 200, "an open connection works");
      // Another address is not affected by this one's bound...
      const other = await openIdle(httpPort, MAX - PER_ADDRESS, "127.0.0.2");
      await sleep(0);
      assert.equal(
        (await rawHttp(httpPort, "/healthz", { localAddress: "127.0.0.3" })).status,
        429,
      );
      assert.equal(other.refused, 0);
      other.close();
      // ...and once those close, the third address gets in.
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await rawHttp(httpPort, "/healthz", { localAddress: "127.0.0.3" })).status;
        if (status !== 200) await sleep(50);
      }
      assert.equal(status, 200);
    });

    await t.step("Kafka: the sixth connection from one address is closed at once", async () => {
      const conns: Deno.Conn[] = [];
      for (let i = 0; i < PER_ADDRESS; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: kafkaPort });
        opened.push(c);
        conns.push(c);
        assert.equal(await apiVersionsOn(c), 0, `connection ${i + 1}`);
      }
      const sixth = await Deno.connect({ hostname: "127.0.0.1", port: kafkaPort });
      opened.push(sixth);
      assert.equal(await apiVersionsOn(sixth), null, "the sixth connection is closed");
      for (const c of conns) assert.equal(await apiVersionsOn(c), 0, "an open connection works");
    });

    await t.step("refusals are counted by listener and reason", async () => {
      const m = (await rawHttp(httpPort, "/metrics", { localAddress: "127.0.0.4" })).body;
      assert.ok(refusals(m, "http", "address_limit") >= 1, "http address_limit");
      assert.ok(refusals(m, "http", "listener_limit") >= 1, "http listener_limit");
      assert.ok(refusals(m, "kafka", "address_limit") >= 1, "kafka address_limit");
      assert.equal(gauge(m, 'sluice_listener_connections_max{listener="http"}'), MAX);
      assert.equal(
        gauge(m, 'sluice_listener_connections_per_address_max{listener="kafka"}'),
        PER_ADDRESS,
      );
      assert.equal(gauge(m, 'sluice_listener_connections{listener="kafka"}'), PER_ADDRESS);
    });
    failed = false;
  } finally {
    for (const c of opened) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    const code = await server.stop().catch(() => -1);
    await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    if (!failed) assert.equal(code, 0, server.stderr());
  }
});

Deno.test("ConnectionGate: bounds, release, and refusals logged at most once per interval", () => {
  const logger = new MemoryLogger();
  let now = 0;
  const gate = new ConnectionGate("http", { max: 3, perAddressMax: 2 }, logger, () => now);
  assert.equal(gate.admit("a"), null);
  assert.equal(gate.admit("a"), null);
  assert.equal(gate.admit("a"), "address_limit");
  assert.equal(gate.admit("b"), null);
  assert.equal(gate.admit("c"), "listener_limit");
  assert.equal(gate.open, 3);
  for (let i = 0; i < 1000; i++) gate.admit("a");
  assert.equal(logger.events.length, 1, "one line for the first refusal, the rest counted");
  now += CONNECTION_REFUSAL_LOG_INTERVAL_MS;
  assert.equal(gate.admit("c"), "listener_limit");
  assert.equal(logger.events.length, 2);
  assert.equal(logger.events[1].fields?.refusedUnloggedSinceLast, 1001);
  gate.release("a");
  assert.equal(gate.admit("c"), null, "a released slot is free again");
  gate.release("nobody"); // unknown addresses are ignored
  assert.equal(gate.open, 3);
  const refused = gate.stats().refused;
  assert.equal(refused.get("address_limit"), 1);
  assert.equal(refused.get("listener_limit"), 1002, "checked before the address bound");
});
