#!/usr/bin/env bash
# Installs the third-party Kafka clients that test/kafka_protocol/ runs against the real server:
# kcat (librdkafka's command-line client) and python3-confluent-kafka (librdkafka's Python binding,
# run with /usr/bin/python3, not whatever python3 is first on PATH), from Debian's packages. On
# Debian 12 these are kcat 1.7.1 and confluent-kafka 1.7.0 on librdkafka 2.0.2. kafkajs comes from
# npm through deno.json and needs nothing here.
#
# Idempotent: when both are present it installs nothing. apt-get needs root; without it this says
# what is missing and exits 1 (the tests that need a missing client are then skipped, loudly).
#   sudo scripts/install-kafka-clients.sh
set -euo pipefail

PYTHON=/usr/bin/python3

have_kcat() { command -v kcat >/dev/null 2>&1; }
have_confluent() { [ -x "$PYTHON" ] && "$PYTHON" -c 'import confluent_kafka' >/dev/null 2>&1; }

missing=()
have_kcat || missing+=(kcat)
have_confluent || missing+=(python3-confluent-kafka)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "kafka clients: already installed, nothing to do"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: missing ${missing[*]}; apt-get needs root (run it with sudo)" >&2
    exit 1
  fi
  echo "kafka clients: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
fi

# What is there now (fails, and so says so, if an install above did not bring it).
echo "kcat: $(kcat -V 2>&1 | grep -m1 -i 'version' || echo 'installed')"
"$PYTHON" -c 'import confluent_kafka as c; print("confluent-kafka: %s (librdkafka %s)" % (c.version()[0], c.libversion()[0]))'
