/**
 * DeleteRecords over HTTP (API.md "Delete records", src/http/routes/delete_records.ts) against
 * the real server: `POST .../partitions/{p}/delete-records` answers the low watermark, reads
 * below it are 416 and `earliest` starts there, -1 deletes up to the high watermark, bad input
 * writes nothing, the start survives a SIGKILL, the route is in /openapi.json, and with --auth it
 * needs the admin right on the topic.
 */
import assert from "node:assert/strict";
import { tempDir } from "../test_util.ts";
import {
  createTopic,
  describeTopic,
  expectError,
  expectStatus,
  fetchRecords,
  type Json,
  json,
  partitionUrl,
  produce,
  type RunningServer,
  startServer,
  withServer,
} from "./server_harness.ts";

function deleteUrl(server: RunningServer, topic: string, partition: number | string): string {
  return `${partitionUrl(server, topic, partition as number)}/delete-records`;
}

function deleteRecords(
  server: RunningServer,
  topic: string,
  partition: number | string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return json(deleteUrl(server, topic, partition), { method: "POST", json: body, headers });
}

/** The log start offset of each partition, from the topic's description. */
async function logStarts(server: RunningServer, topic: string): Promise<number[]> {
  const d = await describeTopic(server, topic);
  return (d.partitions as Json[]).map((p) => p.logStartOffset as number);
}

/** `count` records into `partition`, 10 a request (several batches, so several segments). */
async function fill(server: RunningServer, topic: string, partition: number, count: number) {
  for (let i = 0; i < count; i += 10) {
    await produce(server, topic, {
      records: Array.from({ length: 10 }, (_, j) => ({
        value: `${partition}-${i + j}-${"x".repeat(40)}`,
        partition,
      })),
    });
  }
}

Deno.test("HTTP delete-records", async (t) => {
  const dataDir = tempDir("sluice-http-delrec-");
  let server = await startServer({ dataDir });
  try {
    await createTopic(server, "logs", 2, { "segment.bytes": 1024 });
    await fill(server, "logs", 0, 60);
    await fill(server, "logs", 1, 20);

    await t.step("deletes before beforeOffset and answers the low watermark", async () => {
      const res = await deleteRecords(server, "logs", 0, { beforeOffset: 23 });
      expectStatus(res, 200, "delete-records");
      assert.deepEqual(res.body, { topic: "logs", partition: 0, lowWatermark: 23 });
      assert.deepEqual(await logStarts(server, "logs"), [23, 0]);
    });

    await t.step("reads below are 416; earliest starts at it", async () => {
      const below = await json(`${partitionUrl(server, "logs", 0)}/records?offset=22`);
      expectError(below, 416, "OFFSET_OUT_OF_RANGE", "fetch below the start");
      const earliest = await fetchRecords(server, "logs", 0, { offset: "earliest" });
      assert.equal(earliest.records[0].offset, 23);
      assert.equal(earliest.records[0].value, `0-23-${"x".repeat(40)}`);
      const offset = await json(`${partitionUrl(server, "logs", 0)}/offsets?timestamp=earliest`);
      expectStatus(offset, 200, "offsets earliest");
      assert.equal(offset.body.offset, 23);
    });

    await t.step("-1 deletes every committed record", async () => {
      const res = await deleteRecords(server, "logs", 1, { beforeOffset: -1 });
      expectStatus(res, 200, "delete-records -1");
      assert.deepEqual(res.body, { topic: "logs", partition: 1, lowWatermark: 20 });
      const after = await fetchRecords(server, "logs", 1, { offset: "earliest" });
      assert.deepEqual(after.records, []);
      assert.equal(after.highWatermark, 20);
    });

    await t.step("an offset at or below the start changes nothing", async () => {
      const res = await deleteRecords(server, "logs", 0, { beforeOffset: 5 });
      expectStatus(res, 200, "delete-records below");
      assert.equal(res.body.lowWatermark, 23);
    });

    await t.step("bad input is refused and writes nothing", async () => {
      const cases: [string | number, unknown, number, string][] = [
        [0, { beforeOffset: 61 }, 416, "OFFSET_OUT_OF_RANGE"],
        [0, { beforeOffset: -2 }, 400, "INVALID_REQUEST"],
        [0, { beforeOffset: 1.5 }, 400, "INVALID_REQUEST"],
        [0, { beforeOffset: "30" }, 400, "INVALID_REQUEST"],
        [0, {}, 400, "INVALID_REQUEST"],
        [0, [30], 400, "INVALID_REQUEST"],
        [2, { beforeOffset: 0 }, 404, "PARTITION_NOT_FOUND"],
        ["x", { beforeOffset: 0 }, 400, "INVALID_REQUEST"],
      ];
      for (const [partition, body, status, code] of cases) {
        const res = await deleteRecords(server, "logs", partition, body);
        expectError(res, status, code, `${JSON.stringify(body)} to partition ${partition}`);
      }
      const unknown = await deleteRecords(server, "nope", 0, { beforeOffset: 0 });
      expectError(unknown, 404, "TOPIC_NOT_FOUND", "unknown topic");
      const notJson = await json(deleteUrl(server, "logs", 0), {
        method: "POST",
        body: "{beforeOffset: 30",
        headers: { "content-type": "application/json" },
      });
      expectError(notJson, 400, "INVALID_REQUEST", "not JSON");
      assert.deepEqual(await logStarts(server, "logs"), [23, 20]);
    });

    await t.step("the route is in /openapi.json", async () => {
      const doc = await json(`${server.url}/openapi.json`);
      const path = doc.body.paths["/v1/topics/{topic}/partitions/{partition}/delete-records"];
      assert.ok(path?.post !== undefined, "POST delete-records documented");
      assert.ok(doc.body.components.schemas.DeleteRecords !== undefined);
    });

    await t.step("the start survives a SIGKILL", async () => {
      await server.stop("SIGKILL");
      server = await startServer({ dataDir });
      assert.deepEqual(await logStarts(server, "logs"), [23, 20]);
      const below = await json(`${partitionUrl(server, "logs", 0)}/records?offset=22`);
      expectError(below, 416, "OFFSET_OUT_OF_RANGE", "fetch below the start after the restart");
    });
  } finally {
    await server.stop().catch(() => {});
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("HTTP delete-records needs admin on the topic", async (t) => {
  const dir = tempDir("sluice-http-delrec-auth-");
  const authFile = `${dir}/auth.json`;
  const admin = "admin-secret-000000000001";
  const writer = "writer-secret-00000000002";
  Deno.writeTextFileSync(
    authFile,
    JSON.stringify({
      tokens: [
        { name: "admin", token: admin, allow: [{ topic: "*", ops: ["read", "write", "admin"] }] },
        { name: "writer", token: writer, allow: [{ topic: "*", ops: ["read", "write"] }] },
      ],
    }),
  );
  await withServer({ args: ["--auth", authFile] }, async (server) => {
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const created = await json(`${server.url}/v1/topics`, {
      method: "POST",
      json: { name: "guarded", partitions: 1 },
      headers: as(admin),
    });
    expectStatus(created, 201, "create");
    const produced = await json(`${server.url}/v1/topics/guarded/records`, {
      method: "POST",
      json: { records: [{ value: "a" }, { value: "b" }, { value: "c" }] },
      headers: as(writer),
    });
    expectStatus(produced, 200, "produce");

    await t.step("without a token 401, with read and write 403, nothing deleted", async () => {
      expectError(
        await deleteRecords(server, "guarded", 0, { beforeOffset: 2 }),
        401,
        "UNAUTHENTICATED",
        "no token",
      );
      expectError(
        await deleteRecords(server, "guarded", 0, { beforeOffset: 2 }, as(writer)),
        403,
        "FORBIDDEN",
        "writer",
      );
      const d = await json(`${server.url}/v1/topics/guarded`, { headers: as(admin) });
      assert.equal(d.body.partitions[0].logStartOffset, 0);
    });

    await t.step("admin deletes", async () => {
      const res = await deleteRecords(server, "guarded", 0, { beforeOffset: 2 }, as(admin));
      expectStatus(res, 200, "admin");
      assert.equal(res.body.lowWatermark, 2);
    });
  });
});
