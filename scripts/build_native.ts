/**
 * `deno task native`: builds Sluice's native CRC-32C kernel, native/crc32c.c, and the batch
 * checker that runs it on a helper thread, native/batch_check.c, into one library,
 * native/build/libsluice_crc32c.so (.dylib on macOS), with the C compiler `$CC` (default gcc), in
 * well under a second. src/runtime/crc32c_native.ts loads it through FFI; src/record/crc32c.ts uses
 * it when it loads and passes its self-test, else @node-rs/crc32, else the portable code.
 *
 *   deno task native                 build (skipped when the library is newer than its source);
 *                                    a missing compiler or a failed build exits 1
 *   ... build_native.ts --if-possible  as `deno task start` and `deno task test` run it: a missing
 *                                    compiler or a failed build is one line on stderr and exit 0
 *                                    (the other implementations serve); a missing compiler is a
 *                                    debug line, printed only with SLUICE_DEBUG=1
 *   ... build_native.ts --force        rebuild even when up to date
 *   ... build_native.ts --out DIR      build into DIR instead of native/build/ (tests)
 *
 * The library is written to a temporary name and renamed into place, so a process loading it
 * never sees a half-written file, and two builds at once do not collide.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { crc32cLibraryName } from "../src/runtime/crc32c_native.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "if-possible": { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const ifPossible = values["if-possible"]!;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SOURCES = ["crc32c.c", "batch_check.c"].map((f) => join(ROOT, "native", f));
const BUILD_DIR = values.out === undefined ? join(ROOT, "native", "build") : resolve(values.out);
// No -Werror: a newer compiler's new warning must not cost users the kernel.
const FLAGS = ["-O2", "-std=gnu11", "-fPIC", "-shared", "-pthread", "-Wall", "-Wextra"];

function line(level: "debug" | "warn" | "info", message: string, fields = {}): void {
  if (level === "debug" && Deno.env.get("SLUICE_DEBUG") !== "1") return;
  console.error(JSON.stringify({ level, message: `build_native: ${message}`, ...fields }));
}

/** Exit 1, or 0 under --if-possible (the fallback implementations serve). */
function giveUp(level: "debug" | "warn", message: string, fields = {}): never {
  if (ifPossible) {
    line(level, `${message}; CRC-32C falls back on @node-rs/crc32 or the portable code`, fields);
    Deno.exit(0);
  }
  console.error(`build_native: ${message}`);
  Deno.exit(1);
}

function mtime(path: string): number | undefined {
  try {
    return Deno.statSync(path).mtime?.getTime();
  } catch {
    return undefined;
  }
}

const name = crc32cLibraryName(Deno.build.os);
if (name === undefined) giveUp("debug", `no native build for ${Deno.build.os}`);
const target = join(BUILD_DIR, name);

const built = mtime(target);
let sourceTime = 0;
for (const source of SOURCES) {
  const t = mtime(source);
  if (t === undefined) giveUp("warn", `${source} is missing`);
  sourceTime = Math.max(sourceTime, t);
}
const scriptTime = mtime(fileURLToPath(import.meta.url)) ?? 0;
if (!values.force && built !== undefined && built >= sourceTime && built >= scriptTime) {
  Deno.exit(0);
}

const cc = Deno.env.get("CC") || "gcc";
try {
  Deno.mkdirSync(BUILD_DIR, { recursive: true });
} catch (err) {
  // A read-only checkout: `deno task start` must still start.
  giveUp("warn", `cannot create ${BUILD_DIR}: ${(err as Error).message}`);
}
const temporary = join(BUILD_DIR, `${name}.${Deno.pid}.tmp`);
let out: Deno.CommandOutput;
try {
  out = new Deno.Command(cc, {
    args: [...FLAGS, "-o", temporary, ...SOURCES, "-ldl"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
} catch (err) {
  if (err instanceof Deno.errors.NotFound) giveUp("debug", `no C compiler (${cc}) found`);
  giveUp("warn", `cannot run ${cc}: ${(err as Error).message}`);
}
if (!out.success) {
  try {
    Deno.removeSync(temporary);
  } catch { /* not written */ }
  giveUp("warn", `${cc} failed`, { stderr: new TextDecoder().decode(out.stderr).slice(0, 4000) });
}
try {
  Deno.renameSync(temporary, target);
} catch (err) {
  giveUp("warn", `cannot write ${target}: ${(err as Error).message}`);
}
if (!ifPossible) {
  // The compiler's warnings, if any (test/record/crc32c_kernel_test.ts wants none).
  const warnings = new TextDecoder().decode(out.stderr).trim();
  if (warnings !== "") console.error(warnings);
  console.error(`build_native: built ${target}`);
}
