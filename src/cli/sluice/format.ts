/**
 * kcat-style output format strings for `sluice consume -f`: a format is compiled once into parts,
 * then each record is rendered to bytes (a value's bytes are written as they are).
 *
 *   %s value   %S value length (-1 for null)   %k key   %K key length (-1 for null)
 *   %t topic   %p partition   %o offset   %T timestamp (ms)   %h headers as k=v,k=v   %% a %
 *   \n \r \t \\ as in C
 *
 * A null key or value prints as nothing (kcat's default). Any other `%x` is an error at compile
 * time (FORMAT_INVALID), so a typo does not print garbage for a million records.
 */
import { CliError } from "./errors.ts";

/** One record as the consumer holds it: key and value as bytes (null for a null). */
export interface OutRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: { key: string; value: string | null }[];
}

type Part = string | "%s" | "%S" | "%k" | "%K" | "%t" | "%p" | "%o" | "%T" | "%h";

const FIELDS = new Set(["s", "S", "k", "K", "t", "p", "o", "T", "h"]);
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\" };

export class RecordFormat {
  readonly #parts: { field: boolean; text: string; bytes: Uint8Array }[];
  readonly #enc = new TextEncoder();

  constructor(format: string) {
    const parts: Part[] = [];
    let literal = "";
    for (let i = 0; i < format.length; i++) {
      const c = format[i];
      if (c === "\\" && i + 1 < format.length && ESCAPES[format[i + 1]] !== undefined) {
        literal += ESCAPES[format[++i]];
      } else if (c === "%") {
        const f = format[++i];
        if (f === "%") literal += "%";
        else if (f !== undefined && FIELDS.has(f)) {
          if (literal !== "") parts.push(literal);
          literal = "";
          parts.push(`%${f}` as Part);
        } else {
          throw new CliError(
            "FORMAT_INVALID",
            `format "${format}": %${f ?? ""} is not one of %s %S %k %K %t %p %o %T %h %%`,
          );
        }
      } else literal += c;
    }
    if (literal !== "") parts.push(literal);
    this.#parts = parts.map((p) => {
      const field = p.length === 2 && p[0] === "%" && FIELDS.has(p[1]);
      return { field, text: p, bytes: field ? new Uint8Array(0) : this.#enc.encode(p) };
    });
  }

  /** Appends the record's rendering to `out` (chunks written together later). */
  render(r: OutRecord, out: Uint8Array[]): void {
    for (const part of this.#parts) {
      if (!part.field) {
        out.push(part.bytes);
        continue;
      }
      switch (part.text) {
        case "%s":
          if (r.value !== null) out.push(r.value);
          break;
        case "%k":
          if (r.key !== null) out.push(r.key);
          break;
        case "%S":
          out.push(this.#enc.encode(String(r.value === null ? -1 : r.value.length)));
          break;
        case "%K":
          out.push(this.#enc.encode(String(r.key === null ? -1 : r.key.length)));
          break;
        case "%t":
          out.push(this.#enc.encode(r.topic));
          break;
        case "%p":
          out.push(this.#enc.encode(String(r.partition)));
          break;
        case "%o":
          out.push(this.#enc.encode(String(r.offset)));
          break;
        case "%T":
          out.push(this.#enc.encode(String(r.timestamp)));
          break;
        case "%h":
          out.push(
            this.#enc.encode(r.headers.map((h) => `${h.key}=${h.value ?? ""}`).join(",")),
          );
          break;
      }
    }
  }
}

/** Chunks as one buffer (one write per fetched response). */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
