//! The value parsers (src/event/parse) against PostgreSQL's own output functions.
//!
//! `tests/data/pg_values.tsv` holds random values of each parsed type over its whole range, as
//! a real PostgreSQL 15 printed them under pgcdc's session settings (DateStyle ISO, IntervalStyle
//! iso_8601, extra_float_digits 3; timestamptz in zones with half-hour and second offsets), each
//! with a reference PostgreSQL computed (epoch microseconds, days, IEEE bits, scale and unscaled
//! digits, interval fields). It was made once by `tests/value_parsers/corpus.sql`;
//! `cargo test --test value_parsers -- --ignored regenerate_corpus` makes it again with a
//! throwaway server. The property tests then feed the converters random and mutated text:
//! whatever the input, a conversion returns a value or an error and never panics.

mod common;

use bytes::Bytes;
use num_bigint::BigInt;
use pgcdc::config::BinaryHandlingMode;
use pgcdc::event::convert::{convert, Conv};
use pgcdc::event::parse::{interval, numeric, scalar, temporal};
use pgcdc::event::value::Unscaled;
use proptest::prelude::*;

const CORPUS: &str = include_str!("data/pg_values.tsv");
const CORPUS_SQL: &str = include_str!("value_parsers/corpus.sql");
const MICROS_PER_DAY: i128 = 86_400_000_000;

fn corpus() -> Vec<(&'static str, &'static str, &'static str)> {
    CORPUS
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let mut next = || f.next().expect("three tab-separated fields");
            (next(), next(), next())
        })
        .collect()
}

fn epoch_micros(ts: temporal::Timestamp) -> i128 {
    match ts {
        temporal::Timestamp::At { days, micros } => {
            i128::from(days) * MICROS_PER_DAY + i128::from(micros)
        }
        other => panic!("a finite value expected, got {other:?}"),
    }
}

/// `value * 10^-scale` with trailing fraction zeros removed, to compare decimals by value.
fn normalised(mut unscaled: BigInt, mut scale: i64) -> (BigInt, i64) {
    let ten = BigInt::from(10);
    while scale > 0 && &unscaled % &ten == BigInt::from(0) {
        unscaled /= &ten;
        scale -= 1;
    }
    if unscaled == BigInt::from(0) {
        scale = 0;
    }
    (unscaled, scale)
}

fn big(u: &Unscaled) -> BigInt {
    match u {
        Unscaled::Small(v) => BigInt::from(*v),
        Unscaled::Big(bytes) => BigInt::from_signed_bytes_be(bytes),
    }
}

/// Debezium's `MicroDuration` arithmetic (double, a month of 365.25 / 12 days) from the
/// interval's fields as PostgreSQL reports them.
fn micro_duration(months: i64, days: i64, hours: i64, minutes: i64, micros: i64) -> i64 {
    let seconds = (micros / 1_000_000) as f64 + (micros % 1_000_000) as f64 / 1e6;
    let days = months as f64 * (365.25 / 12.0) + days as f64;
    let secs = ((days * 24.0 + hours as f64) * 60.0 + minutes as f64) * 60.0 + seconds;
    (secs * 1e6) as i64
}

/// Checks one corpus line; `Err` says how the parse differs from PostgreSQL's reference.
fn check(ty: &str, text: &str, reference: &str) -> Result<(), String> {
    let t = text.as_bytes();
    let parse_err = |e: pgcdc::event::parse::ParseErr| format!("not parsed: {}", e.0);
    let int = |s: &str| {
        s.parse::<i128>()
            .map_err(|e| format!("reference {s:?}: {e}"))
    };
    let (got, want): (String, String) = match ty {
        "timestamp" => (
            epoch_micros(temporal::parse_timestamp(t).map_err(parse_err)?).to_string(),
            int(reference)?.to_string(),
        ),
        "timestamptz" => (
            epoch_micros(temporal::parse_timestamptz(t).map_err(parse_err)?).to_string(),
            int(reference)?.to_string(),
        ),
        "date" => (
            temporal::parse_date(t).map_err(parse_err)?.to_string(),
            reference.to_string(),
        ),
        "time" => (
            temporal::parse_time(t).map_err(parse_err)?.to_string(),
            reference.to_string(),
        ),
        // PostgreSQL's epoch of a timetz is the UTC time of day, not wrapped into one day.
        "timetz" => (
            temporal::parse_timetz(t).map_err(parse_err)?.to_string(),
            int(reference)?.rem_euclid(MICROS_PER_DAY).to_string(),
        ),
        "numeric" if reference == "special" => {
            let e = numeric::parse_variable(t).expect_err("NaN and infinities have no decimal");
            return (e == numeric::NOT_FINITE)
                .then_some(())
                .ok_or(format!("not the not-finite error: {e:?}"));
        }
        "numeric" => {
            let (scale, unscaled) = numeric::parse_variable(t).map_err(parse_err)?;
            let (ref_scale, ref_unscaled) = reference.split_once(' ').ok_or("reference form")?;
            let want = normalised(ref_unscaled.parse().unwrap(), ref_scale.parse().unwrap());
            let got = normalised(big(&unscaled), i64::from(scale));
            (format!("{got:?}"), format!("{want:?}"))
        }
        "float8" => {
            let v = scalar::parse_f64(t).map_err(parse_err)?;
            let bits = u64::from_str_radix(reference, 16).unwrap();
            let want = f64::from_bits(bits);
            if v.is_nan() && want.is_nan() {
                return Ok(());
            }
            (format!("{:016x}", v.to_bits()), format!("{bits:016x}"))
        }
        "float4" => {
            let v = scalar::parse_f32(t).map_err(parse_err)?;
            let bits = u32::from_str_radix(reference, 16).unwrap();
            if v.is_nan() && f32::from_bits(bits).is_nan() {
                return Ok(());
            }
            (format!("{:08x}", v.to_bits()), format!("{bits:08x}"))
        }
        "interval" => {
            let f: Vec<i64> = reference.split(' ').map(|x| x.parse().unwrap()).collect();
            (
                interval::parse_interval_micros(t)
                    .map_err(parse_err)?
                    .to_string(),
                micro_duration(f[0], f[1], f[2], f[3], f[4]).to_string(),
            )
        }
        other => return Err(format!("unknown corpus type {other}")),
    };
    (got == want)
        .then_some(())
        .ok_or(format!("parsed {got}, PostgreSQL says {want}"))
}

#[test]
fn corpus_values_parse_to_what_postgresql_says() {
    let lines = corpus();
    let mut per_type: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    for (ty, text, reference) in &lines {
        *per_type.entry(ty).or_default() += 1;
        if let Err(why) = check(ty, text, reference) {
            failures.push(format!("{ty} {text:?}: {why}"));
        }
    }
    eprintln!("value_parsers: corpus {per_type:?}");
    for ty in [
        "timestamp",
        "timestamptz",
        "date",
        "time",
        "timetz",
        "numeric",
        "float8",
        "float4",
        "interval",
    ] {
        assert!(
            per_type.get(ty).copied().unwrap_or(0) >= 100,
            "the corpus has too few {ty} values: {per_type:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus values differ:\n{}",
        failures.len(),
        lines.len(),
        failures.join("\n")
    );
}

/// Every converter, in every mode that changes how text is read.
fn converters() -> Vec<Conv> {
    let scalars = vec![
        Conv::Bool,
        Conv::Int16,
        Conv::Int32,
        Conv::Int64,
        Conv::Float32,
        Conv::Float64,
        Conv::Text,
        Conv::Bytea,
        Conv::Decimal { scale: 2 },
        Conv::Decimal { scale: -2 },
        Conv::VarDecimal,
        Conv::Money { scale: 2 },
        Conv::Date,
        Conv::TimeMicros,
        Conv::TimeMillis,
        Conv::TimestampMicros,
        Conv::TimestampMillis,
        Conv::TimeNanos,
        Conv::TimestampNanos,
        Conv::IsoDate,
        Conv::IsoTime,
        Conv::IsoTimestamp,
        Conv::ZonedTimestamp { fraction: 3 },
        Conv::ZonedTime,
        Conv::Interval,
        Conv::IntervalString,
        Conv::DecimalDouble,
        Conv::DecimalString { scale: Some(3) },
        Conv::MoneyDouble { scale: 2 },
        Conv::MoneyString { scale: 2 },
        Conv::BytesText(BinaryHandlingMode::Hex),
        Conv::Bits,
        Conv::BitBool,
        Conv::Point,
        Conv::HstoreJson,
        Conv::HstoreMap,
        Conv::Unknown {
            geometric: true,
            binary: BinaryHandlingMode::Base64,
        },
    ];
    let arrays: Vec<Conv> = scalars
        .iter()
        .map(|c| Conv::Array(Box::new(c.clone())))
        .collect();
    scalars.into_iter().chain(arrays).collect()
}

/// Text shaped like PostgreSQL's output of the parsed types: digits, separators, signs, the
/// words of special values, array and hstore punctuation.
fn value_like() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "0",
        "1",
        "9",
        "12",
        "59",
        "60",
        "24",
        "294276",
        "5874897",
        "-",
        "+",
        ":",
        ".",
        " ",
        ",",
        "T",
        "P",
        "Y",
        "M",
        "D",
        "H",
        "S",
        "BC",
        " BC",
        "e",
        "E",
        "NaN",
        "Infinity",
        "infinity",
        "{",
        "}",
        "\"",
        "\\",
        "NULL",
        "=>",
        "$",
        "(",
        ")",
        "\\x",
        "ff",
        "00:00:00",
        "2024-02-29",
        "+15:59",
        "999999",
        "1e1000",
        "9223372036854775807",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|p| p.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes and value-shaped text: every converter returns, none panics.
    #[test]
    fn converters_never_panic(raw in prop::collection::vec(any::<u8>(), 0..64),
                              shaped in value_like()) {
        for conv in converters() {
            let _ = convert(&conv, &Bytes::from(raw.clone()));
            let _ = convert(&conv, &Bytes::from(shaped.clone()));
        }
    }

    /// PostgreSQL's own output, cut and spliced at random: still no panic; and a corpus value
    /// itself always converts under its type's converter.
    #[test]
    fn mutated_corpus_values_never_panic(line in 0usize..10_000, cut in 0usize..64,
                                         insert in prop::collection::vec(any::<u8>(), 0..4)) {
        let lines = corpus();
        let (ty, text, _) = lines[line % lines.len()];
        let conv = match ty {
            "timestamp" => Conv::TimestampMillis,
            "timestamptz" => Conv::ZonedTimestamp { fraction: 6 },
            "date" => Conv::IsoDate,
            "time" => Conv::TimeMicros,
            "timetz" => Conv::ZonedTime,
            "numeric" => Conv::DecimalString { scale: None },
            "float8" => Conv::Float64,
            "float4" => Conv::Float32,
            _ => Conv::Interval,
        };
        prop_assert!(convert(&conv, &Bytes::from(text.to_string())).is_ok(), "{} {:?}", ty, text);
        let mut bytes = text.as_bytes().to_vec();
        let at = cut.min(bytes.len());
        bytes.splice(at..at, insert);
        for conv in converters() {
            let _ = convert(&conv, &Bytes::from(bytes.clone()));
        }
    }

    /// Any instant in PostgreSQL's timestamp range: the millisecond and ISO forms exist in
    /// every time precision mode (only MicroTimestamp and NanoTimestamp have narrower ranges).
    #[test]
    fn every_postgresql_timestamp_has_millis_and_iso_forms(
        days in -2_440_588i64..106_762_940, micros in 0i64..86_400_000_000) {
        let ts = temporal::Timestamp::At { days, micros };
        let millis = ts.epoch_millis().expect("every PostgreSQL timestamp has epoch millis");
        prop_assert_eq!(i128::from(millis), (i128::from(days) * MICROS_PER_DAY + i128::from(micros)).div_euclid(1000));
        let iso = temporal::format_zoned_timestamp(ts, 6);
        prop_assert!(iso.as_str().ends_with('Z'));
    }
}

/// Makes `tests/data/pg_values.tsv` again with a throwaway server (the values are random;
/// `setseed` keeps them the same for the same PostgreSQL).
#[test]
#[ignore]
fn regenerate_corpus() {
    let pg = common::pg::TestPg::start();
    let out = pg.psql(CORPUS_SQL);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pg_values.tsv");
    std::fs::write(&path, out).unwrap();
    eprintln!("wrote {}", path.display());
}
