#!/usr/bin/env bash
# Installs Kafka Streams (org.apache.kafka:kafka-streams) and its runtime dependencies
# (kafka-clients, rocksdbjni with its native libraries, zstd-jni, lz4-java, snappy-java,
# slf4j-api, plus slf4j-simple as the logging binding) from Maven Central into a cache dir, for
# test/kafka_protocol/kafka_streams_test.ts, which runs a Streams application against Sluice. Uses
# `mvn dependency:copy-dependencies` on a small pom generated here; nothing but Maven Central
# artifacts is downloaded.
#
#   scripts/install-kafka-streams.sh         # last line of output: the directory of jars
#
# Dir: $SLUICE_KAFKA_STREAMS_DIR, default ~/.cache/sluice/kafka-streams (jars in lib/). Version:
# 4.4.0, else 4.3.2 (override with SLUICE_KAFKA_STREAMS_VERSION); slf4j-api is pinned to
# slf4j-simple's 2.x. Idempotent: a dir whose marker names a complete install is reused without
# asking Maven. Needs `mvn` and a JDK 17+ (`java`, `javac`: the test compiles its program); no
# root. rocksdbjni is large (about 70 MB: it carries the native library of every platform).
set -euo pipefail
# shellcheck source=lib/maven_jars.sh
. "$(dirname "$0")/lib/maven_jars.sh"

dir="${SLUICE_KAFKA_STREAMS_DIR:-$HOME/.cache/sluice/kafka-streams}"
versions=("${SLUICE_KAFKA_STREAMS_VERSION:-4.4.0}")
[ -z "${SLUICE_KAFKA_STREAMS_VERSION:-}" ] && versions+=(4.3.2)
install_maven_jars kafka-streams kafka-streams "$dir" "${versions[@]}"
