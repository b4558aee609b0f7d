/**
 * `GET /v1/cluster` (API.md "Cluster"): the brokers, the controller, and each partition's leader,
 * leader epoch, replicas and ISR, as this broker's view of etcd has them (every broker's view is
 * the same, at most a watch delay behind). On one node: node 0 is the only broker and the
 * controller, and leads every partition it can serve. Auth: any token, and only the topics it has
 * a right on are listed (as GET /v1/topics; auth.ts).
 */
import type { z } from "@hono/zod-openapi";
import { NO_LEADER } from "../../cluster/cluster_state.ts";
import type { AppContext } from "../app.ts";
import { errorResponses, jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import type { SchemaModule } from "../schema_loader.ts";

/** The node id of a broker that is not part of a cluster (as the Kafka front answers). */
const ONE_NODE_ID = 0;

type Description = z.output<SchemaModule["ClusterDescription"]>;

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeClusterRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "get",
    path: "/v1/cluster",
    summary: "Brokers, controller, and each partition's leader and in-sync replicas",
    responses: { 200: jsonResponse(s.ClusterDescription, "the cluster"), ...errorResponses(s) },
  });
}

export function registerClusterRoutes({ app, broker }: AppContext): void {
  app.get("/v1/cluster", (c) => {
    const cluster = broker.cluster;
    if (cluster === undefined) {
      // One node (or a cluster's broker still joining: it leads nothing yet and says so).
      const url = new URL(c.req.url);
      const description: Description = {
        clusterMode: false,
        nodeId: ONE_NODE_ID,
        controller: ONE_NODE_ID,
        brokers: [{
          nodeId: ONE_NODE_ID,
          host: url.hostname,
          kafkaPort: null,
          httpUrl: url.origin,
          live: true,
        }],
        topics: broker.topics.list().map((t) => ({
          name: t.name,
          partitions: t.logs.map((log, partition) => {
            const online = log.state !== "offline";
            return {
              partition,
              leader: online ? ONE_NODE_ID : NO_LEADER,
              leaderEpoch: log.leaderEpoch,
              replicas: [ONE_NODE_ID],
              isr: online ? [ONE_NODE_ID] : [],
            };
          }),
        })),
      };
      return c.json(description);
    }
    const view = cluster.metadata;
    const description: Description = {
      clusterMode: true,
      nodeId: cluster.nodeId,
      controller: view.controller?.value.nodeId ?? -1,
      brokers: view.liveBrokerIds().map((id) => {
        const b = view.brokers.get(id)!.value;
        return {
          nodeId: b.nodeId,
          host: b.host,
          kafkaPort: b.kafkaPort,
          httpUrl: b.httpUrl ?? null,
          live: true,
        };
      }),
      topics: [...view.topics.keys()].sort().map((name) => ({
        name,
        partitions: [...(view.partitions.get(name)?.entries() ?? [])]
          .sort(([a], [b]) => a - b)
          .map(([partition, { value }]) => ({
            partition,
            leader: value.leader,
            leaderEpoch: value.leaderEpoch,
            replicas: value.replicas,
            isr: value.isr,
          })),
      })),
    };
    return c.json(description);
  });
}
