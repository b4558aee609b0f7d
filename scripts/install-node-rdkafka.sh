#!/usr/bin/env bash
# Installs node-rdkafka (librdkafka's Node.js binding) from npm into a cache dir and builds the
# librdkafka it bundles (2.12 for node-rdkafka 3.6.1) with node-gyp, for the tests that drive
# Sluice with a current librdkafka (test/kafka_protocol/node_rdkafka_test.ts). node-rdkafka is a
# NAN addon, which Deno cannot load: the tests run it under Node (/usr/bin/node or the first node
# on PATH) as a subprocess.
#
#   scripts/install-node-rdkafka.sh          # last line: the dir whose node_modules holds it
#
# Dir: $SLUICE_NODE_RDKAFKA_DIR, default ~/.cache/sluice/node-rdkafka. Idempotent: a dir whose
# marker names a complete build and whose addon loads is reused without asking npm. Needs node,
# npm, g++, make, python3 and zlib/OpenSSL headers; libzstd-dev is installed with apt-get when
# missing and this runs as root (without it librdkafka is built without zstd). The Node headers
# come from the Node install itself (/usr/include/node) when present, so node-gyp downloads
# nothing. librdkafka itself is built with `make -j$JOBS` (default 2) outside node-gyp's make:
# 3m44s wall (2m28s user, 18s sys) on a busy 2-core machine (load 6-7), a fresh dir.
set -euo pipefail

dir="${SLUICE_NODE_RDKAFKA_DIR:-$HOME/.cache/sluice/node-rdkafka}"
version="${SLUICE_NODE_RDKAFKA_VERSION:-3.6.1}"
jobs="${JOBS:-2}"

for tool in node npm g++ make python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool is not on PATH" >&2
    exit 1
  fi
done

loads() {
  (cd "$1" && node -e 'const k = require("node-rdkafka");
    console.error(`node-rdkafka: librdkafka ${k.librdkafkaVersion} (${k.features.join(",")})`)')
}

if [ -f "$dir/INSTALLED" ] && loads "$dir"; then
  echo "node-rdkafka: already installed ($(cat "$dir/INSTALLED")) in $dir" >&2
  echo "$dir"
  exit 0
fi

if [ ! -f /usr/include/zstd.h ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "node-rdkafka: installing libzstd-dev (librdkafka's zstd codec)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q libzstd-dev >&2 ||
      { apt-get update >&2 && apt-get install -y -q libzstd-dev >&2; }
  else
    echo "node-rdkafka: libzstd-dev is missing and this is not root: building without zstd" >&2
  fi
fi

# Node's headers from the Node install itself, when it has them (else node-gyp would download).
nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
if [ -f "$nodedir/include/node/node.h" ]; then
  export npm_config_nodedir="$nodedir"
fi

mkdir -p "$(dirname "$dir")"
tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
echo '{ "name": "sluice-node-rdkafka", "private": true }' >"$tmp/package.json"
started=$(date +%s)
echo "node-rdkafka: npm install node-rdkafka@$version (scripts off; built below)" >&2
(cd "$tmp" && npm install --ignore-scripts --no-audit --no-fund "node-rdkafka@$version" >&2)
pkg="$tmp/node_modules/node-rdkafka"
# npm's own node-gyp (what `npm rebuild` would run).
gyp="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
if [ -f "$gyp" ]; then
  # The steps of binding.gyp, split so that librdkafka's own make runs $jobs jobs: gyp's make
  # runs it as an action, where it gets no jobserver and builds one file at a time. Its configure
  # and make install (into build/deps, where the addon links from) are those of
  # deps/librdkafka.gyp; gyp's make runs both again (configure's few seconds; nothing is left to
  # compile) and then compiles the addon.
  echo "node-rdkafka: node-gyp configure" >&2
  (cd "$pkg" && node "$gyp" configure >&2)
  echo "node-rdkafka: building librdkafka ($jobs jobs)" >&2
  (cd "$pkg" && ./configure >&2 && make -j"$jobs" -C deps/librdkafka libs install >&2)
  echo "node-rdkafka: building the addon (node-gyp build, $jobs jobs)" >&2
  (cd "$pkg" && node "$gyp" build --jobs "$jobs" >&2)
else
  echo "node-rdkafka: npm rebuild node-rdkafka (node-gyp, one job)" >&2
  (cd "$tmp" && npm rebuild node-rdkafka --foreground-scripts >&2)
fi
loads "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "node-rdkafka $version, built in $(($(date +%s) - started)) s" >"$dir/INSTALLED"
echo "node-rdkafka: $(cat "$dir/INSTALLED")" >&2
echo "$dir"
