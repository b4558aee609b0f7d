/**
 * SaslHandshake and SaslAuthenticate tables (src/kafka_protocol/messages/sasl.ts): round trips of
 * every version, requests byte for byte against kafkajs's encoders, responses read back by
 * kafkajs's decoders, and hand-built flexible frames.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import kafkajsEncoder from "kafkajs/src/protocol/encoder.js";
import saslHandshakeV0 from "kafkajs/src/protocol/requests/saslHandshake/v0/request.js";
import saslHandshakeV1 from "kafkajs/src/protocol/requests/saslHandshake/v1/request.js";
import saslHandshakeResponseV0 from "kafkajs/src/protocol/requests/saslHandshake/v0/response.js";
import saslHandshakeResponseV1 from "kafkajs/src/protocol/requests/saslHandshake/v1/response.js";
import saslAuthenticateV0 from "kafkajs/src/protocol/requests/saslAuthenticate/v0/request.js";
import saslAuthenticateV1 from "kafkajs/src/protocol/requests/saslAuthenticate/v1/request.js";
import saslAuthenticateResponseV0 from "kafkajs/src/protocol/requests/saslAuthenticate/v0/response.js";
import saslAuthenticateResponseV1 from "kafkajs/src/protocol/requests/saslAuthenticate/v1/response.js";
import plainRequest from "kafkajs/src/protocol/sasl/plain/request.js";
import {
  decode,
  encode,
  type MessageSchema,
  normalize,
  type Struct,
} from "../../src/kafka_protocol/codec.ts";
import {
  SASL_AUTHENTICATE_REQUEST,
  SASL_AUTHENTICATE_RESPONSE,
  SASL_HANDSHAKE_REQUEST,
  SASL_HANDSHAKE_RESPONSE,
} from "../../src/kafka_protocol/messages/sasl.ts";
import { kafkajsFrame, ourRequestFrame, versionsOf } from "./kafka_wire_util.ts";

const PLAIN_BYTES = new TextEncoder().encode("\0app\0app-secret-0000000001");

const SAMPLES: ReadonlyArray<readonly [MessageSchema, Struct]> = [
  [SASL_HANDSHAKE_REQUEST, { mechanism: "PLAIN" }],
  [SASL_HANDSHAKE_RESPONSE, { errorCode: 33, mechanisms: ["PLAIN", "SCRAM-SHA-256"] }],
  [SASL_AUTHENTICATE_REQUEST, { authBytes: PLAIN_BYTES }],
  [SASL_AUTHENTICATE_RESPONSE, {
    errorCode: 58,
    errorMessage: "Authentication failed",
    authBytes: Uint8Array.from([1, 2, 3]),
    sessionLifetimeMs: 3_600_000n,
  }],
  [SASL_AUTHENTICATE_RESPONSE, {
    errorCode: 0,
    errorMessage: null,
    authBytes: new Uint8Array(0),
    sessionLifetimeMs: 0n,
  }],
];

// deno-lint-ignore no-explicit-any
type ResponseModule = { decode(raw: Buffer): Promise<any>; parse(data: any): Promise<any> };

Deno.test("sasl messages round trip every version", async (t) => {
  for (const [schema, value] of SAMPLES) {
    for (const version of versionsOf(schema)) {
      await t.step(`${schema.name} v${version}`, () => {
        const bytes = encode(schema, version, value);
        const decoded = decode(schema, version, bytes);
        assert.deepEqual(decoded, normalize(schema, version, value));
        assert.deepEqual(encode(schema, version, decoded), bytes);
        for (let n = 0; n < bytes.length; n++) {
          assert.throws(() => decode(schema, version, bytes.subarray(0, n)));
        }
      });
    }
  }
});

Deno.test("sasl requests match kafkajs request frames byte for byte", async (t) => {
  for (const [version, factory] of [[0, saslHandshakeV0], [1, saslHandshakeV1]] as const) {
    await t.step(`SaslHandshakeRequest v${version}`, async () => {
      const theirs = await kafkajsFrame(factory({ mechanism: "PLAIN" }));
      assert.deepEqual(
        ourRequestFrame(SASL_HANDSHAKE_REQUEST, version, { mechanism: "PLAIN" }),
        theirs,
      );
    });
  }
  for (const [version, factory] of [[0, saslAuthenticateV0], [1, saslAuthenticateV1]] as const) {
    await t.step(`SaslAuthenticateRequest v${version} (kafkajs's PLAIN message)`, async () => {
      // kafkajs's PLAIN authenticator hands SaslAuthenticate its message already length-prefixed.
      const authBytes = await plainRequest({ username: "app", password: "app-secret-0000000001" })
        .encode();
      const theirs = await kafkajsFrame(factory({ authBytes }));
      assert.deepEqual(
        ourRequestFrame(SASL_AUTHENTICATE_REQUEST, version, { authBytes: PLAIN_BYTES }),
        theirs,
      );
    });
  }
});

Deno.test("sasl responses are read back by kafkajs decoders", async (t) => {
  const read = async (m: unknown, bytes: Uint8Array) => {
    const mod = m as ResponseModule;
    return await mod.parse(await mod.decode(Buffer.from(bytes)));
  };
  for (const [version, m] of [[0, saslHandshakeResponseV0], [1, saslHandshakeResponseV1]]) {
    await t.step(`SaslHandshakeResponse v${version}`, async () => {
      const ok = encode(SASL_HANDSHAKE_RESPONSE, version as number, {
        errorCode: 0,
        mechanisms: ["PLAIN"],
      });
      assert.deepEqual((await read(m, ok)).enabledMechanisms, ["PLAIN"]);
      const refused = encode(SASL_HANDSHAKE_RESPONSE, version as number, {
        errorCode: 33,
        mechanisms: ["PLAIN"],
      });
      await assert.rejects(() => read(m, refused), /mechanism/i);
    });
  }
  for (
    const [version, m] of [[0, saslAuthenticateResponseV0], [1, saslAuthenticateResponseV1]]
  ) {
    await t.step(`SaslAuthenticateResponse v${version}`, async () => {
      const ok = encode(SASL_AUTHENTICATE_RESPONSE, version as number, {
        errorCode: 0,
        errorMessage: null,
        authBytes: new Uint8Array(0),
        sessionLifetimeMs: 0n,
      });
      const theirs = await read(m, ok);
      assert.equal(theirs.errorCode, 0);
      if (version === 1) assert.equal(theirs.sessionLifetimeMs, "0");
      const failed = encode(SASL_AUTHENTICATE_RESPONSE, version as number, {
        errorCode: 58,
        errorMessage: "Authentication failed: Invalid username or password",
        authBytes: new Uint8Array(0),
        sessionLifetimeMs: 0n,
      });
      await assert.rejects(() => read(m, failed), /auth/i);
    });
  }
});

Deno.test("sasl messages: flexible v2 and the kafkajs encoder's bytes", () => {
  // SaslAuthenticateRequest v2: compact bytes (length + 1), then an empty tagged-field section.
  const bytes = encode(SASL_AUTHENTICATE_REQUEST, 2, { authBytes: Uint8Array.from([0, 97]) });
  assert.deepEqual([...bytes], [3, 0, 97, 0]);
  // v0/v1: int32 length.
  assert.deepEqual(
    [...encode(SASL_AUTHENTICATE_REQUEST, 1, { authBytes: Uint8Array.from([0, 97]) })],
    [0, 0, 0, 2, 0, 97],
  );
  // SaslAuthenticateResponse v2: int16, compact nullable string (0 = null), compact bytes, int64,
  // tags.
  assert.deepEqual(
    [...encode(SASL_AUTHENTICATE_RESPONSE, 2, {
      errorCode: 0,
      errorMessage: null,
      authBytes: new Uint8Array(0),
      sessionLifetimeMs: 0n,
    })],
    [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  );
  // SaslHandshakeRequest is never flexible: an int16-length string.
  const theirs = new kafkajsEncoder().writeString("PLAIN").buffer;
  assert.deepEqual(
    encode(SASL_HANDSHAKE_REQUEST, 1, { mechanism: "PLAIN" }),
    new Uint8Array(theirs),
  );
});
