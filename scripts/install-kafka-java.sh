#!/usr/bin/env bash
# Installs Kafka's own Java client (org.apache.kafka:kafka-clients) and its runtime dependencies
# (zstd-jni, lz4-java, snappy-java, slf4j-api, plus slf4j-simple to log to stderr) from Maven
# Central into a cache dir, for the tests that drive Sluice with the Java consumer and producer
# (test/kafka_protocol/java_harness.ts). Uses `mvn dependency:copy-dependencies` on a small pom
# generated here; nothing but Maven Central artifacts is downloaded.
#
#   scripts/install-kafka-java.sh            # prints the directory of jars (the classpath dir)
#
# Dir: $SLUICE_KAFKA_JAVA_DIR, default ~/.cache/sluice/kafka-java. Version: 4.4.0, else 4.3.1
# (override with SLUICE_KAFKA_JAVA_VERSION); slf4j-api is pinned to slf4j-simple's 2.x. Idempotent: a dir whose marker names a complete
# install is reused without asking Maven. Needs `mvn` and a JDK 17+ (`java`, `javac`); no root.
set -euo pipefail
# shellcheck source=lib/maven_jars.sh
. "$(dirname "$0")/lib/maven_jars.sh"

dir="${SLUICE_KAFKA_JAVA_DIR:-$HOME/.cache/sluice/kafka-java}"
versions=("${SLUICE_KAFKA_JAVA_VERSION:-4.4.0}")
[ -z "${SLUICE_KAFKA_JAVA_VERSION:-}" ] && versions+=(4.3.1)
install_maven_jars kafka-java kafka-clients "$dir" "${versions[@]}"
