#!/usr/bin/env bash
# Installs Debian's chromium when missing, for the web console's browser test
# (test/console/browser_test.ts drives it headless with playwright-core, which brings no browser of
# its own here). Prints the chromium binary's path as its last line. Needs root to install;
# without root it only finds a chromium already installed.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: chromium is not installed and this is not root (apt-get install chromium)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "chromium: installing chromium from Debian" >&2
  apt-get install -y -q chromium >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q chromium >&2; }
fi
"$CHROMIUM" --version >&2
echo "$CHROMIUM"
