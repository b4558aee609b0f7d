/**
 * The `sluice` client's HTTP calls to the server's API (docs/API.md), with the global fetch()
 * that Deno and Bun both have. JSON in, JSON out; every error answer becomes a CliError with the
 * server's `{"error":{"code","message"}}`, an unreachable server CONNECTION_FAILED, a request that
 * outlives its bound REQUEST_TIMED_OUT.
 */
import type { ClientSettings } from "./config.ts";
import { CliError } from "./errors.ts";

/** A request's time beyond the server-side wait it asks for (maxWaitMs, timeoutMs). */
export const CLIENT_REQUEST_TIMEOUT_MS = 60_000;

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Server-side wait the request asks for (added to the timeout). */
  waitMs?: number;
  /** Ends the request early (the command is stopping): the call rejects with ABORTED. */
  signal?: AbortSignal;
}

export class ApiClient {
  constructor(readonly settings: ClientSettings) {}

  /** The API path with its segments encoded: path`/v1/topics/${name}`. */
  static path(strings: TemplateStringsArray, ...parts: (string | number)[]): string {
    let out = strings[0];
    parts.forEach((p, i) => out += encodeURIComponent(String(p)) + strings[i + 1]);
    return out;
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Json> {
    const url = new URL(this.settings.url + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.settings.token !== undefined) headers.authorization = `Bearer ${this.settings.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const timeout = AbortSignal.timeout(CLIENT_REQUEST_TIMEOUT_MS + (options.waitMs ?? 0));
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body,
        signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
      });
    } catch (err) {
      const e = err as Error;
      if (options.signal?.aborted) {
        throw new CliError("ABORTED", `${method} ${url.pathname}: stopped`);
      }
      if (e.name === "TimeoutError") {
        throw new CliError("REQUEST_TIMED_OUT", `${method} ${url.pathname}: no answer in time`);
      }
      throw new CliError(
        "CONNECTION_FAILED",
        `cannot reach ${this.settings.url}: ${e.message} (is the server running? --url, SLUICE_URL)`,
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (options.signal?.aborted) {
        throw new CliError("ABORTED", `${method} ${url.pathname}: stopped`);
      }
      throw new CliError(
        "CONNECTION_FAILED",
        `${method} ${url.pathname}: ${(err as Error).message}`,
      );
    }
    if (!res.ok) throw errorOf(res.status, text, method, url.pathname);
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new CliError("BAD_RESPONSE", `${method} ${url.pathname}: the answer is not JSON`);
    }
  }

  get(path: string, options?: RequestOptions): Promise<Json> {
    return this.request("GET", path, options);
  }

  post(path: string, body: unknown, options: RequestOptions = {}): Promise<Json> {
    return this.request("POST", path, { ...options, body });
  }
}

function errorOf(status: number, text: string, method: string, path: string): CliError {
  try {
    const e = JSON.parse(text)?.error;
    if (typeof e?.code === "string" && typeof e?.message === "string") {
      return new CliError(e.code, e.message, status);
    }
  } catch {
    // not the API's error shape: said below
  }
  const snippet = text.trim().slice(0, 200);
  return new CliError(
    `HTTP_${status}`,
    `${method} ${path} answered ${status}${snippet === "" ? "" : `: ${snippet}`}`,
    status,
  );
}
