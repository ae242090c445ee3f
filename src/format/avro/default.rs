//! Connect default values as the JSON an Avro schema holds (`default` of a field,
//! `connect.default` of a type): numbers and strings as themselves, bytes as a string of the
//! code points 0-255 (Avro's convention), structs as objects.

use serde_json::{json, Map, Value as Json};

use crate::event::schema::{Schema, SchemaType};
use crate::event::Value;

pub fn default_json(schema: &Schema, v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int16(i) => json!(i),
        Value::Int32(i) => json!(i),
        Value::Int64(i) => json!(i),
        Value::Float32(f) => json!(f),
        Value::Float64(f) => json!(f),
        Value::Text(t) => json!(String::from_utf8_lossy(t)),
        Value::Short(s) => json!(s.as_str()),
        Value::Bytes(b) => latin1(b),
        Value::Decimal(u) => u.with_be_bytes(latin1),
        Value::VarDecimal { scale, unscaled } => {
            json!({"scale": scale, "value": unscaled.with_be_bytes(latin1)})
        }
        Value::Point { x, y } => json!({
            "x": x,
            "y": y,
            "wkb": latin1(&crate::event::point_wkb(*x, *y)),
            "srid": null,
        }),
        Value::Array(items) => {
            let item = match &schema.ty {
                SchemaType::Array(item) => item.as_ref(),
                _ => schema,
            };
            Json::Array(items.iter().map(|i| default_json(item, i)).collect())
        }
        Value::Map(entries) => {
            let value_schema = match &schema.ty {
                SchemaType::Map(_, v) => v.as_ref(),
                _ => schema,
            };
            let m: Map<String, Json> = entries
                .iter()
                .map(|(k, v)| (key_text(k), default_json(value_schema, v)))
                .collect();
            Json::Object(m)
        }
    }
}

fn latin1(b: &[u8]) -> Json {
    Json::String(b.iter().map(|&c| c as char).collect())
}

fn key_text(k: &Value) -> String {
    match k {
        Value::Text(t) => String::from_utf8_lossy(t).into_owned(),
        Value::Short(s) => s.as_str().to_string(),
        other => format!("{other:?}"),
    }
}
