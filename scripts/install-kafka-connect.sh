#!/usr/bin/env bash
# Installs Kafka Connect's standalone worker (org.apache.kafka:connect-runtime 4.4.0 and its
# runtime dependencies: connect-api with the StringConverter, connect-json, connect-transforms,
# kafka-clients, plus log4j2 as the slf4j binding) from Maven Central into a cache dir, for
# test/kafka_reference/kafka_connect_test.ts. The jars named in scripts/kafka-connect/pom.xml are
# copied with `mvn dependency:copy-dependencies` into lib/; nothing but Maven Central artifacts is
# downloaded.
#
#   scripts/install-kafka-connect.sh     # last line of output: the install dir (lib/, config/)
#   java -Dlog4j2.configurationFile=DIR/config/log4j2-stderr.properties -cp 'DIR/lib/*' \
#     org.apache.kafka.connect.cli.ConnectStandalone WORKER.properties CONNECTOR.properties...
#
# connect-file (Kafka's FileStreamSource/FileStreamSink connectors) is asked for on its own, once
# per install and again at most once a day while it is missing (-U, so Maven's cached "not found"
# does not answer for it): Maven Central as reached from this project's machines refuses it
# (checked 2026-12-02 and 2026-12-03), and a refusal is not an error here. The day it is served,
# its jar lands in lib/ and the test uses Kafka's connectors instead of our own.
#
# Dir: $SLUICE_KAFKA_CONNECT_DIR, default ~/.cache/sluice/kafka-connect. Version: 4.4.0 (override
# with SLUICE_KAFKA_CONNECT_VERSION). Idempotent: a dir whose marker names a complete install from
# the same pom and version is reused without asking Maven (but for the connect-file retry above).
# Needs `mvn` and a JDK 17+ (`java`, `javac`: the test compiles its connectors); no root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pom="$here/kafka-connect/pom.xml"
dir="${SLUICE_KAFKA_CONNECT_DIR:-$HOME/.cache/sluice/kafka-connect}"
version="${SLUICE_KAFKA_CONNECT_VERSION:-4.4.0}"
# Seconds between two tries of connect-file while it is refused.
CONNECT_FILE_RETRY_S=86400

for tool in mvn java javac; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool is not on PATH (Debian: apt-get install maven openjdk-17-jdk-headless)" >&2
    exit 1
  fi
done

pom_hash=$(sha256sum "$pom" | cut -c1-16)
marker="kafka-connect $version pom $pom_hash"

# Writes stdin to $1 through a temporary file and a rename.
put() {
  cat >"$1.tmp"
  mv "$1.tmp" "$1"
}

write_config() {
  mkdir -p "$dir/config"
  put "$dir/config/log4j2-stderr.properties" <<'CFG'
# Written by scripts/install-kafka-connect.sh: WARN and above to stderr.
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
CFG
  put "$dir/config/log4j2-file.properties" <<'CFG'
# Written by scripts/install-kafka-connect.sh: INFO and above to ${sys:connect.log.file}, rolled at
# 10 MB, 3 files at most.
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:connect.log.file}
appender.file.filePattern = ${sys:connect.log.file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
CFG
}

# One try at connect-file into lib/; never fails the install. Records the outcome in CONNECT_FILE.
try_connect_file() {
  local out
  out=$(mktemp -d)
  echo "kafka-connect: asking Maven Central for org.apache.kafka:connect-file:$version" >&2
  # Run from the empty temp dir (Maven's standalone project, never a pom nearby); its long error
  # for a refused artifact is kept to one line.
  if (cd "$out" && mvn -B -q -U -Dstyle.color=never dependency:copy \
    -Dartifact="org.apache.kafka:connect-file:$version" -DoutputDirectory="$out/jar" \
    >"$out/mvn.log" 2>&1) && ls "$out"/jar/connect-file-*.jar >/dev/null 2>&1; then
    cp "$out"/jar/connect-file-*.jar "$dir/lib/"
    echo "connect-file $version" >"$dir/CONNECT_FILE"
    echo "kafka-connect: connect-file $version installed: Kafka's FileStream connectors" >&2
  else
    echo "refused $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/CONNECT_FILE"
    grep -m1 -E 'Could not|ERROR' "$out/mvn.log" >&2 || true
    echo "kafka-connect: connect-file $version not served (the tests use their own connectors)" >&2
  fi
  rm -rf "$out"
}

# Already there: the marker is written last, after every jar was copied.
if [ -f "$dir/INSTALLED" ] && [ "$(cat "$dir/INSTALLED")" = "$marker" ] &&
  ls "$dir"/lib/connect-runtime-*.jar >/dev/null 2>&1; then
  write_config
  if ! ls "$dir"/lib/connect-file-*.jar >/dev/null 2>&1; then
    last=$(stat -c %Y "$dir/CONNECT_FILE" 2>/dev/null || echo 0)
    if [ $(($(date +%s) - last)) -ge "$CONNECT_FILE_RETRY_S" ]; then
      try_connect_file
    fi
  fi
  echo "kafka-connect: already installed ($marker) in $dir" >&2
  echo "$dir"
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Maven runs on a copy, so nothing (a target/ dir) is ever written next to the pom in the repo.
cp "$pom" "$work/pom.xml"
rm -rf "$dir/lib.tmp"
echo "kafka-connect: resolving connect-runtime $version from Maven Central" >&2
if ! mvn -B -q -Dstyle.color=never -f "$work/pom.xml" -Dkafka.version="$version" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/lib.tmp" >&2; then
  rm -rf "$dir/lib.tmp"
  echo "$0: connect-runtime $version could not be resolved" >&2
  exit 1
fi
rm -rf "$dir/lib" "$dir/INSTALLED"
mv "$dir/lib.tmp" "$dir/lib"
write_config
try_connect_file
echo "$marker" >"$dir/INSTALLED"
echo "kafka-connect: $(ls "$dir/lib" | wc -l) jars, $(du -sh "$dir/lib" | cut -f1) in $dir/lib" >&2
echo "$dir"
