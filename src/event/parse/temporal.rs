//! date/time text (DateStyle=ISO) → Debezium's temporal representations.

use std::fmt::Write;

use super::ParseErr;
use crate::event::value::ShortStr;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Debezium maps `date 'infinity'` to `LocalDate -5877611-06-21` (and `-infinity` to the day
/// after); these are those dates' epoch days.
pub const DATE_POSITIVE_INFINITY_DAYS: i32 = -2_147_472_692;
pub const DATE_NEGATIVE_INFINITY_DAYS: i32 = -2_147_472_691;
/// pgjdbc's `DATE_POSITIVE_INFINITY` / `DATE_NEGATIVE_INFINITY`, used as epoch microseconds.
pub const TIMESTAMP_POSITIVE_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
pub const TIMESTAMP_NEGATIVE_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbering).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// A cursor over ASCII text.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cur { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), ParseErr> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(ParseErr(what))
        }
    }

    /// An unsigned decimal of `min..=max` digits.
    fn digits(&mut self, min: usize, max: usize, what: &'static str) -> Result<i64, ParseErr> {
        let start = self.i;
        let mut v: i64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            if self.i - start >= max {
                return Err(ParseErr(what));
            }
            v = v * 10 + (b - b'0') as i64;
            self.i += 1;
        }
        if self.i - start < min {
            return Err(ParseErr(what));
        }
        Ok(v)
    }

    /// Optional `.ffffff` → microseconds (PostgreSQL prints at most 6 digits).
    fn fraction_micros(&mut self, what: &'static str) -> Result<i64, ParseErr> {
        if !self.eat(b'.') {
            return Ok(0);
        }
        let start = self.i;
        let frac = self.digits(1, 6, what)?;
        let n = self.i - start;
        Ok(frac * 10i64.pow(6 - n as u32))
    }

    fn rest(&self) -> &'a [u8] {
        &self.s[self.i..]
    }

    fn done(&self) -> bool {
        self.i == self.s.len()
    }
}

const DATE_WHAT: &str = "an ISO date like 2024-02-29 (optionally with ' BC')";
const TIME_WHAT: &str = "a time like 13:45:56.123456";
const TS_WHAT: &str = "an ISO timestamp like 2024-02-29 13:45:56.123456";
const TSTZ_WHAT: &str = "an ISO timestamp with offset like 2024-02-29 13:45:56.123456+00";

fn date_part(c: &mut Cur<'_>) -> Result<(i64, u32, u32), ParseErr> {
    let y = c.digits(4, 7, DATE_WHAT)?;
    c.expect(b'-', DATE_WHAT)?;
    let m = c.digits(2, 2, DATE_WHAT)? as u32;
    c.expect(b'-', DATE_WHAT)?;
    let d = c.digits(2, 2, DATE_WHAT)? as u32;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(ParseErr(DATE_WHAT));
    }
    Ok((y, m, d))
}

/// `HH:MM:SS[.ffffff]` → microseconds since midnight (24:00:00 allowed, as in PostgreSQL).
fn time_part(c: &mut Cur<'_>, what: &'static str) -> Result<i64, ParseErr> {
    let h = c.digits(2, 2, what)?;
    c.expect(b':', what)?;
    let mi = c.digits(2, 2, what)?;
    c.expect(b':', what)?;
    let s = c.digits(2, 2, what)?;
    let us = c.fraction_micros(what)?;
    if h > 24 || mi > 59 || s > 60 {
        return Err(ParseErr(what));
    }
    Ok(((h * 60 + mi) * 60 + s) * MICROS_PER_SECOND + us)
}

/// `+HH[:MM[:SS]]` → offset seconds east of UTC.
fn offset_part(c: &mut Cur<'_>, what: &'static str) -> Result<i64, ParseErr> {
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(ParseErr(what)),
    };
    c.i += 1;
    let h = c.digits(2, 2, what)?;
    let mut secs = h * 3600;
    if c.eat(b':') {
        secs += c.digits(2, 2, what)? * 60;
        if c.eat(b':') {
            secs += c.digits(2, 2, what)?;
        }
    }
    Ok(sign * secs)
}

/// ` BC` suffix: PostgreSQL year N BC is astronomical year 1 - N.
fn era(c: &mut Cur<'_>, year: i64, what: &'static str) -> Result<i64, ParseErr> {
    match c.rest() {
        b"" => Ok(year),
        b" BC" => {
            c.i = c.s.len();
            Ok(1 - year)
        }
        _ => Err(ParseErr(what)),
    }
}

/// A timestamp as PostgreSQL prints it: a day and a time of day, or an infinity. Kept apart
/// rather than as epoch microseconds, which overflow `i64` past 294247 AD while PostgreSQL goes
/// to 294276 AD; each Debezium representation is computed from the parts with its own range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// Days since 1970-01-01 and microseconds into that day (`0..MICROS_PER_DAY`).
    At {
        days: i64,
        micros: i64,
    },
    PosInfinity,
    NegInfinity,
}

impl Timestamp {
    /// `days` at `us` past midnight, `offset_secs` east of UTC, normalised to UTC.
    fn utc(days: i64, us: i64, offset_secs: i64) -> Timestamp {
        let us = us - offset_secs * MICROS_PER_SECOND;
        Timestamp::At {
            days: days + us.div_euclid(MICROS_PER_DAY),
            micros: us.rem_euclid(MICROS_PER_DAY),
        }
    }

    /// A finite value from epoch microseconds.
    pub fn from_micros(us: i64) -> Timestamp {
        Timestamp::utc(0, us, 0)
    }

    /// Epoch microseconds (`MicroTimestamp`); infinities are pgjdbc's infinity instants;
    /// `None` past the `i64` range.
    pub fn epoch_micros(self) -> Option<i64> {
        match self {
            Timestamp::At { days, micros } => days.checked_mul(MICROS_PER_DAY)?.checked_add(micros),
            Timestamp::PosInfinity => Some(TIMESTAMP_POSITIVE_INFINITY_MICROS),
            Timestamp::NegInfinity => Some(TIMESTAMP_NEGATIVE_INFINITY_MICROS),
        }
    }

    /// Epoch milliseconds, rounded down (`Timestamp`, Connect's `Timestamp`), computed without
    /// passing through microseconds so every PostgreSQL timestamp fits.
    pub fn epoch_millis(self) -> Option<i64> {
        match self {
            Timestamp::At { days, micros } => days
                .checked_mul(MICROS_PER_DAY / 1000)?
                .checked_add(micros.div_euclid(1000)),
            inf => Some(inf.epoch_micros()?.div_euclid(1000)),
        }
    }

    /// Epoch nanoseconds (`NanoTimestamp`): ±infinity become `i64::MAX`/`i64::MIN`; `None`
    /// past the `i64` range (1677 to 2262), where Debezium emits null.
    pub fn epoch_nanos(self) -> Option<i64> {
        match self {
            Timestamp::At { .. } => self.epoch_micros()?.checked_mul(1000),
            Timestamp::PosInfinity => Some(i64::MAX),
            Timestamp::NegInfinity => Some(i64::MIN),
        }
    }

    /// The instant Debezium formats for an ISO string: infinities are pgjdbc's infinity
    /// instants, finite values themselves.
    fn finite(self) -> (i64, i64) {
        match self {
            Timestamp::At { days, micros } => (days, micros),
            inf => {
                // The infinity instants are within the i64 microsecond range by definition.
                let us = inf.epoch_micros().unwrap_or_default();
                (us.div_euclid(MICROS_PER_DAY), us.rem_euclid(MICROS_PER_DAY))
            }
        }
    }
}

/// date text → days since the epoch (`io.debezium.time.Date`).
pub fn parse_date(s: &[u8]) -> Result<i32, ParseErr> {
    match s {
        b"infinity" => return Ok(DATE_POSITIVE_INFINITY_DAYS),
        b"-infinity" => return Ok(DATE_NEGATIVE_INFINITY_DAYS),
        _ => {}
    }
    let mut c = Cur::new(s);
    let (y, m, d) = date_part(&mut c)?;
    let y = era(&mut c, y, DATE_WHAT)?;
    i32::try_from(days_from_civil(y, m, d)).map_err(|_| ParseErr(DATE_WHAT))
}

/// time text → microseconds since midnight (`MicroTime`; divide by 1000 for `Time`).
pub fn parse_time(s: &[u8]) -> Result<i64, ParseErr> {
    let mut c = Cur::new(s);
    let us = time_part(&mut c, TIME_WHAT)?;
    if !c.done() {
        return Err(ParseErr(TIME_WHAT));
    }
    Ok(us)
}

fn infinity(s: &[u8]) -> Option<Timestamp> {
    match s {
        b"infinity" => Some(Timestamp::PosInfinity),
        b"-infinity" => Some(Timestamp::NegInfinity),
        _ => None,
    }
}

/// timestamp text → the wall clock read as UTC.
pub fn parse_timestamp(s: &[u8]) -> Result<Timestamp, ParseErr> {
    if let Some(inf) = infinity(s) {
        return Ok(inf);
    }
    let mut c = Cur::new(s);
    let (y, m, d) = date_part(&mut c)?;
    c.expect(b' ', TS_WHAT)?;
    let us = time_part(&mut c, TS_WHAT)?;
    let y = era(&mut c, y, TS_WHAT)?;
    Ok(Timestamp::utc(days_from_civil(y, m, d), us, 0))
}

/// timestamptz text → the instant, in UTC.
pub fn parse_timestamptz(s: &[u8]) -> Result<Timestamp, ParseErr> {
    if let Some(inf) = infinity(s) {
        return Ok(inf);
    }
    let mut c = Cur::new(s);
    let (y, m, d) = date_part(&mut c)?;
    c.expect(b' ', TSTZ_WHAT)?;
    let us = time_part(&mut c, TSTZ_WHAT)?;
    let off = offset_part(&mut c, TSTZ_WHAT)?;
    let y = era(&mut c, y, TSTZ_WHAT)?;
    Ok(Timestamp::utc(days_from_civil(y, m, d), us, off))
}

/// timetz text → microseconds since midnight UTC (wrapped into one day, like `OffsetTime`).
pub fn parse_timetz(s: &[u8]) -> Result<i64, ParseErr> {
    const WHAT: &str = "a time with offset like 13:45:56.123456+02";
    let mut c = Cur::new(s);
    let us = time_part(&mut c, WHAT)?;
    let off = offset_part(&mut c, WHAT)?;
    if !c.done() {
        return Err(ParseErr(WHAT));
    }
    Ok((us - off * MICROS_PER_SECOND).rem_euclid(MICROS_PER_DAY))
}

/// Java's `ISO_LOCAL_DATE` year: 4 digits, `+` above 9999, `-` and 4 digits below year 0.
fn write_year(out: &mut ShortStr, y: i64) {
    let _ = if y > 9999 {
        write!(out, "+{y}")
    } else if y < 0 {
        write!(out, "-{:04}", -y)
    } else {
        write!(out, "{y:04}")
    };
}

/// Fraction digits of `micros` (0..1e6): exactly `width` digits, or (width `None`) Java's
/// `appendFraction(NANO_OF_SECOND, 0, 9, true)`: none for zero, else trailing zeros dropped.
fn write_fraction(out: &mut ShortStr, micros: i64, width: Option<u8>) {
    let mut digits = [0u8; 6];
    let mut v = micros;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let n = match width {
        Some(w) => (w as usize).min(6),
        None => digits.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1),
    };
    if n > 0 {
        out.push_bytes(b".");
        out.push_bytes(&digits[..n]);
    }
}

fn write_hms(out: &mut ShortStr, micros_of_day: i64) {
    let secs = micros_of_day / MICROS_PER_SECOND;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
}

/// `io.debezium.time.ZonedTimestamp` (and `IsoTimestamp`) text of a UTC timestamp. `fraction`
/// is the column's precision (0..=6): Debezium pads to exactly that many digits; 0 uses the
/// plain ISO format. Infinities are formatted as the far-away instants pgjdbc gives them.
pub fn format_zoned_timestamp(ts: Timestamp, fraction: u8) -> ShortStr {
    let (days, of_day) = ts.finite();
    let (y, m, d) = civil_from_days(days);
    let mut out = ShortStr::new();
    write_year(&mut out, y);
    let _ = write!(out, "-{m:02}-{d:02}T");
    write_hms(&mut out, of_day);
    let width = if fraction == 0 { None } else { Some(fraction) };
    write_fraction(&mut out, of_day % MICROS_PER_SECOND, width);
    out.push_bytes(b"Z");
    out
}

/// `io.debezium.time.IsoDate` text of epoch days (Java `ISO_LOCAL_DATE` and `Z`); the
/// infinity days format as the far-away dates Debezium emits for them.
pub fn format_iso_date(days: i32) -> ShortStr {
    let (y, m, d) = civil_from_days(i64::from(days));
    let mut out = ShortStr::new();
    write_year(&mut out, y);
    let _ = write!(out, "-{m:02}-{d:02}Z");
    out
}

/// `io.debezium.time.IsoTime` text (Java `ISO_LOCAL_TIME` and `Z`): `24:00:00` wraps to
/// midnight, as a Java `LocalTime` cannot hold it.
pub fn format_iso_time(micros_of_day: i64) -> ShortStr {
    let of_day = micros_of_day.rem_euclid(MICROS_PER_DAY);
    let mut out = ShortStr::new();
    write_hms(&mut out, of_day);
    write_fraction(&mut out, of_day % MICROS_PER_SECOND, None);
    out.push_bytes(b"Z");
    out
}

/// A value Debezium cannot represent in the column's type and emits as null.
pub const OUT_OF_RANGE: ParseErr = ParseErr("a timestamp within ±292 years of 1970");

/// `io.debezium.time.ZonedTime` text (Java `ISO_OFFSET_TIME` at UTC).
pub fn format_zoned_time(micros_of_day: i64) -> ShortStr {
    let mut out = ShortStr::new();
    write_hms(&mut out, micros_of_day);
    write_fraction(&mut out, micros_of_day % MICROS_PER_SECOND, None);
    out.push_bytes(b"Z");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -719_468, -1, 0, 1, 10_957, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date(b"2024-02-29").unwrap(), 19_782);
        assert_eq!(parse_date(b"1970-01-01").unwrap(), 0);
        assert_eq!(parse_date(b"1900-03-01").unwrap(), -25_508);
        // 0044-03-15 BC is astronomical year -43.
        assert_eq!(
            parse_date(b"0044-03-15 BC").unwrap(),
            days_from_civil(-43, 3, 15) as i32
        );
        assert_eq!(
            parse_date(b"infinity").unwrap(),
            DATE_POSITIVE_INFINITY_DAYS
        );
        assert_eq!(
            parse_date(b"-infinity").unwrap(),
            DATE_NEGATIVE_INFINITY_DAYS
        );
        for bad in [
            &b""[..],
            b"2024-2-29",
            b"2024-02-29x",
            b"2024-13-01",
            b"20240229",
        ] {
            assert!(
                parse_date(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time(b"13:45:56.123456").unwrap(), 49_556_123_456);
        assert_eq!(parse_time(b"00:00:00").unwrap(), 0);
        assert_eq!(parse_time(b"00:00:00.5").unwrap(), 500_000);
        assert_eq!(parse_time(b"24:00:00").unwrap(), MICROS_PER_DAY);
        assert!(parse_time(b"13:45").is_err());
        assert!(parse_time(b"13:45:56.1234567").is_err());
    }

    fn micros(s: &[u8]) -> i64 {
        parse_timestamp(s).unwrap().epoch_micros().unwrap()
    }

    fn tstz_micros(s: &[u8]) -> i64 {
        parse_timestamptz(s).unwrap().epoch_micros().unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(micros(b"2024-02-29 13:45:56.123456"), 1_709_214_356_123_456);
        assert_eq!(micros(b"2000-01-01 00:00:00"), 946_684_800_000_000);
        assert_eq!(micros(b"1969-12-31 23:59:59.999999"), -1);
        assert_eq!(micros(b"infinity"), TIMESTAMP_POSITIVE_INFINITY_MICROS);
        assert!(parse_timestamp(b"2024-02-29T13:45:56").is_err());
        assert_eq!(
            tstz_micros(b"2024-02-29 13:45:56.123456+02"),
            1_709_207_156_123_456
        );
        assert_eq!(
            tstz_micros(b"2024-02-29 11:45:56.123456+00"),
            1_709_207_156_123_456
        );
        assert_eq!(
            tstz_micros(b"2024-02-29 17:15:56.123456+05:30"),
            1_709_207_156_123_456
        );
        assert_eq!(
            parse_timestamptz(b"-infinity").unwrap(),
            Timestamp::NegInfinity
        );
        assert!(parse_timestamptz(b"2024-02-29 11:45:56").is_err());
    }

    #[test]
    fn timestamps_at_postgresql_limits() {
        // The largest timestamp PostgreSQL accepts: its microseconds overflow i64, its
        // milliseconds are what Debezium 3.6.3 emits for timestamp(0..3).
        let max = parse_timestamp(b"294276-12-31 23:59:59.999999").unwrap();
        assert_eq!(max.epoch_micros(), None);
        assert_eq!(max.epoch_nanos(), None);
        assert_eq!(max.epoch_millis(), Some(9_224_318_015_999_999));
        let max0 = parse_timestamp(b"294276-12-31 23:59:59").unwrap();
        assert_eq!(max0.epoch_millis(), Some(9_224_318_015_999_000));
        assert_eq!(
            format_zoned_timestamp(max, 6).as_str(),
            "+294276-12-31T23:59:59.999999Z"
        );
        let tz = parse_timestamptz(b"294276-12-31 23:59:59.999999+00").unwrap();
        assert_eq!(tz, max);
        // The smallest: 4714-11-24 BC is astronomical year -4713.
        let min = parse_timestamp(b"4714-11-24 00:00:00 BC").unwrap();
        assert_eq!(min.epoch_micros(), Some(-210_866_803_200_000_000));
        assert_eq!(min.epoch_millis(), Some(-210_866_803_200_000));
        assert_eq!(
            format_zoned_timestamp(min, 0).as_str(),
            "-4713-11-24T00:00:00Z"
        );
        // The last microsecond MicroTimestamp holds, and the next one.
        let last = Timestamp::from_micros(i64::MAX);
        assert_eq!(
            format_zoned_timestamp(last, 6).as_str(),
            "+294247-01-10T04:00:54.775807Z"
        );
        let next = parse_timestamp(b"294247-01-10 04:00:54.775808").unwrap();
        assert_eq!(next.epoch_micros(), None);
        assert_eq!(
            parse_timestamp(b"294247-01-10 04:00:54.775807")
                .unwrap()
                .epoch_micros(),
            Some(i64::MAX)
        );
        // An offset moves the day across the limit either way.
        let east = parse_timestamptz(b"294276-12-31 23:59:59+15:59").unwrap();
        assert_eq!(
            format_zoned_timestamp(east, 0).as_str(),
            "+294276-12-31T08:00:59Z"
        );
        let west = parse_timestamptz(b"0001-01-01 00:00:00-15:59 BC").unwrap();
        assert_eq!(
            format_zoned_timestamp(west, 0).as_str(),
            "0000-01-01T15:59:00Z"
        );
        assert_eq!(
            Timestamp::PosInfinity.epoch_millis(),
            Some(TIMESTAMP_POSITIVE_INFINITY_MICROS / 1000)
        );
        assert_eq!(Timestamp::NegInfinity.epoch_nanos(), Some(i64::MIN));
    }

    #[test]
    fn dates_at_postgresql_limits() {
        assert_eq!(parse_date(b"5874897-12-31").unwrap(), 2_145_042_905);
        assert_eq!(parse_date(b"4714-11-24 BC").unwrap(), -2_440_588);
        assert_eq!(
            format_iso_date(parse_date(b"5874897-12-31").unwrap()).as_str(),
            "+5874897-12-31Z"
        );
        assert_eq!(
            format_iso_date(parse_date(b"4714-11-24 BC").unwrap()).as_str(),
            "-4713-11-24Z"
        );
        assert_eq!(format_iso_date(0).as_str(), "1970-01-01Z");
    }

    #[test]
    fn zoned_formats() {
        let at = Timestamp::from_micros;
        let us = 1_709_207_156_123_456;
        assert_eq!(
            format_zoned_timestamp(at(us), 6).as_str(),
            "2024-02-29T11:45:56.123456Z"
        );
        assert_eq!(
            format_zoned_timestamp(at(946_684_800_000_000), 6).as_str(),
            "2000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            format_zoned_timestamp(at(us), 3).as_str(),
            "2024-02-29T11:45:56.123Z"
        );
        assert_eq!(
            format_zoned_timestamp(at(946_684_800_500_000), 0).as_str(),
            "2000-01-01T00:00:00.5Z"
        );
        assert_eq!(
            format_zoned_timestamp(at(-1), 6).as_str(),
            "1969-12-31T23:59:59.999999Z"
        );
        let bc = days_from_civil(-43, 3, 15) * MICROS_PER_DAY;
        assert_eq!(
            format_zoned_timestamp(at(bc), 6).as_str(),
            "-0043-03-15T00:00:00.000000Z"
        );
        let far = days_from_civil(12345, 1, 2) * MICROS_PER_DAY;
        assert_eq!(
            format_zoned_timestamp(at(far), 6).as_str(),
            "+12345-01-02T00:00:00.000000Z"
        );
        let y10k = days_from_civil(10_000, 1, 1) * MICROS_PER_DAY;
        assert_eq!(
            format_zoned_timestamp(at(y10k - 1), 0).as_str(),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            format_zoned_timestamp(at(y10k), 0).as_str(),
            "+10000-01-01T00:00:00Z"
        );
    }

    #[test]
    fn timetz_to_utc() {
        let us = parse_timetz(b"13:45:56.123456+02").unwrap();
        assert_eq!(format_zoned_time(us).as_str(), "11:45:56.123456Z");
        assert_eq!(
            format_zoned_time(parse_timetz(b"00:00:00+00").unwrap()).as_str(),
            "00:00:00Z"
        );
        assert_eq!(
            format_zoned_time(parse_timetz(b"01:00:00.5+02").unwrap()).as_str(),
            "23:00:00.5Z"
        );
        assert_eq!(
            format_zoned_time(parse_timetz(b"23:30:00-03:30").unwrap()).as_str(),
            "03:00:00Z"
        );
        assert!(parse_timetz(b"13:45:56").is_err());
    }
}
