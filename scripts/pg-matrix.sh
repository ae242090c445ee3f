#!/usr/bin/env bash
# Version matrix: runs the streaming integration tests against other PostgreSQL majors, using
# the server binaries that scripts/pg-bin.sh installs (the system's PostgreSQL 15 clients are
# used for psql).
#
#   scripts/pg-matrix.sh [MAJORS] [TESTS]     # default "14 16 17 18" "e2e replication shutdown crash"
set -euo pipefail
cd "$(dirname "$0")/.."
MAJORS=${1:-14 16 17 18}
TESTS=${2:-e2e replication shutdown crash}
args=()
for t in $TESTS; do args+=(--test "$t"); done
status=0
for m in $MAJORS; do
  bin=$(scripts/pg-bin.sh "$m")
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}')"
  if ! PG_BIN=$bin cargo test --locked "${args[@]}" -- --test-threads=2 2>&1 | grep -E "^test result|FAILED|panicked"; then
    status=1
  fi
done
exit $status
