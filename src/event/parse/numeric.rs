//! numeric and money text → unscaled decimal integers.

use num_bigint::BigInt;

use super::ParseErr;
use crate::event::value::Unscaled;

/// Digits that fit an `i128` without overflow whatever they are.
const I128_SAFE_DIGITS: usize = 38;

/// NaN and ±Infinity have no Connect Decimal form; Debezium emits null for such a column.
pub const NOT_FINITE: ParseErr =
    ParseErr("a finite decimal (NaN and Infinity cannot be represented as a Connect Decimal)");

struct DecimalText<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
}

fn split_decimal(s: &[u8]) -> Result<DecimalText<'_>, ParseErr> {
    let (negative, rest) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], &rest[dot + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(ParseErr("a decimal number"));
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        if matches!(rest, b"NaN" | b"Infinity") {
            return Err(NOT_FINITE);
        }
        return Err(ParseErr("a decimal number"));
    }
    Ok(DecimalText {
        negative,
        int,
        frac,
    })
}

/// Builds the unscaled integer from digit slices plus `zeros` trailing zeros.
fn unscaled_from_digits(negative: bool, parts: &[&[u8]], zeros: usize) -> Unscaled {
    let total: usize = parts.iter().map(|p| p.len()).sum::<usize>() + zeros;
    if total <= I128_SAFE_DIGITS {
        let mut v: i128 = 0;
        for &d in parts.iter().flat_map(|p| p.iter()) {
            v = v * 10 + (d - b'0') as i128;
        }
        for _ in 0..zeros {
            v *= 10;
        }
        return Unscaled::Small(if negative { -v } else { v });
    }
    let mut digits = Vec::with_capacity(total);
    for p in parts {
        digits.extend_from_slice(p);
    }
    digits.resize(total, b'0');
    // Only ASCII digits reach here, so parsing cannot fail.
    let mut big = BigInt::parse_bytes(&digits, 10).unwrap_or_default();
    if negative {
        big = -big;
    }
    Unscaled::from_bigint(&big)
}

/// `decimal.handling.mode=double`: the nearest double; NaN and ±Infinity as such.
pub fn parse_double(s: &[u8]) -> Result<f64, ParseErr> {
    match s {
        b"NaN" => return Ok(f64::NAN),
        b"Infinity" => return Ok(f64::INFINITY),
        b"-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    split_decimal(s)?;
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or(ParseErr("a decimal number"))
}

/// `decimal.handling.mode=string`: the decimal's plain text, at the column's scale when it has
/// one; NaN and the infinities as Debezium names them (`NAN`, `POSITIVE_INFINITY`,
/// `NEGATIVE_INFINITY`).
pub fn decimal_string(s: &[u8], scale: Option<i32>) -> Result<String, ParseErr> {
    match s {
        b"NaN" => return Ok("NAN".into()),
        b"Infinity" => return Ok("POSITIVE_INFINITY".into()),
        b"-Infinity" => return Ok("NEGATIVE_INFINITY".into()),
        _ => {}
    }
    let d = split_decimal(s)?;
    let mut out = String::from_utf8_lossy(s).into_owned();
    if let Some(scale) = scale.filter(|&sc| sc > d.frac.len() as i32) {
        if d.frac.is_empty() {
            out.push('.');
        }
        out.extend(std::iter::repeat_n('0', scale as usize - d.frac.len()));
    }
    Ok(out)
}

/// numeric text → unscaled value at exactly `scale` (Connect `Decimal`, fixed scale).
/// Like Java's `setScale` without rounding: digits dropped to reach the scale must be zeros.
pub fn parse_fixed(s: &[u8], scale: i32) -> Result<Unscaled, ParseErr> {
    let d = split_decimal(s)?;
    let have = d.frac.len() as i64;
    let want = scale as i64;
    if want >= have {
        return Ok(unscaled_from_digits(
            d.negative,
            &[d.int, d.frac],
            (want - have) as usize,
        ));
    }
    // Drop (have - want) trailing digits, first from the fraction, then (negative scale) the
    // integer part; all of them must be zeros.
    let mut drop = (have - want) as usize;
    let frac_drop = drop.min(d.frac.len());
    let (frac_keep, frac_gone) = d.frac.split_at(d.frac.len() - frac_drop);
    drop -= frac_drop;
    let int_drop = drop.min(d.int.len());
    let (int_keep, int_gone) = d.int.split_at(d.int.len() - int_drop);
    if frac_gone.iter().chain(int_gone).any(|&b| b != b'0') {
        return Err(ParseErr(
            "a value with no more fraction digits than the column's scale",
        ));
    }
    Ok(unscaled_from_digits(d.negative, &[int_keep, frac_keep], 0))
}

/// numeric text → (scale, unscaled) with trailing fraction zeros stripped, like Debezium's
/// `stripTrailingZeros()` followed by `setScale(0)` for negative scales.
pub fn parse_variable(s: &[u8]) -> Result<(i32, Unscaled), ParseErr> {
    let d = split_decimal(s)?;
    let mut frac = d.frac;
    while let [rest @ .., b'0'] = frac {
        frac = rest;
    }
    let unscaled = unscaled_from_digits(d.negative, &[d.int, frac], 0);
    if unscaled == Unscaled::Small(0) {
        return Ok((0, Unscaled::Small(0)));
    }
    Ok((frac.len() as i32, unscaled))
}

/// What money text must look like: the replication session pins `lc_monetary` to C, so any
/// other form (another locale's separators or symbol) is refused rather than misread.
const MONEY_FORM: &str = "a money amount in lc_monetary C form, like $1,234.56, -$1.00 or ($1.00)";

/// money text (`$1,234.56`, `-$1.00`, `($1.00)`) → unscaled value at `scale`, rounding half up
/// like Debezium's `setScale(fractionDigits, HALF_UP)`.
pub fn parse_money(s: &[u8], scale: u32) -> Result<Unscaled, ParseErr> {
    let (negative, body) = match s {
        [b'(', inner @ .., b')'] => (true, inner),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let body = body.strip_prefix(b"$").unwrap_or(body);
    let (int_text, frac_text) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, &b""[..]),
    };
    // Thousands separators only between digits; the fraction is digits only.
    if int_text.first().is_none_or(|b| !b.is_ascii_digit())
        || int_text.last().is_some_and(|&b| b == b',')
        || int_text.windows(2).any(|w| w == b",,")
        || !int_text.iter().all(|&b| b.is_ascii_digit() || b == b',')
        || !frac_text.iter().all(u8::is_ascii_digit)
    {
        return Err(ParseErr(MONEY_FORM));
    }
    let mut int = [0u8; 40];
    let mut ni = 0usize;
    for &b in int_text.iter().filter(|b| b.is_ascii_digit()) {
        if ni >= int.len() {
            return Err(ParseErr("a money amount of at most 40 digits"));
        }
        int[ni] = b;
        ni += 1;
    }
    if frac_text.len() > 40 {
        return Err(ParseErr("a money amount of at most 40 digits"));
    }
    let scale = scale as usize;
    let nf = frac_text.len();
    let round_up = nf > scale && frac_text[scale] >= b'5';
    let frac_used = nf.min(scale);
    let mut v = match unscaled_from_digits(
        false,
        &[&int[..ni], &frac_text[..frac_used]],
        scale - frac_used,
    ) {
        Unscaled::Small(v) => v,
        Unscaled::Big(_) => return Err(ParseErr("a money amount that fits 38 digits")),
    };
    if round_up {
        v += 1;
    }
    Ok(Unscaled::Small(if negative { -v } else { v }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(u: Unscaled) -> i128 {
        match u {
            Unscaled::Small(v) => v,
            Unscaled::Big(_) => panic!("expected small"),
        }
    }

    #[test]
    fn fixed_scale() {
        assert_eq!(small(parse_fixed(b"12345678.90", 2).unwrap()), 1234567890);
        assert_eq!(small(parse_fixed(b"-0.05", 2).unwrap()), -5);
        assert_eq!(small(parse_fixed(b"1", 2).unwrap()), 100);
        assert_eq!(small(parse_fixed(b"1.5", 3).unwrap()), 1500);
        assert_eq!(small(parse_fixed(b"12300", -2).unwrap()), 123);
        assert_eq!(small(parse_fixed(b"1.500", 1).unwrap()), 15);
        assert!(parse_fixed(b"1.25", 1).is_err());
        assert!(parse_fixed(b"NaN", 2).is_err());
        assert!(parse_fixed(b"", 2).is_err());
        assert!(parse_fixed(b"1e5", 0).is_err());
    }

    #[test]
    fn fixed_scale_big() {
        let text = b"123456789012345678901234567890123456789012.5";
        let u = parse_fixed(text, 1).unwrap();
        let expected =
            BigInt::parse_bytes(b"1234567890123456789012345678901234567890125", 10).unwrap();
        assert_eq!(u, Unscaled::from_bigint(&expected));
    }

    #[test]
    fn variable_scale_strips_fraction_zeros() {
        let (s, u) = parse_variable(b"3.14159265358979323846264338327950288").unwrap();
        assert_eq!(s, 35);
        let expected = BigInt::parse_bytes(b"314159265358979323846264338327950288", 10).unwrap();
        assert_eq!(u, Unscaled::from_bigint(&expected));
        assert_eq!(parse_variable(b"1").unwrap(), (0, Unscaled::Small(1)));
        assert_eq!(
            parse_variable(b"100.00").unwrap(),
            (0, Unscaled::Small(100))
        );
        assert_eq!(parse_variable(b"-1.50").unwrap(), (1, Unscaled::Small(-15)));
        assert_eq!(parse_variable(b"0.000").unwrap(), (0, Unscaled::Small(0)));
        assert_eq!(parse_variable(b"0.001").unwrap(), (3, Unscaled::Small(1)));
        assert!(parse_variable(b"Infinity").is_err());
        assert!(parse_variable(b"-").is_err());
    }

    #[test]
    fn string_mode() {
        assert_eq!(decimal_string(b"-1.5", Some(2)).unwrap(), "-1.50");
        assert_eq!(decimal_string(b"7", Some(2)).unwrap(), "7.00");
        assert_eq!(decimal_string(b"1.25", Some(2)).unwrap(), "1.25");
        assert_eq!(decimal_string(b"100.000", None).unwrap(), "100.000");
        assert_eq!(decimal_string(b"NaN", None).unwrap(), "NAN");
        assert_eq!(
            decimal_string(b"-Infinity", None).unwrap(),
            "NEGATIVE_INFINITY"
        );
        assert!(decimal_string(b"abc", None).is_err());
        assert!(parse_double(b"NaN").unwrap().is_nan());
        assert_eq!(parse_double(b"-1.25").unwrap(), -1.25);
        assert!(parse_double(b"1e5").is_err());
    }

    #[test]
    fn money() {
        assert_eq!(small(parse_money(b"$1,234.56", 2).unwrap()), 123456);
        assert_eq!(small(parse_money(b"-$1,234.56", 2).unwrap()), -123456);
        assert_eq!(small(parse_money(b"($1.00)", 2).unwrap()), -100);
        assert_eq!(small(parse_money(b"$0.00", 2).unwrap()), 0);
        assert_eq!(small(parse_money(b"12", 2).unwrap()), 1200);
        assert_eq!(small(parse_money(b"$1.005", 2).unwrap()), 101);
        assert_eq!(
            small(parse_money(b"-$92,233,720,368,547,758.08", 2).unwrap()),
            -9223372036854775808
        );
        assert!(parse_money(b"$", 2).is_err());
        // Other locales' forms are refused, never misread (1.234,56 would otherwise be 1.23).
        for bad in [
            &b"1.234,56 \xe2\x82\xac"[..],
            b"EUR 1,00",
            b"$1..2",
            b"$1,,000.00",
            b"$1,",
            b"$,1",
            b"1 234.56",
            b"(1.00",
        ] {
            assert!(
                parse_money(bad, 2).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
