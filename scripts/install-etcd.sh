#!/usr/bin/env bash
# Installs etcd (Debian's etcd-server, 3.4) when missing, for the cluster tests and `--etcd`:
# Sluice's cluster keeps its metadata in etcd, reached over etcd's v3 JSON gateway
# (src/cluster/etcd.ts). Prints the etcd binary's path as its last line. Needs root to install;
# without root it only finds an etcd already on PATH. The Debian package's own service is not
# used: tests start etcd on free loopback ports in temporary directories.
set -euo pipefail

if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: etcd is not installed and this is not root (apt-get install etcd-server)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "etcd: installing etcd-server from Debian" >&2
  apt-get install -y -q etcd-server >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q etcd-server >&2; }
fi
etcd --version | head -n 1 >&2
command -v etcd
