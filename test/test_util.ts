/**
 * Helpers shared by the tests: seeded random numbers and bytes (so a failure can be replayed from
 * its seed), hex conversion and byte-array assertions. Not a test file itself (no `_test` suffix).
 */
import assert from "node:assert/strict";

/** mulberry32: a seeded PRNG returning uint32 values, so a failure can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same mulberry32 sequence as prng(seed), scaled to floats in [0, 1). */
export function prngFloat(seed: number): () => number {
  const next = prng(seed);
  return () => next() / 0x1_0000_0000;
}

/**
 * `length` bytes, each the low byte of one prng() value: from a fresh prng(source) for a seed, or
 * drawn on from `source` itself when given a generator (several buffers from one stream).
 */
export function randomBytes(length: number, source: number | (() => number)): Uint8Array {
  const next = typeof source === "number" ? prng(source) : source;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** Lower-case hex, two digits a byte. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The bytes of a hex string (two digits a byte, no separators). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Byte equality with the first differing index in the message (deepEqual on 1 MiB is slow). */
export function assertBytes(
  actual: Uint8Array | null,
  expectedInput: Uint8Array | string | null,
  what: string,
): void {
  // A string stands for its UTF-8 bytes, as the record encoder writes it.
  const expected = typeof expectedInput === "string"
    ? new TextEncoder().encode(expectedInput)
    : expectedInput;
  if (expected === null || actual === null) {
    assert.equal(actual, expected, what);
    return;
  }
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

const tempDirs: string[] = [];
let cleanupRegistered = false;

/**
 * A fresh temp directory that is removed when the test module ends (Deno's "unload" event fires
 * once per test file), so tests that leave logs open or fail midway leave nothing behind.
 */
export function tempDir(prefix: string): string {
  const dir = Deno.makeTempDirSync({ prefix });
  tempDirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    globalThis.addEventListener("unload", () => {
      for (const d of tempDirs) {
        try {
          Deno.removeSync(d, { recursive: true });
        } catch {
          // already gone
        }
      }
    });
  }
  return dir;
}

/** The Bun binary: SLUICE_BUN (which .ci/run sets), PATH, or node_modules/.bin; undefined if none. */
export function findBun(): string | undefined {
  const candidates = [
    Deno.env.get("SLUICE_BUN"),
    ...(Deno.env.get("PATH") ?? "").split(":").map((d) => `${d}/bun`),
    new URL("../node_modules/.bin/bun", import.meta.url).pathname,
  ];
  for (const path of candidates) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether `command args` runs and exits 0 (false when it is not installed). */
function commandRuns(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** gcc on PATH: without it the native library cannot be built (and `deno task test` falls back). */
export const gccAvailable: boolean = commandRuns("gcc", ["--version"]);

/** x86-64 with SSE4.2 and PCLMULQDQ (Linux): where the native CRC-32C kernel must load. */
export const cpuHasCrcKernel: boolean = (() => {
  if (Deno.build.arch !== "x86_64" || Deno.build.os !== "linux") return false;
  const flags = Deno.readTextFileSync("/proc/cpuinfo").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
  const set = new Set(flags.trim().split(/\s+/));
  return set.has("sse4_2") && set.has("pclmulqdq");
})();

/** Whether the openssl command runs (the TLS tests make their certificates with it). */
export const opensslAvailable: boolean = commandRuns("openssl", ["version"]);

export interface SelfSignedCert {
  certPath: string;
  keyPath: string;
  pem: string;
}

/**
 * A self-signed end-entity certificate for localhost and 127.0.0.1, made by openssl in a new
 * temporary directory. rustls (Deno's TLS) wants a SAN and refuses a CA certificate as a server's
 * own (CaUsedAsEndEntity): basicConstraints CA:FALSE.
 */
export function makeSelfSignedCert(prefix = "sluice-tls-"): SelfSignedCert {
  const dir = tempDir(prefix);
  const gen = new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
    ],
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!gen.success) throw new Error(new TextDecoder().decode(gen.stderr));
  return {
    certPath: `${dir}/cert.pem`,
    keyPath: `${dir}/key.pem`,
    pem: Deno.readTextFileSync(`${dir}/cert.pem`),
  };
}
