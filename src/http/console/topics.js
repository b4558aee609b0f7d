// Topics: the list (a page of names with partitions, records and sizes, described only for the
// rows shown) and one topic's page (each partition's log start, high watermark, size, state,
// leader and ISR; the topic's effective configs, its own overrides marked).
import { get, mapBounded, seg } from "./api.js";
import { bytes, h, num, table } from "./format.js";

/** Topics shown (and described) per page of the list. */
const TOPICS_PER_PAGE = 50;
/** Descriptions fetched at once. */
const DESCRIBE_IN_FLIGHT = 4;

function sum(parts, pick) {
  return parts.reduce((n, p) => n + pick(p), 0);
}

export async function renderList(root, params, signal) {
  const { topics } = await get("/v1/topics", { signal });
  const sorted = [...topics].sort((a, b) => a.name.localeCompare(b.name));
  const filter = params.get("filter") ?? "";
  const matching = filter === "" ? sorted : sorted.filter((t) => t.name.includes(filter));
  const pages = Math.max(1, Math.ceil(matching.length / TOPICS_PER_PAGE));
  const page = Math.min(pages - 1, Math.max(0, Number(params.get("page") ?? 0) || 0));
  const shown = matching.slice(page * TOPICS_PER_PAGE, (page + 1) * TOPICS_PER_PAGE);
  const described = await mapBounded(
    shown,
    DESCRIBE_IN_FLIGHT,
    (t) => get(`/v1/topics/${seg(t.name)}`, { signal }).catch(() => null),
  );

  const search = h("input", { name: "filter", value: filter, placeholder: "name contains" });
  root.append(
    h("h1", {}, "Topics"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: (e) => {
          e.preventDefault();
          location.hash = `#/topics?filter=${encodeURIComponent(search.value)}`;
        },
      },
      h("label", {}, "Filter", search),
      h("button", { type: "submit" }, "Filter"),
    ),
  );
  if (matching.length === 0) {
    root.append(
      h("p", { class: "muted" }, topics.length === 0 ? "No topics yet." : "No topic matches."),
    );
    return;
  }
  root.append(table(
    ["Topic", "#Partitions", "#Records", "#Size", "Configs set"],
    shown.map((t, i) => {
      const d = described[i];
      const parts = d?.partitions ?? [];
      return [
        h("a", { href: `#/topics/${encodeURIComponent(t.name)}` }, t.name),
        num(t.partitions),
        d ? num(sum(parts, (p) => p.highWatermark - p.logStartOffset)) : "—",
        d ? bytes(sum(parts, (p) => p.sizeBytes)) : "—",
        d ? Object.keys(d.overrides ?? {}).join(", ") : "",
      ];
    }),
    { id: "topics-table" },
  ));
  if (pages > 1) {
    const link = (p, label) =>
      h("a", { href: `#/topics?filter=${encodeURIComponent(filter)}&page=${p}` }, label);
    root.append(h(
      "div",
      { class: "pager" },
      page > 0 ? link(page - 1, "← previous") : null,
      h(
        "span",
        { class: "muted" },
        `page ${page + 1} of ${pages} (${num(matching.length)} topics)`,
      ),
      page < pages - 1 ? link(page + 1, "next →") : null,
    ));
  }
}

export async function renderTopic(root, name, signal) {
  const [topic, cluster] = await Promise.all([
    get(`/v1/topics/${seg(name)}`, { signal }),
    get("/v1/cluster", { signal }),
  ]);
  const placement = new Map(
    (cluster.topics.find((t) => t.name === name)?.partitions ?? []).map((p) => [p.partition, p]),
  );
  const parts = topic.partitions;
  root.append(
    h("h1", {}, `Topic ${topic.name}`),
    h(
      "p",
      { class: "muted" },
      `${parts.length} partitions · ${
        num(sum(parts, (p) => p.highWatermark - p.logStartOffset))
      } records · ${bytes(sum(parts, (p) => p.sizeBytes))}`,
    ),
    h("h2", {}, "Partitions"),
    table(
      [
        "#Partition",
        "#Log start",
        "#High watermark",
        "#Records",
        "#Size",
        "State",
        "Leader",
        "ISR",
        "",
      ],
      parts.map((p) => {
        const where = placement.get(p.partition);
        return [
          String(p.partition),
          num(p.logStartOffset),
          num(p.highWatermark),
          num(p.highWatermark - p.logStartOffset),
          bytes(p.sizeBytes),
          p.state + (p.error ? ` (${p.error.code})` : ""),
          where ? String(where.leader) : "—",
          where ? where.isr.join(", ") : "—",
          h(
            "a",
            {
              href: `#/messages?topic=${
                encodeURIComponent(name)
              }&partition=${p.partition}&mode=newest`,
            },
            "messages",
          ),
        ];
      }),
      { id: "partitions-table" },
    ),
    h("h2", {}, "Configs"),
    table(
      ["Key", "Value", "Source"],
      Object.keys(topic.config).sort().map((k) => [
        k,
        String(topic.config[k]),
        Object.hasOwn(topic.overrides ?? {}, k)
          ? h("span", { class: "tag" }, "topic")
          : h("span", { class: "muted" }, "default"),
      ]),
      { id: "configs-table" },
    ),
  );
}
