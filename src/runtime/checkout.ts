/**
 * Files of this checkout that the server reads at run time: the native library (native/build/)
 * and the web console's files (src/http/console/). Every such path is resolved here, from this
 * module's own URL, two folders below the checkout's root.
 *
 * `deno task start` runs the server bundled (scripts/build_server.ts) into dist/server/, whose
 * modules also sit two folders below the root. So "../../" from this module's URL is the root both
 * from the source tree (src/runtime/checkout.ts) and from the bundle (dist/server/<chunk>.js).
 * A module elsewhere that resolved its own "../console/" would find it from src/http/routes/ only.
 */

/** The URL of `path` (relative to the checkout's root, such as "native/build/"). */
export function checkoutUrl(path: string): URL {
  return new URL(`../../${path}`, import.meta.url);
}
