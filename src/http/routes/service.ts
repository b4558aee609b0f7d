/**
 * Service routes: an index at `/`, health, Prometheus metrics, the OpenAPI document and a page
 * that renders it (every path with its parameters and request body).
 */
import type { AppContext } from "../app.ts";
import { jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import type { SchemaModule } from "../schema_loader.ts";

export const OPENAPI_INFO = {
  openapi: "3.0.3",
  info: {
    title: "Sluice HTTP API",
    version: "1",
    description: "Topics, produce and fetch over Kafka RecordBatch v2 logs.",
  },
};

/** What `GET /` points at: where to start. */
const INDEX = {
  service: "sluice",
  links: {
    console: "/console",
    docs: "/docs",
    openapi: "/openapi.json",
    topics: "/v1/topics",
    groups: "/v1/groups",
    cluster: "/v1/cluster",
    health: "/healthz",
    metrics: "/metrics",
  },
};

/** How deep /docs spells out a body's nested objects before naming them. */
const DOCS_SCHEMA_DEPTH = 4;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  nullable?: boolean;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

interface OpenApiDoc {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** A schema as one line of TypeScript-like text: `{name: string, partitions?: integer}`. */
function describeSchema(schema: Schema | undefined, doc: OpenApiDoc, depth: number): string {
  if (schema === undefined) return "any";
  if (schema.$ref !== undefined) {
    const name = schema.$ref.split("/").pop() ?? schema.$ref;
    const target = doc.components?.schemas?.[name];
    return depth > 0 && target !== undefined ? describeSchema(target, doc, depth) : name;
  }
  const union = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  let text: string;
  if (union !== undefined) {
    text = union.map((s) => describeSchema(s, doc, depth)).join(schema.allOf ? " & " : " | ");
  } else if (schema.enum !== undefined) {
    text = schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  } else if (schema.type === "array") {
    const item = describeSchema(schema.items, doc, depth - 1);
    text = /[ |]/.test(item) && !item.startsWith("{") ? `(${item})[]` : `${item}[]`;
  } else if (schema.type === "object" || schema.properties !== undefined) {
    if (schema.properties === undefined || depth <= 0) text = "object";
    else {
      const required = new Set(schema.required ?? []);
      text = `{${
        Object.entries(schema.properties).map(([k, v]) =>
          `${k}${required.has(k) ? "" : "?"}: ${describeSchema(v, doc, depth - 1)}`
        ).join(", ")
      }}`;
    }
  } else if (schema.type === "string" && schema.format === "binary") {
    text = "bytes";
  } else {
    text = schema.type ?? "any";
  }
  return schema.nullable ? `${text} | null` : text;
}

/**
 * A self-contained page (no CDN): every path, method, summary, parameter, request body and success
 * answer.
 */
export function docsPage(doc: OpenApiDoc): string {
  const rows: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).map((p) =>
        `${p.name} (${p.in}${p.required ? "" : ", optional"})`
      ).join(", ");
      const bodies = Object.entries(op.requestBody?.content ?? {}).map(([type, c]) =>
        `<code>${escapeHtml(type)}</code>: <code>${
          escapeHtml(describeSchema(c.schema, doc, DOCS_SCHEMA_DEPTH))
        }</code>`
      ).join("<br>");
      // The success answer: the first 2xx response with a body.
      const ok = Object.entries(op.responses ?? {}).find(([status, r]) =>
        status.startsWith("2") && r.content !== undefined
      );
      const answer = ok === undefined
        ? ""
        : `${ok[0]} ${
          Object.entries(ok[1].content ?? {}).map(([type, c]) =>
            `<code>${escapeHtml(type)}</code>: <code>${
              escapeHtml(describeSchema(c.schema, doc, DOCS_SCHEMA_DEPTH))
            }</code>`
          ).join("<br>")
        }`;
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${
          escapeHtml(path)
        }</code></td><td>${escapeHtml(op.summary ?? "")}</td><td>${
          escapeHtml(params)
        }</td><td>${bodies}</td><td>${answer}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sluice API</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left;
vertical-align:top;border-bottom:1px solid #ddd}</style></head><body>
<h1>Sluice HTTP API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors are
<code>{"error": {"code", "message"}}</code>; <code>?</code> marks an optional field.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th><th>request body</th><th>answer</th></tr>
${rows.join("\n")}</table></body></html>`;
}

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeServiceRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "get",
    path: "/",
    summary: "Where to start: links to the docs, the OpenAPI document, topics, groups, health",
    responses: { 200: jsonResponse(s.IndexResponse, "the index") },
  });
  r.registerPath({
    method: "get",
    path: "/healthz",
    summary: "Liveness: 200 while the server runs",
    responses: { 200: jsonResponse(s.HealthResponse, "the server is up") },
  });
  r.registerPath({
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (text format 0.0.4); with --auth it needs admin on topic *",
    responses: {
      200: {
        description: "the metrics",
        content: { "text/plain": { schema: s.MetricsText } },
      },
    },
  });
}

/**
 * The OpenAPI document, built (with the schemas it is made of) on the first request for it and
 * kept: a server nobody asks for its docs never loads them (schema_loader.ts).
 */
async function openApiDocument(): Promise<unknown> {
  return await (await import("../openapi_document.ts")).openApiDocument();
}

export function registerServiceRoutes({ app, broker, metrics }: AppContext): void {
  app.get("/", (c) => c.json(INDEX));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get(
    "/metrics",
    (c) => c.text(metrics.render(broker), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.get("/openapi.json", async (c) => c.json(await openApiDocument()));
  app.get("/docs", async (c) => c.html(docsPage(await openApiDocument() as OpenApiDoc)));
}
