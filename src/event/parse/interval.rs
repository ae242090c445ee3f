//! interval text → `io.debezium.time.MicroDuration` microseconds.
//!
//! Debezium parses the text with pgjdbc's `PGInterval` and computes the duration in `double`
//! arithmetic with a month of 365.25 / 12 days; we repeat that arithmetic step by step so the
//! rounding matches.

use super::ParseErr;

const WHAT: &str = "an interval like P1Y2M3DT4H5M6.789S (IntervalStyle iso_8601) or \
                    1 year 2 mons 3 days 04:05:06.789 (IntervalStyle postgres)";

/// `MicroDuration.DAYS_PER_MONTH_AVG`.
const DAYS_PER_MONTH_AVG: f64 = 365.25 / 12.0;

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Parts {
    years: i64,
    months: i64,
    days: i64,
    hours: i64,
    minutes: i64,
    /// Seconds as total microseconds (pgjdbc keeps whole seconds + micros).
    micros: i64,
}

impl Parts {
    fn micro_duration(&self) -> i64 {
        let seconds = (self.micros / 1_000_000) as f64 + (self.micros % 1_000_000) as f64 / 1e6;
        let days = (self.years * 12 + self.months) as f64 * DAYS_PER_MONTH_AVG + self.days as f64;
        let secs =
            ((days * 24.0 + self.hours as f64) * 60.0 + self.minutes as f64) * 60.0 + seconds;
        // Java's (long) cast truncates toward zero and saturates, like Rust's `as`.
        (secs * 1e6) as i64
    }
}

fn int(s: &[u8]) -> Result<i64, ParseErr> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseErr(WHAT));
    }
    let v = digits.iter().fold(0i64, |v, &d| v * 10 + (d - b'0') as i64);
    Ok(if neg { -v } else { v })
}

/// Seconds with an optional fraction of up to 6 digits → microseconds.
fn seconds_micros(s: &[u8]) -> Result<i64, ParseErr> {
    let neg = s.first() == Some(&b'-');
    let (whole, frac) = match s.iter().position(|&b| b == b'.') {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &s[s.len()..]),
    };
    let whole_v = if whole == b"-" || whole == b"+" {
        0
    } else {
        int(whole)?
    };
    if frac.len() > 6 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(ParseErr(WHAT));
    }
    let mut f = frac.iter().fold(0i64, |v, &d| v * 10 + (d - b'0') as i64);
    f *= 10i64.pow(6 - frac.len() as u32);
    let micros = whole_v.abs() * 1_000_000 + f;
    Ok(if neg { -micros } else { micros })
}

fn parse_iso(s: &[u8]) -> Result<Parts, ParseErr> {
    let mut p = Parts::default();
    let mut in_time = false;
    let mut i = 1; // after 'P'
    if i >= s.len() {
        return Err(ParseErr(WHAT));
    }
    while i < s.len() {
        if s[i] == b'T' {
            in_time = true;
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && matches!(s[i], b'0'..=b'9' | b'-' | b'+' | b'.') {
            i += 1;
        }
        let num = &s[start..i];
        let unit = *s.get(i).ok_or(ParseErr(WHAT))?;
        i += 1;
        match (in_time, unit) {
            (false, b'Y') => p.years = int(num)?,
            (false, b'M') => p.months = int(num)?,
            (false, b'W') => p.days += 7 * int(num)?,
            (false, b'D') => p.days = int(num)?,
            (true, b'H') => p.hours = int(num)?,
            (true, b'M') => p.minutes = int(num)?,
            (true, b'S') => p.micros = seconds_micros(num)?,
            _ => return Err(ParseErr(WHAT)),
        }
    }
    Ok(p)
}

/// IntervalStyle `postgres`: `[N year[s]] [N mon[s]] [N day[s]] [[+-]HH:MM:SS[.f]]`.
fn parse_postgres(s: &[u8]) -> Result<Parts, ParseErr> {
    let mut p = Parts::default();
    let mut pending: Option<i64> = None;
    for tok in s.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
        if let Some(n) = pending.take() {
            match tok {
                b"year" | b"years" => p.years = n,
                b"mon" | b"mons" => p.months = n,
                b"day" | b"days" => p.days = n,
                _ => return Err(ParseErr(WHAT)),
            }
        } else if tok.contains(&b':') {
            let (neg, body) = match tok.first() {
                Some(b'-') => (true, &tok[1..]),
                Some(b'+') => (false, &tok[1..]),
                _ => (false, tok),
            };
            let mut it = body.splitn(3, |&b| b == b':');
            let h = int(it.next().ok_or(ParseErr(WHAT))?)?;
            let m = int(it.next().ok_or(ParseErr(WHAT))?)?;
            let us = seconds_micros(it.next().ok_or(ParseErr(WHAT))?)?;
            let sign = if neg { -1 } else { 1 };
            p.hours = sign * h;
            p.minutes = sign * m;
            p.micros = sign * us;
        } else {
            pending = Some(int(tok)?);
        }
    }
    if pending.is_some() {
        return Err(ParseErr(WHAT));
    }
    Ok(p)
}

fn parse_parts(s: &[u8]) -> Result<Parts, ParseErr> {
    if s.first() == Some(&b'P') {
        parse_iso(s)
    } else if !s.is_empty() {
        parse_postgres(s)
    } else {
        Err(ParseErr(WHAT))
    }
}

/// `interval.handling.mode=string`: Debezium's `io.debezium.time.Interval`, ISO 8601 with every
/// unit spelled out (`P1Y2M3DT4H5M6.789S`); seconds keep only the fraction digits they need.
pub fn format_interval_iso(s: &[u8]) -> Result<String, ParseErr> {
    if infinity(s).is_some() {
        return Err(INFINITE_ISO);
    }
    let p = parse_parts(s)?;
    let whole = p.micros / 1_000_000;
    let frac = (p.micros % 1_000_000).abs();
    let mut secs = if p.micros < 0 && whole == 0 {
        "-0".to_string()
    } else {
        whole.to_string()
    };
    if frac != 0 {
        let digits = format!("{frac:06}");
        secs.push('.');
        secs.push_str(digits.trim_end_matches('0'));
    }
    Ok(format!(
        "P{}Y{}M{}DT{}H{}M{}S",
        p.years, p.months, p.days, p.hours, p.minutes, secs
    ))
}

/// PostgreSQL 17's infinite intervals have no ISO 8601 duration.
pub const INFINITE_ISO: ParseErr =
    ParseErr("out of range for io.debezium.time.Interval (ISO 8601 durations are finite)");

/// `infinity` / `-infinity` (PostgreSQL 17 and later) as the saturated ends of the
/// `MicroDuration` range, where Debezium's arithmetic puts the longest finite intervals too.
fn infinity(s: &[u8]) -> Option<i64> {
    match s {
        b"infinity" => Some(i64::MAX),
        b"-infinity" => Some(i64::MIN),
        _ => None,
    }
}

pub fn parse_interval_micros(s: &[u8]) -> Result<i64, ParseErr> {
    if let Some(v) = infinity(s) {
        return Ok(v);
    }
    Ok(parse_parts(s)?.micro_duration())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_infinities() {
        assert_eq!(parse_interval_micros(b"P178000000Y").unwrap(), i64::MAX);
        assert_eq!(parse_interval_micros(b"P-178000000Y").unwrap(), i64::MIN);
        assert_eq!(parse_interval_micros(b"infinity").unwrap(), i64::MAX);
        assert_eq!(parse_interval_micros(b"-infinity").unwrap(), i64::MIN);
        assert_eq!(format_interval_iso(b"infinity"), Err(INFINITE_ISO));
        assert!(INFINITE_ISO.0.starts_with("out of range for "));
        assert_eq!(
            format_interval_iso(b"P-178000000Y").unwrap(),
            "P-178000000Y0M0DT0H0M0S"
        );
        assert_eq!(
            format_interval_iso(b"PT2147483647H59M59.999999S").unwrap(),
            "P0Y0M0DT2147483647H59M59.999999S"
        );
    }

    #[test]
    fn iso_8601() {
        // The demo's '1 year 2 months 3 days 04:05:06.789' as Debezium emitted it.
        assert_eq!(
            parse_interval_micros(b"P1Y2M3DT4H5M6.789S").unwrap(),
            37_091_106_789_000
        );
        assert_eq!(parse_interval_micros(b"P1D").unwrap(), 86_400_000_000);
        assert_eq!(parse_interval_micros(b"PT0S").unwrap(), 0);
        assert_eq!(parse_interval_micros(b"P1M").unwrap(), 2_629_800_000_000);
        assert_eq!(parse_interval_micros(b"PT-0.5S").unwrap(), -500_000);
        assert_eq!(
            parse_interval_micros(b"P-1Y-2M3DT-4H-5M-6.789S").unwrap(),
            {
                let days = -14.0 * DAYS_PER_MONTH_AVG + 3.0;
                let secs = ((days * 24.0 - 4.0) * 60.0 - 5.0) * 60.0 + (-6.0 + -0.789);
                (secs * 1e6) as i64
            }
        );
    }

    #[test]
    fn postgres_style() {
        assert_eq!(
            parse_interval_micros(b"1 year 2 mons 3 days 04:05:06.789").unwrap(),
            37_091_106_789_000
        );
        assert_eq!(parse_interval_micros(b"1 day").unwrap(), 86_400_000_000);
        assert_eq!(parse_interval_micros(b"-00:00:01.5").unwrap(), -1_500_000);
        assert_eq!(parse_interval_micros(b"00:00:00").unwrap(), 0);
    }

    #[test]
    fn iso_string_spells_out_every_unit() {
        assert_eq!(
            format_interval_iso(b"P1Y2M3DT4H5M6.789S").unwrap(),
            "P1Y2M3DT4H5M6.789S"
        );
        assert_eq!(format_interval_iso(b"PT0S").unwrap(), "P0Y0M0DT0H0M0S");
        assert_eq!(
            format_interval_iso(b"-00:00:01.5").unwrap(),
            "P0Y0M0DT0H0M-1.5S"
        );
        assert_eq!(
            format_interval_iso(b"PT-0.5S").unwrap(),
            "P0Y0M0DT0H0M-0.5S"
        );
        assert!(format_interval_iso(b"").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b""[..],
            b"P",
            b"P1",
            b"PT1X",
            b"1 fortnight",
            b"P1.5Y",
            b"abc",
        ] {
            assert!(
                parse_interval_micros(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
