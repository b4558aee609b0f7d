/**
 * Differential cases: FindCoordinator (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import type { CaseContext } from "../case_context.ts";
import { type CaseSpec, withUnknownTag } from "../differential_lib.ts";

/** The FindCoordinator cases. */
export async function findCoordinatorCases(c: CaseContext): Promise<void> {
  const { check, versions, until } = c;
  // Only now: Metadata's "all topics" above would list the two internal topics.
  // Kafka creates __consumer_offsets and __transaction_state on first use.
  await until("FindCoordinator (group)", {
    api: "FindCoordinator",
    version: 3,
    label: "",
    body: { key: "warm-up", keyType: 0 },
  }, (b) => b.errorCode === 0);
  // Sluice has no transaction coordinator: only Kafka's must be ready.
  await until(
    "FindCoordinator (transaction)",
    {
      api: "FindCoordinator",
      version: 3,
      label: "",
      body: { key: "warm-up", keyType: 1 },
    },
    (b) => b.errorCode === 0,
    true,
  );
  for (const v of versions("FindCoordinator")) {
    const c = (label: string, body: Struct, more: Partial<CaseSpec> = {}) =>
      check({ api: "FindCoordinator", version: v, label, body, ...more });
    const keys = (keyType: number, ...k: string[]): Struct =>
      v >= 4 ? { keyType, coordinatorKeys: k } : { keyType, key: k[0] };
    await c("group", keys(0, "diff-group"));
    if (v >= 4) {
      await c("two groups", keys(0, "diff-group", "other-group"));
      await c("no keys", keys(0));
    }
    await c("empty group id", keys(0, ""));
    if (v >= 1) {
      await c("transaction", keys(1, "diff-transaction"));
      await c("unknown key type", keys(7, "diff-group"));
    }
    if (v >= 3) {
      await c("unknown tagged field", keys(0, "diff-group"), { mutate: withUnknownTag });
    }
  }
}
