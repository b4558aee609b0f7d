/**
 * SaslHandshake and SaslAuthenticate: SASL/PLAIN with the tokens of src/security/tokens.ts (username =
 * the token's name, password = its secret). Registered only when the listener requires
 * authentication.
 *
 * SaslHandshake with PLAIN selects it; any other mechanism is UNSUPPORTED_SASL_MECHANISM with the
 * enabled list ["PLAIN"], then the connection is closed (as Kafka does). v1 is followed by
 * SaslAuthenticate; v0 by the raw PLAIN bytes in a size-prefixed frame (handled by server.ts with
 * `plainLogin` below). A PLAIN message is `authzid NUL username NUL password`; the authzid must be
 * empty or the username. A failure is SASL_AUTHENTICATION_FAILED with a message, then the
 * connection is closed. Sessions do not expire (session_lifetime_ms 0): a token removed by a
 * reload ends its connections at their next request instead (server.ts).
 */
import { type Authenticator, loggableName } from "../../security/tokens.ts";
import type { Handler, RequestContext, SaslSession } from "../apis.ts";
import { KafkaError } from "../error_codes.ts";

export const PLAIN = "PLAIN";
const MECHANISMS = [PLAIN];
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function saslHandshakeHandler(): Handler {
  return (body, { apiVersion, sasl }) => {
    const mechanism = body.mechanism as string;
    if (sasl.principal !== undefined || sasl.mechanism !== null) {
      sasl.closeAfterResponse = {
        reason: "SaslHandshake again on a connection that already did one",
        kind: "authentication_failed",
      };
      return Promise.resolve({ errorCode: KafkaError.ILLEGAL_SASL_STATE, mechanisms: MECHANISMS });
    }
    if (mechanism !== PLAIN) {
      sasl.closeAfterResponse = {
        reason: `unsupported SASL mechanism ${JSON.stringify(mechanism.slice(0, 100))}`,
        kind: "authentication_failed",
      };
      return Promise.resolve({
        errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM,
        mechanisms: MECHANISMS,
      });
    }
    sasl.mechanism = PLAIN;
    sasl.rawNext = apiVersion === 0;
    return Promise.resolve({ errorCode: KafkaError.NONE, mechanisms: MECHANISMS });
  };
}

/**
 * Checks a PLAIN message; on success sets the session's principal and returns null, otherwise
 * returns the failure's message for the client (it never holds the password).
 */
export function plainLogin(
  auth: Authenticator,
  sasl: SaslSession,
  bytes: Uint8Array,
): string | null {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return "Authentication failed: invalid SASL/PLAIN message (not UTF-8)";
  }
  const parts = text.split("\0");
  if (parts.length !== 3) {
    return "Authentication failed: invalid SASL/PLAIN message (expected authzid NUL username NUL password)";
  }
  const [authzid, username, password] = parts;
  if (authzid !== "" && authzid !== username) {
    return "Authentication failed: Client requested an authorization id that is different from username";
  }
  const login = username === "" ? undefined : auth.authenticatePlain(username, password);
  if (login === undefined) return "Authentication failed: Invalid username or password";
  sasl.principal = login.principal;
  sasl.credential = login.credential;
  sasl.generation = auth.generation;
  return null;
}

/**
 * The username of a PLAIN message as the log may show it: a token's name as it is, anything else
 * as a length and digest prefix (clients put secrets in the wrong field; see loggableName).
 */
export function plainUsername(auth: Authenticator, bytes: Uint8Array): string {
  let name = "";
  try {
    const parts = utf8.decode(bytes).split("\0");
    if (parts.length === 3) name = parts[1];
  } catch {
    // not UTF-8: logged as an empty name
  }
  return loggableName(auth, name);
}

export function saslAuthenticateHandler(auth: Authenticator): Handler {
  return (body, context: RequestContext) => {
    const sasl = context.sasl;
    const fail = (errorCode: number, errorMessage: string, reason: string) => {
      sasl.closeAfterResponse = { reason, kind: "authentication_failed" };
      return Promise.resolve({ errorCode, errorMessage, authBytes: EMPTY, sessionLifetimeMs: 0n });
    };
    if (sasl.principal !== undefined || sasl.mechanism !== PLAIN || sasl.rawNext) {
      return fail(
        KafkaError.ILLEGAL_SASL_STATE,
        "SaslAuthenticate needs a SaslHandshake v1 with PLAIN first, once per connection",
        "SaslAuthenticate out of order",
      );
    }
    const bytes = body.authBytes as Uint8Array;
    const failure = plainLogin(auth, sasl, bytes);
    if (failure !== null) {
      return fail(
        KafkaError.SASL_AUTHENTICATION_FAILED,
        failure,
        `SASL/PLAIN authentication failed for username ${plainUsername(auth, bytes)}: ${failure}`,
      );
    }
    return Promise.resolve({
      errorCode: KafkaError.NONE,
      errorMessage: null,
      authBytes: EMPTY,
      sessionLifetimeMs: 0n,
    });
  };
}
