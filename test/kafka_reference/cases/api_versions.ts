/**
 * Differential cases: ApiVersions (see ../differential_test.ts).
 */
import type { CaseContext } from "../case_context.ts";
import { withApiVersion, withUnknownTag } from "../differential_lib.ts";

/** The ApiVersions cases. */
export async function apiVersionsCases(c: CaseContext): Promise<void> {
  const { check, versions } = c;
  for (const v of versions("ApiVersions")) {
    const body = { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" };
    await check({ api: "ApiVersions", version: v, label: "request", body });
    if (v >= 3) {
      await check({
        api: "ApiVersions",
        version: v,
        label: "unknown tagged field",
        body,
        mutate: withUnknownTag,
      });
      await check({
        api: "ApiVersions",
        version: v,
        label: "invalid client software name",
        body: { clientSoftwareName: "bad name!", clientSoftwareVersion: "1.0.0" },
      });
    }
  }
  // A client newer than the broker asks at its own version: answered at v0 with
  // UNSUPPORTED_VERSION and the versions served (KIP-511).
  await check({
    api: "ApiVersions",
    version: 3,
    label: "version 127",
    body: { clientSoftwareName: "sluice-diff", clientSoftwareVersion: "1.0.0" },
    mutate: withApiVersion(127),
  });
}
