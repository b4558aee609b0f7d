/**
 * The console's pure helpers, run here as the browser runs them (the same ES modules): a record's
 * base64 field shown as JSON, text or hex (format.js decodeField), and /metrics' Prometheus text
 * read into per-topic counters (api.js parseMetrics), on a real server's real /metrics.
 */
import assert from "node:assert/strict";
import { mapBounded, parseMetrics } from "../../src/http/console/api.js";
import { niceCeil } from "../../src/http/console/chart.js";
import { bytes, decodeField, hex, rate } from "../../src/http/console/format.js";
import { createTopic, json, produce, withServer } from "../http/server_harness.ts";

const b64 = (bytes: number[] | string) =>
  btoa(typeof bytes === "string" ? bytes : String.fromCharCode(...bytes));
const utf8b64 = (text: string) => b64(String.fromCharCode(...new TextEncoder().encode(text)));

Deno.test("console decodeField: JSON pretty-printed, UTF-8 as text, the rest as hex", async (t) => {
  await t.step("null stays null", () => {
    assert.deepEqual(decodeField(null), { kind: "null", text: "null" });
  });
  await t.step("a JSON object or array is pretty-printed", () => {
    assert.deepEqual(decodeField(utf8b64('{"a":1,"b":[true,null]}')), {
      kind: "json",
      text: '{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}',
    });
    assert.deepEqual(decodeField(utf8b64(" [1,2] ")), { kind: "json", text: "[\n  1,\n  2\n]" });
  });
  await t.step("text that only looks like JSON, and a bare number, stay text", () => {
    assert.deepEqual(decodeField(utf8b64("{not json")), { kind: "text", text: "{not json" });
    assert.deepEqual(decodeField(utf8b64("42")), { kind: "text", text: "42" });
  });
  await t.step("UTF-8 beyond ASCII is text", () => {
    assert.deepEqual(decodeField(utf8b64("héllo → ✓")), { kind: "text", text: "héllo → ✓" });
    assert.deepEqual(decodeField(""), { kind: "text", text: "" });
  });
  await t.step("bytes that are not UTF-8 are hex, long ones cut with the rest counted", () => {
    assert.deepEqual(decodeField(b64([0xff, 0x00, 0xfe, 0x01])), {
      kind: "hex",
      text: "ff 00 fe 01",
    });
    const long = Array.from({ length: 600 }, (_, i) => (i === 0 ? 0xc3 : i % 256));
    const shown = decodeField(b64(long));
    assert.equal(shown.kind, "hex");
    assert.ok(shown.text.startsWith("c3 01 02 03"), shown.text.slice(0, 20));
    assert.ok(shown.text.endsWith(" … (88 more bytes)"), shown.text.slice(-30));
    assert.equal(hex(new Uint8Array([1, 2, 3]), 2), "01 02 … (1 more bytes)");
  });
});

Deno.test("console parseMetrics reads a real server's per-topic counters", async () => {
  await withServer({}, async (server) => {
    await createTopic(server, "alpha", 2);
    await createTopic(server, "beta.v2", 1);
    await produce(server, "alpha", { records: [{ value: "a" }, { value: "b" }, { value: "c" }] });
    await produce(server, "beta.v2", { records: [{ value: "x" }] });
    const fetched = await json(
      `${server.url}/v1/topics/beta.v2/partitions/0/records?offset=0&maxWaitMs=0`,
    );
    assert.equal(fetched.status, 200);
    const text = (await json(`${server.url}/metrics`)).text;
    const wanted = ["sluice_records_in_total", "sluice_records_out_total", "sluice_bytes_in_total"];
    const m = parseMetrics(text, wanted);
    assert.deepEqual([...m.keys()], wanted, "only the families asked for");
    const byTopic = (name: string) =>
      Object.fromEntries(
        m.get(name)!.map((s: { labels: { topic: string }; value: number }) => [
          s.labels.topic,
          s.value,
        ]),
      );
    assert.deepEqual(byTopic("sluice_records_in_total"), { alpha: 3, "beta.v2": 1 });
    assert.deepEqual(byTopic("sluice_records_out_total"), { alpha: 0, "beta.v2": 1 });
    const bytesIn = byTopic("sluice_bytes_in_total");
    assert.ok(bytesIn.alpha > 0 && bytesIn["beta.v2"] > 0, JSON.stringify(bytesIn));
  });
  const escaped = parseMetrics(
    'x_total{topic="a\\"b",le="1"} 2\n# HELP x_total y\nx_total 5\nother{topic="z"} 9\n',
    ["x_total"],
  );
  assert.deepEqual(escaped.get("x_total"), [
    { labels: { topic: 'a"b', le: "1" }, value: 2 },
    { labels: {}, value: 5 },
  ]);
});

Deno.test("console mapBounded keeps order and never exceeds its width", async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapBounded([5, 1, 4, 2, 3, 0], 2, async (n: number) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, n));
    inFlight--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
  assert.equal(most, 2);
});

Deno.test("console chart axes: a nice top, and its half labelled apart from it", () => {
  assert.equal(niceCeil(0), 1);
  assert.equal(niceCeil(0.7), 1);
  assert.equal(niceCeil(1), 1);
  assert.equal(niceCeil(1.2), 2);
  assert.equal(niceCeil(3_100), 5_000);
  assert.equal(niceCeil(7_000_001), 10_000_000);
  // An idle chart's axis is 0, 0.5 and 1: three different labels.
  assert.deepEqual([0, 0.5, 1].map((v) => rate(v, "bytes")), ["0 B/s", "0.5 B/s", "1 B/s"]);
  assert.equal(bytes(1536), "1.5 KiB");
  assert.equal(bytes(1023), "1023 B");
  assert.equal(rate(2.5, "records"), "2.5/s");
});
