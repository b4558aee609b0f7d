/**
 * Bearer-token auth on the HTTP front: the Hono middleware that maps each route to the rights it
 * needs. Tokens, their lookup and the rights themselves are the security layer's
 * (src/security/tokens.ts, src/security/acl.ts), shared with the Kafka listener.
 *
 * | route                                          | needs                                    |
 * | GET /, /healthz, /openapi.json, /docs          | nothing (open, the token is not read)    |
 * | GET /metrics                                   | admin on topic `*`                       |
 * | POST /v1/topics                                | admin on the body's `name`               |
 * | GET /v1/topics                                 | any token; lists the topics it has a right on |
 * | GET /v1/cluster                                | any token; lists the topics it has a right on |
 * | GET /v1/topics/{t}                             | any op (read, write, admin) on t         |
 * | DELETE /v1/topics/{t}                          | admin on t                               |
 * | POST /v1/topics/{t}/partitions/{p}/delete-records | admin on t                            |
 * | POST /v1/topics/{t}/records, .../batches       | write on t                               |
 * | GET .../records, .../stream, .../offsets       | read on t                                |
 * | POST /v1/groups/{g}/members                    | read on g and on each topic of the body  |
 * | POST /v1/groups/{g}/offsets                    | read on g and on each topic of the body  |
 * | heartbeat, member records, leave               | read on g and on each topic the member subscribed |
 * | GET /v1/groups/{g}/offsets                     | read on g and on each topic with a commit |
 * | GET /v1/groups                                 | any token; lists the groups it has admin on |
 * | GET /v1/groups/{g}                             | admin on g                               |
 * | DELETE /v1/groups/{g}                          | admin on g                               |
 * | PUT /v1/groups/{g}/offsets                     | admin on g, read on each topic of the body |
 * | GET /v1/stream/stats                           | any token; shows the topics and groups it may see |
 * | any other path                                 | any token (then 404)                     |
 *
 * No or unknown token: 401 UNAUTHENTICATED with `WWW-Authenticate: Bearer`; known but lacking the
 * right: 403 FORBIDDEN. A body the route would refuse (bad JSON, wrong shape) is passed on
 * unchecked: the route answers 4xx and writes nothing, so nothing is done without a check.
 *
 * In a cluster, a request forwarded to a partition's leader (forwarding.ts) carries the client's
 * Authorization header, and the leader checks it again with its own tokens.
 */
import type { MiddlewareHandler } from "hono";
import type { Broker } from "../broker/broker.ts";
import type { Logger } from "../logger.ts";
import { SluiceError } from "../errors.ts";
import { allows, AUTH_OPS, type AuthOp, type Principal } from "../security/acl.ts";
import type { Authenticator } from "../security/tokens.ts";
import { errorResponse } from "./error_handler.ts";
import { loadSchemas } from "./schema_loader.ts";

const OPEN_PATHS = new Set(["/", "/healthz", "/openapi.json", "/docs"]);
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Each authenticated request's principal, for routes that filter by it (principalOf). */
const principals = new WeakMap<Request, Principal>();

/** The token's principal of a request the middleware let through; undefined without auth. */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

type Need = { kind: "topic" | "group"; name: string; op: AuthOp };

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // as Hono's router does: the route then refuses the name
  }
}

/** The request's JSON body, or undefined when the route itself will refuse it. */
async function peekJson(req: { arrayBuffer(): Promise<ArrayBuffer> }): Promise<unknown> {
  try {
    // Hono caches the bytes: the route's readJson reads the same ones.
    return JSON.parse(utf8Strict.decode(await req.arrayBuffer()));
  } catch (err) {
    if (err instanceof SluiceError || (err as Error)?.name === "BodyLimitError") throw err;
    return undefined;
  }
}

/** The Hono middleware; mount it after bodyLimit so peeking at a body stays bounded. */
export function authMiddleware(
  auth: Authenticator,
  broker: Broker,
  logger: Logger,
): MiddlewareHandler {
  const unauthenticated = (c: Parameters<MiddlewareHandler>[0], message: string) => {
    c.header("WWW-Authenticate", 'Bearer realm="sluice"');
    return errorResponse(c, new SluiceError("UNAUTHENTICATED", message), logger);
  };
  const forbidden = (c: Parameters<MiddlewareHandler>[0], who: string, need: Need) =>
    errorResponse(
      c,
      new SluiceError(
        "FORBIDDEN",
        `token "${who}" may not ${need.op} ${need.kind} ${JSON.stringify(need.name)}`,
      ),
      logger,
    );

  /** Topics a member of `group` subscribed to; [] when it is unknown (the route answers 404). */
  const memberTopics = (group: string, member: string): string[] => {
    try {
      return broker.groups.describe(group).members.find((m) => m.memberId === member)?.topics ??
        [];
    } catch {
      return [];
    }
  };
  const committedTopics = (group: string): string[] => {
    try {
      return [...new Set(broker.groups.offsets(group).map((o) => o.topic))];
    } catch {
      return [];
    }
  };

  return async (c, next) => {
    const path = c.req.path;
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (method === "GET" && OPEN_PATHS.has(path)) return await next();

    const principal = auth.authenticate(c.req.header("authorization"));
    if (principal === undefined) {
      return c.req.header("authorization") === undefined
        ? unauthenticated(c, "this server needs Authorization: Bearer <token>")
        : unauthenticated(c, "unknown token");
    }
    principals.set(c.req.raw, principal);

    const s = path.split("/").slice(1).map(decodeSegment);
    const needs: Need[] = [];
    const topic = (name: string, op: AuthOp) => needs.push({ kind: "topic", name, op });
    const group = (name: string, op: AuthOp) => needs.push({ kind: "group", name, op });
    let anyOpOnTopic: string | undefined;
    let filterTopicList = false;
    let filterGroupList = false;

    if (path === "/metrics" && method === "GET") {
      topic("*", "admin");
    } else if (path === "/v1/cluster" && method === "GET") {
      filterTopicList = true;
    } else if (s[0] === "v1" && s[1] === "topics") {
      if (s.length === 2 && method === "POST") {
        const body = (await loadSchemas()).CreateTopicBody.safeParse(await peekJson(c.req));
        if (body.success) topic(body.data.name, "admin");
      } else if (s.length === 2 && method === "GET") {
        filterTopicList = true;
      } else if (s.length === 3 && method === "GET") {
        anyOpOnTopic = s[2];
      } else if (s.length === 3 && method === "DELETE") {
        topic(s[2], "admin");
      } else if (s.length === 4 && s[3] === "records" && method === "POST") {
        topic(s[2], "write");
      } else if (s.length === 6 && s[3] === "partitions") {
        if (s[5] === "batches" && method === "POST") topic(s[2], "write");
        else if (s[5] === "delete-records" && method === "POST") topic(s[2], "admin");
        else if (["records", "stream", "offsets"].includes(s[5]) && method === "GET") {
          topic(s[2], "read");
        }
      }
    } else if (path === "/v1/groups" && method === "GET") {
      filterGroupList = true; // as Kafka's ListGroups: the groups the token may describe
    } else if (s[0] === "v1" && s[1] === "groups" && s.length >= 3) {
      const g = s[2];
      if (s.length === 3 && (method === "GET" || method === "DELETE")) {
        group(g, "admin");
      } else if (s.length === 4 && s[3] === "offsets" && method === "PUT") {
        group(g, "admin");
        const body = (await loadSchemas()).ResetOffsetsBody.safeParse(await peekJson(c.req));
        if (body.success) { for (const o of body.data.offsets) topic(o.topic, "read"); }
      } else if (s.length === 4 && s[3] === "members" && method === "POST") {
        group(g, "read");
        const body = (await loadSchemas()).JoinBody.safeParse(await peekJson(c.req));
        if (body.success) { for (const t of body.data.topics) topic(t, "read"); }
      } else if (s.length === 4 && s[3] === "offsets" && method === "POST") {
        group(g, "read");
        const body = (await loadSchemas()).CommitBody.safeParse(await peekJson(c.req));
        if (body.success) { for (const o of body.data.offsets) topic(o.topic, "read"); }
      } else if (s.length === 4 && s[3] === "offsets" && method === "GET") {
        group(g, "read");
        for (const t of committedTopics(g)) topic(t, "read");
      } else if (
        s[3] === "members" &&
        ((s.length === 5 && method === "DELETE") ||
          (s.length === 6 && s[5] === "heartbeat" && method === "POST") ||
          (s.length === 6 && s[5] === "records" && method === "GET"))
      ) {
        group(g, "read");
        for (const t of memberTopics(g, s[4])) topic(t, "read");
      }
    }

    if (anyOpOnTopic !== undefined) {
      const name = anyOpOnTopic;
      if (!AUTH_OPS.some((op) => allows(principal, "topic", name, op))) {
        return forbidden(c, principal.name, { kind: "topic", name, op: "read" });
      }
    }
    for (const need of needs) {
      if (!allows(principal, need.kind, need.name, need.op)) {
        return forbidden(c, principal.name, need);
      }
    }
    await next();

    if ((filterTopicList || filterGroupList) && c.res.status === 200) {
      const body = await c.res.json() as {
        topics?: { name: string }[];
        groups?: { group: string }[];
      };
      if (filterTopicList) {
        body.topics = body.topics?.filter((t) =>
          AUTH_OPS.some((op) => allows(principal, "topic", t.name, op))
        );
      } else {
        body.groups = body.groups?.filter((g) => allows(principal, "group", g.group, "admin"));
      }
      // Cleared first: the setter would otherwise copy the old Content-Length onto the new body.
      c.res = undefined;
      c.res = new Response(JSON.stringify(body), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
  };
}
