#!/usr/bin/env bash
# Installs the benchmark peers, redis-server (Redis Streams) and nats-server (NATS JetStream), from
# Debian's packages, and prints their versions. bench/peers.ts measures whichever is on PATH and
# skips the other. Idempotent: when both binaries are already on PATH it installs nothing.
# apt-get needs root; on Debian 12 this brings Redis 7.0 and nats-server 2.9.
#   sudo scripts/install-peers.sh
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1 || ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: apt-get needs root (run it with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y redis-server nats-server
fi
# The package starts a system redis on port 6379 under systemd or sysvinit; the bench starts its
# own servers on free ports, so a running system service is harmless and left alone.
redis-server --version
nats-server --version
