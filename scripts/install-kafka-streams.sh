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

dir="${SLUICE_KAFKA_STREAMS_DIR:-$HOME/.cache/sluice/kafka-streams}"
versions=("${SLUICE_KAFKA_STREAMS_VERSION:-4.4.0}")
[ -z "${SLUICE_KAFKA_STREAMS_VERSION:-}" ] && versions+=(4.3.2)
SLF4J_VERSION=2.0.17

for tool in mvn java javac; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool is not on PATH (Debian: apt-get install maven openjdk-17-jdk-headless)" >&2
    exit 1
  fi
done

# Already there: the marker is written last, after every jar was copied.
if [ -f "$dir/INSTALLED" ] && ls "$dir"/lib/kafka-streams-*.jar >/dev/null 2>&1; then
  echo "kafka-streams: already installed ($(cat "$dir/INSTALLED")) in $dir/lib" >&2
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
  <artifactId>kafka-streams-app</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-streams</artifactId>
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
  rm -rf "$dir/lib.tmp" "$dir/INSTALLED"
  echo "kafka-streams: resolving kafka-streams $version from Maven Central" >&2
  if mvn -B -q -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/lib.tmp" >&2; then
    rm -rf "$dir/lib"
    mv "$dir/lib.tmp" "$dir/lib"
    echo "kafka-streams $version" >"$dir/INSTALLED"
    ls "$dir/lib" >&2
    echo "$dir/lib"
    exit 0
  fi
  echo "kafka-streams: kafka-streams $version could not be resolved" >&2
done
rm -rf "$dir/lib.tmp"
echo "$0: no kafka-streams version could be installed" >&2
exit 1
