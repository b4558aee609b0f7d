/**
 * The HTTP API's zod schemas (schemas.ts), loaded on first use rather than at start-up: zod, the
 * OpenAPI extension and the schemas built from them are several MB of a server's idle RSS
 * (issue 17), and /healthz, /metrics and /console never need them.
 *
 * app.ts loads them (loadSchemas) in a middleware before any `/v1/*` handler or the auth check
 * runs, so a handler takes them synchronously with {@link schemas}; /openapi.json and /docs load
 * them with the OpenAPI document (openapi_document.ts). The first load is one dynamic import;
 * every later request finds them loaded (no promise, no allocation).
 */
import type * as Schemas from "./schemas.ts";

/** schemas.ts, as loaded. */
export type SchemaModule = typeof Schemas;

let loaded: SchemaModule | undefined;
let loading: Promise<SchemaModule> | undefined;

/** Loads schemas.ts once; every call after the first load settles resolves to the same module. */
export function loadSchemas(): Promise<SchemaModule> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  loading ??= import("./schemas.ts").then((module) => {
    loaded = module;
    return module;
  }, (err) => {
    loading = undefined; // a later request tries again
    throw err;
  });
  return loading;
}

/** True once schemas.ts is loaded. */
export function schemasLoaded(): boolean {
  return loaded !== undefined;
}

/**
 * The schemas, for a handler that runs after app.ts's `/v1/*` middleware has loaded them; throws
 * when they are not loaded (a route outside `/v1/` must await {@link loadSchemas}).
 */
export function schemas(): SchemaModule {
  if (loaded === undefined) throw new Error("the HTTP schemas are not loaded yet (loadSchemas)");
  return loaded;
}
