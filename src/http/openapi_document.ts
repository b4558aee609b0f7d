/**
 * /openapi.json's document (and /docs' page of it), generated from the same zod schemas the
 * handlers validate with, so the docs cannot drift from the checks. Loaded, built and kept on the
 * first request for it (routes/service.ts): zod, the OpenAPI generator and the schemas are not part
 * of a server's idle memory (schema_loader.ts).
 *
 * The paths are registered in the order app.ts registers the routes.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { loadSchemas } from "./schema_loader.ts";
import { describeClusterRoutes } from "./routes/cluster.ts";
import { describeDeleteRecordsRoutes } from "./routes/delete_records.ts";
import { describeGroupRoutes } from "./routes/groups.ts";
import { describeGroupAdminRoutes } from "./routes/group_admin.ts";
import { describeRecordRoutes } from "./routes/records.ts";
import { describeServiceRoutes, OPENAPI_INFO } from "./routes/service.ts";
import { describeStatsStreamRoutes } from "./routes/stats_stream.ts";
import { describeStreamRoutes } from "./routes/stream.ts";
import { describeTopicRoutes } from "./routes/topics.ts";

let document: unknown;

/** The OpenAPI 3.0 document of every route. */
export async function openApiDocument(): Promise<unknown> {
  if (document !== undefined) return document;
  const s = await loadSchemas();
  const holder = new OpenAPIHono();
  const r = holder.openAPIRegistry;
  describeServiceRoutes(r, s);
  describeTopicRoutes(r, s);
  describeClusterRoutes(r, s);
  describeRecordRoutes(r, s);
  describeDeleteRecordsRoutes(r, s);
  describeStreamRoutes(r, s);
  describeStatsStreamRoutes(r, s);
  describeGroupRoutes(r, s);
  describeGroupAdminRoutes(r, s);
  document = holder.getOpenAPIDocument(OPENAPI_INFO);
  return document;
}
