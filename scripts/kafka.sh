#!/usr/bin/env bash
# Apache Kafka for the tests, the demo and the benchmarks: one KRaft node (broker + controller)
# on loopback, run from the jars Maven resolves from scripts/kafka/pom.xml (cached in ~/.m2).
#
#   scripts/kafka.sh fetch                 resolve the jars (once; later runs are offline)
#   scripts/kafka.sh classpath             print the broker's Java classpath
#   scripts/kafka.sh start DIR [PORT]      start a broker with its data in DIR, wait until it
#                                          answers, print its bootstrap address
#   scripts/kafka.sh stop DIR              stop it (SIGTERM, SIGKILL after 30 s)
#   scripts/kafka.sh run DIR               format DIR/data when new, then run the broker in the
#                                          foreground on DIR/server.properties (the test harness
#                                          writes that file and owns the process)
#
# Environment: KAFKA_HEAP_OPTS (default -Xmx1g -Xms256m) and KAFKA_JVM_PERFORMANCE_OPTS (GC and JIT
# flags, default the JVM's), as Kafka's own scripts name them; KAFKA_SCRAM_USERS ("user:password,...",
# SCRAM-SHA-512 credentials written when the storage is formatted); KAFKA_EXIT_ON_STDIN_EOF=1 makes
# `run` kill the broker when its standard input closes, so a broker shared by a test process ends
# with it; `run` writes the Java process id to DIR/kafka.pid.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/kafka/pom.xml"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pgcdc"

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

classpath_file() {
  echo "$cache/kafka-classpath-$(sha256sum "$pom" | cut -c1-16).txt"
}

# Every jar of the cached classpath still exists (a cleaned ~/.m2 means fetching again).
classpath_ok() {
  local f="$1" jar
  [ -s "$f" ] || return 1
  while IFS= read -r -d: jar || [ -n "$jar" ]; do
    [ -f "$jar" ] || return 1
  done <"$f"
}

fetch() {
  local f
  f="$(classpath_file)"
  classpath_ok "$f" && return 0
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  command -v java >/dev/null || die "java not found: install Java 17 (apt-get install openjdk-17-jdk-headless)"
  mkdir -p "$cache"
  if ! mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.outputFile="$f.tmp" >"$cache/kafka-fetch.log" 2>&1; then
    cat "$cache/kafka-fetch.log" >&2
    die "could not resolve Apache Kafka from Maven Central (mvn -f $pom dependency:build-classpath failed, output above)"
  fi
  mv "$f.tmp" "$f"
}

classpath() {
  fetch
  cat "$(classpath_file)"
}

# The java command line (heap, log configuration, classpath) into the array `jcmd`.
java_cmd() {
  local heap perf
  read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}"
  read -ra perf <<<"${KAFKA_JVM_PERFORMANCE_OPTS:-}"
  jcmd=(java "${heap[@]}" "${perf[@]}" -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$here/kafka/log4j2.properties" -cp "$(classpath)")
}

java_run() {
  local jcmd
  java_cmd
  "${jcmd[@]}" "$@"
}

# A cluster id as Kafka's own random-uuid prints it: 16 random bytes, base64url, no padding. It
# may start with "-", so it is passed as --cluster-id=ID, never as a separate argument.
cluster_id() {
  head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

format_storage() {
  local dir="$1" args=() user
  [ -f "$dir/data/meta.properties" ] && return 0
  if [ -n "${KAFKA_SCRAM_USERS:-}" ]; then
    IFS=, read -ra users <<<"$KAFKA_SCRAM_USERS"
    for user in "${users[@]}"; do
      args+=(--add-scram "SCRAM-SHA-512=[name=${user%%:*},password=${user#*:}]")
    done
  fi
  java_run kafka.tools.StorageTool format --cluster-id="$(cluster_id)" -c "$dir/server.properties" \
    "${args[@]}" >"$dir/format.log" 2>&1 || {
    cat "$dir/format.log" >&2
    die "formatting $dir/data failed (output above)"
  }
}

run() {
  local dir
  dir="$(cd "$1" && pwd)"
  [ -f "$dir/server.properties" ] || die "$dir/server.properties is missing"
  fetch
  format_storage "$dir"
  local jcmd
  java_cmd
  if [ "${KAFKA_EXIT_ON_STDIN_EOF:-}" = 1 ]; then
    # A simple command, so that $! is the Java process itself.
    "${jcmd[@]}" kafka.Kafka "$dir/server.properties" </dev/null &
    local pid=$!
    echo "$pid" >"$dir/kafka.pid"
    (
      cat >/dev/null
      kill -9 "$pid" 2>/dev/null
    ) &
    local watcher=$!
    local rc=0
    wait "$pid" || rc=$?
    kill "$watcher" 2>/dev/null || true
    exit "$rc"
  fi
  echo $$ >"$dir/kafka.pid"
  exec "${jcmd[@]}" kafka.Kafka "$dir/server.properties"
}

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# One node, plaintext on loopback, internal topics with one replica so transactions, consumer
# groups and share groups work.
write_properties() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

start() {
  local dir="$1" port="${2:-9092}" cport
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    die "a broker already runs from $dir (pid $(cat "$dir/kafka.pid")); scripts/kafka.sh stop $dir"
  fi
  if [ ! -f "$dir/server.properties" ]; then
    cport="$(free_port)"
    write_properties "$dir" "$port" "$cport"
  fi
  port="$(sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:||p' "$dir/server.properties")"
  fetch
  : >"$dir/kafka.log"
  nohup "$0" run "$dir" >>"$dir/kafka.log" 2>&1 &
  local i
  for i in $(seq 1 120); do
    grep -q "Kafka Server started" "$dir/kafka.log" && {
      echo "127.0.0.1:$port"
      return 0
    }
    kill -0 "$(cat "$dir/kafka.pid" 2>/dev/null || echo 0)" 2>/dev/null || [ "$i" -lt 10 ] || break
    sleep 0.5
  done
  tail -30 "$dir/kafka.log" >&2
  die "the broker in $dir did not start (log: $dir/kafka.log)"
}

stop() {
  local dir="$1" pid i
  [ -f "$dir/kafka.pid" ] || return 0
  pid="$(cat "$dir/kafka.pid")"
  kill -TERM "$pid" 2>/dev/null || {
    rm -f "$dir/kafka.pid"
    return 0
  }
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/kafka.pid"
}

case "${1:-}" in
fetch) fetch ;;
classpath) classpath ;;
start) start "${2:?usage: kafka.sh start DIR [PORT]}" "${3:-}" ;;
stop) stop "${2:?usage: kafka.sh stop DIR}" ;;
run) run "${2:?usage: kafka.sh run DIR}" ;;
*)
  sed -n '2,19p' "$0" >&2
  exit 2
  ;;
esac
