//! Catalog facts the replication stream does not carry: which columns form the message key
//! (the primary key, as Debezium uses, even under REPLICA IDENTITY FULL where pgoutput flags
//! every column), which columns are NOT NULL, column default expressions, column type names
//! and the base types of domains, and the labels of enum types (and of arrays of them).
//!
//! Looked up once per Relation/Type message (rare: first use in a session and after DDL), so
//! the cost stays off the per-row path.

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::source::replication::error::sqlstate_is_transient;

#[derive(Debug, thiserror::Error)]
#[error("cannot read the catalog for {what}: {source}: check that the connector's user may read pg_catalog")]
pub struct CatalogError {
    what: String,
    #[source]
    source: tokio_postgres::Error,
}

impl CatalogError {
    pub fn is_transient(&self) -> bool {
        // A closed connection or a server restart (which may arrive as 57P01 "terminating
        // connection due to administrator command"); a permission problem would repeat.
        match self.source.code() {
            Some(code) => sqlstate_is_transient(code.code()),
            None => true,
        }
    }
}

/// Catalog facts about one column, supplied by whoever can query the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnInfo {
    /// `Some(false)` for NOT NULL columns. Default: key columns required, others optional.
    pub optional: Option<bool>,
    /// The column's default expression as the catalog prints it (`pg_get_expr`, e.g. `42`,
    /// `'abc'::text`, `nextval('s'::regclass)`); becomes the schema's `default` by Debezium's
    /// rules (see `event::defaults`).
    pub default_expr: Option<String>,
    /// The column's type as the catalog has it now; the type facts below are only used when
    /// it is still the type of the Relation message (the stream may be behind an ALTER TYPE).
    pub type_oid: Option<u32>,
    /// `pg_type.typname` of the column's type (`int4`, `_text`, `mood`, `hstore`).
    pub type_name: Option<String>,
    /// For a column whose type is a domain: the domain's base type, which Debezium maps the
    /// column by.
    pub domain_base: Option<DomainBase>,
}

/// The base type of a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainBase {
    pub oid: u32,
    /// The domain's `typtypmod` (-1 when the domain does not constrain it).
    pub type_modifier: i32,
    pub name: String,
}

/// Catalog facts about one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableInfo {
    /// The message key columns in key order (Debezium: the primary key). Without it the key is
    /// the replica-identity columns of the Relation message, which under REPLICA IDENTITY FULL
    /// are all columns.
    pub key_columns: Option<Vec<String>>,
    pub columns: HashMap<String, ColumnInfo>,
}

pub async fn table_info(client: &Client, relation_oid: u32) -> Result<TableInfo, CatalogError> {
    let err = |source| CatalogError {
        what: format!("relation oid {relation_oid}"),
        source,
    };
    let cols = client
        .query(
            "SELECT a.attname::text, a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                    t.typname::text,
                    CASE WHEN t.typtype = 'd' THEN t.typbasetype END,
                    CASE WHEN t.typtype = 'd' THEN t.typtypmod END,
                    CASE WHEN t.typtype = 'd' THEN b.typname::text END,
                    a.atttypid
             FROM pg_attribute a
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_type b ON b.oid = t.typbasetype
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = ''",
            &[&relation_oid],
        )
        .await
        .map_err(err)?;
    let columns: HashMap<String, ColumnInfo> = cols
        .iter()
        .map(|r| {
            let not_null: bool = r.get(1);
            (
                r.get::<_, String>(0),
                ColumnInfo {
                    optional: Some(!not_null),
                    default_expr: r.get(2),
                    type_name: r.get(3),
                    type_oid: Some(r.get(7)),
                    domain_base: r.get::<_, Option<u32>>(4).map(|oid| DomainBase {
                        oid,
                        type_modifier: r.get::<_, Option<i32>>(5).unwrap_or(-1),
                        name: r.get::<_, Option<String>>(6).unwrap_or_default(),
                    }),
                },
            )
        })
        .collect();
    // Debezium's key: the primary key, else the replica-identity index, else no key.
    let key = client
        .query(
            "SELECT a.attname::text, i.indisprimary
             FROM pg_index i
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
             ORDER BY i.indisprimary DESC, i.indexrelid, k.ord",
            &[&relation_oid],
        )
        .await
        .map_err(err)?;
    let primary: Vec<String> = key
        .iter()
        .filter(|r| r.get::<_, bool>(1))
        .map(|r| r.get(0))
        .collect();
    let key_columns = if !primary.is_empty() {
        primary
    } else {
        key.iter().map(|r| r.get(0)).collect()
    };
    Ok(TableInfo {
        key_columns: Some(key_columns),
        columns,
    })
}

/// The enum labels (sort order) behind a type: of the type itself when it is an enum, of its
/// element type when it is an array of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumLabels {
    NotEnum,
    Enum(Vec<String>),
    ArrayOfEnum(Vec<String>),
}

pub async fn enum_labels(client: &Client, type_oid: u32) -> Result<EnumLabels, CatalogError> {
    let rows = client
        .query(
            "SELECT e.enumlabel::text, t.typcategory = 'A'
             FROM pg_type t
             JOIN pg_enum e ON e.enumtypid =
                 CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END
             WHERE t.oid = $1
             ORDER BY e.enumsortorder",
            &[&type_oid],
        )
        .await
        .map_err(|source| CatalogError {
            what: format!("type oid {type_oid}"),
            source,
        })?;
    let Some(first) = rows.first() else {
        return Ok(EnumLabels::NotEnum);
    };
    let array: bool = first.get(1);
    let labels = rows.iter().map(|r| r.get(0)).collect();
    Ok(if array {
        EnumLabels::ArrayOfEnum(labels)
    } else {
        EnumLabels::Enum(labels)
    })
}
