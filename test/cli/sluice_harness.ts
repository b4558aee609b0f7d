/**
 * Runs the `sluice` command line (src/cli/sluice/main.ts) as a child process, as a user would:
 * arguments, stdin bytes, environment; returns its exit code, stdout and stderr. The child gets
 * a HOME and XDG_CONFIG_HOME of its own (an empty temp dir unless the test gives one), so a
 * config file of the machine's user never leaks in, and no SLUICE_URL / SLUICE_TOKEN unless given.
 *
 * Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";

const MAIN = new URL("../../src/cli/sluice/main.ts", import.meta.url).pathname;
export const REPO = new URL("../../", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
}

export interface CliOptions {
  /** Bytes or text fed to stdin (then closed); none: stdin is empty. */
  stdin?: string | Uint8Array;
  /** Extra environment (SLUICE_URL, SLUICE_TOKEN, HOME, XDG_CONFIG_HOME). */
  env?: Record<string, string>;
  /** Run this executable instead of `deno run -A main.ts` (an installed `sluice`). */
  executable?: string;
  cwd?: string;
}

let emptyHome: string | undefined;
let denoDir: string | undefined;

/** Deno's cache as this process sees it (the child's HOME moves, its cache must not). */
async function currentDenoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

/** Starts `sluice ARGS` with piped stdin, stdout and stderr. */
export async function spawnSluice(
  args: readonly string[],
  options: CliOptions = {},
): Promise<Deno.ChildProcess> {
  emptyHome ??= await Deno.makeTempDir({ prefix: "sluice-cli-home-" });
  denoDir ??= await currentDenoDir();
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    NO_COLOR: "1",
    DENO_DIR: denoDir,
    HOME: emptyHome,
    XDG_CONFIG_HOME: `${emptyHome}/.config`,
  };
  delete env.SLUICE_URL;
  delete env.SLUICE_TOKEN;
  Object.assign(env, options.env);
  const command = options.executable ?? Deno.execPath();
  const argv = options.executable === undefined ? ["run", "-A", MAIN, ...args] : [...args];
  return new Deno.Command(command, {
    args: argv,
    env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `sluice ARGS` and waits for it to end. */
export async function sluice(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = await spawnSluice(args, options);
  const writer = child.stdin.getWriter();
  const input = typeof options.stdin === "string"
    ? new TextEncoder().encode(options.stdin)
    : options.stdin;
  if (input !== undefined) await writer.write(input).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stdoutBytes: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Asserts exit 0 and returns stdout. */
export function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Asserts exit 1 with one `sluice: CODE: ...` line on stderr containing `text`. */
export function failsWith(r: CliResult, code: string, text: string, what: string): void {
  assert.equal(r.code, 1, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${what}: one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], new RegExp(`^sluice: ${code}: `), what);
  assert.ok(lines[0].includes(text), `${what}: "${text}" in ${lines[0]}`);
}

/** Asserts exit 2 with the message and the command's usage on stderr. */
export function usageError(r: CliResult, text: string, usageOf: string, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\nstderr: ${r.stderr}`);
  assert.ok(r.stderr.startsWith(`sluice: ${text}`), `${what}: ${r.stderr}`);
  assert.ok(r.stderr.includes(`Usage: ${usageOf}`), `${what}: usage in ${r.stderr}`);
  assert.equal(r.stdout, "", `${what}: nothing on stdout`);
}
