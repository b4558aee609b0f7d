/**
 * AlterConfigs (33, v0-2) and IncrementalAlterConfigs (44, v0-1) over Kafka's wire, against a
 * Broker and its Kafka listener in process (src/kafka_protocol/handlers/alter_topics.ts,
 * src/broker/topic_overrides.ts), every version:
 * - AlterConfigs replaces a topic's whole override set: keys left out go back to their default
 *   (DescribeConfigs source DEFAULT_CONFIG again); validate_only changes nothing; an unknown key or
 *   a bad value is INVALID_CONFIG, a key twice or a null value INVALID_REQUEST, a resource named
 *   twice INVALID_REQUEST for both, and nothing changes; an unknown topic is
 *   UNKNOWN_TOPIC_OR_PARTITION; the broker's own resource INVALID_CONFIG (its settings are static),
 *   another broker or resource type INVALID_REQUEST;
 * - IncrementalAlterConfigs' SET, DELETE, APPEND and SUBTRACT, with the same refusals, and APPEND
 *   or SUBTRACT on a key that is not a list INVALID_CONFIG;
 * - a change survives a restart of the broker on the same data dir, and acts on the running log:
 *   segment.bytes lowered rolls segments on later appends, retention.ms lowered deletes old ones;
 * - with authentication, a principal without the admin right on the topic gets
 *   TOPIC_AUTHORIZATION_FAILED (on the broker's resource CLUSTER_AUTHORIZATION_FAILED), and nothing
 *   changes.
 */
import assert from "node:assert/strict";
import { DEFAULT_TOPIC_CONFIG } from "../../src/broker/topic_config.ts";
import { KafkaError } from "../../src/kafka_protocol/error_codes.ts";
import {
  ALTER_CONFIGS_REQUEST,
  ALTER_CONFIGS_RESPONSE,
  INCREMENTAL_ALTER_CONFIGS_REQUEST,
  INCREMENTAL_ALTER_CONFIGS_RESPONSE,
} from "../../src/kafka_protocol/messages/alter_configs.ts";
import { listDir } from "../../src/runtime/fs.ts";
import {
  type Any,
  call,
  configsOf,
  InProcessNode,
  loggedIn,
  offsetAt,
  produce,
  SOURCE,
} from "./alter_topics_util.ts";
import { waitFor } from "./kafka_harness.ts";
import { versionsOf } from "./kafka_wire_util.ts";

const TOPIC = 2;
const BROKER = 4;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

type Configs = [string, string | null][];

function resource(type: number, name: string, configs: Configs) {
  return {
    resourceType: type,
    resourceName: name,
    configs: configs.map(([n, v]) => ({ name: n, value: v })),
  };
}

function ops(type: number, name: string, configs: [string, number, string | null][]) {
  return {
    resourceType: type,
    resourceName: name,
    configs: configs.map(([n, op, v]) => ({ name: n, configOperation: op, value: v })),
  };
}

/** [errorCode, resourceType, resourceName] of each answer, in request order. */
function outcomes(res: Any): [number, number, string][] {
  return res.responses.map((r: Any) => [r.errorCode, r.resourceType, r.resourceName]);
}

const DEFAULT_MAX_MESSAGE = String(DEFAULT_TOPIC_CONFIG["max.message.bytes"]);
const DEFAULT_RETENTION = String(DEFAULT_TOPIC_CONFIG["retention.ms"]);
const KEYS = ["retention.ms", "max.message.bytes", "segment.bytes", "cleanup.policy"];

Deno.test("AlterConfigs over the wire, every version", async (t) => {
  const node = await InProcessNode.start();
  try {
    for (const v of versionsOf(ALTER_CONFIGS_REQUEST)) {
      const topic = `alter-v${v}`;
      const alter = (resources: Any[], validateOnly = false) =>
        call(node.port, ALTER_CONFIGS_REQUEST, ALTER_CONFIGS_RESPONSE, v, {
          resources,
          validateOnly,
        });
      const current = () => configsOf(node.port, topic, KEYS);
      await node.broker.createTopic(topic, 1, {
        "retention.ms": 3600000,
        "max.message.bytes": 65536,
      });
      const segmentDefault = String(DEFAULT_TOPIC_CONFIG["segment.bytes"]);

      await t.step(
        `v${v}: the new set replaces the old one; keys left out go back to default`,
        async () => {
          const res = await alter([
            resource(TOPIC, topic, [["retention.ms", "7200000"], ["segment.bytes", "1048576"]]),
          ]);
          assert.deepEqual(outcomes(res), [[0, TOPIC, topic]]);
          assert.equal(res.responses[0].errorMessage, null);
          assert.deepEqual(await current(), {
            "retention.ms": ["7200000", SOURCE.TOPIC],
            "max.message.bytes": [DEFAULT_MAX_MESSAGE, SOURCE.DEFAULT],
            "segment.bytes": ["1048576", SOURCE.TOPIC],
            "cleanup.policy": ["delete", SOURCE.DEFAULT],
          });
          const log = node.broker.topics.get(topic).logs[0];
          assert.equal(log.config.retentionMs, 7200000, "the running log has the new retention");
          assert.equal(log.config.segmentBytes, 1048576);
          assert.equal(log.config.maxMessageBytes, DEFAULT_TOPIC_CONFIG["max.message.bytes"]);
        },
      );

      // The state every refusal below must leave as it is.
      const before = await current();

      await t.step(`v${v}: validate_only checks and changes nothing`, async () => {
        const ok = await alter([resource(TOPIC, topic, [["retention.ms", "1000"]])], true);
        assert.deepEqual(outcomes(ok), [[0, TOPIC, topic]]);
        const bad = await alter([resource(TOPIC, topic, [["no.such.config", "1"]])], true);
        assert.deepEqual(outcomes(bad), [[KafkaError.INVALID_CONFIG, TOPIC, topic]]);
        assert.deepEqual(await current(), before);
      });

      await t.step(`v${v}: refusals change nothing`, async () => {
        const cases: [string, Any, number][] = [
          [
            "unknown key",
            resource(TOPIC, topic, [["retention.ms", "1000"], ["no.such.config", "1"]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "bad value",
            resource(TOPIC, topic, [["retention.ms", "soon"]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "value out of range",
            resource(TOPIC, topic, [["segment.bytes", "1"]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "key twice",
            resource(TOPIC, topic, [["retention.ms", "1000"], ["retention.ms", "2000"]]),
            KafkaError.INVALID_REQUEST,
          ],
          [
            "null value",
            resource(TOPIC, topic, [["retention.ms", null]]),
            KafkaError.INVALID_REQUEST,
          ],
        ];
        for (const [what, r, code] of cases) {
          const res = await alter([r]);
          assert.deepEqual(outcomes(res), [[code, TOPIC, topic]], what);
          assert.equal(typeof res.responses[0].errorMessage, "string", `${what}: a message`);
        }
        assert.deepEqual(await current(), before);
      });

      await t.step(`v${v}: the same resource twice is INVALID_REQUEST for both`, async () => {
        const res = await alter([
          resource(TOPIC, topic, [["retention.ms", "1000"]]),
          resource(TOPIC, topic, [["retention.ms", "2000"]]),
        ]);
        assert.deepEqual(outcomes(res), [
          [KafkaError.INVALID_REQUEST, TOPIC, topic],
          [KafkaError.INVALID_REQUEST, TOPIC, topic],
        ]);
        assert.deepEqual(await current(), before);
      });

      await t.step(
        `v${v}: unknown topic, the broker, another broker, an unknown type`,
        async () => {
          const res = await alter([
            resource(TOPIC, "no-such-topic", [["retention.ms", "1000"]]),
            resource(BROKER, "0", [["log.retention.ms", "1000"]]),
            resource(BROKER, "", [["log.retention.ms", "1000"]]),
            resource(BROKER, "1", [["log.retention.ms", "1000"]]),
            resource(99, "x", [["a", "b"]]),
          ]);
          assert.deepEqual(outcomes(res), [
            [KafkaError.UNKNOWN_TOPIC_OR_PARTITION, TOPIC, "no-such-topic"],
            [KafkaError.INVALID_CONFIG, BROKER, "0"],
            [KafkaError.INVALID_CONFIG, BROKER, ""],
            [KafkaError.INVALID_REQUEST, BROKER, "1"],
            [KafkaError.INVALID_REQUEST, 99, "x"],
          ]);
          assert.ok(
            !node.broker.topics.list().some((t) => t.name === "no-such-topic"),
            "not created",
          );
        },
      );

      await t.step(`v${v}: the order of refusals is Kafka's`, async () => {
        // A key twice or a null value first, whatever the resource; then the configs, and only
        // then whether the topic exists (Kafka's broker, then its controller).
        const res = await alter([
          resource(TOPIC, "no-such-1", [["retention.ms", "1"], ["retention.ms", "2"]]),
          resource(TOPIC, "no-such-2", [["retention.ms", null]]),
          resource(TOPIC, "no-such-3", [["no.such.config", "1"]]),
          resource(TOPIC, "no-such-4", [["retention.ms", "soon"]]),
          resource(BROKER, "7", [["log.retention.ms", null]]),
          resource(99, "x", [["a", "b"], ["a", "c"]]),
        ]);
        assert.deepEqual(outcomes(res), [
          [KafkaError.INVALID_REQUEST, TOPIC, "no-such-1"],
          [KafkaError.INVALID_REQUEST, TOPIC, "no-such-2"],
          [KafkaError.INVALID_CONFIG, TOPIC, "no-such-3"],
          [KafkaError.INVALID_CONFIG, TOPIC, "no-such-4"],
          [KafkaError.INVALID_REQUEST, BROKER, "7"],
          [KafkaError.INVALID_REQUEST, 99, "x"],
        ]);
      });

      await t.step(
        `v${v}: one resource refused, the other in the same request applied`,
        async () => {
          const other = `alter-other-v${v}`;
          await node.broker.createTopic(other, 1, {});
          const res = await alter([
            resource(TOPIC, topic, [["retention.ms", "soon"]]),
            resource(TOPIC, other, [["retention.ms", "60000"]]),
          ]);
          assert.deepEqual(outcomes(res), [[KafkaError.INVALID_CONFIG, TOPIC, topic], [
            0,
            TOPIC,
            other,
          ]]);
          assert.deepEqual(await current(), before);
          assert.deepEqual(await configsOf(node.port, other, ["retention.ms"]), {
            "retention.ms": ["60000", SOURCE.TOPIC],
          });
        },
      );

      await t.step(`v${v}: an empty set removes every override`, async () => {
        const res = await alter([resource(TOPIC, topic, [])]);
        assert.deepEqual(outcomes(res), [[0, TOPIC, topic]]);
        assert.deepEqual(await current(), {
          "retention.ms": [DEFAULT_RETENTION, SOURCE.DEFAULT],
          "max.message.bytes": [DEFAULT_MAX_MESSAGE, SOURCE.DEFAULT],
          "segment.bytes": [segmentDefault, SOURCE.DEFAULT],
          "cleanup.policy": ["delete", SOURCE.DEFAULT],
        });
        assert.deepEqual(node.broker.topics.get(topic).meta.overrides, {});
      });
    }
  } finally {
    await node.close();
  }
});

Deno.test("IncrementalAlterConfigs over the wire, every version", async (t) => {
  const node = await InProcessNode.start();
  try {
    for (const v of versionsOf(INCREMENTAL_ALTER_CONFIGS_REQUEST)) {
      const topic = `incremental-v${v}`;
      const alter = (resources: Any[], validateOnly = false) =>
        call(node.port, INCREMENTAL_ALTER_CONFIGS_REQUEST, INCREMENTAL_ALTER_CONFIGS_RESPONSE, v, {
          resources,
          validateOnly,
        });
      const current = () => configsOf(node.port, topic, KEYS);
      await node.broker.createTopic(topic, 1, {
        "retention.ms": 3600000,
        "max.message.bytes": 65536,
      });

      await t.step(`v${v}: SET and DELETE; keys not named keep their value`, async () => {
        const res = await alter([
          ops(TOPIC, topic, [["segment.bytes", SET, "1048576"], [
            "max.message.bytes",
            DELETE,
            null,
          ]]),
        ]);
        assert.deepEqual(outcomes(res), [[0, TOPIC, topic]]);
        assert.deepEqual(await current(), {
          "retention.ms": ["3600000", SOURCE.TOPIC],
          "max.message.bytes": [DEFAULT_MAX_MESSAGE, SOURCE.DEFAULT],
          "segment.bytes": ["1048576", SOURCE.TOPIC],
          "cleanup.policy": ["delete", SOURCE.DEFAULT],
        });
        // DELETE of a key that is not set (with a value, which DELETE ignores): nothing to do.
        const again = await alter([ops(TOPIC, topic, [["max.message.bytes", DELETE, "1"]])]);
        assert.deepEqual(outcomes(again), [[0, TOPIC, topic]]);
        assert.equal(node.broker.topics.get(topic).logs[0].config.segmentBytes, 1048576);
      });

      await t.step(`v${v}: APPEND and SUBTRACT on cleanup.policy, a list`, async () => {
        // Not set: the list starts from its default, "delete"; appending it again keeps one.
        const append = await alter([ops(TOPIC, topic, [["cleanup.policy", APPEND, "delete"]])]);
        assert.deepEqual(outcomes(append), [[0, TOPIC, topic]]);
        assert.deepEqual((await current())["cleanup.policy"], ["delete", SOURCE.TOPIC]);
        // Subtracting an item the list does not hold leaves it as it is.
        const subtract = await alter([
          ops(TOPIC, topic, [["cleanup.policy", SUBTRACT, "compact"]]),
        ]);
        assert.deepEqual(outcomes(subtract), [[0, TOPIC, topic]]);
        assert.deepEqual((await current())["cleanup.policy"], ["delete", SOURCE.TOPIC]);
        const removed = await alter([ops(TOPIC, topic, [["cleanup.policy", DELETE, null]])]);
        assert.deepEqual(outcomes(removed), [[0, TOPIC, topic]]);
        assert.deepEqual((await current())["cleanup.policy"], ["delete", SOURCE.DEFAULT]);
      });

      const before = await current();

      await t.step(`v${v}: validate_only checks and changes nothing`, async () => {
        const ok = await alter([ops(TOPIC, topic, [["retention.ms", SET, "1000"]])], true);
        assert.deepEqual(outcomes(ok), [[0, TOPIC, topic]]);
        const bad = await alter([ops(TOPIC, topic, [["retention.ms", APPEND, "1000"]])], true);
        assert.deepEqual(outcomes(bad), [[KafkaError.INVALID_CONFIG, TOPIC, topic]]);
        // Kafka 4.4's words, as its controller answers.
        assert.equal(
          bad.responses[0].errorMessage,
          "Can't APPEND to key retention.ms because its type is not LIST.",
        );
        assert.deepEqual(await current(), before);
      });

      await t.step(`v${v}: refusals change nothing`, async () => {
        const cases: [string, Any, number][] = [
          [
            "APPEND on retention.ms, not a list",
            ops(TOPIC, topic, [["segment.bytes", SET, "2097152"], [
              "retention.ms",
              APPEND,
              "1000",
            ]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "SUBTRACT on max.message.bytes",
            ops(TOPIC, topic, [["max.message.bytes", SUBTRACT, "1"]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "unknown key",
            ops(TOPIC, topic, [["no.such.config", SET, "1"]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "bad value",
            ops(TOPIC, topic, [["retention.ms", SET, "soon"]]),
            KafkaError.INVALID_CONFIG,
          ],
          [
            "key twice",
            ops(TOPIC, topic, [["retention.ms", SET, "1000"], ["retention.ms", DELETE, null]]),
            KafkaError.INVALID_REQUEST,
          ],
          [
            "SET with a null value",
            ops(TOPIC, topic, [["retention.ms", SET, null]]),
            KafkaError.INVALID_REQUEST,
          ],
          [
            "unknown operation",
            ops(TOPIC, topic, [["retention.ms", 9, "1000"]]),
            KafkaError.INVALID_REQUEST,
          ],
        ];
        for (const [what, r, code] of cases) {
          const res = await alter([r]);
          assert.deepEqual(outcomes(res), [[code, TOPIC, topic]], what);
        }
        assert.deepEqual(await current(), before);
      });

      await t.step(`v${v}: the same resource twice; other resources`, async () => {
        const res = await alter([
          ops(TOPIC, topic, [["retention.ms", SET, "1000"]]),
          ops(TOPIC, topic, [["retention.ms", SET, "2000"]]),
          ops(TOPIC, "no-such-topic", [["retention.ms", SET, "1000"]]),
          ops(BROKER, "0", [["log.retention.ms", SET, "1000"]]),
          ops(BROKER, "7", [["log.retention.ms", SET, "1000"]]),
          ops(99, "x", [["a", SET, "b"]]),
        ]);
        assert.deepEqual(outcomes(res), [
          [KafkaError.INVALID_REQUEST, TOPIC, topic],
          [KafkaError.INVALID_REQUEST, TOPIC, topic],
          [KafkaError.UNKNOWN_TOPIC_OR_PARTITION, TOPIC, "no-such-topic"],
          [KafkaError.INVALID_CONFIG, BROKER, "0"],
          [KafkaError.INVALID_REQUEST, BROKER, "7"],
          [KafkaError.INVALID_REQUEST, 99, "x"],
        ]);
        assert.deepEqual(await current(), before);
      });

      await t.step(`v${v}: an unknown topic's changes are checked first`, async () => {
        const res = await alter([
          ops(TOPIC, "no-such-1", [["retention.ms", SET, null]]),
          ops(TOPIC, "no-such-2", [["retention.ms", APPEND, "1000"]]),
          ops(TOPIC, "no-such-3", [["no.such.config", SET, "1"]]),
          ops(TOPIC, "no-such-4", [["retention.ms", DELETE, null]]),
        ]);
        assert.deepEqual(outcomes(res), [
          [KafkaError.INVALID_REQUEST, TOPIC, "no-such-1"],
          [KafkaError.INVALID_CONFIG, TOPIC, "no-such-2"],
          [KafkaError.INVALID_CONFIG, TOPIC, "no-such-3"],
          [KafkaError.UNKNOWN_TOPIC_OR_PARTITION, TOPIC, "no-such-4"],
        ]);
      });
    }
  } finally {
    await node.close();
  }
});

Deno.test("altered configs survive a restart and act on the running log", async (t) => {
  const node = await InProcessNode.start();
  const topic = "live";
  const segments = () =>
    listDir(`${node.dataDir}/topics/${topic}/0`).filter((f) => f.endsWith(".log")).length;
  const incremental = async (configs: [string, number, string | null][]) => {
    const res = await call(
      node.port,
      INCREMENTAL_ALTER_CONFIGS_REQUEST,
      INCREMENTAL_ALTER_CONFIGS_RESPONSE,
      1,
      { resources: [ops(TOPIC, topic, configs)], validateOnly: false },
    );
    assert.deepEqual(outcomes(res), [[0, TOPIC, topic]]);
  };
  try {
    // No retention at first: the records below, written with a CreateTime long past, stay.
    await node.broker.createTopic(topic, 1, { "retention.ms": -1 });
    for (let i = 0; i < 3; i++) await produce(node.port, topic, 0, { records: 4, valueBytes: 100 });
    assert.equal(segments(), 1);

    await t.step("segment.bytes lowered: later appends roll segments", async () => {
      await incremental([["segment.bytes", SET, "1024"]]);
      // Each batch is about 500 bytes: a segment of 1024 holds two.
      for (let i = 0; i < 6; i++) {
        await produce(node.port, topic, 0, { records: 4, valueBytes: 100 });
      }
      assert.ok(segments() >= 4, `${segments()} segments after lowering segment.bytes`);
    });

    await t.step("the change survives a restart", async () => {
      await incremental([["max.message.bytes", SET, "65536"]]);
      const want = {
        "retention.ms": ["-1", SOURCE.TOPIC],
        "segment.bytes": ["1024", SOURCE.TOPIC],
        "max.message.bytes": ["65536", SOURCE.TOPIC],
        "cleanup.policy": ["delete", SOURCE.DEFAULT],
      };
      assert.deepEqual(await configsOf(node.port, topic, KEYS), want);
      await node.restart();
      assert.deepEqual(await configsOf(node.port, topic, KEYS), want);
      assert.equal(node.broker.topics.get(topic).logs[0].config.segmentBytes, 1024);
      assert.equal(await offsetAt(node.port, topic, 0, -1), 36, "every record still there");
    });

    await t.step("retention.ms lowered: the old segments are deleted", async () => {
      const count = segments();
      assert.equal(await offsetAt(node.port, topic, 0, -2), 0);
      // The records' CreateTime is years old: an hour's retention expires every closed segment,
      // and retention runs right after the change (not at its next periodic check).
      await incremental([["retention.ms", SET, "3600000"]]);
      await waitFor(
        () => `log start still 0 with ${segments()} of ${count} segments`,
        async () => await offsetAt(node.port, topic, 0, -2) > 0,
      );
      assert.equal(segments(), 1, "only the active segment is left");
      assert.equal(await offsetAt(node.port, topic, 0, -1), 36);
    });
  } finally {
    await node.close();
  }
});

const SECRETS = { admin: "admin-secret-000000000001", reader: "reader-secret-0000000003" };
const TOKENS = {
  tokens: [
    {
      name: "admin",
      token: SECRETS.admin,
      allow: [{ topic: "*", ops: ["read", "write", "admin"] }],
    },
    {
      name: "reader",
      token: SECRETS.reader,
      allow: [{ topic: "orders*", ops: ["read", "write"] }],
    },
  ],
};

Deno.test("AlterConfigs and IncrementalAlterConfigs with authentication", async (t) => {
  const node = await InProcessNode.start({ tokens: TOKENS });
  const topic = "orders";
  try {
    await node.broker.createTopic(topic, 1, { "retention.ms": 3600000 });
    const overrides = () => node.broker.topics.get(topic).meta.overrides;

    await t.step(
      "without the admin right: TOPIC_AUTHORIZATION_FAILED, nothing changes",
      async () => {
        const reader = await loggedIn(node.port, "reader", SECRETS.reader);
        try {
          const full = await reader.call(ALTER_CONFIGS_REQUEST, ALTER_CONFIGS_RESPONSE, 2, {
            resources: [
              resource(TOPIC, topic, [["retention.ms", "1000"]]),
              resource(BROKER, "0", [["log.retention.ms", "1000"]]),
            ],
            validateOnly: false,
          });
          assert.deepEqual(outcomes(full), [
            [KafkaError.TOPIC_AUTHORIZATION_FAILED, TOPIC, topic],
            [KafkaError.CLUSTER_AUTHORIZATION_FAILED, BROKER, "0"],
          ]);
          const incremental = await reader.call(
            INCREMENTAL_ALTER_CONFIGS_REQUEST,
            INCREMENTAL_ALTER_CONFIGS_RESPONSE,
            1,
            {
              resources: [ops(TOPIC, topic, [["retention.ms", DELETE, null]])],
              validateOnly: false,
            },
          );
          assert.deepEqual(outcomes(incremental), [[
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            TOPIC,
            topic,
          ]]);
          // A topic it has no right on at all: refused the same way, its existence not told.
          const unknown = await reader.call(ALTER_CONFIGS_REQUEST, ALTER_CONFIGS_RESPONSE, 0, {
            resources: [resource(TOPIC, "payroll", [["retention.ms", "1000"]])],
            validateOnly: false,
          });
          assert.deepEqual(outcomes(unknown), [[
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            TOPIC,
            "payroll",
          ]]);
          // A key twice is refused before rights are looked at, as Kafka's broker does.
          const twice = await reader.call(ALTER_CONFIGS_REQUEST, ALTER_CONFIGS_RESPONSE, 2, {
            resources: [resource(TOPIC, topic, [["retention.ms", "1"], ["retention.ms", "2"]])],
            validateOnly: false,
          });
          assert.deepEqual(outcomes(twice), [[KafkaError.INVALID_REQUEST, TOPIC, topic]]);
        } finally {
          reader.close();
        }
        assert.deepEqual(overrides(), { "retention.ms": "3600000" });
      },
    );

    await t.step("with the admin right: applied", async () => {
      const admin = await loggedIn(node.port, "admin", SECRETS.admin);
      try {
        const res = await admin.call(
          INCREMENTAL_ALTER_CONFIGS_REQUEST,
          INCREMENTAL_ALTER_CONFIGS_RESPONSE,
          1,
          {
            resources: [ops(TOPIC, topic, [["retention.ms", SET, "7200000"]])],
            validateOnly: false,
          },
        );
        assert.deepEqual(outcomes(res), [[0, TOPIC, topic]]);
      } finally {
        admin.close();
      }
      assert.deepEqual(overrides(), { "retention.ms": "7200000" });
    });
  } finally {
    await node.close();
  }
});
