// The console's one door to the server: the JSON API of docs/API.md, with the token the user gave
// (sessionStorage) as a Bearer header on every call, and a parser of /metrics' Prometheus text.

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

/** GETs a path of this server; JSON unless `text` is set. Throws ApiError on an error answer. */
export async function get(path, { text = false, signal } = {}) {
  const headers = {};
  const token = storedToken();
  if (token !== "") headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, signal });
  if (!res.ok) {
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
    throw new ApiError(res.status, code, message);
  }
  return text ? await res.text() : await res.json();
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
