/**
 * Topic routes: create, list, describe, delete (API.md "Topics"). In a cluster, create and delete
 * go through etcd from any broker (src/broker/broker_replication.ts) and answer once this broker's
 * view has the change; list and describe show this broker's view and its own replicas' logs.
 */
import { highWatermark } from "../../broker/fetch_reader.ts";
import type { Topic } from "../../broker/topic_registry.ts";
import { SluiceError } from "../../errors.ts";
import { PARTITIONS_DEFAULT } from "../../limits.ts";
import type { AppContext } from "../app.ts";
import { errorResponses, jsonResponse, type OpenApiRegistry } from "../openapi.ts";
import { readJson, readParams } from "../body.ts";
import { type SchemaModule, schemas } from "../schema_loader.ts";

export function describeTopic(topic: Topic) {
  return {
    name: topic.name,
    config: { ...topic.config },
    overrides: { ...topic.meta.overrides },
    partitions: topic.logs.map((log, partition) => ({
      partition,
      logStartOffset: log.logStartOffset,
      highWatermark: highWatermark(log),
      sizeBytes: log.sizeBytes,
      state: log.state,
      ...(log.failure === undefined
        ? {}
        : { error: { code: log.failure.code, message: log.failure.message } }),
      ...(log.damageCount === 0
        ? {}
        : { damage: log.damage.map((d) => ({ ...d })), damageCount: log.damageCount }),
    })),
  };
}

/** The OpenAPI descriptions of these routes (openapi_document.ts). */
export function describeTopicRoutes(r: OpenApiRegistry, s: SchemaModule): void {
  r.registerPath({
    method: "post",
    path: "/v1/topics",
    summary: "Create a topic",
    request: { body: { content: { "application/json": { schema: s.CreateTopicBody } } } },
    responses: { 201: jsonResponse(s.TopicDescription, "the topic"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "get",
    path: "/v1/topics",
    summary: "List topics",
    responses: { 200: jsonResponse(s.TopicList, "topics"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}",
    summary: "Describe a topic",
    request: { params: s.TopicParams },
    responses: { 200: jsonResponse(s.TopicDescription, "the topic"), ...errorResponses(s) },
  });

  r.registerPath({
    method: "patch",
    path: "/v1/topics/{topic}",
    summary: "Change a topic's configs or grow its partitions",
    description: "config is merged into the topic's own configs (null: back to the default); " +
      "checked whole first, so a bad key or value changes nothing (400). partitions is the new " +
      "count, more than today's (400 INVALID_PARTITIONS otherwise). Configs are applied first, " +
      "then partitions. In a cluster the change goes through etcd and every broker applies it.",
    request: {
      params: s.TopicParams,
      body: { content: { "application/json": { schema: s.PatchTopicBody } } },
    },
    responses: {
      200: jsonResponse(s.TopicDescription, "the topic as changed"),
      ...errorResponses(s),
    },
  });

  r.registerPath({
    method: "delete",
    path: "/v1/topics/{topic}",
    summary: "Delete a topic and its data",
    request: { params: s.TopicParams },
    responses: { 204: { description: "deleted" }, ...errorResponses(s) },
  });
}

export function registerTopicRoutes({ app, broker }: AppContext): void {
  app.post("/v1/topics", async (c) => {
    const body = await readJson(c, schemas().CreateTopicBody);
    const rf = body.replicationFactor;
    if (rf !== undefined && (rf < 1 || (broker.cluster === undefined && rf !== 1))) {
      throw new SluiceError(
        "INVALID_REPLICATION_FACTOR",
        broker.cluster === undefined
          ? `replication factor ${rf}: this broker is a single node (use 1)`
          : `replication factor ${rf}: must be at least 1`,
      );
    }
    const topic = await broker.createTopic(
      body.name,
      body.partitions ?? PARTITIONS_DEFAULT,
      body.config ?? {},
      { replicationFactor: rf },
    );
    return c.json(describeTopic(topic), 201);
  });

  app.get("/v1/topics", (c) =>
    c.json({
      topics: broker.topics.list().map((t) => ({ name: t.name, partitions: t.logs.length })),
    }));

  app.get("/v1/topics/:topic", (c) => {
    const { topic } = readParams(c, schemas().TopicParams);
    return c.json(describeTopic(broker.topics.get(topic)));
  });

  app.patch("/v1/topics/:topic", async (c) => {
    const { topic: name } = readParams(c, schemas().TopicParams);
    const body = await readJson(c, schemas().PatchTopicBody);
    const topic = broker.topics.get(name);
    const patch = body.config;
    const merge = (current: Readonly<Record<string, string>>) => {
      const next: Record<string, string> = { ...current };
      for (const [k, v] of Object.entries(patch ?? {})) {
        if (v === null) delete next[k];
        else next[k] = String(v);
      }
      return next;
    };
    if (body.partitions !== undefined) {
      // Both checked before either is applied: a bad count must not leave new configs behind.
      await broker.alterTopicConfig(topic.name, merge, { validateOnly: true });
      await broker.createPartitions(topic.name, body.partitions, { validateOnly: true });
    }
    if (patch !== undefined) await broker.alterTopicConfig(topic.name, merge);
    if (body.partitions !== undefined) await broker.createPartitions(topic.name, body.partitions);
    return c.json(describeTopic(broker.topics.get(topic.name)));
  });

  app.delete("/v1/topics/:topic", async (c) => {
    const { topic } = readParams(c, schemas().TopicParams);
    await broker.deleteTopic(topic);
    return c.body(null, 204);
  });
}
