// Messages: a partition's records from an offset, from a timestamp (the first offset at or after
// it, GET .../offsets?timestamp=) or the newest N; key, value and headers, JSON pretty-printed,
// UTF-8 text as text, anything else as hex (fetched with key/value/headerEncoding=base64). It
// reads only what it shows: fetches sized to N, stopping at N records or the high watermark.
import { get, seg } from "./api.js";
import { fieldCell, h, num, table, time } from "./format.js";

/** Records shown at most per page. */
const RECORDS_MAX = 500;
const RECORDS_DEFAULT = 20;
/** A fetch's maxBytes: about 4 KiB per record wanted, within these bounds. */
const FETCH_BYTES_MIN = 16 * 1024;
const FETCH_BYTES_MAX = 1024 * 1024;
/** Fetches per page at most (each returns at least one batch when records remain). */
const FETCHES_MAX = 32;

function clampInt(v, lo, hi, fallback) {
  const n = Number.parseInt(v ?? "", 10);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
}

/** A timestamp as typed: epoch milliseconds or a date Date.parse reads (UTC unless it says). */
function parseTimestamp(text) {
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(text.trim()) ? text.trim() : `${text.trim()}Z`;
  const ms = Date.parse(withZone);
  if (!Number.isFinite(ms)) throw new Error(`"${text}" is not a timestamp (ms or an ISO date)`);
  return ms;
}

async function readRecords(topic, partition, start, n, signal) {
  const out = [];
  let offset = start;
  let highWatermark;
  const maxBytes = Math.min(FETCH_BYTES_MAX, Math.max(FETCH_BYTES_MIN, n * 4096));
  for (let i = 0; i < FETCHES_MAX && out.length < n; i++) {
    const r = await get(
      `/v1/topics/${seg(topic)}/partitions/${partition}/records?offset=${offset}` +
        `&maxBytes=${maxBytes}&maxWaitMs=0&keyEncoding=base64&valueEncoding=base64` +
        `&headerEncoding=base64`,
      { signal },
    );
    highWatermark = r.highWatermark;
    out.push(...r.records.slice(0, n - out.length));
    offset = r.nextOffset;
    if (r.records.length === 0 || r.nextOffset >= r.highWatermark) break;
  }
  const next = out.length > 0 ? out[out.length - 1].offset + 1 : offset;
  return { records: out, next, highWatermark };
}

function link(topic, partition, mode, fields) {
  const q = new URLSearchParams({ topic, partition: String(partition), mode, ...fields });
  return `#/messages?${q}`;
}

export async function render(root, params, signal) {
  const { topics } = await get("/v1/topics", { signal });
  const names = topics.map((t) => t.name).sort();
  const topic = params.get("topic") ?? names[0] ?? "";
  const partition = clampInt(params.get("partition"), 0, 1 << 30, 0);
  const mode = ["offset", "timestamp", "newest"].includes(params.get("mode"))
    ? params.get("mode")
    : "newest";
  const count = clampInt(params.get("n"), 1, RECORDS_MAX, RECORDS_DEFAULT);
  const offsetText = params.get("offset") ?? "0";
  const timestampText = params.get("timestamp") ?? "";

  const topicSelect = h(
    "select",
    { name: "topic", id: "m-topic" },
    names.map((n) => h("option", { value: n, selected: n === topic }, n)),
  );
  const partitionInput = h("input", {
    name: "partition",
    id: "m-partition",
    type: "number",
    min: 0,
    value: partition,
  });
  const modeSelect = h(
    "select",
    { name: "mode", id: "m-mode" },
    [["newest", "newest N"], ["offset", "from offset"], ["timestamp", "from timestamp"]].map((
      [v, label],
    ) => h("option", { value: v, selected: v === mode }, label)),
  );
  const offsetInput = h("input", { name: "offset", id: "m-offset", value: offsetText, size: 10 });
  const timestampInput = h("input", {
    name: "timestamp",
    id: "m-timestamp",
    value: timestampText,
    placeholder: "2026-01-31T12:00:00 or ms",
    size: 24,
  });
  const countInput = h("input", {
    name: "n",
    id: "m-n",
    type: "number",
    min: 1,
    max: RECORDS_MAX,
    value: count,
  });
  const form = h(
    "form",
    {
      class: "inline",
      id: "messages-form",
      onsubmit: (e) => {
        e.preventDefault();
        location.hash = link(topicSelect.value, partitionInput.value, modeSelect.value, {
          offset: offsetInput.value,
          timestamp: timestampInput.value,
          n: countInput.value,
        }).slice(1);
      },
    },
    h("label", {}, "Topic", topicSelect),
    h("label", {}, "Partition", partitionInput),
    h("label", {}, "Read", modeSelect),
    h("label", {}, "Offset", offsetInput),
    h("label", {}, "Timestamp", timestampInput),
    h("label", {}, "Records", countInput),
    h("button", { type: "submit", id: "m-show" }, "Show"),
  );
  root.append(h("h1", {}, "Messages"), form);
  if (topic === "") {
    root.append(h("p", { class: "muted" }, "No topics yet."));
    return;
  }
  if (!params.has("topic")) {
    root.append(h("p", { class: "muted" }, "Pick a topic and partition."));
    return;
  }

  let start;
  let startNote;
  if (mode === "newest") {
    const d = await get(`/v1/topics/${seg(topic)}`, { signal });
    const p = d.partitions.find((x) => x.partition === partition);
    if (p === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
    start = Math.max(p.logStartOffset, p.highWatermark - count);
    startNote = `the newest (up to ${count}) of offsets ${num(p.logStartOffset)}–${
      num(p.highWatermark - 1)
    }`;
  } else if (mode === "timestamp") {
    const ts = parseTimestamp(timestampText);
    const r = await get(
      `/v1/topics/${seg(topic)}/partitions/${partition}/offsets?timestamp=${ts}`,
      { signal },
    );
    if (r.offset === null) {
      root.append(
        h("p", { class: "muted", id: "messages-empty" }, `No record at or after ${time(ts)}.`),
      );
      return;
    }
    start = r.offset;
    startNote = `from offset ${num(start)}, the first at or after ${time(ts)}`;
  } else {
    start = clampInt(offsetText, 0, Number.MAX_SAFE_INTEGER, 0);
    startNote = `from offset ${num(start)}`;
  }

  const { records, next, highWatermark } = await readRecords(
    topic,
    partition,
    start,
    count,
    signal,
  );
  root.append(
    h(
      "p",
      { class: "muted", id: "messages-summary" },
      `${records.length} records, ${startNote} (high watermark ${num(highWatermark)})`,
    ),
  );
  if (records.length > 0) {
    root.append(table(
      ["#Offset", "Timestamp", "Key", "Headers", "Value"],
      records.map((r) => [
        String(r.offset),
        time(r.timestamp),
        fieldCell(r.key),
        r.headers.length === 0 ? h("span", { class: "muted" }, "—") : h(
          "div",
          { class: "headers" },
          r.headers.map((x) =>
            h("div", {}, h("span", { class: "tag" }, x.key), fieldCell(x.value))
          ),
        ),
        fieldCell(r.value),
      ]),
      { id: "messages-table" },
    ));
  }
  if (next < highWatermark) {
    root.append(h(
      "div",
      { class: "pager" },
      h("a", {
        id: "messages-next",
        href: link(topic, partition, "offset", { offset: String(next), n: String(count) }),
      }, `next ${count} from offset ${num(next)} →`),
    ));
  }
}
