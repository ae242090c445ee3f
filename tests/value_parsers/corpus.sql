-- Generates tests/data/pg_values.tsv (tests/value_parsers.rs, `--ignored regenerate_corpus`):
-- random values of each parsed type over its whole range, as PostgreSQL's output functions
-- print them under pgcdc's session settings, each with a reference computed by PostgreSQL.
-- Lines: type <TAB> text <TAB> reference.
SET DateStyle = 'ISO';
SET IntervalStyle = 'iso_8601';
SET extra_float_digits = 3;
SET TimeZone = 'UTC';
SELECT setseed(0.16) \g /dev/null
CREATE TEMP TABLE corpus (ty text, txt text, ref text);

-- timestamp: anywhere in 4714 BC .. 294276 AD, near 1970, and rounded to each precision;
-- reference: epoch microseconds.
CREATE TEMP TABLE ts AS
SELECT CASE g % 3
    WHEN 0 THEN timestamp '4714-11-24 00:00:00 BC' + make_interval(days => (random() * 109204400)::int)
        + (random() * 86399999999)::bigint * interval '1 microsecond'
    WHEN 1 THEN timestamp '1970-01-01' + (random() - 0.5) * interval '300 years'
        + (random() * 999999)::bigint * interval '1 microsecond'
    ELSE timestamp '1900-01-01' + random() * interval '300 years' END AS v, g
FROM generate_series(1, 600) g;
INSERT INTO corpus SELECT 'timestamp', x::text, trunc(extract(epoch FROM x) * 1000000)::text
FROM (SELECT CASE WHEN g % 7 < 6 THEN v ELSE v::timestamp(3) END AS x FROM ts) s;
INSERT INTO corpus VALUES ('timestamp', '294276-12-31 23:59:59.999999', '9224318015999999999'),
    ('timestamp', '4714-11-24 00:00:00 BC', '-210866803200000000');

-- timestamptz in zones with half-hour and second offsets (local mean time before 1900).
CREATE TEMP TABLE zones (z text);
INSERT INTO zones VALUES ('UTC'), ('Asia/Kolkata'), ('America/St_Johns'), ('Europe/Amsterdam'),
    ('Pacific/Kiritimati'), ('America/Caracas');
DO $$
DECLARE zone text;
BEGIN
    FOR zone IN SELECT z FROM zones LOOP
        EXECUTE format('SET TimeZone = %L', zone);
        INSERT INTO corpus SELECT 'timestamptz', v::timestamptz::text,
            trunc(extract(epoch FROM v::timestamptz) * 1000000)::text
        FROM ts WHERE g % 6 = (SELECT count(*) FROM zones z2 WHERE z2.z < zone) % 6
            AND v < timestamp '294276-12-31' AND v > timestamp '4713-01-01 BC';
    END LOOP;
END $$;
SET TimeZone = 'UTC';

-- date over its whole range; reference: epoch days.
INSERT INTO corpus SELECT 'date', d::text, (d - date '1970-01-01')::text
FROM (SELECT date '4714-11-24 BC' + (random() * 2147483493)::int AS d
      FROM generate_series(1, 300)) s;
INSERT INTO corpus VALUES ('date', '5874897-12-31', '2145042905'), ('date', '4714-11-24 BC', '-2440588');

-- time and timetz; reference: microseconds since midnight (UTC for timetz, unwrapped).
INSERT INTO corpus SELECT 'time', t::text, trunc(extract(epoch FROM t) * 1000000)::text
FROM (SELECT time '00:00' + (random() * 86399999999)::bigint * interval '1 microsecond' AS t
      FROM generate_series(1, 200)) s;
INSERT INTO corpus VALUES ('time', '24:00:00', '86400000000');
INSERT INTO corpus SELECT 'timetz', t::text, trunc(extract(epoch FROM t) * 1000000)::text
FROM (SELECT (time '00:00' + (random() * 86399999999)::bigint * interval '1 microsecond')::text
          || CASE WHEN random() < 0.5 THEN '+' ELSE '-' END
          || lpad((random() * 15)::int::text, 2, '0') || ':' || lpad((random() * 59)::int::text, 2, '0')
          AS tt FROM generate_series(1, 200)) s, LATERAL (SELECT tt::timetz AS t) x;

-- numeric: up to 120 digits on either side of the point, and the special values;
-- reference: scale and unscaled integer.
INSERT INTO corpus SELECT 'numeric', n::text, scale(n) || ' ' || trunc(n * 10::numeric ^ scale(n))::text
FROM (SELECT g, (random() * 120)::int AS whole, (random() * 120)::int AS frac, random() < 0.5 AS neg
      FROM generate_series(1, 300) g) p,
    LATERAL (SELECT (CASE WHEN neg THEN '-' ELSE '' END
        || coalesce((SELECT string_agg((random() * 9)::int::text, '') FROM generate_series(1, whole + g - g)), '0')
        || '.' || coalesce((SELECT string_agg((random() * 9)::int::text, '') FROM generate_series(1, frac + g - g)), '0')
        )::numeric AS n) x;
INSERT INTO corpus SELECT 'numeric', n::text, 'special'
FROM unnest('{NaN,Infinity,-Infinity}'::numeric[]) n;

-- float8 and float4 over their exponent range; reference: the IEEE bits (hex).
INSERT INTO corpus SELECT 'float8', f::text, encode(float8send(f), 'hex')
FROM (SELECT ((random() - 0.5) * 10 ^ (floor(random() * 600) - 300))::float8 AS f
      FROM generate_series(1, 300)
      UNION ALL SELECT unnest('{NaN,Infinity,-Infinity,0,-0,5e-324,1.7976931348623157e308,2.2250738585072014e-308}'::float8[])) s;
INSERT INTO corpus SELECT 'float4', f::text, encode(float4send(f), 'hex')
FROM (SELECT ((random() - 0.5) * 10 ^ (floor(random() * 76) - 38))::float4 AS f
      FROM generate_series(1, 300)
      UNION ALL SELECT unnest('{NaN,Infinity,-Infinity,0,-0,1.4e-45,3.4028235e38}'::float4[])) s;

-- interval; reference: months, days, hours, minutes, microseconds of the minute.
INSERT INTO corpus SELECT 'interval', i::text,
    (extract(year FROM i) * 12 + extract(month FROM i))::bigint || ' ' || extract(day FROM i)::bigint
    || ' ' || extract(hour FROM i)::bigint || ' ' || extract(minute FROM i)::bigint
    || ' ' || extract(microseconds FROM i)::bigint
FROM (SELECT make_interval(years => ((random() - 0.5) * 2000)::int, months => ((random() - 0.5) * 30)::int,
          days => ((random() - 0.5) * 100000)::int, hours => ((random() - 0.5) * 10000)::int,
          mins => ((random() - 0.5) * 200)::int, secs => round(((random() - 0.5) * 200)::numeric, 6)) AS i
      FROM generate_series(1, 300)) s;

COPY corpus TO STDOUT;
