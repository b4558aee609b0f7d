// Small helpers: building elements (data always goes in as text, never as HTML), formatting
// numbers and bytes, and showing a record's base64 key or value as JSON, text or hex.

/** An element: `h("td", { class: "num" }, "12")`; children are nodes or text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A table from a header row and rows of cells; a header starting with "#" is right-aligned. */
export function table(headers, rows, attrs = {}) {
  const cls = headers.map((x) => (x.startsWith("#") ? "num" : undefined));
  return h(
    "table",
    attrs,
    h(
      "thead",
      {},
      h("tr", {}, headers.map((x, i) => h("th", { class: cls[i] }, x.replace(/^#/, "")))),
    ),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: cls[i] }, c))))),
  );
}

export function errorBox(err) {
  const code = err?.code ? `${err.code}: ` : "";
  return h("p", { class: "error", role: "alert" }, `${code}${err?.message ?? err}`);
}

export function num(n) {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "—";
}

export function bytes(n) {
  if (!Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 && Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits)} ${units[u]}`;
}

export function rate(n, unit) {
  if (!Number.isFinite(n)) return "—";
  return unit === "bytes" ? `${bytes(n)}/s` : `${n.toFixed(n < 10 ? 1 : 0)}/s`;
}

export function time(ms) {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : "—";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Hex of at most `max` bytes, in groups of two, with the rest counted. */
export function hex(data, max = 512) {
  const parts = [];
  for (let i = 0; i < Math.min(data.length, max); i++) {
    parts.push(data[i].toString(16).padStart(2, "0"));
  }
  const more = data.length > max ? ` … (${data.length - max} more bytes)` : "";
  return parts.join(" ") + more;
}

/**
 * A key, value or header fetched with base64 encoding, as it is best shown: `{kind, text}` with
 * kind `null`, `json` (pretty-printed), `text` (UTF-8) or `hex` (anything else).
 */
export function decodeField(b64) {
  if (b64 === null || b64 === undefined) return { kind: "null", text: "null" };
  const data = fromBase64(b64);
  let text;
  try {
    text = utf8.decode(data);
  } catch {
    return { kind: "hex", text: hex(data) };
  }
  const t = text.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return { kind: "json", text: JSON.stringify(JSON.parse(t), null, 2) };
    } catch {
      // text that only looks like JSON
    }
  }
  return { kind: "text", text };
}

/** A decoded field as a cell: a tag naming its kind and the text in a <pre>. */
export function fieldCell(b64) {
  const f = decodeField(b64);
  if (f.kind === "null") return h("span", { class: "muted" }, "null");
  return h(
    "div",
    { class: `field ${f.kind}` },
    f.kind === "text" ? null : h("span", { class: `tag ${f.kind}` }, f.kind),
    h("pre", {}, f.text),
  );
}
