//! The Kafka Connect schema model, as far as Debezium's PostgreSQL events use it, and the
//! fixed Debezium schemas (source block, transaction block, envelopes, message events).

use std::borrow::Cow;

use super::value::Value;

pub type Str = Cow<'static, str>;

#[derive(Debug, Clone, PartialEq)]
pub enum SchemaType {
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array(Box<Schema>),
    /// Keys and values schemas (hstore under `hstore.handling.mode=map`).
    Map(Box<Schema>, Box<Schema>),
    Struct(Vec<Field>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: SchemaType,
    pub optional: bool,
    pub name: Option<Str>,
    pub version: Option<i32>,
    pub doc: Option<Str>,
    /// In insertion order, as Connect's `SchemaBuilder` keeps them.
    pub parameters: Vec<(Str, String)>,
    pub default: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
}

impl Schema {
    pub fn new(ty: SchemaType) -> Self {
        Schema {
            ty,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
        }
    }

    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// A Debezium logical type: `name` with schema version 1.
    pub fn logical(mut self, name: &'static str) -> Self {
        self.name = Some(Cow::Borrowed(name));
        self.version = Some(1);
        self
    }

    pub fn named(mut self, name: impl Into<Str>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn version(mut self, v: i32) -> Self {
        self.version = Some(v);
        self
    }

    pub fn doc(mut self, doc: &'static str) -> Self {
        self.doc = Some(Cow::Borrowed(doc));
        self
    }

    pub fn param(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.parameters.push((Cow::Borrowed(key), value.into()));
        self
    }

    pub fn default_value(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }

    pub fn fields(&self) -> &[Field] {
        match &self.ty {
            SchemaType::Struct(f) => f,
            _ => &[],
        }
    }
}

pub fn field(name: impl Into<String>, schema: Schema) -> Field {
    Field {
        name: name.into(),
        schema,
    }
}

fn s(ty: SchemaType) -> Schema {
    Schema::new(ty)
}

/// `org.apache.kafka.connect.data.Decimal` with `scale` (and, for numeric(p,s), precision).
pub fn decimal(scale: i32, precision: Option<i32>) -> Schema {
    let mut sc = s(SchemaType::Bytes)
        .logical("org.apache.kafka.connect.data.Decimal")
        .param("scale", scale.to_string());
    if let Some(p) = precision {
        sc = sc.param("connect.decimal.precision", p.to_string());
    }
    sc
}

pub fn variable_scale_decimal() -> Schema {
    s(SchemaType::Struct(vec![
        field("scale", s(SchemaType::Int32)),
        field("value", s(SchemaType::Bytes)),
    ]))
    .logical("io.debezium.data.VariableScaleDecimal")
    .doc("Variable scaled decimal")
}

pub fn point() -> Schema {
    s(SchemaType::Struct(vec![
        field("x", s(SchemaType::Float64)),
        field("y", s(SchemaType::Float64)),
        field("wkb", s(SchemaType::Bytes).optional(true)),
        field("srid", s(SchemaType::Int32).optional(true)),
    ]))
    .logical("io.debezium.data.geometry.Point")
    .doc("Geometry (POINT)")
}

/// `io.debezium.connector.postgresql.Source`, version 1 (Debezium 3.1+, with origin fields 3.5+).
pub fn source_schema() -> Schema {
    let req = |t| s(t);
    let opt = |t| s(t).optional(true);
    s(SchemaType::Struct(vec![
        field("version", req(SchemaType::String)),
        field("connector", req(SchemaType::String)),
        field("name", req(SchemaType::String)),
        field("ts_ms", req(SchemaType::Int64)),
        field(
            "snapshot",
            opt(SchemaType::String)
                .logical("io.debezium.data.Enum")
                .param(
                    "allowed",
                    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
                )
                .default_value(Value::from_static("false")),
        ),
        field("db", req(SchemaType::String)),
        field("sequence", opt(SchemaType::String)),
        field("ts_us", opt(SchemaType::Int64)),
        field("ts_ns", opt(SchemaType::Int64)),
        field("schema", req(SchemaType::String)),
        field("table", req(SchemaType::String)),
        field("txId", opt(SchemaType::Int64)),
        field("lsn", opt(SchemaType::Int64)),
        field("xmin", opt(SchemaType::Int64)),
        field("origin", opt(SchemaType::String)),
        field("origin_lsn", opt(SchemaType::Int64)),
    ]))
    .named("io.debezium.connector.postgresql.Source")
    .version(1)
}

/// `event.block`: the transaction metadata struct (always in the schema, null by default).
pub fn transaction_block_schema() -> Schema {
    s(SchemaType::Struct(vec![
        field("id", s(SchemaType::String)),
        field("total_order", s(SchemaType::Int64)),
        field("data_collection_order", s(SchemaType::Int64)),
    ]))
    .optional(true)
    .named("event.block")
    .version(1)
}

/// `<topic>.Envelope` around a table's `<topic>.Value` struct (Envelope schema version 2).
pub fn envelope_schema(value: &Schema, envelope_name: String) -> Schema {
    let row = value.clone().optional(true);
    s(SchemaType::Struct(vec![
        field("before", row.clone()),
        field("after", row),
        field("source", source_schema()),
        field("transaction", transaction_block_schema()),
        field("op", s(SchemaType::String)),
        field("ts_ms", s(SchemaType::Int64).optional(true)),
        field("ts_us", s(SchemaType::Int64).optional(true)),
        field("ts_ns", s(SchemaType::Int64).optional(true)),
    ]))
    .named(envelope_name)
    .version(2)
}

pub fn message_key_schema() -> Schema {
    s(SchemaType::Struct(vec![field(
        "prefix",
        s(SchemaType::String).optional(true),
    )]))
    .named("io.debezium.connector.postgresql.MessageKey")
    .version(1)
}

/// `content_as_string`: under a `binary.handling.mode` other than bytes the content is a string.
pub fn message_value_schema(content_as_string: bool) -> Schema {
    s(SchemaType::Struct(vec![
        field("op", s(SchemaType::String)),
        field("ts_ms", s(SchemaType::Int64).optional(true)),
        field("source", source_schema()),
        field("transaction", transaction_block_schema()),
        field(
            "message",
            s(SchemaType::Struct(vec![
                field("prefix", s(SchemaType::String).optional(true)),
                field(
                    "content",
                    s(if content_as_string {
                        SchemaType::String
                    } else {
                        SchemaType::Bytes
                    })
                    .optional(true),
                ),
            ]))
            .named("io.debezium.connector.postgresql.Message")
            .version(1),
        ),
    ]))
    .named("io.debezium.connector.postgresql.MessageValue")
    .version(1)
}

/// Key of `<prefix>.transaction` records.
pub fn transaction_key_schema() -> Schema {
    s(SchemaType::Struct(vec![field("id", s(SchemaType::String))]))
        .named("io.debezium.connector.common.TransactionMetadataKey")
        .version(1)
}

/// Value of `<prefix>.transaction` records (BEGIN and END).
pub fn transaction_value_schema() -> Schema {
    let collection = s(SchemaType::Struct(vec![
        field("data_collection", s(SchemaType::String)),
        field("event_count", s(SchemaType::Int64)),
    ]))
    .optional(true)
    .named("event.collection")
    .version(1);
    s(SchemaType::Struct(vec![
        field("status", s(SchemaType::String)),
        field("id", s(SchemaType::String)),
        field("event_count", s(SchemaType::Int64).optional(true)),
        field(
            "data_collections",
            s(SchemaType::Array(Box::new(collection))).optional(true),
        ),
        field("ts_ms", s(SchemaType::Int64)),
    ]))
    .named("io.debezium.connector.common.TransactionMetadataValue")
    .version(1)
}

/// Key of heartbeat records: `{serverName}`.
pub fn heartbeat_key_schema() -> Schema {
    s(SchemaType::Struct(vec![field(
        "serverName",
        s(SchemaType::String),
    )]))
    .named("io.debezium.connector.common.ServerNameKey")
    .version(1)
}

/// Value of heartbeat records: `{ts_ms}`.
pub fn heartbeat_value_schema() -> Schema {
    s(SchemaType::Struct(vec![field(
        "ts_ms",
        s(SchemaType::Int64),
    )]))
    .named("io.debezium.connector.common.Heartbeat")
    .version(1)
}
