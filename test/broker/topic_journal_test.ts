/**
 * The topic journal (src/broker/topic_journal.ts, topic_journal_replay.ts) on real files: its
 * records and their torn tail; a crash image (the data dir copied while the registry is open)
 * that lost every file a create made without fsyncs comes back from the journal, with configs,
 * and a delete whose rename was lost is finished; a checkpoint rotates the journal, and an image
 * taken meanwhile opens whole; a clean close leaves none.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { tempDir } from "../test_util.ts";
import { systemClock } from "../../src/clock.ts";
import { MemoryLogger } from "../../src/logger.ts";
import { encodeRecordBatch, utf8 } from "../../src/record/record_batch.ts";
import {
  decodeJournal,
  encodeJournalRecord,
  type JournalRecord,
  TOPIC_JOURNAL_FILE,
  TOPIC_JOURNAL_OLD_FILE,
} from "../../src/broker/topic_journal.ts";
import { TopicRegistry } from "../../src/broker/topic_registry.ts";

const open = (dataDir: string, journalRecordsMax?: number) =>
  TopicRegistry.open(dataDir, {
    clock: systemClock,
    logger: new MemoryLogger(),
    journalRecordsMax,
  });
const batch = (value: string) =>
  encodeRecordBatch([{ value: utf8(value) }], { timestampMs: 1_700_000_000_000 });

Deno.test("topic journal: records decode up to a torn or zeroed tail", async (t) => {
  const records: JournalRecord[] = [
    {
      op: "create",
      name: "a",
      partitions: 3,
      config: { "retention.ms": "5" },
      createdMs: 1,
      id: "x",
    },
    { op: "delete", name: "a", id: "x", keep: true },
  ];
  const bytes = new Uint8Array([
    ...encodeJournalRecord(records[0]),
    ...encodeJournalRecord(records[1]),
  ]);
  await t.step("whole", () => {
    assert.deepEqual(decodeJournal(bytes), { records, validBytes: bytes.length });
  });
  await t.step("zeros after the records (the file grows ahead)", () => {
    const padded = new Uint8Array(bytes.length + 64);
    padded.set(bytes);
    assert.deepEqual(decodeJournal(padded), { records, validBytes: bytes.length });
  });
  await t.step("a torn last record is left out", () => {
    const first = encodeJournalRecord(records[0]).length;
    for (const cut of [first + 3, bytes.length - 1]) {
      assert.deepEqual(decodeJournal(bytes.subarray(0, cut)).records, [records[0]]);
    }
  });
  await t.step("a flipped byte stops reading at its record", () => {
    const damaged = bytes.slice();
    damaged[damaged.length - 2] ^= 1;
    assert.deepEqual(decodeJournal(damaged).records, [records[0]]);
  });
});

Deno.test("topic journal: a crash image without the creates' files comes back whole", async (t) => {
  const dir = tempDir("sluice-topic-journal-");
  const image = tempDir("sluice-topic-journal-image-");
  try {
    const registry = await open(dir);
    let deadId = "";
    try {
      await t.step("creates, deletes and a create again, then the image", async () => {
        for (let i = 0; i < 8; i++) {
          await registry.create(`t-${i}`, 1 + (i % 3), { "retention.ms": String(1000 + i) });
        }
        deadId = registry.get("t-6").meta.id;
        await registry.delete("t-6");
        await registry.delete("t-7");
        await registry.create("t-7", 2, {});
        fs.cpSync(dir, image, { recursive: true });
      });
    } finally {
      await registry.close();
    }
    assert.deepEqual(
      [TOPIC_JOURNAL_FILE, TOPIC_JOURNAL_OLD_FILE].filter((f) => fs.existsSync(join(dir, f))),
      [],
      "a clean close leaves no journal",
    );
    await t.step("the image loses what was made without fsyncs", () => {
      const topics = join(image, "topics");
      assert.ok(
        fs.existsSync(join(image, TOPIC_JOURNAL_FILE)),
        "the journal is in the image",
      );
      fs.rmSync(join(topics, "t-0"), { recursive: true });
      fs.truncateSync(join(topics, "t-1", "topic.json"), 0);
      fs.rmSync(join(topics, "t-2", "1"), { recursive: true });
      fs.rmSync(join(topics, "t-7"), { recursive: true });
      // t-6's delete: its rename lost, its directory back in topics/.
      fs.mkdirSync(join(topics, "t-6", "0"), { recursive: true });
      const meta = { version: 2, name: "t-6", partitions: 1, config: {}, createdMs: 1, id: deadId };
      fs.writeFileSync(join(topics, "t-6", "topic.json"), JSON.stringify(meta));
    });
    const again = await open(image);
    try {
      await t.step("every answered create is there, with its configs and partitions", async () => {
        assert.deepEqual(again.list().map((topic) => topic.name), [
          "t-0",
          "t-1",
          "t-2",
          "t-3",
          "t-4",
          "t-5",
          "t-7",
        ]);
        for (let i = 0; i < 6; i++) {
          const topic = again.get(`t-${i}`);
          assert.equal(topic.logs.length, 1 + (i % 3), `t-${i}`);
          assert.equal(topic.meta.overrides["retention.ms"], String(1000 + i), `t-${i}`);
          for (const log of topic.logs) {
            assert.equal(log.state, "online", log.dir);
            assert.equal((await log.append(batch(log.dir))).baseOffset, 0);
          }
        }
        assert.equal(again.get("t-7").logs.length, 2);
        assert.deepEqual(again.get("t-7").meta.overrides, {});
        assert.equal(fs.existsSync(join(image, "topics", "t-6")), false, "t-6's delete finished");
        assert.equal(fs.existsSync(join(image, TOPIC_JOURNAL_OLD_FILE)), false);
      });
    } finally {
      await again.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(image, { recursive: true, force: true });
  }
});

Deno.test("topic journal: checkpoints rotate it while creates run", async (t) => {
  const dir = tempDir("sluice-topic-journal-rotate-");
  const image = tempDir("sluice-topic-journal-rotate-image-");
  try {
    const registry = await open(dir, 3);
    try {
      await t.step(
        "past the limit: the old journal aside, a new one for the next creates",
        async () => {
          for (let i = 0; i < 8; i++) await registry.create(`r-${i}`, 2, {});
          fs.cpSync(dir, image, { recursive: true });
          assert.ok(fs.existsSync(join(dir, TOPIC_JOURNAL_FILE)));
          const current = decodeJournal(
            new Uint8Array(fs.readFileSync(join(dir, TOPIC_JOURNAL_FILE))),
          );
          assert.ok(current.records.length < 8, `${current.records.length} records`);
          for (let i = 8; i < 16; i++) await registry.create(`r-${i}`, 2, {});
        },
      );
    } finally {
      await registry.close();
    }
    await t.step("a clean close leaves neither file", () => {
      for (const f of [TOPIC_JOURNAL_FILE, TOPIC_JOURNAL_OLD_FILE]) {
        assert.equal(fs.existsSync(join(dir, f)), false, f);
      }
    });
    await t.step("both opens hold every topic created before their image", async () => {
      for (const [path, count] of [[dir, 16], [image, 8]] as const) {
        const again = await open(path);
        try {
          assert.equal(again.list().length, count, path);
          for (const topic of again.list()) {
            for (const log of topic.logs) assert.equal(log.state, "online", log.dir);
          }
        } finally {
          await again.close();
        }
      }
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(image, { recursive: true, force: true });
  }
});
