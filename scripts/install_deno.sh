#!/usr/bin/env bash
# Installs Deno from npm (the `deno` package ships the binary) when `deno` is not on PATH, and
# prints the directory to put on PATH. Used by .ci/run; handy on a machine that has only Node.js:
#   export PATH="$(scripts/install_deno.sh):$PATH"
set -euo pipefail
DENO_VERSION="${DENO_VERSION:-2.9.6}"
if command -v deno >/dev/null 2>&1; then
  dirname "$(command -v deno)"
  exit 0
fi
prefix="${SLUICE_TOOLS_DIR:-${HOME:-/tmp}/.sluice-tools}/deno"
if [ ! -x "$prefix/node_modules/.bin/deno" ]; then
  echo "installing deno@${DENO_VERSION} from npm into $prefix" >&2
  mkdir -p "$prefix"
  if ! npm install --prefix "$prefix" --no-audit --no-fund "deno@${DENO_VERSION}" >"$prefix/npm.log" 2>&1; then
    cat "$prefix/npm.log" >&2
    echo "npm could not install deno@${DENO_VERSION}" >&2
    exit 1
  fi
fi
echo "$prefix/node_modules/.bin"
