#!/usr/bin/env bash
# Regenerates tests/fixtures/pgoutput/*.hex: raw pgoutput messages captured from a throwaway
# PostgreSQL 15, one hex-encoded XLogData payload per line, for protocol versions 1, 2 and 3
# (plus protocol 1 with binary values). PostgreSQL 15 cannot speak protocol 4.
#
# Usage: scripts/capture-pgoutput-fixtures.sh   (as root or as the postgres user)
# Env: PG_BIN (default /usr/lib/postgresql/15/bin), PG_PORT (default 55499).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${PG_PORT:-55499}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/tests/fixtures/pgoutput"
TMP=$(mktemp -d /tmp/pgoutput-capture.XXXXXX)

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cleanup() {
    as_pg "$PG_BIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] && chown postgres "$TMP"
as_pg "$PG_BIN/initdb" -D "$TMP/data" -U postgres -A trust -E UTF8 --locale=C >/dev/null
# Unix socket only: nothing listens on the network.
as_pg "$PG_BIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w start -o "\
    -p $PG_PORT -k $TMP -c listen_addresses='' -c wal_level=logical \
    -c max_prepared_transactions=10 -c logical_decoding_work_mem=64kB" >/dev/null

psql_run() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP" -p "$PG_PORT" -U postgres \
        -d postgres "$@"
}

psql_run >/dev/null <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE t_default (id int PRIMARY KEY, name text, feeling mood, big text);
ALTER TABLE t_default ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE t_full (id int PRIMARY KEY, note text, amount numeric(10,2));
ALTER TABLE t_full REPLICA IDENTITY FULL;
CREATE TABLE t_big (id int PRIMARY KEY, payload text);
-- The small publication keeps the protocol 1 captures short; the streaming captures use pub,
-- whose column list leaves t_big's wide payload out of the messages while it still counts
-- against logical_decoding_work_mem.
CREATE PUBLICATION pub_small FOR TABLE t_default, t_full;
CREATE PUBLICATION pub FOR TABLE t_default, t_full, t_big (id);
SELECT 1 FROM pg_create_logical_replication_slot('slot_plain', 'pgoutput', false, false);
SELECT 1 FROM pg_create_logical_replication_slot('slot_2pc', 'pgoutput', false, true);
SELECT 1 FROM pg_replication_origin_create('upstream');
SQL

psql_run >/dev/null <<'SQL'
-- Row changes with REPLICA IDENTITY DEFAULT, an enum column and an out-of-line TOAST value.
INSERT INTO t_default VALUES (1, 'alice', 'happy', repeat('x', 3000));
INSERT INTO t_default VALUES (2, 'bob', 'sad', NULL);
UPDATE t_default SET name = 'alice2' WHERE id = 1;
UPDATE t_default SET id = 10 WHERE id = 2;
DELETE FROM t_default WHERE id = 10;
-- REPLICA IDENTITY FULL.
INSERT INTO t_full VALUES (1, 'first', 12.50);
UPDATE t_full SET note = 'second' WHERE id = 1;
DELETE FROM t_full WHERE id = 1;
-- Logical messages.
SELECT 1 FROM pg_logical_emit_message(true, 'pgcdc-test', 'transactional hello');
SELECT 1 FROM pg_logical_emit_message(false, 'pgcdc-test', 'non-transactional hello');
-- Truncates: one relation, then two with CASCADE and RESTART IDENTITY.
TRUNCATE t_full;
TRUNCATE t_full, t_big RESTART IDENTITY CASCADE;
-- Larger than logical_decoding_work_mem: streamed when streaming is on.
INSERT INTO t_big SELECT g, repeat('y', 200) FROM generate_series(1, 400) g;
-- Streamed, with a rolled-back subtransaction (stream abort with subxid != xid).
BEGIN;
INSERT INTO t_big SELECT g, repeat('z', 200) FROM generate_series(1001, 1400) g;
SAVEPOINT s1;
INSERT INTO t_big SELECT g, repeat('w', 200) FROM generate_series(2001, 2400) g;
ROLLBACK TO s1;
INSERT INTO t_big VALUES (3000, 'after savepoint');
COMMIT;
-- Streamed and then aborted as a whole.
BEGIN;
INSERT INTO t_big SELECT g, repeat('a', 200) FROM generate_series(4001, 4400) g;
ROLLBACK;
-- Two-phase commit.
BEGIN;
INSERT INTO t_full VALUES (100, 'prepared', 1);
PREPARE TRANSACTION 'gid-commit';
COMMIT PREPARED 'gid-commit';
BEGIN;
INSERT INTO t_full VALUES (101, 'rolled back', 2);
PREPARE TRANSACTION 'gid-rollback';
ROLLBACK PREPARED 'gid-rollback';
-- A large prepared transaction: stream prepare when streaming and two_phase are on.
BEGIN;
INSERT INTO t_big SELECT g, repeat('p', 200) FROM generate_series(5001, 5400) g;
PREPARE TRANSACTION 'gid-big';
COMMIT PREPARED 'gid-big';
-- A transaction replayed from another node carries an origin.
SELECT 1 FROM pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT 1 FROM pg_replication_origin_xact_setup('0/ABCDEF', now());
INSERT INTO t_full VALUES (200, 'from upstream', 3);
COMMIT;
SELECT 1 FROM pg_replication_origin_session_reset();
SQL

capture() {
    local slot=$1 pub=$2 file=$3
    shift 3
    local opts=""
    for o in "$@"; do opts="$opts, '$o'"; done
    psql_run -A -t -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes(
        '$slot', NULL, NULL, 'publication_names', '$pub', 'messages', 'true'$opts)" \
        >"$OUT/$file"
    echo "$file: $(wc -l <"$OUT/$file") messages"
}

mkdir -p "$OUT"
capture slot_plain pub_small v1.hex proto_version 1
capture slot_plain pub_small v1-binary.hex proto_version 1 binary true
capture slot_plain pub v2.hex proto_version 2 streaming on
capture slot_2pc pub v3.hex proto_version 3 streaming on two_phase on

"$ROOT/scripts/seed-fuzz-corpus.sh"
