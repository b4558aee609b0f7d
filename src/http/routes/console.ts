/**
 * The web console (docs/console.md): static files served at `/console` from src/http/console/, an
 * HTML page, plain ES modules and a stylesheet, no build step. They hold no data, so they are
 * served without a token: app.ts registers these routes before the auth middleware, and the page
 * sends its token with every API call it makes. The files are read once, on the first request, and
 * kept; an unchanged file answers 304 to its ETag. A standalone binary (scripts/compile.ts) carries
 * them inside it (embedConsoleFiles).
 */
import { createHash } from "node:crypto";
import type { Hono } from "hono";
import { SluiceError } from "../../errors.ts";
import { checkoutUrl } from "../../runtime/checkout.ts";
import { readWholeFile } from "../../runtime/fs.ts";

/** The console's files: the only names served under /console/, with their content types. */
const CONSOLE_FILES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "api.js": "text/javascript; charset=utf-8",
  "chart.js": "text/javascript; charset=utf-8",
  "format.js": "text/javascript; charset=utf-8",
  "overview.js": "text/javascript; charset=utf-8",
  "topics.js": "text/javascript; charset=utf-8",
  "messages.js": "text/javascript; charset=utf-8",
  "groups.js": "text/javascript; charset=utf-8",
  "brokers.js": "text/javascript; charset=utf-8",
};

/**
 * Same-origin only: scripts and styles from these files, API calls to this server, no inline code,
 * no framing. The page draws its charts as inline SVG elements, which need no source.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  etag: string;
}

const CONSOLE_DIR = checkoutUrl("src/http/console/");

/**
 * The files built into a standalone binary (scripts/compile.ts), which has no console directory on
 * disk: name -> bytes. Empty when running from the source tree.
 */
const embedded = new Map<string, Uint8Array<ArrayBuffer>>();

/** Serves `files` (name -> contents) instead of reading src/http/console/ (scripts/compile.ts). */
export function embedConsoleFiles(files: Readonly<Record<string, Uint8Array<ArrayBuffer>>>): void {
  for (const [name, bytes] of Object.entries(files)) {
    if (Object.hasOwn(CONSOLE_FILES, name)) embedded.set(name, bytes);
  }
}

/** The names of the console's files (what scripts/compile.ts embeds). */
export function consoleFileNames(): string[] {
  return Object.keys(CONSOLE_FILES);
}

function assetOf(body: Uint8Array<ArrayBuffer>, contentType: string): Asset {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  return { body, contentType, etag };
}

function loadAsset(name: string, contentType: string): Asset {
  const built = embedded.get(name);
  if (built !== undefined) return assetOf(built, contentType);
  if (CONSOLE_DIR.protocol !== "file:") {
    throw new SluiceError(
      "NOT_FOUND",
      `the console's files are not on a local disk (${CONSOLE_DIR})`,
    );
  }
  const path = decodeURIComponent(new URL(name, CONSOLE_DIR).pathname);
  const bytes = readWholeFile(path);
  if (bytes === undefined) throw new SluiceError("NOT_FOUND", `the console's ${name} is missing`);
  return assetOf(new Uint8Array(bytes), contentType);
}

export function registerConsoleRoutes(app: Hono): void {
  const assets = new Map<string, Asset>();
  const serve = (name: string, ifNoneMatch: string | undefined): Response => {
    const contentType = CONSOLE_FILES[name];
    if (!Object.hasOwn(CONSOLE_FILES, name) || contentType === undefined) {
      throw new SluiceError("NOT_FOUND", `the console has no file ${name}`);
    }
    let asset = assets.get(name);
    if (asset === undefined) {
      asset = loadAsset(name, contentType);
      assets.set(name, asset);
    }
    const headers = {
      "content-type": asset.contentType,
      // Revalidated each time (cheap: a 304), so a new server version is picked up at once.
      "cache-control": "no-cache",
      etag: asset.etag,
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    };
    if (ifNoneMatch !== undefined && ifNoneMatch.split(/\s*,\s*/).includes(asset.etag)) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(asset.body, { status: 200, headers });
  };
  app.get("/console", (c) => serve("index.html", c.req.header("if-none-match")));
  app.get("/console/", (c) => serve("index.html", c.req.header("if-none-match")));
  app.get("/console/:file", (c) => serve(c.req.param("file"), c.req.header("if-none-match")));
}
