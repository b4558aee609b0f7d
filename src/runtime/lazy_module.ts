/**
 * Modules loaded on first use, synchronously, so that a server that never needs them does not pay
 * for them at start (idle RSS): native addons (lz4-napi) and Node built-ins that only some
 * requests use (node:zlib for gzip batches). A static import loads and links them at
 * start-up even when no client ever sends a compressed batch; an `await import()` cannot serve a
 * synchronous codec. `process.getBuiltinModule` (Node 22.3, Deno 2, Bun) and `createRequire` give
 * the synchronous load in both runtimes.
 *
 * Each load happens once per specifier; its result (or its error) is kept.
 */
import process from "node:process";

type Require = (specifier: string) => unknown;

const loaded = new Map<string, { value: unknown } | { error: unknown }>();
let requireFn: Require | undefined;

function nodeRequire(): Require {
  if (requireFn === undefined) {
    const getBuiltin = (process as { getBuiltinModule?: (name: string) => unknown })
      .getBuiltinModule;
    if (getBuiltin === undefined) throw new Error("process.getBuiltinModule is not available");
    const { createRequire } = getBuiltin("node:module") as {
      createRequire(from: string): Require;
    };
    requireFn = createRequire(import.meta.url);
  }
  return requireFn;
}

/** Loads `specifier` (a Node built-in such as "node:zlib", or an npm package) once; throws its error. */
export function loadModule<T>(specifier: string): T {
  let entry = loaded.get(specifier);
  if (entry === undefined) {
    try {
      entry = { value: nodeRequire()(specifier) };
    } catch (error) {
      entry = { error };
    }
    loaded.set(specifier, entry);
  }
  if ("error" in entry) throw entry.error;
  return entry.value as T;
}

/** True once `specifier` was loaded (or its load failed): for tests of what start-up loads. */
export function moduleLoaded(specifier: string): boolean {
  return loaded.has(specifier);
}
