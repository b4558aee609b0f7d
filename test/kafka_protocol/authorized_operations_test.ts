/**
 * Authorized operations (src/kafka_protocol/authorized_operations.ts): without authentication
 * every operation of the resource type, as Kafka without an authorizer reports (the differential
 * test compares those with Kafka 4.4); with tokens, the bits the token's rights allow.
 */
import assert from "node:assert/strict";
import type { RequestContext } from "../../src/kafka_protocol/apis.ts";
import {
  AUTHORIZED_OPERATIONS_UNKNOWN,
  clusterOperations,
  groupOperations,
  topicOperations,
} from "../../src/kafka_protocol/authorized_operations.ts";

// Kafka's AclOperation codes.
const READ = 1 << 3;
const WRITE = 1 << 4;
const CREATE = 1 << 5;
const DELETE = 1 << 6;
const ALTER = 1 << 7;
const DESCRIBE = 1 << 8;
const CLUSTER_ACTION = 1 << 9;
const DESCRIBE_CONFIGS = 1 << 10;
const ALTER_CONFIGS = 1 << 11;
const IDEMPOTENT_WRITE = 1 << 12;

function as(rules: unknown[] | null): RequestContext {
  return {
    apiVersion: 0,
    clientId: null,
    clientHost: "/127.0.0.1",
    remote: "127.0.0.1:1",
    // deno-lint-ignore no-explicit-any
    principal: rules === null ? null : { name: "t", rules: rules as any },
    // deno-lint-ignore no-explicit-any
    sasl: undefined as any,
  };
}

Deno.test("authorized operations", async (t) => {
  await t.step("not asked: INT32_MIN", () => {
    assert.equal(topicOperations(as(null), "x", false), AUTHORIZED_OPERATIONS_UNKNOWN);
    assert.equal(groupOperations(as(null), "g", false), AUTHORIZED_OPERATIONS_UNKNOWN);
    assert.equal(clusterOperations(as(null), false), AUTHORIZED_OPERATIONS_UNKNOWN);
  });

  await t.step("no authentication: Kafka's values without an authorizer", () => {
    assert.equal(topicOperations(as(null), "x", true), 3576);
    assert.equal(groupOperations(as(null), "g", true), 3400);
    assert.equal(clusterOperations(as(null), true), 8096);
  });

  await t.step("tokens: each right its operations, nothing else", () => {
    const reader = as([{ topic: "orders", ops: ["read"] }, { group: "g", ops: ["read"] }]);
    assert.equal(topicOperations(reader, "orders", true), READ | DESCRIBE | DESCRIBE_CONFIGS);
    assert.equal(topicOperations(reader, "other", true), 0);
    assert.equal(groupOperations(reader, "g", true), READ);
    assert.equal(clusterOperations(reader, true), DESCRIBE | IDEMPOTENT_WRITE);
    const writer = as([{ topic: "orders", ops: ["write"] }]);
    assert.equal(topicOperations(writer, "orders", true), WRITE | DESCRIBE | DESCRIBE_CONFIGS);
    const admin = as([{ topic: "*", ops: ["admin"] }, { group: "*", ops: ["admin"] }]);
    assert.equal(
      topicOperations(admin, "orders", true),
      CREATE | DELETE | ALTER | ALTER_CONFIGS | DESCRIBE | DESCRIBE_CONFIGS,
    );
    assert.equal(
      groupOperations(admin, "g", true),
      DESCRIBE | DELETE | DESCRIBE_CONFIGS | ALTER_CONFIGS,
    );
    assert.equal(
      clusterOperations(admin, true),
      DESCRIBE | IDEMPOTENT_WRITE | CREATE | ALTER | CLUSTER_ACTION | DESCRIBE_CONFIGS |
        ALTER_CONFIGS,
    );
  });
});
