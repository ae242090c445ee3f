//! Connect values as JsonConverter writes them.

use super::write;
use crate::event::java_float::{write_java_double, write_java_float};
use crate::event::{point_wkb, Value};

/// Jackson writes non-finite numbers as strings (`QUOTE_NON_NUMERIC_NUMBERS`).
fn non_finite(out: &mut Vec<u8>, nan: bool, negative: bool) {
    out.extend_from_slice(match (nan, negative) {
        (true, _) => b"\"NaN\"".as_slice(),
        (false, false) => b"\"Infinity\"",
        (false, true) => b"\"-Infinity\"",
    });
}

pub fn double(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_java_double(out, v);
    } else {
        non_finite(out, v.is_nan(), v < 0.0);
    }
}

pub fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => write::bool(out, *b),
        Value::Int16(i) => write::i64(out, *i as i64),
        Value::Int32(i) => write::i64(out, *i as i64),
        Value::Int64(i) => write::i64(out, *i),
        Value::Float32(f) => {
            if f.is_finite() {
                write_java_float(out, *f);
            } else {
                non_finite(out, f.is_nan(), *f < 0.0);
            }
        }
        Value::Float64(f) => double(out, *f),
        Value::Text(t) => write::string(out, t),
        Value::Short(s) => write::string(out, s.as_bytes()),
        Value::Bytes(b) => write::base64(out, b),
        Value::Decimal(u) => u.with_be_bytes(|b| write::base64(out, b)),
        Value::VarDecimal { scale, unscaled } => {
            out.extend_from_slice(b"{\"scale\":");
            write::i64(out, *scale as i64);
            out.extend_from_slice(b",\"value\":");
            unscaled.with_be_bytes(|b| write::base64(out, b));
            out.push(b'}');
        }
        Value::Point { x, y } => {
            out.extend_from_slice(b"{\"x\":");
            double(out, *x);
            out.extend_from_slice(b",\"y\":");
            double(out, *y);
            out.extend_from_slice(b",\"wkb\":");
            write::base64(out, &point_wkb(*x, *y));
            out.extend_from_slice(b",\"srid\":null}");
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item);
            }
            out.push(b']');
        }
        // JsonConverter writes a map with string keys as an object.
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Value::Text(t) => write::string(out, t),
                    Value::Short(s) => write::string(out, s.as_bytes()),
                    other => {
                        // Only string keys are produced; quote anything else rather than
                        // write invalid JSON.
                        let mut tmp = Vec::new();
                        value(&mut tmp, other);
                        write::string(out, &tmp);
                    }
                }
                out.push(b':');
                value(out, v);
            }
            out.push(b'}');
        }
    }
}
