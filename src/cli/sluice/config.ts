/**
 * Where the `sluice` client finds its server and token, each from the first place that has it:
 *
 * | setting | flag      | env          | config file key | default               |
 * | server  | --url     | SLUICE_URL   | url             | http://127.0.0.1:8080 |
 * | token   | --token   | SLUICE_TOKEN | token           | (none)                |
 *
 * The config file is `--config FILE`, else `$XDG_CONFIG_HOME/sluice/config.json` (XDG_CONFIG_HOME
 * defaulting to ~/.config) when it exists. A file named by --config that is missing, is not
 * JSON, or holds a key of the wrong type is an error (CONFIG_INVALID), as is a URL that is not
 * http(s).
 */
import { readWholeFile } from "../../runtime/fs.ts";
import { envVar } from "../../runtime/process.ts";
import type { Parsed } from "./args.ts";
import { CliError } from "./errors.ts";

export const DEFAULT_URL = "http://127.0.0.1:8080";

export interface ClientSettings {
  /** No trailing slash. */
  url: string;
  token: string | undefined;
}

function defaultConfigPath(): string | undefined {
  const xdg = envVar("XDG_CONFIG_HOME");
  if (xdg) return `${xdg}/sluice/config.json`;
  const home = envVar("HOME");
  return home ? `${home}/.config/sluice/config.json` : undefined;
}

function readConfig(path: string, required: boolean): { url?: string; token?: string } {
  let bytes: Uint8Array | undefined;
  try {
    bytes = readWholeFile(path);
  } catch (err) {
    throw new CliError("CONFIG_INVALID", `cannot read ${path}: ${(err as Error).message}`);
  }
  if (bytes === undefined) {
    if (required) throw new CliError("CONFIG_INVALID", `config file ${path} does not exist`);
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new CliError("CONFIG_INVALID", `${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError("CONFIG_INVALID", `${path} must hold a JSON object`);
  }
  const o = value as Record<string, unknown>;
  for (const key of ["url", "token"]) {
    if (o[key] !== undefined && typeof o[key] !== "string") {
      throw new CliError("CONFIG_INVALID", `${path}: "${key}" must be a string`);
    }
  }
  return { url: o.url as string | undefined, token: o.token as string | undefined };
}

export function resolveSettings(args: Parsed): ClientSettings {
  const explicit = args.get("config");
  const path = explicit ?? defaultConfigPath();
  const file = path === undefined ? {} : readConfig(path, explicit !== undefined);
  const url = args.get("url") || envVar("SLUICE_URL") || file.url || DEFAULT_URL;
  const token = args.get("token") || envVar("SLUICE_TOKEN") || file.token || undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError("CONFIG_INVALID", `"${url}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError("CONFIG_INVALID", `"${url}" is not an http:// or https:// URL`);
  }
  return { url: url.replace(/\/+$/, ""), token };
}
