#!/usr/bin/env bash
# Initial snapshot of the same table by the real Debezium 3.6.3 (../shared/tools/dbz-oracle,
# snapshot.mode=initial, schemas off, to a file) — the third figure next to
# scripts/bench-snapshot.sh's pgcdc and COPY ceiling. Run bench-snapshot.sh first: it leaves
# the `snapbench` table in its cluster (BENCH_PGPORT, default 55437).
#
#   scripts/race-debezium-snapshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ORACLE=${PGCDC_DBZ_ORACLE:-$ROOT/../shared/tools/dbz-oracle}
PORT=${BENCH_PGPORT:-55437}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
q() { "$PGBIN/psql" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
ROWS=$(q "SELECT count(*) FROM snapbench")
q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'dbz_snap' AND NOT active" >/dev/null
WORK=$(mktemp -d /tmp/pgcdc-dbzsnap.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$ORACLE/run.sh" --prepare >/dev/null 2>&1 || true
t0=$(date +%s%N)
/usr/bin/time -v -o "$WORK/time" "$ORACLE/run.sh" --pg-port "$PORT" --db bench --slot dbz_snap \
  --publication snapbench_pub --tables public.snapbench --snapshot-mode initial_only \
  --schemas false --out "$WORK/out.jsonl" --offsets "$WORK/offsets" --fresh --drop-slot \
  --stop-after "$ROWS" >"$WORK/stdout" 2>"$WORK/stderr" || true
t1=$(date +%s%N)
N=$(wc -l <"$WORK/out.jsonl")
RSS=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$WORK/time")
python3 - "$ROWS" "$N" "$t0" "$t1" "$RSS" <<'PY'
import sys
rows, n, t0, t1, rss = sys.argv[1:]
wall = (int(t1) - int(t0)) / 1e9
print(f"debezium snapshot: {n} of {rows} rows in {wall:.2f} s (start to exit) = {int(n)/wall:,.0f} rows/s, peak RSS {rss} MB")
PY
