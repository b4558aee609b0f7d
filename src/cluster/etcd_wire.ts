/**
 * The pieces of etcd's v3 JSON gateway that the client (etcd.ts) and the watch (etcd_watch.ts)
 * share: a key as etcd holds it, and the encodings of the gateway. Keys and values travel as
 * base64 strings, int64 fields (revisions, versions, lease ids) as decimal strings, and a field at
 * its zero value is left out of an answer: a missing `version` is 0, a missing `value` no bytes.
 */
import { SluiceError } from "../errors.ts";
import { ETCD_RESPONSE_BYTES_MAX } from "../limits.ts";

/** One key as etcd holds it. */
export interface EtcdKv {
  key: string;
  value: Uint8Array;
  /** The store revision that created the key (0 in a delete event). */
  createRevision: number;
  /** The store revision of the key's last change (in a delete event: of the delete). */
  modRevision: number;
  /** The key's own change count since its creation (1 for a new key, 0 in a delete event). */
  version: number;
  /** The lease the key lives under; "0" for none. */
  lease: string;
}

// deno-lint-ignore no-explicit-any
export type Json = any;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export function fromBase64(text: string | undefined): Uint8Array {
  if (text === undefined || text === "") return new Uint8Array(0);
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** A key (UTF-8) as the gateway wants it. */
export function keyOf(key: string): string {
  return toBase64(encoder.encode(key));
}

/** A value, text (UTF-8) or bytes, as the gateway wants it. */
export function valueOf(value: string | Uint8Array): string {
  return toBase64(typeof value === "string" ? encoder.encode(value) : value);
}

/** The key just past every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Uint8Array {
  const end = encoder.encode(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      const out = end.slice(0, i + 1);
      out[i]++;
      return out;
    }
  }
  return new Uint8Array([0]); // every key
}

/** An int64 field of an answer: absent is 0. */
export function int(v: unknown): number {
  return v === undefined ? 0 : Number(v);
}

/** A key of an answer (a range's `kvs`, a watch event's `kv`). */
export function kvOf(raw: Json): EtcdKv {
  return {
    key: decoder.decode(fromBase64(raw.key)),
    value: fromBase64(raw.value),
    createRevision: int(raw.create_revision),
    modRevision: int(raw.mod_revision),
    version: int(raw.version),
    lease: raw.lease ?? "0",
  };
}

/** CLUSTER_UNAVAILABLE for a call to etcd, naming the endpoint and the call. */
export function unavailable(endpoint: string, call: string, why: string): SluiceError {
  return new SluiceError("CLUSTER_UNAVAILABLE", `etcd ${endpoint} ${call}: ${why}`, {
    endpoint,
    call,
  });
}

/** What an error says, for a message. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The body as text, refused past ETCD_RESPONSE_BYTES_MAX. */
export async function readBounded(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > ETCD_RESPONSE_BYTES_MAX) {
      await reader.cancel();
      throw new Error(`answer over ${ETCD_RESPONSE_BYTES_MAX} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return decoder.decode(all);
}
