//! Connect schemas as Avro schemas, the way Confluent's `AvroData` (AvroConverter 7.x, with
//! `connect.meta.data = true` and `enhanced.avro.schema.support = false`) writes them:
//! records named after the Connect schema's name (namespace = up to its last dot), the
//! Connect name, version, parameters, doc and default kept as `connect.*` properties, optional
//! schemas as unions with `null`, and a record that appears twice referred to by its full name.

use std::collections::HashSet;

use serde_json::{json, Map, Value as Json};

use super::default::default_json;
use crate::event::schema::{Schema, SchemaType};

/// Namespace and name of a struct without a Connect name.
const DEFAULT_NAMESPACE: &str = "io.confluent.connect.avro";
const DEFAULT_NAME: &str = "ConnectDefault";
/// What `AvroData` assumes for a Connect `Decimal` without `connect.decimal.precision`.
const DEFAULT_DECIMAL_PRECISION: i64 = 64;
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

/// The Avro schema of `schema`, as JSON.
pub fn avro_schema(schema: &Schema) -> Json {
    Converter::default().schema(schema)
}

#[derive(Default)]
struct Converter {
    /// Full names of the records written so far: later uses are references.
    defined: HashSet<String>,
    /// Structs without a name are numbered as `AvroData` does: ConnectDefault, ConnectDefault2, ...
    unnamed: usize,
    /// The enclosing record's namespace: Avro leaves a nested record's namespace out, and
    /// refers to it by its short name, when it is the same.
    namespace: String,
}

impl Converter {
    fn schema(&mut self, schema: &Schema) -> Json {
        let base = self.base(schema);
        if !schema.optional {
            return base;
        }
        // An optional schema with a default puts its own type first, so the default matches
        // the union's first branch.
        if schema.default.as_ref().is_some_and(|d| !d.is_null()) {
            json!([base, "null"])
        } else {
            json!(["null", base])
        }
    }

    fn base(&mut self, schema: &Schema) -> Json {
        let (namespace, name) = self.split_name(schema);
        let mut out = match &schema.ty {
            SchemaType::Struct(fields) => {
                let full = format!("{namespace}.{name}");
                if !self.defined.insert(full.clone()) {
                    return Json::String(self.reference(&namespace, &name));
                }
                let mut rec = Map::new();
                rec.insert("type".into(), "record".into());
                rec.insert("name".into(), name.into());
                if namespace != self.namespace {
                    rec.insert("namespace".into(), namespace.clone().into());
                }
                if let Some(doc) = &schema.doc {
                    rec.insert("doc".into(), doc.to_string().into());
                }
                let outer = std::mem::replace(&mut self.namespace, namespace);
                let fields: Vec<Json> = fields
                    .iter()
                    .map(|f| self.field(&f.name, &f.schema))
                    .collect();
                self.namespace = outer;
                rec.insert("fields".into(), fields.into());
                rec
            }
            ty => self.primitive(ty, schema),
        };
        if !matches!(schema.ty, SchemaType::Struct(_)) {
            if let Some(doc) = &schema.doc {
                out.insert("connect.doc".into(), doc.to_string().into());
            }
        }
        if let Some(v) = schema.version {
            out.insert("connect.version".into(), v.into());
        }
        if !schema.parameters.is_empty() {
            let params: Map<String, Json> = schema
                .parameters
                .iter()
                .map(|(k, v)| (k.to_string(), Json::String(v.clone())))
                .collect();
            out.insert("connect.parameters".into(), params.into());
        }
        if let Some(d) = schema.default.as_ref().filter(|d| !d.is_null()) {
            out.insert("connect.default".into(), default_json(schema, d));
        }
        if let Some(name) = &schema.name {
            out.insert("connect.name".into(), name.to_string().into());
        }
        simplify(out)
    }

    fn primitive(&mut self, ty: &SchemaType, schema: &Schema) -> Map<String, Json> {
        let mut m = Map::new();
        let name = schema.name.as_deref();
        match ty {
            SchemaType::Int16 => {
                m.insert("type".into(), "int".into());
                m.insert("connect.type".into(), "int16".into());
            }
            SchemaType::Int32 => {
                m.insert("type".into(), "int".into());
                logical(&mut m, name);
            }
            SchemaType::Int64 => {
                m.insert("type".into(), "long".into());
                logical(&mut m, name);
            }
            SchemaType::Float32 => {
                m.insert("type".into(), "float".into());
            }
            SchemaType::Float64 => {
                m.insert("type".into(), "double".into());
            }
            SchemaType::Boolean => {
                m.insert("type".into(), "boolean".into());
            }
            SchemaType::String => {
                m.insert("type".into(), "string".into());
            }
            SchemaType::Bytes => {
                m.insert("type".into(), "bytes".into());
                if name == Some(DECIMAL) {
                    let param = |k: &str| {
                        schema
                            .parameters
                            .iter()
                            .find(|(p, _)| p == k)
                            .and_then(|(_, v)| v.parse::<i64>().ok())
                    };
                    m.insert("scale".into(), param("scale").unwrap_or(0).into());
                    m.insert(
                        "precision".into(),
                        param("connect.decimal.precision")
                            .unwrap_or(DEFAULT_DECIMAL_PRECISION)
                            .into(),
                    );
                    m.insert("logicalType".into(), "decimal".into());
                }
            }
            SchemaType::Array(items) => {
                m.insert("type".into(), "array".into());
                m.insert("items".into(), self.schema(items));
            }
            SchemaType::Map(keys, values) => {
                if matches!(keys.ty, SchemaType::String) && !keys.optional {
                    m.insert("type".into(), "map".into());
                    m.insert("values".into(), self.schema(values));
                } else {
                    // Avro maps have string keys only: other maps are arrays of entries.
                    let entry = self.map_entry(keys, values);
                    m.insert("type".into(), "array".into());
                    m.insert("items".into(), entry);
                }
            }
            SchemaType::Struct(_) => unreachable!("structs are records"),
        }
        m
    }

    fn map_entry(&mut self, keys: &Schema, values: &Schema) -> Json {
        let full = format!("{DEFAULT_NAMESPACE}.MapEntry");
        if !self.defined.insert(full) {
            return Json::String(self.reference(DEFAULT_NAMESPACE, "MapEntry"));
        }
        let outer = std::mem::replace(&mut self.namespace, DEFAULT_NAMESPACE.to_string());
        let fields = [self.field("key", keys), self.field("value", values)];
        let namespace = std::mem::replace(&mut self.namespace, outer);
        let mut rec = json!({"type": "record", "name": "MapEntry", "fields": fields});
        if namespace != self.namespace {
            rec["namespace"] = namespace.into();
        }
        rec
    }

    /// How a record defined earlier is named here: its short name within its own namespace.
    fn reference(&self, namespace: &str, name: &str) -> String {
        if namespace == self.namespace {
            name.to_string()
        } else {
            format!("{namespace}.{name}")
        }
    }

    fn field(&mut self, name: &str, schema: &Schema) -> Json {
        let mut f = Map::new();
        f.insert("name".into(), name.into());
        f.insert("type".into(), self.schema(schema));
        if let Some(doc) = &schema.doc {
            f.insert("doc".into(), doc.to_string().into());
        }
        match schema.default.as_ref().filter(|d| !d.is_null()) {
            Some(d) => {
                f.insert("default".into(), default_json(schema, d));
            }
            None if schema.optional => {
                f.insert("default".into(), Json::Null);
            }
            None => {}
        }
        Json::Object(f)
    }

    fn split_name(&mut self, schema: &Schema) -> (String, String) {
        match schema.name.as_deref() {
            Some(n) => match n.rsplit_once('.') {
                Some((ns, name)) => (ns.to_string(), name.to_string()),
                None => (String::new(), n.to_string()),
            },
            None if matches!(schema.ty, SchemaType::Struct(_)) => {
                self.unnamed += 1;
                let name = if self.unnamed == 1 {
                    DEFAULT_NAME.to_string()
                } else {
                    format!("{DEFAULT_NAME}{}", self.unnamed)
                };
                (DEFAULT_NAMESPACE.to_string(), name)
            }
            None => (DEFAULT_NAMESPACE.to_string(), DEFAULT_NAME.to_string()),
        }
    }
}

/// Connect's own logical types on int and long: Avro's logical types.
fn logical(m: &mut Map<String, Json>, name: Option<&str>) {
    let avro = match name {
        Some("org.apache.kafka.connect.data.Date") => "date",
        Some("org.apache.kafka.connect.data.Time") => "time-millis",
        Some("org.apache.kafka.connect.data.Timestamp") => "timestamp-millis",
        _ => return,
    };
    m.insert("logicalType".into(), avro.into());
}

/// A primitive without properties is written as its bare type name.
fn simplify(m: Map<String, Json>) -> Json {
    if m.len() == 1 {
        if let Some(Json::String(t)) = m.get("type") {
            if t != "record" {
                return Json::String(t.clone());
            }
        }
    }
    Json::Object(m)
}
