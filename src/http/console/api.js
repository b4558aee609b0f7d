// The console's one door to the server: the JSON API of docs/API.md, with the token the user gave
// (sessionStorage) as a Bearer header on every call, the live statistics stream (Server-Sent
// Events, read with fetch so that it carries the same header), and a parser of /metrics'
// Prometheus text for the polling fallback.

const TOKEN_KEY = "sluice.console.token";

/** An error answer of the API: its HTTP status and its `error.code` / `error.message`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function storeToken(token) {
  if (token === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Called when an API call answers 401: app.js shows the token form. */
let onUnauthenticated = () => {};
export function whenUnauthenticated(fn) {
  onUnauthenticated = fn;
}

function authHeaders() {
  const headers = {};
  const token = storedToken();
  if (token !== "") headers.authorization = `Bearer ${token}`;
  return headers;
}

/** The ApiError of an error answer (its JSON `error` when it has one); a 401 shows the form. */
async function errorOf(res) {
  let code = `HTTP_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not a JSON error body
  }
  if (res.status === 401) onUnauthenticated(message);
  return new ApiError(res.status, code, message);
}

/** GETs a path of this server; JSON unless `text` is set. Throws ApiError on an error answer. */
export async function get(path, { text = false, signal } = {}) {
  const res = await fetch(path, { headers: authHeaders(), signal });
  if (!res.ok) throw await errorOf(res);
  return text ? await res.text() : await res.json();
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function wait(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** Reconnect delays: the server's `retry:` first, doubling while connections keep failing. */
const RECONNECT_MS_DEFAULT = 2000;
const RECONNECT_MS_MAX = 15_000;

/**
 * Follows a Server-Sent Events stream of this server until `signal` aborts, as EventSource would
 * (the same event format, `retry:`, reconnecting after a dropped connection), but with fetch():
 * EventSource cannot send the Authorization header, and a token in the URL would end up in logs
 * and the browser's history. Calls `onEvent(name, data)` for each event and `onState(state,
 * error)` with "live" once connected and "reconnecting" after a drop. Resolves with undefined once
 * `signal` aborts, or with the ApiError of an error answer: the server refused the stream (no such
 * route on an older server, 429 too many streams, 403), and the caller falls back to polling. A
 * 401 also shows the token form (as `get`).
 */
export async function followStream(path, { signal, onEvent, onState }) {
  let retryMs = RECONNECT_MS_DEFAULT;
  let failures = 0;
  while (!signal.aborted) {
    let res;
    try {
      res = await fetch(path, { headers: authHeaders(), signal, cache: "no-store" });
    } catch (err) {
      if (signal.aborted) break;
      onState("reconnecting", err);
      await wait(Math.min(RECONNECT_MS_MAX, retryMs * 2 ** failures++), signal);
      continue;
    }
    const type = res.headers.get("content-type") ?? "";
    if (!res.ok || !type.startsWith("text/event-stream")) {
      if (res.ok) {
        await res.body?.cancel();
        return new ApiError(res.status, "NOT_AN_EVENT_STREAM", `${path} is not an event stream`);
      }
      return await errorOf(res);
    }
    onState("live");
    failures = 0;
    try {
      await readEvents(res.body, onEvent, (ms) => (retryMs = ms));
    } catch (err) {
      if (signal.aborted) break;
      onState("reconnecting", err);
    }
    if (signal.aborted) break;
    onState("reconnecting");
    await wait(Math.min(RECONNECT_MS_MAX, retryMs * 2 ** failures++), signal);
  }
  return undefined;
}

/** Parses an event stream's body (the HTML standard's format) until it ends. */
async function readEvents(body, onEvent, onRetry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  let name = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    let nl;
    while ((nl = pending.search(/\r\n|\r|\n/)) >= 0) {
      if (nl === pending.length - 1 && pending[nl] === "\r") break; // "\r\n" cut in two?
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + (pending.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (data.length > 0) onEvent(name || "message", data.join("\n"));
        name = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: the server's keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let v = colon < 0 ? "" : line.slice(colon + 1);
      if (v.startsWith(" ")) v = v.slice(1);
      if (field === "event") name = v;
      else if (field === "data") data.push(v);
      else if (field === "retry" && /^\d+$/.test(v)) onRetry(Number(v));
    }
  }
}

/** A path segment, escaped. */
export function seg(s) {
  return encodeURIComponent(String(s));
}

/** Runs `fn` over `items` with at most `width` calls in flight; results in the items' order. */
export async function mapBounded(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The samples of Prometheus text whose names are in `wanted`: name -> [{labels, value}]. Other
 * families are skipped without parsing their labels.
 */
export function parseMetrics(text, wanted) {
  const out = new Map();
  for (const name of wanted) out.set(name, []);
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (m === null || !out.has(m[1])) continue;
    const labels = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    out.get(m[1]).push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** Runs `fn` now and every `ms` until `signal` aborts; a failed run shows in `onError`. */
export function every(ms, signal, fn, onError) {
  let timer;
  const tick = async () => {
    if (signal.aborted) return;
    try {
      await fn();
      onError?.(undefined);
    } catch (err) {
      if (!signal.aborted) onError?.(err);
    }
    if (!signal.aborted) timer = setTimeout(tick, ms);
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  return tick();
}
