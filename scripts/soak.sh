#!/usr/bin/env bash
# Soak run (prints figures; not a test): pgbench at a fixed rate for an hour while pgcdc
# streams into Kafka, the broker paused twice; RSS, slot lag and p99 commit -> ack sampled every
# 10 s. scripts/soak.py says how each figure is taken.
#
#   scripts/soak.sh [SECONDS] [CHANGES_PER_S]    # default: 3600 5000
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/bench-env.sh python3 scripts/soak.py --seconds "${1:-3600}" --rate "${2:-5000}"
