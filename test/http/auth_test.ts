/**
 * Bearer-token auth (API.md "Auth", src/http/auth.ts and src/security/) against the real server: every route with
 * no token, a wrong token, a token lacking the right and one that has it; prefix patterns; SIGHUP
 * reload; the bind refusal; TLS; secrets never in the server's stderr.
 */
import assert from "node:assert/strict";
import { patternMatches } from "../../src/security/acl.ts";
import { TokenSet } from "../../src/security/tokens.ts";
import { encodeRecordBatch } from "../../src/record/record_batch.ts";
import { makeSelfSignedCert, tempDir } from "../test_util.ts";
import {
  json,
  type JsonResponse,
  RECORDBATCH_TYPE,
  type RunningServer,
  sleep,
  withServer,
} from "./server_harness.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

const SECRETS = {
  admin: "admin-secret-000000000001",
  producer: "producer-secret-00000002",
  reader: "reader-secret-0000000003",
  groupOnly: "group-only-secret-000004",
  nothing: "nothing-secret-000000005",
} as const;
type Who = keyof typeof SECRETS;
const WRONG = "wrong-secret-00000000000";

type TokenFile = {
  tokens: { name: string; token: string; allow: Record<string, string | string[]>[] }[];
};

const TOKENS: TokenFile = {
  tokens: [
    {
      name: "admin",
      token: SECRETS.admin,
      allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
        group: "*",
        ops: ["read", "admin"],
      }],
    },
    { name: "producer", token: SECRETS.producer, allow: [{ topic: "orders*", ops: ["write"] }] },
    {
      name: "reader",
      token: SECRETS.reader,
      allow: [{ topic: "orders*", ops: ["read"] }, { group: "billing-*", ops: ["read"] }],
    },
    { name: "groupOnly", token: SECRETS.groupOnly, allow: [{ group: "billing-*", ops: ["read"] }] },
    { name: "nothing", token: SECRETS.nothing, allow: [] },
  ],
};

function writeAuthFile(dir: string, content: unknown): string {
  const path = `${dir}/auth.json`;
  Deno.writeTextFileSync(path, JSON.stringify(content));
  return path;
}

function call(
  server: RunningServer,
  method: string,
  path: string,
  who: Who | "none" | "wrong",
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const h = new Headers(headers);
  if (who === "wrong") h.set("authorization", `Bearer ${WRONG}`);
  else if (who !== "none") h.set("authorization", `Bearer ${SECRETS[who]}`);
  return json(`${server.url}${path}`, {
    method,
    headers: h,
    ...(body instanceof Uint8Array
      ? { body: body as Uint8Array<ArrayBuffer> }
      : body !== undefined
      ? { json: body }
      : {}),
  });
}

/** Runs a command to completion; returns its exit code and output. */
async function runMain(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("auth patterns: exact names, prefixes ending in *, * alone", () => {
  assert.ok(patternMatches("orders", "orders"));
  assert.ok(!patternMatches("orders", "orders2"));
  assert.ok(patternMatches("orders*", "orders"));
  assert.ok(patternMatches("orders*", "orders-eu"));
  assert.ok(!patternMatches("orders*", "order"));
  assert.ok(patternMatches("*", "anything"));
});

Deno.test("TokenSet.parse() refuses bad files without quoting secrets", () => {
  const bad = [
    "{not json SECRET-IN-FILE-0000",
    JSON.stringify({ tokens: [] }),
    JSON.stringify({ tokens: [{ name: "a", token: "short", allow: [] }] }),
    JSON.stringify({
      tokens: [{
        name: "a",
        token: "SECRET-IN-FILE-0000",
        allow: [{ topic: "a*b", ops: ["read"] }],
      }],
    }),
    JSON.stringify({
      tokens: [{ name: "a", token: "SECRET-IN-FILE-0000", allow: [{ topic: "a", ops: ["fly"] }] }],
    }),
    JSON.stringify({
      tokens: [
        { name: "a", token: "SECRET-IN-FILE-0000", allow: [] },
        { name: "b", token: "SECRET-IN-FILE-0000", allow: [] },
      ],
    }),
  ];
  for (const text of bad) {
    assert.throws(
      () => TokenSet.parse(text),
      (err: Error) => {
        assert.ok(!err.message.includes("SECRET-IN-FILE"), err.message);
        return /auth file/.test(err.message);
      },
    );
  }
  const ok = TokenSet.parse(JSON.stringify(TOKENS));
  assert.equal(ok.authenticate(SECRETS.reader)?.name, "reader");
  assert.equal(ok.authenticate(WRONG), undefined);
});

Deno.test("auth: every route answers 401, 403 or its success by token", async (t) => {
  const dir = tempDir("sluice-auth-");
  const authFile = writeAuthFile(dir, TOKENS);
  await withServer({ args: ["--auth", authFile] }, async (server) => {
    const setup = await call(server, "POST", "/v1/topics", "admin", {
      name: "orders",
      partitions: 1,
    });
    assert.equal(setup.status, 201, setup.text);
    assert.equal(
      (await call(server, "POST", "/v1/topics", "admin", { name: "secret-stuff" })).status,
      201,
    );
    const p = "/v1/topics/orders/partitions/0";
    const batch = encodeRecordBatch([{ key: null, value: new TextEncoder().encode("raw") }], {
      timestampMs: 1_700_000_000_000,
    });
    let memberId = "";
    const member = () => `/v1/groups/billing-1/members/${memberId}`;

    // [name, method, path(), body, lacking tokens, token with the right, expected status]
    type Case = [
      string,
      string,
      () => string,
      unknown,
      Who[],
      Who,
      number,
      Record<string, string>?,
    ];
    const cases: Case[] = [
      ["GET /metrics", "GET", () => "/metrics", undefined, ["reader", "producer"], "admin", 200],
      [
        "POST /v1/topics",
        "POST",
        () => "/v1/topics",
        { name: "orders-new" },
        [
          "producer",
          "reader",
        ],
        "admin",
        201,
      ],
      [
        "GET /v1/topics/{t}",
        "GET",
        () => "/v1/topics/orders",
        undefined,
        [
          "nothing",
          "groupOnly",
        ],
        "producer",
        200,
      ],
      [
        "DELETE /v1/topics/{t}",
        "DELETE",
        () => "/v1/topics/orders-new",
        undefined,
        [
          "reader",
          "producer",
        ],
        "admin",
        204,
      ],
      [
        "POST records",
        "POST",
        () => "/v1/topics/orders/records",
        {
          records: [{ value: "v" }],
        },
        ["reader", "nothing"],
        "producer",
        200,
      ],
      ["POST batches", "POST", () => `${p}/batches`, batch, ["reader"], "producer", 200, {
        "content-type": RECORDBATCH_TYPE,
      }],
      [
        "GET records",
        "GET",
        () => `${p}/records?offset=0`,
        undefined,
        [
          "producer",
          "groupOnly",
        ],
        "reader",
        200,
      ],
      [
        "GET offsets",
        "GET",
        () => `${p}/offsets?timestamp=earliest`,
        undefined,
        [
          "producer",
        ],
        "reader",
        200,
      ],
      [
        "POST join",
        "POST",
        () => "/v1/groups/billing-1/members",
        {
          topics: ["orders"],
          autoOffsetReset: "earliest",
        },
        ["groupOnly", "producer"],
        "reader",
        200,
      ],
      [
        "POST heartbeat",
        "POST",
        () => `${member()}/heartbeat`,
        undefined,
        [
          "groupOnly",
          "producer",
        ],
        "reader",
        200,
      ],
      [
        "GET member records",
        "GET",
        () => `${member()}/records`,
        undefined,
        [
          "groupOnly",
        ],
        "reader",
        200,
      ],
      [
        "POST commit",
        "POST",
        () => "/v1/groups/billing-1/offsets",
        undefined,
        [
          "groupOnly",
          "producer",
        ],
        "reader",
        200,
      ],
      [
        "GET group offsets",
        "GET",
        () => "/v1/groups/billing-1/offsets",
        undefined,
        [
          "groupOnly",
        ],
        "reader",
        200,
      ],
      ["GET group", "GET", () => "/v1/groups/billing-1", undefined, ["reader"], "admin", 200],
      ["DELETE member", "DELETE", member, undefined, ["groupOnly"], "reader", 204],
    ];

    for (const [name, method, path, rawBody, lacking, ok, okStatus, headers] of cases) {
      await t.step(name, async () => {
        const body = name === "POST commit"
          ? { memberId, generation: 1, offsets: [{ topic: "orders", partition: 0, offset: 1 }] }
          : rawBody;
        for (const who of ["none", "wrong"] as const) {
          const res = await call(server, method, path(), who, body, headers);
          assert.equal(res.status, 401, `${name} as ${who}: ${res.text}`);
          assert.equal(res.body.error.code, "UNAUTHENTICATED");
          assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
        }
        for (const who of lacking) {
          const res = await call(server, method, path(), who, body, headers);
          assert.equal(res.status, 403, `${name} as ${who}: ${res.text}`);
          assert.equal(res.body.error.code, "FORBIDDEN");
        }
        const res = await call(server, method, path(), ok, body, headers);
        assert.equal(res.status, okStatus, `${name} as ${ok}: ${res.text}`);
        if (name === "POST join") memberId = res.body.memberId;
      });
    }

    await t.step("GET stream: 401, 403, then an event stream", async () => {
      assert.equal((await call(server, "GET", `${p}/stream?offset=0`, "none")).status, 401);
      assert.equal((await call(server, "GET", `${p}/stream?offset=0`, "producer")).status, 403);
      const res = await fetch(`${server.url}${p}/stream?offset=0`, {
        headers: { authorization: `Bearer ${SECRETS.reader}` },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
      await res.body?.cancel();
    });

    await t.step("GET /v1/topics lists only the topics the token has a right on", async () => {
      assert.equal((await call(server, "GET", "/v1/topics", "none")).status, 401);
      assert.equal((await call(server, "GET", "/v1/topics", "wrong")).status, 401);
      const names = async (who: Who) =>
        ((await call(server, "GET", "/v1/topics", who)).body.topics as { name: string }[])
          .map((x) => x.name).sort();
      assert.deepEqual(await names("admin"), ["orders", "secret-stuff"]);
      assert.deepEqual(await names("reader"), ["orders"]);
      assert.deepEqual(await names("producer"), ["orders"]);
      assert.deepEqual(await names("nothing"), []);
    });

    await t.step("GET /v1/groups lists only the groups the token may describe", async () => {
      assert.equal((await call(server, "GET", "/v1/groups", "none")).status, 401);
      const groups = async (who: Who) => {
        const res = await call(server, "GET", "/v1/groups", who);
        assert.equal(res.status, 200, `${who}: ${JSON.stringify(res.body)}`);
        return (res.body.groups as { group: string }[]).map((g) => g.group);
      };
      assert.ok((await groups("admin")).includes("billing-1"));
      assert.deepEqual(await groups("reader"), []); // read on billing-*, not admin
      assert.deepEqual(await groups("nothing"), []);
    });

    await t.step("open routes need no token; unknown routes need one", async () => {
      for (const path of ["/healthz", "/openapi.json", "/docs"]) {
        assert.equal((await call(server, "GET", path, "none")).status, 200, path);
        assert.equal((await call(server, "GET", path, "wrong")).status, 200, path);
      }
      assert.equal((await call(server, "GET", "/v1/nope", "none")).status, 401);
      assert.equal((await call(server, "GET", "/v1/nope", "nothing")).status, 404);
    });

    await t.step("prefix patterns stop at their prefix", async () => {
      assert.equal(
        (await call(server, "POST", "/v1/topics", "admin", { name: "orders-eu" })).status,
        201,
      );
      assert.equal(
        (await call(server, "POST", "/v1/topics", "admin", { name: "order" })).status,
        201,
      );
      const read = (topic: string) =>
        call(server, "GET", `/v1/topics/${topic}/partitions/0/records?offset=0`, "reader");
      assert.equal((await read("orders-eu")).status, 200);
      assert.equal((await read("order")).status, 403);
      assert.equal((await read("secret-stuff")).status, 403);
      // The group pattern billing-* does not cover "billing".
      const join = await call(server, "POST", "/v1/groups/billing/members", "reader", {
        topics: ["orders"],
      });
      assert.equal(join.status, 403, join.text);
    });

    await t.step("a malformed body is refused by the route, not let through", async () => {
      const res = await call(server, "POST", "/v1/topics", "producer", "{", {
        "content-type": "application/json",
      });
      assert.ok(res.status === 400, `${res.status} ${res.text}`);
    });

    await t.step("tokens never appear in stderr", () => {
      const err = server.stderr();
      for (const secret of [...Object.values(SECRETS), WRONG]) {
        assert.ok(!err.includes(secret), `stderr holds a token`);
      }
    });
  });
});

Deno.test("auth: SIGHUP re-reads the token file; a bad file keeps the old tokens", async (t) => {
  const dir = tempDir("sluice-auth-hup-");
  const authFile = writeAuthFile(dir, TOKENS);
  await withServer({ args: ["--auth", authFile] }, async (server) => {
    assert.equal(
      (await call(server, "POST", "/v1/topics", "admin", { name: "logs" })).status,
      201,
    );
    const produce = () =>
      call(server, "POST", "/v1/topics/logs/records", "producer", { records: [{ value: "x" }] });

    /** Retries for up to 5 s until `check` passes (the signal is handled asynchronously). */
    const eventually = async (check: () => Promise<boolean>, what: string) => {
      for (let i = 0; i < 100; i++) {
        if (await check()) return;
        await sleep(50);
      }
      assert.fail(`${what} within 5 s; stderr:\n${server.stderr()}`);
    };

    await t.step("granting a right takes effect after SIGHUP", async () => {
      assert.equal((await produce()).status, 403);
      const grown = structuredClone(TOKENS);
      grown.tokens[1].allow.push({ topic: "logs", ops: ["write"] });
      writeAuthFile(dir, grown);
      server.proc.kill("SIGHUP");
      await eventually(async () => (await produce()).status === 200, "produce allowed");
    });

    await t.step("a bad new file logs an error and keeps the previous tokens", async () => {
      Deno.writeTextFileSync(authFile, `{"tokens": "${SECRETS.admin}`);
      server.proc.kill("SIGHUP");
      await eventually(
        () => Promise.resolve(/auth file reload failed/.test(server.stderr())),
        "reload error logged",
      );
      assert.equal((await produce()).status, 200);
    });

    await t.step("revoking a right and removing a token take effect after SIGHUP", async () => {
      const shrunk = structuredClone(TOKENS);
      shrunk.tokens = shrunk.tokens.filter((x) => x.name !== "reader");
      writeAuthFile(dir, shrunk);
      server.proc.kill("SIGHUP");
      await eventually(async () => (await produce()).status === 403, "produce refused");
      const res = await call(server, "GET", "/v1/topics/logs", "reader");
      assert.equal(res.status, 401);
    });

    await t.step("tokens never appear in stderr", () => {
      for (const secret of Object.values(SECRETS)) {
        assert.ok(!server.stderr().includes(secret), "stderr holds a token");
      }
    });
  });
});

Deno.test("serve: bind rule and start-up errors", async (t) => {
  const dir = tempDir("sluice-bind-");

  await t.step("a non-loopback host without --auth exits 2", async () => {
    const { code, stderr } = await runMain(["--host", "0.0.0.0", "--port", "0", "--data-dir", dir]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /refusing to listen on 0\.0\.0\.0 without --auth/);
  });

  await t.step("--insecure or --auth allows it", async () => {
    await withServer({ args: ["--host", "0.0.0.0", "--insecure"] }, async (server) => {
      assert.match(server.url, /^http:\/\/0\.0\.0\.0:\d+$/);
      const port = new URL(server.url).port;
      assert.equal((await json(`http://127.0.0.1:${port}/v1/topics`)).status, 200);
    });
    const authFile = writeAuthFile(dir, TOKENS);
    await withServer({ args: ["--host", "0.0.0.0"], env: { SLUICE_AUTH: authFile } }, async (s) => {
      const port = new URL(s.url).port;
      const res = await json(`http://127.0.0.1:${port}/v1/topics`);
      assert.equal(res.status, 401);
    });
  });

  await t.step("a bad auth file stops the start with exit 1 and no secret", async () => {
    const bad = `${dir}/bad.json`;
    Deno.writeTextFileSync(
      bad,
      JSON.stringify({ tokens: [{ name: "x", token: "SECRET-NEVER-PRINTED", allow: [{}] }] }),
    );
    const { code, stderr } = await runMain(["--port", "0", "--data-dir", dir, "--auth", bad]);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /^sluice: cannot start: auth file .*bad\.json: the auth file is invalid at tokens\.0/,
    );
    assert.ok(!stderr.includes("SECRET-NEVER-PRINTED"));
    const missing = await runMain(["--port", "0", "--data-dir", dir, "--auth", `${dir}/nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /auth file .* does not exist/);
  });
});

async function hasOpenssl(): Promise<boolean> {
  try {
    return (await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "serve: --tls-cert and --tls-key serve HTTPS",
  ignore: !(await hasOpenssl()),
  fn: async () => {
    const cert = makeSelfSignedCert();
    const dir = tempDir("sluice-tls-");

    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "serve",
        "--port",
        "0",
        "--kafka-port",
        "0",
        "--data-dir",
        `${dir}/data`,
        ...[
          "--tls-cert",
          cert.certPath,
          "--tls-key",
          cert.keyPath,
        ],
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const client = Deno.createHttpClient({ caCerts: [cert.pem] });
    try {
      const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      let port = "";
      for (let m: RegExpMatchArray | null = null; m === null;) {
        const chunk = await lines.read();
        assert.ok(!chunk.done, `no listening line: ${out}`);
        out += chunk.value;
        m = out.match(/sluice listening on https:\/\/127\.0\.0\.1:(\d+) /);
        if (m) port = m[1];
      }
      lines.releaseLock();
      const res = await fetch(`https://localhost:${port}/healthz`, { client });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ok" });
    } finally {
      client.close();
      proc.kill("SIGTERM");
      const status = await proc.status;
      await proc.stdout.cancel().catch(() => {});
      assert.equal(status.code, 0);
    }
  },
});
