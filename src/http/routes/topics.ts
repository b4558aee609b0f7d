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
import { errorResponses, jsonResponse } from "../openapi.ts";
import { readJson, readParams } from "../body.ts";
import { CreateTopicBody, TopicDescription, TopicList, TopicParams } from "../schemas.ts";

export function describeTopic(topic: Topic) {
  return {
    name: topic.name,
    config: { ...topic.config },
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

export function registerTopicRoutes({ app, broker }: AppContext): void {
  const r = app.openAPIRegistry;
  r.registerPath({
    method: "post",
    path: "/v1/topics",
    summary: "Create a topic",
    request: { body: { content: { "application/json": { schema: CreateTopicBody } } } },
    responses: { 201: jsonResponse(TopicDescription, "the topic"), ...errorResponses },
  });
  app.post("/v1/topics", async (c) => {
    const body = await readJson(c, CreateTopicBody);
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

  r.registerPath({
    method: "get",
    path: "/v1/topics",
    summary: "List topics",
    responses: { 200: jsonResponse(TopicList, "topics"), ...errorResponses },
  });
  app.get("/v1/topics", (c) =>
    c.json({
      topics: broker.topics.list().map((t) => ({ name: t.name, partitions: t.logs.length })),
    }));

  r.registerPath({
    method: "get",
    path: "/v1/topics/{topic}",
    summary: "Describe a topic",
    request: { params: TopicParams },
    responses: { 200: jsonResponse(TopicDescription, "the topic"), ...errorResponses },
  });
  app.get("/v1/topics/:topic", (c) => {
    const { topic } = readParams(c, TopicParams);
    return c.json(describeTopic(broker.topics.get(topic)));
  });

  r.registerPath({
    method: "delete",
    path: "/v1/topics/{topic}",
    summary: "Delete a topic and its data",
    request: { params: TopicParams },
    responses: { 204: { description: "deleted" }, ...errorResponses },
  });
  app.delete("/v1/topics/:topic", async (c) => {
    const { topic } = readParams(c, TopicParams);
    await broker.deleteTopic(topic);
    return c.body(null, 204);
  });
}
