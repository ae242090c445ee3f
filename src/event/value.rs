//! Typed column values, the Kafka Connect data model that change events carry.
//!
//! Values are self-describing enough for the serializers: a `Decimal` knows it is encoded as
//! bytes, a `Point` knows its struct layout. Text stays a zero-copy slice of the replication
//! frame whenever the PostgreSQL text form is already the Connect value.

use bytes::Bytes;
use num_bigint::BigInt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    /// UTF-8 text (validated on construction), usually a slice of the wire frame.
    Text(Bytes),
    /// Short text produced by a conversion (zoned times), inline to avoid an allocation.
    Short(ShortStr),
    Bytes(Bytes),
    /// `org.apache.kafka.connect.data.Decimal`: the unscaled value; the scale is in the schema.
    Decimal(Unscaled),
    /// `io.debezium.data.VariableScaleDecimal`: struct `{scale, value}`.
    VarDecimal {
        scale: i32,
        unscaled: Unscaled,
    },
    /// `io.debezium.data.geometry.Point`: struct `{x, y, wkb, srid}`; wkb is derived from x/y.
    Point {
        x: f64,
        y: f64,
    },
    Array(Vec<Value>),
    /// A Connect map, entries in the order they are written (string keys).
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// A text value from a `&'static str` (placeholders, constants).
    pub fn from_static(s: &'static str) -> Value {
        Value::Text(Bytes::from_static(s.as_bytes()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Equality as Java's `equals` on the Connect values: floats compare by bits with NaN
    /// canonical (NaN equals NaN, 0.0 differs from -0.0).
    pub fn java_eq(&self, other: &Value) -> bool {
        fn f32_bits(v: f32) -> u32 {
            if v.is_nan() {
                f32::NAN.to_bits()
            } else {
                v.to_bits()
            }
        }
        fn f64_bits(v: f64) -> u64 {
            if v.is_nan() {
                f64::NAN.to_bits()
            } else {
                v.to_bits()
            }
        }
        match (self, other) {
            (Value::Float32(a), Value::Float32(b)) => f32_bits(*a) == f32_bits(*b),
            (Value::Float64(a), Value::Float64(b)) => f64_bits(*a) == f64_bits(*b),
            (Value::Point { x: ax, y: ay }, Value::Point { x: bx, y: by }) => {
                f64_bits(*ax) == f64_bits(*bx) && f64_bits(*ay) == f64_bits(*by)
            }
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.java_eq(y))
            }
            // A Java map's equality ignores order.
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v.java_eq(v2)))
            }
            (a, b) => a == b,
        }
    }
}

/// WKB of a 2D point: byte-order mark 1 (little-endian), type 1, x, y.
pub fn point_wkb(x: f64, y: f64) -> [u8; 21] {
    let mut wkb = [0u8; 21];
    wkb[0] = 1;
    wkb[1..5].copy_from_slice(&1u32.to_le_bytes());
    wkb[5..13].copy_from_slice(&x.to_le_bytes());
    wkb[13..21].copy_from_slice(&y.to_le_bytes());
    wkb
}

/// The unscaled integer of a decimal. Most values fit in an `i128`; larger ones keep Java's
/// `BigInteger.toByteArray()` form (minimal two's-complement, big-endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unscaled {
    Small(i128),
    Big(Box<[u8]>),
}

impl Unscaled {
    pub fn from_bigint(v: &BigInt) -> Unscaled {
        match i128::try_from(v) {
            Ok(small) => Unscaled::Small(small),
            Err(_) => Unscaled::Big(v.to_signed_bytes_be().into_boxed_slice()),
        }
    }

    /// Minimal two's-complement big-endian bytes, exactly like `BigInteger.toByteArray()`.
    pub fn with_be_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Unscaled::Small(v) => {
                let bytes = v.to_be_bytes();
                let mut start = 0;
                while start < 15 {
                    let (b, next) = (bytes[start], bytes[start + 1]);
                    let redundant =
                        (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0);
                    if !redundant {
                        break;
                    }
                    start += 1;
                }
                f(&bytes[start..])
            }
            Unscaled::Big(b) => f(b),
        }
    }
}

/// Capacity of [`ShortStr`]: enough for a zoned timestamp with a 7-digit year and 6 fraction digits.
pub const SHORT_STR_CAP: usize = 40;

/// A short ASCII/UTF-8 string stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortStr {
    len: u8,
    buf: [u8; SHORT_STR_CAP],
}

impl ShortStr {
    pub fn new() -> Self {
        ShortStr {
            len: 0,
            buf: [0; SHORT_STR_CAP],
        }
    }

    /// Appends bytes; returns false (and leaves the string unchanged) if they do not fit.
    pub fn push_bytes(&mut self, b: &[u8]) -> bool {
        let len = self.len as usize;
        if len + b.len() > SHORT_STR_CAP {
            return false;
        }
        self.buf[len..len + b.len()].copy_from_slice(b);
        self.len += b.len() as u8;
        true
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed by the conversions; fall back defensively.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl Default for ShortStr {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::fmt::Write for ShortStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.push_bytes(s.as_bytes()) {
            Ok(())
        } else {
            Err(std::fmt::Error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(u: &Unscaled) -> Vec<u8> {
        u.with_be_bytes(|b| b.to_vec())
    }

    #[test]
    fn unscaled_bytes_are_minimal_twos_complement() {
        assert_eq!(be(&Unscaled::Small(0)), vec![0]);
        assert_eq!(be(&Unscaled::Small(1)), vec![1]);
        assert_eq!(be(&Unscaled::Small(127)), vec![0x7F]);
        assert_eq!(be(&Unscaled::Small(128)), vec![0x00, 0x80]);
        assert_eq!(be(&Unscaled::Small(-1)), vec![0xFF]);
        assert_eq!(be(&Unscaled::Small(-128)), vec![0x80]);
        assert_eq!(be(&Unscaled::Small(-129)), vec![0xFF, 0x7F]);
        assert_eq!(
            be(&Unscaled::Small(1234567890)),
            vec![0x49, 0x96, 0x02, 0xD2]
        );
        assert_eq!(be(&Unscaled::Small(i128::MIN)).len(), 16);
    }

    #[test]
    fn unscaled_from_bigint_matches_small_path() {
        for v in [0i128, 5, -5, 1 << 100, -(1 << 100)] {
            let big = BigInt::from(v);
            assert_eq!(be(&Unscaled::from_bigint(&big)), big.to_signed_bytes_be());
        }
        let huge: BigInt = BigInt::from(i128::MAX) * 1000;
        let u = Unscaled::from_bigint(&huge);
        assert!(matches!(u, Unscaled::Big(_)));
        assert_eq!(be(&u), huge.to_signed_bytes_be());
    }

    #[test]
    fn java_eq_treats_nan_as_equal_and_signed_zeros_as_different() {
        assert!(Value::Float64(f64::NAN).java_eq(&Value::Float64(-f64::NAN)));
        assert!(Value::Float32(f32::NAN).java_eq(&Value::Float32(f32::NAN)));
        assert!(!Value::Float64(0.0).java_eq(&Value::Float64(-0.0)));
        let arr = |v| Value::Array(vec![Value::Float64(v), Value::Null]);
        assert!(arr(f64::NAN).java_eq(&arr(f64::NAN)));
        assert!(!arr(1.0).java_eq(&arr(2.0)));
        assert!(Value::Int32(3).java_eq(&Value::Int32(3)));
        assert!(!Value::Int32(3).java_eq(&Value::Int64(3)));
    }

    #[test]
    fn short_str_refuses_overflow() {
        let mut s = ShortStr::new();
        assert!(s.push_bytes(b"12:00:00Z"));
        assert_eq!(s.as_str(), "12:00:00Z");
        assert!(!s.push_bytes(&[b'x'; SHORT_STR_CAP]));
        assert_eq!(s.as_str(), "12:00:00Z");
    }
}
