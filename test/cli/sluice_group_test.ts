/**
 * `sluice consume -g`, `sluice group list|describe|reset-offsets|delete` and bearer tokens, end to
 * end against the real server; also the routes `sluice group` needs (src/http/routes/
 * group_admin.ts): DELETE /v1/groups/{g} and PUT /v1/groups/{g}/offsets, refused with 409
 * GROUP_NOT_EMPTY while the group has a member.
 */
import assert from "node:assert/strict";
import { createTopic, json, produce, withServer } from "../http/server_harness.ts";
import { failsWith, ok, sluice, spawnSluice, usageError } from "./sluice_harness.ts";

const values = (out: string) => out.trimEnd().split("\n").filter((l) => l !== "").sort();

Deno.test("sluice group: consume -g commits; list, describe, reset-offsets, delete", async (t) => {
  await withServer({}, async (server) => {
    const url = ["--url", server.url];
    await createTopic(server, "orders", 2);
    await produce(server, "orders", {
      records: ["a", "b", "c"].map((value) => ({ value, partition: 0 })),
    });
    await produce(server, "orders", {
      records: ["d", "e", "f"].map((value) => ({ value, partition: 1 })),
    });
    const all = ["a", "b", "c", "d", "e", "f"];

    await t.step("consume -g -e: every record once, then committed", async () => {
      const r = await sluice(["consume", "orders", "-g", "billing", "-e", ...url]);
      assert.deepEqual(values(ok(r, "first consume")), all);
      const again = await sluice(["consume", "orders", "-g", "billing", "-e", ...url]);
      assert.equal(ok(again, "second consume"), "", "the group resumes at its commits");
      const offsets = await json(`${server.url}/v1/groups/billing/offsets`);
      assert.deepEqual(
        offsets.body.offsets.map((o: { partition: number; offset: number; lag: number }) => [
          o.partition,
          o.offset,
          o.lag,
        ]).sort(),
        [[0, 3, 0], [1, 3, 0]],
      );
      const d = await json(`${server.url}/v1/groups/billing`);
      assert.equal(d.body.members.length, 0, "the member left on exit");
    });

    await t.step("consume -g -c: only what was printed is committed", async () => {
      await produce(server, "orders", {
        records: ["g", "h", "i"].map((value) => ({ value, partition: 0 })),
      });
      const first = await sluice(["consume", "orders", "-g", "billing", "-c", "2", ...url]);
      assert.deepEqual(values(ok(first, "-c 2")), ["g", "h"]);
      const rest = await sluice(["consume", "orders", "-g", "billing", "-e", ...url]);
      assert.deepEqual(values(ok(rest, "rest")), ["i"]);
    });

    await t.step("-g with -o end: a new group starts at the end", async () => {
      const r = await sluice(["consume", "orders", "-g", "late", "-o", "end", "-e", ...url]);
      assert.equal(ok(r, "-o end"), "");
      usageError(
        await sluice(["consume", "orders", "-g", "x", "-o", "5", ...url]),
        "with -g, -o is beginning or end",
        "sluice consume",
        "-g -o 5",
      );
    });

    await t.step("group list: a table and --json", async () => {
      const out = ok(await sluice(["group", "list", ...url]), "list");
      assert.match(out, /^GROUP\s+STATE\s+PROTOCOL\s+TYPE\s+MEMBERS$/m);
      assert.match(out, /^billing\s+Empty\s+consumer\s+\S+\s+0$/m);
      const body = JSON.parse(ok(await sluice(["group", "list", "--json", ...url]), "json"));
      assert.deepEqual(body.groups.map((g: { group: string }) => g.group).sort(), [
        "billing",
        "late",
      ]);
    });

    await t.step("group describe: state, offsets with lag, members", async () => {
      await produce(server, "orders", { records: [{ value: "j", partition: 1 }] });
      const out = ok(await sluice(["group", "describe", "billing", ...url]), "describe");
      assert.match(out, /^GROUP\s+billing$/m);
      assert.match(out, /^STATE\s+Empty$/m);
      assert.match(out, /^orders\s+0\s+6\s+6\s+0\s+-$/m);
      assert.match(out, /^orders\s+1\s+3\s+4\s+1\s+-$/m, "lag 1 on partition 1");
      const body = JSON.parse(
        ok(await sluice(["group", "describe", "billing", "--json", ...url]), "json"),
      );
      assert.equal(body.group, "billing");
      assert.equal(body.offsets.length, 2);
      failsWith(
        await sluice(["group", "describe", "nobody", ...url]),
        "GROUP_NOT_FOUND",
        "nobody",
        "unknown group",
      );
    });

    await t.step("reset-offsets: a dry run changes nothing; --execute does", async () => {
      const dry = await sluice([
        "group",
        "reset-offsets",
        "billing",
        "--topic",
        "orders",
        "--to-earliest",
        ...url,
      ]);
      const table = ok(dry, "dry run");
      assert.match(table, /^orders\s+0\s+6\s+0$/m);
      assert.match(table, /^orders\s+1\s+3\s+0$/m);
      assert.match(dry.stderr, /dry run/);
      const still = await json(`${server.url}/v1/groups/billing/offsets`);
      assert.ok(still.body.offsets.every((o: { offset: number }) => o.offset > 0), "unchanged");

      ok(
        await sluice([
          "group",
          "reset-offsets",
          "billing",
          "-t",
          "orders:1",
          "--to-offset",
          "1",
          "--execute",
          ...url,
        ]),
        "to-offset",
      );
      const r = await sluice(["consume", "orders", "-g", "billing", "-e", ...url]);
      assert.deepEqual(values(ok(r, "after reset")), ["e", "f", "j"]);
    });

    await t.step(
      "reset-offsets: shift-by, to-latest, to-datetime, all-topics; --json",
      async () => {
        const reset = async (...args: string[]) =>
          JSON.parse(
            ok(
              await sluice([
                "group",
                "reset-offsets",
                "billing",
                ...args,
                "--execute",
                "--json",
                ...url,
              ]),
              args.join(" "),
            ),
          );
        const shifted = await reset("--all-topics", "--shift-by", "-2");
        assert.equal(shifted.executed, true);
        assert.deepEqual(
          shifted.offsets.map((o: { partition: number; current: number; offset: number }) => [
            o.partition,
            o.current,
            o.offset,
          ]),
          [[0, 6, 4], [1, 4, 2]],
        );
        const back = await reset("--all-topics", "--shift-by", "-100");
        assert.deepEqual(back.offsets.map((o: { offset: number }) => o.offset), [0, 0], "clamped");
        const latest = await reset("-t", "orders", "--to-latest");
        assert.deepEqual(latest.offsets.map((o: { offset: number }) => o.offset), [6, 4]);
        const byTime = await reset("-t", "orders", "--to-datetime", "2000-01-01T00:00:00Z");
        assert.deepEqual(byTime.offsets.map((o: { offset: number }) => o.offset), [0, 0]);
        const future = await reset("-t", "orders", "--to-datetime", String(Date.now() + 3.6e6));
        assert.deepEqual(future.offsets.map((o: { offset: number }) => o.offset), [6, 4]);
        usageError(
          await sluice(["group", "reset-offsets", "billing", "-t", "orders", ...url]),
          "give one of --to-earliest",
          "sluice group reset-offsets",
          "no target",
        );
        usageError(
          await sluice(["group", "reset-offsets", "billing", "--to-earliest", ...url]),
          "name the partitions",
          "sluice group reset-offsets",
          "no topic",
        );
        failsWith(
          await sluice([
            "group",
            "reset-offsets",
            "billing",
            "-t",
            "nope",
            "--to-earliest",
            ...url,
          ]),
          "TOPIC_NOT_FOUND",
          "nope",
          "unknown topic",
        );
      },
    );

    await t.step("a group with a member: reset and delete are GROUP_NOT_EMPTY", async () => {
      const join = await json(`${server.url}/v1/groups/billing/members`, {
        method: "POST",
        json: { topics: ["orders"], sessionTimeoutMs: 600_000 },
      });
      assert.equal(join.status, 200, join.text);
      failsWith(
        await sluice([
          "group",
          "reset-offsets",
          "billing",
          "-t",
          "orders",
          "--to-earliest",
          "--execute",
          ...url,
        ]),
        "GROUP_NOT_EMPTY",
        "billing has members",
        "reset with a member",
      );
      failsWith(
        await sluice(["group", "delete", "billing", ...url]),
        "GROUP_NOT_EMPTY",
        "billing has members",
        "delete with a member",
      );
      const left = await json(`${server.url}/v1/groups/billing/members/${join.body.memberId}`, {
        method: "DELETE",
      });
      assert.equal(left.status, 204);
    });

    await t.step(
      "the routes: bad bodies 400, unknown partitions 404, nothing written",
      async () => {
        const put = (body: unknown) =>
          json(`${server.url}/v1/groups/billing/offsets`, { method: "PUT", json: body });
        assert.equal((await put({ offsets: [] })).status, 400);
        const tooMany = Array.from({ length: 10_001 }, () => ({
          topic: "orders",
          partition: 0,
          offset: 1,
        }));
        assert.equal(
          (await put({ offsets: tooMany })).status,
          400,
          "GROUP_OFFSETS_PER_REQUEST_MAX",
        );
        assert.equal((await put({ offsets: [{ topic: "orders", partition: 0 }] })).status, 400);
        assert.equal(
          (await put({ offsets: [{ topic: "orders", partition: 0, offset: -1 }] })).status,
          400,
        );
        const missing = await put({
          offsets: [{ topic: "orders", partition: 0, offset: 1 }, {
            topic: "orders",
            partition: 7,
            offset: 1,
          }],
        });
        assert.equal(missing.status, 404);
        assert.equal(missing.body.error.code, "PARTITION_NOT_FOUND");
        const offsets = await json(`${server.url}/v1/groups/billing/offsets`);
        assert.equal(
          offsets.body.offsets.find((o: { partition: number }) => o.partition === 0).offset,
          6,
          "the valid entry was not written either",
        );
        const set = await put({ offsets: [{ topic: "orders", partition: 0, offset: 2 }] });
        assert.equal(set.status, 200, set.text);
      },
    );

    await t.step(
      "consume -g until SIGINT: prints, commits, leaves the group, exits 0",
      async () => {
        const child = await spawnSluice(["consume", "orders", "-g", "sig", ...url]);
        await child.stdin.close();
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        while (seen.split("\n").length <= 10) {
          const r = await reader.read();
          if (r.done) break;
          seen += r.value;
        }
        assert.equal(values(seen).length, 10, `every record before the signal: ${seen}`);
        child.kill("SIGINT");
        const status = await child.status;
        await reader.cancel();
        const stderr = new TextDecoder().decode((await child.stderr.getReader().read()).value);
        assert.equal(status.code, 0, stderr);
        const d = await json(`${server.url}/v1/groups/sig`);
        assert.equal(d.body.members.length, 0, "it left: no wait for its session to end");
        const offsets = await json(`${server.url}/v1/groups/sig/offsets`);
        assert.deepEqual(
          offsets.body.offsets.map((o: { partition: number; offset: number }) => o.offset).sort(),
          [4, 6],
          "committed what it printed",
        );
      },
    );

    await t.step("group delete: the group and its offsets go", async () => {
      const out = ok(await sluice(["group", "delete", "billing", "late", ...url]), "delete");
      assert.equal(out, "deleted group billing\ndeleted group late\n");
      failsWith(
        await sluice(["group", "describe", "billing", ...url]),
        "GROUP_NOT_FOUND",
        "billing",
        "gone",
      );
      failsWith(
        await sluice(["group", "delete", "billing", ...url]),
        "GROUP_NOT_FOUND",
        "billing",
        "delete twice",
      );
      const r = await sluice(["consume", "orders", "-g", "billing", "-e", ...url]);
      assert.equal(values(ok(r, "fresh group")).length, 10, "a new group reads from the start");
    });
  });
});

Deno.test("sluice with bearer tokens: --token, SLUICE_TOKEN, config file; 401 and 403", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sluice-cli-auth-" });
  const admin = "admin-secret-0123456789";
  const reader = "reader-secret-0123456789";
  await Deno.writeTextFile(
    `${dir}/auth.json`,
    JSON.stringify({
      tokens: [
        {
          name: "admin",
          token: admin,
          allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
            group: "*",
            ops: ["read", "admin"],
          }],
        },
        {
          name: "reader",
          token: reader,
          allow: [{ topic: "*", ops: ["read", "write"] }, { group: "*", ops: ["read"] }],
        },
      ],
    }),
  );
  try {
    await withServer({ args: ["--auth", `${dir}/auth.json`] }, async (server) => {
      const url = ["--url", server.url];
      await t.step("no token: UNAUTHENTICATED", async () => {
        failsWith(await sluice(["topic", "list", ...url]), "UNAUTHENTICATED", "", "no token");
      });
      await t.step("--token and SLUICE_TOKEN", async () => {
        ok(await sluice(["topic", "create", "t1", "--token", admin, ...url]), "--token");
        ok(
          await sluice(["topic", "list", ...url], { env: { SLUICE_TOKEN: admin } }),
          "SLUICE_TOKEN",
        );
        failsWith(
          await sluice(["topic", "create", "t2", "--token", reader, ...url]),
          "FORBIDDEN",
          "",
          "reader creates",
        );
      });
      await t.step("the config file's token", async () => {
        await Deno.writeTextFile(
          `${dir}/cli.json`,
          JSON.stringify({ url: server.url, token: reader }),
        );
        const cfg = ["--config", `${dir}/cli.json`];
        ok(await sluice(["produce", "t1", ...cfg], { stdin: "x\n" }), "produce");
        const r = await sluice(["consume", "t1", "-g", "g1", "-e", ...cfg]);
        assert.equal(ok(r, "consume -g"), "x\n");
      });
      await t.step("group delete and reset need admin on the group", async () => {
        failsWith(
          await sluice(["group", "delete", "g1", "--token", reader, ...url]),
          "FORBIDDEN",
          "",
          "reader deletes",
        );
        failsWith(
          await sluice([
            "group",
            "reset-offsets",
            "g1",
            "-t",
            "t1",
            "--to-earliest",
            "--execute",
            "--token",
            reader,
            ...url,
          ]),
          "FORBIDDEN",
          "",
          "reader resets",
        );
        ok(
          await sluice([
            "group",
            "reset-offsets",
            "g1",
            "-t",
            "t1",
            "--to-earliest",
            "--execute",
            "--token",
            admin,
            ...url,
          ]),
          "admin resets",
        );
        ok(await sluice(["group", "delete", "g1", "--token", admin, ...url]), "admin deletes");
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
