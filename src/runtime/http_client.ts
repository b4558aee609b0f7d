/**
 * Outgoing HTTP requests that trust extra certificates: a cluster's brokers forward HTTP requests
 * to each other over HTTPS with their own (often self-signed) certificate. `fetchTrusting(caCerts)`
 * is fetch() with those PEM certificates trusted besides the runtime's roots: on Deno through a
 * Deno.createHttpClient client, on Bun through fetch's `tls.ca` option. No certificates: plain
 * fetch().
 */
import { runtimeName } from "./serve.ts";

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export function fetchTrusting(caCerts: readonly string[]): FetchLike {
  if (caCerts.length === 0) return (url, init) => fetch(url, init);
  if (runtimeName() === "deno") {
    const client = Deno.createHttpClient({ caCerts: [...caCerts] });
    return (url, init) => fetch(url, { ...init, client } as RequestInit);
  }
  return (url, init) => fetch(url, { ...init, tls: { ca: [...caCerts] } } as RequestInit);
}
