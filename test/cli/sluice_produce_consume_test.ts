/**
 * `sluice produce` and `sluice consume` end to end against the real server: stdin lines with keys,
 * headers and partitions in, the same records back out with -o beginning -e; kcat format strings;
 * --json lines; the -o forms (end, N, -N, s@time); -c; JSON input; binary lines; and the errors.
 */
import assert from "node:assert/strict";
import { createTopic, fetchAll, withServer } from "../http/server_harness.ts";
import { failsWith, ok, sluice, spawnSluice, usageError } from "./sluice_harness.ts";

const MAIN = new URL("../../src/cli/sluice/main.ts", import.meta.url).pathname;
const scriptAvailable = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test("sluice produce and consume: stdin lines round-trip with keys and headers", async (t) => {
  await withServer({}, async (server) => {
    const url = ["--url", server.url];
    await createTopic(server, "orders", 3);

    await t.step("produce: one record per line, -K key separator, -H headers", async () => {
      const r = await sluice(
        ["produce", "orders", "-K", ":", "-H", "source=cli", "-H", "v=2", ...url],
        { stdin: "customer-7:hello\ncustomer-8:world\r\nno-key-line\n\nlast:no newline" },
      );
      ok(r, "produce");
      assert.equal(r.stdout, "", "people's summary goes to stderr");
      assert.match(r.stderr, /^produced 4 records to orders \(partition@offsets: /);
      const all = (await Promise.all([0, 1, 2].map((p) => fetchAll(server, "orders", p)))).flat();
      assert.equal(all.length, 4, "the empty line is skipped");
      const byValue = new Map(all.map((x) => [x.value, x]));
      assert.equal(byValue.get("hello")?.key, "customer-7");
      assert.equal(byValue.get("world")?.key, "customer-8", "\\r\\n ends a line too");
      assert.equal(byValue.get("no-key-line")?.key, null, "no separator: no key");
      assert.equal(byValue.get("no newline")?.key, "last", "the last line without newline");
      assert.deepEqual(byValue.get("hello")?.headers, [
        { key: "source", value: "cli" },
        { key: "v", value: "2" },
      ]);
    });

    await t.step("consume -o beginning -e gets them back, with keys and headers", async () => {
      const r = await sluice([
        "consume",
        "orders",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%k|%s|%h\\n",
        ...url,
      ]);
      const lines = ok(r, "consume").trimEnd().split("\n").sort();
      assert.deepEqual(
        lines,
        [
          "customer-7|hello|source=cli,v=2",
          "customer-8|world|source=cli,v=2",
          "last|no newline|source=cli,v=2",
          "|no-key-line|source=cli,v=2",
        ].sort(),
      );
      assert.match(r.stderr, /^consumed 4 records\n$/);
    });

    await t.step("default output is the value per line; -K prints key SEP value", async () => {
      const plain = ok(await sluice(["consume", "orders", "-e", ...url]), "plain");
      assert.deepEqual(plain.trimEnd().split("\n").sort(), [
        "hello",
        "no newline",
        "no-key-line",
        "world",
      ]);
      const keyed = ok(await sluice(["consume", "orders", "-e", "-K", "=", ...url]), "keyed");
      assert.ok(keyed.split("\n").includes("customer-7=hello"), keyed);
      assert.ok(keyed.split("\n").includes("=no-key-line"), keyed);
    });

    await t.step(
      "-p: one partition, in offset order; format fields %t %p %o %T %S %K",
      async () => {
        ok(
          await sluice(["produce", "orders", "-p", "1", "-K", ":", ...url], {
            stdin: "k:first\nk:second\n",
          }),
          "produce -p",
        );
        const before = Date.now();
        const r = await sluice([
          "consume",
          "orders",
          "-p",
          "1",
          "-e",
          "-f",
          "%t %p %o %T %S %K %%\\t%s\\n",
          ...url,
        ]);
        const rows = ok(r, "consume -p").trimEnd().split("\n").map((l) => l.split(/ |\t/));
        const mine = rows.filter((x) => x[7] === "first" || x[7] === "second");
        assert.equal(mine.length, 2);
        assert.deepEqual(mine.map((x) => x[7]), ["first", "second"], "offset order");
        for (const x of mine) {
          assert.equal(x[0], "orders");
          assert.equal(x[1], "1");
          assert.ok(Number(x[3]) <= before && Number(x[3]) > before - 600_000, `timestamp ${x[3]}`);
          assert.equal(x[5], "1", "%K: key length");
          assert.equal(x[6], "%", "%%");
        }
        assert.equal(mine[0][4], "5", "%S: value length");
        assert.equal(Number(mine[1][2]), Number(mine[0][2]) + 1, "consecutive offsets");
        const offsets = rows.map((x) => Number(x[2]));
        assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
      },
    );

    await t.step("--json: one JSON object per line with topic, partition, offset", async () => {
      const r = await sluice(["consume", "orders", "-p", "1", "-e", "--json", ...url]);
      const records = ok(r, "--json").trimEnd().split("\n").map((l) => JSON.parse(l));
      const first = records.find((x) => x.value === "first");
      assert.equal(first.topic, "orders");
      assert.equal(first.partition, 1);
      assert.equal(first.key, "k");
      assert.equal(typeof first.offset, "number");
      assert.equal(typeof first.timestamp, "number");
      assert.deepEqual(first.headers, []);
    });

    await t.step("-o N, -o -N, -o end, -o s@time, -c", async () => {
      await createTopic(server, "seq", 1);
      const lines = Array.from({ length: 10 }, (_, i) => `v${i}`).join("\n") + "\n";
      ok(await sluice(["produce", "seq", ...url], { stdin: lines }), "produce 10");
      const read = async (...args: string[]) =>
        ok(await sluice(["consume", "seq", "-e", ...args, ...url]), args.join(" ")).trimEnd();
      assert.equal(await read("-o", "7"), "v7\nv8\nv9");
      assert.equal(await read("-o", "-2"), "v8\nv9");
      assert.equal(await read("-o", "-100"), lines.trimEnd(), "-N past the start: the start");
      assert.equal(await read("-o", "end"), "");
      assert.equal(await read("-c", "3"), "v0\nv1\nv2");
      assert.equal(await read("-o", `s@${Date.now() + 3_600_000}`), "", "a time after all");
      assert.equal(await read("-o", "s@0"), lines.trimEnd(), "a time before all");
      assert.equal(await read("-o", "s@2000-01-01T00:00:00Z"), lines.trimEnd(), "an ISO date");
    });

    await t.step("consume without -e waits for new records; -c ends it", async () => {
      await createTopic(server, "live", 2);
      const consumer = sluice(["consume", "live", "-o", "end", "-c", "2", ...url]);
      // The consumer starts at the end as it finds it: produce until it has seen two records.
      let produced = 0;
      let done = false;
      consumer.finally(() => done = true);
      while (!done && produced < 200) {
        ok(await sluice(["produce", "live", ...url], { stdin: `n${produced++}\n` }), "produce");
      }
      const r = await consumer;
      const got = ok(r, "live consume").trimEnd().split("\n");
      assert.equal(got.length, 2);
      for (const v of got) assert.match(v, /^n\d+$/);
    });

    await t.step(
      "--input json: record objects; non-string values stored as JSON text",
      async () => {
        await createTopic(server, "j", 2);
        const input = [
          JSON.stringify({ key: "a", value: { total: 12 }, headers: { h: "1" } }),
          JSON.stringify({ value: "text", partition: 1, headers: [{ key: "x", value: null }] }),
          JSON.stringify({ key: null, value: null, partition: 1 }),
        ].join("\n");
        ok(await sluice(["produce", "j", "--input", "json", ...url], { stdin: input }), "json in");
        const out = ok(await sluice(["consume", "j", "-e", "--json", ...url]), "json out");
        const recs = out.trimEnd().split("\n").map((l) => JSON.parse(l));
        const a = recs.find((x) => x.key === "a");
        assert.equal(a.value, '{"total":12}');
        assert.deepEqual(a.headers, [{ key: "h", value: "1" }]);
        const text = recs.find((x) => x.value === "text");
        assert.equal(text.partition, 1);
        assert.deepEqual(text.headers, [{ key: "x", value: null }]);
        assert.ok(recs.some((x) => x.value === null && x.key === null && x.partition === 1));
      },
    );

    await t.step("binary lines keep their bytes; -D sets the record delimiter", async () => {
      await createTopic(server, "bin", 1);
      const payload = new Uint8Array([0xff, 0x00, 0xfe, 0x41, 0x0a, 0x80, 0x7c, 0x42]);
      // delimiter "|" (0x7c): records ff 00 fe 41 0a 80, then 42
      ok(await sluice(["produce", "bin", "-D", "|", ...url], { stdin: payload }), "produce bin");
      const r = await sluice(["consume", "bin", "-e", "-f", "%s|", ...url]);
      ok(r, "consume bin");
      assert.deepEqual([...r.stdoutBytes], [...payload, 0x7c]);
    });

    await t.step("--json produce summary; --quiet says nothing", async () => {
      const r = await sluice(["produce", "seq", "--json", "-q", ...url], { stdin: "x\ny\n" });
      const body = JSON.parse(ok(r, "produce --json"));
      assert.deepEqual(body, {
        topic: "seq",
        records: 2,
        partitions: [{ partition: 0, firstOffset: 10, lastOffset: 11, records: 2 }],
      });
      assert.equal(r.stderr, "");
    });

    await t.step("errors: one line, exit 1; usage mistakes exit 2", async () => {
      failsWith(
        await sluice(["produce", "nope", ...url], { stdin: "a\n" }),
        "TOPIC_NOT_FOUND",
        "nope",
        "produce to a missing topic",
      );
      failsWith(
        await sluice(["consume", "nope", "-e", ...url]),
        "TOPIC_NOT_FOUND",
        "nope",
        "consume a missing topic",
      );
      failsWith(
        await sluice(["consume", "seq", "-p", "5", "-e", ...url]),
        "PARTITION_NOT_FOUND",
        "no partition 5",
        "a missing partition",
      );
      failsWith(
        await sluice(["consume", "seq", "-e", "-f", "%q", ...url]),
        "FORMAT_INVALID",
        "%q",
        "a bad format",
      );
      failsWith(
        await sluice(["produce", "seq", "--input", "json", ...url], {
          stdin: '{"value":"ok"}\n{"value":1,"bogus":2}\n',
        }),
        "INPUT_INVALID",
        'line 2: unknown field "bogus"',
        "a bad JSON record",
      );
      failsWith(
        await sluice(["produce", "seq", "-p", "9", ...url], { stdin: "a\n" }),
        "PARTITION_NOT_FOUND",
        "",
        "produce to a missing partition",
      );
      failsWith(
        await sluice(["consume", "seq", "-o", "99", "-e", ...url]),
        "OFFSET_OUT_OF_RANGE",
        "",
        "an offset past the end",
      );
      usageError(
        await sluice(["consume", "seq", "-o", "yesterday", ...url]),
        '-o takes beginning, end, N, -N or s@TIME, not "yesterday"',
        "sluice consume",
        "bad -o",
      );
      usageError(
        await sluice(["produce", "seq", "--input", "xml", ...url]),
        '--input is raw or json, not "xml"',
        "sluice produce",
        "bad --input",
      );
      usageError(
        await sluice(["consume", "seq", "--json", "-f", "%s", ...url]),
        "--json replaces -f and -K",
        "sluice consume",
        "--json with -f",
      );
    });

    await t.step("one partition's error ends the reads of the others (no -e)", async () => {
      await createTopic(server, "three", 3);
      ok(await sluice(["produce", "three", "-p", "0", ...url], { stdin: "a\n" }), "produce");
      // Offset 1 is partition 0's end (a long poll there) and past 1 and 2's (416).
      const child = await spawnSluice(["consume", "three", "-o", "1", ...url]);
      await child.stdin.close();
      // A bound for a regression (the command waiting for ever), not a timing assertion.
      const guard = setTimeout(() => child.kill("SIGKILL"), 120_000);
      const out = await child.output();
      clearTimeout(guard);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.match(stderr, /^sluice: OFFSET_OUT_OF_RANGE: /);
    });

    await t.step("-K takes escapes (\\t); a line over the bound is INPUT_INVALID", async () => {
      await createTopic(server, "tabs", 1);
      ok(await sluice(["produce", "tabs", "-K", "\\t", ...url], { stdin: "k\tv\n" }), "tab");
      const out = ok(await sluice(["consume", "tabs", "-e", "-f", "%k|%s\\n", ...url]), "tab");
      assert.equal(out, "k|v\n");
      const long = "x".repeat(8 * 1024 * 1024 + 10); // PRODUCE_LINE_BYTES_MAX + 10, no newline
      failsWith(
        await sluice(["produce", "tabs", ...url], { stdin: `short\n${long}` }),
        "INPUT_INVALID",
        "line 2 is longer than 8388608 bytes",
        "too long",
      );
      const after = ok(await sluice(["consume", "tabs", "-e", ...url]), "after");
      assert.equal(after, "v\nshort\n", "the lines before it were produced");
    });

    await t.step({
      name: "on a terminal, produce shows its progress on stderr",
      ignore: !scriptAvailable,
      fn: async () => {
        const input = await Deno.makeTempFile();
        try {
          await Deno.writeTextFile(input, Array.from({ length: 3000 }, (_, i) => i).join("\n"));
          // script(1) gives the command a terminal for stdout and stderr.
          const cmd = `"${Deno.execPath()}" run -A ${MAIN} produce seq --batch 1000 ` +
            `--url ${server.url} < ${input}`;
          const out = await new Deno.Command("script", {
            args: ["-qec", cmd, "/dev/null"],
            stdout: "piped",
            stderr: "piped",
          }).output();
          const text = new TextDecoder().decode(out.stdout);
          assert.equal(out.code, 0, text);
          assert.ok(text.includes("\r\x1b[Kproduced 1000 records to seq"), JSON.stringify(text));
          assert.match(text, /produced 3000 records to seq \(partition@offsets: 0@/);
        } finally {
          await Deno.remove(input);
        }
      },
    });

    await t.step("consume | head: a closed stdout ends the command quietly", async () => {
      const big = Array.from({ length: 5000 }, (_, i) => `line-${i}-${"x".repeat(100)}`).join("\n");
      ok(await sluice(["produce", "seq", "-q", ...url], { stdin: big }), "produce 5000");
      const cmd = new Deno.Command("bash", {
        args: [
          "-c",
          `set -o pipefail; "$0" run -A src/cli/sluice/main.ts consume seq -e --url "$1" | head -n 3`,
          Deno.execPath(),
          server.url,
        ],
        cwd: new URL("../../", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      });
      const out = await cmd.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(new TextDecoder().decode(out.stdout), "v0\nv1\nv2\n");
      assert.equal(out.code, 0, `pipefail: sluice's own exit status; stderr: ${stderr}`);
      assert.ok(!stderr.includes("Error"), stderr);
    });
  });
});
