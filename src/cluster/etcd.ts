/**
 * The cluster's one door to etcd (3.4+), the metadata store in ZooKeeper's role: a small client of
 * etcd's v3 JSON gateway over plain HTTP with `fetch` (the same on Deno and Bun; no npm client, no
 * gRPC). Everything the cluster keeps in etcd goes through this file.
 *
 * Wire (etcd's gRPC-gateway): POST `<endpoint>/v3/<service>/<method>` with a JSON body; keys and
 * values are base64 strings, int64 fields (revisions, lease ids, TTLs) decimal strings, and fields
 * at their zero value are left out of answers (a missing `kvs` is no key, a missing `succeeded`
 * false; etcd_wire.ts). Used here:
 *
 * | call                   | path                  | body                                                  |
 * | ---------------------- | --------------------- | ----------------------------------------------------- |
 * | get, range, revision   | /v3/kv/range          | `{key, range_end?, limit?, revision?}`                 |
 * | put                    | /v3/kv/put            | `{key, value, lease?}`                                 |
 * | delete                 | /v3/kv/deleterange    | `{key}`                                                |
 * | txn, putIfRevision     | /v3/kv/txn            | `{compare: [{key, target, result, <target's field>}], success: [op], failure: [op]}` -> `{succeeded?, responses: [{response_put \| response_range \| response_delete_range}]}` |
 * | watch                  | /v3/watch             | `{create_request: {key, range_end, start_revision}}` -> a stream of JSON lines (etcd_watch.ts) |
 * | lease grant            | /v3/lease/grant       | `{TTL}` -> `{ID, TTL}`                                  |
 * | lease keep-alive       | /v3/lease/keepalive   | `{ID}` -> `{result: {ID, TTL}}` (TTL absent: expired)  |
 * | lease revoke           | /v3/lease/revoke      | `{ID}`                                                 |
 *
 * A txn compare is `{key, target: "MOD" | "CREATE" | "VERSION" | "VALUE", result: "EQUAL" |
 * "NOT_EQUAL" | "GREATER" | "LESS"}` with `mod_revision`, `create_revision`, `version` or `value`;
 * an op is `{request_put: {key, value, lease?}}`, `{request_delete_range: {key, range_end?}}` or
 * `{request_range: {key, range_end?, limit}}`.
 *
 * Transactions on keys' revisions are how two controllers can never both win (Kafka's
 * partition-state writes, AlterPartition) and how a topic and all its partition-state keys are
 * created in one step or not at all. A key written under a lease disappears when the lease
 * expires: broker registrations live so.
 *
 * Why the gateway and not the npm `etcd3` client (gRPC over @grpc/grpc-js), measured: both run on
 * Deno and Bun (etcd3 1.1.2's put, get and watch work on both). 2,000 sequential puts, then gets,
 * of 100-byte values against one local etcd 3.4, median of three runs on a shared 2-core machine:
 * Deno, gateway 536 puts/s and 736 gets/s against etcd3's 647 and 981; Bun, gateway 676 and
 * 1,108 against 702 and 1,155. A put costs ~1.5 ms either way (etcd's fsync); gRPC saves
 * ~0.2-0.3 ms a call on Deno and about nothing on Bun. Metadata traffic is a few calls a second,
 * and many keys at once go in one txn, so that does not pay for 27 packages (16 MB) of gRPC and
 * protobuf in the server; the gateway is plain `fetch`, the same code on both runtimes.
 *
 * Errors: no answer within ETCD_REQUEST_TIMEOUT_MS, a refused connection, a non-2xx status or an
 * answer that is not etcd's are CLUSTER_UNAVAILABLE (retriable), with the endpoint and the call
 * in the message; answers over ETCD_RESPONSE_BYTES_MAX are refused the same way.
 */
import { SluiceError } from "../errors.ts";
import { ETCD_RANGE_KEYS_MAX, ETCD_REQUEST_TIMEOUT_MS, ETCD_TXN_OPS_MAX } from "../limits.ts";
import { type EtcdWatch, type EtcdWatchOptions, startWatch } from "./etcd_watch.ts";
import {
  type EtcdKv,
  int,
  type Json,
  keyOf,
  kvOf,
  prefixEnd,
  readBounded,
  reasonOf,
  toBase64,
  unavailable,
  valueOf,
} from "./etcd_wire.ts";

export type { EtcdKv } from "./etcd_wire.ts";
export { prefixEnd } from "./etcd_wire.ts";
export type { EtcdWatch, EtcdWatchEvent, EtcdWatchOptions } from "./etcd_watch.ts";

export interface EtcdOptions {
  timeoutMs?: number;
}

/**
 * One condition of a transaction, on one key: its mod revision, create revision or version (all
 * 0 for a key that does not exist) or its value, against `value` by `cmp` ("=", "!=", ">", "<").
 * `{ key, target: "create", cmp: "=", value: 0 }` (see {@link absent}) holds when the key does
 * not exist; `{ key, target: "mod", cmp: "=", value: r }` when nobody wrote it since revision r.
 */
export type EtcdCompare =
  | { key: string; target: "mod" | "create" | "version"; cmp: EtcdCmp; value: number }
  | { key: string; target: "value"; cmp: EtcdCmp; value: string | Uint8Array };

export type EtcdCmp = "=" | "!=" | ">" | "<";

/** The compare that holds when `key` does not exist. */
export function absent(key: string): EtcdCompare {
  return { key, target: "create", cmp: "=", value: 0 };
}

/**
 * One operation of a transaction: write a key (under `lease` when given), delete one key or every
 * key with the prefix `key`, or read one key or every key with the prefix `key` (at most
 * ETCD_RANGE_KEYS_MAX, `more` says there were others).
 */
export type EtcdOp =
  | { op: "put"; key: string; value: string | Uint8Array; lease?: string }
  | { op: "delete"; key: string; prefix?: boolean }
  | { op: "range"; key: string; prefix?: boolean };

/** What one operation answered: a put nothing, a delete how many keys it deleted, a range its keys. */
export type EtcdOpResult<O extends EtcdOp = EtcdOp> = O extends { op: "put" } ? { op: "put" }
  : O extends { op: "delete" } ? { op: "delete"; deleted: number }
  : { op: "range"; kvs: EtcdKv[]; more: boolean };

/** The answers of a branch's operations, one for each, in their order and of their kinds. */
export type EtcdOpResults<Ops extends readonly EtcdOp[]> = {
  -readonly [I in keyof Ops]: EtcdOpResult<Ops[I]>;
};

/**
 * A transaction's answer: whether every compare held (the success branch ran) or not (the failure
 * branch ran), the store's revision after it, and the answers of the branch that ran.
 */
export type EtcdTxnResult<S extends readonly EtcdOp[], F extends readonly EtcdOp[]> =
  | { succeeded: true; revision: number; responses: EtcdOpResults<S> }
  | { succeeded: false; revision: number; responses: EtcdOpResults<F> };

const TARGETS = {
  mod: ["MOD", "mod_revision"],
  create: ["CREATE", "create_revision"],
  version: ["VERSION", "version"],
  value: ["VALUE", "value"],
} as const;

const CMPS = { "=": "EQUAL", "!=": "NOT_EQUAL", ">": "GREATER", "<": "LESS" } as const;

function compareOf(c: EtcdCompare): Json {
  const [target, field] = TARGETS[c.target];
  return {
    key: keyOf(c.key),
    target,
    result: CMPS[c.cmp],
    [field]: c.target === "value" ? valueOf(c.value) : String(c.value),
  };
}

function requestOf(o: EtcdOp): Json {
  const key = keyOf(o.key);
  const end = o.op !== "put" && o.prefix === true ? { range_end: toBase64(prefixEnd(o.key)) } : {};
  switch (o.op) {
    case "put":
      return {
        request_put: {
          key,
          value: valueOf(o.value),
          ...(o.lease === undefined ? {} : { lease: o.lease }),
        },
      };
    case "delete":
      return { request_delete_range: { key, ...end } };
    case "range":
      return { request_range: { key, ...end, limit: ETCD_RANGE_KEYS_MAX } };
  }
}

/** The answer to `o` in a txn's `responses`, or undefined when it is not there as it should be. */
function resultOf(o: EtcdOp, raw: Json): EtcdOpResult | undefined {
  switch (o.op) {
    case "put":
      return raw?.response_put === undefined ? undefined : { op: "put" };
    case "delete": {
      const r = raw?.response_delete_range;
      return r === undefined ? undefined : { op: "delete", deleted: int(r.deleted) };
    }
    case "range": {
      const r = raw?.response_range;
      return r === undefined
        ? undefined
        : { op: "range", kvs: ((r.kvs ?? []) as Json[]).map(kvOf), more: r.more === true };
    }
  }
}

export class EtcdClient {
  readonly endpoint: string;
  /** How long one request may take (ETCD_REQUEST_TIMEOUT_MS unless given). */
  readonly timeoutMs: number;

  constructor(endpoint: string, options: EtcdOptions = {}) {
    this.endpoint = endpoint.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? ETCD_REQUEST_TIMEOUT_MS;
  }

  /** The key's current value and revisions; undefined when it does not exist. */
  async get(key: string): Promise<EtcdKv | undefined> {
    const answer = await this.#call("kv/range", { key: keyOf(key) });
    const kvs = answer.kvs as Json[] | undefined;
    return kvs === undefined || kvs.length === 0 ? undefined : kvOf(kvs[0]);
  }

  /**
   * Every key starting with `prefix`, in key order, at most ETCD_RANGE_KEYS_MAX (`more` says
   * there were others), and the store's revision when read. With `revision`, the keys as they
   * were at that revision (CLUSTER_UNAVAILABLE if it has been compacted away).
   */
  async range(
    prefix: string,
    options: { revision?: number } = {},
  ): Promise<{ kvs: EtcdKv[]; more: boolean; revision: number }> {
    const answer = await this.#call("kv/range", {
      key: keyOf(prefix),
      range_end: toBase64(prefixEnd(prefix)),
      limit: ETCD_RANGE_KEYS_MAX,
      ...(options.revision === undefined ? {} : { revision: String(options.revision) }),
    });
    return {
      kvs: ((answer.kvs ?? []) as Json[]).map(kvOf),
      more: answer.more === true,
      revision: int(answer.header?.revision),
    };
  }

  /** The store's current revision (that of its last change). */
  async revision(): Promise<number> {
    const answer = await this.#call("kv/range", { key: toBase64(new Uint8Array([0])) });
    return int(answer.header?.revision);
  }

  /** Writes the key (under `lease` when given); the store's new revision. */
  async put(
    key: string,
    value: string | Uint8Array,
    options: { lease?: string } = {},
  ): Promise<number> {
    const answer = await this.#call("kv/put", {
      key: keyOf(key),
      value: valueOf(value),
      ...(options.lease === undefined ? {} : { lease: options.lease }),
    });
    return int(answer.header?.revision);
  }

  /** Deletes the key; whether it existed. */
  async delete(key: string): Promise<boolean> {
    const answer = await this.#call("kv/deleterange", { key: keyOf(key) });
    return int(answer.deleted) > 0;
  }

  /**
   * One etcd transaction: if every compare holds, the `success` operations run, else the
   * `failure` ones, all at one new revision (a branch that writes nothing leaves the revision
   * as it was). The answers come typed by the operations given, in their order:
   *
   * ```ts
   * const r = await etcd.txn([absent("/topics/a")], [
   *   { op: "put", key: "/topics/a", value: config },
   *   { op: "put", key: "/partitions/a/0", value: state },
   * ], [{ op: "range", key: "/topics/a" }]);
   * if (!r.succeeded) r.responses[0].kvs; // the topic as someone else created it
   * ```
   *
   * At most ETCD_TXN_OPS_MAX compares and as many operations on each branch (etcd's own
   * `--max-txn-ops`), else INVALID_REQUEST before anything is sent; one key may be written only
   * once per branch (etcd refuses a second write of it, as CLUSTER_UNAVAILABLE here).
   */
  async txn<const S extends readonly EtcdOp[], const F extends readonly EtcdOp[] = []>(
    compare: readonly EtcdCompare[],
    success: S,
    failure?: F,
  ): Promise<EtcdTxnResult<S, F>> {
    const other: readonly EtcdOp[] = failure ?? [];
    const most = Math.max(compare.length, success.length, other.length);
    if (most > ETCD_TXN_OPS_MAX) {
      throw new SluiceError(
        "INVALID_REQUEST",
        `an etcd transaction of ${most} compares or operations on one branch; at most ${ETCD_TXN_OPS_MAX}`,
        { count: most, max: ETCD_TXN_OPS_MAX },
      );
    }
    const answer = await this.#call("kv/txn", {
      compare: compare.map(compareOf),
      success: success.map(requestOf),
      failure: other.map(requestOf),
    });
    const succeeded = answer.succeeded === true;
    const ops = succeeded ? success : other;
    const raw = (answer.responses ?? []) as Json[];
    const responses: EtcdOpResult[] = [];
    for (let i = 0; i < ops.length; i++) {
      const result = resultOf(ops[i], raw[i]);
      if (result === undefined) {
        throw unavailable(
          this.endpoint,
          "kv/txn",
          `answer ${i} is not a ${ops[i].op}'s: ${JSON.stringify(answer).slice(0, 200)}`,
        );
      }
      responses.push(result);
    }
    return { succeeded, revision: int(answer.header?.revision), responses } as EtcdTxnResult<
      S,
      F
    >;
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
    const r = await this.txn(
      [{ key, target: "mod", cmp: "=", value: expected }],
      [{ op: "put", key, value, lease: options.lease }],
      [{ op: "range", key }],
    );
    if (r.succeeded) return { ok: true, revision: r.revision, current: undefined };
    return { ok: false, revision: r.revision, current: r.responses[0].kvs[0] };
  }

  /**
   * Watches every key starting with `prefix` from `options.fromRevision` on, until closed: see
   * etcd_watch.ts for what is delivered, how it reconnects and when it resets.
   */
  watch(prefix: string, options: EtcdWatchOptions): EtcdWatch {
    return startWatch(this, prefix, options);
  }

  /** A new lease of `ttlSeconds` (etcd may grant a longer one); its id and granted TTL. */
  async grantLease(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const answer = await this.#call("lease/grant", { TTL: String(ttlSeconds) });
    if (typeof answer.ID !== "string" || answer.ID === "0") {
      throw unavailable(this.endpoint, "lease/grant", `no lease id in ${JSON.stringify(answer)}`);
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
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const why = err instanceof Error && err.name === "TimeoutError"
        ? `no answer within ${this.timeoutMs} ms`
        : reasonOf(err);
      throw unavailable(this.endpoint, path, why);
    }
    let text: string;
    try {
      text = await readBounded(response);
    } catch (err) {
      throw unavailable(this.endpoint, path, reasonOf(err));
    }
    if (!response.ok) {
      throw unavailable(this.endpoint, path, `status ${response.status}: ${text.slice(0, 200)}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw unavailable(this.endpoint, path, `not JSON: ${text.slice(0, 200)}`);
    }
  }
}
