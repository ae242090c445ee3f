-- PostgreSQL's limits (tests/oracle_diff.rs): the smallest, largest and special values of every
-- mapped type, streamed after workload.sql and read by the snapshot test. The microsecond
-- timestamp columns hold the last instant MicroTimestamp can represent (294247-01-10
-- 04:00:54.775807); PostgreSQL's own maximum, 294276-12-31, is an event error there in pgcdc
-- (Debezium emits a wrapped-around number) and is tested in src/event/convert.rs. The
-- millisecond, zoned and ISO columns hold 294276-12-31. Intervals stop at 2147483647 hours:
-- pgjdbc cannot parse more and Debezium fails.
-- Minimum values.
INSERT INTO t_limits VALUES (1,
    -32768, -2147483648, -9223372036854775808, 0,
    -3.4028235e38, -1.7976931348623157e308,
    -99999999.99, -9, -0.99999999999999999999999999999999999999, -(10::numeric ^ 1000 - 1),
    '-1e-1000', '-$92,233,720,368,547,758.08',
    '', '\x', B'0000000000', B'',
    '4714-11-24 BC', '00:00:00', '00:00:00', '00:00:00', '00:00:00+15:59',
    '4714-11-24 00:00:00 BC', '4714-11-24 00:00:00 BC', '4714-11-24 00:00:00 BC',
    '4714-11-24 00:00:00+00 BC', '4714-11-24 00:00:00+00 BC', '4714-11-24 00:00:00+00 BC',
    '-178000000 years', '(-1.7976931348623157e308,-0)',
    '{}', '{-9223372036854775808}', '{-Infinity,-1.7976931348623157e308}', '{-1e-1000,NULL}',
    '{"",NULL}', '{"4714-11-24 BC",-infinity}', '{00:00:00}', '{00:00:00+15:59}',
    '{"4714-11-24 00:00:00 BC",-infinity}', '{"4714-11-24 00:00:00 BC"}',
    '{"4714-11-24 00:00:00+00 BC",-infinity}', '{"\\x",NULL}');
-- Maximum values.
INSERT INTO t_limits VALUES (2,
    32767, 2147483647, 9223372036854775807, 4294967295,
    3.4028235e38, 1.7976931348623157e308,
    99999999.99, 9, 0.99999999999999999999999999999999999999, 10::numeric ^ 1000 - 1,
    '1e1000', '$92,233,720,368,547,758.07',
    repeat('z', 100), '\xff', B'1111111111', B'1',
    '5874897-12-31', '24:00:00', '23:59:59.999', '23:59:59', '24:00:00-15:59',
    '294247-01-10 04:00:54.775807', '294276-12-31 23:59:59.999', '294276-12-31 23:59:59',
    '294276-12-31 23:59:59.999999+00', '294276-12-31 23:59:59.999+00', '294276-12-31 23:59:59+00',
    '178000000 years', '(1.7976931348623157e308,5e-324)',
    '{NULL}', '{9223372036854775807}', '{Infinity,NaN,5e-324}', '{1e1000,0}',
    '{"NULL","{}"}', '{5874897-12-31,infinity}', '{24:00:00}', '{24:00:00-15:59}',
    '{"294247-01-10 04:00:54.775807",infinity}', '{"294276-12-31 23:59:59.999"}',
    '{"294276-12-31 23:59:59.999999+00",infinity}', '{"\\xff"}');
-- Infinities, NaN and other special values.
INSERT INTO t_limits (id, c_float4, c_float8, c_num, c_numeric, c_date, c_ts, c_ts3, c_ts0,
    c_tstz, c_tstz3, c_tstz0, c_interval, c_time, c_timetz)
VALUES (3, 'NaN', '-Infinity', 'NaN', 'NaN', 'infinity', 'infinity', 'infinity', 'infinity',
        'infinity', 'infinity', 'infinity', '2147483647:59:59.999999', '23:59:59.999999', '23:59:59.999999+00'),
       (4, '-Infinity', 'NaN', NULL, '-Infinity', '-infinity', '-infinity', '-infinity', '-infinity',
        '-infinity', '-infinity', '-infinity', '-2147483647:59:59.999999', '12:00:00', '12:00:00+00:30'),
       (5, 1.4e-45, -0, 0.01, '1e-1000', '0001-01-01', '9999-12-31 23:59:59.999999', '10000-01-01 00:00:00', '0001-01-01 00:00:00 BC',
        '9999-12-31 23:59:59.999999+00', '10000-01-01 00:00:00+00', '0001-01-01 00:00:00+00 BC', '-1 mon 1 day -00:00:00.000001', '00:00:00.000001', '00:00:00.000001+00'),
       (6, NULL, NULL, NULL, NULL, '0001-12-31 BC', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999', '1970-01-01 00:00:00',
        '1969-12-31 23:59:59.999999+00', '1969-12-31 23:59:59.999+00', '1000-01-01 00:00:00+00', NULL, NULL, NULL);
-- Changes to rows holding limits: an update's old and new rows, a delete's key.
UPDATE t_limits SET c_text = 'updated', c_int4 = 0 WHERE id = 2;
DELETE FROM t_limits WHERE id = 4;
