/**
 * The web console's Brokers and topic pages against a real cluster, in headless chromium: etcd and
 * three broker processes (test/cluster/cluster_harness.ts), a topic of 3 partitions replicated 3
 * times. The Brokers page of broker 1 must list the three brokers (the controller marked) and
 * every partition's leader, epoch, replicas and ISR exactly as `GET /v1/cluster` reports them; the
 * topic's page its leaders and ISRs. Then another broker, one that leads a partition, is killed
 * (SIGKILL): reloaded until it shows it (a generous deadline, no fixed sleep), the page must drop
 * it from the brokers, from every ISR and from the leaders, and again match `GET /v1/cluster`.
 *
 * Screenshots as browser_test.ts: to SLUICE_CONSOLE_SCREENSHOTS (docs/console for the README's
 * pictures: brokers-cluster.png, brokers-cluster-killed.png) or a temporary directory. Skipped
 * without etcd or chromium (failed under SLUICE_REQUIRE_KAFKA_CLIENTS=1, as the other tests).
 */
import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { TestCluster, waitFor } from "../cluster/cluster_harness.ts";
import { announceEtcdSkip, etcdAvailable } from "../cluster/etcd_server.ts";
import { json } from "../http/server_harness.ts";

const CHROMIUM = Deno.env.get("SLUICE_CHROMIUM") ?? "/usr/bin/chromium";
/** Generous: a loaded 2-core machine running three brokers and a browser. */
const WAIT_MS = 60_000;
const TOPIC = "replicated";

announceEtcdSkip();
const chromiumAvailable = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!chromiumAvailable && Deno.env.get("SLUICE_REQUIRE_KAFKA_CLIENTS") === "1") {
  Deno.test(`chromium (${CHROMIUM}) is installed (SLUICE_REQUIRE_KAFKA_CLIENTS=1)`, () => {
    assert.fail(`chromium is missing; scripts/install-chromium.sh (as root) installs it`);
  });
} else if (!chromiumAvailable) {
  console.warn(`SKIPPED: chromium (${CHROMIUM}) is not installed; run scripts/install-chromium.sh`);
}

interface ClusterView {
  nodeId: number;
  controller: number;
  brokers: { nodeId: number; host: string; kafkaPort: number | null; httpUrl: string }[];
  topics: {
    name: string;
    partitions: {
      partition: number;
      leader: number;
      leaderEpoch: number;
      replicas: number[];
      isr: number[];
    }[];
  }[];
}

async function clusterView(url: string): Promise<ClusterView> {
  const res = await json(`${url}/v1/cluster`);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** The rows the Brokers page must show for `view` (its tables' text, cells joined by " | "). */
function expectedRows(view: ClusterView): { brokers: string[]; leaders: string[] } {
  const brokers = view.brokers.map((b) =>
    [
      String(b.nodeId),
      b.host,
      b.kafkaPort === null ? "—" : String(b.kafkaPort),
      b.httpUrl,
      "yes",
      [
        b.nodeId === view.controller ? "controller" : "",
        b.nodeId === view.nodeId ? "this broker" : "",
      ].filter((x) => x !== "").join(", "),
    ].join(" | ")
  );
  const leaders = view.topics.filter((t) => t.name === TOPIC).flatMap((t) =>
    t.partitions.map((p) =>
      [
        t.name,
        String(p.partition),
        p.leader === -1 ? "none" : String(p.leader),
        String(p.leaderEpoch),
        p.replicas.join(", "),
        p.isr.join(", ") || "empty",
      ].join(" | ")
    )
  );
  return { brokers, leaders };
}

function rows(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(
    `${selector} tbody tr`,
    (trs) =>
      trs.map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim()).join(" | ")
      ),
  );
}

/**
 * Reloads the Brokers page until it shows what `GET /v1/cluster` says at the same moment and
 * `accept` holds for that view; returns the view.
 */
async function brokersPageMatches(
  page: Page,
  url: string,
  what: string,
  accept: (view: ClusterView) => boolean,
): Promise<ClusterView> {
  let last = "";
  return await waitFor(what, async () => {
    const target = `${url}/console#/brokers`;
    if (page.url() !== target) await page.goto(target);
    else await page.reload(); // the same hash: a reload reads /v1/cluster again
    await page.waitForSelector("#leaders-table");
    const shown = {
      brokers: await rows(page, "#brokers-table"),
      leaders: await rows(page, "#leaders-table"),
    };
    const view = await clusterView(url);
    const want = expectedRows(view);
    last = JSON.stringify({ shown, want });
    if (!accept(view)) return undefined;
    const same = JSON.stringify(shown.brokers) === JSON.stringify(want.brokers) &&
      JSON.stringify(shown.leaders) === JSON.stringify(want.leaders);
    return same ? view : undefined;
  }, WAIT_MS).catch((err) => {
    throw new Error(`${err.message}\nlast: ${last}`);
  });
}

Deno.test({
  name: "console in chromium against a 3-broker cluster: brokers, leaders, ISR; a killed broker",
  ignore: !etcdAvailable || !chromiumAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sluice-console-cluster-" });
    const shots = Deno.env.get("SLUICE_CONSOLE_SCREENSHOTS") ?? `${dir}/shots`;
    await Deno.mkdir(shots, { recursive: true });
    const cluster = await TestCluster.start({ brokers: 3 });
    let browser: BrowserContext | undefined;
    try {
      const url = cluster.brokers.get(1)!.url;
      const created = await json(`${url}/v1/topics`, {
        method: "POST",
        json: { name: TOPIC, partitions: 3, replicationFactor: 3 },
      });
      assert.equal(created.status, 201, created.text);
      const full = (v: ClusterView) =>
        v.brokers.length === 3 &&
        v.topics.some((x) =>
          x.name === TOPIC && x.partitions.length === 3 &&
          x.partitions.every((p) => p.leader > 0 && p.replicas.length === 3 && p.isr.length === 3)
        );
      await waitFor(
        "3 brokers, every partition led with its 3 replicas in sync",
        async () => full(await clusterView(url)) ? true : undefined,
        WAIT_MS,
      );

      browser = await chromium.launchPersistentContext(`${dir}/profile`, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        viewport: { width: 1280, height: 760 },
      });
      const page = browser.pages()[0] ?? await browser.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(String(err)));
      const shot = (name: string) =>
        page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

      let before: ClusterView | undefined;
      await t.step("the Brokers page shows the cluster's brokers, leaders and ISR", async () => {
        before = await brokersPageMatches(page, url, "the page to match /v1/cluster", full);
        assert.match(
          await page.textContent("#cluster-summary") ?? "",
          new RegExp(`^Cluster mode · this is node 1 · controller ${before.controller}$`),
        );
        const shown = await rows(page, "#brokers-table");
        assert.deepEqual(shown.map((r) => r.split(" | ")[0]), ["1", "2", "3"]);
        const leaders = await rows(page, "#leaders-table");
        assert.equal(leaders.length, 3);
        for (const r of leaders) assert.match(r, /^replicated \| \d \| [123] \| \d+ \| .+ \| .+$/);
        // Another broker's metadata agrees (the cluster's, not only this broker's view).
        const other = cluster.brokers.get(2)!.url;
        await waitFor("broker 2's /v1/cluster to show the same leaders and ISR", async () => {
          const theirs = expectedRows(await clusterView(other)).leaders;
          return JSON.stringify(theirs) === JSON.stringify(leaders) ? true : undefined;
        }, WAIT_MS);
        await shot("brokers-cluster");
      });

      await t.step("the topic's page shows each partition's leader and ISR", async () => {
        await page.goto(`${url}/console#/topics/${TOPIC}`);
        await page.waitForSelector("#partitions-table");
        const view = await clusterView(url);
        const parts = view.topics.find((x) => x.name === TOPIC)!.partitions;
        const shown = await page.$$eval(
          "#partitions-table tbody tr",
          (trs) =>
            trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
        );
        assert.deepEqual(
          shown.map((c) => [c[0], c[6], c[7]]),
          parts.map((p) => [String(p.partition), String(p.leader), p.isr.join(", ")]),
        );
      });

      await t.step(
        "SIGKILL a leading broker: it leaves the page, the ISRs and the leaders",
        async () => {
          const leaders = before!.topics.find((x) => x.name === TOPIC)!.partitions.map((p) =>
            p.leader
          );
          const victim = leaders.find((l) => l !== 1) ?? 2;
          await cluster.killBroker(victim, "SIGKILL");
          await brokersPageMatches(
            page,
            url,
            `broker ${victim} gone from the page and every ISR`,
            (v) =>
              v.brokers.length === 2 && !v.brokers.some((b) => b.nodeId === victim) &&
              v.topics.find((x) => x.name === TOPIC)!.partitions.every((p) =>
                p.leader > 0 && p.leader !== victim && !p.isr.includes(victim) && p.isr.length === 2
              ),
          );
          const shown = await rows(page, "#brokers-table");
          assert.deepEqual(
            shown.map((r) => r.split(" | ")[0]),
            [1, 2, 3].filter((n) => n !== victim).map(String),
          );
          for (const r of await rows(page, "#leaders-table")) {
            const [, , leader, , replicas, isr] = r.split(" | ");
            assert.notEqual(leader, String(victim), r);
            assert.equal(replicas.split(", ").length, 3, `replicas unchanged: ${r}`);
            assert.ok(!isr.split(", ").includes(String(victim)), `ISR shrunk: ${r}`);
          }
          await shot("brokers-cluster-killed");
          // The topic's page too: every leader alive, every ISR without it, as /v1/cluster.
          await page.goto(`${url}/console#/topics/${TOPIC}`);
          await page.waitForSelector("#partitions-table");
          const shownParts = await page.$$eval(
            "#partitions-table tbody tr",
            (trs) =>
              trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
          );
          const parts = (await clusterView(url)).topics.find((x) => x.name === TOPIC)!.partitions;
          assert.ok(parts.every((p) => p.leader !== victim && !p.isr.includes(victim)));
          assert.deepEqual(
            shownParts.map((c) => [c[0], c[6], c[7]]),
            parts.map((p) => [String(p.partition), String(p.leader), p.isr.join(", ")]),
          );
          assert.deepEqual(pageErrors, []);
        },
      );
    } finally {
      await browser?.close();
      await cluster.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
