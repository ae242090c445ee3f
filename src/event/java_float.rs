//! Java's `Double.toString` / `Float.toString` (the form Jackson writes for Connect
//! FLOAT64/FLOAT32 values), finite values only.
//!
//! Digits: the shortest decimal that rounds back to the value (JDK 19+ semantics; when the
//! shortest has one digit, the closest two-digit decimal, so `4.9E-324` rather than `5E-324`).
//! Layout: plain notation for 1e-3 <= |v| < 1e7 with at least one fraction digit (`100.0`,
//! `0.001`), else `d.dddE±n` (`1.0E7`, `9.9E-4`). JDK 17 and older print a non-shortest form
//! for a few values (e.g. 2e23 as `1.9999999999999998E23`); we follow the newer, specified form.
//!
//! It lives in the event model because event values carry this text too (the geometric
//! types' string forms), not only the JSON serializer.

use std::fmt::Write;

/// A small stack buffer for `core::fmt` output.
struct Buf {
    b: [u8; 40],
    n: usize,
}

impl Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.n + s.len();
        if end > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.n..end].copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

impl Buf {
    fn new() -> Self {
        Buf { b: [0; 40], n: 0 }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.b[..self.n]).unwrap_or("")
    }
}

/// Splits Rust's `{:e}` output (`-1.2345e-7`) into (negative, digits, exponent).
fn split_sci(s: &str) -> (bool, [u8; 24], usize, i32) {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let mut digits = [0u8; 24];
    let mut n = 0;
    for b in mant.bytes().filter(u8::is_ascii_digit) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    (neg, digits, n, exp.parse().unwrap_or(0))
}

fn layout(out: &mut Vec<u8>, neg: bool, digits: &[u8], exp: i32) {
    // Trailing zeros carry no information (they only come from the two-digit rule).
    let mut n = digits.len();
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let d = &digits[..n];
    if neg {
        out.push(b'-');
    }
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for i in 0..int_len {
                out.push(*d.get(i).unwrap_or(&b'0'));
            }
            out.push(b'.');
            if d.len() > int_len {
                out.extend_from_slice(&d[int_len..]);
            } else {
                out.push(b'0');
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(d);
        }
    } else {
        out.push(d[0]);
        out.push(b'.');
        if d.len() > 1 {
            out.extend_from_slice(&d[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        let mut b = Buf::new();
        let _ = write!(b, "{exp}");
        out.extend_from_slice(b.as_str().as_bytes());
    }
}

macro_rules! java_to_string {
    ($name:ident, $t:ty) => {
        /// Appends the Java `toString` of a finite value.
        pub fn $name(out: &mut Vec<u8>, v: $t) {
            if v == 0.0 {
                out.extend_from_slice(if v.is_sign_negative() {
                    b"-0.0"
                } else {
                    b"0.0"
                });
                return;
            }
            let mut b = Buf::new();
            let _ = write!(b, "{:e}", v);
            let (neg, mut digits, mut n, mut exp) = split_sci(b.as_str());
            if n > 1 {
                // Rust's shortest digits do not break ties to even; the correctly rounded
                // decimal of the same length does, and is the closest when it round-trips.
                let mut b2 = Buf::new();
                let _ = write!(b2, "{:.*e}", n - 1, v);
                if b2.as_str().parse::<$t>().ok() == Some(v) {
                    let (_, d2, n2, e2) = split_sci(b2.as_str());
                    digits = d2;
                    n = n2;
                    exp = e2;
                }
            } else {
                // Java never prints a single digit: take the closest two-digit decimal if it
                // still rounds to the value.
                let mut b2 = Buf::new();
                let _ = write!(b2, "{:.1e}", v);
                if b2.as_str().parse::<$t>().ok() == Some(v) {
                    let (_, d2, n2, e2) = split_sci(b2.as_str());
                    digits = d2;
                    n = n2;
                    exp = e2;
                }
            }
            layout(out, neg, &digits[..n], exp);
        }
    };
}

java_to_string!(write_java_double, f64);
java_to_string!(write_java_float, f32);

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> String {
        let mut out = Vec::new();
        write_java_double(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f(v: f32) -> String {
        let mut out = Vec::new();
        write_java_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    /// Expected strings printed by `Double.toString` / `Float.toString` on OpenJDK 17 (these
    /// values print identically on JDK 19+).
    #[test]
    fn doubles_like_java() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (std::f64::consts::E, "2.718281828459045"),
            (1e7, "1.0E7"),
            (9999999.0, "9999999.0"),
            (1e-3, "0.001"),
            (0.00099, "9.9E-4"),
            (1e20, "1.0E20"),
            (1e-7, "1.0E-7"),
            (123456789.0, "1.23456789E8"),
            (1e22, "1.0E22"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "4.9E-324"),
            (f64::MAX, "1.7976931348623157E308"),
            (4.35, "4.35"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (1.0e-5, "1.0E-5"),
            (1234567.125, "1234567.125"),
            (-0.5, "-0.5"),
            // -833984006375024.25: halfway between ...242 and ...243, the even digit wins.
            (
                f64::from_bits(0xc307_b408_4396_3382),
                "-8.339840063750242E14",
            ),
        ];
        for &(v, want) in cases {
            assert_eq!(d(v), want, "{v:e}");
        }
    }

    #[test]
    fn floats_like_java() {
        let cases: &[(f32, &str)] = &[
            (1.5, "1.5"),
            (0.1, "0.1"),
            (f32::MAX, "3.4028235E38"),
            (f32::from_bits(1), "1.4E-45"),
            (1e7, "1.0E7"),
            (1e-3, "0.001"),
            (16777216.0, "1.6777216E7"),
            (1.234567, "1.234567"),
            (1.0, "1.0"),
        ];
        for &(v, want) in cases {
            assert_eq!(f(v), want, "{v:e}");
        }
    }

    #[test]
    fn output_round_trips() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            let s = d(v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
            let fv = f32::from_bits(x as u32);
            if fv.is_finite() {
                let s = f(fv);
                assert_eq!(s.parse::<f32>().unwrap(), fv, "{s}");
            }
        }
    }
}
