/**
 * Bearer-token auth (API.md "Auth"): the token file's schema, the constant-time token lookup and
 * the Hono middleware that maps each route to the rights it needs.
 *
 * Token file: `{"tokens":[{"name","token","allow":[{"topic"|"group": PATTERN, "ops":[OP...]}]}]}`.
 * A PATTERN is an exact name or a prefix ending in `*` (`*` alone matches every name).
 *
 * | route                                          | needs                                    |
 * | GET /healthz, /openapi.json, /docs             | nothing (open, the token is not read)    |
 * | GET /metrics                                   | admin on topic `*`                       |
 * | POST /v1/topics                                | admin on the body's `name`               |
 * | GET /v1/topics                                 | any token; lists the topics it has a right on |
 * | GET /v1/topics/{t}                             | any op (read, write, admin) on t         |
 * | DELETE /v1/topics/{t}                          | admin on t                               |
 * | POST /v1/topics/{t}/records, .../batches       | write on t                               |
 * | GET .../records, .../stream, .../offsets       | read on t                                |
 * | POST /v1/groups/{g}/members                    | read on g and on each topic of the body  |
 * | POST /v1/groups/{g}/offsets                    | read on g and on each topic of the body  |
 * | heartbeat, member records, leave               | read on g and on each topic the member subscribed |
 * | GET /v1/groups/{g}/offsets                     | read on g and on each topic with a commit |
 * | GET /v1/groups/{g}                             | admin on g                               |
 * | any other path                                 | any token (then 404)                     |
 *
 * No or unknown token: 401 UNAUTHENTICATED with `WWW-Authenticate: Bearer`; known but lacking the
 * right: 403 FORBIDDEN. A body the route would refuse (bad JSON, wrong shape) is passed on
 * unchecked: the route answers 4xx and writes nothing, so nothing is done without a check.
 * Secrets are kept only as SHA-256 digests and never logged; a lookup compares the digest of the
 * presented token with every stored digest (timingSafeEqual, no early exit).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { MiddlewareHandler } from "hono";
import type { Broker } from "../broker/broker.ts";
import { SluiceError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { errorResponse } from "./error_handler.ts";
import { CommitBody, CreateTopicBody, JoinBody } from "./schemas.ts";

export const AUTH_OPS = ["read", "write", "admin"] as const;
export type AuthOp = typeof AUTH_OPS[number];

/** 16 characters: a guessable secret is refused at load, not discovered in production. */
export const TOKEN_CHARS_MIN = 16;
/** Bounds the per-request scan (one digest comparison per token). */
export const TOKENS_MAX = 10_000;
const RULES_MAX = 1_000;

const Pattern = z.string().min(1).max(250).regex(
  /^[^*]*\*?$/,
  "a pattern is an exact name or a prefix ending in *",
);
const Ops = z.array(z.enum(AUTH_OPS)).min(1);
const Rule = z.union([
  z.strictObject({ topic: Pattern, ops: Ops }),
  z.strictObject({ group: Pattern, ops: Ops }),
]);

const AuthFile = z.strictObject({
  tokens: z.array(z.strictObject({
    name: z.string().min(1).max(200),
    token: z.string().min(TOKEN_CHARS_MIN).max(4096),
    allow: z.array(Rule).max(RULES_MAX),
  })).min(1).max(TOKENS_MAX),
});

/** One grant: `ops` on the topics or the groups that `topic` / `group` matches. */
export type AuthRule = { topic: string; ops: AuthOp[] } | { group: string; ops: AuthOp[] };

export interface Principal {
  name: string;
  rules: readonly AuthRule[];
}

interface StoredToken extends Principal {
  digest: Uint8Array;
}

function sha256(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(text, "utf8").digest());
}

/** True when `pattern` (exact, or prefix ending in `*`) matches `name`. */
export function patternMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/** True when one of the principal's rules grants `op` on the topic or group `name`. */
export function allows(
  principal: Principal,
  kind: "topic" | "group",
  name: string,
  op: AuthOp,
): boolean {
  return principal.rules.some((rule) => {
    const pattern = kind === "topic"
      ? ("topic" in rule ? rule.topic : undefined)
      : ("group" in rule ? rule.group : undefined);
    return pattern !== undefined && rule.ops.includes(op) && patternMatches(pattern, name);
  });
}

/**
 * The loaded token file. Parses the file's text; throws INVALID_CONFIG with a message that names
 * the place of the problem but never quotes the file (it holds secrets).
 */
export class TokenSet {
  readonly #tokens: StoredToken[];

  private constructor(tokens: StoredToken[]) {
    this.#tokens = tokens;
  }

  get size(): number {
    return this.#tokens.length;
  }

  static parse(text: string): TokenSet {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      // V8's message quotes the text around the error: keep only the position.
      const at = /position (\d+)/.exec((err as Error).message);
      throw new SluiceError(
        "INVALID_CONFIG",
        `the auth file is not valid JSON${at ? ` (at position ${at[1]})` : ""}`,
      );
    }
    const parsed = AuthFile.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
      throw new SluiceError(
        "INVALID_CONFIG",
        `the auth file is invalid at ${path}: ${issue.message}`,
      );
    }
    const names = new Set<string>();
    const digests = new Set<string>();
    const tokens = parsed.data.tokens.map((t, i) => {
      if (names.has(t.name)) {
        throw new SluiceError("INVALID_CONFIG", `the auth file names "${t.name}" twice`);
      }
      names.add(t.name);
      const digest = sha256(t.token);
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      if (digests.has(hex)) {
        throw new SluiceError(
          "INVALID_CONFIG",
          `the auth file repeats a secret at tokens.${i} ("${t.name}")`,
        );
      }
      digests.add(hex);
      return { name: t.name, rules: t.allow, digest };
    });
    return new TokenSet(tokens);
  }

  /** The principal whose secret is `secret`, in time independent of which one matches. */
  authenticate(secret: string): Principal | undefined {
    return this.#byDigest(sha256(secret));
  }

  #byDigest(digest: Uint8Array): Principal | undefined {
    let found: StoredToken | undefined;
    for (const t of this.#tokens) {
      if (timingSafeEqual(digest, t.digest) && found === undefined) found = t;
    }
    return found === undefined ? undefined : { name: found.name, rules: found.rules };
  }

  /**
   * The principal named `name` whose secret has the SHA-256 digest `digest` (the same
   * constant-time scan by secret, then the name must match): how a Kafka connection's login is
   * checked again after a reload without keeping the secret itself.
   */
  authenticateDigest(name: string, digest: Uint8Array): Principal | undefined {
    const found = this.#byDigest(digest);
    return found !== undefined && found.name === name ? found : undefined;
  }

  /** True when a token is named `name` (names are configuration, not secrets). */
  hasName(name: string): boolean {
    return this.#tokens.some((t) => t.name === name);
  }
}

/**
 * A user-supplied login name as it may appear in a log: a configured token name as it is; anything
 * else (a client may put its secret in the name field) only as its length and a digest prefix, so
 * the log never holds a credential and repeated attempts can still be told apart.
 */
export function loggableName(tokens: { hasName(name: string): boolean }, name: string): string {
  if (tokens.hasName(name)) return JSON.stringify(name);
  const prefix = Array.from(sha256(name).subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
  return `(not a token name: ${name.length} characters, sha256 ${prefix.join("")}...)`;
}

/** What a Kafka connection keeps of a SASL/PLAIN login: the name and the secret's digest. */
export interface Credential {
  readonly name: string;
  readonly digest: Uint8Array;
}

/** Holds the current TokenSet; SIGHUP swaps it without a restart. */
export class Authenticator {
  #tokens: TokenSet;

  constructor(tokens: TokenSet) {
    this.#tokens = tokens;
  }

  #generation = 0;

  replace(tokens: TokenSet): void {
    this.#tokens = tokens;
    this.#generation++;
  }

  /** True when a token is named `name`. */
  hasName(name: string): boolean {
    return this.#tokens.hasName(name);
  }

  /** Bumped by every replace(): a login made before it must be checked again. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * SASL/PLAIN (the Kafka listener): the principal when `secret` is a token's secret and `name`
   * that token's name, with the credential to check it again after a reload; undefined otherwise.
   */
  authenticatePlain(
    name: string,
    secret: string,
  ): { principal: Principal; credential: Credential } | undefined {
    const credential = { name, digest: sha256(secret) };
    const principal = this.#tokens.authenticateDigest(name, credential.digest);
    return principal === undefined ? undefined : { principal, credential };
  }

  /** The credential's principal under the current tokens (its rules may have changed). */
  recheck(credential: Credential): Principal | undefined {
    return this.#tokens.authenticateDigest(credential.name, credential.digest);
  }

  /** The principal for an `Authorization` header value, undefined for none or unknown. */
  authenticate(header: string | undefined): Principal | undefined {
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    return m ? this.#tokens.authenticate(m[1]) : undefined;
  }
}

const OPEN_PATHS = new Set(["/healthz", "/openapi.json", "/docs"]);
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

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

    const s = path.split("/").slice(1).map(decodeSegment);
    const needs: Need[] = [];
    const topic = (name: string, op: AuthOp) => needs.push({ kind: "topic", name, op });
    const group = (name: string, op: AuthOp) => needs.push({ kind: "group", name, op });
    let anyOpOnTopic: string | undefined;
    let filterTopicList = false;

    if (path === "/metrics" && method === "GET") {
      topic("*", "admin");
    } else if (s[0] === "v1" && s[1] === "topics") {
      if (s.length === 2 && method === "POST") {
        const body = CreateTopicBody.safeParse(await peekJson(c.req));
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
        else if (["records", "stream", "offsets"].includes(s[5]) && method === "GET") {
          topic(s[2], "read");
        }
      }
    } else if (s[0] === "v1" && s[1] === "groups" && s.length >= 3) {
      const g = s[2];
      if (s.length === 3 && method === "GET") {
        group(g, "admin");
      } else if (s.length === 4 && s[3] === "members" && method === "POST") {
        group(g, "read");
        const body = JoinBody.safeParse(await peekJson(c.req));
        if (body.success) { for (const t of body.data.topics) topic(t, "read"); }
      } else if (s.length === 4 && s[3] === "offsets" && method === "POST") {
        group(g, "read");
        const body = CommitBody.safeParse(await peekJson(c.req));
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

    if (filterTopicList && c.res.status === 200) {
      const body = await c.res.json() as { topics: { name: string }[] };
      body.topics = body.topics.filter((t) =>
        AUTH_OPS.some((op) => allows(principal, "topic", t.name, op))
      );
      // Cleared first: the setter would otherwise copy the old Content-Length onto the new body.
      c.res = undefined;
      c.res = new Response(JSON.stringify(body), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
  };
}
