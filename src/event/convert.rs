//! Column types: PostgreSQL type OID + typmod → Connect schema and a text → [`Value`] converter,
//! following Debezium's defaults (decimal.handling.mode=precise, time.precision.mode=adaptive,
//! binary.handling.mode=bytes, interval.handling.mode=numeric).

use std::borrow::Cow;

use bytes::Bytes;

use super::parse::{array, interval, numeric, scalar, temporal, ParseErr};
use super::schema::{self, Schema, SchemaType};
use super::value::Value;

/// How one column's text is turned into a [`Value`]. Chosen once per Relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conv {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// The text form is the value (text, varchar, json, uuid, inet, ranges, enums, unknown types).
    Text,
    Bytea,
    Decimal {
        scale: i32,
    },
    VarDecimal,
    Money {
        scale: u32,
    },
    Date,
    TimeMicros,
    TimeMillis,
    TimestampMicros,
    TimestampMillis,
    ZonedTimestamp {
        fraction: u8,
    },
    ZonedTime,
    Interval,
    Bits,
    BitBool,
    Point,
    Array(Box<Conv>),
}

/// Catalog facts about a type that pgoutput does not send (enum labels, domain base types).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeHints<'a> {
    /// Name from a pgoutput Type message, for types without a fixed OID (citext, ltree, ...).
    pub type_name: Option<&'a str>,
    /// Labels of an enum type in sort order: the schema becomes `io.debezium.data.Enum`.
    pub enum_values: Option<&'a [String]>,
    /// Element labels of an array-of-enum type.
    pub enum_array_values: Option<&'a [String]>,
}

/// Money's fraction digits (`money.fraction.digits`, default 2).
pub const MONEY_FRACTION_DIGITS: u32 = 2;

fn s(ty: SchemaType) -> Schema {
    Schema::new(ty)
}

/// Precision of time/timestamp types: the typmod, 6 when absent (pgjdbc's `getScale`).
fn time_precision(typmod: i32) -> i32 {
    if typmod < 0 {
        6
    } else {
        typmod
    }
}

fn numeric_type(typmod: i32) -> (Conv, Schema) {
    if typmod < 4 {
        return (Conv::VarDecimal, schema::variable_scale_decimal());
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xFFFF;
    // The scale is an 11-bit signed field since PostgreSQL 15.
    let scale = ((t & 0x7FF) ^ 0x400) - 0x400;
    (
        Conv::Decimal { scale },
        schema::decimal(scale, Some(precision)),
    )
}

fn time_type(typmod: i32) -> (Conv, Schema) {
    if time_precision(typmod) <= 3 {
        (
            Conv::TimeMillis,
            s(SchemaType::Int32).logical("io.debezium.time.Time"),
        )
    } else {
        (
            Conv::TimeMicros,
            s(SchemaType::Int64).logical("io.debezium.time.MicroTime"),
        )
    }
}

fn timestamp_type(typmod: i32) -> (Conv, Schema) {
    if time_precision(typmod) <= 3 {
        (
            Conv::TimestampMillis,
            s(SchemaType::Int64).logical("io.debezium.time.Timestamp"),
        )
    } else {
        (
            Conv::TimestampMicros,
            s(SchemaType::Int64).logical("io.debezium.time.MicroTimestamp"),
        )
    }
}

fn string_logical(name: &'static str) -> (Conv, Schema) {
    (Conv::Text, s(SchemaType::String).logical(name))
}

fn bits_type(length: i32) -> (Conv, Schema) {
    if length > 1 {
        (
            Conv::Bits,
            s(SchemaType::Bytes)
                .logical("io.debezium.data.Bits")
                .param("length", length.to_string()),
        )
    } else {
        (Conv::BitBool, s(SchemaType::Boolean))
    }
}

/// Element type of the array types Debezium supports, by array OID.
fn array_element(oid: u32) -> Option<u32> {
    Some(match oid {
        1000 => 16,   // _bool
        1001 => 17,   // _bytea
        1002 => 18,   // _char
        1005 => 21,   // _int2
        1007 => 23,   // _int4
        1009 => 25,   // _text
        1014 => 1042, // _bpchar
        1015 => 1043, // _varchar
        1016 => 20,   // _int8
        1021 => 700,  // _float4
        1022 => 701,  // _float8
        1028 => 26,   // _oid
        1040 => 829,  // _macaddr
        1041 => 869,  // _inet
        651 => 650,   // _cidr
        775 => 774,   // _macaddr8
        1115 => 1114, // _timestamp
        1182 => 1082, // _date
        1183 => 1083, // _time
        1185 => 1184, // _timestamptz
        1231 => 1700, // _numeric
        1270 => 1266, // _timetz
        199 => 114,   // _json
        2951 => 2950, // _uuid
        3807 => 3802, // _jsonb
        3905 => 3904, // _int4range
        3907 => 3906, // _numrange
        3909 => 3908, // _tsrange
        3911 => 3910, // _tstzrange
        3913 => 3912, // _daterange
        3927 => 3926, // _int8range
        _ => return None,
    })
}

/// The converter and the (non-optional, default-less) Connect schema of a column.
pub fn column_type(oid: u32, typmod: i32, hints: &TypeHints<'_>) -> (Conv, Schema) {
    if let Some(values) = hints.enum_values {
        return (
            Conv::Text,
            s(SchemaType::String)
                .logical("io.debezium.data.Enum")
                .param("allowed", values.join(",")),
        );
    }
    if let Some(values) = hints.enum_array_values {
        // Debezium marks the elements of enum arrays required, unlike other arrays' elements.
        return (
            Conv::Array(Box::new(Conv::Text)),
            s(SchemaType::Array(Box::new(
                s(SchemaType::String)
                    .logical("io.debezium.data.Enum")
                    .param("allowed", values.join(",")),
            ))),
        );
    }
    if let Some(elem) = array_element(oid) {
        let (conv, elem_schema) = column_type(elem, typmod, &TypeHints::default());
        return (
            Conv::Array(Box::new(conv)),
            s(SchemaType::Array(Box::new(elem_schema.optional(true)))),
        );
    }
    match oid {
        16 => (Conv::Bool, s(SchemaType::Boolean)),
        17 => (Conv::Bytea, s(SchemaType::Bytes)),
        20 | 26 => (Conv::Int64, s(SchemaType::Int64)),
        21 => (Conv::Int16, s(SchemaType::Int16)),
        23 => (Conv::Int32, s(SchemaType::Int32)),
        114 | 3802 => string_logical("io.debezium.data.Json"),
        142 => string_logical("io.debezium.data.Xml"),
        600 => (Conv::Point, schema::point()),
        700 => (Conv::Float32, s(SchemaType::Float32)),
        701 => (Conv::Float64, s(SchemaType::Float64)),
        790 => (
            Conv::Money {
                scale: MONEY_FRACTION_DIGITS,
            },
            schema::decimal(MONEY_FRACTION_DIGITS as i32, None),
        ),
        1082 => (
            Conv::Date,
            s(SchemaType::Int32).logical("io.debezium.time.Date"),
        ),
        1083 => time_type(typmod),
        1114 => timestamp_type(typmod),
        1184 => (
            Conv::ZonedTimestamp {
                fraction: time_precision(typmod).clamp(0, 6) as u8,
            },
            s(SchemaType::String).logical("io.debezium.time.ZonedTimestamp"),
        ),
        1186 => (
            Conv::Interval,
            s(SchemaType::Int64).logical("io.debezium.time.MicroDuration"),
        ),
        1266 => (
            Conv::ZonedTime,
            s(SchemaType::String).logical("io.debezium.time.ZonedTime"),
        ),
        1560 => bits_type(typmod.max(1)),
        1562 => bits_type(if typmod < 0 { i32::MAX } else { typmod }),
        1700 => numeric_type(typmod),
        2950 => string_logical("io.debezium.data.Uuid"),
        3614 => string_logical("io.debezium.data.Tsvector"),
        _ => match hints.type_name {
            Some("ltree") => string_logical("io.debezium.data.Ltree"),
            // text, varchar, bpchar, name, "char", inet, cidr, macaddr, ranges, citext,
            // and anything unknown: the text form.
            _ => (Conv::Text, s(SchemaType::String)),
        },
    }
}

fn utf8(b: Bytes) -> Result<Value, ParseErr> {
    if std::str::from_utf8(&b).is_err() {
        return Err(ParseErr("valid UTF-8 text"));
    }
    Ok(Value::Text(b))
}

/// Converts one non-null column value from its text form. `text` is usually a slice of the
/// replication frame; text-typed values keep pointing into it.
pub fn convert(conv: &Conv, text: &Bytes) -> Result<Value, ParseErr> {
    let t: &[u8] = text;
    Ok(match conv {
        Conv::Bool => Value::Bool(scalar::parse_bool(t)?),
        Conv::Int16 => Value::Int16(scalar::parse_int(t)?),
        Conv::Int32 => Value::Int32(scalar::parse_int(t)?),
        Conv::Int64 => Value::Int64(scalar::parse_i64(t)?),
        Conv::Float32 => Value::Float32(scalar::parse_f32(t)?),
        Conv::Float64 => Value::Float64(scalar::parse_f64(t)?),
        Conv::Text => utf8(text.clone())?,
        Conv::Bytea => Value::Bytes(scalar::parse_bytea_hex(t)?.into()),
        Conv::Decimal { scale } => Value::Decimal(numeric::parse_fixed(t, *scale)?),
        Conv::VarDecimal => {
            let (scale, unscaled) = numeric::parse_variable(t)?;
            Value::VarDecimal { scale, unscaled }
        }
        Conv::Money { scale } => Value::Decimal(numeric::parse_money(t, *scale)?),
        Conv::Date => Value::Int32(temporal::parse_date(t)?),
        Conv::TimeMicros => Value::Int64(temporal::parse_time(t)?),
        Conv::TimeMillis => Value::Int32((temporal::parse_time(t)? / 1000) as i32),
        Conv::TimestampMicros => Value::Int64(temporal::parse_timestamp(t)?),
        Conv::TimestampMillis => Value::Int64(temporal::parse_timestamp(t)?.div_euclid(1000)),
        Conv::ZonedTimestamp { fraction } => match temporal::parse_timestamptz(t)? {
            temporal::Timestamptz::Micros(us) => {
                Value::Short(temporal::format_zoned_timestamp(us, *fraction))
            }
            temporal::Timestamptz::PosInfinity => Value::from_static("infinity"),
            temporal::Timestamptz::NegInfinity => Value::from_static("-infinity"),
        },
        Conv::ZonedTime => Value::Short(temporal::format_zoned_time(temporal::parse_timetz(t)?)),
        Conv::Interval => Value::Int64(interval::parse_interval_micros(t)?),
        Conv::Bits => Value::Bytes(scalar::parse_bits(t)?.into()),
        Conv::BitBool => Value::Bool(scalar::parse_bit_bool(t)?),
        Conv::Point => {
            let (x, y) = scalar::parse_point(t)?;
            Value::Point { x, y }
        }
        Conv::Array(elem) => {
            let elems = array::parse_array(t, b',')?;
            let mut out = Vec::with_capacity(elems.len());
            for e in elems {
                out.push(match e {
                    None => Value::Null,
                    Some(Cow::Borrowed(sub)) => convert(elem, &text.slice_ref(sub))?,
                    Some(Cow::Owned(v)) => convert(elem, &Bytes::from(v))?,
                });
            }
            Value::Array(out)
        }
    })
}

/// The value Debezium substitutes for an unchanged TOASTed column (`placeholder`), or `None`
/// when Debezium has no placeholder for the type.
pub fn toast_placeholder(conv: &Conv, placeholder: &Bytes) -> Option<Value> {
    let text = || {
        std::str::from_utf8(placeholder)
            .ok()
            .map(|_| Value::Text(placeholder.clone()))
    };
    match conv {
        Conv::Text => text(),
        Conv::Bytea => Some(Value::Bytes(placeholder.clone())),
        Conv::Array(elem) => match **elem {
            Conv::Text => Some(Value::Array(vec![text()?])),
            Conv::Bytea => Some(Value::Array(vec![Value::Bytes(placeholder.clone())])),
            // Debezium fills integer arrays with the placeholder's (signed) byte values.
            Conv::Int16 => Some(Value::Array(
                placeholder
                    .iter()
                    .map(|&b| Value::Int16(b as i8 as i16))
                    .collect(),
            )),
            Conv::Int32 => Some(Value::Array(
                placeholder
                    .iter()
                    .map(|&b| Value::Int32(b as i8 as i32))
                    .collect(),
            )),
            Conv::Int64 => Some(Value::Array(
                placeholder
                    .iter()
                    .map(|&b| Value::Int64(b as i8 as i64))
                    .collect(),
            )),
            _ => None,
        },
        _ => None,
    }
}

/// A readable name of a type OID for error messages.
pub fn type_label(oid: u32, type_name: Option<&str>) -> Cow<'static, str> {
    let known = match oid {
        16 => "bool",
        17 => "bytea",
        18 => "char",
        19 => "name",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        25 => "text",
        26 => "oid",
        114 => "json",
        142 => "xml",
        600 => "point",
        700 => "float4",
        701 => "float8",
        790 => "money",
        1042 => "bpchar",
        1043 => "varchar",
        1082 => "date",
        1083 => "time",
        1114 => "timestamp",
        1184 => "timestamptz",
        1186 => "interval",
        1266 => "timetz",
        1560 => "bit",
        1562 => "varbit",
        1700 => "numeric",
        2950 => "uuid",
        3802 => "jsonb",
        _ => {
            return match type_name {
                Some(n) => Cow::Owned(n.to_string()),
                None => Cow::Owned(format!("oid {oid}")),
            }
        }
    };
    Cow::Borrowed(known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::value::Unscaled;

    fn conv_of(oid: u32, typmod: i32) -> Conv {
        column_type(oid, typmod, &TypeHints::default()).0
    }

    fn c(oid: u32, typmod: i32, text: &str) -> Result<Value, ParseErr> {
        convert(
            &conv_of(oid, typmod),
            &Bytes::copy_from_slice(text.as_bytes()),
        )
    }

    #[test]
    fn numeric_typmods() {
        // numeric(10,2): typmod = (10 << 16 | 2) + 4
        let (conv, sc) = column_type(1700, (10 << 16 | 2) + 4, &TypeHints::default());
        assert_eq!(conv, Conv::Decimal { scale: 2 });
        assert_eq!(sc.parameters.len(), 2);
        assert_eq!(sc.parameters[0].1, "2");
        assert_eq!(sc.parameters[1].1, "10");
        // numeric(5,-2) (PostgreSQL 15): scale -2 is stored as 11-bit two's complement.
        let typmod = ((5 << 16) | (-2i32 & 0x7FF)) + 4;
        assert_eq!(conv_of(1700, typmod), Conv::Decimal { scale: -2 });
        assert_eq!(conv_of(1700, -1), Conv::VarDecimal);
    }

    #[test]
    fn adaptive_time_precision() {
        assert_eq!(conv_of(1083, -1), Conv::TimeMicros);
        assert_eq!(conv_of(1083, 3), Conv::TimeMillis);
        assert_eq!(conv_of(1083, 4), Conv::TimeMicros);
        assert_eq!(conv_of(1114, 0), Conv::TimestampMillis);
        assert_eq!(conv_of(1184, 3), Conv::ZonedTimestamp { fraction: 3 });
        assert_eq!(conv_of(1184, -1), Conv::ZonedTimestamp { fraction: 6 });
        assert_eq!(
            c(1083, 3, "13:45:56.123").unwrap(),
            Value::Int32(49_556_123)
        );
        assert_eq!(
            c(1114, 3, "1969-12-31 23:59:59.999").unwrap(),
            Value::Int64(-1)
        );
    }

    #[test]
    fn bits_and_bool() {
        assert_eq!(conv_of(1560, 1), Conv::BitBool);
        assert_eq!(conv_of(1560, 3), Conv::Bits);
        assert_eq!(conv_of(1562, 1), Conv::BitBool);
        let (conv, sc) = column_type(1562, -1, &TypeHints::default());
        assert_eq!(conv, Conv::Bits);
        assert_eq!(sc.parameters[0].1, "2147483647");
    }

    #[test]
    fn converts_everyday_values() {
        assert_eq!(c(21, -1, "-32768").unwrap(), Value::Int16(-32768));
        assert_eq!(c(16, -1, "t").unwrap(), Value::Bool(true));
        assert_eq!(c(25, -1, "").unwrap(), Value::from_static(""));
        assert_eq!(c(1082, -1, "1969-12-31").unwrap(), Value::Int32(-1));
        assert_eq!(
            c(1184, -1, "2024-02-29 11:45:56+00").unwrap(),
            Value::Short(temporal::format_zoned_timestamp(1_709_207_156_000_000, 6))
        );
        assert_eq!(
            c(1184, -1, "infinity").unwrap(),
            Value::from_static("infinity")
        );
        assert_eq!(
            c(790, -1, "-$1.00").unwrap(),
            Value::Decimal(Unscaled::Small(-100))
        );
        assert_eq!(
            c(600, -1, "(0,0)").unwrap(),
            Value::Point { x: 0.0, y: 0.0 }
        );
    }

    #[test]
    fn arrays() {
        assert_eq!(
            c(1007, -1, "{1,2,NULL,4}").unwrap(),
            Value::Array(vec![
                Value::Int32(1),
                Value::Int32(2),
                Value::Null,
                Value::Int32(4)
            ])
        );
        assert_eq!(
            c(1009, -1, r#"{"x","y z",NULL}"#).unwrap(),
            Value::Array(vec![
                Value::from_static("x"),
                Value::from_static("y z"),
                Value::Null
            ])
        );
        assert_eq!(c(1007, -1, "{}").unwrap(), Value::Array(vec![]));
        assert_eq!(
            c(1001, -1, r#"{"\\x01ff"}"#).unwrap(),
            Value::Array(vec![Value::Bytes(Bytes::from_static(&[1, 0xff]))])
        );
        assert!(c(1007, -1, "{1,x}").is_err());
        let (_, sc) = column_type(1231, (10 << 16 | 2) + 4, &TypeHints::default());
        match sc.ty {
            SchemaType::Array(elem) => {
                assert!(elem.optional);
                assert_eq!(
                    elem.name.as_deref(),
                    Some("org.apache.kafka.connect.data.Decimal")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_invalid_utf8_text() {
        assert!(convert(&Conv::Text, &Bytes::from_static(&[0xff, 0xfe])).is_err());
    }

    #[test]
    fn enum_and_type_names() {
        let labels = vec!["sad".to_string(), "ok".to_string(), "happy".to_string()];
        let hints = TypeHints {
            type_name: Some("mood"),
            enum_values: Some(&labels),
            enum_array_values: None,
        };
        let (conv, sc) = column_type(16_385, -1, &hints);
        assert_eq!(conv, Conv::Text);
        assert_eq!(sc.name.as_deref(), Some("io.debezium.data.Enum"));
        assert_eq!(sc.parameters[0].1, "sad,ok,happy");
        let (_, sc) = column_type(
            16_400,
            -1,
            &TypeHints {
                type_name: Some("ltree"),
                ..Default::default()
            },
        );
        assert_eq!(sc.name.as_deref(), Some("io.debezium.data.Ltree"));
        let (conv, sc) = column_type(
            16_384,
            -1,
            &TypeHints {
                type_name: Some("_mood"),
                enum_array_values: Some(&labels),
                ..Default::default()
            },
        );
        assert_eq!(conv, Conv::Array(Box::new(Conv::Text)));
        match &sc.ty {
            SchemaType::Array(items) => {
                assert_eq!(items.name.as_deref(), Some("io.debezium.data.Enum"));
                assert!(
                    !items.optional,
                    "Debezium's enum array elements are required"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(type_label(1700, None), "numeric");
        assert_eq!(type_label(16_385, Some("mood")), "mood");
    }

    #[test]
    fn toast_placeholders() {
        let p = Bytes::from_static(b"__debezium_unavailable_value");
        assert_eq!(
            toast_placeholder(&Conv::Text, &p),
            Some(Value::Text(p.clone()))
        );
        assert_eq!(
            toast_placeholder(&Conv::Bytea, &p),
            Some(Value::Bytes(p.clone()))
        );
        match toast_placeholder(&Conv::Array(Box::new(Conv::Int32)), &p) {
            Some(Value::Array(v)) => assert_eq!(v[0], Value::Int32(b'_' as i32)),
            other => panic!("{other:?}"),
        }
        assert_eq!(toast_placeholder(&Conv::VarDecimal, &p), None);
    }
}
