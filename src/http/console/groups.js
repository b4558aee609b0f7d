// Consumer groups: the list (GET /v1/groups, a page at a time) and one group's page: its members
// and their assignments, committed offsets and lag per partition, and a live chart of the lag per
// topic, streamed by the server (GET /v1/stream/stats?group=NAME) or, if it refuses, polled every
// 2 s.
import { every, followStream, get, seg } from "./api.js";
import { lineChart, seriesStore } from "./chart.js";
import { errorBox, h, num, table } from "./format.js";

const POLL_MS = 2000;

export async function renderList(root, params, signal) {
  const after = params.get("after") ?? "";
  const { groups, next } = await get(
    `/v1/groups${after === "" ? "" : `?after=${encodeURIComponent(after)}`}`,
    { signal },
  );
  root.append(h("h1", {}, "Consumer groups"));
  if (groups.length === 0) {
    root.append(
      h("p", { class: "muted" }, after === "" ? "No consumer groups yet." : "No more groups."),
    );
    return;
  }
  root.append(table(
    ["Group", "State", "Protocol", "Type", "#Members"],
    groups.map((g) => [
      h("a", { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group),
      g.state,
      g.protocol,
      g.protocolType === "" ? "—" : g.protocolType,
      num(g.members),
    ]),
    { id: "groups-table" },
  ));
  if (next !== null && next !== undefined) {
    root.append(
      h(
        "div",
        { class: "pager" },
        h("a", { href: `#/groups?after=${encodeURIComponent(next)}` }, "next →"),
      ),
    );
  }
}

export async function renderGroup(root, name, signal) {
  const group = await get(`/v1/groups/${seg(name)}`, { signal });
  root.append(
    h("h1", {}, `Group ${group.group}`),
    h(
      "p",
      { class: "muted", id: "group-summary" },
      `${group.state} · ${group.protocol} protocol · generation ${group.generation}` +
        (group.assignor ? ` · assignor ${group.assignor}` : ""),
    ),
    h("h2", {}, "Members"),
    group.members.length === 0 ? h("p", { class: "muted" }, "No members.") : table(
      ["Member", "Kind", "Topics", "Assignment"],
      group.members.map((m) => [
        m.memberId,
        m.kind,
        (m.topics ?? []).join(", "),
        (m.assignment ?? []).map((a) => `${a.topic}-${a.partition}`).join(", ") || "—",
      ]),
      { id: "members-table" },
    ),
    h("h2", {}, "Committed offsets and lag"),
  );
  const offsetsBox = h("div", { id: "group-offsets" });
  const chart = lineChart("Lag per topic (records)", {
    format: (v) => (v % 1 === 0 ? num(v) : v.toFixed(1)),
  });
  const store = seriesStore();
  const status = h("div");
  root.append(status, offsetsBox, h("h2", {}, "Lag"), h("div", { class: "charts" }, chart.element));

  const owner = new Map();
  for (const m of group.members) {
    for (const a of m.assignment ?? []) owner.set(`${a.topic}\0${a.partition}`, m.memberId);
  }
  const show = (offsets) => {
    const t = Date.now();
    const perTopic = new Map();
    for (const o of offsets) perTopic.set(o.topic, (perTopic.get(o.topic) ?? 0) + (o.lag ?? 0));
    for (const [topic, lag] of perTopic) store.push(topic, t, lag);
    chart.update(store.series());
    // Assigned partitions without a commit yet are listed too, their offset and lag unknown.
    const rowsByKey = new Map(offsets.map((o) => [`${o.topic}\0${o.partition}`, o]));
    for (const [key] of owner) {
      if (!rowsByKey.has(key)) {
        const [topic, partition] = key.split("\0");
        rowsByKey.set(key, { topic, partition: Number(partition), offset: null, lag: null });
      }
    }
    const sorted = [...rowsByKey.values()].sort((a, b) =>
      a.topic.localeCompare(b.topic) || a.partition - b.partition
    );
    offsetsBox.replaceChildren(
      sorted.length === 0
        ? h("p", { class: "muted" }, "No committed offsets and no assignment.")
        : table(
          ["Topic", "#Partition", "#Committed offset", "#Lag", "Member"],
          sorted.map((o) => [
            h("a", { href: `#/topics/${encodeURIComponent(o.topic)}` }, o.topic),
            String(o.partition),
            o.offset === null ? "—" : num(o.offset),
            o.lag === null || o.lag === undefined ? "—" : num(o.lag),
            owner.get(`${o.topic}\0${o.partition}`) ?? "—",
          ]),
          { id: "offsets-table" },
        ),
    );
  };
  const poll = () =>
    every(
      POLL_MS,
      signal,
      async () => show((await get(`/v1/groups/${seg(name)}/offsets`, { signal })).offsets),
      (err) => note.replaceChildren(err === undefined ? "" : errorBox(err)),
    );
  const note = h("div");
  const live = (state, text) =>
    status.replaceChildren(
      h("p", { class: "muted", id: "live-status", "data-state": state }, text),
      note,
    );

  // The first table from GET .../offsets at once; then the server streams the group's lag (GET
  // /v1/stream/stats?group=NAME, every second), or, if it refuses the stream, the page polls.
  show((await get(`/v1/groups/${seg(name)}/offsets`, { signal })).offsets);
  live("connecting", "Live: connecting to the server's stream…");
  followStream(`/v1/stream/stats?group=${seg(name)}`, {
    signal,
    onState: (state) =>
      state === "live"
        ? live("streamed", "Live: streamed from the server (GET /v1/stream/stats), every second.")
        : live("reconnecting", "Live stream interrupted; reconnecting…"),
    onEvent: (event, data) => {
      if (event !== "stats") return;
      const g = JSON.parse(data).groups.find((x) => x.group === name);
      show(g?.partitions ?? []);
    },
  }).then((err) => {
    if (err === undefined || signal.aborted) return;
    live(
      "polling",
      `Polling every ${POLL_MS / 1000} s: the server refused the stream (${err.message}).`,
    );
    poll();
  });
}
