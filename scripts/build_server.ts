/**
 * The build step of `deno task start`: bundles the server (src/main.ts and what it imports) into
 * dist/server/ with `deno bundle`, code split, so that the modules loaded on first use (cluster
 * mode, the zod schemas, the OpenAPI document, the demo) stay chunks of their own, loaded when
 * needed. The start task then runs dist/server/main.js.
 *
 * Why: a server started from its ~240 TypeScript modules keeps Deno's module graph and the
 * modules' sources in memory: its idle RSS was 62-66 MiB here; the same server bundled idles at
 * 53-55 MiB (issue 17, docs/bench/idle_memory.md). The bundle is not minified: stack traces keep
 * the source's names.
 *
 *   deno run -A scripts/build_server.ts          build, unless dist/server/ is newer than every
 *                                                source (src/, deno.json, deno.lock, this script)
 *                                                and was built by this Deno; well under 1 s
 *   deno run -A scripts/build_server.ts --force  build anyway
 *
 * The chunks' names carry a hash of their contents. A build adds its new chunks (and marks those it
 * shares with earlier builds as used now), then renames its main.js into place (atomic), and only
 * then removes the chunks no build has used for STALE_CHUNK_MS. So a server started from an
 * earlier build of the last day can still load its own chunks on first use, and two builds at once
 * leave one whole build in place. After the build, `deno cache` reads the bundle
 * once, so the server's first start does not analyse it (a first run costs ~20 MiB more RSS).
 *
 * Files the server reads at run time are found through src/runtime/checkout.ts, which resolves
 * them two folders up from its module: dist/server/ is two folders below the checkout's root, as
 * src/runtime/ is.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = join(ROOT, "dist", "server");
const MANIFEST = join(OUT, "build.json");
/** Chunks that no build has named for this long are removed (see above). */
const STALE_CHUNK_MS = 24 * 3600 * 1000;
/** What the bundle depends on besides src/. */
const INPUTS = ["deno.json", "deno.lock", "scripts/build_server.ts"];

interface Manifest {
  deno: string;
  /** The newest input's mtime (ms) when the build started. */
  inputsTime: number;
  files: string[];
}

/** Exit 1, naming the way to start without the bundle (a read-only checkout, say). */
function fail(message: string): never {
  console.error(
    `build_server: ${message}\n` +
      "build_server: without the bundle the server starts from its source: deno run -A src/main.ts serve",
  );
  Deno.exit(1);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) newest = Math.max(newest, newestMtime(path));
    else if (entry.isFile) newest = Math.max(newest, Deno.statSync(path).mtime?.getTime() ?? 0);
  }
  return newest;
}

function inputsTime(): number {
  let newest = newestMtime(join(ROOT, "src"));
  for (const f of INPUTS) newest = Math.max(newest, Deno.statSync(join(ROOT, f)).mtime!.getTime());
  return newest;
}

function readManifest(): Manifest | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(MANIFEST)) as Manifest;
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function upToDate(time: number): boolean {
  const manifest = readManifest();
  return manifest !== undefined && manifest.deno === Deno.version.deno &&
    manifest.inputsTime >= time && manifest.files.every((f) => exists(join(OUT, f)));
}

function deno(args: string[]): void {
  const out = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim().slice(-4000);
    throw new Error(`deno ${args[0]} failed:\n${text}`);
  }
}

function build(time: number): void {
  const started = performance.now();
  const temporary = join(ROOT, "dist", `.server-${Deno.pid}.tmp`);
  try {
    Deno.mkdirSync(OUT, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create ${OUT}: ${(err as Error).message}`);
  }
  deno([
    "bundle",
    "--platform=deno",
    "--code-splitting",
    "--outdir",
    temporary,
    "src/main.ts",
  ]);
  const files = [...Deno.readDirSync(temporary)].map((e) => e.name).sort();
  if (!files.includes("main.js")) throw new Error(`deno bundle wrote no main.js into ${temporary}`);
  // Chunks first (each name is its contents' hash: one already there is the same file), then
  // main.js, which names them, by one rename.
  const now = new Date();
  for (const name of files) {
    if (name === "main.js") continue;
    const path = join(OUT, name);
    if (exists(path)) Deno.utimeSync(path, now, now); // used by this build too
    else Deno.renameSync(join(temporary, name), path);
  }
  Deno.renameSync(join(temporary, "main.js"), join(OUT, "main.js"));
  Deno.removeSync(temporary, { recursive: true });
  const manifest: Manifest = { deno: Deno.version.deno, inputsTime: time, files };
  const manifestTemporary = `${MANIFEST}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(manifestTemporary, JSON.stringify(manifest, null, 2) + "\n");
  Deno.renameSync(manifestTemporary, MANIFEST);
  for (const entry of Deno.readDirSync(OUT)) {
    if (!entry.name.endsWith(".js") || files.includes(entry.name)) continue;
    const path = join(OUT, entry.name);
    const used = Deno.statSync(path).mtime?.getTime() ?? now.getTime();
    if (now.getTime() - used > STALE_CHUNK_MS) Deno.removeSync(path);
  }
  deno(["cache", "dist/server/main.js"]);
  console.error(
    `build_server: bundled src/main.ts into dist/server/ (${files.length} files) in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}

const time = inputsTime();
if (Deno.args.includes("--force") || !upToDate(time)) {
  try {
    build(time);
  } catch (err) {
    // A failed bundle leaves no temporary directory behind.
    try {
      Deno.removeSync(join(ROOT, "dist", `.server-${Deno.pid}.tmp`), { recursive: true });
    } catch { /* not made */ }
    fail(`cannot build dist/server/: ${(err as Error).message}`);
  }
}
