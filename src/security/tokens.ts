/**
 * Tokens (src/security): the token file, its constant-time lookup by secret (bearer tokens on
 * HTTP, SASL/PLAIN on the Kafka listener, where the username is the token's name), and the
 * holder that a SIGHUP reload swaps. Shared by both fronts.
 *
 * Token file: `{"tokens":[{"name","token","allow":[{"topic"|"group": PATTERN, "ops":[OP...]}]}]}`.
 * Secrets are kept only as SHA-256 digests and never logged; a lookup compares the digest of the
 * presented secret with every stored digest (timingSafeEqual, no early exit).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { SluiceError } from "../errors.ts";
import { AUTH_OPS, type AuthOp, type AuthRule, type Principal } from "./acl.ts";

/** 16 characters: a guessable secret is refused at load, not discovered in production. */
export const TOKEN_CHARS_MIN = 16;
/** Bounds the per-request scan (one digest comparison per token). */
export const TOKENS_MAX = 10_000;
const RULES_MAX = 1_000;

const PATTERN = /^[^*]*\*?$/;

/** Where in the token file, and what is wrong there. */
class FileProblem extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

function kind(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/** An object with exactly the keys `keys` allows (the others refused by name). */
function objectAt(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FileProblem(path, `expected an object, received ${kind(value)}`);
  }
  const unknown = Object.keys(value).filter((k) => !keys.includes(k));
  if (unknown.length > 0) {
    throw new FileProblem(
      path,
      `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}`,
    );
  }
  return value as Record<string, unknown>;
}

function arrayAt(value: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) {
    throw new FileProblem(path, `expected an array, received ${kind(value)}`);
  }
  if (value.length < min) throw new FileProblem(path, `expected at least ${min} items`);
  if (value.length > max) throw new FileProblem(path, `expected at most ${max} items`);
  return value;
}

function stringAt(value: unknown, path: string, min: number, max: number): string {
  if (typeof value !== "string") {
    throw new FileProblem(path, `expected a string, received ${kind(value)}`);
  }
  if (value.length < min) throw new FileProblem(path, `expected at least ${min} characters`);
  if (value.length > max) throw new FileProblem(path, `expected at most ${max} characters`);
  return value;
}

function ruleAt(value: unknown, path: string): AuthRule {
  const on = typeof value === "object" && value !== null && "group" in value ? "group" : "topic";
  const rule = objectAt(value, path, [on, "ops"]);
  const pattern = stringAt(rule[on], `${path}.${on}`, 1, 250);
  if (!PATTERN.test(pattern)) {
    throw new FileProblem(`${path}.${on}`, "a pattern is an exact name or a prefix ending in *");
  }
  const ops = arrayAt(rule.ops, `${path}.ops`, 1, AUTH_OPS.length * RULES_MAX).map((op, i) => {
    if (!(AUTH_OPS as readonly unknown[]).includes(op)) {
      throw new FileProblem(`${path}.ops.${i}`, `expected one of ${AUTH_OPS.join(", ")}`);
    }
    return op as AuthOp;
  });
  return on === "group" ? { group: pattern, ops } : { topic: pattern, ops };
}

/**
 * The token file's shape, checked by hand (not zod: tokens.ts is loaded by every server's Kafka
 * listener, and zod is several MB of idle RSS, issue 17). Throws FileProblem.
 */
function checkAuthFile(raw: unknown): { name: string; token: string; allow: AuthRule[] }[] {
  const file = objectAt(raw, "(top level)", ["tokens"]);
  return arrayAt(file.tokens, "tokens", 1, TOKENS_MAX).map((t, i) => {
    const path = `tokens.${i}`;
    const token = objectAt(t, path, ["name", "token", "allow"]);
    return {
      name: stringAt(token.name, `${path}.name`, 1, 200),
      token: stringAt(token.token, `${path}.token`, TOKEN_CHARS_MIN, 4096),
      allow: arrayAt(token.allow, `${path}.allow`, 0, RULES_MAX).map((r, j) =>
        ruleAt(r, `${path}.allow.${j}`)
      ),
    };
  });
}

interface StoredToken extends Principal {
  digest: Uint8Array;
}

function sha256(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(text, "utf8").digest());
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
    let entries: ReturnType<typeof checkAuthFile>;
    try {
      entries = checkAuthFile(raw);
    } catch (err) {
      if (!(err instanceof FileProblem)) throw err;
      throw new SluiceError(
        "INVALID_CONFIG",
        `the auth file is invalid at ${err.path}: ${err.message}`,
      );
    }
    const names = new Set<string>();
    const digests = new Set<string>();
    const tokens = entries.map((t, i) => {
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
