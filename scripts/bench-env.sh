#!/usr/bin/env bash
# Runs a benchmark driver beside a throwaway PostgreSQL (../shared/bench/pg.sh, BENCH_KIT to
# override, on a free port) and a single-node Apache Kafka (scripts/kafka.sh), both removed
# afterwards. The driver gets PGHOST/PGPORT/PGUSER/PGDATABASE, KAFKA_BOOTSTRAP, KAFKA_PID and
# PGCDC_BIN (a release build of this checkout unless PGCDC_BIN is set).
#
#   scripts/bench-env.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
[ -x "$KIT/pg.sh" ] || { echo "bench-env: $KIT/pg.sh not found (set BENCH_KIT)" >&2; exit 1; }
python3 -c 'import confluent_kafka' 2>/dev/null || pip install -q confluent-kafka
scripts/kafka.sh fetch
if [ -z "${PGCDC_BIN:-}" ]; then
  cargo build --release --quiet --bin pgcdc
  PGCDC_BIN=$ROOT/target/release/pgcdc
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
KPORT=29192; while ! port_free $KPORT; do KPORT=$((KPORT + 1)); done
PGPORT_BENCH=55441; while ! port_free $PGPORT_BENCH; do PGPORT_BENCH=$((PGPORT_BENCH + 1)); done
WORK=$(mktemp -d /tmp/pgcdc-bench-env.XXXXXX)
chmod 755 "$WORK" # the server runs as postgres and must reach its data directory
cleanup() {
  scripts/kafka.sh stop "$WORK/kafka" >/dev/null 2>&1 || true
  "$KIT/pg.sh" destroy "$PGPORT_BENCH" "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$KIT/pg.sh" start "$PGPORT_BENCH" "$WORK/pg" >/dev/null
eval "$("$KIT/pg.sh" env "$PGPORT_BENCH" "$WORK/pg")"
scripts/kafka.sh start "$WORK/kafka" "$KPORT" >/dev/null
export PGHOST PGPORT PGUSER PGDATABASE PGCDC_BIN
export KAFKA_BOOTSTRAP=127.0.0.1:$KPORT KAFKA_PID=$(cat "$WORK/kafka/kafka.pid")
"$@"
