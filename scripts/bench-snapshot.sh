#!/usr/bin/env bash
# Snapshot throughput: pgcdc reading a large table into a Kafka-protocol broker (snapshot mode
# initial_only, timed from start to exit, i.e. until Kafka acknowledged every row), against the
# ceiling of N parallel `COPY (SELECT ... ctid range) TO STDOUT` piped to /dev/null over the
# same table, in the same run. Prints rows/s for both and the ratio.
#
#   scripts/bench-snapshot.sh [ROWS] [PARALLELISM] [REPS]     # default: 1000000 2 1
#
# PGCDC_BIN overrides the binary (default: target/release/pgcdc, built here). The cluster
# comes from ../shared/bench/pg.sh (BENCH_KIT to override) on BENCH_PGPORT (default 55437).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
ROWS=${1:-1000000}
N=${2:-2}
REPS=${3:-1}
PORT=${BENCH_PGPORT:-55437}
DATA=${BENCH_PGDATA:-/tmp/pgcdc-snapbench-pg-$PORT}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
[ -x "$KIT/pg.sh" ] || { echo "bench-snapshot: $KIT/pg.sh not found (set BENCH_KIT)" >&2; exit 1; }

scripts/kafka.sh fetch
if [ -z "${PGCDC_BIN:-}" ]; then
  cargo build --release --quiet --bin pgcdc
  PGCDC_BIN=$ROOT/target/release/pgcdc
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
KPORT=29192; while ! port_free $KPORT; do KPORT=$((KPORT + 1)); done
WORK=$(mktemp -d /tmp/pgcdc-snapbench.XXXXXX)
KDIR=
cleanup() { [ -n "$KDIR" ] && scripts/kafka.sh stop "$KDIR"; rm -rf "$WORK"; }
trap cleanup EXIT

BENCH_PGDATABASE=bench "$KIT/pg.sh" start "$PORT" "$DATA" >/dev/null
q() { "$PGBIN/psql" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }

echo "bench-snapshot: loading $ROWS rows" >&2
q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'snapbench'" >/dev/null
q "DROP PUBLICATION IF EXISTS snapbench_pub" >/dev/null
q "DROP TABLE IF EXISTS snapbench" >/dev/null
q "CREATE TABLE snapbench (id bigint PRIMARY KEY, qty int NOT NULL, name text, price numeric(12,2),
     created timestamptz NOT NULL, flag boolean)" >/dev/null
q "INSERT INTO snapbench SELECT g, g % 1000, 'item ' || g, (g % 100000) / 100.0,
     timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0
   FROM generate_series(1, $ROWS) g" >/dev/null
q "VACUUM ANALYZE snapbench" >/dev/null
q "CREATE PUBLICATION snapbench_pub FOR TABLE snapbench" >/dev/null
PAGES=$(q "SELECT pg_relation_size('snapbench') / current_setting('block_size')::int")

cat >"$WORK/pgcdc.toml" <<EOF
data_dir = "$WORK/data"
[log]
level = "info"
EOF
cat >"$WORK/snapbench.toml" <<EOF
name = "snapbench"
topic_prefix = "snapbench"
[database]
host = "127.0.0.1"
port = $PORT
user = "postgres"
dbname = "bench"
sslmode = "disable"
[slot]
name = "snapbench"
[publication]
name = "snapbench_pub"
autocreate_mode = "disabled"
[snapshot]
mode = "initial_only"
parallelism = $N
[format]
type = "json"
schemas = false
[sink]
type = "kafka"
bootstrap_servers = "127.0.0.1:$KPORT"
EOF

printf '%-6s %-4s %12s %12s %14s %14s %7s\n' rep N rows pages copy_rows_s pgcdc_rows_s ratio
for rep in $(seq 1 "$REPS"); do
  # Ceiling: N COPYs of ctid ranges, as pgcdc splits the table, all at once.
  per=$(( (PAGES + N - 1) / N ))
  t0=$(now)
  for i in $(seq 0 $((N - 1))); do
    lo=$((i * per)); hi=$(((i + 1) * per))
    cond="ctid >= '($lo,0)'::tid"
    [ "$i" -lt $((N - 1)) ] && cond="$cond AND ctid < '($hi,0)'::tid"
    "$PGBIN/psql" -X -Atq -c "SET DateStyle = ISO; SET extra_float_digits = 3;" \
      -c "COPY (SELECT id, qty, name, price, created, flag FROM ONLY snapbench WHERE $cond) TO STDOUT" >/dev/null &
  done
  wait
  t1=$(now)

  [ -n "$KDIR" ] && scripts/kafka.sh stop "$KDIR"
  KDIR=$WORK/kafka-$RANDOM
  scripts/kafka.sh start "$KDIR" "$KPORT" >/dev/null
  sleep 1
  rm -rf "$WORK/data"
  q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'snapbench'" >/dev/null
  t2=$(now)
  "$PGCDC_BIN" --config "$WORK/pgcdc.toml" run "$WORK/snapbench.toml" 2>"$WORK/pgcdc.log" \
    || { cat "$WORK/pgcdc.log" >&2; exit 1; }
  t3=$(now)
  grep -q '"snapshot_completed": true' "$WORK/data/snapbench.offsets.json"
  python3 - "$rep" "$N" "$ROWS" "$PAGES" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
rep, n, rows, pages = sys.argv[1:5]
t0, t1, t2, t3 = map(float, sys.argv[5:9])
copy = int(rows) / (t1 - t0)
pgcdc = int(rows) / (t3 - t2)
print(f"{rep:<6} {n:<4} {rows:>12} {pages:>12} {copy:>14.0f} {pgcdc:>14.0f} {pgcdc / copy:>7.3f}")
PY
done
grep -oE 'snapshot completed.*|pgcdc user=.*' "$WORK/pgcdc.log" | tail -2 >&2
