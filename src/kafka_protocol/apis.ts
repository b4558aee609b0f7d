/**
 * The Kafka APIs Sluice serves: each one's key, the versions it answers (a sub-range of what its
 * tables describe), its request/response tables and its handler. ApiVersions answers from this
 * list, so what is advertised is exactly what is served.
 */
import type { Principal } from "../security/acl.ts";
import type { Credential } from "../security/tokens.ts";
import type { MessageSchema, Struct } from "./codec.ts";

/** A connection's SASL state, kept by the server and changed by the SASL handlers. */
export interface SaslSession {
  /** The mechanism a SaslHandshake chose (only "PLAIN"); null before one. */
  mechanism: string | null;
  /** Set by SaslHandshake v0: the next frame is the mechanism's raw bytes, not a request. */
  rawNext: boolean;
  /** Set once authenticated: who, and what to check again after a token reload. */
  principal: Principal | undefined;
  credential: Credential | undefined;
  /** Authenticator.generation when `principal` was last checked. */
  generation: number;
  /** Set by a handler: the connection is closed after this response, for this logged reason. */
  closeAfterResponse: { reason: string; kind: "unauthenticated" | "authentication_failed" } | null;
}

export interface RequestContext {
  apiVersion: number;
  clientId: string | null;
  /** The client's address as Kafka shows it ("/127.0.0.1": ClientHost in group membership). */
  clientHost: string;
  /** "host:port", for logs. */
  remote: string;
  /**
   * Who sent the request: the SASL-authenticated principal, or null when the listener has no
   * authentication (every request allowed). Before authentication only ApiVersions and the SASL
   * APIs are served, with a principal that has no rights.
   */
  principal: Principal | null;
  /** The connection's SASL state (the SASL handlers change it). */
  sasl: SaslSession;
  /**
   * The listener's response budget (server.ts); absent when a handler is called directly. A
   * handler that reads much (Fetch) reserves before it reads and reads no more than it got.
   */
  responseBytes?: ResponseReservation;
}

/** The bytes one response may hold in the listener's budget (KAFKA_RESPONSE_BYTES_IN_FLIGHT_MAX). */
export interface ResponseReservation {
  /**
   * Reserves up to `want` bytes for this request's response, in place of what it reserved
   * before; returns how many it got: 0 when the budget is spent. The response's actual size is
   * held once it is built, until the socket takes it.
   */
  reserve(want: number): number;
  /** False when the budget is overdrawn to its hard cap: then read nothing, not even a batch. */
  mayOverdraw(): boolean;
}

/**
 * A handler's answer: the response body (a value of the API's response table, checked by the
 * encoder), or null when none is sent (Produce with acks=0).
 */
export type Handler = (body: Struct, context: RequestContext) => Promise<object | null>;

export interface Api {
  readonly key: number;
  readonly name: string;
  /** Versions served, as a range ("3-9"). */
  readonly versions: string;
  readonly request: MessageSchema;
  readonly response: MessageSchema;
  readonly handle: Handler;
}

export class ApiRegistry {
  readonly #apis = new Map<number, Api>();

  add(api: Api): this {
    this.#apis.set(api.key, api);
    return this;
  }

  get(key: number): Api | undefined {
    return this.#apis.get(key);
  }

  /** ApiVersions' api_keys: every served API and its version range, by key. */
  supportedRanges(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return [...this.#apis.values()]
      .sort((a, b) => a.key - b.key)
      .map((api) => {
        const [lo, hi] = api.versions.split("-").map(Number);
        return { apiKey: api.key, minVersion: lo, maxVersion: hi ?? lo };
      });
  }
}
