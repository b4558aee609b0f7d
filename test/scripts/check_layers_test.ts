import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  type AllowedEdge,
  checkLayers,
  formatEdge,
  formatReport,
  maskSource,
} from "../../scripts/check_layers.ts";

/** A small tree that follows every rule of docs/architecture.md. */
const CLEAN: Record<string, string> = {
  "errors.ts": "export class SluiceError extends Error {}\n",
  "runtime/fs.ts": 'import * as fs from "node:fs";\nexport const read = fs.readFileSync;\n',
  "runtime/process.ts": "export const pid = () => Deno.pid;\n",
  "record/codec.ts": [
    'import { gzipSync } from "node:zlib";',
    'import { SluiceError } from "../errors.ts";',
    "export const encode = (b: Uint8Array) => { if (!b) throw new SluiceError(); return gzipSync(b); };",
    "",
  ].join("\n"),
  "storage/log.ts": [
    '/** Not an import: import { Broker } from "../broker/broker.ts"; nor is import("../http/app.ts"). */',
    'import type { SluiceError } from "../errors.ts";',
    'import { encode } from "../record/codec.ts";',
    'import { read } from "../runtime/fs.ts";',
    "// Deno.readFile in a comment is not a use of Deno.",
    'export const note = "Deno.exit and import(\\"../broker/broker.ts\\") in a string are not either";',
    "export const re = /Deno\\.exit|'/;",
    "export class Log { e?: SluiceError; r = read; c = encode; }",
    "",
  ].join("\n"),
  "broker/broker.ts":
    'import { Log } from "../storage/log.ts";\nexport class Broker { log?: Log; }\n',
  "http/app.ts": [
    'import { createHash } from "node:crypto";',
    'import { Broker } from "../broker/broker.ts";',
    "export const app = (b: Broker) => createHash(`sha256`).update(String(b)).digest();",
    "",
  ].join("\n"),
  "kafka_protocol/server.ts": 'export { Broker } from "../broker/broker.ts";\n',
  "cli/serve.ts": [
    'import { app } from "../http/app.ts";',
    'import { Log } from "../storage/log.ts";',
    'import { pid } from "../runtime/process.ts";',
    "export const serve = () => [app, Log, pid];",
    "",
  ].join("\n"),
  "main.ts": 'import { serve } from "./cli/serve.ts";\nserve();\n',
};

async function withTree(
  extra: Record<string, string>,
  run: (root: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "check_layers_" });
  try {
    const root = join(dir, "src");
    for (const [rel, text] of Object.entries({ ...CLEAN, ...extra })) {
      await Deno.mkdir(dirname(join(root, rel)), { recursive: true });
      await Deno.writeTextFile(join(root, rel), text);
    }
    await run(root);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("check_layers", async (t) => {
  await t.step("passes a clean tree (imports in comments, strings, regexes ignored)", async () => {
    await withTree({}, (root) => {
      const r = checkLayers({ root, allowlist: [] });
      assert.deepEqual(r.forbidden.map(formatEdge), []);
      assert.deepEqual(r.problems, []);
      assert.equal(r.files, Object.keys(CLEAN).length);
      assert.equal(r.ok, true, formatReport(r));
    });
  });

  await t.step("fails a storage file importing the broker, naming file, line, layers", async () => {
    const bad =
      '// storage must not know the broker\nimport { Broker } from "../broker/broker.ts";\n';
    await withTree({ "storage/bad.ts": bad }, (root) => {
      const r = checkLayers({ root, allowlist: [] });
      assert.equal(r.ok, false);
      assert.deepEqual(r.forbidden.map(formatEdge), [
        "src/storage/bad.ts:2 imports src/broker/broker.ts (layer storage may not import layer broker)",
      ]);
      assert.match(formatReport(r), /forbidden imports \(1\):\n {2}src\/storage\/bad\.ts:2 /);
    });
  });

  await t.step("catches a dynamic import with a string literal", async () => {
    const dyn = 'export async function load() {\n  return await import("../storage/log.ts");\n}\n';
    await withTree({ "record/lazy.ts": dyn }, (root) => {
      const r = checkLayers({ root, allowlist: [] });
      assert.deepEqual(r.forbidden.map(formatEdge), [
        "src/record/lazy.ts:2 imports src/storage/log.ts (layer record may not import layer storage)",
      ]);
    });
  });

  await t.step("fails on a stale allowlist entry, passes while the edge exists", async () => {
    const edge: AllowedEdge = {
      from: "src/kafka_protocol/acl.ts",
      to: "src/http/app.ts",
      why: "to be removed: test",
    };
    await withTree({}, (root) => {
      const r = checkLayers({ root, allowlist: [edge] });
      assert.equal(r.ok, false);
      assert.deepEqual(r.stale, [edge]);
      assert.match(
        formatReport(r),
        /stale allowlist entries \(1[^\n]*\n {2}src\/kafka_protocol\/acl\.ts -> src\/http\/app\.ts/,
      );
    });
    const acl = 'import { app } from "../http/app.ts";\nexport const acl = app;\n';
    await withTree({ "kafka_protocol/acl.ts": acl }, (root) => {
      const r = checkLayers({ root, allowlist: [edge] });
      assert.deepEqual(r.stale, []);
      assert.deepEqual(r.forbidden, []);
      assert.deepEqual(r.allowlisted.map(formatEdge), [
        "src/kafka_protocol/acl.ts:1 imports src/http/app.ts (layer kafka_protocol may not import layer http)",
      ]);
      assert.equal(r.ok, true);
    });
  });

  await t.step("reports runtime calls outside src/runtime; pure Node built-ins pass", async () => {
    const files = {
      "storage/disk.ts":
        'import { readFileSync } from "node:fs";\nexport const r = readFileSync;\n',
      "broker/env.ts": "export const home = () =>\n  Deno.env.get(`HOME`);\n",
      "cli/exit.ts": 'import process from "process";\nexport const exit = process.exit;\n',
    };
    await withTree(files, (root) => {
      const r = checkLayers({ root, allowlist: [] });
      assert.deepEqual(r.forbidden.map(formatEdge), [
        "src/broker/env.ts:2 uses Deno (layer broker may not import layer runtime: Deno is for src/runtime only)",
        "src/cli/exit.ts:1 imports process (layer cli may not import layer runtime: process is for src/runtime only)",
        "src/storage/disk.ts:1 imports node:fs (layer storage may not import layer runtime: node:fs is for src/runtime only)",
      ]);
    });
  });

  await t.step("fails a front importing the other front, and a file of no layer", async () => {
    const files = {
      "http/kafka_bridge.ts": 'export * from "../kafka_protocol/server.ts";\n',
      "gadgets/x.ts": "export const x = 1;\n",
    };
    await withTree(files, (root) => {
      const r = checkLayers({ root, allowlist: [] });
      assert.deepEqual(r.forbidden.map(formatEdge), [
        "src/http/kafka_bridge.ts:1 imports src/kafka_protocol/server.ts (layer http may not import layer kafka_protocol)",
      ]);
      assert.deepEqual(r.problems, [
        "src/gadgets/x.ts belongs to no layer: add its folder to the layer table",
      ]);
      assert.equal(r.ok, false);
    });
  });

  await t.step("lists files over 600 lines without failing", async () => {
    const long = "export const a = 1;\n" + "// filler\n".repeat(650);
    await withTree({ "broker/long.ts": long }, (root) => {
      const r = checkLayers({ root, allowlist: [] });
      assert.deepEqual(r.large, [{ file: "src/broker/long.ts", lines: 651 }]);
      assert.equal(r.ok, true);
    });
  });

  await t.step("maskSource keeps template substitutions as code", () => {
    const { code } = maskSource('const s = `a ${import("./x.ts")} b`;\n');
    assert.match(code, /import\(" {6}"\)/);
    assert.doesNotMatch(code, /a \$/);
  });

  await t.step("this repository's src/ passes with its allowlist", () => {
    const r = checkLayers();
    assert.equal(r.ok, true, formatReport(r));
  });
});
