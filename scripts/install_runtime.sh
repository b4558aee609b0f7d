#!/usr/bin/env bash
# Installs a JavaScript runtime, `deno` or `bun`, from npm (each npm package ships the binary) when
# it is not on PATH, and prints the path of its binary. Used by .ci/run; handy on a machine that has
# only Node.js:
#   export PATH="$(dirname "$(scripts/install_runtime.sh deno)"):$PATH"
#   export SLUICE_BUN="$(scripts/install_runtime.sh bun)"   # test/runtime/bun_test.ts runs it
# Versions: DENO_VERSION (default 2.9.6) and BUN_VERSION (default 1.4.5).
set -euo pipefail
runtime="${1:-}"
case "$runtime" in
  deno) version="${DENO_VERSION:-2.9.6}" ;;
  bun) version="${BUN_VERSION:-1.4.5}" ;;
  *)
    echo "usage: $0 deno|bun" >&2
    exit 2
    ;;
esac
if command -v "$runtime" >/dev/null 2>&1; then
  command -v "$runtime"
  exit 0
fi
prefix="${SLUICE_TOOLS_DIR:-${HOME:-/tmp}/.sluice-tools}/$runtime"
if [ ! -x "$prefix/node_modules/.bin/$runtime" ]; then
  echo "installing $runtime@$version from npm into $prefix" >&2
  mkdir -p "$prefix"
  if ! npm install --prefix "$prefix" --no-audit --no-fund "$runtime@$version" >"$prefix/npm.log" 2>&1; then
    cat "$prefix/npm.log" >&2
    echo "npm could not install $runtime@$version" >&2
    exit 1
  fi
fi
echo "$prefix/node_modules/.bin/$runtime"
