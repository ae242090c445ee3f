#!/usr/bin/env bash
# `pgcdc verify` throughput: a table of ROWS rows is captured (initial snapshot into a local
# Apache Kafka broker), then, with pgcdc still running, `pgcdc verify` rebuilds the table from
# its topic and compares it with PostgreSQL. Prints wall time, rows/s and verify's peak RSS
# (/usr/bin/time -v), and verify's own report.
#
#   scripts/bench-verify.sh [ROWS]        # default: 5000000
#
# PGCDC_BIN overrides the binary (default: target/release/pgcdc, built here). The cluster
# comes from ../shared/bench/pg.sh (BENCH_KIT to override) on BENCH_PGPORT (default 55438).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
ROWS=${1:-5000000}
PORT=${BENCH_PGPORT:-55438}
DATA=${BENCH_PGDATA:-/tmp/pgcdc-verifybench-pg-$PORT}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
[ -x "$KIT/pg.sh" ] || { echo "bench-verify: $KIT/pg.sh not found (set BENCH_KIT)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-verify: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

scripts/kafka.sh fetch
if [ -z "${PGCDC_BIN:-}" ]; then
  cargo build --release --quiet --bin pgcdc
  PGCDC_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/pgcdc
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
KPORT=29292; while ! port_free $KPORT; do KPORT=$((KPORT + 1)); done
WORK=$(mktemp -d /tmp/pgcdc-verifybench.XXXXXX)
KDIR=$WORK/kafka
PGCDC_PID=
cleanup() {
  # Only what this script started: its pgcdc by pid, its broker by directory.
  [ -n "$PGCDC_PID" ] && kill -TERM "$PGCDC_PID" 2>/dev/null && wait "$PGCDC_PID" 2>/dev/null
  [ -d "$KDIR" ] && scripts/kafka.sh stop "$KDIR"
  rm -rf "$WORK"
}
trap cleanup EXIT

BENCH_PGDATABASE=bench "$KIT/pg.sh" start "$PORT" "$DATA" >/dev/null
q() { "$PGBIN/psql" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }

echo "bench-verify: loading $ROWS rows" >&2
q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'verifybench'" >/dev/null
q "DROP PUBLICATION IF EXISTS verifybench_pub" >/dev/null
q "DROP TABLE IF EXISTS verifybench" >/dev/null
q "CREATE TABLE verifybench (id bigint PRIMARY KEY, qty int NOT NULL, name text, price numeric(12,2),
     created timestamptz NOT NULL, flag boolean)" >/dev/null
q "INSERT INTO verifybench SELECT g, g % 1000, 'item ' || g, (g % 100000) / 100.0,
     timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0
   FROM generate_series(1, $ROWS) g" >/dev/null
q "VACUUM ANALYZE verifybench" >/dev/null
q "CREATE PUBLICATION verifybench_pub FOR TABLE verifybench" >/dev/null

cat >"$WORK/pgcdc.toml" <<EOF
data_dir = "$WORK/data"
[log]
level = "info"
EOF
cat >"$WORK/verifybench.toml" <<EOF
name = "verifybench"
topic_prefix = "verifybench"
[database]
host = "127.0.0.1"
port = $PORT
user = "postgres"
dbname = "bench"
sslmode = "disable"
[slot]
name = "verifybench"
[publication]
name = "verifybench_pub"
autocreate_mode = "disabled"
[snapshot]
parallelism = 2
[format]
type = "json"
schemas = false
[sink]
type = "kafka"
bootstrap_servers = "127.0.0.1:$KPORT"
EOF

scripts/kafka.sh start "$KDIR" "$KPORT" >/dev/null
echo "bench-verify: capturing (initial snapshot)" >&2
"$PGCDC_BIN" --config "$WORK/pgcdc.toml" run "$WORK/verifybench.toml" 2>"$WORK/pgcdc.log" &
PGCDC_PID=$!
until grep -q '"snapshot_completed": true' "$WORK/data/verifybench.offsets.json" 2>/dev/null; do
  kill -0 "$PGCDC_PID" 2>/dev/null || { cat "$WORK/pgcdc.log" >&2; exit 1; }
  sleep 1
done

echo "bench-verify: verifying while pgcdc runs" >&2
t0=$(now)
status=0
/usr/bin/time -v -o "$WORK/time.txt" "$PGCDC_BIN" --config "$WORK/pgcdc.toml" verify \
  "$WORK/verifybench.toml" >"$WORK/verify.out" 2>"$WORK/verify.err" || status=$?
t1=$(now)
cat "$WORK/verify.out"
[ "$status" = 0 ] || { echo "bench-verify: verify exited $status" >&2; cat "$WORK/verify.err" >&2; exit 1; }
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u + s}' "$WORK/time.txt")
python3 - "$ROWS" "$t0" "$t1" "$rss_kb" "$cpu" <<'PY'
import sys
rows = int(sys.argv[1])
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
rss_mb = int(sys.argv[4]) / 1024
print(f"bench-verify: {rows} rows in {t1 - t0:.1f} s = {rows / (t1 - t0):,.0f} rows/s, "
      f"verify CPU {sys.argv[5]} s, peak RSS {rss_mb:,.0f} MB")
PY
