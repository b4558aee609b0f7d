/**
 * The cluster's one door to etcd (3.4+), the metadata store in ZooKeeper's role: a small client of
 * etcd's v3 JSON gateway over plain HTTP with `fetch` (the same on Deno and Bun; no npm client, no
 * gRPC). Everything the cluster keeps in etcd goes through this file.
 *
 * Wire (etcd's gRPC-gateway): POST `<endpoint>/v3/<service>/<method>` with a JSON body; keys and
 * values are base64 strings, int64 fields (revisions, lease ids, TTLs) decimal strings, and fields
 * at their zero value are left out of answers (a missing `kvs` is no key, a missing `succeeded`
 * false). Used here:
 *
 * | call                   | path                  | body                                                  |
 * | ---------------------- | --------------------- | ----------------------------------------------------- |
 * | get, range             | /v3/kv/range          | `{key, range_end?, limit?}`                            |
 * | put                    | /v3/kv/put            | `{key, value, lease?}`                                 |
 * | delete                 | /v3/kv/deleterange    | `{key}`                                                |
 * | compare-and-swap       | /v3/kv/txn            | `{compare: [{key, target: "MOD", result: "EQUAL", mod_revision}], success: [{request_put}], failure: []}` |
 * | lease grant            | /v3/lease/grant       | `{TTL}` -> `{ID, TTL}`                                  |
 * | lease keep-alive       | /v3/lease/keepalive   | `{ID}` -> `{result: {ID, TTL}}` (TTL absent: expired)  |
 * | lease revoke           | /v3/lease/revoke      | `{ID}`                                                 |
 *
 * Compare-and-swap on a key's mod revision (0: the key must not exist) is how two controllers
 * can never both win (Kafka's partition-state writes, AlterPartition). A key written under a lease
 * disappears when the lease expires: broker registrations live so.
 *
 * Errors: no answer within ETCD_REQUEST_TIMEOUT_MS, a refused connection, a non-2xx status or an
 * answer that is not etcd's are CLUSTER_UNAVAILABLE (retriable), with the endpoint and the call
 * in the message; answers over ETCD_RESPONSE_BYTES_MAX are refused the same way.
 */
import { SluiceError } from "../errors.ts";
import {
  ETCD_RANGE_KEYS_MAX,
  ETCD_REQUEST_TIMEOUT_MS,
  ETCD_RESPONSE_BYTES_MAX,
} from "../limits.ts";

/** One key as etcd holds it. */
export interface EtcdKv {
  key: string;
  value: Uint8Array;
  /** The store revision that created the key. */
  createRevision: number;
  /** The store revision of the key's last change: what compare-and-swap compares. */
  modRevision: number;
  /** The key's own change count since its creation (1 for a new key). */
  version: number;
  /** The lease the key lives under; "0" for none. */
  lease: string;
}

export interface EtcdOptions {
  timeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(text: string | undefined): Uint8Array {
  if (text === undefined || text === "") return new Uint8Array(0);
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function bytesOf(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? encoder.encode(v) : v;
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

// deno-lint-ignore no-explicit-any
type Json = any;

function int(v: unknown): number {
  return v === undefined ? 0 : Number(v);
}

function kvOf(raw: Json): EtcdKv {
  return {
    key: decoder.decode(fromBase64(raw.key)),
    value: fromBase64(raw.value),
    createRevision: int(raw.create_revision),
    modRevision: int(raw.mod_revision),
    version: int(raw.version),
    lease: raw.lease ?? "0",
  };
}

export class EtcdClient {
  readonly endpoint: string;
  readonly #timeoutMs: number;

  constructor(endpoint: string, options: EtcdOptions = {}) {
    this.endpoint = endpoint.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? ETCD_REQUEST_TIMEOUT_MS;
  }

  /** The key's current value and revisions; undefined when it does not exist. */
  async get(key: string): Promise<EtcdKv | undefined> {
    const answer = await this.#call("kv/range", { key: toBase64(encoder.encode(key)) });
    const kvs = answer.kvs as Json[] | undefined;
    return kvs === undefined || kvs.length === 0 ? undefined : kvOf(kvs[0]);
  }

  /**
   * Every key starting with `prefix`, in key order, at most ETCD_RANGE_KEYS_MAX (`more` says
   * there were others), and the store's revision when read.
   */
  async range(prefix: string): Promise<{ kvs: EtcdKv[]; more: boolean; revision: number }> {
    const answer = await this.#call("kv/range", {
      key: toBase64(encoder.encode(prefix)),
      range_end: toBase64(prefixEnd(prefix)),
      limit: ETCD_RANGE_KEYS_MAX,
    });
    return {
      kvs: ((answer.kvs ?? []) as Json[]).map(kvOf),
      more: answer.more === true,
      revision: int(answer.header?.revision),
    };
  }

  /** Writes the key (under `lease` when given); the store's new revision. */
  async put(key: string, value: string | Uint8Array, options: { lease?: string } = {}) {
    const answer = await this.#call("kv/put", {
      key: toBase64(encoder.encode(key)),
      value: toBase64(bytesOf(value)),
      ...(options.lease === undefined ? {} : { lease: options.lease }),
    });
    return int(answer.header?.revision);
  }

  /** Deletes the key; whether it existed. */
  async delete(key: string): Promise<boolean> {
    const answer = await this.#call("kv/deleterange", { key: toBase64(encoder.encode(key)) });
    return int(answer.deleted) > 0;
  }

  /**
   * Writes the key only if its mod revision is still `expected` (0: only if it does not exist),
   * in one etcd transaction: `ok` false when another writer changed it first, with the key as it
   * is now (undefined if absent). `revision` is the store's revision after the call.
   */
  async putIfRevision(
    key: string,
    value: string | Uint8Array,
    expected: number,
    options: { lease?: string } = {},
  ): Promise<{ ok: boolean; revision: number; current: EtcdKv | undefined }> {
    const k = toBase64(encoder.encode(key));
    const answer = await this.#call("kv/txn", {
      compare: [{ key: k, target: "MOD", result: "EQUAL", mod_revision: String(expected) }],
      success: [{
        request_put: {
          key: k,
          value: toBase64(bytesOf(value)),
          ...(options.lease === undefined ? {} : { lease: options.lease }),
        },
      }],
      failure: [{ request_range: { key: k } }],
    });
    const revision = int(answer.header?.revision);
    if (answer.succeeded === true) return { ok: true, revision, current: undefined };
    const kvs = answer.responses?.[0]?.response_range?.kvs as Json[] | undefined;
    return {
      ok: false,
      revision,
      current: kvs === undefined || kvs.length === 0 ? undefined : kvOf(kvs[0]),
    };
  }

  /** A new lease of `ttlSeconds` (etcd may grant a longer one); its id and granted TTL. */
  async grantLease(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const answer = await this.#call("lease/grant", { TTL: String(ttlSeconds) });
    if (typeof answer.ID !== "string" || answer.ID === "0") {
      throw this.#unavailable("lease/grant", `no lease id in ${JSON.stringify(answer)}`);
    }
    return { id: answer.ID, ttl: int(answer.TTL) };
  }

  /** Renews the lease; its remaining TTL in seconds, 0 when it has expired (or never was). */
  async keepAlive(id: string): Promise<number> {
    const answer = await this.#call("lease/keepalive", { ID: id });
    return int(answer.result?.TTL);
  }

  /** Ends the lease at once: its keys are deleted. */
  async revokeLease(id: string): Promise<void> {
    await this.#call("lease/revoke", { ID: id });
  }

  async #call(path: string, body: Json): Promise<Json> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint}/v3/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const why = err instanceof Error && err.name === "TimeoutError"
        ? `no answer within ${this.#timeoutMs} ms`
        : err instanceof Error
        ? err.message
        : String(err);
      throw this.#unavailable(path, why);
    }
    let text: string;
    try {
      text = await readBounded(response);
    } catch (err) {
      throw this.#unavailable(path, err instanceof Error ? err.message : String(err));
    }
    if (!response.ok) {
      throw this.#unavailable(path, `status ${response.status}: ${text.slice(0, 200)}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw this.#unavailable(path, `not JSON: ${text.slice(0, 200)}`);
    }
  }

  #unavailable(path: string, why: string): SluiceError {
    return new SluiceError("CLUSTER_UNAVAILABLE", `etcd ${this.endpoint} ${path}: ${why}`, {
      endpoint: this.endpoint,
      call: path,
    });
  }
}

/** The body as text, refused past ETCD_RESPONSE_BYTES_MAX. */
async function readBounded(response: Response): Promise<string> {
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
