/** Service routes: health, Prometheus metrics, the OpenAPI document and a page that renders it. */
import type { AppContext } from "../app.ts";

const OPENAPI_INFO = {
  openapi: "3.0.3",
  info: {
    title: "Sluice HTTP API",
    version: "1",
    description: "Topics, produce and fetch over Kafka RecordBatch v2 logs.",
  },
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

interface OpenApiDoc {
  paths?: Record<
    string,
    Record<string, { summary?: string; parameters?: { name: string; in: string }[] }>
  >;
}

/** A self-contained page (no CDN): every path, method, summary and parameter. */
function docsPage(doc: OpenApiDoc): string {
  const rows: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).map((p) => `${p.name} (${p.in})`).join(", ");
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${
          escapeHtml(path)
        }</code></td>` +
          `<td>${escapeHtml(op.summary ?? "")}</td><td>${escapeHtml(params)}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sluice API</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left;
vertical-align:top;border-bottom:1px solid #ddd}</style></head><body>
<h1>Sluice HTTP API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th></tr>
${rows.join("\n")}</table></body></html>`;
}

export function registerServiceRoutes({ app, broker, metrics }: AppContext): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get(
    "/metrics",
    (c) => c.text(metrics.render(broker), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.doc("/openapi.json", OPENAPI_INFO);
  app.get(
    "/docs",
    (c) => c.html(docsPage(app.getOpenAPIDocument(OPENAPI_INFO) as unknown as OpenApiDoc)),
  );
}
