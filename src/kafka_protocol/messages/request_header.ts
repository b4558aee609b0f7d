/**
 * Request and response headers, written from Kafka's RequestHeader.json / ResponseHeader.json.
 *
 * Request header v1: api_key int16, api_version int16, correlation_id int32, client_id nullable
 * string (int16 length even in v2, so an old broker can still read who sent a request it cannot
 * parse). v2 adds a tagged-field section. v0 (no client id) exists only for ControlledShutdown v0.
 *
 * Response header v0: correlation_id int32. v1 adds a tagged-field section.
 */

import { inRange, type MessageSchema } from "../codec.ts";

export const REQUEST_HEADER = {
  name: "RequestHeader",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "requestApiKey", type: "int16", versions: "0+" },
    { name: "requestApiVersion", type: "int16", versions: "0+" },
    { name: "correlationId", type: "int32", versions: "0+" },
    {
      name: "clientId",
      type: "string",
      versions: "1+",
      nullableVersions: "1+",
      flexibleVersions: "none",
      default: null,
    },
  ],
} as const satisfies MessageSchema;

export const RESPONSE_HEADER = {
  name: "ResponseHeader",
  validVersions: "0-1",
  flexibleVersions: "1+",
  fields: [{ name: "correlationId", type: "int32", versions: "0+" }],
} as const satisfies MessageSchema;

/** API key of ApiVersions, whose response header stays v0 so any client can read it. */
const API_VERSIONS_KEY = 18;

/** Header version a request of `body` at `apiVersion` carries (v2 when the body is flexible). */
export function requestHeaderVersion(body: MessageSchema, apiVersion: number): number {
  return inRange(body.flexibleVersions, apiVersion) ? 2 : 1;
}

/** Header version of the response: v1 when flexible, except ApiVersions which is always v0. */
export function responseHeaderVersion(body: MessageSchema, apiVersion: number): number {
  if (body.apiKey === API_VERSIONS_KEY) return 0;
  return inRange(body.flexibleVersions, apiVersion) ? 1 : 0;
}
