/**
 * Rights (src/security): the operations a token may be granted, the rules of the token file, and
 * the one check both fronts apply, HTTP per route (src/http/auth.ts) and Kafka per request
 * (src/kafka_protocol/acl.ts). A pattern is an exact name or a prefix ending in `*` (`*` alone
 * matches every name).
 */

export const AUTH_OPS = ["read", "write", "admin"] as const;
export type AuthOp = typeof AUTH_OPS[number];

/** One grant: `ops` on the topics or the groups that `topic` / `group` matches. */
export type AuthRule = { topic: string; ops: AuthOp[] } | { group: string; ops: AuthOp[] };

export interface Principal {
  name: string;
  rules: readonly AuthRule[];
}

/** True when `pattern` (exact, or prefix ending in `*`) matches `name`. */
export function patternMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/** True when one of the principal's rules grants `op` on the topic or group `name`. */
export function allows(
  principal: Principal,
  kind: "topic" | "group",
  name: string,
  op: AuthOp,
): boolean {
  return principal.rules.some((rule) => {
    const pattern = kind === "topic"
      ? ("topic" in rule ? rule.topic : undefined)
      : ("group" in rule ? rule.group : undefined);
    return pattern !== undefined && rule.ops.includes(op) && patternMatches(pattern, name);
  });
}
