#!/usr/bin/env bash
# Installs Apache Kafka itself (broker, controller, tools, clients, Streams, Connect runtime) as
# jars from Maven Central, so the test suite can run a real Kafka broker beside Sluice and compare
# the two (test/kafka_reference/kafka_server.ts). There is no distribution tarball: the jars named
# in scripts/kafka/pom.xml and their runtime dependencies (plus log4j2 as the slf4j binding) are
# copied with `mvn dependency:copy-dependencies` into one lib dir, and a launcher of our own,
# bin/kafka-run-class, runs any class from it the way Kafka's bin/kafka-run-class.sh does.
#
#   scripts/install-kafka.sh     # last line of output: the launcher's path
#   LAUNCHER CLASS [ARGS...]     # java -cp "lib/*" CLASS ARGS...
#
# Dir: $SLUICE_KAFKA_DIR, default ~/.cache/sluice/kafka-4.4 (lib/, bin/, config/). Version: 4.4.0,
# else 4.3.2 (override with SLUICE_KAFKA_VERSION). Idempotent: a dir whose marker names a complete
# install from the same pom is reused without asking Maven (the launcher is rewritten, which is
# instant). Needs `mvn` and a JDK 17+ (`java`; JAVA_HOME is honoured); no root.
#
# The classes that Kafka 4.4's bin/*.sh scripts run (checked against the 4.4.0 jars):
#   kafka-server-start.sh          kafka.Kafka SERVER.PROPERTIES  (broker and/or controller)
#   kafka-storage.sh               kafka.tools.StorageTool  (random-uuid, format, info)
#   kafka-topics.sh                org.apache.kafka.tools.TopicCommand
#   kafka-console-producer.sh      org.apache.kafka.tools.ConsoleProducer
#   kafka-console-consumer.sh      org.apache.kafka.tools.consumer.ConsoleConsumer
#   kafka-consumer-groups.sh       org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
#   kafka-configs.sh               org.apache.kafka.tools.ConfigCommand
#   kafka-get-offsets.sh           org.apache.kafka.tools.GetOffsetShell
#   kafka-producer-perf-test.sh    org.apache.kafka.tools.ProducerPerformance
#   kafka-consumer-perf-test.sh    org.apache.kafka.tools.ConsumerPerformance
#   kafka-e2e-latency.sh           org.apache.kafka.tools.EndToEndLatency
#   kafka-metadata-quorum.sh       org.apache.kafka.tools.MetadataQuorumCommand
#   kafka-broker-api-versions.sh   org.apache.kafka.tools.BrokerApiVersionsCommand
#   connect-standalone.sh          org.apache.kafka.connect.cli.ConnectStandalone
# connect-file (the FileStream connectors) is not installed: Maven Central as reached from this
# project's machines answers "not found" for its jar (4.4.0 and 4.3.2).
#
# The launcher's knobs (environment): JAVA_HOME; KAFKA_HEAP_OPTS (default -Xmx512m for kafka.Kafka,
# -Xmx256m for anything else); KAFKA_JVM_PERFORMANCE_OPTS (default G1 for the broker, the serial GC
# and the C1 compiler only for the short-lived tools); KAFKA_LOG_DIR (log to
# $KAFKA_LOG_DIR/<name>.log at INFO, 10 MB x 3 at most, instead of to stderr at WARN; <name> is
# `server` for kafka.Kafka, else the class's simple name); KAFKA_LOG4J_OPTS (replaces the logging
# options); KAFKA_OPTS (more JVM options, last).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pom="$here/kafka/pom.xml"
dir="${SLUICE_KAFKA_DIR:-$HOME/.cache/sluice/kafka-4.4}"
versions=("${SLUICE_KAFKA_VERSION:-4.4.0}")
[ -z "${SLUICE_KAFKA_VERSION:-}" ] && versions+=(4.3.2)
launcher="$dir/bin/kafka-run-class"

java_bin=java
[ -n "${JAVA_HOME:-}" ] && java_bin="$JAVA_HOME/bin/java"
for tool in mvn "$java_bin"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool is not on PATH (Debian: apt-get install maven openjdk-17-jdk-headless)" >&2
    exit 1
  fi
done
# `openjdk version "17.0.15"` -> 17 (a "1.8.0" style version gives 1).
java_major=$("$java_bin" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
  echo "$0: Kafka 4.x needs Java 17+; $java_bin is ${java_major:-unknown}" >&2
  exit 1
fi

pom_hash=$(sha256sum "$pom" | cut -c1-16)

# Writes stdin to $1 through a temporary file and a rename: a JVM starting meanwhile reads the old
# file or the new one, never half of one.
put() {
  cat >"$1.tmp"
  mv "$1.tmp" "$1"
}

# The launcher and its two log4j2 configurations; rewritten on every run (cheap), so a change to
# this script reaches an existing install.
write_launcher() {
  mkdir -p "$dir/bin" "$dir/config"
  put "$dir/config/log4j2-stderr.properties" <<'CFG'
# Written by scripts/install-kafka.sh: WARN and above to stderr (stdout stays the tool's own).
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
# Written by scripts/install-kafka.sh: INFO and above to ${kafka.logs.dir}/${kafka.log.name}.log,
# rolled at 10 MB, 3 files at most.
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/${sys:kafka.log.name}.log
appender.file.filePattern = ${sys:kafka.logs.dir}/${sys:kafka.log.name}.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = warn
CFG
  {
    cat <<LAUNCHER
#!/usr/bin/env bash
# Written by scripts/install-kafka.sh (Sluice): runs a class of Apache Kafka $(cat "$dir/VERSION")
# from the jars in $dir/lib, as Kafka's bin/kafka-run-class.sh does.
# Usage: kafka-run-class CLASS [ARGS...]
# Environment: JAVA_HOME, KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG_DIR,
# KAFKA_LOG4J_OPTS, KAFKA_OPTS (see scripts/install-kafka.sh).
set -euo pipefail
home=$(printf '%q' "$dir")
LAUNCHER
    cat <<'LAUNCHER'
if [ $# -lt 1 ]; then
  echo "usage: $(basename "$0") CLASS [ARGS...]" >&2
  exit 2
fi
class=$1
shift
java=java
[ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"
if [ "$class" = kafka.Kafka ]; then
  heap=${KAFKA_HEAP_OPTS:--Xmx512m}
  perf=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
  name=server
else
  heap=${KAFKA_HEAP_OPTS:--Xmx256m}
  perf=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Djava.awt.headless=true}
  name=${class##*.}
fi
if [ -n "${KAFKA_LOG4J_OPTS:-}" ]; then
  log=$KAFKA_LOG4J_OPTS
elif [ -n "${KAFKA_LOG_DIR:-}" ]; then
  mkdir -p "$KAFKA_LOG_DIR"
  log="-Dlog4j2.configurationFile=$home/config/log4j2-file.properties -Dkafka.logs.dir=$KAFKA_LOG_DIR -Dkafka.log.name=$name"
else
  log="-Dlog4j2.configurationFile=$home/config/log4j2-stderr.properties"
fi
# Options split on spaces, as in Kafka's script; exec, so a signal to this pid reaches the JVM.
# shellcheck disable=SC2086
exec "$java" $heap $perf $log ${KAFKA_OPTS:-} -cp "$home/lib/*" "$class" "$@"
LAUNCHER
  } >"$launcher.tmp"
  chmod +x "$launcher.tmp"
  mv "$launcher.tmp" "$launcher"
}

# Already there: the marker is written last, after every jar was copied.
if [ -f "$dir/INSTALLED" ] && [ -f "$dir/VERSION" ] && grep -q "pom $pom_hash\$" "$dir/INSTALLED" &&
  ls "$dir"/lib/kafka_2.13-*.jar >/dev/null 2>&1; then
  write_launcher
  echo "kafka: already installed ($(cat "$dir/INSTALLED")) in $dir" >&2
  echo "$launcher"
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Maven runs on a copy, so nothing (a target/ dir) is ever written next to the pom in the repo.
cp "$pom" "$work/pom.xml"

for version in "${versions[@]}"; do
  rm -rf "$dir/lib.tmp"
  echo "kafka: resolving Apache Kafka $version from Maven Central" >&2
  if mvn -B -q -Dstyle.color=never -f "$work/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/lib.tmp" >&2; then
    rm -rf "$dir/lib"
    mv "$dir/lib.tmp" "$dir/lib"
    echo "$version" >"$dir/VERSION"
    write_launcher
    echo "kafka $version pom $pom_hash" >"$dir/INSTALLED"
    echo "kafka: $(ls "$dir/lib" | wc -l) jars, $(du -sh "$dir/lib" | cut -f1) in $dir/lib" >&2
    echo "$launcher"
    exit 0
  fi
  echo "kafka: Apache Kafka $version could not be resolved" >&2
done
rm -rf "$dir/lib.tmp"
echo "$0: no Apache Kafka version could be installed" >&2
exit 1
