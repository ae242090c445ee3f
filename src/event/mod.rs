//! The Debezium event model: pgoutput messages → change events with Connect-typed values.
//!
//! [`EventBuilder`] keeps the per-relation work (topic, converters, schemas) from Relation
//! messages and tracks transactions; [`ChangeEvent`]s are format-neutral and serialized by
//! `crate::format`.

mod builder;
mod change;
pub mod context;
pub mod convert;
pub mod defaults;
pub mod java_float;
pub mod masking;
pub mod parse;
pub mod propagate;
mod relation;
pub mod schema;
pub mod txmeta;
pub mod value;

pub use builder::{EventBuilder, ReadRow, SnapshotPoint};
pub use change::{
    ChangeEvent, ConnectorInfo, DroppedFields, EventBody, FlatLayout, KeyHeaderKind, Op, Row,
    SnapshotMarker, SourceInfo, TxBlock, TxRecord, TxStatus,
};
pub use relation::{sanitize_topic, ColumnSchema, TableSchema};
pub use value::{point_wkb, ShortStr, Unscaled, Value};

use crate::config::filter::columns::ColumnFilter;
use crate::config::filter::key_columns::KeyColumns;
use crate::config::filter::message::MessageFilter;
use crate::lsn::Lsn;

/// The Debezium release whose wire format we reproduce (`source.version`).
pub const DEBEZIUM_VERSION: &str = "3.6.3.Final";
/// `source.connector`.
pub const CONNECTOR_NAME: &str = "postgresql";
/// Debezium's default `unavailable.value.placeholder`.
pub const DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER: &str = "__debezium_unavailable_value";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConfig {
    /// `topic.prefix`: topic names `<prefix>.<schema>.<table>`, `source.name`.
    pub topic_prefix: String,
    /// `source.db`.
    pub database: String,
    /// Emit a tombstone after each delete (`tombstones.on.delete`, default true).
    pub tombstones_on_delete: bool,
    /// What unchanged TOASTed values become (`unavailable.value.placeholder`).
    pub unavailable_value_placeholder: String,
    /// Emit `t` events for TRUNCATE. Debezium's default `skipped.operations=t` drops them.
    pub emit_truncate: bool,
    /// `decimal.handling.mode`, `binary.handling.mode`, `time.precision.mode`,
    /// `interval.handling.mode`.
    pub modes: crate::config::TypeModes,
    /// `column.include.list` / `column.exclude.list`.
    pub column_filter: ColumnFilter,
    /// `skip.messages.without.change`: drop updates whose row value did not change (needs
    /// the old row: REPLICA IDENTITY FULL).
    pub skip_messages_without_change: bool,
    /// `message.prefix.include.list` / `message.prefix.exclude.list`.
    pub message_filter: MessageFilter,
    /// `message.key.columns`.
    pub key_columns: KeyColumns,
    /// `column.truncate.to.*`, `column.mask.with.*`, `column.mask.hash.*`.
    pub masks: masking::ColumnMasks,
}

impl EventConfig {
    pub fn new(topic_prefix: impl Into<String>, database: impl Into<String>) -> Self {
        EventConfig {
            topic_prefix: topic_prefix.into(),
            database: database.into(),
            tombstones_on_delete: true,
            unavailable_value_placeholder: DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER.to_string(),
            emit_truncate: false,
            modes: crate::config::TypeModes::default(),
            column_filter: ColumnFilter::default(),
            skip_messages_without_change: false,
            message_filter: MessageFilter::default(),
            key_columns: KeyColumns::default(),
            masks: masking::ColumnMasks::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(
        "change for relation oid {oid} before any Relation message for it; the replication \
         stream is inconsistent (restart streaming from the last confirmed position)"
    )]
    UnknownRelation { oid: u32 },
    #[error(
        "cannot convert value of {table}.{column} (type {type_name}): got {text:?}, {}",
        expectation(expected)
    )]
    Value {
        table: String,
        column: String,
        type_name: String,
        text: String,
        expected: &'static str,
    },
    #[error(
        "row of {table} has {got} columns but its Relation message declared {expected}; the \
         replication stream is inconsistent"
    )]
    ColumnCount {
        table: String,
        got: usize,
        expected: usize,
    },
    #[error("{what} at {lsn} arrived outside a transaction (no Begin message before it)")]
    OutsideTransaction { what: &'static str, lsn: Lsn },
    #[error("unsupported: {what}")]
    Unsupported { what: &'static str },
}

/// The end of a [`EventError::Value`] message: what the text should have looked like, or
/// (for a valid value the column's Debezium type cannot hold) the type's range as is.
fn expectation(expected: &str) -> std::borrow::Cow<'_, str> {
    if expected.starts_with("out of range for ") {
        expected.into()
    } else {
        format!("expected {expected}").into()
    }
}
