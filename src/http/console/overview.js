// Overview: the cluster at a glance and live produce / fetch rates per topic, streamed by the server
// (GET /v1/stream/stats, one event a second); if the server refuses the stream, computed from the
// /metrics counters (sluice_records_in_total, ...) polled every 2 s.
import { ApiError, every, followStream, get, parseMetrics } from "./api.js";
import { lineChart, seriesStore } from "./chart.js";
import { bytes, errorBox, h, num, rate, table } from "./format.js";

const POLL_MS = 2000;
const COUNTERS = [
  ["sluice_records_in_total", "Produce records/s", "records"],
  ["sluice_bytes_in_total", "Produce bytes/s", "bytes"],
  ["sluice_records_out_total", "Fetch records/s", "records"],
  ["sluice_bytes_out_total", "Fetch bytes/s", "bytes"],
];

function card(label, value, id) {
  return h(
    "div",
    { class: "card", id },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
  );
}

export async function render(root, signal) {
  const [cluster, topicList, groupList] = await Promise.all([
    get("/v1/cluster", { signal }),
    get("/v1/topics", { signal }),
    get("/v1/groups", { signal }).catch((
      err,
    ) => (err instanceof ApiError ? null : Promise.reject(err))),
  ]);
  const partitions = topicList.topics.reduce((n, t) => n + t.partitions, 0);
  const live = cluster.brokers.filter((b) => b.live).length;
  root.append(
    h("h1", {}, "Overview"),
    h(
      "div",
      { class: "cards" },
      card("Mode", cluster.clusterMode ? "cluster" : "single node", "card-mode"),
      card("Brokers (live)", `${live} / ${cluster.brokers.length}`, "card-brokers"),
      card(
        "Controller",
        cluster.controller === -1 ? "none" : `node ${cluster.controller}`,
        "card-controller",
      ),
      card("Topics", num(topicList.topics.length), "card-topics"),
      card("Partitions", num(partitions), "card-partitions"),
      card(
        "Consumer groups",
        groupList === null ? "—" : `${num(groupList.groups.length)}${groupList.next ? "+" : ""}`,
        "card-groups",
      ),
    ),
    h("h2", {}, "Throughput per topic"),
  );

  const charts = COUNTERS.map(([, title, unit]) =>
    lineChart(title, {
      format: (
        v,
      ) => (unit === "bytes" ? bytes(Math.round(v)) : v < 10 ? v.toFixed(1) : num(Math.round(v))),
    })
  );
  const status = h("div", { id: "throughput-status" });
  const rates = h("div", { id: "throughput-table" });
  root.append(
    status,
    h("div", { class: "charts" }, charts.map((c) => c.element)),
    h("h2", {}, "Rates now"),
    rates,
  );

  liveStatus(status, "connecting");
  const stores = COUNTERS.map(() => seriesStore());
  /** Shows one reading: topic -> [rate per counter], at `t` (ms); `noTopics` when there are none. */
  const show = (t, now, noTopics) => {
    for (const [topic, r] of now) r.forEach((x, i) => stores[i].push(topic, t, x));
    charts.forEach((c, i) => c.update(stores[i].series()));
    const rows = [...now].sort((a, b) => a[0].localeCompare(b[0])).map(([topic, r]) => [
      h("a", { href: `#/topics/${encodeURIComponent(topic)}` }, topic),
      ...r.map((x, i) => rate(x, COUNTERS[i][2])),
    ]);
    rates.replaceChildren(
      rows.length === 0
        ? h("p", { class: "muted" }, noTopics ? "No topics yet." : "Measuring…")
        : table(
          [
            "Topic",
            "#Produce records/s",
            "#Produce bytes/s",
            "#Fetch records/s",
            "#Fetch bytes/s",
          ],
          rows,
          { id: "rates" },
        ),
    );
  };

  // Streamed: GET /v1/stream/stats pushes the rates (the server's own counters) every second, for
  // the topics this token may see. Polling /metrics only if the server refuses the stream.
  const refused = followStream(STREAM_PATH, {
    signal,
    onState: (state, err) => {
      if (state === "live") liveStatus(status, "streamed");
      else liveStatus(status, "reconnecting", err);
    },
    onEvent: (name, data) => {
      if (name !== "stats") return;
      const e = JSON.parse(data);
      const now = new Map();
      for (const x of e.topics) {
        if (x.produceRecords === null) continue; // the first reading: no rate yet
        now.set(topic(x), STREAM_FIELDS.map((f) => x[f]));
      }
      show(Date.now(), now, e.topics.length === 0 && e.topicsOmitted === 0);
    },
  });
  refused.then((err) => {
    if (err === undefined || signal.aborted) return;
    liveStatus(status, "polling", err);
    poll(signal, show, status);
  });
}

const topic = (x) => x.topic;
/** The stream's fields, in COUNTERS' order. */
const STREAM_FIELDS = ["produceRecords", "produceBytes", "fetchRecords", "fetchBytes"];
const STREAM_PATH = "/v1/stream/stats";

/** The line above the charts: where their data comes from. */
function liveStatus(status, state, err) {
  const text = {
    connecting: "Live: connecting to the server's stream…",
    streamed: "Live: streamed from the server (GET /v1/stream/stats), every second.",
    reconnecting: "Live stream interrupted; reconnecting…",
    polling: `Polling /metrics every ${POLL_MS / 1000} s: the server refused the stream` +
      (err?.message ? ` (${err.message}).` : "."),
  }[state];
  status.replaceChildren(h("p", { class: "muted", id: "live-status", "data-state": state }, text));
}

/** The fallback: rates from two successive readings of /metrics' counters, every POLL_MS. */
function poll(signal, show, status) {
  const note = h("div");
  status.append(note);
  let previous; // {t, values: Map<counter, Map<topic, value>>}
  return every(
    POLL_MS,
    signal,
    async () => {
      const text = await get("/metrics", { text: true, signal });
      const t = Date.now();
      const parsed = parseMetrics(text, COUNTERS.map(([name]) => name));
      const values = new Map();
      for (const [name] of COUNTERS) {
        values.set(name, new Map(parsed.get(name).map((s) => [s.labels.topic, s.value])));
      }
      const now = new Map(); // topic -> [rate per counter]
      if (previous !== undefined) {
        const dt = (t - previous.t) / 1000;
        COUNTERS.forEach(([name], i) => {
          for (const [topic, v] of values.get(name)) {
            const before = previous.values.get(name).get(topic) ?? 0;
            if (!now.has(topic)) now.set(topic, COUNTERS.map(() => 0));
            now.get(topic)[i] = Math.max(0, v - before) / dt;
          }
        });
      }
      previous = { t, values };
      show(t, now, values.get(COUNTERS[0][0]).size === 0);
    },
    (err) => {
      if (err === undefined) return note.replaceChildren();
      note.replaceChildren(
        err instanceof ApiError && err.status === 403
          ? h(
            "p",
            { class: "muted" },
            "Throughput needs a token with admin rights on every topic (/metrics).",
          )
          : errorBox(err),
      );
    },
  );
}
