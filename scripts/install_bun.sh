#!/usr/bin/env bash
# Installs Bun from npm when `bun` is not on PATH, and prints the path of the bun binary.
# The tests that run Sluice under Bun (test/runtime/bun_test.ts) find it via SLUICE_BUN:
#   export SLUICE_BUN="$(scripts/install_bun.sh)"
set -euo pipefail
BUN_VERSION="${BUN_VERSION:-1.4.5}"
if command -v bun >/dev/null 2>&1; then
  command -v bun
  exit 0
fi
prefix="${SLUICE_TOOLS_DIR:-${HOME:-/tmp}/.sluice-tools}/bun"
if [ ! -x "$prefix/node_modules/.bin/bun" ]; then
  echo "installing bun@${BUN_VERSION} from npm into $prefix" >&2
  mkdir -p "$prefix"
  if ! npm install --prefix "$prefix" --no-audit --no-fund "bun@${BUN_VERSION}" >"$prefix/npm.log" 2>&1; then
    cat "$prefix/npm.log" >&2
    echo "npm could not install bun@${BUN_VERSION}" >&2
    exit 1
  fi
fi
echo "$prefix/node_modules/.bin/bun"
