/**
 * Authentication of one Kafka connection (with `auth`: SASL_PLAINTEXT, or SASL_SSL with TLS): who
 * may send a request, and the raw PLAIN message that follows a SaslHandshake v0. A refusal is a
 * {@link CloseConnection}: the server closes the connection, logging why.
 */
import type { Principal } from "../security/acl.ts";
import type { Authenticator } from "../security/tokens.ts";
import type { Api, SaslSession } from "./apis.ts";
import { plainLogin, plainUsername } from "./handlers/sasl.ts";
import type { CloseReason } from "./metrics.ts";

/** Served before authentication: ApiVersions (18), SaslHandshake (17), SaslAuthenticate (36). */
const BEFORE_AUTH_KEYS = new Set([18, 17, 36]);
/** The principal of a request before authentication: no rights at all. */
const NOBODY: Principal = { name: "", rules: [] };

/** Why a connection was closed by us: logged (and counted by kind), never sent. */
export class CloseConnection extends Error {
  constructor(readonly kind: CloseReason, message: string) {
    super(message);
  }
}

/**
 * Who may send this request: null without auth; the authenticated principal (checked again after
 * a token reload); NOBODY for the APIs served before authentication. Throws otherwise.
 */
export function principalFor(
  auth: Authenticator | undefined,
  sasl: SaslSession,
  api: Api,
): Principal | null {
  if (auth === undefined) return null;
  if (sasl.principal !== undefined && sasl.credential !== undefined) {
    if (sasl.generation !== auth.generation) {
      sasl.principal = auth.recheck(sasl.credential);
      sasl.generation = auth.generation;
      if (sasl.principal === undefined) {
        throw new CloseConnection(
          "unauthenticated",
          `the token "${sasl.credential.name}" is no longer valid (auth file reloaded)`,
        );
      }
    }
    return sasl.principal;
  }
  if (BEFORE_AUTH_KEYS.has(api.key)) return NOBODY;
  throw new CloseConnection(
    "unauthenticated",
    `${api.name} before SASL authentication (this listener requires SASL/PLAIN)`,
  );
}

/** The raw PLAIN message after SaslHandshake v0: an empty frame on success, else a close. */
export function rawPlainLogin(
  auth: Authenticator,
  sasl: SaslSession,
  frame: Uint8Array,
): Uint8Array[] {
  sasl.rawNext = false;
  const failure = plainLogin(auth, sasl, frame);
  if (failure !== null) {
    throw new CloseConnection(
      "authentication_failed",
      `SASL/PLAIN authentication failed for username ${plainUsername(auth, frame)}: ${failure}`,
    );
  }
  return [new Uint8Array(4)];
}
