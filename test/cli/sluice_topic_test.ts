/**
 * `sluice topic ...`, `sluice cluster info`, the help of every level, where the client finds its
 * server (--url > SLUICE_URL > config file > default) and its errors, end to end: the real server
 * (test/http/server_harness.ts) and the CLI as a child process.
 */
import assert from "node:assert/strict";
import { json, produce, withServer } from "../http/server_harness.ts";
import { failsWith, ok, sluice, usageError } from "./sluice_harness.ts";

Deno.test("sluice help: every level prints its usage on stdout and exits 0", async (t) => {
  const levels: [string[], string][] = [
    [["--help"], "Usage: sluice <command>"],
    [["help"], "Usage: sluice <command>"],
    [["topic", "--help"], "Usage: sluice topic <command>"],
    [["group", "-h"], "Usage: sluice group <command>"],
    [["cluster", "--help"], "Usage: sluice cluster <command>"],
    [["topic", "create", "--help"], "Usage: sluice topic create TOPIC [options]"],
    [["topic", "list", "--help"], "Usage: sluice topic list [options]"],
    [["topic", "describe", "-h"], "Usage: sluice topic describe TOPIC"],
    [["topic", "alter", "--help"], "Usage: sluice topic alter TOPIC"],
    [["topic", "delete", "--help"], "Usage: sluice topic delete TOPIC..."],
    [["produce", "--help"], "Usage: sluice produce TOPIC"],
    [["consume", "--help"], "Usage: sluice consume TOPIC"],
    [["group", "list", "--help"], "Usage: sluice group list"],
    [["group", "describe", "--help"], "Usage: sluice group describe GROUP"],
    [["group", "reset-offsets", "--help"], "Usage: sluice group reset-offsets GROUP"],
    [["group", "delete", "--help"], "Usage: sluice group delete GROUP..."],
    [["cluster", "info", "--help"], "Usage: sluice cluster info"],
    [["serve", "--help"], "Usage: sluice serve"],
    [["bench", "--help"], "Usage: sluice bench"],
  ];
  for (const [args, first] of levels) {
    await t.step(args.join(" "), async () => {
      const r = await sluice(args);
      const out = ok(r, args.join(" "));
      assert.ok(out.startsWith(first), `${args.join(" ")}: ${out}`);
      assert.equal(r.stderr, "");
    });
  }
  await t.step("the top level lists every command", async () => {
    const out = ok(await sluice(["--help"]), "--help");
    for (const c of ["topic", "produce", "consume", "group", "cluster", "serve", "bench"]) {
      assert.match(out, new RegExp(`^  ${c} `, "m"));
    }
  });
  await t.step("options are listed with their help", async () => {
    const out = ok(await sluice(["consume", "--help"]), "consume --help");
    for (const o of ["-o, --offset WHERE", "-g, --group GROUP", "-e, --exit", "-f, --format FMT"]) {
      assert.ok(out.includes(o), `${o} in ${out}`);
    }
    assert.ok(out.includes("--url URL"), "global options too");
  });
});

Deno.test("sluice usage mistakes exit 2 with the message and the command's usage", async (t) => {
  await t.step("no command", async () => {
    usageError(await sluice([]), "a command is needed", "sluice <command>", "no command");
  });
  await t.step("unknown command", async () => {
    usageError(await sluice(["frobnicate"]), 'unknown command "frobnicate"', "sluice", "unknown");
  });
  await t.step("unknown subcommand", async () => {
    usageError(
      await sluice(["topic", "explode"]),
      'unknown command "topic explode"',
      "sluice topic <command>",
      "unknown sub",
    );
  });
  await t.step("a family without its subcommand", async () => {
    usageError(await sluice(["group"]), "sluice group needs a command", "sluice group", "group");
  });
  await t.step("missing positional", async () => {
    usageError(await sluice(["topic", "create"]), "missing TOPIC", "sluice topic create", "");
  });
  await t.step("unknown option", async () => {
    usageError(
      await sluice(["topic", "list", "--colour"]),
      "unknown option --colour",
      "sluice topic list",
      "unknown option",
    );
  });
  await t.step("a bad number", async () => {
    usageError(
      await sluice(["topic", "create", "x", "-p", "many"]),
      '--partitions must be an integer from 1 to 100000, not "many"',
      "sluice topic create",
      "bad -p",
    );
  });
  await t.step("an option without its value", async () => {
    usageError(
      await sluice(["consume", "t", "-o"]),
      "-o needs a value (WHERE)",
      "sluice consume",
      "-o",
    );
  });
  await t.step("alter with nothing to change", async () => {
    usageError(
      await sluice(["topic", "alter", "t"]),
      "nothing to change",
      "sluice topic alter",
      "alter",
    );
  });
});

Deno.test("sluice topic: create, list, describe, alter, delete against the server", async (t) => {
  await withServer({}, async (server) => {
    const url = ["--url", server.url];

    await t.step("create prints a line; the server has the topic and its config", async () => {
      const out = ok(
        await sluice([
          "topic",
          "create",
          "orders",
          "-p",
          "3",
          "-c",
          "retention.ms=86400000",
          "-c",
          "cleanup.policy=delete",
          ...url,
        ]),
        "create",
      );
      assert.equal(out, "created topic orders (3 partitions)\n");
      const d = await json(`${server.url}/v1/topics/orders`);
      assert.equal(d.body.partitions.length, 3);
      assert.equal(String(d.body.overrides["retention.ms"]), "86400000");
    });

    await t.step("create --json prints the server's topic", async () => {
      const r = await sluice(["topic", "create", "payments", "--json", ...url]);
      const body = JSON.parse(ok(r, "create --json"));
      assert.equal(body.name, "payments");
      assert.equal(body.partitions.length, 1);
    });

    await t.step("an existing topic: TOPIC_EXISTS, exit 1, one line", async () => {
      failsWith(
        await sluice(["topic", "create", "orders", ...url]),
        "TOPIC_EXISTS",
        "orders",
        "again",
      );
    });

    await t.step("a bad config: the server's INVALID_CONFIG message", async () => {
      failsWith(
        await sluice(["topic", "create", "bad", "-c", "no.such.key=1", ...url]),
        "INVALID_CONFIG",
        "no.such.key",
        "bad config",
      );
    });

    await t.step("list: a table sorted by name; --json parses", async () => {
      const out = ok(await sluice(["topic", "list", ...url]), "list");
      const lines = out.trimEnd().split("\n");
      assert.match(lines[0], /^NAME\s+PARTITIONS$/);
      assert.match(lines[1], /^orders\s+3$/);
      assert.match(lines[2], /^payments\s+1$/);
      const body = JSON.parse(ok(await sluice(["topic", "list", "--json", ...url]), "list json"));
      assert.deepEqual(
        body.topics.map((x: { name: string }) => x.name).sort(),
        ["orders", "payments"],
      );
    });

    await t.step("describe: config with sources and the partitions", async () => {
      await produce(server, "orders", {
        records: [{ value: "x", partition: 2 }, { value: "y", partition: 2 }],
      });
      const out = ok(await sluice(["topic", "describe", "orders", ...url]), "describe");
      assert.match(out, /^NAME\s+orders$/m);
      assert.match(out, /^retention\.ms\s+86400000\s+topic \*$/m);
      assert.match(out, /^segment\.bytes\s+\d+\s+default$/m);
      assert.match(out, /^PARTITION\s+LOG-START\s+HIGH-WATERMARK\s+SIZE-BYTES\s+STATE$/m);
      assert.match(out, /^\s*2\s+0\s+2\s+\d+\s+online$/m);
      const body = JSON.parse(
        ok(await sluice(["topic", "describe", "orders", "--json", ...url]), ""),
      );
      assert.equal(body.partitions[2].highWatermark, 2);
    });

    await t.step("alter: partitions and config, set and back to default", async () => {
      ok(
        await sluice([
          "topic",
          "alter",
          "orders",
          "-p",
          "4",
          "-c",
          "segment.bytes=1048576",
          "-d",
          "retention.ms",
          ...url,
        ]),
        "alter",
      );
      const d = await json(`${server.url}/v1/topics/orders`);
      assert.equal(d.body.partitions.length, 4);
      assert.equal(String(d.body.overrides["segment.bytes"]), "1048576");
      assert.equal(d.body.overrides["retention.ms"], undefined);
      failsWith(
        await sluice(["topic", "alter", "orders", "-p", "2", ...url]),
        "INVALID_PARTITIONS",
        "",
        "fewer partitions",
      );
    });

    await t.step("delete: several topics; then they are gone", async () => {
      const out = ok(await sluice(["topic", "delete", "orders", "payments", ...url]), "delete");
      assert.equal(out, "deleted topic orders\ndeleted topic payments\n");
      failsWith(
        await sluice(["topic", "describe", "orders", ...url]),
        "TOPIC_NOT_FOUND",
        "orders",
        "gone",
      );
      failsWith(
        await sluice(["topic", "delete", "orders", ...url]),
        "TOPIC_NOT_FOUND",
        "orders",
        "delete gone",
      );
    });

    await t.step("cluster info: one node, node 0 leads; --json is /v1/cluster", async () => {
      ok(await sluice(["topic", "create", "c1", "-p", "2", ...url]), "create c1");
      const out = ok(await sluice(["cluster", "info", ...url]), "cluster info");
      assert.match(out, /^CLUSTER\s+no \(one node\)$/m);
      assert.match(out, /^0\*\s+127\.0\.0\.1\s/m);
      assert.match(out, /^c1\s+1\s+0\s+0\s+0\s+0$/m);
      const body = JSON.parse(ok(await sluice(["cluster", "info", "--json", ...url]), "json"));
      assert.equal(body.clusterMode, false);
      assert.equal(body.topics.find((x: { name: string }) => x.name === "c1").partitions.length, 2);
    });

    await t.step("where the server is: --url > SLUICE_URL > config file > default", async () => {
      const home = await Deno.makeTempDir({ prefix: "sluice-cli-cfg-" });
      try {
        await Deno.mkdir(`${home}/.config/sluice`, { recursive: true });
        const dead = "http://127.0.0.1:9"; // discard port: nothing listens
        await Deno.writeTextFile(
          `${home}/.config/sluice/config.json`,
          JSON.stringify({ url: server.url }),
        );
        const env = { HOME: home, XDG_CONFIG_HOME: `${home}/.config` };
        ok(await sluice(["topic", "list"], { env }), "config file");
        failsWith(
          await sluice(["topic", "list"], { env: { ...env, SLUICE_URL: dead } }),
          "CONNECTION_FAILED",
          "cannot reach http://127.0.0.1:9",
          "env beats config",
        );
        ok(
          await sluice(["topic", "list", "--url", server.url], {
            env: { ...env, SLUICE_URL: dead },
          }),
          "flag beats env",
        );
        await Deno.writeTextFile(`${home}/other.json`, JSON.stringify({ url: dead }));
        failsWith(
          await sluice(["topic", "list", "--config", `${home}/other.json`], { env }),
          "CONNECTION_FAILED",
          "127.0.0.1:9",
          "--config names another file",
        );
        failsWith(
          await sluice(["topic", "list", "--config", `${home}/missing.json`], { env }),
          "CONFIG_INVALID",
          "does not exist",
          "--config missing",
        );
        await Deno.writeTextFile(`${home}/bad.json`, "{url:");
        failsWith(
          await sluice(["topic", "list", "--config", `${home}/bad.json`], { env }),
          "CONFIG_INVALID",
          "is not JSON",
          "bad config",
        );
        failsWith(
          await sluice(["topic", "list", "--url", "ftp://x"], { env }),
          "CONFIG_INVALID",
          "not an http",
          "bad url",
        );
      } finally {
        await Deno.remove(home, { recursive: true });
      }
    });
  });
});

Deno.test("sluice without a server: CONNECTION_FAILED naming the URL, exit 1", async () => {
  failsWith(
    await sluice(["topic", "list"], { env: { SLUICE_URL: "http://127.0.0.1:9" } }),
    "CONNECTION_FAILED",
    "cannot reach http://127.0.0.1:9",
    "no server",
  );
});
