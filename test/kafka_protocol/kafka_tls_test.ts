/**
 * TLS on the Kafka listener (`serve --tls-cert FILE --tls-key FILE`, src/runtime/tcp.ts on
 * node:tls) against the real server, with a self-signed certificate made by openssl for 127.0.0.1
 * and localhost: kcat and kafkajs produce and consume over SSL, and over SASL_SSL with `--auth`;
 * a plaintext client against the TLS port fails its handshake and the server stays healthy; the
 * startup log's kafkaSecurity says SSL / SASL_SSL.
 *
 * The server is started here rather than with kafka_harness.ts's withKafkaServer: that harness
 * (test/http/server_harness.ts) waits for an `http://` listening line, and the same certificate
 * makes the HTTP listener HTTPS.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import {
  makeSelfSignedCert,
  opensslAvailable,
  type SelfSignedCert,
  tempDir,
} from "../test_util.ts";
import { announceSkip, expectSuccess, kcatAvailable, run } from "./kafka_harness.ts";

announceSkip(kcatAvailable, "kcat");

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const KAFKA_LISTENING = /^sluice kafka listening on (\S+):(\d+)$/;
const HTTP_LISTENING = /^sluice listening on (https:\/\/\S+) \(data: .*\)$/;

if (!opensslAvailable) console.warn("SKIPPED: openssl is not installed (kafka TLS tests)");

const ADMIN_SECRET = "admin-secret-tls-00000001";

type Cert = SelfSignedCert;

/** A self-signed end-entity certificate for localhost and 127.0.0.1 (test_util.ts). */
function makeCert(): Cert {
  return makeSelfSignedCert("sluice-kafka-tls-");
}

function authArgs(): string[] {
  const path = `${tempDir("sluice-kafka-tls-auth-")}/auth.json`;
  Deno.writeTextFileSync(
    path,
    JSON.stringify({
      tokens: [{
        name: "admin",
        token: ADMIN_SECRET,
        allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
          group: "*",
          ops: ["read", "admin"],
        }],
      }],
    }),
  );
  return ["--auth", path];
}

interface TlsServer {
  bootstrap: string;
  httpsUrl: string;
  cert: Cert;
  stderr(): string;
}

/**
 * Runs `serve` with the certificate (HTTPS and a TLS Kafka port on free ports) and `args`, waits
 * for both listening lines, runs `fn`, then stops it with SIGTERM and (when `fn` passed) asserts
 * exit code 0.
 */
async function withTlsKafkaServer(
  args: string[],
  fn: (server: TlsServer) => Promise<void>,
): Promise<void> {
  const cert = makeCert();
  const dataDir = tempDir("sluice-kafka-tls-data-");
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--kafka-host",
      "127.0.0.1",
      "--kafka-port",
      "auto",
      "--tls-cert",
      cert.certPath,
      "--tls-key",
      cert.keyPath,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let kafka: RegExpMatchArray | null = null;
  let http: RegExpMatchArray | null = null;
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  try {
    while (http === null) {
      const chunk = await lines.read();
      if (chunk.done) break;
      out += chunk.value;
      for (const line of out.split("\n").slice(0, -1)) { // complete lines only
        kafka ??= line.match(KAFKA_LISTENING);
        http ??= line.match(HTTP_LISTENING);
      }
    }
  } finally {
    clearTimeout(timer);
  }
  const stdoutDone = (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  let failed = true;
  try {
    assert.ok(kafka !== null && http !== null, `no listening lines\nstdout:\n${out}\n${stderr}`);
    await fn({
      bootstrap: `${kafka[1]}:${kafka[2]}`,
      httpsUrl: http[1],
      cert,
      stderr: () => stderr,
    });
    failed = false;
  } finally {
    try {
      proc.kill("SIGTERM");
    } catch { /* already exited */ }
    const status = await proc.status;
    await Promise.all([stderrDone, stdoutDone]);
    if (!failed) assert.equal(status.code, 0, `exit code after SIGTERM; stderr:\n${stderr}`);
  }
}

const SASL = [
  "-X",
  "sasl.mechanisms=PLAIN",
  "-X",
  "sasl.username=admin",
]; // plus sasl.password

/** kcat against the server with `security` (-X pairs) and `args`; stdin for -P. */
function kcat(server: TlsServer, security: string[], ...args: string[]) {
  return run("kcat", [
    "-b",
    server.bootstrap,
    "-X",
    "socket.timeout.ms=5000",
    "-X",
    "message.timeout.ms=5000",
    ...security,
    ...args,
  ], { stdin: args.includes("-P") ? "k1:v1\nk2:v2\n" : undefined, timeoutMs: 20_000 });
}

function ssl(server: TlsServer): string[] {
  return ["-X", "security.protocol=SSL", "-X", `ssl.ca.location=${server.cert.certPath}`];
}

function saslSsl(server: TlsServer, password = ADMIN_SECRET): string[] {
  return [
    "-X",
    "security.protocol=SASL_SSL",
    "-X",
    `ssl.ca.location=${server.cert.certPath}`,
    ...SASL,
    "-X",
    `sasl.password=${password}`,
  ];
}

/** The `started` log line's kafkaSecurity (logged just after the listening lines). */
async function kafkaSecurity(server: TlsServer): Promise<unknown> {
  const until = Date.now() + 5000;
  for (;;) {
    const started = server.stderr().split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l)).find((e) => e.message === "started");
    if (started !== undefined || Date.now() > until) return started?.kafkaSecurity;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function kcatRoundTrip(server: TlsServer, security: string[], topic: string) {
  const produced = await kcat(server, security, "-P", "-t", topic, "-K:");
  expectSuccess(produced, `kcat produce to ${topic}`);
  const consumed = await kcat(server, security, "-C", "-t", topic, "-e", "-f", "%k=%s\\n");
  expectSuccess(consumed, `kcat consume ${topic}`);
  assert.equal(consumed.stdout, "k1=v1\nk2=v2\n", consumed.stderr);
}

/** kafkajs over TLS (trusting only the test certificate): produce 5, consume them in a group. */
async function kafkajsRoundTrip(server: TlsServer, topic: string, sasl: boolean) {
  const kafka = new Kafka({
    clientId: "tls-test",
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 10_000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
    ssl: { ca: [server.cert.pem] },
    ...(sasl
      ? { sasl: { mechanism: "plain" as const, username: "admin", password: ADMIN_SECRET } }
      : {}),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 6000 });
  const seen: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => resolveAll = r);
    await consumer.run({
      eachMessage: ({ message }) => {
        seen.push(`${message.key}=${message.value}`);
        if (seen.length === 5) resolveAll();
        return Promise.resolve();
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      all,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`kafkajs consumed only ${seen}`)), 20_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual(seen.sort(), ["k0=v0", "k1=v1", "k2=v2", "k3=v3", "k4=v4"]);
}

Deno.test({
  name: "kafka TLS: SSL with kcat and kafkajs; a plaintext client fails, the server stays healthy",
  ignore: !opensslAvailable,
  fn: async (t) => {
    await withTlsKafkaServer([], async (server) => {
      await t.step("the startup log says SSL", async () => {
        assert.equal(await kafkaSecurity(server), "SSL");
      });

      await t.step({
        name: "kcat with security.protocol=SSL produces and consumes",
        ignore: !kcatAvailable,
        fn: () => kcatRoundTrip(server, ssl(server), "tls-kcat"),
      });

      await t.step({
        name: "plaintext kcat fails; the server keeps serving TLS clients and HTTPS",
        ignore: !kcatAvailable,
        fn: async () => {
          const plain = await kcat(server, [], "-L", "-m", "3");
          assert.notEqual(plain.code, 0, `plaintext kcat succeeded:\n${plain.stdout}`);
          assert.match(server.stderr(), /kafka TLS handshake failed/);
          const listed = await kcat(server, ssl(server), "-L", "-t", "tls-kcat");
          expectSuccess(listed, "kcat -L over SSL after the plaintext attempt");
          assert.match(listed.stdout, /topic "tls-kcat"/);
          const client = Deno.createHttpClient({ caCerts: [server.cert.pem] });
          try {
            const res = await fetch(`${server.httpsUrl}/healthz`, { client });
            assert.equal(res.status, 200);
            await res.body?.cancel();
            const metrics = await (await fetch(`${server.httpsUrl}/metrics`, { client })).text();
            assert.match(
              metrics,
              /^sluice_kafka_connections_closed_total\{reason="tls_handshake"\} [1-9]\d*$/m,
            );
          } finally {
            client.close();
          }
        },
      });

      await t.step("a plaintext request gets no Kafka answer", async () => {
        const [host, port] = server.bootstrap.split(":");
        const conn = await Deno.connect({ hostname: host, port: Number(port) });
        try {
          // ApiVersions v0, correlation id 1, no client id: a TLS server sees a bad record.
          await conn.write(Uint8Array.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]));
          const buf = new Uint8Array(1024);
          const got = await conn.read(buf).catch(() => null);
          // Either closed at once, or a TLS alert record (content type 21): never a Kafka frame.
          assert.ok(got === null || buf[0] === 21, `unexpected answer ${buf.subarray(0, 8)}`);
        } finally {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      });

      await t.step(
        "kafkajs with ssl.ca creates a topic, produces and consumes in a group",
        () => kafkajsRoundTrip(server, "tls-kafkajs", false),
      );
    });
  },
});

Deno.test({
  name: "kafka TLS: SASL_SSL under --auth with kcat and kafkajs",
  ignore: !opensslAvailable,
  fn: async (t) => {
    await withTlsKafkaServer(authArgs(), async (server) => {
      await t.step("the startup log says SASL_SSL", async () => {
        assert.equal(await kafkaSecurity(server), "SASL_SSL");
      });

      await t.step({
        name: "kcat with SASL_SSL and PLAIN credentials produces and consumes",
        ignore: !kcatAvailable,
        fn: () => kcatRoundTrip(server, saslSsl(server), "tls-sasl-kcat"),
      });

      await t.step({
        name: "kcat with a wrong password, or SSL without SASL, is refused",
        ignore: !kcatAvailable,
        fn: async () => {
          const wrong = await kcat(
            server,
            saslSsl(server, "wrong-password-000000"),
            "-L",
            "-m",
            "3",
          );
          assert.notEqual(wrong.code, 0, `wrong password accepted:\n${wrong.stdout}`);
          const noSasl = await kcat(server, ssl(server), "-L", "-m", "3");
          assert.notEqual(noSasl.code, 0, `SSL without SASL accepted:\n${noSasl.stdout}`);
          assert.ok(!server.stderr().includes(ADMIN_SECRET), "the secret reached the log");
        },
      });

      await t.step(
        "kafkajs with ssl.ca and sasl plain does a round trip",
        () => kafkajsRoundTrip(server, "tls-sasl-kafkajs", true),
      );
    });
  },
});
