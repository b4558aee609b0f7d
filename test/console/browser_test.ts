/**
 * The web console in a real browser: Debian's chromium, headless, driven by playwright-core,
 * against the real server (with --auth) holding real data: a topic with JSON, text and binary
 * records and headers, a second topic written to while the overview watches, and a consumer group
 * with a member and committed offsets. It signs in with a token and clicks through every page,
 * asserting what each shows. The overview's rates and the group page's lag must come from the
 * server's stream (GET /v1/stream/stats: records produced while the page is open show up, and the
 * page never asks for /metrics); a refused stream falls back to polling, a dropped one reconnects. Each page's screenshot is written to a temporary directory, or to
 * the directory SLUICE_CONSOLE_SCREENSHOTS names (docs/console for the README's pictures).
 *
 * chromium comes from scripts/install-chromium.sh; without it the test is skipped, or fails under
 * SLUICE_REQUIRE_KAFKA_CLIENTS=1 (CI), as the Kafka clients' tests do.
 */
import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { json, type RunningServer, startServer } from "../http/server_harness.ts";

/** Debian's chromium (scripts/install-chromium.sh); SLUICE_CHROMIUM names another. */
const CHROMIUM = Deno.env.get("SLUICE_CHROMIUM") ?? "/usr/bin/chromium";
const SECRET = "console-browser-secret-0000";
/** Generous: a loaded 2-core machine; every wait is for something the page must come to show. */
const WAIT_MS = 30_000;
/** Record timestamps of the orders topic's partition 0: T0, T0 + 1 s, ... */
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/**
 * The page's own globals, for the functions playwright runs inside it (a string would be eval,
 * which the console's Content-Security-Policy refuses); this file is checked without the DOM lib.
 */
interface Elem {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): Iterable<Elem>;
}
declare const document: {
  querySelector(selector: string): Elem | null;
  querySelectorAll(selector: string): Iterable<Elem>;
};

const available = await Deno.stat(CHROMIUM).then(() => true, () => false);
// As kafka_harness.ts announceSkip (not imported: that module probes every Kafka client on load).
if (!available && Deno.env.get("SLUICE_REQUIRE_KAFKA_CLIENTS") === "1") {
  Deno.test(`chromium (${CHROMIUM}) is installed (SLUICE_REQUIRE_KAFKA_CLIENTS=1)`, () => {
    assert.fail(`chromium is missing; scripts/install-chromium.sh (as root) installs it`);
  });
} else if (!available) {
  console.warn(`SKIPPED: chromium (${CHROMIUM}) is not installed; run scripts/install-chromium.sh`);
}

async function call(server: RunningServer, method: string, path: string, body?: unknown) {
  const res = await json(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${SECRET}` },
    ...(body === undefined ? {} : { json: body }),
  });
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

/** The data every page shows: two topics, records of each kind, a group with a member. */
async function seed(server: RunningServer): Promise<{ memberId: string }> {
  await call(server, "POST", "/v1/topics", {
    name: "orders",
    partitions: 3,
    config: { "retention.ms": 86_400_000 },
  });
  await call(server, "POST", "/v1/topics", { name: "clicks", partitions: 1 });
  await call(server, "POST", "/v1/topics/orders/records", {
    records: [
      {
        key: "order-1",
        value: JSON.stringify({ customer: "ada", total: 42.5, items: ["tea", "cake"] }),
        headers: [{ key: "trace-id", value: "abc-123" }],
        partition: 0,
        timestamp: T0,
      },
      { key: "order-2", value: "plain text note", partition: 0, timestamp: T0 + 1000 },
    ],
  });
  await call(server, "POST", "/v1/topics/orders/records", {
    valueEncoding: "base64",
    headerEncoding: "base64",
    records: [{
      key: null,
      value: btoa("\xff\x00\xfe\x01"),
      headers: [{ key: "sig", value: btoa("\x00\x9f\xff") }],
      partition: 0,
      timestamp: T0 + 2000,
    }],
  });
  await call(server, "POST", "/v1/topics/orders/records", {
    records: Array.from({ length: 5 }, (_, i) => ({
      key: `k${i}`,
      value: JSON.stringify({ n: i }),
      partition: 0,
      timestamp: T0 + 3000 + i * 1000,
    })),
  });
  await call(server, "POST", "/v1/topics/orders/records", {
    records: Array.from({ length: 4 }, (_, i) => ({ value: `p1-${i}`, partition: 1 })),
  });
  const member = await call(server, "POST", "/v1/groups/billing/members", {
    topics: ["orders"],
    sessionTimeoutMs: 600_000,
  });
  await call(server, "POST", "/v1/groups/billing/offsets", {
    memberId: member.memberId,
    generation: member.generation,
    offsets: [{ topic: "orders", partition: 0, offset: 3 }, {
      topic: "orders",
      partition: 1,
      offset: 4,
    }],
  });
  return { memberId: member.memberId };
}

/** The "long" topic: records written in batches of BIG_BATCH, BIG_BATCHES of them. */
const BIG_BATCH = 2000;
const BIG_BATCHES = 10;

/** sluice_records_out_total of a topic, from /metrics. */
async function recordsOut(server: RunningServer, topic: string): Promise<number> {
  const res = await json(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${SECRET}` },
  });
  const m = res.text.match(
    new RegExp(`^sluice_records_out_total\\{topic="${topic}"\\} (\\d+)$`, "m"),
  );
  assert.ok(m, `no records_out for ${topic}`);
  return Number(m[1]);
}

/** The text of each row of a table, cells joined by " | ". */
function rows(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(
    `${selector} tbody tr`,
    (trs) =>
      trs.map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim()).join(" | ")
      ),
  );
}

Deno.test({
  name: "console in chromium: sign in, then every page against a real server",
  ignore: !available,
  // playwright keeps a few process-wide handles (its connection's timers) past browser.close().
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sluice-console-browser-" });
    const shots = Deno.env.get("SLUICE_CONSOLE_SCREENSHOTS") ?? `${dir}/shots`;
    await Deno.mkdir(shots, { recursive: true });
    const tokenFile = `${dir}/tokens.json`;
    await Deno.writeTextFile(
      tokenFile,
      JSON.stringify({
        tokens: [{
          name: "admin",
          token: SECRET,
          allow: [{ topic: "*", ops: ["read", "write", "admin"] }, {
            group: "*",
            ops: ["read", "admin"],
          }],
        }],
      }),
    );
    const server = await startServer({ args: ["--auth", tokenFile] });
    let browser: BrowserContext | undefined;
    let producing = true;
    let producer: Promise<void> | undefined;
    try {
      const { memberId } = await seed(server);
      // A fresh profile in the test's own directory (playwright takes it as userDataDir).
      const context = await chromium.launchPersistentContext(`${dir}/profile`, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        viewport: { width: 1280, height: 860 },
      });
      browser = context;
      const page = context.pages()[0] ?? await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(String(err)));
      /** Every URL the page asked for (the stream, never /metrics while it streams). */
      const requested: URL[] = [];
      page.on("request", (req) => requested.push(new URL(req.url())));
      page.on("console", (msg) => {
        if (msg.type() === "error") pageErrors.push(msg.text());
      });
      const shot = (name: string) =>
        page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

      await t.step("without a token the console asks for one; with it, the overview", async () => {
        await page.goto(`${server.url}/console`);
        await page.waitForSelector("form.login");
        assert.match(await page.textContent("form.login") ?? "", /needs a token/);
        await shot("sign-in");
        await page.fill("#token", "not-the-secret-000000000");
        await page.click("form.login button");
        await page.waitForSelector("form.login >> text=refused the token");
        await page.fill("#token", SECRET);
        await page.click("form.login button");
        await page.waitForSelector("#page-overview #card-topics");
        assert.equal(await page.textContent("#card-topics .value"), "2");
        assert.equal(await page.textContent("#card-partitions .value"), "4");
        assert.equal(await page.textContent("#card-mode .value"), "single node");
        assert.equal(await page.textContent("#card-brokers .value"), "1 / 1");
        assert.equal(await page.textContent("#card-groups .value"), "1");
        assert.ok(await page.isVisible("#sign-out"));
      });

      await t.step("the overview charts live produce rates streamed by the server", async () => {
        producer = (async () => {
          let i = 0;
          while (producing) {
            await call(server, "POST", "/v1/topics/clicks/records", {
              records: Array.from({ length: 20 }, () => ({ value: `click-${i++}` })),
            });
            await new Promise((r) => setTimeout(r, 200));
          }
        })();
        // Two polls at least: a rate is the difference of two samples of the counters.
        await page.waitForFunction(() =>
          [...document.querySelectorAll("#rates tbody tr")]
            .map((tr: Elem) =>
              [...tr.querySelectorAll("td")].map((td: Elem) => td.textContent ?? "")
            )
            .some((r: string[]) => r[0] === "clicks" && !/^0(\.0)?\/s$/.test(r[1]))
        );
        await page.waitForFunction(() =>
          [...document.querySelectorAll("#page-overview .chart path")]
            .some((p: Elem) => (p.getAttribute("d") ?? "").includes("L"))
        );
        const legend = await page.textContent("#page-overview .chart .legend") ?? "";
        assert.match(legend, /clicks/);
        // From the stream, not by polling /metrics.
        assert.equal(await page.getAttribute("#live-status", "data-state"), "streamed");
        assert.ok(requested.some((u) => u.pathname === "/v1/stream/stats"), requested.join());
        assert.deepEqual(requested.filter((u) => u.pathname === "/metrics").map(String), []);
        producing = false;
        await producer;
        await shot("overview");
      });

      await t.step("a refused stream: the overview falls back to polling /metrics", async () => {
        await page.route("**/v1/stream/stats*", (route) =>
          route.fulfill({
            status: 429,
            contentType: "application/json",
            body: JSON.stringify({ error: { code: "TOO_MANY_REQUESTS", message: "test refusal" } }),
          }));
        const before = requested.length;
        await page.click("#nav a[data-page=topics]");
        await page.waitForSelector("#topics-table");
        await page.click("#nav a[data-page=overview]");
        await page.waitForSelector("#page-overview #live-status[data-state=polling]");
        assert.match(
          await page.textContent("#live-status") ?? "",
          /refused the stream \(test refusal\)/,
        );
        await page.waitForFunction(() => document.querySelector("#rates") !== null);
        assert.ok(requested.slice(before).some((u) => u.pathname === "/metrics"));
        await page.unroute("**/v1/stream/stats*");
      });

      await t.step("a dropped stream: the page reconnects and streams again", async () => {
        const pattern = "**/v1/stream/stats*";
        let dropped = false;
        await page.route(pattern, (route) => {
          if (dropped) return route.fallback(); // to the server
          dropped = true; // only the first connection fails
          return route.abort("connectionreset");
        });
        await page.click("#nav a[data-page=topics]");
        await page.waitForSelector("#topics-table");
        const mark = requested.length;
        await page.click("#nav a[data-page=overview]");
        await page.waitForSelector("#page-overview #live-status[data-state=streamed]");
        const since = requested.slice(mark);
        assert.equal(since.filter((u) => u.pathname === "/v1/stream/stats").length, 2);
        assert.deepEqual(since.filter((u) => u.pathname === "/metrics").map(String), []);
        await page.unroute(pattern);
      });

      await t.step("topics: the list, then a topic's partitions and configs", async () => {
        await page.click("#nav a[data-page=topics]");
        await page.waitForSelector("#topics-table");
        const list = await rows(page, "#topics-table");
        assert.equal(list.length, 2);
        assert.match(list[0], /^clicks \| 1 \| \d+ \| /);
        assert.match(list[1], /^orders \| 3 \| 12 \| .* \| retention\.ms$/);
        await shot("topics");

        await page.click("#topics-table a >> text=orders");
        await page.waitForSelector("#partitions-table");
        const parts = await rows(page, "#partitions-table");
        assert.equal(parts.length, 3);
        assert.match(
          parts[0],
          /^0 \| 0 \| 8 \| 8 \| [\d.]+ (B|KiB) \| online \| 0 \| 0 \| messages$/,
        );
        assert.match(parts[1], /^1 \| 0 \| 4 \| 4 \| /);
        assert.match(parts[2], /^2 \| 0 \| 0 \| 0 \| /);
        const configs = await rows(page, "#configs-table");
        assert.ok(configs.includes("retention.ms | 86400000 | topic"), configs.join("\n"));
        assert.ok(configs.some((r) => /^segment\.bytes \| \d+ \| default$/.test(r)));
        await shot("topic");
      });

      await t.step("messages: newest N with JSON, text, hex and headers", async () => {
        await page.click("#partitions-table tbody tr:first-child a >> text=messages");
        await page.waitForSelector("#messages-table");
        assert.match(
          await page.textContent("#messages-summary") ?? "",
          /^8 records, the newest \(up to 20\) of offsets 0–7 \(high watermark 8\)$/,
        );
        const cells = await page.$$eval(
          "#messages-table tbody tr",
          (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText)),
        );
        assert.equal(cells.length, 8);
        assert.equal(cells[0][0], "0");
        assert.equal(cells[0][1], new Date(T0).toISOString());
        assert.match(cells[0][2], /order-1/);
        assert.match(cells[0][3], /trace-id\s*abc-123/);
        // Pretty-printed: one field per line, indented.
        assert.match(cells[0][4], /json\s*\{\n {2}"customer": "ada",\n {2}"total": 42\.5,/);
        assert.equal(cells[1][4].trim(), "plain text note");
        assert.match(cells[2][2], /null/);
        assert.match(cells[2][4], /hex\s*ff 00 fe 01/);
        // A binary header value is hex too (fetched with headerEncoding=base64), not lossy UTF-8.
        assert.match(cells[2][3], /sig\s*hex\s*00 9f ff/);
        assert.match(cells[7][4], /"n": 4/);
        assert.equal(await page.$("#messages-next"), null, "nothing past the high watermark");
        await shot("messages");
      });

      await t.step("messages: from an offset, N at a time, then the next page", async () => {
        await page.selectOption("#m-mode", "offset");
        await page.fill("#m-offset", "1");
        await page.fill("#m-n", "2");
        await page.click("#m-show");
        await page.waitForSelector("#messages-summary >> text=2 records, from offset 1");
        const first = await rows(page, "#messages-table");
        assert.deepEqual(first.map((r) => r.split(" | ")[0]), ["1", "2"]);
        await page.click("#messages-next");
        await page.waitForSelector("#messages-summary >> text=2 records, from offset 3");
        const next = await rows(page, "#messages-table");
        assert.deepEqual(next.map((r) => r.split(" | ")[0]), ["3", "4"]);
      });

      await t.step("messages: from a timestamp", async () => {
        await page.selectOption("#m-mode", "timestamp");
        await page.fill("#m-timestamp", new Date(T0 + 4500).toISOString());
        await page.fill("#m-n", "3");
        await page.click("#m-show");
        await page.waitForSelector(
          "#messages-summary >> text=from offset 5, the first at or after",
        );
        const got = await rows(page, "#messages-table");
        assert.deepEqual(got.map((r) => r.split(" | ")[0]), ["5", "6", "7"]);
        await page.fill("#m-timestamp", String(T0 + 60_000));
        await page.click("#m-show");
        await page.waitForSelector("#messages-empty");
      });

      await t.step("groups: the list, then a group's members, offsets, lag and chart", async () => {
        const mark = requested.length;
        await page.click("#nav a[data-page=groups]");
        await page.waitForSelector("#groups-table");
        const list = await rows(page, "#groups-table");
        assert.equal(list.length, 1);
        assert.match(list[0], /^billing \| \w+ \| consumer \| consumer \| 1$/);
        await shot("groups");

        await page.click("#groups-table a >> text=billing");
        await page.waitForSelector("#offsets-table");
        const members = await rows(page, "#members-table");
        assert.equal(members.length, 1);
        assert.ok(members[0].startsWith(`${memberId} | http | orders | `), members[0]);
        assert.match(members[0], /orders-0/);
        const offsets = await rows(page, "#offsets-table");
        assert.ok(offsets.some((r) => r.startsWith("orders | 0 | 3 | 5 | ")), offsets.join("\n"));
        assert.ok(offsets.some((r) => r.startsWith("orders | 1 | 4 | 0 | ")), offsets.join("\n"));
        assert.ok(offsets.includes(`orders | 2 | — | — | ${memberId}`), offsets.join("\n"));
        assert.equal(offsets.length, 3);
        // The chart has the group's lag per topic: orders at 5 once drawn.
        await page.waitForFunction(() =>
          (document.querySelector("#page-groups .chart .legend")?.textContent ?? "")
            .includes("orders")
        );
        await page.waitForFunction(() =>
          (document.querySelector("#page-groups .chart path")?.getAttribute("d") ?? "")
            .includes("L")
        );
        await page.waitForSelector("#page-groups #live-status[data-state=streamed]");
        await shot("group");
        // Records written to orders' partition 0 while the page is open: the streamed lag grows
        // from 5 to 8 (the table's rows and the chart come from the stream's events).
        await call(server, "POST", "/v1/topics/orders/records", {
          records: [1, 2, 3].map((i) => ({ value: `late-${i}`, partition: 0 })),
        });
        await page.waitForFunction(() =>
          [...document.querySelectorAll("#offsets-table tbody tr")]
            .map((tr: Elem) =>
              [...tr.querySelectorAll("td")].map((td: Elem) => (td.textContent ?? "").trim())
            )
            .some((r: string[]) => r[0] === "orders" && r[1] === "0" && r[3] === "8")
        );
        const since = requested.slice(mark);
        assert.ok(
          since.some((u) =>
            u.pathname === "/v1/stream/stats" && u.searchParams.get("group") === "billing"
          ),
        );
        assert.deepEqual(since.filter((u) => u.pathname === "/metrics").map(String), []);
      });

      await t.step("brokers: the one broker and every partition's leader and ISR", async () => {
        await page.click("#nav a[data-page=brokers]");
        await page.waitForSelector("#brokers-table");
        const brokers = await rows(page, "#brokers-table");
        assert.equal(brokers.length, 1);
        assert.match(
          brokers[0],
          /^0 \| 127\.0\.0\.1 \| — \| http:\/\/127\.0\.0\.1:\d+ \| yes \| controller, this broker$/,
        );
        const leaders = await rows(page, "#leaders-table");
        assert.deepEqual(leaders, [
          "clicks | 0 | 0 | 0 | 0 | 0",
          "orders | 0 | 0 | 0 | 0 | 0",
          "orders | 1 | 0 | 0 | 0 | 0",
          "orders | 2 | 0 | 0 | 0 | 0",
        ]);
        await shot("brokers");
      });

      await t.step("messages on a long partition read what they show, no more", async () => {
        await call(server, "POST", "/v1/topics", { name: "long", partitions: 1 });
        for (let b = 0; b < BIG_BATCHES; b++) {
          await call(server, "POST", "/v1/topics/long/records", {
            records: Array.from({ length: BIG_BATCH }, (_, i) => ({
              value: JSON.stringify({ seq: b * BIG_BATCH + i }),
              partition: 0,
            })),
          });
        }
        const total = BIG_BATCHES * BIG_BATCH;
        const before = await recordsOut(server, "long");
        await page.goto(`${server.url}/console#/messages?topic=long&partition=0&mode=newest&n=20`);
        await page.waitForSelector("#messages-table");
        const got = await rows(page, "#messages-table");
        assert.equal(got.length, 20);
        assert.equal(got[0].split(" | ")[0], String(total - 20));
        assert.match(got[19], new RegExp(`"seq": ${total - 1}`));
        // The server counts the records each fetch handed out: the 20 shown, not the partition.
        assert.equal(await recordsOut(server, "long") - before, 20);
      });

      await t.step("signing out forgets the token", async () => {
        // The refusals and the dropped connection of the steps above are the only errors.
        await page.click("#sign-out");
        await page.waitForSelector("form.login");
        assert.deepEqual(pageErrors.filter((e) => !/401|429|ERR_CONNECTION_RESET/.test(e)), []);
      });
    } finally {
      producing = false;
      await producer?.catch(() => {});
      await browser?.close();
      const code = await server.stop();
      assert.equal(code, 0, server.stderr());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
