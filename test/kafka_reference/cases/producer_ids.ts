/**
 * Differential cases: InitProducerId (see ../differential_test.ts).
 */
import type { Struct } from "../../../src/kafka_protocol/codec.ts";
import type { Any, CaseContext } from "../case_context.ts";
import { type Peer, withUnknownTag } from "../differential_lib.ts";

/** The InitProducerId cases. */
export async function initProducerIdCases(c: CaseContext): Promise<void> {
  const { check, versions, until } = c;
  // Kafka's broker fetches its first block of producer ids from the controller on first use
  // (COORDINATOR_LOAD_IN_PROGRESS until then).
  await until("InitProducerId", {
    api: "InitProducerId",
    version: versions("InitProducerId").at(-1)!,
    label: "",
    body: {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1n,
      producerEpoch: -1,
    },
  }, (b) => b.errorCode === 0);
  const producerIds = new Map<Peer, bigint>();
  for (const v of versions("InitProducerId")) {
    const init = (transactionalId: string | null, extra = {}) => ({
      transactionalId,
      transactionTimeoutMs: 60_000,
      producerId: -1n,
      producerEpoch: -1,
      ...extra,
    });
    const c = (label: string, body: Struct | ((p: Peer) => Struct), more = {}) =>
      check({
        api: "InitProducerId",
        version: v,
        label,
        body,
        generated: ["producerId"],
        ...more,
      });
    await c("idempotent producer", init(null), {
      learn: (p: Peer, b: Any) => producerIds.set(p, b.producerId),
    });
    await c("transactional producer", init(`diff-transaction-v${v}`));
    await c(
      "transaction timeout over the maximum",
      init(`diff-transaction-big-v${v}`, { transactionTimeoutMs: 10_000_000 }),
    );
    if (v >= 3) {
      await c(
        "epoch bump of an idempotent producer",
        (p) => init(null, { producerId: producerIds.get(p) ?? -1n, producerEpoch: 0 }),
      );
    }
    if (v >= 2) await c("unknown tagged field", init(null), { mutate: withUnknownTag });
  }
}
