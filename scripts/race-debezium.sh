#!/usr/bin/env bash
# Race against the real Debezium 3.6.3 (../shared/tools/dbz-oracle), same run, same slot
# backlog: ROWS narrow rows are inserted in one transaction while two slots wait, then Debezium
# drains one slot (to a JSON-lines file, schemas off) and pgcdc drains the other (into an Apache Kafka
# broker, schemas off). Prints wall time from process start to exit, rows/s and peak RSS of
# each, and the ratios. Debezium's wall includes its JVM start; its own first-to-last rate is
# printed too.
#
#   scripts/race-debezium.sh [ROWS]        # default 500000 (the oracle probe's bulk case)
#
# Uses ../shared/bench/pg.sh's cluster (BENCH_PGPORT, default 55433) and needs Java 17.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-500000}
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
ORACLE=${PGCDC_DBZ_ORACLE:-$ROOT/../shared/tools/dbz-oracle}
PORT=${BENCH_PGPORT:-55433}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
WORK=$(mktemp -d /tmp/pgcdc-race.XXXXXX)
KDIR=
cleanup() { [ -n "$KDIR" ] && scripts/kafka.sh stop "$KDIR"; rm -rf "$WORK"; }
trap cleanup EXIT

scripts/kafka.sh fetch
cargo build --release --quiet --bin pgcdc
"$KIT/pg.sh" start "$PORT" >/dev/null
"$ORACLE/run.sh" --prepare >/dev/null 2>&1 || true

q() { "$PGBIN/psql" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }
q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'race\_%' AND NOT active" >/dev/null
q "DROP TABLE IF EXISTS narrow; CREATE TABLE narrow (id bigserial PRIMARY KEY, a int, b text)"
q "DROP PUBLICATION IF EXISTS race_pub; CREATE PUBLICATION race_pub FOR TABLE narrow"
q "SELECT pg_create_logical_replication_slot('race_dbz', 'pgoutput')" >/dev/null
q "SELECT pg_create_logical_replication_slot('race_pgcdc', 'pgoutput')" >/dev/null
q "INSERT INTO narrow (a, b) SELECT i, md5(i::text) || lpad(i::text, 8, '0') FROM generate_series(1, $ROWS) i"
END=$(q "SELECT pg_current_wal_insert_lsn()")
q "SELECT pg_logical_emit_message(false, 'race', 'end')" >/dev/null
q "CHECKPOINT"

KPORT=39192
KDIR=$WORK/kafka
scripts/kafka.sh start "$KDIR" "$KPORT" >/dev/null
cat >"$WORK/pgcdc.toml" <<EOF
data_dir = "$WORK/data"
[log]
level = "warn"
EOF
cat >"$WORK/race.toml" <<EOF
name = "race"
topic_prefix = "race"
[database]
port = $PORT
dbname = "bench"
sslmode = "disable"
[slot]
name = "race_pgcdc"
[publication]
name = "race_pub"
autocreate_mode = "disabled"
[snapshot]
mode = "no_data"
[format]
type = "json"
schemas = false
[sink]
type = "kafka"
bootstrap_servers = "127.0.0.1:$KPORT"
EOF
sleep 1

# wall OUT ERR CMD...: runs CMD with stdout/stderr to OUT/ERR, prints its wall seconds.
wall() {
  local out=$1 err=$2 t0 t1; shift 2
  t0=$(date +%s%N); "$@" >"$out" 2>"$err"; t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 ))e-3"
}
rss_mb() { awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$1"; }

echo "debezium: draining $ROWS rows..." >&2
DBZ_WALL=$(wall "$WORK/dbz.out" "$WORK/dbz.err" /usr/bin/time -v -o "$WORK/dbz.time" \
  "$ORACLE/run.sh" --pg-port "$PORT" --db bench --slot race_dbz --publication race_pub \
  --tables public.narrow --snapshot-mode no_data --schemas false --out "$WORK/dbz.jsonl" \
  --offsets "$WORK/dbz.offsets" --fresh --stop-after "$ROWS")
DBZ_RATE=$(tail -1 "$WORK/dbz.out" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["events_per_s"]))')
echo "pgcdc: draining $ROWS rows..." >&2
PG_WALL=$(wall /dev/null "$WORK/pgcdc.err" /usr/bin/time -v -o "$WORK/pgcdc.time" \
  "$ROOT/target/release/pgcdc" --config "$WORK/pgcdc.toml" run "$WORK/race.toml" --until-lsn "$END")
DBZ_N=$(wc -l <"$WORK/dbz.jsonl")

python3 - "$ROWS" "$DBZ_WALL" "$PG_WALL" "$(rss_mb "$WORK/dbz.time")" "$(rss_mb "$WORK/pgcdc.time")" "$DBZ_RATE" "$DBZ_N" <<'PY'
import sys
rows, dw, pw, dr, pr, drate, dn = sys.argv[1:]
rows, dw, pw, dr, pr = int(rows), float(dw), float(pw), float(dr), float(pr)
print(f"| connector | rows | wall s (start to exit) | rows/s | peak RSS MB |")
print(f"|---|---|---|---|---|")
print(f"| Debezium 3.6.3 (embedded, to file; {dn} records; first-to-last {drate} ev/s) | {rows:,} | {dw:.2f} | {rows/dw:,.0f} | {dr:.0f} |")
print(f"| pgcdc (to Apache Kafka) | {rows:,} | {pw:.2f} | {rows/pw:,.0f} | {pr:.0f} |")
print(f"\npgcdc/Debezium: wall {pw/dw:.2f}x, throughput {dw/pw:.1f}x, memory {pr/dr:.2f}x")
PY
