-- The changes of the differential test (tests/oracle_diff.rs), applied once while both
-- Debezium and pgcdc are streaming from their own slots.
SET TimeZone = 'Europe/Berlin';

-- Everyday values.
INSERT INTO t_types (id, c_int2, c_int4, c_int8, c_oid, c_float4, c_float8, c_bool,
    c_num, c_numeric, c_num_neg, c_num38, c_money, c_text, c_varchar, c_char, c_qchar, c_name,
    c_bytea, c_date, c_time, c_time3, c_time0, c_timetz, c_ts, c_ts3, c_ts0, c_tstz, c_tstz3,
    c_interval, c_uuid, c_json, c_jsonb, c_xml, c_inet, c_cidr, c_macaddr, c_macaddr8,
    c_bit1, c_bit10, c_varbit, c_varbit5, c_point,
    c_int4range, c_int8range, c_numrange, c_tsrange, c_tstzrange, c_daterange, c_enum, c_tsvector,
    c_int_arr, c_int2_arr, c_int8_arr, c_text_arr, c_varchar_arr, c_bool_arr, c_float4_arr,
    c_float8_arr, c_numeric_arr, c_num_arr, c_uuid_arr, c_date_arr, c_ts_arr, c_tstz_arr,
    c_jsonb_arr, c_inet_arr, c_bytea_arr, c_enum_arr)
VALUES (1, 12, 123456, 1234567890123, 4000000000, 1.1, 2.718281828459045, true,
    12345678.90, 3.14159265358979323846264338327950288, 12300, 12345678901234567890123456789012345678, '$1,234.56',
    'héllo "quoted" \ back', 'varchar', 'ab', 'x', 'a_name',
    '\xdeadbeef', '2024-02-29', '13:45:56.123456', '13:45:56.123', '13:45:56', '13:45:56.123456+02',
    '2024-02-29 13:45:56.123456', '2024-02-29 13:45:56.123', '2024-02-29 13:45:56',
    '2024-02-29 13:45:56.123456+02', '2024-02-29 13:45:56.123+02',
    '1 year 2 months 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '{"a": 1, "b": [1, 2]}', '{"b": [1, 2], "a": null}', '<a><b>x</b></a>',
    '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
    B'1', B'1010000001', B'1101001', B'101', '(1.5,-2.25)',
    '[1,10)', '[1,10000000000)', '(1.5,2.5]', '[2024-01-01 00:00,2024-01-02 00:00)',
    '[2024-01-01 00:00+00,2024-01-02 00:00+00)', '[2024-01-01,2024-02-01)', 'happy',
    'a fat cat sat', '{1,2,NULL,4}', '{1,-2}', '{9223372036854775807}', '{"x","y z",NULL,"NULL",""}',
    '{a,b}', '{t,f,NULL}', '{1.5,NaN}', '{2.25,-Infinity}', '{1.50,NULL,-3}', '{1.5,2.25}',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{2024-02-29,1960-01-01}',
    '{"2024-02-29 13:45:56.5"}', '{"2024-02-29 13:45:56.5+02"}', ARRAY['{"k": 1}'::jsonb, '[]'],
    '{127.0.0.1,::1}', '{"\\x00ff",NULL}', '{sad,happy}');

-- Extremes: ranges' ends, special floats, infinities, pre-1970 and BC dates.
INSERT INTO t_types (id, c_int2, c_int4, c_int8, c_oid, c_float4, c_float8, c_bool,
    c_num, c_numeric, c_num_neg, c_num38, c_money, c_text, c_varchar, c_char,
    c_date, c_time, c_time3, c_time0, c_timetz, c_ts, c_ts3, c_ts0, c_tstz, c_tstz3,
    c_interval, c_inet, c_bit10, c_varbit, c_point, c_int4range, c_tsrange)
VALUES (2, -32768, -2147483648, -9223372036854775808, 0, 'NaN', 'Infinity', false,
    -99999999.99, -0.000000000000000000000000000000000000001, -99900, -99999999999999999999999999999999999999,
    '-$92,233,720,368,547,758.08', '', '', ' ',
    '1900-01-01', '00:00:00', '23:59:59.999', '24:00:00', '00:00:00-08',
    '1969-12-31 23:59:59.5', '1900-01-01 00:00:00.001', '0001-01-01 00:00:00',
    '1960-06-01 00:00:00+00', '1969-12-31 23:59:59.999+00',
    '-1 day -00:00:01.5', '::1', B'0000000000', B'', '(-0,1e-300)', 'empty', '(,2024-01-01 00:00)');
INSERT INTO t_types (id, c_float4, c_float8, c_num, c_numeric, c_date, c_ts, c_tstz, c_interval, c_text)
VALUES (3, '-Infinity', 'NaN', 0, 0, 'infinity', 'infinity', 'infinity', '100 years', 'three'),
       (4, 3.4028235e38, -1e-7, 0.01, 1e40, '-infinity', '-infinity', '-infinity', '1 mon', 'four'),
       (5, 1e-7, 1e21, 1, 100.000, '0044-03-15 BC', '0044-03-15 12:00:00 BC', '2000-01-01 00:00:00+14', '0', 'five');
-- numeric specials (PostgreSQL 14+ has numeric infinities).
INSERT INTO t_types (id, c_num, c_numeric, c_numeric_arr) VALUES (12, 'NaN', 'NaN', '{NaN,1}'),
    (13, NULL, 'Infinity', NULL), (14, NULL, '-Infinity', NULL);
-- All NULL.
INSERT INTO t_types (id) VALUES (6);
-- Empty strings and empty arrays, Unicode, a long value.
INSERT INTO t_types (id, c_text, c_varchar, c_bytea, c_json, c_jsonb, c_int_arr, c_text_arr, c_xml, c_name)
VALUES (7, '', '', '\x', '{}', '[]', '{}', '{}', '', ''),
       (8, 'ünïcödé 🐘 中文 ' || E'\t\n\r' || ' \u0001', 'ß', '\x00', '{"é": "🐘"}', '{"é": "🐘"}', '{0}', '{"🐘","a,b","{}"}', '<é/>', 'ñ'),
       (9, repeat('long value ', 1000), repeat('v', 20), decode(repeat('ab', 3000), 'hex'), NULL, NULL, NULL, NULL, NULL, NULL);

INSERT INTO t_types_full SELECT * FROM t_types;

-- Updates, deletes, primary-key changes on both identities.
UPDATE t_types SET c_text = 'updated', c_int4 = c_int4 - 1 WHERE id = 1;
UPDATE t_types_full SET c_text = 'updated', c_int4 = c_int4 - 1 WHERE id = 1;
UPDATE t_types_full SET c_bool = NOT c_bool WHERE id = 2;
UPDATE t_types SET id = 11 WHERE id = 5;
UPDATE t_types_full SET id = 11 WHERE id = 5;
DELETE FROM t_types WHERE id = 2;
DELETE FROM t_types_full WHERE id IN (2, 6);

-- Defaults.
INSERT INTO t_defaults DEFAULT VALUES;
INSERT INTO t_defaults (i, t, v) VALUES (1, 'x', 'y');
-- JsonConverter writes a field's schema default in place of null.
UPDATE t_defaults SET t = NULL WHERE id = 1;
DELETE FROM t_defaults WHERE id = 2;

-- TOAST: unchanged out-of-line values in updates, under DEFAULT and FULL identity.
INSERT INTO t_toast VALUES (1, 1, repeat('x', 5000), decode(repeat('cd', 3000), 'hex'),
    (SELECT array_agg(g) FROM generate_series(1, 1500) g),
    (SELECT array_agg('t' || g) FROM generate_series(1, 1200) g),
    (SELECT jsonb_agg(g) FROM generate_series(1, 1500) g), repeat('v', 4000));
INSERT INTO t_toast_full SELECT * FROM t_toast;
UPDATE t_toast SET small = 2 WHERE id = 1;
UPDATE t_toast_full SET small = 2 WHERE id = 1;
UPDATE t_toast SET big = 'short now' WHERE id = 1;
DELETE FROM t_toast WHERE id = 1;
DELETE FROM t_toast_full WHERE id = 1;

-- Composite key (key order b, a), including a key change.
INSERT INTO t_composite VALUES (1, 'one', 'c1'), (2, 'two', 'c2');
UPDATE t_composite SET c = 'changed' WHERE a = 1;
UPDATE t_composite SET a = 3 WHERE a = 2;
DELETE FROM t_composite WHERE a = 1;

-- No primary key.
INSERT INTO t_nokey VALUES (1, 'a'), (NULL, NULL);
UPDATE t_nokey SET b = 'b' WHERE a = 1;
DELETE FROM t_nokey WHERE a = 1;
INSERT INTO t_ident VALUES (1, 'k1', 'v'), (2, 'k2', 'v');
UPDATE t_ident SET v = 'w' WHERE id = 1;
UPDATE t_ident SET code = 'k3' WHERE id = 2;
DELETE FROM t_ident WHERE id = 1;

-- Extension, composite, domain, unmapped types and multi-dimensional arrays.
INSERT INTO t_ext VALUES (1, 'a=>1, p=>NULL, "b c"=>"x\\y", "é"=>"\"", k1=>v, k2=>v, k3=>v, k4=>v, k5=>v, k6=>v, k7=>v, k8=>v, k9=>v, k10=>v, k11=>v, k12=>v, k13=>v',
    ARRAY['a=>1'::hstore, ''], 'Top.Science.Astronomy', '{a.b,c}',
    '{1,-1,0}', '[(0,0),(1,2.5)]', '(3,4),(1,2)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))',
    '<(1,2),3.5>', '{"{1,-1,0}"}', '(5,"x y")', '{"(1,x)","(,)"}', 7, 'short', 'fat & rat',
    '0/16B3748', '42', '$.a[*]', '{{1,2},{3,4}}', '{{a,b},{"c d",NULL}}');
INSERT INTO t_ext (id) VALUES (2);
INSERT INTO t_ext (id, c_hstore, c_ltree, c_lseg, c_int_2d) VALUES (3, '', '', '[(1e-300,-0),(NaN,Infinity)]', '[0:0][1:1]={{5}}');
UPDATE t_ext SET c_hstore = c_hstore || 'z=>"1"'::hstore, c_posint = 8 WHERE id = 1;
DELETE FROM t_ext WHERE id = 3;

-- Schema evolution: ADD COLUMN (with a default), DROP COLUMN, ALTER COLUMN TYPE, RENAME.
INSERT INTO t_evo VALUES (1, 1, 'b', 10);
ALTER TABLE t_evo ADD COLUMN c numeric(5,2) DEFAULT 1.5;
INSERT INTO t_evo (id, a, b, n, c) VALUES (2, 2, 'b2', 20, 2.25);
ALTER TABLE t_evo DROP COLUMN a;
INSERT INTO t_evo (id, b, n) VALUES (3, 'b3', 30);
ALTER TABLE t_evo ALTER COLUMN n TYPE bigint;
INSERT INTO t_evo (id, b, n) VALUES (4, 'b4', 40000000000);
ALTER TABLE t_evo RENAME COLUMN b TO bb;
UPDATE t_evo SET bb = 'renamed' WHERE id = 1;
DELETE FROM t_evo WHERE id = 2;

-- Logical decoding messages, transactional and not, text and binary.
SELECT pg_logical_emit_message(true, 'audit', 'hello');
SELECT pg_logical_emit_message(false, 'nontx', 'héllo');
SELECT pg_logical_emit_message(true, 'bin', '\x00ff'::bytea);
SELECT pg_logical_emit_message(true, '', '');

-- A multi-statement transaction mixing tables and a message.
BEGIN;
INSERT INTO t_composite VALUES (10, 'ten', NULL);
SELECT pg_logical_emit_message(true, 'in-tx', 'between');
INSERT INTO t_nokey VALUES (10, 'ten');
DELETE FROM t_composite WHERE a = 10;
COMMIT;

TRUNCATE t_nokey;
TRUNCATE t_composite, t_ident;
