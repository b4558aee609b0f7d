/**
 * The HTTP produce baseline: a bare Hono app with one POST route, the shape of Sluice's
 * `.../partitions/{partition}/batches`, that reads the whole body and answers 200 with a JSON body
 * of the size Sluice's answer has. No middleware, no validation, no storage: what the framework
 * and the runtime's HTTP server cost per request, on the runtime this runs on (Deno.serve or
 * Bun.serve). bench/http/paired.ts runs it beside the server and alternates runs between them.
 *
 * Run: deno run -A bench/http/sink_server.ts (or bun run); prints `sink listening on URL`.
 */
import { Hono } from "hono";

const app = new Hono();
let bodies = 0;
app.post("/v1/topics/:topic/partitions/:partition/batches", async (c) => {
  const body = await c.req.arrayBuffer();
  bodies++;
  // Sluice answers {"baseOffset":N,"lastOffset":N+999}; the same size of answer here.
  return c.json({ baseOffset: bodies * 1000, lastOffset: bodies * 1000 + body.byteLength % 1000 });
});

const listening = (port: number) => console.log(`sink listening on http://127.0.0.1:${port}`);

interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request) => Response | Promise<Response>;
    maxRequestBodySize: number;
  }): { port: number };
}

const bun = (globalThis as { Bun?: BunLike }).Bun;
if (bun !== undefined) {
  const server = bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: app.fetch,
    maxRequestBodySize: 2 ** 31 - 1,
  });
  listening(server.port);
} else {
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => listening(port),
  }, app.fetch);
}
