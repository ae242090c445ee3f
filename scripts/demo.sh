#!/usr/bin/env bash
# End-to-end demo on local defaults: a throwaway PostgreSQL (wal_level=logical) and an Apache
# Kafka broker (one KRaft node, scripts/kafka.sh), a sample `inventory` schema, pgcdc running connectors/inventory.toml, some changes,
# and the resulting Debezium-style events printed as JSON lines.
#
#   scripts/demo.sh            # uses ports 5432 / 9092 when free, others otherwise
#
# Everything lives under $DEMO_DIR (default /tmp/pgcdc-demo) and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DEMO_DIR=${DEMO_DIR:-/tmp/pgcdc-demo}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p=$1; while ! port_free "$p"; do p=$((p + 1)); done; echo "$p"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -x "$PGBIN/postgres" ] || { echo "demo: PostgreSQL 15 server not found in $PGBIN (apt-get install postgresql-15)" >&2; exit 1; }
scripts/kafka.sh fetch

export PGCDC_DB_PORT=${PGCDC_DB_PORT:-$(pick_port 5432)}
KPORT=$(pick_port 9092)
export PGCDC_KAFKA_BOOTSTRAP=${PGCDC_KAFKA_BOOTSTRAP:-127.0.0.1:$KPORT}
export PGCDC_DATA_DIR=$DEMO_DIR/data
# Local trust authentication ignores it; the connector file reads it from the environment.
export PGCDC_DB_PASSWORD=${PGCDC_DB_PASSWORD:-postgres}

say "building pgcdc"
cargo build --quiet --bin pgcdc --example tail

rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR"; chmod 755 "$DEMO_DIR"
PGDATA=$DEMO_DIR/pg
cleanup() {
  [ -n "${PGCDC_PID:-}" ] && kill "$PGCDC_PID" 2>/dev/null || true
  scripts/kafka.sh stop "$DEMO_DIR/kafka" || true
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "starting PostgreSQL on 127.0.0.1:$PGCDC_DB_PORT and Apache Kafka on $PGCDC_KAFKA_BOOTSTRAP"
mkdir -p "$PGDATA"; chown postgres "$PGDATA" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGCDC_DB_PORT
unix_socket_directories = ''
wal_level = logical
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start >/dev/null
scripts/kafka.sh start "$DEMO_DIR/kafka" "${PGCDC_KAFKA_BOOTSTRAP##*:}" >/dev/null

psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGCDC_DB_PORT" -U postgres -d postgres "$@"; }

say "sample schema: inventory.customers, inventory.orders"
psql_ <<'SQL'
CREATE SCHEMA inventory;
CREATE TABLE inventory.customers (id serial PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE inventory.orders (
  id bigserial PRIMARY KEY,
  customer_id int REFERENCES inventory.customers,
  amount numeric(10,2),
  placed_at timestamptz DEFAULT now()
);
SQL

say "starting pgcdc (connectors/inventory.toml)"
target/debug/pgcdc --config config/pgcdc.toml run connectors/inventory.toml 2>"$DEMO_DIR/pgcdc.log" &
PGCDC_PID=$!
for _ in $(seq 1 100); do
  [ "$(psql_ -Atc "SELECT count(*) FROM pg_replication_slots WHERE active")" = 1 ] && break
  kill -0 "$PGCDC_PID" 2>/dev/null || { cat "$DEMO_DIR/pgcdc.log"; exit 1; }
  sleep 0.2
done

say "making changes"
psql_ -e <<'SQL'
INSERT INTO inventory.customers (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', 'grace@example.com');
INSERT INTO inventory.orders (customer_id, amount) VALUES (1, 19.99), (2, 5.00);
UPDATE inventory.customers SET email = 'ada@lovelace.dev' WHERE id = 1;
DELETE FROM inventory.orders WHERE id = 2;
SQL

# Wait until pgcdc has confirmed everything, then stop it gracefully.
END=$(psql_ -Atc "SELECT pg_current_wal_insert_lsn()")
for _ in $(seq 1 150); do
  [ "$(psql_ -Atc "SELECT confirmed_flush_lsn >= '$END' FROM pg_replication_slots")" = t ] && break
  sleep 0.2
done
kill -TERM "$PGCDC_PID"; wait "$PGCDC_PID" || true; PGCDC_PID=

say "events in Kafka"
target/debug/examples/tail --bootstrap "$PGCDC_KAFKA_BOOTSTRAP" --idle 2 \
  dbz.inventory.customers dbz.inventory.orders
say "pgcdc log"
cat "$DEMO_DIR/pgcdc.log"
