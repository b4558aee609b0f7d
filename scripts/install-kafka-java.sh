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

dir="${SLUICE_KAFKA_JAVA_DIR:-$HOME/.cache/sluice/kafka-java}"
versions=("${SLUICE_KAFKA_JAVA_VERSION:-4.4.0}")
[ -z "${SLUICE_KAFKA_JAVA_VERSION:-}" ] && versions+=(4.3.1)
SLF4J_VERSION=2.0.17

for tool in mvn java javac; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool is not on PATH (Debian: apt-get install maven openjdk-17-jdk-headless)" >&2
    exit 1
  fi
done

# Already there: the marker is written last, after every jar was copied.
if [ -f "$dir/INSTALLED" ] && ls "$dir"/lib/kafka-clients-*.jar >/dev/null 2>&1; then
  echo "kafka-java: already installed ($(cat "$dir/INSTALLED")) in $dir/lib" >&2
  echo "$dir/lib"
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for version in "${versions[@]}"; do
  cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>kafka-java-clients</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-clients</artifactId>
      <version>${version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
POM
  rm -rf "$dir/lib.tmp"
  echo "kafka-java: resolving kafka-clients $version from Maven Central" >&2
  if mvn -B -q -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/lib.tmp" >&2; then
    rm -rf "$dir/lib"
    mv "$dir/lib.tmp" "$dir/lib"
    echo "kafka-clients $version" >"$dir/INSTALLED"
    ls "$dir/lib" >&2
    echo "$dir/lib"
    exit 0
  fi
  echo "kafka-java: kafka-clients $version could not be resolved" >&2
done
rm -rf "$dir/lib.tmp"
echo "$0: no kafka-clients version could be installed" >&2
exit 1
