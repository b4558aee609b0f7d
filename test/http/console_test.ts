/**
 * The web console's files (src/http/routes/console.ts) as the real server serves them: the page
 * at /console and /console/, every module it imports (followed from the page's script tag through
 * each module's imports) with its content type, the security and cache headers, 304 on a matching
 * ETag, nothing outside the console's own list, and no token needed for the files of a server with
 * --auth while its API still needs one. The browser test (test/console/browser_test.ts) clicks
 * through the pages themselves.
 */
import assert from "node:assert/strict";
import { json, rawRequest, withServer } from "./server_harness.ts";

const SECRET = "console-test-secret-0000000";

/** The console's modules, found the way a browser finds them: the script tag, then imports. */
async function consoleModules(base: string): Promise<Map<string, Response>> {
  const page = await fetch(`${base}/console`);
  const html = await page.text();
  const first = html.match(/<script type="module" src="([^"]+)"><\/script>/);
  assert.ok(first, "the page loads a module");
  const seen = new Map<string, Response>();
  const queue = [first[1]];
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    const res = await fetch(`${base}${path}`);
    const text = await res.text();
    seen.set(path, res);
    assert.equal(res.status, 200, `${path}: ${text}`);
    for (const m of text.matchAll(/^import .* from "\.\/([a-z_]+\.js)";$/gm)) {
      queue.push(`/console/${m[1]}`);
    }
  }
  return seen;
}

Deno.test("console: the server serves the page and its files", async (t) => {
  await withServer({}, async (server) => {
    await t.step("/console and /console/ are the page, with CSP and no-cache", async () => {
      for (const path of ["/console", "/console/", "/console/index.html"]) {
        const res = await json(`${server.url}${path}`);
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8", path);
        assert.match(res.text, /<title>Sluice console<\/title>/);
        const csp = res.headers.get("content-security-policy") ?? "";
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, /script-src 'self'(;|$)/, "no inline or remote scripts");
        assert.match(csp, /connect-src 'self'/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.equal(res.headers.get("cache-control"), "no-cache");
        assert.match(res.headers.get("etag") ?? "", /^"[A-Za-z0-9_-]{22}"$/);
      }
    });

    await t.step("every module the page imports is served as JavaScript", async () => {
      const modules = await consoleModules(server.url);
      for (const name of ["app", "api", "format", "chart", "overview", "topics", "messages"]) {
        assert.ok(modules.has(`/console/${name}.js`), `${name}.js is imported`);
      }
      assert.ok(modules.has("/console/groups.js") && modules.has("/console/brokers.js"));
      for (const [path, res] of modules) {
        assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8", path);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      }
      const css = await json(`${server.url}/console/style.css`);
      assert.equal(css.status, 200);
      assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
      assert.match(css.text, /font-family/);
    });

    await t.step("a matching ETag answers 304 with no body; another 200", async () => {
      const first = await json(`${server.url}/console/app.js`);
      const etag = first.headers.get("etag")!;
      const again = await fetch(`${server.url}/console/app.js`, {
        headers: { "if-none-match": etag },
      });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), "");
      assert.equal(again.headers.get("etag"), etag);
      const other = await json(`${server.url}/console/app.js`, {
        headers: { "if-none-match": '"somethingelse"' },
      });
      assert.equal(other.status, 200);
      assert.equal(other.text, first.text);
      const css = await json(`${server.url}/console/style.css`);
      assert.notEqual(css.headers.get("etag"), etag, "each file has its own ETag");
    });

    await t.step("HEAD answers the headers", async () => {
      const res = await fetch(`${server.url}/console/api.js`, { method: "HEAD" });
      await res.body?.cancel();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
    });

    await t.step("only the console's own files: anything else is 404 NOT_FOUND", async () => {
      for (const path of ["/console/secret.txt", "/console/routes.ts", "/console/constructor"]) {
        const res = await json(`${server.url}${path}`);
        assert.equal(res.status, 404, path);
        assert.equal(res.body.error.code, "NOT_FOUND", path);
      }
      for (const target of ["/console/..%2fconsole.ts", "/console/%2e%2e%2f%2e%2e%2fapp.ts"]) {
        const res = await rawRequest(server, "GET", target);
        assert.equal(res.status, 404, target);
        assert.doesNotMatch(res.text, /registerConsoleRoutes|createApp/, target);
      }
    });
  });
});

Deno.test("console: with --auth the files need no token, the API still does", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sluice-console-auth-" });
  const tokenFile = `${dir}/tokens.json`;
  await Deno.writeTextFile(
    tokenFile,
    JSON.stringify({
      tokens: [{ name: "admin", token: SECRET, allow: [{ topic: "*", ops: ["read", "admin"] }] }],
    }),
  );
  try {
    await withServer({ args: ["--auth", tokenFile] }, async (server) => {
      await t.step("the page and its modules are served without a token", async () => {
        const modules = await consoleModules(server.url);
        assert.ok(modules.size >= 9, `${modules.size} modules`);
        const css = await json(`${server.url}/console/style.css`);
        assert.equal(css.status, 200);
      });
      await t.step("an unknown console file without a token is 404, not 401", async () => {
        const res = await json(`${server.url}/console/nothing.js`);
        assert.equal(res.status, 404);
      });
      await t.step(
        "the API the console calls answers 401 without the token, 200 with",
        async () => {
          for (const path of ["/v1/topics", "/v1/cluster", "/metrics"]) {
            const none = await json(`${server.url}${path}`);
            assert.equal(none.status, 401, path);
            const ok = await json(`${server.url}${path}`, {
              headers: { authorization: `Bearer ${SECRET}` },
            });
            assert.equal(ok.status, 200, path);
          }
        },
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
