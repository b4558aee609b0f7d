/**
 * The process's open-file limit (RLIMIT_NOFILE, soft), from which the descriptor budgets in
 * src/limits.ts are derived. Linux reports it in /proc/self/limits:
 *
 * ```
 * Limit                     Soft Limit           Hard Limit           Units
 * Max open files            20000                20000                files
 * ```
 * Elsewhere (or when the file cannot be read) the conservative 1024 of most systems is assumed.
 */
import * as fs from "node:fs";

/** Assumed when the limit cannot be read. */
export const DESCRIPTOR_LIMIT_FALLBACK = 1024;

/** Parses the "Max open files" soft limit out of /proc/self/limits text ("unlimited" -> 2^20). */
export function parseDescriptorLimit(text: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  if (line === undefined) return undefined;
  const soft = line.slice("Max open files".length).trim().split(/\s+/)[0];
  if (soft === "unlimited") return 1 << 20;
  const n = Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

let cached: number | undefined;

/** This process's soft open-file limit (read once). */
export function descriptorLimit(): number {
  if (cached !== undefined) return cached;
  let limit: number | undefined;
  try {
    limit = parseDescriptorLimit(fs.readFileSync("/proc/self/limits", "utf8"));
  } catch {
    limit = undefined;
  }
  cached = limit ?? DESCRIPTOR_LIMIT_FALLBACK;
  return cached;
}
