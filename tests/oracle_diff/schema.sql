-- Tables of the differential test against Debezium (tests/oracle_diff.rs). Created before
-- either side's slot exists, so both see every change of workload.sql.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');

CREATE TABLE t_types (
    id int PRIMARY KEY,
    c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
    c_float4 float4, c_float8 float8, c_bool bool,
    c_num numeric(10,2), c_numeric numeric, c_num_neg numeric(5,-2), c_num38 numeric(38,0),
    c_money money,
    c_text text, c_varchar varchar(20), c_char char(5), c_qchar "char", c_name name,
    c_bytea bytea,
    c_date date, c_time time, c_time3 time(3), c_time0 time(0), c_timetz timetz,
    c_ts timestamp, c_ts3 timestamp(3), c_ts0 timestamp(0),
    c_tstz timestamptz, c_tstz3 timestamptz(3),
    c_interval interval,
    c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml,
    c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
    c_bit1 bit(1), c_bit10 bit(10), c_varbit varbit, c_varbit5 varbit(5),
    c_point point,
    c_int4range int4range, c_int8range int8range, c_numrange numrange,
    c_tsrange tsrange, c_tstzrange tstzrange, c_daterange daterange,
    c_enum mood,
    c_tsvector tsvector,
    c_int_arr int[], c_int2_arr int2[], c_int8_arr int8[], c_text_arr text[],
    c_varchar_arr varchar(10)[], c_bool_arr bool[], c_float4_arr float4[], c_float8_arr float8[],
    c_numeric_arr numeric[], c_num_arr numeric(6,2)[], c_uuid_arr uuid[], c_date_arr date[],
    c_ts_arr timestamp[], c_tstz_arr timestamptz[], c_jsonb_arr jsonb[], c_inet_arr inet[],
    c_bytea_arr bytea[], c_enum_arr mood[]
);
CREATE TABLE t_types_full (LIKE t_types INCLUDING ALL);
ALTER TABLE t_types_full REPLICA IDENTITY FULL;

-- Column defaults and NOT NULL: the schema's `default` and `optional`.
CREATE TABLE t_defaults (
    id serial PRIMARY KEY,
    i int NOT NULL DEFAULT 42,
    b bigint DEFAULT -1,
    s smallint DEFAULT 7,
    t text DEFAULT 'abc',
    v varchar(10) NOT NULL DEFAULT '',
    n numeric(5,2) DEFAULT 1.50,
    nv numeric DEFAULT 3.14,
    f float8 DEFAULT 1.5,
    r float4 DEFAULT 2.5,
    bo bool DEFAULT true,
    d date DEFAULT '2020-01-01',
    ts timestamp DEFAULT '2020-01-01 12:00:00',
    tsnow timestamp DEFAULT now(),
    tstz timestamptz DEFAULT '2020-01-01 00:00:00+00',
    tm time DEFAULT '12:34:56',
    iv interval DEFAULT '1 day',
    u uuid DEFAULT '00000000-0000-0000-0000-000000000001',
    e mood DEFAULT 'ok',
    j jsonb DEFAULT '{}',
    by bytea DEFAULT '\x0102',
    arr int[] DEFAULT '{1,2}',
    expr int DEFAULT (1 + 2),
    nulldef text DEFAULT NULL,
    seq_nullable bigint DEFAULT nextval('t_defaults_id_seq'),
    nn_expr int NOT NULL DEFAULT (1 + 2),
    nn_text_fn text NOT NULL DEFAULT md5('x'),
    d_now date DEFAULT CURRENT_DATE,
    t_now time DEFAULT LOCALTIME,
    tstz_now timestamptz DEFAULT now(),
    neg numeric(5,2) DEFAULT -1.5,
    quoted varchar(10) DEFAULT 'a''b',
    ch char(3) DEFAULT 'x',
    f_nan float8 DEFAULT 'NaN',
    ts3 timestamp(3) DEFAULT '2020-01-01 12:00:00.123456',
    tz timetz DEFAULT '12:00:00+02',
    mon money DEFAULT 12.5,
    nn_bool bool NOT NULL DEFAULT (1 = 1),
    bits bit(3) DEFAULT B'101',
    js json DEFAULT '{"a": 1}'
);

-- Out-of-line values (STORAGE EXTERNAL: no compression) to get unchanged-TOAST markers.
CREATE TABLE t_toast (
    id int PRIMARY KEY, small int,
    big text, big_bytea bytea, big_int_arr int[], big_text_arr text[], big_jsonb jsonb,
    big_varchar varchar
);
ALTER TABLE t_toast
    ALTER big SET STORAGE EXTERNAL, ALTER big_bytea SET STORAGE EXTERNAL,
    ALTER big_int_arr SET STORAGE EXTERNAL, ALTER big_text_arr SET STORAGE EXTERNAL,
    ALTER big_jsonb SET STORAGE EXTERNAL, ALTER big_varchar SET STORAGE EXTERNAL;
CREATE TABLE t_toast_full (LIKE t_toast INCLUDING ALL);
ALTER TABLE t_toast_full REPLICA IDENTITY FULL;

-- Key columns in an order different from the column order.
CREATE TABLE t_composite (a int, b text, c text, PRIMARY KEY (b, a));

-- No primary key: FULL identity, and a unique index as replica identity.
CREATE TABLE t_nokey (a int, b text);
ALTER TABLE t_nokey REPLICA IDENTITY FULL;
CREATE TABLE t_ident (id int, code text NOT NULL, v text);
CREATE UNIQUE INDEX t_ident_code ON t_ident (code);
ALTER TABLE t_ident REPLICA IDENTITY USING INDEX t_ident_code;

-- Extension, composite, domain and unmapped types: hstore (json/map), ltree, geometric types
-- other than point, composite types, tsquery, pg_lsn, xid, jsonpath (emitted only with
-- include.unknown.datatypes), multi-dimensional arrays.
CREATE EXTENSION hstore;
CREATE EXTENSION ltree;
CREATE TYPE comp AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN short_text AS varchar(8);
CREATE TABLE t_ext (
    id int PRIMARY KEY,
    c_hstore hstore, c_hstore_arr hstore[], c_ltree ltree, c_ltree_arr ltree[],
    c_line line, c_lseg lseg, c_box box, c_path path, c_polygon polygon, c_circle circle,
    c_line_arr line[], c_comp comp, c_comp_arr comp[], c_posint posint, c_short short_text,
    c_tsquery tsquery, c_pg_lsn pg_lsn, c_xid xid, c_jsonpath jsonpath,
    c_int_2d int[], c_text_2d text[]
);

-- Schema changes between row changes (workload.sql): each event must carry the table's schema
-- as of that change.
CREATE TABLE t_evo (id int PRIMARY KEY, a int, b text, n int);
-- PostgreSQL's limits: the minimum, maximum and special values of every mapped type, in the
-- stream (workload.sql) and in the snapshot (limits.sql through SNAPSHOT_ROWS_SQL).
CREATE TABLE t_limits (
    id int PRIMARY KEY,
    c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
    c_float4 float4, c_float8 float8,
    c_num numeric(10,2), c_num1 numeric(1,0), c_num38 numeric(38,38), c_num1000 numeric(1000,0),
    c_numeric numeric, c_money money,
    c_text text, c_bytea bytea, c_bit10 bit(10), c_varbit varbit,
    c_date date, c_time time, c_time3 time(3), c_time0 time(0), c_timetz timetz,
    c_ts timestamp, c_ts3 timestamp(3), c_ts0 timestamp(0),
    c_tstz timestamptz, c_tstz3 timestamptz(3), c_tstz0 timestamptz(0),
    c_interval interval, c_point point,
    c_int_arr int[], c_int8_arr int8[], c_float8_arr float8[], c_numeric_arr numeric[],
    c_text_arr text[], c_date_arr date[], c_time_arr time[], c_timetz_arr timetz[],
    c_ts_arr timestamp[], c_ts3_arr timestamp(3)[], c_tstz_arr timestamptz[], c_bytea_arr bytea[]
);
