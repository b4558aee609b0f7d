# Sourced by the install-kafka-*.sh scripts that fetch one Kafka artifact and its runtime
# dependencies (plus slf4j-api and slf4j-simple 2.x, to log to stderr) from Maven Central into a
# cache dir with `mvn dependency:copy-dependencies` on a small generated pom; nothing but Maven
# Central artifacts is downloaded.
#
#   install_maven_jars NAME ARTIFACT DIR VERSION...
#
# NAME labels the messages; ARTIFACT is org.apache.kafka:ARTIFACT; the jars go to DIR/lib and the
# marker DIR/INSTALLED ("ARTIFACT VERSION") is written last, so a dir with the marker and the jar
# is reused without asking Maven. The VERSIONs are tried in order. On success the last line of
# stdout is DIR/lib (everything else goes to stderr) and the caller's shell exits 0; when no
# version resolves it exits 1. Needs `mvn` and a JDK 17+ (`java`, `javac`); no root.

install_maven_jars() {
  local name="$1" artifact="$2" dir="$3"
  shift 3
  local slf4j_version=2.0.17 tool version work

  for tool in mvn java javac; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$0: $tool is not on PATH (Debian: apt-get install maven openjdk-17-jdk-headless)" >&2
      exit 1
    fi
  done

  if [ -f "$dir/INSTALLED" ] && ls "$dir"/lib/"$artifact"-*.jar >/dev/null 2>&1; then
    echo "$name: already installed ($(cat "$dir/INSTALLED")) in $dir/lib" >&2
    echo "$dir/lib"
    exit 0
  fi

  mkdir -p "$dir"
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # the path is known now
  trap "rm -rf '$work'" EXIT

  for version in "$@"; do
    cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>${artifact}-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>${artifact}</artifactId>
      <version>${version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>${slf4j_version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>${slf4j_version}</version>
    </dependency>
  </dependencies>
</project>
POM
    rm -rf "$dir/lib.tmp" "$dir/INSTALLED"
    echo "$name: resolving $artifact $version from Maven Central" >&2
    if mvn -B -q -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$dir/lib.tmp" >&2; then
      rm -rf "$dir/lib"
      mv "$dir/lib.tmp" "$dir/lib"
      echo "$artifact $version" >"$dir/INSTALLED"
      ls "$dir/lib" >&2
      echo "$dir/lib"
      exit 0
    fi
    echo "$name: $artifact $version could not be resolved" >&2
  done
  rm -rf "$dir/lib.tmp"
  echo "$0: no $artifact version could be installed" >&2
  exit 1
}
