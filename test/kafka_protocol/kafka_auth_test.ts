/**
 * SASL/PLAIN on the Kafka listener (`serve --auth FILE`, src/kafka_protocol/handlers/sasl.ts and
 * acl.ts) against the real server: kcat and kafkajs authenticate with a token's name and secret
 * and get its rights; a wrong password, no SASL at all, or a request before authentication end the
 * connection; Metadata shows only permitted topics; the secret never reaches the log.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { tempDir } from "../test_util.ts";
import { sleep } from "../http/server_harness.ts";
import {
  announceSkip,
  expectSuccess,
  type KafkaServer,
  kcatAvailable,
  run,
  withKafkaServer,
} from "./kafka_harness.ts";

announceSkip(kcatAvailable, "kcat");

const SECRETS = {
  admin: "admin-secret-000000000001",
  app: "app-secret-0000000000002",
  reader: "reader-secret-0000000003",
} as const;

const TOKENS = {
  tokens: [
    {
      name: "admin",
      token: SECRETS.admin,
      allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
        group: "*",
        ops: ["read", "admin"],
      }],
    },
    {
      name: "app",
      token: SECRETS.app,
      allow: [{ topic: "orders*", ops: ["read", "write"] }, { group: "app-*", ops: ["read"] }],
    },
    { name: "reader", token: SECRETS.reader, allow: [{ topic: "orders*", ops: ["read"] }] },
  ],
};

function authArgs(): string[] {
  const dir = tempDir("sluice-kafka-auth-");
  const path = `${dir}/auth.json`;
  Deno.writeTextFileSync(path, JSON.stringify(TOKENS));
  return ["--auth", path];
}

async function createTopic(server: KafkaServer, name: string, partitions = 1): Promise<void> {
  const res = await fetch(`${server.httpUrl}/v1/topics`, {
    method: "POST",
    headers: { authorization: `Bearer ${SECRETS.admin}`, "content-type": "application/json" },
    body: JSON.stringify({ name, partitions }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 201, `create ${name}`);
}

function kcat(
  server: KafkaServer,
  who: keyof typeof SECRETS | null,
  password?: string,
  username?: string,
) {
  const sasl = who === null ? [] : [
    "-X",
    "security.protocol=SASL_PLAINTEXT",
    "-X",
    "sasl.mechanisms=PLAIN",
    "-X",
    `sasl.username=${username ?? who}`,
    "-X",
    `sasl.password=${password ?? SECRETS[who]}`,
  ];
  return (...args: string[]) =>
    run("kcat", [
      "-b",
      server.bootstrap,
      "-X",
      "socket.timeout.ms=5000",
      "-X",
      "message.timeout.ms=5000",
      ...sasl,
      ...args,
    ], { stdin: args.includes("-P") ? "k1:v1\nk2:v2\n" : undefined, timeoutMs: 20_000 });
}

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A raw connection: send frames, read the size-prefixed answers. */
async function rawConnect(server: KafkaServer) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.kafkaPort });
  let buffered = new Uint8Array(0);
  const readExactly = async (n: number): Promise<Uint8Array | null> => {
    while (buffered.length < n) {
      const chunk = new Uint8Array(65536);
      const got = await conn.read(chunk).catch(() => null);
      if (got === null) return null;
      const next = new Uint8Array(buffered.length + got);
      next.set(buffered);
      next.set(chunk.subarray(0, got), buffered.length);
      buffered = next;
    }
    const out = buffered.slice(0, n);
    buffered = buffered.slice(n);
    return out;
  };
  return {
    send: (bytes: Uint8Array) => conn.write(bytes),
    /** The next frame's payload, or null when the server closed the connection. */
    async frame(): Promise<Uint8Array | null> {
      const size = await readExactly(4);
      if (size === null) return null;
      return await readExactly(new DataView(size.buffer).getInt32(0));
    },
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  };
}

const enc = new TextEncoder();
function str16(s: string): number[] {
  const b = [...enc.encode(s)];
  return [b.length >> 8, b.length & 0xff, ...b];
}
/** A non-flexible request frame (header v1): key, version, correlation id 7, client id "raw". */
function request(key: number, version: number, body: number[]): Uint8Array {
  const payload = [key >> 8, key & 0xff, version >> 8, version & 0xff, 0, 0, 0, 7, ...str16("raw")];
  payload.push(...body);
  const n = payload.length;
  return Uint8Array.from([
    (n >>> 24) & 0xff,
    (n >> 16) & 0xff,
    (n >> 8) & 0xff,
    n & 0xff,
    ...payload,
  ]);
}

Deno.test({
  name: "kafka auth: kcat with SASL/PLAIN produces and consumes; wrong password, no SASL, " +
    "read-only tokens and metadata are refused or filtered",
  ignore: !kcatAvailable,
  fn: async (t) => {
    await withKafkaServer({ args: authArgs() }, async (server) => {
      await createTopic(server, "orders");
      await createTopic(server, "payroll");

      await t.step("an allowed token produces and consumes", async () => {
        expectSuccess(
          await kcat(server, "app")("-P", "-t", "orders", "-K", ":"),
          "produce",
          server,
        );
        const out = await kcat(server, "app")(
          "-C",
          "-t",
          "orders",
          "-o",
          "beginning",
          "-e",
          "-f",
          "%k=%s\\n",
        );
        expectSuccess(out, "consume", server);
        assert.deepEqual(out.stdout.trim().split("\n"), ["k1=v1", "k2=v2"]);
      });

      await t.step(
        "a wrong password fails, and the log names the user but not the secret",
        async () => {
          const wrong = "wrong-password-000000001";
          const out = await kcat(server, "app", wrong)("-L", "-t", "orders");
          assert.notEqual(out.code, 0);
          assert.match(out.stderr, /authenticat/i);
          await eventually(
            () => /SASL\/PLAIN authentication failed for username \\"app\\"/.test(server.stderr()),
            "the failure in the server log",
          );
          assert.ok(!server.stderr().includes(wrong), "the log holds the wrong password");
        },
      );

      await t.step("a secret sent in the username field is not logged", async () => {
        const out = await kcat(server, "app", "anything-at-all-00001", SECRETS.app)("-L");
        assert.notEqual(out.code, 0);
        await eventually(
          () => /failed for username \(not a token name: \d+ characters/.test(server.stderr()),
          "the failure in the server log, the name shown as a length and digest",
        );
        assert.ok(!server.stderr().includes(SECRETS.app), "the log holds a secret");
      });

      await t.step("a read-only token gets TOPIC_AUTHORIZATION_FAILED on produce", async () => {
        const out = await kcat(server, "reader")("-P", "-t", "orders", "-K", ":");
        assert.notEqual(out.code, 0, out.stderr);
        assert.match(out.stderr, /authoriz/i);
      });

      await t.step("kcat without SASL cannot produce: the connection is closed", async () => {
        const out = await kcat(server, null)("-P", "-t", "orders", "-K", ":");
        assert.notEqual(out.code, 0);
        await eventually(
          () => /before SASL authentication/.test(server.stderr()),
          "the unauthenticated close in the log",
        );
      });

      await t.step("Metadata lists only the topics the token has a right on", async () => {
        const app = await kcat(server, "app")("-L", "-J");
        expectSuccess(app, "metadata", server);
        const names = (JSON.parse(app.stdout).topics as { topic: string }[]).map((x) => x.topic);
        assert.deepEqual(names, ["orders"]);
        const admin = await kcat(server, "admin")("-L", "-J");
        expectSuccess(admin, "metadata", server);
        const all = (JSON.parse(admin.stdout).topics as { topic: string }[]).map((x) => x.topic);
        assert.deepEqual(all.sort(), ["orders", "payroll"]);
      });

      await t.step("the log holds no secret", () => {
        for (const secret of Object.values(SECRETS)) {
          assert.ok(!server.stderr().includes(secret), "stderr holds a secret");
        }
      });
    });
  },
});

Deno.test("kafka auth: raw frames before, during and after SASL", async (t) => {
  await withKafkaServer({ args: authArgs() }, async (server) => {
    await t.step("a Metadata request before authentication closes the connection", async () => {
      const c = await rawConnect(server);
      await c.send(request(3, 1, [0xff, 0xff, 0xff, 0xff]));
      assert.equal(await c.frame(), null);
      c.close();
    });

    await t.step("a frame over 512 KiB before authentication closes the connection", async () => {
      const c = await rawConnect(server);
      // Only the size prefix: the server refuses before buffering any of it.
      await c.send(new Uint8Array([0, 0x08, 0, 1])); // 524,289 bytes
      assert.equal(await c.frame(), null);
      c.close();
    });

    await t.step(
      "ApiVersions is served before authentication and lists the SASL APIs",
      async () => {
        const c = await rawConnect(server);
        await c.send(request(18, 0, []));
        const frame = await c.frame();
        assert.ok(frame !== null);
        const dv = new DataView(frame.buffer, frame.byteOffset);
        assert.equal(dv.getInt16(4), 0);
        const keys: number[] = [];
        for (let i = 0, n = dv.getInt32(6); i < n; i++) keys.push(dv.getInt16(10 + i * 6));
        assert.ok(keys.includes(17) && keys.includes(36), `keys ${keys}`);
        c.close();
      },
    );

    await t.step(
      "another mechanism is UNSUPPORTED_SASL_MECHANISM with [PLAIN], then a close",
      async () => {
        const c = await rawConnect(server);
        await c.send(request(17, 1, str16("SCRAM-SHA-256")));
        const frame = await c.frame();
        assert.ok(frame !== null);
        // correlation id, error 33, one mechanism "PLAIN"
        assert.deepEqual([...frame], [0, 0, 0, 7, 0, 33, 0, 0, 0, 1, ...str16("PLAIN")]);
        assert.equal(await c.frame(), null);
        c.close();
      },
    );

    await t.step("SaslHandshake v0 then the raw PLAIN bytes authenticates", async () => {
      const c = await rawConnect(server);
      await c.send(request(17, 0, str16("PLAIN")));
      const hs = await c.frame();
      assert.deepEqual([...hs!], [0, 0, 0, 7, 0, 0, 0, 0, 0, 1, ...str16("PLAIN")]);
      const plain = enc.encode(`\0app\0${SECRETS.app}`);
      const raw = new Uint8Array(4 + plain.length);
      new DataView(raw.buffer).setInt32(0, plain.length);
      raw.set(plain, 4);
      await c.send(raw);
      assert.deepEqual([...(await c.frame())!], []);
      // Now a Metadata v1 for "orders" is answered.
      await c.send(request(3, 1, [0, 0, 0, 1, ...str16("orders")]));
      const md = await c.frame();
      assert.ok(md !== null && md.length > 8);
      c.close();
    });

    await t.step("a wrong secret is SASL_AUTHENTICATION_FAILED, then a close", async () => {
      const c = await rawConnect(server);
      await c.send(request(17, 1, str16("PLAIN")));
      assert.ok((await c.frame()) !== null);
      const plain = [...enc.encode("\0app\0not-the-secret-00000")];
      await c.send(request(36, 1, [0, 0, 0, plain.length, ...plain]));
      const frame = await c.frame();
      assert.ok(frame !== null);
      assert.equal(new DataView(frame.buffer, frame.byteOffset).getInt16(4), 58);
      assert.match(new TextDecoder().decode(frame), /Authentication failed/);
      assert.equal(await c.frame(), null);
      c.close();
    });

    await t.step("the closes are counted by reason", async () => {
      const res = await fetch(`${server.httpUrl}/metrics`, {
        headers: { authorization: `Bearer ${SECRETS.admin}` },
      });
      const text = await res.text();
      assert.match(text, /sluice_kafka_connections_closed_total\{reason="unauthenticated"\} [1-9]/);
      assert.match(text, /sluice_kafka_connections_closed_total\{reason="frame_size"\} 1$/m);
      assert.match(
        text,
        /sluice_kafka_connections_closed_total\{reason="authentication_failed"\} [1-9]/,
      );
    });
  });
});

function kafkajs(server: KafkaServer, who: keyof typeof SECRETS): Kafka {
  return new Kafka({
    clientId: `auth-${who}`,
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
    sasl: { mechanism: "plain", username: who, password: SECRETS[who] },
  });
}

Deno.test("kafka auth: kafkajs with SASL/PLAIN runs a consumer group on an allowed group", async (t) => {
  await withKafkaServer({ args: authArgs() }, async (server) => {
    await createTopic(server, "orders-kjs", 2);
    const kafka = kafkajs(server, "app");

    await t.step("produce, then consume in group app-1", async () => {
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: "orders-kjs",
        messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
      });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: "app-1", sessionTimeout: 6000 });
      const seen: string[] = [];
      try {
        await consumer.connect();
        await consumer.subscribe({ topic: "orders-kjs", fromBeginning: true });
        await consumer.run({
          eachMessage: ({ message }) => {
            seen.push(message.value!.toString());
            return Promise.resolve();
          },
        });
        await eventually(() => seen.length >= 10, "10 records consumed", 20_000);
      } finally {
        await consumer.disconnect();
      }
      assert.deepEqual(seen.sort(), Array.from({ length: 10 }, (_, i) => `v${i}`).sort());
    });

    await t.step("CreateTopics and DeleteTopics need admin on the topic", async () => {
      const appAdmin = kafka.admin();
      const rootAdmin = kafkajs(server, "admin").admin();
      await appAdmin.connect();
      await rootAdmin.connect();
      try {
        await assert.rejects(
          () => appAdmin.createTopics({ topics: [{ topic: "orders-made", numPartitions: 1 }] }),
          (e: Error) => /authoriz/i.test(String((e as { errors?: unknown }).errors ?? e.message)),
          "app has read and write on orders*, not admin",
        );
        assert.ok(!(await rootAdmin.listTopics()).includes("orders-made"), "nothing created");
        await rootAdmin.createTopics({ topics: [{ topic: "orders-made", numPartitions: 1 }] });
        await assert.rejects(() => appAdmin.deleteTopics({ topics: ["orders-made"] }));
        assert.ok((await rootAdmin.listTopics()).includes("orders-made"), "still there");
        await rootAdmin.deleteTopics({ topics: ["orders-made"] });
        assert.ok(!(await rootAdmin.listTopics()).includes("orders-made"));
      } finally {
        await appAdmin.disconnect();
        await rootAdmin.disconnect();
      }
    });

    await t.step("a forbidden group is GROUP_AUTHORIZATION_FAILED", async () => {
      // kafkajs reports "Failed to find group coordinator"; the broker's error code is in its
      // debug log ("Tried to find group coordinator").
      const logged: string[] = [];
      const watched = new Kafka({
        clientId: "auth-app-watched",
        brokers: [server.bootstrap],
        logLevel: logLevel.DEBUG,
        logCreator: () => ({ log }) => {
          const error = (log as { error?: unknown }).error;
          if (error !== undefined) logged.push(String(error));
        },
        connectionTimeout: 3000,
        retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 300 },
        sasl: { mechanism: "plain", username: "app", password: SECRETS.app },
      });
      const consumer = watched.consumer({ groupId: "other-group", sessionTimeout: 6000 });
      // run() joins in the background: the consumer's crash carries the failure.
      const crashed = new Promise<Error>((resolve) => {
        consumer.on(consumer.events.CRASH, (e) => resolve(e.payload.error));
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topic: "orders-kjs", fromBeginning: true });
        await consumer.run({ eachMessage: () => Promise.resolve() });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const err = await Promise.race([
          crashed,
          new Promise<Error>((resolve) => {
            timer = setTimeout(() => resolve(new Error("no crash within 15 s")), 15_000);
          }),
        ]);
        clearTimeout(timer);
        assert.match(err.message, /group coordinator/i);
        assert.ok(
          logged.some((e) => /not authorized to access group/i.test(e)),
          `kafkajs log errors: ${logged.join(" | ")}`,
        );
      } finally {
        await consumer.disconnect();
      }
    });
  });
});

Deno.test("kafka auth: a SIGHUP reload changes a live connection's rights, or ends it", async (t) => {
  const dir = tempDir("sluice-kafka-auth-hup-");
  const path = `${dir}/auth.json`;
  Deno.writeTextFileSync(path, JSON.stringify(TOKENS));
  await withKafkaServer({ args: ["--auth", path] }, async (server) => {
    await createTopic(server, "orders-hup");
    /** Logs in as `who` with SaslHandshake v0 and the raw PLAIN bytes. */
    const login = async (who: keyof typeof SECRETS) => {
      const c = await rawConnect(server);
      await c.send(request(17, 0, str16("PLAIN")));
      assert.ok((await c.frame()) !== null);
      const plain = enc.encode(`\0${who}\0${SECRETS[who]}`);
      const raw = new Uint8Array(4 + plain.length);
      new DataView(raw.buffer).setInt32(0, plain.length);
      raw.set(plain, 4);
      await c.send(raw);
      assert.deepEqual([...(await c.frame())!], []);
      return c;
    };
    /** Metadata v1 for orders-hup: the topic's error code, or null when the connection closed. */
    const topicError = async (c: Awaited<ReturnType<typeof rawConnect>>) => {
      await c.send(request(3, 1, [0, 0, 0, 1, ...str16("orders-hup")]));
      const frame = await c.frame();
      if (frame === null) return null;
      // correlation id, brokers [node, host, port, rack], controller, topics [error, ...]
      const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      let at = 4;
      const brokers = dv.getInt32(at);
      at += 4;
      for (let i = 0; i < brokers; i++) {
        at += 4;
        at += 2 + dv.getInt16(at);
        at += 4;
        const rack = dv.getInt16(at);
        at += 2 + Math.max(0, rack);
      }
      at += 4; // controller id
      at += 4; // topics count (1)
      return dv.getInt16(at);
    };
    const hup = async () => {
      const before = server.stderr().split("auth file reloaded").length;
      server.server.proc.kill("SIGHUP");
      for (let i = 0; i < 100; i++) {
        if (server.stderr().split("auth file reloaded").length > before) return;
        await sleep(50);
      }
      assert.fail(`no reload logged:\n${server.stderrTail()}`);
    };

    const reader = await login("reader");
    const app = await login("app");
    try {
      await t.step("before the reload both see the topic", async () => {
        assert.equal(await topicError(reader), 0);
        assert.equal(await topicError(app), 0);
      });
      await t.step("after it, a revoked right is refused on the same connection", async () => {
        const shrunk = structuredClone(TOKENS) as typeof TOKENS;
        shrunk.tokens = shrunk.tokens
          .filter((x) => x.name !== "reader")
          .map((x) => x.name === "app" ? { ...x, allow: [{ topic: "other*", ops: ["read"] }] } : x);
        Deno.writeTextFileSync(path, JSON.stringify(shrunk));
        await hup();
        assert.equal(await topicError(app), 29, "TOPIC_AUTHORIZATION_FAILED for app now");
        assert.equal(await topicError(reader), null, "the removed token's connection is closed");
        assert.match(server.stderr(), /no longer valid \(auth file reloaded\)/);
      });
    } finally {
      reader.close();
      app.close();
    }
  });
});
