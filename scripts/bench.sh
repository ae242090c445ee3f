#!/usr/bin/env bash
# Throughput benchmark: pgcdc draining a slot into Apache Kafka (scripts/kafka.sh), against
# pg_recvlogical draining an identical slot over the same LSN range to /dev/null, in the same
# run (../shared/bench/limit.sh times both the same way). Prints the medians table, the
# wall-time ratio, and pgcdc's peak RSS ("client max RSS MB" of the connector row).
#
#   scripts/bench.sh [WORKLOADS] [REPS]      # default: "bulk oltp" 1
#   PGCDC_BIN=/path/to/old/pgcdc scripts/bench.sh ...   # another build (A/B: alternate runs)
#
# Needs ../shared/bench beside the project (BENCH_KIT to override). Results go to
# target/bench-results/ (raw.csv, per-workload logs, broker-cpu.csv). The broker runs on the
# same 2 cores, so limit.sh flags every connector run as "contended" (the broker's CPU counts as
# other processes'); MAX_EXTRA defaults to 0 here so that this does not trigger repetitions.
# The broker's CPU seconds over each workload's connector runs are printed after the table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIT=${BENCH_KIT:-$ROOT/../shared/bench}
WORKLOADS=${1:-bulk oltp}
REPS=${2:-1}
RESULTS=${BENCH_RESULTS:-$ROOT/target/bench-results}
mkdir -p "$RESULTS"
[ -x "$KIT/limit.sh" ] || { echo "bench: $KIT/limit.sh not found (set BENCH_KIT)" >&2; exit 1; }

scripts/kafka.sh fetch
if [ -z "${PGCDC_BIN:-}" ]; then
  cargo build --release --quiet --bin pgcdc
  PGCDC_BIN=$ROOT/target/release/pgcdc
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
KPORT=29092; while ! port_free $KPORT; do KPORT=$((KPORT + 1)); done
WORK=$(mktemp -d /tmp/pgcdc-bench.XXXXXX)
KDIR=
cleanup() { [ -n "$KDIR" ] && scripts/kafka.sh stop "$KDIR"; rm -rf "$WORK"; }
trap cleanup EXIT

cat >"$WORK/pgcdc.toml" <<EOF
data_dir = "$WORK/data"
[log]
level = "warn"
EOF
# Slot, publication and port come from limit.sh's environment (SLOT, PUBLICATION, PG*).
cat >"$WORK/bench.toml" <<EOF
name = "bench"
topic_prefix = "bench"
[database]
host = "\${PGHOST}"
port = "\${PGPORT}"
user = "\${PGUSER}"
dbname = "\${PGDATABASE}"
sslmode = "disable"
[slot]
name = "\${SLOT}"
[publication]
name = "\${PUBLICATION}"
autocreate_mode = "disabled"
[format]
type = "json"
schemas = false   # as the Debezium probe (../shared/tools/dbz-oracle/probe.sh) measures it
[snapshot]
# The slot exists already and only the stream over [START, END] is measured.
mode = "no_data"
[sink]
type = "kafka"
bootstrap_servers = "127.0.0.1:$KPORT"
EOF

# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
echo "workload,reps,broker_cpu_s_per_run" >"$RESULTS/broker-cpu.csv"

for w in $WORKLOADS; do
  # A fresh broker per workload keeps its log and memory from growing across runs.
  [ -n "$KDIR" ] && scripts/kafka.sh stop "$KDIR"
  KDIR=$WORK/kafka-$w
  scripts/kafka.sh start "$KDIR" "$KPORT" >/dev/null
  KPID=$(cat "$KDIR/kafka.pid")
  rm -rf "$WORK/data"
  before=$(cpu_s "$KPID")
  VARIANTS=${VARIANTS:-pgoutput} BENCH_RESULTS="$RESULTS" MAX_EXTRA=${MAX_EXTRA:-0} \
  CONNECTOR_CMD="rm -rf $WORK/data; $PGCDC_BIN --config $WORK/pgcdc.toml run $WORK/bench.toml --until-lsn \"\$ENDPOS\"" \
    "$KIT/limit.sh" "$w" "$REPS"
  after=$(cpu_s "$KPID")
  echo "$w,$REPS,$(echo "$after $before $REPS" | awk '{printf "%.1f", ($1 - $2) / $3}')" >>"$RESULTS/broker-cpu.csv"
done
python3 "$KIT/summarize.py" "$RESULTS/raw.csv"
echo
echo "Apache Kafka broker CPU over each workload's runs (includes idle time during the ceiling's runs):"
column -s, -t "$RESULTS/broker-cpu.csv"
