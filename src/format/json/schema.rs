//! Connect schemas as JsonConverter writes them (`schemas.enable=true`).
//!
//! Key order per schema: type, items/keys+values/fields, optional, name, version, doc, parameters, default,
//! and for struct members the trailing `field`.

use super::value::value;
use super::write;
use crate::event::schema::{Schema, SchemaType};

fn type_name(t: &SchemaType) -> &'static str {
    match t {
        SchemaType::Int16 => "int16",
        SchemaType::Int32 => "int32",
        SchemaType::Int64 => "int64",
        SchemaType::Float32 => "float",
        SchemaType::Float64 => "double",
        SchemaType::Boolean => "boolean",
        SchemaType::String => "string",
        SchemaType::Bytes => "bytes",
        SchemaType::Array(_) => "array",
        SchemaType::Map(..) => "map",
        SchemaType::Struct(_) => "struct",
    }
}

/// Appends the JSON of `schema`; `field` names it as a struct member.
pub fn schema_json(out: &mut Vec<u8>, schema: &Schema, field: Option<&str>) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(type_name(&schema.ty).as_bytes());
    out.push(b'"');
    match &schema.ty {
        SchemaType::Array(items) => {
            out.extend_from_slice(b",\"items\":");
            schema_json(out, items, None);
        }
        SchemaType::Map(keys, values) => {
            out.extend_from_slice(b",\"keys\":");
            schema_json(out, keys, None);
            out.extend_from_slice(b",\"values\":");
            schema_json(out, values, None);
        }
        SchemaType::Struct(fields) => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                schema_json(out, &f.schema, Some(&f.name));
            }
            out.push(b']');
        }
        _ => {}
    }
    out.extend_from_slice(b",\"optional\":");
    write::bool(out, schema.optional);
    if let Some(name) = &schema.name {
        out.extend_from_slice(b",\"name\":");
        write::str(out, name);
    }
    if let Some(v) = schema.version {
        out.extend_from_slice(b",\"version\":");
        write::i64(out, v as i64);
    }
    if let Some(doc) = &schema.doc {
        out.extend_from_slice(b",\"doc\":");
        write::str(out, doc);
    }
    if !schema.parameters.is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write::str(out, k);
            out.push(b':');
            write::str(out, v);
        }
        out.push(b'}');
    }
    if let Some(d) = &schema.default {
        out.extend_from_slice(b",\"default\":");
        value(out, d);
    }
    if let Some(name) = field {
        out.extend_from_slice(b",\"field\":");
        write::str(out, name);
    }
    out.push(b'}');
}

/// `{"schema":<schema>,"payload":` — the part of a schemas-enabled record before the payload.
pub fn envelope_prefix(schema: &Schema) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"schema\":");
    schema_json(&mut out, schema, None);
    out.extend_from_slice(b",\"payload\":");
    out
}
