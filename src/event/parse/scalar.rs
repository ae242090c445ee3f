//! Scalar text forms: bool, integers, floats, bytea, bit strings, point.

use super::ParseErr;

pub fn parse_bool(s: &[u8]) -> Result<bool, ParseErr> {
    match s {
        b"t" | b"true" => Ok(true),
        b"f" | b"false" => Ok(false),
        _ => Err(ParseErr("a boolean (t or f)")),
    }
}

/// A decimal integer that must fit in `i64`.
pub fn parse_i64(s: &[u8]) -> Result<i64, ParseErr> {
    const WHAT: &str = "an integer";
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(ParseErr(WHAT));
    }
    // Accumulate negatively so that i64::MIN parses.
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ParseErr(WHAT));
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_sub((d - b'0') as i64))
            .ok_or(ParseErr("an integer within the column type's range"))?;
    }
    if neg {
        Ok(v)
    } else {
        v.checked_neg()
            .ok_or(ParseErr("an integer within the column type's range"))
    }
}

pub fn parse_int<T: TryFrom<i64>>(s: &[u8]) -> Result<T, ParseErr> {
    T::try_from(parse_i64(s)?).map_err(|_| ParseErr("an integer within the column type's range"))
}

fn float_text(s: &[u8]) -> Result<&str, ParseErr> {
    std::str::from_utf8(s).map_err(|_| ParseErr("a floating-point number"))
}

pub fn parse_f64(s: &[u8]) -> Result<f64, ParseErr> {
    match s {
        b"NaN" => Ok(f64::NAN),
        b"Infinity" => Ok(f64::INFINITY),
        b"-Infinity" => Ok(f64::NEG_INFINITY),
        _ => float_text(s)?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(ParseErr("a floating-point number")),
    }
}

pub fn parse_f32(s: &[u8]) -> Result<f32, ParseErr> {
    match s {
        b"NaN" => Ok(f32::NAN),
        b"Infinity" => Ok(f32::INFINITY),
        b"-Infinity" => Ok(f32::NEG_INFINITY),
        _ => float_text(s)?
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(ParseErr("a floating-point number")),
    }
}

fn hex_nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// bytea in `bytea_output = hex` form: `\x` followed by hex pairs.
pub fn parse_bytea_hex(s: &[u8]) -> Result<Vec<u8>, ParseErr> {
    const WHAT: &str = "bytea in hex format (\\x...); set bytea_output = hex";
    let hex = s.strip_prefix(b"\\x").ok_or(ParseErr(WHAT))?;
    if hex.len() % 2 != 0 {
        return Err(ParseErr(WHAT));
    }
    hex.chunks_exact(2)
        .map(|p| Some(hex_nibble(p[0])? << 4 | hex_nibble(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or(ParseErr(WHAT))
}

/// A bit string (`1101001`) as Debezium's `Bits` bytes: the bit string read as a binary number,
/// little-endian, with as many bytes as the highest set bit needs (`BitSet.toByteArray()`).
pub fn parse_bits(s: &[u8]) -> Result<Vec<u8>, ParseErr> {
    if !s.iter().all(|&b| b == b'0' || b == b'1') {
        return Err(ParseErr("a bit string of 0s and 1s"));
    }
    let n = s.len();
    let highest = s.iter().position(|&b| b == b'1').map(|p| n - 1 - p);
    let mut out = vec![0u8; highest.map_or(0, |h| h / 8 + 1)];
    for (i, &b) in s.iter().rev().enumerate() {
        if b == b'1' {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    Ok(out)
}

/// `bit(1)` / `varbit(1)`: Debezium emits a boolean.
pub fn parse_bit_bool(s: &[u8]) -> Result<bool, ParseErr> {
    Ok(parse_bits(s)?.iter().any(|&b| b != 0))
}

/// point text `(x,y)`.
pub fn parse_point(s: &[u8]) -> Result<(f64, f64), ParseErr> {
    const WHAT: &str = "a point like (1.5,-2.25)";
    let inner = s
        .strip_prefix(b"(")
        .and_then(|r| r.strip_suffix(b")"))
        .ok_or(ParseErr(WHAT))?;
    let comma = inner
        .iter()
        .position(|&b| b == b',')
        .ok_or(ParseErr(WHAT))?;
    let x = parse_f64(&inner[..comma]).map_err(|_| ParseErr(WHAT))?;
    let y = parse_f64(&inner[comma + 1..]).map_err(|_| ParseErr(WHAT))?;
    Ok((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int::<i16>(b"-32768").unwrap(), -32768);
        assert!(parse_int::<i16>(b"32768").is_err());
        assert_eq!(parse_int::<i32>(b"2147483647").unwrap(), 2147483647);
        assert_eq!(parse_i64(b"9223372036854775807").unwrap(), i64::MAX);
        assert_eq!(parse_i64(b"-9223372036854775808").unwrap(), i64::MIN);
        assert!(parse_i64(b"9223372036854775808").is_err());
        for bad in [&b""[..], b"-", b"1.0", b" 1", b"0x10"] {
            assert!(parse_i64(bad).is_err());
        }
    }

    #[test]
    fn floats() {
        assert_eq!(
            parse_f64(b"2.718281828459045").unwrap(),
            std::f64::consts::E
        );
        assert_eq!(parse_f64(b"1e+20").unwrap(), 1e20);
        assert!(parse_f64(b"NaN").unwrap().is_nan());
        assert_eq!(parse_f64(b"-Infinity").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f32(b"1.5").unwrap(), 1.5f32);
        assert_eq!(parse_f32(b"3.4028235e+38").unwrap(), f32::MAX);
        assert!(parse_f64(b"inf").is_err());
        assert!(parse_f64(b"").is_err());
    }

    #[test]
    fn bytea() {
        assert_eq!(
            parse_bytea_hex(b"\\xdeadbeef").unwrap(),
            vec![0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(parse_bytea_hex(b"\\x").unwrap(), Vec::<u8>::new());
        assert!(parse_bytea_hex(b"\\xabc").is_err());
        assert!(parse_bytea_hex(b"\\336\\255").is_err());
        assert!(parse_bytea_hex(b"\\xzz").is_err());
    }

    #[test]
    fn bits_little_endian_minimal() {
        assert_eq!(parse_bits(b"101").unwrap(), vec![5]);
        assert_eq!(parse_bits(b"1101001").unwrap(), vec![0x69]);
        assert_eq!(parse_bits(b"000").unwrap(), Vec::<u8>::new());
        assert_eq!(parse_bits(b"").unwrap(), Vec::<u8>::new());
        assert_eq!(parse_bits(b"100000000").unwrap(), vec![0, 1]);
        assert_eq!(parse_bits(b"0000000011111111").unwrap(), vec![0xFF]);
        assert!(parse_bits(b"102").is_err());
        assert!(parse_bit_bool(b"1").unwrap());
        assert!(!parse_bit_bool(b"0").unwrap());
    }

    #[test]
    fn points() {
        assert_eq!(parse_point(b"(1.5,-2.25)").unwrap(), (1.5, -2.25));
        assert!(parse_point(b"1.5,-2.25").is_err());
        assert!(parse_point(b"(1.5)").is_err());
    }
}
