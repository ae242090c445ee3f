#!/usr/bin/env bash
# A Confluent-compatible schema registry for the tests: Apicurio Registry 3.0.9, whose Confluent
# API is at /apis/ccompat/v7, with in-memory storage (H2), on loopback, run from the distribution
# Maven resolves from scripts/registry/pom.xml (cached in ~/.m2, unpacked under ~/.cache/pgcdc).
#
#   scripts/registry.sh fetch              resolve and unpack the registry (once; later runs are
#                                          offline)
#   scripts/registry.sh jar                print the registry's runner jar
#   scripts/registry.sh start DIR [PORT]   start a registry (port default 8081) with its log in
#                                          DIR/registry.log, wait until its Confluent API answers,
#                                          print its base URL (http://127.0.0.1:PORT/apis/ccompat/v7)
#   scripts/registry.sh stop DIR           stop it (SIGTERM, SIGKILL after 30 s)
#   scripts/registry.sh run DIR [PORT]     run the registry in the foreground, in DIR (the test
#                                          harness owns the process and waits until it answers)
#
# Environment: REGISTRY_HEAP_OPTS (default -Xmx512m -Xms64m) and REGISTRY_JVM_OPTS (more JVM flags,
# default none); REGISTRY_EXIT_ON_STDIN_EOF=1 makes `run` kill the registry when its standard input
# closes, so a registry shared by a test process ends with it; `run` writes the Java process id to
# DIR/registry.pid. The storage is in memory: a registry that is started again starts empty.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
self="$here/$(basename "$0")"
pom="$here/registry/pom.xml"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pgcdc"
# The path of the Confluent-compatible API on the registry's port.
api=/apis/ccompat/v7

die() {
  echo "registry.sh: $*" >&2
  exit 1
}

# The unpacked distribution, named after the pom (a new version unpacks anew).
dist_dir() {
  echo "$cache/apicurio-registry-$(sha256sum "$pom" | cut -c1-16)"
}

# The runner jar of an unpacked distribution (its manifest names the jars of lib/), or nothing.
runner_in() {
  local jars=("$1"/*-runner.jar)
  [ ${#jars[@]} -eq 1 ] && [ -f "${jars[0]}" ] && [ -d "$1/lib" ] && echo "${jars[0]}"
}

fetch() {
  local dir tmp tarballs
  dir="$(dist_dir)"
  runner_in "$dir" >/dev/null && return 0
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  command -v java >/dev/null || die "java not found: install Java 17 (apt-get install openjdk-17-jdk-headless)"
  mkdir -p "$cache"
  tmp="$(mktemp -d "$dir.tmp.XXXXXX")"
  # The tar.gz is copied out of ~/.m2 and unpacked with GNU tar: the dependency plugin's own
  # unpacking truncates the long file names this archive keeps in pax headers.
  if ! mvn -q -B -f "$pom" dependency:copy -Dregistry.dir="$tmp/download" >"$cache/registry-fetch.log" 2>&1; then
    cat "$cache/registry-fetch.log" >&2
    rm -rf "$tmp"
    die "could not resolve Apicurio Registry from Maven Central (mvn -f $pom dependency:copy failed, output above)"
  fi
  tarballs=("$tmp"/download/*.tar.gz)
  if [ ${#tarballs[@]} -ne 1 ] || [ ! -f "${tarballs[0]}" ]; then
    rm -rf "$tmp"
    die "mvn -f $pom dependency:copy left no single tar.gz in $tmp/download"
  fi
  mkdir "$tmp/dist"
  tar -xzf "${tarballs[0]}" -C "$tmp/dist" || {
    rm -rf "$tmp"
    die "could not unpack ${tarballs[0]}"
  }
  runner_in "$tmp/dist" >/dev/null || {
    rm -rf "$tmp"
    die "${tarballs[0]} has no single *-runner.jar beside a lib/ folder"
  }
  # Atomic: a directory named $dir is complete. Another fetch may have won the race.
  mv -T "$tmp/dist" "$dir" 2>/dev/null || runner_in "$dir" >/dev/null || {
    rm -rf "$tmp"
    die "could not move the unpacked registry to $dir"
  }
  rm -rf "$tmp"
}

runner_jar() {
  fetch
  runner_in "$(dist_dir)" || die "no runner jar in $(dist_dir)"
}

# The java command line into the array `jcmd`: loopback only, the given port, in-memory storage
# (named explicitly rather than left to the registry's defaults).
java_cmd() {
  local port="$1" heap opts runner
  runner="$(runner_jar)"
  read -ra heap <<<"${REGISTRY_HEAP_OPTS:--Xmx512m -Xms64m}"
  read -ra opts <<<"${REGISTRY_JVM_OPTS:-}"
  jcmd=(java "${heap[@]}" "${opts[@]}" -Djava.awt.headless=true
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port"
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2
    -Dapicurio.datasource.url=jdbc:h2:mem:registry
    -jar "$runner")
}

valid_port() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
    die "not a port: $1"
  fi
}

run() {
  local dir port="${2:-8081}" jcmd
  valid_port "$port"
  mkdir -p "$1"
  dir="$(cd "$1" && pwd)"
  java_cmd "$port"
  # Whatever the registry writes to its working directory stays in DIR.
  cd "$dir"
  if [ "${REGISTRY_EXIT_ON_STDIN_EOF:-}" = 1 ]; then
    # A simple command, so that $! is the Java process itself.
    "${jcmd[@]}" </dev/null &
    local pid=$!
    echo "$pid" >"$dir/registry.pid"
    # The watcher reads a copy of standard input: without job control bash gives a background
    # command /dev/null as its standard input, and the watcher would kill the registry at once.
    exec 3<&0
    (
      cat <&3 >/dev/null
      kill -9 "$pid" 2>/dev/null
    ) &
    local watcher=$!
    exec 3<&-
    local rc=0
    wait "$pid" || rc=$?
    kill "$watcher" 2>/dev/null || true
    exit "$rc"
  fi
  echo $$ >"$dir/registry.pid"
  exec "${jcmd[@]}"
}

# Whether something accepts connections on the loopback port.
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Whether the registry's Confluent API answers 200 (GET /subjects), over bash's /dev/tcp.
answers() {
  local port="$1"
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s/subjects HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$api" "$port" >&3
    IFS= read -r -t 5 status <&3 || exit 1
    [[ "$status" == "HTTP/1.1 200"* ]]
  ) 2>/dev/null
}

start() {
  local dir="$1" port="${2:-8081}" pid
  valid_port "$port"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/registry.pid" ] && kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
    die "a registry already runs from $dir (pid $(cat "$dir/registry.pid")); scripts/registry.sh stop $dir"
  fi
  # Otherwise the readiness check below could be answered by whatever holds the port.
  listening "$port" && die "port $port on 127.0.0.1 is in use; give start another PORT"
  fetch
  rm -f "$dir/registry.pid"
  : >"$dir/registry.log"
  # `run` execs java, so $! is the registry's Java process.
  nohup bash "$self" run "$dir" "$port" >>"$dir/registry.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 240); do
    if answers "$port"; then
      echo "http://127.0.0.1:$port$api"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -30 "$dir/registry.log" >&2
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/registry.pid"
    die "the registry in $dir did not answer on port $port within 120 s; killed it (log: $dir/registry.log)"
  fi
  rm -f "$dir/registry.pid"
  die "the registry in $dir exited before it answered (log: $dir/registry.log)"
}

stop() {
  local dir="$1" pid
  [ -f "$dir/registry.pid" ] || return 0
  pid="$(cat "$dir/registry.pid")"
  kill -TERM "$pid" 2>/dev/null || {
    rm -f "$dir/registry.pid"
    return 0
  }
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/registry.pid"
}

case "${1:-}" in
fetch) fetch ;;
jar) runner_jar ;;
start) start "${2:?usage: registry.sh start DIR [PORT]}" "${3:-}" ;;
stop) stop "${2:?usage: registry.sh stop DIR}" ;;
run) run "${2:?usage: registry.sh run DIR [PORT]}" "${3:-}" ;;
*)
  sed -n '2,19p' "$0" >&2
  exit 2
  ;;
esac
