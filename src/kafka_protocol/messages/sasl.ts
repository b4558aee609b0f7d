/**
 * SaslHandshake (api key 17) and SaslAuthenticate (api key 36), written from Kafka's
 * SaslHandshakeRequest.json / SaslHandshakeResponse.json and SaslAuthenticateRequest.json /
 * SaslAuthenticateResponse.json.
 *
 * SaslHandshake: request mechanism; response error_code, mechanisms [string] (the enabled ones).
 * Never flexible. v0 means the client's next frame is the mechanism's raw bytes (size-prefixed, no
 * request header) and the server's answer is raw too; v1 means they travel in SaslAuthenticate.
 *
 * SaslAuthenticate: request auth_bytes; response error_code, error_message (nullable),
 * auth_bytes, session_lifetime_ms (v1+, 0: no re-authentication). v1 adds the lifetime; v2 is the
 * first flexible version.
 */

import type { MessageSchema } from "../codec.ts";

export const SASL_HANDSHAKE_REQUEST = {
  name: "SaslHandshakeRequest",
  apiKey: 17,
  validVersions: "0-1",
  flexibleVersions: "none",
  fields: [
    { name: "mechanism", type: "string", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const SASL_HANDSHAKE_RESPONSE = {
  name: "SaslHandshakeResponse",
  apiKey: 17,
  validVersions: "0-1",
  flexibleVersions: "none",
  fields: [
    { name: "errorCode", type: "int16", versions: "0+" },
    { name: "mechanisms", type: { array: "string" }, versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const SASL_AUTHENTICATE_REQUEST = {
  name: "SaslAuthenticateRequest",
  apiKey: 36,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "authBytes", type: "bytes", versions: "0+" },
  ],
} as const satisfies MessageSchema;

export const SASL_AUTHENTICATE_RESPONSE = {
  name: "SaslAuthenticateResponse",
  apiKey: 36,
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "errorCode", type: "int16", versions: "0+" },
    { name: "errorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "authBytes", type: "bytes", versions: "0+" },
    { name: "sessionLifetimeMs", type: "int64", versions: "1+", default: 0n },
  ],
} as const satisfies MessageSchema;
