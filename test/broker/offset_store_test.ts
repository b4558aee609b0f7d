/**
 * OffsetStore (offset_store.ts): committed offsets and group metadata in a PartitionLog plus a
 * snapshot. Durable across a clean reopen and across a crash (a copy of the directory taken while
 * the store is open), atomic per commit request, replay bounded by snapshots, and a corrupt
 * snapshot falls back to replaying the log.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { MemoryLogger } from "../../src/logger.ts";
import {
  type OffsetCommit,
  OffsetStore,
  SNAPSHOT_EVERY_RECORDS,
  type StoredGroup,
} from "../../src/broker/groups/offset_store.ts";
import { tempDir } from "../test_util.ts";

async function open(dataDir: string, logger = new MemoryLogger()) {
  const store = await OffsetStore.open(dataDir, new ManualClock(), logger);
  return { store, logger };
}

/** Errors and warnings the store reported (info events are routine). */
function problems(logger: MemoryLogger): string[] {
  return logger.events.filter((e) => e.level !== "info").map((e) => e.message);
}

/** A crash image: the directory as it is on disk right now, the store still open. */
function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

function logFiles(dataDir: string): string[] {
  return [...Deno.readDirSync(`${dataDir}/groups/log`)]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".log"))
    .sort();
}

const GROUP: StoredGroup = {
  generation: 3,
  assignor: "roundrobin",
  members: [{
    memberId: "m-1",
    topics: ["orders"],
    sessionTimeoutMs: 10_000,
    autoOffsetReset: "earliest",
  }],
};

Deno.test("OffsetStore commits", async (t) => {
  await t.step("an empty store knows no group and no offset", async () => {
    const { store } = await open(tempDir("sluice-offsets-"));
    assert.equal(store.committed("g", "orders", 0), undefined);
    assert.equal(store.hasOffsets("g"), false);
    assert.deepEqual(store.offsetsOf("g"), []);
    assert.deepEqual(store.storedGroups(), []);
    await store.close();
  });

  await t.step("the last commit per partition wins; groups are separate", async () => {
    const { store } = await open(tempDir("sluice-offsets-"));
    await store.commit("g1", [{ topic: "orders", partition: 0, offset: 5 }]);
    await store.commit("g1", [
      { topic: "orders", partition: 0, offset: 9 },
      { topic: "orders", partition: 2, offset: 1 },
    ]);
    await store.commit("g2", [{ topic: "orders", partition: 0, offset: 100 }]);
    assert.equal(store.committed("g1", "orders", 0), 9);
    assert.equal(store.committed("g1", "orders", 1), undefined);
    assert.equal(store.committed("g2", "orders", 0), 100);
    assert.deepEqual(store.offsetsOf("g1"), [
      { topic: "orders", partition: 0, offset: 9 },
      { topic: "orders", partition: 2, offset: 1 },
    ]);
    assert.equal(store.hasOffsets("g2"), true);
    assert.equal(store.hasOffsets("g3"), false);
    await store.close();
  });

  await t.step("concurrent commits apply in call order", async () => {
    const { store } = await open(tempDir("sluice-offsets-"));
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => store.commit("g", [{ topic: "t", partition: 0, offset: i }]),
      ),
    );
    assert.equal(store.committed("g", "t", 0), 49);
    await store.close();
  });

  await t.step(
    "the largest commit the HTTP API accepts (10,000 offsets, 249-character names) fits",
    async () => {
      // CommitBody (schemas.ts) takes up to 10,000 offsets; names are up to 249 characters. One
      // request is one batch, so the batch is ~5.6 MB: more than a topic's default
      // max.message.bytes (1 MiB), which the offsets log must not inherit.
      const { store } = await open(tempDir("sluice-offsets-"));
      const group = "g".repeat(249);
      const commits = Array.from({ length: 10_000 }, (_, i) => ({
        topic: `${String(i % 10).repeat(249)}`,
        partition: Math.floor(i / 10),
        offset: Number.MAX_SAFE_INTEGER - i,
      }));
      await store.commit(group, commits);
      assert.equal(store.offsetsOf(group).length, 10_000);
      assert.equal(store.committed(group, "9".repeat(249), 999), Number.MAX_SAFE_INTEGER - 9_999);
      await store.close();
    },
  );
});

Deno.test("OffsetStore durability", async (t) => {
  await t.step("commits and group metadata survive a close and reopen", async () => {
    const dir = tempDir("sluice-offsets-");
    const first = await open(dir);
    await first.store.commit("g", [
      { topic: "orders", partition: 0, offset: 7 },
      { topic: "orders", partition: 1, offset: 3 },
    ]);
    await first.store.saveGroup("g", GROUP);
    await first.store.saveGroup("gone", GROUP);
    await first.store.saveGroup("gone", null);
    await first.store.close();

    const again = await open(dir);
    assert.deepEqual(again.store.offsetsOf("g"), [
      { topic: "orders", partition: 0, offset: 7 },
      { topic: "orders", partition: 1, offset: 3 },
    ]);
    assert.deepEqual(again.store.storedGroups(), [["g", GROUP]], "a removed group stays removed");
    assert.deepEqual(problems(again.logger), []);
    await again.store.close();
  });

  await t.step("an acknowledged commit survives a crash (no close, no snapshot)", async () => {
    const dir = tempDir("sluice-offsets-");
    const { store } = await open(dir);
    await store.saveGroup("g", GROUP);
    for (let i = 1; i <= 20; i++) {
      await store.commit("g", [{ topic: "orders", partition: i % 4, offset: i }]);
    }
    const crashed = tempDir("sluice-offsets-crash-");
    copyTree(dir, crashed);
    await store.close();

    const again = await open(crashed);
    assert.deepEqual(again.store.offsetsOf("g").map((o) => o.offset), [20, 17, 18, 19]);
    assert.deepEqual(again.store.storedGroups(), [["g", GROUP]]);
    await again.store.close();
  });

  await t.step(
    'the group id "" (Kafka\'s simple commits) survives replay and a snapshot',
    async () => {
      const dir = tempDir("sluice-offsets-");
      const first = await open(dir);
      await first.store.commit("", [{ topic: "orders", partition: 0, offset: 9 }]);
      await first.store.close();
      const replayed = await open(dir);
      assert.deepEqual(replayed.store.offsetsOf(""), [{
        topic: "orders",
        partition: 0,
        offset: 9,
      }]);
      await replayed.store.snapshot();
      await replayed.store.close();
      const fromSnapshot = await open(dir);
      assert.equal(fromSnapshot.store.committed("", "orders", 0), 9);
      assert.deepEqual(problems(fromSnapshot.logger), []);
      await fromSnapshot.store.close();
    },
  );

  await t.step("a commit torn by a crash is dropped whole, earlier ones kept", async () => {
    const dir = tempDir("sluice-offsets-");
    const { store } = await open(dir);
    await store.commit("g", [{ topic: "t", partition: 0, offset: 1 }]);
    await store.commit("g", [
      { topic: "t", partition: 0, offset: 2 },
      { topic: "t", partition: 1, offset: 2 },
      { topic: "t", partition: 2, offset: 2 },
    ]);
    const crashed = tempDir("sluice-offsets-crash-");
    copyTree(dir, crashed);
    await store.close();
    const [active] = logFiles(crashed).slice(-1);
    const path = `${crashed}/groups/log/${active}`;
    await Deno.truncate(path, Deno.statSync(path).size - 5); // the second batch loses its tail

    const again = await open(crashed);
    assert.deepEqual(again.store.offsetsOf("g"), [{ topic: "t", partition: 0, offset: 1 }]);
    await again.store.close();
  });
});

Deno.test("OffsetStore snapshots", async (t) => {
  await t.step(
    `after > SNAPSHOT_EVERY_RECORDS (${SNAPSHOT_EVERY_RECORDS}) commits the log stays small and a reopen restores every offset`,
    async () => {
      const dir = tempDir("sluice-offsets-");
      const { store, logger } = await open(dir);
      // Long names make ~530-byte records: 100,000 of them are ~50 MiB, four 16 MiB segments
      // and five snapshots' worth. Without snapshots the log would keep every segment.
      const group = "g".repeat(249);
      const topic = "t".repeat(249);
      const perCommit = 2_000;
      const commitCount = 50;
      const expected = new Map<number, number>();
      let segmentsMax = 0;
      for (let c = 0; c < commitCount; c++) {
        const commits: OffsetCommit[] = Array.from({ length: perCommit }, (_, i) => ({
          topic,
          partition: (c * 7 + i) % 1_000,
          offset: c * perCommit + i,
        }));
        for (const o of commits) expected.set(o.partition, o.offset);
        await store.commit(group, commits);
        segmentsMax = Math.max(segmentsMax, store.logSegments);
      }
      const written = perCommit * commitCount;
      assert.ok(written > 4 * SNAPSHOT_EVERY_RECORDS, "the test writes several snapshots' worth");
      // A snapshot every 20,000 records (~10 MiB) deletes each full segment soon after it rolls.
      assert.ok(segmentsMax <= 2, `at most 2 segments at any time, saw ${segmentsMax}`);

      // Replay at the next start is bounded: the last snapshot covers all but the records since.
      const snap = JSON.parse(Deno.readTextFileSync(`${dir}/groups/snapshot.json`));
      assert.equal(snap.version, 1);
      assert.ok(
        written - snap.offset <= SNAPSHOT_EVERY_RECORDS + perCommit,
        `snapshot covers ${snap.offset} of ${written} records`,
      );
      await store.close();
      assert.ok(logFiles(dir).length <= 2, `segment files after close: ${logFiles(dir)}`);
      assert.deepEqual(problems(logger), []);

      const again = await open(dir);
      const offsets = again.store.offsetsOf(group);
      assert.equal(offsets.length, expected.size);
      for (const o of offsets) {
        assert.equal(o.offset, expected.get(o.partition), `partition ${o.partition}`);
      }
      assert.deepEqual(problems(again.logger), []);
      await again.store.close();
    },
  );

  await t.step("a corrupt snapshot.json falls back to replaying the log", async () => {
    const dir = tempDir("sluice-offsets-");
    const first = await open(dir);
    await first.store.saveGroup("g", GROUP);
    for (let i = 0; i < 30; i++) {
      await first.store.commit("g", [{ topic: "orders", partition: i % 3, offset: i + 1 }]);
    }
    await first.store.close(); // writes a snapshot covering everything

    const garbages = [
      '{"version":1,"offset":',
      '{"version":2,"offset":0}',
      "\u0000\u0001",
      // Valid JSON, wrong types: each stopped start-up before (reading 'assignor' of null).
      '{"version":1,"offset":0,"offsets":[],"groups":[["g",null]]}',
      '{"version":1,"offset":0,"offsets":[],"groups":[["g",{"generation":"1","members":{}}]]}',
      '{"version":1,"offset":0,"offsets":[["g","orders","0",5,0]],"groups":[]}',
      '{"version":1,"offset":0,"offsets":null,"groups":[]}',
      "null",
    ];
    for (const garbage of garbages) {
      Deno.writeTextFileSync(`${dir}/groups/snapshot.json`, garbage);
      const again = await open(dir);
      assert.deepEqual(
        again.store.offsetsOf("g").map((o) => o.offset),
        [28, 29, 30],
        `offsets replayed from the log after ${JSON.stringify(garbage)}`,
      );
      assert.deepEqual(again.store.storedGroups(), [["g", GROUP]]);
      assert.ok(
        problems(again.logger).some((m) => m.includes("snapshot")),
        `the unreadable snapshot is reported: ${problems(again.logger)}`,
      );
      await again.store.close(); // a good snapshot again, for the next round
    }
  });

  await t.step(
    "a corrupt snapshot.json after segments were deleted falls back to the previous snapshot",
    async () => {
      const dir = tempDir("sluice-offsets-");
      const first = await open(dir);
      await first.store.commit("early", [{ topic: "orders", partition: 0, offset: 42 }]);
      // ~40 MiB of commits: several snapshots, and the segment holding "early" gets deleted.
      const group = "g".repeat(249);
      const topic = "t".repeat(249);
      for (let c = 0; c < 40; c++) {
        await first.store.commit(
          group,
          Array.from({ length: 2_000 }, (_, i) => ({ topic, partition: i, offset: c + 1 })),
        );
      }
      await first.store.close();
      assert.ok(
        !logFiles(dir).includes("00000000000000000000.log"),
        `the first segment was deleted: ${logFiles(dir)}`,
      );
      Deno.writeTextFileSync(`${dir}/groups/snapshot.json`, "{");
      const again = await open(dir);
      assert.deepEqual(again.store.offsetsOf("early"), [
        { topic: "orders", partition: 0, offset: 42 },
      ]);
      assert.equal(again.store.offsetsOf(group).length, 2_000);
      assert.ok(again.store.offsetsOf(group).every((o) => o.offset === 40));
      assert.ok(problems(again.logger).some((m) => m.includes("snapshot")));
      await again.store.close();
    },
  );

  await t.step("a reopen loads the snapshot, then replays the commits after it", async () => {
    const dir = tempDir("sluice-offsets-");
    const first = await open(dir);
    await first.store.commit("g", [{ topic: "orders", partition: 0, offset: 4 }]);
    await first.store.snapshot();
    await first.store.commit("g", [{ topic: "orders", partition: 0, offset: 6 }]);
    await first.store.commit("g", [{ topic: "orders", partition: 1, offset: 8 }]);
    const crashed = tempDir("sluice-offsets-crash-");
    copyTree(dir, crashed); // the snapshot covers only the first commit
    await first.store.close();
    const snap = JSON.parse(Deno.readTextFileSync(`${crashed}/groups/snapshot.json`));
    assert.deepEqual(snap.offsets.map((o: unknown[]) => o[3]), [4]);

    const again = await open(crashed);
    assert.deepEqual(again.store.offsetsOf("g").map((o) => o.offset), [6, 8]);
    await again.store.close();
  });
});

Deno.test("OffsetStore.deleteOffsets", async (t) => {
  const SEED: OffsetCommit[] = [
    { topic: "orders", partition: 0, offset: 7 },
    { topic: "orders", partition: 1, offset: 3 },
    { topic: "payments", partition: 0, offset: 11 },
  ];

  await t.step("deletes only the named partitions that have an offset", async () => {
    const { store } = await open(tempDir("sluice-offsets-"));
    await store.commit("g", SEED);
    await store.commit("other", [{ topic: "orders", partition: 0, offset: 1 }]);
    await store.saveGroup("g", GROUP);
    assert.equal(
      await store.deleteOffsets("g", [
        { topic: "orders", partition: 1 },
        { topic: "orders", partition: 1 },
        { topic: "orders", partition: 9 },
        { topic: "missing", partition: 0 },
      ]),
      1,
    );
    assert.deepEqual(store.offsetsOf("g"), [
      { topic: "orders", partition: 0, offset: 7 },
      { topic: "payments", partition: 0, offset: 11 },
    ]);
    assert.equal(store.committed("other", "orders", 0), 1, "other groups untouched");
    assert.deepEqual(store.storedGroups(), [["g", GROUP]], "membership stays");
    assert.equal(await store.deleteOffsets("g", [{ topic: "orders", partition: 1 }]), 0);
    assert.equal(await store.deleteOffsets("unknown", [{ topic: "orders", partition: 0 }]), 0);
    assert.equal(await store.deleteOffsets("g", []), 0);
    await store.close();
  });

  await t.step("deleting the last offsets leaves the group without offsets", async () => {
    const { store } = await open(tempDir("sluice-offsets-"));
    await store.commit("g", SEED);
    assert.equal(await store.deleteOffsets("g", SEED), 3);
    assert.equal(store.hasOffsets("g"), false);
    assert.deepEqual(store.groupsWithOffsets(), []);
    await store.close();
  });

  await t.step("the tombstones survive a reopen, a crash and a snapshot", async () => {
    const dir = tempDir("sluice-offsets-");
    const first = await open(dir);
    await first.store.commit("g", SEED);
    assert.equal(
      await first.store.deleteOffsets("g", [
        { topic: "orders", partition: 0 },
        { topic: "payments", partition: 0 },
      ]),
      2,
    );
    const crash = tempDir("sluice-offsets-crash-");
    copyTree(dir, crash);
    await first.store.close(); // writes a snapshot
    const expected = [{ topic: "orders", partition: 1, offset: 3 }];

    const reopened = await open(dir);
    assert.deepEqual(reopened.store.offsetsOf("g"), expected);
    // A commit after the tombstones comes back.
    await reopened.store.commit("g", [{ topic: "orders", partition: 0, offset: 20 }]);
    await reopened.store.close();
    const again = await open(dir);
    assert.deepEqual(again.store.offsetsOf("g"), [
      { topic: "orders", partition: 0, offset: 20 },
      { topic: "orders", partition: 1, offset: 3 },
    ]);
    assert.deepEqual(problems(again.logger), []);
    await again.store.close();

    const recovered = await open(crash); // no snapshot of the delete: replayed from the log
    assert.deepEqual(recovered.store.offsetsOf("g"), expected);
    assert.deepEqual(problems(recovered.logger), []);
    await recovered.store.close();
  });
});
