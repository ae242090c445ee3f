//! Avro's binary encoding of Connect values, driven by the Connect schema the Avro schema was
//! made from ([`super::schema::avro_schema`]): the same unions, the same record layout. Written
//! by hand like the JSON writer, since a datum is a few primitives per column and the
//! `apache-avro` value tree would cost an allocation per field; the tests decode what is
//! written with `apache-avro` against the generated schema.

use crate::event::schema::{Schema, SchemaType};
use crate::event::Value;

/// Avro `long` (and `int`): zig-zag, then base-128 varint.
pub fn long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Avro `bytes` and `string`: the length, then the bytes.
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

pub fn double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The union branch of an optional schema: `[null, T]`, or `[T, null]` when it has a default.
pub fn branch(out: &mut Vec<u8>, schema: &Schema, null: bool) {
    let default_first = schema.default.as_ref().is_some_and(|d| !d.is_null());
    let index = match (null, default_first) {
        (true, false) | (false, true) => 0,
        (false, false) | (true, true) => 1,
    };
    long(out, index);
}

/// Writes `v` under `schema`. A null where the schema is required takes the schema's default
/// (as the converter does); without one it is written as the type's zero, which cannot occur
/// for values the event builder made against the same schema.
pub fn value(out: &mut Vec<u8>, schema: &Schema, v: &Value) {
    let v = match (v, &schema.default) {
        (Value::Null, Some(d)) if !d.is_null() => d,
        _ => v,
    };
    if schema.optional {
        branch(out, schema, v.is_null());
        if v.is_null() {
            return;
        }
    }
    present(out, schema, v);
}

fn present(out: &mut Vec<u8>, schema: &Schema, v: &Value) {
    match (v, &schema.ty) {
        (Value::Bool(b), _) => out.push(*b as u8),
        (Value::Int16(i), _) => long(out, *i as i64),
        (Value::Int32(i), _) => long(out, *i as i64),
        (Value::Int64(i), _) => long(out, *i),
        (Value::Float32(f), _) => out.extend_from_slice(&f.to_le_bytes()),
        (Value::Float64(f), _) => double(out, *f),
        (Value::Text(t), _) => bytes(out, t),
        (Value::Short(s), _) => bytes(out, s.as_bytes()),
        (Value::Bytes(b), _) => bytes(out, b),
        (Value::Decimal(u), _) => u.with_be_bytes(|b| bytes(out, b)),
        (Value::VarDecimal { scale, unscaled }, _) => {
            long(out, *scale as i64);
            unscaled.with_be_bytes(|b| bytes(out, b));
        }
        (Value::Point { x, y }, _) => {
            double(out, *x);
            double(out, *y);
            // wkb: [null, bytes], present; srid: [null, int], null.
            long(out, 1);
            bytes(out, &crate::event::point_wkb(*x, *y));
            long(out, 0);
        }
        (Value::Array(items), SchemaType::Array(item)) => {
            if !items.is_empty() {
                long(out, items.len() as i64);
                for i in items {
                    value(out, item, i);
                }
            }
            long(out, 0);
        }
        (Value::Map(entries), SchemaType::Map(keys, values)) => {
            if !entries.is_empty() {
                long(out, entries.len() as i64);
                for (k, v) in entries {
                    // A string-keyed map's key is a bare string; an entry record's key is
                    // written like any value of its schema.
                    value(out, keys, k);
                    value(out, values, v);
                }
            }
            long(out, 0);
        }
        (Value::Null, ty) => zero(out, ty),
        // A value of another shape than its schema: the event builder never makes one.
        (_, ty) => zero(out, ty),
    }
}

/// The zero value of a type, for a required field that is null against all expectations.
fn zero(out: &mut Vec<u8>, ty: &SchemaType) {
    match ty {
        SchemaType::Boolean => out.push(0),
        SchemaType::Float32 => out.extend_from_slice(&[0; 4]),
        SchemaType::Float64 => out.extend_from_slice(&[0; 8]),
        SchemaType::Struct(fields) => {
            for f in fields {
                value(out, &f.schema, &Value::Null);
            }
        }
        // int, long, string, bytes, an empty array or map: a single zero byte.
        _ => out.push(0),
    }
}

/// A struct whose field values are `row`, in field order.
pub fn row(out: &mut Vec<u8>, fields: &[crate::event::schema::Field], row: &[Value]) {
    for (f, v) in fields.iter().zip(row) {
        value(out, &f.schema, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_are_zigzag_varints() {
        let enc = |v| {
            let mut o = Vec::new();
            long(&mut o, v);
            o
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(-1), [1]);
        assert_eq!(enc(1), [2]);
        assert_eq!(enc(-64), [0x7f]);
        assert_eq!(enc(64), [0x80, 0x01]);
        assert_eq!(enc(i64::MIN).len(), 10);
    }
}
