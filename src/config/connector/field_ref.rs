//! `add.fields` / `add.headers` entries of the unwrap transform: which envelope field each one
//! copies and under which name. Only names are checked here; the transform takes the field's
//! schema and value from the event model.

/// A value of the envelope that `add.fields`/`add.headers` can copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeField {
    Op,
    TsMs,
    TsUs,
    TsNs,
    Version,
    Connector,
    Name,
    CommitTsMs,
    Snapshot,
    Db,
    Sequence,
    CommitTsUs,
    CommitTsNs,
    Schema,
    Table,
    TxId,
    Lsn,
    Xmin,
    Origin,
    OriginLsn,
    /// `transaction.*`: pgcdc never fills the transaction block, so these are always null.
    Transaction,
}

/// One entry of `add.fields`/`add.headers`: `[struct.]field[:new_name]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    pub source: EnvelopeField,
    /// The field's name in its struct (`source`, `transaction`) or at the top level; the
    /// transform takes its schema from there.
    pub field: String,
    /// The output field or header name, prefix included.
    pub name: String,
}

pub const TOP_LEVEL: &[(&str, EnvelopeField)] = &[
    ("op", EnvelopeField::Op),
    ("ts_ms", EnvelopeField::TsMs),
    ("ts_us", EnvelopeField::TsUs),
    ("ts_ns", EnvelopeField::TsNs),
];

pub const SOURCE_FIELDS: &[(&str, EnvelopeField)] = &[
    ("version", EnvelopeField::Version),
    ("connector", EnvelopeField::Connector),
    ("name", EnvelopeField::Name),
    ("ts_ms", EnvelopeField::CommitTsMs),
    ("snapshot", EnvelopeField::Snapshot),
    ("db", EnvelopeField::Db),
    ("sequence", EnvelopeField::Sequence),
    ("ts_us", EnvelopeField::CommitTsUs),
    ("ts_ns", EnvelopeField::CommitTsNs),
    ("schema", EnvelopeField::Schema),
    ("table", EnvelopeField::Table),
    ("txId", EnvelopeField::TxId),
    ("lsn", EnvelopeField::Lsn),
    ("xmin", EnvelopeField::Xmin),
    ("origin", EnvelopeField::Origin),
    ("origin_lsn", EnvelopeField::OriginLsn),
];

pub const TRANSACTION_FIELDS: &[&str] = &["id", "total_order", "data_collection_order"];

impl FieldRef {
    /// Parses one entry the way Debezium does: a bare name is looked up in `source`, except
    /// `op`/`ts_*` (top level) and the transaction fields; a field missing from the named
    /// struct is looked up at the top level. Unknown fields are an error here (Debezium
    /// silently ignores them).
    pub fn parse(spec: &str, prefix: &str) -> Result<FieldRef, String> {
        let spec = spec.trim();
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "{spec:?} is not `[struct.]field[:new_name]` (e.g. \"op\", \"source.ts_ms\", \
                 \"lsn:position\")"
            ));
        }
        let path: Vec<&str> = parts[0].split('.').collect();
        let (strukt, name) = match path.as_slice() {
            [f] => {
                let s = if TRANSACTION_FIELDS.contains(f) {
                    "transaction"
                } else if TOP_LEVEL.iter().any(|(n, _)| n == f) {
                    ""
                } else {
                    "source"
                };
                (s, *f)
            }
            [s, f] => (*s, *f),
            _ => return Err(format!("{spec:?}: nested fields are not supported")),
        };
        let new_name = match parts.get(1) {
            Some(n) => format!("{prefix}{n}"),
            None if path.len() == 1 => format!("{prefix}{name}"),
            None => format!("{prefix}{strukt}_{name}"),
        };
        let in_struct = match strukt {
            "" => None,
            "source" => SOURCE_FIELDS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, src)| src),
            "transaction" => TRANSACTION_FIELDS
                .contains(&name)
                .then_some(EnvelopeField::Transaction),
            other => {
                return Err(format!(
                    "{spec:?}: struct {other:?} is not supported (use source, transaction or a \
                     top-level field: op, ts_ms, ts_us, ts_ns)"
                ))
            }
        };
        let source = match in_struct.or_else(|| top_level(name)) {
            Some(src) => src,
            None => return Err(unknown_field(spec, strukt, name)),
        };
        Ok(FieldRef {
            source,
            field: name.to_string(),
            name: new_name,
        })
    }

    /// Whether this copies the envelope's `op`.
    pub fn is_op(&self) -> bool {
        self.source == EnvelopeField::Op
    }
}

fn top_level(name: &str) -> Option<EnvelopeField> {
    TOP_LEVEL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, src)| src)
}

fn unknown_field(spec: &str, strukt: &str, name: &str) -> String {
    format!(
        "{spec:?}: no field {name:?} in {} (source fields: {}; transaction fields: {}; top \
         level: op, ts_ms, ts_us, ts_ns)",
        if strukt.is_empty() {
            "the envelope"
        } else {
            strukt
        },
        SOURCE_FIELDS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
        TRANSACTION_FIELDS.join(", ")
    )
}
