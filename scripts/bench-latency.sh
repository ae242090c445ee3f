#!/usr/bin/env bash
# Latency benchmark (prints figures; not a test): start -> first event, and commit ->
# acknowledged by Kafka at fixed pgbench rates for pgcdc, with pg_recvlogical reading the same
# WAL as the floor in the same run. scripts/bench_latency.py says how each figure is taken.
#
#   scripts/bench-latency.sh [RATES] [SECONDS]    # default: "1000,10000" changes/s, 30 s each
#   PGCDC_BIN=/path/to/pgcdc PROPS="linger.ms=0 socket.nagle.disable=true" scripts/bench-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
props=()
for kv in ${PROPS:-}; do props+=(--prop "$kv"); done
exec scripts/bench-env.sh python3 scripts/bench_latency.py --rates "${1:-1000,10000}" \
  --seconds "${2:-30}" "${props[@]}"
