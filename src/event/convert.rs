//! Column types: PostgreSQL type OID + typmod → Connect schema and a text → [`Value`] converter,
//! following Debezium's defaults (decimal.handling.mode=precise, time.precision.mode=adaptive,
//! binary.handling.mode=bytes, interval.handling.mode=numeric).

use std::borrow::Cow;

use bytes::Bytes;

use super::parse::{array, geometric, hstore, interval, numeric, scalar, temporal, ParseErr};
use super::schema::{self, Schema, SchemaType};
use super::value::Value;
use crate::config::{
    BinaryHandlingMode, DecimalHandlingMode, HstoreHandlingMode, IntervalHandlingMode,
    TimePrecisionMode, TypeModes,
};

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
    /// `io.debezium.time.NanoTime`.
    TimeNanos,
    /// `io.debezium.time.NanoTimestamp`; beyond the `i64` range the value is null.
    TimestampNanos,
    /// `io.debezium.time.IsoDate`.
    IsoDate,
    /// `io.debezium.time.IsoTime`.
    IsoTime,
    /// `io.debezium.time.IsoTimestamp`.
    IsoTimestamp,
    ZonedTimestamp {
        fraction: u8,
    },
    ZonedTime,
    Interval,
    /// `interval.handling.mode=string`.
    IntervalString,
    /// `decimal.handling.mode=double` for numeric.
    DecimalDouble,
    /// `decimal.handling.mode=string` for numeric; numeric(p,s) keeps its scale.
    DecimalString {
        scale: Option<i32>,
    },
    /// money under `decimal.handling.mode=double`.
    MoneyDouble {
        scale: u32,
    },
    /// money under `decimal.handling.mode=string`.
    MoneyString {
        scale: u32,
    },
    /// bytea as a string (`binary.handling.mode` other than bytes).
    BytesText(BinaryHandlingMode),
    Bits,
    BitBool,
    Point,
    Array(Box<Conv>),
    /// hstore as an `io.debezium.data.Json` string.
    HstoreJson,
    /// hstore as a Connect map.
    HstoreMap,
    /// A type Debezium has no mapping for: the bytes of its text form (geometric types with
    /// their numbers in Java form), as bytes or a `binary.handling.mode` string.
    Unknown {
        geometric: bool,
        binary: BinaryHandlingMode,
    },
}

impl Conv {
    /// Whether the column is of a type Debezium only emits with `include.unknown.datatypes`.
    pub fn is_unknown(&self) -> bool {
        match self {
            Conv::Unknown { .. } => true,
            Conv::Array(e) => e.is_unknown(),
            _ => false,
        }
    }
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

fn numeric_type(typmod: i32, mode: DecimalHandlingMode) -> (Conv, Schema) {
    match mode {
        DecimalHandlingMode::Precise => {}
        DecimalHandlingMode::Double => return (Conv::DecimalDouble, s(SchemaType::Float64)),
        DecimalHandlingMode::String => {
            let scale = (typmod >= 4).then(|| (((typmod - 4) & 0x7FF) ^ 0x400) - 0x400);
            return (Conv::DecimalString { scale }, s(SchemaType::String));
        }
    }
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

fn time_type(typmod: i32, mode: TimePrecisionMode) -> (Conv, Schema) {
    match mode {
        TimePrecisionMode::Connect => {
            return (
                Conv::TimeMillis,
                s(SchemaType::Int32).logical("org.apache.kafka.connect.data.Time"),
            )
        }
        TimePrecisionMode::Isostring => {
            return (
                Conv::IsoTime,
                s(SchemaType::String).logical("io.debezium.time.IsoTime"),
            )
        }
        TimePrecisionMode::Nanoseconds => {
            return (
                Conv::TimeNanos,
                s(SchemaType::Int64).logical("io.debezium.time.NanoTime"),
            )
        }
        _ => {}
    }
    if time_precision(typmod) <= 3 && mode == TimePrecisionMode::Adaptive {
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

fn timestamp_type(typmod: i32, mode: TimePrecisionMode) -> (Conv, Schema) {
    match mode {
        TimePrecisionMode::Connect => {
            return (
                Conv::TimestampMillis,
                s(SchemaType::Int64).logical("org.apache.kafka.connect.data.Timestamp"),
            )
        }
        TimePrecisionMode::Isostring => {
            return (
                Conv::IsoTimestamp,
                s(SchemaType::String).logical("io.debezium.time.IsoTimestamp"),
            )
        }
        TimePrecisionMode::Nanoseconds => {
            return (
                Conv::TimestampNanos,
                s(SchemaType::Int64).logical("io.debezium.time.NanoTimestamp"),
            )
        }
        _ => {}
    }
    if time_precision(typmod) <= 3 && mode != TimePrecisionMode::Microseconds {
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

fn date_type(mode: TimePrecisionMode) -> (Conv, Schema) {
    match mode {
        TimePrecisionMode::Connect => (
            Conv::Date,
            s(SchemaType::Int32).logical("org.apache.kafka.connect.data.Date"),
        ),
        TimePrecisionMode::Isostring => (
            Conv::IsoDate,
            s(SchemaType::String).logical("io.debezium.time.IsoDate"),
        ),
        _ => (
            Conv::Date,
            s(SchemaType::Int32).logical("io.debezium.time.Date"),
        ),
    }
}

/// Builtin types Debezium 3.6.3 has no mapping for (checked with the oracle), and arrays of
/// them; `true` for the geometric ones.
fn unknown_builtin(oid: u32) -> Option<bool> {
    match oid {
        // line, lseg, box, path, polygon, circle; their arrays.
        628 | 601 | 603 | 602 | 604 | 718 | 629 | 1018 | 1020 | 1019 | 1027 | 719 => Some(true),
        // tid, xid, regclass, tsquery, pg_lsn, txid_snapshot, jsonpath; their arrays.
        27 | 28 | 2205 | 3615 | 3220 | 2970 | 4072 | 1010 | 1011 | 2210 | 3645 | 3221 | 2949
        | 4073 => Some(false),
        _ => None,
    }
}

fn is_builtin_array(oid: u32) -> bool {
    matches!(
        oid,
        629 | 1018 | 1020 | 1019 | 1027 | 719 | 1010 | 1011 | 2210 | 3645 | 3221 | 2949 | 4073
    )
}

fn unknown_type(geometric: bool, binary: BinaryHandlingMode) -> (Conv, Schema) {
    let ty = if binary == BinaryHandlingMode::Bytes {
        SchemaType::Bytes
    } else {
        SchemaType::String
    };
    (Conv::Unknown { geometric, binary }, s(ty))
}

/// Arrays of unknown types: Debezium marks their elements required.
fn unknown_array(geometric: bool, binary: BinaryHandlingMode) -> (Conv, Schema) {
    let (conv, elem) = unknown_type(geometric, binary);
    (
        Conv::Array(Box::new(conv)),
        s(SchemaType::Array(Box::new(elem))),
    )
}

fn hstore_type(mode: HstoreHandlingMode) -> (Conv, Schema) {
    match mode {
        HstoreHandlingMode::Json => (
            Conv::HstoreJson,
            s(SchemaType::String).logical("io.debezium.data.Json"),
        ),
        HstoreHandlingMode::Map => (
            Conv::HstoreMap,
            s(SchemaType::Map(
                Box::new(s(SchemaType::String)),
                Box::new(s(SchemaType::String).optional(true)),
            )),
        ),
    }
}

fn optional_array((conv, elem): (Conv, Schema)) -> (Conv, Schema) {
    (
        Conv::Array(Box::new(conv)),
        s(SchemaType::Array(Box::new(elem.optional(true)))),
    )
}

/// First type OID that is not built in (`FirstNormalObjectId`): extension and user types.
const FIRST_USER_OID: u32 = 16_384;

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
pub fn array_element(oid: u32) -> Option<u32> {
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

fn bytea_type(mode: BinaryHandlingMode) -> (Conv, Schema) {
    match mode {
        BinaryHandlingMode::Bytes => (Conv::Bytea, s(SchemaType::Bytes)),
        m => (Conv::BytesText(m), s(SchemaType::String)),
    }
}

/// `fraction_digits` (`money.fraction.digits`) only sets the scale of precise decimals: under
/// `double` and `string` Debezium 3.6.3 keeps the text's own two digits (the oracle shows it).
fn money_type(mode: DecimalHandlingMode, fraction_digits: u32) -> (Conv, Schema) {
    const TEXT_DIGITS: u32 = 2;
    match mode {
        DecimalHandlingMode::Precise => (
            Conv::Money {
                scale: fraction_digits,
            },
            schema::decimal(fraction_digits as i32, None),
        ),
        DecimalHandlingMode::Double => (
            Conv::MoneyDouble { scale: TEXT_DIGITS },
            s(SchemaType::Float64),
        ),
        DecimalHandlingMode::String => (
            Conv::MoneyString { scale: TEXT_DIGITS },
            s(SchemaType::String),
        ),
    }
}

/// The converter and the (non-optional, default-less) Connect schema of a column with the
/// default type modes.
pub fn column_type(oid: u32, typmod: i32, hints: &TypeHints<'_>) -> (Conv, Schema) {
    column_type_with(oid, typmod, hints, &TypeModes::default())
}

/// The converter and the (non-optional, default-less) Connect schema of a column.
pub fn column_type_with(
    oid: u32,
    typmod: i32,
    hints: &TypeHints<'_>,
    modes: &TypeModes,
) -> (Conv, Schema) {
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
        let (conv, elem_schema) = column_type_with(elem, typmod, &TypeHints::default(), modes);
        return (
            Conv::Array(Box::new(conv)),
            s(SchemaType::Array(Box::new(elem_schema.optional(true)))),
        );
    }
    match oid {
        16 => (Conv::Bool, s(SchemaType::Boolean)),
        17 => bytea_type(modes.binary),
        20 | 26 => (Conv::Int64, s(SchemaType::Int64)),
        21 => (Conv::Int16, s(SchemaType::Int16)),
        23 => (Conv::Int32, s(SchemaType::Int32)),
        114 | 3802 => string_logical("io.debezium.data.Json"),
        142 => string_logical("io.debezium.data.Xml"),
        600 => (Conv::Point, schema::point()),
        700 => (Conv::Float32, s(SchemaType::Float32)),
        701 => (Conv::Float64, s(SchemaType::Float64)),
        790 => money_type(modes.decimal, modes.money_fraction_digits),
        1082 => date_type(modes.time_precision),
        1083 => time_type(typmod, modes.time_precision),
        1114 => timestamp_type(typmod, modes.time_precision),
        1184 => (
            Conv::ZonedTimestamp {
                fraction: time_precision(typmod).clamp(0, 6) as u8,
            },
            s(SchemaType::String).logical("io.debezium.time.ZonedTimestamp"),
        ),
        1186 => match modes.interval {
            IntervalHandlingMode::Numeric => (
                Conv::Interval,
                s(SchemaType::Int64).logical("io.debezium.time.MicroDuration"),
            ),
            IntervalHandlingMode::String => (
                Conv::IntervalString,
                s(SchemaType::String).logical("io.debezium.time.Interval"),
            ),
        },
        1266 => (
            Conv::ZonedTime,
            s(SchemaType::String).logical("io.debezium.time.ZonedTime"),
        ),
        1560 => bits_type(typmod.max(1)),
        1562 => bits_type(if typmod < 0 { i32::MAX } else { typmod }),
        1700 => numeric_type(typmod, modes.decimal),
        2950 => string_logical("io.debezium.data.Uuid"),
        3614 => string_logical("io.debezium.data.Tsvector"),
        _ => {
            if let Some(geometric) = unknown_builtin(oid) {
                return if is_builtin_array(oid) {
                    unknown_array(geometric, modes.binary)
                } else {
                    unknown_type(geometric, modes.binary)
                };
            }
            match hints.type_name {
                Some("ltree") => string_logical("io.debezium.data.Ltree"),
                Some("_ltree") => optional_array(string_logical("io.debezium.data.Ltree")),
                Some("hstore") => hstore_type(modes.hstore),
                Some("_hstore") => optional_array(hstore_type(modes.hstore)),
                // citext is text to Debezium; PostGIS types are not mapped by pgcdc yet and
                // keep their text form rather than vanish.
                Some("citext" | "geometry" | "geography") => (Conv::Text, s(SchemaType::String)),
                Some("_citext") => optional_array((Conv::Text, s(SchemaType::String))),
                // Composite and other extension types (domains arrive here as their base type).
                Some(name) if oid >= FIRST_USER_OID => {
                    if name.starts_with('_') {
                        unknown_array(false, modes.binary)
                    } else {
                        unknown_type(false, modes.binary)
                    }
                }
                // text, varchar, bpchar, name, "char", inet, cidr, macaddr, ranges: the text form.
                _ => (Conv::Text, s(SchemaType::String)),
            }
        }
    }
}

fn utf8(b: Bytes) -> Result<Value, ParseErr> {
    if std::str::from_utf8(&b).is_err() {
        return Err(ParseErr("valid UTF-8 text"));
    }
    Ok(Value::Text(b))
}

/// A timestamp past 294247-01-10T04:00:54.775807 (PostgreSQL goes to 294276 AD): its epoch
/// microseconds do not fit the 64-bit `MicroTimestamp`.
pub const MICRO_TIMESTAMP_RANGE: ParseErr = ParseErr(
    "out of range for io.debezium.time.MicroTimestamp (microseconds since 1970 in 64 bits: \
     up to 294247-01-10T04:00:54.775807)",
);
/// Unreachable for PostgreSQL's timestamps (±292 million years fit), kept so a value that
/// does not fit is an event error rather than a wrong number.
pub const MILLI_TIMESTAMP_RANGE: ParseErr =
    ParseErr("out of range for io.debezium.time.Timestamp (milliseconds since 1970 in 64 bits)");

/// Whether a conversion error says the value is valid but has no representation in the
/// column's Debezium type (rather than that its text was not understood).
pub fn is_out_of_range(e: &ParseErr) -> bool {
    e.0.starts_with("out of range for ")
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
        Conv::TimestampMicros => Value::Int64(
            temporal::parse_timestamp(t)?
                .epoch_micros()
                .ok_or(MICRO_TIMESTAMP_RANGE)?,
        ),
        Conv::TimestampMillis => Value::Int64(
            temporal::parse_timestamp(t)?
                .epoch_millis()
                .ok_or(MILLI_TIMESTAMP_RANGE)?,
        ),
        Conv::TimeNanos => Value::Int64(temporal::parse_time(t)? * 1000),
        Conv::TimestampNanos => Value::Int64(
            temporal::parse_timestamp(t)?
                .epoch_nanos()
                .ok_or(temporal::OUT_OF_RANGE)?,
        ),
        Conv::IsoDate => Value::Short(temporal::format_iso_date(temporal::parse_date(t)?)),
        Conv::IsoTime => Value::Short(temporal::format_iso_time(temporal::parse_time(t)?)),
        Conv::IsoTimestamp => Value::Short(temporal::format_zoned_timestamp(
            temporal::parse_timestamp(t)?,
            0,
        )),
        Conv::ZonedTimestamp { fraction } => match temporal::parse_timestamptz(t)? {
            temporal::Timestamp::PosInfinity => Value::from_static("infinity"),
            temporal::Timestamp::NegInfinity => Value::from_static("-infinity"),
            ts => Value::Short(temporal::format_zoned_timestamp(ts, *fraction)),
        },
        Conv::ZonedTime => Value::Short(temporal::format_zoned_time(temporal::parse_timetz(t)?)),
        Conv::Interval => Value::Int64(interval::parse_interval_micros(t)?),
        Conv::IntervalString => owned_text(interval::format_interval_iso(t)?),
        Conv::DecimalDouble => Value::Float64(numeric::parse_double(t)?),
        Conv::DecimalString { scale } => owned_text(numeric::decimal_string(t, *scale)?),
        Conv::MoneyDouble { scale } => {
            Value::Float64(unscaled_f64(&numeric::parse_money(t, *scale)?, *scale))
        }
        Conv::MoneyString { scale } => {
            owned_text(unscaled_string(&numeric::parse_money(t, *scale)?, *scale))
        }
        Conv::BytesText(mode) => owned_text(encode_binary(&scalar::parse_bytea_hex(t)?, *mode)),
        Conv::Bits => Value::Bytes(scalar::parse_bits(t)?.into()),
        Conv::BitBool => Value::Bool(scalar::parse_bit_bool(t)?),
        Conv::Point => {
            let (x, y) = scalar::parse_point(t)?;
            Value::Point { x, y }
        }
        Conv::HstoreJson => {
            let mut entries = hstore::parse_hstore(t)?;
            hstore::java_hash_map_order(&mut entries);
            owned_text(hstore::to_json(&entries))
        }
        Conv::HstoreMap => {
            let mut entries = hstore::parse_hstore(t)?;
            hstore::java_hash_map_order(&mut entries);
            let text = |s: String| Value::Text(Bytes::from(s.into_bytes()));
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (text(k), v.map(text).unwrap_or(Value::Null)))
                    .collect(),
            )
        }
        Conv::Unknown { geometric, binary } => {
            let bytes = if *geometric {
                geometric::java_numbers(t)?
            } else {
                t.to_vec()
            };
            match binary {
                BinaryHandlingMode::Bytes => Value::Bytes(bytes.into()),
                mode => owned_text(encode_binary(&bytes, *mode)),
            }
        }
        Conv::Array(elem) => {
            if let Some(n) = array::outer_length_if_nested(t) {
                // Debezium's array conversion does not descend into a multi-dimensional
                // array: it emits one element per outer element, null for numbers (and a Java
                // object name for strings, which pgcdc does not imitate).
                return Ok(Value::Array(vec![Value::Null; n]));
            }
            let elems = array::parse_array(t, b',')?;
            let mut out = Vec::with_capacity(elems.len());
            for e in elems {
                // Debezium emits null for a numeric array holding NaN or an infinity, whatever
                // the decimal mode.
                let special = matches!(
                    &e,
                    Some(v) if matches!(&v[..], b"NaN" | b"Infinity" | b"-Infinity")
                );
                if special && matches!(**elem, Conv::DecimalDouble | Conv::DecimalString { .. }) {
                    return Err(numeric::NOT_FINITE);
                }
                let converted = match e {
                    None => Ok(Value::Null),
                    Some(Cow::Borrowed(sub)) => convert(elem, &text.slice_ref(sub)),
                    Some(Cow::Owned(v)) => convert(elem, &Bytes::from(v)),
                };
                out.push(match converted {
                    // A NanoTimestamp element beyond the i64 range: Debezium nulls the element
                    // (not the column, as for a NaN in a decimal array).
                    Err(e) if e == temporal::OUT_OF_RANGE => Value::Null,
                    other => other?,
                });
            }
            Value::Array(out)
        }
    })
}

/// Conversion errors for which Debezium emits null for the column instead of failing: numeric
/// NaN/infinity without a decimal form, timestamps beyond the nanosecond range.
pub fn emits_null(e: &ParseErr) -> bool {
    *e == numeric::NOT_FINITE || *e == temporal::OUT_OF_RANGE
}

fn owned_text(s: String) -> Value {
    Value::Text(Bytes::from(s.into_bytes()))
}

/// bytea under `binary.handling.mode` base64, base64-url-safe or hex.
pub fn encode_binary(bytes: &[u8], mode: BinaryHandlingMode) -> String {
    use base64::Engine;
    match mode {
        BinaryHandlingMode::Bytes | BinaryHandlingMode::Base64 => {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        BinaryHandlingMode::Base64UrlSafe => {
            base64::engine::general_purpose::URL_SAFE.encode(bytes)
        }
        BinaryHandlingMode::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn unscaled_string(u: &crate::event::value::Unscaled, scale: u32) -> String {
    let v = match u {
        crate::event::value::Unscaled::Small(v) => *v,
        crate::event::value::Unscaled::Big(_) => 0,
    };
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

fn unscaled_f64(u: &crate::event::value::Unscaled, scale: u32) -> f64 {
    unscaled_string(u, scale).parse().unwrap_or(f64::NAN)
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
        // What Debezium 3.6.3 does: the placeholder's text in hex mode, null in base64 modes.
        Conv::BytesText(BinaryHandlingMode::Hex) => text(),
        Conv::BytesText(_) => None,
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

    fn with(oid: u32, typmod: i32, modes: TypeModes, text: &str) -> (Schema, Value) {
        let (conv, schema) = column_type_with(oid, typmod, &TypeHints::default(), &modes);
        let v = convert(&conv, &Bytes::copy_from_slice(text.as_bytes())).unwrap();
        (schema, v)
    }

    fn text_of(v: &Value) -> &str {
        match v {
            Value::Text(b) => std::str::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decimal_handling_modes() {
        let num_10_2 = (10 << 16 | 2) + 4;
        let double = TypeModes {
            decimal: DecimalHandlingMode::Double,
            ..Default::default()
        };
        let (sc, v) = with(1700, num_10_2, double, "-12.50");
        assert_eq!((sc.ty, sc.name), (SchemaType::Float64, None));
        assert_eq!(v, Value::Float64(-12.5));
        assert!(matches!(with(1700, -1, double, "NaN").1, Value::Float64(f) if f.is_nan()));
        assert_eq!(
            with(790, -1, double, "-$1,234.56").1,
            Value::Float64(-1234.56)
        );
        let string = TypeModes {
            decimal: DecimalHandlingMode::String,
            ..Default::default()
        };
        let (sc, v) = with(1700, num_10_2, string, "7.5");
        assert_eq!(sc.ty, SchemaType::String);
        assert_eq!(text_of(&v), "7.50");
        assert_eq!(
            text_of(&with(1700, -1, string, "Infinity").1),
            "POSITIVE_INFINITY"
        );
        assert_eq!(text_of(&with(790, -1, string, "$0.05").1), "0.05");
        // A numeric array holding NaN: Debezium nulls the column in every mode.
        let arr = column_type_with(1231, -1, &TypeHints::default(), &double).0;
        assert!(convert(&arr, &Bytes::from_static(b"{1,NaN}")).is_err());
    }

    #[test]
    fn binary_handling_modes() {
        let cases = [
            (BinaryHandlingMode::Base64, "+/8="),
            (BinaryHandlingMode::Base64UrlSafe, "-_8="),
            (BinaryHandlingMode::Hex, "fbff"),
        ];
        for (mode, want) in cases {
            let modes = TypeModes {
                binary: mode,
                ..Default::default()
            };
            let (sc, v) = with(17, -1, modes, "\\xfbff");
            assert_eq!(sc.ty, SchemaType::String, "{mode:?}");
            assert_eq!(text_of(&v), want, "{mode:?}");
        }
        let (sc, v) = with(17, -1, TypeModes::default(), "\\xfbff");
        assert_eq!(sc.ty, SchemaType::Bytes);
        assert_eq!(v, Value::Bytes(Bytes::from_static(&[0xfb, 0xff])));
        let p = Bytes::from_static(b"__p");
        assert_eq!(
            toast_placeholder(&Conv::BytesText(BinaryHandlingMode::Hex), &p),
            Some(Value::Text(p.clone()))
        );
        assert_eq!(
            toast_placeholder(&Conv::BytesText(BinaryHandlingMode::Base64), &p),
            None
        );
    }

    #[test]
    fn time_precision_and_interval_modes() {
        let micro = TypeModes {
            time_precision: TimePrecisionMode::AdaptiveTimeMicroseconds,
            ..Default::default()
        };
        let (sc, v) = with(1083, 3, micro, "13:45:56.123");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.MicroTime"));
        assert_eq!(v, Value::Int64(49_556_123_000));
        // Timestamps stay adaptive.
        assert_eq!(
            with(1114, 3, micro, "1970-01-01 00:00:01")
                .0
                .name
                .as_deref(),
            Some("io.debezium.time.Timestamp")
        );
        let connect = TypeModes {
            time_precision: TimePrecisionMode::Connect,
            ..Default::default()
        };
        let (sc, v) = with(1083, -1, connect, "00:00:01.5");
        assert_eq!(
            sc.name.as_deref(),
            Some("org.apache.kafka.connect.data.Time")
        );
        assert_eq!(v, Value::Int32(1500));
        let (sc, v) = with(1114, -1, connect, "1970-01-01 00:00:01.5");
        assert_eq!(
            sc.name.as_deref(),
            Some("org.apache.kafka.connect.data.Timestamp")
        );
        assert_eq!(v, Value::Int64(1500));
        let (sc, v) = with(1082, -1, connect, "1970-01-02");
        assert_eq!(
            sc.name.as_deref(),
            Some("org.apache.kafka.connect.data.Date")
        );
        assert_eq!(v, Value::Int32(1));
        let iso = TypeModes {
            interval: IntervalHandlingMode::String,
            ..Default::default()
        };
        let (sc, v) = with(1186, -1, iso, "P1DT2H");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.Interval"));
        assert_eq!(text_of(&v), "P0Y0M1DT2H0M0S");
    }

    /// Values Debezium 3.6.3 emitted (streamed) for PostgreSQL's extreme values.
    #[test]
    fn values_at_postgresql_limits() {
        let d = TypeModes::default();
        let connect = TypeModes {
            time_precision: TimePrecisionMode::Connect,
            ..Default::default()
        };
        let max = "294276-12-31 23:59:59.999999";
        assert_eq!(
            with(1114, 3, d, "294276-12-31 23:59:59.999").1,
            Value::Int64(9_224_318_015_999_999)
        );
        assert_eq!(
            with(1114, 0, d, "294276-12-31 23:59:59").1,
            Value::Int64(9_224_318_015_999_000)
        );
        assert_eq!(
            with(1114, -1, connect, max).1,
            Value::Int64(9_224_318_015_999_999)
        );
        assert_eq!(
            with(1114, 3, d, "4714-11-24 00:00:00 BC").1,
            Value::Int64(-210_866_803_200_000)
        );
        let tstz = |typmod, text: &str| text_of_short(&with(1184, typmod, d, text).1);
        assert_eq!(
            tstz(-1, "294276-12-31 23:59:59.999999+00"),
            "+294276-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            tstz(3, "294276-12-31 23:59:59.999+00"),
            "+294276-12-31T23:59:59.999Z"
        );
        assert_eq!(
            tstz(0, "294276-12-31 23:59:59+00"),
            "+294276-12-31T23:59:59Z"
        );
        assert_eq!(
            tstz(-1, "4714-11-24 00:00:00+00 BC"),
            "-4713-11-24T00:00:00.000000Z"
        );
        assert_eq!(tstz(0, "0001-01-01 00:00:00+00 BC"), "0000-01-01T00:00:00Z");
        assert_eq!(
            c(1082, -1, "5874897-12-31").unwrap(),
            Value::Int32(2_145_042_905)
        );
        assert_eq!(
            c(1082, -1, "4714-11-24 BC").unwrap(),
            Value::Int32(-2_440_588)
        );
        assert_eq!(
            c(1083, -1, "24:00:00").unwrap(),
            Value::Int64(86_400_000_000)
        );
        assert_eq!(
            with(1083, -1, connect, "24:00:00").1,
            Value::Int32(86_400_000)
        );
        let timetz = |text: &str| text_of_short(&c(1266, -1, text).unwrap());
        assert_eq!(timetz("00:00:00+15:59"), "08:01:00Z");
        assert_eq!(timetz("24:00:00-15:59"), "15:59:00Z");
        // MicroDuration saturates like Java's (long) cast of a double.
        assert_eq!(c(1186, -1, "P178000000Y").unwrap(), Value::Int64(i64::MAX));
        assert_eq!(c(1186, -1, "P-178000000Y").unwrap(), Value::Int64(i64::MIN));
        assert_eq!(
            c(1186, -1, "PT2147483647H59M59.999999S").unwrap(),
            Value::Int64(7_730_941_132_800_000_000)
        );
    }

    /// What Debezium 3.6.3 streamed for `{"294247-01-10 04:00:54.775807",infinity}` under
    /// `time.precision.mode=nanoseconds`: the element beyond the range is null, the array stays.
    #[test]
    fn nano_timestamp_array_elements_beyond_the_range_are_null() {
        let nano = TypeModes {
            time_precision: TimePrecisionMode::Nanoseconds,
            ..Default::default()
        };
        let (_, v) = with(
            1115,
            -1,
            nano,
            r#"{"294247-01-10 04:00:54.775807",infinity}"#,
        );
        assert_eq!(v, Value::Array(vec![Value::Null, Value::Int64(i64::MAX)]));
    }

    /// A valid timestamp the column's type cannot hold is an "out of range" error naming the
    /// semantic type, never a parse error.
    #[test]
    fn out_of_range_names_the_semantic_type() {
        let e = c(1114, -1, "294276-12-31 23:59:59.999999").unwrap_err();
        assert!(is_out_of_range(&e), "{e:?}");
        assert!(!emits_null(&e));
        assert!(e.0.contains("io.debezium.time.MicroTimestamp"), "{e:?}");
        let e = c(1115, -1, "{\"294276-12-31 23:59:59.999999\"}").unwrap_err();
        assert!(is_out_of_range(&e), "arrays too: {e:?}");
        // The last microsecond that fits, and a value PostgreSQL would never print.
        assert_eq!(
            c(1114, -1, "294247-01-10 04:00:54.775807").unwrap(),
            Value::Int64(i64::MAX)
        );
        assert!(!is_out_of_range(
            &c(1114, -1, "294276-13-01 00:00:00").unwrap_err()
        ));
        let err = crate::event::EventError::Value {
            table: "public.t".into(),
            column: "c_ts".into(),
            type_name: "timestamp".into(),
            text: "294276-12-31 23:59:59.999999".into(),
            expected: e.0,
        };
        let msg = err.to_string();
        assert!(
            msg.contains("out of range for io.debezium.time.MicroTimestamp")
                && !msg.contains("expected out of range"),
            "{msg}"
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
            Value::Short(temporal::format_zoned_timestamp(
                temporal::Timestamp::from_micros(1_709_207_156_000_000),
                6
            ))
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

    fn named(oid: u32, name: &str, modes: TypeModes, text: &str) -> (Conv, Schema, Value) {
        let hints = TypeHints {
            type_name: Some(name),
            ..Default::default()
        };
        let (conv, schema) = column_type_with(oid, -1, &hints, &modes);
        let v = convert(&conv, &Bytes::copy_from_slice(text.as_bytes())).unwrap();
        (conv, schema, v)
    }

    #[test]
    fn new_time_precision_modes() {
        let mode = |m| TypeModes {
            time_precision: m,
            ..Default::default()
        };
        let iso = mode(TimePrecisionMode::Isostring);
        // Values Debezium 3.6.3 emitted.
        let (sc, v) = with(1082, -1, iso, "2024-02-29");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.IsoDate"));
        assert_eq!(text_of_short(&v), "2024-02-29Z");
        assert_eq!(
            text_of_short(&with(1082, -1, iso, "-infinity").1),
            "-5877611-06-22Z"
        );
        assert_eq!(
            text_of_short(&with(1082, -1, iso, "10000-01-01").1),
            "+10000-01-01Z"
        );
        let (sc, v) = with(1083, 3, iso, "13:45:56.123");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.IsoTime"));
        assert_eq!(text_of_short(&v), "13:45:56.123Z");
        assert_eq!(
            text_of_short(&with(1083, -1, iso, "24:00:00").1),
            "00:00:00Z"
        );
        let (sc, v) = with(1114, -1, iso, "1900-01-01 00:00:00.5");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.IsoTimestamp"));
        assert_eq!(text_of_short(&v), "1900-01-01T00:00:00.5Z");
        assert_eq!(
            text_of_short(&with(1114, -1, iso, "infinity").1),
            "+294247-01-10T04:00:25.2Z"
        );
        assert_eq!(
            text_of_short(&with(1114, -1, iso, "0044-03-15 00:00:00 BC").1),
            "-0043-03-15T00:00:00Z"
        );
        // timetz and timestamptz keep their zoned forms.
        assert_eq!(
            with(1266, -1, iso, "11:45:56+00").0.name.as_deref(),
            Some("io.debezium.time.ZonedTime")
        );

        let micro = mode(TimePrecisionMode::Microseconds);
        let (sc, v) = with(1114, 3, micro, "1969-12-31 23:59:59.999");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.MicroTimestamp"));
        assert_eq!(v, Value::Int64(-1000));
        assert_eq!(
            with(1083, 3, micro, "23:59:59.999").1,
            Value::Int64(86_399_999_000)
        );
        assert_eq!(
            with(1082, -1, micro, "1960-01-01").0.name.as_deref(),
            Some("io.debezium.time.Date")
        );

        let nano = mode(TimePrecisionMode::Nanoseconds);
        let (sc, v) = with(1083, -1, nano, "13:45:56.123456");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.NanoTime"));
        assert_eq!(v, Value::Int64(49_556_123_456_000));
        let (sc, v) = with(1114, 3, nano, "1969-12-31 23:59:59.999");
        assert_eq!(sc.name.as_deref(), Some("io.debezium.time.NanoTimestamp"));
        assert_eq!(v, Value::Int64(-1_000_000));
        assert_eq!(with(1114, -1, nano, "infinity").1, Value::Int64(i64::MAX));
        assert_eq!(with(1114, -1, nano, "-infinity").1, Value::Int64(i64::MIN));
        // Beyond the nanosecond range Debezium emits null.
        let (conv, _) = column_type_with(1114, -1, &TypeHints::default(), &nano);
        let e = convert(&conv, &Bytes::from_static(b"2262-04-12 00:00:00")).unwrap_err();
        assert!(emits_null(&e));
    }

    fn text_of_short(v: &Value) -> String {
        match v {
            Value::Short(s) => s.as_str().to_string(),
            Value::Text(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hstore_modes() {
        let text = r#""a"=>"1", "p"=>NULL"#;
        let (_, sc, v) = named(16_500, "hstore", TypeModes::default(), text);
        assert_eq!(sc.name.as_deref(), Some("io.debezium.data.Json"));
        // Java's HashMap order: p (bucket 0) before a (bucket 1).
        assert_eq!(text_of(&v), r#"{"p":null,"a":"1"}"#);
        let map = TypeModes {
            hstore: HstoreHandlingMode::Map,
            ..Default::default()
        };
        let (_, sc, v) = named(16_500, "hstore", map, text);
        match &sc.ty {
            SchemaType::Map(k, v) => assert!(!k.optional && v.optional),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            v,
            Value::Map(vec![
                (Value::from_static("p"), Value::Null),
                (Value::from_static("a"), Value::from_static("1")),
            ])
        );
        let (_, sc, v) = named(16_501, "_hstore", map, r#"{"\"a\"=>\"1\""}"#);
        assert!(matches!(&sc.ty, SchemaType::Array(items) if items.optional));
        assert_eq!(
            v,
            Value::Array(vec![Value::Map(vec![(
                Value::from_static("a"),
                Value::from_static("1")
            )])])
        );
        let (_, sc, v) = named(16_502, "_ltree", TypeModes::default(), "{a.b,c}");
        match &sc.ty {
            SchemaType::Array(items) => {
                assert_eq!(items.name.as_deref(), Some("io.debezium.data.Ltree"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            v,
            Value::Array(vec![Value::from_static("a.b"), Value::from_static("c")])
        );
    }

    #[test]
    fn unknown_types() {
        let modes = TypeModes::default();
        // line: the text with numbers in Java form, as bytes.
        let (conv, sc) = column_type_with(628, -1, &TypeHints::default(), &modes);
        assert!(conv.is_unknown());
        assert_eq!(sc.ty, SchemaType::Bytes);
        assert_eq!(
            convert(&conv, &Bytes::from_static(b"{1,-1,0}")).unwrap(),
            Value::Bytes(Bytes::from_static(b"{1.0,-1.0,0.0}"))
        );
        // A composite type: its text as is; under base64 mode a string.
        let (conv, _, v) = named(16_600, "comp", modes, r#"(5,"x y")"#);
        assert!(conv.is_unknown());
        assert_eq!(v, Value::Bytes(Bytes::from_static(br#"(5,"x y")"#)));
        let b64 = TypeModes {
            binary: BinaryHandlingMode::Base64,
            ..Default::default()
        };
        let (_, sc, v) = named(16_600, "comp", b64, "(,)");
        assert_eq!(sc.ty, SchemaType::String);
        assert_eq!(text_of(&v), "KCwp");
        // Arrays of unknown types: required bytes elements.
        let (conv, sc, _) = named(16_601, "_comp", modes, r#"{"(1,x)"}"#);
        assert!(conv.is_unknown());
        assert!(matches!(&sc.ty, SchemaType::Array(items) if !items.optional));
        let (conv, _) = column_type_with(629, -1, &TypeHints::default(), &modes);
        assert_eq!(
            convert(&conv, &Bytes::from_static(br#"{"{1,-1,0}"}"#)).unwrap(),
            Value::Array(vec![Value::Bytes(Bytes::from_static(b"{1.0,-1.0,0.0}"))])
        );
        // Known extension types are not unknown.
        assert!(!named(16_602, "citext", modes, "x").0.is_unknown());
        assert!(!column_type(3614, -1, &TypeHints::default()).0.is_unknown());
    }

    #[test]
    fn multi_dimensional_arrays_become_outer_nulls() {
        assert_eq!(
            c(1007, -1, "{{1,2},{3,4}}").unwrap(),
            Value::Array(vec![Value::Null, Value::Null])
        );
        assert_eq!(
            c(1009, -1, "{{a}}").unwrap(),
            Value::Array(vec![Value::Null])
        );
    }
}
