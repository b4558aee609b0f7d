/**
 * The damage one log found, for its callers (`PartitionLog.damage`): at open, and each time a
 * read reaches a batch that fails its checks. Kept once per file and position, at most
 * LOG_DAMAGE_ENTRIES_MAX entries (the first found; later ones are only counted), so a log with a
 * badly damaged file cannot grow it without bound.
 */
import { SluiceError } from "../errors.ts";
import { LOG_DAMAGE_ENTRIES_MAX } from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { LogDamage } from "./storage_errors.ts";

export type { LogDamage } from "./storage_errors.ts";

export class DamageList {
  readonly #entries: LogDamage[] = [];
  #count = 0;

  /** Adds `damage` unless its file and position are known; true when it is new. */
  add(damage: LogDamage): boolean {
    for (const d of this.#entries) {
      if (d.file === damage.file && d.position === damage.position) return false;
    }
    this.#count++;
    if (this.#entries.length < LOG_DAMAGE_ENTRIES_MAX) {
      this.#entries.push(Object.freeze({ ...damage }));
    }
    return true;
  }

  /** A CORRUPT_LOG a read met joins the list (and is logged once per file and position). */
  noteReadError(err: unknown, logger: Logger): void {
    if (!(err instanceof SluiceError) || err.code !== "CORRUPT_LOG") return;
    const file = err.details?.file;
    const position = err.details?.position;
    if (typeof file !== "string" || typeof position !== "number") return;
    if (this.add({ file, position, reason: err.message })) {
      logger.error("a read reached a corrupt batch", { file, position, error: err.message });
    }
  }

  get entries(): readonly LogDamage[] {
    return this.#entries;
  }

  /** Distinct damage found, including what did not fit in the list. */
  get count(): number {
    return this.#count;
  }
}
